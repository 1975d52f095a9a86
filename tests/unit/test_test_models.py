"""The generated test models are the pinned ones; the native oracle belongs to this tiny model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
REFERENCE_JSON = Path(__file__).resolve().parents[1] / "data" / "tiny_llama_greedy.json"
GEMMA_JSON = Path(__file__).resolve().parents[1] / "data" / "tiny_gemma_chat.json"
EMBEDDINGS_JSON = Path(__file__).resolve().parents[1] / "data" / "minilm_embeddings.json"
sys.path.insert(0, str(SCRIPTS))  # the scripts import their siblings by name

import make_test_models as mtm  # noqa: E402
import native_embeddings  # noqa: E402
import native_reference as native  # noqa: E402
from common import sha256_file  # noqa: E402


def raw_fields(path: Path, prefix: str) -> dict[str, tuple[list[int], list[bytes]]]:
    """Metadata fields under `prefix` as (value types, raw value bytes)."""
    reader = gguf.GGUFReader(path)
    return {
        key: ([int(t) for t in field.types], [bytes(field.parts[i]) for i in field.data])
        for key, field in reader.fields.items()
        if key.startswith(prefix)
    }


@pytest.fixture(scope="module")
def reference() -> dict:
    """The committed native reference."""
    return json.loads(REFERENCE_JSON.read_text(encoding="utf-8"))


def test_tiny_llama_is_pinned(models_dir: Path) -> None:
    assert sha256_file(models_dir / mtm.TINY_LLAMA_FILE) == mtm.TINY_LLAMA_SHA256


def test_smollm2_is_pinned(models_dir: Path) -> None:
    path = models_dir / mtm.SMOLLM2_FILE
    assert path.is_file(), "run `python scripts/make_test_models.py`"
    assert sha256_file(path) == mtm.SMOLLM2_SHA256


@pytest.mark.parametrize("name", sorted(mtm.VOCAB_SHA256))
def test_vocab_file_is_pinned(models_dir: Path, name: str) -> None:
    path = models_dir / "vocab" / name
    assert path.is_file(), "run `python scripts/make_test_models.py`"
    assert sha256_file(path) == mtm.VOCAB_SHA256[name]


def test_tiny_llama_tokenizer_is_the_vocab_files(models_dir: Path) -> None:
    prefix = mtm.TOKENIZER_KEY_PREFIX
    tiny = raw_fields(models_dir / mtm.TINY_LLAMA_FILE, prefix)
    vocab = raw_fields(models_dir / "vocab" / mtm.TINY_LLAMA_VOCAB, prefix)
    assert gguf.Keys.Tokenizer.LIST in tiny
    assert tiny == vocab


def test_tiny_llama_header(models_dir: Path) -> None:
    reader = gguf.GGUFReader(models_dir / mtm.TINY_LLAMA_FILE)
    shape = mtm.TINY_LLAMA_SHAPE
    fields = {
        key: field.contents()
        for key, field in reader.fields.items()
        if not key.startswith(mtm.TOKENIZER_KEY_PREFIX)
    }
    assert fields["general.architecture"] == "llama"
    assert fields["general.name"] == mtm.TINY_LLAMA_NAME
    assert fields["llama.block_count"] == shape.n_layer
    assert fields["llama.embedding_length"] == shape.n_embd
    assert fields["llama.attention.head_count"] == shape.n_head
    assert fields["llama.attention.head_count_kv"] == shape.n_head_kv
    assert fields["llama.feed_forward_length"] == shape.n_ff
    assert fields["llama.context_length"] == shape.n_ctx_train
    assert "tokenizer.chat_template" not in reader.fields
    assert len(reader.tensors) == 2 + 9 * shape.n_layer  # token_embd, output_norm, 9 per block


def test_reference_is_for_the_pinned_tiny_llama(reference: dict) -> None:
    assert reference["model_file"] == mtm.TINY_LLAMA_FILE
    assert reference["model_sha256"] == mtm.TINY_LLAMA_SHA256
    assert reference["prompt"] == native.PROMPT
    assert reference["n_predict"] == native.N_PREDICT


def test_reference_is_self_consistent(models_dir: Path, reference: dict) -> None:
    generated = reference["generated_token_ids"]
    assert len(generated) == reference["n_predict"] or reference["stopped_at_eos"]
    assert (reference["prompt_token_ids"][0] == reference["bos_token_id"]) == reference["add_bos"]
    reader = gguf.GGUFReader(models_dir / "vocab" / mtm.TINY_LLAMA_VOCAB)
    assert native.spm_pieces(reader, generated).decode("utf-8") == reference["generated_text"]
    prompt_text = native.spm_pieces(reader, reference["prompt_token_ids"]).decode("utf-8")
    assert prompt_text == " " + reference["prompt"]  # SPM's space prefix, BOS renders empty
    assert len(set(generated)) > len(generated) // 2, "greedy output collapsed to a loop"


def test_tiny_gemma_is_pinned(models_dir: Path) -> None:
    assert sha256_file(models_dir / mtm.TINY_GEMMA_FILE) == mtm.TINY_GEMMA_SHA256


def test_tiny_gemma_is_the_tiny_llama_as_a_gemma_with_turn_tokens(models_dir: Path) -> None:
    gemma = gguf.GGUFReader(models_dir / mtm.TINY_GEMMA_FILE)
    llama = gguf.GGUFReader(models_dir / mtm.TINY_LLAMA_FILE)
    assert gemma.fields["general.architecture"].contents() == "gemma"
    assert gemma.fields["general.name"].contents() == mtm.TINY_GEMMA_NAME
    assert gemma.fields["gemma.block_count"].contents() == mtm.TINY_LLAMA_SHAPE.n_layer
    assert "tokenizer.chat_template" not in gemma.fields
    tokens = gemma.fields[gguf.Keys.Tokenizer.LIST].contents()
    types = gemma.fields[gguf.Keys.Tokenizer.TOKEN_TYPE].contents()
    assert tokens[mtm.TINY_GEMMA_START_OF_TURN] == "<start_of_turn>"
    assert tokens[mtm.TINY_GEMMA_END_OF_TURN] == "<end_of_turn>"
    renamed = [
        i
        for i, (a, b) in enumerate(
            zip(tokens, llama.fields[gguf.Keys.Tokenizer.LIST].contents(), strict=True)
        )
        if a != b
    ]
    assert renamed == sorted(mtm.TINY_GEMMA_RENAMES)
    assert {types[i] for i in renamed} == {mtm.TOKEN_TYPE_CONTROL}
    weights = {t.name: np.asarray(t.data) for t in llama.tensors}
    for tensor in gemma.tensors:
        expected = weights[tensor.name]
        if tensor.name == "token_embd.weight":
            expected = expected.copy()
            expected[mtm.TINY_GEMMA_END_OF_TURN] *= mtm.TINY_GEMMA_END_OF_TURN_SCALE
        assert np.array_equal(np.asarray(tensor.data), expected), tensor.name
    assert len(gemma.tensors) == len(llama.tensors)


def test_gemma_reference_is_for_the_pinned_tiny_gemma() -> None:
    ref = json.loads(GEMMA_JSON.read_text(encoding="utf-8"))
    assert (ref["model_file"], ref["model_sha256"]) == (mtm.TINY_GEMMA_FILE, mtm.TINY_GEMMA_SHA256)
    assert ref["messages"] == list(native.GEMMA_MESSAGES)
    assert ref["prompt"] == native.GEMMA_PROMPT
    generated = ref["generated_token_ids"]
    assert generated[-1] == ref["end_of_turn_id"] == mtm.TINY_GEMMA_END_OF_TURN
    assert ref["end_of_turn_id"] not in generated[:-1] and len(generated) > 2
    assert ref["prompt_token_ids"].count(mtm.TINY_GEMMA_START_OF_TURN) == 2
    assert ref["min_top2_logit_margin"] >= native.MIN_SAFE_MARGIN


def test_minilm_is_pinned(models_dir: Path) -> None:
    path = models_dir / mtm.MINILM_FILE
    assert path.is_file(), "run `python scripts/make_test_models.py`"
    assert sha256_file(path) == mtm.MINILM_SHA256


def test_minilm_header_is_a_mean_pooled_bert(models_dir: Path) -> None:
    reader = gguf.GGUFReader(models_dir / mtm.MINILM_FILE)
    fields = {
        key: reader.fields[key].contents()
        for key in (
            "general.architecture",
            "general.name",
            "general.file_type",
            "bert.pooling_type",
            "bert.embedding_length",
            "bert.block_count",
            "bert.context_length",
            "bert.attention.causal",
            "tokenizer.ggml.model",
        )
    }
    assert fields == {
        "general.architecture": "bert",
        "general.name": mtm.MINILM_NAME,
        "general.file_type": int(gguf.LlamaFileType.MOSTLY_F16),
        "bert.pooling_type": int(gguf.PoolingType.MEAN),
        "bert.embedding_length": 384,
        "bert.block_count": 6,
        "bert.context_length": 512,
        "bert.attention.causal": False,
        "tokenizer.ggml.model": "bert",
    }


@pytest.fixture(scope="module")
def embeddings_reference() -> dict:
    """The committed native embeddings of all-MiniLM-L6-v2."""
    return json.loads(EMBEDDINGS_JSON.read_text(encoding="utf-8"))


def test_embeddings_reference_is_for_the_pinned_minilm(embeddings_reference: dict) -> None:
    ref = embeddings_reference
    assert ref["model_file"] == mtm.MINILM_FILE
    assert ref["model_sha256"] == mtm.MINILM_SHA256
    assert ref["sentences"] == list(native_embeddings.SENTENCES)
    assert ref["similar_pairs"] == [list(p) for p in native_embeddings.SIMILAR_PAIRS]
    assert ref["unrelated_pairs"] == [list(p) for p in native_embeddings.UNRELATED_PAIRS]


def test_embeddings_reference_is_self_consistent(embeddings_reference: dict) -> None:
    ref = embeddings_reference
    vectors = np.array(ref["embeddings"])
    assert vectors.shape == (len(ref["sentences"]), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert np.allclose(vectors @ vectors.T, np.array(ref["cosine"]), atol=1e-6)
    for i, j in ref["similar_pairs"]:
        assert ref["cosine"][i][j] > native_embeddings.SIMILAR_ABOVE
    for i, j in ref["unrelated_pairs"]:
        assert ref["cosine"][i][j] < native_embeddings.UNRELATED_BELOW
    assert ref["pytorch_crosscheck"]["max_abs_diff"] <= native_embeddings.MAX_PYTORCH_DIFF
