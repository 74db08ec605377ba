"""The Settings dialog walked page by page with the keyboard alone, over a real home.

Each page's change is checked where it lands: the settings in ``aether.db``
(re-read after the home is closed and opened again), the audit log (the same
rows ``aether policy``, ``aether providers`` and ``aether costs`` write), the
keyring (a provider's key, and nowhere else), the running parts (the persona
service, the gate, the router's remote tier). A screenshot of every page is
saved (``docs/screenshots/settings-<page>.png`` with ``AETHER_WRITE_SCREENSHOTS=1``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from app_db_support import connect_app_db
from openai_server import OpenAIServer, fixed_words
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from settings_support import Harness, focused, press, save_page_shot, settings_harness, show, tab_to

from aether_qt.core.paths import resolve_paths
from aether_qt.engines.router.cost_ledger import CostLedger
from aether_qt.engines.router.models import bundled_source
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.widgets.settings.pages_basic import GeneralPage, MemoryPage, VoicePage
from aether_qt.widgets.settings.pages_model import ModelPage, ProvidersPage
from aether_qt.widgets.settings.pages_policy import CostsPage, PermissionsPage

KEY = "sk-settings-canary-7f3a9c"  # a provider key: must reach the keyring and nothing else
Down, Tab, Space, Enter = Qt.Key.Key_Down, Qt.Key.Key_Tab, Qt.Key.Key_Space, Qt.Key.Key_Return
CTRL = Qt.KeyboardModifier.ControlModifier


def type_text(qtbot: QtBot, text: str) -> None:
    qtbot.keyClicks(focused(), text)


def next_page(qtbot: QtBot, h: Harness, title: str) -> None:
    press(qtbot, Qt.Key.Key_PageDown, CTRL)
    assert h.dialog.stack.currentWidget() is h.dialog.pages[h.dialog.page_list.currentRow()]
    assert h.dialog.pages[h.dialog.page_list.currentRow()].title == title
    assert focused() is h.dialog.page_list


def walk_general(qtbot: QtBot, h: Harness, page: GeneralPage) -> None:
    tab_to(qtbot, page.persona)
    before = page.persona.currentData()
    press(qtbot, Down)  # the next persona: switched at once (no turn is running)
    chosen = page.persona.currentData()
    assert chosen != before and "Persona chosen" in page.persona_message.text()
    assert h.personas.choices() and next(c for c in h.personas.choices() if c.active).persona_id == chosen
    assert [r.detail.get("to") for r in h.audit_rows() if r.decision == "persona_swap"][-1] == chosen
    tab_to(qtbot, page.speak)
    press(qtbot, Space)  # speak off: the typed-replies switch goes grey
    assert h.setting("voice.speak") is False and not page.speak_typed.isEnabled()
    press(qtbot, Space)  # on again
    tab_to(qtbot, page.speak_typed)
    press(qtbot, Space)
    assert (h.setting("voice.speak"), h.setting("voice.speak_typed")) == (True, True)
    assert "also to typed messages" in page.speech_message.text()


def walk_voice(qtbot: QtBot, h: Harness, page: VoicePage) -> None:
    tab_to(qtbot, page.key.field)
    press(qtbot, Qt.Key.Key_Space)  # starts capturing, as in the wizard
    press(qtbot, Qt.Key.Key_F8)
    assert page.key.field.text() == "F8" and h.setting("voice.ptt_hotkey") == "F8"
    assert page.key_message.text() == "Hold F8 to talk (applies when voice starts)."  # not started here
    tab_to(qtbot, page.backend)
    press(qtbot, Down)
    assert h.setting("voice.ptt_backend") == "x11" and "when voice starts" in page.backend_message.text()
    tab_to(qtbot, page.stt)
    press(qtbot, Down)  # the speech model folder the test put in the models folder
    assert str(h.setting("voice.stt_model")).endswith("vosk-model-small-en-us-0.15")


def walk_model(qtbot: QtBot, h: Harness, page: ModelPage) -> None:
    tab_to(qtbot, page.path)
    type_text(qtbot, str(bundled_source()))
    press(qtbot, Enter)  # registers the GGUF by reference and answers with it
    model_id = str(h.setting("router.model_id"))
    assert model_id and h.loaded == [model_id] and page.path.text() == ""
    assert page.model.currentData() == model_id and "Loading" in page.add_message_label.text()


def walk_providers(qtbot: QtBot, h: Harness, page: ProvidersPage, server: OpenAIServer, shots: Path) -> None:
    tab_to(qtbot, page.name)
    for text in ("lan", server.base_url, "test-model", KEY):
        type_text(qtbot, text)
        press(qtbot, Tab)
    assert focused() is page.add_button
    press(qtbot, Space)
    assert page.add_message_label.text().startswith("Added lan (its key is in the keyring)")
    assert page.key.text() == "" and page.key.echoMode() == page.key.EchoMode.Password
    assert h.runtime.keystore.get_provider_key("lan") == KEY
    assert h.router.remote is not None and h.router.remote.provider is not None  # rebuilt live
    assert h.router.remote.provider.name == "lan"
    assert h.setting("router.active") == "lan" and h.setting("router.privacy") == "remote-non-sensitive"
    allows = [r for r in h.audit_rows() if r.capability == "router.remote" and r.decision == "allow"]
    assert allows and allows[-1].actor == "user"
    tab_to(qtbot, page.providers)
    press(qtbot, Down)
    assert page.selected() == "lan"
    tab_to(qtbot, page.test_button)
    press(qtbot, Space)  # the request travels in a worker thread: the dialog stays responsive
    assert page.testing and page.list_message.text() == "Testing lan…"
    qtbot.waitUntil(lambda: not page.testing, timeout=20_000)
    assert page.list_message.text().startswith("lan: OK") and server.requests
    assert server.requests[-1].headers.get("authorization") == f"Bearer {KEY}"
    tab_to(qtbot, page.posture)
    press(qtbot, Down)
    assert h.setting("router.privacy") == "remote"
    save_page_shot(qtbot, h.dialog, "providers", shots)
    tab_to(qtbot, page.providers)
    tab_to(qtbot, page.remove_button)
    press(qtbot, Space)
    assert page.list_message.text().startswith("Removed lan (1 permission(s) withdrawn)")
    assert h.runtime.keystore.get_provider_key("lan") is None and h.router.remote is None
    assert [r.decision for r in h.audit_rows()][-1] == "grant_revoked"


def walk_permissions(qtbot: QtBot, h: Harness, page: PermissionsPage, folder: Path) -> None:
    tab_to(qtbot, page.preset)
    press(qtbot, Qt.Key.Key_Up)  # Observer: shown first, nothing changes yet
    assert "run a shell command" in page.summary.text() and h.runtime.preset().value == "Assistant"
    tab_to(qtbot, page.apply_preset)
    press(qtbot, Space)
    assert h.runtime.preset().value == "Observer" and h.runtime.gate.config.preset.value == "Observer"
    cascade = [r for r in h.audit_rows() if r.decision == "cascade"][-1]
    assert cascade.reason == "preset_change" and cascade.detail["to"] == "Observer"
    tab_to(qtbot, page.folder)
    type_text(qtbot, str(folder))
    press(qtbot, Enter)
    assert str(folder) in [page.roots.item(i).text() for i in range(page.roots.count())]
    assert folder in h.runtime.approved_roots() and folder in h.runtime.gate.config.approved_roots
    assert [r.reason for r in h.audit_rows() if r.decision == "cascade"][-1] == "config_change"
    tab_to(qtbot, page.pause)
    press(qtbot, Space)
    assert h.runtime.gate.paused and [r.decision for r in h.audit_rows()][-1] == "pause"
    press(qtbot, Space)
    assert not h.runtime.gate.paused


def walk_memory(qtbot: QtBot, h: Harness, page: MemoryPage) -> None:
    tab_to(qtbot, page.retention)
    press(qtbot, Down)
    press(qtbot, Down)  # forever -> 365 days -> 90 days
    assert (
        h.setting("memory.retention") == "days:90"
        and page.retention_message.text() == "Memories: for 90 days."
    )


def type_caps(qtbot: QtBot, page: CostsPage) -> None:
    tab_to(qtbot, page.daily)
    page.daily.selectAll()
    type_text(qtbot, "2.5")
    press(qtbot, Tab)
    page.monthly.selectAll()
    type_text(qtbot, "$20")
    press(qtbot, Enter)


def walk_costs(qtbot: QtBot, h: Harness, page: CostsPage) -> None:
    type_caps(qtbot, page)  # Observer never changes the caps: the gate's refusal is said, nothing changes
    assert page.caps_message.property("settings_error") is True
    assert "Observer preset does not allow it" in page.caps_message.text()
    assert CostLedger(database=h.runtime.database).state().daily_cap_micros == 1_000_000
    press(qtbot, Qt.Key.Key_PageUp, CTRL)
    press(qtbot, Qt.Key.Key_PageUp, CTRL)
    permissions = h.dialog.show_page("Permissions")
    assert isinstance(permissions, PermissionsPage)
    tab_to(qtbot, permissions.preset)
    press(qtbot, Down)  # back to Assistant, which asks: the click is the answer
    tab_to(qtbot, permissions.apply_preset)
    press(qtbot, Space)
    assert h.runtime.preset().value == "Assistant"
    press(qtbot, Qt.Key.Key_PageDown, CTRL)
    press(qtbot, Qt.Key.Key_PageDown, CTRL)
    assert h.dialog.stack.currentWidget() is page and page.daily.text() == "1"  # shows what is in force
    type_caps(qtbot, page)
    state = CostLedger(database=h.runtime.database).state()
    assert (state.daily_cap_micros, state.monthly_cap_micros) == (2_500_000, 20_000_000)
    assert "audited as" in page.caps_message.text()
    rows = [r for r in h.audit_rows() if r.capability == "cost.admin" and r.resource == "costs:caps"]
    assert [r.decision for r in rows if r.decision != "grant_spent"][-2:] == [
        "ask",
        "allow",
    ]  # the click answered
    assert {r.actor for r in rows if r.decision == "allow"} == {"user"}
    assert not page.rearm.isEnabled()  # nothing is tripped: re-arming is the user's act, when needed


@pytest.mark.slow
def test_every_page_changed_by_keyboard_is_applied_persisted_and_audited(
    qtbot: QtBot, x11: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    home, folder = tmp_path / "home", tmp_path / "projects"
    folder.mkdir()
    speech = resolve_paths(home).ensure().models_dir / "vosk-model-small-en-us-0.15" / "am"
    speech.mkdir(parents=True)
    (speech / "final.mdl").write_bytes(b"\0")
    shots = tmp_path / "shots"
    with OpenAIServer(fixed_words("OK")) as server, settings_harness(qtbot, home) as h:
        show(qtbot, h.dialog)
        assert focused() is h.dialog.page_list
        general, voice, model, providers, permissions, memory, costs = h.dialog.pages
        walk_general(qtbot, h, general)  # type: ignore[arg-type]
        save_page_shot(qtbot, h.dialog, "general", shots)
        for title, walk in (
            ("Voice", lambda: walk_voice(qtbot, h, voice)),  # type: ignore[arg-type]
            ("Model", lambda: walk_model(qtbot, h, model)),  # type: ignore[arg-type]
            ("Providers", lambda: walk_providers(qtbot, h, providers, server, shots)),  # type: ignore[arg-type]
            ("Permissions", lambda: walk_permissions(qtbot, h, permissions, folder)),  # type: ignore[arg-type]
            ("Memory", lambda: walk_memory(qtbot, h, memory)),  # type: ignore[arg-type]
            ("Costs", lambda: walk_costs(qtbot, h, costs)),  # type: ignore[arg-type]
        ):
            next_page(qtbot, h, title)
            walk()
            if title != "Providers":  # saved mid-walk, with the provider listed
                save_page_shot(qtbot, h.dialog, title, shots)
        press(qtbot, Qt.Key.Key_PageUp, CTRL)
        assert h.dialog.pages[h.dialog.page_list.currentRow()].title == "Memory"
        press(qtbot, Qt.Key.Key_Escape)
        assert not h.dialog.isVisible()
        QApplication.processEvents()

    with PolicyRuntime.open(resolve_paths(home)) as again:  # persisted: a new start reads it all back
        stored = {
            key: again.settings.get(key)
            for key in (
                "voice.speak",
                "voice.speak_typed",
                "voice.ptt_hotkey",
                "voice.ptt_backend",
                "memory.retention",
                "router.privacy",
                "router.active",
                "policy.preset",
            )
        }
        assert stored == {
            "voice.speak": True,
            "voice.speak_typed": True,
            "voice.ptt_hotkey": "F8",
            "voice.ptt_backend": "x11",
            "memory.retention": "days:90",
            "router.privacy": "remote",
            "router.active": "",
            "policy.preset": "Assistant",
        }
        assert folder in again.approved_roots() and again.settings.get("router.model_id")
        assert again.settings.get("persona.active") not in (None, "aether")
        assert CostLedger(database=again.database).state().daily_cap_micros == 2_500_000
        assert again.verify().intact
    raw = connect_app_db(resolve_paths(home))
    try:
        tables = [row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        dump = "\n".join(str(row) for table in tables for row in raw.execute(f'SELECT * FROM "{table}"'))
    finally:
        raw.close()
    assert "voice.ptt_hotkey" in dump and KEY not in dump  # the key went to the keyring only
    audit = resolve_paths(home).audit_db.read_bytes()
    assert KEY.encode() not in audit
    assert caplog.records and KEY not in caplog.text  # nor in any log line
