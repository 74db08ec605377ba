"""Located persona errors and the source marks that locate them (DESIGN.md §10).

Every problem with a persona file is a :class:`PersonaError` naming the file, a
1-based line and column, and what was expected, printed as
``path:line:col: reason`` (``0:0`` when no position applies, e.g. a file over
the size cap). Validation collects every problem it finds into one
:class:`PersonaErrors`, itself a :class:`PersonaError`, so callers catch one
type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, TypeAlias

FieldPath: TypeAlias = tuple[str | int, ...]
"""Where a value sits in a document: mapping keys and list indices from the root."""


class Mark(NamedTuple):
    """A 1-based position in a source file; ``Mark(0, 0)`` means unknown."""

    line: int
    column: int


UNKNOWN: Mark = Mark(0, 0)


class PersonaError(ValueError):
    """One located problem with a persona file.

    Attributes:
        path: the file (or ``<string>``) the problem is in.
        line: 1-based line, 0 when unknown.
        column: 1-based column, 0 when unknown.
        reason: what is wrong and what was expected.
    """

    def __init__(self, path: str, line: int, column: int, reason: str) -> None:
        """Record where and what."""
        super().__init__(path, line, column, reason)
        self.path = path
        self.line = line
        self.column = column
        self.reason = reason

    @classmethod
    def at(cls, path: str, mark: Mark, reason: str) -> PersonaError:
        """An error at ``mark`` of ``path``."""
        return cls(path, mark.line, mark.column, reason)

    @property
    def errors(self) -> tuple[PersonaError, ...]:
        """Every located error this exception stands for (just itself)."""
        return (self,)

    def __str__(self) -> str:
        """``path:line:col: reason``, the format editors and ``aether persona check`` use."""
        return f"{self.path}:{self.line}:{self.column}: {self.reason}"

    def as_dict(self) -> dict[str, str | int]:
        """Plain data for ``--json`` output."""
        return {"path": self.path, "line": self.line, "column": self.column, "reason": self.reason}


class PersonaErrors(PersonaError):
    """Several located problems found in one pass; the first one is the headline."""

    def __init__(self, errors: Iterable[PersonaError]) -> None:
        """Keep ``errors`` (at least one) sorted by position."""
        found = tuple(sorted(errors, key=lambda e: (e.line, e.column, e.reason)))
        if not found:
            raise ValueError("PersonaErrors needs at least one error")
        first = found[0]
        super().__init__(first.path, first.line, first.column, first.reason)
        self._errors = found

    @property
    def errors(self) -> tuple[PersonaError, ...]:
        """Every located error, in file order."""
        return self._errors

    def __reduce__(self) -> tuple[type[PersonaErrors], tuple[tuple[PersonaError, ...]]]:
        """Pickle by the list of errors (the constructor's argument)."""
        return (PersonaErrors, (self._errors,))

    def __str__(self) -> str:
        """One ``path:line:col: reason`` line per error."""
        return "\n".join(PersonaError.__str__(e) for e in self._errors)


@dataclass(frozen=True, slots=True)
class SourceMarks:
    """Positions of the keys and values of a loaded document, for locating errors.

    Attributes:
        values: field path -> where its value starts.
        keys: field path -> where its key starts (mappings only).
    """

    values: Mapping[FieldPath, Mark] = field(default_factory=dict)
    keys: Mapping[FieldPath, Mark] = field(default_factory=dict)

    def value(self, where: FieldPath) -> Mark:
        """Where the value at ``where`` starts, else its nearest located ancestor."""
        probe = where
        while True:
            mark = self.values.get(probe)
            if mark is not None:
                return mark
            if not probe:
                return UNKNOWN
            probe = probe[:-1]

    def key(self, where: FieldPath) -> Mark:
        """Where the key of ``where`` starts, else where its value (or an ancestor) does."""
        mark = self.keys.get(where)
        return mark if mark is not None else self.value(where)


def dotted(where: FieldPath) -> str:
    """``("avatar", "palette", "primary")`` -> ``avatar.palette.primary``; indices as ``[i]``."""
    text = ""
    for part in where:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "the top level"
