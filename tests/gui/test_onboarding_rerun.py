""" "Run setup again…" over a running app: a new privacy posture reaches the running router at once.

The router's remote tier is built at start from the settings; after the wizard's
Finish it must route the next turn by the posture just chosen (a stricter one
must not wait for a restart). Real runtime (opt-in key file), real router and
remote tier (nothing is sent: only the route is planned).

Cancel on a fresh home without a keyring applies nothing, not even a key choice
already made on the keys page: the app opens read-only and does not ask again.
The voice and model pages (built elsewhere) collect into the shared choices, and
their applier runs at Finish once the runtime is open.
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


def test_cancel_at_first_start_without_keyring_keeps_no_keys_and_does_not_ask_again(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aether_qt.app import _open_runtime
    from aether_qt.onboarding import NO_ONBOARDING_ENV, open_runtime_onboarded
    from aether_qt.services.onboarding.state import read_state

    monkeypatch.delenv(NO_ONBOARDING_ENV, raising=False)
    paths = resolve_paths(tmp_path / "fresh")

    def choose_key_file_then_cancel(wizard: OnboardingWizard) -> bool:
        qtbot.addWidget(wizard)
        wizard.show()
        assert wizard.currentPage() is wizard.keys_page
        wizard.keys_page.buttons["key_file"].setChecked(True)
        wizard.next()  # the choice is collected...
        assert wizard.choices.key_storage is not None
        wizard.reject()  # ...and Cancel applies nothing
        return False

    def opener(key_file: bool, read_only: bool) -> PolicyRuntime | None:
        return _open_runtime(paths, key_file, read_only)

    with no_keyring():
        runtime = open_runtime_onboarded(paths, opener, show=choose_key_file_then_cancel)
        assert runtime is not None
        try:
            assert [f.flag for f in runtime.posture()] == ["read_only"]
            assert not paths.key_file.exists()
        finally:
            runtime.close()
        assert read_state(paths).completed and read_state(paths).key_storage == "read_only"
        again = open_runtime_onboarded(paths, opener, show=lambda w: pytest.fail("asked again"))
        assert again is not None
        try:
            assert [f.flag for f in again.posture()] == ["read_only"]
        finally:
            again.close()


def test_the_media_pages_collect_and_their_choices_are_applied_once_the_runtime_is_open(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aether_qt.app import _open_runtime
    from aether_qt.onboarding import NO_ONBOARDING_ENV, open_runtime_onboarded
    from aether_qt.widgets.onboarding.choices import OnboardingChoices, OnboardingPage

    monkeypatch.delenv(NO_ONBOARDING_ENV, raising=False)
    paths = resolve_paths(tmp_path / "fresh")

    class VoicePage(OnboardingPage):  # stands in for the voice page another module builds
        def record(self) -> None:
            self.choices.speak_replies = False
            self.choices.notes.append("Replies: text only.")

    def pages(choices: OnboardingChoices) -> tuple[OnboardingPage, None]:
        return VoicePage(choices), None

    def apply_media(runtime: PolicyRuntime, choices: OnboardingChoices) -> list[str]:
        assert runtime.keys is not None  # at first start the runtime is open by now, with the key file
        runtime.settings.set("voice.speak", bool(choices.speak_replies))
        return ["Replies are shown, not spoken."]

    def finish_with_key_file(wizard: OnboardingWizard) -> bool:
        qtbot.addWidget(wizard)
        wizard.show()
        wizard.keys_page.buttons["key_file"].setChecked(True)
        while wizard.currentPage() is not wizard.ready_page:
            wizard.next()
        assert "Replies: text only." in wizard.ready_page.summary.text()
        wizard.accept()
        assert wizard.applied[-1] == "Replies are shown, not spoken."
        return True

    with no_keyring():
        runtime = open_runtime_onboarded(
            paths,
            lambda key_file, read_only: _open_runtime(paths, key_file, read_only),
            media_pages=pages,
            apply_media=apply_media,
            show=finish_with_key_file,
        )
        assert runtime is not None
        try:
            assert runtime.settings.get("voice.speak") is False
        finally:
            runtime.close()
