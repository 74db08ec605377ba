"""The shipped desktop files and icons: valid for the freedesktop tools, and consistent with the app."""

from __future__ import annotations

import configparser
import struct
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

from packaging_support import PACKAGING, REPO, validate_desktop_entry, validate_metainfo

from aether_qt.core.resources import DESKTOP_ID, ICON_NAME, ICON_SIZES, resource_path, resources_dir

DESKTOP = PACKAGING / f"{DESKTOP_ID}.desktop"
METAINFO = PACKAGING / f"{DESKTOP_ID}.metainfo.xml"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_passes_desktop_file_validate() -> None:
    result = validate_desktop_entry(DESKTOP)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in (result.stdout + result.stderr).lower()


def test_metainfo_passes_appstreamcli_validate() -> None:
    result = validate_metainfo(METAINFO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_desktop_entry_is_rejected(tmp_path: Path) -> None:
    """The validator really judges: the shipped entry with its Type removed fails."""
    broken = tmp_path / f"{DESKTOP_ID}.desktop"
    broken.write_text(DESKTOP.read_text(encoding="utf-8").replace("Type=Application\n", ""), encoding="utf-8")
    assert validate_desktop_entry(broken).returncode != 0
    bad_xml = tmp_path / f"{DESKTOP_ID}.metainfo.xml"
    bad_xml.write_text(METAINFO.read_text(encoding="utf-8").replace("<summary>", "<summary><b>"), "utf-8")
    assert validate_metainfo(bad_xml).returncode != 0


def test_entry_and_metainfo_agree_with_the_app_and_pyproject() -> None:
    entry = desktop_entry(DESKTOP)
    assert entry["Icon"] == DESKTOP_ID
    assert entry["Exec"].split()[0] == "aether"
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == DESKTOP_ID
    assert root.findtext("launchable") == DESKTOP.name
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert root.findtext("project_license") == pyproject["project"]["license"]
    assert "aether" in pyproject["project"]["scripts"]
    versions = [r.get("version") for r in root.iter("release")]
    assert pyproject["project"]["version"] in versions
    assert root.find("content_rating") is not None


def test_screenshots_in_the_metainfo_exist_in_docs() -> None:
    images = [e.text or "" for e in ET.parse(METAINFO).getroot().iter("image")]
    assert images
    for url in images:
        relative = url.split("/main/", 1)[1]
        assert (REPO / relative).is_file(), url


def test_icons_ship_at_every_size_and_the_shaders_beside_them() -> None:
    assert resources_dir().is_dir()
    assert resource_path("icons", f"{ICON_NAME}.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    for size in ICON_SIZES:
        path = resource_path("icons", "hicolor", f"{size}x{size}", f"{ICON_NAME}.png")
        assert png_size(path) == (size, size)
    for name in ("avatar.vert", "avatar.frag"):
        assert "void main()" in resource_path("shaders", name).read_text(encoding="utf-8")


def test_the_wheel_config_ships_resources_db_and_personas() -> None:
    """aether_qt/_data links to the top-level folders and the desktop files; package-data ships _data."""
    data = REPO / "aether_qt" / "_data"
    for name in ("resources", "db", "personas"):
        assert (data / name).resolve() == (REPO / name).resolve(), name
    for packaged in (DESKTOP, METAINFO):
        assert (data / "desktop" / packaged.name).resolve() == packaged.resolve()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "_data/**/*" in pyproject["tool"]["setuptools"]["package-data"]["aether_qt"]
