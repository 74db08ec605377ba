"""Commands run while the app has the home open: one chain, a healthy app, revocations that count.

The "app" here is a :class:`PolicyRuntime` opened in the test process, as
``run_app`` opens it; the commands are real ``aether`` processes on the same
home. Before the fix a command's audit row took the app's next ``seq``, the
app's append failed on the unique constraint and its gate denied everything;
and a grant revoked from the command line stayed valid in the app until restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import Cli

from aether_qt.core.paths import resolve_paths
from aether_qt.policy.audit_home import verify_home
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask
from aether_qt.policy.runtime import PolicyRuntime


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cli = Cli(home=tmp_path / "home")
    if cli.key_file:
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    return cli.home


def test_commands_in_a_loop_keep_one_chain_and_the_app_healthy(home: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    cli = Cli(home=home)
    cli.run("policy", "roots", "add", str(docs), check=True)
    rt = PolicyRuntime.open(resolve_paths(home), allow_key_file=cli.key_file or None)
    try:
        loops = [
            subprocess.Popen(
                [sys.executable, "-c", LOOP, str(home), str(docs / f"t{n}"), "4", str(int(cli.key_file))],
                env=cli.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(2)
        ]
        for i in range(20):  # the app keeps deciding meanwhile
            assert isinstance(rt.gate.evaluate(ActionRequest("files.read", str(docs / f"app{i}.txt"))), Allow)
        for loop in loops:
            out, err = loop.communicate(timeout=600)
            assert loop.returncode == 0, out + err
            assert "database is locked" not in out + err
            assert [json.loads(line)["decision"] for line in out.splitlines()] == ["allow"] * 4
        assert rt.audit is not None and rt.audit.healthy and not rt.gate.degraded
        assert isinstance(rt.gate.evaluate(ActionRequest("files.read", str(docs / "last.txt"))), Allow)
    finally:
        rt.close()
    report = verify_home(resolve_paths(home), allow_key_file=cli.key_file)
    assert report.intact, report


LOOP = """
import json, subprocess, sys
home, prefix, n, key_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
for i in range(n):
    argv = [sys.executable, "-m", "aether_qt.cli", "--home", home, "policy", "evaluate", "files.read",
            f"{prefix}-{i}.txt", "--json"] + (["--allow-key-file"] if key_file else [])
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode:
        sys.exit(done.stdout + done.stderr)
    print(json.dumps({"decision": json.loads(done.stdout)["decision"]}))
"""


def test_a_grant_revoked_from_the_command_line_ends_in_the_running_app(home: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    cli = Cli(home=home)
    cli.run("policy", "roots", "add", str(docs), check=True)
    rt = PolicyRuntime.open(resolve_paths(home), allow_key_file=cli.key_file or None)
    try:
        asked = rt.gate.evaluate(ActionRequest("files.create", str(docs / "a.txt")))
        assert isinstance(asked, Ask)
        allowed = rt.gate.answer(asked.ticket.ticket_id, ApprovalChoice.ALWAYS_SCOPE)
        assert isinstance(allowed, Allow)
        grant_id = allowed.grant.grant_id
        assert isinstance(rt.gate.evaluate(ActionRequest("files.create", str(docs / "b.txt"))), Allow)
        cli.run("grants", "revoke", grant_id, check=True)
        after = rt.gate.evaluate(ActionRequest("files.create", str(docs / "c.txt")))
        assert isinstance(after, Ask), after  # the app saw the revocation at once
    finally:
        rt.close()
    assert os.path.exists(home / "data" / "audit.db")
