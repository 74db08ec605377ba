"""Capture leases: the permit of an act that lasts (a microphone capture), checked while it lasts.

A permit is spent the moment its effector acts, but a capture goes on for
seconds after that, on the media thread. :meth:`Effectors.start_capture
<aether_qt.policy.effects.Effectors.start_capture>` therefore redeems the
``media.mic`` permit and mints a :class:`CaptureLease` bound to the permit's
grant, source and persona, which it hands to the device's start. The device
(:class:`~aether_qt.engines.media.qt_audio.MicCapture`) opens only with a lease
its registry minted and nobody has used (:meth:`CaptureLeases.claim`, at once,
while the effector runs), and asks :meth:`CaptureLeases.alive` before it opens
and for every chunk it hands out: once the grant is revoked, expires or ends in
a cascade, or the gate is paused or degraded, the lease is dead and the capture
stops. Like a permit's, a lease's token exists only here and in the lease.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from typing import Final, Protocol

from aether_qt.policy.contracts import PermitError
from aether_qt.policy.decisions import Permit, new_id

MICROPHONE: Final = "microphone"
"""The ``media.mic`` resource of the default microphone."""


class GrantLiveness(Protocol):
    """What a lease asks the gate while it lasts (``Gate.grant_live``)."""

    def grant_live(self, grant_id: str) -> bool:
        """Whether the grant still allows an act that lasts."""
        ...


@dataclass(frozen=True, slots=True)
class CaptureLease:
    """The right to keep one capture open while its grant lives (see the module docstring)."""

    lease_id: str
    capability: str
    source: str
    persona: str
    grant_id: str
    audit_id: str
    token: str = field(repr=False)


class CaptureLeases:
    """The leases of one set of effectors: minted, claimed by a device, released when it stops.

    Thread-safe: leases are minted on the caller's thread and checked on the media thread.

    Args:
        gate: answers whether a lease's grant still lives.
    """

    def __init__(self, *, gate: GrantLiveness) -> None:
        self._gate = gate
        self._lock = threading.Lock()
        self._minted: dict[str, CaptureLease] = {}
        self._claimed: dict[str, CaptureLease] = {}

    def mint(self, permit: Permit, source: str) -> CaptureLease:
        """A new lease for a redeemed permit's grant (only :class:`Effectors` calls this)."""
        lease = CaptureLease(
            lease_id=new_id("lse"),
            capability=permit.capability,
            source=source,
            persona=permit.persona,
            grant_id=permit.grant_id,
            audit_id=permit.audit_id,
            token=secrets.token_hex(32),
        )
        with self._lock:
            self._minted[lease.lease_id] = lease
        return lease

    def discard(self, lease: CaptureLease) -> None:
        """Forget a lease nobody claimed (its start failed or did not claim it)."""
        with self._lock:
            self._minted.pop(lease.lease_id, None)

    def claim(self, lease: object, source: str) -> CaptureLease:
        """Take an unused lease for a capture from ``source``; it can never be claimed again.

        Raises:
            PermitError: no lease, a forged or already used one, one for another
                source, or one whose grant has already ended.
        """
        if not isinstance(lease, CaptureLease):
            raise PermitError("a capture needs a lease from the microphone effector")
        with self._lock:
            known = self._minted.pop(lease.lease_id, None)
            if known is None or not hmac.compare_digest(known.token, lease.token) or known != lease:
                raise PermitError("unknown, forged or already used capture lease")
            if known.source != source:
                raise PermitError("the capture lease is for another source")
            self._claimed[known.lease_id] = known
        if not self._gate.grant_live(known.grant_id):
            self.release(known)
            raise PermitError("the capture lease's grant has ended")
        return known

    def alive(self, lease: CaptureLease) -> bool:
        """Whether a claimed lease may go on capturing (its grant lives, it was not released)."""
        with self._lock:
            known = self._claimed.get(lease.lease_id)
        return known is not None and known == lease and self._gate.grant_live(lease.grant_id)

    def release(self, lease: CaptureLease) -> None:
        """The capture stopped: the lease is spent (idempotent)."""
        with self._lock:
            self._claimed.pop(lease.lease_id, None)
