"""Tests for aether_qt/core/events.py: envelope, payload registry, redacted JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePosixPath
from typing import ClassVar

import pytest

from aether_qt.core.events import (
    ALL_PAYLOADS,
    PAYLOAD_TYPES,
    REDACTED,
    DecisionMade,
    Envelope,
    HandlerFailed,
    Payload,
    _registry,
    envelope_to_json,
    looks_secret,
    secret_field,
    to_jsonable,
)


class Color(Enum):
    RED = "red"


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str


@dataclass(frozen=True, slots=True)
class ProviderConfigured(Payload):
    KIND: ClassVar[str] = "test.did_configure_provider"
    VERSION: ClassVar[int] = 3
    provider: str
    bearer: str = secret_field()
    api_key: str = "sk-named-secret"
    key_id: str = "k1"
    login: Credentials = Credentials(user="ann", password="hunter2")
    headers: tuple[tuple[str, str], ...] = ()
    extra: dict[str, object] = dataclasses.field(default_factory=dict)


def _envelope(payload: Payload) -> Envelope:
    return Envelope(
        kind=payload.KIND,
        seq=7,
        source_layer="L4",
        change_id="chg_1",
        turn_id=None,
        emitted_at_ns=123,
        version=payload.VERSION,
        payload=payload,
    )


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("key", True),
        ("api_key", True),
        ("apiKey", True),
        ("hmac-key", True),
        ("access_token", True),
        ("password", True),
        ("db_password_hash", True),
        ("client_secret", True),
        ("private_key_pem", True),
        ("credentials", True),
        ("key_id", False),
        ("hotkey", False),
        ("max_tokens", False),
        ("capability", False),
        ("", False),
        ("_", False),
    ],
)
def test_looks_secret(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


def test_registry_lists_every_payload_once() -> None:
    assert set(PAYLOAD_TYPES.values()) == set(ALL_PAYLOADS)
    assert len(PAYLOAD_TYPES) == len(ALL_PAYLOADS)
    assert PAYLOAD_TYPES["gate.did_decide"] is DecisionMade
    assert all(".will_" in kind or ".did_" in kind or "_did_" in kind for kind in PAYLOAD_TYPES)
    with pytest.raises(TypeError):
        PAYLOAD_TYPES["x"] = HandlerFailed  # type: ignore[index]


@pytest.mark.parametrize("cls", ALL_PAYLOADS)
def test_payloads_are_frozen_slotted_dataclasses(cls: type[Payload]) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert "__slots__" in cls.__dict__
    assert cls.VERSION >= 1


def test_registry_refuses_duplicate_and_empty_kinds() -> None:
    @dataclass(frozen=True, slots=True)
    class Nameless(Payload):
        pass

    with pytest.raises(ValueError, match="duplicate"):
        _registry((HandlerFailed, HandlerFailed))
    with pytest.raises(ValueError, match="Nameless"):
        _registry((Nameless,))


def test_envelope_is_frozen() -> None:
    env = _envelope(HandlerFailed(handler="h", kind="k", error_type="E", message="m"))

    with pytest.raises(dataclasses.FrozenInstanceError):
        env.seq = 8  # type: ignore[misc]


def test_secret_fields_are_never_serialised() -> None:
    payload = ProviderConfigured(
        provider="openai",
        bearer="tok-unnamed-secret",
        headers=(("Authorization", "Bearer x"),),
        extra={"token": "tok-in-mapping", "nested": [{"refresh_token": "tok-deep"}], "ok": 1},
    )

    line = envelope_to_json(_envelope(payload))

    for secret in ("tok-unnamed-secret", "sk-named-secret", "hunter2", "tok-in-mapping", "tok-deep"):
        assert secret not in line
    data = json.loads(line)
    assert data["version"] == 3 and data["kind"] == "test.did_configure_provider"
    body = data["payload"]
    assert body["bearer"] == body["api_key"] == body["login"]["password"] == REDACTED
    assert body["key_id"] == "k1"
    assert body["login"]["user"] == "ann"
    assert body["extra"] == {"token": REDACTED, "nested": [{"refresh_token": REDACTED}], "ok": 1}
    assert "tok-unnamed-secret" not in repr(payload)


def test_to_jsonable_handles_every_shape_safely() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "Opaque(password='leak')"

    converted = to_jsonable(
        {
            "enum": Color.RED,
            "path": PurePosixPath("/tmp/x"),
            "nan": float("nan"),
            "float": 1.5,
            "set": {3, 1},
            "bytes": b"\x00\x01",
            "opaque": Opaque(),
            "none": None,
            "type": Credentials,
        }
    )

    assert converted == {
        "enum": "red",
        "path": "/tmp/x",
        "nan": "nan",
        "float": 1.5,
        "set": [1, 3],
        "bytes": "<2 bytes>",
        "opaque": "<Opaque>",
        "none": None,
        "type": "<type>",
    }
    assert "leak" not in json.dumps(converted)


def test_envelope_json_is_one_compact_line() -> None:
    line = envelope_to_json(_envelope(HandlerFailed(handler="h", kind="k", error_type="E", message="é\nx")))

    assert "\n" not in line
    assert json.loads(line) == {
        "kind": "bus.handler_did_fail",
        "seq": 7,
        "source_layer": "L4",
        "change_id": "chg_1",
        "turn_id": None,
        "emitted_at_ns": 123,
        "version": 1,
        "payload": {"handler": "h", "kind": "k", "error_type": "E", "message": "é\nx"},
    }
