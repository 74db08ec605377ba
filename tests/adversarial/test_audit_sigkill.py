"""SIGKILL an appending process at random moments; nothing acknowledged is lost.

A forked child (imports already done, so a kill costs milliseconds) opens the
audit log with the opt-in key file, appends audited decisions in a loop and
writes ``seq audit_id`` to a pipe after each ``append`` returns. The parent
kills it with SIGKILL after a random delay, then checks with plain sqlite3 that
the database opens and ``PRAGMA integrity_check`` is ok, that every
acknowledged audit id is present, and that ``verify_log`` finds the chain
sound but, with no live writer, never says *intact*: the rows written after the
last anchor (or none, if the kill came right after it) cannot be vouched for
(``unvouched_tail`` / ``unclosed_session``; ``unanchored`` before the first
checkpoint). Deleting the newest rows after the kill (an attacker hiding what
the crashed session did) is never intact either. The next child continues on
the same database, so recovery after a kill is exercised too. A fresh home is
started every ``_PER_HOME`` kills to keep each verification short.
"""

from __future__ import annotations

import os
import random
import select
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import keyring.backends.fail
import pytest
from audit_support import entry

from aether_qt.policy.audit_anchor import Anchor, AnchorStore
from aether_qt.policy.audit_chain import AuditLog
from aether_qt.policy.audit_verify import verify_log
from aether_qt.policy.contracts import SystemClock
from aether_qt.policy.keys import AuditKeys, KeyStore

_PER_HOME = 25


def _keystore(home: Path) -> KeyStore:
    return KeyStore(namespace="sigkill", key_file=home / "keys.json", backend=keyring.backends.fail.Keyring())


def _child(home: Path, write_fd: int) -> None:
    """Body of the forked child: append forever, acknowledging each row."""
    try:
        keys = _keystore(home).load_keys(log_exists=True, allow_key_file=True)
        anchors = AnchorStore(anchor_file=home / "anchor.json", keystore=None)
        log = AuditLog.open(
            home / "audit.db", keys=keys, anchor_store=anchors, clock=SystemClock(), checkpoint_every=16
        )
        i = 0
        while True:
            row = log.append(entry(i))
            os.write(write_fd, f"{row.seq} {row.audit_id}\n".encode())
            i += 1
    finally:
        os._exit(3)  # only reached on an error: never run the parent's cleanup in the child


def _kill_once(home: Path, rng: random.Random) -> list[str]:
    """Run one child, SIGKILL it after a random delay, return the acknowledged audit ids."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child; killed before it can report coverage
        os.close(read_fd)
        _child(home, write_fd)
    os.close(write_fd)
    time.sleep(rng.uniform(0.0, 0.06))
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"child ended early: {status}"
    data = b""
    while select.select([read_fd], [], [], 0)[0]:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        data += chunk
    os.close(read_fd)
    lines = data.decode().split("\n")[:-1]  # the last piece is empty or a torn line
    return [line.split()[1] for line in lines]


def _check_home(
    home: Path, keys: AuditKeys, acknowledged: set[str], rng: random.Random, tmp_path: Path
) -> None:
    db = home / "audit.db"
    if not db.exists():
        assert not acknowledged
        return
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'audit_log'").fetchone() is None:
            assert not acknowledged  # killed while the schema was being created: rolled back
            return
        present = {audit_id for (audit_id,) in conn.execute("SELECT audit_id FROM audit_log")}
    finally:
        conn.close()
    assert acknowledged <= present, f"lost acknowledged rows: {sorted(acknowledged - present)[:5]}"
    anchor = AnchorStore(anchor_file=home / "anchor.json", keystore=None).load(
        public_key=keys.public_key, key_id=keys.key_id
    )
    report = verify_log(db, keys=keys, anchor=anchor)
    assert (report.status, report.reason) in NOT_VOUCHED, report
    if anchor is not None:  # the chain itself is sound: only the tail's completeness is unknown
        assert verify_log(db, keys=keys, anchor=anchor, live=True).intact
    if len(present) > 2 and rng.random() < 0.2:
        _cut_newest(db, tmp_path, keys, anchor, rng.randrange(1, len(present)))


NOT_VOUCHED = {
    ("undecidable", "unvouched_tail"),
    ("undecidable", "unclosed_session"),
    ("undecidable", "unanchored"),
}


def _cut_newest(db: Path, scratch: Path, keys: AuditKeys, anchor: Anchor | None, rows: int) -> None:
    """On a copy: delete the newest ``rows`` rows as an attacker would; never intact."""
    copy = scratch / "cut.db"
    shutil.copy(db, copy)
    conn = sqlite3.connect(copy, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    last = conn.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    conn.execute("DELETE FROM audit_log WHERE seq > ?", (last - rows,))
    conn.close()
    report = verify_log(copy, keys=keys, anchor=anchor)
    assert not report.intact, report
    copy.unlink()


def _run(tmp_path: Path, kills: int, seed: int) -> int:
    rng = random.Random(seed)
    total_acked = 0
    home: Path | None = None
    keys: AuditKeys | None = None
    acknowledged: set[str] = set()
    for n in range(kills):
        if n % _PER_HOME == 0:
            home = tmp_path / f"home{n // _PER_HOME}"
            home.mkdir()
            keys = _keystore(home).load_keys(log_exists=False, allow_key_file=True)
            acknowledged = set()
        assert home is not None and keys is not None
        acked = _kill_once(home, rng)
        acknowledged.update(acked)
        total_acked += len(acked)
        _check_home(home, keys, acknowledged, rng, tmp_path)
    return total_acked


@pytest.mark.timeout(600)
def test_sigkill_200_times_loses_nothing_acknowledged(tmp_path: Path) -> None:
    seed = random.SystemRandom().randrange(2**32)
    print(f"sigkill seed {seed}")
    assert _run(tmp_path, 200, seed) > 200  # kills landed mid-stream, not only before the first row


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_sigkill_many_times(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if not (request.config.getoption("--run-slow", default=False) or os.environ.get("CI")):
        pytest.skip("slow: use --run-slow (or CI=1)")
    seed = random.SystemRandom().randrange(2**32)
    print(f"sigkill seed {seed}")
    assert _run(tmp_path, 2000, seed) > 2000
