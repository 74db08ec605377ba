"""MemoryService on a real runtime: user corrections through the gate, episodes, recall gating, the sweep.

Real SQLite, the real audit chain and the real MiniLM embedder (one service per
module; tests that change the preset put it back). Keys go to an opt-in key
file with the fail keyring backend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring_support import key_file_runtime

from aether_qt.core.bus import EventBus
from aether_qt.core.events import Envelope, MemoryChanged
from aether_qt.engines.memory.items import Kind, MemoryImportError, PrivacyClass, UnknownMemoryError
from aether_qt.policy.capabilities import Preset
from aether_qt.policy.contracts import PermitError
from aether_qt.policy.decisions import ActionRequest, Allow
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.memory.service import MemoryService, kind_of
from aether_qt.storage.sql import execute


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PolicyRuntime]:
    with key_file_runtime(tmp_path_factory.mktemp("mem") / "home") as rt:
        yield rt


@pytest.fixture(scope="module")
def bus() -> EventBus:
    return EventBus()


@pytest.fixture(scope="module")
def memory(runtime: PolicyRuntime, bus: EventBus) -> Iterator[MemoryService]:
    service = MemoryService(runtime=runtime, bus=bus, paths=runtime.paths, retention_days=lambda: 30)
    assert service.start().state == "ready"
    yield service
    service.close()


@pytest.fixture
def changes(bus: EventBus) -> Iterator[list[MemoryChanged]]:
    seen: list[MemoryChanged] = []

    def keep(env: Envelope) -> None:
        assert isinstance(env.payload, MemoryChanged)
        seen.append(env.payload)

    unsubscribe = bus.subscribe(MemoryChanged.KIND, keep)
    yield seen
    unsubscribe()


def last_audit(runtime: PolicyRuntime) -> tuple[str, str, str, str]:
    assert runtime.audit is not None
    row = runtime.audit.rows()[-1]
    return row.capability, row.resource, row.decision, row.actor


def test_user_edit_privacy_and_forget_are_gated_audited_and_published(
    memory: MemoryService, runtime: PolicyRuntime, changes: list[MemoryChanged]
) -> None:
    added = memory.edits.add("my dentist is Dr Rao", kind=Kind.FACT)
    [item] = added.items
    assert item.provenance.source == "user_confirmed" and item.retention == "days:30"

    edited = memory.edits.edit(item.id, "my dentist is Dr Rao in Leeds")
    assert edited.ok and last_audit(runtime) == ("memory.write.durable", f"memory:{item.id}", "allow", "user")
    assert memory.get(item.id) is not None and memory.get(item.id).text == "my dentist is Dr Rao in Leeds"  # type: ignore[union-attr]
    assert memory.search("Leeds").hits[0].item_id == item.id

    memory.edits.set_privacy(item.id, PrivacyClass.SENSITIVE)
    assert memory.get(item.id).privacy is PrivacyClass.SENSITIVE  # type: ignore[union-attr]

    forgotten = memory.edits.forget(item.id)
    assert forgotten.ok and last_audit(runtime) == ("memory.delete", f"memory:{item.id}", "allow", "user")
    assert memory.get(item.id) is None
    assert [c.change for c in changes] == ["added", "edited", "privacy", "forgotten"]
    assert all(c.item_ids == (item.id,) and c.audit_id for c in changes)
    # the audit log never holds the memory's words
    assert runtime.audit is not None
    assert not [r for r in runtime.audit.rows() if "Rao" in r.resource or "Rao" in str(r.detail)]


def test_unknown_ids_and_empty_text_fail_before_asking_the_gate(
    memory: MemoryService, runtime: PolicyRuntime
) -> None:
    assert runtime.audit is not None
    before = len(runtime.audit.rows())
    with pytest.raises(UnknownMemoryError):
        memory.edits.forget("no-such-id")
    with pytest.raises(UnknownMemoryError):
        memory.edits.edit("no-such-id", "text")
    [item] = memory.edits.add("a note to keep").items
    with pytest.raises(ValueError, match="empty"):
        memory.edits.edit(item.id, "   ")
    assert len(runtime.audit.rows()) == before + 1  # only the add was decided


def test_under_observer_the_users_own_forget_is_an_answered_ask(
    memory: MemoryService, runtime: PolicyRuntime
) -> None:
    [item] = memory.edits.add("my locker code is on a sticky note").items
    runtime.set_preset(Preset.OBSERVER)
    try:
        outcome = memory.edits.forget(item.id, now=True)
    finally:
        runtime.set_preset(Preset.ASSISTANT)
    assert outcome.ok and memory.get(item.id) is None
    assert runtime.audit is not None
    decisions = [r.decision for r in runtime.audit.rows() if r.capability == "memory.delete"]
    assert decisions[-3:] == ["ask", "allow", "grant_spent"]  # asked, answered by the user's act, spent
    row = execute(
        runtime.database, "SELECT text, purged FROM memory_items WHERE id = ?", (item.id,)
    ).fetchone()
    assert row == ("", 1)  # "forget now" erased the words at once


def test_episodes_are_session_memories_and_end_with_the_session(memory: MemoryService) -> None:
    assert memory.record_episode("hi", turn_id="t0", persona_id="aether") is None  # too short to keep
    outcome = memory.record_episode(
        "we talked about the hiking trip to Snowdon", turn_id="t1", persona_id="aether"
    )
    assert outcome is not None and outcome.ok
    [episode] = outcome.items
    assert episode.kind is Kind.EPISODE and episode.retention == "session"
    assert episode.provenance.source == "user_said" and episode.provenance.turn_id == "t1"
    result, fenced = memory.recall_for_turn("Snowdon hiking", turn_id="t2", persona_id="aether")
    assert [h.item_id for h in result.hits][:1] == [episode.id]
    assert fenced[0].trust == "untrusted" and fenced[0].source.startswith("memory:user_said")
    assert memory.end_session() >= 1
    assert memory.get(episode.id) is None


def test_recall_is_gated_by_memory_read(memory: MemoryService, runtime: PolicyRuntime) -> None:
    memory.edits.add("my bike is a blue Brompton")
    runtime.gate.pause(True)
    try:
        result, fenced = memory.recall_for_turn("Brompton", turn_id="t3", persona_id="aether")
    finally:
        runtime.gate.pause(False)
    assert result.hits == () and fenced == ()
    result, fenced = memory.recall_for_turn("Brompton", turn_id="t4", persona_id="aether")
    assert "Brompton" in result.hits[0].text and "Brompton" in fenced[0].text


def test_the_sweep_expires_past_retention_and_purges_old_tombstones(
    memory: MemoryService, runtime: PolicyRuntime
) -> None:
    [old] = memory.edits.add("a memory that ran out").items
    execute(runtime.database, "UPDATE memory_items SET expires_at_ms = 1 WHERE id = ?", (old.id,))
    assert memory.get(old.id) is None  # reads hide it before the sweep runs
    expired, _ = memory.maintain(grace_s=3600.0)
    assert expired == 1
    _, purged = memory.maintain(grace_s=0.0)
    assert purged >= 1
    row = execute(runtime.database, "SELECT text FROM memory_items WHERE id = ?", (old.id,)).fetchone()
    assert row == ("",)


def test_a_malformed_import_names_the_entry_and_writes_nothing(memory: MemoryService, tmp_path: Path) -> None:
    before = len(memory.list_items(limit=10_000))
    bad = tmp_path / "bad.json"
    good = {"text": "fine", "kind": "note", "privacy_class": "private"}
    bad.write_text(json.dumps({"format": 1, "items": [good, {"id": "e2", "kind": "fact"}]}))
    with pytest.raises(MemoryImportError, match=r"entry 1 \(id e2\)"):
        memory.edits.import_file(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(MemoryImportError, match="the file"):
        memory.edits.import_file(broken)
    assert len(memory.list_items(limit=10_000)) == before


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("my sister's name is Mira", Kind.FACT),
        ("I like green tea", Kind.PREFERENCE),
        ("call the plumber on Monday", Kind.NOTE),
        ("what is my favourite colour?", Kind.NOTE),  # a question is never a fact nor a preference
        ("my favourite colour is?", Kind.NOTE),
        ("do I like green tea?", Kind.NOTE),
    ],
)
def test_remembered_sentences_get_a_kind(text: str, kind: Kind) -> None:
    assert kind_of(text) is kind


def _allowed(runtime: PolicyRuntime, capability: str, resource: str) -> Allow:
    decision = runtime.gate.evaluate(ActionRequest(capability, resource, actor_persona="aether"))
    assert isinstance(decision, Allow), decision
    return decision


def test_a_write_permit_cannot_drive_a_forget(memory: MemoryService, runtime: PolicyRuntime) -> None:
    [item] = memory.edits.add("my canoe is called Drifter").items
    write = _allowed(runtime, "memory.write.durable", "memory:fact")
    with pytest.raises(PermitError):
        memory.forget_topic(write, "my canoe")
    assert memory.get(item.id) is not None


def test_a_delete_permit_cannot_drive_a_remember(memory: MemoryService, runtime: PolicyRuntime) -> None:
    before = len(memory.list_items(limit=10_000))
    delete = _allowed(runtime, "memory.delete", "memory:topic")
    with pytest.raises(PermitError):
        memory.remember(delete, "my kayak is called Skipper", turn_id="t9")
    assert len(memory.list_items(limit=10_000)) == before


def test_undoing_a_forget_is_a_gated_audited_user_act_until_the_purge(
    memory: MemoryService, runtime: PolicyRuntime, changes: list[MemoryChanged]
) -> None:
    [item] = memory.edits.add("my passport number is in the red folder", privacy=PrivacyClass.SENSITIVE).items
    memory.edits.forget(item.id)
    assert [f.id for f in memory.forgotten([item.id])] == [item.id]
    undone = memory.edits.restore(item.id)
    assert undone.ok and undone.summary == "Brought back."
    assert last_audit(runtime) == ("memory.write.durable", f"memory:{item.id}", "allow", "user")
    assert memory.get(item.id) == item  # text, privacy and provenance exactly as before
    assert memory.search("passport red folder").hits[0].item_id == item.id
    assert [c.change for c in changes][-1] == "restored"

    memory.edits.forget(item.id)
    memory.maintain(grace_s=0.0)  # the grace period is over: the words are erased
    assert memory.forgotten([item.id]) == []
    with pytest.raises(UnknownMemoryError):
        memory.edits.restore(item.id)
    assert memory.get(item.id) is None


@pytest.mark.parametrize(
    "text", ["what is my favourite colour?", "my favourite colour?", "thanks", "how are you"]
)
def test_a_question_or_small_talk_is_never_remembered_as_a_fact(
    memory: MemoryService, runtime: PolicyRuntime, text: str
) -> None:
    before = {item.id for item in memory.list_items(limit=10_000)}
    outcome = memory.remember(_allowed(runtime, "memory.write.durable", "memory:fact"), text, turn_id="t9")
    assert not outcome.ok and ("question" in outcome.summary or "small talk" in outcome.summary)
    assert {item.id for item in memory.list_items(limit=10_000)} == before
