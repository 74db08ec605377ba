"""The local tier: a GGUF model run by gpt4all (llama.cpp on the CPU).

Everything here blocks and runs in the router thread; only ``cancel`` is set
from elsewhere. gpt4all is imported lazily in :func:`open_gpt4all`.

The KV cache is kept across turns. Why not ``GPT4All.chat_session``: in
gpt4all 2.8.2 it keeps the model's *sampled* reply tokens in the context and
appends each new user turn after them, while our requests carry their own
fitted history (trimmed, with data blocks and notes) that must be read exactly
as it is built. So the provider drives the model's ``LLModel`` directly and
remembers which ChatML turns its context holds and where each ends
(:mod:`~aether_qt.engines.router.kv_prefix`): each generation rewinds the
context to the end of the last turn the new prompt shares with it (setting
``n_past``; llama.cpp then drops the cache after it and gpt4all trims its
token list, so the repeat penalty sees only the kept tokens) and evaluates
only the rest. :meth:`warm` evaluates the system turn before the first
request. A different persona, a trimmed history or a cancelled prompt simply
share a shorter prefix; a context shift forgets everything. The reply is the
same as from a cold context (tested with greedy decoding).

Cancel: the per-token callbacks (prompt *and* reply tokens) return ``False``
once ``cancel`` is set, which stops llama.cpp after the current token or
prompt batch. A file is validated by :func:`read_header` before gpt4all ever
sees it, because llama.cpp can crash the process on a truncated GGUF.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aether_qt.core.generation import GenerationRequest, GenerationResult, ModelInfo, ProviderError, TokenSink
from aether_qt.engines.router.gguf import ModelFileError, read_header
from aether_qt.engines.router.kv_prefix import KeptTurn, marker_ids, reusable, split_turns, turn_ends
from aether_qt.engines.router.prompt import CONTEXT_MARGIN, build_prompt, fit_context, system_block

ProgressSink = Callable[[float, str], None]
# Sampling settings the bindings default to for chat; temperature comes from the request.
TOP_K, TOP_P, REPEAT_PENALTY, REPEAT_LAST_N = 40, 0.9, 1.18, 64


@dataclass(frozen=True, slots=True)
class GenerationStats:
    """Timings of the last generation (for ``aether bench`` and the debug panel).

    Attributes:
        prompt_s: from the call to the first reply token (prompt evaluation + first step).
        total_s: the whole call.
        tokens: reply tokens streamed.
        prompt_tokens: prompt tokens evaluated in this call (after the reused prefix).
        system_reused: the warmed system turn was reused (no re-ingestion).
        reused_tokens: prompt tokens not evaluated again (system turn and shared history).
    """

    prompt_s: float
    total_s: float
    tokens: int
    prompt_tokens: int
    system_reused: bool
    reused_tokens: int = 0

    @property
    def tokens_per_s(self) -> float:
        """Reply tokens per second after the first token."""
        span = self.total_s - self.prompt_s
        return (self.tokens - 1) / span if self.tokens > 1 and span > 0 else 0.0


class _Stream:
    """The callbacks of one generation: streams tokens, watches ``cancel``, keeps errors."""

    def __init__(self, on_token: TokenSink, cancel: threading.Event, clock: Callable[[], float]) -> None:
        self.on_token = on_token
        self.cancel = cancel
        self.clock = clock
        self.parts: list[str] = []
        self.tokens = 0
        self.first_at: float | None = None
        self.error = ""
        self.cancelled = False
        self.sink_error: BaseException | None = None
        self.prompt_ids: list[int] = []  # every prompt token evaluated, in order

    def on_prompt_token(self, token_id: int) -> bool:
        self.prompt_ids.append(token_id)  # llama.cpp calls this after the token is in the context
        if self.cancel.is_set():
            self.cancelled = True
            return False
        return True

    def on_reply_token(self, token_id: int, text: str) -> bool:
        if token_id == -1:  # llama.cpp reports errors (e.g. prompt too long) as token -1
            self.error = text
            return False
        if self.cancel.is_set():
            self.cancelled = True
            return False
        if self.first_at is None:
            self.first_at = self.clock()
        self.tokens += 1
        if text:
            self.parts.append(text)
            try:
                self.on_token(text)
            except BaseException as exc:  # raised again after llama.cpp returns (ctypes would eat it)
                self.sink_error = exc
                return False
        return True


def open_gpt4all(path: Path, n_threads: int, n_ctx: int) -> Any:
    """Load the GGUF at ``path`` with gpt4all on the CPU (the default ``open_model``).

    gpt4all is imported here, not at module level: it is heavy.

    Raises:
        ProviderError: the gpt4all package is not installed.
        Exception: whatever gpt4all raises for a file it cannot load.
    """
    try:
        from gpt4all import GPT4All
    except ImportError as exc:
        raise ProviderError("the gpt4all package is not installed (pip install gpt4all==2.8.2)") from exc
    return GPT4All(
        path.name,
        model_path=str(path.parent),
        allow_download=False,
        device="cpu",
        n_threads=n_threads,
        n_ctx=n_ctx,
        verbose=False,
    )


class Gpt4AllProvider:
    """A :class:`~aether_qt.core.generation.Provider` running one local GGUF with gpt4all.

    One generation at a time (a lock); :meth:`load`, :meth:`warm` and
    :meth:`generate` are called from the router thread. ``open_model(path,
    n_threads, n_ctx)`` loads the checked file (default :func:`open_gpt4all`;
    tests pass a scripted fake model). ``reuse_history=False`` reuses only the
    system turn, as before the KV cache was kept (for ``aether bench``).

    Attributes:
        name: ``"gpt4all"``.
        model: the model file this provider runs.
        last_stats: timings of the last generation, or ``None``.
    """

    name = "gpt4all"

    def __init__(
        self,
        model: ModelInfo,
        *,
        n_threads: int = 2,
        n_ctx: int = 2048,
        n_batch: int = 128,
        clock: Callable[[], float] = time.perf_counter,
        open_model: Callable[[Path, int, int], Any] = open_gpt4all,
        reuse_history: bool = True,
    ) -> None:
        self.model = model
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        self._clock = clock
        self._open_model = open_model
        self._lock = threading.Lock()
        self._reuse_history = reuse_history
        self._gpt: Any = None  # gpt4all.GPT4All once loaded
        self._kept: list[KeptTurn] = []  # the turns the context holds, system turn first
        self._markers: frozenset[int] = frozenset()  # ids that may be <|im_start|> (kv_prefix)
        self.last_stats: GenerationStats | None = None

    @property
    def loaded(self) -> bool:
        """True once :meth:`load` succeeded (and until :meth:`close`)."""
        return self._gpt is not None

    def load(self, progress: ProgressSink | None = None) -> None:
        """Validate the file, then load it with gpt4all; report ``(fraction, message)`` steps.

        Raises:
            ProviderError: gpt4all is missing, or the file is missing, not a GGUF,
                truncated or otherwise unloadable (the message names the file).
        """
        report = progress or (lambda _f, _m: None)
        path = Path(self.model.path)
        with self._lock:
            if self._gpt is not None:
                report(1.0, f"{self.model.model_id} is loaded")
                return
            report(0.05, f"checking {path.name}")
            try:
                read_header(path)
            except ModelFileError as exc:
                raise ProviderError(f"cannot use model {self.model.model_id}: {exc}") from exc
            report(0.3, f"loading {path.name}")
            try:
                gpt = self._open_model(path, self.n_threads, self.n_ctx)
            except ProviderError:
                raise
            except Exception as exc:  # gpt4all raises bare Exception/RuntimeError/ValueError
                raise ProviderError(f"gpt4all could not load {path}: {exc}") from exc
            self._gpt = gpt
            self._kept = []
            report(1.0, f"{self.model.model_id} is loaded")

    def set_threads(self, n_threads: int) -> None:
        """Decode with ``n_threads`` CPU threads from the next token on (1 while the microphone is live).

        Deliberately not under the generation lock: it only sets a number the
        backend reads for each batch, so a running reply slows down at once.
        """
        gpt = self._gpt
        if gpt is not None and n_threads >= 1:
            gpt.model.set_thread_count(n_threads)

    def close(self) -> None:
        """Free the model (idempotent)."""
        with self._lock:
            if self._gpt is not None:
                self._gpt.close()
            self._gpt = None
            self._kept = []

    def warm(self, system_prompt: str) -> float:
        """Pre-ingest the system turn for ``system_prompt`` so the first reply starts fast.

        Returns:
            The seconds it took (0.0 when that system turn is already in the context).

        Raises:
            ProviderError: the model is not loaded.
        """
        with self._lock:
            text = system_block(system_prompt)
            if self._kept and self._kept[0].text == text:
                return 0.0
            started = self._clock()
            self._ingest_system(text, threading.Event())
            return self._clock() - started

    def _llm(self) -> Any:
        if self._gpt is None:
            raise ProviderError(f"model {self.model.model_id} is not loaded")
        return self._gpt.model

    def _ingest_system(self, text: str, cancel: threading.Event) -> bool:
        """Evaluate ``text`` from an empty context; False if cancelled (context then unknown)."""
        llm = self._llm()
        stream = _Stream(lambda _t: None, cancel, self._clock)
        llm._prompt_callback = stream.on_prompt_token
        self._kept = []
        llm.prompt_model(
            text,
            "%1%2",
            stream.on_reply_token,
            n_predict=0,
            n_batch=self.n_batch,
            reset_context=True,
            special=True,
        )
        if stream.error:
            raise ProviderError(f"the system prompt does not fit model {self.model.model_id}: {stream.error}")
        if stream.cancelled:
            return False
        self._kept = [KeptTurn(text, int(llm.context.n_past))]
        self._markers = marker_ids(stream.prompt_ids)
        return True

    def generate(
        self, request: GenerationRequest, on_token: TokenSink, cancel: threading.Event
    ) -> GenerationResult:
        """Stream the reply to ``request``; stops at the end token, ``max_tokens`` or ``cancel``.

        The request is first fitted to the context window (oldest history dropped
        first). Errors of the model (e.g. a prompt it refuses) come back as
        ``stopped == "error"``.

        Raises:
            ProviderError: the model is not loaded, or the system prompt alone does not fit.
        """
        with self._lock:
            llm = self._llm()
            started = self._clock()
            fitted = fit_context(request, self.n_ctx, request.max_tokens)
            prompt = build_prompt(fitted)
            turns = [prompt.system, *split_turns(prompt.turn)]
            keep = reusable(self._kept, turns) if self._reuse_history else reusable(self._kept[:1], turns)
            reused = keep > 0
            if not reused and not self._ingest_system(prompt.system, cancel):
                return GenerationResult(text="", tokens=0, stopped="cancelled")
            keep = max(keep, 1)
            del self._kept[keep:]
            base = self._kept[-1].end
            stream = _Stream(on_token, cancel, self._clock)
            llm._prompt_callback = stream.on_prompt_token
            llm.context.n_past = base  # rewind to the end of the last shared turn
            llm.prompt_model(
                "".join(turns[keep:]),
                "%1%2",
                stream.on_reply_token,
                n_predict=fitted.max_tokens,
                temp=fitted.temperature,
                top_k=TOP_K,
                top_p=TOP_P,
                repeat_penalty=REPEAT_PENALTY,
                repeat_last_n=REPEAT_LAST_N,
                n_batch=self.n_batch,
                reset_context=False,
                special=True,
            )
            self._remember(stream, turns[keep:], base)
            return self._finish(stream, fitted, started, reused, base)

    def _remember(self, stream: _Stream, evaluated: list[str], base: int) -> None:
        """Record the complete turns just evaluated, or forget everything after a context shift.

        llama.cpp shifts (erases part of) a full context by itself; positions are
        then meaningless, so a generation that may have reached the end of the
        window leaves nothing to reuse.
        """
        n_past = int(self._llm().context.n_past)
        prompt_end = base + len(stream.prompt_ids)
        if n_past < prompt_end or prompt_end + stream.tokens + 1 >= self.n_ctx - CONTEXT_MARGIN:
            self._kept = []
            return
        ends = turn_ends(evaluated, stream.prompt_ids, base, self._markers) if self._reuse_history else None
        if ends:
            self._kept.extend(ends)

    def _finish(
        self, stream: _Stream, fitted: GenerationRequest, started: float, reused: bool, base: int
    ) -> GenerationResult:
        ended = self._clock()
        prompt_tokens = len(stream.prompt_ids)
        self.last_stats = GenerationStats(
            prompt_s=(stream.first_at if stream.first_at is not None else ended) - started,
            total_s=ended - started,
            tokens=stream.tokens,
            prompt_tokens=prompt_tokens,
            system_reused=reused,
            reused_tokens=base if reused else 0,
        )
        if stream.sink_error is not None:
            raise stream.sink_error
        text = "".join(stream.parts)
        if stream.error:
            stopped = "error"
        elif stream.cancelled:
            stopped = "cancelled"
        elif stream.tokens >= fitted.max_tokens:
            stopped = "max_tokens"
        else:
            stopped = "done"
        return GenerationResult(
            text=text, tokens=stream.tokens, stopped=stopped, prompt_tokens=prompt_tokens, error=stream.error
        )
