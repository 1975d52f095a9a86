"""The page's UI controller: wires the DOM to model loading and chat.

Decisions live in the pure core (params, environment, chat, generation, gguf); this module only
moves values between the page and those objects, and keeps the UI responsive and honest about
what is happening. Everything model-derived is written with ``textContent``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import js

from ..cache import parse_sha256
from ..environment import Environment
from ..errors import LocalWebAIError, ModelTooLargeError, ParameterError
from ..memory import MemoryEstimate
from ..model_header import ModelInspection
from ..params import LoadParams
from ..progress import LoadProgress, LoadStage
from ..sources import ModelSource
from ..spec import format_bytes
from . import dom
from .bench_panel import BenchPanel
from .blobs import fetch_json, new_abort_controller
from .cache_panel import CachePanel
from .chat_view import ChatView
from .engine import EngineInfo
from .runner import LlamaRunner
from .similarity_view import SimilarityView

SERVER_MODELS_INDEX = "./models/index.json"


def describe_progress(progress: LoadProgress) -> str:
    """Text like 'Downloading, 12.0 MB of 98.0 MB, 4.1 MB/s, 21 s left' (parts shown when known)."""
    parts = [progress.stage.value.capitalize()]
    if progress.total:
        parts.append(f"{format_bytes(progress.done)} of {format_bytes(progress.total)}")
    elif progress.done:
        parts.append(format_bytes(progress.done))
    if progress.bytes_per_second:
        parts.append(f"{format_bytes(round(progress.bytes_per_second))}/s")
    if progress.eta_seconds is not None:
        parts.append(f"{progress.eta_seconds:.0f} s left")
    return ", ".join(parts)


def describe(error: Exception) -> str:
    """The message for the page: ours as written; anything else is a bug, shown and logged."""
    if isinstance(error, LocalWebAIError):
        return str(error)
    js.console.error(f"unexpected {type(error).__name__}: {error}")
    return f"Unexpected error ({type(error).__name__}): {error}"


class App:
    """State of one page: the engine, the conversation, and what is in flight."""

    def __init__(self, runner: LlamaRunner) -> None:
        self.runner = runner
        self.environment: Environment = runner.environment
        self.engine = runner.engine
        self.cache_panel = CachePanel(runner.store.cache, self.start_load, self._show_failure)
        self.chat = ChatView(
            runner, self._show_failure, self.clear_error, self.set_status, self.show_ready_status
        )
        self.model_name = ""
        self._model_task: asyncio.Future[None] | None = None
        self._model_abort: Any = None
        self._pending: tuple[ModelSource, ModelInspection] | None = None
        """Inspected and waiting for "Download and load" (which reuses the parsed header)."""

    # ---- wiring -------------------------------------------------------------------------

    def wire(self) -> None:
        dom.on(dom.by_id("url-form"), "submit", self._on_url_submit, prevent_default=True)
        dom.on(dom.by_id("inspect-url"), "click", self._on_inspect)
        dom.on(dom.by_id("load-inspected"), "click", self._on_load_inspected)
        dom.on(dom.by_id("file-input"), "change", self._on_file_chosen)
        dom.on(dom.by_id("cancel-load"), "click", lambda _: self.cancel_load())
        self.cache_panel.wire()
        self.chat.wire()
        zone = dom.by_id("drop-zone")
        dom.on(zone, "dragover", lambda _: zone.classList.add("dragging"), prevent_default=True)
        dom.on(zone, "dragleave", lambda _: zone.classList.remove("dragging"))
        dom.on(zone, "drop", self._on_drop, prevent_default=True)
        # a file dropped beside the zone must not navigate away from the app
        dom.on(js.window, "dragover", lambda _: None, prevent_default=True)
        dom.on(js.window, "drop", lambda _: None, prevent_default=True)

    def _url_source(self) -> ModelSource | None:
        url = dom.value("model-url").strip()
        if not url:
            return None
        absolute = str(js.URL.new(url, js.location.href).href)
        try:
            expected = parse_sha256(dom.value("model-sha256"))
        except ParameterError as error:
            self.show_error(str(error))
            return None
        return ModelSource.from_url(absolute, expected)

    def _on_url_submit(self, _event: Any) -> None:
        if source := self._url_source():
            self.start_load(source)

    def _on_inspect(self, _event: Any) -> None:
        if source := self._url_source():
            self.start_inspect(source)

    def _on_load_inspected(self, _event: Any) -> None:
        if self._pending is not None:
            self._start_model_task(*self._pending, load=True)

    def _on_file_chosen(self, event: Any) -> None:
        files = event.target.files
        if files.length:
            self.start_load(ModelSource.from_file(files.item(0), str(files.item(0).name)))
        event.target.value = ""  # choosing the same file again fires 'change' again

    def _on_drop(self, event: Any) -> None:
        dom.by_id("drop-zone").classList.remove("dragging")
        files = event.dataTransfer.files
        if files.length:
            self.start_load(ModelSource.from_file(files.item(0), str(files.item(0).name)))

    async def list_server_models(self) -> None:
        index = await fetch_json(SERVER_MODELS_INDEX)
        models = (index or {}).get("models") or []
        dom.clear("server-model-list")
        target = dom.by_id("server-model-list")
        for model in models:
            item = dom.append_text_element(target, "li", "")
            button = dom.append_text_element(item, "button", str(model["name"]))
            button.type = "button"
            button.className = "server-model"
            dom.append_text_element(item, "span", f" {format_bytes(int(model['size']))}", "muted")
            url = str(js.URL.new(str(model["url"]), js.location.href).href)
            source = ModelSource(label=str(model["name"]), url=url)
            dom.on(button, "click", lambda _, s=source: self.start_load(s))
        dom.set_visible("server-models", bool(models))

    # ---- status and errors ---------------------------------------------------------------

    def set_status(self, state: str, text: str) -> None:
        dom.set_text("status", text)
        dom.set_state("status", state)
        js.document.body.dataset.state = state

    def show_error(self, message: str) -> None:
        dom.set_text("error", message)
        dom.set_visible("error", True)

    def clear_error(self) -> None:
        dom.set_text("error", "")
        dom.set_visible("error", False)

    def _show_failure(self, error: Exception) -> None:
        self.show_error(describe(error))

    def set_picker_enabled(self, enabled: bool) -> None:
        for element_id in ("inspect-url", "load-url", "file-input"):
            dom.set_enabled(element_id, enabled)
        for button in js.document.querySelectorAll("button.server-model"):
            button.disabled = not enabled
        self.cache_panel.set_enabled(enabled)

    def show_ready_status(self) -> None:
        if self.engine.loaded:
            self.set_status("model-ready", f"Ready: {self.model_name}")
        else:
            self.set_status("ready", "Python ready. Pick a model to load.")

    @contextlib.contextmanager
    def engine_in_use(self, state: str, text: str) -> Iterator[None]:
        """Model picker and chat disabled while another panel uses the engine; then restored."""
        self.set_picker_enabled(False)
        self.chat.set_enabled(False)
        self.set_status(state, text)
        try:
            yield
        finally:
            self.set_picker_enabled(True)
            self.chat.set_enabled(self.engine.loaded)
            self.show_ready_status()

    # ---- inspecting and loading ---------------------------------------------------------

    def start_inspect(self, source: ModelSource) -> None:
        self._start_model_task(source, None, load=False)

    def start_load(self, source: ModelSource) -> None:
        self._start_model_task(source, None, load=True)

    def _start_model_task(
        self, source: ModelSource, inspection: ModelInspection | None, load: bool
    ) -> None:
        if self._model_task is not None and not self._model_task.done():
            return
        self._pending = None
        task = self._run_model_task(source, inspection, load)
        self._model_task = asyncio.ensure_future(task)

    def cancel_load(self) -> None:
        if self._model_abort is not None:
            self._model_abort.abort()
        if self._model_task is not None and not self._model_task.done():
            self._model_task.cancel()

    def _on_progress(self, progress: LoadProgress) -> None:
        """Show a stage with bytes, rate and time left; indeterminate when the size is unknown."""
        bar = dom.by_id("load-progress")
        fraction = progress.fraction
        if fraction is None:
            bar.removeAttribute("value")
        else:
            bar.value = fraction
        if progress.note:
            dom.append_text_element(dom.by_id("load-notice"), "span", progress.note + " ")
            dom.set_visible("load-notice", True)
            return
        dom.by_id("load-panel").dataset.stage = progress.stage.value
        dom.set_text("load-text", describe_progress(progress))
        if progress.stage is not LoadStage.READY:
            self.set_status("loading", f"{progress.stage.value.capitalize()}…")

    async def _run_model_task(
        self, source: ModelSource, inspection: ModelInspection | None, load: bool
    ) -> None:
        """Inspect (and with ``load``, download and start) a model; every failure ends here.

        A failure before the engine is touched (bad file, 404, too large, cancelled download)
        leaves a model that is already loaded loaded and usable.
        """
        self._model_abort = new_abort_controller()
        self.clear_error()
        self.set_picker_enabled(False)
        self.chat.set_enabled(False)
        dom.set_visible("load-inspected", False)
        dom.set_visible("load-panel", True)
        dom.by_id("load-progress").value = 0
        dom.set_text("load-text", "")
        dom.clear("load-notice")
        dom.set_visible("load-notice", False)
        try:
            if inspection is None:
                inspection = await self._inspect(source)
            else:
                self._show_inspection(inspection)
            if load:
                await self._load(source, inspection)
            else:
                self._pending = (source, inspection)
                dom.set_visible("load-inspected", True)
                self.set_status("inspected", f"Inspected {self._title(source, inspection)}.")
        except asyncio.CancelledError:
            await self._after_failure("Loading cancelled.", keep_inspection=False)
        except ModelTooLargeError as error:
            await self._after_failure(str(error), keep_inspection=True)
        except Exception as error:
            await self._after_failure(describe(error), keep_inspection=False)
        finally:
            dom.set_visible("load-panel", False)
            self.set_picker_enabled(True)
            self.chat.set_enabled(self.engine.loaded)
            self._model_abort = None
            await self.cache_panel.refresh()

    async def _after_failure(self, message: str, keep_inspection: bool) -> None:
        if not self.engine.loaded:
            await self.engine.unload()  # a half-started engine (cancelled or failed load)
        dom.set_visible("model-info", keep_inspection)
        self.show_ready_status()
        self.show_error(message)

    @staticmethod
    def _title(source: ModelSource, inspection: ModelInspection) -> str:
        return inspection.spec.name or source.label

    async def _inspect(self, source: ModelSource) -> ModelInspection:
        """Parse the header: Range requests for a URL, a Blob slice for a file. No weights."""
        self._on_progress(LoadProgress(LoadStage.READING_HEADER))
        self.set_status("loading", f"Reading the header of {source.label}…")
        inspection = await self.runner.inspect(source, self._model_abort.signal)
        self._show_inspection(inspection)
        return inspection

    def _load_params(self, inspection: ModelInspection) -> LoadParams:
        wanted = dom.value("context-size")
        try:
            n_ctx = int(wanted)
        except ValueError:
            raise ParameterError(f"Context must be a whole number, not {wanted!r}.") from None
        return self.runner.load_params(inspection, n_ctx)

    async def _load(self, source: ModelSource, inspection: ModelInspection) -> None:
        params = self._load_params(inspection)
        self._show_memory(inspection, params.n_ctx)
        started = js.performance.now()
        info = await self.runner.load_model(
            source, params, self._on_progress, self._model_abort.signal, inspection
        )
        seconds = (js.performance.now() - started) / 1000
        js.document.body.dataset.lastLoadMs = str(round(seconds * 1000))
        self._show_engine_info(info, params, seconds)
        self.model_name = self._title(source, inspection)
        self.chat.model_loaded()
        self.show_ready_status()

    def _show_inspection(self, inspection: ModelInspection) -> None:
        dom.clear("model-metadata")
        target = dom.by_id("model-metadata")
        for label, text in inspection.spec.summary():
            dom.append_text_element(target, "dt", label)
            dom.append_text_element(target, "dd", text).dataset.field = label.lower()
        template = inspection.spec.chat_template
        dom.set_text(
            "chat-template",
            template or "This model has no chat template: chat uses the engine's default format.",
        )
        dom.clear("metadata-table")
        rows = inspection.metadata_rows()
        table = dom.by_id("metadata-table")
        for key, kind, text in rows:
            row = dom.append_text_element(table, "tr", "")
            for cell in (key, kind, text):
                dom.append_text_element(row, "td", cell)
        dom.set_text("metadata-count", str(len(rows)))
        try:
            self._show_memory(inspection, self._load_params(inspection).n_ctx)
        except ParameterError as error:
            dom.set_text("memory-estimate", str(error))
        dom.set_visible("model-info", True)

    def _show_memory(self, inspection: ModelInspection, n_ctx: int) -> MemoryEstimate:
        estimate = inspection.memory(n_ctx, self.environment.device_memory_gib)
        dom.set_text("memory-estimate", f"Memory: {estimate.message()}")
        dom.by_id("memory-estimate").classList.toggle("too-large", not estimate.fits)
        return estimate

    def _show_engine_info(self, info: EngineInfo, params: LoadParams, seconds: float) -> None:
        target = dom.by_id("model-metadata")
        mode = "multi-thread" if info.multithread else "single-thread"
        rows = [
            ("Engine", f"{info.threads} thread(s), {mode}, {self.runner.backend}"),
            ("Build", f"{info.build} wasm build"),
            ("Context", f"{params.n_ctx} tokens"),
            ("Loaded in", f"{seconds:.2f} s"),
        ]
        for label, text in rows:
            dom.append_text_element(target, "dt", label)
            dom.append_text_element(target, "dd", text).dataset.field = label.lower()


async def main() -> None:
    """Entry point called by ``web/main.py`` once PyScript has booted Python."""
    boot_seconds = js.performance.now() / 1000
    runner = await LlamaRunner.create()
    dom.set_text("environment", runner.environment.summary())
    app = App(runner)
    app.wire()
    BenchPanel(app).wire()
    await SimilarityView(runner.environment).start()
    await app.list_server_models()
    await app.cache_panel.refresh()
    app.set_picker_enabled(True)
    app.set_status("ready", f"Python ready in {boot_seconds:.1f} s. Pick a model to load.")
    js.document.body.dataset.pythonBootMs = str(round(boot_seconds * 1000))
