"""SIGKILL a writer of conversations at random moments: every turn kept is whole, none half kept.

A forked child opens the home with the real :class:`PolicyRuntime` and keeps
turns through the :class:`ConversationStore` the app uses (question and reply in
one transaction, in three conversations, with a rename and a replace now and
then), announcing each before it starts and acknowledging it after it returns,
over a pipe. The parent kills it, opens the home as the kill left it, and finds
the database intact (``integrity_check``, the FTS5 index check), every
acknowledged turn with both its messages, the one in flight with both or none,
and nothing else. The next child continues on the same home.
"""

from __future__ import annotations

import os
import random
import signal
import time
import traceback
from pathlib import Path

import pytest
from keyring_support import key_file_runtime, no_keyring

from aether_qt.core.paths import resolve_paths
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.storage.conversations import ConversationStore, NewMessage

KILLS = int(os.environ.get("AETHER_KILL_LOOPS", "0") or 0) or 12
CONVERSATIONS = ("conv_a", "conv_b", "conv_c")


def _work(home: Path, start: int, write_fd: int) -> None:
    runtime = PolicyRuntime.open(resolve_paths(home), allow_key_file=True)
    store = ConversationStore(database=runtime.database)
    os.write(write_fd, b"R\n")
    n = start
    while True:
        cid = CONVERSATIONS[n % 3]
        os.write(write_fd, f"B {n}\n".encode())
        store.append(
            cid, [NewMessage("user", f"q{n}", n, f"t{n}"), NewMessage("assistant", f"a{n}", n, f"t{n}")]
        )
        os.write(write_fd, f"A {n}\n".encode())
        if n % 5 == 0:
            store.rename(cid, f"title {n}")
        n += 1


def _child(home: Path, start: int, write_fd: int) -> None:  # pragma: no cover - killed
    try:
        _work(home, start, write_fd)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(3)


def _kill_once(home: Path, start: int, rng: random.Random) -> tuple[set[int], int | None]:
    """Run a child from turn ``start``, kill it; the acknowledged turns and the one in flight."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read_fd)
        _child(home, start, write_fd)
    os.close(write_fd)
    data = b""
    while b"R\n" not in data:
        chunk = os.read(read_fd, 65536)
        assert chunk, f"the child ended before it was ready: {data!r}"
        data += chunk
    time.sleep(rng.uniform(0.0, 0.08))
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    while chunk := os.read(read_fd, 65536):
        data += chunk
    os.close(read_fd)
    assert os.WIFSIGNALED(status), f"the child ended on its own: {data[-300:]!r}"
    acked, flight = set(), None
    for line in data.decode().splitlines():
        kind, _, number = line.partition(" ")
        if kind == "B":
            flight = int(number)
        elif kind == "A":
            acked.add(int(number))
            flight = None
    return acked, flight


@pytest.mark.slow
def test_a_killed_writer_never_leaves_half_a_turn_and_loses_no_kept_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    rng = random.Random(16)
    kept: set[int] = set()
    start = 0
    with no_keyring():
        with key_file_runtime(home):
            pass  # the keys and the schema exist before the first kill
        for _ in range(KILLS):
            acked, flight = _kill_once(home, start, rng)
            kept |= acked
            with key_file_runtime(home) as runtime:
                db = runtime.database
                assert db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
                db.execute_sql("INSERT INTO conversation_fts (conversation_fts) VALUES ('integrity-check')")
                store = ConversationStore(database=db)
                turns: dict[int, list[str]] = {}
                for cid in CONVERSATIONS:
                    for message in store.messages(cid):
                        turns.setdefault(int(message.turn_id[1:]), []).append(message.role)
                assert all(roles == ["user", "assistant"] for roles in turns.values()), "half a turn was kept"
                found = set(turns)
                assert kept <= found, f"acknowledged turns lost: {sorted(kept - found)[:5]}"
                extra = found - kept
                assert extra <= ({flight} if flight is not None else set()), f"unannounced turns: {extra}"
                kept |= extra
                assert len(store.search("q0")) == (1 if 0 in kept else 0)
            start = max(kept, default=-1) + 1 if flight is None or flight in kept else flight + 1
    assert len(kept) > KILLS, "the children kept too few turns for the kills to mean anything"
