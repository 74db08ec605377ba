"""The assembled policy layer: degraded modes, settings, posture, guard, shutdown."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.backends.null
import pytest
from app_db_support import connect_app_db
from audit_support import app_running, forge_row, tamper
from keyring_support import MemoryKeyring

from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.policy.audit_anchor import AnchorReading
from aether_qt.policy.audit_chain import AuditLog
from aether_qt.policy.audit_home import anchor_store_for, keystore_for, load_home_keys, verify_home
from aether_qt.policy.capabilities import Mode, Preset
from aether_qt.policy.contracts import AuditEntry, AuditWriteError, FakeClock
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask, Deny, DenyReason
from aether_qt.policy.guard import AuditHook, Guard, GuardViolation
from aether_qt.policy.runtime import (
    AUDIT_DOWN,
    SETTING_OVERRIDES,
    SETTING_PRESET,
    SETTING_ROOTS,
    PolicyRuntime,
    UnavailableAudit,
    default_roots,
    logging_guard,
)


@pytest.fixture
def use_backend() -> Iterator[Any]:
    previous = keyring.get_keyring()

    def use(backend: Any) -> Any:
        keyring.set_keyring(backend)
        return backend

    yield use
    keyring.set_keyring(previous)


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return resolve_paths(tmp_path / "home")


def flags(rt: PolicyRuntime) -> list[str]:
    return [f.flag for f in rt.posture()]


def test_keyring_home_is_clean_and_anchored(paths: AppPaths, use_backend: Any) -> None:
    backend = use_backend(MemoryKeyring())
    with PolicyRuntime.open(paths, clock=FakeClock()) as rt:
        assert rt.keys is not None and rt.keys.source == "keyring"
        assert flags(rt) == []
        assert isinstance(rt.gate.evaluate(ActionRequest("notify.send", "hi")), Allow)
    assert any(user.endswith(":audit-anchor") for _, user in backend.entries)
    assert verify_home(paths).status == "intact"
    with PolicyRuntime.open(paths) as again:
        assert again.verify().anchored


def test_a_statement_hook_sees_both_databases(paths: AppPaths, use_backend: Any) -> None:
    use_backend(MemoryKeyring())
    seen: list[tuple[str, str]] = []
    with PolicyRuntime.open(paths, statement_hook=lambda db, sql: seen.append((db, sql))) as rt:
        seen.clear()
        assert isinstance(rt.gate.evaluate(ActionRequest("notify.send", "hi")), Allow)
    names = [db for db, _ in seen]
    assert "aether.db" in names and ("audit.db", "BEGIN IMMEDIATE") in seen
    assert verify_home(paths).status == "intact"


def test_no_keyring_without_opt_in_denies_everything(paths: AppPaths, use_backend: Any) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths) as rt:
        assert rt.keys is None and rt.audit is None and rt.data_key is None
        assert "opt in" in rt.data_error
        assert flags(rt) == ["data_locked"]  # no key for the data, so nothing else can be trusted either
        decision = rt.gate.evaluate(ActionRequest("notify.send", "hi"))
        assert isinstance(decision, Deny) and decision.reason is DenyReason.AUDIT_UNAVAILABLE
        rt.settings.set("ui.theme", "dark")  # lands in the stand-in, never in a new file
    assert not paths.key_file.exists()
    assert not paths.app_db.exists() and not paths.audit_db.exists()


def test_opt_in_key_file_is_remembered_and_flagged(paths: AppPaths, use_backend: Any) -> None:
    use_backend(keyring.backends.null.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        assert flags(rt) == ["keys_on_disk"]
    assert paths.key_file.stat().st_mode & 0o777 == 0o600
    with PolicyRuntime.open(paths) as rt:  # no flag: the opt-in was remembered
        assert rt.allow_key_file and rt.keys is not None
        assert (
            verify_home(paths).reason == "unclosed_session"
        )  # a writer is open: its tail is not vouched yet
    assert verify_home(paths).status == "intact"


def test_unopenable_audit_database_is_a_degraded_mode(paths: AppPaths, use_backend: Any) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True):
        pass
    for suffix in ("", "-wal", "-shm"):
        Path(f"{paths.audit_db}{suffix}").unlink(missing_ok=True)
    paths.audit_db.mkdir()  # a folder where the database should be
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        assert rt.audit is None and rt.audit_error
        assert flags(rt)[0] == "audit_broken"
        assert rt.posture()[0].message.startswith(AUDIT_DOWN)


def test_settings_drive_the_config(paths: AppPaths, use_backend: Any, tmp_path: Path) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        assert rt.preset() is Preset.ASSISTANT
        assert rt.approved_roots() == default_roots()
        rt.settings.set(SETTING_PRESET, "NotAPreset")
        rt.settings.set(SETTING_OVERRIDES, {"files.read": "ask", "files.list": "sometimes"})
        assert rt.preset() is Preset.ASSISTANT
        assert rt.user_overrides() == {"files.read": Mode.ASK}
        revoked = rt.set_preset(Preset.OBSERVER)
        assert revoked == []
        assert rt.preset() is Preset.OBSERVER
        root = tmp_path / "docs"
        root.mkdir()
        rt.set_roots((root,), change_id="chg_roots")
        assert rt.settings.get(SETTING_ROOTS) == [str(root)]
        assert rt.audit is not None
        assert (rt.audit.rows()[-1].reason, rt.audit.rows()[-1].change_id) == ("config_change", "chg_roots")
        rt.set_preset(Preset.OBSERVER, change_id="chg_preset")
        assert (rt.audit.rows()[-1].reason, rt.audit.rows()[-1].change_id) == ("preset_change", "chg_preset")
    with PolicyRuntime.open(paths) as rt:
        assert rt.gate.config.preset is Preset.OBSERVER
        assert rt.gate.config.approved_roots == (root,)
        assert rt.gate.config.user_overrides == {"files.read": Mode.ASK}


def test_pause_and_degraded_gate_show_in_posture(paths: AppPaths, use_backend: Any) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        rt.gate.pause(True)
        assert flags(rt) == ["keys_on_disk", "paused"]
        rt.gate.pause(False)
        assert rt.audit is not None
        paths.anchor_file.unlink(missing_ok=True)
        paths.anchor_file.mkdir()  # the chain's next anchor cannot be written
        rt.audit.checkpoint()
        assert flags(rt)[0] == "audit_broken"
        message = rt.posture()[0].message  # the kind of problem in words, never the exception
        assert message.startswith(AUDIT_DOWN) and "AnchorWriteError" not in message


def test_ledger_is_rebuilt_from_the_audit_log_when_they_differ(paths: AppPaths, use_backend: Any) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        rt.set_roots((paths.data_dir.parent / "docs",))
        rt.gate.evaluate(ActionRequest("files.read", str(paths.data_dir.parent / "docs" / "a.txt")))
        expected = rt.ledger.digest()
    con = connect_app_db(paths)
    con.execute("DELETE FROM grants")
    con.close()
    with PolicyRuntime.open(paths) as rt:
        # the session grant of the last run was ended by the session-start cascade, but it is known again
        assert len(rt.ledger.snapshot()) >= 1
        assert rt.ledger.verify_against(rt.audit.rows() if rt.audit else [])
    assert expected


def test_a_ticket_the_audit_log_says_was_answered_is_closed_at_start(
    paths: AppPaths, use_backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        ask = rt.gate.evaluate(ActionRequest("media.mic", "microphone", actor_persona="aether"))
        assert isinstance(ask, Ask)
        # the ticket's update fails: the answer is audited and its grant stored, as before a crash;
        # the act itself does not run now (the card stays open), the start closes the ticket
        rt.database.execute_sql(
            "CREATE TRIGGER stuck BEFORE UPDATE ON approval_tickets BEGIN SELECT RAISE(ABORT, 'stuck'); END"
        )
        assert isinstance(rt.gate.answer(ask.ticket.ticket_id, ApprovalChoice.ALWAYS_SCOPE), Deny)
        rt.database.execute_sql("DROP TRIGGER stuck")
        assert [t.ticket_id for t in rt.tickets.pending()] == [ask.ticket.ticket_id]
    with PolicyRuntime.open(paths) as rt:
        assert rt.tickets.pending() == []
        assert rt.tickets.get(ask.ticket.ticket_id).choice is ApprovalChoice.ALWAYS_SCOPE
    assert "closed 1 approval ticket(s) the audit log says were answered" in caplog.text


def test_guard_is_installed_once_and_stays_after_close(
    paths: AppPaths, use_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_backend(keyring.backends.fail.Keyring())
    monkeypatch.setattr(sys, "dont_write_bytecode", sys.dont_write_bytecode)  # install() sets it
    hooks: list[AuditHook] = []
    built: list[tuple[Path, ...]] = []

    def make_guard(roots: tuple[Path, ...]) -> Guard:
        built.append(roots)
        return Guard(roots, add_hook=hooks.append, wrap_natives=lambda check, gate: None)

    rt = PolicyRuntime.open(paths, allow_key_file=True)
    guard = rt.install_guard(make_guard=make_guard)
    try:
        assert rt.install_guard(make_guard=make_guard) is guard
        assert guard.enabled
        assert rt.effectors is not None
    finally:
        rt.close()
    assert guard.enabled  # closing the runtime does not switch the guard off
    assert built == [paths.writable_roots]
    assert len(hooks) == 1
    rt.close()  # idempotent


def test_the_apps_guard_logs_what_it_stops(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    guard = logging_guard((tmp_path,))  # built, never installed: its hook could not be removed
    assert not guard.installed
    with pytest.raises(GuardViolation):
        guard.disable()
    assert "the runtime guard stopped guard.disable: the guard cannot be switched off" in caplog.text


def test_a_failed_shutdown_checkpoint_is_logged_not_raised(
    paths: AppPaths, use_backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    use_backend(keyring.backends.fail.Keyring())
    rt = PolicyRuntime.open(paths, allow_key_file=True)
    assert rt.audit is not None

    def broken_close(**_options: Any) -> None:
        raise AuditWriteError("disk full")

    rt.audit.close = broken_close  # type: ignore[method-assign]
    rt.close()
    assert "shutdown checkpoint not written: disk full" in caplog.text


def test_unavailable_audit_sink_refuses_to_write() -> None:
    sink = UnavailableAudit("no keys")
    assert not sink.healthy
    with pytest.raises(AuditWriteError, match="no keys"):
        sink.append(AuditEntry(actor="a", capability="c", resource="r", decision="deny"))


def test_verify_home_without_keys_is_undecidable(paths: AppPaths, use_backend: Any) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True):
        pass
    paths.key_file.unlink()
    report = verify_home(paths)
    assert report.status == "undecidable"


def test_an_unwritable_session_start_is_logged_and_the_gate_still_opens(
    paths: AppPaths, use_backend: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    use_backend(keyring.backends.fail.Keyring())

    def full_disk(self: AuditLog, entry: AuditEntry, **_options: Any) -> Any:
        raise AuditWriteError("database or disk is full")

    monkeypatch.setattr(AuditLog, "append", full_disk)
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        assert "session start not audited: database or disk is full" in caplog.text
        decision = rt.gate.evaluate(ActionRequest("notify.send", "hi"))
        assert isinstance(decision, Deny) and decision.reason is DenyReason.AUDIT_UNAVAILABLE


def test_a_malformed_newest_row_leaves_the_gate_deny_all(paths: AppPaths, use_backend: Any) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True):
        pass
    forge_row(paths.audit_db, event_hash="x")  # a row no writer of the log produces
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        assert rt.audit is None
        assert "audit database unusable: ValueError" in rt.audit_error
        assert flags(rt)[0] == "audit_broken"
        decision = rt.gate.evaluate(ActionRequest("notify.send", "hi"))
        assert isinstance(decision, Deny) and decision.reason is DenyReason.AUDIT_UNAVAILABLE


def remove_db(paths: AppPaths) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{paths.audit_db}{suffix}").unlink(missing_ok=True)


def test_a_missing_log_with_an_anchor_is_refused_until_acknowledged(
    paths: AppPaths, use_backend: Any
) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True):
        pass
    remove_db(paths)
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        assert rt.audit is None and rt.audit_check is not None
        assert rt.audit_check.problem == "missing"
        assert not paths.audit_db.exists()  # never a fresh log over the evidence that there was one
        [broken, *_] = rt.posture()
        assert broken.flag == "audit_broken"
        assert broken.message.endswith(
            "Run `aether audit acknowledge` to start a new epoch. Every action is denied until then."
        )
        decision = rt.gate.evaluate(ActionRequest("notify.send", "hi"))
        assert isinstance(decision, Deny) and decision.reason is DenyReason.AUDIT_UNAVAILABLE
        anchor = rt.anchor()
        assert anchor is not None and anchor.seq > 0
        report = rt.verify()  # without a log of its own to move the anchor first
        assert (report.status, report.reason) == ("tampered", "missing")


def test_a_log_that_fails_its_start_check_is_closed_untouched(paths: AppPaths, use_backend: Any) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True):
        pass
    older = paths.audit_db.read_bytes()
    with PolicyRuntime.open(paths):
        pass
    remove_db(paths)
    paths.audit_db.write_bytes(older)  # an older copy put back
    anchor = paths.anchor_file.read_bytes()
    with PolicyRuntime.open(paths) as rt:
        assert rt.audit is None and rt.audit_check is not None
        assert rt.audit_check.problem == "rollback"
        assert "acknowledge" in rt.audit_error
    assert paths.audit_db.read_bytes() == older  # no session row, no shutdown checkpoint
    assert paths.anchor_file.read_bytes() == anchor  # the anchor is kept as evidence


def test_a_refused_log_gets_no_checkpoint_over_its_edited_rows(paths: AppPaths, use_backend: Any) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True):
        pass
    keys = load_home_keys(paths)
    assert keys is not None
    store = anchor_store_for(paths, keystore_for(paths))
    crashed = AuditLog.open(paths.audit_db, keys=keys, anchor_store=store, clock=FakeClock())
    row = crashed.append(AuditEntry(actor="gate", capability="files.read", resource="/a", decision="allow"))
    crashed.close_without_checkpoint()  # a writer that died before its shutdown checkpoint
    tamper(paths.audit_db, "UPDATE audit_log SET resource = '/b' WHERE seq = ?", (row.seq,))
    before = paths.audit_db.read_bytes()
    with PolicyRuntime.open(paths) as rt:
        assert rt.audit_check is not None and rt.audit_check.problem == "content_hash_mismatch"
    assert paths.audit_db.read_bytes() == before  # nothing signed the edited head


@pytest.mark.parametrize(
    ("sole_writer", "app", "previous"),
    [
        (True, False, {"closed": False, "rows_after_anchor": 1}),  # the app after a crash
        (False, False, {"closed": False, "rows_after_anchor": 1}),  # a command, nobody else running
        (False, True, {"closed": True, "rows_after_anchor": 1}),  # a command beside the running app
        (True, True, {"closed": False, "rows_after_anchor": 1}),  # the app knows it is alone
    ],
)
def test_a_session_start_records_how_the_previous_session_ended(
    paths: AppPaths, use_backend: Any, sole_writer: bool, app: bool, previous: dict[str, Any]
) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True) as earlier:  # its session is open
        assert earlier.audit is not None
        unanchored = AuditEntry(actor="gate", capability="", resource="", decision="deny")
        earlier.audit.append(unanchored)
        with contextlib.ExitStack() as stack:
            if app:
                stack.enter_context(app_running(paths))
            with PolicyRuntime.open(paths, sole_writer=sole_writer) as rt:
                assert rt.audit is not None
                start = rt.audit.rows()[-1]
    assert start.decision == "session_start"
    assert start.detail["previous_session"] == previous


def test_a_clean_previous_session_is_not_mentioned(paths: AppPaths, use_backend: Any) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True):
        pass
    with PolicyRuntime.open(paths, sole_writer=True) as rt:
        assert rt.audit is not None
        start = rt.audit.rows()[-1]
    assert start.decision == "session_start" and "previous_session" not in start.detail


def test_a_runtime_beside_the_running_app_closes_with_the_session_open(
    paths: AppPaths, use_backend: Any
) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True):
        pass
    with app_running(paths), PolicyRuntime.open(paths) as rt:
        assert rt.anchor() is not None
    reading = verify_home(paths, live=False)
    assert reading.reason == "unclosed_session"  # the app's session is still open: its close says so


def test_without_keys_there_is_no_anchor_to_read(paths: AppPaths, use_backend: Any) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True):
        pass
    assert paths.anchor_file.exists()
    paths.key_file.unlink()
    with PolicyRuntime.open(paths) as rt:
        assert rt.keys is None
        assert rt.anchors() == AnchorReading(None)  # nothing to check the copies against
        assert rt.anchor() is None


def test_verify_goes_on_when_the_anchor_cannot_be_moved_first(
    paths: AppPaths, use_backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        paths.anchor_file.unlink()
        paths.anchor_file.mkdir()  # the anchor cannot be written (nor read)
        report = rt.verify()
    assert "anchor not moved before verification: audit anchor not stored" in caplog.text
    assert (report.status, report.reason) == ("tampered", "anchor_invalid")


def test_a_session_whose_rows_fail_verification_closes_without_vouching_for_them(
    paths: AppPaths, use_backend: Any
) -> None:
    """A row forged into the log while the app ran must not be signed over by the shutdown checkpoint."""
    use_backend(keyring.backends.fail.Keyring())
    rt = PolicyRuntime.open(paths, allow_key_file=True)
    assert rt.audit is not None
    rt.gate.evaluate(ActionRequest("notify.send", "hi"))
    checkpoints_before = len(rt.audit.checkpoints())
    forge_row(paths.audit_db, resource="forged while the app ran")  # no HMAC key: the seal is wrong
    rt.close()
    conn = sqlite3.connect(paths.audit_db)
    try:
        checkpoints_after = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
    finally:
        conn.close()
    assert checkpoints_after == checkpoints_before  # nothing signed over the forged row
    keys = load_home_keys(paths, allow_key_file=True)
    assert keys is not None
    anchor = anchor_store_for(paths, keystore_for(paths)).load(public_key=keys.public_key, key_id=keys.key_id)
    assert anchor is not None and anchor.seq < sqlite_max_seq(
        paths.audit_db
    )  # the anchor did not move onto it
    again = PolicyRuntime.open(paths, allow_key_file=True)
    try:
        assert flags(again)[0] == "audit_broken"  # the next start refuses the log
    finally:
        again.close()


def sqlite_max_seq(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT max(seq) FROM audit_log").fetchone()[0])
    finally:
        conn.close()


def test_a_file_name_that_is_not_utf8_is_refused_and_the_chain_stays_sound(
    paths: AppPaths, use_backend: Any
) -> None:
    use_backend(keyring.backends.fail.Keyring())
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        odd = os.fsdecode(os.fsencode(str(paths.data_dir.parent)) + b"/caf\xe9.txt")  # Latin-1 bytes on disk
        decision = rt.gate.evaluate(ActionRequest("files.read", odd))
        assert isinstance(decision, Deny) and decision.reason is DenyReason.NOT_IN_SCOPE
        assert rt.audit is not None and rt.audit.healthy and not rt.gate.degraded
        assert rt.verify().status == "intact"


def test_a_crash_right_after_the_first_row_of_a_new_log_is_an_unclean_end_not_a_rollback(
    paths: AppPaths, use_backend: Any
) -> None:
    """Found by the kill loop: a new home killed between its first audit row and its first anchor
    was refused for good as "cut short"; the new log is anchored before its first row."""
    use_backend(keyring.backends.fail.Keyring())
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child ends itself
        try:
            state = {"insert": False, "commit": False}

            def crash_after_the_first_row(database: str, sql: str) -> None:
                if database != "audit.db":
                    return
                if state["commit"]:
                    os._exit(7)  # the first row is committed, nothing after it has run
                if state["insert"] and sql.lstrip().upper().startswith("COMMIT"):
                    state["commit"] = True
                if "INSERT INTO audit_log" in sql:
                    state["insert"] = True

            PolicyRuntime.open(paths, allow_key_file=True, statement_hook=crash_after_the_first_row)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        assert "audit_broken" not in flags(rt), rt.posture()
        assert isinstance(rt.gate.evaluate(ActionRequest("notify.send", "hi")), Allow)
