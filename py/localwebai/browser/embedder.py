"""An embedding model in its own wllama instance (and Web Worker), beside any chat model.

from localwebai.browser.embedder import Embedder
from localwebai.embeddings import cosine_similarity

env = await probe()  # localwebai.browser.environment; blob: a JS Blob of a GGUF embedding model
embedder = await Embedder.load(blob, env.threads, 0, env.build_for(int(blob.size), gpu=False))
a, b = await embedder.embed(["The cat sits on the mat.", "A cat is on a rug."])
print(cosine_similarity(a, b))
await embedder.unload()
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from pyodide.ffi import JsException

from ..embeddings import Embedding, EmbeddingModel, RerankScore, check_texts
from ..errors import ModelNotLoadedError
from ..model_header import read_header
from .blobs import read_bytes
from .engine import engine_error, exit_wllama, load_wllama
from .jsinterop import to_js_object, to_py_dict


class Embedder:
    """A loaded embedding (or reranking) model; every failure is a ``LocalWebAIError``."""

    def __init__(self, wllama: Any, model: EmbeddingModel) -> None:
        self._wllama = wllama
        self.model = model
        """What the model's header says: name, pooling, dimension, context."""

    @classmethod
    async def load(cls, blob: Any, n_threads: int, n_gpu_layers: int, build: str) -> Embedder:
        """Load a GGUF from a Blob (read lazily by the worker) with the model's own pooling, on
        the wasm ``build`` (``Environment.build_for``)."""
        header = await read_header(partial(read_bytes, blob), int(blob.size))
        model = EmbeddingModel.from_header(header)
        options = model.load_options(n_threads, n_gpu_layers)
        wllama = await load_wllama(blob, options, build)
        return cls(wllama, model)

    @property
    def loaded(self) -> bool:
        return self._wllama is not None

    def _engine(self) -> Any:
        if self._wllama is None:
            raise ModelNotLoadedError("The embedding model was unloaded: load it again.")
        return self._wllama

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order."""
        return [list(e.vector) for e in await self.embed_detailed(texts)]

    async def embed_detailed(self, texts: Sequence[str]) -> list[Embedding]:
        """One :class:`Embedding` (text, unit vector, token count) per text, in order.

        Each text is its own engine call: given several inputs at once, wllama returned fewer
        vectors than texts.
        """
        self.model.require_embedding()
        results = []
        for text in check_texts(texts):
            try:
                response = await self._engine().createEmbedding(to_js_object({"input": text}))
            except JsException as error:
                raise engine_error(error) from None
            results.append(Embedding.from_response(text, to_py_dict(response)))
        return results

    async def rerank(self, query: str, documents: Sequence[str]) -> list[RerankScore]:
        """Score each document against ``query`` (a reranker model only), best first."""
        self.model.require_rerank()
        options = {"query": check_texts([query])[0], "documents": check_texts(documents)}
        try:
            response = await self._engine().createRerank(to_js_object(options))
        except JsException as error:
            raise engine_error(error) from None
        return RerankScore.list_from_response(to_py_dict(response))

    async def unload(self) -> None:
        """Free the model and end its worker; safe to call more than once."""
        wllama, self._wllama = self._wllama, None
        if wllama is not None:
            await exit_wllama(wllama)
