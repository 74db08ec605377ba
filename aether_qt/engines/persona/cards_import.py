"""Importing a character card file as a new, untrusted YAML persona (DESIGN.md §10).

:func:`prepare_import` does all the work that can fail on a bad card (read
with a size cap, parse, convert, dump, load back strictly, compile) and
writes nothing. :func:`import_card` then writes the persona:

* only after the caller's ``approve(persona_id)`` returns (the command asks the
  gate for ``persona.import`` on ``persona:<id>``; a refusal writes nothing);
* by default into the user's persona folder (``<data>/personas/<id>.yaml``,
  the app's own data, so no effector is needed), atomically and never over an
  existing file (:func:`~aether_qt.policy.effects.create_own_file`: the content
  goes to a temporary file that is then hard-linked to the target name);
* with ``out``, through the caller's ``write_out`` (the command passes a
  gated effector write: a file outside the data folder is the user's file).

A card never gets an actor id (``user``, ``system``, ``assistant``,
``default``, ``gate``: :data:`~aether_qt.policy.decisions.RESERVED_ACTORS`): a
card named "User" becomes ``user-card``, so it cannot share the user's grants.

The YAML is ``yaml.safe_dump`` output with sorted keys and no aliases, read
back by the strict loader and compiled before anything is written.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Final

from aether_qt.engines.persona.cards import MAX_CARD_FILE_BYTES, Card, CardError, parse_card
from aether_qt.engines.persona.cards_persona import STRICTEST_PRESET, convert_card, slug
from aether_qt.engines.persona.compiler import compile_persona
from aether_qt.engines.persona.errors import PersonaError
from aether_qt.engines.persona.loader import load_persona_text
from aether_qt.engines.persona.registry import persona_files, shipped_personas_dir
from aether_qt.engines.persona.schema import dump_persona
from aether_qt.policy.capabilities import Preset
from aether_qt.policy.decisions import RESERVED_ACTORS
from aether_qt.policy.effects import create_own_file

MAX_ID_SUFFIX: Final = 99
RESERVED_IDS: Final = frozenset({"aether", "minimum_trust"})
"""Built-in persona ids a card never takes (it gets ``<id>-2``); actor ids get ``<id>-card``."""
TRUST_UNTRUSTED: Final = "untrusted"
_HEADER: Final = (
    "# Imported from a character card by `aether persona import`.\n"
    "# UNTRUSTED (provenance.source starts with 'card:'): the card's text is data, fenced inside\n"
    "# system_prompt. Policy: the strictest preset (Observer), no overrides.\n"
)

WriteOut = Callable[[Path, str], Path]
Approve = Callable[[str], None]
"""Allows writing the persona with this id, or raises (the command's gate decision)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import produced (or, from :func:`prepare_import`, would produce).

    Attributes:
        persona_id: the new persona's id.
        name: its display name.
        path: where it was (or will be) written.
        yaml_text: the file's content.
        spec: the card's spec (``chara_card_v2``...).
        container: ``json`` or ``png:<keyword>``.
        dropped: card parts not imported (never executed or interpreted).
        notes: cuts made to the card's text (length caps).
        trust: always ``untrusted``.
        preset: the policy preset the persona proposes (``Observer``).
    """

    persona_id: str
    name: str
    path: Path
    yaml_text: str
    spec: str
    container: str
    dropped: tuple[str, ...]
    notes: tuple[str, ...]
    trust: str = TRUST_UNTRUSTED
    preset: str = STRICTEST_PRESET


def read_card_file(card_path: Path) -> bytes:
    """The card file's bytes, at most :data:`MAX_CARD_FILE_BYTES` (only regular files).

    Raises:
        CardError: unreadable, not a regular file, or too large.
    """
    name = os.fspath(card_path)
    try:
        if not stat.S_ISREG(os.stat(card_path).st_mode):  # before open: a FIFO would block it
            raise CardError(name, "not a regular file; expected a card (.json or .png)")
        with open(card_path, "rb") as handle:
            data = handle.read(MAX_CARD_FILE_BYTES + 1)
    except OSError as exc:
        raise CardError(name, f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > MAX_CARD_FILE_BYTES:
        raise CardError(name, f"the file is over the {MAX_CARD_FILE_BYTES} byte cap")
    return data


def persona_yaml(
    persona: dict[str, Any], *, dropped: Collection[str] = (), notes: Collection[str] = ()
) -> str:
    """The persona file text: header comments (what was dropped or cut), then canonical YAML."""
    lines = [_HEADER]
    if dropped:
        lines.append("# Not imported (never executed or interpreted):\n")
        lines += [f"#   - {_comment(item)}\n" for item in dropped]
    if notes:
        lines.append("# Cut to fit:\n")
        lines += [f"#   - {_comment(item)}\n" for item in notes]
    return "".join(lines) + dump_persona(persona)


def _comment(text: str) -> str:
    """``text`` on one line, safe inside a YAML comment."""
    return " ".join(text.replace("\0", " ").split())[:200]


def prepare_import(card_path: Path, *, personas_dir: Path, taken_ids: Collection[str] = ()) -> ImportResult:
    """Read, parse and convert a card, and check the persona loads back; writes nothing.

    Args:
        card_path: the card file (``.json`` or ``.png``).
        personas_dir: the user's persona folder; ids already used there are avoided.
        taken_ids: other ids to avoid. Shipped personas' ids are always avoided: a
            user persona with a shipped id would take the shipped one's place.

    Raises:
        CardError: the card cannot be imported (names the file and the problem).
    """
    name = card_path.name
    card = parse_card(read_card_file(card_path), name_hint=os.fspath(card_path))
    shipped = {p.stem for p in persona_files(shipped_personas_dir())}
    taken = {*RESERVED_IDS, *shipped, *taken_ids}
    persona_id = _free_id(_base_id(card, name), personas_dir, taken, where=os.fspath(card_path))
    converted = convert_card(card, source=name, persona_id=persona_id)
    text = persona_yaml(converted.persona, dropped=card.dropped, notes=converted.notes)
    _check_loads_back(text, converted.persona, os.fspath(card_path))
    return ImportResult(
        persona_id=persona_id,
        name=str(converted.persona["name"]),
        path=personas_dir / f"{persona_id}.yaml",
        yaml_text=text,
        spec=card.spec,
        container=card.container,
        dropped=card.dropped,
        notes=converted.notes,
    )


def import_card(
    card_path: Path,
    *,
    personas_dir: Path,
    approve: Approve,
    out: Path | None = None,
    write_out: WriteOut | None = None,
    taken_ids: Collection[str] = (),
) -> ImportResult:
    """Import ``card_path`` as a new untrusted persona and write it, once ``approve`` lets it.

    Args:
        card_path: the card file.
        personas_dir: the user's persona folder (created if missing).
        approve: called with the new persona's id just before anything is written
            (the command asks the gate for ``persona.import``); it raises to refuse,
            and then nothing is written.
        out: write here instead, through ``write_out``.
        write_out: ``(path, text) -> written path``; required with ``out``. It
            must never overwrite an existing file.
        taken_ids: ids to avoid besides the files in ``personas_dir``.

    Raises:
        CardError: the card cannot be imported; nothing was written.
        ValueError: ``out`` without ``write_out``.
        OSError: the persona folder cannot be written (nothing is left behind).
    """
    if out is not None and write_out is None:
        raise ValueError("out needs write_out")
    result = prepare_import(card_path, personas_dir=personas_dir, taken_ids=taken_ids)
    if out is not None and write_out is not None:
        approve(result.persona_id)
        return dataclasses.replace(result, path=write_out(out, result.yaml_text))
    personas_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for _ in range(MAX_ID_SUFFIX):
        approve(result.persona_id)
        if write_new_file(result.path, result.yaml_text, root=personas_dir):
            return result
        # Someone took the id between the check and the write: pick the next one.
        result = prepare_import(card_path, personas_dir=personas_dir, taken_ids=taken_ids)
    raise CardError(os.fspath(card_path), f"no free persona id in {personas_dir}")


def _base_id(card: Card, file_name: str) -> str:
    """The id a card asks for; never an actor id such as ``user`` (a card named "User" is ``user-card``)."""
    base = slug(card.fields["name"] or Path(file_name).stem)
    return f"{base}-card" if base in RESERVED_ACTORS else base


def _free_id(base: str, personas_dir: Path, taken: Collection[str], *, where: str) -> str:
    """``base``, else ``base-2``, ``base-3``... : the first id with no file and not taken."""
    for n in range(1, MAX_ID_SUFFIX + 1):
        candidate = base if n == 1 else f"{base}-{n}"
        if candidate not in taken and not _exists(personas_dir, candidate):
            return candidate
    raise CardError(where, f"no free persona id: {base} to {base}-{MAX_ID_SUFFIX} are all taken")


def _exists(personas_dir: Path, persona_id: str) -> bool:
    return any((personas_dir / f"{persona_id}{ext}").exists() for ext in (".yaml", ".yml"))


def _check_loads_back(text: str, persona: dict[str, Any], where: str) -> None:
    """The strict loader must give back exactly ``persona``, compiled untrusted and Observer-only."""
    try:
        loaded = load_persona_text(text, path=where)
        compiled = compile_persona(loaded.data, source_path=where, marks=loaded.marks)
    except PersonaError as exc:  # a bug in the conversion, not in the card: say so plainly
        raise CardError(where, f"the imported persona does not load back ({exc.reason})") from None
    untrusted = not compiled.summary.trusted and compiled.policy.preset is Preset.OBSERVER
    if loaded.data != persona or not untrusted or compiled.policy.overrides:
        raise CardError(where, "the imported persona does not load back as the same untrusted persona")


def write_new_file(target: Path, text: str, *, root: Path) -> bool:
    """Write ``target`` atomically unless it exists; False if it does. Leaves no temporary file.

    Only for the app's own folder ``root``
    (:func:`~aether_qt.policy.effects.create_own_file`; the runtime guard refuses anything else).

    Raises:
        OutsideRootsError: ``target`` is not inside ``root``.
        OSError: the folder cannot be written.
    """
    return create_own_file(target, text.encode("utf-8"), root=root)
