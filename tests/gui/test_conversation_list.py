"""The conversation list in the main window, over the real store, service and conductor.

A real policy runtime (keys in the opt-in file), the real conductor running each
turn on a thread of its own (as the app's interaction thread does) with a
scripted router that keeps the history of every request, the real
:class:`ConversationService` over the encrypted ``aether.db``, and the real window
on the X server. Keys are pressed and items clicked as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from keyring_support import no_keyring
from PySide6.QtCore import QPoint, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QListWidget, QMenu
from pytestqt.qtbot import QtBot
from router_fakes import EchoRouter

from aether_qt.companion import build_conductor, gate_on_bus
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.errors import ExplainedError
from aether_qt.core.events import TurnEnded
from aether_qt.core.generation import GenerationRequest, TokenSink
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.interaction.phrases import load_default_persona
from aether_qt.policy.decisions import ApprovalChoice, Decision
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.interaction.conductor import Conductor
from aether_qt.services.interaction.conversations import ConversationService, TurnRecorder
from aether_qt.storage.conversations import ConversationStore
from aether_qt.widgets.conversation.conversation_list import ConversationList, when_text
from aether_qt.widgets.main_window import MainWindow

CANARY = "quetzalcoatl-harmonica-8812"


class ThreadedConversation:
    """The Conversation port over a real conductor, each turn on its own thread (like the app)."""

    def __init__(self, conductor: Conductor) -> None:
        self.conductor = conductor
        self.threads: list[threading.Thread] = []

    def submit(self, text: str, *, source: str = "typed") -> str | None:
        turn_id = f"turn_{uuid.uuid4().hex[:12]}"
        thread = threading.Thread(target=self.conductor.run_turn, args=(text,), kwargs={"turn_id": turn_id})
        self.threads.append(thread)
        thread.start()
        return turn_id

    def cancel(self) -> None:
        self.conductor.cancel()

    def answer(self, ticket_id: str, choice: ApprovalChoice) -> Decision:
        return self.conductor.answer(ticket_id, choice)[0]

    def model_ready(self) -> bool:
        return True

    def join(self) -> None:
        for thread in self.threads:
            thread.join(10)


@dataclass
class Rig:
    runtime: PolicyRuntime
    router: EchoRouter
    store: ConversationStore
    service: ConversationService
    conversation: ThreadedConversation
    window: MainWindow
    ended: list[TurnEnded]
    asked: list[str]

    @property
    def listing(self) -> ConversationList:
        assert self.window.conversation_list is not None
        return self.window.conversation_list


def build(qtbot: QtBot, home: Path, bus: EventBus, asked: list[str], answer: list[bool]) -> Rig:
    runtime = PolicyRuntime.open(resolve_paths(home), allow_key_file=True)
    router = EchoRouter()
    store = ConversationStore(database=runtime.database)
    recorder = TurnRecorder(store)
    conductor = build_conductor(
        runtime=runtime,
        bus=bus,
        router=router,
        persona=load_default_persona(),
        spawn=lambda job: job(),
        workdir=home,
        record=recorder.record,
    )
    service = ConversationService(store=store, turns=conductor, recorder=recorder)
    conversation = ThreadedConversation(conductor)

    def confirm(_parent: object, _title: str, text: str) -> bool:
        asked.append(text)
        return answer[-1]

    window = MainWindow(
        runtime=runtime,
        controls=gate_on_bus(runtime, bus),
        settings=QSettings(str(home / "ui.ini"), QSettings.Format.IniFormat),
        conversation=conversation,
        bus_bridge=QtBusBridge(bus=bus),
        conversations=service,
        confirm=confirm,
    )
    qtbot.addWidget(window)
    window.resize(1100, 700)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    ended: list[TurnEnded] = []
    bus.subscribe(TurnEnded.KIND, lambda env: ended.append(env.payload))  # type: ignore[arg-type]
    return Rig(runtime, router, store, service, conversation, window, ended, asked)


@pytest.fixture
def answer() -> list[bool]:
    return [True]


@pytest.fixture
def rig(qtbot: QtBot, x11: str, home: Path, bus: EventBus, answer: list[bool]) -> Iterator[Rig]:
    with no_keyring():
        made = build(qtbot, home, bus, [], answer)
        try:
            yield made
        finally:
            made.conversation.join()
            made.window.shutdown()
            made.runtime.close()


def say(qtbot: QtBot, rig: Rig, text: str) -> None:
    before = len(rig.ended)
    box = rig.window.conversation_view.input
    box.setFocus()
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(rig.ended) == before + 1, timeout=10_000)
    turn_id = rig.ended[-1].turn_id
    bubbles = rig.window.conversation_view.transcript.bubbles
    qtbot.waitUntil(lambda: turn_id in bubbles and bubbles[turn_id].ended, timeout=5_000)


def shown_texts(rig: Rig) -> list[str]:
    """The user's words and the replies in the transcript, top to bottom."""
    transcript = rig.window.conversation_view.transcript
    texts: list[str] = []
    for turn_id, bubble in transcript.bubbles.items():
        user = transcript.user_bubbles.get(turn_id)
        if user is not None:
            texts.append(user.text.text())
        texts.append(bubble.reply_text())
    return texts


def click_title(qtbot: QtBot, rig: Rig, title: str) -> None:
    listing = rig.listing.list
    row = rig.listing.titles().index(title)
    rect = listing.visualItemRect(listing.item(row))
    qtbot.mouseClick(listing.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_new_conversation_clears_the_transcript_and_the_models_history(qtbot: QtBot, rig: Rig) -> None:
    say(qtbot, rig, "tell me about bicycles")
    assert shown_texts(rig) == ["tell me about bicycles", "About tell me about bicycles."]
    qtbot.waitUntil(lambda: rig.listing.titles() == ["tell me about bicycles"], timeout=5_000)
    first = rig.service.current()
    qtbot.keyClick(rig.window.conversation_view.input, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert rig.window.conversation_view.transcript.is_empty()
    assert rig.window.conversation_view.transcript.empty.isVisible()
    assert rig.service.current() != first
    assert rig.window.conversation_view.input.hasFocus()
    say(qtbot, rig, "hello again")
    assert rig.router.requests[-1].history == ()  # the model starts the new conversation afresh
    qtbot.waitUntil(lambda: rig.listing.titles() == ["hello again", "tell me about bicycles"], timeout=5_000)
    assert rig.listing.list.currentItem().text().startswith("hello again")
    assert rig.listing.new_button.toolTip() and "Ctrl+N" in rig.listing.new_button.toolTip()


def test_switching_restores_the_messages_and_the_model_continues_that_conversation(
    qtbot: QtBot, rig: Rig
) -> None:
    say(qtbot, rig, "tell me about bicycles")
    rig.listing.start_new()
    say(qtbot, rig, "what about trains")
    qtbot.waitUntil(lambda: len(rig.listing.titles()) == 2, timeout=5_000)
    click_title(qtbot, rig, "tell me about bicycles")
    assert shown_texts(rig) == ["tell me about bicycles", "About tell me about bicycles."]
    say(qtbot, rig, "and their brakes")
    history = [(m.role, m.text) for m in rig.router.requests[-1].history]
    assert history == [("user", "tell me about bicycles"), ("assistant", "About tell me about bicycles.")]
    click_title(qtbot, rig, "what about trains")
    assert shown_texts(rig) == ["what about trains", "About what about trains."]
    qtbot.wait(300)
    rig.window.grab().save(str(home_shot(rig, "conversation-list.png")))


def test_a_switch_while_a_reply_runs_keeps_that_turn_in_its_own_conversation(qtbot: QtBot, rig: Rig) -> None:
    say(qtbot, rig, "first conversation")
    rig.listing.start_new()
    say(qtbot, rig, "second conversation")
    qtbot.waitUntil(lambda: len(rig.listing.titles()) == 2, timeout=5_000)
    stalled = threading.Event()
    original = rig.router.answer

    def slow(
        request: GenerationRequest, category: str, on_token: TokenSink, cancel: threading.Event, **kw: Any
    ):  # type: ignore[no-untyped-def]
        stalled.set()
        cancel.wait(5)
        return original(request, category, on_token, cancel, **kw)

    rig.router.answer = slow  # type: ignore[method-assign]
    box = rig.window.conversation_view.input
    qtbot.keyClicks(box, "a slow question")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.waitUntil(stalled.is_set, timeout=5_000)
    second = rig.service.current()
    click_title(qtbot, rig, "first conversation")
    qtbot.waitUntil(lambda: len(rig.ended) == 3, timeout=10_000)
    qtbot.wait(100)
    assert shown_texts(rig) == ["first conversation", "About first conversation."]
    assert [m.text for m in rig.store.messages(second)][-2] == "a slow question"


def test_rename_with_f2_and_from_the_context_menu(qtbot: QtBot, rig: Rig) -> None:
    say(qtbot, rig, "plans for saturday")
    qtbot.waitUntil(lambda: rig.listing.titles() == ["plans for saturday"], timeout=5_000)
    rig.listing.ask_title = lambda _parent, current: f"{current}!" if current == "Weekend" else "Weekend"
    rig.listing.list.setFocus()
    rig.listing.list.setCurrentRow(0)
    qtbot.keyClick(rig.listing.list, Qt.Key.Key_F2)
    assert rig.listing.titles() == ["Weekend"]
    summary = rig.store.get(rig.service.current())
    assert summary is not None and summary.title == "Weekend" and summary.renamed

    seen: list[str] = []

    def pick_rename() -> None:
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu)
        seen.extend(a.text() for a in menu.actions())
        assert all(a.toolTip() for a in menu.actions())
        rename = next(a for a in menu.actions() if a.text().startswith("&Rename"))
        menu.close()
        rename.trigger()

    QTimer.singleShot(200, pick_rename)
    listing: QListWidget = rig.listing.list
    listing.customContextMenuRequested.emit(listing.visualItemRect(listing.item(0)).center())
    qtbot.waitUntil(lambda: rig.listing.titles() == ["Weekend!"], timeout=5_000)
    assert seen == ["&Rename conversation…", "&Delete conversation…"]


def test_delete_asks_first_then_removes_the_rows(
    qtbot: QtBot, rig: Rig, answer: list[bool], home: Path
) -> None:
    say(qtbot, rig, "keep this one")
    rig.listing.start_new()
    say(qtbot, rig, "delete this one please")
    qtbot.waitUntil(lambda: len(rig.listing.titles()) == 2, timeout=5_000)
    doomed = rig.service.current()
    answer.append(False)
    rig.listing.list.setFocus()
    rig.listing.list.setCurrentRow(0)
    qtbot.keyClick(rig.listing.list, Qt.Key.Key_Delete)
    assert rig.asked == ["Delete “delete this one please” and all its messages? This cannot be undone."]
    assert len(rig.listing.titles()) == 2 and rig.store.get(doomed) is not None
    answer.append(True)
    qtbot.keyClick(rig.listing.list, Qt.Key.Key_Delete)
    assert rig.listing.titles() == ["keep this one"]
    assert rig.store.get(doomed) is None and rig.store.messages(doomed) == []
    assert rig.window.conversation_view.transcript.is_empty()  # it was the open one
    assert rig.service.current() != doomed
    rows = rig.runtime.database.execute_sql(
        "SELECT count(*) FROM conversation_messages WHERE text LIKE '%delete%'"
    )
    assert rows.fetchone()[0] == 0
    assert rig.store.search("delete") == []


def test_search_finds_a_message_in_another_conversation_and_opens_it_there(qtbot: QtBot, rig: Rig) -> None:
    say(qtbot, rig, "the old airship story")
    for n in range(12):  # enough to scroll: the match is far from the newest message
        say(qtbot, rig, f"filler question number {n}")
    say(qtbot, rig, f"the zeppelin was called {CANARY}")
    for n in range(12):
        say(qtbot, rig, f"more filler {n}")
    target = rig.service.current()
    rig.listing.start_new()
    say(qtbot, rig, "something unrelated")
    qtbot.keyClick(
        rig.window.conversation_view.input,
        Qt.Key.Key_F,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert rig.listing.search.hasFocus()
    qtbot.keyClicks(rig.listing.search, "zeppel")
    results = rig.listing.results
    qtbot.waitUntil(lambda: results.isVisible() and results.count() == 2, timeout=5_000)  # question, reply
    texts = [results.item(row).text() for row in range(2)]
    assert all(t.startswith("the old airship story · ") and CANARY in t for t in texts)
    assert texts[1].split("\n")[1].startswith("You: ") and texts[0].split("\n")[1].startswith("Reply: ")
    rig.window.grab().save(str(home_shot(rig, "conversation-search.png")))
    rect = results.visualItemRect(results.item(1))
    qtbot.mouseClick(results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert rig.service.current() == target
    transcript = rig.window.conversation_view.transcript
    assert f"the zeppelin was called {CANARY}" in shown_texts(rig)

    def match_in_view() -> bool:
        bubble = next(b for b in transcript.user_bubbles.values() if CANARY in b.text.text())
        top = bubble.mapTo(transcript.widget(), QPoint(0, 0)).y() - transcript.verticalScrollBar().value()
        return 0 <= top < transcript.viewport().height()

    bar = transcript.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and match_in_view(), timeout=5_000)
    qtbot.wait(200)  # nothing moves it back to the newest message afterwards
    assert match_in_view() and 0 < bar.value() < bar.maximum()
    rig.window.grab().save(str(home_shot(rig, "conversation-opened-at-match.png")))
    qtbot.keyClicks(rig.listing.search, "x")  # no message has "zeppelx"
    qtbot.waitUntil(lambda: rig.listing.no_results.isVisible(), timeout=5_000)


def home_shot(rig: Rig, name: str) -> Path:
    folder = Path(str(rig.runtime.paths.data_dir)).parent / "shots"
    folder.mkdir(exist_ok=True)
    return folder / name


def test_the_words_are_not_in_plain_in_the_database_files(qtbot: QtBot, rig: Rig, home: Path) -> None:
    say(qtbot, rig, f"my secret word is {CANARY}")
    assert rig.store.search(CANARY.split("-", maxsplit=1)[0])
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "aether.db" for p in files)
    holding = [str(p.relative_to(home)) for p in files if CANARY.encode() in p.read_bytes()]
    assert holding == []


def test_every_control_has_a_tooltip_and_the_menu_lists_the_keys(rig: Rig) -> None:
    listing = rig.listing
    for widget in (listing.new_button, listing.search, listing.list, listing.results):
        assert widget.toolTip(), widget.objectName()
    keys = dict(rig.window.menus.shortcut_lines())
    for key, words in (("Ctrl+N", "New conversation"), ("Ctrl+Shift+F", "Search conversations")):
        assert keys.get(key) == words
    assert keys.get("F2") == "Rename conversation…" and keys.get("Del") == "Delete conversation…"
    rig.window.toggle_conversation_list()
    assert listing.isHidden()
    rig.window.toggle_conversation_list()
    assert not listing.isHidden()


def test_the_last_conversation_is_shown_again_after_a_restart(
    qtbot: QtBot, x11: str, home: Path, bus: EventBus, answer: list[bool]
) -> None:
    with no_keyring():
        first = build(qtbot, home, bus, [], answer)
        say(qtbot, first, "the tulips bloom in april")
        first.listing.start_new()
        say(qtbot, first, "a second conversation")
        click_title(qtbot, first, "the tulips bloom in april")
        first.conversation.join()
        first.window.toggle_conversation_list()  # hidden by the user: it stays hidden after the restart
        first.window.close()
        first.window.shutdown()
        first.runtime.close()
        again = build(qtbot, home, EventBus(), [], answer)
        try:
            assert shown_texts(again) == ["the tulips bloom in april", "About the tulips bloom in april."]
            assert again.listing.isHidden() and again.window.menus.list_action is not None
            assert not again.window.menus.list_action.isChecked()
            assert (
                again.listing.titles()[0] == "the tulips bloom in april" or len(again.listing.titles()) == 2
            )
            say(qtbot, again, "which month")
            history = [m.text for m in again.router.requests[-1].history]
            assert history == ["the tulips bloom in april", "About the tulips bloom in april."]
        finally:
            again.conversation.join()
            again.window.shutdown()
            again.runtime.close()


class BrokenStore:
    """A conversation list whose database is locked: every call says so in a sentence."""

    def __getattr__(self, name: str) -> Any:
        def fail(*_args: Any) -> Any:
            if name == "current":
                return ""
            raise ExplainedError("The database is locked by another program. Close it and try again.")

        return fail


def test_a_failure_is_one_sentence_in_the_list_and_nothing_breaks(qtbot: QtBot, x11: str) -> None:
    listing = ConversationList(conversations=BrokenStore(), confirm=lambda *_: True)  # type: ignore[arg-type]
    qtbot.addWidget(listing)
    listing.show()
    opened: list[object] = []
    listing.sig_conversation_opened.connect(lambda *args: opened.append(args))
    listing.resume()
    listing.start_new()
    assert opened == [] and listing.error.isVisible()
    locked = "The database is locked by another program. Close it and try again."
    assert listing.error.text() == f"Could not start a new conversation: {locked}"


RUN_APP = textwrap.dedent(
    """
    import json, sys
    from PySide6.QtCore import QTimer
    from aether_qt.app import AppOptions, run_app
    from aether_qt.core.events import TurnEnded

    def ready(parts):
        view, listing = parts.window.conversation_view, parts.window.conversation_list
        transcript = view.transcript
        shown = [bubble.text.text() for bubble in transcript.user_bubbles.values()]
        print("SHOWN", json.dumps(shown), flush=True)
        print("TITLES", json.dumps(listing.titles()), flush=True)
        if sys.argv[2] == "-":
            QTimer.singleShot(0, parts.app.quit)
            return
        ended = []
        parts.bus.subscribe(TurnEnded.KIND, lambda env: ended.append(env.payload))
        view.input.setPlainText(sys.argv[2])
        view.send()

        def wait():
            if not ended:
                QTimer.singleShot(50, wait)
                return
            print("OUTCOME", ended[0].outcome, flush=True)
            QTimer.singleShot(200, parts.app.quit)

        wait()

    sys.exit(run_app(AppOptions(home=sys.argv[1], allow_key_file=True, onboarding=False), on_ready=ready))
    """
)


def run_app(home: Path, words: str) -> dict[str, str]:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "AETHER_NO_EMBEDDER": "1"}
    done = subprocess.run(
        [sys.executable, "-c", RUN_APP, str(home), words],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)


@pytest.mark.slow
def test_the_real_app_shows_the_last_conversation_again_after_a_restart(home: Path, x11: str) -> None:
    first = run_app(home, f"the tulips bloom in april, {CANARY}")
    assert json.loads(first["SHOWN"]) == [] and json.loads(first["TITLES"]) == []
    assert first["OUTCOME"] == "Answered"
    again = run_app(home, "-")
    assert json.loads(again["SHOWN"]) == [f"the tulips bloom in april, {CANARY}"]
    [title] = json.loads(again["TITLES"])
    assert title.startswith("the tulips bloom in april") and title.endswith(
        "…"
    )  # the first message, shortened
    holding = [str(p) for p in home.rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()]
    assert holding == []


def test_times_are_said_as_a_person_says_them() -> None:
    now = datetime(2026, 12, 7, 16, 30).timestamp() * 1000

    def at(*parts: int) -> int:
        return int(datetime(*parts).timestamp() * 1000)  # type: ignore[arg-type]

    assert when_text(at(2026, 12, 7, 9, 5), int(now)) == "09:05"
    assert when_text(at(2026, 12, 6, 23, 59), int(now)) == "Yesterday"
    assert when_text(at(2026, 3, 1, 12, 0), int(now)) == "1 Mar"
    assert when_text(at(2025, 12, 24, 12, 0), int(now)) == "24 Dec 2025"


def test_ctrl_f_in_the_list_goes_to_the_search_and_enter_to_the_first_result(qtbot: QtBot, rig: Rig) -> None:
    say(qtbot, rig, "a note about lighthouses")
    rig.listing.start_new()
    qtbot.waitUntil(lambda: rig.listing.titles() == ["a note about lighthouses"], timeout=5_000)
    rig.listing.list.setFocus()
    qtbot.keyClick(rig.listing.list, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert rig.listing.search.hasFocus()
    qtbot.keyClicks(rig.listing.search, "lighthouse")
    qtbot.keyClick(rig.listing.search, Qt.Key.Key_Return)
    assert rig.listing.results.hasFocus() and rig.listing.results.currentRow() == 0
    qtbot.keyClick(rig.listing.results, Qt.Key.Key_Return)
    assert shown_texts(rig) == ["a note about lighthouses", "About a note about lighthouses."]
