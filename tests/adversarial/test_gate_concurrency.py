"""10,000 evaluations from 16 threads against one real gate, checked by a reference oracle.

One :class:`PolicyRuntime` on a temp home (keys in the opt-in key file) under the
Assistant preset. The approved root holds the user's documents *and* the Aether
home, so the app's own data and config folders lie inside an approved root and
must still be refused. Three personas: ``default``, ``other`` (the same modes,
none of ``default``'s grants) and ``careful`` (defaults that narrow).

Every grant exists before the run: the preset's session grants (one warm-up
evaluation per auto capability and persona) and one "always" grant the user gave
``default`` for creating files in ``docs/drafts``. During the run no grant may be
issued, so each decision depends on the request alone and the oracle can name
it in advance.

The oracle does not call the policy package: it knows what each resource *is*
(the test made it: inside the root, a link out of it, the app's data folder...)
and writes the preset column, the risk classes and the stage order out again
from DESIGN.md §5. Afterwards: no mismatch, exactly one ``evaluate`` audit row
per request with the decision the caller got, no new grant, the threads really
interleaved, and the chain verifies intact.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from keyring_support import no_keyring

from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.policy.audit_home import verify_home
from aether_qt.policy.capabilities import Mode
from aether_qt.policy.decisions import (
    ActionRequest,
    Allow,
    ApprovalChoice,
    Ask,
    Decision,
    Deny,
    DraftOnly,
    NeedsUpgrade,
)
from aether_qt.policy.runtime import PolicyRuntime

pytestmark = pytest.mark.slow

TOTAL = 10_000
THREADS = 16
SEED = 20_240_611

# ---------------------------------------------------------------- the oracle's own tables (DESIGN.md §5)

# The Assistant column of the preset matrix, for the capabilities this test uses.
ASSISTANT = {
    "files.read": "auto",
    "files.list": "auto",
    "files.create": "ask",
    "files.delete": "ask",
    "memory.export": "ask",
    "audit.export": "ask",
    "browser.open": "auto",
    "net.fetch": "ask",
    "model.download": "ask",
    "notify.send": "auto",
    "memory.read": "auto",
    "memory.write.durable": "auto",
    "clipboard.read": "ask",
    "shell.exec": "deny",
    "router.remote_private": "deny",
}
RISK = {
    "files.read": "low",
    "files.list": "low",
    "browser.open": "low",
    "notify.send": "low",
    "memory.read": "low",
    "files.create": "medium",
    "net.fetch": "medium",
    "model.download": "medium",
    "memory.write.durable": "medium",
    "clipboard.read": "medium",
    "files.delete": "high",
    "memory.export": "high",
    "audit.export": "high",
    "router.remote_private": "high",
    "shell.exec": "critical",
}
PATH_CAPS = {"files.read", "files.list", "files.create", "files.delete", "memory.export", "audit.export"}
URL_CAPS = {"browser.open", "net.fetch", "model.download"}
UNKNOWN_CAP = "files.teleport"
STRICTNESS = ["auto", "task", "ask", "draft", "deny", "block"]
PERSONAS = ("default", "other", "careful")
CAREFUL = {"files.read": "ask", "browser.open": "deny", "memory.write.durable": "draft"}

PATH_LABELS = (
    "in_root",
    "drafts",
    "outside",
    "via_link",
    "dotdot",
    "app_data",
    "app_config",
    "credential_name",
)
URL_LABELS = ("web", "not_http")
TAINT_FREE_READS = frozenset({"files.read", "files.list", "memory.read"})  # reading is not acting
SENDS_REMOTE = frozenset({"net.fetch", "router.remote", "router.remote_private", "model.download"})

Expected = tuple[str, str]  # (allow | ask | draft | deny | needs_upgrade, deny reason or "")


@dataclass(frozen=True, slots=True)
class Case:
    """One request as the generator made it: what the resource is, not only its spelling."""

    capability: str
    label: str
    persona: str
    tainted: bool


def expected(case: Case) -> Expected:
    """The decision DESIGN.md §5 asks for, stage by stage (first exit wins)."""
    cap = case.capability
    if cap not in ASSISTANT:
        return ("deny", "unknown_capability")
    if cap in PATH_CAPS:  # pre-gate: hardcoded blocks
        if case.label in ("app_data", "app_config", "credential_name"):
            return ("deny", "credential_store")
        if case.label in ("outside", "via_link", "dotdot"):
            return ("deny", "outside_approved_roots")
    if cap == "shell.exec":
        return ("deny", "shell_in_consumer_preset")
    if cap == "router.remote_private":  # privacy posture: no provider was waived
        return ("deny", "privacy_posture")
    tainted = case.tainted and cap not in TAINT_FREE_READS
    if tainted and (RISK[cap] in ("high", "critical") or cap in SENDS_REMOTE):
        return ("deny", "provenance_taint")  # never acted on, never sent away while tainted
    mode = ASSISTANT[cap]
    narrowed = CAREFUL.get(cap) if case.persona == "careful" else None
    if narrowed is not None and STRICTNESS.index(narrowed) > STRICTNESS.index(mode):
        mode = narrowed
    if (RISK[cap] in ("high", "critical") or tainted) and STRICTNESS.index(mode) < STRICTNESS.index("ask"):
        mode = "ask"  # a tainted side effect is asked afresh, whatever the preset or a grant says
    if mode == "deny":  # only a persona denies a capability that reaches stage 1 here: no preset helps
        return ("deny", "policy_deny")
    if cap in URL_CAPS and case.label == "not_http":
        return ("deny", "resource_out_of_scope")
    if mode == "draft":
        return ("draft", "")
    if mode == "auto":
        return ("allow", "")  # the preset's session grant, issued in the warm-up
    granted = cap == "files.create" and case.persona == "default" and case.label == "drafts" and not tainted
    return ("allow", "") if granted else ("ask", "")


def observed(decision: Decision) -> Expected:
    if isinstance(decision, Allow):
        return ("allow", "")
    if isinstance(decision, Ask):
        return ("ask", "")
    if isinstance(decision, DraftOnly):
        return ("draft", "")
    if isinstance(decision, NeedsUpgrade):
        return ("needs_upgrade", decision.suggested_preset)
    assert isinstance(decision, Deny)
    return ("deny", decision.reason.value)


# ---------------------------------------------------------------- the world the requests name


@dataclass(frozen=True, slots=True)
class World:
    """Folders on disk: the approved root holds docs/ and the Aether home; outside/ is not approved."""

    root: Path
    docs: Path
    outside: Path
    paths: AppPaths

    def resource(self, case: Case, n: int) -> str:
        if case.capability in PATH_CAPS:
            return {
                "in_root": str(self.docs / "notes" / f"note-{n % 40}.txt"),
                "drafts": str(self.docs / "drafts" / f"new-{n}.txt"),
                "outside": str(self.outside / f"x-{n}.txt"),
                "via_link": str(self.docs / "link" / f"x-{n}.txt"),
                "dotdot": f"{self.docs}/../../outside/x-{n}.txt",
                "app_data": str(self.paths.app_db),
                "app_config": str(self.paths.settings_file),
                "credential_name": str(self.docs / "backup" / "id_ed25519"),
            }[case.label]
        if case.capability in URL_CAPS:
            return f"https://example.org/page/{n}" if case.label == "web" else f"ftp://example.org/{n}"
        if case.capability == "router.remote_private":
            return "some-provider"
        return f"text {n}"


@pytest.fixture
def world(tmp_path: Path) -> World:
    root = (tmp_path / "user").resolve()
    docs, outside = root / "docs", (tmp_path / "outside").resolve()
    for folder in (docs / "notes", docs / "drafts", docs / "backup", outside):
        folder.mkdir(parents=True)
    for i in range(40):
        (docs / "notes" / f"note-{i}.txt").write_text(f"note {i}")
    (docs / "link").symlink_to(outside, target_is_directory=True)
    assert (docs / "../../outside").resolve() == outside
    return World(root=root, docs=docs, outside=outside, paths=resolve_paths(root / "aether-home"))


@pytest.fixture
def runtime(world: World) -> Iterator[PolicyRuntime]:
    with no_keyring():
        rt = PolicyRuntime.open(world.paths, allow_key_file=True)
        try:
            yield rt
        finally:
            rt.close()


def cases(rng: random.Random) -> list[Case]:
    capabilities = [*ASSISTANT, UNKNOWN_CAP]
    made = []
    for _ in range(TOTAL):
        cap = rng.choice(capabilities)
        labels = PATH_LABELS if cap in PATH_CAPS else URL_LABELS if cap in URL_CAPS else ("text",)
        made.append(Case(cap, rng.choice(labels), rng.choice(PERSONAS), rng.random() < 0.2))
    return made


def grant_before_the_run(runtime: PolicyRuntime, world: World) -> None:
    """Roots, personas, the preset's session grants (a warm-up per auto pair) and one "always" grant."""
    runtime.set_roots((world.root,))
    runtime.set_persona_defaults("careful", {cap: Mode(mode) for cap, mode in CAREFUL.items()})
    for persona in PERSONAS:
        for cap in ASSISTANT:
            case = Case(cap, "in_root" if cap in PATH_CAPS else "web", persona, tainted=False)
            if expected(case) == ("allow", ""):
                request = ActionRequest(cap, world.resource(case, 0), actor_persona=persona)
                assert isinstance(runtime.gate.evaluate(request), Allow), (cap, persona)
    first = runtime.gate.evaluate(ActionRequest("files.create", str(world.docs / "drafts" / "first.txt")))
    assert isinstance(first, Ask)
    always = runtime.gate.answer(first.ticket.ticket_id, ApprovalChoice.ALWAYS_SCOPE)  # docs/drafts/**
    assert isinstance(always, Allow)


def count_grants(runtime: PolicyRuntime) -> int:
    (count,) = runtime.database.execute_sql("SELECT count(*) FROM grants").fetchone()
    return int(count)


def test_ten_thousand_concurrent_evaluations_match_the_oracle(runtime: PolicyRuntime, world: World) -> None:
    grant_before_the_run(runtime, world)
    assert runtime.audit is not None
    seq_before = runtime.audit.head().seq
    grants_before = count_grants(runtime)

    made = cases(random.Random(SEED))
    requests = [
        ActionRequest(
            c.capability,
            world.resource(c, n),
            actor_persona=c.persona,
            provenance_tags=("web",) if c.tainted else (),
        )
        for n, c in enumerate(made)
    ]
    decisions: list[Decision | None] = [None] * TOTAL
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(offset: int) -> None:
        try:
            start.wait()
            for n in range(offset, TOTAL, THREADS):
                decisions[n] = runtime.gate.evaluate(requests[n])
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,), name=f"gate-{i}") for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors[:3]
    assert all(not t.is_alive() for t in threads)

    mismatches = [
        (n, made[n], requests[n].resource, want, got)
        for n, decision in enumerate(decisions)
        if decision is not None
        for want, got in [(expected(made[n]), observed(decision))]
        if want != got
    ]
    assert decisions.count(None) == 0
    assert mismatches == [], f"{len(mismatches)} mismatches, first: {mismatches[:5]}"
    wanted = Counter(expected(c)[0] for c in made)
    assert len(wanted) == 4 and min(wanted.values()) > 100, f"a weak mix: {wanted}"

    rows = runtime.audit.rows(after_seq=seq_before)
    assert len(rows) == TOTAL, "exactly one audit row per evaluation, nothing else"
    assert Counter(r.decision for r in rows if r.detail.get("event") == "evaluate") == wanted
    by_request = {r.detail["request_id"]: r for r in rows}
    for request, decision in zip(requests, decisions, strict=True):
        assert decision is not None
        row = by_request[request.request_id]
        assert (row.audit_id, row.decision) == (decision.audit_id, observed(decision)[0])
    assert count_grants(runtime) == grants_before, "no grant was issued during the run"

    thread_of = {request.request_id: n % THREADS for n, request in enumerate(requests)}
    order = [thread_of[r.detail["request_id"]] for r in rows]
    switches = sum(a != b for a, b in itertools.pairwise(order))
    assert switches > TOTAL // 10, f"the threads hardly interleaved ({switches} switches)"

    runtime.close()
    report = verify_home(world.paths, allow_key_file=True)
    assert report.status == "intact", report.message
    assert report.rows_checked >= TOTAL
    assert os.path.exists(world.paths.audit_db)
