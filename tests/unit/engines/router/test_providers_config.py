"""Provider configs: checked names, URLs without credentials, prices, and no key in the settings."""

from __future__ import annotations

import pytest

from aether_qt.engines.router.providers import (
    Posture,
    ProviderConfigError,
    load_router_settings,
    make_config,
    remove_provider,
    save_provider,
    set_active,
    set_posture,
)


class Settings(dict[str, object]):
    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        return super().get(key, default)

    def set(self, key: str, value: object) -> None:
        self[key] = value


@pytest.mark.parametrize(
    ("name", "url", "price", "words"),
    [
        ("Bad Name", "http://h/v1", 0.0, "lowercase"),
        ("lan", "ftp://h/v1", 0.0, "http"),
        ("lan", "http://user:sk-secret@h/v1", 0.0, "user name or password"),
        ("lan", "http://h/v1?api_key=sk-secret", 0.0, "query"),
        ("lan", "http://h:99999/v1", 0.0, "malformed"),
        ("lan", "http://h/v1", -1.0, "between 0"),
        ("lan", "http://h/v1", float("nan"), "between 0"),
    ],
)
def test_unusable_configs_are_refused_with_the_reason_and_never_echo_a_secret(
    name: str, url: str, price: float, words: str
) -> None:
    with pytest.raises(ProviderConfigError) as caught:
        make_config(name, url, "m", price_in=price)
    assert words in str(caught.value) and "sk-secret" not in str(caught.value)


def test_round_trip_active_provider_posture_and_removal() -> None:
    settings = Settings()
    assert (
        load_router_settings(settings).posture is Posture.LOCAL_ONLY
    )  # nothing leaves until the user says so
    save_provider(settings, make_config("lan", "http://127.0.0.1:8080/v1/", "m", 0.5, 1.5))
    set_active(settings, "lan")
    set_posture(settings, Posture.REMOTE)
    loaded = load_router_settings(settings)
    assert loaded.active_provider == make_config("lan", "http://127.0.0.1:8080/v1", "m", 0.5, 1.5)
    assert loaded.posture is Posture.REMOTE
    assert remove_provider(settings, "lan") and not remove_provider(settings, "lan")
    assert load_router_settings(settings).active_provider is None


def test_a_hand_edited_entry_is_skipped_and_an_unknown_posture_reads_local_only() -> None:
    settings = Settings({"router.providers": {"ok": {"url": "http://h/v1", "model": "m"}, "bad": {"url": 3}}})
    settings["router.privacy"] = "everything-everywhere"
    loaded = load_router_settings(settings)
    assert [p.name for p in loaded.providers] == ["ok"] and loaded.posture is Posture.LOCAL_ONLY
