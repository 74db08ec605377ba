"""The KV cache kept across turns: which turns a prompt shares, and where they end.

The pure functions of kv_prefix, then Gpt4AllProvider's bookkeeping with a fake
model that tokenizes like a ChatML model (``<|im_start|>`` is one special
token); the real model proves the replies are unchanged in
tests/integration/test_gpt4all_kv_cache.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from gguf_builder import write

from aether_qt.core.generation import FencedData, GenerationRequest, Message, ModelInfo
from aether_qt.engines.router.gpt4all_provider import Gpt4AllProvider
from aether_qt.engines.router.kv_prefix import KeptTurn, marker_ids, reusable, split_turns, turn_ends
from aether_qt.engines.router.prompt import IM_START, build_prompt

MARK, BOS, TEXT = 1, 7, 2


def tokens_of(text: str, *, special: bool = True) -> list[int]:
    """One MARK per <|im_start|> (or text tokens when it is not special), one TEXT per 4 chars."""
    ids: list[int] = []
    for i, piece in enumerate(text.split(IM_START)):
        if i:
            ids += [MARK] if special else [3, 4]  # "<|" "im_start|>" spelled as text
        ids += [TEXT] * (len(piece) // 4 + (1 if piece else 0))
        if not special and "<|im_end|>" in piece:
            ids += [3]  # "<|" again: the text spelling repeats the first piece
    return ids


def test_split_turns_and_reusable() -> None:
    text = f"{IM_START}system\ns{IM_START}user\nu{IM_START}assistant\n"
    turns = split_turns(text)
    assert turns == [f"{IM_START}system\ns", f"{IM_START}user\nu", f"{IM_START}assistant\n"]
    assert "".join(turns) == text
    assert split_turns("lead" + text)[0] == "lead"
    kept = [KeptTurn(t, i * 10) for i, t in enumerate(turns, 1)]
    assert reusable(kept, turns) == 2  # never the last turn: its logits are needed
    assert reusable(kept[:1], turns) == 1
    assert reusable([KeptTurn("other", 5), *kept[1:]], turns) == 0


def test_turn_ends_trusts_only_one_marker_per_turn() -> None:
    turns = [f"{IM_START}user\nhello there", f"{IM_START}assistant\n"]
    ids = tokens_of("".join(turns))
    markers = marker_ids(tokens_of(f"{IM_START}system\nbe kind<|im_end|>\n"))
    assert MARK in markers
    ends = turn_ends(turns, ids, 100, markers)
    assert ends == [KeptTurn(turns[0], 100 + ids.index(MARK, 1))]
    assert turn_ends(turns, ids[: ids.index(MARK, 1)], 100, markers) is None  # cut before the last turn
    assert turn_ends(turns, [MARK, *ids], 100, markers) is None  # one marker too many
    assert turn_ends(turns, ids, 100, frozenset({BOS})) is None  # not this model's marker


def test_a_model_spelling_im_start_as_text_gets_no_marker() -> None:
    system_ids = tokens_of(f"{IM_START}system\nbe kind<|im_end|>\n", special=False)
    tail = [f"{IM_START}user\nhi<|im_end|>\n", f"{IM_START}assistant\n"]
    markers = marker_ids(system_ids)
    assert turn_ends(tail, tokens_of("".join(tail), special=False), 50, markers) is None


class ChatFakeLLM:
    """Counts n_past like llama.cpp and tokenizes ChatML like :func:`tokens_of`."""

    def __init__(self, reply: list[str]) -> None:
        self.reply = reply
        self.context = SimpleNamespace(n_past=0)
        self.calls: list[dict[str, Any]] = []
        self.on_prompt: Callable[[int], None] = lambda _n: None  # sees the count of prompt tokens so far

    def _prompt_callback(self, _token_id: int) -> bool:
        return True

    def prompt_model(
        self, prompt: str, _template: str, callback: Callable[[int, str], bool], **kw: Any
    ) -> None:
        self.calls.append({"prompt": prompt, "n_past": self.context.n_past, **kw})
        if kw.get("reset_context"):
            self.context.n_past = 0
        ids = tokens_of(prompt)
        if self.context.n_past == 0:
            ids = [BOS, *ids]
        for n, token in enumerate(ids, 1):
            self.context.n_past += 1
            self.on_prompt(n)
            if not self._prompt_callback(token):
                return
        for text in self.reply[: kw["n_predict"]]:
            self.context.n_past += 1
            if not callback(5, text):
                return


def chat_provider(tmp_path: Path, **kw: Any) -> tuple[Gpt4AllProvider, ChatFakeLLM]:
    path = write(tmp_path / "m.gguf")
    info = ModelInfo(model_id="m", path=str(path), sha256="", size_bytes=0, source="user")
    llm = ChatFakeLLM(["Fine", "."])
    p = Gpt4AllProvider(
        info,
        clock=iter(float(i) for i in range(10_000)).__next__,
        open_model=lambda _path, _threads, _ctx: SimpleNamespace(model=llm, close=lambda: None),
        **kw,
    )
    p.load()
    p.warm("persona")
    return p, llm


def ask(text: str, history: tuple[Message, ...] = (), **kw: Any) -> GenerationRequest:
    return GenerationRequest(turn_id="t", system_prompt="persona", user_text=text, history=history, **kw)


def converse(p: Gpt4AllProvider, texts: list[str]) -> tuple[Message, ...]:
    history: tuple[Message, ...] = ()
    for text in texts:
        reply = p.generate(ask(text, history), lambda _t: None, threading.Event()).text
        history += (Message("user", text), Message("assistant", reply))
    return history


def boundary_after(p: Gpt4AllProvider, request: GenerationRequest, turns: int) -> int:
    """n_past at the end of the first ``turns`` turns of ``request``'s prompt (counted from scratch)."""
    prompt = build_prompt(request)
    shared = "".join(([prompt.system, *split_turns(prompt.turn)])[:turns])
    return 1 + len(tokens_of(shared))  # BOS, then the turns


def test_a_follow_up_evaluates_only_what_follows_the_shared_turns(tmp_path: Path) -> None:
    p, llm = chat_provider(tmp_path)
    history = converse(p, ["hello", "how are you?"])
    follow_up = ask("and tomorrow?", history)
    p.generate(follow_up, lambda _t: None, threading.Event())
    # shared: system, user "hello", assistant reply, user "how are you?"; the last reply is re-read
    assert llm.calls[-1]["n_past"] == boundary_after(p, follow_up, 4)
    assert llm.calls[-1]["prompt"].startswith(f"{IM_START}assistant\nFine.<|im_end|>")
    assert not llm.calls[-1]["reset_context"]
    assert p.last_stats is not None and p.last_stats.reused_tokens == llm.calls[-1]["n_past"]


def test_a_persona_swap_re_evaluates_everything(tmp_path: Path) -> None:
    p, llm = chat_provider(tmp_path)
    history = converse(p, ["hello", "how are you?"])
    swapped = GenerationRequest(turn_id="t", system_prompt="a pirate", user_text="and now?", history=history)
    p.generate(swapped, lambda _t: None, threading.Event())
    assert llm.calls[-2]["reset_context"] and "a pirate" in llm.calls[-2]["prompt"]
    assert llm.calls[-1]["n_past"] == boundary_after(p, swapped, 1)
    assert p.last_stats is not None and not p.last_stats.system_reused and p.last_stats.reused_tokens == 0


def test_trimmed_history_and_new_data_share_only_what_is_still_equal(tmp_path: Path) -> None:
    p, llm = chat_provider(tmp_path)
    history = converse(p, ["one", "two", "three"])
    trimmed = ask("four", history[2:])
    p.generate(trimmed, lambda _t: None, threading.Event())
    assert llm.calls[-1]["n_past"] == boundary_after(p, trimmed, 1)  # the oldest turn went: only the system
    shown = ask("five", (*trimmed.history, Message("user", "four"), Message("assistant", "Fine.")))
    recalled = (FencedData("memory:fact", "likes tea"),)
    p.generate(replace(shown, data=recalled), lambda _t: None, threading.Event())
    # everything but the last reply (re-read as text), and the data block did not get in the way
    assert llm.calls[-1]["n_past"] == boundary_after(p, shown, len(shown.history))
    after = ask("six", (*shown.history, Message("user", "five"), Message("assistant", "Fine.")))
    p.generate(after, lambda _t: None, threading.Event())
    # the data turn preceded "five" last time, so the shared prefix ends with the history before it
    assert llm.calls[-1]["n_past"] == boundary_after(p, after, 1 + len(shown.history))


def test_a_prompt_cancelled_half_way_keeps_only_the_known_prefix(tmp_path: Path) -> None:
    p, llm = chat_provider(tmp_path)
    history = converse(p, ["hello"])
    cancel = threading.Event()
    llm.on_prompt = lambda n: cancel.set() if n >= 12 else None  # within the re-read reply
    result = p.generate(ask("tell me a long story", history), lambda _t: None, cancel)
    assert result.stopped == "cancelled" and 12 <= llm.context.n_past - llm.calls[-1]["n_past"] < 20
    llm.on_prompt = lambda _n: None
    again = ask("tell me a long story", history)
    p.generate(again, lambda _t: None, threading.Event())
    assert llm.calls[-1]["n_past"] == boundary_after(p, again, 2)  # system + "hello": known before


def test_reuse_history_off_rewinds_to_the_system_turn(tmp_path: Path) -> None:
    p, llm = chat_provider(tmp_path, reuse_history=False)
    history = converse(p, ["hello", "how are you?"])
    follow_up = ask("and tomorrow?", history)
    p.generate(follow_up, lambda _t: None, threading.Event())
    assert llm.calls[-1]["n_past"] == boundary_after(p, follow_up, 1)
