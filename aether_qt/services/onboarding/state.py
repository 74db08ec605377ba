"""Whether a home has been through the onboarding wizard, and where the user wants its keys.

The answer lives in ``onboarding.json`` in the home's config folder, *outside*
the encrypted database on purpose: the key choice is needed before the
database can be opened (without a keyring, the database key itself lives in the
opt-in key file). It is written when the wizard ends, by Finish or by Cancel,
so a cancelled wizard does not come back at every start; ``aether --onboarding``
and "Run setup again…" show it again. The file holds choice words only, never a key.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Final

from aether_qt.core.paths import AppPaths
from aether_qt.policy.audit_home import keystore_for
from aether_qt.policy.effects import write_own_file
from aether_qt.policy.keys import KeysUnavailableError, backend_usable

_log = logging.getLogger(__name__)

STATE_FILE: Final = "onboarding.json"
KEYRING: Final = "keyring"
KEY_FILE: Final = "key_file"
READ_ONLY: Final = "read_only"
KEY_STORAGES: Final = (KEYRING, KEY_FILE, READ_ONLY)
_VERSION = 1


@dataclass(frozen=True, slots=True)
class OnboardingState:
    """What a home remembers of its onboarding.

    Attributes:
        completed: the wizard ended once (Finish or Cancel).
        key_storage: ``keyring``, ``key_file`` or ``read_only`` when the user chose; "" otherwise.
    """

    completed: bool = False
    key_storage: str = ""


def read_state(paths: AppPaths) -> OnboardingState:
    """The home's onboarding state; a missing or unreadable file is "never onboarded" (logged)."""
    path = paths.config_dir / STATE_FILE
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return OnboardingState()
    except (OSError, ValueError) as exc:
        _log.warning("the onboarding state %s is unreadable (%s); the wizard will ask again", path, exc)
        return OnboardingState()
    if not isinstance(body, dict):
        return OnboardingState()
    storage = body.get("key_storage", "")
    return OnboardingState(
        completed=body.get("completed") is True,
        key_storage=storage if storage in KEY_STORAGES else "",
    )


def write_state(paths: AppPaths, state: OnboardingState) -> None:
    """Remember ``state`` (an atomic 0600 write in the config folder).

    Raises:
        OSError: the config folder cannot be written.
    """
    body = {"version": _VERSION, "completed": state.completed, "key_storage": state.key_storage}
    write_own_file(paths.config_dir / STATE_FILE, json.dumps(body).encode("utf-8"), root=paths.config_dir)


def keyring_works(paths: AppPaths) -> bool:
    """Whether the OS keyring can be used now: a usable backend that answers a read.

    A backend can look usable and still refuse (a locked collection, a daemon that
    went away): the probe reads one entry of this home (it writes nothing).
    """
    store = keystore_for(paths)
    if not backend_usable(store.backend()):
        return False
    try:
        store.get_anchor_text()
    except KeysUnavailableError as exc:
        _log.info("the keyring does not answer: %s", exc)
        return False
    return True
