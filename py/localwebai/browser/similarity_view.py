"""The similarity view: embed one sentence per line, show the cosine similarity of every pair.

It loads its embedding model into its own :class:`Embedder`, beside the chat model, and keeps it
loaded while the URL stays the same. Sentences and numbers are written with ``textContent``.
"""

from __future__ import annotations

import json
from typing import Any

import js

from ..embeddings import Embedding, sentences_from_text, similarity_matrix
from ..environment import Environment
from ..errors import ParameterError
from ..server_models import INDEX_PATH, parse_index
from ..spec import format_bytes
from . import dom
from .blobs import fetch_blob, fetch_json, new_abort_controller
from .embedder import Embedder
from .status import failure_message

VECTOR_DECIMALS = 8


class SimilarityView:
    """``<section id="similarity">``: model URL (or a server model), sentences, the matrix."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.embedder: Embedder | None = None
        self._model_url: str | None = None
        self._busy = False
        self._runs = 0
        """Comparisons finished (done or failed): ``data-runs`` on the status, to wait for."""

    async def start(self) -> None:
        """Wire the form, offer the server's models, and enable the button."""
        form = dom.by_id("similarity-form")
        dom.on(form, "submit", lambda _: self.compare(), prevent_default=True)
        dom.on(dom.by_id("similarity-server-models"), "change", self._on_server_model)
        await self._list_server_models()
        dom.set_enabled("similarity-run", True)
        self._set_status("idle", "Pick an embedding model, type sentences, then Compare.")

    async def _list_server_models(self) -> None:
        select = dom.by_id("similarity-server-models")
        for model in parse_index(await fetch_json(INDEX_PATH)):
            text = f"{model.name} ({format_bytes(model.size)})"
            option = dom.append_text_element(select, "option", text)
            option.value = str(js.URL.new(model.url, js.location.href).href)

    def _on_server_model(self, event: Any) -> None:
        if event.target.value:
            dom.by_id("similarity-model-url").value = event.target.value

    def _set_status(self, state: str, text: str) -> None:
        dom.set_text("similarity-status", text)
        dom.set_state("similarity-status", state)

    def _show_error(self, message: str) -> None:
        dom.set_text("similarity-error", message)
        dom.set_visible("similarity-error", bool(message))

    async def compare(self) -> None:
        """Read the form, (re)load the model if its URL changed, embed, show the matrix."""
        if self._busy:
            return
        self._busy = True
        dom.set_enabled("similarity-run", False)
        self._show_error("")
        try:
            sentences = sentences_from_text(dom.value("similarity-sentences"))
            embedder = await self._embedder_for(dom.value("similarity-model-url").strip())
            self._set_status("embedding", f"Embedding {len(sentences)} sentence(s)…")
            started = js.performance.now()
            embeddings = await embedder.embed_detailed(sentences)
            seconds = (js.performance.now() - started) / 1000
            self._show(embeddings)
            self._set_status(
                "done",
                f"{len(embeddings)} sentence(s), {embeddings[0].dimension} dimensions, "
                f"{embedder.model.name}, {seconds:.2f} s.",
            )
        except Exception as error:  # shown, never left to leave the view stuck
            self._fail(failure_message(error))
        finally:
            self._busy = False
            self._runs += 1
            dom.by_id("similarity-status").dataset.runs = str(self._runs)
            dom.set_enabled("similarity-run", True)

    def _fail(self, message: str) -> None:
        self._show_error(message)
        self._set_status("error", "Failed.")

    async def _embedder_for(self, url: str) -> Embedder:
        if not url:
            raise ParameterError("Give the URL of a GGUF embedding model, or pick one.")
        absolute = str(js.URL.new(url, js.location.href).href)
        if self.embedder is not None and self._model_url == absolute:
            return self.embedder
        if self.embedder is not None:
            await self.embedder.unload()
        self.embedder, self._model_url = None, None

        def progress(received: int, total: int) -> None:
            done = format_bytes(received)
            text = f"{done} of {format_bytes(total)}" if total else done
            self._set_status("loading", f"Downloading the embedding model, {text}…")

        self._set_status("loading", "Downloading the embedding model…")
        blob = await fetch_blob(absolute, new_abort_controller().signal, progress)
        self._set_status("loading", "Loading the embedding model…")
        gpu_layers = self.environment.gpu_layers
        build = self.environment.build_for(int(blob.size), gpu_layers > 0)
        self.embedder = await Embedder.load(blob, self.environment.threads, gpu_layers, build)
        self._model_url = absolute
        return self.embedder

    def _show(self, embeddings: list[Embedding]) -> None:
        matrix = similarity_matrix([e.vector for e in embeddings])
        dom.clear("similarity-matrix")
        table = dom.by_id("similarity-matrix")
        head = dom.append_text_element(dom.append_text_element(table, "thead", ""), "tr", "")
        dom.append_text_element(head, "th", "")
        for column in range(len(embeddings)):
            dom.append_text_element(head, "th", str(column + 1)).scope = "col"
        body = dom.append_text_element(table, "tbody", "")
        for i, (embedding, row) in enumerate(zip(embeddings, matrix, strict=True)):
            tr = dom.append_text_element(body, "tr", "")
            dom.append_text_element(tr, "th", f"{i + 1}. {embedding.text}").scope = "row"
            for j, value in enumerate(row):
                cell = dom.append_text_element(tr, "td", f"{value:.3f}")
                cell.dataset.row = str(i)
                cell.dataset.column = str(j)
                cell.dataset.value = repr(value)
        vectors = [
            {
                "text": e.text,
                "tokens": e.tokens,
                "vector": [round(x, VECTOR_DECIMALS) for x in e.vector],
            }
            for e in embeddings
        ]
        dom.set_text("similarity-vectors", json.dumps(vectors))
        dom.set_visible("similarity-result", True)
