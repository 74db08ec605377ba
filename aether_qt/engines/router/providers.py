"""Remote providers the user configured, and the privacy posture that limits them (DESIGN.md §7).

A provider is an OpenAI-compatible endpoint: a name, a base URL, a model and
the prices the user pays per million tokens. Configs live in the settings
table (``router.providers``, ``router.active``, ``router.privacy``); their API
keys never do: they are in the OS keyring (:meth:`KeyStore.get_provider_key`).
The settings store refuses keys named like a secret, so a key cannot slip in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

from aether_qt.policy.effects import url_parts
from aether_qt.storage.settings import JSONValue

PROVIDERS_KEY: Final = "router.providers"
ACTIVE_KEY: Final = "router.active"
PRIVACY_KEY: Final = "router.privacy"
_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_MAX_PRICE: Final = 1000.0  # USD per million tokens: above any real price, so a typo is caught


class ProviderConfigError(ValueError):
    """A provider name, URL, model or price the app cannot use; the message says which and why."""


class Posture(StrEnum):
    """Where the user lets conversations go.

    ``local-only``: nothing leaves the machine. ``remote-non-sensitive`` (the
    default once a provider is added): a turn goes remote unless it touches
    anything sensitive (the user's words, or a recalled sensitive memory), then
    it is answered here. ``remote``: turns go remote and sensitive memories are
    left out of the request. In both, the user's sensitive words and untrusted
    content (a file, a page, a card) never leave.
    """

    LOCAL_ONLY = "local-only"
    REMOTE_NON_SENSITIVE = "remote-non-sensitive"
    REMOTE = "remote"


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One OpenAI-compatible endpoint (no key: that is in the keyring)."""

    name: str
    base_url: str  # e.g. http://127.0.0.1:8080/v1 ("/chat/completions" is appended)
    model: str
    price_in: float = 0.0  # USD per million input tokens
    price_out: float = 0.0  # USD per million output tokens
    keyed: bool = False  # a key is kept in the keyring for it (a LAN server may need none)

    def as_json(self) -> dict[str, JSONValue]:
        """Plain data for the settings table."""
        return {
            "url": self.base_url,
            "model": self.model,
            "price_in": self.price_in,
            "price_out": self.price_out,
            "keyed": self.keyed,
        }


def check_name(name: str) -> str:
    """``name`` if it is a provider name (lowercase letters, digits, ``-``, ``_``; at most 32)."""
    if not _NAME.match(name):
        raise ProviderConfigError(
            f"provider name {name[:40]!r} must be 1-32 lowercase letters, digits, '-' or '_'"
        )
    return name


def check_url(url: str) -> str:
    """``url`` normalised (no trailing ``/``) if it is an http(s) base URL without credentials or query."""
    try:
        parts = url_parts(url.strip())
    except ValueError:
        raise ProviderConfigError("the URL is malformed (example: http://127.0.0.1:8080/v1)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderConfigError("the URL must start with http:// or https:// and name a host")
    if parts.username or parts.password:
        raise ProviderConfigError(
            "the URL must not hold a user name or password: use --key-stdin for the key"
        )
    if parts.query or parts.fragment:
        raise ProviderConfigError("the URL must not have a query or fragment (keys belong in the keyring)")
    return url.strip().rstrip("/")


def is_self_hosted(url: str) -> bool:
    """Whether ``url`` points at this machine or the local network (a server the user runs: free)."""
    import ipaddress

    try:
        host = (url_parts(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith((".local", ".lan", ".home.arpa")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a public name: a hosted API unless the user says it is free
    return address.is_loopback or address.is_private or address.is_link_local


def resolve_price(
    url: str, model: str, price_in: float | None, price_out: float | None
) -> tuple[float, float]:
    """The prices to store: the user's, else the model's default, else free for a self-hosted server.

    Raises:
        ProviderConfigError: a hosted model with no known price and none given (a cap needs a price).
    """
    from aether_qt.engines.router.costs import default_price

    if price_in is not None and price_out is not None:
        return price_in, price_out
    known = default_price(model, self_hosted=is_self_hosted(url))
    if known is None:
        raise ProviderConfigError(
            f"no known price for {model[:60]!r} on a hosted server: give --price-in and --price-out "
            "(USD per million tokens; 0 for a free server) so the spending caps can hold"
        )
    return (
        known.input_per_mtok if price_in is None else price_in,
        known.output_per_mtok if price_out is None else price_out,
    )


def check_price(value: float, what: str) -> float:
    """A price in USD per million tokens (0 for a free, self-hosted server)."""
    if not (0.0 <= value <= _MAX_PRICE):  # NaN fails this too
        raise ProviderConfigError(f"{what} must be between 0 and {_MAX_PRICE:g} USD per million tokens")
    return float(value)


def make_config(
    name: str, url: str, model: str, price_in: float = 0.0, price_out: float = 0.0, *, keyed: bool = False
) -> ProviderConfig:
    """A checked :class:`ProviderConfig`.

    Raises:
        ProviderConfigError: any field is unusable.
    """
    model = model.strip()
    if not model or len(model) > 200 or any(ord(c) < 32 for c in model):
        raise ProviderConfigError("the model must be a name of 1-200 printable characters")
    return ProviderConfig(
        check_name(name),
        check_url(url),
        model,
        check_price(price_in, "--price-in"),
        check_price(price_out, "--price-out"),
        keyed,
    )


class SettingsLike(Protocol):
    """What this module needs of :class:`~aether_qt.storage.settings.SettingsStore`."""

    def get(self, key: str, default: JSONValue = None) -> JSONValue:
        """A JSON value or ``default``."""
        ...

    def set(self, key: str, value: JSONValue) -> None:
        """Store a JSON value."""
        ...


def _from_json(name: str, value: object) -> ProviderConfig | None:
    if not isinstance(value, Mapping):
        return None
    try:
        return make_config(
            name,
            str(value.get("url", "")),
            str(value.get("model", "")),
            float(value.get("price_in", 0.0)),
            float(value.get("price_out", 0.0)),
            keyed=value.get("keyed") is True,
        )
    except (ProviderConfigError, TypeError, ValueError):
        return None  # a hand-edited entry the app cannot use is skipped, not fatal


@dataclass(frozen=True, slots=True)
class RouterSettings:
    """The providers, the active one and the posture, as stored."""

    providers: tuple[ProviderConfig, ...] = ()
    active: str = ""
    posture: Posture = Posture.LOCAL_ONLY

    @property
    def active_provider(self) -> ProviderConfig | None:
        """The provider turns may go to, if any."""
        return next((p for p in self.providers if p.name == self.active), None)

    def find(self, name: str) -> ProviderConfig | None:
        """The provider called ``name``."""
        return next((p for p in self.providers if p.name == name), None)


def load_router_settings(settings: SettingsLike) -> RouterSettings:
    """Read the router's settings; unusable entries are skipped, an unknown posture is local-only."""
    raw = settings.get(PROVIDERS_KEY, {})
    entries = raw.items() if isinstance(raw, Mapping) else ()
    providers = tuple(p for p in (_from_json(str(k), v) for k, v in entries) if p is not None)
    active = settings.get(ACTIVE_KEY, "")
    try:
        posture = Posture(str(settings.get(PRIVACY_KEY, Posture.LOCAL_ONLY.value)))
    except ValueError:
        posture = Posture.LOCAL_ONLY
    return RouterSettings(providers, active if isinstance(active, str) else "", posture)


def save_provider(settings: SettingsLike, config: ProviderConfig) -> None:
    """Add or replace ``config``."""
    raw = settings.get(PROVIDERS_KEY, {})
    stored: dict[str, JSONValue] = dict(raw) if isinstance(raw, Mapping) else {}
    stored[config.name] = config.as_json()
    settings.set(PROVIDERS_KEY, stored)


def remove_provider(settings: SettingsLike, name: str) -> bool:
    """Remove provider ``name`` (and make nothing active if it was); False when there was none."""
    raw = settings.get(PROVIDERS_KEY, {})
    stored: dict[str, JSONValue] = dict(raw) if isinstance(raw, Mapping) else {}
    if stored.pop(name, None) is None:
        return False
    settings.set(PROVIDERS_KEY, stored)
    if settings.get(ACTIVE_KEY, "") == name:
        settings.set(ACTIVE_KEY, "")
    return True


def set_active(settings: SettingsLike, name: str) -> None:
    """Make ``name`` the provider remote turns go to ("" for none)."""
    settings.set(ACTIVE_KEY, name)


def set_posture(settings: SettingsLike, posture: Posture) -> None:
    """Store the user's privacy posture."""
    settings.set(PRIVACY_KEY, posture.value)
