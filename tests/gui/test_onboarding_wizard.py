"""The onboarding wizard over a real home: every page, Next/Back/Cancel/Finish, persisted and audited.

Real runtime (the fail keyring: keys only in the opt-in file, or none), real
audit log, real widgets; the wizard is driven with key presses (mnemonics,
Tab, arrows, Enter, Esc) through :func:`open_runtime_onboarded`'s ``show``
hook, which stands in for the modal ``exec``. A screenshot of each page goes
to the test's folder (``wizard-<page>.png``).

The acceptance test of issue 15: a fresh home without a keyring shows the
wizard's keys step first (not a red banner); choosing the key file leads to a
working window with exactly one "Keys on disk" flag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from keyring_support import no_keyring
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QWizard
from pytestqt.qtbot import QtBot

from aether_qt.app import _open_runtime
from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.onboarding import NO_ONBOARDING_ENV, open_runtime_onboarded, run_setup_again
from aether_qt.policy.decisions import ActionRequest, Allow, Deny
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.onboarding.state import read_state
from aether_qt.widgets.main_window import MainWindow
from aether_qt.widgets.onboarding.wizard import OnboardingWizard
from aether_qt.widgets.tray import state_pixmap

Shots = Callable[[OnboardingWizard, str], None]


@pytest.fixture(autouse=True)
def onboarding_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(NO_ONBOARDING_ENV, raising=False)
    with no_keyring():
        yield


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return resolve_paths(tmp_path / "home")


@pytest.fixture
def shots(tmp_path: Path, qapp: QApplication) -> Iterator[Shots]:
    folder = tmp_path / "shots"
    folder.mkdir()
    previous = qapp.windowIcon()
    qapp.setWindowIcon(state_pixmap("idle", 64))  # as the app sets it: the wizard shows it in its header

    def shot(wizard: OnboardingWizard, name: str) -> None:
        QApplication.processEvents()
        assert wizard.grab().save(str(folder / f"wizard-{name}.png"))

    yield shot
    qapp.setWindowIcon(previous)


class Keys:
    """Real key presses through the X server (xdotool), each waited for by what it should change."""

    def __init__(self, qtbot: QtBot, xdotool: Callable[..., None]) -> None:
        self.qtbot, self.xdotool = qtbot, xdotool

    def press(self, keys: str, until: Callable[[], bool]) -> None:
        self.xdotool("key", "--clearmodifiers", keys)
        self.qtbot.waitUntil(until, timeout=10_000)

    def next(self, wizard: OnboardingWizard, keys: str = "alt+n") -> None:
        page = wizard.currentId()
        self.press(keys, lambda: wizard.currentId() != page)  # &Next (or Enter: the default button)

    def back(self, wizard: OnboardingWizard) -> None:
        page = wizard.currentId()
        self.press("alt+b", lambda: wizard.currentId() != page)  # < &Back

    def finish(self, wizard: OnboardingWizard, keys: str = "alt+f") -> None:
        self.press(keys, lambda: not wizard.isVisible())  # &Finish, or Esc for Cancel


@pytest.fixture
def keys(qtbot: QtBot, xdotool: Callable[..., None]) -> Keys:
    return Keys(qtbot, xdotool)


def opened(qtbot: QtBot, wizard: OnboardingWizard) -> None:
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.activateWindow()
    qtbot.waitExposed(wizard)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is wizard)


def audit_rows(runtime: PolicyRuntime, decision: str) -> list[tuple[str, dict[str, object]]]:
    assert runtime.audit is not None
    return [(row.resource, row.detail) for row in runtime.audit.rows() if row.decision == decision]


def open_real(paths: AppPaths) -> Callable[[bool, bool], PolicyRuntime | None]:
    return lambda key_file, read_only: _open_runtime(paths, key_file, read_only)


def test_a_fresh_home_without_keyring_asks_for_the_keys_first_and_the_key_file_opens_a_working_window(
    qtbot: QtBot,
    keys: Keys,
    paths: AppPaths,
    shots: Shots,
    bus: EventBus,
    bridge: QtBusBridge,
    tmp_path: Path,
) -> None:
    seen: list[str] = []

    def drive(wizard: OnboardingWizard) -> bool:
        opened(qtbot, wizard)
        assert wizard.currentPage() is wizard.keys_page  # the key step first, before anything opened
        assert not paths.app_db.exists() and not paths.key_file.exists()
        assert wizard.keys_page.missing.isVisible() and not wizard.keys_page.found.isVisible()
        next_button = wizard.button(QWizard.WizardButton.NextButton)
        assert not next_button.isEnabled()  # no way on without a choice
        keys.press("alt+i", wizard.keys_page.buttons["key_file"].isChecked)  # Keep the keys in a f&ile
        assert wizard.keys_page.buttons["key_file"].isChecked() and next_button.isEnabled()
        shots(wizard, "keys")
        while wizard.currentPage() is not wizard.ready_page:
            seen.append(wizard.currentPage().objectName())
            keys.next(wizard)
        shots(wizard, "ready-keys-first")
        assert "in a file on this computer" in wizard.ready_page.summary.text()
        assert "Memories kept: until I ask Aether to forget it." in wizard.ready_page.summary.text()
        keys.finish(wizard)
        return wizard.result() == QWizard.DialogCode.Accepted

    runtime = open_runtime_onboarded(paths, open_real(paths), show=drive)
    assert runtime is not None
    try:
        assert seen[:2] == ["page_keys", "page_local"]
        assert paths.key_file.exists() and (paths.key_file.stat().st_mode & 0o777) == 0o600
        assert read_state(paths).completed and read_state(paths).key_storage == "key_file"
        assert [flag.flag for flag in runtime.posture()] == ["keys_on_disk"]
        [(resource, detail)] = audit_rows(runtime, "setting_change")
        assert resource == "keys.storage" and detail["to"] == "key_file"
        window = MainWindow(
            runtime=runtime,
            controls=gate_on_bus(runtime, bus),
            settings=QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat),
            bus_bridge=bridge,
        )
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        try:
            assert window.banners.flags() == ["keys_on_disk"]  # one flag, no "Audit broken"
            assert isinstance(gate_on_bus(runtime, bus).evaluate(ActionRequest("notify.send", "hi")), Allow)
            window.grab().save(str(tmp_path / "shots" / "window-after-wizard.png"))
        finally:
            window.shutdown()
    finally:
        runtime.close()
    # the next start does not ask again and opens with the key file
    again = open_runtime_onboarded(paths, open_real(paths), show=lambda w: pytest.fail("asked again"))
    assert again is not None
    try:
        assert [flag.flag for flag in again.posture()] == ["keys_on_disk"]
    finally:
        again.close()


def test_read_only_opens_calmly_and_denies_every_action(qtbot: QtBot, keys: Keys, paths: AppPaths) -> None:
    def drive(wizard: OnboardingWizard) -> bool:
        opened(qtbot, wizard)
        keys.press("alt+r", wizard.keys_page.buttons["read_only"].isChecked)  # Stay &read-only
        for _ in range(len(wizard.pages) - 1):
            keys.next(wizard, "Return")  # Enter presses the default button (Next, then Finish)
        assert wizard.currentPage() is wizard.ready_page
        keys.finish(wizard, "Return")
        return wizard.result() == QWizard.DialogCode.Accepted

    runtime = open_runtime_onboarded(paths, open_real(paths), show=drive)
    assert runtime is not None
    try:
        assert [flag.flag for flag in runtime.posture()] == ["read_only"]
        assert not paths.key_file.exists() and read_state(paths).key_storage == "read_only"
        assert isinstance(runtime.gate.evaluate(ActionRequest("notify.send", "hi")), Deny)
    finally:
        runtime.close()


def test_set_up_a_keyring_waits_for_one_and_check_again_finds_it(qtbot: QtBot, paths: AppPaths) -> None:
    from aether_qt.widgets.onboarding.choices import KeyStorage, OnboardingChoices
    from aether_qt.widgets.onboarding.first_pages import KeysPage

    works = False
    choices = OnboardingChoices()
    page = KeysPage(choices, lambda: works)
    qtbot.addWidget(page)
    page.show()
    page.buttons["keyring"].click()
    assert not page.isComplete()  # a keyring that does not answer cannot be chosen
    page.check_again.click()
    assert "Still no keyring" in page.status.text() and not page.isComplete()
    works = True
    page.check_again.click()
    assert page.isComplete() and page.found.isVisible() and not page.missing.isVisible()
    page.record()
    assert choices.key_storage is KeyStorage.KEYRING


@pytest.fixture
def runtime(paths: AppPaths) -> Iterator[PolicyRuntime]:
    rt = PolicyRuntime.open(paths, allow_key_file=True)
    try:
        yield rt
    finally:
        rt.close()


def test_every_page_back_and_forth_then_finish_persists_and_audits_the_choices(
    qtbot: QtBot, keys: Keys, runtime: PolicyRuntime, shots: Shots
) -> None:
    names: list[str] = []

    def drive(wizard: OnboardingWizard) -> bool:
        def persona_id() -> str:
            return str(wizard.persona_page.list.currentItem().data(Qt.ItemDataRole.UserRole))

        opened(qtbot, wizard)
        assert wizard.currentPage() is wizard.local_page
        shots(wizard, "local")
        keys.next(wizard)
        assert wizard.currentPage() is wizard.keys_page and wizard.keys_page.buttons["key_file"].isChecked()
        keys.back(wizard)
        assert wizard.currentPage() is wizard.local_page
        keys.next(wizard)
        shots(wizard, "keys-rerun")
        keys.next(wizard)
        assert wizard.currentPage() is wizard.privacy_page
        keys.press("alt+e", wizard.privacy_page.buttons["remote-non-sensitive"].isChecked)  # &everyday talk
        shots(wizard, "privacy")
        keys.next(wizard)
        assert wizard.currentPage() is wizard.persona_page
        start = persona_id()
        keys.press("alt+p", lambda: wizard.persona_page.list.hasFocus())  # &Personas: focus the list
        for _ in range(wizard.persona_page.list.count()):
            if persona_id() == "pip":
                break
            row = wizard.persona_page.list.currentRow()
            keys.press("Down", lambda row=row: wizard.persona_page.list.currentRow() != row)
        assert persona_id() == "pip" != start
        shots(wizard, "persona")
        keys.next(wizard)
        assert wizard.currentPage() is wizard.preset_page
        shots(wizard, "preset")  # the default, Assistant
        keys.press("alt+o", wizard.preset_page.buttons["Observer"].isChecked)  # &Observer
        never = [
            wizard.preset_page.lists["never"].item(i).text()
            for i in range(wizard.preset_page.lists["never"].count())
        ]
        assert "Run a command on this computer" in never and "Fetch a URL over the network" in never
        shots(wizard, "preset-observer")
        keys.next(wizard)
        assert wizard.currentPage() is wizard.retention_page
        buttons = wizard.retention_page.buttons
        qtbot.waitUntil(buttons["forever"].hasFocus)  # a new page gives its first choice the focus
        for value in ("days:365", "days:90", "days:30"):
            keys.press("Down", buttons[value].isChecked)  # arrows move through the radio buttons
        shots(wizard, "retention")
        keys.next(wizard)
        assert wizard.currentPage() is wizard.ready_page
        shots(wizard, "ready")
        summary = wizard.ready_page.summary.text()
        assert "Pip" in summary and "Observer" in summary and "for 30 days" in summary
        names.extend(page.objectName() for page in wizard.pages)
        keys.finish(wizard)
        return wizard.result() == QWizard.DialogCode.Accepted

    applied = run_setup_again(runtime, show=drive)
    assert names == [
        "page_local",
        "page_keys",
        "page_privacy",
        "page_persona",
        "page_preset",
        "page_retention",
        "page_ready",
    ]
    assert len(applied) == 4  # privacy, persona, preset, retention (the keys did not change)
    settings = runtime.settings
    assert settings.get("router.privacy") == "remote-non-sensitive"
    assert settings.get("persona.active") == "pip"
    assert settings.get("memory.retention") == "days:30"
    assert runtime.preset().value == "Observer" and runtime.gate.config.preset.value == "Observer"
    changes = dict(audit_rows(runtime, "setting_change"))
    assert changes["router.privacy"]["to"] == "remote-non-sensitive"
    assert changes["router.privacy"]["from"] == ""
    assert changes["memory.retention"]["to"] == "days:30"
    [(_, cascade)] = [(r, d) for r, d in audit_rows(runtime, "cascade") if d.get("cause") == "preset_change"]
    assert cascade["to"] == "Observer"
    assert read_state(runtime.paths).completed


def test_cancel_changes_nothing_and_the_next_start_does_not_ask_again(
    qtbot: QtBot, keys: Keys, paths: AppPaths, runtime: PolicyRuntime
) -> None:
    before = {k: runtime.settings.get(k) for k in ("router.privacy", "persona.active", "memory.retention")}
    rows_before = len(runtime.audit.rows()) if runtime.audit is not None else 0

    def drive(wizard: OnboardingWizard) -> bool:
        opened(qtbot, wizard)
        for _ in range(2):
            keys.next(wizard)
        keys.press("alt+m", wizard.privacy_page.buttons["remote"].isChecked)  # for &most things
        keys.next(wizard)
        keys.next(wizard)
        keys.press("alt+w", wizard.preset_page.buttons["PowerUser"].isChecked)  # Po&wer user
        keys.finish(wizard, "Escape")  # Cancel
        return wizard.result() == QWizard.DialogCode.Accepted

    assert run_setup_again(runtime, show=drive) == []
    assert {k: runtime.settings.get(k) for k in before} == before
    assert runtime.preset().value == "Assistant"
    assert runtime.audit is not None and len(runtime.audit.rows()) == rows_before
    assert read_state(paths).completed
    runtime.close()
    again = open_runtime_onboarded(paths, open_real(paths), show=lambda w: pytest.fail("asked again"))
    assert again is not None
    again.close()


def test_onboarding_flag_shows_the_wizard_again(paths: AppPaths, runtime: PolicyRuntime) -> None:
    from aether_qt.cli import build_parser

    assert build_parser().parse_args(["--onboarding"]).onboarding
    runtime.close()
    shown: list[str] = []

    def note(wizard: OnboardingWizard) -> bool:
        shown.append(wizard.currentPage().objectName() if wizard.currentPage() else "")
        return False

    for _ in range(2):
        again = open_runtime_onboarded(paths, open_real(paths), onboarding=True, show=note)
        assert again is not None
        again.close()
    assert len(shown) == 2
    bench = resolve_paths(paths.data_dir.parent.parent / "bench")  # a fresh home, no keyring
    never = open_runtime_onboarded(  # benchmarks and scripted starts: never the wizard
        bench, open_real(bench), allow_key_file=True, onboarding=False, show=lambda w: pytest.fail("shown")
    )
    assert never is not None
    never.close()
    assert not read_state(bench).completed


def test_the_voice_and_model_pages_come_after_the_persona_and_are_skipped_when_absent(
    qtbot: QtBot, runtime: PolicyRuntime
) -> None:
    from PySide6.QtWidgets import QWizardPage

    from aether_qt.onboarding import WizardPort
    from aether_qt.services.onboarding.apply import SetupService

    port = WizardPort(SetupService(paths=runtime.paths, runtime=runtime))
    voice, model = QWizardPage(), QWizardPage()
    voice.setObjectName("page_voice")
    model.setObjectName("page_model")
    both = OnboardingWizard(port, voice_page=voice, model_page=model)
    only_model = OnboardingWizard(port, model_page=QWizardPage())
    none = OnboardingWizard(port)
    for wizard in (both, only_model, none):
        qtbot.addWidget(wizard)
    order = [page.objectName() for page in both.pages]
    assert order[3:7] == ["page_persona", "page_voice", "page_model", "page_preset"]
    assert len(only_model.pages) == 8 and len(none.pages) == 7
    assert [both.page(i) for i in both.pageIds()] == both.pages


def test_with_a_working_keyring_the_keys_page_says_so_and_moves_on(
    qtbot: QtBot, keys: Keys, tmp_path: Path
) -> None:
    import keyring
    from keyring_support import MemoryKeyring

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    paths = resolve_paths(tmp_path / "ring")

    def drive(wizard: OnboardingWizard) -> bool:
        opened(qtbot, wizard)
        assert wizard.currentPage() is wizard.local_page  # no key step first: a keyring works
        keys.next(wizard)
        assert wizard.keys_page.found.isVisible() and not wizard.keys_page.missing.isVisible()
        assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
        keys.finish(wizard, "Escape")
        return False

    try:
        runtime = open_runtime_onboarded(paths, open_real(paths), show=drive)
        assert runtime is not None
        try:
            assert runtime.keys is not None and runtime.keys.source == "keyring"
            assert runtime.posture() == []
        finally:
            runtime.close()
    finally:
        keyring.set_keyring(previous)
