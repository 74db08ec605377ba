"""Permits: the proof an effector shows before it acts, minted by this process's gate.

A permit carries a random token (``secrets.token_hex``) that exists only in
this registry and in the permit handed out with an ``Allow``; a permit built
anywhere else, copied from another process or altered, does not match. Every
permit is single-use: :meth:`PermitRegistry.take` removes it, whether or not
the redemption then succeeds.
"""

from __future__ import annotations

import hmac
import secrets

from aether_qt.policy.contracts import PermitError
from aether_qt.policy.decisions import Duration, Grant, Permit


class PermitRegistry:
    """Outstanding permits of one gate (guarded by the gate's lock)."""

    def __init__(self) -> None:
        """Start with no permits."""
        self._permits: dict[str, Permit] = {}

    def mint(
        self,
        *,
        permit_id: str,
        capability: str,
        resource: str,
        target: str,
        persona: str,
        grant: Grant,
        audit_id: str,
    ) -> Permit:
        """Create and remember a permit for one allowed act on a canonical resource (and target)."""
        permit = Permit(
            permit_id=permit_id,
            capability=capability,
            resource=resource,
            target=target,
            persona=persona,
            grant_id=grant.grant_id,
            audit_id=audit_id,
            once=grant.duration is Duration.ONCE,
            token=secrets.token_hex(32),
        )
        self._permits[permit_id] = permit
        return permit

    def take(self, permit: Permit) -> Permit:
        """Remove and return the registered permit that ``permit`` claims to be.

        Raises:
            PermitError: unknown, already used, or not identical to the minted one.
        """
        known = self._permits.pop(permit.permit_id, None)
        if known is None or not hmac.compare_digest(known.token, permit.token) or known != permit:
            raise PermitError("unknown, forged or already used permit")
        return known

    def clear(self) -> None:
        """Void every outstanding permit (emergency revoke-all)."""
        self._permits.clear()
