"""SIGKILL the app's writer at random moments; nothing acknowledged in aether.db is lost.

A forked child (imports done, so a kill costs milliseconds) opens the home with
the real :class:`PolicyRuntime`, starts memory, and performs random operations
through the app's own paths: memory writes, edits and forgets through
:class:`MemoryService`, tickets and grants through the gate, settings through
the :class:`SettingsStore` (``tests/app_db_kill_support.py``). Each operation
is announced before it starts and acknowledged after it returns, over a pipe.
The parent kills the child with SIGKILL, either while it opens the home
(recovery and, in a new home, migrations) or while it works, then copies the
home as the kill left it and opens the copy with the real open path: the
database opens, ``PRAGMA integrity_check`` and the FTS5 index check are ok, the
gate is not degraded, and every acknowledged memory, ticket, grant and setting
holds its acknowledged value (or, for the one operation in flight, the value it
was about to write, on all the entities it names or on none). A forgotten
memory stays forgotten and out of the text index, and no grant issued by an
answer has its ticket still pending. The next child continues on the original
home, so the recovery after each kill is exercised by the app itself. A fresh
home is started every ``_PER_HOME`` kills. ``AETHER_KILL_LOOPS=N`` runs N
kills instead of 200.

Random moments rarely land between two commits a microsecond apart, so a
sweep also kills a scripted run of one of each operation at every crash point
of the app database in turn (before and after each commit).

Kill -9 cannot tell ``synchronous=NORMAL`` from ``FULL`` (the OS keeps what a
killed process wrote); power loss can. ``test_app_db_commits_are_synced`` pins
the level docs/architecture.md ("Durability") chooses for that promise.
"""

from __future__ import annotations

import json
import os
import random
import re
import select
import shutil
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from app_db_kill_support import DONE, READY, State, prepare, raw_connection, run_workload
from keyring_support import key_file_runtime, no_keyring

from aether_qt.core.paths import migrations_dir, resolve_paths
from aether_qt.policy.approvals import TicketError
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.storage.cipher import DataKey
from aether_qt.storage.database import close_database, open_database
from aether_qt.storage.sql import execute

_PER_HOME = 25
_TOKEN = re.compile(r"tok[0-9a-f]{12}")
_EPHEMERAL = ("once", "session", "task")


@dataclass
class Home:
    """One home under test and what its children acknowledged."""

    path: Path
    acked: dict[str, State] = field(default_factory=dict)
    tokens: dict[str, set[str]] = field(default_factory=dict)  # memory id -> every token it ever had

    def learn(self, states: dict[str, State]) -> None:
        self.acked.update(states)
        for key, state in states.items():
            if key.startswith("mem:"):
                self.tokens.setdefault(key, set()).update(_TOKEN.findall(state["text"]))


@dataclass
class Run:
    """One child's output: what it acknowledged and the operation it was killed in."""

    done: bool = False
    acked: list[tuple[str, dict[str, State]]] = field(default_factory=list)
    in_flight: dict[str, State] = field(default_factory=dict)


def _parse(data: bytes) -> Run:
    run = Run()
    for line in data.decode().split("\n")[:-1]:  # the last piece is empty or a torn line
        kind, _, rest = line.partition(" ")
        if kind in (READY, DONE):
            run.done = run.done or kind == DONE
            continue
        op, _, body = rest.partition(" ")
        states: dict[str, State] = json.loads(body)
        if kind == "I":
            run.in_flight = states
        else:
            run.acked.append((op, states))
            run.in_flight = {}
    return run


def _child(home: Path, seed: int, write_fd: int, script: list[str] | None = None, kill_at: int = 0) -> None:
    try:
        run_workload(resolve_paths(home), seed, write_fd, script=script, kill_at=kill_at)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(3)  # only reached on an error: never run the parent's cleanup in the child


def _read_until(read_fd: int, enough: Callable[[bytes], bool], timeout_s: float = 60.0) -> bytes:
    """Read the side channel until ``enough(data)``, the child stops writing, or the timeout."""
    data = b""
    deadline = time.monotonic() + timeout_s
    while not enough(data) and time.monotonic() < deadline:
        if select.select([read_fd], [], [], 0.5)[0]:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            data += chunk
    return data


def _reap(pid: int, read_fd: int, data: bytes) -> Run:
    """SIGKILL the child (if it is still alive), read the rest of its side channel, parse it."""
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"child ended early: {status}"
    while chunk := os.read(read_fd, 65536):  # the write end is closed: this ends
        data += chunk
    os.close(read_fd)
    return _parse(data)


def _kill_once(home: Path, rng: random.Random, *, while_opening: bool) -> Run:
    """Run one child and SIGKILL it while it opens the home, or in the operation after a random count.

    Counting acknowledgements instead of waiting a random time keeps the kills
    spread over the work however slow the machine (or coverage) makes the child.
    """
    read_fd, write_fd = os.pipe()
    seed = rng.randrange(2**32)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child; killed before it can report coverage
        os.close(read_fd)
        _child(home, seed, write_fd)
    os.close(write_fd)
    data = b""
    if while_opening:
        time.sleep(rng.uniform(0.0, 0.03))
    else:
        acks = rng.randrange(12)
        data = _read_until(
            read_fd, lambda d: d.startswith(f"{READY}\n".encode()) and d.count(b"\nA ") >= acks
        )
        time.sleep(rng.uniform(0.0, 0.005))
    return _reap(pid, read_fd, data)


def _kill_at(home: Path, script: list[str], point: int) -> Run:
    """Run ``script`` in a child that kills itself at the app database's ``point``-th crash point."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child; killed before it can report coverage
        os.close(read_fd)
        _child(home, 0, write_fd, script, point)
    os.close(write_fd)
    data = _read_until(read_fd, lambda d: d.endswith(f"\n{DONE}\n".encode()))
    return _reap(pid, read_fd, data)  # still alive only when the script ended before that point


def _memory_states(rt: PolicyRuntime) -> dict[str, State]:
    rows = execute(
        rt.database, "SELECT id, text, privacy_class, tombstoned_at_ms, purged FROM memory_items"
    ).fetchall()
    return {
        f"mem:{item_id}": {
            "text": text,
            "privacy": privacy,
            "state": "purged" if purged else "live" if tombstoned is None else "forgotten",
        }
        for item_id, text, privacy, tombstoned, purged in rows
    }


def _actual(rt: PolicyRuntime, keys: list[str]) -> dict[str, State | None]:
    """The state of each entity named in ``keys``, read through the runtime (None: not there)."""
    found: dict[str, State | None] = dict.fromkeys(keys)
    found.update({k: v for k, v in _memory_states(rt).items() if k in found})
    records = rt.ledger.snapshot()
    stored_settings = set(rt.settings.keys())
    for key in keys:
        kind, _, name = key.partition(":")
        if kind == "ticket":
            try:
                ticket = rt.tickets.get(name)
            except TicketError:
                continue
            found[key] = {"state": "pending"}
            if ticket.choice is not None:
                found[key] = {"state": "answered", "choice": ticket.choice.value}
        elif kind == "grant" and name in records:
            grant = records[name].grant
            found[key] = {
                "cap": grant.capability,
                "pattern": grant.resource_pattern,
                "duration": grant.duration.value,
                "ended": grant.revoked_at_ms is not None,
            }
        elif kind == "set":
            found[key] = {"value": rt.settings.get(name)} if name in stored_settings else {"absent": True}
    return found


def _same(want: State, got: State | None) -> bool:
    """Whether an entity holds the state ``want`` (a grant that ends with the session may have ended)."""
    if got is None:
        return False
    if want.get("duration") in _EPHEMERAL:  # ended by the next start's cascade
        return {**want, "ended": None} == {**got, "ended": None}
    return bool(want == got)


def _check_fts(rt: PolicyRuntime, home: Home, states: dict[str, State | None]) -> None:
    execute(rt.database, "INSERT INTO memory_fts (memory_fts) VALUES ('integrity-check')")
    seqs = dict(execute(rt.database, "SELECT id, seq FROM memory_items").fetchall())
    for key, tokens in home.tokens.items():
        state = states[key]
        assert state is not None
        current = set(_TOKEN.findall(state["text"])) if state["state"] == "live" else set()
        for tok in tokens:
            hits = {
                row[0]
                for row in execute(
                    rt.database, "SELECT rowid FROM memory_fts WHERE memory_fts MATCH ?", (f'"{tok}"',)
                )
            }
            found = seqs[key.partition(":")[2]] in hits
            assert found == (tok in current), f"{key} ({state['state']}): token {tok} found={found}"


def _check_in_flight(home: Home, run: Run, states: dict[str, State | None]) -> None:
    """The operation in flight took effect on every entity it names, or on none: never half."""
    meant = {k for k, v in run.in_flight.items() if k in home.acked and not _same(home.acked[k], v)}
    moved = {k for k in run.in_flight if k in home.acked and not _same(home.acked[k], states[k])}
    assert moved in (set(), meant), f"{run.in_flight}: half done, changed only {sorted(moved)}"


def _check_answers(rt: PolicyRuntime) -> None:
    """A grant issued by answering a ticket has that ticket answered (the audit log says both)."""
    orphans = execute(
        rt.database,
        "SELECT g.grant_id FROM grants g "
        "LEFT JOIN approval_tickets t ON g.issued_by = 'approval:' || t.ticket_id "
        "WHERE g.issued_by LIKE 'approval:%' AND (t.state IS NULL OR t.state != 'answered')",
    ).fetchall()
    assert not orphans, f"grants issued by an answer whose ticket is not answered: {orphans}"


def _check(home: Home, run: Run, scratch: Path) -> None:
    """Open a copy of the home as the kill left it and compare it with what was acknowledged."""
    for _, acked in run.acked:
        home.learn(acked)
    copy = scratch / "copy"
    shutil.copytree(home.path, copy)
    rt = PolicyRuntime.open(resolve_paths(copy), allow_key_file=True)
    try:
        assert execute(rt.database, "PRAGMA integrity_check").fetchall() == [("ok",)]
        assert not [f for f in rt.posture() if f.flag == "audit_broken"], rt.posture()
        assert rt.ledger.intact and rt.tickets.intact
        states = _actual(rt, sorted(home.acked))
        for key, want in home.acked.items():
            got = states[key]
            maybe = run.in_flight.get(key)
            if _same(want, got):
                continue
            assert maybe is not None and _same(maybe, got), f"{key}: acknowledged {want}, found {got}"
        _check_in_flight(home, run, states)
        home.learn({k: v for k, v in run.in_flight.items() if k in home.acked and _same(v, states[k])})
        _check_fts(rt, home, states)
        _check_answers(rt)
    finally:
        rt.close()
        shutil.rmtree(copy)


def _run(tmp_path: Path, kills: int, seed: int) -> Counter[str]:
    rng = random.Random(seed)
    ops: Counter[str] = Counter()
    home: Home | None = None
    with no_keyring():
        for n in range(kills):
            if n % _PER_HOME == 0:
                home = Home(tmp_path / f"home{n // _PER_HOME}")
                home.path.mkdir()
            assert home is not None
            opening = n % _PER_HOME == 0 or rng.random() < 0.25
            run = _kill_once(home.path, rng, while_opening=opening)
            ops.update(op for op, _ in run.acked)
            _check(home, run, tmp_path)
    return ops


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sigkill_app_db_loses_nothing_acknowledged(tmp_path: Path) -> None:
    kills = max(200, int(os.environ.get("AETHER_KILL_LOOPS", "0") or 0))
    seed = random.SystemRandom().randrange(2**32)
    print(f"app db sigkill seed {seed}, {kills} kills")
    ops = _run(tmp_path, kills, seed)
    print(f"acknowledged operations: {dict(ops)}")
    assert sum(ops.values()) > kills  # the kills landed mid-stream, not only before the first operation


PREPARE = ["add:pet", "add:pet", "add:car", "add:note", "remember:pet", "ask", "ask", "ask"]
PREPARE += ["answer:always_scope", "set_setting"]
SCRIPT = ["remember", "add", "edit", "privacy", "forget:now", "forget:later", "forget_topic:pet 0", "episode"]
SCRIPT += ["ask", "answer:always_scope", "answer:allow_session", "revoke", "set_setting", "delete_setting"]
SCRIPT += ["set_roots"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill_at_every_crash_point_of_each_operation(tmp_path: Path) -> None:
    """Kill the writer at each crash point in turn (a sweep, not a sample) through one of every operation."""
    template = Home(tmp_path / "template")
    with no_keyring():
        for _, states in _parse(prepare(resolve_paths(template.path), PREPARE)).acked:
            template.learn(states)
        point = 0
        while True:
            point += 1
            tokens = {key: set(found) for key, found in template.tokens.items()}
            home = Home(tmp_path / f"at{point}", dict(template.acked), tokens)
            shutil.copytree(template.path, home.path)
            run = _kill_at(home.path, SCRIPT, point)
            _check(home, run, tmp_path)
            shutil.rmtree(home.path)
            if run.done:
                break
    print(f"killed at each of {point - 1} crash points")
    assert point > len(SCRIPT)


@pytest.mark.parametrize("encrypted", [True, False], ids=["sqlcipher", "plain"])
def test_a_kill_before_the_wal_switch_leaves_a_database_that_opens(tmp_path: Path, encrypted: bool) -> None:
    """A crash while a new file is still in rollback-journal mode leaves a hot journal; the next open works.

    The first open of a home creates aether.db in rollback mode until ``journal_mode=WAL``
    takes effect; the kill loop above once killed it there, and the read-only health check
    could not roll the journal back, so the home never opened again.
    """
    db = tmp_path / "data" / "aether.db"
    db.parent.mkdir()
    key = DataKey.generate(source="keyring") if encrypted else None
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child; killed before it can report coverage
        try:
            conn = raw_connection(db, key)
            conn.execute("PRAGMA cache_size = 1")  # spill pages into the file before the commit
            conn.execute("BEGIN")
            conn.execute("CREATE TABLE half_done (x BLOB)")
            conn.executemany("INSERT INTO half_done VALUES (?)", [(os.urandom(512),) for _ in range(200)])
            os.kill(os.getpid(), signal.SIGKILL)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"child ended early: {status}"
    assert db.with_name("aether.db-journal").stat().st_size > 0 and db.stat().st_size > 0  # a hot journal

    database = open_database(db, migrations=migrations_dir(), backups_dir=tmp_path / "backups", key=key)
    try:
        assert execute(database, "PRAGMA integrity_check").fetchall() == [("ok",)]
        assert execute(database, "PRAGMA journal_mode").fetchone() == ("wal",)
        assert not database.table_exists("half_done") and database.table_exists("settings")  # rolled back
    finally:
        close_database(database)


def test_app_db_commits_are_synced(home: Path) -> None:
    """aether.db commits at ``synchronous=FULL`` on every connection (docs/architecture.md, Durability)."""
    with key_file_runtime(home) as rt:
        levels = [execute(rt.database, "PRAGMA synchronous").fetchone()[0]]

        def other_thread() -> None:  # peewee opens one connection per thread, with the same pragmas
            levels.append(execute(rt.database, "PRAGMA synchronous").fetchone()[0])
            rt.database.close()

        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    assert levels == [2, 2]  # FULL
