"""Two processes write one audit log at once: one linear chain, nobody sees "database is locked".

Each process opens its own :class:`AuditLog` on the same ``audit.db`` (as the app
and a command-line process do) and appends from 8 threads. An append re-reads
the head inside its ``BEGIN IMMEDIATE`` transaction, so the rows of the two
processes interleave into one chain; SQLite's busy timeout makes a writer wait
for the other instead of failing.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import keyring.backends.fail
import pytest

from aether_qt.policy.audit_anchor import AnchorStore
from aether_qt.policy.audit_verify import verify_log
from aether_qt.policy.keys import KeyStore

WRITER = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    import keyring.backends.fail
    from aether_qt.policy.audit_anchor import AnchorStore
    from aether_qt.policy.audit_chain import AuditLog
    from aether_qt.policy.contracts import AuditEntry, SystemClock
    from aether_qt.policy.keys import KeyStore

    home, name, threads, per_thread = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = KeyStore(namespace="two", key_file=home / "keys.json", backend=keyring.backends.fail.Keyring())
    keys = store.load_keys(log_exists=True, allow_key_file=True)
    log = AuditLog.open(home / "audit.db", keys=keys, clock=SystemClock(),
                        anchor_store=AnchorStore(anchor_file=home / "anchor.json", keystore=None))
    errors = []
    def work(t):
        for i in range(per_thread):
            try:
                log.append(AuditEntry(actor=name, capability="files.read", resource=f"/{t}/{i}",
                                      decision="allow" if i % 2 else "deny"), anchor=i % 2 == 1)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for thread in pool: thread.start()
    for thread in pool: thread.join()
    print("healthy" if log.healthy else "unhealthy: " + log.last_error)
    log.close()
    print("errors:", len(errors), *errors[:3], sep="\\n")
    """
)


def _run(tmp_path: Path, threads: int, per_thread: int) -> None:
    keys = KeyStore(
        namespace="two", key_file=tmp_path / "keys.json", backend=keyring.backends.fail.Keyring()
    ).load_keys(log_exists=False, allow_key_file=True)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), name, str(threads), str(per_thread)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("app", "cli")
    ]
    outputs = [writer.communicate(timeout=900) for writer in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert out.splitlines()[:2] == ["healthy", "errors:"], out + err
        assert "database is locked" not in out + err
    anchors = AnchorStore(anchor_file=tmp_path / "anchor.json", keystore=None)
    anchor = anchors.load(public_key=keys.public_key, key_id=keys.key_id)
    report = verify_log(tmp_path / "audit.db", keys=keys, anchor=anchor)
    assert report.intact, report
    assert report.rows_checked == 2 * threads * per_thread


def test_two_processes_of_four_threads_append_into_one_chain(tmp_path: Path) -> None:
    _run(tmp_path, threads=4, per_thread=100)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_two_processes_of_eight_threads_append_a_thousand_each(tmp_path: Path) -> None:
    _run(tmp_path, threads=8, per_thread=1000)
