"""The rule scorer of ``aether bench router`` and its data files (shape and size)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aether_qt.commands.bench.router_rules import fact_recalled, invented_identity, score_reply

DATA = Path(__file__).resolve().parents[2] / "data"
WHO = {"prompt": "hello, who are you?", "topic": ["aether"], "identity": True, "max_words": 40}
TEA = {"prompt": "how do I make tea?", "topic": ["tea", "boil"], "identity": False, "max_words": 40}


def test_a_good_reply_passes_every_check() -> None:
    assert score_reply("I'm Aether, your companion on this computer.", WHO).passed
    assert score_reply("Boil water, then steep the teabag for three minutes.", TEA).passed


@pytest.mark.parametrize(
    ("reply", "failed"),
    [
        ("", {"answered", "on_topic", "identity"}),
        ("Hello! My name is Elara, a friendly assistant.", {"on_topic", "identity"}),
        ("I'm Aether, and I come from a distant planet.", {"identity"}),
        ("I'm your friendly helper!", {"on_topic", "identity"}),  # never says Aether
    ],
)
def test_identity_failures(reply: str, failed: set[str]) -> None:
    checks = score_reply(reply, WHO).checks
    assert {name for name, ok in checks.items() if not ok} == failed


def test_off_topic_long_and_claimed_acts_fail() -> None:
    assert not score_reply("Cats are lovely animals.", TEA).checks["on_topic"]
    assert score_reply("Boiling water makes teas.", TEA).checks["on_topic"]  # plural/-ing forms count
    assert not score_reply("tea " * 41, TEA).checks["length"]
    assert not score_reply("Tea is ready: I've ordered it for you.", TEA).checks["no_claimed_act"]
    assert invented_identity("I'm sorry, I'm not sure.") == ""


def test_fact_recalled() -> None:
    assert fact_recalled("Biscuit — you told me on 7 December", ["biscuit"])
    assert fact_recalled("It is on  12 March.", ["12 March", "March 12"])
    assert not fact_recalled("Your dog is lovely.", ["Biscuit"])


def test_the_data_files_have_the_promised_size_and_shape() -> None:
    facts = json.loads((DATA / "memory_qa.json").read_text(encoding="utf-8"))["facts"]
    assert len(facts) >= 40 and len({f["domain"] for f in facts}) >= 8
    for fact in facts:
        assert fact["tell"].startswith("remember that ") and fact["expect"], fact
        assert fact["ask"] != fact["tell"][len("remember that ") :], fact  # asked in other words
    prompts = json.loads((DATA / "everyday_prompts.json").read_text(encoding="utf-8"))["prompts"]
    assert len(prompts) == 30 and all(p["topic"] and p["max_words"] > 0 for p in prompts)
