"""Where the tests run: inside ``make test``'s private desktop, in CI."""

from __future__ import annotations

import os

DESKTOP_ENV = "AETHER_DESKTOP_ENV"


def in_desktop_env() -> bool:
    """True inside ``scripts/with-desktop.sh`` (``make test``)."""
    return os.environ.get(DESKTOP_ENV) == "1"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
