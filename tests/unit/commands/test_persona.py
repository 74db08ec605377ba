"""Tests of ``aether persona list|check|use`` (aether_qt/commands/persona.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from aether_qt.commands import persona as cmd
from aether_qt.engines.persona.registry import shipped_personas_dir

GOOD = "schema_version: 1\nid: mine\nname: Mine\nsystem_prompt: Hello.\n"


def _ns(**kwargs: object) -> argparse.Namespace:
    return argparse.Namespace(**kwargs)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_check_ok_lists_summary_and_clamps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "p.yaml", GOOD + "policy_defaults:\n  overrides:\n    shell.exec: auto\n")
    assert cmd.check(_ns(file=str(path), json=False)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"ok: {path}: Mine (mine) 1.0.0, schema 1, trusted, preset Assistant, sha256 ")
    assert out[1] == "clamp: shell.exec auto -> deny (shell is never allowed in the Assistant preset)"


def test_check_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "p.yaml", GOOD + "policy_defaults:\n  overrides:\n    net.fetch: auto\n")
    assert cmd.check(_ns(file=str(path), json=True)) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["id"] == "mine" and data["overrides"] == {"net.fetch": "ask"}
    assert data["clamps"][0]["requested"] == "auto" and len(data["content_hash"]) == 64


def test_check_broken_prints_every_located_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "b.yaml", GOOD + "style:\n  warmth: 3\n  glow: 1\n")
    assert cmd.check(_ns(file=str(path), json=False)) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:6:11: style.warmth: expected a number 0.0-1.0, got 3",
        f"{path}:7:3: unknown key 'glow' in style (expected one of: warmth, formality, verbosity, humor)",
    ]
    assert cmd.check(_ns(file=str(path), json=True)) == 1
    data = json.loads(capsys.readouterr().out)
    assert not data["ok"] and [e["line"] for e in data["errors"]] == [6, 7]


def test_list_use_and_active(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    user = home / "data" / "personas"
    _write(user / "mine.yaml", GOOD)
    _write(user / "broken.yaml", "id: [\n")
    assert cmd.list_(_ns(home=str(home), json=True)) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["active"] == "aether" and listing["problem"] == ""
    rows = {r["id"]: r for r in listing["personas"]}
    assert rows["aether"]["active"] and rows["aether"]["source"] == "shipped"
    assert rows["mine"]["source"] == "user" and rows["mine"]["status"] == "ok" and rows["mine"]["trusted"]
    assert rows["broken"]["status"] == "error" and rows["broken"]["error"].startswith(
        f"{user / 'broken.yaml'}:2:1:"
    )

    assert cmd.use(_ns(home=str(home), persona_id="mine", allow_key_file=True)) == 0
    assert "next turn boundary" in capsys.readouterr().out
    assert cmd.list_(_ns(home=str(home), json=False)) == 0
    out = capsys.readouterr().out
    mine_line = next(line for line in out.splitlines() if " mine " in line)
    assert mine_line.startswith("*")
    assert f"{user / 'broken.yaml'}:2:1: invalid YAML" in out


def test_use_refuses_unknown_and_broken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    _write(home / "data" / "personas" / "broken.yaml", "id: [\n")
    assert cmd.use(_ns(home=str(home), persona_id="nobody")) == 1
    assert "no persona 'nobody'" in capsys.readouterr().err
    assert cmd.use(_ns(home=str(home), persona_id="broken")) == 1
    captured = capsys.readouterr()
    assert "broken.yaml:2:1: invalid YAML" in captured.out and "does not compile" in captured.err
    assert cmd.list_(_ns(home=str(home), json=True)) == 0
    assert json.loads(capsys.readouterr().out)["active"] == "aether"


def test_use_shows_clamps_and_list_warns_about_a_missing_active(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    user = home / "data" / "personas"
    _write(user / "mine.yaml", GOOD + "policy_defaults:\n  overrides:\n    shell.exec: auto\n")
    assert cmd.use(_ns(home=str(home), persona_id="mine", allow_key_file=True)) == 0
    assert "clamp: shell.exec auto -> deny" in capsys.readouterr().out
    (user / "mine.yaml").write_text("id: [\n", encoding="utf-8")
    assert cmd.list_(_ns(home=str(home), json=False)) == 0
    assert "active persona 'mine' is missing or broken" in capsys.readouterr().err


def test_shipped_files_pass_check(capsys: pytest.CaptureFixture[str]) -> None:
    for path in sorted(shipped_personas_dir().glob("*.yaml")):
        assert cmd.check(_ns(file=str(path), json=False)) == 0, path
    assert capsys.readouterr().out.count("ok: ") >= 3


def test_unusable_settings_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    (home / "data" / "aether.db").mkdir(parents=True)  # a folder where the database should be
    assert cmd.list_(_ns(home=str(home), json=False)) == 0
    assert "settings unavailable" in capsys.readouterr().err
    assert cmd.use(_ns(home=str(home), persona_id="sage")) == 2
    assert capsys.readouterr().err.startswith("aether: ")
