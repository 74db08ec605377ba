"""``aether install-desktop [--autostart]`` and ``uninstall-desktop`` into throw-away XDG folders."""

from __future__ import annotations

import configparser
import os
import sqlite3
import struct
from pathlib import Path

import pytest
from cli_support import Cli
from packaging_support import validate_desktop_entry, validate_metainfo

from aether_qt.core.resources import DESKTOP_ID, ICON_SIZES

ENTRY = f"{DESKTOP_ID}.desktop"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(home=tmp_path / "home")


@pytest.fixture
def xdg(tmp_path: Path) -> dict[str, str]:
    data, config = tmp_path / "xdg" / "data", tmp_path / "xdg" / "config"
    (data / "applications").mkdir(parents=True)  # the user's folder exists, with another app in it
    (data / "applications" / "other.desktop").write_text("[Desktop Entry]\nType=Application\nName=Other\n")
    return {"XDG_DATA_HOME": str(data), "XDG_CONFIG_HOME": str(config)}


def tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in root.rglob("*")}


def desktop_rows(cli: Cli) -> list[tuple[str, str, str]]:
    con = sqlite3.connect(cli.home / "data" / "audit.db")
    try:
        return con.execute(
            "SELECT resource, decision, actor FROM audit_log"
            " WHERE capability = 'desktop.install' ORDER BY seq"
        ).fetchall()
    finally:
        con.close()


def entry_values(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


@pytest.mark.slow  # seven CLI processes
def test_install_then_uninstall_leaves_the_folders_as_they_were(cli: Cli, xdg: dict[str, str]) -> None:
    root = Path(xdg["XDG_DATA_HOME"]).parent
    before = tree(root)
    env = cli.env(**xdg)

    done = cli.run("install-desktop", "--autostart", env=env, check=True)
    data, config = Path(xdg["XDG_DATA_HOME"]), Path(xdg["XDG_CONFIG_HOME"])
    entry = data / "applications" / ENTRY
    assert str(entry) in done.stdout

    # the entry starts this Aether (absolute program, same home) and validates where it was installed
    values = entry_values(entry)
    program, *rest = values["Exec"].split(" ")
    assert os.path.isabs(program) and os.access(program, os.X_OK)
    assert rest[:2] == ["--home", str(cli.home)]
    assert values["TryExec"] == program and values["Icon"] == DESKTOP_ID
    result = validate_desktop_entry(entry)
    assert result.returncode == 0, result.stdout + result.stderr
    meta = validate_metainfo(data / "metainfo" / f"{DESKTOP_ID}.metainfo.xml")
    assert meta.returncode == 0, meta.stdout + meta.stderr

    for size in ICON_SIZES:
        png = (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{DESKTOP_ID}.png").read_bytes()
        assert struct.unpack(">II", png[16:24]) == (size, size)
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / f"{DESKTOP_ID}.svg").is_file()
    autostart = config / "autostart" / ENTRY
    assert entry_values(autostart)["Exec"] == values["Exec"]
    assert validate_desktop_entry(autostart).returncode == 0

    # a re-install is fine (files replaced in place), and the record still knows every folder
    cli.run("install-desktop", env=env, check=True)
    assert autostart.is_file()

    gone = cli.run("uninstall-desktop", env=env, check=True)
    assert str(entry) in gone.stdout and str(autostart) in gone.stdout
    assert tree(root) == before  # the other app's entry and the user's folder stay; nothing of ours does
    again = cli.run("uninstall-desktop", env=env, check=True)
    assert "nothing to remove" in again.stdout

    # each act was asked for the user and audited: install twice, uninstall once
    rows = desktop_rows(cli)
    acts = [(resource.split(" ")[0], decision) for resource, decision, _ in rows]
    once = ["ask", "allow", "grant_spent"]  # the command answers the Ask; the effector spends the permit
    assert acts == [("install", d) for d in once * 2] + [("uninstall", d) for d in once]
    assert all(str(data) in resource for resource, _, _ in rows[:6])
    assert str(config / "autostart") in rows[0][0] and str(config) not in rows[3][0]
    assert rows[6][0] == f"uninstall {DESKTOP_ID} from {root}"  # the folder holding all it removed
    verify = cli.run("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.slow
def test_uninstall_keeps_a_file_that_changed_since_the_install(cli: Cli, xdg: dict[str, str]) -> None:
    env = cli.env(**xdg)
    cli.run("install-desktop", env=env, check=True)
    entry = Path(xdg["XDG_DATA_HOME"]) / "applications" / ENTRY
    entry.write_text(entry.read_text() + "X-Edited-By-User=true\n")
    icon = Path(xdg["XDG_DATA_HOME"]) / "icons" / "hicolor" / "16x16" / "apps" / f"{DESKTOP_ID}.png"
    record = cli.home / "data" / "desktop-install.json"
    good = record.read_bytes()
    record.write_bytes(good.replace(b'"files"', b'"filez"'))
    broken = cli.run("uninstall-desktop", env=env)
    assert broken.returncode == 2 and "cannot read the install record" in broken.stderr
    assert icon.is_file(), "nothing is removed on a record that cannot be read"
    record.write_bytes(good)

    gone = cli.run("uninstall-desktop", "--json", env=env, check=True)
    assert str(entry) in gone.stdout and '"kept"' in gone.stdout
    assert entry.is_file() and "X-Edited-By-User" in entry.read_text()  # the user's edit survives
    assert not icon.exists() and not icon.parent.exists()  # what was still ours is gone
