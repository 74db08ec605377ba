"""An in-process keyring backend for tests (never the user's keyring).

Its priority is 0 on purpose: keyring's chainer ignores backends with a
priority of 0 or less, so merely importing this class (it registers itself
as a subclass of ``KeyringBackend``) never changes the default backend that
the real-keyring tests expect. Tests install it explicitly with
``keyring.set_keyring(MemoryKeyring())`` or pass it to ``KeyStore``.

:func:`no_keyring` and :func:`key_file_runtime` are the "no usable keyring,
keys in the opt-in file" setup most integration and GUI tests share.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors

from aether_qt.core.paths import resolve_paths
from aether_qt.policy.runtime import PolicyRuntime


class MemoryKeyring(keyring.backend.KeyringBackend):
    """Secrets in a dict; ``fail_on`` makes chosen operations raise ``KeyringLocked``.

    ``fail_on`` holds operation names (``get``, ``set``, ``delete``) or
    ``op:entry`` pairs such as ``set:ed25519-seed``.
    """

    priority = 0  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.fail_on: set[str] = set()

    def _maybe_fail(self, op: str, username: str) -> None:
        if op in self.fail_on or f"{op}:{username.rsplit(':', 1)[-1]}" in self.fail_on:
            raise keyring.errors.KeyringLocked("locked")

    def get_password(self, service: str, username: str) -> str | None:
        self._maybe_fail("get", username)
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._maybe_fail("set", username)
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._maybe_fail("delete", username)
        self.entries.pop((service, username), None)


@contextmanager
def no_keyring() -> Iterator[None]:
    """The fail keyring backend for the block: a runtime then needs the opt-in key file."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@contextmanager
def key_file_runtime(home: Path) -> Iterator[PolicyRuntime]:
    """A policy runtime for ``home`` with its keys in the opt-in key file (never the user's keyring)."""
    with no_keyring():
        runtime = PolicyRuntime.open(resolve_paths(home), allow_key_file=True)
        try:
            yield runtime
        finally:
            runtime.close()
