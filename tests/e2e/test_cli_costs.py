"""``aether costs [cap|rearm]`` as a new user would run it (real subprocesses, real gate and audit)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(home=tmp_path / "home")


def cost_audit_rows(cli: Cli) -> list[tuple[str, str, str, str]]:
    con = sqlite3.connect(cli.home / "data" / "audit.db")
    try:
        return con.execute(
            "SELECT audit_id, resource, decision, actor FROM audit_log"
            " WHERE capability = 'cost.admin' ORDER BY seq"
        ).fetchall()
    finally:
        con.close()


TRIP = """
import sys
from pathlib import Path
from aether_qt.commands.session import app_database
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.router.cost_ledger import CostLedger
from aether_qt.engines.router.costs import CapReached, Price

with app_database(resolve_paths(Path(sys.argv[1])), allow_key_file=sys.argv[2] == "1") as db:
    ledger = CostLedger(database=db)
    ledger.settle(ledger.reserve("hosted", "gpt-4o", 1000, 1000, Price(2.50, 10.00)), 1000, 1000)
    try:
        ledger.reserve("hosted", "gpt-4o", 1000, 1000, Price(2.50, 10.00))
    except CapReached:
        print("tripped")
"""


def trip_the_cap(cli: Cli) -> None:
    """Spend in another process (as the router would) until the daily cap trips."""
    argv = [sys.executable, "-c", TRIP, str(cli.home), "1" if cli.key_file else "0"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=cli.env(), timeout=120, check=False)
    assert proc.stdout.strip() == "tripped", proc.stderr


def test_costs_shows_the_default_caps_and_an_empty_ledger(cli: Cli) -> None:
    data = cli.json("costs")
    assert (data["daily_cap_usd"], data["monthly_cap_usd"]) == (1.0, 10.0)
    assert data["spent_today_usd"] == 0 and data["entries"] == [] and data["tripped"] is None
    text = cli.run("costs", check=True).stdout
    assert "$0.00 of $1.00" in text and "armed" in text


@pytest.mark.slow
def test_cap_change_is_audited_and_bad_amounts_change_nothing(cli: Cli) -> None:
    changed = cli.json("costs", "cap", "--daily", "0.02", "--monthly", "5")
    assert (changed["daily_cap_usd"], changed["monthly_cap_usd"]) == (0.02, 5.0)
    decided = cost_audit_rows(cli)
    assert (changed["audit_id"], "costs:caps", "allow", "user") in decided
    for bad in (["--daily", "-1"], ["--monthly", "nan"], []):
        proc = cli.run("costs", "cap", *bad)
        assert proc.returncode == 1 and proc.stderr.startswith("aether: "), (bad, proc.stderr)
    assert cost_audit_rows(cli) == decided  # a refused typo is no decision
    after = cli.json("costs")
    assert (after["daily_cap_usd"], after["monthly_cap_usd"]) == (0.02, 5.0)


@pytest.mark.slow
def test_rearm_after_a_trip_is_audited_and_verified(cli: Cli) -> None:
    cli.run("costs", "cap", "--daily", "0.02", check=True)  # one call of 12.5 mUSD fits, two do not
    decided = cost_audit_rows(cli)
    nothing = cli.json("costs", "rearm")
    assert nothing["rearmed"] is False and cost_audit_rows(cli) == decided
    trip_the_cap(cli)
    tripped = cli.json("costs")
    assert tripped["tripped"] is not None and "rearm" in tripped["tripped_reason"]
    assert [e["state"] for e in tripped["entries"]] == ["settled"]
    done = cli.json("costs", "rearm")
    assert done["rearmed"] is True and done["tripped"] is None
    assert (done["audit_id"], "costs:rearm", "allow", "user") in cost_audit_rows(cli)
    verify = cli.run("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
