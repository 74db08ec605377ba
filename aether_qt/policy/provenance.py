"""Provenance tags: the names of untrusted content in the model's context, and their words.

A tag is ``<kind>:<what>``; the conductor puts one on every
:class:`~aether_qt.policy.decisions.ActionRequest` it builds while such content
is in the model's context (DESIGN.md §5, "Taint in production"):

* ``file:<path>``: text read from a file;
* ``web:<origin>``: a fetched page;
* ``card:<persona id>``: the persona of an imported character card;
* ``memory:<item id>``: a recalled memory that the user neither said nor confirmed;
* ``remote:<provider>``: a reply written by a remote model;
* ``process:<command>``: what a command printed.

:func:`taint_sentence` says them in words for the approval card and the
command line ("this was asked while Aether had text from file ~/x.txt in mind").
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

TRUSTED_MEMORY_SOURCES: Final = frozenset({"user_confirmed", "user_said"})
"""Memory sources that are the user's own words; every other recalled memory taints."""

_WORDS: Final = {
    "file": "text from file {}",
    "web": "a web page from {}",
    "card": "the imported character card {}",
    "memory": "a memory the user never confirmed ({})",
    "remote": "a reply from the remote model {}",
    "process": "the output of the command {}",
}


def file_tag(path: str | Path) -> str:
    """The tag of a file's text."""
    return f"file:{path}"


def card_tag(persona_id: str) -> str:
    """The tag of an imported character card's persona."""
    return f"card:{persona_id}"


def memory_tag(item_id: str) -> str:
    """The tag of an untrusted recalled memory."""
    return f"memory:{item_id}"


def remote_tag(provider: str) -> str:
    """The tag of a remote model's reply."""
    return f"remote:{provider}"


def memory_is_trusted(source: str, trust: str) -> bool:
    """Whether a recalled memory is the user's own words (said or confirmed), by source and trust."""
    return source in TRUSTED_MEMORY_SOURCES and trust in TRUSTED_MEMORY_SOURCES


def _home_short(path: str, home: str) -> str:
    base = home.rstrip(os.sep)
    if base and (path == base or path.startswith(base + os.sep)):
        return "~" + path[len(base) :]
    return path


def home_short(path: str, *, home: str | None = None) -> str:
    """``path`` with the home folder written ``~`` (``~/Documents/todo.txt``), for the user's eyes."""
    return _home_short(path, str(Path.home()) if home is None else home)


def describe_source(tag: str, *, home: str | None = None) -> str:
    """One tag in words (``text from file ~/x.txt``); an unknown kind is shown as the tag itself."""
    kind, _, what = tag.partition(":")
    words = _WORDS.get(kind)
    if words is None or not what:
        return tag
    if kind == "file":
        what = _home_short(what, str(Path.home()) if home is None else home)
    return words.format(what)


def taint_sentence(tags: Sequence[str], *, home: str | None = None) -> str:
    """ "this was asked while Aether had … in mind", or "" for a clean request."""
    if not tags:
        return ""
    parts = [describe_source(tag, home=home) for tag in dict.fromkeys(tags)]
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"this was asked while Aether had {listed} in mind"
