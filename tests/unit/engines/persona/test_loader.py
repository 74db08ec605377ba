"""Tests of the strict persona loader (aether_qt/engines/persona/loader.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aether_qt.engines.persona.errors import Mark, PersonaError, PersonaErrors, SourceMarks, dotted
from aether_qt.engines.persona.loader import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    load_persona_bytes,
    load_persona_file,
    load_persona_text,
)


def _error(text: str) -> PersonaError:
    with pytest.raises(PersonaError) as info:
        load_persona_text(text)
    return info.value


def test_plain_values_resolve_like_safe_load() -> None:
    text = "a: 1\nb: 0.5\nc: true\nd: ~\ne: '1'\nf: 2020-01-02\ng: 0x1F\nh: .inf\ni: [x, y]\nj: {k: v}\n"
    data = load_persona_text(text).data
    assert data == {
        "a": 1, "b": 0.5, "c": True, "d": None, "e": "1", "f": "2020-01-02", "g": 31,
        "h": float("inf"), "i": ["x", "y"], "j": {"k": "v"},
    }  # fmt: skip


def test_keys_are_always_text() -> None:
    assert load_persona_text("1: a\ntrue: b\n").data == {"1": "a", "true": "b"}


def test_marks_locate_keys_values_and_items() -> None:
    loaded = load_persona_text("name: x\navatar:\n  shape: round\nlist:\n  - a\n  - b\n")
    assert loaded.marks.value(("avatar", "shape")) == Mark(3, 10)
    assert loaded.marks.key(("avatar", "shape")) == Mark(3, 3)
    assert loaded.marks.value(("list", 1)) == Mark(6, 5)
    assert loaded.marks.value(("avatar", "missing", "deeper")) == Mark(3, 3)  # nearest ancestor
    assert loaded.marks.key(("nowhere",)) == Mark(1, 1)
    assert loaded.source == b"name: x\navatar:\n  shape: round\nlist:\n  - a\n  - b\n"


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("a: &x 1\n", (1, 4), "anchors"),
        ("a: [1]\nb: *x\n", (2, 4), "aliases"),
        ("a: !!str 1\n", (1, 4), "tags"),
        ("a: !custom 1\n", (1, 4), "tags"),
        ("a: 1\na: 2\n", (2, 1), "duplicate key 'a' (first at line 1)"),
        ("a: 1\n---\nb: 2\n", (2, 1), "second YAML document"),
        ("%YAML 1.1\n---\na: 1\n", (1, 1), "directives"),
        ("- 1\n- 2\n", (1, 1), "expected a mapping"),
        ("", (1, 1), "empty"),
        ("# only a comment\n", (1, 1), "empty"),
        ("? [1, 2]\n: x\n", (1, 3), "used as a key"),
        ("a: [1, 2\n", (2, 1), "invalid YAML"),
        ("a: b: c\n", (1, 5), "invalid YAML"),
        ("a: \x07\n", (1, 4), "invalid YAML"),
        ("a: " + "9" * 80 + "\n", (1, 4), "number longer than"),
        ("a: 1:30\n", None, None),
        ("a: 0b_\n", (1, 4), "not a usable number"),
    ],
)
def test_refusals_are_located(text: str, where: tuple[int, int] | None, words: str | None) -> None:
    if where is None:
        assert load_persona_text(text).data["a"] == 90  # YAML 1.1 sexagesimal, as safe_load
        return
    error = _error(text)
    assert (error.line, error.column) == where
    assert words is not None and words in error.reason
    assert str(error).startswith(f"<string>:{where[0]}:{where[1]}: ")


def test_depth_cap() -> None:
    ok = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    assert load_persona_text(ok).data["a"] is not None
    deep = "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    assert "nested deeper" in _error(deep).reason


def test_size_cap_counts_bytes(tmp_path: Path) -> None:
    almost = "a: '" + "x" * (MAX_FILE_BYTES - 10) + "'\n"
    assert len(load_persona_text(almost).data["a"]) == MAX_FILE_BYTES - 10
    wide = "a: '" + "é" * (MAX_FILE_BYTES // 2) + "'\n"  # fewer characters than the cap, more bytes
    error = _error(wide)
    assert (error.line, error.column) == (0, 0)
    assert "larger than 256 KiB" in error.reason


def test_invalid_utf8_is_located() -> None:
    with pytest.raises(PersonaError) as info:
        load_persona_bytes("a: é\nb: x\xff".encode("latin-1"), path="p.yaml")
    assert str(info.value).startswith("p.yaml:1:4: invalid UTF-8")


def test_unpaired_surrogate_text_is_refused() -> None:
    assert "surrogates" in _error("a: \ud800\n").reason


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(PersonaError) as info:
        load_persona_file(tmp_path / "absent.yaml")
    assert "cannot read" in info.value.reason
    with pytest.raises(PersonaError) as info:
        load_persona_file(tmp_path)
    assert info.value.reason.startswith(("not a regular file", "cannot read"))
    good = tmp_path / "good.yaml"
    good.write_bytes(b"a: 1\n")
    loaded = load_persona_file(good)
    assert (loaded.data, loaded.source, loaded.path) == ({"a": 1}, b"a: 1\n", str(good))


def test_fifo_is_not_read(tmp_path: Path) -> None:
    import os

    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # keep a writer so opening for read does not block
    try:
        with pytest.raises(PersonaError) as info:
            load_persona_file(fifo)
    finally:
        os.close(fd)
    assert "not a regular file" in info.value.reason


def test_error_aggregate_and_helpers() -> None:
    a = PersonaError("f", 3, 1, "later")
    b = PersonaError("f", 1, 2, "first")
    both = PersonaErrors([a, b])
    assert isinstance(both, PersonaError)
    assert both.errors == (b, a)
    assert (both.line, both.column, both.reason) == (1, 2, "first")
    assert str(both) == "f:1:2: first\nf:3:1: later"
    import pickle

    assert str(pickle.loads(pickle.dumps(both))) == str(both)
    assert str(pickle.loads(pickle.dumps(a))) == str(a)
    assert a.errors == (a,)
    assert a.as_dict() == {"path": "f", "line": 3, "column": 1, "reason": "later"}
    with pytest.raises(ValueError, match="at least one"):
        PersonaErrors([])
    assert dotted(("phrases", "ack", 2)) == "phrases.ack[2]"
    assert dotted(()) == "the top level"
    assert SourceMarks().value(("x",)) == Mark(0, 0)


def test_parser_exhaustion_and_odd_reader_errors_stay_persona_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    def exhausted(*_args: object, **_kwargs: object) -> object:
        raise RecursionError

    monkeypatch.setattr(yaml, "parse", exhausted)
    error = _error("a: 1\n")
    assert (error.line, error.column) == (0, 0) and "too complex" in error.reason

    def odd(*_args: object, **_kwargs: object) -> object:
        raise yaml.YAMLError("")

    monkeypatch.setattr(yaml, "parse", odd)
    error = _error("a: 1\n")
    assert (error.line, error.column) == (0, 0) and error.reason == "invalid YAML: YAMLError"

    def unmarked(*_args: object, **_kwargs: object) -> object:
        raise yaml.MarkedYAMLError(problem="no position known")  # neither problem_mark nor context_mark

    monkeypatch.setattr(yaml, "parse", unmarked)
    error = _error("a: 1\n")
    assert (error.line, error.column) == (0, 0) and error.reason == "invalid YAML: no position known"
