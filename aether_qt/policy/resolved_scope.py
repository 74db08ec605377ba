"""Credential stores and approved roots, resolved once and reused by many evaluations.

Resolving the ~20 credential-store paths and the approved roots with
``os.path.realpath`` on every request cost more than the signed audit commit
itself. A :class:`ResolvedScope` holds their canonical forms as plain strings
so a check is a couple of ``str.startswith`` calls; :class:`ScopeCache` keeps
one and builds it again when it may be stale.

The freshness rule (also in :mod:`aether_qt.policy.scope`):

* a resolved scope is rebuilt when the configuration changes, and when it is
  older than :data:`MAX_AGE_NS` on the injected monotonic clock. Resolving
  costs about as much as one audited decision, so even a short age costs
  nothing measurable;
* credential stores are matched both by their resolved form and by their
  plain spelling (``home/.ssh``), against both the canonical request and the
  request as written with only ``~`` and ``..`` collapsed. The extra forms
  can only add refusals, never an allowance, so ``~/.ssh/id_rsa`` is refused
  at once even when ``~/.ssh`` became a symlink a moment ago;
* what remains: for up to :data:`MAX_AGE_NS` after a store, an approved root
  or one of their parent folders is swapped for a symlink (or a symlink for a
  folder), a request naming the *new target* directly is judged with the
  old resolution (see docs/threat-model.md, "Known limits").

The request path and hard-link counts are never cached: they are checked on
every evaluation.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aether_qt.policy.contracts import Clock
from aether_qt.policy.scope import (
    CASE_INSENSITIVE,
    ScopeError,
    canonical_path,
    canonical_path_text,
    credential_store_paths,
    has_credential_name,
)

MAX_AGE_NS: Final = 1_000_000_000
"""How long a resolved scope is trusted before it is resolved again (1 s)."""


@dataclass(frozen=True, slots=True)
class _Prefixes:
    """Folders as path keys: ``exact`` names them, ``below`` are their ``key + sep``."""

    exact: frozenset[str]
    below: tuple[str, ...]

    @classmethod
    def of(cls, keys: Iterable[str]) -> _Prefixes:
        unique = frozenset(keys)
        return cls(unique, tuple(sorted(key.rstrip(os.sep) + os.sep for key in unique)))

    def covers(self, key: str) -> bool:
        """True when ``key`` is one of the folders or lies below one."""
        return key in self.exact or key.startswith(self.below)


@dataclass(frozen=True, slots=True)
class ResolvedScope:
    """Credential stores and approved roots as path keys, resolved at ``built_ns``.

    Attributes:
        built_ns: the monotonic time it was resolved at.
        stores: credential stores, both spelled and resolved.
        roots: approved roots, resolved; empty when any root had no canonical form.
        case_insensitive: whether keys are case folded.
    """

    built_ns: int
    stores: _Prefixes
    roots: _Prefixes
    case_insensitive: bool

    def key(self, path: str) -> str:
        """The comparison key of a path string (see :func:`~aether_qt.policy.scope.path_key`)."""
        return path.casefold() if self.case_insensitive else path

    def is_credential_store(self, canonical: str, spelled: str) -> bool:
        """Whether a request is (inside) a credential store.

        Args:
            canonical: the canonical request path (see ``scope.canonical_path``).
            spelled: the request with only ``~`` expanded and ``..`` collapsed.
        """
        if has_credential_name(os.path.basename(canonical)):
            return True
        return self.stores.covers(self.key(canonical)) or self.stores.covers(self.key(spelled))

    def in_roots(self, canonical: str) -> bool:
        """Whether a canonical path lies inside an approved root (links not checked here)."""
        return self.roots.covers(self.key(canonical))

    def fresh(self, now_ns: int) -> bool:
        """Whether it was resolved less than :data:`MAX_AGE_NS` before ``now_ns``."""
        return now_ns - self.built_ns < MAX_AGE_NS


def spelled_path(raw: str | os.PathLike[str]) -> str:
    """``~`` expanded and ``..`` collapsed, symlinks left alone (the path as it was written)."""
    return os.path.normpath(os.path.expanduser(os.fspath(raw)))


def resolve_scope(
    *,
    home: Path | None,
    protected: Iterable[Path],
    roots: Iterable[Path],
    now_ns: int,
    case_insensitive: bool = CASE_INSENSITIVE,
) -> ResolvedScope:
    """Resolve the credential stores under ``home`` plus ``protected``, and the approved ``roots``.

    Args:
        home: the user's home; ``None`` means ``Path.home()``.
        protected: extra folders treated as credential stores.
        roots: the approved roots.
        now_ns: the monotonic now, recorded as ``built_ns``.
        case_insensitive: compare case-folded (defaults to the platform's habit).

    Raises:
        ScopeError: ``home`` has no canonical form.
    """
    home = home or Path.home()
    canon_home = canonical_path(home)
    stores = credential_store_paths(canon_home, protected)
    spelled = [*stores, *credential_store_paths(Path(spelled_path(home)))]
    store_keys = [*(spelled_path(p) for p in spelled), *(canonical_path_text(p) for p in stores)]
    try:
        canon_roots = [canonical_path_text(p) for p in roots]
    except ScopeError:
        canon_roots = []  # one unusable root refuses all, as path_in_roots does

    def fold(text: str) -> str:
        return text.casefold() if case_insensitive else text

    return ResolvedScope(
        built_ns=now_ns,
        stores=_Prefixes.of(fold(k) for k in store_keys),
        roots=_Prefixes.of(fold(k) for k in canon_roots),
        case_insensitive=case_insensitive,
    )


class ScopeCache:
    """One resolved scope, rebuilt when the inputs change or it is no longer fresh.

    Not thread-safe on its own: the gate serialises access with its lock.
    """

    def __init__(self, *, clock: Clock) -> None:
        """Start empty; the first :meth:`get` resolves."""
        self._clock = clock
        self._inputs: tuple[object, ...] | None = None
        self._scope: ResolvedScope | None = None

    def get(
        self, *, home: Path | None, protected: tuple[Path, ...], roots: tuple[Path, ...]
    ) -> ResolvedScope:
        """The resolved scope of these inputs, resolved again if stale (see the module docstring)."""
        now = self._clock.monotonic_ns()
        inputs = (home, protected, roots)
        scope = self._scope
        if scope is None or inputs != self._inputs or not scope.fresh(now):
            scope = resolve_scope(home=home, protected=protected, roots=roots, now_ns=now)
            self._scope, self._inputs = scope, inputs
        return scope
