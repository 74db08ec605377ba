"""The approval card: one Ask decision, shown with what, where, how risky and which turn asked.

A request made while untrusted content was in the model's context carries its
taint, which the card says in words ("This was asked while Aether had text from
file ~/x.txt in mind …").

The same card appears in the trust centre's Approvals tab (built from a stored
:class:`~aether_qt.policy.decisions.ApprovalTicket`) and inline in the
conversation transcript (built from an ``approvals.did_open_ticket`` event). The
card only emits the user's choice; whoever shows it calls the gate or the
conversation and then tells the card the outcome with :meth:`ApprovalCard.show_result`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from aether_qt.core.events import TicketOpened
from aether_qt.policy.capabilities import CAPABILITIES
from aether_qt.policy.decisions import Allow, ApprovalChoice, ApprovalTicket, Decision, Deny, DraftOnly
from aether_qt.policy.provenance import taint_sentence

RISK_COLOURS: Final = {"low": "#2e7d32", "medium": "#b26a00", "high": "#c62828", "critical": "#7b1fa2"}
CHOICES: Final = (
    (ApprovalChoice.ALLOW_ONCE, "Allow once"),
    (ApprovalChoice.ALLOW_SESSION, "Allow this session"),
    (ApprovalChoice.ALWAYS_SCOPE, "Always for this scope"),
    (ApprovalChoice.DRAFT_ONLY, "Draft only"),
    (ApprovalChoice.DENY, "Deny"),
)
COMPACT_COLUMNS: Final = 3


def describe_decision(decision: Decision) -> str:
    """One sentence for the user about the outcome of an answer."""
    if isinstance(decision, Allow):
        return f"Allowed ({decision.grant.duration.value}) — audit {decision.audit_id}"
    if isinstance(decision, Deny):
        why = decision.message or decision.reason.value
        return f"Denied: {why} — audit {decision.audit_id}"
    if isinstance(decision, DraftOnly):
        return f"Draft only — audit {decision.audit_id}"
    return f"{decision.kind.replace('_', ' ').capitalize()} — audit {decision.audit_id}"


def clock(wall_ms: int) -> str:
    """Local date and time of a wall-clock timestamp in milliseconds."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall_ms / 1000))


class ApprovalCard(QFrame):
    """One pending ticket: what, where, how risky, who asked, and the five answers.

    Signals:
        sig_choice_made(str, str): ticket id and the :class:`ApprovalChoice` value.
    """

    sig_choice_made = Signal(str, str)

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
        """Build the card; ``compact`` lays the buttons out in two rows (the transcript)."""
        super().__init__(parent)
        self.ticket_id = ticket_id
        self.turn_id = turn_id
        self.setObjectName("approval_card")
        self.setStyleSheet(
            "QFrame#approval_card { border: 1px solid #d6b25e; border-radius: 8px; background: #fffaf0; }"
            "QFrame#approval_card QLabel { color: #1f2328; background: transparent; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        risk_colour = RISK_COLOURS.get(risk, "#555555")
        self.title = QLabel(
            f"<b>{_escape(capability)}</b> &nbsp;<span style='color:{risk_colour}'>"
            f"● {_escape(risk.upper())} RISK</span>"
        )
        self.title.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.title)
        cap = CAPABILITIES.get(capability)
        if cap is not None:
            layout.addWidget(QLabel(cap.description))
        self.resource = QLabel(resource)
        self.resource.setObjectName("approval_resource")
        self.resource.setTextFormat(Qt.TextFormat.PlainText)
        self.resource.setFont(QFont("monospace"))
        self.resource.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.resource.setWordWrap(True)
        layout.addWidget(self.resource)
        parts = [f"persona <b>{_escape(persona)}</b>"] if persona else []
        parts.append(f"turn {_escape(turn_id or '—')}")
        parts.append(f"taint {_escape(', '.join(taint) or 'none')}")
        if asked_wall_ms is not None:
            parts.append(f"asked {clock(asked_wall_ms)}")
        self.meta = QLabel(" · ".join(parts))
        self.meta.setObjectName("approval_meta")
        self.meta.setTextFormat(Qt.TextFormat.RichText)
        self.meta.setStyleSheet("color: #5f6670;")
        self.meta.setWordWrap(True)  # the trust centre is a narrow side panel
        layout.addWidget(self.meta)
        self.taint = QLabel(_taint_words(taint))
        self.taint.setObjectName("approval_taint")
        self.taint.setTextFormat(Qt.TextFormat.PlainText)
        self.taint.setWordWrap(True)
        self.taint.setStyleSheet("color: #7a4f00; background: #fff4d6; border-radius: 6px; padding: 4px 6px;")
        self.taint.setVisible(bool(taint))
        layout.addWidget(self.taint)
        self.buttons = self._add_buttons(layout, compact)
        self.result = QLabel("")
        self.result.setObjectName("approval_result")
        self.result.setTextFormat(Qt.TextFormat.PlainText)
        self.result.setWordWrap(True)
        self.result.hide()
        layout.addWidget(self.result)

    @classmethod
    def from_ticket(cls, ticket: ApprovalTicket, parent: QWidget | None = None) -> ApprovalCard:
        """A card for a stored ticket (the trust centre: a side panel, so the buttons take two rows)."""
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

    def show_result(self, text: str) -> None:
        """Show the outcome of the answer and disable the buttons."""
        for button in self.buttons.values():
            button.setEnabled(False)
        self.result.setText(text)
        self.result.show()

    def _add_buttons(self, layout: QVBoxLayout, compact: bool) -> dict[ApprovalChoice, QPushButton]:
        row: QGridLayout | QHBoxLayout = QGridLayout() if compact else QHBoxLayout()
        row.setSpacing(6)
        buttons: dict[ApprovalChoice, QPushButton] = {}
        for index, (choice, label) in enumerate(CHOICES):
            button = QPushButton(label)
            button.setObjectName(f"choice_{choice.value}")
            button.setProperty("choice", choice.value)
            if choice is ApprovalChoice.DENY:
                button.setStyleSheet("color: #c62828;")
            button.clicked.connect(self._on_button_clicked)
            if isinstance(row, QGridLayout):
                row.addWidget(button, index // COMPACT_COLUMNS, index % COMPACT_COLUMNS)
            else:
                row.addWidget(button)
            buttons[choice] = button
        if isinstance(row, QHBoxLayout):
            row.addStretch(1)
        layout.addLayout(row)
        return buttons

    def _on_button_clicked(self) -> None:
        sender = self.sender()
        if isinstance(sender, QPushButton) and not self.answered:
            self.sig_choice_made.emit(self.ticket_id, str(sender.property("choice")))


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
    """Escape text placed inside a rich-text label (resources and ids come from outside)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
