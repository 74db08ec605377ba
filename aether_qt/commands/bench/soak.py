"""``aether bench soak``: the desktop app through N mixed turns in one long-lived process, watched for leaks.

What runs: the real desktop app, :func:`aether_qt.app.run_app`, in this
process, with every part it starts (window, tray, transcript, presence, voice,
memory host and its embedder, persona watcher, the interaction and router
QThreads with the bundled gpt4all model, the gate, the audit chain). It is
driven through its own widgets by :class:`~.soak_driver.SoakDriver` from the
``on_ready`` hook, as a user would: nothing new listens for commands. The
command line's ``aether chat`` would drive only the companion without widgets;
the single-instance socket answers only "show". So this process *is* the app
process, and its ``/proc/<pid>`` is what is measured.

The turns repeat a cycle of ten: chat, a greeting (the reflex classifier's
Acknowledge path), "remember that my X is Y", chat, "what is my X?", a
``write`` into an approved folder answered "Allow once" on its approval card,
chat, "forget my X", chat, and a persona swap in the header's picker between
two soak personas (the bundled Aether and Pip with ``max_tokens`` 48, written
into the home's persona folder, so chat stays short). A cycle is ten turns so
the first and the last 50 turns hold the same mix.

Every 50 turns (and before the first) it records RSS, threads, open
descriptors (``/proc/<pid>/status``, ``task``, ``fd``; after a garbage
collection, so a cycle awaiting collection is not counted as a leak) and the
sizes of ``aether.db`` and ``audit.db`` with their WAL files. Targets are
printed beside the numbers, never asserted: RSS growth <= 50 MB after the
warm-up (from turn 50), threads and descriptors flat, p95 turn time of the
last 50 turns within 20 % of the first 50.

The home is a throw-away folder with an opt-in key file (never the user's
keyring) unless ``--home`` is given; then the soak's personas, its
``soak-docs`` folder and its memories stay there, and the active persona and
approved folders are put back afterwards.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from aether_qt.commands.bench.soak_driver import SoakDriver, Step, TurnRecord
from aether_qt.commands.session import CommandError
from aether_qt.core.instance_lock import InstanceLock, holder_pid
from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.storage.settings import JSONValue

DEFAULT_TURNS = 500
QUICK_TURNS = 100
SAMPLE_EVERY = 50
WARM_UP_TURNS = 50
SOAK_MAX_TOKENS = 48
PERSONAS = (("soak-aether", "aether.yaml"), ("soak-pip", "pip.yaml"))
CYCLE = ("chat", "greeting", "remember", "chat", "recall", "write", "chat", "forget", "chat", "persona")
KINDS = tuple(dict.fromkeys(CYCLE))
CHATS = (
    "tell me something nice about mornings",
    "what is a good way to start a walk?",
    "say something kind about rain",
    "how do I make tea?",
    "what's a fun fact about cats?",
    "name a calm colour",
    "give me a short tip for sleeping well",
)
FACTS = ("locker number", "bike lock code", "gate code", "parking spot", "badge number", "seat number")
TARGET_RSS_MB = 50.0
TARGET_DRIFT_PCT = 20.0


def plan(turns: int, docs: Path) -> list[Step]:
    """The first ``turns`` turns of the repeating cycle (see the module docstring)."""
    steps: list[Step] = []
    chats = 0
    for index in range(turns):
        cycle, kind = divmod(index, len(CYCLE))
        noun = FACTS[cycle % len(FACTS)]
        value = str(1000 + (cycle * 7919) % 9000)
        if kind in (0, 3, 6, 8):
            steps.append(Step("chat", CHATS[chats % len(CHATS)]))
            chats += 1
        elif kind == 1:
            steps.append(Step("greeting", "hello!"))
        elif kind == 2:
            steps.append(Step("remember", f"remember that my {noun} is {value}", fact_value=value))
        elif kind == 4:
            steps.append(Step("recall", f"what is my {noun}?", fact_value=value))
        elif kind == 5:
            file, text = docs / f"soak-{index:04d}.txt", f"soak note {index}"
            steps.append(Step("write", f"write {file} {text}", file=file, file_text=text))
        elif kind == 7:
            steps.append(Step("forget", f"forget my {noun}", fact_value=value))
        else:
            steps.append(Step("persona", persona_id=PERSONAS[(cycle + 1) % 2][0]))
    return steps


# ---------------------------------------------------------------------- measuring


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def sample(pid: int, paths: AppPaths, turn: int) -> dict[str, Any]:
    """One measurement of process ``pid`` and the home's databases after ``turn`` turns."""
    gc.collect()
    app_db, audit_db = paths.app_db, paths.audit_db
    return {
        "turn": turn,
        "rss_mb": round(_status_kb(pid, "VmRSS") / 1024, 1),
        "threads": len(os.listdir(f"/proc/{pid}/task")),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "aether_db_kb": round((_size(app_db) + _size(app_db.with_name(app_db.name + "-wal"))) / 1024),
        "audit_db_kb": round((_size(audit_db) + _size(audit_db.with_name(audit_db.name + "-wal"))) / 1024),
    }


def _progress(numbers: dict[str, Any]) -> str:
    return (
        f"RSS {numbers['rss_mb']:.1f} MB, {numbers['threads']} threads, {numbers['fds']} descriptors, "
        f"aether.db {numbers['aether_db_kb']} KB, audit.db {numbers['audit_db_kb']} KB"
    )


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank), 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1)


# ---------------------------------------------------------------------- the home


def _soak_persona(shipped: Path, persona_id: str) -> bytes:
    text = shipped.read_text(encoding="utf-8")
    original = next(line for line in text.splitlines() if line.startswith("id: "))
    name = next(line for line in text.splitlines() if line.startswith("name: "))
    tokens = next(line for line in text.splitlines() if line.strip().startswith("max_tokens: "))
    text = text.replace(original, f"id: {persona_id}", 1).replace(name, f"{name} (soak)", 1)
    return text.replace(tokens, tokens.split(":")[0] + f": {SOAK_MAX_TOKENS}", 1).encode("utf-8")


def prepare_home(paths: AppPaths, docs: Path, *, allow_key_file: bool) -> dict[str, JSONValue]:
    """Set the home up as a user would: two personas, an approved folder, the first persona active.

    Returns:
        The settings this changes as they were (``None``: unset), for :func:`restore_home`.
    """
    from aether_qt.engines.persona.compiler import load_and_compile
    from aether_qt.engines.persona.registry import shipped_personas_dir, user_personas_dir
    from aether_qt.policy.effects import write_own_file
    from aether_qt.policy.runtime import SETTING_ROOTS, PolicyRuntime
    from aether_qt.services.persona.service import SETTING_ACTIVE

    folder = user_personas_dir(paths.ensure().data_dir)
    for persona_id, source in PERSONAS:
        written = write_own_file(
            folder / f"{persona_id}.yaml",
            _soak_persona(shipped_personas_dir() / source, persona_id),
            root=paths.data_dir,
        )
        load_and_compile(written)  # a broken soak persona fails here, not as a silent swap timeout
    docs.mkdir(parents=True, exist_ok=True)
    runtime = PolicyRuntime.open(paths, allow_key_file=allow_key_file or None)
    try:
        before = {key: runtime.settings.get(key) for key in (SETTING_ACTIVE, SETTING_ROOTS)}
        roots = runtime.approved_roots()
        runtime.set_roots((*roots, docs) if docs not in roots else roots)
        runtime.settings.set(SETTING_ACTIVE, PERSONAS[0][0])
    finally:
        runtime.close()
    return before


def restore_home(paths: AppPaths, before: dict[str, JSONValue], *, allow_key_file: bool) -> None:
    """Put back the active persona and the approved folders as :func:`prepare_home` found them."""
    from aether_qt.policy.runtime import SETTING_ROOTS, PolicyRuntime

    runtime = PolicyRuntime.open(paths, allow_key_file=allow_key_file or None)
    try:
        stored = before.get(SETTING_ROOTS)
        runtime.set_roots(tuple(Path(str(p)) for p in stored) if isinstance(stored, list) else ())
        for key, value in before.items():
            if value is None:
                runtime.settings.delete(key)
            else:
                runtime.settings.set(key, value)
    finally:
        runtime.close()


# ---------------------------------------------------------------------- the run


def _check_free(paths: AppPaths) -> None:
    """Refuse a home an app is running on: the soak would change its persona under it.

    Raises:
        CommandError: another process holds the home's instance lock.
    """
    lock = InstanceLock.acquire(paths.data_dir)
    if lock is None:
        pid = holder_pid(paths.data_dir)
        raise CommandError(f"Aether is running on this home (pid {pid or '?'}); quit it first", code=2)
    lock.release()  # the app takes it again in a moment


def _display() -> str:
    """The Qt platform the app will use; ``offscreen`` (no OpenGL) when there is no display."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return os.environ["QT_QPA_PLATFORM"]
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return "default"
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return "offscreen"


def run_soak_bench(
    home: Path,
    *,
    quick: bool = False,
    turns: int | None = None,
    throwaway: bool = True,
    allow_key_file: bool = False,
) -> dict[str, Any]:
    """Run the soak in ``home``; returns the JSON result with a ``table``.

    Args:
        home: the home folder.
        quick: 100 turns instead of 500 (``turns`` wins when given).
        turns: how many turns.
        throwaway: ``home`` is a temporary folder: keys go to an opt-in key file, never the
            user's keyring, and nothing is put back afterwards.
        allow_key_file: for a real home, whether a key file may stand in for a missing keyring.
    """
    import keyring
    import keyring.backends.fail

    from aether_qt.app import AppOptions, AppParts, run_app

    count = turns if turns is not None else QUICK_TURNS if quick else DEFAULT_TURNS
    paths, docs = resolve_paths(home), home / "soak-docs"
    _check_free(paths)
    display = _display()
    previous = keyring.get_keyring()
    if throwaway:
        keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    key_file = allow_key_file or throwaway
    try:
        before = prepare_home(paths, docs, allow_key_file=key_file)
        drivers: list[SoakDriver] = []

        def measure(turn: int) -> dict[str, Any]:
            numbers = sample(os.getpid(), paths, turn)
            sys.stderr.write(f"aether: soak {turn}/{count} turns: {_progress(numbers)}\n")
            return numbers

        def ready(parts: AppParts) -> None:
            driver = SoakDriver(
                parts=parts, steps=plan(count, docs), sample=measure, sample_every=SAMPLE_EVERY
            )
            drivers.append(driver)
            driver.start()

        code = run_app(AppOptions(home=str(home), allow_key_file=key_file, onboarding=False), on_ready=ready)
        if not throwaway:
            restore_home(paths, before, allow_key_file=key_file)
    finally:
        keyring.set_keyring(previous)
    if not drivers:
        raise CommandError(f"the app did not start (exit code {code}); see the messages above", code=2)
    driver = drivers[0]
    result = summarise(driver.records, driver.samples, count, driver.error)
    result.update(
        error=driver.error,
        exit_code=code,
        ready_s=round(driver.ready_s, 2),
        display=display,
        home="temporary" if throwaway else str(home),
        keys="key file (temporary home)" if throwaway else "the home's own",
        driven="the desktop app (run_app) in this process, through its widgets",
        pid=os.getpid(),
    )
    return result


# ---------------------------------------------------------------------- the result


def _kinds(records: list[TurnRecord]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        mine = [r for r in records if r.kind == kind]
        times = [r.ms for r in mine]
        out[kind] = {
            "count": len(mine),
            "ok": sum(r.ok for r in mine),
            "p50_ms": round(statistics.median(times), 1) if times else 0.0,
            "p95_ms": p95(times),
        }
    return out


def summarise(
    records: list[TurnRecord], samples: list[dict[str, Any]], planned: int, error: str = ""
) -> dict[str, Any]:
    """Totals, drifts and per-kind numbers of a soak (``error``: why it stopped early), with the table."""
    first = [r.ms for r in records[:WARM_UP_TURNS]]
    last = [r.ms for r in records[-WARM_UP_TURNS:]]
    p95_first, p95_last = p95(first), p95(last)
    drift = round((p95_last / p95_first - 1) * 100, 1) if p95_first else 0.0
    base = next((s for s in samples if s["turn"] == WARM_UP_TURNS), samples[0] if samples else None)
    end = samples[-1] if samples else None
    growth = round(end["rss_mb"] - base["rss_mb"], 1) if base and end else 0.0
    threads = end["threads"] - base["threads"] if base and end else 0
    fds = end["fds"] - base["fds"] if base and end else 0
    kinds = _kinds(records)
    result: dict[str, Any] = {
        "turns_planned": planned,
        "turns_done": len(records),
        "turns_ok": sum(r.ok for r in records),
        "baseline_turn": base["turn"] if base else 0,
        "rss_growth_mb": growth,
        "threads_delta": threads,
        "fds_delta": fds,
        "p95_first_ms": p95_first,
        "p95_last_ms": p95_last,
        "p95_drift_pct": drift,
        "kinds": kinds,
        "samples": samples,
        "records": [r.as_dict() for r in records],
    }
    after = f"from turn {result['baseline_turn']}"
    rows: list[tuple[str, Any, str]] = [
        ("turns done / ok", f"{len(records)} / {result['turns_ok']}", f"of {planned}"),
    ]
    if error:
        rows.append(("stopped early", "yes", error))
    for s in samples:
        rows.append(
            (
                f"turn {s['turn']}: RSS MB / threads / fds",
                f"{s['rss_mb']:.1f} / {s['threads']} / {s['fds']}",
                f"aether.db {s['aether_db_kb']} KB, audit.db {s['audit_db_kb']} KB (+WAL)",
            )
        )
    rows += [
        (f"RSS growth MB ({after})", growth, f"target <= {TARGET_RSS_MB:g}"),
        (f"threads change ({after})", threads, "target 0 (flat)"),
        (f"descriptors change ({after})", fds, "target 0 (flat)"),
        ("p95 turn ms, first 50 turns", p95_first, ""),
        ("p95 turn ms, last 50 turns", p95_last, ""),
        ("p95 drift %", drift, f"target <= {TARGET_DRIFT_PCT:g}"),
    ]
    for kind, numbers in kinds.items():
        rows.append(
            (
                f"{kind}: ok / count, p50 / p95 ms",
                f"{numbers['ok']} / {numbers['count']}",
                f"{numbers['p50_ms']:.0f} / {numbers['p95_ms']:.0f}",
            )
        )
    result["table"] = rows
    return result
