"""The catalogue of GGUF chat models the user can fetch, and how well each fits this machine.

The entries live in ``aether_qt/_data/gguf_catalogue.json``: name, file, URL,
size, licence, architecture, native chat template and a pinned SHA-256 with
the exact place it was copied from (repository, path, commit). A hash is never
computed or guessed here: a download is only used when its content has the
published hash (:meth:`Effectors.download` checks it before the file is
renamed into place), so a pinned hash is the whole trust in a fetched model.

Fit-to-machine marks are rough on purpose, and say so:

* memory: a GGUF is memory-mapped and wholly touched while generating, plus
  the KV cache and buffers; :func:`min_ram_bytes` is ``1.5 x file + 0.5 GiB``,
  close to the RAM figures gpt4all publishes for its own Q4 models (4 GB for a
  2.2 GB Phi-3, 8 GB for 4-5 GB 7-8B models). ``fits`` when that is below the
  memory available now, ``tight`` when only below the total, else ``too big``;
* speed: CPU decoding reads every weight for every token, so tokens per second
  are about the usable bandwidth over the file size; :func:`tokens_per_s`
  takes 2.5 GB/s per core, at most 15 GB/s, which is an estimate, not a measure.

:func:`recommend` picks one model: the biggest that fits and is not slow, else
the smallest that fits; ``None`` means staying with the bundled model. Models
under a non-commercial licence are only recommended when nothing else fits: a
companion may well be used at work, and the user should choose that licence
knowingly from the list rather than be steered to it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

CATALOGUE_FILE = "gguf_catalogue.json"
GIB = 1 << 30
_BYTES_PER_S_PER_CORE, _BYTES_PER_S_MAX = 2.5e9, 15e9
FAST, USABLE = 8.0, 3.0  # tokens per second


class CatalogueError(Exception):
    """The catalogue file is missing or malformed (a packaging bug, not the user's doing)."""


@dataclass(frozen=True, slots=True)
class HashSource:
    """Where a pinned hash was copied from."""

    repo: str
    path: str
    commit: str

    def __str__(self) -> str:
        return f"{self.repo}/{self.path}@{self.commit[:12]}"


@dataclass(frozen=True, slots=True)
class CatalogueModel:
    """One downloadable GGUF chat model.

    Attributes:
        name: the short name users type (``phi-3.1-mini-4k-q4_k_m``).
        title: a human name.
        file: the file name it is saved under.
        url: where it is downloaded from.
        sha256: the published hash the download must have.
        size_bytes: the published size.
        params: parameter count as published (``3.8B``).
        arch: GGUF architecture (one gpt4all 2.8.2 knows).
        licence: the model's licence.
        chat_template: the model's native chat format (Aether prompts in ChatML).
        hash_source: where ``sha256`` was copied from.
    """

    name: str
    title: str
    file: str
    url: str
    sha256: str
    size_bytes: int
    params: str
    arch: str
    licence: str
    chat_template: str
    hash_source: HashSource


@dataclass(frozen=True, slots=True)
class Machine:
    """What decides whether a model fits: memory (bytes) and CPU cores."""

    ram_total: int
    ram_available: int
    cores: int


@dataclass(frozen=True, slots=True)
class Fit:
    """A model measured against a machine."""

    model: CatalogueModel
    min_ram: int
    memory: str  # "fits", "tight", "too big"
    tokens_per_s: float
    speed: str  # "fast", "usable", "slow"


def _model(entry: dict[str, Any]) -> CatalogueModel:
    source = entry["hash_source"]
    sha256 = str(entry["sha256"]).lower()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise CatalogueError(f"{entry.get('name')}: sha256 is not 64 hexadecimal digits")
    return CatalogueModel(
        name=str(entry["name"]),
        title=str(entry["title"]),
        file=Path(str(entry["file"])).name,
        url=str(entry["url"]),
        sha256=sha256,
        size_bytes=int(entry["size_bytes"]),
        params=str(entry["params"]),
        arch=str(entry["arch"]),
        licence=str(entry["licence"]),
        chat_template=str(entry["chat_template"]),
        hash_source=HashSource(str(source["repo"]), str(source["path"]), str(source["commit"])),
    )


def parse_catalogue(text: str) -> list[CatalogueModel]:
    """The models in a catalogue document.

    Raises:
        CatalogueError: not JSON, a field missing, a bad hash or a name twice.
    """
    try:
        models = [_model(e) for e in json.loads(text)["models"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise CatalogueError(f"the model catalogue is malformed: {exc!r}") from exc
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise CatalogueError("the model catalogue names a model twice")
    return models


def load_catalogue() -> list[CatalogueModel]:
    """The packaged catalogue (see :func:`parse_catalogue`)."""
    try:
        text = resources.files("aether_qt").joinpath("_data", CATALOGUE_FILE).read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"the model catalogue cannot be read: {exc}") from exc
    return parse_catalogue(text)


def find(models: list[CatalogueModel], name: str) -> CatalogueModel | None:
    """The model called ``name`` (case-insensitive), or ``None``."""
    return next((m for m in models if m.name == name.lower()), None)


def probe_machine(meminfo: Path = Path("/proc/meminfo")) -> Machine:
    """This machine: total memory from ``os.sysconf``, available from ``meminfo``, usable cores.

    Where ``meminfo`` is missing (not Linux), available memory is taken as the total.
    """
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    available = total
    try:
        for line in meminfo.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass  # no /proc (macOS, Windows): the total is the best estimate there is
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return Machine(ram_total=total, ram_available=min(available, total), cores=max(cores, 1))


def min_ram_bytes(model: CatalogueModel) -> int:
    """Memory needed to run ``model``: 1.5 x its file plus 0.5 GiB (see the module docstring)."""
    return model.size_bytes * 3 // 2 + GIB // 2


def tokens_per_s(model: CatalogueModel, cores: int) -> float:
    """A rough decoding speed on ``cores`` CPU cores (see the module docstring)."""
    return min(cores * _BYTES_PER_S_PER_CORE, _BYTES_PER_S_MAX) / model.size_bytes


def fit(model: CatalogueModel, machine: Machine) -> Fit:
    """How ``model`` fits ``machine``."""
    need = min_ram_bytes(model)
    if need <= machine.ram_available:
        memory = "fits"
    elif need <= machine.ram_total:
        memory = "tight"
    else:
        memory = "too big"
    speed_value = tokens_per_s(model, machine.cores)
    speed = "fast" if speed_value >= FAST else "usable" if speed_value >= USABLE else "slow"
    return Fit(model, need, memory, round(speed_value, 1), speed)


def recommend(fits: list[Fit]) -> Fit | None:
    """The biggest model that fits and is not slow, else the smallest that fits, else ``None``.

    Non-commercial licences count only when no other model fits (see the module docstring).
    """
    fitting = [f for f in fits if f.memory == "fits"]
    unrestricted = [f for f in fitting if "non-commercial" not in f.model.licence.lower()]
    fitting = unrestricted or fitting
    quick = [f for f in fitting if f.speed != "slow"]
    if quick:
        return max(quick, key=lambda f: f.model.size_bytes)
    return min(fitting, key=lambda f: f.model.size_bytes) if fitting else None
