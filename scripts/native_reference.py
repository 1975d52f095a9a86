#!/usr/bin/env python3
"""Write tests/data/tiny_llama_greedy.json: the tiny llama's greedy tokens from native llama.cpp.

With `--smollm2`, write tests/data/smollm2_greedy.json instead: SmolLM2's (a real Q4_1 model:
our quantized kernels at work) greedy tokens from llama-cpp-python, up to the first step whose
top-1/top-2 logit gap is under SMOLLM2_MIN_MARGIN, where rounding may decide (the tiny models
are F32 and run no quantized kernel), and the log-probabilities of its SMOLLM2_TOP_TOKENS
likeliest first tokens.

With `--gemma`, write tests/data/tiny_gemma_chat.json instead: the tiny gemma's greedy reply to
a system + user conversation in the gemma format, from llama-cpp-python (`pip install -e
'.[native]'`), the prompt rendered by llama.cpp's own built-in "gemma" template; the reply must
end with `<end_of_turn>` after a few tokens, every step's top-1/top-2 logit gap >= MIN_SAFE_MARGIN.

Native engine: npm `node-llama-cpp` with its prebuilt linux-x64 CPU binaries, installed into
`.cache/native/` (`npm install --prefix`), driven by `scripts/native_reference.mjs`.
Cross-checks, all must agree before the JSON is written:
* a float64 numpy forward pass over the GGUF weights gives the same greedy ids, and so does one
  with float16-rounded activations; every step's top-1/top-2 logit gap must be >= MIN_SAFE_MARGIN;
* the text is re-derived from the vocab's SPM pieces (no llama.cpp) and must equal the native one.
Run `python scripts/make_test_models.py` first.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import gguf
import numpy as np
from common import REPO, stale_test_model
from make_test_models import (
    MODELS_DIR,
    SMOLLM2_FILE,
    SMOLLM2_SHA256,
    TINY_GEMMA_END_OF_TURN,
    TINY_GEMMA_FILE,
    TINY_GEMMA_SHA256,
    TINY_LLAMA_FILE,
    TINY_LLAMA_SHA256,
    TINY_LLAMA_SHAPE,
    ModelShape,
)

NATIVE_DIR = REPO / ".cache" / "native"
NODE_LLAMA_CPP_VERSION = "3.22.1"
NODE_LLAMA_CPP_PACKAGES = (
    f"node-llama-cpp@{NODE_LLAMA_CPP_VERSION}",
    f"@node-llama-cpp/linux-x64@{NODE_LLAMA_CPP_VERSION}",  # prebuilt CPU binaries, no compile
)
DRIVER = Path(__file__).resolve().parent / "native_reference.mjs"
OUTPUT = REPO / "tests" / "data" / "tiny_llama_greedy.json"
GEMMA_OUTPUT = REPO / "tests" / "data" / "tiny_gemma_chat.json"
GEMMA_MESSAGES = (
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hello!"},
)
GEMMA_PROMPT = "<start_of_turn>user\nYou are terse.\n\nHello!<end_of_turn>\n<start_of_turn>model\n"
"""What llama.cpp's gemma template makes of GEMMA_MESSAGES (no system role: it opens the turn)."""
GEMMA_MAX_REPLY = 16
SMOLLM2_OUTPUT = REPO / "tests" / "data" / "smollm2_greedy.json"
SMOLLM2_PROMPT = "The capital of France is"
SMOLLM2_MAX_TOKENS = 48
SMOLLM2_MIN_MARGIN = 0.2
SMOLLM2_TOP_TOKENS = 10
"""Likeliest first tokens whose log-probabilities the reference keeps."""

PROMPT = "Once upon a time"
N_PREDICT = 32
SPM_SPACE = "\u2581"  # '▁', SentencePiece's word-boundary marker
TOKEN_TYPE_NORMAL = 1
TOKEN_TYPE_BYTE = 6
MIN_SAFE_MARGIN = 0.05  # smallest top-1/top-2 logit gap accepted; F16 rounding moves logits ~0.01


def ensure_node_llama_cpp() -> Path:
    """Install node-llama-cpp + its linux-x64 prebuilt into .cache/native; return node_modules."""
    node_modules = NATIVE_DIR / "node_modules"
    manifest = node_modules / "node-llama-cpp" / "package.json"
    prebuilt = node_modules / "@node-llama-cpp" / "linux-x64" / "package.json"
    if all(
        p.is_file() and json.loads(p.read_text())["version"] == NODE_LLAMA_CPP_VERSION
        for p in (manifest, prebuilt)
    ):
        print(
            f"cached      {NATIVE_DIR.relative_to(REPO)} (node-llama-cpp {NODE_LLAMA_CPP_VERSION})"
        )
        return node_modules
    NATIVE_DIR.mkdir(parents=True, exist_ok=True)
    # --omit=optional skips the CUDA/Vulkan/arm prebuilts (~650 MB); --ignore-scripts skips the
    # postinstall that would try to download or compile llama.cpp.
    cmd = [
        "npm",
        "install",
        "--prefix",
        str(NATIVE_DIR),
        "--save-exact",
        "--omit=optional",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        *NODE_LLAMA_CPP_PACKAGES,
    ]
    print(f"npm         {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True)
    return node_modules


def run_native(node_modules: Path, model: Path) -> dict[str, Any]:
    """Greedy generation through node-llama-cpp; returns the driver's JSON."""
    cmd = ["node", str(DRIVER), str(node_modules), str(model), PROMPT, str(N_PREDICT)]
    print(f"native      node {DRIVER.relative_to(REPO)} … {PROMPT!r} {N_PREDICT}", flush=True)
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def field_value(reader: gguf.GGUFReader, key: str) -> Any:
    """A scalar metadata value."""
    return reader.fields[key].contents()


def spm_pieces(reader: gguf.GGUFReader, ids: list[int]) -> bytes:
    """Concatenate the SentencePiece pieces of `ids` as llama.cpp's token_to_piece does."""
    tokens = reader.fields[gguf.Keys.Tokenizer.LIST]
    types = reader.fields[gguf.Keys.Tokenizer.TOKEN_TYPE]
    out = bytearray()
    for token in ids:
        text = bytes(tokens.parts[tokens.data[token]]).decode("utf-8")
        kind = int(types.parts[types.data[token]][0])
        if kind == TOKEN_TYPE_NORMAL:
            out += text.replace(SPM_SPACE, " ").encode("utf-8")
        elif kind == TOKEN_TYPE_BYTE:  # "<0xAB>"
            out.append(int(text[3:5], 16))
        # control / unknown / unused tokens render as nothing
    return bytes(out)


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """llama.cpp's RMS norm."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope(x: np.ndarray, positions: np.ndarray, base: float) -> np.ndarray:
    """llama.cpp's 'normal' RoPE (rotates adjacent pairs); x is (n_tokens, n_heads, head_dim)."""
    head_dim = x.shape[-1]
    inv_freq = base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    angle = positions[:, None, None] * inv_freq[None, None, :]
    cos, sin = np.cos(angle), np.sin(angle)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


def to_f16(x: np.ndarray) -> np.ndarray:
    """Round to float16 and back, like ggml's F16 activations / KV cache."""
    return x.astype(np.float16).astype(np.float64)


def keep(x: np.ndarray) -> np.ndarray:
    """Leave values at float64."""
    return x


def numpy_logits(
    w: dict[str, np.ndarray], ids: list[int], shape: ModelShape, f16: bool = False
) -> np.ndarray:
    """Float64 forward pass of the tiny llama; returns the logits of the last position.

    With `f16`, every matmul input, Q/K/V and the attention weights are rounded to float16: a
    pessimistic stand-in for the F16 KV cache / flash-attention paths of the engines.
    """
    r = to_f16 if f16 else keep
    n, hd = len(ids), shape.head_dim
    group = shape.n_head // shape.n_head_kv
    positions = np.arange(n, dtype=np.float64)
    mask = np.triu(np.full((n, n), -np.inf), k=1)
    x = w["token_embd.weight"][ids]
    for layer in range(shape.n_layer):
        p = f"blk.{layer}."
        h = r(rms_norm(x, w[p + "attn_norm.weight"], shape.rms_eps))
        q = r(
            rope(
                (h @ w[p + "attn_q.weight"].T).reshape(n, shape.n_head, hd),
                positions,
                shape.rope_freq_base,
            )
        )
        k = r(
            rope(
                (h @ w[p + "attn_k.weight"].T).reshape(n, shape.n_head_kv, hd),
                positions,
                shape.rope_freq_base,
            )
        )
        v = r((h @ w[p + "attn_v.weight"].T).reshape(n, shape.n_head_kv, hd))
        heads = []
        for head in range(shape.n_head):
            kv = head // group  # ggml broadcast: query head h reads KV head h // (n_head/n_kv)
            scores = q[:, head] @ k[:, kv].T / np.sqrt(hd) + mask
            probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probs /= probs.sum(axis=-1, keepdims=True)
            heads.append(r(probs) @ v[:, kv])
        x = x + r(np.concatenate(heads, axis=-1)) @ w[p + "attn_output.weight"].T
        h = r(rms_norm(x, w[p + "ffn_norm.weight"], shape.rms_eps))
        gate = h @ w[p + "ffn_gate.weight"].T
        ffn = r((gate / (1.0 + np.exp(-gate))) * (h @ w[p + "ffn_up.weight"].T))
        x = x + ffn @ w[p + "ffn_down.weight"].T
    out = r(rms_norm(x[-1], w["output_norm.weight"], shape.rms_eps))
    return w.get("output.weight", w["token_embd.weight"]) @ out


def numpy_greedy(
    reader: gguf.GGUFReader, prompt_ids: list[int], n_predict: int, eos: int, f16: bool = False
) -> tuple[list[int], float]:
    """Greedy ids from the numpy forward pass and the smallest top-1/top-2 logit margin."""
    weights = {t.name: np.asarray(t.data, dtype=np.float64) for t in reader.tensors}
    ids, generated, margin = list(prompt_ids), [], float("inf")
    for _ in range(n_predict):
        logits = numpy_logits(weights, ids, TINY_LLAMA_SHAPE, f16)
        second, first = np.argsort(logits)[-2:]
        margin = min(margin, float(logits[first] - logits[second]))
        generated.append(int(first))
        ids.append(int(first))
        if first == eos:
            break
    return generated, margin


def llama_cpp_template(name: str, messages: tuple[dict[str, str], ...]) -> str:
    """``messages`` rendered by llama.cpp's built-in template ``name`` (with the reply's start)."""
    import llama_cpp

    chat = (llama_cpp.llama_chat_message * len(messages))(
        *(llama_cpp.llama_chat_message(m["role"].encode(), m["content"].encode()) for m in messages)
    )
    buffer = ctypes.create_string_buffer(4096)
    n = llama_cpp.llama_chat_apply_template(name.encode(), chat, len(messages), True, buffer, 4096)
    return buffer.raw[:n].decode("utf-8")


def gemma_reference() -> int:
    """The tiny gemma's greedy chat reply natively; write GEMMA_OUTPUT."""
    import llama_cpp

    model = MODELS_DIR / TINY_GEMMA_FILE
    if stale_test_model(model, TINY_GEMMA_SHA256):
        return 1
    problems = []
    if llama_cpp_template("gemma", GEMMA_MESSAGES) != GEMMA_PROMPT:
        problems.append("llama.cpp's gemma template renders the messages differently")
    llama = llama_cpp.Llama(
        model_path=str(model), n_ctx=256, n_threads=1, logits_all=True, verbose=False
    )
    prompt_ids = llama.tokenize(GEMMA_PROMPT.encode(), add_bos=True, special=True)
    llama.eval(prompt_ids)
    generated: list[int] = []
    margin = float("inf")
    for _ in range(GEMMA_MAX_REPLY):
        logits = np.asarray(llama.scores[llama.n_tokens - 1])
        second, first = (int(t) for t in np.argsort(logits)[-2:])
        margin = min(margin, float(logits[first] - logits[second]))
        generated.append(first)
        if llama_cpp.llama_vocab_is_eog(llama_cpp.llama_model_get_vocab(llama.model), first):
            break
        llama.eval([first])
    text = llama.detokenize(generated).decode("utf-8")
    print(f"native      {len(generated)} tokens {generated}, min margin {margin:.4f}")
    if generated[-1] != TINY_GEMMA_END_OF_TURN or not 2 <= len(generated) < GEMMA_MAX_REPLY:
        problems.append(
            f"the reply does not end with <end_of_turn> after a few tokens: {generated}"
        )
    if margin < MIN_SAFE_MARGIN:
        problems.append(f"a greedy step is a near tie (margin {margin:.2e}): fragile oracle")
    if problems:
        print("error: " + "\n  ".join(problems), file=sys.stderr)
        return 1
    reference = {
        "model_file": TINY_GEMMA_FILE,
        "model_sha256": TINY_GEMMA_SHA256,
        "messages": list(GEMMA_MESSAGES),
        "prompt": GEMMA_PROMPT,
        "sampling": "greedy (temperature 0 / top_k 1), no repeat penalty",
        "prompt_token_ids": prompt_ids,
        "generated_token_ids": generated,
        "end_of_turn_id": TINY_GEMMA_END_OF_TURN,
        "generated_text": text,
        "text_note": "generated_text is the reply before <end_of_turn> (a control token: no text).",
        "native_engine": "llama-cpp-python",
        "native_engine_version": llama_cpp.__version__,
        "min_top2_logit_margin": round(margin, 4),
    }
    GEMMA_OUTPUT.write_text(json.dumps(reference, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"write       {GEMMA_OUTPUT.relative_to(REPO)}")
    print(f"generated   {text!r}")
    return 0


def smollm2_reference() -> int:
    """SmolLM2's greedy tokens natively, while no step is a near tie, and the log-probabilities
    of its likeliest first tokens; write SMOLLM2_OUTPUT."""
    import llama_cpp
    from localwebai.native.engine import top_logprobs

    model = MODELS_DIR / SMOLLM2_FILE
    if stale_test_model(model, SMOLLM2_SHA256):
        return 1
    llama = llama_cpp.Llama(
        model_path=str(model), n_ctx=256, n_threads=1, logits_all=True, verbose=False
    )
    prompt_ids = llama.tokenize(SMOLLM2_PROMPT.encode(), add_bos=True)
    llama.eval(prompt_ids)
    first_top = top_logprobs(llama.scores[llama.n_tokens - 1], SMOLLM2_TOP_TOKENS)
    generated: list[int] = []
    margins: list[float] = []
    for _ in range(SMOLLM2_MAX_TOKENS):
        logits = np.asarray(llama.scores[llama.n_tokens - 1])
        second, first = (int(t) for t in np.argsort(logits)[-2:])
        if logits[first] - logits[second] < SMOLLM2_MIN_MARGIN:
            break
        margins.append(float(logits[first] - logits[second]))
        generated.append(first)
        llama.eval([first])
    text = llama.detokenize(generated).decode("utf-8")
    print(f"native      {len(generated)} tokens, min margin {min(margins):.3f}: {text!r}")
    if len(generated) < 8:
        print(f"error: a near tie after {len(generated)} tokens: fragile oracle", file=sys.stderr)
        return 1
    reference = {
        "model_file": SMOLLM2_FILE,
        "model_sha256": SMOLLM2_SHA256,
        "prompt": SMOLLM2_PROMPT,
        "n_predict": len(generated),
        "sampling": "greedy (temperature 0 / top_k 1), no repeat penalty",
        "prompt_token_ids": prompt_ids,
        "generated_token_ids": generated,
        "generated_text": text,
        "text_note": (
            f"stops before the first step whose top-1/top-2 logit gap is under {SMOLLM2_MIN_MARGIN}"
        ),
        "native_engine": "llama-cpp-python",
        "native_engine_version": llama_cpp.__version__,
        "min_top2_logit_margin": round(min(margins), 4),
        "first_token_top_logprobs": [[token, logprob] for token, logprob in first_top],
        "logprobs_note": (
            f"the {SMOLLM2_TOP_TOKENS} likeliest first tokens after the prompt: [id, log softmax "
            "of the logits in float64]"
        ),
    }
    SMOLLM2_OUTPUT.write_text(json.dumps(reference, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"write       {SMOLLM2_OUTPUT.relative_to(REPO)}")
    return 0


def main() -> int:
    """Derive the reference, cross-check it and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gemma", action="store_true", help="write the tiny gemma's reference")
    parser.add_argument("--smollm2", action="store_true", help="write SmolLM2's reference")
    args = parser.parse_args()
    if args.gemma:
        return gemma_reference()
    if args.smollm2:
        return smollm2_reference()
    model = MODELS_DIR / TINY_LLAMA_FILE
    if stale_test_model(model, TINY_LLAMA_SHA256):
        return 1
    native = run_native(ensure_node_llama_cpp(), model)
    reader = gguf.GGUFReader(model)
    prompt_ids: list[int] = native["prompt_token_ids"]
    generated: list[int] = native["generated_token_ids"]
    bos = int(field_value(reader, gguf.Keys.Tokenizer.BOS_ID))
    eos = int(field_value(reader, gguf.Keys.Tokenizer.EOS_ID))
    add_bos = bool(field_value(reader, gguf.Keys.Tokenizer.ADD_BOS))

    problems = []
    if native["add_bos"] != add_bos or (prompt_ids[0] == bos) != add_bos:
        problems.append(f"BOS handling: native {native['add_bos']}, GGUF add_bos_token {add_bos}")
    if spm_pieces(reader, prompt_ids).decode("utf-8") != " " + PROMPT:
        problems.append("prompt ids do not detokenize to ' ' + prompt")
    text = spm_pieces(reader, generated).decode("utf-8")
    if text != native["generated_text"]:
        problems.append(f"text: vocab pieces {text!r} != native {native['generated_text']!r}")
    numpy_ids, margin = numpy_greedy(reader, prompt_ids, N_PREDICT, eos)
    f16_ids, f16_margin = numpy_greedy(reader, prompt_ids, N_PREDICT, eos, f16=True)
    print(f"numpy       min top-1/top-2 logit margin {margin:.4f} (f64), {f16_margin:.4f} (f16)")
    if numpy_ids != generated:
        problems.append(f"numpy float64 greedy {numpy_ids} != native {generated}")
    if f16_ids != generated:
        problems.append(f"numpy float16-activation greedy {f16_ids} != native {generated}")
    if margin < MIN_SAFE_MARGIN:
        problems.append(f"a greedy step is a near tie (margin {margin:.2e}): fragile oracle")
    token_types = reader.fields[gguf.Keys.Tokenizer.TOKEN_TYPE]
    odd = [
        t for t in generated if int(token_types.parts[token_types.data[t]][0]) != TOKEN_TYPE_NORMAL
    ]
    if odd or not text.isprintable():
        problems.append(f"byte/control tokens {odd} or unprintable text {text!r}: fragile oracle")
    if len(set(generated)) < len(generated) // 2:
        problems.append(f"output is too repetitive: {generated}")
    if problems:
        print("error: " + "\n  ".join(problems), file=sys.stderr)
        return 1

    reference = {
        "model_file": TINY_LLAMA_FILE,
        "model_sha256": TINY_LLAMA_SHA256,
        "prompt": PROMPT,
        "n_predict": N_PREDICT,
        "sampling": "greedy (temperature 0 / top_k 1), no repeat penalty",
        "add_bos": add_bos,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "prompt_token_ids": prompt_ids,
        "generated_token_ids": generated,
        "stopped_at_eos": bool(generated) and generated[-1] == eos,
        "generated_text": text,
        "text_note": (
            "generated_text is exactly what follows the prompt: prompt + generated_text is the"
            " whole text. It is the concatenation of the generated tokens' pieces (SPM '\u2581' ->"
            " space), so it starts with a space when the first token does."
        ),
        "native_engine": "node-llama-cpp",
        "native_engine_version": native["engine_version"],
        "native_llama_cpp_release": native["llama_cpp_release"],
        "native_backend": "CPU, 1 thread",
        "numpy_crosscheck": {
            "same_ids_float64": True,
            "same_ids_float16_activations": True,
            "min_top2_logit_margin_float64": round(margin, 4),
            "min_top2_logit_margin_float16_activations": round(f16_margin, 4),
        },
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(reference, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"write       {OUTPUT.relative_to(REPO)}")
    print(f"generated   {text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
