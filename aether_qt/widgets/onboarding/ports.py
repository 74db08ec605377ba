"""What the onboarding wizard needs from the services (the real one: ``services/onboarding``).

The wizard's pages read what is in use now and the persona list through this
port while the user walks them; nothing changes until Finish, when the wizard
hands the collected :class:`~aether_qt.widgets.onboarding.choices.OnboardingChoices`
to :meth:`Onboarding.apply` (policy changes there are audited gate decisions).
"""

from __future__ import annotations

from typing import Protocol

from aether_qt.engines.persona.registry import PersonaChoice
from aether_qt.widgets.onboarding.choices import OnboardingChoices


class Onboarding(Protocol):
    """The wizard's view of the home. Each call is short (run on the GUI thread)."""

    def keyring_works(self) -> bool:
        """Probe the OS keyring now (the keys page's "Check again")."""
        ...

    def current(self) -> OnboardingChoices:
        """What is in use now (the pages start from it; the defaults on a fresh home)."""
        ...

    def personas(self) -> list[PersonaChoice]:
        """The shipped and the user's personas (broken ones with their error)."""
        ...

    def apply(self, choices: OnboardingChoices) -> list[str]:
        """Apply the choices (Finish); one plain sentence per change made.

        Raises:
            ExplainedError: a choice could not be applied (the sentence says which);
                the choices applied before it stay.
        """
        ...
