"""Creating a pyttsx3 engine, and the workarounds its espeak driver needs (pyttsx3 2.99).

Kept apart from :mod:`~.tts` so the speaker's threading reads on its own and
each quirk is written down once, next to its fix:

* The espeak driver runs espeak-ng in its asynchronous (retrieval) mode:
  parameter changes and synthesis are queued to espeak's own thread, and
  ``runAndWait`` may return before the WAV is written. Measured: a rate or
  voice change then lands on a neighbouring sentence now and then, and a clip
  may be read while still empty. :func:`espeak_flush` waits for espeak's
  queue to drain (``espeak_Synchronize``), before and after each sentence.
* The driver prints "Audio saved to ..." to stdout after every file, which
  would corrupt ``aether speak --json`` and the app's console:
  :func:`create_engine` sends it to the log.

pyttsx3 is imported lazily, on the speaker thread.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["create_engine", "engine_defaults", "espeak_flush"]

_log = logging.getLogger(__name__)
_PROPERTIES = ("voice", "rate", "pitch", "volume")


def create_engine(driver: str) -> Any:
    """``pyttsx3.init(driver)`` with the driver's stdout prints sent to the log.

    Raises:
        Exception: whatever pyttsx3 raises when the engine cannot start (missing library...).
    """
    import pyttsx3

    engine = pyttsx3.init(driver)
    module = sys.modules.get(f"pyttsx3.drivers.{driver}")
    if module is not None and "print" not in vars(module):
        # shadowing print in that one module is the narrowest fix for its stdout chatter
        module.print = _driver_print  # type: ignore[attr-defined]
    return engine


def _driver_print(*args: object, **_kwargs: object) -> None:
    _log.debug("tts driver: %s", " ".join(str(a) for a in args))


def espeak_flush() -> Callable[[], None] | None:
    """A function that waits until espeak-ng's command queue is empty; None without the espeak binding."""
    binding = sys.modules.get("pyttsx3.drivers._espeak")
    synchronize = getattr(getattr(binding, "dll", None), "espeak_Synchronize", None)
    if synchronize is None:
        _log.warning("tts: espeak_Synchronize is unavailable; clips may be read before they are complete")
        return None

    def flush() -> None:
        synchronize()

    return flush


def engine_defaults(engine: Any) -> dict[str, Any]:
    """The engine's own voice, rate, pitch and volume (restored for jobs that set none)."""
    found: dict[str, Any] = {}
    for name in _PROPERTIES:
        try:
            found[name] = engine.getProperty(name)
        except (KeyError, ValueError):  # e.g. no pitch on this driver
            continue
    return found
