"""The one mark that separates problems a person can act on from bugs.

An :class:`ExplainedError` is an environment problem (a locked or full
database, a refused permit, a malformed import file) whose message is a sentence
meant for the user. Surfaces show these in words and keep working; any other
exception is a bug whose traceback goes to the log. The storage, policy and
memory errors derive from it, so a widget never needs to know which layer
raised (compare qutebrowser's known environment errors vs the crash handler).
"""

from __future__ import annotations


class ExplainedError(Exception):
    """An environment problem; ``str(error)`` is a sentence for the user and names no secret."""


__all__ = ["ExplainedError"]
