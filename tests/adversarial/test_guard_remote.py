"""The runtime guard and the remote tier: the effector's connection passes, nothing else does.

In a fresh interpreter with the guard installed, a chat request goes to
``http://0.0.0.0:PORT/v1``: Linux delivers it to the test server on 127.0.0.1,
but for the guard ``0.0.0.0`` is *not* loopback, so this is the rule for a real
remote host. Opened inside :meth:`Effectors.open_chat_stream` it must pass; the
stream is then read outside effector rights (the token callback sees none) and
must keep working; the same connection opened outside an effector must raise.
"""

from __future__ import annotations

from pathlib import Path

from guard_support import run_guarded, violation

TESTS = Path(__file__).resolve().parents[1]


def test_the_chat_connection_passes_inside_the_effector_and_is_read_outside_it(tmp_path: Path) -> None:
    out = run_guarded(
        """
        import functools
        from aether_qt.engines.router.remote_provider import RemoteProvider
        from aether_qt.core.generation import GenerationRequest
        from aether_qt.policy.effects import Effectors

        class AnyPermit:  # the gate is not under test here (see tests/integration/test_remote_provider.py)
            def redeem(self, permit, capability, resource, *, target=None, persona=None):
                results.setdefault("redeemed", []).append([capability, resource])

        fx = Effectors(verifier=AnyPermit(), approved_roots=[], guard=guard)
        base = server.base_url.replace("127.0.0.1", "0.0.0.0")
        rights = []
        def on_token(token):
            rights.append(guard.effector_running)

        def chat():
            provider = RemoteProvider("lan", base, "m", api_key=lambda: "sk-test")
            opener = functools.partial(fx.open_chat_stream, object(), base)
            request = GenerationRequest("t", "p", "hi")
            results["text"] = provider.generate_with(opener, request, on_token, threading.Event()).text

        attempt("effector", chat)
        attempt("effector_again", chat)  # the cached TLS context and a second connection
        results["rights_while_reading"] = sorted(set(rights))
        def raw():
            with socket.socket() as client:
                client.connect(("0.0.0.0", int(base.rsplit(":", 1)[1].split("/")[0])))
        attempt("outside", raw)
        server.stop()
        """,
        tmp_path,
        before=f"""
        sys.path.insert(0, {str(TESTS)!r})
        from openai_server import OpenAIServer, fixed_words
        server = OpenAIServer(fixed_words("hello from far away")).start()
        """,
    )
    assert out["effector"] == "ok" and out["effector_again"] == "ok", out
    assert out["text"] == "hello from far away"
    assert out["rights_while_reading"] == [False]
    assert violation(out["outside"]) and "0.0.0.0" in str(out["outside"])
    assert out["violations"] == 1
    assert [resource for _, resource in out["redeemed"]] == [out["redeemed"][0][1]] * 2  # type: ignore[index]
    assert out["redeemed"][0][0] == "router.remote"  # type: ignore[index]
