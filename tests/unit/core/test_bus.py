"""Tests for aether_qt/core/bus.py (pure dispatch; no QApplication needed)."""

from __future__ import annotations

import itertools
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from aether_qt.core.bus import ALL_KINDS, EventBus, JsonlEventLog, new_change_id
from aether_qt.core.events import (
    ActionRequested,
    DecisionMade,
    Envelope,
    HandlerFailed,
    Payload,
    PostureChanged,
    secret_field,
)


@dataclass(frozen=True, slots=True)
class KeyRotated(Payload):
    KIND: ClassVar[str] = "test.did_rotate_key"
    key_name: str
    signing_key: str
    blob: str = secret_field()


def _intent(n: int = 0) -> ActionRequested:
    return ActionRequested(
        request_id=f"req_{n}", capability="files.read", resource="/tmp/x", actor_persona="p"
    )


def _decision(request_id: str = "req_0") -> DecisionMade:
    return DecisionMade(
        request_id=request_id,
        capability="files.read",
        resource="/tmp/x",
        decision="allow",
        reason="",
        audit_id="aud_1",
    )


@pytest.fixture
def bus() -> EventBus:
    ticks = itertools.count(1000)
    ids = (f"chg_{n}" for n in itertools.count(1))
    return EventBus(replay_size=64, clock_ns=lambda: next(ticks), change_ids=lambda: next(ids))


def test_publish_stamps_an_envelope(bus: EventBus) -> None:
    first = bus.publish(_intent(), source_layer="L1", turn_id="turn_1")
    second = bus.publish(_decision(), source_layer="L5", change_id=first.change_id)

    assert first == Envelope(
        kind="gate.will_decide",
        seq=1,
        source_layer="L1",
        change_id="chg_1",
        turn_id="turn_1",
        emitted_at_ns=1000,
        version=1,
        payload=_intent(),
    )
    assert (second.seq, second.change_id, second.emitted_at_ns, second.turn_id) == (2, "chg_1", 1001, None)


def test_default_change_ids_are_fresh() -> None:
    bus = EventBus()

    a = bus.publish(_intent(), source_layer="L1")
    b = bus.publish(_intent(), source_layer="L1")

    assert a.change_id.startswith("chg_") and b.change_id.startswith("chg_")
    assert a.change_id != b.change_id
    assert new_change_id() != new_change_id()
    assert a.emitted_at_ns > 0


def test_seq_is_strictly_increasing_across_threads() -> None:
    bus = EventBus(replay_size=10_000)
    per_thread = 500
    seen: dict[int, list[int]] = {}
    start = threading.Barrier(4)

    def worker(index: int) -> None:
        start.wait()
        seen[index] = [bus.publish(_intent(index), source_layer="L1").seq for _ in range(per_thread)]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    for seqs in seen.values():
        assert all(a < b for a, b in itertools.pairwise(seqs))
    everything = sorted(s for seqs in seen.values() for s in seqs)
    assert everything == list(range(1, 4 * per_thread + 1))
    assert [env.seq for env in bus.replay()] == everything


def test_caused_events_carry_the_intent_change_id(bus: EventBus) -> None:
    def gate(env: Envelope) -> None:
        assert isinstance(env.payload, ActionRequested)
        bus.publish(_decision(env.payload.request_id), source_layer="L5", change_id=env.change_id)

    bus.subscribe(ActionRequested.KIND, gate)
    decisions: list[Envelope] = []
    bus.subscribe(DecisionMade.KIND, decisions.append)

    intent = bus.publish(_intent(), source_layer="L1")
    bus.publish(_intent(1), source_layer="L1")

    assert [d.change_id for d in decisions] == [intent.change_id, "chg_2"]
    assert decisions[0].seq > intent.seq


def test_kind_and_wildcard_subscriptions(bus: EventBus) -> None:
    only_decisions: list[str] = []
    everything: list[str] = []
    bus.subscribe(DecisionMade.KIND, lambda env: only_decisions.append(env.kind))
    bus.subscribe(ALL_KINDS, lambda env: everything.append(env.kind))

    bus.publish(_intent(), source_layer="L1")
    bus.publish(_decision(), source_layer="L5")

    assert only_decisions == ["gate.did_decide"]
    assert everything == ["gate.will_decide", "gate.did_decide"]


def test_unsubscribe_stops_delivery_and_is_idempotent(bus: EventBus) -> None:
    got: list[int] = []

    def handler(env: Envelope) -> None:
        got.append(env.seq)

    first = bus.subscribe(ALL_KINDS, handler)
    second = bus.subscribe(ALL_KINDS, handler)  # the same function twice: two subscriptions
    bus.publish(_intent(), source_layer="L1")
    first()
    first()
    assert not first.active and second.active
    bus.publish(_intent(), source_layer="L1")
    second()
    bus.publish(_intent(), source_layer="L1")

    assert got == [1, 1, 2]


def test_handler_unsubscribed_by_an_earlier_handler_is_skipped(bus: EventBus) -> None:
    got: list[str] = []
    later = bus.subscribe(ALL_KINDS, lambda env: got.append("later"))
    bus.subscribe(ActionRequested.KIND, lambda env: later())

    bus.publish(_intent(), source_layer="L1")

    assert got == []


def test_subscribe_needs_a_kind(bus: EventBus) -> None:
    with pytest.raises(ValueError, match="kind"):
        bus.subscribe("", lambda env: None)


def test_payload_without_kind_is_refused(bus: EventBus) -> None:
    @dataclass(frozen=True, slots=True)
    class Nameless(Payload):
        pass

    with pytest.raises(ValueError, match="Nameless"):
        bus.publish(Nameless(), source_layer="L1")


def test_failing_handler_is_isolated_logged_and_reported(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(env: Envelope) -> None:
        raise RuntimeError("boom")

    after: list[int] = []
    failures: list[Envelope] = []
    bus.subscribe(ActionRequested.KIND, broken)
    bus.subscribe(ActionRequested.KIND, lambda env: after.append(env.seq))
    bus.subscribe(HandlerFailed.KIND, failures.append)

    with caplog.at_level(logging.ERROR, logger="aether_qt.core.bus"):
        intent = bus.publish(_intent(), source_layer="L1", turn_id="t9")

    assert after == [intent.seq]  # the next handler still ran
    assert len(failures) == 1
    report = failures[0]
    assert report.payload == HandlerFailed(
        handler=broken.__qualname__, kind="gate.will_decide", error_type="RuntimeError", message="boom"
    )
    assert (report.change_id, report.turn_id, report.source_layer) == (intent.change_id, "t9", "bus")
    assert caplog.records[0].exc_info is not None
    assert "boom" in caplog.text


def test_failure_while_handling_a_failure_is_only_logged(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    class AlwaysBroken:
        def __call__(self, env: Envelope) -> None:
            raise ValueError(f"cannot handle {env.kind}")

    bus.subscribe(ALL_KINDS, AlwaysBroken())

    with caplog.at_level(logging.ERROR, logger="aether_qt.core.bus"):
        bus.publish(_intent(), source_layer="L1")

    kinds = [env.kind for env in bus.replay()]
    assert kinds == ["gate.will_decide", "bus.handler_did_fail"]  # no recursion
    assert isinstance(bus.replay()[1].payload, HandlerFailed)
    assert bus.replay()[1].payload.handler.endswith("AlwaysBroken")
    assert len(caplog.records) == 2


def test_replay_buffer_is_bounded_and_filters_by_seq() -> None:
    bus = EventBus(replay_size=3)
    for n in range(5):
        bus.publish(_intent(n), source_layer="L1")

    assert [env.seq for env in bus.replay()] == [3, 4, 5]
    assert [env.seq for env in bus.replay(since_seq=4)] == [5]
    assert bus.replay(since_seq=99) == []


def test_replay_can_be_disabled_and_size_is_checked() -> None:
    assert EventBus(replay_size=0).publish(_intent(), source_layer="L1").seq == 1
    with pytest.raises(ValueError, match="replay_size"):
        EventBus(replay_size=-1)


def test_event_log_is_off_by_default(tmp_path: Path, bus: EventBus) -> None:
    bus.publish(_intent(), source_layer="L1")

    assert list(tmp_path.iterdir()) == []


def test_event_log_writes_jsonl_without_secrets(tmp_path: Path, bus: EventBus) -> None:
    log_path = tmp_path / "data" / "logs" / "events.jsonl"
    event_log = JsonlEventLog(path=log_path, data_dir=tmp_path / "data")
    bus.set_event_log(event_log)

    bus.publish(
        KeyRotated(key_name="audit", signing_key="ed25519-SEED-123", blob="opaque-456"), source_layer="L5"
    )
    bus.publish(PostureChanged(flag="no_keyring", active=True, message="keys on disk"), source_layer="L7")
    bus.close()

    text = log_path.read_text(encoding="utf-8")
    assert "ed25519-SEED-123" not in text and "opaque-456" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["seq"] for line in lines] == [1, 2]
    assert lines[0]["payload"] == {"key_name": "audit", "signing_key": "[redacted]", "blob": "[redacted]"}
    assert lines[1]["payload"]["message"] == "keys on disk"


def test_event_log_rewrites_every_text_value_through_its_redactor(tmp_path: Path, bus: EventBus) -> None:
    log_path = tmp_path / "events.jsonl"
    bus.set_event_log(
        JsonlEventLog(path=log_path, data_dir=tmp_path, redact=lambda text: text.replace("S3", "**"))
    )

    bus.publish(PostureChanged(flag="S3flag", active=True, message="token S3CRET"), source_layer="L7")
    bus.close()

    [line] = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()]
    assert line["payload"] == {"flag": "**flag", "active": True, "message": "token **CRET"}
    assert "S3" not in log_path.read_text(encoding="utf-8")


def test_event_log_can_be_switched(tmp_path: Path, bus: EventBus) -> None:
    first = JsonlEventLog(path=tmp_path / "a.jsonl", data_dir=tmp_path)
    second = JsonlEventLog(path=tmp_path / "b.jsonl", data_dir=tmp_path)
    bus.set_event_log(first)
    bus.publish(_intent(), source_layer="L1")
    bus.set_event_log(first)  # same log again: stays open
    bus.publish(_intent(), source_layer="L1")
    bus.set_event_log(second)
    bus.publish(_intent(), source_layer="L1")
    bus.set_event_log(None)
    bus.publish(_intent(), source_layer="L1")
    second.close()

    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 2
    assert len((tmp_path / "b.jsonl").read_text().splitlines()) == 1


def test_event_log_must_live_in_the_data_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="inside the data folder"):
        JsonlEventLog(path=tmp_path / "elsewhere" / "events.jsonl", data_dir=tmp_path / "data")
    with pytest.raises(ValueError, match="inside the data folder"):
        JsonlEventLog(path=tmp_path / "data" / ".." / "escape.jsonl", data_dir=tmp_path / "data")


def test_failing_event_log_is_reported_and_turned_off(
    tmp_path: Path, bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "events.jsonl").mkdir()  # opening it for append fails
    bus.set_event_log(JsonlEventLog(path=tmp_path / "events.jsonl", data_dir=tmp_path))
    got: list[int] = []
    bus.subscribe(ALL_KINDS, lambda env: got.append(env.seq))

    with caplog.at_level(logging.ERROR, logger="aether_qt.core.bus"):
        bus.publish(_intent(), source_layer="L1")
        bus.publish(_intent(), source_layer="L1")

    assert got == [1, 2]  # the bus kept working
    assert sum("event logging is now off" in r.getMessage() for r in caplog.records) == 1


def test_failing_close_of_a_failed_log_is_logged_too(
    tmp_path: Path, bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    class BadLog(JsonlEventLog):
        def write(self, env: Envelope) -> None:
            raise OSError("disk gone")

        def close(self) -> None:
            raise OSError("still gone")

    bus.set_event_log(BadLog(path=tmp_path / "x.jsonl", data_dir=tmp_path))

    with caplog.at_level(logging.ERROR, logger="aether_qt.core.bus"):
        env = bus.publish(_intent(), source_layer="L1")

    assert env.seq == 1
    assert "closing the failed event log also failed" in caplog.text


def test_close_drops_subscriptions(bus: EventBus) -> None:
    got: list[int] = []
    handle = bus.subscribe(ALL_KINDS, lambda env: got.append(env.seq))

    bus.close()
    bus.close()
    bus.publish(_intent(), source_layer="L1")

    assert got == [] and not handle.active
