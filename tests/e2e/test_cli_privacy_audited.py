"""Where turns may go is a policy choice: `aether providers privacy` is audited like the wizard's choice."""

from __future__ import annotations

import contextlib
from pathlib import Path

from cli_support import Cli
from keyring_support import no_keyring

from aether_qt.core.paths import resolve_paths
from aether_qt.policy.runtime import PolicyRuntime


def test_opening_and_closing_the_privacy_posture_leaves_audit_rows(tmp_path: Path) -> None:
    cli = Cli(home=tmp_path / "home")
    assert "privacy posture: remote\n" in cli.run("providers", "privacy", "remote", check=True).stdout
    cli.run("providers", "privacy", "remote", check=True)  # unchanged: nothing more to record
    cli.run("providers", "privacy", "local-only", check=True)
    with no_keyring() if cli.key_file else contextlib.nullcontext():  # the keys where the CLI keeps them
        rt = PolicyRuntime.open(resolve_paths(cli.home), allow_key_file=cli.key_file)
        try:
            assert rt.audit is not None
            rows = [r for r in rt.audit.rows() if r.decision == "setting_change"]
            assert [(r.resource, r.detail["from"], r.detail["to"]) for r in rows] == [
                ("router.privacy", "", "remote"),
                ("router.privacy", "remote", "local-only"),
            ]
            assert rt.verify().status == "intact"
        finally:
            rt.close()
