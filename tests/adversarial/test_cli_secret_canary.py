"""Secrets never leave the key store: grep every byte the CLI wrote or printed for them.

The audit keys of a key-file home are read back (raw, hex, base64) and searched
for in every file of the home except the key file itself (databases, WAL,
anchor, backups, exported bundle) and in every command's stdout and stderr,
including the output of failing commands.
"""

from __future__ import annotations

import base64
import json
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
