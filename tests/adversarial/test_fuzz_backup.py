"""Fuzzing the backup manifest and bundle parser: only the typed error comes out, and nothing is written.

Inputs, bytes and structure-aware (:mod:`fuzz_support`):

* the manifest and the keys member as raw bytes, as mutated bytes, and as a valid
  JSON value mutated (hostile scalars, deep nesting, lone surrogates, keys dropped
  or added) then written as JSON: :class:`BundleError` or a manifest that is
  exactly what was given;
* the payload (manifest and members) mutated at the byte level and read in random
  chunkings: :class:`BundleError`, or a payload whose every member matches its hash;
* whole bundles: a genuine one with its sealed bytes mutated, and payloads mutated
  then resealed with the right passphrase (what someone who knows it can do), read
  by ``read_bundle`` into a real home: only :class:`SealedFileError` (the parent of
  :class:`BundleError`) comes out and the home is byte for byte the same.

The key derivation runs at the cheapest cost (a parameter no command passes).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from backup_support import CHEAP, PASSPHRASE, backup_of, payload_of, reseal, seed_home
from fuzz_support import JSON_VALUES, dump_json, fuzz, mutated_bytes, mutated_json, tree_digest
from hypothesis import event, given
from hypothesis import strategies as st

from aether_qt.core.paths import resolve_paths
from aether_qt.policy.backup_format import (
    PAYLOAD_MAGIC,
    AuditPoint,
    BundledKeys,
    BundleError,
    KeyPrints,
    Manifest,
    PayloadReader,
    describe,
    encode_payload,
    parse_keys,
    parse_manifest,
)
from aether_qt.policy.canonical import canonical_json
from aether_qt.policy.restore_bundle import discard_staging, read_bundle
from aether_qt.storage.cipher import SealedFileError

CONTENT = {
    "keys.json": BundledKeys(b"d" * 32, b"h" * 32, b"s" * 32).encode(),
    "anchor.json": b'{"anchor": true}',
    "audit.db": b"audit rows" * 40,
    "personas/pal.yaml": b"id: pal\n",
    "aether.db": bytes(range(256)) * 20,
}
MANIFEST = Manifest(
    created_wall_ms=1_700_000_000_000,
    app_version="0.1.0",
    members=tuple(describe(name, lambda data=data: (data,)) for name, data in CONTENT.items()),
    audit=AuditPoint("ab" * 16, 1, 42, "cd" * 32),
    keys=KeyPrints("0a1b2c3d", "0123456789abcdef", "deadbeef"),
)
PAYLOAD = b"".join(encode_payload(MANIFEST, {n: (lambda d=d: (d,)) for n, d in CONTENT.items()}))


def _as_bytes(value: Any, canonical: bool) -> bytes:
    if canonical:
        try:
            return canonical_json(value)
        except (ValueError, UnicodeEncodeError):
            event("not encodable canonically: written as JSON")
    return dump_json(value)


@fuzz(300)
@given(st.one_of(st.binary(max_size=2048), mutated_bytes(MANIFEST.encode())))
def test_fuzz_manifest_bytes(data: bytes) -> None:
    try:
        parsed = parse_manifest(data)
    except BundleError:
        return
    assert parsed.encode() == data


@fuzz(300)
@given(mutated_json(MANIFEST.to_json()), st.booleans())
def test_fuzz_manifest_structure(value: Any, canonical: bool) -> None:
    data = _as_bytes(value, canonical)
    try:
        parsed = parse_manifest(data)
    except BundleError:
        return
    event("a mutated manifest passed")
    assert parsed.encode() == data


@fuzz(200)
@given(mutated_json(json.loads(CONTENT["keys.json"])), st.booleans())
def test_fuzz_keys_member(value: Any, canonical: bool) -> None:
    with contextlib.suppress(BundleError):
        parse_keys(_as_bytes(value, canonical))


@fuzz(200)
@given(
    st.one_of(mutated_bytes(PAYLOAD), st.binary(max_size=512).map(lambda b: PAYLOAD_MAGIC + b)),
    st.integers(1, 4096),
)
def test_fuzz_payload_bytes(data: bytes, chunk: int) -> None:
    reader = PayloadReader(data[i : i + chunk] for i in range(0, len(data), chunk))
    try:
        manifest = reader.manifest()
        found = {member.name: b"".join(piece) for member, piece in reader.members()}
    except BundleError:
        return
    event("a mutated payload passed (a free-text field)")
    assert manifest.payload_size == len(data) and set(found) == {m.name for m in manifest.members}


# ---------------------------------------------------------------------- whole bundles into a real home
@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-backup")
    seed_home(root / "home", folders=(root / "docs", root / "out"))
    return backup_of(root / "home", root / "out" / "genuine.aether").path


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-target")
    seed_home(root / "home", folders=(root / "docs",))
    return root / "home"


def _refused_and_untouched(bundle: bytes, home: Path, where: Path) -> None:
    where.write_bytes(bundle)
    paths = resolve_paths(home)
    before = tree_digest(home)
    try:
        read_bundle(
            where, PASSPHRASE, staging=paths.data_dir / "fuzz.partial", root=paths.data_dir, min_cost=CHEAP
        )
    except SealedFileError as exc:
        event(type(exc).__name__)
    else:
        raise AssertionError("a changed bundle was accepted")
    assert tree_digest(home) == before


@fuzz(60)
@given(data=st.data())
def test_fuzz_sealed_bytes_of_a_genuine_bundle(genuine: Path, target: Path, data: st.DataObject) -> None:
    mutated = data.draw(mutated_bytes(genuine.read_bytes()))
    _refused_and_untouched(mutated, target, genuine.with_name("mutated.aether"))


MEMBERS = ["keys.json", "anchor.json", "audit.db", "aether.db", "manifest"]
FIELDS = [
    ("audit", "seq"),
    ("audit", "epoch"),
    ("audit", "log_id"),
    ("keys", "data_key"),
    ("created_wall_ms",),
    ("app_version",),
]


@fuzz(40)
@given(member=st.sampled_from(MEMBERS), data=st.data())
def test_fuzz_payloads_resealed_with_the_right_passphrase(
    genuine: Path, target: Path, member: str, data: st.DataObject
) -> None:
    members, content = payload_of(genuine)
    edit: Any = lambda _manifest: None  # noqa: E731 - the default: a manifest that matches
    if member == "manifest":
        *parents, field = data.draw(st.sampled_from(FIELDS))
        hostile = data.draw(JSON_VALUES)

        def edit(manifest: dict[str, Any]) -> None:
            holder = manifest
            for step in parents:
                holder = holder[step]
            holder[field] = hostile

    elif member in ("keys.json", "anchor.json"):
        content = {**content, member: _as_bytes(data.draw(mutated_json(json.loads(content[member]))), True)}
    else:
        content = {**content, member: data.draw(mutated_bytes(content[member], max_ops=2))}
    try:
        forged = reseal(genuine, members, content, edit)
    except (TypeError, ValueError):
        event("the mutation cannot be written as canonical JSON")
        return
    where = genuine.with_name("resealed.aether")
    where.write_bytes(forged)
    paths = resolve_paths(target)
    before = tree_digest(target)
    try:
        read = read_bundle(
            where, PASSPHRASE, staging=paths.data_dir / "fuzz.partial", root=paths.data_dir, min_cost=CHEAP
        )
    except SealedFileError as exc:
        event(f"refused: {type(exc).__name__}")
        assert tree_digest(target) == before
        return
    # a change no check covers (free space of a database file) reads fine: then it is staged only
    assert member in ("audit.db", "aether.db")
    event(f"a change of {member} that no check covers")
    discard_staging(read.staging, root=paths.data_dir)
    assert tree_digest(target) == before
