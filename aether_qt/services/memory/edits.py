"""The user's own edits of memory (the panel, ``aether memory``): each one a gate decision, audited.

:class:`UserEdits` is what the user drives directly: add, correct, change
privacy, forget, import and export. :class:`~.service.MemoryService` builds one
and hands it its store, its lock and its change notifier (composition: it is
``service.edits``). The user is the actor; an ``Ask`` is answered "allow once"
because the click or the command is the approval
(:func:`~aether_qt.services.gate.user_acts.decide_as_user`), and the change
itself runs under the decision's permit (:meth:`Effectors.change_memory`), as a
:class:`~aether_qt.policy.memory_changes.MemoryChange` (operation, item, the
user) that the effector checks against the permit; the code that applies it
acts on the item it is handed. Audit resources name the item (``memory:<id>``),
never its words.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import peewee

from aether_qt.core.utterances import is_fact_like
from aether_qt.engines.memory.export import MAX_IMPORT_BYTES, draft_from_entry
from aether_qt.engines.memory.items import (
    USER_CONFIRMED,
    Kind,
    MemoryImportError,
    MemoryItem,
    MemoryOutcome,
    PrivacyClass,
    Provenance,
    UnknownMemoryError,
    claim_of,
)
from aether_qt.policy.decisions import Allow, Decision, Deny
from aether_qt.policy.memory_changes import MemoryAction, MemoryChange
from aether_qt.policy.user_words import sentence_for
from aether_qt.services.gate.user_acts import USER, decide_as_user
from aether_qt.storage.cipher import (
    PASSPHRASE_MAGIC,
    is_passphrase_sealed,
    seal_with_passphrase,
    unseal_with_passphrase,
)
from aether_qt.storage.errors import translate_sqlite_error

if TYPE_CHECKING:
    from aether_qt.engines.memory.store import MemoryStore
    from aether_qt.policy.runtime import PolicyRuntime

Changed = Callable[[str, Sequence[MemoryItem], str], None]
"""Tells the bus what changed: ``(change, items, audit_id)``."""

Apply = Callable[[MemoryChange, Allow], tuple[MemoryItem, ...]]
"""Applies a checked change (under the Allow, for its audit id); returns the items it changed."""

_PREFERENCE = ("i like ", "i love ", "i prefer ", "i hate ", "i don't like ", "i dislike ", "i enjoy ")


def kind_of(text: str) -> Kind:
    """A remembered sentence's kind: a claim ("my X is Y") is a fact, "I like …" a preference, else a note.

    A question or small talk is at most a note (the user typed it in the panel): never a fact.
    """
    if not is_fact_like(text):
        return Kind.NOTE
    if claim_of(text) is not None:
        return Kind.FACT
    return Kind.PREFERENCE if text.strip().lower().startswith(_PREFERENCE) else Kind.NOTE


class UserEdits:
    """The user's edits of one home's memory (see the module docstring).

    Args:
        runtime: the policy runtime (gate, effectors, clock).
        store: the started store; raises :class:`MemoryUnavailableError` while memory is not usable.
        lock: the memory service's lock, which serialises every change.
        retention: the retention string of a new memory (the user's choice and the persona's, combined).
        changed: publishes what changed.
    """

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        store: Callable[[], MemoryStore],
        lock: threading.RLock,
        retention: Callable[[], str],
        changed: Changed,
    ) -> None:
        self._rt = runtime
        self._require = store
        self._lock = lock
        self._retention = retention
        self._changed = changed

    def add(
        self, text: str, *, kind: Kind | None = None, privacy: PrivacyClass = PrivacyClass.PRIVATE
    ) -> MemoryOutcome:
        """The user adds a memory by hand (``memory.write.durable``; provenance ``user_confirmed``).

        Without a ``kind`` it is guessed from the words (see :func:`kind_of`).
        """
        store = self._require()
        kind = kind or kind_of(text)
        retention = self._retention()

        def add(_change: MemoryChange, allow: Allow) -> tuple[MemoryItem, ...]:
            prov = Provenance(USER_CONFIRMED, "", allow.audit_id, self._rt.clock.wall_ms(), USER_CONFIRMED)
            return (
                store.add(
                    text, kind=kind, privacy=privacy, provenance=prov, retention=retention, salience=0.8
                ),
            )

        change = MemoryChange(MemoryAction.REMEMBER, "memory:new", persona=USER)
        return self._as_user(change, add, "added", "Remembered.")

    def edit(self, item_id: str, text: str) -> MemoryOutcome:
        """The user corrects a memory's text (``memory.write.durable`` on ``memory:<id>``).

        Raises:
            UnknownMemoryError: no live memory has this id (nothing asked, nothing written).
            ValueError: the new text is empty.
        """
        store = self._require()
        self._live(item_id)
        if not text.strip():
            raise ValueError("the memory text is empty")
        return self._as_user(
            MemoryChange.on_item(MemoryAction.EDIT, item_id, persona=USER),
            lambda change, _a: (store.edit_text(_item(change), text),),
            "edited",
            "Corrected.",
        )

    def set_privacy(self, item_id: str, privacy: PrivacyClass) -> MemoryOutcome:
        """The user changes a memory's privacy class.

        Raises:
            UnknownMemoryError: no live memory has this id.
        """
        store = self._require()
        self._live(item_id)
        return self._as_user(
            MemoryChange.on_item(MemoryAction.EDIT, item_id, persona=USER),
            lambda change, _a: (store.set_privacy(_item(change), PrivacyClass(privacy)),),
            "privacy",
            f"Privacy set to {PrivacyClass(privacy).value}.",
        )

    def forget(self, item_id: str, *, now: bool = False) -> MemoryOutcome:
        """The user forgets a memory: tombstoned at once; ``now`` also purges its text and vector.

        Raises:
            UnknownMemoryError: no live memory has this id.
        """
        store = self._require()
        self._live(item_id)

        def forget(change: MemoryChange, _allow: Allow) -> tuple[MemoryItem, ...]:
            target = _item(change)
            item = store.get(target)
            if item is None or not store.forget(target, now=change.action is MemoryAction.PURGE):
                raise UnknownMemoryError(target)
            return (item,)

        summary = "Forgotten and erased." if now else "Forgotten (erased for good after the grace period)."
        action = MemoryAction.PURGE if now else MemoryAction.FORGET
        change = MemoryChange.on_item(action, item_id, persona=USER)
        return self._as_user(change, forget, "purged" if now else "forgotten", summary)

    def restore(self, item_id: str) -> MemoryOutcome:
        """The user undoes a forget during the grace period (``memory.write.durable`` on ``memory:<id>``).

        The memory comes back exactly as it was (text, kind, privacy, provenance).

        Raises:
            UnknownMemoryError: the memory is not forgotten, or its words are already erased.
        """
        store = self._require()
        if not store.forgotten([item_id]):
            raise UnknownMemoryError(item_id)
        return self._as_user(
            MemoryChange.on_item(MemoryAction.RESTORE, item_id, persona=USER),
            lambda change, _a: (store.restore(_item(change)),),
            "restored",
            "Brought back.",
        )

    def import_file(self, path: Path, *, passphrase: str | None = None) -> MemoryOutcome:
        """Import an export file in one transaction (``memory.write.durable``); a bad entry rejects it all.

        A sealed export needs its ``passphrase``; a plain JSON file (an older export,
        or one written by hand) is read as it is.

        Raises:
            MemoryImportError: the file is unreadable, not an export, sealed with another
                passphrase (or changed), or holds a malformed entry.
        """
        store = self._require()
        entries = read_export_file(path, passphrase=passphrase)
        now = self._rt.clock.wall_ms()
        for i, entry in enumerate(entries):  # a malformed file is refused before the gate is asked
            draft_from_entry(i, entry, now_ms=now)
        return self._as_user(
            MemoryChange(MemoryAction.IMPORT, f"import:{path.name}", persona=USER),
            lambda _change, _a: tuple(store.import_items(entries)),
            "imported",
            f"Imported {_count(len(entries))} from {path.name}.",
        )

    def export_file(self, path: Path, *, passphrase: str) -> MemoryOutcome:
        """Export every live memory through the gate (``memory.export``) and an effector.

        The JSON is sealed with ``passphrase`` (Argon2id + XSalsa20-Poly1305): the file
        leaves the encrypted database, so it must not carry the memories in clear.

        Raises:
            ValueError: the passphrase is too short.
        """
        with self._lock:
            entries = self._require().export()
        text = json.dumps({"format": 1, "items": entries}, ensure_ascii=False, indent=2).encode("utf-8")
        data = seal_with_passphrase(text, passphrase)
        decision = self._user_decision("memory.export", str(path.expanduser().absolute()))
        if not isinstance(decision, Allow):
            return _refused(decision)
        written = self._rt.effectors.write_export(decision.permit, path, data, capability="memory.export")
        return MemoryOutcome(
            True, f"Exported {_count(len(entries))} to {written}.", "allow", decision.audit_id
        )

    def _user_decision(self, capability: str, resource: str) -> Decision:
        return decide_as_user(self._rt.gate, capability, resource)  # the user's click or command approves

    def _live(self, item_id: str) -> MemoryItem:
        item = self._require().get(item_id)
        if item is None:
            raise UnknownMemoryError(item_id)
        return item

    def _as_user(self, change: MemoryChange, apply: Apply, kind: str, summary: str) -> MemoryOutcome:
        """Ask the gate as the user, then apply ``change`` under the Allow.

        Raises:
            StorageError: the database failed while the change was applied (nothing of it is kept:
                each change is one transaction).
        """
        with self._lock:
            decision = self._user_decision(change.capability, change.resource)
            if not isinstance(decision, Allow):
                return _refused(decision)
            allow = decision
            try:
                items = self._rt.effectors.change_memory(
                    allow.permit, change, lambda checked: apply(checked, allow)
                )
            except (sqlite3.Error, peewee.PeeweeException) as exc:
                raise translate_sqlite_error(exc, self._rt.paths.app_db) from exc
        self._changed(kind, items, decision.audit_id)
        return MemoryOutcome(True, summary, "allow", decision.audit_id, items)


def _item(change: MemoryChange) -> str:
    """The one item a checked change acts on."""
    assert change.item_id is not None  # edits, forgets and purges are built on one item
    return change.item_id


def _count(n: int) -> str:
    return "1 memory" if n == 1 else f"{n:,} memories"


def _refused(decision: Decision) -> MemoryOutcome:
    reason = decision.reason.value if isinstance(decision, Deny) else decision.kind
    said = sentence_for(reason) or "Aether's rules did not allow this."
    return MemoryOutcome(False, said, decision.kind, decision.audit_id)


def is_sealed_export(path: Path) -> bool:
    """``path`` is an export sealed with a passphrase (false when unreadable: the import will say why)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the open
            return False
        with path.open("rb") as handle:
            return is_passphrase_sealed(handle.read(len(PASSPHRASE_MAGIC)))
    except OSError:
        return False


def read_export_file(path: Path, *, passphrase: str | None = None) -> list[object]:
    """The entries of an export file (``{"format": 1, "items": [...]}`` or a bare list), unsealed if sealed.

    A file over :data:`~aether_qt.engines.memory.export.MAX_IMPORT_BYTES` is refused
    before it is read (parsing JSON costs up to ~25 bytes of memory per byte of
    file), and only a regular file is opened (a FIFO would block the import).

    Raises:
        MemoryImportError: unreadable, too large, sealed without (or with a wrong)
            passphrase, not UTF-8 JSON, nested too deeply, or not an export (index -1
            names the file itself).
    """

    def refuse(reason: str) -> MemoryImportError:
        return MemoryImportError(-1, "", f"{path}: {reason}")

    raw = _read_capped(path, refuse)
    if is_passphrase_sealed(raw):
        if passphrase is None:
            raise refuse("this export is sealed; its passphrase is needed")
        try:
            raw = unseal_with_passphrase(raw, passphrase)
        except ValueError as exc:  # SealedFileError is a ValueError, and so is a too short passphrase
            raise refuse(str(exc)) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise refuse(f"not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise refuse("not a memory export (JSON nested too deeply)") from None
    except ValueError as exc:
        raise refuse(f"not JSON: {exc}") from None
    items = data.get("items") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise refuse("not a memory export (expected a list of items)")
    return items


def _read_capped(path: Path, refuse: Callable[[str], MemoryImportError]) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_IMPORT_BYTES`, or ``refuse``'s error."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise refuse("not a regular file; expected a memory export (.json)")
        if info.st_size > MAX_IMPORT_BYTES:
            raise refuse(f"the file is over the {MAX_IMPORT_BYTES} byte cap")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        raise refuse(f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_IMPORT_BYTES:  # it grew after the check
        raise refuse(f"the file is over the {MAX_IMPORT_BYTES} byte cap")
    return raw
