"""The memory panel over a real memory service, policy runtime and memory thread.

Each test opens a fresh home (opt-in key file, ``fail`` keyring), starts a
:class:`MemoryService` with the real MiniLM embedder in a :class:`MemoryHost`
thread, seeds memories through the service's own gated user actions, and drives
the panel with the keyboard and its buttons. Dialogs are injected: ``confirm``
and ``choose_file`` answer without a modal window.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from keyring_support import no_keyring
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.events import MemoryStatusChanged
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.memory.items import Kind, MemoryItem, PrivacyClass
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.policy.user_words import leaks, sentence_for
from aether_qt.services.memory.host import MemoryHost
from aether_qt.services.memory.service import MemoryService
from aether_qt.storage.cipher import unseal_with_passphrase
from aether_qt.storage.sql import execute
from aether_qt.widgets.memory.details import MemoryTable, used_in_reply
from aether_qt.widgets.memory.panel import MemoryPanel

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "tangerine-lighthouse"
MIRA = "my sister's name is Mira"
LENA = "my sister's name is Lena"
TEA = "I like green tea in the morning"
BIKE = "the bike lock code is written in the blue notebook"
StartMemory = Callable[..., MemoryHost]
MakePanel = Callable[[MemoryHost], MemoryPanel]


@pytest.fixture
def fail_keyring() -> Iterator[None]:
    with no_keyring():
        yield


@pytest.fixture
def runtime(home: Path, fail_keyring: None) -> Iterator[PolicyRuntime]:
    rt = PolicyRuntime.open(resolve_paths(home), allow_key_file=True)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def start_memory(qtbot: QtBot, runtime: PolicyRuntime, bus: EventBus, home: Path) -> Iterator[StartMemory]:
    """``start_memory(load_embedder=True)``: a host whose service has started (``run=False``: not yet)."""
    hosts: list[MemoryHost] = []

    def start(*, load_embedder: bool = True, run: bool = True) -> MemoryHost:
        paths = resolve_paths(home)
        service = MemoryService(runtime=runtime, bus=bus, paths=paths, load_embedder=load_embedder)
        host = MemoryHost(service=service)
        hosts.append(host)
        if not run:
            return host
        host.start()
        qtbot.waitUntil(lambda: service.started, timeout=30_000)
        qtbot.waitUntil(lambda: service.status.state in {"ready", "fts_only"}, timeout=30_000)
        return host

    yield start
    for host in hosts:
        host.stop()


@pytest.fixture
def host(start_memory: StartMemory) -> MemoryHost:
    """A started memory holding four memories, newest first: Lena (contradicts Mira), bike, tea, Mira."""
    host = start_memory()
    svc = host.service
    svc.edits.add(MIRA, kind=Kind.FACT)
    svc.edits.add(TEA, kind=Kind.PREFERENCE, privacy=PrivacyClass.PUBLIC)
    svc.edits.add(BIKE, kind=Kind.NOTE, privacy=PrivacyClass.SENSITIVE)
    svc.edits.add(LENA, kind=Kind.FACT)
    return host


class Dialogs:
    """Answers the panel's questions without modal windows, and remembers them."""

    def __init__(self) -> None:
        self.confirm_answer = True
        self.questions: list[tuple[str, str]] = []
        self.path: Path | None = None

    def confirm(self, title: str, text: str) -> bool:
        self.questions.append((title, text))
        return self.confirm_answer

    def choose_file(self, title: str, save: bool) -> Path | None:
        self.questions.append((title, "save" if save else "open"))
        return self.path

    def ask_passphrase(self, title: str, confirm: bool) -> str | None:
        self.questions.append((title, "passphrase twice" if confirm else "passphrase"))
        return PASSPHRASE


@pytest.fixture
def dialogs() -> Dialogs:
    return Dialogs()


@pytest.fixture
def make_panel(qtbot: QtBot, bridge: QtBusBridge, dialogs: Dialogs) -> MakePanel:
    def make(host: MemoryHost) -> MemoryPanel:
        panel = MemoryPanel(
            host=host,
            bus_bridge=bridge,
            confirm=dialogs.confirm,
            choose_file=dialogs.choose_file,
            ask_passphrase=dialogs.ask_passphrase,
        )
        qtbot.addWidget(panel)
        panel.resize(1100, 600)
        panel.show()
        qtbot.waitExposed(panel)
        expected = [item.id for item in host.service.list_items() if item.kind is not Kind.EPISODE]
        qtbot.waitUntil(lambda: panel.item_ids() == expected, timeout=5000)
        return panel

    return make


def item_with(host: MemoryHost, text: str) -> MemoryItem:
    [item] = [i for i in host.service.list_items() if i.text == text]
    return item


def focus(qtbot: QtBot, panel: MemoryPanel, widget: QWidget) -> None:
    """Give ``widget`` the keyboard focus in the panel's active window (shortcuts need it)."""
    panel.activateWindow()
    qtbot.waitUntil(panel.isActiveWindow, timeout=3000)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=3000)


def select(qtbot: QtBot, panel: MemoryPanel, item_id: str) -> None:
    assert panel.select(item_id)
    qtbot.waitUntil(lambda: panel.selected_id() == item_id, timeout=3000)


def finish(qtbot: QtBot, panel: MemoryPanel, act: Callable[[], object]) -> str:
    """Run ``act``, wait for the change it starts and the reload after it; the status line's sentence."""
    with qtbot.waitSignal(panel.sig_action_finished, timeout=10_000) as blocker:
        act()
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):
        pass
    return str(blocker.args[0])


def shown_texts(panel: MemoryPanel) -> list[str]:
    return [panel.table.item(r, 0).text() for r in range(panel.table.rowCount())]


def test_lists_newest_first_and_filters_by_kind(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel
) -> None:
    panel = make_panel(host)
    assert shown_texts(panel) == [LENA, BIKE, TEA, MIRA]
    row = [panel.table.item(1, c).text() for c in range(panel.table.columnCount())]
    assert row[:4] == [BIKE, "Note", "Sensitive", "You asked"]
    assert row[4].startswith("today ")  # remembered a moment ago
    assert panel.count_label.text() == "4 memories"

    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):
        panel.kind_filter.setCurrentIndex(panel.kind_filter.findText("Facts"))
    assert shown_texts(panel) == [LENA, MIRA]
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):
        panel.kind_filter.setCurrentIndex(panel.kind_filter.findText("Preferences"))
    assert shown_texts(panel) == [TEA]
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):
        panel.kind_filter.setCurrentIndex(panel.kind_filter.findText("Conversation episodes"))
    assert shown_texts(panel) == [] and panel.count_label.text() == "0 memories"


def test_a_question_asked_in_a_chat_is_no_memory_in_the_list(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel
) -> None:
    asked = host.service.record_episode("what is my favourite colour?", turn_id="t1", persona_id="aether")
    assert asked is not None and asked.ok  # the conversation keeps it, for this session
    panel = make_panel(host)
    assert panel.kind_filter.currentText() == "All memories"
    qtbot.waitUntil(lambda: shown_texts(panel) == [LENA, BIKE, TEA, MIRA], timeout=5000)
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):
        panel.kind_filter.setCurrentIndex(panel.kind_filter.findText("Conversation episodes"))
    assert shown_texts(panel) == ["what is my favourite colour?"]
    assert panel.table.item(0, 1).text() == "Episode"


def test_typing_a_query_shows_the_matching_memory_first(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel
) -> None:
    panel = make_panel(host)
    focus(qtbot, panel, panel.table)
    qtbot.keyClick(panel.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert panel.search_field.hasFocus()
    qtbot.keyClicks(panel.search_field, "green tea")
    qtbot.waitUntil(lambda: panel.item_ids()[:1] == [item_with(host, TEA).id], timeout=5000)
    assert shown_texts(panel)[0] == TEA
    assert "match “green tea”" in panel.count_label.text()
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):  # the filter applies to results too
        panel.kind_filter.setCurrentIndex(panel.kind_filter.findText("Facts"))
    assert TEA not in shown_texts(panel)
    panel.kind_filter.setCurrentIndex(0)
    qtbot.keyClick(panel.search_field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(panel.search_field, Qt.Key.Key_Backspace)  # an empty query lists again
    qtbot.waitUntil(lambda: shown_texts(panel) == [LENA, BIKE, TEA, MIRA], timeout=5000)


def test_the_selection_shows_provenance_and_a_contradiction(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel
) -> None:
    panel = make_panel(host)
    details = panel.details
    assert details.currentIndex() == 0  # the hint: nothing selected yet
    lena = item_with(host, LENA)
    select(qtbot, panel, lena.id)
    assert details.editor.text() == LENA
    assert details.fields["source"].text() == "you asked me to remember it"
    assert details.fields["trust"].text() == "trusted: you confirmed it"
    assert details.fields["audit"].text() == lena.provenance.audit_id != ""
    assert details.fields["captured"].text()[-8:].count(":") == 2  # local time with seconds
    assert details.fields["confidence"].text() == "0.95"
    assert details.fields["seen"].text() == "1 time"
    assert details.fields["retention"].text() == "kept until you forget it"
    assert details.privacy_box.currentText() == "private"
    assert details.contradicts.isVisible()
    assert f"Contradicts: “{MIRA}”" in details.contradicts.text()

    select(qtbot, panel, item_with(host, MIRA).id)
    assert not details.contradicts.isVisible()


def test_editing_text_saves_through_the_gate_and_keeps_the_selection(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel, runtime: PolicyRuntime
) -> None:
    panel = make_panel(host)
    tea = item_with(host, TEA)
    select(qtbot, panel, tea.id)
    focus(qtbot, panel, panel.details.editor)
    panel.details.editor.selectAll()
    qtbot.keyClicks(panel.details.editor, "I like jasmine tea")
    assert (
        finish(qtbot, panel, lambda: qtbot.keyClick(panel.details.editor, Qt.Key.Key_Return)) == "Corrected."
    )
    edited = host.service.get(tea.id)
    assert edited is not None and edited.text == "I like jasmine tea"
    assert edited.provenance == tea.provenance  # a correction keeps where it came from
    assert runtime.audit is not None
    rows = [
        r
        for r in runtime.audit.rows()
        if r.capability == "memory.write.durable" and r.resource == f"memory:{tea.id}"
    ]
    assert [r.decision for r in rows] == ["allow"]
    assert "jasmine" not in rows[0].resource  # the log names the act, never the words
    qtbot.waitUntil(lambda: "I like jasmine tea" in shown_texts(panel), timeout=3000)
    assert panel.selected_id() == tea.id
    assert panel.status_line.text() == "Corrected."

    panel.details.editor.setText("my tea is rooibos")  # Ctrl+S saves as well
    panel.details.editor.setModified(True)
    focus(qtbot, panel, panel.details.editor)
    finish(
        qtbot,
        panel,
        lambda: qtbot.keyClick(panel.details.editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier),
    )
    assert host.service.get(tea.id).text == "my tea is rooibos"  # type: ignore[union-attr]


def test_an_empty_text_is_refused_before_any_job(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel
) -> None:
    panel = make_panel(host)
    mira = item_with(host, MIRA)
    select(qtbot, panel, mira.id)
    panel.details.editor.setText("   ")
    panel.details.save_button.click()
    assert not panel.busy and "empty" in panel.status_line.text()
    assert host.service.get(mira.id).text == MIRA  # type: ignore[union-attr]


def test_privacy_changes_from_the_combo(qtbot: QtBot, host: MemoryHost, make_panel: MakePanel) -> None:
    panel = make_panel(host)
    mira = item_with(host, MIRA)
    select(qtbot, panel, mira.id)
    box = panel.details.privacy_box
    focus(qtbot, panel, box)
    assert finish(qtbot, panel, lambda: qtbot.keyClick(box, Qt.Key.Key_Down)) == "Privacy set to sensitive."
    assert host.service.get(mira.id).privacy is PrivacyClass.SENSITIVE  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: panel.table.item(panel.item_ids().index(mira.id), 2).text() == "Sensitive")
    assert panel.selected_id() == mira.id and box.currentText() == "sensitive"


def test_delete_forgets_and_selects_the_next_memory(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel
) -> None:
    panel = make_panel(host)
    bike = item_with(host, BIKE)
    select(qtbot, panel, bike.id)
    focus(qtbot, panel, panel.table)
    message = finish(qtbot, panel, lambda: qtbot.keyClick(panel.table, Qt.Key.Key_Delete))
    assert message.startswith("Forgotten")
    qtbot.waitUntil(lambda: bike.id not in panel.item_ids(), timeout=3000)
    assert host.service.get(bike.id) is None
    assert panel.selected_id() == item_with(host, TEA).id  # the row below moved up


def test_forget_now_asks_first_then_erases_the_text(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel, runtime: PolicyRuntime, dialogs: Dialogs
) -> None:
    panel = make_panel(host)
    bike = item_with(host, BIKE)
    select(qtbot, panel, bike.id)
    focus(qtbot, panel, panel.table)
    dialogs.confirm_answer = False
    qtbot.keyClick(panel.table, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    [(title, text)] = dialogs.questions
    assert title == "Forget now" and "erases the text for good" in text
    assert not panel.busy and host.service.get(bike.id) is not None

    dialogs.confirm_answer = True
    message = finish(
        qtbot,
        panel,
        lambda: qtbot.keyClick(panel.table, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier),
    )
    assert message == "Forgotten and erased."
    assert host.service.get(bike.id) is None
    [(stored,)] = execute(
        runtime.database, "SELECT text FROM memory_items WHERE id = ?", (bike.id,)
    ).fetchall()
    assert stored == ""
    qtbot.waitUntil(lambda: bike.id not in panel.item_ids(), timeout=3000)


def test_actions_are_disabled_while_a_change_runs(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel
) -> None:
    panel = make_panel(host)
    select(qtbot, panel, item_with(host, MIRA).id)
    with qtbot.waitSignal(panel.sig_action_finished, timeout=10_000):
        panel.details.forget_button.click()
        # the job runs in the memory thread; its answer needs this thread's event loop
        assert panel.busy
        assert not panel.details.forget_button.isEnabled() and not panel.export_button.isEnabled()
    assert not panel.busy and panel.export_button.isEnabled()


def test_a_memory_gone_behind_the_panel_is_an_error_in_the_status_line(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel
) -> None:
    panel = make_panel(host)
    mira = item_with(host, MIRA)
    select(qtbot, panel, mira.id)
    host.service.edits.forget(mira.id)  # the CLI, say; the panel has not reloaded yet
    panel.details.editor.setText("my sister's name is Mirabel")
    message = finish(qtbot, panel, panel.details.save_button.click)
    assert message == "Could not save the memory: that memory is gone (forgotten or expired)."
    assert panel.status_line.text() == message
    qtbot.waitUntil(lambda: mira.id not in panel.item_ids(), timeout=3000)


def test_add_remembers_a_note_and_selects_it(qtbot: QtBot, host: MemoryHost, make_panel: MakePanel) -> None:
    panel = make_panel(host)
    focus(qtbot, panel, panel.table)
    qtbot.keyClick(panel.table, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert panel.add_row.isVisible() and panel.add_row.field.hasFocus()
    panel.add_row.kind_box.setCurrentIndex(panel.add_row.kind_box.findText("Preference"))
    qtbot.keyClicks(panel.add_row.field, "I prefer window seats")
    assert (
        finish(qtbot, panel, lambda: qtbot.keyClick(panel.add_row.field, Qt.Key.Key_Return)) == "Remembered."
    )
    added = item_with(host, "I prefer window seats")
    assert added.kind is Kind.PREFERENCE and added.privacy is PrivacyClass.PRIVATE
    qtbot.waitUntil(lambda: panel.selected_id() == added.id, timeout=3000)
    assert not panel.add_row.isVisible() and panel.add_row.field.text() == ""

    qtbot.keyClick(panel.table, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(panel.add_row.field, "never mind")
    qtbot.keyClick(panel.add_row.field, Qt.Key.Key_Escape)  # Esc cancels
    assert not panel.add_row.isVisible() and panel.add_row.field.text() == ""


def test_a_change_made_elsewhere_shows_up_and_keeps_the_selection_and_typing(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel
) -> None:
    panel = make_panel(host)
    tea = item_with(host, TEA)
    select(qtbot, panel, tea.id)
    focus(qtbot, panel, panel.details.editor)
    panel.details.editor.selectAll()
    qtbot.keyClicks(panel.details.editor, "I like oolong")  # not saved yet
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):
        host.service.edits.add("the plumber comes on Thursday")  # published on the bus, bridged here
    assert shown_texts(panel)[0] == "the plumber comes on Thursday"
    assert panel.selected_id() == tea.id
    assert panel.details.editor.text() == "I like oolong"


def test_export_writes_json_in_an_approved_folder(
    qtbot: QtBot,
    host: MemoryHost,
    make_panel: MakePanel,
    runtime: PolicyRuntime,
    dialogs: Dialogs,
    tmp_path: Path,
) -> None:
    panel = make_panel(host)
    runtime.set_roots((tmp_path,))
    dialogs.path = tmp_path / "memories.json"
    message = finish(qtbot, panel, panel.export_button.click)
    assert message == f"Exported 4 memories to {dialogs.path}."
    sealed = dialogs.path.read_bytes()
    assert all(text.encode() not in sealed for text in (MIRA, TEA, BIKE, LENA)), "no memory leaves in clear"
    data = json.loads(unseal_with_passphrase(sealed, PASSPHRASE))
    assert sorted(e["text"] for e in data["items"]) == sorted([MIRA, TEA, BIKE, LENA])

    message = finish(qtbot, panel, panel.export_button.click)  # never overwrites
    assert message.startswith("Could not export: ") and "exists" in message
    assert panel.status_line.text() == message

    dialogs.path = tmp_path.parent / "outside.json"
    message = finish(qtbot, panel, panel.export_button.click)
    assert message == sentence_for("outside_approved_roots") and not leaks(message)
    assert not dialogs.path.exists()


def test_importing_a_malformed_file_names_the_entry_and_writes_nothing(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel, dialogs: Dialogs, tmp_path: Path
) -> None:
    panel = make_panel(host)
    good = {
        "id": "ok-1",
        "kind": "note",
        "text": "the boiler was serviced in May",
        "privacy_class": "private",
    }
    bad = {"id": "bad-2", "kind": "gossip", "text": "a rumour", "privacy_class": "private"}
    dialogs.path = tmp_path / "broken.json"
    dialogs.path.write_text(json.dumps({"format": 1, "items": [good, bad]}), encoding="utf-8")
    message = finish(qtbot, panel, panel.import_button.click)
    assert message.startswith("Could not import: memory import rejected: entry 1 (id bad-2)")
    assert "gossip" in message and panel.status_line.text() == message
    assert len(host.service.list_items()) == 4
    assert shown_texts(panel) == [LENA, BIKE, TEA, MIRA]

    dialogs.path.write_text(json.dumps({"format": 1, "items": [good]}), encoding="utf-8")
    assert finish(qtbot, panel, panel.import_button.click) == "Imported 1 memory from broken.json."
    qtbot.waitUntil(lambda: "the boiler was serviced in May" in shown_texts(panel), timeout=3000)
    assert item_with(host, "the boiler was serviced in May").provenance.source == "imported"


def test_a_cancelled_file_choice_does_nothing(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel, dialogs: Dialogs
) -> None:
    panel = make_panel(host)
    panel.import_button.click()
    panel.export_button.click()
    assert dialogs.questions == [("Import memories", "open"), ("Export memories", "save")]
    assert not panel.busy and panel.status_line.text() == ""


def test_text_search_only_shows_the_banner_with_its_reason(
    qtbot: QtBot, start_memory: StartMemory, make_panel: MakePanel
) -> None:
    host = start_memory(load_embedder=False)
    host.service.edits.add(TEA, kind=Kind.PREFERENCE)
    panel = make_panel(host)
    assert panel.banner.isVisible() and not panel.banner.progress.isVisible()
    text = panel.banner.text.text()
    assert "ecall uses text search only: " in text and "the embedding model is turned off" in text
    qtbot.keyClicks(panel.search_field, "tea")  # text search still finds it
    qtbot.waitUntil(lambda: "match “tea”" in panel.count_label.text(), timeout=5000)
    assert shown_texts(panel) == [TEA]


def test_a_panel_opened_while_memory_starts_says_so_then_lists(
    qtbot: QtBot, start_memory: StartMemory, bridge: QtBusBridge
) -> None:
    host = start_memory(run=False)
    panel = MemoryPanel(host=host, bus_bridge=bridge)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.banner.isVisible() and panel.banner.text.text() == "memory is starting"
    assert panel.banner.progress.maximum() == 0  # busy: nothing to count yet
    with qtbot.waitSignal(panel.sig_items_shown, timeout=30_000):
        host.start()  # the panel's first reload waits in the memory thread's queue
    qtbot.waitUntil(lambda: not panel.banner.isVisible(), timeout=30_000)
    assert panel.item_ids() == [] and panel.count_label.text() == "0 memories"
    assert panel.status_line.text() == ""


def test_rebuild_progress_drives_the_banner(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel, bus: EventBus
) -> None:
    panel = make_panel(host)
    assert not panel.banner.isVisible()
    status = MemoryStatusChanged(
        state="rebuilding", progress=0.4, message="rebuilding the memory index (4/10)"
    )
    bus.publish(status, source_layer="L2")
    qtbot.waitUntil(panel.banner.isVisible, timeout=3000)
    assert panel.banner.progress.isVisible() and panel.banner.progress.value() == 40
    assert panel.banner.text.text() == "rebuilding the memory index (4/10)"
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):  # usable again: reload
        bus.publish(MemoryStatusChanged(state="ready", progress=1.0, message=""), source_layer="L2")
    assert not panel.banner.isVisible()


def test_screenshot_shows_a_memory_with_its_provenance(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel, tmp_path: Path
) -> None:
    dentist = {"kind": "fact", "text": "the dentist is Dr Okafor on Elm Street", "privacy_class": "private"}
    backup = tmp_path / "old-laptop.json"
    backup.write_text(json.dumps({"format": 1, "items": [dentist]}), encoding="utf-8")
    host.service.edits.import_file(backup)
    host.service.recall_for_turn("what is my sister's name?", turn_id="t1", persona_id="aether")  # used
    panel = make_panel(host)
    select(qtbot, panel, item_with(host, LENA).id)
    panel.table.setFocus()
    panel.status_line.setText("Corrected.")
    qtbot.wait(150)  # layout and repaint
    image = panel.grab().toImage()
    target = REPO / "docs" / "screenshots" if os.environ.get("AETHER_WRITE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    assert image.save(str(target / "memory-panel.png"))
    assert image.width() >= panel.width() and image.height() >= panel.height()
    background = QColor(image.pixel(2, image.height() - 2)).name()
    step = 6
    samples = [
        QColor(image.pixel(x, y)).name()
        for x in range(0, image.width(), step)
        for y in range(0, image.height(), step)
    ]
    inked = sum(1 for colour in samples if colour != background)
    assert inked > len(samples) * 0.05, f"only {inked} of {len(samples)} samples differ from the background"
    assert len(set(samples)) > 20  # text, table lines, the contradiction's orange box
    flag = panel.details.contradicts  # the contradiction is flagged in its orange box
    origin = flag.mapTo(panel, flag.rect().topLeft())
    ratio = image.width() / panel.width()
    box = [
        QColor(image.pixel(int(x * ratio), int(y * ratio))).name()
        for x in range(origin.x() + 4, origin.x() + flag.width() - 4, 3)
        for y in range(origin.y() + 3, origin.y() + flag.height() - 3, 3)
    ]
    assert box.count("#fff3e0") > len(box) * 0.5


def assert_in_step(panel: MemoryPanel) -> None:
    """The details show the selected row's memory, or the hint when no row is selected."""
    rows = panel.table.selectionModel().selectedRows()
    shown = panel.details.item
    if not rows:
        assert shown is None and panel.details.currentIndex() == 0
        return
    assert shown is not None and panel.details.currentIndex() == 1
    row_id = panel.item_ids()[rows[0].row()]
    assert shown.id == row_id, f"details show {shown.text!r}, row {rows[0].row()} is another memory"
    assert panel.details.editor.text() == shown.text


@pytest.mark.parametrize("start", [BIKE, MIRA])
def test_forget_twice_forgets_what_the_details_show_each_time(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel, start: str
) -> None:
    panel = make_panel(host)
    select(qtbot, panel, item_with(host, start).id)
    for _ in range(3):
        assert_in_step(panel)
        target = panel.details.item
        assert target is not None
        others = {i.id for i in host.service.list_items()} - {target.id}
        message = finish(qtbot, panel, panel.details.forget_button.click)
        assert message.startswith("Forgotten")
        assert host.service.get(target.id) is None
        assert {i.id for i in host.service.list_items()} == others  # the shown one, and only it
        assert target.id not in panel.item_ids()
        assert_in_step(panel)
        assert panel.details.item is not None  # a neighbour is selected and shown


def test_selection_and_details_stay_in_step_on_filter_refresh_and_arrival(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel
) -> None:
    panel = make_panel(host)
    select(qtbot, panel, item_with(host, TEA).id)
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):
        panel.kind_filter.setCurrentIndex(panel.kind_filter.findText("Facts"))
    assert_in_step(panel)
    assert panel.details.item is None  # tea is not a fact: nothing selected, nothing shown
    panel.details.forget_button.click()
    assert not panel.busy  # nothing to forget
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):
        panel.kind_filter.setCurrentIndex(0)
    select(qtbot, panel, item_with(host, MIRA).id)
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):
        host.service.edits.add("the plumber comes on Thursday")
    assert_in_step(panel)
    assert panel.selected_id() == item_with(host, MIRA).id
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):
        panel.refresh()
    assert_in_step(panel)
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):
        host.service.edits.forget(item_with(host, MIRA).id)  # forgotten elsewhere (the CLI)
    assert_in_step(panel)
    assert panel.details.item is None


def test_forget_can_be_undone_from_the_bar_and_ctrl_z_until_the_purge(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel, runtime: PolicyRuntime, tmp_path: Path
) -> None:
    panel = make_panel(host)
    bar = panel.undo_bar
    assert not bar.isVisible()
    bike = item_with(host, BIKE)
    select(qtbot, panel, bike.id)
    finish(qtbot, panel, panel.details.forget_button.click)
    qtbot.waitUntil(bar.isVisible, timeout=3000)
    assert BIKE in bar.text.text() and bar.undo_button.toolTip()
    image = panel.grab().toImage()  # the bar, as the user sees it
    assert image.save(str(shot_dir(tmp_path) / "memory-panel-undo.png"))
    assert finish(qtbot, panel, bar.undo_button.click) == "Brought back."
    assert host.service.get(bike.id) == bike  # text, privacy (sensitive), provenance: exactly
    assert runtime.audit is not None
    row = runtime.audit.rows()[-1]
    assert (row.capability, row.resource, row.decision, row.actor) == (
        "memory.write.durable",
        f"memory:{bike.id}",
        "allow",
        "user",
    )
    qtbot.waitUntil(lambda: panel.selected_id() == bike.id, timeout=3000)
    assert_in_step(panel)
    assert not bar.isVisible()

    tea = item_with(host, TEA)  # Del forgets, Ctrl+Z brings back
    select(qtbot, panel, tea.id)
    focus(qtbot, panel, panel.table)
    finish(qtbot, panel, lambda: qtbot.keyClick(panel.table, Qt.Key.Key_Delete))
    assert host.service.get(tea.id) is None and bar.isVisible()
    focus(qtbot, panel, panel.table)
    finish(
        qtbot, panel, lambda: qtbot.keyClick(panel.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    )
    assert host.service.get(tea.id) == tea
    qtbot.waitUntil(lambda: panel.selected_id() == tea.id, timeout=3000)

    select(qtbot, panel, tea.id)  # after the purge there is nothing to undo
    finish(qtbot, panel, panel.details.forget_button.click)
    assert bar.isVisible()
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):
        host.service.maintain(grace_s=0.0)  # the grace period is over
    assert not bar.isVisible()
    focus(qtbot, panel, panel.table)
    qtbot.keyClick(panel.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not panel.busy and host.service.get(tea.id) is None


def shot_dir(tmp_path: Path) -> Path:
    target = REPO / "docs" / "screenshots" if os.environ.get("AETHER_WRITE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    return target


def test_when_a_memory_was_last_used_in_a_reply_is_shown(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel
) -> None:
    panel = make_panel(host)
    tea = item_with(host, TEA)
    select(qtbot, panel, tea.id)
    used = panel.details.fields["last_used"]
    assert used.text() == "Never used yet"
    column = MemoryTable.HEADERS.index("Last used")
    row = panel.item_ids().index(tea.id)
    assert panel.table.item(row, column).text() == "never"
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):  # a turn recalls it into its prompt
        result, _ = host.service.recall_for_turn("green tea in the morning", turn_id="t1", persona_id="a")
    assert tea.id in [hit.item_id for hit in result.hits]
    assert panel.selected_id() == tea.id
    assert_in_step(panel)
    assert used.text().startswith("today ") and used.text()[-5:-3].isdigit()
    row = panel.item_ids().index(tea.id)
    assert panel.table.item(row, column).text() == used.text()
    assert panel.table.item(panel.item_ids().index(item_with(host, BIKE).id), column).text() == "never"


def test_used_in_reply_wording() -> None:
    noon = int(time.mktime((2026, 12, 7, 12, 0, 0, 0, 0, -1)) * 1000)
    hour = 3_600_000
    assert used_in_reply(None, noon) == "Never used yet"
    assert used_in_reply(noon - 2 * hour, noon) == "today 10:00"
    assert used_in_reply(noon - 24 * hour, noon) == "yesterday 12:00"
    assert used_in_reply(noon - 72 * hour, noon) == "Fri 04 Dec 2026, 12:00"


def test_undo_of_a_memory_erased_meanwhile_says_so_and_drops_the_bar(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel, runtime: PolicyRuntime
) -> None:
    panel = make_panel(host)
    mira = item_with(host, MIRA)
    select(qtbot, panel, mira.id)
    finish(qtbot, panel, panel.details.forget_button.click)
    assert panel.undo_bar.isVisible()
    # erased behind the panel's back (the sweep in another process, say): no event reached the panel
    execute(runtime.database, "UPDATE memory_items SET text = '', purged = 1 WHERE id = ?", (mira.id,))
    message = finish(qtbot, panel, panel.undo_bar.undo_button.click)
    assert message == "Could not bring the memory back: its words were already erased for good."
    assert panel.status_line.text() == message
    assert not panel.undo_bar.isVisible() and host.service.get(mira.id) is None


def test_a_memory_from_a_conversation_names_no_turn_id(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel, runtime: PolicyRuntime
) -> None:
    from aether_qt.policy.decisions import ActionRequest, Allow

    decision = runtime.gate.evaluate(
        ActionRequest("memory.write.durable", "memory:fact", actor_persona="aether")
    )
    assert isinstance(decision, Allow)
    turn_id = "turn_0123456789abcdef"
    [told] = host.service.remember(decision, "my dog is called Biscuit", turn_id=turn_id).items
    panel = make_panel(host)
    select(qtbot, panel, told.id)
    shown = " ".join(label.text() for label in panel.details.fields.values())
    assert turn_id not in shown and "turn_" not in shown
    assert panel.details.fields["turn"].text().startswith("a conversation on ")


def test_a_memory_forgotten_in_the_conversation_can_be_undone_from_the_panel(
    qtbot: QtBot, host: MemoryHost, make_panel: MakePanel, runtime: PolicyRuntime
) -> None:
    from aether_qt.policy.decisions import ActionRequest, Allow

    panel = make_panel(host)
    tea = item_with(host, TEA)
    decision = runtime.gate.evaluate(ActionRequest("memory.delete", "memory:topic", actor_persona="aether"))
    assert isinstance(decision, Allow)
    with qtbot.waitSignal(panel.sig_items_shown, timeout=5000):
        assert host.service.forget_topic(decision, "green tea in the morning").ok  # "forget green tea…"
    assert tea.id not in panel.item_ids()
    assert panel.undo_bar.isVisible() and TEA in panel.undo_bar.text.text()
    assert finish(qtbot, panel, panel.undo_bar.undo_button.click) == "Brought back."
    assert host.service.get(tea.id) == tea


class InlineJobs:
    """Runs the panel's jobs at once, on the companion's memory (the app runs them in the memory thread)."""

    def __init__(self, service: MemoryService) -> None:
        self.service = service

    def call(self, job: Callable[[MemoryService], object], done: Any = None, failed: Any = None) -> None:
        try:
            value = job(self.service)
        except Exception as exc:
            if failed is not None:
                failed(exc)
            return
        if done is not None:
            done(value)


def test_a_question_asked_in_a_real_turn_is_no_memory_in_the_panel(qtbot: QtBot, home: Path) -> None:
    from aether_qt.companion import Companion

    with (
        no_keyring(),
        Companion.open(
            resolve_paths(home), allow_key_file=True, install_guard=False, load_model=False
        ) as comp,
    ):
        assert comp.memory is not None
        bridge = QtBusBridge(bus=comp.bus)
        try:
            panel = MemoryPanel(host=InlineJobs(comp.memory), bus_bridge=bridge)  # type: ignore[arg-type]
            qtbot.addWidget(panel)
            panel.show()
            comp.conductor.run_turn("remember that my favourite colour is green")
            for text in ("what is my favourite colour?", "remember my favourite colour?", "how are you"):
                report = comp.conductor.run_turn(text)
                assert report is not None and report.outcome == "Answered"
            panel.refresh()
            qtbot.waitUntil(lambda: shown_texts(panel) == ["my favourite colour is green"], timeout=5000)
            assert panel.count_label.text() == "1 memory"
            select(qtbot, panel, panel.item_ids()[0])
            assert panel.details.fields["last_used"].text().startswith("today ")  # it answered the question
        finally:
            bridge.detach()
