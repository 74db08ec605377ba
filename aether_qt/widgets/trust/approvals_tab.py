"""The trust centre's Approvals tab: pending tickets as cards, answered with one click."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from aether_qt.core.events import TicketDescribed
from aether_qt.policy.approvals import TicketError
from aether_qt.policy.decisions import ApprovalChoice, Decision
from aether_qt.widgets.trust.approval_card import NOT_ANSWERED, ApprovalCard, describe_decision

_log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from aether_qt.policy.runtime import PolicyRuntime

Answer = Callable[[str, ApprovalChoice], Decision]
"""Answers a ticket: the conversation's ``answer`` (so a waiting turn resumes) or the policy controls'."""


class ApprovalsTab(QWidget):
    """Pending tickets (read from the runtime) as cards; answers go to ``answer``.

    Signals:
        sig_ticket_answered(str, str): ticket id and a sentence about the decision.
    """

    sig_ticket_answered = Signal(str, str)

    def __init__(self, *, runtime: PolicyRuntime, answer: Answer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runtime = runtime
        self._answer = answer
        self._ids: tuple[str, ...] | None = None
        self._described: dict[str, TicketDescribed] = {}
        self.cards: dict[str, ApprovalCard] = {}
        layout = QVBoxLayout(self)
        self.status = QLabel("")
        self.status.setObjectName("approvals_status")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("padding: 4px 2px;")
        self.status.hide()
        layout.addWidget(self.status)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        holder = QWidget()
        self._cards_layout = QVBoxLayout(holder)
        self._cards_layout.setContentsMargins(0, 0, 0, 0)
        self._cards_layout.setSpacing(10)
        self.empty = QLabel("No pending approvals. Requests that need your answer appear here.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(placeholder-text); padding: 24px;")
        self._cards_layout.addWidget(self.empty)
        self._cards_layout.addStretch(1)
        scroll.setWidget(holder)
        layout.addWidget(scroll, 1)

    def describe(self, what: TicketDescribed) -> None:
        """Show exactly what a ticket will do on its card (now, or when its card is built)."""
        self._described[what.ticket_id] = what
        card = self.cards.get(what.ticket_id)
        if card is not None:
            card.describe(what)
            card.hide_folder_actions()

    def pending_ids(self) -> tuple[str, ...]:
        """Ticket ids shown, oldest first."""
        return self._ids or ()

    def refresh(self) -> None:
        """Show the pending tickets; rebuild the cards only when the set changed."""
        pending = self._runtime.tickets.pending()
        ids = tuple(t.ticket_id for t in pending)
        if ids == self._ids:
            return
        self._ids = ids
        for card in self.cards.values():
            self._cards_layout.removeWidget(card)
            card.hide()
            card.deleteLater()
        self.cards = {}
        self._described = {k: v for k, v in self._described.items() if k in ids}
        for index, ticket in enumerate(pending):
            card = ApprovalCard.from_ticket(ticket)
            card.sig_choice_made.connect(self._on_card_choice_made)
            if ticket.ticket_id in self._described:
                card.describe(self._described[ticket.ticket_id])
                card.hide_folder_actions()
            self._cards_layout.insertWidget(index, card)
            self.cards[ticket.ticket_id] = card
        self.empty.setVisible(not pending)

    def _on_card_choice_made(self, ticket_id: str, choice: str) -> None:
        try:
            decision = self._answer(ticket_id, ApprovalChoice(choice))
        except TicketError as exc:  # answered elsewhere (the CLI) or a scope that does not fit
            _log.info("ticket %s was not answered: %s", ticket_id, exc)
            text = NOT_ANSWERED
        else:
            text = describe_decision(decision)
        self.status.setText(text)
        self.status.show()
        self.refresh()
        self.sig_ticket_answered.emit(ticket_id, text)
