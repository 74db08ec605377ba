"""The policy gate from the command line, as a new user would drive it (real subprocesses)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cli_support import FAIL_BACKEND, REAL_KEYRING, Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(home=tmp_path / "home")


@pytest.fixture
def docs(cli: Cli, tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "notes.txt").write_text("hello\n")
    cli.run("policy", "roots", "add", str(root), check=True)
    return root


def audit_rows(cli: Cli) -> list[tuple[int, str, str, str, str]]:
    con = sqlite3.connect(cli.home / "data" / "audit.db")
    try:
        return con.execute(
            "SELECT seq, audit_id, capability, decision, reason FROM audit_log ORDER BY seq"
        ).fetchall()
    finally:
        con.close()


def test_read_inside_an_approved_root_is_allowed_and_audited(cli: Cli, docs: Path) -> None:
    out = cli.json("policy", "evaluate", "files.read", str(docs / "notes.txt"))
    assert out["decision"] == "allow"
    assert [s["stage"] for s in out["trace"]][-1] == "5.grant"
    ids = {row[1]: row for row in audit_rows(cli)}
    assert ids[out["audit_id"]][2:4] == ("files.read", "allow")
    explained = cli.json("policy", "explain", out["audit_id"])
    assert explained["capability"] == "files.read"
    assert explained["resource"] == str(docs / "notes.txt")
    assert [s["stage"] for s in explained["stage_trace"]] == [s["stage"] for s in out["trace"]]


def test_relative_paths_are_made_absolute_from_the_working_folder(cli: Cli, docs: Path) -> None:
    out = cli.json("policy", "evaluate", "files.read", "notes.txt", cwd=docs)
    assert out["decision"] == "allow"
    assert out["resource"] == str(docs / "notes.txt")


def test_path_outside_roots_and_credential_stores_are_hard_blocks(
    cli: Cli, docs: Path, tmp_path: Path
) -> None:
    outside = cli.json("policy", "evaluate", "files.read", str(tmp_path / "elsewhere.txt"))
    assert (outside["decision"], outside["reason"]) == ("deny", "outside_approved_roots")
    escape = cli.json("policy", "evaluate", "files.read", str(docs / ".." / "elsewhere.txt"))
    assert (escape["decision"], escape["reason"]) == ("deny", "outside_approved_roots")
    key = cli.json("policy", "evaluate", "files.read", str(docs / "id_rsa"))
    assert (key["decision"], key["reason"]) == ("deny", "credential_store")


def test_shell_is_denied_in_the_default_preset(cli: Cli) -> None:
    out = cli.json("policy", "evaluate", "shell.exec", "ls -la")
    assert out["decision"] == "deny"
    assert out["reason"] == "shell_in_consumer_preset"
    assert audit_rows(cli)[-1][3] == "deny"


def test_ask_ticket_answer_once_then_refuse_a_second_answer(cli: Cli, docs: Path) -> None:
    ask = cli.json("policy", "evaluate", "files.create", str(docs / "new.txt"))
    assert ask["decision"] == "ask"
    pending = cli.json("approvals", "list")
    assert [t["ticket_id"] for t in pending] == [ask["ticket_id"]]
    answer = cli.json("approvals", "answer", ask["ticket_id"], "allow_once")
    assert answer["decision"] == "allow"
    assert answer["duration"] == "once"
    assert cli.json("approvals", "list") == []
    again = cli.run("approvals", "answer", ask["ticket_id"], "deny")
    assert again.returncode == 1
    assert "already answered" in again.stderr


def test_deny_answer_is_audited_as_user_denied(cli: Cli, docs: Path) -> None:
    ask = cli.json("policy", "evaluate", "files.delete", str(docs / "notes.txt"))
    assert (ask["decision"], ask["risk"]) == ("ask", "high")
    out = cli.json("approvals", "answer", ask["ticket_id"], "deny")
    assert (out["decision"], out["reason"]) == ("deny", "user_denied")
    assert (docs / "notes.txt").exists()


def test_always_scope_grant_is_listed_used_and_revoked(cli: Cli, docs: Path) -> None:
    ask = cli.json("policy", "evaluate", "files.create", str(docs / "a.txt"))
    cli.json("approvals", "answer", ask["ticket_id"], "always_scope")
    grants = cli.json("grants", "list")
    assert len(grants) == 1
    grant = grants[0]
    assert grant["duration"] == "persistent"
    assert grant["pattern"] == f"{docs}/**"
    # the persistent grant covers another file in the folder, in a new process
    later = cli.json("policy", "evaluate", "files.create", str(docs / "b.txt"))
    assert (later["decision"], later["grant_id"]) == ("allow", grant["grant_id"])
    first = cli.run("grants", "revoke", grant["grant_id"], check=True)
    assert "revoked" in first.stdout
    second = cli.run("grants", "revoke", grant["grant_id"], check=True)
    assert "already revoked" in second.stdout
    assert cli.json("grants", "list") == []
    after = cli.json("policy", "evaluate", "files.create", str(docs / "c.txt"))
    assert after["decision"] == "ask"
    unknown = cli.run("grants", "revoke", "grt_nope")
    assert unknown.returncode == 1


def test_revoke_all_is_one_audited_cascade(cli: Cli, docs: Path) -> None:
    for name in ("a", "b"):
        ask = cli.json("policy", "evaluate", "files.create", str(docs / name / "x.txt"))
        cli.json("approvals", "answer", ask["ticket_id"], "always_scope")
    assert len(cli.json("grants", "list")) == 2
    out = cli.run("grants", "revoke-all", check=True)
    assert "revoked 2 grant(s)" in out.stdout
    assert cli.json("grants", "list") == []
    assert any(row[3] == "cascade" and row[4] == "emergency" for row in audit_rows(cli))


def test_preset_switch_narrows_and_is_remembered(cli: Cli) -> None:
    assert cli.json("policy", "preset")["preset"] == "Assistant"
    assert cli.json("policy", "evaluate", "memory.write.durable", "sister")["decision"] == "allow"
    switched = cli.json("policy", "preset", "observer")
    assert switched["preset"] == "Observer"
    assert switched["matrix"]["memory.write.durable"] == "draft"
    assert cli.json("policy", "evaluate", "memory.write.durable", "sister")["decision"] == "draft"
    bad = cli.run("policy", "preset", "Root")
    assert bad.returncode == 1
    assert "unknown preset" in bad.stderr
    assert cli.json("policy", "preset")["preset"] == "Observer"


def change_ids(cli: Cli, decision: str) -> list[tuple[str, str]]:
    """(reason, change id) of the audit rows of ``decision`` (``grant_revoked``, ``cascade``), in order."""
    con = sqlite3.connect(cli.home / "data" / "audit.db")
    try:
        rows = con.execute(
            "SELECT reason, change_id FROM audit_log WHERE decision = ? ORDER BY seq", (decision,)
        )
        return rows.fetchall()
    finally:
        con.close()


def test_policy_changes_go_through_the_gate_adapter_with_a_change_id(cli: Cli, docs: Path) -> None:
    ask = cli.json("policy", "evaluate", "files.create", str(docs / "a.txt"))
    cli.json("approvals", "answer", ask["ticket_id"], "always_scope")
    (grant,) = cli.json("grants", "list")
    cli.run("grants", "revoke", grant["grant_id"], check=True)
    cli.run("grants", "revoke-all", check=True)
    cli.json("policy", "preset", "operator")
    cli.run("policy", "roots", "remove", str(docs), check=True)
    ((_, revoked),) = change_ids(cli, "grant_revoked")
    cascades = dict(change_ids(cli, "cascade"))  # the last row of each cause
    changes = [revoked, cascades["emergency"], cascades["preset_change"], cascades["config_change"]]
    assert all(change.startswith("chg_") for change in changes), changes
    assert len(set(changes)) == 4  # one change each


def test_unknown_capability_is_a_clear_error(cli: Cli) -> None:
    out = cli.run("policy", "evaluate", "files.explode", "/x")
    assert out.returncode == 1
    assert "unknown capability 'files.explode'" in out.stderr


def test_home_option_works_before_and_after_the_sub_command(cli: Cli, tmp_path: Path) -> None:
    import subprocess
    import sys

    other = tmp_path / "other"
    argv = [sys.executable, "-m", "aether_qt.cli", "grants", "list", "--home", str(other)]
    if cli.key_file:
        argv.append("--allow-key-file")
    proc = subprocess.run(argv, capture_output=True, text=True, env=cli.env(), check=False)
    assert proc.returncode == 0, proc.stderr
    assert (other / "data" / "aether.db").exists()


def test_corrupt_database_is_named_and_exit_code_2(cli: Cli) -> None:
    cli.run("grants", "list", check=True)
    db = cli.home / "data" / "aether.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not sqlite" * 300)
    out = cli.run("grants", "list")
    assert out.returncode == 2
    assert str(db) in out.stderr
    assert "Traceback" not in out.stderr


def test_without_keys_every_side_effect_is_denied_and_no_key_is_minted(tmp_path: Path) -> None:
    cli = Cli(home=tmp_path / "home", key_file=True)
    cli.run("grants", "list", check=True)  # creates the log and its keys in the opt-in key file
    key_file = cli.home / "config" / "keys-on-disk.json"
    before = key_file.read_bytes()
    key_file.unlink()  # the keys are gone; the log stays
    degraded = Cli(home=cli.home, key_file=False)
    env = degraded.env(PYTHON_KEYRING_BACKEND=FAIL_BACKEND)
    out = degraded.run("policy", "evaluate", "notify.send", "hello", "--json", env=env)
    assert out.returncode == 2 and "locked" in out.stderr  # the data key went with the file
    assert "Traceback" not in out.stderr and out.stdout == ""
    assert not key_file.exists(), "a new key must never be minted over an existing log or database"
    verify = degraded.run("audit", "verify", env=env)
    assert verify.returncode == 2
    assert before  # the original key file was real


@pytest.mark.skipif(not REAL_KEYRING, reason="needs the gnome-keyring of make test")
def test_real_secret_service_holds_the_keys(cli: Cli) -> None:
    cli.run("grants", "list", check=True)
    doctor = cli.json("doctor")
    assert doctor["checks"]["keyring"]["backend"] == "keyring.backends.SecretService.Keyring"
    assert doctor["checks"]["keyring"]["on_disk"] is False
    assert doctor["checks"]["encryption"]["ok"] is True
    assert "in the keyring" in doctor["checks"]["encryption"]["detail"]
    assert not (cli.home / "config" / "keys-on-disk.json").exists()
    assert cli.run("audit", "verify").returncode == 0
