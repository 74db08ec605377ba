"""What the fuzz tests share: the Hypothesis profile, hostile values and mutations, file snapshots.

Profiles (registered here, used per test through :func:`fuzz`, never loaded
globally, so other property tests keep their own settings):

* ``aether-fuzz``: derandomized and database-less, so a run is the same run on
  every machine and a failure in CI reproduces locally with the same command;
  200 examples per property unless a test asks for fewer (an expensive one);
* ``aether-fuzz-ci``: the same examples times :data:`CI_FACTOR` when
  ``CI=true`` (the whole ``test_fuzz_*`` set was timed to stay within about
  60 s of CI time on the 2-core box).

Strategies come in two kinds, as the issue asks: raw bytes, and
structure-aware ones that build a nearly valid input (a card, an export, a
bundle, a setting) and then break it with :func:`mutated_json` (a value
replaced by a hostile one, a key dropped or added) and :func:`mutated_bytes`
(bit flips, cuts, insertions, interesting integers). :data:`DEEP` in a JSON
value becomes a deeply nested array when :func:`dump_json` writes it, since no
encoder can build that nesting from objects.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from desktop_support import in_ci
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ_PROFILE = "aether-fuzz"
FUZZ_CI_PROFILE = "aether-fuzz-ci"
DEFAULT_EXAMPLES = 200
CI_FACTOR = 2

settings.register_profile(
    FUZZ_PROFILE,
    max_examples=DEFAULT_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.register_profile(
    FUZZ_CI_PROFILE,
    parent=settings.get_profile(FUZZ_PROFILE),
    max_examples=DEFAULT_EXAMPLES * CI_FACTOR,
)


def fuzz(examples: int = DEFAULT_EXAMPLES) -> settings:
    """The fuzz profile with ``examples`` examples (times :data:`CI_FACTOR` when ``CI=true``)."""
    name = FUZZ_CI_PROFILE if in_ci() else FUZZ_PROFILE
    return settings(settings.get_profile(name), max_examples=examples * (CI_FACTOR if in_ci() else 1))


# --------------------------------------------------------------------------- hostile values

DEEP = "\x00aether-fuzz-deep\x00"
"""A JSON string that :func:`dump_json` replaces with arrays nested far past any recursion limit."""

NASTY_STRINGS = (
    "",
    " ",
    "\x00",
    "\ud800",  # a lone surrogate: valid in JSON text ("\\ud800"), not encodable as UTF-8
    "\udfff",
    "a\udcffb",
    "\u2028\u2029\x85",
    "\ufeff",
    "\u202e\u200b",
    "../../etc/passwd",
    "~",
    "/",
    "NaN",
    "9" * 30,
    "{{char}}<<<>>>",
    DEEP,
)
NASTY_INTS = (0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30))
NASTY_FLOATS = (float("nan"), float("inf"), float("-inf"), -0.0, 1e308, 5e-324, 0.5)


_ODD_CHARACTERS = st.sampled_from(
    ["\ud800", "\udc00", "\x00", "\u2028", "\ufeff", "\u202e", "\r", "\x85", "é"]
)


def nasty_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Text with everything a parser trips on: surrogates, NUL, bidi, separators, path tricks."""
    return st.one_of(
        st.sampled_from(NASTY_STRINGS),
        st.text(st.one_of(st.characters(), _ODD_CHARACTERS), max_size=max_size),
    )


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(NASTY_INTS),
    st.integers(),
    st.sampled_from(NASTY_FLOATS),
    st.floats(),
    nasty_text(),
)
"""JSON scalars, hostile ones weighted in (huge ints, NaN and infinities, odd text)."""

JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(nasty_text(12), inner, max_size=4)),
    max_leaves=8,
)
"""Any JSON value as Python reads JSON (NaN allowed), small but hostile.

Built once: a strategy validates itself on first use, which is slow for a recursive one.
"""
_KEYS = nasty_text(12)


def dump_json(value: Any, *, ascii_only: bool = True, depth: int = 5_000) -> bytes:
    """``value`` as JSON bytes; every :data:`DEEP` string becomes ``depth`` nested arrays.

    Lone surrogates are kept (escaped with ``ascii_only``, else written raw as
    invalid UTF-8): a hostile file can hold either.
    """
    text = json.dumps(value, ensure_ascii=ascii_only)
    deep_json = json.dumps(DEEP, ensure_ascii=ascii_only)
    text = text.replace(deep_json, "[" * depth + "]" * depth)
    return text.encode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------- mutations

_INTERESTING = (
    b"\x00",
    b"\xff",
    b"\x7f\xff\xff\xff",
    b"\xff\xff\xff\xff",
    b"\x80\x00\x00\x00",
    b"\x00\x00\x00\x00",
)


@st.composite
def mutated_bytes(draw: st.DrawFn, base: bytes, *, max_ops: int = 3) -> bytes:
    """``base`` with 1..``max_ops`` byte-level mutations (never the same bytes when ``base`` is non-empty)."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "truncate", "interesting", "repeat"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "cut" and data:
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[at:]
        elif op == "interesting":
            value = draw(st.sampled_from(_INTERESTING))
            data[at : at + len(value)] = value
        elif op == "repeat" and data:
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    if bytes(data) == base and base:
        data[0] ^= 0x01
    return bytes(data)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indices) to a value inside ``value``, the root included."""
    found = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*here, index))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


@st.composite
def mutated_json(draw: st.DrawFn, value: Any, *, max_ops: int = 2) -> Any:
    """A copy of ``value`` with 1..``max_ops`` structural mutations at random places.

    A mutation replaces a value with a hostile one (:data:`JSON_VALUES`), deletes
    a key or an item, adds a key, or wraps a value in a list.
    """
    value = json.loads(json.dumps(value))  # a deep copy that stays plain JSON
    for _ in range(draw(st.integers(1, max_ops))):
        paths = _paths(value)
        path = paths[draw(st.integers(0, len(paths) - 1))]
        new = draw(JSON_VALUES)
        if not path:
            value = new if draw(st.booleans()) else [value]
            continue
        parent, last = _at(value, path[:-1]), path[-1]
        op = draw(st.sampled_from(["replace", "delete", "add", "wrap"]))
        if op == "replace":
            parent[last] = new
        elif op == "delete":
            del parent[last]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(_KEYS)] = new
        elif op == "add":
            parent.insert(last, new)
        else:
            parent[last] = [parent[last]]
    return value


# --------------------------------------------------------------------------- what changed on disk


def tree_digest(folder: Path, *, skip: Callable[[Path], bool] = lambda _p: False) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``folder`` (folders listed as ``<dir>``).

    Two equal digests mean nothing under ``folder`` was written, created or removed.
    """
    found: dict[str, str] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            found[os.path.relpath(os.path.join(root, name), folder)] = "<dir>"
        for name in files:
            path = Path(root, name)
            if not skip(path):
                found[os.path.relpath(path, folder)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
