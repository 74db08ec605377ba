"""The remote tier as a new user meets it: ``aether providers add`` then ``aether say``.

A real OpenAI-compatible server on 127.0.0.1 (tests/openai_server.py) streams
the words of the real bundled model; the key goes to the real Secret Service
keyring (under ``make test``), the decision to the real audit log and the
spend to the real ledger. A canary key must appear nowhere but in the
``Authorization`` header the server received.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import REAL_KEYRING, Cli
from openai_server import Mode, OpenAIServer, bundled_model_source, fixed_words

CANARY = "sk-CANARY-e2e-7f3a9c1d5b"

pytestmark = pytest.mark.skipif(
    not REAL_KEYRING, reason="provider keys live only in the OS keyring: run under scripts/with-desktop.sh"
)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(home=tmp_path / "home", key_file=False)


def add_provider(cli: Cli, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*_argv(cli), "providers", "add", "lan", "--url", url, "--model", "m", "--key-stdin", *extra],
        input=CANARY + "\n",
        capture_output=True,
        text=True,
        env=cli.env(),
        timeout=120,
        check=False,
    )
    return proc


def _argv(cli: Cli) -> list[str]:
    import sys

    return [sys.executable, "-m", "aether_qt.cli", "--home", str(cli.home)]


def say(cli: Cli, text: str) -> dict[str, object]:
    proc = cli.run("say", text, "--json", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert CANARY not in proc.stdout + proc.stderr
    report: dict[str, object] = json.loads(proc.stdout)
    return report


def audit_rows(cli: Cli) -> list[tuple[str, str, str]]:
    con = sqlite3.connect(cli.home / "data" / "audit.db")
    try:
        return list(con.execute("SELECT capability, resource, decision FROM audit_log ORDER BY seq"))
    finally:
        con.close()


def no_canary_on_disk(home: Path) -> None:
    for path in home.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), f"the key is in {path}"


@pytest.fixture(scope="module")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAIServer]:
    models = tmp_path_factory.mktemp("server-models")
    with OpenAIServer(bundled_model_source(models, max_tokens=16)) as server:
        yield server


def test_add_then_say_streams_from_the_provider_with_route_ledger_and_audit_but_never_the_key(
    cli: Cli, model_server: OpenAIServer
) -> None:
    model_server.mode = Mode.OK
    added = add_provider(cli, model_server.base_url)
    assert added.returncode == 0, added.stderr
    assert CANARY not in added.stdout + added.stderr and "key in the keyring" in added.stdout
    before = len(model_server.requests)
    report = say(cli, "hi, how are you today?")
    route = report["route"]
    assert isinstance(route, dict)
    assert (route["tier"], route["provider"], route["reason"]) == ("remote", "lan", "remote allowed: lan")
    assert report["outcome"] == "Answered" and report["reply"]
    sent = model_server.requests[before:]
    assert [r.path for r in sent] == ["/v1/chat/completions"]
    assert sent[0].headers.get("authorization") == f"Bearer {CANARY}"
    costs = cli.json("costs")
    assert len(costs["entries"]) == 1 and costs["entries"][0]["provider"] == "lan"
    rows = audit_rows(cli)
    assert ("router.remote", model_server.base_url, "allow") in rows
    assert all(CANARY not in " ".join(map(str, row)) for row in rows)
    listed = cli.json("providers", "list")
    assert listed["providers"][0]["key"] == "keyring" and CANARY not in json.dumps(listed)
    no_canary_on_disk(cli.home)


def test_sensitive_words_stay_local_and_a_sensitive_memory_never_reaches_the_server(
    cli: Cli, model_server: OpenAIServer
) -> None:
    model_server.mode = Mode.OK
    assert add_provider(cli, model_server.base_url).returncode == 0
    before = len(model_server.requests)
    told = say(cli, "remember that my bank PIN is 4921")
    assert told["outcome"] == "Answered"
    asked = say(cli, "I am worried someone saw my password today")
    route = asked["route"]
    assert isinstance(route, dict) and route["tier"] == "local"
    assert "never leaves this computer" in str(route["reason"])
    con = sqlite3.connect(cli.home / "data" / "audit.db")
    try:
        routes = list(con.execute("SELECT resource, reason FROM audit_log WHERE decision = 'route'"))
    finally:
        con.close()
    assert (model_server.base_url, route["reason"]) in routes  # the audit says where and why
    assert all("4921" not in reason for _, reason in routes)
    assert cli.run("providers", "privacy", "remote").returncode == 0
    widened = say(cli, "which bank do I use?")
    assert any("4921" in str(hit["text"]) for hit in widened["recalled"])  # type: ignore[attr-defined]
    route = widened["route"]
    assert isinstance(route, dict) and route["tier"] == "remote"
    assert "a sensitive memory stayed on this computer" in str(route["reason"])
    for request in model_server.requests[before:]:
        assert "4921" not in json.dumps(request.body)
    assert len(model_server.requests) > before
    shown = cli.json("memory", "list")
    assert any(m["privacy"] == "sensitive" and "4921" in m["text"] for m in shown)


def test_a_failing_server_is_said_and_answered_locally(cli: Cli, tmp_path: Path) -> None:
    with OpenAIServer(fixed_words("never shown")) as server:
        assert add_provider(cli, server.base_url).returncode == 0
        tested = cli.run("providers", "test", "lan")
        assert tested.returncode == 0 and tested.stdout.startswith("lan: OK")
        assert "never shown" in tested.stdout
        server.mode = Mode.SERVER_ERROR
        failed = cli.run("providers", "test", "lan")
        assert failed.returncode == 1 and "FAILED (server_error)" in failed.stdout
        report = say(cli, "tell me about the sea")
        route = report["route"]
        assert isinstance(route, dict) and route["tier"] == "local" and route["status"] == "server_error"
        assert "answering locally" in str(route["reason"]) and report["reply"]
        server.mode = Mode.UNAUTHORIZED
        report = say(cli, "tell me about the moon")
        route = report["route"]
        assert isinstance(route, dict) and route["status"] == "auth"
        assert "key" in str(route["reason"]).lower()
    costs = cli.json("costs")
    assert [e["charged_usd"] for e in costs["entries"]] == [0.0, 0.0]  # turns reserve, then give back
    assert costs["open_reservations"] == 0


def test_a_url_with_a_password_or_an_unpriced_hosted_model_is_refused(cli: Cli) -> None:
    withpass = add_provider(cli, "http://user:pw@127.0.0.1:9/v1")
    assert withpass.returncode == 2 and "password" in withpass.stderr
    hosted = add_provider(cli, "https://api.example.com/v1")
    assert hosted.returncode == 2 and "--price-in" in hosted.stderr
    assert CANARY not in withpass.stderr + hosted.stderr
    assert cli.json("providers", "list")["providers"] == []
