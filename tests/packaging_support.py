"""The freedesktop validators the packaging tests run (scripts/ensure-system.sh installs them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from desktop_support import in_ci, in_desktop_env

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"


def require_tool(name: str, package: str) -> str:
    """The tool's path; skipped when missing locally, a failure under ``make test`` or in CI."""
    found = shutil.which(name)
    if found:
        return found
    reason = f"{name} is not installed (Debian package {package}; scripts/ensure-system.sh installs it)"
    if in_ci() or in_desktop_env():
        pytest.fail(reason)
    pytest.skip(reason)


def validate_desktop_entry(path: Path) -> subprocess.CompletedProcess[str]:
    tool = require_tool("desktop-file-validate", "desktop-file-utils")
    return subprocess.run([tool, str(path)], capture_output=True, text=True, check=False, timeout=60)


def validate_metainfo(path: Path) -> subprocess.CompletedProcess[str]:
    tool = require_tool("appstreamcli", "appstream")
    return subprocess.run(
        [tool, "validate", "--no-net", "--no-color", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
