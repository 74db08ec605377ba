"""What an approval card is told about a kept call, and the sentence a failed action ends its turn with."""

from __future__ import annotations

from pathlib import Path

from aether_qt.policy.contracts import PermitError
from aether_qt.policy.effect_types import EffectFailedError, OutsideRootsError, TargetExistsError
from aether_qt.services.interaction.previews import PREVIEW_CHARS, describe_call
from aether_qt.services.interaction.tools import ToolCall, failure_sentence

RAW = ("No such file or directory", "Errno", "Error", "files.")


def test_a_new_file_in_a_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "Documents" / "todo.txt"
    what = describe_call("tkt_1", ToolCall("files.create", str(target), "buy milk", "turn_1"))
    assert (what.ticket_id, what.turn_id, what.path, what.text) == (
        "tkt_1",
        "turn_1",
        str(target),
        "buy milk",
    )
    assert not what.path_exists and not what.folder_exists and what.folder == str(target.parent)


def test_an_edit_is_a_diff_and_long_text_is_cut(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("milk\neggs\n")
    what = describe_call("t", ToolCall("files.edit", str(target), "milk\nbread\n"))
    assert what.path_exists and what.folder_exists
    assert "-eggs" in what.diff and "+bread" in what.diff
    long = describe_call("t", ToolCall("files.create", str(tmp_path / "x"), "y" * (PREVIEW_CHARS + 5)))
    assert long.text.endswith("and 5 more characters") and len(long.text) < PREVIEW_CHARS + 40


def test_urls_commands_and_memories() -> None:
    assert describe_call("t", ToolCall("browser.open", "https://example.org/")).url == "https://example.org/"
    assert describe_call("t", ToolCall("shell.exec", "ls -la")).command == "ls -la"
    memory = describe_call("t", ToolCall("memory.write.durable", "memory:fact", "I like tea"))
    assert (memory.text, memory.path) == ("I like tea", "")


def test_failures_are_one_plain_sentence(tmp_path: Path) -> None:
    missing = ToolCall("files.create", str(tmp_path / "Documents" / "todo.txt"), "x")
    told = failure_sentence(missing, EffectFailedError("cannot create x: No such file or directory"))
    assert told.startswith("I couldn't create todo.txt: the folder ") and told.endswith("ask again.")
    here = ToolCall("files.create", str(tmp_path / "todo.txt"), "x")
    sentences = [
        told,
        failure_sentence(here, TargetExistsError("x already exists")),
        failure_sentence(here, OutsideRootsError("x is outside the approved folders")),
        failure_sentence(here, EffectFailedError("cannot create x: Permission denied")),
        failure_sentence(here, PermitError("permit spent")),
        failure_sentence(ToolCall("shell.exec", "false"), EffectFailedError("cannot run: not found")),
        failure_sentence(
            ToolCall("browser.open", "https://e.org/"), EffectFailedError("no browser could open it")
        ),
    ]
    assert "permission denied" in sentences[3]
    for sentence in sentences:
        assert sentence.count(". ") <= 1 and not any(raw in sentence for raw in RAW), sentence
