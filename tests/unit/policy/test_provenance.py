"""Provenance tags and their words (aether_qt/policy/provenance.py)."""

from __future__ import annotations

from pathlib import Path

from aether_qt.policy.provenance import (
    card_tag,
    describe_source,
    file_tag,
    home_short,
    memory_is_trusted,
    memory_tag,
    remote_tag,
    taint_sentence,
)


def test_tags_name_their_kind() -> None:
    assert (file_tag("/h/x.txt"), card_tag("alice"), memory_tag("m1"), remote_tag("openai")) == (
        "file:/h/x.txt",
        "card:alice",
        "memory:m1",
        "remote:openai",
    )


def test_only_the_users_own_memories_are_trusted() -> None:
    assert memory_is_trusted("user_said", "user_said")
    assert memory_is_trusted("user_confirmed", "user_confirmed")
    assert not memory_is_trusted("imported", "untrusted")
    assert not memory_is_trusted("file:/x", "user_confirmed")
    assert not memory_is_trusted("assistant_said", "assistant_said")


def test_sources_in_words() -> None:
    assert describe_source("file:/home/u/x.txt", home="/home/u") == "text from file ~/x.txt"
    assert describe_source("file:/home/u", home="/home/u/") == "text from file ~"
    assert describe_source("file:/home/uv/x.txt", home="/home/u") == "text from file /home/uv/x.txt"
    assert describe_source("file:/etc/x", home="") == "text from file /etc/x"
    assert describe_source("web:https://a.example") == "a web page from https://a.example"
    assert describe_source("card:alice") == "the imported character card alice"
    assert describe_source("memory:m1") == "a memory the user never confirmed (m1)"
    assert describe_source("remote:openai") == "a reply from the remote model openai"
    assert describe_source("process:ls") == "the output of the command ls"
    assert describe_source("clipboard") == "clipboard" and describe_source("odd:x") == "odd:x"
    assert describe_source("file:").startswith("file:")


def test_the_taint_sentence_lists_every_source_once() -> None:
    assert taint_sentence(()) == ""
    assert (
        taint_sentence(["file:/home/u/x.txt"], home="/home/u")
        == "this was asked while Aether had text from file ~/x.txt in mind"
    )
    assert taint_sentence(["card:a", "memory:m", "card:a", "remote:r"], home="/h") == (
        "this was asked while Aether had the imported character card a, a memory the user never "
        "confirmed (m) and a reply from the remote model r in mind"
    )


def test_the_home_folder_defaults_to_the_users() -> None:
    assert describe_source(f"file:{Path.home()}/notes.txt") == "text from file ~/notes.txt"


def test_a_path_under_home_is_written_with_a_tilde() -> None:
    assert home_short("/home/ann/Documents/todo.txt", home="/home/ann") == "~/Documents/todo.txt"
    assert home_short("/home/anna/x", home="/home/ann") == "/home/anna/x"
    assert home_short(str(Path.home() / "x")) == "~/x"
