"""``aether memory …`` in a real subprocess: list, search, show, forget, export and import.

Memories are written by real turns (``aether say "remember that …"``), so the
command line sees what the app remembers. ``--json`` prints each change's
decision and audit id, and ``audit verify`` stays intact after all of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import Cli

from aether_qt.storage.cipher import unseal_with_passphrase


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def remember(cli: Cli, fact: str) -> None:
    proc = cli.run("say", f"remember that {fact}", check=True)
    assert fact in proc.stdout


def test_list_search_show_forget_with_provenance(cli: Cli) -> None:
    remember(cli, "my sister's name is Mira")
    remember(cli, "I like green tea")
    listed = cli.json("memory", "list")
    assert sorted(i["text"] for i in listed) == ["I like green tea", "my sister's name is Mira"]
    assert {i["kind"] for i in listed} == {"fact", "preference"}
    [mira] = [i for i in listed if "Mira" in i["text"]]
    assert mira["provenance"]["source"] == "user_confirmed" and mira["provenance"]["audit_id"]

    facts = cli.json("memory", "list", "--kind", "fact")
    assert [i["id"] for i in facts] == [mira["id"]]

    found = cli.json("memory", "search", "who is my sibling")  # no shared content word: by meaning
    assert not found["fts_only"] and found["hits"][0]["id"] == mira["id"]

    shown = cli.run("memory", "show", mira["id"], check=True).stdout
    assert "user_confirmed" in shown and mira["provenance"]["audit_id"] in shown

    forgotten = cli.json("memory", "forget", mira["id"])
    assert forgotten["ok"] and forgotten["decision"] == "allow" and forgotten["audit_id"]
    assert [i["text"] for i in cli.json("memory", "list")] == ["I like green tea"]
    assert cli.json("memory", "search", "Mira")["hits"] == []
    missing = cli.run("memory", "show", mira["id"])
    assert missing.returncode == 1 and "no memory with id" in missing.stderr
    assert cli.run("audit", "verify").returncode == 0


def test_export_then_import_round_trips_and_a_bad_entry_rejects_the_file(cli: Cli, tmp_path: Path) -> None:
    remember(cli, "my cat is Tom")
    out = tmp_path / "exports"
    out.mkdir()
    cli.run("policy", "roots", "add", str(out), check=True)
    secret = tmp_path / "passphrase.txt"
    secret.write_text("correct horse battery\n")
    exported = cli.json("memory", "export", str(out / "memories.json"), "--passphrase-file", str(secret))
    assert exported["ok"] and exported["decision"] == "allow"
    sealed = (out / "memories.json").read_bytes()
    assert b"my cat is Tom" not in sealed, "an export never carries memories in clear"
    data = json.loads(unseal_with_passphrase(sealed, "correct horse battery"))
    assert [e["text"] for e in data["items"]] == ["my cat is Tom"]
    assert (out / "memories.json").stat().st_mode & 0o777 == 0o600
    assert cli.run("memory", "export", str(out / "again.json")).returncode == 2  # no passphrase, no file
    assert not (out / "again.json").exists()

    other = Cli(tmp_path / "other-home")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": 1, "items": [*data["items"], {"id": "x1", "text": ""}]}))
    rejected = other.run("memory", "import", str(bad))
    assert rejected.returncode == 2 and "entry 1 (id x1)" in rejected.stderr
    assert other.json("memory", "list") == []  # nothing of the file was written

    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase\n")
    refused = other.run("memory", "import", str(out / "memories.json"), "--passphrase-file", str(wrong))
    assert refused.returncode == 2 and "wrong passphrase" in refused.stderr
    imported = other.json("memory", "import", str(out / "memories.json"), "--passphrase-file", str(secret))
    assert imported["ok"] and len(imported["items"]) == 1
    [item] = other.json("memory", "list")
    assert item["text"] == "my cat is Tom" and item["provenance"]["source"] == "imported"


def test_export_outside_the_approved_folders_is_refused(cli: Cli, tmp_path: Path) -> None:
    remember(cli, "my cat is Tom")
    secret = tmp_path / "passphrase.txt"
    secret.write_text("correct horse battery\n")
    proc = cli.run("memory", "export", str(tmp_path / "elsewhere.json"), "--passphrase-file", str(secret))
    said = proc.stderr + proc.stdout
    assert proc.returncode != 0 and "outside the folders you approved" in said, proc.stderr
    assert not (tmp_path / "elsewhere.json").exists()
