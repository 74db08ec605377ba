""" "Run setup again…" over a running app: a new privacy posture reaches the running router at once.

The router's remote tier is built at start from the settings; after the wizard's
Finish it must route the next turn by the posture just chosen (a stricter one
must not wait for a restart). Real runtime (opt-in key file), real router and
remote tier (nothing is sent: only the route is planned).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring_support import no_keyring
from pytestqt.qtbot import QtBot

from aether_qt.companion import build_remote_tier
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.router.providers import Posture, make_config, save_provider, set_active, set_posture
from aether_qt.engines.router.router import Router
from aether_qt.onboarding import run_setup_again
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.widgets.onboarding.wizard import OnboardingWizard


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[PolicyRuntime]:
    with no_keyring():
        rt = PolicyRuntime.open(resolve_paths(tmp_path / "home"), allow_key_file=True)
        try:
            yield rt
        finally:
            rt.close()


def test_a_stricter_posture_chosen_again_reaches_the_running_router(
    qtbot: QtBot, runtime: PolicyRuntime, tmp_path: Path
) -> None:
    save_provider(runtime.settings, make_config("lan", "http://127.0.0.1:9/v1", "m"))
    set_active(runtime.settings, "lan")
    set_posture(runtime.settings, Posture.REMOTE)
    router = Router(models_dir=tmp_path / "models", clock=time.monotonic)
    router.remote = build_remote_tier(runtime)
    assert router.remote is not None and router.remote.settings.posture is Posture.REMOTE

    def finish_with_local_only(wizard: OnboardingWizard) -> bool:
        qtbot.addWidget(wizard)
        wizard.show()
        while wizard.currentPage() is not wizard.ready_page:
            if wizard.currentPage() is wizard.privacy_page:
                wizard.privacy_page.buttons["local-only"].setChecked(True)
            wizard.next()
        wizard.accept()
        return True

    applied = run_setup_again(runtime, router=router, show=finish_with_local_only)
    assert "Privacy: everything stays on this computer." in applied
    assert runtime.settings.get("router.privacy") == "local-only"
    assert router.remote.settings.posture is Posture.LOCAL_ONLY  # the next turn stays here
