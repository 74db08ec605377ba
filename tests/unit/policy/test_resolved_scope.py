"""Tests for aether_qt/policy/resolved_scope.py: cached stores and roots, and their freshness rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from gate_support import make_rig

from aether_qt.policy.contracts import FakeClock
from aether_qt.policy.decisions import ActionRequest, Deny, DenyReason
from aether_qt.policy.evaluator import PolicyConfig
from aether_qt.policy.resolved_scope import MAX_AGE_NS, ScopeCache, resolve_scope, spelled_path
from aether_qt.policy.scope import canonical_path_text

MAX_AGE_S = MAX_AGE_NS / 1e9


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    (path / "keys").mkdir(parents=True)
    return path


def _is_store(scope_home: Path, path: Path, *, roots: tuple[Path, ...] = ()) -> bool:
    scope = resolve_scope(home=scope_home, protected=(), roots=roots, now_ns=0)
    return scope.is_credential_store(canonical_path_text(path), spelled_path(path))


def test_stores_and_names_are_refused(home: Path, tmp_path: Path) -> None:
    app = tmp_path / "config" / "aether"
    scope = resolve_scope(home=home, protected=(app,), roots=(), now_ns=0)
    for path in (home / ".ssh", home / ".ssh" / "notes.txt", tmp_path / "x" / "vault.KDBX", app / "k.json"):
        assert scope.is_credential_store(canonical_path_text(path), spelled_path(path)), path
    assert not scope.is_credential_store(str(home / "notes.txt"), str(home / "notes.txt"))
    assert not scope.is_credential_store(str(home / ".sshx"), str(home / ".sshx"))  # a prefix, not a parent


def test_default_home_is_the_users_home() -> None:
    scope = resolve_scope(home=None, protected=(), roots=(), now_ns=0)
    ssh = str(Path.home() / ".ssh" / "notes.txt")
    assert scope.is_credential_store(canonical_path_text(ssh), spelled_path(ssh))


def test_roots_are_resolved_and_one_bad_root_refuses_all(root: Path, tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(root)
    scope = resolve_scope(home=tmp_path / "home", protected=(), roots=(tmp_path / "link",), now_ns=0)
    assert scope.in_roots(str(root / "a.txt"))
    assert scope.in_roots(str(root))
    assert not scope.in_roots(str(tmp_path / "rootx" / "a"))
    bad = resolve_scope(home=tmp_path / "home", protected=(), roots=(root, Path("relative")), now_ns=0)
    assert not bad.in_roots(str(root / "a.txt"))


def test_case_insensitive_scope_folds(home: Path, root: Path) -> None:
    scope = resolve_scope(home=home, protected=(), roots=(root,), now_ns=0, case_insensitive=True)
    assert scope.in_roots(str(root / "A.TXT").upper())
    upper = str(home / ".SSH" / "ID").upper()
    assert scope.is_credential_store(upper, upper)
    assert scope.key("AbC") == "abc"


def test_store_turned_symlink_later_is_caught_by_spelling_then_by_refresh(home: Path, root: Path) -> None:
    clock = FakeClock()
    cache = ScopeCache(clock=clock)
    inputs = {"home": home, "protected": (), "roots": (root,)}
    before = cache.get(**inputs)
    (home / ".ssh").symlink_to(root / "keys")  # made after the scope was resolved
    spelled, target = home / ".ssh" / "notes.txt", root / "keys" / "notes.txt"
    stale = cache.get(**inputs)
    assert stale is before  # still cached ...
    # ... yet the spelling the user knows is refused at once
    assert stale.is_credential_store(canonical_path_text(spelled), spelled_path(spelled))
    # the target named directly is the documented window (docs/threat-model.md, "Known limits")
    assert not stale.is_credential_store(canonical_path_text(target), spelled_path(target))
    clock.advance(MAX_AGE_S)
    fresh = cache.get(**inputs)
    assert fresh is not before
    assert fresh.is_credential_store(canonical_path_text(target), spelled_path(target))


def test_symlinked_store_replaced_by_a_folder_is_still_refused(home: Path, root: Path) -> None:
    (home / ".gnupg").symlink_to(root / "keys")
    scope = resolve_scope(home=home, protected=(), roots=(root,), now_ns=0)
    (home / ".gnupg").unlink()
    (home / ".gnupg").mkdir()
    path = home / ".gnupg" / "secring.gpg"
    assert scope.is_credential_store(canonical_path_text(path), spelled_path(path))


def test_cache_resolves_again_when_the_inputs_change(home: Path, root: Path, tmp_path: Path) -> None:
    cache = ScopeCache(clock=FakeClock())
    first = cache.get(home=home, protected=(), roots=(root,))
    assert cache.get(home=home, protected=(), roots=(root,)) is first
    other = tmp_path / "other"
    other.mkdir()
    second = cache.get(home=home, protected=(), roots=(other,))
    assert second is not first
    assert second.in_roots(str(other / "a")) and not second.in_roots(str(root / "a"))


def test_gate_catches_a_store_symlinked_into_a_root_after_start(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    home, root = tmp_path / "home", tmp_path / "root"
    (root / "keys").mkdir()
    target = root / "keys" / "notes.txt"
    first = rig.gate.evaluate(ActionRequest("files.read", str(target)))
    assert not isinstance(first, Deny)
    (home / ".ssh").symlink_to(root / "keys")
    by_name = rig.gate.evaluate(ActionRequest("files.read", str(home / ".ssh" / "notes.txt")))
    assert isinstance(by_name, Deny) and by_name.reason is DenyReason.CREDENTIAL_STORE
    rig.clock.advance(MAX_AGE_S)
    by_target = rig.gate.evaluate(ActionRequest("files.read", str(target)))
    assert isinstance(by_target, Deny) and by_target.reason is DenyReason.CREDENTIAL_STORE


def test_gate_uses_new_roots_after_update_config(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    request = ActionRequest("files.read", str(other / "a.txt"))
    denied = rig.gate.evaluate(request)
    assert isinstance(denied, Deny) and denied.reason is DenyReason.OUTSIDE_APPROVED_ROOTS
    rig.gate.update_config(PolicyConfig(approved_roots=(other,), home=tmp_path / "home"))
    assert not isinstance(rig.gate.evaluate(request), Deny)
