"""Backup and restore in-process, on real homes: consistency while the log moves on, every byte of the
bundle attacked, a hostile payload sealed with the right passphrase, undo on failure, rollback
(the Hypothesis fuzzing of whole bundles is in ``tests/adversarial/test_fuzz_backup.py``).

The key derivation runs at the cheapest cost (a parameter no command passes); the command-line
tests in ``tests/e2e/test_cli_backup.py`` use the real one.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from backup_support import (
    CHEAP,
    FACT,
    PASSPHRASE,
    backup_of,
    home_state,
    payload_of,
    reseal,
    restore_into,
    seed_home,
    snapshot,
)
from keyring_support import key_file_runtime, no_keyring

from aether_qt.core.paths import resolve_paths
from aether_qt.policy.audit_home import verify_home
from aether_qt.policy.backup import BackupError, make_backup
from aether_qt.policy.backup_format import APP_DB, AUDIT_DB, PayloadReader
from aether_qt.policy.decisions import ActionRequest, Allow
from aether_qt.policy.restore import install, plan_restore
from aether_qt.policy.restore_bundle import RestoreError, discard_staging, read_bundle
from aether_qt.services.gate.user_acts import decide_as_user
from aether_qt.storage.cipher import DataKey, SealedFileError, connect_keyed
from aether_qt.storage.sealed_stream import HEADER_BYTES, SEALED_CHUNK, StreamOpener

Progress = Callable[[int, int | None], None]


def _refused(bundle: Path, home: Path, passphrase: str = PASSPHRASE) -> str:
    """Read ``bundle`` into ``home``'s staging: it must be refused and leave the home as it was."""
    paths = resolve_paths(home).ensure()
    before = snapshot(home)
    with pytest.raises(SealedFileError) as caught:
        read_bundle(
            bundle,
            passphrase,
            staging=paths.data_dir / "restore-x.partial",
            root=paths.data_dir,
            min_cost=CHEAP,
        )
    assert snapshot(home) == before
    assert not list(paths.data_dir.glob("restore-*"))
    return str(caught.value)


def test_a_backup_stays_consistent_while_the_log_moves_on_during_the_write(
    source: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(source / "home", home)
    out = source / "out" / "moving.aether"
    moved: list[int] = []
    with key_file_runtime(home) as writer:

        def append_while_writing(done: int, total: int | None) -> None:
            if not moved:  # the snapshot is taken; the app keeps deciding meanwhile
                for _ in range(20):
                    writer.gate.evaluate(ActionRequest("files.read", str(source / "docs" / "a.txt")))
                assert writer.audit is not None
                moved.append(writer.audit.head().seq)

        done = backup_of(home, out, progress=append_while_writing)
    assert moved and moved[0] > done.manifest.audit.seq
    restored = restore_into(tmp_path / "fresh", out)
    assert restored.replaced is None and restored.epoch == 1
    report = verify_home(resolve_paths(tmp_path / "fresh"), allow_key_file=True)
    assert (report.status, report.anchored) == ("intact", True), report.message
    assert home_state(tmp_path / "fresh").memories == home_state(home).memories


def test_the_bundle_holds_no_plaintext_and_its_manifest_names_every_member(
    source: Path, bundle: Path
) -> None:
    blob = bundle.read_bytes()
    assert FACT.encode() not in blob and b"SQLite format 3" not in blob and b"personas/" not in blob
    with bundle.open("rb") as handle:
        reader = PayloadReader(StreamOpener(handle, PASSPHRASE, min_cost=CHEAP).chunks())
        manifest = reader.manifest()
        found = {m.name: hashlib.sha256(b"".join(data)).hexdigest() for m, data in reader.members()}
    assert set(found) == {
        "keys.json",
        "anchor.json",
        "audit.db",
        "aether.db",
        "config/aether-qt.ini",
        "personas/pal.yaml",
    }
    assert found == {m.name: m.sha256 for m in manifest.members}
    assert FACT.encode() not in manifest.encode()  # the manifest is metadata only


def test_a_restore_over_another_installation_keeps_its_data_and_keys_aside(
    source: Path, bundle: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    seed_home(other, folders=(tmp_path / "elsewhere",))
    old_keys = json.loads(resolve_paths(other).key_file.read_text())
    old_db = resolve_paths(other).app_db.read_bytes()

    restored = restore_into(other, bundle, stamp="s1")

    assert restored.replaced is not None and (restored.replaced / "aether.db").read_bytes() == old_db
    keys = json.loads(resolve_paths(other).key_file.read_text())
    assert keys["replaced-s1"] == {k: old_keys[k] for k in ("hmac_key", "ed25519_seed", "data_key")}
    assert keys["data_key"] != old_keys["data_key"]
    assert home_state(other) == home_state(source / "home")
    assert verify_home(resolve_paths(other), allow_key_file=True).intact


def test_a_backup_older_than_the_home_is_a_rollback_recorded_as_a_new_epoch(
    source: Path, bundle: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(source / "home", home)  # the home went on after its backup (rows, a shutdown)
    with key_file_runtime(home):
        pass
    paths = resolve_paths(home)
    with no_keyring():
        staging = paths.data_dir / "restore-r.partial"
        read = read_bundle(bundle, PASSPHRASE, staging=staging, root=paths.data_dir, min_cost=CHEAP)
        plan = plan_restore(paths, read)
        discard_staging(staging, root=paths.data_dir)
    assert plan.rollback and not plan.fresh and "older than this home's audit log" in plan.summary

    restored = restore_into(home, bundle, stamp="r1")

    assert restored.epoch == 2 and "Acknowledged (rollback)" in restored.acknowledged
    assert verify_home(paths, allow_key_file=True).intact
    with key_file_runtime(home) as rt:
        assert rt.audit is not None
        rows = rt.audit.rows()
    epoch = next(r for r in rows if r.decision == "audit_epoch")
    assert epoch.reason == "rollback" and epoch.detail["cause"]["event"] == "data_restore"
    assert any(r.decision == "data_restore" and r.detail["rollback"] for r in rows)


def _positions(size: int) -> list[int]:
    middle = list(range(HEADER_BYTES, size, max(1, size // 40)))
    return sorted({0, 10, HEADER_BYTES - 1, *middle, HEADER_BYTES + SEALED_CHUNK, size - 20, size - 1})


def test_a_one_byte_change_anywhere_is_refused_and_nothing_is_written(
    source: Path, bundle: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(source / "home", home)
    blob = bundle.read_bytes()
    changed = tmp_path / "changed.aether"
    for position in _positions(len(blob)):
        data = bytearray(blob)
        data[position] ^= 0x20
        changed.write_bytes(bytes(data))
        message = _refused(changed, home)
        assert "changed" in message or "not a sealed" in message or "passphrase" in message, message


def test_a_cut_or_padded_bundle_and_a_wrong_passphrase_are_refused(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    blob = bundle.read_bytes()
    for variant in (blob[: HEADER_BYTES + SEALED_CHUNK], blob[:-1], blob + bytes(SEALED_CHUNK), b""):
        (tmp_path / "v.aether").write_bytes(variant)
        _refused(tmp_path / "v.aether", home)
    assert "wrong passphrase" in _refused(bundle, home, passphrase="correct horse battery stapler")
    assert "cannot be read" in _refused(tmp_path / "missing.aether", home)


def test_a_failed_install_is_undone(source: Path, bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(source / "home", home)
    paths = resolve_paths(home)
    (paths.data_dir / "replaced-clash").mkdir()  # the folder the replaced data should go to is taken
    before = snapshot(home)
    staging = paths.data_dir / "restore-u.partial"
    with no_keyring():
        read = read_bundle(bundle, PASSPHRASE, staging=staging, root=paths.data_dir, min_cost=CHEAP)
        with pytest.raises(RestoreError, match="undone"):
            install(paths, read, staging=staging, allow_key_file=True, stamp="clash")
        discard_staging(staging, root=paths.data_dir)
    assert snapshot(home) == before
    assert verify_home(paths, allow_key_file=True).intact


def test_no_store_for_the_keys_is_refused_before_anything_changes(bundle: Path, tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "fresh").ensure()
    staging = paths.data_dir / "restore-k.partial"
    with no_keyring():
        read = read_bundle(bundle, PASSPHRASE, staging=staging, root=paths.data_dir, min_cost=CHEAP)
        with pytest.raises(RestoreError, match="--allow-key-file"):
            install(paths, read, staging=staging, allow_key_file=False, stamp="k")
        discard_staging(staging, root=paths.data_dir)
    assert (
        not paths.app_db.exists()
        and not paths.key_file.exists()
        and not list(paths.data_dir.glob("restore-*"))
    )


def test_a_check_only_read_writes_no_database_and_leaves_nothing(bundle: Path, tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "home").ensure()
    staging = paths.data_dir / "check.partial"
    read = read_bundle(
        bundle, PASSPHRASE, staging=staging, root=paths.data_dir, keep_db=False, min_cost=CHEAP
    )
    assert not (staging / APP_DB).exists() and (staging / AUDIT_DB).exists()
    discard_staging(staging, root=paths.data_dir)
    assert not staging.exists()
    with pytest.raises(ValueError, match="check only"):
        install(paths, read, staging=staging, allow_key_file=True, stamp="c")


def test_a_home_that_cannot_be_backed_up_says_why(source: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(source / "home", home)
    with key_file_runtime(home) as rt:
        decision = decide_as_user(rt.gate, "data.backup", str(source / "out" / "short.aether"))
        assert isinstance(decision, Allow)
        with pytest.raises(BackupError, match="at least 8"):
            make_backup(rt, decision.permit, source / "out" / "short.aether", "short", cost=CHEAP)
    assert not (source / "out" / "short.aether").exists()


# ---------------------------------------------------------------------- hostile payloads, sealed right
EDITS: dict[str, Callable[[dict], None]] = {
    "none": lambda d: None,
    "head seq": lambda d: d["audit"].update(seq=d["audit"]["seq"] - 1),
    "epoch": lambda d: d["audit"].update(epoch=d["audit"]["epoch"] + 1),
    "key print": lambda d: d["keys"].update(data_key="00000000"),
    "log id": lambda d: d["audit"].update(log_id="0" * 32),
}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("head seq", "does not end where its manifest says"),
        ("epoch", "not the one of its log"),
        ("key print", "not the ones its manifest names"),
        ("log id", "not the one of its log"),
    ],
)
def test_a_manifest_that_does_not_match_what_it_carries_is_refused(
    bundle: Path, tmp_path: Path, edit: str, message: str
) -> None:
    members, content = payload_of(bundle)
    forged = tmp_path / "forged.aether"
    forged.write_bytes(reseal(bundle, members, content, EDITS[edit]))
    assert message in _refused(forged, tmp_path / "home")


def test_a_resealed_untouched_payload_is_accepted(bundle: Path, tmp_path: Path) -> None:
    members, content = payload_of(bundle)
    forged = tmp_path / "same.aether"
    forged.write_bytes(reseal(bundle, members, content, EDITS["none"]))
    paths = resolve_paths(tmp_path / "home").ensure()
    read = read_bundle(
        forged, PASSPHRASE, staging=paths.data_dir / "s.partial", root=paths.data_dir, min_cost=CHEAP
    )
    assert read.staged_db and io.BytesIO(content["keys.json"]).read(1) == b"{"
    discard_staging(read.staging, root=paths.data_dir)


def test_an_edited_audit_row_inside_a_resealed_backup_is_refused_before_anything_changes(
    bundle: Path, tmp_path: Path
) -> None:
    members, content = payload_of(bundle)
    log = tmp_path / "audit.db"
    log.write_bytes(content["audit.db"])
    conn = sqlite3.connect(log)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    for name in names:
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.execute("UPDATE audit_log SET resource = 'somewhere else' WHERE seq = 3")
    conn.commit()
    conn.close()
    content = {**content, "audit.db": log.read_bytes()}
    forged = tmp_path / "forged.aether"
    forged.write_bytes(reseal(bundle, members, content, EDITS["none"]))
    assert "fails verification" in _refused(forged, tmp_path / "home")


def test_an_anchor_changed_inside_a_resealed_backup_is_refused(bundle: Path, tmp_path: Path) -> None:
    members, content = payload_of(bundle)
    anchor = json.loads(content["anchor.json"])
    anchor["seq"] += 1  # vouch for a row further on, keeping the old signature
    content = {**content, "anchor.json": json.dumps(anchor, sort_keys=True, separators=(",", ":")).encode()}
    forged = tmp_path / "forged.aether"
    forged.write_bytes(reseal(bundle, members, content, EDITS["none"]))
    assert "not signed by its key" in _refused(forged, tmp_path / "home")


def test_a_backup_from_a_newer_release_is_refused_before_anything_changes(
    bundle: Path, tmp_path: Path
) -> None:
    members, content = payload_of(bundle)
    key = DataKey(base64.b64decode(json.loads(content["keys.json"])["data_key"]))
    newer = tmp_path / "newer.db"
    newer.write_bytes(content["aether.db"])
    conn = connect_keyed(newer, key)
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at_ms, checksum) VALUES (9999, 'x', 0, 'x')"
    )
    conn.close()
    forged = tmp_path / "forged.aether"
    forged.write_bytes(reseal(bundle, members, {**content, "aether.db": newer.read_bytes()}, EDITS["none"]))
    assert "made by a newer Aether" in _refused(forged, tmp_path / "home")


def test_a_database_without_a_schema_yet_is_accepted_for_the_first_start_to_migrate(
    bundle: Path, tmp_path: Path
) -> None:
    members, content = payload_of(bundle)
    key = DataKey(base64.b64decode(json.loads(content["keys.json"])["data_key"]))
    empty = tmp_path / "empty.db"
    conn = connect_keyed(empty, key)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    forged = tmp_path / "forged.aether"
    forged.write_bytes(reseal(bundle, members, {**content, "aether.db": empty.read_bytes()}, EDITS["none"]))
    paths = resolve_paths(tmp_path / "home").ensure()
    read = read_bundle(
        forged, PASSPHRASE, staging=paths.data_dir / "s.partial", root=paths.data_dir, min_cost=CHEAP
    )
    assert (read.staging / "aether.db").read_bytes() == empty.read_bytes()
    discard_staging(read.staging, root=paths.data_dir)
