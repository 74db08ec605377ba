"""Memory changes as values: what a memory permit is redeemed for.

The memory effector (:meth:`Effectors.change_memory
<aether_qt.policy.effects.Effectors.change_memory>`) does not take a capability
and a resource from its caller, who could hand back the permit's own. It takes
a :class:`MemoryChange`: the operation and the item (or kind of item) it acts
on. The operation fixes the capability (a forget or a purge needs
``memory.delete``, a correction ``memory.write.durable``), the target is
checked against the operation here and against the permit by the gate, and the
change is handed to the code that applies it, so that code acts on the target
that was checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

ITEM_PREFIX: Final = "memory:"
IMPORT_PREFIX: Final = "import:"
_KIND_TARGETS: Final = frozenset({"fact", "new", "episode", "topic", "recall"})


class MemoryAction(StrEnum):
    """What a change does to the memory store."""

    REMEMBER = "remember"  # keep a new durable memory (memory:fact from a turn, memory:new by hand)
    EPISODE = "episode"  # keep a session episode (memory:episode)
    EDIT = "edit"  # correct one item's text or privacy (memory:<id>)
    IMPORT = "import"  # import an export file (import:<file name>)
    FORGET = "forget"  # tombstone one item (memory:<id>) or what a topic names (memory:topic)
    PURGE = "purge"  # tombstone and erase one item now (memory:<id>)
    RESTORE = "restore"  # undo a forget within the grace period (memory:<id>): a durable write again


_CAPABILITY: Final = {
    MemoryAction.REMEMBER: "memory.write.durable",
    MemoryAction.EPISODE: "memory.write.session",
    MemoryAction.EDIT: "memory.write.durable",
    MemoryAction.IMPORT: "memory.write.durable",
    MemoryAction.FORGET: "memory.delete",
    MemoryAction.PURGE: "memory.delete",
    MemoryAction.RESTORE: "memory.write.durable",
}


@dataclass(frozen=True, slots=True)
class MemoryChange:
    """One change of the memory store, as the gate must have allowed it.

    Attributes:
        action: the operation.
        resource: the audited resource: ``memory:<id>``, ``memory:fact``, ``memory:new``,
            ``memory:episode``, ``memory:topic`` or ``import:<file name>``.
        persona: the actor the change is made for, checked against the permit's persona;
            None leaves it unchecked.

    Raises:
        ValueError: ``resource`` is not a target of ``action`` (an edit of ``memory:fact``...).
    """

    action: MemoryAction
    resource: str
    persona: str | None = None

    def __post_init__(self) -> None:
        item = self.item_id is not None
        fits = {
            MemoryAction.REMEMBER: self.resource in ("memory:fact", "memory:new"),
            MemoryAction.EPISODE: self.resource == "memory:episode",
            MemoryAction.EDIT: item,
            MemoryAction.IMPORT: self.resource.startswith(IMPORT_PREFIX) and self.resource != IMPORT_PREFIX,
            MemoryAction.FORGET: item or self.resource == "memory:topic",
            MemoryAction.PURGE: item,
            MemoryAction.RESTORE: item,
        }[MemoryAction(self.action)]
        if not fits:
            raise ValueError(f"{self.resource!r} is not a target of a memory {self.action.value}")

    @property
    def capability(self) -> str:
        """The capability the permit must be for."""
        return _CAPABILITY[self.action]

    @property
    def item_id(self) -> str | None:
        """The one item the change acts on, or None for a kind of item (``memory:fact``...)."""
        if not self.resource.startswith(ITEM_PREFIX):
            return None
        rest = self.resource[len(ITEM_PREFIX) :]
        return rest if rest and rest not in _KIND_TARGETS else None

    @classmethod
    def on_item(cls, action: MemoryAction, item_id: str, *, persona: str | None = None) -> MemoryChange:
        """A change of one item (``memory:<id>``)."""
        return cls(action, f"{ITEM_PREFIX}{item_id}", persona)
