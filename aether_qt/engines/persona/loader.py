"""The strict persona file loader: bounded, alias-free, tag-free YAML (DESIGN.md §10).

Persona files come from users and from imported character cards, so loading
treats them as hostile:

* the size cap (:data:`MAX_FILE_BYTES`) is checked on the raw bytes *before*
  any parsing (at most cap + 1 bytes are ever read);
* the bytes must be UTF-8 (a bad byte is located);
* the document is read as a stream of YAML *events* (``yaml.parse``), never
  composed into a node graph: an anchor, an alias or an explicit tag on any
  event is an error, so a "billion laughs" file never expands and no
  ``!!python/...`` constructor can run;
* values are built from the events iteratively (no recursion) with a nesting
  cap (:data:`MAX_DEPTH`), duplicate keys are errors, keys are always strings;
* every YAML error becomes a located :class:`PersonaError`; a
  ``RecursionError``, ``MemoryError`` or ``UnicodeError`` never escapes.

Scalars are resolved as ``yaml.safe_load`` would (null, bool, int, float,
string); timestamps stay strings.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import yaml
from yaml import events as ev

from aether_qt.engines.persona.errors import UNKNOWN, FieldPath, Mark, PersonaError, SourceMarks

MAX_FILE_BYTES: Final = 256 * 1024
"""Largest persona file accepted, checked before parsing."""

MAX_DEPTH: Final = 32
"""Deepest nesting of mappings and lists accepted (a persona needs 3)."""

MAX_NUMBER_CHARS: Final = 64
"""Longest plain scalar converted to a number (bounds sexagesimal and huge integers)."""

_RESOLVER: Final = yaml.resolver.Resolver()
_CONSTRUCTOR: Final = yaml.constructor.SafeConstructor()
_PREFIX: Final = "tag:yaml.org,2002:"


class LoadedPersona(NamedTuple):
    """A parsed persona document: plain data, the exact source and where each value was."""

    data: dict[str, Any]
    source: bytes
    marks: SourceMarks
    path: str


def load_persona_file(path: str | os.PathLike[str]) -> LoadedPersona:
    """Read and parse one persona file strictly.

    Args:
        path: the YAML file.

    Raises:
        PersonaError: unreadable, too large, not UTF-8, or not acceptable YAML (located).
    """
    name = os.fspath(path)
    return load_persona_bytes(read_persona_file(name), path=name)


def read_persona_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of one persona file (at most one byte past the size cap, which the parse refuses).

    Raises:
        PersonaError: not a regular file, or unreadable.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise PersonaError(name, 0, 0, "not a regular file; expected a YAML persona file")
            return handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise PersonaError(name, 0, 0, f"cannot read the file: {exc.strerror or exc}") from None


def load_persona_bytes(raw: bytes, *, path: str = "<bytes>") -> LoadedPersona:
    """Parse persona YAML from bytes (size cap, then strict UTF-8, then events)."""
    _check_size(len(raw), path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PersonaError.at(
            path, _byte_mark(raw, exc.start), "invalid UTF-8; expected UTF-8 text"
        ) from None
    data, marks = _parse(text, path)
    return LoadedPersona(data, raw, marks, path)


def load_persona_text(text: str, *, path: str = "<string>") -> LoadedPersona:
    """Parse persona YAML from a string (the size cap applies to its UTF-8 form)."""
    if len(text) > MAX_FILE_BYTES:  # each character is at least one byte: no need to encode
        _check_size(len(text), path)
    try:
        raw = text.encode("utf-8")
    except UnicodeError:
        raise PersonaError(path, 0, 0, "text contains unpaired surrogates; expected UTF-8 text") from None
    return load_persona_bytes(raw, path=path)


def _check_size(size: int, path: str) -> None:
    if size > MAX_FILE_BYTES:
        raise PersonaError(
            path, 0, 0, f"file is larger than {MAX_FILE_BYTES // 1024} KiB; expected a small persona file"
        )


def _byte_mark(raw: bytes, offset: int) -> Mark:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    column = len(raw[line_start:offset].decode("utf-8", errors="replace")) + 1
    return Mark(raw.count(b"\n", 0, offset) + 1, column)


def _mark(yaml_mark: Any) -> Mark:
    if yaml_mark is None:
        return UNKNOWN
    return Mark(int(yaml_mark.line) + 1, int(yaml_mark.column) + 1)


_TOO_DEEP: Final = f"nested deeper than {MAX_DEPTH} levels; expected a flat persona"


class _TooDeepError(yaml.scanner.ScannerError):
    """Raised by the scanner itself at the first flow bracket beyond :data:`MAX_DEPTH`."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader's scanner and parser, refusing flow nesting as soon as it is scanned.

    Only events are ever taken from it (never nodes or objects). Without this hook a
    line of ``[[[[...`` keeps up to 1024 pending simple keys alive, which costs the
    pure-Python scanner about a quadratic 1024**2 steps before the builder sees the
    depth.
    """

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise _TooDeepError(None, None, _TOO_DEEP, self.get_mark())
        super().fetch_flow_collection_start(TokenClass)


def _parse(text: str, path: str) -> tuple[dict[str, Any], SourceMarks]:
    builder = _Builder(path)
    try:
        for event in yaml.parse(text, Loader=_StrictLoader):
            builder.feed(event)
    except _TooDeepError as exc:
        raise PersonaError.at(path, _mark(exc.problem_mark), _TOO_DEEP) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "invalid YAML"
        raise PersonaError.at(path, _mark(mark), f"invalid YAML: {reason}") from None
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow
        raise PersonaError.at(path, _reader_mark(exc, text), f"invalid YAML: {_first_line(exc)}") from None
    except (RecursionError, MemoryError):
        raise PersonaError(path, 0, 0, "document too complex; expected a small persona file") from None
    return builder.result()


def _reader_mark(exc: yaml.YAMLError, text: str) -> Mark:
    position = getattr(exc, "position", None)
    if not isinstance(position, int):
        return UNKNOWN
    line_start = text.rfind("\n", 0, position) + 1
    return Mark(text.count("\n", 0, position) + 1, position - line_start + 1)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@dataclass(slots=True)
class _Frame:
    """A mapping or list under construction."""

    value: dict[str, Any] | list[Any]
    where: FieldPath
    key: str | None = None
    key_mark: Mark = UNKNOWN


@dataclass(slots=True)
class _Builder:
    """Turns parser events into plain values, refusing anything outside the strict subset."""

    path: str
    stack: list[_Frame] = field(default_factory=list)
    root: Any = None
    has_root: bool = False
    documents: int = 0
    values: dict[FieldPath, Mark] = field(default_factory=dict)
    keys: dict[FieldPath, Mark] = field(default_factory=dict)

    def fail(self, event: ev.Event, reason: str) -> PersonaError:
        return PersonaError.at(self.path, _mark(event.start_mark), reason)

    def feed(self, event: ev.Event) -> None:
        if isinstance(event, ev.AliasEvent):  # checked first: an alias carries its name as ``anchor``
            raise self.fail(event, "aliases (*name) are not allowed; write the value out")
        self._refuse_extras(event)
        if isinstance(event, ev.DocumentStartEvent):
            self._document(event)
        elif isinstance(event, ev.MappingStartEvent | ev.SequenceStartEvent):
            self._open(event)
        elif isinstance(event, ev.MappingEndEvent | ev.SequenceEndEvent):
            frame = self.stack.pop()
            if not self.stack:
                self.root, self.has_root = frame.value, True
        elif isinstance(event, ev.ScalarEvent):
            self._scalar(event)

    def _refuse_extras(self, event: ev.Event) -> None:
        if getattr(event, "anchor", None) is not None:
            raise self.fail(event, "anchors (&name) are not allowed; write each value out")
        tag = getattr(event, "tag", None)
        if tag is not None:
            raise self.fail(event, f"tags ({tag}) are not allowed; expected plain YAML values")

    def _document(self, event: ev.DocumentStartEvent) -> None:
        self.documents += 1
        if self.documents > 1:
            raise self.fail(event, "a second YAML document; expected exactly one persona per file")
        if event.version is not None or event.tags:
            raise self.fail(event, "YAML directives (%YAML, %TAG) are not allowed")

    def _open(self, event: ev.MappingStartEvent | ev.SequenceStartEvent) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise self.fail(event, _TOO_DEEP)
        container: dict[str, Any] | list[Any] = {} if isinstance(event, ev.MappingStartEvent) else []
        where = self._attach(event, container)
        self.stack.append(_Frame(container, where))

    def _scalar(self, event: ev.ScalarEvent) -> None:
        top = self.stack[-1] if self.stack else None
        if top is not None and isinstance(top.value, dict) and top.key is None:
            self._key(top, event)
            return
        self._attach(event, _scalar_value(event, self.fail))

    def _key(self, top: _Frame, event: ev.ScalarEvent) -> None:
        assert isinstance(top.value, dict)
        key = event.value
        if key in top.value:
            first = self.keys.get((*top.where, key), UNKNOWN)
            raise self.fail(event, f"duplicate key {key!r} (first at line {first.line})")
        top.key, top.key_mark = key, _mark(event.start_mark)

    def _attach(self, event: ev.NodeEvent, value: Any) -> FieldPath:
        if not self.stack:
            self.root, self.has_root = value, True
            where: FieldPath = ()
        else:
            top = self.stack[-1]
            if isinstance(top.value, list):
                where = (*top.where, len(top.value))
                top.value.append(value)
            elif top.key is None:
                raise self.fail(event, "a mapping or list used as a key; expected a plain text key")
            else:
                where = (*top.where, top.key)
                top.value[top.key] = value
                self.keys[where] = top.key_mark
                top.key = None
        self.values[where] = _mark(event.start_mark)
        return where

    def result(self) -> tuple[dict[str, Any], SourceMarks]:
        marks = SourceMarks(values=self.values, keys=self.keys)
        if not self.has_root:
            raise PersonaError(self.path, 1, 1, "the file is empty; expected a mapping of persona fields")
        if not isinstance(self.root, dict):
            raise PersonaError.at(self.path, marks.value(()), "expected a mapping of persona fields")
        return self.root, marks


def _scalar_value(event: ev.ScalarEvent, fail: Callable[[ev.Event, str], PersonaError]) -> Any:
    """Resolve a scalar the way ``yaml.safe_load`` would; quoted and block scalars are strings."""
    text = event.value
    if not event.implicit[0]:
        return text
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    kind = tag.removeprefix(_PREFIX)
    if kind == "null":
        return None
    if kind == "bool":
        return _CONSTRUCTOR.bool_values[text.lower()]
    if kind in ("int", "float"):
        if len(text) > MAX_NUMBER_CHARS:
            raise fail(event, f"number longer than {MAX_NUMBER_CHARS} characters; quote it if it is text")
        node = yaml.ScalarNode(tag, text)
        try:
            if kind == "int":
                return _CONSTRUCTOR.construct_yaml_int(node)
            return _CONSTRUCTOR.construct_yaml_float(node)
        except (ValueError, OverflowError):
            raise fail(event, f"{text!r} is not a usable number; quote it if it is text") from None
    return text  # str, timestamp, merge ("<<") and value ("=") stay text
