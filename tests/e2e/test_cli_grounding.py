"""The acceptance line of issue 14 (grounding), as a new user types it, on the bundled model.

"remember that my dog is called Biscuit", quit, start again, "what's my dog's
name?": the reply says Biscuit and where that came from, whatever the small
model would have said. Each ``aether say`` is its own process, so the fact
crosses a real restart (encrypted database and index read back from disk).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Cli


@pytest.mark.slow
def test_a_fact_told_before_a_restart_answers_the_question_with_its_source(tmp_path: Path) -> None:
    cli = Cli(home=tmp_path / "home")
    told = cli.json("say", "remember that my dog is called Biscuit")
    assert told["outcome"] == "Answered" and told["category"] == "MemoryWrite", told

    asked = cli.json("say", "what's my dog's name?")  # a new process: the restart
    assert asked["outcome"] == "Answered", asked
    assert "Biscuit" in asked["reply"] and "you told me on " in asked["reply"], asked["reply"]
    assert "“my dog is called Biscuit”" in asked["reply"]  # the user's own words, quoted
    route = asked["route"]
    assert (route["tier"], route["provider"]) == ("reflex", "memory")
    assert route["reason"] == "a remembered fact answers it"
    [hit] = [h for h in asked["recalled"] if "Biscuit" in h["text"]]
    assert hit["source"] == "user_confirmed"
