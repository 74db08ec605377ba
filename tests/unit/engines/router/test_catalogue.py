"""The GGUF chat model catalogue: its packaged data, fit-to-machine marks and the recommendation."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from aether_qt.engines.router.catalogue import (
    GIB,
    CatalogueError,
    Machine,
    find,
    fit,
    load_catalogue,
    min_ram_bytes,
    parse_catalogue,
    probe_machine,
    recommend,
)

# gpt4all 2.8.2 loads these GGUF architectures (KNOWN_ARCHES in gpt4all-backend/llamamodel.cpp at
# tag python-v2.8.2), embedding-only ones left out.
GPT4ALL_282_CHAT_ARCHES = {
    "llama", "falcon", "gpt2", "gptneox", "mpt", "baichuan", "starcoder", "refact", "bloom", "stablelm",
    "qwen", "qwen2", "qwen2moe", "phi2", "phi3", "codeshell", "orion", "internlm2", "gemma", "gemma2",
    "starcoder2", "xverse", "command-r", "olmo", "openelm", "deepseek2", "chatglm", "jais",
}  # fmt: skip

BIG = Machine(ram_total=64 * GIB, ram_available=60 * GIB, cores=16)
SMALL = Machine(ram_total=8 * GIB, ram_available=3 * GIB, cores=2)


def test_the_packaged_catalogue_pins_a_published_hash_for_every_model() -> None:
    models = load_catalogue()
    assert len(models) >= 5
    for m in models:
        assert re.fullmatch(r"[0-9a-f]{64}", m.sha256), m.name
        assert re.fullmatch(r"[0-9a-f]{40}", m.hash_source.commit), m.name
        assert m.hash_source.repo and m.hash_source.path.endswith(".json"), m.name
        assert m.url.startswith("https://") and m.url.endswith("/" + m.file), m.name
        assert m.file.endswith(".gguf") and m.size_bytes > 100_000_000, m.name
        assert m.arch in GPT4ALL_282_CHAT_ARCHES, m.name
        assert m.licence and m.chat_template and m.name == m.name.lower()
    assert len({m.sha256 for m in models}) == len(models)
    assert find(models, models[0].name.upper()) == models[0] and find(models, "nope") is None


def test_fit_marks_memory_and_speed() -> None:
    [model, *_] = load_catalogue()
    big = fit(model, BIG)
    assert (big.memory, big.min_ram) == ("fits", min_ram_bytes(model))
    assert big.speed in {"fast", "usable"} and big.tokens_per_s > fit(model, SMALL).tokens_per_s
    huge = replace(model, size_bytes=6 * GIB)
    assert fit(huge, SMALL).memory == "too big"
    assert fit(replace(model, size_bytes=3 * GIB), SMALL).memory == "tight"  # 5 GiB: below total, above free
    assert fit(huge, SMALL).speed == "slow"


def test_recommend_prefers_the_biggest_quick_model_then_the_smallest_that_fits() -> None:
    models = load_catalogue()
    on_big = recommend([fit(m, BIG) for m in models])
    assert on_big is not None and on_big.speed != "slow" and on_big.memory == "fits"
    quick_open = [
        m for m in models if fit(m, BIG).speed != "slow" and "non-commercial" not in m.licence.lower()
    ]
    assert on_big.model.size_bytes == max(m.size_bytes for m in quick_open)
    tiny = Machine(ram_total=4 * GIB, ram_available=int(3.6 * GIB), cores=2)
    on_tiny = recommend([fit(m, tiny) for m in models])
    fitting_open = [
        m for m in models if fit(m, tiny).memory == "fits" and "non-commercial" not in m.licence.lower()
    ]
    if fitting_open:
        assert on_tiny is not None and on_tiny.model.size_bytes == min(m.size_bytes for m in fitting_open)
    nothing = Machine(ram_total=GIB, ram_available=GIB // 2, cores=1)
    assert recommend([fit(m, nothing) for m in models]) is None


def test_a_non_commercial_licence_is_recommended_only_when_nothing_else_fits() -> None:
    [model, *_] = load_catalogue()
    small_restricted = replace(model, name="r", size_bytes=GIB, licence="Some Non-Commercial License")
    bigger_open = replace(model, name="o", size_bytes=2 * GIB, licence="MIT")
    machine = Machine(ram_total=16 * GIB, ram_available=4 * GIB, cores=2)
    best = recommend([fit(small_restricted, machine), fit(bigger_open, machine)])
    assert best is not None and best.model.name == "o"
    only = recommend([fit(small_restricted, machine)])
    assert only is not None and only.model.name == "r"


def entry(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "m",
        "title": "M",
        "file": "m.gguf",
        "url": "https://example.org/m.gguf",
        "sha256": "ab" * 32,
        "size_bytes": 1,
        "params": "1B",
        "arch": "llama",
        "licence": "MIT",
        "chat_template": "chatml",
        "hash_source": {"repo": "o/r", "path": "m.json", "commit": "c" * 40},
    }
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ("not json", "malformed"),
        (json.dumps({"models": [entry(sha256="12")]}), "64 hexadecimal"),
        (json.dumps({"models": [entry(sha256="zz" * 32)]}), "64 hexadecimal"),
        (json.dumps({"models": [{"name": "m"}]}), "malformed"),
        (json.dumps({"models": [entry(), entry()]}), "twice"),
    ],
)
def test_a_malformed_catalogue_is_a_clear_error(doc: str, problem: str) -> None:
    with pytest.raises(CatalogueError, match=problem):
        parse_catalogue(doc)


def test_a_file_name_cannot_climb_out_of_the_models_folder() -> None:
    [m] = parse_catalogue(json.dumps({"models": [entry(file="../../etc/evil.gguf")]}))
    assert m.file == "evil.gguf"


def test_probe_machine_reads_meminfo_and_copes_without_it(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 999999999 kB\nMemAvailable:    2048 kB\n", encoding="ascii")
    machine = probe_machine(meminfo)
    assert machine.ram_available == 2048 * 1024 and machine.ram_total > machine.ram_available
    assert machine.cores >= 1
    without = probe_machine(tmp_path / "missing")
    assert without.ram_available == without.ram_total > 0
