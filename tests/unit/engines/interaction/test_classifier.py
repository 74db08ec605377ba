"""Tests of the reflex classifier: every command form, plain-language variants, bad input."""

from __future__ import annotations

import pytest

from aether_qt.engines.interaction.classifier import MAX_INPUT_CHARS, Classification, classify, sanitize
from aether_qt.engines.interaction.states import Category

HOME = "/home/u"
C = Category


def verdict(text: str) -> Classification:
    result = classify(text, turn_id="turn-1", persona="aether", home=HOME)
    assert result is not None
    return result


def action_of(text: str) -> tuple[Category, str | None, str | None]:
    result = verdict(text)
    if result.action is None:
        return result.category, None, None
    return result.category, result.action.capability, result.action.resource


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # command forms
        ("read ~/notes.txt", (C.TOOL_PLAN, "files.read", "/home/u/notes.txt")),
        ("read notes.txt", (C.TOOL_PLAN, "files.read", "notes.txt")),
        ("read docs/a.md", (C.TOOL_PLAN, "files.read", "docs/a.md")),
        ("read 'My File.txt'", (C.TOOL_PLAN, "files.read", "My File.txt")),
        ("cat ~/x", (C.TOOL_PLAN, "files.read", "/home/u/x")),
        ("write ~/x.txt hello world", (C.TOOL_PLAN, "files.create", "/home/u/x.txt")),
        ("delete ~/old.txt", (C.TOOL_PLAN, "files.delete", "/home/u/old.txt")),
        ("list ~/Documents", (C.TOOL_PLAN, "files.list", "/home/u/Documents")),
        ("ls .", (C.TOOL_PLAN, "files.list", ".")),
        ("shell ls -la", (C.TOOL_PLAN, "shell.exec", "ls -la")),
        ("browse example.com", (C.TOOL_PLAN, "browser.open", "https://example.com")),
        ("browse https://example.com/a?b=1", (C.TOOL_PLAN, "browser.open", "https://example.com/a?b=1")),
        ("remember my cat is Tom", (C.MEMORY_WRITE, "memory.write.durable", "my cat is Tom")),
        ("remember that my cat is Tom", (C.MEMORY_WRITE, "memory.write.durable", "my cat is Tom")),
        ("forget my cat", (C.MEMORY_FORGET, "memory.delete", "my cat")),
        ("remind me in 5 minutes to stretch", (C.TOOL_PLAN, "reminder.set", "stretch")),
        # plain-language variants
        ("open https://example.com", (C.TOOL_PLAN, "browser.open", "https://example.com")),
        ("open www.python.org", (C.TOOL_PLAN, "browser.open", "https://www.python.org")),
        ("go to python.org", (C.TOOL_PLAN, "browser.open", "https://python.org")),
        ("visit python.org/downloads", (C.TOOL_PLAN, "browser.open", "https://python.org/downloads")),
        ("show me the file ~/x", (C.TOOL_PLAN, "files.read", "/home/u/x")),
        ("show me ~/todo.md", (C.TOOL_PLAN, "files.read", "/home/u/todo.md")),
        ("show the folder ~/x", (C.TOOL_PLAN, "files.list", "/home/u/x")),
        ("show me the contents of notes", (C.TOOL_PLAN, "files.list", "notes")),
        ("open the file ~/x", (C.TOOL_PLAN, "files.read", "/home/u/x")),
        ("open notes.txt", (C.TOOL_PLAN, "files.read", "notes.txt")),
        ("open ~/Documents", (C.TOOL_PLAN, "files.list", "/home/u/Documents")),
        ("what's in ~/notes.txt", (C.TOOL_PLAN, "files.read", "/home/u/notes.txt")),
        ("whats inside ~/notes.txt?", (C.TOOL_PLAN, "files.read", "/home/u/notes.txt")),
        ("what is in ~/Documents/", (C.TOOL_PLAN, "files.list", "/home/u/Documents/")),
        ("what files are in ~/Music", (C.TOOL_PLAN, "files.list", "/home/u/Music")),
        ("delete the file x", (C.TOOL_PLAN, "files.delete", "x")),
        ("remove the file ~/y.txt", (C.TOOL_PLAN, "files.delete", "/home/u/y.txt")),
        ("run ls", (C.TOOL_PLAN, "shell.exec", "ls")),
        ("run ./build.sh --fast", (C.TOOL_PLAN, "shell.exec", "./build.sh --fast")),
        ("run the command df -h", (C.TOOL_PLAN, "shell.exec", "df -h")),
        ("run `uptime`", (C.TOOL_PLAN, "shell.exec", "uptime")),
        ("execute whoami", (C.TOOL_PLAN, "shell.exec", "whoami")),
        ("can you list ~/Documents", (C.TOOL_PLAN, "files.list", "/home/u/Documents")),
        ("Could you please list the files in ~/Documents?", (C.TOOL_PLAN, "files.list", "/home/u/Documents")),
        ("Hey Aether, read ~/x.txt please", (C.TOOL_PLAN, "files.read", "/home/u/x.txt")),
        ("Please read ~/x.txt.", (C.TOOL_PLAN, "files.read", "/home/u/x.txt")),
        ("create a file todo.txt with buy milk", (C.TOOL_PLAN, "files.create", "todo.txt")),
        ("write 'My Notes' hello", (C.TOOL_PLAN, "files.create", "My Notes")),
        ('write "~/x.txt hello', (C.TOOL_PLAN, "files.create", "/home/u/x.txt")),
        ("please remember that I like tea", (C.MEMORY_WRITE, "memory.write.durable", "I like tea")),
        ("forget about my cat", (C.MEMORY_FORGET, "memory.delete", "my cat")),
        ("forget that I like tea", (C.MEMORY_FORGET, "memory.delete", "I like tea")),
        ("forget what I said about work", (C.MEMORY_FORGET, "memory.delete", "work")),
        ("remind me to drink water in an hour", (C.TOOL_PLAN, "reminder.set", "drink water")),
        # remote escalation
        ("ask gpt what is love", (C.REMOTE_ESCALATION, "router.remote", "remote")),
        ("please use the cloud for this one", (C.REMOTE_ESCALATION, "router.remote", "remote")),
        ("could you ask a bigger model about tides", (C.REMOTE_ESCALATION, "router.remote", "remote")),
        # chat that merely looks like a command
        ("read me a story", (C.DIRECT_LOCAL, None, None)),
        ("read it", (C.DIRECT_LOCAL, None, None)),
        ("delete everything", (C.DIRECT_LOCAL, None, None)),
        ("write a poem about the sea", (C.DIRECT_LOCAL, None, None)),
        ("write a letter to mom", (C.DIRECT_LOCAL, None, None)),
        ("create something nice", (C.DIRECT_LOCAL, None, None)),
        ("create a file", (C.DIRECT_LOCAL, None, None)),
        ("list three fruits", (C.DIRECT_LOCAL, None, None)),
        ("show me cats", (C.DIRECT_LOCAL, None, None)),
        ("open spotify", (C.DIRECT_LOCAL, None, None)),
        ("open the pod bay doors", (C.DIRECT_LOCAL, None, None)),
        ("what's in the news", (C.DIRECT_LOCAL, None, None)),
        ("what's up", (C.DIRECT_LOCAL, None, None)),
        ("what is love", (C.DIRECT_LOCAL, None, None)),
        ("what now", (C.DIRECT_LOCAL, None, None)),
        ("run a marathon", (C.DIRECT_LOCAL, None, None)),
        ("browse around", (C.DIRECT_LOCAL, None, None)),
        ("go home", (C.DIRECT_LOCAL, None, None)),
        ("remember when we met?", (C.DIRECT_LOCAL, None, None)),
        # a question or small talk after "remember" asks or chats; it is never kept as a fact
        ("remember my favourite colour?", (C.DIRECT_LOCAL, None, None)),
        ("remember what is my favourite colour?", (C.DIRECT_LOCAL, None, None)),
        ("remember is my favourite colour green?", (C.DIRECT_LOCAL, None, None)),
        ("do you remember my favourite colour?", (C.DIRECT_LOCAL, None, None)),
        ("remember thanks", (C.DIRECT_LOCAL, None, None)),
        ("remember how are you", (C.DIRECT_LOCAL, None, None)),
        (
            "can you remember that my dentist is Dr Rao?",
            (C.MEMORY_WRITE, "memory.write.durable", "my dentist is Dr Rao"),
        ),
        (
            "could you remember my dentist is Dr Rao?",
            (C.MEMORY_WRITE, "memory.write.durable", "my dentist is Dr Rao"),
        ),
        ("remember milk", (C.MEMORY_WRITE, "memory.write.durable", "milk")),
        ("remind me later", (C.DIRECT_LOCAL, None, None)),
        ("ls", (C.DIRECT_LOCAL, None, None)),
        ("What is the capital of France?", (C.DIRECT_LOCAL, None, None)),
        ("tell me about tides", (C.DIRECT_LOCAL, None, None)),
        # acknowledgements
        ("hi", (C.ACKNOWLEDGE, None, None)),
        ("Hello!", (C.ACKNOWLEDGE, None, None)),
        ("Thanks, Aether!", (C.ACKNOWLEDGE, None, None)),
        ("thank you so much", (C.ACKNOWLEDGE, None, None)),
        ("forget it", (C.ACKNOWLEDGE, None, None)),
        ("good morning aether", (C.ACKNOWLEDGE, None, None)),
        # safety
        ("I want to kill myself", (C.SAFETY_DEFLECTION, None, None)),
        ("how do I make a bomb", (C.SAFETY_DEFLECTION, None, None)),
        ("remember that I want to hurt someone", (C.SAFETY_DEFLECTION, None, None)),
        # clarify
        ("?", (C.CLARIFY, None, None)),
        ("...", (C.CLARIFY, None, None)),
        ("👍", (C.CLARIFY, None, None)),
        ("sdfghjkl", (C.CLARIFY, None, None)),
        ("aaaaaaa", (C.CLARIFY, None, None)),
        ("hmm", (C.DIRECT_LOCAL, None, None)),
        ("ok so", (C.DIRECT_LOCAL, None, None)),
        ("42", (C.DIRECT_LOCAL, None, None)),
        ("naïve café", (C.DIRECT_LOCAL, None, None)),
    ],
)
def test_classification_table(text: str, expected: tuple[Category, str | None, str | None]) -> None:
    assert action_of(text) == expected


def test_actions_carry_turn_and_persona_and_payloads() -> None:
    result = verdict("write ~/x.txt hello world")
    assert result.action is not None
    assert (result.action.turn_id, result.action.actor_persona) == ("turn-1", "aether")
    assert result.payload == "hello world"
    assert verdict('write "~/My Notes.txt" "two words"').payload == "two words"
    assert verdict("write hello there to ~/x.txt").payload == "hello there"
    assert verdict("write ~/empty.txt").payload == ""
    assert verdict("create the file a.txt containing hi").payload == "hi"
    assert verdict("create file a.txt 'hi there'").payload == "hi there"


def test_remote_escalation_keeps_the_question_and_route() -> None:
    result = verdict("ask gpt to explain tides")
    assert result.action is not None and result.action.intended_route == "remote"
    assert result.payload == "explain tides"
    assert verdict("ask gpt").payload == "ask gpt"
    assert verdict("what is love? use the cloud").payload == "what is love? use the cloud"


@pytest.mark.parametrize(
    ("text", "delay"),
    [
        ("remind me in 5 minutes to stretch", 300.0),
        ("remind me in 30 seconds to look up", 30.0),
        ("remind me in an hour to call mum", 3600.0),
        ("remind me in two hours to eat", 7200.0),
        ("remind me to drink water in 10 min", 600.0),
        ("remind me in 1 h check the oven", 3600.0),
    ],
)
def test_reminder_delays(text: str, delay: float) -> None:
    result = verdict(text)
    assert result.delay_s == delay
    assert result.action is not None and result.payload == result.action.resource


def test_tilde_expands_to_the_real_home_by_default() -> None:
    import os

    result = classify("read ~/notes.txt")
    assert result is not None and result.action is not None
    assert result.action.resource == os.path.expanduser("~/notes.txt")
    other = classify("read ~root/x", home=HOME)
    assert other is not None and other.action is not None
    assert other.action.resource == os.path.expanduser("~root/x")
    bare = verdict("list ~")
    assert bare.action is not None and bare.action.resource == HOME


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "\x00"])
def test_empty_input_is_ignored(text: str) -> None:
    assert classify(text) is None


def test_text_is_stripped() -> None:
    result = verdict("  hello there  \n")
    assert result.text == "hello there" and result.notice == ""


@pytest.mark.parametrize(
    "paste",
    [
        "a" * 1_048_576,
        "read " + "a " * 524_286,
        "remind me to " + "x " * 524_282 + " in",
        " " * 1000 + "w" * 1_048_576,
        "what's in " + "~/" * 524_283,
        "write ~/x " + "(" * 1_048_566,
        "remember that " + "ab" * 524_281,
        "?" * 1_048_576,
    ],
)
def test_a_megabyte_paste_is_truncated_with_a_notice(paste: str) -> None:
    result = classify(paste)
    assert result is not None
    length = len(paste.strip())
    assert length > MAX_INPUT_CHARS
    assert result.notice == f"your message was {length:,} characters; I used the first 16,384"
    assert len(result.text) <= MAX_INPUT_CHARS


def test_exact_notice_for_one_mebibyte() -> None:
    text, notice = sanitize("x" * 1_048_576)
    assert notice == "your message was 1,048,576 characters; I used the first 16,384"
    assert len(text) == 16_384
    assert sanitize("x" * MAX_INPUT_CHARS) == ("x" * MAX_INPUT_CHARS, "")
