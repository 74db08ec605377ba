"""The ``desktop.install`` effector with the real gate: bound to its folders, all or nothing, careful."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring_support import key_file_runtime

from aether_qt.core.desktop_files import Manifest, exec_line, plan_install
from aether_qt.core.resources import DESKTOP_ID
from aether_qt.policy.contracts import PermitError
from aether_qt.policy.decisions import Allow
from aether_qt.policy.effect_types import EffectFailedError
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.user_acts import decide_as_user

ARGV = ["/opt/aether/aether", "--home", "/srv/a home"]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(tmp_path / "home") as rt:
        yield rt


def allow(rt: PolicyRuntime, resource: str) -> Allow:
    decision = decide_as_user(rt.gate, "desktop.install", resource)
    assert isinstance(decision, Allow), decision
    return decision


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_a_permit_is_bound_to_the_folders_it_named(runtime: PolicyRuntime, tmp_path: Path) -> None:
    asked = plan_install(ARGV, data_home=tmp_path / "asked", config_home=None)
    other = plan_install(ARGV, data_home=tmp_path / "other", config_home=tmp_path / "config")
    permit = allow(runtime, asked.resource).permit
    with pytest.raises(PermitError):
        runtime.effectors.install_desktop(permit, other)
    assert files_under(tmp_path / "other") == [] and files_under(tmp_path / "config") == []


def test_a_failed_install_takes_back_what_it_wrote(runtime: PolicyRuntime, tmp_path: Path) -> None:
    data = tmp_path / "data"
    plan = plan_install(ARGV, data_home=data, config_home=None)
    blocker = data / "icons" / "hicolor" / "48x48" / "apps"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where a folder must go")
    before = files_under(data)
    with pytest.raises(EffectFailedError):
        runtime.effectors.install_desktop(allow(runtime, plan.resource).permit, plan)
    assert files_under(data) == before


def test_uninstall_never_follows_a_symlink_put_in_place_of_an_installed_file(
    runtime: PolicyRuntime, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    plan = plan_install(ARGV, data_home=data, config_home=None)
    done = runtime.effectors.install_desktop(allow(runtime, plan.resource).permit, plan)
    assert done.manifest is not None
    precious = tmp_path / "precious.desktop"
    entry = data / "applications" / f"{DESKTOP_ID}.desktop"
    precious.write_bytes(entry.read_bytes())  # same bytes, same hash
    entry.unlink()
    entry.symlink_to(precious)
    manifest = Manifest.from_json(done.manifest.to_json())
    gone = runtime.effectors.uninstall_desktop(allow(runtime, manifest.removal_resource()).permit, manifest)
    assert entry in gone.kept and precious.is_file() and entry.is_symlink()
    assert len(gone.removed) == len(manifest.files) - 1


def test_exec_line_quotes_what_the_spec_reserves() -> None:
    assert exec_line(ARGV) == '/opt/aether/aether --home "/srv/a home"'
    assert exec_line(["/x/100%", 'a"b$c']) == '/x/100%% "a\\\\"b\\\\$c"'
    with pytest.raises(ValueError, match="absolute"):
        exec_line(["aether"])
    with pytest.raises(ValueError, match="line breaks"):
        exec_line(["/bin/aether", "a\nExec=evil"])


def test_a_record_with_relative_paths_is_refused() -> None:
    good = Manifest(files={"/a/b.desktop": "00"}, folders=("/a",), data_home="/a")
    assert Manifest.from_json(good.to_json()) == good
    with pytest.raises(ValueError, match="shape"):
        Manifest.from_json(good.to_json().replace(b'"/a/b.desktop"', b'"../b.desktop"'))
    with pytest.raises(ValueError, match="JSON"):
        Manifest.from_json(b"{")
    assert os.sep == "/"


def test_an_existing_desktop_cache_is_refreshed_and_none_is_created(
    runtime: PolicyRuntime, tmp_path: Path
) -> None:
    if shutil.which("update-desktop-database") is None:
        pytest.skip("update-desktop-database is not installed (Debian package desktop-file-utils)")
    with_cache, without = tmp_path / "with-cache", tmp_path / "without"
    (with_cache / "applications").mkdir(parents=True)
    stale = with_cache / "applications" / "mimeinfo.cache"
    stale.write_text("stale\n")
    plan = plan_install(ARGV, data_home=with_cache, config_home=None)
    done = runtime.effectors.install_desktop(allow(runtime, plan.resource).permit, plan)
    assert done.refreshed == ("update-desktop-database",)
    assert stale.read_text().startswith("[MIME Cache]")  # rewritten by the real tool

    plan = plan_install(ARGV, data_home=without, config_home=None)
    done = runtime.effectors.install_desktop(allow(runtime, plan.resource).permit, plan)
    assert done.refreshed == ()
    assert not (without / "applications" / "mimeinfo.cache").exists()
