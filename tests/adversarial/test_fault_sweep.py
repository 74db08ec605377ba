"""Fault sweep in the SQLite style: statement N fails with "disk I/O error", for every N.

Four user actions run on a real home (real SQLite files, the real audit chain,
gate and effectors, the reflex tier answering): a remember turn, a ``write``
answered "allow once", a forget turn and a memory import. For N = 1, 2, … the
N-th statement of the action (counted over ``aether.db`` and ``audit.db``
together, by the :class:`~fault_support.DiskFault` given to ``Companion.open``
as its ``statement_hook``) fails, until an N past the action's last statement
lets it finish untouched. For every N:

* the user is told something clear: the turn ends with a typed outcome and a
  sentence, an answer or an import returns one or raises a typed error, nothing
  hangs, no traceback;
* what the user was told is what happened: "done" exactly when the effect is in
  the home (the memory row, the file with its text once, the tombstone);
* no side effect without its audit row (an Allow, and for the file the spent
  grant), no half-written state (FTS and live memories, grants and tickets and
  their audit rows, both files' integrity);
* after the fault clears and the app restarts (an audit write failure keeps the
  gate deny-all until then, by design), retrying the action succeeds, and the
  audit chain verifies: ``undecidable`` (an unclosed session) right after the
  failure at most, ``intact`` after a clean session.

Every step starts from a copy of one home prepared once, so a step costs two
opens, the action and the checks; with the sticky variant (statement N and
every later one fail until the disk recovers) the sweeps take about 20 s of CPU,
so they run in slow runs (always in CI). :data:`FOUND` pins each statement whose
failure broke an action before its fix, by its text, and runs every time.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fault_support import (
    DiskFault,
    audit_head,
    audit_rows,
    check_consistent,
    live_memories,
    open_home,
    reopen_home,
    within_deadline,
)
from keyring_support import no_keyring

from aether_qt.companion import Companion
from aether_qt.core.errors import ExplainedError
from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.engines.interaction.phrases import DefaultPersona
from aether_qt.engines.interaction.states import Outcome
from aether_qt.policy.approvals import TicketError
from aether_qt.policy.audit_home import verify_home
from aether_qt.policy.decisions import ApprovalChoice, Deny
from aether_qt.services.interaction.conductor import TurnReport

MIRA = "remember that my sister's name is Mira"
TEAL = "my favourite colour is teal"
IMPORTED = ("my dog is called Rex", "I like jazz")


@dataclass(frozen=True, slots=True)
class Told:
    """What the user was told: whether the action was done, and the sentence."""

    done: bool
    message: str


@dataclass(frozen=True, slots=True)
class World:
    """The prepared home, the copy a step works on, and the files the actions use."""

    template: Path
    work: Path
    docs: Path
    export: Path
    head: int  # the template's newest audit row: a step's rows come after it
    persona: DefaultPersona  # the template's active persona, for the restarts

    @property
    def paths(self) -> AppPaths:
        return resolve_paths(self.work)

    @property
    def todo(self) -> Path:
        return self.docs / "todo.txt"

    def fresh(self) -> AppPaths:
        """A new copy of the prepared home (and no todo.txt)."""
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.copytree(self.template, self.work)
        self.todo.unlink(missing_ok=True)
        return self.paths


@pytest.fixture(autouse=True)
def _home_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keys in the opt-in key file (never the user's keyring); text-only memory, so each open stays cheap."""
    monkeypatch.setenv("AETHER_NO_EMBEDDER", "1")
    with no_keyring():
        yield


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("faults")
    with no_keyring(), pytest.MonkeyPatch.context() as patch:
        patch.setenv("AETHER_NO_EMBEDDER", "1")
        docs = base / "docs"
        docs.mkdir()
        template = resolve_paths(base / "template")
        with open_home(template) as comp:
            comp.runtime.set_roots((docs,))
            report = comp.conductor.run_turn(MIRA)
            assert report is not None and report.outcome == "Answered", report
            persona = comp.personas.turn_persona()
        export = base / "import.json"
        items = [{"text": text, "kind": "note", "privacy_class": "private"} for text in IMPORTED]
        export.write_text(json.dumps({"format": 1, "items": items}), encoding="utf-8")
        assert verify_home(template, allow_key_file=True, live=False).intact
        yield World(base / "template", base / "work", docs, export, audit_head(template), persona)


# ---------------------------------------------------------------- the actions


def turn_told(report: TurnReport | None, done_prefix: str) -> Told:
    """A turn's end as the user sees it; it must have ended with a typed outcome and a sentence."""
    assert report is not None
    assert report.outcome in {o.value for o in Outcome}, report
    said = report.reply.strip() or " ".join(report.notices)  # an Ask shows its card and says so
    assert report.final_state and said, report
    return Told(report.outcome == "Answered" and report.reply.startswith(done_prefix), said)


def remember(comp: Companion, world: World) -> Told:
    return turn_told(comp.conductor.run_turn(f"remember that {TEAL}"), "I'll remember that")


def remembered(world: World) -> bool:
    texts = [text for _, text, _ in live_memories(world.paths)]
    assert texts.count(TEAL) <= 1, texts
    return TEAL in texts


def write_allowed(comp: Companion, world: World) -> Told:
    report = comp.conductor.run_turn(f"write {world.todo} buy milk")
    told = turn_told(report, "")
    assert report is not None
    if not report.ticket_id:
        return Told(False, told.message)
    return answer(comp, report.ticket_id)


def answer(comp: Companion, ticket_id: str) -> Told:
    try:
        decision, result = comp.conductor.answer(ticket_id, ApprovalChoice.ALLOW_ONCE)
    except TicketError as exc:  # the one error the approval card shows
        return Told(False, str(exc))
    if result is not None:
        return Told(result.ok, result.summary)
    reason = decision.message if isinstance(decision, Deny) else decision.kind
    return Told(False, f"{decision.kind}: {reason}")


def write_retried(comp: Companion, world: World) -> Told:
    """The user answers the card again if it is still pending; if that is not enough, asks again.

    Only the sticky sweep leaves a card without its call (the disk failed while the
    call was kept, and again when the ticket was withdrawn): allowing it does nothing.
    """
    pending = [t for t in comp.runtime.tickets.pending() if t.request.resource == str(world.todo)]
    if pending:
        told = answer(comp, pending[0].ticket_id)
        if told.done:
            return told
    return write_allowed(comp, world)


def written(world: World) -> bool:
    if not world.todo.exists():
        return False
    assert world.todo.read_text(encoding="utf-8") == "buy milk", "the file is half-written or written twice"
    return True


def forget(comp: Companion, world: World) -> Told:
    return turn_told(comp.conductor.run_turn("forget my sister's name"), "Forgotten")


def forgotten(world: World) -> bool:
    return not any("Mira" in text for _, text, _ in live_memories(world.paths))


def import_memories(comp: Companion, world: World) -> Told:
    assert comp.memory is not None
    try:
        outcome = comp.memory.edits.import_file(world.export)
    except ExplainedError as exc:  # the panel and the command show these in words
        return Told(False, str(exc))
    return Told(outcome.ok, outcome.summary)


def imported(world: World) -> bool:
    texts = [text for _, text, _ in live_memories(world.paths)]
    found = [texts.count(text) for text in IMPORTED]
    assert found in ([0, 0], [1, 1]), f"a partial import: {found}"
    return found == [1, 1]


@dataclass(frozen=True, slots=True)
class Scenario:
    """One user action: how to do it, how to retry it, whether it is done, what audits it."""

    act: Callable[[Companion, World], Told]
    retry: Callable[[Companion, World], Told]
    done: Callable[[World], bool]
    capability: str  # its Allow must be audited before it happens
    resource: Callable[[World], str]


SCENARIOS = {
    "remember": Scenario(remember, remember, remembered, "memory.write.durable", lambda w: "memory:fact"),
    "write": Scenario(write_allowed, write_retried, written, "files.create", lambda w: str(w.todo)),
    "forget": Scenario(forget, forget, forgotten, "memory.delete", lambda w: "memory:topic"),
    "import": Scenario(
        import_memories, import_memories, imported, "memory.write.durable", lambda w: "import:import.json"
    ),
}


# ---------------------------------------------------------------- the sweep


def check_audited(world: World, scenario: Scenario) -> None:
    """The effect is there only with an audited Allow (and, for a file, its spent grant) before it."""
    if not scenario.done(world):
        return
    rows = audit_rows(world.paths, after=world.head)
    allows = [
        r
        for r in rows
        if (r.capability, r.resource, r.decision) == (scenario.capability, scenario.resource(world), "allow")
    ]
    assert allows, f"a side effect without its audited allow ({scenario.capability})"
    if scenario.capability == "files.create":
        grants = {r.detail.get("grant_id") for r in allows}
        spent = [r for r in rows if r.decision == "grant_spent" and r.detail.get("grant_id") in grants]
        assert spent, "the file was written but spending its allow-once grant was not audited"


def step(world: World, scenario: Scenario, arm: Callable[[DiskFault], None], *, sticky: bool = False) -> bool:
    """Run the action on a fresh home with the fault ``arm`` sets up; check; retry.

    Returns False when no statement failed (the action finished untouched).
    """
    paths = world.fresh()
    fault = DiskFault()
    comp = open_home(paths, fault)
    try:
        arm(fault)
        told = within_deadline(lambda: scenario.act(comp, world))
    except BaseException as exc:
        raise AssertionError(f"{fault.where()}: {type(exc).__name__}: {exc}") from exc
    finally:
        fault.clear()
        comp.close()
    if fault.fired is None:
        assert told.done and scenario.done(world), f"the action fails without a fault: {told}"
        return False
    try:
        after_the_fault(world, scenario, told, sticky=sticky)
    except AssertionError as exc:
        raise AssertionError(f"{fault.where()}: {exc}") from exc
    return True


def after_the_fault(world: World, scenario: Scenario, told: Told, *, sticky: bool) -> None:
    """The checks of a failed action, then the restart and the retry (see the module docstring)."""
    paths = world.paths
    assert told.message.strip(), "the user was told nothing"
    assert told.done == scenario.done(world), f"told {told}, but done is {scenario.done(world)}"
    check_consistent(paths, orphans=sticky)
    check_audited(world, scenario)
    report = verify_home(paths, allow_key_file=True, live=False)
    assert report.intact or report.reason in ("unclosed_session", "unvouched_tail"), report

    with reopen_home(paths, world.persona) as comp:  # the disk is healthy again; the app restarts
        if not scenario.done(world):
            retried = within_deadline(lambda: scenario.retry(comp, world))
            assert retried.done, f"the retry failed: {retried}"
    assert scenario.done(world)
    check_consistent(paths)
    check_audited(world, scenario)
    report = verify_home(paths, allow_key_file=True, live=False)
    assert report.intact, f"after the retry: {report}"


def sweep(world: World, name: str, *, sticky: bool = False) -> int:
    """Run :func:`step` for N = 1, 2, … until the action finishes untouched; return the last N that failed."""
    scenario = SCENARIOS[name]
    for n in itertools.count(1):
        if not step(world, scenario, lambda fault, n=n: fault.arm(n, sticky=sticky), sticky=sticky):
            return n - 1
    raise AssertionError("unreachable")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_statement_of_the_action_can_fail(world: World, name: str) -> None:
    statements = sweep(world, name)
    assert statements >= 10, f"only {statements} statements: is the fault hook wired to both databases?"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_disk_stays_broken_from_every_statement_on(world: World, name: str) -> None:
    assert sweep(world, name, sticky=True) >= 10


# Statements whose failure broke an action before it was fixed, pinned by their text (the N of
# a statement moves when an action gains or loses statements elsewhere).
FOUND = [
    pytest.param(
        "remember", "aether.db", 'SELECT "t1"."value" FROM "settings"', 1, id="persona-setting-turn-start"
    ),
    pytest.param(
        "remember", "aether.db", 'SELECT "t1"."value" FROM "settings"', 2, id="persona-setting-turn-end"
    ),
    pytest.param("forget", "audit.db", "SELECT event_hash FROM audit_log", 1, id="anchor-reads-its-row"),
    pytest.param("forget", "audit.db", "SELECT seq, audit_id,", 1, id="decision-event-reads-its-row"),
    pytest.param("import", "aether.db", "INSERT INTO memory_items", 2, id="import-second-item"),
    pytest.param("write", "aether.db", "INSERT OR REPLACE INTO pending_actions", 1, id="call-of-the-ticket"),
    pytest.param("write", "aether.db", "SELECT ticket_id, request_json", 1, id="ticket-read-on-answer"),
    pytest.param("write", "aether.db", "SELECT value FROM ledger_generation", 2, id="recheck-keeps-the-call"),
    pytest.param("write", "audit.db", "SELECT event_hash FROM audit_log", 1, id="permit-refused-after-allow"),
    pytest.param("write", "aether.db", "SELECT capability, resource, payload", 1, id="call-unreadable"),
    pytest.param("write", "aether.db", "UPDATE pending_actions SET state = ?", 1, id="outcome-not-recorded"),
    pytest.param("write", "aether.db", "UPDATE approval_tickets", 1, id="answer-not-stored"),
]


@pytest.mark.parametrize(("name", "database", "prefix", "nth"), FOUND)
def test_a_statement_that_broke_an_action(
    world: World, name: str, database: str, prefix: str, nth: int
) -> None:
    fired = step(world, SCENARIOS[name], lambda fault: fault.arm_on(database, prefix, nth))
    assert fired, "the action no longer runs this statement: pin the case to one it runs"
