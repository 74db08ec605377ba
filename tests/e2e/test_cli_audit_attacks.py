"""The audit log under attack, through the real ``aether`` command (issue: trust core under attack).

An attacker with the user's file access, between two sessions: deletes
``audit.db``, restores an older copy of it and keeps using the app, plants an
unsigned anchor with a huge seq, plants another installation's anchor, rewrites
a ``grant_issued`` row into a broad persistent grant. In every case the next
session is deny-all and says why ("Audit log replaced or rolled back"),
``aether audit verify`` exits 1 naming the reason, and only ``aether audit
acknowledge`` (itself an audited row) re-arms the gate.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from cli_support import Cli


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    return folder


@pytest.fixture
def cli(tmp_path: Path, docs: Path) -> Cli:
    c = Cli(home=tmp_path / "home")
    c.run("policy", "roots", "add", str(docs), check=True)
    c.run("policy", "evaluate", "files.read", str(docs / "a.txt"), check=True)
    return c


def evaluate(cli: Cli, docs: Path) -> tuple[dict[str, object], str]:
    proc = cli.run("policy", "evaluate", "files.read", str(docs / "b.txt"), "--json")
    return json.loads(proc.stdout), proc.stderr


def assert_deny_all_until_acknowledged(cli: Cli, docs: Path, reason: str) -> None:
    decision, stderr = evaluate(cli, docs)
    assert (decision["decision"], decision["reason"]) == ("deny", "audit_unavailable")
    assert "Audit log replaced or rolled back" in stderr and "aether audit acknowledge" in stderr
    verify = cli.run("audit", "verify", "--json")
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert json.loads(verify.stdout)["reason"] == reason
    ack = cli.run("audit", "acknowledge", "--json")
    assert ack.returncode == 0, ack.stdout + ack.stderr
    done = json.loads(ack.stdout)
    assert done["acknowledged"] and done["epoch"] >= 2
    assert cli.run("audit", "verify").returncode == 0
    decision, _ = evaluate(cli, docs)
    assert decision["decision"] == "allow"
    again = json.loads(cli.run("audit", "acknowledge", "--json").stdout)
    assert not again["acknowledged"]  # nothing left to acknowledge


def epoch_rows(cli: Cli) -> list[dict[str, object]]:
    conn = sqlite3.connect(cli.home / "data" / "audit.db")
    try:
        rows = conn.execute(
            "SELECT detail FROM audit_log WHERE decision = 'audit_epoch' ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()
    return [json.loads(text) for (text,) in rows]


def test_deleting_the_log_is_never_a_fresh_start(cli: Cli, docs: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (cli.home / "data" / f"audit.db{suffix}").unlink(missing_ok=True)
    verify = cli.run("audit", "verify", "--json")
    assert verify.returncode == 1 and json.loads(verify.stdout)["reason"] == "missing"
    decision, stderr = evaluate(cli, docs)
    assert decision["reason"] == "audit_unavailable" and "the audit database is gone" in stderr
    assert not (cli.home / "data" / "audit.db").exists()  # no new empty log over the evidence
    assert_deny_all_until_acknowledged(cli, docs, "missing")
    [epoch] = epoch_rows(cli)
    assert epoch["reason"] == "missing" and epoch["lost"]["through_seq"] >= 2  # type: ignore[index]


def test_an_older_copy_stays_refused_through_five_more_sessions(cli: Cli, docs: Path, tmp_path: Path) -> None:
    db = cli.home / "data" / "audit.db"
    shutil.copy(db, tmp_path / "old.db")
    for i in range(3):
        cli.run("policy", "evaluate", "files.read", str(docs / f"n{i}.txt"), check=True)
    shutil.copy(tmp_path / "old.db", db)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    for _ in range(5):  # the anchor does not move onto the restored history
        decision, _ = evaluate(cli, docs)
        assert decision["reason"] == "audit_unavailable"
        verify = cli.run("audit", "verify", "--json")
        assert verify.returncode == 1 and json.loads(verify.stdout)["reason"] == "rollback"
    assert_deny_all_until_acknowledged(cli, docs, "rollback")
    [epoch] = epoch_rows(cli)
    assert epoch["reason"] == "rollback"


def test_a_planted_unsigned_anchor_with_a_huge_seq(cli: Cli, docs: Path) -> None:
    anchor_file = cli.home / "config" / "audit-anchor.json"
    data = json.loads(anchor_file.read_text())
    anchor_file.write_text(json.dumps({**data, "seq": 10**12, "ckpt_no": 10**9}))
    assert_deny_all_until_acknowledged(cli, docs, "anchor_invalid")


def test_another_installations_anchor(cli: Cli, docs: Path, tmp_path: Path) -> None:
    other = Cli(home=tmp_path / "other")
    other.run("policy", "evaluate", "notify.send", "hi", check=True)
    shutil.copy(other.home / "config" / "audit-anchor.json", cli.home / "config" / "audit-anchor.json")
    assert_deny_all_until_acknowledged(cli, docs, "anchor_invalid")


def test_a_rewritten_grant_row_is_not_honoured(cli: Cli, docs: Path) -> None:
    asked = cli.json("policy", "evaluate", "files.create", str(docs / "plan.txt"))
    assert asked["decision"] == "ask"
    cli.run("approvals", "answer", str(asked["ticket_id"]), "always_scope", check=True)
    conn = sqlite3.connect(cli.home / "data" / "audit.db", isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    seq, detail = conn.execute(
        "SELECT seq, detail FROM audit_log WHERE instr(detail, '\"grant_issued\"') > 0 ORDER BY seq DESC"
    ).fetchone()
    facts = json.loads(detail)
    facts["grant_issued"].update(capability="files.delete", resource_pattern="*", duration="persistent")
    conn.execute("UPDATE audit_log SET detail = ? WHERE seq = ?", (json.dumps(facts), seq))
    conn.close()
    deleted = cli.json("policy", "evaluate", "files.delete", str(docs / "plan.txt"))
    assert deleted["decision"] == "deny" and deleted["reason"] == "audit_unavailable"
    listed = cli.run("grants", "list", "--json")
    assert "files.delete" not in listed.stdout  # the forged grant never reached the ledger
    verify = cli.run("audit", "verify", "--json")
    assert verify.returncode == 1 and json.loads(verify.stdout)["reason"] == "content_hash_mismatch"
