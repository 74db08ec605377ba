"""Audit keys in the OS keyring (service ``aether``), or an opt-in 0600 key file.

Four secrets per installation live in the keyring: the HMAC key, the Ed25519
seed, the data key that encrypts ``aether.db`` and the files derived from it
(:class:`~aether_qt.storage.cipher.DataKey`), and the newest audit anchor (the
anchor is not secret but must live outside ``audit.db``). Usernames carry a per-installation namespace
(``"<namespace>:hmac-key"``) so two homes never share an entry.

Rules (DESIGN.md §5, §13):

* the backend in use is recorded (:attr:`KeyStatus.backend`);
* the fail and null backends, and a chainer with no usable backend, are
  unusable: the app runs degraded;
* fresh keys are minted **only** when no audit log exists yet; a missing key
  for an existing log raises :class:`KeysUnavailableError`, never a new key;
  the same holds for the data key and an encrypted ``aether.db`` (a plaintext
  one from an older release gets a new key: it is encrypted with it);
* with the user's opt-in, keys may live in a 0600 JSON key file
  (:attr:`AppPaths.key_file`), shown as a permanent "keys on disk" flag.

No message, ``repr`` or exception produced here contains key material.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.signing
import nacl.utils

from aether_qt.policy.canonical import key_fingerprint, sha256_hex
from aether_qt.policy.contracts import PolicyError
from aether_qt.policy.effects import write_own_file
from aether_qt.storage.cipher import DataKey

_log = logging.getLogger(__name__)

SERVICE = "aether"
_CHAINER = "keyring.backends.chainer.ChainerBackend"
_UNUSABLE_BACKENDS = ("keyring.backends.fail.Keyring", "keyring.backends.null.Keyring")
_KEY_FILE_VERSION = 1
_SECRET_LEN = 32


class KeysUnavailableError(PolicyError):
    """The audit keys cannot be loaded (no keyring, locked, missing for an existing log)."""


def install_namespace(config_dir: Path) -> str:
    """A short id for one installation, derived from its config folder path."""
    return sha256_hex(str(config_dir.expanduser().resolve()).encode("utf-8"))[:16]


@dataclass(frozen=True, slots=True)
class AuditKeys:
    """The keys that seal and sign the audit chain.

    Attributes:
        hmac_key: 32-byte HMAC-SHA256 key (hidden from ``repr``).
        signing_key: Ed25519 signing key (hidden from ``repr``).
        verify_key: the matching public key.
        key_id: short fingerprint of the public key.
        source: ``"keyring"`` or ``"key_file"``.
    """

    hmac_key: bytes = field(repr=False)
    signing_key: nacl.signing.SigningKey = field(repr=False)
    verify_key: nacl.signing.VerifyKey
    key_id: str
    source: str

    @classmethod
    def from_secrets(cls, hmac_key: bytes, seed: bytes, *, source: str) -> AuditKeys:
        """Build keys from the raw HMAC key and Ed25519 seed."""
        signing = nacl.signing.SigningKey(seed)
        verify = signing.verify_key
        return cls(
            hmac_key=hmac_key,
            signing_key=signing,
            verify_key=verify,
            key_id=key_fingerprint(bytes(verify)),
            source=source,
        )

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return bytes(self.verify_key)


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """Where the keys live, for ``aether doctor`` and the banners.

    Attributes:
        backend: dotted class name of the keyring backend.
        usable: the keyring backend can store secrets.
        on_disk: the opt-in key file exists (posture flag "keys on disk").
        message: a sentence for the user.
    """

    backend: str
    usable: bool
    on_disk: bool
    message: str


def _keyring_error() -> type[Exception]:
    """``keyring.errors.KeyringError``, imported only when a keyring is used."""
    import keyring.errors

    return keyring.errors.KeyringError


def backend_name(backend: Any) -> str:
    """Dotted class name of a keyring backend (``keyring.backends.SecretService.Keyring``)."""
    kind = type(backend)
    return f"{kind.__module__}.{kind.__qualname__}"


def backend_usable(backend: Any) -> bool:
    """False for the fail and null backends and a chainer without usable members."""
    if backend_name(backend) in _UNUSABLE_BACKENDS:
        return False
    if _CHAINER in (f"{c.__module__}.{c.__qualname__}" for c in type(backend).__mro__):
        return any(backend_usable(member) for member in backend.backends)
    return True


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise KeysUnavailableError(f"the stored {what} is not valid base64") from None
    if len(data) != _SECRET_LEN:
        raise KeysUnavailableError(f"the stored {what} has the wrong length")
    return data


class KeyStore:
    """Loads (or, for a brand-new log only, mints) the audit keys.

    Args:
        namespace: per-installation prefix of keyring usernames
            (see :func:`install_namespace`).
        key_file: where the opt-in 0600 key file lives.
        backend: a keyring backend; ``None`` uses ``keyring.get_keyring()``
            at each call.
    """

    def __init__(self, *, namespace: str, key_file: Path, backend: Any = None) -> None:
        self._namespace = namespace
        self._key_file = key_file
        self._backend = backend

    # ------------------------------------------------------------ backend

    def backend(self) -> Any:
        """The keyring backend in use."""
        if self._backend is not None:
            return self._backend
        import keyring  # lazy: keyring imports subprocess-using helpers at import time

        return keyring.get_keyring()

    def username(self, entry: str) -> str:
        """Keyring username of ``entry`` (``hmac-key``, ``ed25519-seed``, ``audit-anchor``)."""
        return f"{self._namespace}:{entry}"

    def status(self) -> KeyStatus:
        """Describe the keyring backend and whether keys are on disk."""
        backend = self.backend()
        name = backend_name(backend)
        usable = backend_usable(backend)
        on_disk = self._key_file.exists()
        if usable:
            message = f"keys in the OS keyring ({name})"
        else:
            message = f"no usable keyring ({name}): remote providers off, side effects denied"
        if on_disk:
            message += "; keys on disk (opt-in key file)"
        return KeyStatus(backend=name, usable=usable, on_disk=on_disk, message=message)

    def _get(self, entry: str) -> str | None:
        backend = self.backend()
        try:
            value: str | None = backend.get_password(SERVICE, self.username(entry))
        except _keyring_error() as exc:
            raise KeysUnavailableError(
                f"keyring {backend_name(backend)} refused to read {entry}: {type(exc).__name__}"
            ) from None
        return value

    def _set(self, entry: str, value: str) -> None:
        backend = self.backend()
        try:
            backend.set_password(SERVICE, self.username(entry), value)
        except _keyring_error() as exc:
            raise KeysUnavailableError(
                f"keyring {backend_name(backend)} refused to store {entry}: {type(exc).__name__}"
            ) from None

    # ------------------------------------------------------------ provider keys

    def get_provider_key(self, provider: str) -> str | None:
        """The API key of remote ``provider`` from the OS keyring, or ``None`` (none stored).

        Raises:
            KeysUnavailableError: no usable keyring (provider keys are never kept anywhere else).
        """
        if not backend_usable(self.backend()):
            raise KeysUnavailableError("no usable keyring: remote provider keys live only in the OS keyring")
        return self._get(f"provider-key:{provider}")

    def set_provider_key(self, provider: str, key: str) -> None:
        """Keep the API key of ``provider`` in the OS keyring (never in a file).

        Raises:
            KeysUnavailableError: no usable keyring, or it refused.
        """
        if not backend_usable(self.backend()):
            raise KeysUnavailableError("no usable keyring: remote provider keys live only in the OS keyring")
        self._set(f"provider-key:{provider}", key)

    def delete_provider_key(self, provider: str) -> None:
        """Remove the key of ``provider`` from the keyring (nothing when there is none)."""
        if backend_usable(self.backend()) and self._get(f"provider-key:{provider}") is not None:
            self._forget(f"provider-key:{provider}")

    # ------------------------------------------------------------ anchor entry

    def get_anchor_text(self) -> str | None:
        """The anchor JSON kept in the keyring, or ``None`` (also when unusable)."""
        if not backend_usable(self.backend()):
            return None
        return self._get("audit-anchor")

    def set_anchor_text(self, text: str) -> None:
        """Store the anchor JSON in the keyring.

        Raises:
            KeysUnavailableError: no usable keyring, or it refused.
        """
        if not backend_usable(self.backend()):
            raise KeysUnavailableError("no usable keyring for the audit anchor")
        self._set("audit-anchor", text)

    # ------------------------------------------------------------ keys

    def load_keys(self, *, log_exists: bool, allow_key_file: bool) -> AuditKeys:
        """Return the audit keys, minting them only for a log that does not exist yet.

        Order: keys in a usable keyring; else the opt-in key file; else, when
        no log exists, fresh keys stored in the keyring (or, if the keyring is
        unusable and the user opted in, in the key file).

        Raises:
            KeysUnavailableError: the keyring is unusable and there is no
                opt-in, a key is missing for an existing log, or storage failed.
        """
        usable = backend_usable(self.backend())
        if usable:
            hmac_text = self._get("hmac-key")
            seed_text = self._get("ed25519-seed")
            if hmac_text is not None and seed_text is not None:
                return AuditKeys.from_secrets(
                    _unb64(hmac_text, "HMAC key"), _unb64(seed_text, "Ed25519 seed"), source="keyring"
                )
            if (hmac_text is None) != (seed_text is None):
                raise KeysUnavailableError("only one of the two audit keys is in the keyring; not minting")
        if allow_key_file and self._key_file.exists():
            body = self._read_file_body()
            if "hmac_key" in body or "ed25519_seed" in body or log_exists:
                return self._audit_keys_from(body)
        if log_exists:
            hint = "" if allow_key_file or not self._key_file.exists() else " (a key file exists: opt in)"
            raise KeysUnavailableError(
                f"no audit keys for the existing log in {self.status().backend}{hint}; a new key is never "
                "minted over an existing log"
            )
        if usable:
            return self._mint_into_keyring()
        if allow_key_file:
            return self._mint_into_key_file()
        raise KeysUnavailableError(
            f"no usable keyring ({self.status().backend}); opt in to a 0600 key file to continue"
        )

    def _mint_into_keyring(self) -> AuditKeys:
        hmac_key = nacl.utils.random(_SECRET_LEN)
        seed = nacl.utils.random(_SECRET_LEN)
        self._set("hmac-key", _b64(hmac_key))
        try:
            self._set("ed25519-seed", _b64(seed))
        except KeysUnavailableError:
            self._forget("hmac-key")
            raise
        _log.info("minted new audit keys in keyring %s", self.status().backend)
        return AuditKeys.from_secrets(hmac_key, seed, source="keyring")

    def _forget(self, entry: str) -> None:
        """Best-effort removal of a half-written entry (said in the log if it fails)."""
        try:
            self.backend().delete_password(SERVICE, self.username(entry))
        except _keyring_error() as exc:
            _log.warning("could not remove half-written keyring entry %s: %s", entry, type(exc).__name__)

    def _mint_into_key_file(self) -> AuditKeys:
        hmac_key = nacl.utils.random(_SECRET_LEN)
        seed = nacl.utils.random(_SECRET_LEN)
        self._merge_into_file({"hmac_key": _b64(hmac_key), "ed25519_seed": _b64(seed)})
        _log.warning("minted new audit keys in the opt-in key file (keys on disk)")
        return AuditKeys.from_secrets(hmac_key, seed, source="key_file")

    def _read_file_body(self) -> dict[str, Any]:
        """The key file's JSON object (its mode checked first)."""
        try:
            mode = stat.S_IMODE(self._key_file.stat().st_mode)
        except OSError:
            raise KeysUnavailableError("the key file cannot be read") from None
        if mode & 0o077:
            raise KeysUnavailableError(f"the key file is readable by others (mode {mode:o}); expected 0600")
        try:
            body = json.loads(self._key_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise KeysUnavailableError("the key file is unreadable or malformed") from None
        if not isinstance(body, dict):
            raise KeysUnavailableError("the key file is unreadable or malformed")
        return body

    def _merge_into_file(self, entries: dict[str, str]) -> None:
        """Add ``entries`` to the key file (created 0600 if missing), replacing it atomically."""
        body = self._read_file_body() if self._key_file.exists() else {}
        body.update(entries, version=_KEY_FILE_VERSION)
        write_private_file(self._key_file, json.dumps(body).encode("utf-8"))

    @staticmethod
    def _audit_keys_from(body: dict[str, Any]) -> AuditKeys:
        try:
            hmac_text, seed_text = body["hmac_key"], body["ed25519_seed"]
        except KeyError:
            raise KeysUnavailableError("the key file has no audit keys") from None
        return AuditKeys.from_secrets(
            _unb64(str(hmac_text), "HMAC key"), _unb64(str(seed_text), "Ed25519 seed"), source="key_file"
        )

    # ------------------------------------------------------------ data key

    def load_data_key(self, *, encrypted_data_exists: bool, allow_key_file: bool) -> DataKey:
        """Return the key of ``aether.db``, minting it only when no encrypted data exists.

        Same order as :meth:`load_keys`: the keyring, else the opt-in key file; a
        new key goes where the audit keys would go. A plaintext database from an
        older release is not "encrypted data": it gets a new key and is encrypted.

        Raises:
            KeysUnavailableError: no usable store, or the key of existing data is missing.
        """
        usable = backend_usable(self.backend())
        if usable:
            text = self._get("data-key")
            if text is not None:
                return DataKey(_unb64(text, "data key"), source="keyring")
        if allow_key_file and self._key_file.exists():
            text = self._read_file_body().get("data_key")
            if text is not None:
                return DataKey(_unb64(str(text), "data key"), source="key_file")
        if encrypted_data_exists:
            hint = "" if allow_key_file or not self._key_file.exists() else " (a key file exists: opt in)"
            raise KeysUnavailableError(
                f"no data key for the encrypted database in {self.status().backend}{hint}; "
                "a new key is never minted over existing data"
            )
        if usable:
            key = DataKey.generate(source="keyring")
            self._set("data-key", _b64(key.secret))
            _log.info("minted a new data key in keyring %s", self.status().backend)
            return key
        if allow_key_file:
            key = DataKey.generate(source="key_file")
            self._merge_into_file({"data_key": _b64(key.secret)})
            _log.warning("minted a new data key in the opt-in key file (keys on disk)")
            return key
        raise KeysUnavailableError(
            f"no usable keyring ({self.status().backend}) for the data key; "
            "opt in to a 0600 key file to continue"
        )

    # ------------------------------------------------------------ restore

    def install_keys(
        self, *, hmac_key: bytes, seed: bytes, data_key: bytes, allow_key_file: bool, keep_old_as: str
    ) -> str:
        """Store keys restored from a backup (the keyring if usable, else the opt-in key file); say where.

        A key already stored that differs is kept under ``<keep_old_as>:<entry>`` (a
        keyring entry, or a field of the key file), so the data set aside with it
        stays readable: a restore replaces, it never destroys.

        Raises:
            KeysUnavailableError: no usable keyring and no opt-in, or the store refused.
        """
        new = {"hmac-key": hmac_key, "ed25519-seed": seed, "data-key": data_key}
        if backend_usable(self.backend()):
            for entry, secret in new.items():
                old = self._get(entry)
                if old is not None and old != _b64(secret):
                    self._set(f"{keep_old_as}:{entry}", old)
                self._set(entry, _b64(secret))
            return "keyring"
        if not allow_key_file:
            raise KeysUnavailableError(
                f"no usable keyring ({self.status().backend}) for the restored keys; "
                "opt in to a 0600 key file"
            )
        body = self._read_file_body() if self._key_file.exists() else {}
        fields = {
            entry.replace("-key", "_key").replace("-seed", "_seed"): _b64(v) for entry, v in new.items()
        }
        old_fields = {name: body[name] for name, value in fields.items() if body.get(name, value) != value}
        if old_fields:
            body[keep_old_as] = old_fields
        body.update(fields, version=_KEY_FILE_VERSION)
        write_private_file(self._key_file, json.dumps(body).encode("utf-8"))
        return "key_file"


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` (a file of the app's config folder, or an export) with ``data``, 0600.

    A temp file beside ``path`` is written and fsynced, then renamed over it and
    the folder is fsynced, so a crash leaves the old or the new content, never a
    mix (:func:`~aether_qt.policy.effects.write_own_file`, in ``path``'s own folder).
    """
    write_own_file(path, data, root=path.parent, mode=0o600)


__all__ = [
    "SERVICE",
    "AuditKeys",
    "KeyStatus",
    "KeyStore",
    "KeysUnavailableError",
    "backend_name",
    "backend_usable",
    "install_namespace",
    "write_private_file",
]
