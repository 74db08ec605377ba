"""The event bus: typed envelopes, isolated handlers, replay, optional JSONL log.

:class:`EventBus` is plain, thread-safe Python: ``publish`` may be called from
any thread and runs the matching handlers synchronously in that thread.
Widgets and QObject workers do not subscribe directly; they connect to a
:class:`QtBusBridge`, whose signal Qt delivers queued to each receiver's own
thread.

Rules kept here (DESIGN §3):

* ``seq`` is one monotonic counter per process, assigned under a lock together
  with the replay buffer and the event log, so all three agree on the order;
* a publish without ``change_id`` starts a new change; events it causes are
  published with the same ``change_id``;
* a failing handler is logged with its traceback and reported as a
  :class:`~aether_qt.core.events.HandlerFailed` event; a failure while handling
  ``HandlerFailed`` is only logged, so failures never recurse.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final

from PySide6.QtCore import QObject, Signal

from aether_qt.core.events import Envelope, HandlerFailed, Payload, envelope_to_json

log = logging.getLogger(__name__)

Handler = Callable[[Envelope], None]
"""A bus subscriber; it runs in the publisher's thread and must be quick."""

ALL_KINDS: Final = "*"


def new_change_id() -> str:
    """A fresh change id (``chg_<hex>``), the same shape the policy layer uses."""
    return f"chg_{uuid.uuid4().hex}"


class Subscription:
    """Handle returned by :meth:`EventBus.subscribe`; call it to unsubscribe.

    Calling it more than once is harmless.
    """

    __slots__ = ("_bus", "handler", "kind")

    def __init__(self, *, bus: EventBus, kind: str, handler: Handler) -> None:
        """Remember what to remove from ``bus``."""
        self._bus: EventBus | None = bus
        self.kind = kind
        self.handler = handler

    @property
    def active(self) -> bool:
        """Whether the handler is still subscribed."""
        return self._bus is not None

    def __call__(self) -> None:
        """Unsubscribe (idempotent)."""
        bus, self._bus = self._bus, None
        if bus is not None:
            bus._remove(self)


class JsonlEventLog:
    """Appends one JSON line per envelope to a file inside the data folder.

    Off unless the user enables it. Secrets are redacted by
    :func:`~aether_qt.core.events.envelope_to_json`, every text value also by
    ``redact`` when given (the composition root passes the gate's redactor, so
    the file holds a URL's query or a ``--token`` value only as a keyed hash).
    The file is opened lazily and flushed after each line so a crash loses at
    most the line being written.
    """

    def __init__(self, *, path: Path, data_dir: Path, redact: Callable[[str], str] | None = None) -> None:
        """Check that ``path`` lies inside ``data_dir``.

        Raises:
            ValueError: ``path`` is outside ``data_dir``.
        """
        resolved = path.resolve()
        if not resolved.is_relative_to(data_dir.resolve()):
            raise ValueError(f"the event log {path} must be inside the data folder {data_dir}")
        self.path = resolved
        self._redact = redact
        self._file: IO[str] | None = None

    def write(self, env: Envelope) -> None:
        """Append ``env`` as one line (raises ``OSError`` on a write failure)."""
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(envelope_to_json(env, self._redact) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        file, self._file = self._file, None
        if file is not None:
            file.close()


def _handler_name(handler: Handler) -> str:
    """A readable name for a handler in logs and ``HandlerFailed`` events."""
    return str(getattr(handler, "__qualname__", None) or type(handler).__qualname__)


class EventBus:
    """Thread-safe publish/subscribe of :class:`~aether_qt.core.events.Envelope` objects."""

    def __init__(
        self,
        *,
        replay_size: int = 512,
        event_log: JsonlEventLog | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        change_ids: Callable[[], str] = new_change_id,
    ) -> None:
        """Create an empty bus.

        Args:
            replay_size: how many recent envelopes :meth:`replay` keeps.
            event_log: where to mirror every envelope as JSONL; ``None`` = off.
            clock_ns: wall clock for ``emitted_at_ns`` (injected by tests).
            change_ids: factory of new change ids.
        """
        if replay_size < 0:
            raise ValueError("replay_size must be >= 0")
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._handlers: dict[str, tuple[Subscription, ...]] = {}
        self._recent: deque[Envelope] = deque(maxlen=replay_size)
        self._event_log = event_log
        self._clock_ns = clock_ns
        self._change_ids = change_ids

    def subscribe(self, kind: str, handler: Handler) -> Subscription:
        """Call ``handler`` for every envelope of ``kind`` (or of every kind with ``"*"``).

        Returns:
            A handle; call it to unsubscribe.
        """
        if not kind:
            raise ValueError("subscribe needs a kind or '*'")
        subscription = Subscription(bus=self, kind=kind, handler=handler)
        with self._lock:
            self._handlers[kind] = (*self._handlers.get(kind, ()), subscription)
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        """Drop one subscription (called by the handle)."""
        with self._lock:
            remaining = tuple(s for s in self._handlers.get(subscription.kind, ()) if s is not subscription)
            if remaining:
                self._handlers[subscription.kind] = remaining
            else:
                self._handlers.pop(subscription.kind, None)

    def set_event_log(self, event_log: JsonlEventLog | None) -> None:
        """Turn the JSONL log on (with a log) or off (``None``); closes the previous one."""
        with self._lock:
            previous, self._event_log = self._event_log, event_log
        if previous is not None and previous is not event_log:
            previous.close()

    def publish(
        self,
        payload: Payload,
        *,
        source_layer: str,
        change_id: str | None = None,
        turn_id: str | None = None,
    ) -> Envelope:
        """Stamp ``payload`` into an envelope, record it and run the handlers.

        Args:
            payload: a frozen payload with a ``KIND``.
            source_layer: who emits (``L1`` ... ``L7``, ``policy``, ``ui``, ``bus``).
            change_id: the change this event belongs to; ``None`` starts a new one.
            turn_id: the conversation turn, if any.

        Returns:
            The published envelope (pass its ``change_id`` on to caused events).
        """
        if not payload.KIND:
            raise ValueError(f"{type(payload).__name__} has no KIND")
        with self._lock:
            env = Envelope(
                kind=payload.KIND,
                seq=next(self._seq),
                source_layer=source_layer,
                change_id=change_id or self._change_ids(),
                turn_id=turn_id,
                emitted_at_ns=self._clock_ns(),
                version=payload.VERSION,
                payload=payload,
            )
            self._recent.append(env)
            self._write_log(env)
            handlers = self._handlers.get(env.kind, ()) + self._handlers.get(ALL_KINDS, ())
        for subscription in handlers:
            if subscription.active:
                self._dispatch(subscription.handler, env)
        return env

    def _write_log(self, env: Envelope) -> None:
        """Mirror ``env`` to the event log; on failure say so and turn the log off."""
        if self._event_log is None:
            return
        try:
            self._event_log.write(env)
        except (OSError, ValueError, TypeError):
            log.exception("event log %s failed; event logging is now off", self._event_log.path)
            failed, self._event_log = self._event_log, None
            try:
                failed.close()
            except OSError:
                log.exception("closing the failed event log also failed")

    def _dispatch(self, handler: Handler, env: Envelope) -> None:
        """Run one handler, isolating and reporting its failure."""
        try:
            handler(env)
        except Exception as exc:
            name = _handler_name(handler)
            log.exception("bus handler %s failed on %s #%d", name, env.kind, env.seq)
            if isinstance(env.payload, HandlerFailed):
                return  # never report a failure about a failure: that could loop forever
            error_type = type(exc).__name__
            report = HandlerFailed(handler=name, kind=env.kind, error_type=error_type, message=str(exc))
            self.publish(report, source_layer="bus", change_id=env.change_id, turn_id=env.turn_id)

    def replay(self, since_seq: int = 0) -> list[Envelope]:
        """The buffered envelopes with ``seq > since_seq``, oldest first."""
        with self._lock:
            return [env for env in self._recent if env.seq > since_seq]

    def close(self) -> None:
        """Drop every subscription and close the event log (idempotent)."""
        with self._lock:
            subscriptions = [s for group in self._handlers.values() for s in group]
        for subscription in subscriptions:
            subscription()
        self.set_event_log(None)


class QtBusBridge(QObject):
    """Re-emits bus envelopes as a Qt signal, so receivers get them in their own thread.

    Connect ``sig_event_published`` to a slot of a QObject living in the GUI
    thread (or a worker's thread): Qt queues the call there. The bridge
    subscribes on construction and unsubscribes in :meth:`detach` or when it is
    destroyed.

    Signals:
        sig_event_published(object): an :class:`~aether_qt.core.events.Envelope`.
    """

    sig_event_published = Signal(object)

    def __init__(self, *, bus: EventBus, kind: str = ALL_KINDS, parent: QObject | None = None) -> None:
        """Subscribe to ``kind`` on ``bus``."""
        super().__init__(parent)
        self._subscription = bus.subscribe(kind, self._on_bus_event)
        self.destroyed.connect(self._subscription)

    def _on_bus_event(self, env: Envelope) -> None:
        """Forward one envelope (runs in the publisher's thread)."""
        self.sig_event_published.emit(env)

    def detach(self) -> None:
        """Stop forwarding (idempotent)."""
        self._subscription()
