"""The model page's remote endpoint: its connection test, and saving it at Finish.

"Test connection" sends the endpoint one tiny chat request exactly as a turn
would: ``router.remote`` on its base URL asked as the user (pressing the button
is the approval of that one request, :mod:`.gate_acts`), the stream opened by
:meth:`Effectors.open_chat_stream`, the reply read by
:class:`~aether_qt.engines.router.remote_provider.RemoteProvider`. The key
comes from the page's memory; it is never stored, logged or put in a message.

:func:`save_remote_provider` is what ``aether providers add`` does, for
Finish: the key into the OS keyring (only there), the user's standing grant of
``router.remote`` on the URL (their consent, audited), the config in the
settings, the provider active. The privacy posture is the wizard's own page.
"""

from __future__ import annotations

import functools
import threading

from aether_qt.core.generation import GenerationRequest, ProviderError, RemoteError, RemoteStatus
from aether_qt.core.media_offers import RemoteDraft
from aether_qt.engines.router.providers import (
    ProviderConfig,
    ProviderConfigError,
    make_config,
    resolve_price,
    save_provider,
    set_active,
)
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask
from aether_qt.policy.effects import Effectors
from aether_qt.policy.keys import KeysUnavailableError
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.onboarding_media.gate_acts import USER, GateLike, allow_once, refusal_words

TEST_MAX_TOKENS = 8
# the page's words for what the user can act on; the rest keep the provider's own sentence
_FAILURES = {
    RemoteStatus.AUTH: "the server refused the API key. Check the key.",
    RemoteStatus.UNREACHABLE: "cannot reach the server. Check the URL, and that the server is running.",
    RemoteStatus.TIMEOUT: "the server did not answer in time. Try again, or check the URL.",
    RemoteStatus.DROPPED: "the connection broke in the middle of the answer. Try again.",
}


def _failure_words(exc: RemoteError) -> str:
    return _FAILURES.get(exc.status) or str(exc)


def draft_config(draft: RemoteDraft) -> ProviderConfig:
    """The checked config of ``draft``.

    Raises:
        ProviderConfigError: a field is unusable (the message says which).
    """
    price_in, price_out = resolve_price(draft.url, draft.model, draft.price_in, draft.price_out)
    return make_config(draft.name, draft.url, draft.model, price_in, price_out, keyed=bool(draft.key))


def test_connection(gate: GateLike, effectors: Effectors, draft: RemoteDraft) -> tuple[bool, str]:
    """Send ``draft``'s endpoint one short request; ``(ok, sentence)`` (runs on a worker thread)."""
    from aether_qt.engines.router.remote_provider import RemoteProvider

    try:
        config = draft_config(draft)
    except ProviderConfigError as exc:
        return False, f"Check the fields: {exc}."
    decision = allow_once(gate, "router.remote", config.base_url, route=config.name)
    if not isinstance(decision, Allow):
        return False, refusal_words(decision, f"a request to {config.name}")
    key = draft.key
    provider = RemoteProvider(config.name, config.base_url, config.model, api_key=lambda: key or None)
    opener = functools.partial(effectors.open_chat_stream, decision.permit, config.base_url)
    request = GenerationRequest(
        "wizard-test", "Reply with one short word.", "Say OK.", max_tokens=TEST_MAX_TOKENS, temperature=0.0
    )
    try:
        result = provider.generate_with(opener, request, lambda _text: None, threading.Event())
    except RemoteError as exc:
        return False, f"FAILED: {_failure_words(exc)}"
    except ProviderError as exc:  # its words are for the user (never the key or a body)
        return False, f"FAILED: {exc}"
    words = result.text.strip()[:60]
    return True, f"OK: {config.model} answered “{words}”." if words else f"OK: {config.model} answered."


def save_remote_provider(runtime: PolicyRuntime, draft: RemoteDraft, *, gate: GateLike | None = None) -> str:
    """Save ``draft`` as the active provider at Finish; "" when done, else why not in plain words.

    The key goes to the OS keyring only; without a usable keyring nothing is saved.
    """
    try:
        config = draft_config(draft)
    except ProviderConfigError as exc:
        return f"The remote model was not saved: {exc}."
    if draft.key:
        try:
            runtime.keystore.set_provider_key(config.name, draft.key)
        except KeysUnavailableError:
            return (
                "The remote model was not saved: its key can only be kept in a keyring, and none works here."
            )
    judge = gate if gate is not None else runtime.gate
    request = ActionRequest("router.remote", config.base_url, actor_persona=USER, intended_route=config.name)
    decision = judge.evaluate(request)
    if isinstance(decision, Ask):
        decision = judge.answer(decision.ticket.ticket_id, ApprovalChoice.ALWAYS_SCOPE, config.base_url)
    if not isinstance(decision, Allow):
        return f"The remote model was not saved: {refusal_words(decision, 'sending turns there')}"
    save_provider(runtime.settings, config)
    set_active(runtime.settings, config.name)
    return ""
