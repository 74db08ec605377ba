"""The workload of the aether.db kill tests (``tests/adversarial/test_app_db_sigkill.py``).

A forked child runs :func:`run_workload`: it opens the home with the real
:class:`PolicyRuntime` (recovering whatever the previous, killed child left),
starts :class:`MemoryService` text-only, and then performs operations through
the app's own paths: remember (the conversation's gated path), add, edit, set
privacy, forget (now or with a grace period), forget a topic, record an
episode, ask (a ticket), answer a ticket (a grant), revoke a grant, set and
delete settings, change the approved folders. Random ones until it is killed,
or a fixed script (``name`` or ``name:arg`` steps) with a kill at a chosen
crash point of the app database (:func:`kill_at_crash_point`).

Each operation is written to the pipe twice, one line each (``I`` or ``A``,
the operation's name, JSON): ``I`` (the intent) before it starts, naming every
existing entity it may change and the state it would leave it in, and ``A``
(the acknowledgement) after it returned, with the states of every entity it
changed or created. The parent compares these with the database after the kill:

- ``mem:<id>``: ``{"text", "privacy", "state": "live" | "forgotten" | "purged"}``
- ``ticket:<id>``: ``{"state": "pending"}`` or ``{"state": "answered", "choice"}``
- ``grant:<id>``: ``{"cap", "pattern", "duration", "ended"}``
- ``set:<key>``: ``{"value"}`` or ``{"absent": true}``

Memory texts carry one unique ``tok…`` word, so the parent can also check
that the full-text index finds a live memory and never a forgotten one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aether_qt.core.bus import EventBus
from aether_qt.core.paths import AppPaths
from aether_qt.engines.memory.items import MemoryItem, PrivacyClass, claim_of
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask, Decision, Duration, Grant
from aether_qt.policy.runtime import SETTING_ROOTS, PolicyRuntime
from aether_qt.services.memory.service import MemoryService
from aether_qt.storage.cipher import DataKey, connect_keyed
from aether_qt.storage.settings import JSONValue

State = dict[str, Any]
PERSONA = "aether"
SETTING_KEYS = tuple(f"kill.{name}" for name in "abcdef")
ASK_CAPABILITIES = ("media.mic", "router.remote")  # Ask in the default preset, literal resources
CHOICES = tuple(ApprovalChoice)
SUBJECTS = ("pet", "car", "town", "team")  # "my <subject> <n> is <value>": claims that forget_topic finds
READY = "R"
DONE = "D"
WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})


def token() -> str:
    """A word no other memory text contains (the full-text index's probe)."""
    return f"tok{uuid.uuid4().hex[:12]}"


def mem_state(item: MemoryItem | None, *, text: str = "", privacy: str = "", state: str = "live") -> State:
    """A memory's state as the pipe carries it."""
    if item is not None:
        text, privacy = item.text, item.privacy.value
    return {"text": text, "privacy": privacy, "state": state}


def grant_state(grant: Grant, *, ended: bool = False) -> State:
    """A grant's state as the pipe carries it."""
    return {
        "cap": grant.capability,
        "pattern": grant.resource_pattern,
        "duration": grant.duration.value,
        "ended": ended,
    }


class Workload:
    """Random operations on one open home, each announced and acknowledged on ``out_fd``."""

    def __init__(
        self, runtime: PolicyRuntime, memory: MemoryService, rng: random.Random, out_fd: int
    ) -> None:
        self.rt, self.memory, self.rng, self.out_fd = runtime, memory, rng, out_fd
        self.op = ""
        self.live: dict[str, MemoryItem] = {i.id: i for i in memory.list_items(limit=100_000)}
        self.pending = {t.ticket_id for t in runtime.tickets.pending()}
        self.grants = {
            g.grant_id: g
            for g in runtime.ledger.active()
            if g.duration is Duration.PERSISTENT and g.issued_by.startswith("approval:")
        }
        self.ops: list[tuple[Callable[[str], None], int]] = [
            (self.remember, 3),
            (self.add, 2),
            (self.edit, 2),
            (self.privacy, 1),
            (self.forget, 2),
            (self.forget_topic, 1),
            (self.episode, 2),
            (self.ask, 2),
            (self.answer, 2),
            (self.revoke, 1),
            (self.set_setting, 3),
            (self.delete_setting, 1),
            (self.set_roots, 1),
        ]

    def send(self, kind: str, states: dict[str, State]) -> None:
        """One line on the side channel; ``os.write`` of a short line is one atomic pipe write."""
        os.write(self.out_fd, f"{kind} {self.op} {json.dumps(states, sort_keys=True)}\n".encode())

    def run(self, script: Sequence[str] | None = None) -> None:
        """Perform random operations until killed, or the steps of ``script`` (``name`` or ``name:arg``)."""
        if script is not None:
            for step in script:
                name, _, arg = step.partition(":")
                self.op = name
                getattr(self, name)(arg)
            return
        funcs, weights = zip(*self.ops, strict=True)
        while True:
            func = self.rng.choices(funcs, weights)[0]
            self.op = func.__name__
            func("")

    def _text(self, arg: str = "") -> str:
        if arg in SUBJECTS:
            return f"my {arg} 0 is {token()}"
        if arg == "claim" or (not arg and self.rng.random() < 0.5):
            subject = self.rng.choice(SUBJECTS)
            return f"my {subject} {self.rng.randrange(4)} is {token()}"
        return f"note {token()} about {self.rng.choice(('tea', 'trains', 'rain', 'Leeds'))}"

    def _pick_live(self) -> MemoryItem | None:
        return self.live[self.rng.choice(sorted(self.live))] if self.live else None

    # ------------------------------------------------------------ memory

    def _keep(self, items: tuple[MemoryItem, ...]) -> None:
        for item in items:
            self.live[item.id] = item
        self.send("A", {f"mem:{i.id}": mem_state(i) for i in items})

    def remember(self, arg: str) -> None:
        """The conversation's "remember that …": the gate, then the service under the permit."""
        self.send("I", {})
        decision = self.rt.gate.evaluate(
            ActionRequest("memory.write.durable", "memory:fact", actor_persona=PERSONA, turn_id="t")
        )
        assert isinstance(decision, Allow), decision
        outcome = self.memory.remember(decision, self._text(arg), turn_id="t")
        assert outcome.ok, outcome
        self._keep(outcome.items)

    def add(self, arg: str) -> None:
        """The user adds a memory in the panel."""
        self.send("I", {})
        privacy = self.rng.choice(tuple(PrivacyClass))
        outcome = self.memory.edits.add(self._text(arg), privacy=privacy)
        assert outcome.ok, outcome
        self._keep(outcome.items)

    def episode(self, arg: str) -> None:
        """An answered chat turn kept as a session episode."""
        self.send("I", {})
        outcome = self.memory.record_episode(
            f"we talked about {token()} and the weather", turn_id="t", persona_id=PERSONA
        )
        assert outcome is not None and outcome.ok, outcome
        self.send("A", {f"mem:{i.id}": mem_state(i) for i in outcome.items})  # not edited later

    def edit(self, arg: str) -> None:
        """The user corrects a memory's text."""
        item = self._pick_live()
        if item is None:
            return
        text = self._text()
        self.send("I", {f"mem:{item.id}": mem_state(None, text=text, privacy=item.privacy.value)})
        outcome = self.memory.edits.edit(item.id, text)
        assert outcome.ok, outcome
        self._keep(outcome.items)

    def privacy(self, arg: str) -> None:
        """The user changes a memory's privacy class."""
        item = self._pick_live()
        if item is None:
            return
        privacy = self.rng.choice(tuple(PrivacyClass))
        self.send("I", {f"mem:{item.id}": mem_state(None, text=item.text, privacy=privacy.value)})
        outcome = self.memory.edits.set_privacy(item.id, privacy)
        assert outcome.ok, outcome
        self._keep(outcome.items)

    def forget(self, arg: str) -> None:
        """The user forgets a memory, now (text erased) or after the grace period."""
        item = self._pick_live()
        if item is None:
            return
        now = arg == "now" or (not arg and self.rng.random() < 0.5)
        gone = mem_state(item, state="forgotten")
        if now:
            gone = mem_state(None, text="", privacy=item.privacy.value, state="purged")
        self.send("I", {f"mem:{item.id}": gone})
        outcome = self.memory.edits.forget(item.id, now=now)
        assert outcome.ok, outcome
        del self.live[item.id]
        self.send("A", {f"mem:{item.id}": gone})

    def forget_topic(self, arg: str) -> None:
        """The conversation's "forget my pet 2": every live memory of that claim is forgotten."""
        keys = sorted({claim[0] for i in self.live.values() if (claim := claim_of(i.text)) is not None})
        if not keys:
            return
        key = arg or self.rng.choice(keys)
        targets = [i for i in self.live.values() if (claim_of(i.text) or ("",))[0] == key]
        if not targets:  # an edit or forget took them: the service would fall back to the closest text
            return
        self.send("I", {f"mem:{i.id}": mem_state(i, state="forgotten") for i in targets})
        decision = self.rt.gate.evaluate(
            ActionRequest("memory.delete", "memory:topic", actor_persona=PERSONA, turn_id="t")
        )
        assert isinstance(decision, Allow), decision
        outcome = self.memory.forget_topic(decision, f"my {key}")
        assert outcome.ok and {i.id for i in outcome.items} == {i.id for i in targets}, outcome
        for item in targets:
            del self.live[item.id]
        self.send("A", {f"mem:{i.id}": mem_state(i, state="forgotten") for i in targets})

    # ------------------------------------------------------------ tickets and grants

    def ask(self, arg: str) -> None:
        """A request the preset asks about: a durable pending ticket."""
        self.send("I", {})
        capability = self.rng.choice(ASK_CAPABILITIES)
        decision = self.rt.gate.evaluate(ActionRequest(capability, f"res-{token()}", actor_persona=PERSONA))
        assert isinstance(decision, Ask), decision
        self.pending.add(decision.ticket.ticket_id)
        self.send("A", {f"ticket:{decision.ticket.ticket_id}": {"state": "pending"}})

    def answer(self, arg: str) -> None:
        """The user answers a pending ticket; an allow issues a grant (once, session or always)."""
        if not self.pending:
            return
        ticket_id = self.rng.choice(sorted(self.pending))
        choice = ApprovalChoice(arg) if arg else self.rng.choice(CHOICES)
        answered = {"state": "answered", "choice": choice.value}
        self.send("I", {f"ticket:{ticket_id}": answered})
        decision: Decision = self.rt.gate.answer(ticket_id, choice)
        self.pending.discard(ticket_id)
        acked = {f"ticket:{ticket_id}": answered}
        if isinstance(decision, Allow):
            acked[f"grant:{decision.grant.grant_id}"] = grant_state(decision.grant)
            if decision.grant.duration is Duration.PERSISTENT:
                self.grants[decision.grant.grant_id] = decision.grant
        else:
            assert decision.kind in ("deny", "draft"), decision
        self.send("A", acked)

    def revoke(self, arg: str) -> None:
        """The user revokes an "always" grant in the trust centre."""
        if not self.grants:
            return
        grant = self.grants.pop(self.rng.choice(sorted(self.grants)))
        ended = {f"grant:{grant.grant_id}": grant_state(grant, ended=True)}
        self.send("I", ended)
        assert self.rt.gate.revoke(grant.grant_id)
        self.send("A", ended)

    # ------------------------------------------------------------ settings

    def set_setting(self, arg: str) -> None:
        """A setting changes (a JSON value of some kind)."""
        key = self.rng.choice(SETTING_KEYS)
        values: list[JSONValue] = [
            self.rng.randrange(10**6),
            token(),
            [token(), self.rng.random()],
            {"on": self.rng.random() < 0.5},
        ]
        value = self.rng.choice(values)
        self.send("I", {f"set:{key}": {"value": value}})
        self.rt.settings.set(key, value)
        self.send("A", {f"set:{key}": {"value": value}})

    def delete_setting(self, arg: str) -> None:
        """A setting is removed."""
        key = self.rng.choice(SETTING_KEYS)
        self.send("I", {f"set:{key}": {"absent": True}})
        self.rt.settings.delete(key)
        self.send("A", {f"set:{key}": {"absent": True}})

    def set_roots(self, arg: str) -> None:
        """The user changes the approved folders (a setting and an audited config change)."""
        roots = [str(self.rt.paths.cache_dir.parent / "docs" / token())]
        state = {f"set:{SETTING_ROOTS}": {"value": roots}}
        self.send("I", state)
        self.rt.set_roots(tuple(Path(r) for r in roots))
        self.send("A", state)


def kill_at_crash_point(runtime: PolicyRuntime, n: int) -> None:
    """SIGKILL this process at the ``n``-th crash point of the app database's connection.

    SQLite's trace callback runs as each statement begins. What a crash leaves
    changes only at a commit, so the crash points are: just before each commit
    of a transaction that wrote (``COMMIT``, or a write outside a transaction),
    where the transaction is lost, and at the statement after it, where it is
    kept. A kill anywhere else leaves the same database as one of these (its
    transaction rolls back), so killing at each point in turn covers every
    state a crash can leave. Trigger programs and FTS5's own statements (traced
    again, or as ``--`` comments) run inside the statement that fired them.
    """
    seen, last = 0, ""
    in_txn = dirty = after = False

    def trace(sql: str) -> None:
        nonlocal seen, last, in_txn, dirty, after
        if sql == last or sql.startswith("--"):
            return
        last = sql
        word = sql.split(None, 1)[0].upper()
        point, after = after, False
        if word == "BEGIN":
            in_txn, dirty = True, False
        elif word == "COMMIT":
            point, after, in_txn = point or dirty, dirty, False
        elif word == "ROLLBACK":
            in_txn = False
        elif word in WRITES and in_txn:
            dirty = True
        elif word in WRITES:
            point = after = True
        if point:
            seen += 1
            if seen == n:
                os.kill(os.getpid(), signal.SIGKILL)

    connection: sqlite3.Connection = runtime.database.connection()  # type: ignore[no-untyped-call]
    connection.set_trace_callback(trace)


def run_workload(
    paths: AppPaths, seed: int, out_fd: int, *, script: Sequence[str] | None = None, kill_at: int = 0
) -> None:
    """Body of the forked child: open the home as the app does, say ready, work until killed.

    With a ``script`` it performs those operations, says ``DONE`` and waits to be killed;
    ``kill_at`` kills it at that crash point of the app database after the home is open.
    """
    runtime = PolicyRuntime.open(paths, allow_key_file=True)
    assert not [f for f in runtime.posture() if f.flag == "audit_broken"], runtime.posture()
    memory = MemoryService(runtime=runtime, bus=EventBus(), paths=paths, load_embedder=False)
    memory.start()
    workload = Workload(runtime, memory, random.Random(seed), out_fd)
    os.write(out_fd, f"{READY}\n".encode())
    if kill_at:
        kill_at_crash_point(runtime, kill_at)
    workload.run(script)
    os.write(out_fd, f"{DONE}\n".encode())
    while True:
        signal.pause()


def raw_connection(path: Path, key: DataKey | None = None) -> Any:
    """An autocommit SQLCipher connection (keyed with ``key``; plain without) bypassing the app's open.

    The one place these tests touch aether.db without :func:`open_database`.
    """
    return connect_keyed(path, key)


def prepare(paths: AppPaths, script: Sequence[str]) -> bytes:
    """Run ``script`` in this process on a home and close it cleanly; return what it acknowledged."""
    read_fd, write_fd = os.pipe()
    runtime = PolicyRuntime.open(paths, allow_key_file=True)
    try:
        memory = MemoryService(runtime=runtime, bus=EventBus(), paths=paths, load_embedder=False)
        memory.start()
        Workload(runtime, memory, random.Random(0), write_fd).run(script)
        memory.close()
    finally:
        runtime.close()
        os.close(write_fd)
    data = b""
    while chunk := os.read(read_fd, 65536):
        data += chunk
    os.close(read_fd)
    return data
