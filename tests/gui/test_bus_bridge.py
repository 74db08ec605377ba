"""QtBusBridge delivers envelopes published on a worker thread to the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal, Slot
from pytestqt.qtbot import QtBot

from aether_qt.core.bus import EventBus, Handler, QtBusBridge, Subscription
from aether_qt.core.events import Envelope, PostureChanged


class RecordingBus(EventBus):
    """An event bus that keeps every subscription it hands out."""

    def __init__(self) -> None:
        super().__init__()
        self.subscriptions: list[Subscription] = []

    def subscribe(self, kind: str, handler: Handler) -> Subscription:
        subscription = super().subscribe(kind, handler)
        self.subscriptions.append(subscription)
        return subscription


class Publisher(QObject):
    """Lives in the worker thread; publishes one event when started."""

    def __init__(self, *, bus: EventBus) -> None:
        super().__init__()
        self._bus = bus
        self.thread_seen: QThread | None = None

    @Slot()
    def publish(self) -> None:
        self.thread_seen = QThread.currentThread()
        self._bus.publish(PostureChanged(flag="offline", active=True, message="offline"), source_layer="L4")


class Receiver(QObject):
    """Lives in the GUI thread; records where each envelope arrives."""

    sig_received = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[QThread] = []

    @Slot(object)
    def on_event(self, env: Envelope) -> None:
        self.threads.append(QThread.currentThread())
        self.sig_received.emit(env)


def test_publish_on_a_worker_thread_arrives_on_the_gui_thread(qtbot: QtBot) -> None:
    bus = EventBus()
    bridge = QtBusBridge(bus=bus)
    receiver = Receiver()
    bridge.sig_event_published.connect(receiver.on_event)
    worker_thread = QThread()
    publisher = Publisher(bus=bus)
    publisher.moveToThread(worker_thread)
    worker_thread.started.connect(publisher.publish)

    try:
        with qtbot.waitSignal(receiver.sig_received, timeout=5000) as blocker:
            worker_thread.start()
    finally:
        worker_thread.quit()
        assert worker_thread.wait(5000)

    gui_thread = QThread.currentThread()
    env = blocker.args[0]
    assert isinstance(env, Envelope) and env.payload == PostureChanged("offline", True, "offline")
    assert publisher.thread_seen is worker_thread and worker_thread is not gui_thread
    assert receiver.threads == [gui_thread]
    bridge.detach()
    bridge.detach()


def test_bridge_filters_by_kind_and_unsubscribes_when_destroyed(qtbot: QtBot) -> None:
    bus = RecordingBus()
    bridge = QtBusBridge(bus=bus, kind=PostureChanged.KIND)
    received: list[Envelope] = []
    receiver = Receiver()
    bridge.sig_event_published.connect(receiver.on_event)
    receiver.sig_received.connect(received.append)

    with qtbot.waitSignal(receiver.sig_received, timeout=2000):
        bus.publish(PostureChanged(flag="no_tts", active=True, message="text only"), source_layer="L3")
    assert [env.kind for env in received] == [PostureChanged.KIND]

    [subscription] = bus.subscriptions  # the bridge's own
    assert subscription.kind == PostureChanged.KIND
    bridge.deleteLater()
    qtbot.waitUntil(lambda: not subscription.active, timeout=2000)
    bus.publish(PostureChanged(flag="no_tts", active=False, message=""), source_layer="L3")  # must not raise
    assert bus.replay()[-1].kind == PostureChanged.KIND
    assert len(received) == 1
