"""A crash right after a new audit log was created, before its first anchor, never bricks the home.

Found by the kill loop (tests/adversarial/test_app_db_sigkill.py, seed 4134297827): the
first start was killed between creating the empty log and anchoring it; the next start
opened the empty, unanchored log without anchoring it, appended its session row, and a
second kill left "1 row but no anchor": refused for good as a log cut short.
"""

from __future__ import annotations

from pathlib import Path

from keyring_support import key_file_runtime, no_keyring

from aether_qt.core.paths import resolve_paths
from aether_qt.policy.audit_chain import AuditLog
from aether_qt.policy.runtime import PolicyRuntime


def test_an_empty_unanchored_log_is_anchored_at_the_next_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with key_file_runtime(home) as rt:  # keys in the opt-in file
        keys, store, clock = rt.keys, rt.anchor_store, rt.clock
    assert keys is not None
    paths = resolve_paths(home)
    paths.audit_db.unlink()  # the first start, killed after creating the log and before its anchor:
    for extra in paths.audit_db.parent.glob(paths.audit_db.name + "-*"):
        extra.unlink()
    paths.anchor_file.unlink()
    empty = AuditLog.open(paths.audit_db, keys=keys, anchor_store=store, clock=clock)
    empty.close_without_checkpoint()

    anchored_at_first_row: list[bool] = []

    def watch(database: str, sql: str) -> None:  # before each statement: is there an anchor yet?
        first = not anchored_at_first_row
        if (
            first
            and database == paths.audit_db.name
            and sql.lstrip().upper().startswith("INSERT INTO AUDIT_LOG")
        ):
            reading = store.read(public_key=keys.public_key, key_id=keys.key_id)
            anchored_at_first_row.append(reading.anchor is not None)

    with no_keyring():
        second = PolicyRuntime.open(paths, allow_key_file=True, statement_hook=watch)
        second.close()
    # a kill between the first row and its anchor must find an anchor already there
    assert anchored_at_first_row == [True]
