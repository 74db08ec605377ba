"""``aether.db`` at rest, attacked from outside: read it without the key, upgrade an old plaintext home,
crash the upgrade at every step, lose or swap the key.

Homes are built by the real command line (``aether say "remember that …"``), and the
opt-in key file holds the keys so the test can remove or swap the data key the way a
broken keyring would.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import Cli
from keyring_support import no_keyring

from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.policy.app_data import open_app_database
from aether_qt.policy.audit_home import keystore_for
from aether_qt.policy.capabilities import Preset
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.storage.cipher import SQLITE_HEADER, DataKey, connect_keyed

CANARY = "periwinkle-zeppelin-4471"
FACT = f"my locker code is {CANARY}"


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _holding(root: Path, needle: bytes) -> list[str]:
    return [str(p.relative_to(root)) for p in _files(root) if needle in p.read_bytes()]


def _data_key(paths: AppPaths) -> DataKey:
    return keystore_for(paths).load_data_key(encrypted_data_exists=True, allow_key_file=True)


def _decrypt_to_plaintext(paths: AppPaths) -> None:
    """Turn the home back into what the previous release left: a plaintext ``aether.db``, no data key."""
    plain = paths.app_db.with_name("plain.db")
    conn = connect_keyed(paths.app_db, _data_key(paths))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute(f"ATTACH DATABASE '{plain}' AS plain KEY ''")
    conn.execute("SELECT sqlcipher_export('plain')")
    conn.execute("DETACH DATABASE plain")
    conn.close()
    for side in ("-wal", "-shm"):
        paths.app_db.with_name(paths.app_db.name + side).unlink(missing_ok=True)
    os.replace(plain, paths.app_db)
    _set_data_key(paths, None)


def _set_data_key(paths: AppPaths, text: str | None) -> None:
    body = json.loads(paths.key_file.read_text())
    if text is None:
        body.pop("data_key", None)
    else:
        body["data_key"] = text
    paths.key_file.write_text(json.dumps(body))


def _plaintext_dbs(paths: AppPaths) -> list[str]:
    root = paths.data_dir
    return sorted(
        str(p.relative_to(root))
        for p in _files(root)
        if p.read_bytes()[: len(SQLITE_HEADER)] == SQLITE_HEADER
    )


@pytest.fixture(autouse=True)
def _key_file_only() -> Iterator[None]:
    """In this process too the keys are in the opt-in key file, whatever backend an earlier test left."""
    with no_keyring():
        yield


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a remembered fact and two settings (an approved folder, the preset)."""
    root = tmp_path_factory.mktemp("template")
    cli = Cli(root / "home", key_file=True)
    docs = root / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("hello")
    cli.run("say", f"remember that {FACT}", check=True)
    cli.run("policy", "roots", "add", str(docs), check=True)
    cli.run("policy", "preset", "Operator", check=True)
    return root


def _copy(template: Path, tmp_path: Path) -> Cli:
    shutil.copytree(template / "home", tmp_path / "home", symlinks=True)
    return Cli(tmp_path / "home", key_file=True)


def _assert_intact(cli: Cli, docs: Path) -> None:
    """Every memory and setting is there, and the audit chain verifies (checked in this process: fast)."""
    with PolicyRuntime.open(resolve_paths(cli.home), allow_key_file=True) as rt:
        assert not rt.data_error
        texts = [str(r[0]) for r in rt.database.execute_sql("SELECT text FROM memory_items").fetchall()]
        assert texts == [FACT]
        assert rt.preset() is Preset.OPERATOR
        assert docs in rt.approved_roots()
        assert rt.verify().status == "intact"


def test_the_database_is_unreadable_without_the_key_and_holds_no_memory_text(template: Path) -> None:
    paths = resolve_paths(template / "home")
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        sqlite3.connect(paths.app_db).execute("SELECT name FROM sqlite_master").fetchall()
    assert _holding(template / "home", CANARY.encode()) == []
    assert _plaintext_dbs(paths) == ["audit.db"]  # rows of decisions, never memory text


def test_a_plaintext_home_from_the_previous_release_is_encrypted_with_nothing_lost(
    template: Path, tmp_path: Path
) -> None:
    cli = _copy(template, tmp_path)
    paths = resolve_paths(cli.home)
    _decrypt_to_plaintext(paths)
    assert _holding(cli.home, CANARY.encode()) == ["data/aether.db"]  # the attack surface of today

    _assert_intact(cli, template / "docs")

    assert _plaintext_dbs(paths) == ["audit.db"]
    assert _holding(cli.home, CANARY.encode()) == []
    assert not list(paths.data_dir.glob("aether.db.*")), "the plaintext copy is gone"


@pytest.mark.parametrize("step", ["exported", "verified", "set_aside", "swapped"])
def test_a_crash_at_any_step_of_the_upgrade_loses_nothing(template: Path, tmp_path: Path, step: str) -> None:
    cli = _copy(template, tmp_path)
    paths = resolve_paths(cli.home)
    _decrypt_to_plaintext(paths)

    def crash(name: str) -> None:
        if name == step:
            os._exit(7)  # no cleanup, no finally: a kill at this point

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            open_app_database(paths, keystore_for(paths), allow_key_file=True, step=crash)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7

    _assert_intact(cli, template / "docs")
    assert _plaintext_dbs(paths) == ["audit.db"]
    assert not list(paths.data_dir.glob("aether.db.*"))


@pytest.mark.parametrize("damage", ["missing", "wrong"])
def test_a_lost_or_wrong_key_locks_the_data_and_never_replaces_it(
    template: Path, tmp_path: Path, damage: str
) -> None:
    cli = _copy(template, tmp_path)
    paths = resolve_paths(cli.home)
    before = paths.app_db.read_bytes()
    original = json.loads(paths.key_file.read_text())["data_key"]
    other = "A" * 43 + "="  # a well-formed key, not this home's
    _set_data_key(paths, None if damage == "missing" else other)

    listed = cli.run("memory", "list")
    assert listed.returncode != 0
    assert "locked" in listed.stderr and str(paths.app_db) in listed.stderr, listed.stderr
    assert "Traceback" not in listed.stderr
    if damage == "wrong":  # chat still answers, locked: nothing remembered (one case is enough: a model load)
        said = cli.run("say", "remember that my bike is red")
        assert said.returncode == 0 and "locked" in said.stderr and "Traceback" not in said.stderr
    assert paths.app_db.read_bytes() == before, "the locked file is never written"
    assert "data_key" not in json.loads(paths.key_file.read_text()) or damage == "wrong", "no key minted"

    _set_data_key(paths, original)
    _assert_intact(cli, template / "docs")
