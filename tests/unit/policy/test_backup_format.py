"""The backup manifest and payload parser, rule by rule (the fuzzing is in
``tests/adversarial/test_fuzz_backup.py``).

Whatever it is given, only :class:`BundleError` escapes, and the parser itself never
writes anything (it has no file to write: the caller decides where member bytes go).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from aether_qt.policy.backup_format import (
    ANCHOR,
    APP_DB,
    AUDIT_DB,
    KEYS,
    UI_SETTINGS,
    AuditPoint,
    BundledKeys,
    BundleError,
    KeyPrints,
    Manifest,
    Member,
    PayloadReader,
    describe,
    encode_payload,
    member_limit,
    parse_keys,
    parse_manifest,
)
from aether_qt.policy.canonical import canonical_json

CONTENT = {
    KEYS: BundledKeys(b"d" * 32, b"h" * 32, b"s" * 32).encode(),
    ANCHOR: b'{"anchor": true}',
    AUDIT_DB: b"audit rows" * 50,
    UI_SETTINGS: b"[main_window]\ngeometry=1\n",
    "personas/pal.yaml": b"id: pal\n",
    APP_DB: bytes(range(256)) * 40,
}


def _manifest(content: dict[str, bytes] = CONTENT) -> Manifest:
    return Manifest(
        created_wall_ms=1_700_000_000_000,
        app_version="0.1.0",
        members=tuple(describe(name, lambda data=data: (data,)) for name, data in content.items()),
        audit=AuditPoint("ab" * 16, 1, 42, "cd" * 32),
        keys=KeyPrints("0a1b2c3d", "0123456789abcdef", "deadbeef"),
    )


def _payload(content: dict[str, bytes] = CONTENT) -> bytes:
    sources = {name: (lambda data=data: (data,)) for name, data in content.items()}
    return b"".join(encode_payload(_manifest(content), sources))


def _read_all(chunks: list[bytes]) -> tuple[Manifest, dict[str, bytes]]:
    reader = PayloadReader(chunks)
    manifest = reader.manifest()
    found = {member.name: b"".join(data) for member, data in reader.members()}
    return manifest, found


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 7, 4096, 10**6])
def test_a_payload_read_in_any_chunking_gives_back_the_manifest_and_every_member(size: int) -> None:
    manifest, found = _read_all(_pieces(_payload(), size))
    assert manifest == _manifest()
    assert found == CONTENT
    assert manifest.payload_size == len(_payload())


def test_a_member_whose_bytes_differ_from_the_manifest_is_refused_at_its_last_byte() -> None:
    payload = bytearray(_payload())
    payload[-1] ^= 1  # the last byte of aether.db
    reader = PayloadReader([bytes(payload)])
    reader.manifest()
    with pytest.raises(BundleError, match=r"aether\.db does not match its SHA-256"):
        for _member, data in reader.members():
            for _ in data:
                pass


def test_unread_member_bytes_are_still_checked_and_trailing_data_is_refused() -> None:
    bad = bytearray(_payload())
    bad[-len(CONTENT[APP_DB]) - 1] ^= 1  # inside personas/pal.yaml
    reader = PayloadReader([bytes(bad)])
    with pytest.raises(BundleError, match=r"pal\.yaml"):
        for _member, _data in reader.members():  # the caller reads nothing
            pass
    with pytest.raises(BundleError, match="after its last member"):
        _read_all([_payload(), b"x"])
    with pytest.raises(BundleError, match="ends in the middle"):
        _read_all([_payload()[:-1]])


def test_a_member_that_changes_while_it_is_written_fails_the_write() -> None:
    calls = {"n": 0}

    def changing() -> Iterator[bytes]:
        calls["n"] += 1
        yield b"first" if calls["n"] == 1 else b"other"

    manifest = Manifest(
        1,
        "v",
        (describe(APP_DB, changing),),
        AuditPoint("0" * 32, 1, 0, "0" * 64),
        KeyPrints("0" * 8, "0" * 16, "0" * 8),
    )
    with pytest.raises(BundleError, match="changed while"):
        b"".join(encode_payload(manifest, {APP_DB: changing}))


def _valid_json() -> dict[str, Any]:
    return json.loads(_manifest().encode())


def _encoded(data: Any) -> bytes:
    return canonical_json(data)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: d.update(format="zip"), "not an Aether backup"),
        (lambda d: d.update(version=2), "not an Aether backup"),
        (lambda d: d.update(version=True), "not an Aether backup"),
        (lambda d: d.pop("audit"), "expected fields"),
        (lambda d: d.update(extra=1), "expected fields"),
        (lambda d: d["members"].pop(0), "incomplete"),
        (lambda d: d["members"].append(d["members"][0]), "repeated"),
        (lambda d: d["members"][0].update(name="../../etc/passwd"), "unexpected member"),
        (lambda d: d["members"][0].update(name="personas/../x.yaml"), "unexpected member"),
        (lambda d: d["members"][0].update(size=-1), "number in range"),
        (lambda d: d["members"][0].update(size=10**12), "number in range"),
        (lambda d: d["members"][0].update(size=1.5), "number in range"),
        (lambda d: d["members"][0].update(sha256="A" * 64), "hex digits"),
        (lambda d: d["audit"].update(seq="1"), "number in range"),
        (lambda d: d["keys"].update(data_key="secret!!"), "hex digits"),
        (lambda d: d.update(app_version=""), "app version"),
        (lambda d: d.update(app_version="a\nb"), "app version"),
        (lambda d: d.update(members={}), "member list"),
    ],
)
def test_each_rule_of_the_manifest_is_enforced(mangle: Any, message: str) -> None:
    data = _valid_json()
    mangle(data)
    with pytest.raises(BundleError, match=message):
        parse_manifest(_encoded(data))


def test_a_manifest_spelled_differently_from_canonical_json_is_refused() -> None:
    pretty = json.dumps(_valid_json(), indent=1).encode()
    with pytest.raises(BundleError, match="canonical"):
        parse_manifest(pretty)
    for junk in (b"\xff", b"[" * 100_000, b"NaN", b'{"a": Infinity}'):
        with pytest.raises(BundleError):
            parse_manifest(junk)


def test_member_names_and_limits() -> None:
    assert member_limit("personas/sage.yml") == 1024 * 1024
    for bad in (
        "personas/.hidden.yaml",
        "personas/a/b.yaml",
        "personas/x.txt",
        "aether.db-wal",
        "config/x.ini",
    ):
        with pytest.raises(BundleError):
            member_limit(bad)


def test_keys_parse_and_never_show_in_repr() -> None:
    keys = BundledKeys(b"d" * 32, b"h" * 32, b"s" * 32)
    assert parse_keys(keys.encode()) == keys
    assert "ZGRk" not in repr(keys) and "ddd" not in repr(keys)
    body = json.loads(keys.encode())
    for name, value in (
        ("data_key", "%%%"),
        ("hmac_key", base64.b64encode(b"x" * 31).decode()),
        ("ed25519_seed", 7),
    ):
        broken = {**body, name: value}
        with pytest.raises(BundleError, match=name.replace("_", " ")):
            parse_keys(_encoded(broken))
    with pytest.raises(BundleError, match="unknown format"):
        parse_keys(_encoded({**body, "format": "other"}))
    with pytest.raises(BundleError, match="not JSON"):
        parse_keys(b"\x00")


def test_a_checked_member_hash_is_the_sha256_of_its_bytes() -> None:
    entry = _manifest().member(APP_DB)
    assert entry == Member(APP_DB, len(CONTENT[APP_DB]), hashlib.sha256(CONTENT[APP_DB]).hexdigest())
