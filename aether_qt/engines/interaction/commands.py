"""Command forms and their plain-language variants, for the reflex classifier (DESIGN.md §4).

``read <path>``, ``write <path> <text>``, ``delete <path>``, ``list <dir>``,
``shell <cmd>``, ``browse <url>``, ``remember <fact>``, ``forget <topic>`` and
``remind me in 5 minutes to …`` work, and so do variants such as "open
https://…", "show me the file ~/x", "what's in ~/notes.txt", "delete the file
x", "run ls" and "list the files in ~/Documents". Dispatch is on the first word
(a dict), and every pattern is anchored, so parsing is linear in the input.

Paths: a leading ``~`` is expanded; relative paths stay relative (the
conductor resolves them against the working folder). A bare word counts as a
path only when it is not a pronoun ("read it" is chat, not ``files.read it``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aether_qt.engines.interaction.states import Category

_NOT_PATHS: Final = frozenset({"it", "this", "that", "me", "them", "more", "on", "up", "all", "everything"})
_EXECUTABLES: Final = frozenset(
    {
        "ls", "pwd", "cat", "echo", "git", "python", "python3", "pip", "df", "du", "whoami", "date",
        "uname", "grep", "find", "ps", "top", "mkdir", "touch", "cp", "mv", "rm", "make", "npm", "head",
        "tail", "wc", "which", "uptime", "free", "env", "tree",
    }
)  # fmt: skip
_TLDS: Final = frozenset(
    {"com", "org", "net", "io", "dev", "ai", "edu", "gov", "co", "uk", "de", "fr", "app"}
)
_URL_RE: Final = re.compile(r"(?:https?://\S+|www\.\S+)", re.IGNORECASE)
_DOMAIN_RE: Final = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?P<tld>[a-z]{2,})(?:/\S*)?", re.IGNORECASE)
_EXTENSION_RE: Final = re.compile(r"[\w.-]*\.\w{1,8}")
_FILLER_RE: Final = re.compile(
    r"(?:me\s+)?(?:what(?:'s|\s+is)\s+(?:in|inside)\s+)?"
    r"(?:(?:the|all\s+the|my)\s+)?(?:(?P<kind>files?|folder|directory|dir|contents?)\s+(?:of\s+|in\s+|at\s+)?)?",
    re.IGNORECASE,
)
_REMIND_IN_RE: Final = re.compile(
    r"me\s+in\s+(?P<n>\d+|an?|one|two|three|five|ten)\s+(?P<unit>sec|second|min|minute|hour|h)s?\s+(?:to\s+)?(?P<msg>.+)",
    re.IGNORECASE | re.DOTALL,
)
_REMIND_TO_RE: Final = re.compile(
    r"me\s+to\s+(?P<msg>.+?)\s+in\s+(?P<n>\d+|an?|one|two|three|five|ten)\s+(?P<unit>sec|second|min|minute|hour|h)s?",
    re.IGNORECASE | re.DOTALL,
)
_NUMBER_WORDS: Final = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "five": 5, "ten": 10}
_UNIT_S: Final = {"sec": 1, "second": 1, "min": 60, "minute": 60, "hour": 3600, "h": 3600}


@dataclass(frozen=True, slots=True)
class Command:
    """A recognised command: the capability and resource the gate will judge."""

    category: Category
    capability: str
    resource: str
    payload: str = ""
    delay_s: float | None = None


def parse_command(body: str, *, home: str | None = None) -> Command | None:
    """Recognise a command form or a plain-language variant in ``body``; None if it is neither.

    Args:
        body: the message without polite wrapping ("please", "can you", "?").
        home: what ``~`` expands to (the user's home folder when omitted).
    """
    verb, _, rest = body.partition(" ")
    handler = _VERBS.get(verb.lower())
    if handler is None or not rest.strip():
        return None
    return handler(rest.strip(), home)


# ---------------------------------------------------------------- paths and URLs


def _unquote(arg: str) -> str:
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'`":
        return arg[1:-1]
    return arg


def _split_first(rest: str) -> tuple[str, str]:
    """The first argument, still quoted if it was (quotes keep spaces together), and the remainder."""
    if rest[0] in "\"'`":
        end = rest.find(rest[0], 1)
        if end > 0:
            return rest[: end + 1], rest[end + 1 :].strip()
    first, _, remainder = rest.partition(" ")
    return first, remainder.strip()


def _path(arg: str, home: str | None, *, bare: bool = True) -> str | None:
    """``arg`` as a path (``~`` expanded), or None if it does not look like one."""
    quoted = _unquote(arg) != arg
    arg = _unquote(arg).strip("\"'`")  # a stray, unmatched quote is not part of the path
    marked = arg.startswith(("~", "/", "./", "../", ".")) or "/" in arg or "\\" in arg
    plain_word = " " not in arg and arg.lower() not in _NOT_PATHS
    if not (quoted or marked or (bare and plain_word) or _EXTENSION_RE.fullmatch(arg)):
        return None
    if arg == "~" or arg.startswith("~/"):
        return (home if home is not None else os.path.expanduser("~")) + arg[1:]
    return os.path.expanduser(arg) if arg.startswith("~") else arg


def _url(arg: str) -> str | None:
    """``arg`` as an http(s) URL (``https://`` added to a bare domain), or None."""
    arg = _unquote(arg)
    if " " in arg:
        return None
    if _URL_RE.fullmatch(arg):
        return arg if "://" in arg else f"https://{arg}"
    match = _DOMAIN_RE.fullmatch(arg)
    if match and match["tld"].lower() in _TLDS:
        return f"https://{arg}"
    return None


def _looks_like_folder(path: str) -> bool:
    """No file extension (``~/Documents``) or a trailing separator: a folder, as far as words tell."""
    if path.endswith(("/", "\\")):
        return True
    return not _EXTENSION_RE.fullmatch(os.path.basename(path))


def _tool(capability: str, resource: str, payload: str = "") -> Command:
    return Command(Category.TOOL_PLAN, capability, resource, payload=payload)


def _strip_filler(rest: str) -> tuple[str, str]:
    """Drop "me", "what's in", "the file(s) in" in front; return the target and the kind named.

    The kind is "file", "folder" (folder, directory, files in), "contents" or "" (none named).
    """
    match = _FILLER_RE.match(rest)
    if match is None:  # pragma: no cover - every part of the pattern is optional
        return rest, ""
    kind = (match["kind"] or "").lower()
    return rest[match.end() :], _KINDS.get(kind, kind)


_KINDS: Final = {"files": "folder", "directory": "folder", "dir": "folder", "content": "contents"}


# ---------------------------------------------------------------- verbs


def _read(rest: str, home: str | None) -> Command | None:
    path = _path(_strip_filler(rest)[0], home)
    return _tool("files.read", path) if path else None


def _show(rest: str, home: str | None) -> Command | None:
    """``show me the file x``, ``show me ~/x``, ``show the folder ~/x``, ``show me what's in x``."""
    target, kind = _strip_filler(rest)
    path = _path(target, home, bare=bool(kind))
    if path is None:
        return None
    folder = kind == "folder" or (kind != "file" and _looks_like_folder(path))
    return _tool("files.list" if folder else "files.read", path)


def _open(rest: str, home: str | None) -> Command | None:
    url = _url(rest)
    if url:
        return _tool("browser.open", url)
    return _show(rest, home)


def _whats(rest: str, home: str | None) -> Command | None:
    """``what's in ~/notes.txt`` reads a file; ``what's in ~/Documents`` lists a folder."""
    if not rest.lower().startswith(("in ", "inside ")):
        return None
    path = _path(rest.partition(" ")[2].strip(), home, bare=False)
    if path is None:
        return None
    return _tool("files.list" if _looks_like_folder(path) else "files.read", path)


def _what(rest: str, home: str | None) -> Command | None:
    if rest.lower().startswith("is "):
        return _whats(rest[3:].strip(), home)
    if rest.lower().startswith("files are in "):
        return _list(rest[len("files are in ") :], home)
    return None


def _write(rest: str, home: str | None) -> Command | None:
    """``write <path> <text>`` or ``write <text> to <path>``."""
    first, text = _split_first(rest)
    path = _path(first, home, bare=False)
    if path is not None:
        return _tool("files.create", path, payload=_unquote(text))
    text, sep, target = rest.rpartition(" to ")
    path = _path(target.strip(), home, bare=False) if sep else None
    return _tool("files.create", path, payload=_unquote(text.strip())) if path else None


def _create(rest: str, home: str | None) -> Command | None:
    """``create (a|the) file <path> [with|containing|saying] <text>``."""
    lowered = rest.lower()
    for prefix in ("a file ", "the file ", "file "):
        if lowered.startswith(prefix):
            first, text = _split_first(rest[len(prefix) :].strip())
            path = _path(first, home)
            verb, _, remainder = text.partition(" ")
            if verb.lower() in ("with", "containing", "saying"):
                text = remainder
            return _tool("files.create", path, payload=_unquote(text.strip())) if path else None
    return None


def _delete(rest: str, home: str | None) -> Command | None:
    path = _path(_strip_filler(rest)[0], home)
    return _tool("files.delete", path) if path else None


def _list(rest: str, home: str | None) -> Command | None:
    path = _path(_strip_filler(rest)[0], home)
    return _tool("files.list", path) if path else None


def _shell(rest: str, _home: str | None) -> Command | None:
    return _tool("shell.exec", _unquote(rest))


def _run(rest: str, home: str | None) -> Command | None:
    """``run the command X``, ``run `X```, ``run ls -la``, ``run ./script.sh``."""
    lowered = rest.lower()
    for prefix in ("the command ", "command "):
        if lowered.startswith(prefix):
            return _shell(rest[len(prefix) :].strip(), home)
    if rest[0] == "`" or rest.partition(" ")[0] in _EXECUTABLES or rest.startswith(("./", "/")):
        return _shell(rest, home)
    return None


def _browse(rest: str, _home: str | None) -> Command | None:
    target = rest[3:].strip() if rest.lower().startswith("to ") else rest
    url = _url(target)
    return _tool("browser.open", url) if url else None


def _go(rest: str, home: str | None) -> Command | None:
    return _browse(rest, home) if rest.lower().startswith("to ") else None


def _remember(rest: str, _home: str | None) -> Command | None:
    """``remember <fact>`` / ``remember that <fact>``; "remember when…" stays chat."""
    first = rest.partition(" ")[0].lower()
    if first in ("when", "what", "how", "me", "who", "where", "why", "if"):
        return None
    fact = rest[5:].strip() if first == "that" else rest
    return Command(Category.MEMORY_WRITE, "memory.write.durable", fact) if fact else None


def _forget(rest: str, _home: str | None) -> Command | None:
    """``forget <topic>``, ``forget about <topic>``, ``forget that <topic>``; "forget it" is an ack."""
    lowered = rest.lower()
    if lowered in _NOT_PATHS:
        return None
    for prefix in ("what i said about ", "about ", "that "):
        if lowered.startswith(prefix):
            rest = rest[len(prefix) :].strip()
            break
    return Command(Category.MEMORY_FORGET, "memory.delete", rest) if rest else None


def _remind(rest: str, _home: str | None) -> Command | None:
    """``remind me in 5 minutes to stretch`` / ``remind me to stretch in 5 minutes``."""
    match = _REMIND_IN_RE.fullmatch(rest) or _REMIND_TO_RE.fullmatch(rest)
    if match is None:
        return None
    amount = match["n"].lower()
    count = int(amount) if amount.isdigit() else _NUMBER_WORDS[amount]
    delay = float(count * _UNIT_S[match["unit"].lower()])
    message = match["msg"].strip()
    return Command(Category.TOOL_PLAN, "reminder.set", message, payload=message, delay_s=delay)


_VERBS: Final[dict[str, Callable[[str, str | None], Command | None]]] = {
    "read": _read,
    "cat": _read,
    "show": _show,
    "open": _open,
    "what's": _whats,
    "whats": _whats,
    "what": _what,
    "write": _write,
    "create": _create,
    "delete": _delete,
    "remove": _delete,
    "list": _list,
    "ls": _list,
    "shell": _shell,
    "execute": _shell,
    "run": _run,
    "browse": _browse,
    "visit": _browse,
    "go": _go,
    "remember": _remember,
    "forget": _forget,
    "remind": _remind,
}
