"""An embedding model natively: llama-cpp-python in embedding mode, on its own worker thread.

The same decisions as the page's ``localwebai.browser.embedder`` (the model's own pooling, its
context, one call per text), from ``localwebai.embeddings``.
"""

from __future__ import annotations

from collections.abc import Sequence

import llama_cpp
from llama_cpp import Llama

from ..embeddings import Embedding, EmbeddingModel, check_texts
from ..errors import ModelNotLoadedError
from ..gguf import read_header_file
from .blobs import FileRegion
from .engine import Worker, engine_error, model_path


class NativeEmbedder:
    """A loaded embedding model; every failure is a ``LocalWebAIError``."""

    def __init__(self, llama: Llama, model: EmbeddingModel, worker: Worker) -> None:
        self._llama: Llama | None = llama
        self._worker = worker
        self.model = model
        """What the model's header says: name, pooling, dimension, context."""

    @classmethod
    async def load(
        cls, blob: FileRegion, n_threads: int = 1, n_gpu_layers: int = 0, build: str = ""
    ) -> NativeEmbedder:
        """Load a GGUF embedding model from its file, with the model's own pooling (one build
        natively: ``build`` is ignored)."""
        path = model_path(blob)
        header = read_header_file(path)
        model = EmbeddingModel.from_header(header)
        options = model.load_options(n_threads, n_gpu_layers)
        if n_gpu_layers > 0 and not llama_cpp.llama_supports_gpu_offload():
            options["n_gpu_layers"] = 0  # as in the page: embeddings fall back to the CPU
        worker = Worker()

        def load() -> Llama:
            return Llama(
                model_path=path,
                embedding=True,
                pooling_type=model.pooling.value,
                n_ctx=options["n_ctx"],
                n_batch=options["n_batch"],
                n_ubatch=options["n_ubatch"],
                n_threads=options["n_threads"],
                n_threads_batch=options["n_threads"],
                n_gpu_layers=options["n_gpu_layers"],
                verbose=False,
            )

        try:
            llama = await worker.call(load)
        except Exception as error:  # llama-cpp-python raises ValueError, RuntimeError, ...
            worker.shutdown()
            raise engine_error(error, loading=True) from None
        return cls(llama, model, worker)

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order."""
        return [list(e.vector) for e in await self.embed_detailed(texts)]

    async def embed_detailed(self, texts: Sequence[str]) -> list[Embedding]:
        """One :class:`Embedding` (text, unit vector, token count) per text, in order."""
        self.model.require_embedding()
        llama = self._llama
        if llama is None:
            raise ModelNotLoadedError("The embedding model was unloaded: load it again.")
        results = []
        for text in check_texts(texts):
            try:
                response = await self._worker.call(lambda t=text: llama.create_embedding(t))
            except Exception as error:
                raise engine_error(error) from None
            results.append(Embedding.from_response(text, dict(response)))
        return results

    async def unload(self) -> None:
        """Free the model and end its thread; safe to call more than once."""
        llama, self._llama = self._llama, None
        if llama is not None:
            await self._worker.call(llama.close)
            self._worker.shutdown()
