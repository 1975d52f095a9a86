"""The GGUF files the tests serve: where `scripts/make_test_models.py` puts the test models, and
writers for models too big to generate for real (their weights are sparse holes: no disk used)."""

from __future__ import annotations

import os
from pathlib import Path

import gguf
import numpy as np

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO / "models"
OVERSIZED_MODEL = "oversized-llama.gguf"
OVERSIZED_WEIGHTS_SHAPE = (4096, 393_216)  # F32: 6 GiB of weights, more than wasm's 4 GiB
LARGE_MODEL_VOCAB = "ggml-vocab-llama-spm.gguf"
LARGE_MODEL_SHAPE = (8192, 256, 64)  # n_embd, n_ff, n_head; F16
LARGE_MODELS = {  # file name → layers: 2.17 GB (over 2 GiB) and 3.27 GB (over 3 GiB)
    "large-zero-llama.gguf": 3,
    "larger-zero-llama.gguf": 5,
}


def write_oversized_model(path: Path) -> None:
    """A real GGUF header claiming 6 GiB of weights; the data is a sparse hole (no disk used)."""
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("Oversized header-only llama")
    writer.add_context_length(4096)
    writer.add_block_count(32)
    writer.add_embedding_length(4096)
    writer.add_feed_forward_length(11008)
    writer.add_head_count(32)
    nbytes = OVERSIZED_WEIGHTS_SHAPE[0] * OVERSIZED_WEIGHTS_SHAPE[1] * 4
    writer.add_tensor_info(
        "token_embd.weight", OVERSIZED_WEIGHTS_SHAPE, np.dtype(np.float32), nbytes
    )
    write_with_sparse_data(writer, path, nbytes)


def write_with_sparse_data(writer: gguf.GGUFWriter, path: Path, data_size: int) -> int:
    """Write the header and tensor infos, then extend the file by ``data_size`` bytes of
    tensor data as a sparse hole (zeros that take no time or disk). Returns the file's size."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    with path.open("r+b") as f:
        data_start = -(-f.seek(0, os.SEEK_END) // 32) * 32  # tensor data is 32-byte aligned
        f.truncate(data_start + data_size)
    return data_start + data_size


def write_large_model(path: Path, vocab: Path, n_layer: int) -> int:
    """A loadable llama GGUF of ``n_layer`` F16 layers of width 8192 (549 MB each, plus 524 MB
    of embeddings) whose weights are all zero: the data is a sparse hole, so it takes no time or
    disk to make. Returns its size."""
    reader = gguf.GGUFReader(vocab)
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("Large zero llama")
    n_embd, n_ff, n_head = LARGE_MODEL_SHAPE
    for key, value in [
        ("context_length", 512),
        ("embedding_length", n_embd),
        ("block_count", n_layer),
        ("feed_forward_length", n_ff),
        ("attention.head_count", n_head),
        ("attention.head_count_kv", n_head),
    ]:
        writer.add_uint32(f"llama.{key}", value)
    writer.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    for key, field in reader.fields.items():
        if key.startswith("tokenizer."):
            writer.add_key_value(key, field.contents(), field.types[0], field.types[-1])
    n_vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    shapes = {"token_embd.weight": (n_vocab, n_embd), "output_norm.weight": (n_embd,)}
    for layer in range(n_layer):
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            shapes[f"blk.{layer}.{name}.weight"] = (n_embd, n_embd)
        shapes[f"blk.{layer}.ffn_gate.weight"] = (n_ff, n_embd)
        shapes[f"blk.{layer}.ffn_up.weight"] = (n_ff, n_embd)
        shapes[f"blk.{layer}.ffn_down.weight"] = (n_embd, n_ff)
        shapes[f"blk.{layer}.attn_norm.weight"] = (n_embd,)
        shapes[f"blk.{layer}.ffn_norm.weight"] = (n_embd,)
    data_size = 0
    for name, shape in shapes.items():
        dtype = np.dtype(np.float16 if len(shape) == 2 else np.float32)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        writer.add_tensor_info(name, shape, dtype, nbytes)
        data_size += -(-nbytes // 32) * 32
    return write_with_sparse_data(writer, path, data_size)
