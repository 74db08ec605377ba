"""What a backup holds once unsealed: a manifest, then its members, each checked by size and SHA-256.

The payload inside the sealed stream (:mod:`aether_qt.storage.sealed_stream`) is

* :data:`PAYLOAD_MAGIC`;
* the manifest's length (4 bytes, big-endian) and the manifest, canonical JSON
  (:func:`~aether_qt.policy.canonical.canonical_json`; any other spelling is refused);
* every member's bytes, in the manifest's order, each exactly its declared size.

The manifest names the format and its version, when and by which release the
backup was made, every member (name, size, SHA-256), the audit log's head at
that moment (log id, epoch, seq, head hash) and the fingerprints of the keys
inside (never the keys). Members have fixed names (:data:`REQUIRED`, the UI
settings file, ``personas/<file>``) and sizes bounded per member, so a bundle
can never ask the reader to hold or write more than the limits say.

The parser is written for hostile input (the fuzz tests feed it bytes and
mangled structures): every failure is a :class:`BundleError` and nothing here
writes anything; the caller decides where member bytes go.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

from aether_qt.policy.canonical import canonical_json
from aether_qt.storage.cipher import SealedFileError

PAYLOAD_MAGIC: Final = b"AETHER-BACKUP-1\n"
FORMAT: Final = "aether-backup"
VERSION: Final = 1
KEYS_FORMAT: Final = "aether-backup-keys"
KEYS, ANCHOR, AUDIT_DB, APP_DB = "keys.json", "anchor.json", "audit.db", "aether.db"
UI_SETTINGS: Final = "config/aether-qt.ini"
PERSONAS: Final = "personas/"
REQUIRED: Final = (KEYS, ANCHOR, AUDIT_DB, APP_DB)
MiB: Final = 1024 * 1024
LIMITS: Final[Mapping[str, int]] = {
    KEYS: 4096,
    ANCHOR: 4096,
    AUDIT_DB: 256 * MiB,  # held in memory while its chain is verified
    APP_DB: 64 * 1024 * MiB,  # streamed to disk, still encrypted with the data key
    UI_SETTINGS: MiB,
}
PERSONA_LIMIT: Final = MiB
MAX_PERSONAS: Final = 256
MANIFEST_LIMIT: Final = MiB
_PERSONA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\.ya?ml")
_HEX = {8: re.compile(r"[0-9a-f]{8}"), 16: re.compile(r"[0-9a-f]{16}"), 32: re.compile(r"[0-9a-f]{32}")}
_HEX[64] = re.compile(r"[0-9a-f]{64}")
_SECRET_BYTES: Final = 32


class BundleError(SealedFileError):
    """The backup is not one, was changed, or breaks the format's rules (the message says which)."""


@dataclass(frozen=True, slots=True)
class Member:
    """One file of the backup: its name in the bundle, its size and its SHA-256 (hex)."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class AuditPoint:
    """The audit log's head when the backup was made."""

    log_id: str
    epoch: int
    seq: int
    head_hash: str


@dataclass(frozen=True, slots=True)
class KeyPrints:
    """Fingerprints of the keys inside (eight or sixteen hex digits; they reveal nothing)."""

    data_key: str
    audit_key_id: str
    hmac_key: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """The manifest of a backup (see the module docstring)."""

    created_wall_ms: int
    app_version: str
    members: tuple[Member, ...]
    audit: AuditPoint
    keys: KeyPrints

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "created_wall_ms": self.created_wall_ms,
            "app_version": self.app_version,
            "members": [asdict(m) for m in self.members],
            "audit": asdict(self.audit),
            "keys": asdict(self.keys),
        }

    def encode(self) -> bytes:
        """Canonical JSON bytes."""
        return canonical_json(self.to_json())

    def member(self, name: str) -> Member:
        """The member called ``name`` (the parser guarantees the required ones)."""
        return next(m for m in self.members if m.name == name)

    @property
    def payload_size(self) -> int:
        """How many plaintext bytes the whole payload has."""
        return len(PAYLOAD_MAGIC) + 4 + len(self.encode()) + sum(m.size for m in self.members)


def hmac_fingerprint(key: bytes) -> str:
    """Eight hex digits that identify the audit HMAC key without revealing it."""
    return hmac.new(key, b"aether hmac key fingerprint", "sha256").hexdigest()[:8]


def _fields(data: Any, names: set[str], what: str) -> dict[str, Any]:
    if not isinstance(data, dict) or set(data) != names:
        raise BundleError(f"the backup's {what} does not have the expected fields")
    return data


def _int(value: Any, what: str, *, high: int = 2**62) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
        raise BundleError(f"the backup's {what} is not a number in range")
    return value


def _hex(value: Any, digits: int, what: str) -> str:
    if not isinstance(value, str) or not _HEX[digits].fullmatch(value):
        raise BundleError(f"the backup's {what} is not {digits} hex digits")
    return value


def member_limit(name: str) -> int:
    """The largest size the member ``name`` may have.

    Raises:
        BundleError: no member may have that name.
    """
    if name in LIMITS:
        return LIMITS[name]
    if name.startswith(PERSONAS) and _PERSONA_NAME.fullmatch(name[len(PERSONAS) :]):
        return PERSONA_LIMIT
    raise BundleError(f"the backup holds an unexpected member {name[:80]!r}")


def _members(value: Any) -> tuple[Member, ...]:
    if not isinstance(value, list) or len(value) > len(LIMITS) + MAX_PERSONAS:
        raise BundleError("the backup's member list is malformed")
    members: list[Member] = []
    for item in value:
        data = _fields(item, {"name", "size", "sha256"}, "member entry")
        name = data["name"]
        if not isinstance(name, str):
            raise BundleError("the backup's member entry has no name")
        size = _int(data["size"], "member size", high=member_limit(name))
        members.append(Member(name, size, _hex(data["sha256"], 64, "member hash")))
    names = [m.name for m in members]
    if len(set(names)) != len(names) or any(n not in names for n in REQUIRED):
        raise BundleError("the backup's members are repeated or incomplete")
    return tuple(members)


def parse_manifest(data: bytes) -> Manifest:
    """Parse and check a manifest (canonical JSON only).

    Raises:
        BundleError: anything but a manifest of this format and version.
    """
    try:
        raw = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BundleError("the backup's manifest is not JSON") from None
    names = {"format", "version", "created_wall_ms", "app_version", "members", "audit", "keys"}
    top = _fields(raw, names, "manifest")
    if top["format"] != FORMAT or top["version"] != VERSION or isinstance(top["version"], bool):
        raise BundleError("not an Aether backup of a version this release reads")
    version = top["app_version"]
    if not isinstance(version, str) or not 0 < len(version) <= 64 or not version.isprintable():
        raise BundleError("the backup's app version is malformed")
    audit = _fields(top["audit"], {"log_id", "epoch", "seq", "head_hash"}, "audit head")
    keys = _fields(top["keys"], {"data_key", "audit_key_id", "hmac_key"}, "key fingerprints")
    manifest = Manifest(
        created_wall_ms=_int(top["created_wall_ms"], "creation time"),
        app_version=version,
        members=_members(top["members"]),
        audit=AuditPoint(
            _hex(audit["log_id"], 32, "log id"),
            _int(audit["epoch"], "audit epoch"),
            _int(audit["seq"], "audit seq"),
            _hex(audit["head_hash"], 64, "head hash"),
        ),
        keys=KeyPrints(
            _hex(keys["data_key"], 8, "data key fingerprint"),
            _hex(keys["audit_key_id"], 16, "audit key id"),
            _hex(keys["hmac_key"], 8, "HMAC key fingerprint"),
        ),
    )
    if manifest.encode() != data:
        raise BundleError("the backup's manifest is not in canonical form")
    return manifest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True, slots=True)
class BundledKeys:
    """The raw secrets carried by a backup (never printed: ``repr`` hides them)."""

    data_key: bytes
    hmac_key: bytes
    ed25519_seed: bytes

    def __repr__(self) -> str:
        return "BundledKeys(<hidden>)"

    def encode(self) -> bytes:
        """The ``keys.json`` member."""
        return canonical_json(
            {
                "format": KEYS_FORMAT,
                "version": VERSION,
                **{k: base64.b64encode(v).decode("ascii") for k, v in self._items()},
            }
        )

    def _items(self) -> tuple[tuple[str, bytes], ...]:
        return (("data_key", self.data_key), ("hmac_key", self.hmac_key), ("ed25519_seed", self.ed25519_seed))


def parse_keys(data: bytes) -> BundledKeys:
    """Parse the ``keys.json`` member.

    Raises:
        BundleError: malformed (the message never holds key material).
    """
    try:
        raw = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BundleError("the backup's keys are not JSON") from None
    top = _fields(raw, {"format", "version", "data_key", "hmac_key", "ed25519_seed"}, "keys")
    if top["format"] != KEYS_FORMAT or top["version"] != VERSION or isinstance(top["version"], bool):
        raise BundleError("the backup's keys are of an unknown format")
    secrets: list[bytes] = []
    for name in ("data_key", "hmac_key", "ed25519_seed"):
        text, secret = top[name], b""
        if isinstance(text, str):
            try:
                secret = base64.b64decode(text.encode("ascii"), validate=True)
            except (binascii.Error, ValueError, UnicodeEncodeError):
                secret = b""
        if len(secret) != _SECRET_BYTES:
            raise BundleError(f"the backup's {name.replace('_', ' ')} is malformed")
        secrets.append(secret)
    return BundledKeys(*secrets)


# ---------------------------------------------------------------------- writing
Source = Callable[[], Iterable[bytes]]
"""Gives a member's bytes, in chunks, each time it is called (the writer reads every member twice)."""


def describe(name: str, source: Source) -> Member:
    """The manifest entry of ``source`` (its size and SHA-256, read once)."""
    digest, size = hashlib.sha256(), 0
    for piece in source():
        digest.update(piece)
        size += len(piece)
    return Member(name, size, digest.hexdigest())


def encode_payload(manifest: Manifest, sources: Mapping[str, Source]) -> Iterator[bytes]:
    """Yield the payload; each member is checked again against the manifest while it is copied.

    Raises:
        BundleError: a member changed between the two reads (the caller discards what was written).
    """
    encoded = manifest.encode()
    yield PAYLOAD_MAGIC + len(encoded).to_bytes(4, "big") + encoded
    for member in manifest.members:
        digest, size = hashlib.sha256(), 0
        for piece in sources[member.name]():
            digest.update(piece)
            size += len(piece)
            yield piece
        if size != member.size or digest.hexdigest() != member.sha256:
            raise BundleError(f"{member.name} changed while the backup was written")


# ---------------------------------------------------------------------- reading
class PayloadReader:
    """Reads a payload from plaintext chunks: :meth:`manifest` first, then :meth:`members`.

    Every member's data must be consumed before the next one is asked for; its size
    and SHA-256 are checked as its last bytes go by. :meth:`members` ends by checking
    that nothing follows the last member (and so draws the stream to its end).

    Raises:
        BundleError: from every method, for anything that breaks the format.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = bytearray()
        self._manifest: Manifest | None = None

    def _fill(self) -> bool:
        piece = next(self._chunks, None)
        if piece is None:
            return False
        self._buffer += piece
        return True

    def _take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._fill():
                raise BundleError("the backup ends in the middle of its contents")
        taken = bytes(self._buffer[:size])
        del self._buffer[:size]
        return taken

    def manifest(self) -> Manifest:
        """The checked manifest (read on the first call)."""
        if self._manifest is None:
            if self._take(len(PAYLOAD_MAGIC)) != PAYLOAD_MAGIC:
                raise BundleError("not an Aether backup payload")
            length = int.from_bytes(self._take(4), "big")
            if length > MANIFEST_LIMIT:
                raise BundleError("the backup's manifest is too large")
            self._manifest = parse_manifest(self._take(length))
        return self._manifest

    def _data(self, member: Member) -> Iterator[bytes]:
        digest, missing = hashlib.sha256(), member.size
        while missing:
            if not self._buffer and not self._fill():
                raise BundleError(f"the backup ends in the middle of {member.name}")
            piece = bytes(self._buffer[:missing])
            del self._buffer[: len(piece)]
            missing -= len(piece)
            digest.update(piece)
            yield piece
        if digest.hexdigest() != member.sha256:
            raise BundleError(f"{member.name} does not match its SHA-256 in the manifest")

    def members(self) -> Iterator[tuple[Member, Iterator[bytes]]]:
        """Each member with an iterator over its bytes, in the manifest's order."""
        for member in self.manifest().members:
            data = self._data(member)
            yield member, data
            for _ in data:  # whatever the caller left unread is still checked
                pass
        if self._buffer or any(self._chunks):
            raise BundleError("the backup has data after its last member")


__all__ = [
    "ANCHOR",
    "APP_DB",
    "AUDIT_DB",
    "KEYS",
    "LIMITS",
    "PAYLOAD_MAGIC",
    "PERSONAS",
    "REQUIRED",
    "UI_SETTINGS",
    "AuditPoint",
    "BundleError",
    "BundledKeys",
    "KeyPrints",
    "Manifest",
    "Member",
    "PayloadReader",
    "Source",
    "describe",
    "encode_payload",
    "hmac_fingerprint",
    "member_limit",
    "parse_keys",
    "parse_manifest",
]
