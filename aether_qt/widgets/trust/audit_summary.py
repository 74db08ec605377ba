"""The trust centre's first line: what Aether did today and whether the log holds (pure: no Qt).

"Today Aether did 24 things; 3 needed your OK; the log is intact and signed." The
counts come from today's audit rows, added up as they arrive (:meth:`DayTally.plus`),
so the line follows the log without reading it again; the last clause comes from the
newest verification (:mod:`aether_qt.widgets.trust.verify_words`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aether_qt.policy.contracts import AuditRow


@dataclass(frozen=True, slots=True)
class DayTally:
    """Today's gate decisions.

    Attributes:
        done: actions Aether was allowed to do (by the preset, a permission or your OK).
        asked: times it asked for your OK.
        refused: requests that were refused (by the rules or by you).
    """

    done: int = 0
    asked: int = 0
    refused: int = 0

    def plus(self, rows: Iterable[AuditRow]) -> DayTally:
        """This tally with ``rows`` added (rows that are not gate decisions count for nothing)."""
        done, asked, refused = self.done, self.asked, self.refused
        for row in rows:
            if row.decision == "allow":
                done += 1
            elif row.decision == "ask":
                asked += 1
            elif row.decision in ("deny", "needs_upgrade"):
                refused += 1
        return DayTally(done, asked, refused)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def summary_line(tally: DayTally, log_state: str) -> str:
    """The summary sentence; ``log_state`` is its last clause ("the log is intact and signed")."""
    if tally.done == 0 and tally.asked == 0 and tally.refused == 0:
        parts = ["Today Aether has not done anything yet"]
    elif tally.done == 0:
        parts = ["Today Aether has done nothing yet"]
        if tally.asked:
            parts.append(f"{_count(tally.asked, 'request', 'requests')} needed your OK")
    else:
        parts = [f"Today Aether did {_count(tally.done, 'thing', 'things')}"]
        parts.append(f"{tally.asked} needed your OK" if tally.asked else "none needed your OK")
    if tally.refused:
        parts.append(f"{tally.refused} {'was' if tally.refused == 1 else 'were'} refused")
    parts.append(log_state)
    return "; ".join(parts) + "."
