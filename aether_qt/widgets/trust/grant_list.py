"""The grants in force as a person reads them: each once, with who gave it and why (pure: no Qt).

Grants are per persona, so one everyday permission can be held several times: the
preset's "remember what you tell it" is issued once to the persona that remembers in
the conversation and once to "you" when you add a memory by hand in the Memory panel
(both ``memory.write.durable``, scope ``*``, issued by the preset). To a person that is
one permission, so :func:`grant_entries` lists grants with the same capability, scope,
duration and origin once; revoking the entry revokes every grant behind it.

A preset grant says so ("Part of the Assistant preset: lets Aether remember what you
tell it."); a grant the user gave says when and how ("You allowed this on 7 Dec at
14:02 from an approval card.").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePath

from aether_qt.policy.capabilities import CAPABILITIES, ResourceKind
from aether_qt.policy.decisions import Grant
from aether_qt.widgets.trust.plain_words import capability_words, duration_words, who_words

PRESET = "preset"


@dataclass(frozen=True, slots=True)
class GrantEntry:
    """One line of the Grants tab: one or more grants that mean the same permission.

    Attributes:
        grant_ids: the grants behind the line (all revoked together).
        permission: what it lets Aether do ("Remember what you tell it").
        scope: on what ("Anything", "Everything in /home/ann/Documents").
        how_long: "until Aether closes", "until you revoke it"...
        given_by: "Assistant preset" or "You, 7 Dec at 14:02".
        why: one sentence on who or what gave it and why.
        expert: the raw facts (capability id, scope, personas, grant ids) for "Expert details".
    """

    grant_ids: tuple[str, ...]
    permission: str
    scope: str
    how_long: str
    given_by: str
    why: str
    expert: str


def when_words(wall_ms: int) -> str:
    """A local date and time as "7 Dec at 14:02"."""
    moment = time.localtime(wall_ms / 1000)
    return f"{moment.tm_mday} {time.strftime('%b', moment)} at {time.strftime('%H:%M', moment)}"


def scope_words(capability: str, pattern: str) -> str:
    """The scope of a grant in words."""
    if pattern in ("*", ""):
        return "Anything"
    cap = CAPABILITIES.get(capability)
    kind = cap.resource_kind if cap is not None else ResourceKind.TEXT
    if kind is ResourceKind.PATH:
        if pattern.endswith("/**"):
            return f"Everything in {pattern[:-3]}"
        if pattern.endswith("/*"):
            return f"Files directly in {pattern[:-2]}"
        return PurePath(pattern).name or pattern
    if kind is ResourceKind.URL:
        return pattern
    return "Only what you approved"


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _origin(grant: Grant) -> str:
    return PRESET if grant.issued_by == PRESET else grant.issued_by


def given_words(grant: Grant, *, preset: str, when: Callable[[int], str] = when_words) -> tuple[str, str]:
    """Who or what gave ``grant`` and why: ("Assistant preset", "Part of the Assistant preset: ...")."""
    lets = capability_words(grant.capability).lets
    if grant.issued_by == PRESET:
        return f"{preset} preset", f"Part of the {preset} preset: lets Aether {lets}."
    at = when(grant.issued_wall_ms)
    if grant.issued_by.startswith("approval:"):
        return f"You, {at}", f"You allowed this on {at} from an approval card: it lets Aether {lets}."
    return f"You, {at}", f"You allowed this on {at}: it lets Aether {lets}."


def grant_entries(
    grants: Iterable[Grant], *, preset: str, when: Callable[[int], str] = when_words
) -> list[GrantEntry]:
    """One entry per distinct permission, in the order of the first grant of each."""
    groups: dict[tuple[str, str, str, str], list[Grant]] = {}
    for grant in grants:
        key = (grant.capability, grant.resource_pattern, grant.duration.value, _origin(grant))
        groups.setdefault(key, []).append(grant)
    entries = []
    for (capability, pattern, duration, _), same in groups.items():
        first = same[0]
        given_by, why = given_words(first, preset=preset, when=when)
        personas = ", ".join(sorted({who_words(g.persona) for g in same}))
        ids = tuple(g.grant_id for g in same)
        expert = f"{capability} · scope {pattern} · for {personas} · {first.issued_by} · {', '.join(ids)}"
        entries.append(
            GrantEntry(
                grant_ids=ids,
                permission=_upper_first(capability_words(capability).lets),
                scope=scope_words(capability, pattern),
                how_long=_upper_first(duration_words(duration)),
                given_by=given_by,
                why=why,
                expert=expert,
            )
        )
    return entries
