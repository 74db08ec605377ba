"""Apply what the user picked in the onboarding wizard: each policy change an audited act.

:class:`SetupService` reads what is in use now (the pages start from it) and,
at Finish, applies only what changed, in this order: where the keys live, the
privacy posture, the persona, the permission preset, the memory retention.

* The preset goes through the gate-on-bus adapter, exactly like the trust
  centre's switch: persisted, applied, its cascade audited under a change id.
* The privacy posture, the retention and the key storage are the user's
  audited setting changes (:meth:`PolicyRuntime.change_setting`).
* The persona is chosen through the composition root's chooser (the running
  app switches at the next turn boundary; at first start the setting is set).

At first start on a machine without a keyring the runtime is not open yet while
the wizard runs (its keys step decides how it opens): the service is then built
with ``open_runtime`` and opens it at Finish with the chosen key storage.
Cancel applies nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from aether_qt.core.bus import EventBus
from aether_qt.core.errors import ExplainedError
from aether_qt.core.paths import AppPaths
from aether_qt.engines.memory.retention import FOREVER, SETTING_RETENTION, describe_retention, parse_retention
from aether_qt.engines.persona.registry import PersonaChoice, persona_choices, user_personas_dir
from aether_qt.engines.router.providers import PRIVACY_KEY, Posture, load_router_settings
from aether_qt.policy.capabilities import DEFAULT_PRESET, Preset
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.gate_on_bus import GateOnBus
from aether_qt.services.onboarding.state import KEY_FILE, KEY_STORAGES, KEYRING, READ_ONLY, keyring_works
from aether_qt.services.persona.service import DEFAULT_PERSONA, SETTING_ACTIVE
from aether_qt.storage.errors import StorageError

_log = logging.getLogger(__name__)

SETTING_KEY_STORAGE = "keys.storage"  # the user's audited choice; the key file itself is the opt-in

POSTURE_WORDS = {
    Posture.LOCAL_ONLY.value: "everything stays on this computer",
    Posture.REMOTE_NON_SENSITIVE.value: "a remote model for everyday talk, sensitive things stay here",
    Posture.REMOTE.value: "a remote model may answer, sensitive memories are left out",
}
STORAGE_WORDS = {
    KEYRING: "keys in the keyring",
    KEY_FILE: "keys in a file on this computer",
    READ_ONLY: "read-only (no keys: chat only)",
}


@dataclass(frozen=True, slots=True)
class Setup:
    """The wizard's questions as plain values (``None``: not asked, or left as it is)."""

    key_storage: str | None = None
    privacy: str | None = None
    persona_id: str | None = None
    preset: str | None = None
    retention: str | None = None


class SetupService:
    """Reads and applies the onboarding choices of one home.

    Args:
        paths: the home.
        runtime: the open policy runtime (None until ``open_runtime`` opens it at Finish).
        open_runtime: opens the runtime for a key storage (first start without a keyring);
            returns None when it cannot (the caller has told the user why).
        bus: where the preset change is published (the app's bus; a throw-away one by default).
        choose_persona: switches persona in the running app (default: set the setting).
        probe_keyring: the keyring probe ("Check again"); tests pass their own.
    """

    def __init__(
        self,
        *,
        paths: AppPaths,
        runtime: PolicyRuntime | None = None,
        open_runtime: Callable[[str | None], PolicyRuntime | None] | None = None,
        bus: EventBus | None = None,
        choose_persona: Callable[[str], None] | None = None,
        probe_keyring: Callable[[AppPaths], bool] = keyring_works,
    ) -> None:
        self.paths = paths
        self.runtime = runtime
        self._open_runtime = open_runtime
        self._bus = bus or EventBus()
        self._choose_persona = choose_persona
        self._probe = probe_keyring

    def keyring_works(self) -> bool:
        """Probe the OS keyring now."""
        return self._probe(self.paths)

    def current(self) -> Setup:
        """What is in use now; the defaults when the runtime is not open (a fresh home)."""
        rt = self.runtime
        if rt is None:
            return Setup(
                key_storage=KEYRING
                if self.keyring_works()
                else (KEY_FILE if self.paths.key_file.exists() else None),
                privacy=Posture.LOCAL_ONLY.value,
                persona_id=DEFAULT_PERSONA,
                preset=DEFAULT_PRESET.value,
                retention=FOREVER,
            )
        if rt.keys is None:
            storage = READ_ONLY if rt.read_only else None
        else:
            storage = KEY_FILE if rt.keys.source == "key_file" else KEYRING
        retention = rt.settings.get_as(SETTING_RETENTION, str, FOREVER)
        try:
            parse_retention(retention)
        except ValueError:
            retention = FOREVER
        return Setup(
            key_storage=storage,
            privacy=load_router_settings(rt.settings).posture.value,
            persona_id=rt.settings.get_as(SETTING_ACTIVE, str, DEFAULT_PERSONA),
            preset=rt.preset().value,
            retention=retention,
        )

    def personas(self) -> list[PersonaChoice]:
        """The shipped and the user's personas (the active one marked)."""
        return persona_choices(user_personas_dir(self.paths.data_dir), self.current().persona_id or "")

    def apply(self, setup: Setup) -> list[str]:
        """Apply what differs from :meth:`current`; one sentence per change.

        Raises:
            ExplainedError: the runtime cannot be opened, a value is not one of the
                choices, or the database refused; the changes made before it stay.
        """
        before = self.current()
        done: list[str] = []
        try:
            rt = self._runtime_for(setup.key_storage)
            if setup.key_storage is not None and setup.key_storage != before.key_storage:
                done.append(self._key_storage(rt, setup.key_storage))
            if setup.privacy is not None and setup.privacy != before.privacy:
                posture = Posture(setup.privacy)
                rt.change_setting(PRIVACY_KEY, posture.value)
                done.append(f"Privacy: {POSTURE_WORDS[posture.value]}.")
            if setup.persona_id is not None and setup.persona_id != before.persona_id:
                self._persona(rt, setup.persona_id)
                done.append(f"Persona: {setup.persona_id}.")
            if setup.preset is not None and setup.preset != before.preset:
                preset = Preset.parse(setup.preset)
                GateOnBus(runtime=rt, bus=self._bus).set_preset(preset)
                done.append(f"Permissions: {preset.value}.")
            if setup.retention is not None and setup.retention != before.retention:
                words = describe_retention(setup.retention)
                rt.change_setting(SETTING_RETENTION, setup.retention)
                done.append(f"Memories kept: {words[0].lower()}{words[1:]}.")
        except ValueError as exc:
            raise ExplainedError(f"A choice could not be used: {exc}") from None
        except StorageError as exc:
            raise ExplainedError(f"Aether could not save your choices: {exc.user_message}") from None
        return done

    def _runtime_for(self, key_storage: str | None) -> PolicyRuntime:
        if self.runtime is None:
            if self._open_runtime is None:
                raise ExplainedError("Aether's data is not open, so the choices cannot be saved.")
            self.runtime = self._open_runtime(key_storage)
            if self.runtime is None:
                raise ExplainedError("Aether could not open its data, so the choices were not saved.")
        return self.runtime

    def _key_storage(self, rt: PolicyRuntime, storage: str) -> str:
        """Record the key choice (audited when there is a log to write it to)."""
        if storage not in KEY_STORAGES:
            raise ValueError(f"unknown key storage {storage!r}")
        rt.change_setting(SETTING_KEY_STORAGE, storage)
        now = rt.keys.source if rt.keys is not None else READ_ONLY
        if now == storage or (storage == READ_ONLY and rt.keys is None):
            return f"Keys: {STORAGE_WORDS[storage]}."
        return f"Keys: {STORAGE_WORDS[storage]} (from the next start of Aether)."

    def _persona(self, rt: PolicyRuntime, persona_id: str) -> None:
        if self._choose_persona is not None:
            self._choose_persona(persona_id)
        else:
            rt.settings.set(SETTING_ACTIVE, persona_id)
