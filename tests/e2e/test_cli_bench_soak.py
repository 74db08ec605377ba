"""``aether bench soak``: one short soak of the real app, checked for what it did, not how fast.

Ten turns are one whole cycle, so every kind of turn runs once: chat, a
greeting, remember, recall, a write approved on its card, forget and a persona
swap. The JSON must have its measurements; the behaviour is then checked from
outside the soak where it can be: the approved file on disk, the forgotten fact
gone from ``aether memory show``, the swap, the approval and the memory changes
in the audit log, whose chain verifies; and the home's own persona and approved
folders are back as they were (``--home`` is the user's home).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import Cli
from keyring_support import key_file_runtime

pytestmark = pytest.mark.slow  # the app starts, loads the model and the embedder, and answers 10 turns

KINDS = {"chat", "greeting", "remember", "recall", "write", "forget", "persona"}
SAMPLE_KEYS = {"turn", "rss_mb", "threads", "fds", "aether_db_kb", "audit_db_kb"}


def test_a_short_soak_runs_every_kind_of_turn_in_the_real_app(tmp_path: Path) -> None:
    cli = Cli(home=tmp_path / "home", key_file=True)  # keys in the opt-in file: checkable from this process
    proc = cli.run("bench", "soak", "--turns", "10", "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)

    assert result["error"] == "" and result["exit_code"] == 0
    done = (result["turns_planned"], result["turns_done"], result["turns_ok"])
    assert done == (10, 10, 10), result["records"]
    assert set(result["kinds"]) == KINDS
    assert all(k["count"] >= 1 and k["ok"] == k["count"] for k in result["kinds"].values()), result["kinds"]
    assert [s["turn"] for s in result["samples"]] == [0, 10]
    for sample in result["samples"]:
        assert set(sample) == SAMPLE_KEYS
        assert sample["rss_mb"] > 0 and sample["threads"] > 1 and sample["fds"] > 2
        assert sample["aether_db_kb"] > 0 and sample["audit_db_kb"] > 0
    for key in ("rss_growth_mb", "threads_delta", "fds_delta", "p95_first_ms", "p95_last_ms"):
        assert isinstance(result[key], (int, float)), key
    assert isinstance(result["p95_drift_pct"], (int, float))
    assert result["pid"] > 0 and result["home"] == str(cli.home)
    assert {row[0] for row in result["table"]} >= {"p95 drift %", "RSS growth MB (from turn 0)"}
    records = {r["kind"]: r for r in result["records"]}
    assert "recalled=True" in records["recall"]["detail"], records["recall"]
    assert records["persona"]["detail"] == "soak-pip"

    approved = cli.home / "soak-docs" / "soak-0005.txt"
    assert approved.read_text(encoding="utf-8") == "soak note 5"
    fact_id = records["remember"]["detail"]  # the item the remember turn added, then forgot
    assert fact_id and fact_id in records["forget"]["detail"].split(",")
    gone = cli.run("memory", "show", fact_id)
    assert gone.returncode == 1 and f"no memory with id {fact_id}" in gone.stderr, gone.stderr

    with key_file_runtime(cli.home) as runtime:
        assert runtime.audit is not None
        rows = runtime.audit.rows()
        swaps = [(r.detail["from"], r.detail["to"]) for r in rows if r.detail.get("event") == "persona_swap"]
        assert ("soak-aether", "soak-pip") in swaps
        answered = [r for r in rows if r.detail.get("event") == "ticket_answered"]
        assert [(r.capability, r.decision) for r in answered] == [("files.create", "allow")]
        allowed = {r.capability for r in rows if r.decision == "allow"}
        assert {"memory.write.durable", "memory.delete", "memory.read"} <= allowed
        assert cli.home / "soak-docs" not in runtime.approved_roots()  # the home's folders are put back
    active = json.loads(cli.run("persona", "list", "--json", check=True).stdout)["active"]
    assert active == "aether"
    assert cli.run("audit", "verify", check=True).returncode == 0
