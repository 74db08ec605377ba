"""Hostile persona files: the strict loader refuses them quickly, with located errors only.

Each attack reports its measured time (``-s`` shows it); the asserted bounds are
generous sanity checks, the real numbers go into the report. Property tests
fuzz the loader and compiler with arbitrary bytes (only ``PersonaError`` may
come out) and round-trip generated valid personas through ``dump_persona``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether_qt.commands import persona as persona_cmd
from aether_qt.engines.persona.compiler import compile_persona
from aether_qt.engines.persona.errors import PersonaError
from aether_qt.engines.persona.loader import (
    MAX_FILE_BYTES,
    load_persona_bytes,
    load_persona_file,
    load_persona_text,
)
from aether_qt.engines.persona.schema import dump_persona, validate
from aether_qt.policy.capabilities import CAPABILITIES, Mode, Preset

BASE = "schema_version: 1\nid: attacker\nname: Attacker\nsystem_prompt: Hi.\n"


def _measure(action: Callable[[], object]) -> tuple[PersonaError, float, int]:
    """Run ``action`` expecting a PersonaError; return it, seconds taken and peak traced bytes."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(PersonaError) as info:
            action()
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return info.value, elapsed, peak


def _report(name: str, elapsed: float, peak: int) -> None:
    sys.stdout.write(f"\n[persona attack] {name}: {elapsed * 1000:.2f} ms, peak {peak / 1024:.0f} KiB\n")


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_at_the_first_anchor(tmp_path: Path) -> None:
    path = tmp_path / "lol.yaml"
    path.write_text(billion_laughs(9), encoding="utf-8")
    error, elapsed, peak = _measure(lambda: load_persona_file(path))
    _report("billion laughs (9 levels)", elapsed, peak)
    assert str(error) == f"{path}:1:5: anchors (&name) are not allowed; write each value out"
    assert elapsed < 1.0 and peak < 2 * 1024 * 1024


def test_aliases_without_anchors_are_refused() -> None:
    error = load_error(BASE + "tagline: *missing\n")
    assert (error.line, error.column) == (5, 10) and "aliases" in error.reason


@pytest.mark.parametrize(
    "value",
    [
        "!!python/object/apply:os.system ['echo pwned']",
        "!!python/name:os.system",
        "!!python/object/new:subprocess.Popen [['ls']]",
        "!!binary aGVsbG8=",
        "!!str plain",
        "!<tag:yaml.org,2002:python/object:os.system> {}",
        "!local value",
    ],
)
def test_tags_are_refused_before_any_constructor(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[str] = []

    def spy(*_args: object) -> int:
        called.append("os.system")
        return 0

    monkeypatch.setattr("os.system", spy)
    error = load_error(BASE + f"tagline: {value}\n")
    assert (error.line, error.column) == (5, 10)
    assert error.reason.startswith("tags (") and called == []


def test_tag_directive_is_refused() -> None:
    error = load_error("%TAG !p! tag:yaml.org,2002:python/\n---\na: !p!name:os.system\n")
    assert "not allowed" in error.reason


def test_ten_megabyte_file_is_refused_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(BASE.encode() + b"tagline: '" + b"x" * (10 * 1024 * 1024) + b"'\n")

    def no_parse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the parser must not run on an oversized file")

    monkeypatch.setattr(yaml, "parse", no_parse)
    error, elapsed, peak = _measure(lambda: load_persona_file(path))
    _report("10 MB file", elapsed, peak)
    assert str(error) == f"{path}:0:0: file is larger than 256 KiB; expected a small persona file"
    assert peak < 2 * MAX_FILE_BYTES  # only cap + 1 bytes were read, not 10 MB
    error, _elapsed, _peak = _measure(lambda: load_persona_text("a: " + "x" * (10 * 1024 * 1024)))
    assert error.reason.startswith("file is larger than")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("[[[ 10,000 deep", "a: " + "[" * 10_000 + "]" * 10_000 + "\n"),
        ("a: {a: { 10,000 deep", "a: {" * 10_000 + "}" * 10_000 + "\n"),
        ("- - - 10,000 deep", "a:\n  " + "- " * 10_000 + "x\n"),
        ("[[[ unclosed, to the size cap", "[" * (MAX_FILE_BYTES - 1)),
    ],
)
def test_deep_nesting_is_refused_without_recursion_error(name: str, text: str) -> None:
    error, elapsed, peak = _measure(lambda: load_persona_text(text, path="deep.yaml"))
    _report(f"nesting {name}", elapsed, peak)
    assert "nested deeper than 32 levels" in error.reason
    assert error.line >= 1 and error.path == "deep.yaml"
    assert elapsed < 2.0


def test_nesting_below_python_recursion_limit_is_also_refused() -> None:
    text = "a: " + "[" * (sys.getrecursionlimit() * 3) + "\n"
    assert "nested deeper" in load_error(text).reason


def test_duplicate_keys_are_refused() -> None:
    error = load_error(BASE + "name: Impostor\n")
    assert (error.line, error.column) == (5, 1)
    assert error.reason == "duplicate key 'name' (first at line 3)"
    nested = load_error(BASE + "policy_defaults:\n  overrides:\n    shell.exec: deny\n    shell.exec: auto\n")
    assert nested.line == 8 and "duplicate key 'shell.exec'" in nested.reason


def test_shell_auto_is_clamped_and_shown_by_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "shell.yaml"
    path.write_text(BASE + "policy_defaults:\n  preset: Assistant\n  overrides:\n    shell.exec: auto\n")
    assert persona_cmd.check(argparse.Namespace(file=str(path), json=False)) == 0
    out = capsys.readouterr().out
    assert "clamp: shell.exec auto -> deny (shell is never allowed in the Assistant preset)" in out


def test_broken_file_check_prints_path_line_col(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BASE + "avatar:\n  shape: [round\n", encoding="utf-8")
    assert persona_cmd.check(argparse.Namespace(file=str(path), json=False)) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{path}:7:1: invalid YAML: ")


def test_broken_file_through_the_real_cli(tmp_path: Path) -> None:
    from aether_qt.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    if "persona" not in commands.choices:
        pytest.skip("`aether persona` is not wired into cli.py yet (the command function is tested above)")
    path = tmp_path / "broken.yaml"
    path.write_text(BASE + "style:\n  warmth: 7\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aether_qt.cli",
            "--home",
            str(tmp_path / "home"),
            "persona",
            "check",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"{path}:6:11: style.warmth: expected a number 0.0-1.0, got 7" in done.stdout


def load_error(text: str) -> PersonaError:
    with pytest.raises(PersonaError) as info:
        load_persona_text(text)
    return info.value


def _load_and_compile_bytes(raw: bytes) -> None:
    loaded = load_persona_bytes(raw, path="fuzz.yaml")
    compile_persona(loaded.data, source_path="fuzz.yaml", marks=loaded.marks)


_YAMLISH = st.lists(
    st.sampled_from([*"[]{}:,-&*!?|>'\"#%@` \n\tabsyz019._~", "id", "name", "style", "\u00e9", "\x01"]),
    max_size=200,
).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_fuzz_arbitrary_bytes_only_raise_persona_error(raw: bytes) -> None:
    try:
        _load_and_compile_bytes(raw)
    except PersonaError as exc:
        assert str(exc).startswith("fuzz.yaml:")


@settings(max_examples=600, deadline=None)
@given(_YAMLISH)
def test_fuzz_yaml_like_text_only_raises_persona_error(text: str) -> None:
    try:
        _load_and_compile_bytes((BASE + text).encode())
    except PersonaError as exc:
        assert exc.line >= 0 and exc.column >= 0 and exc.reason


_TEXT = st.text(
    alphabet=st.characters(categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=30
).filter(lambda s: s.strip() != "")
_PROMPT = st.lists(_TEXT, min_size=1, max_size=4).map("\n".join)
_UNIT = st.floats(min_value=0.0, max_value=1.0)
_COLOUR = st.from_regex(r"#[0-9a-f]{6}", fullmatch=True)


def _section(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


PERSONAS = st.fixed_dictionaries(
    {
        "schema_version": st.just(1),
        "id": st.from_regex(r"[a-z][a-z0-9_-]{1,31}", fullmatch=True),
        "name": _TEXT,
        "system_prompt": _PROMPT,
    },
    optional={
        "version": _TEXT,
        "tagline": _TEXT,
        "style": _section({k: _UNIT for k in ("warmth", "formality", "verbosity", "humor")}),
        "voice": _section(
            {
                "voice_hint": _TEXT,
                "rate": st.integers(80, 450),
                "pitch": st.integers(0, 99),
                "volume": _UNIT,
            }
        ),
        "avatar": _section(
            {
                "palette": _section({k: _COLOUR for k in ("primary", "secondary", "accent", "background")}),
                "shape": st.sampled_from(["round", "soft-square", "droplet"]),
                "blink_rate": st.floats(10, 20),
                "idle_motion": _UNIT,
                "gaze_style": st.sampled_from(["steady", "curious", "shy"]),
            }
        ),
        "phrases": _section(
            {k: st.lists(_TEXT, max_size=6) for k in ("ack", "clarify", "repair", "progress")}
        ),
        "memory": _section(
            {"retention_days": st.none() | st.integers(1, 36500), "remember": st.lists(_TEXT, max_size=4)}
        ),
        "routing": _section(
            {
                "preferred_tier": st.sampled_from(["local", "remote", "reflex"]),
                "temperature": st.floats(0.0, 2.0),
                "max_tokens": st.integers(16, 4096),
                "privacy_posture": st.sampled_from(["local_only", "ask", "allow_remote"]),
            }
        ),
        "policy_defaults": _section(
            {
                "preset": st.sampled_from([p.value for p in Preset]),
                "overrides": st.dictionaries(
                    st.sampled_from(sorted(CAPABILITIES)), st.sampled_from(list(Mode))
                ),
            }
        ),
        "provenance": _section({k: _TEXT for k in ("author", "license", "source")}),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PERSONAS)
def test_round_trip_of_valid_personas(data: dict[str, Any]) -> None:
    plain = _modes_as_text(data)
    text = dump_persona(plain)
    loaded = load_persona_text(text)
    assert loaded.data == plain
    assert validate(loaded.data) == validate(plain)
    assert compile_persona(loaded.data).content_hash == compile_persona(plain).content_hash
    assert dump_persona(validate(loaded.data)) == dump_persona(validate(plain))


def _modes_as_text(data: dict[str, Any]) -> dict[str, Any]:
    policy = data.get("policy_defaults")
    if policy and "overrides" in policy:
        policy = {**policy, "overrides": {k: Mode(v).value for k, v in policy["overrides"].items()}}
        return {**data, "policy_defaults": policy}
    return data
