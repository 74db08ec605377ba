"""Guard for the PySide6 pin: emitting signals must not change the refcount of ``True``.

PySide6 6.12.0 drops one reference to ``True`` on every ``Signal.emit()``; a
streaming reply emits thousands, and the interpreter then aborts with
"bool_dealloc". pyproject.toml pins PySide6 below 6.12; this test fails on a
release with the bug.
"""

from __future__ import annotations

import sys
import threading

from PySide6.QtCore import QObject, Signal


class Emitter(QObject):
    sig_value_changed = Signal(object)


def test_emit_keeps_the_refcount_of_true() -> None:
    emitter = Emitter()
    before = sys.getrefcount(True)
    for i in range(500):
        emitter.sig_value_changed.emit(i)
    worker = threading.Thread(target=lambda: [emitter.sig_value_changed.emit(i) for i in range(500)])
    worker.start()
    worker.join()
    # the bug loses exactly one reference per emit (-1000 here); threads add a few of their own
    assert sys.getrefcount(True) - before > -100
