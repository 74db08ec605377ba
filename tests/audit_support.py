"""Audit-chain test helpers shared by the unit and adversarial tests."""

from __future__ import annotations

from typing import Any

import nacl.utils

from aether_qt.policy.contracts import AuditEntry
from aether_qt.policy.keys import AuditKeys


def random_keys() -> AuditKeys:
    """Fresh keys that never touch a keyring."""
    return AuditKeys.from_secrets(nacl.utils.random(32), nacl.utils.random(32), source="test")


def entry(i: int, **extra: Any) -> AuditEntry:
    """A plausible audited decision number ``i``."""
    return AuditEntry(
        actor="gate",
        capability="files.read",
        resource=f"/home/u/notes/{i}.txt",
        decision="allow" if i % 3 else "deny",
        reason="" if i % 3 else "policy_deny",
        change_id=f"chg_{i}",
        turn_id=f"turn_{i // 4}",
        stage_trace=({"stage": "scope", "outcome": "pass"}, {"stage": "mode", "outcome": "allow"}),
        detail={"i": i, "note": "ünïcode ✓", **extra},
    )
