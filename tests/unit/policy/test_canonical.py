"""Tests of canonical JSON and the hash helpers."""

from __future__ import annotations

import hashlib
import hmac
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether_qt.policy.canonical import (
    CanonicalError,
    canonical_json,
    canonical_text,
    event_hash,
    genesis_hash,
    hmac_equal,
    hmac_message,
    key_fingerprint,
    record_hmac,
    sha256_hex,
)
from aether_qt.policy.contracts import PolicyError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


def test_compact_sorted_utf8() -> None:
    assert canonical_json({"b": 1, "a": [1, "é✓"]}) == '{"a":[1,"é✓"],"b":1}'.encode()
    assert canonical_text({"z": None, "y": True}) == '{"y":true,"z":null}'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, {"x": [math.nan]}])
def test_rejects_nan_and_infinity(bad: object) -> None:
    with pytest.raises(CanonicalError):
        canonical_json(bad)


def test_rejects_non_json_types_as_policy_error() -> None:
    with pytest.raises(PolicyError, match="not JSON-serialisable"):
        canonical_json({"x": object()})


@given(json_values)
def test_key_order_never_matters(value: object) -> None:
    if isinstance(value, dict):
        reversed_dict = dict(reversed(list(value.items())))
        assert canonical_json(reversed_dict) == canonical_json(value)
    assert canonical_json(value) == canonical_json(value)


def test_hash_layouts_are_the_documented_ones() -> None:
    log_id = "abc"
    assert genesis_hash(log_id) == hashlib.sha256(b"aether-audit-genesis-v1:abc").hexdigest()
    prev = genesis_hash(log_id)
    assert event_hash(prev, b"{}") == hashlib.sha256(bytes.fromhex(prev) + b"{}").hexdigest()
    digest = event_hash(prev, b"{}")
    message = b"abc" + (7).to_bytes(8, "big") + bytes.fromhex(digest)
    assert hmac_message(log_id, 7, digest) == message
    key = b"k" * 32
    assert record_hmac(key, log_id, 7, digest) == hmac.new(key, message, hashlib.sha256).hexdigest()
    assert sha256_hex(b"") == hashlib.sha256(b"").hexdigest()
    assert key_fingerprint(b"\x00" * 32) == hashlib.sha256(b"\x00" * 32).hexdigest()[:16]


def test_hmac_equal() -> None:
    assert hmac_equal("ab", "ab")
    assert not hmac_equal("ab", "ac")
    assert not hmac_equal("ab", "é")
