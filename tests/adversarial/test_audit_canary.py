"""Canary: the HMAC key and the Ed25519 seed never leave the key store.

Keys are minted through the real KeyStore code, then a full life is run
(appends, checkpoints, close, verify, export, key mismatch, missing keys,
write failures). The raw, hex and base64 forms of both secrets must not appear
in the database files, the anchor file, the bundle, any exception text or
any captured log record.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
from pathlib import Path

import keyring.backend
import keyring.backends.null
import pytest
from keyring_support import MemoryKeyring, no_keyring

from aether_qt.companion import Companion
from aether_qt.core.bus import JsonlEventLog
from aether_qt.core.events import ActionRequested, DecisionMade, Envelope, TicketOpened
from aether_qt.core.paths import resolve_paths
from aether_qt.policy.audit_anchor import AnchorStore
from aether_qt.policy.audit_bundle import export_bundle, verify_bundle
from aether_qt.policy.audit_chain import AuditLog, connect_audit_db
from aether_qt.policy.audit_verify import verify_log
from aether_qt.policy.capabilities import Preset
from aether_qt.policy.contracts import AuditEntry, FakeClock, PolicyError
from aether_qt.policy.keys import SERVICE, AuditKeys, KeyStore


def forms(secret: bytes) -> list[bytes]:
    """Ways a secret could leak: raw, hex (both cases), base64 (both alphabets)."""
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret),
        base64.b64encode(secret).rstrip(b"="),
    ]


def assert_clean(blob: bytes, secrets: list[bytes], where: str) -> None:
    for secret in secrets:
        assert secret not in blob, f"secret leaked into {where}"


def test_secrets_never_leak(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend = MemoryKeyring()
    keystore = KeyStore(namespace="canary", key_file=tmp_path / "config" / "keys.json", backend=backend)
    keys = keystore.load_keys(log_exists=False, allow_key_file=False)
    secrets = forms(keys.hmac_key) + forms(bytes(keys.signing_key))
    anchors = AnchorStore(anchor_file=tmp_path / "config" / "audit-anchor.json", keystore=keystore)
    db = tmp_path / "data" / "audit.db"
    errors: list[BaseException] = []

    log = AuditLog.open(db, keys=keys, anchor_store=anchors, clock=FakeClock(), checkpoint_every=3)
    for i in range(10):
        log.append(
            AuditEntry(actor="gate", capability="net.fetch", resource=f"https://x/{i}", decision="allow")
        )
    bundle = export_bundle(log, tmp_path / "bundle.json")
    assert log.healthy  # still open: the WAL may hold rows not yet in audit.db
    wal = db.with_name("audit.db-wal")
    assert_clean(db.read_bytes() + (wal.read_bytes() if wal.exists() else b""), secrets, "audit.db (open)")
    log.close()

    # Wrong keys, missing keys, broken writes: collect every error message.
    wrong = AuditKeys.from_secrets(b"\x07" * 32, bytes(keys.signing_key), source="test")
    for attempt in (
        lambda: AuditLog.open(db, keys=wrong, anchor_store=anchors, clock=FakeClock()),
        lambda: KeyStore(namespace="other", key_file=tmp_path / "k2", backend=backend).load_keys(
            log_exists=True, allow_key_file=False
        ),
        lambda: KeyStore(
            namespace="canary", key_file=tmp_path / "k3", backend=keyring.backends.null.Keyring()
        ).load_keys(log_exists=True, allow_key_file=False),
    ):
        with pytest.raises(PolicyError) as info:
            attempt()
        errors.append(info.value)
    backend.entries[(SERVICE, "canary:hmac-key")] = "!!"
    with pytest.raises(PolicyError) as info:
        keystore.load_keys(log_exists=True, allow_key_file=False)
    errors.append(info.value)

    opened: list[sqlite3.Connection] = []

    def read_only(path: Path) -> sqlite3.Connection:
        conn = connect_audit_db(path)
        opened.append(conn)
        return conn

    log = AuditLog.open(db, keys=keys, anchor_store=anchors, clock=FakeClock(), connect=read_only)
    opened[0].execute("PRAGMA query_only = 1")  # every write now fails inside SQLite
    with pytest.raises(PolicyError) as info:
        log.append(AuditEntry(actor="gate", capability="x", resource="y", decision="allow"))
    errors.append(info.value)
    log.close()  # unhealthy: closes without a shutdown checkpoint

    anchor = anchors.load(public_key=keys.public_key, key_id=keys.key_id)
    reports = [
        verify_log(db, keys=keys, anchor=anchor, live=True),  # the last append failed: no closing anchor
        verify_log(db, keys=wrong, anchor=anchor),
        verify_bundle(bundle, public_key=keys.public_key),
    ]
    assert reports[0].intact and reports[1].reason == "key_mismatch" and reports[2].intact

    check = sqlite3.connect(db)
    check.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    check.close()
    assert_clean(db.read_bytes(), secrets, "audit.db")
    assert_clean((tmp_path / "config" / "audit-anchor.json").read_bytes(), secrets, "anchor file")
    assert_clean(bundle.read_bytes(), secrets, "bundle")
    anchor_entry = backend.entries[(SERVICE, "canary:audit-anchor")].encode()
    assert_clean(anchor_entry, secrets, "keyring anchor entry")
    for error in errors:
        text = f"{error!s} {error!r} {error.__cause__!r}".encode()
        assert_clean(text, secrets, f"exception {type(error).__name__}")
    for report in reports:
        assert_clean(repr(report).encode(), secrets, "verify report")
    assert_clean(repr(keys).encode(), secrets, "repr(keys)")
    assert_clean(caplog.text.encode(), secrets, "log output")
    assert len(errors) == 5


def test_secrets_in_a_turns_urls_and_commands_never_reach_the_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A turn names a URL with a query token, user-info and a fragment, and a ``--token`` command.

    The gate decides on the real values; the audit chain, the anchor, the policy
    events, the persisted event log and the logs hold keyed hashes instead.
    """
    # Aether's own loggers at DEBUG. (peewee's SQL trace, off unless configured, would print the
    # pending ticket's parameters: the ticket in aether.db keeps the real request to act on.)
    caplog.set_level(logging.DEBUG, logger="aether_qt")
    canaries = ["QueryCanaryTurn81", "PasswordCanaryTurn27", "FragmentCanaryTurn64", "TokenCanaryTurn35"]
    query, password, fragment, token = canaries
    events: list[Envelope] = []
    decisions: list[str] = []
    with no_keyring():
        comp = Companion.open(
            resolve_paths(tmp_path / "home"),
            allow_key_file=True,
            load_model=False,
            install_guard=False,
            with_memory=False,
        )
        paths = comp.runtime.paths
        event_log = paths.data_dir / "events.jsonl"
        try:
            comp.bus.subscribe("*", events.append)
            comp.bus.set_event_log(
                JsonlEventLog(path=event_log, data_dir=paths.data_dir, redact=comp.runtime.gate.redactor.text)
            )
            comp.runtime.set_preset(Preset.OBSERVER)  # browser.open asks: no browser is started
            for text in (
                f"go to https://alice:{password}@example.com/inbox?api_token={query}#{fragment}",
                f"go to https://example.com/inbox?api_token={query}#{fragment}",
                f"run the command deploy --token {token} --region eu",
            ):
                report = comp.conductor.run_turn(text, source="typed")
                assert report is not None and report.decision is not None
                decisions.append(report.decision["decision"])
            comp.bus.set_event_log(None)
        finally:
            comp.close()
    assert decisions == ["deny", "ask", "deny"]
    policy_events = [
        e.payload for e in events if isinstance(e.payload, ActionRequested | DecisionMade | TicketOpened)
    ]
    assert len(policy_events) == 7
    for payload in policy_events:
        assert not any(c in repr(payload) for c in canaries), payload
    check = sqlite3.connect(paths.audit_db)
    check.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    resources = [r[0] for r in check.execute("SELECT resource FROM audit_log WHERE capability != ''")]
    check.close()
    assert any("?<redacted:" in r for r in resources), resources
    blobs = {
        "audit.db": paths.audit_db.read_bytes(),
        "anchor": paths.anchor_file.read_bytes(),
        "event log": event_log.read_bytes(),
        "log output": caplog.text.encode(),
    }
    assert b"turn.did_begin" in blobs["event log"]
    for where, blob in blobs.items():
        for canary in canaries:
            assert canary.encode() not in blob, f"{canary} leaked into {where}"
