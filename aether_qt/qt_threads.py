"""A small Qt threading helper shared by engine workers that live in their own QThread."""

from __future__ import annotations

from PySide6.QtCore import QMetaObject, QObject, Qt


def queue_into_own_thread(obj: QObject, slot: str, *, blocking: bool = False) -> bool:
    """Queue ``obj.slot()`` into ``obj``'s thread when called from another one; True if queued.

    False means the caller is already in that thread (or it is not running) and
    should just go on. ``blocking`` waits until the slot has run there.
    """
    own = obj.thread()
    if own is None or own.isCurrentThread() or not own.isRunning():
        return False
    kind = Qt.ConnectionType.BlockingQueuedConnection if blocking else Qt.ConnectionType.QueuedConnection
    QMetaObject.invokeMethod(obj, slot, kind)
    return True
