"""The approval card: one Ask decision, said in plain words, with exactly what will happen.

The card names the action ("Create a file", "Open a web page", "Run a command"),
the full path and whether it (and its folder) exists, the text to be written
(a diff for a change to an existing file), the URL or the command. It never
shows capability ids, turn or ticket ids or taint tags, except in the "details
for experts" disclosure, closed by default. A request made while untrusted
content was in the model's context says so in words ("This was asked while
Aether had text from file ~/x.txt in mind …").

When the folder of a file to write does not exist, the card says so and offers
to create it or to choose another folder; the card only emits the user's wish
(:attr:`ApprovalCard.sig_folder_create_requested`,
:attr:`ApprovalCard.sig_folder_choose_requested`), whoever shows it acts.

The same card appears in the trust centre's Approvals tab (built from a stored
:class:`~aether_qt.policy.decisions.ApprovalTicket`) and inline in the
conversation transcript (built from an ``approvals.did_open_ticket`` event); the
``approvals.did_describe_ticket`` event fills in the rest (:meth:`ApprovalCard.describe`).
Whoever shows it calls the gate or the conversation and then tells the card the
outcome with :meth:`ApprovalCard.show_result`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from aether_qt.core.events import TicketDescribed, TicketOpened
from aether_qt.policy.capabilities import CAPABILITIES
from aether_qt.policy.decisions import (
    Allow,
    ApprovalChoice,
    ApprovalTicket,
    Decision,
    Deny,
    DenyReason,
    DraftOnly,
)
from aether_qt.policy.provenance import home_short, taint_sentence

RISK_COLOURS: Final = {"low": "#2e7d32", "medium": "#b26a00", "high": "#c62828", "critical": "#7b1fa2"}
CHOICES: Final = (
    (ApprovalChoice.ALLOW_ONCE, "Allow once"),
    (ApprovalChoice.ALLOW_SESSION, "Allow this session"),
    (ApprovalChoice.ALWAYS_SCOPE, "Always allow"),
    (ApprovalChoice.DRAFT_ONLY, "Draft only"),
    (ApprovalChoice.DENY, "Deny"),
)
CHOICE_TIPS: Final = {
    ApprovalChoice.ALLOW_ONCE: "Do it this one time. Aether asks again next time.",
    ApprovalChoice.ALLOW_SESSION: "Do it, and allow the same thing without asking until Aether quits.",
    ApprovalChoice.ALWAYS_SCOPE: (
        "Do it, and always allow the same thing here without asking. "
        "You can take this back in the trust centre, under Grants."
    ),
    ApprovalChoice.DRAFT_ONLY: "Don't do it: Aether only writes a draft for you to read. Nothing is changed.",
    ApprovalChoice.DENY: "Don't do it. Nothing is changed.",
}
ACTIONS: Final = {
    "files.read": "Read a file",
    "files.list": "Look inside a folder",
    "files.create": "Create a file",
    "files.edit": "Change a file",
    "files.delete": "Delete a file",
    "browser.open": "Open a web page",
    "net.fetch": "Fetch a web page",
    "shell.exec": "Run a command",
    "memory.write.durable": "Remember something",
    "memory.delete": "Forget something",
    "clipboard.read": "Read the clipboard",
    "clipboard.write": "Copy to the clipboard",
    "notify.send": "Show a notification",
    "reminder.set": "Set a reminder",
}
NOT_ANSWERED: Final = (
    "This request was already answered elsewhere, or no longer applies. Nothing more was done."
)
COMPACT_COLUMNS: Final = 2
TEXT_LINES: Final = 6
"""Lines of the text to write shown before the box scrolls."""
WRAP_GUESS: Final = 40
"""Characters a line of the text box holds in a narrow column (to size the box before it is laid out)."""
BREAK: Final = "\u200b"
"""A zero-width space after each path separator lets a long path wrap in a narrow panel."""


def action_words(capability: str) -> str:
    """What the action is, in a few words ("Create a file"); the capability's description otherwise."""
    cap = CAPABILITIES.get(capability)
    return ACTIONS.get(capability) or (cap.description if cap is not None else "Do something")


def describe_decision(decision: Decision) -> str:
    """One sentence for the user about the outcome of an answer (no codes, no ids)."""
    if isinstance(decision, Allow):
        duration = decision.grant.duration.value
        return {"once": "Allowed once.", "session": "Allowed until Aether quits."}.get(
            duration, "Always allowed."
        )
    if isinstance(decision, Deny):
        if decision.reason is DenyReason.USER_DENIED:
            return "Denied. Nothing was done."
        return "It could not be allowed right now, so nothing was done. Try again in a moment."
    if isinstance(decision, DraftOnly):
        return "Draft only: nothing was changed."
    return "Answered."


def clock(wall_ms: int) -> str:
    """Local date and time of a wall-clock timestamp in milliseconds."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall_ms / 1000))


def wrappable(path: str) -> str:
    """``path`` (home as ``~``) with a break opportunity after each ``/`` so it wraps in a narrow column."""
    return home_short(path).replace("/", "/" + BREAK)


def _label(text: str = "", *, name: str, style: str = "", selectable: bool = False) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the card
    if style:
        label.setStyleSheet(style)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ApprovalCard(QFrame):
    """One pending ticket: what will happen, how risky, and the answers.

    Signals:
        sig_choice_made(str, str): ticket id and the :class:`ApprovalChoice` value.
        sig_folder_create_requested(str): ticket id: create the missing folder.
        sig_folder_choose_requested(str): ticket id: choose another folder for the file.
    """

    sig_choice_made = Signal(str, str)
    sig_folder_create_requested = Signal(str)
    sig_folder_choose_requested = Signal(str)

    def __init__(
        self,
        *,
        ticket_id: str,
        capability: str,
        resource: str,
        risk: str,
        turn_id: str | None,
        persona: str = "",
        taint: Sequence[str] = (),
        asked_wall_ms: int | None = None,
        compact: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        """Build the card; ``compact`` puts the buttons in rows of two (the transcript, the side panel)."""
        super().__init__(parent)
        self.ticket_id = ticket_id
        self.turn_id = turn_id
        self.capability = capability
        self.described = False
        self.setObjectName("approval_card")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setStyleSheet(
            "QFrame#approval_card { border: 1px solid #d6b25e; border-radius: 8px; background: #fffaf0; }"
            "QFrame#approval_card QLabel { color: #1f2328; background: transparent; border: none; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        risk_colour = RISK_COLOURS.get(risk, "#555555")
        self.title = QLabel(
            f"<b>{_escape(action_words(capability))}</b> &nbsp;<span style='color:{risk_colour}'>"
            f"● {_escape(risk.capitalize())} risk</span>"
        )
        self.title.setObjectName("approval_title")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.title)
        self.resource = _label(name="approval_resource", selectable=True)
        self.resource.setFont(QFont("monospace"))
        layout.addWidget(self.resource)
        self.state = _label(name="approval_state", style="color: #5f6670;")
        layout.addWidget(self.state)
        self._add_folder_box(layout)
        self.text_caption = _label("Text to write:", name="approval_text_caption", style="font-weight: 600;")
        layout.addWidget(self.text_caption)
        self.text_view = QPlainTextEdit()
        self.text_view.setObjectName("approval_text")
        self.text_view.setReadOnly(True)
        self.text_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text_view.setFont(QFont("monospace"))
        self.text_view.setToolTip("Exactly what will be written. Scroll to see all of it.")
        self.text_view.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.text_view)
        self.text_caption.hide()
        self.text_view.hide()
        self.taint = _label(
            _taint_words(taint),
            name="approval_taint",
            style="color: #7a4f00; background: #fff4d6; border-radius: 6px; padding: 4px 6px;",
        )
        self.taint.setVisible(bool(taint))
        layout.addWidget(self.taint)
        self.buttons = self._add_buttons(layout, compact)
        self.result = _label(name="approval_result", style="font-weight: 600;")
        self.result.hide()
        layout.addWidget(self.result)
        self._add_expert_details(layout, persona=persona, turn_id=turn_id, taint=taint, asked=asked_wall_ms)
        self._show_resource(resource)

    @classmethod
    def from_ticket(cls, ticket: ApprovalTicket, parent: QWidget | None = None) -> ApprovalCard:
        """A card for a stored ticket (the trust centre: a side panel, so the buttons take rows of two)."""
        request = ticket.request
        return cls(
            ticket_id=ticket.ticket_id,
            capability=request.capability,
            resource=request.resource,
            risk=ticket.risk,
            turn_id=request.turn_id,
            persona=request.actor_persona,
            taint=tuple(request.provenance_tags),
            asked_wall_ms=ticket.created_wall_ms,
            compact=True,
            parent=parent,
        )

    @classmethod
    def from_event(
        cls, payload: TicketOpened, turn_id: str | None, parent: QWidget | None = None
    ) -> ApprovalCard:
        """A compact card for an ``approvals.did_open_ticket`` event (the transcript)."""
        return cls(
            ticket_id=payload.ticket_id,
            capability=payload.capability,
            resource=payload.resource,
            risk=payload.risk,
            turn_id=turn_id,
            taint=payload.taint,
            compact=True,
            parent=parent,
        )

    @property
    def answered(self) -> bool:
        """Whether the card already shows an outcome (its buttons are disabled)."""
        return not self.result.isHidden()

    def describe(self, what: TicketDescribed) -> None:
        """Show exactly what will happen: the path and whether it exists, the text or diff, URL, command."""
        self.described = True
        if what.url:
            self._show_resource(what.url)
        elif what.command:
            self._show_resource(what.command)
        elif what.path:
            self._show_resource(what.path)
            self.state.setText(_path_state(what))
            self.state.show()
        writes = self.capability in ("files.create", "files.edit")
        folder_missing = writes and bool(what.path) and not what.folder_exists and not self.answered
        self.folder_text.setText(f"The folder {home_short(what.folder)} does not exist yet.")
        self.folder_box.setVisible(folder_missing)
        shown = what.diff or what.text
        self.text_caption.setText("What will change:" if what.diff else "Text to write:")
        if self.capability.startswith("memory."):
            self.text_caption.setText(
                "What Aether will remember:" if "write" in self.capability else "Topic:"
            )
        self.text_view.setPlainText(shown)
        wrapped = sum(len(line) // WRAP_GUESS + 1 for line in shown.split("\n", TEXT_LINES)[:TEXT_LINES])
        lines = min(TEXT_LINES, max(2, wrapped))  # short text, small box; long text scrolls
        self.text_view.setFixedHeight(self.text_view.fontMetrics().lineSpacing() * lines + 14)
        self.text_caption.setVisible(bool(shown))
        self.text_view.setVisible(bool(shown))

    def show_result(self, text: str) -> None:
        """Show the outcome of the answer and disable the buttons."""
        for button in (*self.buttons.values(), self.create_folder_button, self.choose_folder_button):
            button.setEnabled(False)
        self.folder_box.hide()
        self.result.setText(text)
        self.result.show()

    def hide_folder_actions(self) -> None:
        """Keep the sentence about a missing folder, not its buttons (the trust centre cannot act on it)."""
        self.create_folder_button.hide()
        self.choose_folder_button.hide()
        self.show_folder_note("Create it or choose another from the card in the conversation.")

    def show_folder_note(self, text: str) -> None:
        """Say what became of "create the folder" or "choose another folder"."""
        self.folder_note.setText(text)
        self.folder_note.setVisible(bool(text))

    # ------------------------------------------------------------------ building

    def _show_resource(self, resource: str) -> None:
        cap = CAPABILITIES.get(self.capability)
        is_path = cap is not None and cap.resource_kind.value == "path"
        self.resource.setText(wrappable(resource) if is_path else resource)
        self.resource.setToolTip(resource)
        self.resource.setVisible(bool(resource) and not resource.startswith("memory:"))
        self.state.setVisible(bool(self.state.text()))

    def _add_folder_box(self, layout: QVBoxLayout) -> None:
        self.folder_box = QFrame()
        self.folder_box.setObjectName("approval_folder")
        self.folder_box.setStyleSheet(
            "QFrame#approval_folder { background: #fff4d6; border-radius: 6px; }"
            "QFrame#approval_folder QLabel { color: #7a4f00; }"
        )
        box = QGridLayout(self.folder_box)
        box.setContentsMargins(8, 6, 8, 6)
        self.folder_text = _label(name="approval_folder_text", style="font-weight: 600;")
        box.addWidget(self.folder_text, 0, 0, 1, 2)
        self.create_folder_button = QPushButton("Create the folder")
        self.create_folder_button.setObjectName("approval_create_folder")
        self.create_folder_button.setToolTip("Create this folder now, then answer the request below.")
        self.create_folder_button.clicked.connect(self._on_create_folder_clicked)
        self.choose_folder_button = QPushButton("Choose another…")
        self.choose_folder_button.setObjectName("approval_choose_folder")
        self.choose_folder_button.setToolTip(
            "Pick another folder for this file. It becomes an approved folder and Aether asks again."
        )
        self.choose_folder_button.clicked.connect(self._on_choose_folder_clicked)
        for column, button in enumerate((self.create_folder_button, self.choose_folder_button)):
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            button.setMinimumWidth(button.fontMetrics().horizontalAdvance(button.text()) + 16)
            box.addWidget(button, 1, column)
        self.folder_note = _label(name="approval_folder_note")
        self.folder_note.hide()
        box.addWidget(self.folder_note, 2, 0, 1, 2)
        self.folder_box.hide()
        layout.addWidget(self.folder_box)

    def _add_buttons(self, layout: QVBoxLayout, compact: bool) -> dict[ApprovalChoice, QPushButton]:
        grid = QGridLayout()
        grid.setSpacing(6)
        columns = COMPACT_COLUMNS if compact else len(CHOICES)
        buttons: dict[ApprovalChoice, QPushButton] = {}
        for index, (choice, label) in enumerate(CHOICES):
            button = QPushButton(label)
            button.setObjectName(f"choice_{choice.value}")
            button.setProperty("choice", choice.value)
            button.setToolTip(CHOICE_TIPS[choice])
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            button.setMinimumWidth(button.fontMetrics().horizontalAdvance(label) + 16)
            if choice is ApprovalChoice.DENY:
                button.setStyleSheet("color: #c62828;")
            button.clicked.connect(self._on_button_clicked)
            grid.addWidget(button, index // columns, index % columns)
            buttons[choice] = button
        layout.addLayout(grid)
        return buttons

    def _add_expert_details(
        self,
        layout: QVBoxLayout,
        *,
        persona: str,
        turn_id: str | None,
        taint: Sequence[str],
        asked: int | None,
    ) -> None:
        self.details_toggle = QToolButton()
        self.details_toggle.setObjectName("approval_details_toggle")
        self.details_toggle.setText("Details for experts")
        self.details_toggle.setCheckable(True)
        self.details_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.details_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_toggle.setAutoRaise(True)
        self.details_toggle.setToolTip(
            "Show the technical names of this request, as the audit log records them."
        )
        self.details_toggle.toggled.connect(self._on_details_toggle_toggled)
        lines = [f"Permission: {self.capability}", f"Request: {self.ticket_id}"]
        if persona:
            lines.append(f"Asked by: {persona}")
        if turn_id:
            lines.append(f"Turn: {turn_id}")
        lines.append(f"Untrusted content: {', '.join(taint) or 'none'}")
        if asked is not None:
            lines.append(f"Asked at: {clock(asked)}")
        self.meta = _label("\n".join(lines), name="approval_meta", style="color: #5f6670;", selectable=True)
        self.meta.hide()
        layout.addWidget(self.details_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.meta)

    # ------------------------------------------------------------------ slots

    def _on_button_clicked(self) -> None:
        sender = self.sender()
        if isinstance(sender, QPushButton) and not self.answered:
            self.sig_choice_made.emit(self.ticket_id, str(sender.property("choice")))

    def _on_create_folder_clicked(self) -> None:
        if not self.answered:
            self.sig_folder_create_requested.emit(self.ticket_id)

    def _on_choose_folder_clicked(self) -> None:
        if not self.answered:
            self.sig_folder_choose_requested.emit(self.ticket_id)

    def _on_details_toggle_toggled(self, shown: bool) -> None:
        self.meta.setVisible(shown)
        self.details_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)


def _path_state(what: TicketDescribed) -> str:
    """Whether the file and its folder exist, in words."""
    if what.capability == "files.create":
        return (
            "A file with this name already exists; Aether will not replace it."
            if what.path_exists
            else "A new file."
        )
    if what.capability == "files.edit":
        return (
            "The file exists; its text will be replaced." if what.path_exists else "This file does not exist."
        )
    return "It exists." if what.path_exists else "It does not exist."


def _taint_words(taint: Sequence[str]) -> str:
    """The taint in words: "This was asked while Aether had text from file ~/x.txt in mind: …"."""
    sentence = taint_sentence(taint)
    if not sentence:
        return ""
    return (
        f"{sentence[0].upper()}{sentence[1:]}: text that could be giving orders. "
        "Allow it only if you meant it yourself."
    )


def _escape(text: str) -> str:
    """Escape text placed inside a rich-text label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
