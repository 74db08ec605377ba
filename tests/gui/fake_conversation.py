"""A :class:`~aether_qt.widgets.ports.Conversation` test double for widget tests.

On ``submit`` it publishes, on a real :class:`~aether_qt.core.bus.EventBus`, the event
sequence the conductor documents, one event per ``step_ms`` tick of a QTimer (so it
is asynchronous like the real one)::

    turn.did_begin -> turn.did_change_state(Thinking) -> turn.did_show_phrase(ack)
    [-> turn.did_show_phrase(notice) for a long message]
    -> turn.did_change_state(Streaming) -> router.did_stream_tokens x len(tokens)
    -> turn.did_change_state(Idle) -> turn.did_end(Answered, reply, notice)

``hold=True`` stops after the acknowledgement (the turn keeps running until
``release()`` or ``cancel()``); ``sync=True`` publishes everything inside ``submit``.
It records what the UI asked for: ``submitted``, ``cancels``, ``answers``, ``redone``.
``regenerate`` and ``edit_last`` script a turn that ``replaces`` the last one;
``cut=True`` ends the next reply cut at the length limit, and ``continue_reply``
scripts a turn that ``continues`` it with ``more`` (its final reply is the whole).
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from aether_qt.core.bus import EventBus
from aether_qt.core.events import (
    ModelStatusChanged,
    Payload,
    PhraseShown,
    TicketAnswered,
    TicketOpened,
    TokensStreamed,
    TurnBegan,
    TurnEnded,
    TurnStateChanged,
)
from aether_qt.policy.decisions import (
    Allow,
    ApprovalChoice,
    Decision,
    Deny,
    DenyReason,
    DraftOnly,
    Duration,
    Grant,
    Permit,
)

TOKENS = ("Hello", " there", ",", " friend", ".")
ACK = "One moment…"
LONG_INPUT_CHARS = 4_000
LONG_NOTICE = "That was a long message: I read only its first 4,000 characters."


class FakeConversation(QObject):
    """Publishes a scripted turn per submit; answers tickets with plausible decisions."""

    def __init__(
        self,
        *,
        bus: EventBus,
        step_ms: int = 5,
        tokens: tuple[str, ...] = TOKENS,
        hold: bool = False,
        sync: bool = False,
        ready: bool = True,
    ) -> None:
        super().__init__()
        self.bus = bus
        self.tokens = tokens
        self.hold = hold
        self.sync = sync
        self.ready = ready
        self.submitted: list[tuple[str, str]] = []
        self.cancels = 0
        self.answers: list[tuple[str, ApprovalChoice]] = []
        self.redone: list[tuple[str, str]] = []
        self.cut = False
        self.more: tuple[str, ...] = (" and", " more.")
        self._last: tuple[str, str, str, str] | None = None  # turn id, text, source, reply
        self.folder_acts: list[tuple[str, str, Path | None]] = []  # ("create" | "move", ticket id, folder)
        self.turn_id: str | None = None
        self._streamed: list[str] = []
        self._queue: deque[Payload] = deque()
        self._held: deque[Payload] = deque()
        self._count = 0
        self.timer = QTimer(self)
        self.timer.setInterval(step_ms)
        self.timer.timeout.connect(self._on_timer_timeout)

    # ------------------------------------------------------------------ Conversation

    def submit(self, text: str, *, source: str = "typed") -> str | None:
        if not text.strip():
            return None
        self.submitted.append((text, source))
        return self._script(text, source)

    def regenerate(self) -> str | None:
        self.redone.append(("regenerate", ""))
        return (
            None if self._last is None else self._script(self._last[1], self._last[2], replaces=self._last[0])
        )

    def edit_last(self, text: str) -> str | None:
        self.redone.append(("edit", text))
        if self._last is None or not text.strip():
            return None
        return self._script(text, self._last[2], replaces=self._last[0])

    def continue_reply(self) -> str | None:
        self.redone.append(("continue", ""))
        if self._last is None:
            return None
        last_id, text, source, reply = self._last
        return self._script(text, source, continues=last_id, prefix=reply)

    def _script(
        self, text: str, source: str, *, replaces: str = "", continues: str = "", prefix: str = ""
    ) -> str:
        if self.turn_id is not None:
            self.cancel()
        self._count += 1
        turn_id = f"turn_{self._count}"
        self.turn_id = turn_id
        self._streamed = []
        notice = LONG_NOTICE if len(text) > LONG_INPUT_CHARS else ""
        tokens = self.more if continues else self.tokens
        reply = prefix + "".join(tokens)
        self._last = (turn_id, text, source, reply)
        cut, self.cut = self.cut, False
        shown = "" if continues else text
        head: list[Payload] = [
            TurnBegan(turn_id=turn_id, text=shown, source=source, replaces=replaces, continues=continues),
            TurnStateChanged(turn_id=turn_id, state="Thinking", elapsed_ms=1.0),
            PhraseShown(turn_id=turn_id, pool="normal", text=ACK),
        ]
        if notice:
            head.append(PhraseShown(turn_id=turn_id, pool="notice", text=notice))
        tail: list[Payload] = [TurnStateChanged(turn_id=turn_id, state="Streaming", elapsed_ms=5.0)]
        tail += [TokensStreamed(turn_id=turn_id, text=token) for token in tokens]
        tail += [
            TurnStateChanged(turn_id=turn_id, state="Idle", elapsed_ms=9.0),
            TurnEnded(
                turn_id=turn_id, outcome="Answered", final_state="Idle", reply=reply, notice=notice, cut=cut
            ),
        ]
        self._queue.extend(head)
        if self.hold:
            self._held.extend(tail)
        else:
            self._queue.extend(tail)
        if self.sync:
            self.run_all()
        else:
            self.timer.start()
        return turn_id

    def cancel(self) -> None:
        turn_id = self.turn_id
        if turn_id is None:
            return
        self.cancels += 1
        self.run_all()  # what was already under way still arrives, in order
        if self.turn_id is None:
            return  # it ended on its own meanwhile
        self._queue.clear()
        self._held.clear()
        self._publish(TurnStateChanged(turn_id=turn_id, state="Idle", elapsed_ms=20.0))
        reply = "".join(self._streamed)
        self._publish(TurnEnded(turn_id=turn_id, outcome="Cancelled", final_state="Idle", reply=reply))

    def answer(self, ticket_id: str, choice: ApprovalChoice) -> Decision:
        self.answers.append((ticket_id, choice))
        audit_id = f"aud_fake_{len(self.answers)}"
        self._publish(TicketAnswered(ticket_id=ticket_id, choice=choice.value, audit_id=audit_id))
        if choice is ApprovalChoice.DENY:
            return Deny(reason=DenyReason.USER_DENIED, audit_id=audit_id)
        if choice is ApprovalChoice.DRAFT_ONLY:
            return DraftOnly(audit_id=audit_id, source="fake")
        duration = {
            ApprovalChoice.ALLOW_ONCE: Duration.ONCE,
            ApprovalChoice.ALLOW_SESSION: Duration.SESSION,
        }.get(choice, Duration.PERSISTENT)
        grant = Grant(
            grant_id="grt_fake",
            capability="files.create",
            resource_pattern="/tmp/x.txt",
            persona="default",
            duration=duration,
            issued_by=f"approval:{ticket_id}",
            audit_ref=audit_id,
            issued_wall_ms=int(time.time() * 1000),
        )
        permit = Permit(
            permit_id="pmt_fake",
            capability="files.create",
            resource="/tmp/x.txt",
            target="",
            persona="default",
            grant_id="grt_fake",
            audit_id=audit_id,
            once=duration is Duration.ONCE,
            token="not-a-real-token",
        )
        return Allow(grant=grant, permit=permit, audit_id=audit_id)

    def model_ready(self) -> bool:
        return self.ready

    def create_folder(self, ticket_id: str) -> str:
        self.folder_acts.append(("create", ticket_id, None))
        return "Created the folder."

    def move_to_folder(self, ticket_id: str, folder: Path) -> str:
        self.folder_acts.append(("move", ticket_id, folder))
        return f"The file now goes to {folder}."

    # ------------------------------------------------------------------ test controls

    def release(self) -> None:
        """Let a held turn go on to stream and end."""
        self._queue.extend(self._held)
        self._held.clear()
        self.timer.start()

    def run_all(self) -> None:
        """Publish every queued event now."""
        while self._queue:
            self._step()

    def open_ticket(
        self,
        ticket_id: str = "tkt_1",
        *,
        capability: str = "files.create",
        resource: str = "/home/user/Documents/plan.txt",
        risk: str = "medium",
        turn_id: str | None = None,
        taint: tuple[str, ...] = (),
    ) -> None:
        """Publish ``approvals.did_open_ticket`` as the gate would for an Ask."""
        turn = turn_id or self.turn_id
        if turn is not None:
            self._publish(TurnStateChanged(turn_id=turn, state="AwaitingApproval", elapsed_ms=30.0))
        payload = TicketOpened(
            ticket_id=ticket_id,
            request_id="req_1",
            capability=capability,
            resource=resource,
            risk=risk,
            audit_id="aud_ask",
            taint=taint,
        )
        self.bus.publish(payload, source_layer="L5", turn_id=turn)

    def model_status(self, status: str, progress: float = 0.0, message: str = "") -> None:
        """Publish ``router.did_change_model_status``."""
        payload = ModelStatusChanged(
            model_id="smollm2.gguf", status=status, progress=progress, message=message
        )
        self.bus.publish(payload, source_layer="L4")

    def stop(self) -> None:
        self.timer.stop()
        self._queue.clear()
        self._held.clear()

    # ------------------------------------------------------------------ internals

    def _publish(self, payload: Payload) -> None:
        turn_id = getattr(payload, "turn_id", None)
        self.bus.publish(payload, source_layer="L1", turn_id=turn_id)

    def _step(self) -> None:
        payload = self._queue.popleft()
        if isinstance(payload, TokensStreamed):
            self._streamed.append(payload.text)
        if isinstance(payload, TurnEnded):
            self.turn_id = None
        self._publish(payload)

    def _on_timer_timeout(self) -> None:
        if self._queue:
            self._step()
        if not self._queue:
            self.timer.stop()
