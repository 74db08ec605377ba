"""Fuzzing every stored setting: a wrong type or shape gives the documented default, never a crash.

Settings live in ``aether.db`` (``SettingsStore``) and are read back by the
policy runtime (preset, approved folders, overrides, the key-file opt-in), the
persona service (the active persona), the router (the model choice) and the
voice host (speech model, push-to-talk key and backend, speaking); the main
window keeps its own state in a ``QSettings`` file, whose tab index is fuzzed
through a real INI file. Each example stores hostile values through the
public store (or, for what ``set`` refuses, such as NaN or nesting past the
recursion limit, as raw text through :func:`write_raw_setting`, what a damaged
or older database can hold), reopens a real :class:`PolicyRuntime` on that
home and runs every reader: each must give a value of its documented type,
the stored value when it is valid, and the documented default otherwise.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keyring
import peewee
import pytest
from fuzz_support import DEEP, JSON_VALUES, dump_json, fuzz, nasty_text
from hypothesis import example, given
from hypothesis import strategies as st
from keyring_support import MemoryKeyring, key_file_runtime
from PySide6.QtCore import QSettings

from aether_qt.companion import SETTING_MODEL, chosen_model
from aether_qt.core.bus import EventBus
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.media.hotkey_spec import describe_stored
from aether_qt.engines.media.portal_protocol import preferred_trigger
from aether_qt.engines.media.stt import default_model_path, looks_like_model
from aether_qt.engines.media.stt_models import SETTING_STT_MODEL
from aether_qt.engines.persona.compiled import CompiledPersona
from aether_qt.engines.persona.registry import user_personas_dir
from aether_qt.engines.router.router import Router
from aether_qt.policy.capabilities import CAPABILITIES, DEFAULT_PRESET, Mode, Preset
from aether_qt.policy.runtime import (
    SETTING_KEY_FILE,
    SETTING_OVERRIDES,
    SETTING_PRESET,
    SETTING_ROOTS,
    PolicyRuntime,
    default_roots,
)
from aether_qt.services.persona.service import SETTING_ACTIVE, PersonaService
from aether_qt.services.settings.voice import (
    SETTING_PTT_BACKEND,
    SETTING_PTT_KEY,
    SETTING_SPEAK,
    SETTING_SPEAK_TYPED,
)
from aether_qt.services.voice.push_to_talk import key_combination
from aether_qt.storage.settings import SettingsStore
from aether_qt.widgets.main_window import KEY_TAB, stored_tab


def write_raw_setting(database: peewee.Database, key: str, text: str | bytes | int) -> None:
    """Store ``text`` as the setting's raw column value, bypassing ``SettingsStore.set``.

    The one place these tests write the settings table directly: through the
    runtime's own connection, so it keeps working once ``aether.db`` is keyed.
    """
    database.execute_sql(
        "INSERT INTO settings (key, value, updated_at_ms) VALUES (?, ?, 0) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, text),
    )


def store(runtime: PolicyRuntime, key: str, value: Any) -> None:
    """Store ``value`` as the app would, or raw when the store refuses it (NaN, a secret-like key...)."""
    if isinstance(value, RawText):
        write_raw_setting(runtime.database, key, value.text)
        return
    try:
        runtime.settings.set(key, value)
    except ValueError:
        write_raw_setting(runtime.database, key, dump_json(value).decode("utf-8", "surrogatepass"))


class RawText:
    """A stored column value that is not what ``set`` writes (bad JSON, a blob, an integer)."""

    def __init__(self, text: str | bytes | int) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawText({self.text!r})"


RAW = st.builds(
    RawText,
    st.one_of(
        st.sampled_from(["{", "NaN", "[" * 5_000, '"\\ud800"', "", "tru", "1e999", "[1,]"]),
        st.binary(max_size=8),
        st.integers(-(2**63), 2**63 - 1),
    ),
)
CAP = st.sampled_from(sorted(CAPABILITIES))
HOSTILE = st.one_of(JSON_VALUES, RAW)


def near(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid values of one setting, wrong-typed ones and broken stored text, mixed."""
    return st.one_of(valid, HOSTILE)


PATHS = st.one_of(
    nasty_text(), st.sampled_from(["/tmp", "/", "~", "relative", "", "/a\x00b", "/t/\udcff", "/\ud800"])
)
SETTINGS: dict[str, st.SearchStrategy[Any]] = {
    SETTING_PRESET: near(st.sampled_from([p.value for p in Preset] + ["power user", "OBSERVER", "root"])),
    SETTING_ROOTS: near(st.lists(PATHS, max_size=4)),
    SETTING_OVERRIDES: near(
        st.dictionaries(
            st.one_of(CAP, nasty_text(12)),
            st.one_of(st.sampled_from([m.value for m in Mode]), JSON_VALUES),
            max_size=4,
        )
    ),
    SETTING_KEY_FILE: near(st.sampled_from([True, False, "true", "false", 1, 0, [True], {}])),
    SETTING_ACTIVE: near(st.sampled_from(["aether", "minimum_trust", "../aether", "missing", "", "AETHER"])),
    SETTING_MODEL: near(st.sampled_from(["", "no-such-model", "../../etc/passwd", "\x00"])),
    SETTING_STT_MODEL: near(st.sampled_from(["", "/nonexistent", "~", "relative/model", "\x00"])),
    SETTING_PTT_KEY: near(st.sampled_from(["F9", "", "Ctrl+Alt+Space", "__class__", "\ud800", "Ä"])),
    SETTING_PTT_BACKEND: near(st.sampled_from(["auto", "x11", "pynput", "in-window", "gamepad", ""])),
    SETTING_SPEAK: near(st.booleans()),
    SETTING_SPEAK_TYPED: near(st.booleans()),
}


@contextmanager
def memory_keyring() -> Iterator[MemoryKeyring]:
    """A fresh in-process keyring for the block (never the user's)."""
    previous, ring = keyring.get_keyring(), MemoryKeyring()
    keyring.set_keyring(ring)
    try:
        yield ring
    finally:
        keyring.set_keyring(previous)


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each example makes its own home (one home for all would grow its audit log every run)."""
    return tmp_path_factory.mktemp("settings-fuzz")


def plainly_absolute(value: Any) -> bool:
    """A stored folder that is surely valid: printable ASCII from the root, no ``~`` to expand."""
    return isinstance(value, str) and value.startswith("/") and value.isascii() and value.isprintable()


def usable(root: Path) -> bool:
    """What every approved folder must be: absolute (``~`` expanded), a name the OS can take (no NUL...)."""
    text = str(root)
    return root.expanduser().is_absolute() and "\x00" not in text and os.fsencode(text) is not None


def check_policy(runtime: PolicyRuntime, stored: dict[str, Any]) -> None:
    """The runtime's readers: the stored value when it is valid, else the documented default."""
    assert runtime.allow_key_file is (stored[SETTING_KEY_FILE] is True)
    assert runtime.audit is not None  # the keys are in the keyring whatever the opt-in says
    preset = stored[SETTING_PRESET]
    try:
        expected = Preset.parse(preset) if isinstance(preset, str) else DEFAULT_PRESET
    except ValueError:
        expected = DEFAULT_PRESET
    assert runtime.preset() is expected
    roots = runtime.approved_roots()
    assert roots and all(usable(root) for root in roots)
    wanted = stored[SETTING_ROOTS]
    kept = [Path(p) for p in wanted if plainly_absolute(p)] if isinstance(wanted, list) else []
    assert set(kept) <= set(roots)  # a valid folder is never dropped
    if not isinstance(wanted, list) or not wanted:
        assert roots == default_roots()
    overrides = runtime.user_overrides()
    assert all(isinstance(cap, str) and isinstance(mode, Mode) for cap, mode in overrides.items())


def check_readers(runtime: PolicyRuntime) -> None:
    """Everything else that reads a setting when the app or a command starts."""
    settings: SettingsStore = runtime.settings
    for key in SETTINGS:
        settings.get(key, "default")
        for kind, default in ((str, ""), (bool, True), (list, []), (dict, {}), (int, 7), (float, 0.5)):
            assert isinstance(settings.get_as(key, kind, default), kind)  # type: ignore[arg-type]
    personas = PersonaService(
        runtime=runtime, bus=EventBus(), user_dir=user_personas_dir(runtime.paths.data_dir)
    )
    assert isinstance(personas.start(), CompiledPersona)
    model = chosen_model(runtime)
    if model is not None:  # None would prepare the bundled model: not a settings question
        status = Router(models_dir=runtime.paths.models_dir, clock=time.monotonic, model_id=model).start()
        assert status.status in ("missing", "failed")
    speech = default_model_path(settings.get_as(SETTING_STT_MODEL, str, "") or None)
    assert speech is None or looks_like_model(speech) in (True, False)
    key = settings.get_as(SETTING_PTT_KEY, str, "") or "F9"
    key_combination(key)  # the key as the window parses it: None when it does not, never an error
    assert isinstance(describe_stored(key), str) and isinstance(preferred_trigger(key), str)
    for name in (SETTING_SPEAK, SETTING_SPEAK_TYPED):
        assert isinstance(settings.get_as(name, bool, True), bool)


def plain(value: Any) -> Any:
    """The value a reader sees for what :func:`store` wrote (raw text is parsed as the store parses it)."""
    if not isinstance(value, RawText):
        return json.loads(json.dumps(value))  # NaN stays NaN, like the store's reading
    try:
        return (
            json.loads(value.text)
            if isinstance(value.text, str)
            else (value.text if isinstance(value.text, int) else None)
        )
    except (ValueError, RecursionError):
        return None


@pytest.mark.slow  # two runtime opens on a fresh home per example: about 6 s for 60 examples
@fuzz(60)
@given(values=st.fixed_dictionaries(SETTINGS))
@example(values={**dict.fromkeys(SETTINGS, None), SETTING_KEY_FILE: "false"})  # found: bool("false") is True
@example(values={**dict.fromkeys(SETTINGS, None), SETTING_ROOTS: ["/tmp/\x00x"]})  # found: ValueError at open
@example(values={**dict.fromkeys(SETTINGS, None), SETTING_ROOTS: ["relative", "/\ud800"]})
@example(
    values={**dict.fromkeys(SETTINGS, None), SETTING_PRESET: RawText("[" * 5_000)}
)  # found: RecursionError
def test_every_setting_reads_as_its_value_or_its_default(values: dict[str, Any], homes: Path) -> None:
    paths = resolve_paths(tempfile.mkdtemp(dir=homes))
    with memory_keyring():  # keys in a keyring: no key file, whose presence would be the opt-in itself
        with PolicyRuntime.open(paths) as runtime:
            for key, value in values.items():
                store(runtime, key, value)
        with PolicyRuntime.open(paths) as runtime:
            check_policy(runtime, {key: plain(value) for key, value in values.items()})
            check_readers(runtime)
        assert not paths.key_file.exists()


def test_a_value_nested_past_the_recursion_limit_is_refused_with_a_value_error(tmp_path: Path) -> None:
    deep: list[Any] = []
    for _ in range(5_000):
        deep = [deep]
    with key_file_runtime(tmp_path / "home") as runtime:
        with pytest.raises(ValueError, match="not a JSON value"):  # found: RecursionError
            runtime.settings.set("ui.deep", deep)
        write_raw_setting(runtime.database, "ui.deep", dump_json(DEEP))
        assert runtime.settings.get("ui.deep", "default") == "default"


@fuzz()
@given(
    value=st.one_of(nasty_text(), st.integers(-(2**63), 2**63 - 1), st.lists(st.text(max_size=3), max_size=3))
)
@example(value="²")  # found by this test: int("²") raises although "²".isdigit()
@example(value="9" * 5_000)  # more digits than int() parses
def test_the_window_tab_kept_in_the_settings_file_is_an_index_or_zero(
    value: Any, tmp_path_factory: Any
) -> None:
    ini = tmp_path_factory.mktemp("qsettings", numbered=True) / "aether-qt.ini"
    QSettings(str(ini), QSettings.Format.IniFormat).setValue(KEY_TAB, value)
    read = QSettings(str(ini), QSettings.Format.IniFormat).value(KEY_TAB, 0)  # what the window reads at start
    tab = stored_tab(read)
    assert isinstance(tab, int) and 0 <= tab < 10_000
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10_000:
        assert tab == value
