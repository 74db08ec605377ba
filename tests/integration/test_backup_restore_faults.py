"""Backup and restore when the environment fails: every refusal says why and leaves the home as it was.

Faults are real (a wrong key, a planted folder where a file goes, a file-size limit
of the process, a keyring that refuses) rather than patched methods.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import shutil
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from backup_support import (
    CHEAP,
    PASSPHRASE,
    backup_of,
    home_state,
    payload_of,
    reseal,
    restore_into,
    seed_home,
    snapshot,
)
from keyring_support import MemoryKeyring, key_file_runtime, no_keyring

from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.policy.audit_anchor import AnchorReading
from aether_qt.policy.audit_home import verify_home
from aether_qt.policy.audit_start import check_connection
from aether_qt.policy.audit_verify import verify_connection
from aether_qt.policy.backup import (
    BackupError,
    app_db_copy,
    audit_copy,
    make_backup,
    persona_files,
    ui_settings,
)
from aether_qt.policy.backup_format import hmac_fingerprint
from aether_qt.policy.decisions import Allow
from aether_qt.policy.restore import finish, install, plan_restore
from aether_qt.policy.restore_bundle import Bundle, RestoreError, discard_staging, read_bundle
from aether_qt.services.gate.user_acts import decide_as_user
from aether_qt.storage.cipher import DataKey, SealedFileError


def _copy(source: Path, tmp_path: Path, name: str = "home") -> Path:
    shutil.copytree(source / "home", tmp_path / name)
    return tmp_path / name


def _read(bundle: Path, paths: AppPaths, name: str = "s") -> Bundle:
    return read_bundle(
        bundle, PASSPHRASE, staging=paths.data_dir / f"{name}.partial", root=paths.data_dir, min_cost=CHEAP
    )


# ---------------------------------------------------------------------- backup
def test_the_copies_refuse_a_wrong_key_a_missing_log_a_foreign_anchor_and_a_log_too_large(
    source: Path, tmp_path: Path
) -> None:
    home = _copy(source, tmp_path)
    paths = resolve_paths(home)
    with (
        pytest.raises(BackupError, match=r"aether\.db could not be copied"),
        app_db_copy(paths, DataKey(b"k" * 32)),
    ):
        pass
    assert not list(paths.backups_dir.glob(".snapshot-*"))
    with key_file_runtime(home) as rt:
        assert rt.keys is not None
        anchor = rt.anchor()
    assert anchor is not None
    with pytest.raises(BackupError, match=r"audit\.db could not be copied"):
        audit_copy(tmp_path / "missing.db", rt.keys, anchor)
    with pytest.raises(BackupError, match="fails its checks"):
        audit_copy(paths.audit_db, rt.keys, dataclasses.replace(anchor, log_id="0" * 32))
    with pytest.raises(BackupError, match="larger than a backup can hold"):
        audit_copy(paths.audit_db, rt.keys, anchor, limit=1024)


def test_persona_and_settings_files_are_bounded_and_odd_entries_left_out(tmp_path: Path) -> None:
    folder = tmp_path / "personas"
    folder.mkdir()
    (folder / "pal.yaml").write_bytes(b"id: pal\n")
    (folder / "notes.txt").write_bytes(b"not a persona")
    (folder / "link.yaml").symlink_to(folder / "pal.yaml")
    (folder / "dir.yaml").mkdir()
    found, skipped = persona_files(folder)
    assert found == {"personas/pal.yaml": b"id: pal\n"} and skipped == ("dir.yaml", "link.yaml", "notes.txt")
    assert persona_files(tmp_path / "none") == ({}, ())
    (folder / "big.yaml").write_bytes(b"x" * (1024 * 1024 + 1))
    with pytest.raises(BackupError, match=r"big\.yaml is larger"):
        persona_files(folder)
    many = tmp_path / "many"
    many.mkdir()
    for number in range(257):
        (many / f"p{number}.yaml").write_bytes(b"id: p\n")
    with pytest.raises(BackupError, match="more than 256"):
        persona_files(many)
    assert ui_settings(tmp_path / "absent.ini") is None
    (tmp_path / "big.ini").write_bytes(b"x" * (1024 * 1024 + 1))
    with pytest.raises(BackupError, match="larger than a backup holds"):
        ui_settings(tmp_path / "big.ini")


def test_a_locked_home_or_one_without_an_anchor_is_not_backed_up(source: Path, tmp_path: Path) -> None:
    home = _copy(source, tmp_path)
    paths = resolve_paths(home)
    out = source / "out" / "never.aether"
    with key_file_runtime(home) as rt:
        decision = decide_as_user(rt.gate, "data.backup", str(out))
        assert isinstance(decision, Allow)
        paths.anchor_file.unlink()  # the anchor moved on the Allow; now it is gone
        with pytest.raises(BackupError, match="no valid anchor"):
            make_backup(rt, decision.permit, out, PASSPHRASE, cost=CHEAP)
    body = json.loads(paths.key_file.read_text())
    del body["data_key"]
    paths.key_file.write_text(json.dumps(body))
    with key_file_runtime(home) as locked:
        assert locked.data_error
        with pytest.raises(BackupError, match="not available"):
            make_backup(locked, decision.permit, out, PASSPHRASE, cost=CHEAP)
    assert not out.exists()


# ---------------------------------------------------------------------- reading
def test_reading_reports_progress_and_refuses_a_staging_folder_that_exists(
    bundle: Path, tmp_path: Path
) -> None:
    paths = resolve_paths(tmp_path / "home").ensure()
    seen: list[tuple[int, int | None]] = []
    read = read_bundle(
        bundle, PASSPHRASE, staging=paths.data_dir / "s.partial", root=paths.data_dir, min_cost=CHEAP,
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert seen and seen[-1][0] == seen[-1][1] == read.manifest.payload_size
    with pytest.raises(RestoreError, match="cannot be made"):
        _read(bundle, paths)
    (read.staging / "stray").write_bytes(b"x")
    discard_staging(read.staging, root=paths.data_dir)  # says so in the log, raises nothing
    assert read.staging.exists()


def test_a_full_disk_while_unpacking_is_an_environment_error_and_leaves_nothing(
    bundle: Path, tmp_path: Path
) -> None:
    paths = resolve_paths(tmp_path / "home").ensure()
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, hard))  # any bigger write fails with EFBIG
    try:
        with pytest.raises(RestoreError, match="could not be unpacked"):
            _read(bundle, paths)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert not list(paths.data_dir.glob("s.partial*"))


def test_a_bundle_whose_data_key_does_not_open_its_database_is_refused(bundle: Path, tmp_path: Path) -> None:
    members, content = payload_of(bundle)
    keys = json.loads(content["keys.json"])
    other = DataKey(b"o" * 32)
    keys["data_key"] = "b29vb29vb29vb29vb29vb29vb29vb29vb29vb29vb28="
    content = {**content, "keys.json": json.dumps(keys, sort_keys=True, separators=(",", ":")).encode()}
    forged = tmp_path / "forged.aether"
    forged.write_bytes(
        reseal(bundle, members, content, lambda d: d["keys"].update(data_key=other.fingerprint()))
    )
    paths = resolve_paths(tmp_path / "home").ensure()
    with pytest.raises(SealedFileError, match="does not open with the bundled data key"):
        _read(forged, paths)
    assert hmac_fingerprint(b"h" * 32) != other.fingerprint()


# ---------------------------------------------------------------------- plan
def test_a_home_behind_the_backup_is_a_replacement_unless_its_log_went_another_way(
    source: Path, tmp_path: Path
) -> None:
    ahead = _copy(source, tmp_path, "ahead")
    behind = tmp_path / "behind"
    shutil.copytree(ahead, behind)  # the same log, then the two go their own ways
    newer = backup_of(ahead, source / "out" / "ahead.aether").path
    paths = resolve_paths(behind)
    with no_keyring():
        read = _read(newer, paths)
        assert not plan_restore(paths, read).rollback  # the backup extends this home's log
        discard_staging(read.staging, root=paths.data_dir)
        with key_file_runtime(behind) as rt:
            rt.gate.pause(True)  # rows of its own: now the histories differ at its anchor
            rt.gate.pause(False)
        read = _read(newer, paths)
        assert plan_restore(paths, read).rollback
        discard_staging(read.staging, root=paths.data_dir)


# ---------------------------------------------------------------------- install and finish
@pytest.fixture
def refusing_keyring() -> Iterator[MemoryKeyring]:
    ring = MemoryKeyring()
    ring.fail_on.add("set")
    previous = keyring.get_keyring()
    keyring.set_keyring(ring)
    try:
        yield ring
    finally:
        keyring.set_keyring(previous)


def test_a_keyring_that_refuses_the_keys_undoes_every_move(
    source: Path, bundle: Path, tmp_path: Path, refusing_keyring: MemoryKeyring
) -> None:
    home = _copy(source, tmp_path)
    paths = resolve_paths(home)
    paths.ui_settings_file.unlink()  # the backup brings one: the undo must remove it again
    before = snapshot(home)
    read = _read(bundle, paths)
    with pytest.raises(RestoreError, match="undone"):
        install(paths, read, staging=read.staging, allow_key_file=True, stamp="u")
    discard_staging(read.staging, root=paths.data_dir)
    assert snapshot(home) == before
    assert not (paths.data_dir / "replaced-u").exists()


def test_a_backup_without_window_settings_removes_the_homes_after_keeping_a_copy(
    source: Path, tmp_path: Path
) -> None:
    plain = _copy(source, tmp_path, "plain")
    resolve_paths(plain).ui_settings_file.unlink()
    without = backup_of(plain, source / "out" / "plain.aether").path
    target = _copy(source, tmp_path, "target")
    restored = restore_into(target, without, stamp="w")
    assert not resolve_paths(target).ui_settings_file.exists()
    assert restored.replaced is not None and (restored.replaced / "config" / "aether-qt.ini").is_file()
    assert home_state(target).ui_settings is None


def test_an_anchor_that_cannot_be_saved_is_said(bundle: Path, tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "home").ensure()
    paths.anchor_file.mkdir()  # something in the way of the anchor file
    with no_keyring():
        read = _read(bundle, paths)
        with pytest.raises(RestoreError, match="anchor was not saved"):
            install(paths, read, staging=read.staging, allow_key_file=True, stamp="a")
    assert verify_home(paths, allow_key_file=True).status != "intact"


def test_finish_says_when_the_restored_home_does_not_open_cleanly(
    source: Path, bundle: Path, tmp_path: Path
) -> None:
    home = _copy(source, tmp_path)
    with key_file_runtime(home):
        pass  # the home's log goes on: the backup is now a rollback
    paths = resolve_paths(home)
    with no_keyring():
        read = _read(bundle, paths)
        plan = plan_restore(paths, read)
        replaced, keys = install(paths, read, staging=read.staging, allow_key_file=True, stamp="f")
        told = dataclasses.replace(plan, rollback=False)  # as if nobody had said it was one
        with pytest.raises(RestoreError, match=r"does not open cleanly.*acknowledge"):
            finish(
                paths, read, told, source=bundle, gate="t", replaced=replaced, keys=keys, allow_key_file=True
            )
        aside = paths.key_file.with_name("aside.json")
        os.replace(paths.key_file, aside)
        with pytest.raises(RestoreError, match="could not be recorded"):
            finish(
                paths, read, plan, source=bundle, gate="t", replaced=replaced, keys=keys, allow_key_file=False
            )
        os.replace(aside, paths.key_file)
        done = finish(
            paths, read, plan, source=bundle, gate="t", replaced=replaced, keys=keys, allow_key_file=True
        )
    assert done.epoch == 2 and verify_home(paths, allow_key_file=True).intact


# ---------------------------------------------------------------------- checks on an open connection
def test_the_connection_checks_answer_for_broken_databases(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    keys_home = tmp_path / "k"
    seed_home(keys_home, folders=(tmp_path / "d",))
    with key_file_runtime(keys_home) as rt:
        assert rt.keys is not None
        keys = rt.keys
    assert check_connection(
        conn, keys=keys, reading=AnchorReading(None, ("planted",)), live=False
    ).problem == ("anchor_invalid")
    assert check_connection(conn, keys=keys, reading=AnchorReading(None), live=False).problem == (
        "content_hash_mismatch"
    )
    report = verify_connection(conn, keys=keys, anchor=None)
    assert report.status == "undecidable" and "cannot read" in report.message
