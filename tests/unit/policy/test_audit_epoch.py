"""The audited new epoch (aether_qt/policy/audit_epoch.py), on a real home with its keys in the opt-in file.

Each loss is made the way it happens (a deleted, restored, replaced or edited
``audit.db``, a bad anchor copy); after :func:`acknowledge` the next start must
pass, at the new epoch, on a log whose epoch row says what was lost.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from audit_support import tamper
from keyring_support import no_keyring

from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.policy.audit_anchor import Anchor
from aether_qt.policy.audit_epoch import AcknowledgeError, acknowledge
from aether_qt.policy.audit_home import read_anchors, verify_home
from aether_qt.policy.audit_verify import db_checkpoints, open_readonly, verify_log
from aether_qt.policy.canonical import canonical_json
from aether_qt.policy.contracts import AuditRow, FakeClock
from aether_qt.policy.decisions import ActionRequest, Allow
from aether_qt.policy.runtime import PolicyRuntime


def runtime(paths: AppPaths) -> PolicyRuntime:
    return PolicyRuntime.open(paths, allow_key_file=True, clock=FakeClock())


@pytest.fixture
def paths(tmp_path: Path) -> Iterator[AppPaths]:
    """A home that ran one session, with the fail keyring (keys in the opt-in file)."""
    with no_keyring():
        home = resolve_paths(tmp_path / "home")
        with runtime(home):
            pass
        yield home


def anchor_of(paths: AppPaths) -> Anchor:
    anchor = read_anchors(paths, None).anchor
    assert anchor is not None
    return anchor


def stored(db: Path) -> dict[int, str]:
    """seq -> detail text of the rows in ``db`` (read-only)."""
    conn = open_readonly(db)
    try:
        return dict(conn.execute("SELECT seq, detail FROM audit_log"))
    finally:
        conn.close()


def remove_db(paths: AppPaths) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{paths.audit_db}{suffix}").unlink(missing_ok=True)


def set_aside(paths: AppPaths) -> list[Path]:
    """Logs set aside (``audit.db.tampered-<date>-<time>``, without their ``-wal``/``-shm``)."""
    return list(paths.data_dir.glob("audit.db.tampered-????????-??????"))


def lost_from(anchor: Anchor) -> dict[str, Any]:
    return {"log_id": anchor.log_id, "epoch": 1, "through_seq": anchor.seq, "head_hash": anchor.head_hash}


def assert_next_start_passes(paths: AppPaths, done: Any, *, at_seq: int, epoch: int = 2) -> AuditRow:
    """The new epoch is in force: a start passes and the epoch row records ``done.lost``; returns that row."""
    with runtime(paths) as rt:
        assert rt.audit is not None and rt.audit_check is not None and rt.audit_check.ok, rt.audit_error
        assert rt.audit.epoch == done.epoch == epoch
        [row] = [r for r in rt.audit.rows() if r.decision == "audit_epoch" and r.detail["epoch"] == epoch]
    assert row.seq == at_seq and row.actor == "user"
    assert row.detail == done.lost and row.reason == done.lost["reason"]
    assert verify_home(paths, allow_key_file=True).status == "intact"
    return row


def test_a_log_that_extends_its_anchor_has_nothing_to_acknowledge(paths: AppPaths) -> None:
    before = (paths.audit_db.read_bytes(), paths.anchor_file.read_bytes())
    done = acknowledge(paths, allow_key_file=True)
    assert not done.done and done.epoch == 1 and done.lost == {}
    assert done.summary == "The audit log extends its anchor: there is nothing to acknowledge."
    assert (paths.audit_db.read_bytes(), paths.anchor_file.read_bytes()) == before


def test_a_missing_log_starts_afresh_with_the_epoch_row(paths: AppPaths) -> None:
    anchor = anchor_of(paths)
    remove_db(paths)
    done = acknowledge(paths, allow_key_file=True, clock=FakeClock())
    assert done.done and done.epoch == 2
    assert done.lost == {"event": "audit_epoch", "epoch": 2, "reason": "missing", "lost": lost_from(anchor)}
    assert done.summary == (
        f"Acknowledged (missing): epoch 2 begins at row 1; the anchor had vouched for row {anchor.seq} "
        f"of log {anchor.log_id[:8]}."
    )
    vouched = anchor_of(paths)  # the anchor vouches for the new epoch, closed and verified
    assert (vouched.epoch, vouched.seq, vouched.verified_seq, vouched.session_open) == (2, 1, 1, False)
    assert vouched.log_id != anchor.log_id
    assert_next_start_passes(paths, done, at_seq=1)


def test_no_log_and_no_anchor_is_a_new_home_with_nothing_to_acknowledge(paths: AppPaths) -> None:
    remove_db(paths)
    paths.anchor_file.unlink()
    done = acknowledge(paths, allow_key_file=True)
    assert not done.done and done.epoch == 1
    assert not paths.audit_db.exists()


def test_a_second_loss_starts_the_epoch_after_the_anchors(paths: AppPaths) -> None:
    remove_db(paths)
    acknowledge(paths, allow_key_file=True)
    with runtime(paths):
        pass
    anchor = anchor_of(paths)
    assert anchor.epoch == 2
    remove_db(paths)
    done = acknowledge(paths, allow_key_file=True)
    assert done.epoch == 3 and done.lost["lost"] == {**lost_from(anchor), "epoch": 2}
    assert_next_start_passes(paths, done, at_seq=1, epoch=3)


def test_a_loss_under_an_anchor_of_the_first_format_starts_epoch_two(paths: AppPaths) -> None:
    conn = open_readonly(paths.audit_db)
    try:
        log_id = dict(conn.execute("SELECT key, value FROM meta"))["log_id"]
        legacy = max(db_checkpoints(conn, log_id), key=lambda c: c.ckpt_no)
    finally:
        conn.close()
    paths.anchor_file.write_bytes(canonical_json(legacy.to_json()))  # what an earlier release wrote
    assert anchor_of(paths).epoch == 0
    remove_db(paths)
    done = acknowledge(paths, allow_key_file=True)
    assert done.epoch == 2 and done.lost["lost"]["epoch"] == 0
    assert_next_start_passes(paths, done, at_seq=1)


def test_an_older_copy_put_back_is_kept_and_continued(paths: AppPaths) -> None:
    older = Path(shutil.copy(paths.audit_db, paths.data_dir / "older.db"))
    with runtime(paths):  # one more session: the anchor moves past the copy
        pass
    anchor = anchor_of(paths)
    remove_db(paths)
    shutil.copy(older, paths.audit_db)
    done = acknowledge(paths, allow_key_file=True)
    assert done.lost["reason"] == "rollback" and done.lost["lost"] == lost_from(anchor)
    assert "set_aside" not in done.lost
    assert set_aside(paths) == []
    assert_next_start_passes(paths, done, at_seq=len(stored(older)) + 1)  # the older rows stay


def test_an_invalid_anchor_copy_is_recorded_and_replaced(paths: AppPaths) -> None:
    kept = len(stored(paths.audit_db))
    paths.anchor_file.write_text("{}", encoding="utf-8")
    done = acknowledge(paths, allow_key_file=True)
    assert done.lost == {
        "event": "audit_epoch",
        "epoch": 2,
        "reason": "anchor_invalid",
        "lost": {},  # no valid anchor said anything
        "invalid_anchors": ["the anchor file is malformed"],
    }
    assert done.summary == f"Acknowledged (anchor_invalid): epoch 2 begins at row {kept + 1}."
    assert_next_start_passes(paths, done, at_seq=kept + 1)


def test_an_edited_log_is_set_aside_and_a_new_log_begins(paths: AppPaths) -> None:
    with runtime(paths) as rt:
        docs = paths.data_dir.parent / "docs"
        docs.mkdir()
        rt.set_roots((docs,))
        assert isinstance(rt.gate.evaluate(ActionRequest("files.read", str(docs / "a.txt"))), Allow)
    anchor = anchor_of(paths)
    widened = ('"duration":"session"', '"duration":"persistent"')  # a session grant turned persistent
    tamper(paths.audit_db, "UPDATE audit_log SET detail = replace(detail, ?, ?)", widened)
    edited = [seq for seq, detail in stored(paths.audit_db).items() if '"duration":"persistent"' in detail]
    done = acknowledge(paths, allow_key_file=True)
    assert done.lost["reason"] == "content_hash_mismatch" and done.lost["lost"] == lost_from(anchor)
    [moved] = set_aside(paths)
    assert done.lost["set_aside"] == {
        "file": moved.name,
        "first_bad_seq": edited[0],
        "reason": "content_hash_mismatch",
    }
    assert verify_log(moved, keys=None, anchor=None).first_bad_seq == edited[0]  # the evidence, unchanged
    assert_next_start_passes(paths, done, at_seq=1)


def test_another_installations_log_is_set_aside(paths: AppPaths, tmp_path: Path) -> None:
    other = resolve_paths(tmp_path / "other")
    with runtime(other):
        pass
    remove_db(paths)
    shutil.copy(other.audit_db, paths.audit_db)
    done = acknowledge(paths, allow_key_file=True)
    assert done.lost["reason"] == "replaced"
    assert done.lost["set_aside"]["reason"] == "key_mismatch"  # our keys cannot continue it
    assert len(set_aside(paths)) == 1
    assert_next_start_passes(paths, done, at_seq=1)


def test_without_keys_nothing_is_acknowledged(paths: AppPaths) -> None:
    remove_db(paths)
    paths.key_file.unlink()
    with pytest.raises(AcknowledgeError, match="the audit keys are not available"):
        acknowledge(paths, allow_key_file=True)
    assert not paths.audit_db.exists()


def test_a_log_that_cannot_be_opened_is_an_acknowledge_error(paths: AppPaths) -> None:
    remove_db(paths)
    paths.audit_db.mkdir()  # a folder where the database should be
    with pytest.raises(AcknowledgeError, match="audit database unusable"):
        acknowledge(paths, allow_key_file=True)


def test_a_log_that_still_fails_verification_is_not_anchored(paths: AppPaths) -> None:
    paths.anchor_file.unlink()
    tamper(paths.audit_db, "DELETE FROM meta WHERE key = 'key_id'")  # the verifier cannot read it
    with pytest.raises(AcknowledgeError, match="the log still fails verification: cannot read: KeyError"):
        acknowledge(paths, allow_key_file=True)
    assert not paths.anchor_file.exists()
