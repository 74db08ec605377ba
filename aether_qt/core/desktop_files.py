"""What ``aether install-desktop`` puts where: pure planning, no writes.

The desktop entry, the AppStream metainfo and the icons go into the user's XDG
folders under the application id (:data:`~aether_qt.core.resources.DESKTOP_ID`):

* ``$XDG_DATA_HOME/applications/<id>.desktop`` with ``Exec``/``TryExec`` pointing
  at the command that ran the install (absolute path; a bundle's own executable);
* ``$XDG_DATA_HOME/metainfo/<id>.metainfo.xml``;
* ``$XDG_DATA_HOME/icons/hicolor/<N>x<N>/apps/<id>.png`` and ``scalable/apps/<id>.svg``;
* with autostart, a copy of the entry in ``$XDG_CONFIG_HOME/autostart``.

The effector (:meth:`~aether_qt.policy.effects.Effectors.install_desktop`) writes
the plan; the :class:`Manifest` of what was written (paths, SHA-256, folders it
had to create) lets uninstall remove exactly that and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aether_qt.core.resources import DESKTOP_ID, ICON_NAME, ICON_SIZES, desktop_file, resource_path

__all__ = [
    "MANIFEST_FILE",
    "DesktopFile",
    "DesktopPlan",
    "DesktopResult",
    "Manifest",
    "ManifestError",
    "exec_line",
    "plan_install",
    "xdg_folders",
]

MANIFEST_FILE: Final = "desktop-install.json"  # in the home's data folder
_MANIFEST_VERSION: Final = 1
# characters that make an Exec argument need quoting (Desktop Entry spec, "The Exec key")
_RESERVED: Final = frozenset(" \t\n\"'\\><~|&;$*?#()`")


class ManifestError(ValueError):
    """The install manifest cannot be read (missing, not JSON, wrong shape)."""


@dataclass(frozen=True, slots=True)
class DesktopFile:
    """One file to write: where, what, with which permission bits."""

    path: Path
    data: bytes
    mode: int = 0o644

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class DesktopPlan:
    """Everything one install writes.

    Attributes:
        files: the files, entry first.
        data_home: ``$XDG_DATA_HOME``; autostart_dir: ``$XDG_CONFIG_HOME/autostart`` or None.
        resource: the gate's resource for ``desktop.install``: names the id and the folders,
            so a permit is bound to exactly these destinations.
    """

    files: tuple[DesktopFile, ...]
    data_home: Path
    autostart_dir: Path | None

    @property
    def resource(self) -> str:
        where = str(self.data_home)
        if self.autostart_dir is not None:
            where += f" and {self.autostart_dir}"
        return f"install {DESKTOP_ID} into {where}"


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an install wrote: ``files`` (path -> SHA-256) and the ``folders`` it created."""

    files: Mapping[str, str]
    folders: tuple[str, ...] = ()
    data_home: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def removal_resource(self) -> str:
        """The gate's resource for taking this install off the desktop: the folder holding every file."""
        where = os.path.commonpath(list(self.files)) if self.files else self.data_home
        return f"uninstall {DESKTOP_ID} from {where}"

    def to_json(self) -> bytes:
        body = {
            "version": _MANIFEST_VERSION,
            "id": DESKTOP_ID,
            "data_home": self.data_home,
            "files": dict(sorted(self.files.items())),
            "folders": list(self.folders),
        }
        return (json.dumps(body, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Raises: ManifestError: not a manifest this version wrote."""
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ManifestError(f"the install record is not JSON ({exc})") from None
        files, folders = (body.get("files"), body.get("folders")) if isinstance(body, dict) else (None, None)
        if (
            body.get("version") != _MANIFEST_VERSION
            or not isinstance(files, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
            or not isinstance(folders, list)
            or not all(isinstance(f, str) for f in folders)
            or not all(os.path.isabs(p) for p in [*files, *folders])
        ):
            raise ManifestError("the install record has an unexpected shape")
        return cls(files=files, folders=tuple(folders), data_home=str(body.get("data_home", "")))

    def merged(self, newer: Manifest) -> Manifest:
        """A re-install's manifest: the newer files, every folder either install created."""
        folders = tuple(dict.fromkeys([*self.folders, *newer.folders]))
        return Manifest(files={**self.files, **newer.files}, folders=folders, data_home=newer.data_home)


@dataclass(frozen=True, slots=True)
class DesktopResult:
    """What an install or uninstall did.

    Attributes:
        manifest: what is installed now (None after an uninstall).
        removed: files an uninstall removed; kept: listed files it left because they changed.
        refreshed: the cache tools that ran (only caches that already existed are refreshed).
    """

    manifest: Manifest | None
    removed: tuple[Path, ...] = ()
    kept: tuple[Path, ...] = ()
    refreshed: tuple[str, ...] = ()


def xdg_folders(environ: Mapping[str, str]) -> tuple[Path, Path]:
    """``($XDG_DATA_HOME, $XDG_CONFIG_HOME)`` with the spec's defaults; relative values are ignored."""
    home = Path(environ.get("HOME") or Path.home())

    def pick(name: str, default: Path) -> Path:
        value = environ.get(name, "")
        return Path(value) if value and os.path.isabs(value) else default

    return pick("XDG_DATA_HOME", home / ".local" / "share"), pick("XDG_CONFIG_HOME", home / ".config")


def _quote(arg: str) -> str:
    if arg and not _RESERVED.intersection(arg):
        return arg.replace("%", "%%")
    inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{inner}"'.replace("%", "%%")


def exec_line(argv: Sequence[str]) -> str:
    """``argv`` as a desktop entry ``Exec`` value (quoted per the spec, then string-escaped)."""
    if not argv or not os.path.isabs(argv[0]):
        raise ValueError("the program must be an absolute path")
    if any("\n" in a or "\r" in a for a in argv):
        raise ValueError("arguments cannot contain line breaks")
    return " ".join(_quote(a) for a in argv).replace("\\", "\\\\")


def _entry_text(template: str, argv: Sequence[str], *, autostart: bool) -> str:
    values = {"Exec": exec_line(argv), "TryExec": exec_line(argv[:1])}
    lines = []
    for line in template.splitlines():
        key = line.split("=", 1)[0].strip()
        lines.append(f"{key}={values[key]}" if key in values else line)
    if autostart:
        lines.append("X-GNOME-Autostart-enabled=true")
    return "\n".join(lines) + "\n"


def plan_install(argv: Sequence[str], *, data_home: Path, config_home: Path | None) -> DesktopPlan:
    """The files of an install that starts Aether with ``argv``; autostart when ``config_home`` is given.

    Raises:
        ValueError: ``argv[0]`` is not absolute or an argument cannot go into a desktop entry.
        FileNotFoundError: a shipped file is missing (a broken installation).
    """
    template = desktop_file(".desktop").read_text(encoding="utf-8")
    entry = _entry_text(template, argv, autostart=False).encode("utf-8")
    files = [
        DesktopFile(data_home / "applications" / f"{DESKTOP_ID}.desktop", entry),
        DesktopFile(
            data_home / "metainfo" / f"{DESKTOP_ID}.metainfo.xml",
            desktop_file(".metainfo.xml").read_bytes(),
        ),
    ]
    hicolor = data_home / "icons" / "hicolor"
    for size in ICON_SIZES:
        png = resource_path("icons", "hicolor", f"{size}x{size}", f"{ICON_NAME}.png")
        files.append(DesktopFile(hicolor / f"{size}x{size}" / "apps" / f"{DESKTOP_ID}.png", png.read_bytes()))
    svg = resource_path("icons", f"{ICON_NAME}.svg")
    files.append(DesktopFile(hicolor / "scalable" / "apps" / f"{DESKTOP_ID}.svg", svg.read_bytes()))
    autostart_dir = None
    if config_home is not None:
        autostart_dir = config_home / "autostart"
        text = _entry_text(template, argv, autostart=True).encode("utf-8")
        files.append(DesktopFile(autostart_dir / f"{DESKTOP_ID}.desktop", text))
    return DesktopPlan(files=tuple(files), data_home=data_home, autostart_dir=autostart_dir)
