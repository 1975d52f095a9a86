"""The embeddings core: vector arithmetic, reading wllama's answers, and load decisions."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from localwebai.embeddings import (
    FALLBACK_CONTEXT,
    MAX_EMBEDDING_CONTEXT,
    Embedding,
    EmbeddingModel,
    Pooling,
    RerankScore,
    UnsupportedTaskError,
    check_texts,
    cosine_similarity,
    normalize,
    sentences_from_text,
    similarity_matrix,
)
from localwebai.errors import EngineError, LocalWebAIError, ParameterError
from localwebai.gguf import read_header_file

MINILM = "all-MiniLM-L6-v2.F16.gguf"

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)


def nonzero(vector: list[float]) -> bool:
    return math.fsum(x * x for x in vector) > 1e-6


vectors = st.lists(finite, min_size=1, max_size=16).filter(nonzero)


def test_normalize_scales_to_unit_length() -> None:
    assert normalize([3.0, 4.0]) == [0.6, 0.8]


@pytest.mark.parametrize("bad", [[], [0.0, 0.0], [math.inf, 1.0], [math.nan]])
def test_normalize_refuses_vectors_without_a_direction(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        normalize(bad)


@given(vectors)
def test_normalized_vectors_have_length_one_and_keep_direction(vector: list[float]) -> None:
    unit = normalize(vector)
    assert math.fsum(x * x for x in unit) == pytest.approx(1.0)
    assert cosine_similarity(unit, vector) == pytest.approx(1.0)


def test_cosine_of_known_angles() -> None:
    assert cosine_similarity([1.0, 0.0], [5.0, 0.0]) == 1.0
    assert cosine_similarity([1.0, 0.0], [0.0, 2.0]) == 0.0
    assert cosine_similarity([1.0, 0.0], [-3.0, 0.0]) == -1.0
    assert cosine_similarity([1.0, 1.0], [1.0, 0.0]) == pytest.approx(math.sqrt(0.5))


def test_cosine_refuses_mismatched_or_zero_vectors() -> None:
    with pytest.raises(ValueError, match="different sizes"):
        cosine_similarity([1.0, 0.0], [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="zero vector"):
        cosine_similarity([0.0, 0.0], [1.0, 0.0])


@given(vectors, st.data())
def test_cosine_stays_in_range_and_is_symmetric(a: list[float], data: st.DataObject) -> None:
    b = data.draw(st.lists(finite, min_size=len(a), max_size=len(a)).filter(nonzero))
    value = cosine_similarity(a, b)
    assert -1.0 <= value <= 1.0
    assert value == pytest.approx(cosine_similarity(b, a))


def test_similarity_matrix_is_symmetric_with_unit_diagonal() -> None:
    m = similarity_matrix([[1.0, 0.0], [0.0, 3.0], [2.0, 2.0]])
    assert [m[i][i] for i in range(3)] == [1.0, 1.0, 1.0]
    assert m[0][1] == m[1][0] == 0.0
    assert m[0][2] == m[2][0] == pytest.approx(math.sqrt(0.5))
    assert m[1][2] == m[2][1] == pytest.approx(math.sqrt(0.5))


def test_similarity_matrix_of_nothing_is_empty() -> None:
    assert similarity_matrix([]) == []


def test_sentences_are_the_non_blank_lines_stripped() -> None:
    assert sentences_from_text(" one \n\n  two\r\n\t\nthree") == ["one", "two", "three"]
    with pytest.raises(ParameterError, match="at least one sentence"):
        sentences_from_text(" \n \n")


def test_check_texts_accepts_a_sequence_of_texts() -> None:
    assert check_texts(("a", "b c")) == ["a", "b c"]


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ("one string", "not a single string"),
        ([], "empty"),
        (["ok", ""], "Text 2"),
        (["ok", "  "], "Text 2"),
        ([3], "Text 1"),
    ],
)
def test_check_texts_refuses_what_cannot_be_embedded(texts: object, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        check_texts(texts)  # type: ignore[arg-type]


def test_embedding_from_wllama_response_is_normalised_with_token_count() -> None:
    response = {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.0, 3.0, 4.0]}],
        "usage": {"prompt_tokens": 7, "total_tokens": 7},
    }
    embedding = Embedding.from_response("hello", response)
    assert embedding == Embedding(text="hello", vector=(0.0, 0.6, 0.8), tokens=7)
    assert embedding.dimension == 3


def test_embedding_without_usage_has_no_token_count() -> None:
    embedding = Embedding.from_response("x", {"data": [{"embedding": [2.0]}]})
    assert embedding.vector == (1.0,) and embedding.tokens is None


@pytest.mark.parametrize(
    "response",
    [{}, {"data": []}, {"data": [{"embedding": []}]}, {"data": [{"embedding": [0.0, 0.0]}]}],
)
def test_embedding_response_without_a_usable_vector_is_an_engine_error(response: dict) -> None:
    with pytest.raises(EngineError):
        Embedding.from_response("some text", response)


def test_rerank_scores_are_sorted_best_first() -> None:
    response = {
        "results": [
            {"index": 0, "relevance_score": -1.5},
            {"index": 2, "relevance_score": 3.25},
            {"index": 1, "relevance_score": 0.5},
        ]
    }
    assert RerankScore.list_from_response(response) == [
        RerankScore(2, 3.25),
        RerankScore(1, 0.5),
        RerankScore(0, -1.5),
    ]
    assert RerankScore.list_from_response({}) == []


def model(pooling: Pooling | None, context: int | None = 512) -> EmbeddingModel:
    return EmbeddingModel(
        name="Some model",
        architecture="bert",
        declared_pooling=pooling,
        dimension=384,
        context_length=context,
    )


@pytest.mark.parametrize(
    ("declared", "used"),
    [
        (Pooling.MEAN, Pooling.MEAN),
        (Pooling.CLS, Pooling.CLS),
        (Pooling.LAST, Pooling.LAST),
        (Pooling.RANK, Pooling.RANK),
        (Pooling.NONE, Pooling.MEAN),  # 'none' gives a vector per token: not one per text
        (None, Pooling.MEAN),
    ],
)
def test_pooling_is_the_models_own_else_mean(declared: Pooling | None, used: Pooling) -> None:
    assert model(declared).pooling is used
    assert model(declared).can_rerank is (used is Pooling.RANK)


def test_load_options_for_wllama() -> None:
    assert model(Pooling.MEAN).load_options(n_threads=2, n_gpu_layers=0) == {
        "embeddings": True,
        "pooling_type": "mean",
        "n_ctx": 512,
        "n_batch": 512,
        "n_ubatch": 512,
        "n_threads": 2,
        "n_gpu_layers": 0,
    }
    assert model(Pooling.RANK).load_options(1, 99)["pooling_type"] == "rank"


@pytest.mark.parametrize(
    ("trained", "context"),
    [(512, 512), (8192, MAX_EMBEDDING_CONTEXT), (None, FALLBACK_CONTEXT)],
)
def test_context_is_the_training_length_capped(trained: int | None, context: int) -> None:
    assert model(Pooling.MEAN, trained).context == context


def test_load_options_refuse_bad_threads_and_layers() -> None:
    with pytest.raises(ParameterError, match="Threads"):
        model(Pooling.MEAN).load_options(0, 0)
    with pytest.raises(ParameterError, match="GPU layers"):
        model(Pooling.MEAN).load_options(1, -1)


def test_an_embedding_model_refuses_to_rerank_with_a_clear_error() -> None:
    embedder = model(Pooling.MEAN)
    embedder.require_embedding()
    with pytest.raises(UnsupportedTaskError, match="Some model cannot rerank") as caught:
        embedder.require_rerank()
    assert isinstance(caught.value, LocalWebAIError)
    assert "pooling is mean" in str(caught.value)


def test_a_reranker_refuses_to_embed_with_a_clear_error() -> None:
    reranker = model(Pooling.RANK)
    reranker.require_rerank()
    with pytest.raises(UnsupportedTaskError, match="is a reranker"):
        reranker.require_embedding()


def test_minilm_header_says_mean_pooling_384_dimensions(models_dir: Path) -> None:
    info = EmbeddingModel.from_header(read_header_file(models_dir / MINILM))
    assert info == EmbeddingModel(
        name="all-MiniLM-L6-v2",
        architecture="bert",
        declared_pooling=Pooling.MEAN,
        dimension=384,
        context_length=512,
    )
    assert not info.can_rerank
    assert info.load_options(1, 0)["n_ubatch"] == 512


def test_a_chat_model_header_has_no_pooling_and_gets_mean(models_dir: Path) -> None:
    info = EmbeddingModel.from_header(read_header_file(models_dir / "tiny-llama.gguf"))
    assert info.architecture == "llama" and info.declared_pooling is None
    assert info.pooling is Pooling.MEAN and info.dimension == 64
