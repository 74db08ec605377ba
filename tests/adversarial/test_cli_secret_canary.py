"""Secrets never leave the key store: grep every byte the CLI wrote or printed for them.

The audit keys of a key-file home are read back (raw, hex, base64) and searched
for in every file of the home except the key file itself (databases, WAL,
anchor, backups, exported bundle) and in every command's stdout and stderr,
including the output of failing commands.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from cli_support import Cli


def _forms(secret: bytes) -> list[bytes]:
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


def test_audit_keys_appear_nowhere_but_the_key_file(tmp_path: Path) -> None:
    cli = Cli(home=tmp_path / "home", key_file=True)
    docs = tmp_path / "docs"
    docs.mkdir()
    outputs: list[str] = []

    def run(*args: str) -> None:
        proc = cli.run(*args)
        outputs.extend([proc.stdout, proc.stderr])

    run("policy", "roots", "add", str(docs))
    run("policy", "evaluate", "files.read", str(docs / "a.txt"))
    run("policy", "evaluate", "shell.exec", "cat ~/.ssh/id_rsa")
    run("policy", "evaluate", "files.create", str(docs / "b.txt"))
    run("approvals", "list")
    run("grants", "list")
    run("policy", "explain", "aud_does_not_exist")
    run("audit", "export", "--out", str(docs / "bundle.json"))
    run("audit", "verify")
    run("doctor")
    run("bench", "policy", "--help")

    key_file = cli.home / "config" / "keys-on-disk.json"
    body = json.loads(key_file.read_text())
    secrets = [base64.b64decode(body["hmac_key"]), base64.b64decode(body["ed25519_seed"])]
    needles = [form for secret in secrets for form in _forms(secret)]

    scanned = 0
    for path in [*cli.home.rglob("*"), *docs.rglob("*")]:
        if not path.is_file() or path == key_file:
            continue
        data = path.read_bytes()
        scanned += 1
        for needle in needles:
            assert needle not in data, f"a key leaked into {path}"
    assert scanned >= 4  # aether.db, audit.db, anchor, bundle at least
    printed = "\n".join(outputs).encode()
    assert printed.strip(), "the commands printed nothing: the scan would prove nothing"
    for needle in needles:
        assert needle not in printed, "a key leaked into command output"


def test_url_and_command_line_secrets_never_reach_the_audit(tmp_path: Path) -> None:
    """Query tokens, user-info passwords and ``--token`` values are stored as keyed hashes.

    Only the approval tickets in ``aether.db`` keep the real request (an answer must
    act on it); every other file of the home is searched, and so is stderr.
    """
    cli = Cli(home=tmp_path / "home", key_file=True)
    canaries = {
        "query": "QueryCanary7f3a9e",
        "userinfo": "UserinfoCanary41c2",
        "token": "TokenCanary9d8e7f",
        "fragment": "FragmentCanary5b6a",
    }
    url = f"https://api.example.com/v1/items?api_token={canaries['query']}&page=2#{canaries['fragment']}"
    stderr: list[str] = []

    def evaluate(capability: str, resource: str) -> dict[str, object]:
        proc = cli.run("policy", "evaluate", capability, resource, "--json")
        stderr.append(proc.stderr)
        assert proc.returncode == 0, proc.stderr
        result: dict[str, object] = json.loads(proc.stdout)
        return result

    ask = evaluate("net.fetch", url)
    assert ask["decision"] == "ask"
    answered = cli.run("approvals", "answer", str(ask["ticket_id"]), "always_scope", "--scope", url)
    assert answered.returncode == 0, answered.stderr
    # a later process decides on the real URL and still finds the grant stored under its redacted form
    assert evaluate("net.fetch", url)["decision"] == "allow"
    assert evaluate("net.fetch", url.replace(canaries["query"], "another"))["decision"] == "ask"
    assert (
        evaluate("browser.open", f"https://alice:{canaries['userinfo']}@example.com/")["decision"] == "deny"
    )
    assert evaluate("shell.exec", f"deploy --token {canaries['token']} --region eu")["decision"] == "deny"
    grants = cli.run("grants", "list")
    stderr.append(grants.stderr)

    own_tickets = {"aether.db", "aether.db-wal", "aether.db-shm"}
    scanned = []
    for path in cli.home.rglob("*"):
        if not path.is_file() or path.name in own_tickets or "backups" in path.parts:
            continue
        data = path.read_bytes()
        scanned.append(path.name)
        for what, canary in canaries.items():
            assert canary.encode() not in data, f"the {what} secret leaked into {path}"
    assert "audit.db" in scanned and "audit-anchor.json" in scanned
    for what, canary in canaries.items():
        assert canary not in "".join(stderr), f"the {what} secret leaked into stderr"
        assert canary not in grants.stdout, f"the {what} secret is shown in the grant list"
    con = sqlite3.connect(cli.home / "data" / "audit.db")
    try:
        fetches = [
            row[0] for row in con.execute("SELECT resource FROM audit_log WHERE capability = 'net.fetch'")
        ]
    finally:
        con.close()
    assert len(set(fetches[:3])) == 1 and "?<redacted:" in fetches[0]  # the same value, the same hash
