"""``aether audit verify|export|pubkey`` and ``aether doctor`` on real homes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from cli_support import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    c = Cli(home=tmp_path / "home")
    docs = tmp_path / "docs"
    docs.mkdir()
    c.run("policy", "roots", "add", str(docs), check=True)
    for i in range(5):
        c.run("policy", "evaluate", "files.read", str(docs / f"{i}.txt"), check=True)
    return c


def test_untouched_log_verifies_intact_and_anchored(cli: Cli) -> None:
    out = cli.run("audit", "verify", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert (report["status"], report["anchored"], report["exit_code"]) == ("intact", True, 0)
    assert report["rows_checked"] >= 5


def test_edited_row_is_tampered_with_first_bad_seq(cli: Cli) -> None:
    db = cli.home / "data" / "audit.db"
    con = sqlite3.connect(db)
    triggers = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'")]
    for name in triggers:
        con.execute(f"DROP TRIGGER {name}")
    con.execute("UPDATE audit_log SET resource = '/etc/shadow' WHERE seq = 3")
    con.commit()
    con.close()
    out = cli.run("audit", "verify", "--json")
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert (report["first_bad_seq"], report["reason"]) == (3, "content_hash_mismatch")
    human = cli.run("audit", "verify")
    assert "TAMPERED" in human.stdout
    assert "first bad seq: 3" in human.stdout


def test_triggers_refuse_edits_to_the_live_log(cli: Cli) -> None:
    con = sqlite3.connect(cli.home / "data" / "audit.db")
    with pytest.raises(sqlite3.DatabaseError):
        con.execute("DELETE FROM audit_log WHERE seq = 2")
    with pytest.raises(sqlite3.DatabaseError):
        con.execute("UPDATE audit_log SET decision = 'allow' WHERE seq = 2")
    con.close()


def test_export_is_gated_and_verifies_with_the_public_key_only(cli: Cli, tmp_path: Path) -> None:
    outside = cli.run("audit", "export", "--out", str(tmp_path / "bundle.json"))
    assert outside.returncode == 1, "the export path must be inside an approved folder"
    assert "outside_approved_roots" in outside.stderr
    bundle = tmp_path / "docs" / "bundle.json"
    cli.run("audit", "export", "--out", str(bundle), check=True)
    assert bundle.stat().st_mode & 0o777 == 0o600
    pubkey = cli.run("audit", "pubkey", check=True).stdout.strip()
    ok = cli.run("audit", "verify", "--bundle", str(bundle), "--pubkey", pubkey, "--json")
    assert ok.returncode == 0, ok.stdout
    no_key = cli.run("audit", "verify", "--bundle", str(bundle))
    assert no_key.returncode == 2, "without a trusted public key a bundle is undecidable"
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped = tmp_path / "docs" / "flipped.json"
    flipped.write_bytes(bytes(data))
    bad = cli.run("audit", "verify", "--bundle", str(flipped), "--pubkey", pubkey)
    assert bad.returncode == 1
    exists = cli.run("audit", "export", "--out", str(bundle))
    assert exists.returncode == 1
    assert "already exists" in exists.stderr
    # the export itself is in the log, as an approved audit.export
    rows = sqlite3.connect(cli.home / "data" / "audit.db").execute(
        "SELECT capability, decision FROM audit_log WHERE capability = 'audit.export'"
    )
    assert ("audit.export", "allow") in rows.fetchall()


def test_missing_log_is_undecidable(tmp_path: Path) -> None:
    out = Cli(home=tmp_path / "empty").run("audit", "verify")
    assert out.returncode == 2
    assert "no audit log" in out.stderr


def test_doctor_reports_backend_schema_and_audit(cli: Cli) -> None:
    report = cli.json("doctor")
    checks = report["checks"]
    assert checks["schema"]["version"] == checks["schema"]["latest"] >= 2
    assert checks["keyring"]["backend"].startswith("keyring.backends.")
    assert checks["audit"]["status"] == "intact"
    assert checks["paths"]["ok"] is True
    assert set(checks) >= {"python", "paths", "schema", "keyring", "audit", "opengl"}


def test_a_brand_new_home_verifies_intact_and_anchored_from_its_first_row(tmp_path: Path) -> None:
    fresh = Cli(home=tmp_path / "home")
    fresh.run("grants", "list", check=True)  # the first start on this home: one session-start row
    out = fresh.run("audit", "verify", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert (report["status"], report["anchored"], report["rows_checked"]) == ("intact", True, 1)
    assert report["reason"] is None
