"""Remote providers as the user manages them: one set of acts for ``aether providers`` and the dialog.

Adding or choosing a provider is the user's consent to send turns there: the
gate is asked for ``router.remote`` on the provider's base URL as the user and
the answer is kept as a standing grant (audited). Removing one revokes those
grants through the gate adapter (audited), deletes the config and its key. The
key lives in the OS keyring only; it is never logged, published or shown.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable

from aether_qt.core.bus import EventBus
from aether_qt.core.generation import GenerationRequest, RemoteError
from aether_qt.core.settings_views import Option, ProviderRow, ProvidersView, SettingRefused
from aether_qt.engines.router.providers import (
    PRIVACY_KEY,
    Posture,
    ProviderConfig,
    ProviderConfigError,
    load_router_settings,
    make_config,
    remove_provider,
    resolve_price,
    save_provider,
    set_active,
)
from aether_qt.engines.router.remote_provider import RemoteProvider
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask
from aether_qt.policy.keys import KeysUnavailableError
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.gate_on_bus import GateOnBus

MAX_KEY = 4096
POSTURE_WORDS = {
    Posture.LOCAL_ONLY: "Everything stays on this computer",
    Posture.REMOTE_NON_SENSITIVE: "Remote models may answer, but never with my memories or private words",
    Posture.REMOTE: "Remote models may answer anything (my memories only with my approval)",
}


class ProviderRefused(SettingRefused):
    """The gate refused a provider, or it is unknown, or its key cannot be stored."""


def check_key(key: str) -> str:
    """The key, stripped, if it can be one: a single printable word of at most 4096 characters.

    Raises:
        ProviderRefused: empty, too long, or with spaces or control characters (the key is not repeated).
    """
    key = key.strip()
    if not key or len(key) > MAX_KEY or any(ord(c) < 33 or ord(c) == 127 for c in key):
        raise ProviderRefused("The key is empty or not a single word of printable characters.")
    return key


def allow_provider(rt: PolicyRuntime, config: ProviderConfig) -> str:
    """The user's standing Allow of ``router.remote`` on the provider's URL (audited); its grant id.

    Raises:
        ProviderRefused: the gate refused (paused, locked audit, a preset that never sends remote).
    """
    request = ActionRequest(
        "router.remote", config.base_url, actor_persona="user", intended_route=config.name
    )
    decision = rt.gate.evaluate(request)
    if isinstance(decision, Ask):
        decision = rt.gate.answer(decision.ticket.ticket_id, ApprovalChoice.ALWAYS_SCOPE, config.base_url)
    if not isinstance(decision, Allow):
        reason = getattr(getattr(decision, "reason", None), "value", type(decision).__name__)
        raise ProviderRefused(f"the gate did not allow sending turns to {config.name} ({reason})")
    return decision.grant.grant_id


def revoke_provider_grants(rt: PolicyRuntime, controls: GateOnBus, base_url: str) -> list[str]:
    """Revoke the user's ``router.remote`` grants on ``base_url`` (each audited); the ids revoked."""
    ids = [
        g.grant_id
        for g in rt.ledger.active()
        if g.capability == "router.remote" and g.resource_pattern == base_url and g.persona == "user"
    ]
    return [grant_id for grant_id in ids if controls.revoke(grant_id)]


def admit_provider(rt: PolicyRuntime, config: ProviderConfig) -> str:
    """Allow, store and (when none is active yet) activate ``config``; the grant id.

    What adding a provider means, from the command line and the settings dialog
    alike: the user's standing Allow of ``router.remote`` on its URL (audited), its
    config in the settings, and the first provider becomes the active one, which
    opens a local-only posture to remote turns for non-sensitive content (audited).

    Raises:
        ProviderRefused: the gate refused (nothing is stored).
    """
    grant = allow_provider(rt, config)
    save_provider(rt.settings, config)
    settings = load_router_settings(rt.settings)
    if not settings.active:
        set_active(rt.settings, config.name)
        if settings.posture is Posture.LOCAL_ONLY:
            change_posture(rt, Posture.REMOTE_NON_SENSITIVE)
    return grant


def change_posture(rt: PolicyRuntime, posture: Posture) -> str:
    """Store the user's privacy posture as an audited setting change; its audit id ("" when unchanged).

    Where turns may go is a policy choice: opening it up (or closing it) is a
    ``setting_change`` row with the old and the new value, from the command line,
    the settings dialog and the wizard alike.
    """
    if (
        load_router_settings(rt.settings).posture is posture
        and rt.settings.get(PRIVACY_KEY, None) is not None
    ):
        return ""
    return rt.change_setting(PRIVACY_KEY, posture.value)


def probe_provider(rt: PolicyRuntime, config: ProviderConfig) -> tuple[bool, str]:
    """Send ``config`` one short request through the gate; whether it answered, and a line saying what.

    Raises:
        ProviderRefused: the gate does not allow requests to it (choose it first).
    """
    decision = rt.gate.evaluate(
        ActionRequest("router.remote", config.base_url, actor_persona="user", intended_route=config.name)
    )
    if not isinstance(decision, Allow):
        raise ProviderRefused(
            f"the gate did not allow a request to {config.name}; `aether providers use` allows it"
        )

    def api_key() -> str | None:
        return rt.keystore.get_provider_key(config.name) if config.keyed else None

    provider = RemoteProvider(config.name, config.base_url, config.model, api_key=api_key)
    opener = functools.partial(rt.effectors.open_chat_stream, decision.permit, config.base_url)
    request = GenerationRequest(
        "test", "Reply with one short word.", "Say OK.", max_tokens=8, temperature=0.0
    )
    first: list[float] = []
    started = time.perf_counter()
    try:
        result = provider.generate_with(
            opener, request, lambda _t: first.append(time.perf_counter()), threading.Event()
        )
    except RemoteError as exc:
        return False, f"{config.name}: FAILED ({exc.status.value}): {exc}"
    took = (first[0] - started) * 1000 if first else float("nan")
    words = result.text.strip()[:80]
    return True, f"{config.name}: OK, first token in {took:.0f} ms, {result.tokens} tokens: {words!r}"


class ProvidersSettings:
    """The Providers page over the settings, the keyring and the gate (see the module docstring).

    Args:
        runtime: the app's policy runtime.
        controls: the gate adapter (revocations are published on the bus).
        reload_remote: rebuilds the router's remote tier after a change, so the running app
            follows at its next turn (None: the change takes effect after restart).
    """

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        controls: GateOnBus | None = None,
        reload_remote: Callable[[], None] | None = None,
    ) -> None:
        self._rt = runtime
        self._controls = controls or GateOnBus(runtime=runtime, bus=EventBus())
        self._reload = reload_remote

    def _applied(self, sentence: str) -> str:
        if self._reload is None:
            return f"{sentence} (takes effect after restart)"
        self._reload()
        return sentence

    def _find(self, name: str) -> ProviderConfig:
        config = load_router_settings(self._rt.settings).find(name)
        if config is None:
            raise ProviderRefused(f"There is no provider called {name!r}.")
        return config

    def view(self) -> ProvidersView:
        """Every provider (whether a key is stored, never the key), the active one and the posture."""
        settings = load_router_settings(self._rt.settings)
        rows = []
        for p in settings.providers:
            try:
                has_key = self._rt.keystore.get_provider_key(p.name) is not None
            except KeysUnavailableError:  # a locked keyring is shown as "no key", not fatal
                has_key = False
            rows.append(ProviderRow(p.name, p.base_url, p.model, has_key, p.name == settings.active))
        postures = tuple(Option(p.value, POSTURE_WORDS[p]) for p in Posture)
        return ProvidersView(tuple(rows), settings.posture.value, postures)

    def add(self, name: str, url: str, model: str, key: str) -> str:
        """Add (or replace) a provider with its key (``""``: none); the first one becomes active.

        Raises:
            ProviderRefused: a bad name, URL or key, no keyring, or the gate refused (nothing kept).
        """
        try:
            price_in, price_out = resolve_price(url.strip(), model.strip(), None, None)
            config = make_config(
                name.strip(), url.strip(), model.strip(), price_in, price_out, keyed=bool(key)
            )
        except ProviderConfigError as exc:
            raise ProviderRefused(f"Not added: {exc}.") from None
        secret = check_key(key) if key.strip() else None
        if secret is not None:
            try:
                self._rt.keystore.set_provider_key(config.name, secret)
            except KeysUnavailableError:
                raise ProviderRefused("Not added: no keyring can hold the key on this computer.") from None
        admit_provider(self._rt, config)  # the standing permission, audited; the first is active
        stored = "its key is in the keyring" if secret else "no key"
        return self._applied(
            f"Added {config.name} ({stored}): turns may go there when the privacy choice allows."
        )

    def use(self, name: str) -> str:
        """Make ``name`` the active provider (``""``: none, answer locally), as ``aether providers use``.

        Raises:
            ProviderRefused: unknown, or the gate refused.
        """
        if not name:
            set_active(self._rt.settings, "")
            return self._applied("No active provider: every turn is answered on this computer.")
        config = self._find(name)
        allow_provider(self._rt, config)
        set_active(self._rt.settings, config.name)
        return self._applied(f"{config.name} is the active provider.")

    def remove(self, name: str) -> str:
        """Remove ``name``: its grants (audited), its config and its key.

        Raises:
            ProviderRefused: unknown.
        """
        config = self._find(name)
        revoked = revoke_provider_grants(self._rt, self._controls, config.base_url)
        remove_provider(self._rt.settings, config.name)
        note = ""
        try:
            self._rt.keystore.delete_provider_key(config.name)
        except KeysUnavailableError:
            note = " Its key could not be removed from the keyring."
        return self._applied(f"Removed {config.name} ({len(revoked)} permission(s) withdrawn).{note}")

    def test(self, name: str) -> str:
        """One short request to ``name``; a sentence saying what came back (blocks for the request).

        Raises:
            ProviderRefused: unknown, or the gate does not allow it.
        """
        ok, line = probe_provider(self._rt, self._find(name))
        return line if ok else f"{line}. Check the address, the model name and the key."

    def set_posture(self, posture: str) -> str:
        """Where turns may go (``aether providers privacy``).

        Raises:
            ProviderRefused: not a posture.
        """
        try:
            chosen = Posture(posture)
        except ValueError:
            raise ProviderRefused(f"{posture!r} is not a privacy choice.") from None
        change_posture(self._rt, chosen)
        return self._applied(f"Privacy: {POSTURE_WORDS[chosen].lower()}.")
