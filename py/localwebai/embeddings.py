"""Sentence embeddings: the decisions and the arithmetic, free of the browser.

An embedding model (all-MiniLM-L6-v2, a BERT) turns a text into one vector; texts that mean
similar things get vectors pointing the same way, which the cosine similarity measures. This
module decides how to load such a model (pooling, context), reads the engine's answers, and does
the vector arithmetic; ``localwebai.browser.embedder`` runs the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .errors import EngineError, LocalWebAIError, ParameterError
from .gguf import GGUFHeader

MAX_EMBEDDING_CONTEXT = 2048
"""Largest context (and batch) an embedder is loaded with: an encoder reads a text in one batch,
so this is also the longest text in tokens; a model trained on less gets its own length."""
FALLBACK_CONTEXT = 512
"""Context for a model whose header does not say how long its inputs may be."""


class UnsupportedTaskError(LocalWebAIError):
    """The loaded model cannot do what was asked (rerank with an embedding model, or back)."""


class Pooling(Enum):
    """How token vectors become one vector: llama.cpp's pooling types, named as wllama takes them.

    The values are the integers of the GGUF key ``<arch>.pooling_type``.
    """

    NONE = 0
    MEAN = 1
    CLS = 2
    LAST = 3
    RANK = 4

    @property
    def engine_name(self) -> str:
        """The ``pooling_type`` string wllama's ``loadModel`` takes."""
        return self.name.lower()


def normalize(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to length 1 (L2); a zero, empty or non-finite vector is a ValueError."""
    length = math.sqrt(math.fsum(x * x for x in vector))
    if not vector or length == 0.0 or not math.isfinite(length):
        raise ValueError(f"cannot normalise a vector of length {length} ({len(vector)} values)")
    return [x / length for x in vector]


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """The cosine of the angle between ``a`` and ``b``: 1 same direction, 0 unrelated."""
    if len(a) != len(b):
        raise ValueError(f"vectors of different sizes: {len(a)} and {len(b)}")
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    length = math.sqrt(math.fsum(x * x for x in a) * math.fsum(y * y for y in b))
    if length == 0.0:
        raise ValueError("the cosine of a zero vector is undefined")
    return max(-1.0, min(1.0, dot / length))


def similarity_matrix(vectors: Sequence[Sequence[float]]) -> list[list[float]]:
    """Cosine similarity of every pair: symmetric, with 1.0 on the diagonal."""
    unit = [normalize(v) for v in vectors]
    size = len(unit)
    matrix = [[1.0] * size for _ in range(size)]
    for i in range(size):
        for j in range(i + 1, size):
            matrix[i][j] = matrix[j][i] = cosine_similarity(unit[i], unit[j])
    return matrix


def sentences_from_text(text: str) -> list[str]:
    """One sentence per non-blank line, stripped; at least one is needed."""
    sentences = [line.strip() for line in text.splitlines() if line.strip()]
    if not sentences:
        raise ParameterError("Type at least one sentence (one per line) to compare.")
    return sentences


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts to embed, as a list: strings, at least one, none blank."""
    if isinstance(texts, str):
        raise ParameterError("Pass a list of texts to embed, not a single string.")
    texts = list(texts)
    if not texts:
        raise ParameterError("Nothing to embed: the list of texts is empty.")
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ParameterError(f"Text {index + 1} is empty or not text: {text!r}.")
    return texts


@dataclass(frozen=True)
class Embedding:
    """One text's embedding: a unit-length vector, and how many tokens the model read."""

    text: str
    vector: tuple[float, ...]
    tokens: int | None = None

    @property
    def dimension(self) -> int:
        return len(self.vector)

    @classmethod
    def from_response(cls, text: str, response: Mapping[str, Any]) -> Embedding:
        """Read wllama's OpenAI-style answer to one input (``data[0].embedding``), normalised."""
        data = response.get("data") or []
        vector = data[0].get("embedding") if data else None
        if not vector:
            raise EngineError(f"The engine returned no embedding for {text[:40]!r}.")
        try:
            unit = normalize([float(x) for x in vector])
        except ValueError as error:
            raise EngineError(f"The engine returned an unusable embedding: {error}.") from None
        tokens = (response.get("usage") or {}).get("prompt_tokens")
        return cls(text=text, vector=tuple(unit), tokens=None if tokens is None else int(tokens))


@dataclass(frozen=True)
class RerankScore:
    """How relevant document ``index`` (in the order given) is to the query; higher is closer."""

    index: int
    score: float

    @classmethod
    def list_from_response(cls, response: Mapping[str, Any]) -> list[RerankScore]:
        """wllama's rerank answer (``results``: index, relevance_score), best first."""
        scores = [
            cls(index=int(r["index"]), score=float(r["relevance_score"]))
            for r in response.get("results") or []
        ]
        return sorted(scores, key=lambda s: s.score, reverse=True)


@dataclass(frozen=True)
class EmbeddingModel:
    """What a model's GGUF header says about using it for embeddings or reranking."""

    name: str
    architecture: str
    declared_pooling: Pooling | None
    """The header's ``<arch>.pooling_type``; None when it has none (a chat model, say)."""
    dimension: int | None
    context_length: int | None

    @classmethod
    def from_header(cls, header: GGUFHeader) -> EmbeddingModel:
        arch = header.architecture or "unknown"
        pooling = header.get(f"{arch}.pooling_type")
        known = type(pooling) is int and pooling in {p.value for p in Pooling}
        declared = Pooling(pooling) if known else None
        dimension = header.get(f"{arch}.embedding_length")
        context = header.get(f"{arch}.context_length")
        name = header.get("general.name")
        return cls(
            name=name if isinstance(name, str) and name else arch,
            architecture=arch,
            declared_pooling=declared,
            dimension=dimension if isinstance(dimension, int) else None,
            context_length=context if isinstance(context, int) and context > 0 else None,
        )

    @property
    def pooling(self) -> Pooling:
        """The pooling to load with: the model's own; mean when it declares none (or 'none',
        which gives one vector per token instead of one per text)."""
        if self.declared_pooling in (None, Pooling.NONE):
            return Pooling.MEAN
        return self.declared_pooling

    @property
    def can_rerank(self) -> bool:
        """Only a model with a ranking head (pooling type 'rank') scores query/document pairs."""
        return self.pooling is Pooling.RANK

    @property
    def context(self) -> int:
        """Context and batch size to load with (see MAX_EMBEDDING_CONTEXT)."""
        return min(self.context_length or FALLBACK_CONTEXT, MAX_EMBEDDING_CONTEXT)

    def load_options(self, n_threads: int, n_gpu_layers: int) -> dict[str, Any]:
        """wllama ``loadModel`` parameters for embedding (or, for a ranking model, reranking)."""
        if n_threads < 1:
            raise ParameterError(f"Threads must be at least 1, not {n_threads}.")
        if n_gpu_layers < 0:
            raise ParameterError("GPU layers cannot be negative.")
        return {
            "embeddings": True,
            "pooling_type": self.pooling.engine_name,
            "n_ctx": self.context,
            "n_batch": self.context,
            "n_ubatch": self.context,
            "n_threads": n_threads,
            "n_gpu_layers": n_gpu_layers,
        }

    def require_embedding(self) -> None:
        """Raise unless this model gives embeddings (a reranker gives scores instead)."""
        if self.can_rerank:
            raise UnsupportedTaskError(
                f"{self.name} is a reranker: it scores a query against documents and gives no "
                "embeddings. Use rerank(), or load an embedding model such as all-MiniLM-L6-v2."
            )

    def require_rerank(self) -> None:
        """Raise unless this model has a ranking head."""
        if not self.can_rerank:
            raise UnsupportedTaskError(
                f"{self.name} cannot rerank: it has no ranking head (its pooling is "
                f"{self.pooling.engine_name}). Load a reranker model (GGUF pooling type 'rank'), "
                "or compare embeddings with cosine similarity instead."
            )
