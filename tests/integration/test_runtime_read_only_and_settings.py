"""The policy runtime's read-only posture (the wizard's "stay read-only") and audited setting changes.

Real runtime, real SQLite and audit chain; the keyring is the fail backend or an
in-process one that refuses chosen reads (tests/keyring_support.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import keyring
import pytest
from keyring_support import MemoryKeyring, no_keyring

from aether_qt.core.paths import resolve_paths
from aether_qt.policy.decisions import ActionRequest, Deny
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.onboarding.state import OnboardingState, read_state, write_state


def test_read_only_without_any_keyring_is_one_calm_flag_and_denies(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "home")
    with no_keyring():
        plain = PolicyRuntime.open(paths)
        try:
            assert "read_only" not in [f.flag for f in plain.posture()]  # not chosen: the old alarm
            assert plain.posture()[0].flag == "data_locked"
        finally:
            plain.close()
        rt = PolicyRuntime.open(paths, read_only=True)
        try:
            [flag] = rt.posture()
            assert flag.flag == "read_only" and "refuses every action" in flag.message
            assert isinstance(rt.gate.evaluate(ActionRequest("notify.send", "hi")), Deny)
        finally:
            rt.close()
    assert not paths.key_file.exists() and not paths.audit_db.exists()


def test_read_only_with_a_data_key_but_no_audit_keys_says_read_only_not_degraded(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "home")
    ring = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(ring)
    try:
        PolicyRuntime.open(paths).close()  # keys and data key minted in the keyring
        ring.fail_on = {"get:hmac-key"}  # the audit keys cannot be read now; the data key can
        rt = PolicyRuntime.open(paths, read_only=True)
        try:
            assert rt.keys is None and not rt.data_error
            assert [f.flag for f in rt.posture()] == ["read_only"]
        finally:
            rt.close()
        rt = PolicyRuntime.open(paths)
        try:
            assert [f.flag for f in rt.posture()] == ["audit_broken", "policy_degraded"]
        finally:
            rt.close()
    finally:
        keyring.set_keyring(previous)


def test_a_setting_change_is_audited_with_its_old_and_new_value_and_the_log_verifies(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "home")
    with no_keyring():
        rt = PolicyRuntime.open(paths, allow_key_file=True)
        try:
            first = rt.change_setting("router.privacy", "remote", change_id="c1")
            second = rt.change_setting("router.privacy", "local-only")
            assert first and second and rt.settings.get("router.privacy") == "local-only"
            assert rt.audit is not None
            rows = [row for row in rt.audit.rows() if row.decision == "setting_change"]
            assert [r.audit_id for r in rows] == [first, second]
            assert (
                rows[0].actor == "user" and rows[0].change_id == "c1" and rows[0].resource == "router.privacy"
            )
            assert (rows[0].detail["from"], rows[0].detail["to"]) == ("", "remote")
            assert (rows[1].detail["from"], rows[1].detail["to"]) == ("remote", "local-only")
            assert rt.verify().status == "intact"
        finally:
            rt.close()
        again = PolicyRuntime.open(paths, allow_key_file=True)  # the rows replay at the next start
        try:
            assert not [f.flag for f in again.posture() if f.flag == "audit_broken"]
        finally:
            again.close()


@pytest.mark.parametrize(
    "text", ["", "not json", "[1, 2]", '{"completed": "yes", "key_storage": "usb-stick"}']
)
def test_an_unreadable_onboarding_state_means_never_onboarded(tmp_path: Path, text: str) -> None:
    paths = resolve_paths(tmp_path / "home").ensure()
    (paths.config_dir / "onboarding.json").write_text(text)
    assert read_state(paths) == OnboardingState()


def test_the_onboarding_state_round_trips_in_a_private_file(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "home").ensure()
    write_state(paths, OnboardingState(completed=True, key_storage="key_file"))
    assert read_state(paths) == OnboardingState(completed=True, key_storage="key_file")
    path = paths.config_dir / "onboarding.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["key_storage"] == "key_file"
