"""Bad input in the Settings dialog: the reason shows in red next to the field, and nothing changes.

Over a real home (see ``settings_support``): for each refusal, the settings
table of ``aether.db``, the audit log and the keyring are compared before and
after, so a refused change is neither half-stored nor audited as if it happened.
"""

from __future__ import annotations

from pathlib import Path

from app_db_support import connect_app_db
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot
from settings_support import Harness, focused, press, settings_harness, show, tab_to

from aether_qt.core.paths import resolve_paths
from aether_qt.engines.persona.registry import user_personas_dir
from aether_qt.widgets.settings.page import ERROR_PROPERTY
from aether_qt.widgets.settings.pages_basic import GeneralPage, VoicePage
from aether_qt.widgets.settings.pages_model import ModelPage, ProvidersPage
from aether_qt.widgets.settings.pages_policy import CostsPage, PermissionsPage

REPO = Path(__file__).resolve().parents[2]
Tab, Enter, Space = Qt.Key.Key_Tab, Qt.Key.Key_Return, Qt.Key.Key_Space


def stored(h: Harness) -> list[tuple[str, str]]:
    """Every setting as ``aether.db`` holds it."""
    raw = connect_app_db(h.runtime.paths)
    try:
        return sorted(raw.execute("SELECT key, value FROM settings").fetchall())
    finally:
        raw.close()


def refused(message: QLabel, words: str) -> None:
    assert message.property(ERROR_PROPERTY) is True, message.text()
    assert words in message.text() and "#c62828" in message.styleSheet()
    assert message.isVisible()


def type_into(qtbot: QtBot, widget: object, text: str) -> None:
    tab_to(qtbot, widget)  # type: ignore[arg-type]
    focused().clear()  # type: ignore[attr-defined]
    qtbot.keyClicks(focused(), text)


def refuse_general(qtbot: QtBot, h: Harness, page: GeneralPage, broken: Path) -> None:
    broken.write_text("schema_version: 1\nid: pip2\nname: [not, a, name\n", encoding="utf-8")  # breaks now
    tab_to(qtbot, page.persona)
    press(qtbot, Qt.Key.Key_Home)  # the user's own persona is listed first
    refused(page.persona_message, "That persona does not load")


def refuse_voice(qtbot: QtBot, page: VoicePage) -> None:
    tab_to(qtbot, page.key.field)
    press(qtbot, Qt.Key.Key_Space)  # starts capturing
    press(qtbot, Qt.Key.Key_A)
    refused(page.key_message, "A is used for typing. Add Ctrl, Alt or Super to it")
    press(qtbot, Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier)
    refused(page.key_message, "Alt+F4 is used by your desktop")
    press(qtbot, Qt.Key.Key_Escape)  # cancels capturing; the dialog stays open
    assert page.key.field.text() == "F9" and page.isVisible()


def refuse_model(qtbot: QtBot, page: ModelPage, not_gguf: Path) -> None:
    tab_to(qtbot, page.path)
    press(qtbot, Enter)
    refused(page.add_message_label, "Choose a GGUF model file first")
    type_into(qtbot, page.path, str(not_gguf))
    press(qtbot, Enter)
    refused(page.add_message_label, "Not added:")
    assert page.path.text() == str(not_gguf)  # kept, to be corrected


def refuse_providers(qtbot: QtBot, h: Harness, page: ProvidersPage) -> None:
    page.use_button.setEnabled(True)  # a stale list: the button is pressed with nothing selected
    tab_to(qtbot, page.use_button)
    press(qtbot, Space)
    refused(page.list_message, "Select a provider in the list first")
    for name, url, key, words in (
        ("", "http://127.0.0.1:9/v1", "", "Not added:"),
        ("lan", "ftp://127.0.0.1/v1", "", "Not added:"),
        ("lan", "http://127.0.0.1:9/v1", "two words", "not a single word"),
    ):
        type_into(qtbot, page.name, name)
        type_into(qtbot, page.url, url)
        type_into(qtbot, page.model, "m")
        type_into(qtbot, page.key, key)
        press(qtbot, Enter)
        refused(page.add_message_label, words)
        assert key not in page.add_message_label.text() or not key
    assert page.providers.count() == 0 and h.runtime.keystore.get_provider_key("lan") is None


def refuse_permissions(qtbot: QtBot, page: PermissionsPage, missing: Path) -> None:
    type_into(qtbot, page.folder, str(missing))
    press(qtbot, Enter)
    refused(page.roots_message, "is not a folder on this computer")
    page.roots.setCurrentRow(-1)
    tab_to(qtbot, page.remove_root)
    press(qtbot, Space)
    refused(page.roots_message, "Select a folder in the list first")


def refuse_costs(qtbot: QtBot, page: CostsPage) -> None:
    for daily, words in (("abc", "Type the daily cap in dollars"), ("-5", "Caps not changed")):
        type_into(qtbot, page.daily, daily)
        press(qtbot, Enter)
        refused(page.caps_message, words)


def test_each_page_refuses_bad_input_next_to_the_field_and_changes_nothing(
    qtbot: QtBot, x11: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    mine = user_personas_dir(resolve_paths(home).ensure().data_dir) / "pip2.yaml"
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text(
        (REPO / "personas" / "pip.yaml").read_text(encoding="utf-8").replace("id: pip\n", "id: pip2\n"),
        encoding="utf-8",
    )
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("not a model", encoding="utf-8")
    with settings_harness(qtbot, home) as h:
        show(qtbot, h.dialog)
        settings_before, audit_before, seen = stored(h), len(h.audit_rows()), len(h.events)
        general, voice, model, providers, permissions, _memory, costs = h.dialog.pages
        refuse_general(qtbot, h, general, mine)  # type: ignore[arg-type]
        for page, refuse in (
            (voice, lambda: refuse_voice(qtbot, voice)),  # type: ignore[arg-type]
            (model, lambda: refuse_model(qtbot, model, not_gguf)),  # type: ignore[arg-type]
            (providers, lambda: refuse_providers(qtbot, h, providers)),  # type: ignore[arg-type]
            (permissions, lambda: refuse_permissions(qtbot, permissions, tmp_path / "nowhere")),  # type: ignore[arg-type]
            (costs, lambda: refuse_costs(qtbot, costs)),  # type: ignore[arg-type]
        ):
            h.dialog.show_page(page.title)
            refuse()
        assert stored(h) == settings_before  # nothing half-stored
        assert len(h.audit_rows()) == audit_before  # and nothing audited as done or decided
        assert h.loaded == [] and h.runtime.preset().value == "Assistant"
        assert not any(
            e.kind.startswith(("policy.", "grants.", "persona.did_activate")) for e in h.events[seen:]
        )
