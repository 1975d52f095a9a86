#!/usr/bin/env python3
"""Build the benchmark model: Qwen2.5-0.5B's exact tensor shapes, random weights, Q4_K_M.

    python scripts/make_bench_model.py [--rebuild] [--quant Q4_0|Q8_0|Q4_K_M]

Output: ``models/bench-qwen2-0.5b-shape.Q4_K_M.gguf`` (about 398 MB; ``--quant`` makes the same
model in another type, for ``scripts/bench.py --model``). The `qwen2` architecture
with 24 layers, n_embd 896, n_ff 4864, 14 query / 2 KV heads, tied embeddings and the real Qwen2
tokenizer (151,936 tokens, from the llama-cpp-python sdist's ``ggml-vocab-qwen2.gguf``); weights
are random from a fixed seed, written as F16, then quantized to Q4_K_M by ``llama-quantize``.
A forward pass costs exactly what the real model's does, which is all a speed benchmark needs.

``llama-quantize`` is built once from the same sdist's llama.cpp source with cmake (only that
target, a few minutes on 2 cores: ``llama_cpp_tools.py``) and cached in ``.cache/bin/``. Only
``scripts/bench.py`` uses this model; CI does not build it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import gguf
import numpy as np
from common import (
    CACHE_DIR,
    SetupError,
    has_sha256,
    pip_download,
    sha256_file,
    temp_path,
)
from llama_cpp_tools import Tool, ensure_tool
from make_test_models import (
    LLAMA_CPP_PYTHON_VERSION,
    MODELS_DIR,
    SDIST_NAME,
    SDIST_SHA256,
    VOCAB_DIR,
    ModelShape,
    add_shape,
    copy_tokenizer,
    extract_vocabs,
    llama_tensors,
)

QUANT_TYPE = "Q4_K_M"
BENCH_MODEL_FILE = f"bench-qwen2-0.5b-shape.{QUANT_TYPE}.gguf"
BENCH_MODEL_NAME = "LocalWebAI bench (Qwen2.5-0.5B shape, random weights)"
# sha256 of each pinned output; a different gguf/numpy/llama.cpp changes the bytes (--rebuild)
BENCH_MODEL_SHA256 = {
    "Q4_K_M": "83e9c17b765cd62d9fa0e481bd0bd0b752a3c9ac7d62df323758204e8b5c52ab",
    "Q4_0": "25eaa21547a4d7265186e3668a046d89d5a4beb2f7d30826a801423017b676fc",
    "Q8_0": "1dc9f4a3bb5d83f3be176455949635440e56a91c116f299cf0eb37927e726ee5",
}
QWEN2_VOCAB = "ggml-vocab-qwen2.gguf"
SEED = 20261123

LLAMA_QUANTIZE = Tool("llama-quantize")


QWEN2_SHAPE = ModelShape(  # Qwen2.5-0.5B's hyper-parameters (its config.json)
    n_layer=24,
    n_embd=896,
    n_head=14,
    n_head_kv=2,
    n_ff=4864,
    n_ctx_train=32768,
    rms_eps=1e-6,
    rope_freq_base=1_000_000.0,
    weight_gain=1.0,
)


def write_f16_model(vocab_path: Path, target: Path, shape: ModelShape) -> None:
    """Write the F16 GGUF (about 1 GB)."""
    reader = gguf.GGUFReader(vocab_path)
    writer = gguf.GGUFWriter(target, "qwen2")
    writer.add_name(BENCH_MODEL_NAME)
    add_shape(writer, shape)
    writer.add_rope_freq_base(shape.rope_freq_base)
    writer.add_layer_norm_rms_eps(shape.rms_eps)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    n_vocab = copy_tokenizer(reader, writer)
    for name, tensor in llama_tensors(n_vocab, shape, SEED, np.float16, qkv_bias=True):
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def quantize(binary: Path, source: Path, target: Path, quant: str) -> None:
    """Run llama-quantize (F16 → ``quant``) on every core."""
    cmd = [str(binary), str(source), str(target), quant, str(os.cpu_count() or 1)]
    print(f"quantize    {' '.join(cmd)}", flush=True)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SetupError(
            f"llama-quantize failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )


def make_bench_model(rebuild: bool, quant: str = QUANT_TYPE) -> Path:
    """Build the model in ``quant`` unless the pinned one is already there."""
    target = MODELS_DIR / BENCH_MODEL_FILE.replace(QUANT_TYPE, quant)
    pinned = BENCH_MODEL_SHA256[quant]
    if not rebuild and has_sha256(target, pinned):
        print(f"up to date  {target.relative_to(MODELS_DIR.parent)}")
        return target
    MODELS_DIR.mkdir(exist_ok=True)
    sdist = pip_download(
        f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
        SDIST_NAME,
        SDIST_SHA256,
        ["--no-binary", "llama-cpp-python"],
    )
    extract_vocabs(sdist)
    binary = ensure_tool(LLAMA_QUANTIZE)
    f16 = CACHE_DIR / BENCH_MODEL_FILE.replace(QUANT_TYPE, "F16")
    started = time.monotonic()
    write_f16_model(VOCAB_DIR / QWEN2_VOCAB, f16, QWEN2_SHAPE)
    print(f"write       {f16.name} ({f16.stat().st_size / 1e6:.0f} MB)", end=" ")
    print(f"in {time.monotonic() - started:.0f} s", flush=True)
    tmp = temp_path(target)
    try:
        quantize(binary, f16, tmp, quant)
    finally:
        f16.unlink(missing_ok=True)
    actual = sha256_file(tmp)
    if actual != pinned:
        raise SetupError(
            f"{tmp} is not the pinned bench model (left there for inspection):\n"
            f"  expected {pinned}\n  actual   {actual}\n"
            "A changed gguf/numpy/llama.cpp changes the bytes; if that is meant, update"
            " BENCH_MODEL_SHA256."
        )
    tmp.replace(target)
    size_mb = target.stat().st_size / 1e6
    print(f"write       {target.relative_to(MODELS_DIR.parent)} ({size_mb:.0f} MB)")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="rebuild even when up to date")
    parser.add_argument("--quant", choices=sorted(BENCH_MODEL_SHA256), default=QUANT_TYPE)
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        make_bench_model(args.rebuild, args.quant)
    except (SetupError, OSError, tarfile.TarError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
