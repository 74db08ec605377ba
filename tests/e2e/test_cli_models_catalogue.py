"""``aether models catalogue`` and ``aether models fetch NAME`` for a catalogue chat model.

The model hosts cannot be reached here, so a server on 127.0.0.1 plays the
mirror (``--url`` with ``--sha256``, as for speech models). It serves a small,
structurally real GGUF whose hash is pinned below, and honours Range requests
so a resumed download can be seen doing so.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import Cli
from mirror_support import Mirror, serving

from aether_qt.core.paths import resolve_paths

NAME = "phi-3.1-mini-4k-q4_k_m"
FILE = "Phi-3.1-mini-4k-instruct-Q4_K_M.gguf"
# The SHA-256 of tiny_gguf(), pinned: the test fails if the bytes (or hashing) ever change.
TINY_SHA256 = "7b5272beb548b66020ae5f906bc43145d730df8343d40ab3d77b60784ebb190c"


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def tiny_gguf() -> bytes:
    """A 16 KiB GGUF v3: two strings, one 64x64 F32 tensor, aligned to 32 bytes."""
    kv = [("general.architecture", "llama"), ("general.name", "aether catalogue test")]
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, 1, len(kv)))
    for key, value in kv:
        out += _string(key) + struct.pack("<I", 8) + _string(value)
    out += _string("token_embd.weight") + struct.pack("<I", 2) + struct.pack("<QQ", 64, 64)
    out += struct.pack("<IQ", 0, 0)
    out += b"\0" * (-len(out) % 32)
    out += bytes(i % 251 for i in range(64 * 64 * 4))
    return bytes(out)


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    with serving() as running:
        yield running


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def test_catalogue_lists_pinned_models_with_fit_marks_and_one_recommendation(cli: Cli) -> None:
    result = cli.json("models", "catalogue")
    models = {m["name"]: m for m in result["models"]}
    assert NAME in models and len(models[NAME]["sha256"]) == 64
    assert models[NAME]["hash_source"]["repo"] and len(models[NAME]["hash_source"]["commit"]) == 40
    assert {m["memory"] for m in models.values()} <= {"fits", "tight", "too big"}
    assert result["machine"]["cores"] >= 1 and result["machine"]["ram_total"] > 0
    assert result["recommended"] is None or result["recommended"] in models
    table = cli.run("models", "catalogue", check=True).stdout
    assert NAME in table and "recommended:" in table


def test_fetch_resumes_verifies_and_registers_the_model(cli: Cli, mirror: Mirror) -> None:
    body = tiny_gguf()
    assert hashlib.sha256(body).hexdigest() == TINY_SHA256
    mirror.files["tiny.gguf"] = body
    gguf_dir = resolve_paths(cli.home).models_dir / "gguf"
    gguf_dir.mkdir(parents=True)
    (gguf_dir / (FILE + ".part")).write_bytes(body[:5000])  # an earlier, interrupted download
    url = f"{mirror.base}/tiny.gguf"
    result = cli.json("models", "fetch", NAME, "--url", url, "--sha256", TINY_SHA256)
    assert mirror.ranges == ["bytes=5000-"]  # resumed, not started again
    assert Path(result["path"]) == gguf_dir / FILE and Path(result["path"]).read_bytes() == body
    assert result["sha256"] == TINY_SHA256 and result["audit_id"]
    listed = {m["id"]: m for m in cli.json("models", "list")["models"]}
    registered = listed[result["id"]]
    assert registered["source"] == "catalogue" and registered["sha256"] == TINY_SHA256
    assert any(NAME in note for note in registered["notes"])
    explained = cli.run("policy", "explain", result["audit_id"], check=True).stdout
    assert "model.download" in explained and "allow" in explained.lower()
    cli.run("models", "use", result["id"], check=True)
    again = cli.json("models", "fetch", NAME, "--url", url, "--sha256", TINY_SHA256)
    assert again["id"] == result["id"] and len(mirror.ranges) == 1  # verified in place: no download


def test_a_wrong_hash_is_refused_and_nothing_is_kept_or_registered(cli: Cli, mirror: Mirror) -> None:
    mirror.files["tiny.gguf"] = tiny_gguf()
    tampered = bytearray(tiny_gguf())
    tampered[-1] ^= 1
    mirror.files["tampered.gguf"] = bytes(tampered)
    proc = cli.run("models", "fetch", NAME, "--url", f"{mirror.base}/tampered.gguf", "--sha256", TINY_SHA256)
    assert proc.returncode == 1 and "sha256" in proc.stderr
    gguf_dir = resolve_paths(cli.home).models_dir / "gguf"
    assert not list(gguf_dir.iterdir())  # neither the file nor a .part
    assert all(m["source"] != "catalogue" for m in cli.json("models", "list")["models"])


def test_a_verified_download_that_is_not_a_gguf_is_not_registered(cli: Cli, mirror: Mirror) -> None:
    junk = b"<html>not a model</html>" * 10
    mirror.files["junk"] = junk
    sha = hashlib.sha256(junk).hexdigest()
    proc = cli.run("models", "fetch", NAME, "--url", f"{mirror.base}/junk", "--sha256", sha)
    assert proc.returncode == 2 and "not added" in proc.stderr
    assert all(m["source"] != "catalogue" for m in cli.json("models", "list")["models"])


def test_a_mirror_needs_a_pinned_hash_and_unknown_names_list_both_catalogues(cli: Cli) -> None:
    proc = cli.run("models", "fetch", NAME, "--url", "http://127.0.0.1:9/x.gguf")
    assert proc.returncode == 2 and "--sha256" in proc.stderr
    unknown = cli.run("models", "fetch", "gpt-17-ultra")
    assert unknown.returncode == 2 and "vosk-en-small" in unknown.stderr and NAME in unknown.stderr
