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
from ..conversations import ConversationStore
from ..errors import LocalWebAIError, ModelTooLargeError, ParameterError
from ..memory import MemoryEstimate
from ..model_header import ModelInspection
from ..params import LoadChoices, LoadParams
from ..progress import LoadProgress, LoadStage, OverallProgress
from ..runner import EngineInfo, LlamaRunner
from ..server_models import INDEX_PATH, parse_index
from ..sources import ModelSource
from ..spec import format_bytes
from . import dom
from .bench_panel import BenchPanel
from .blobs import fetch_json, new_abort_controller
from .boot import boot_record
from .cache_panel import CachePanel
from .catalogue_view import CatalogueView
from .chat_view import ChatView
from .conversation_db import IndexedDBConversations
from .conversations_view import ConversationsView
from .layout import close_dialog, open_dialog, wire_layout
from .runtime import create_runner
from .similarity_view import SimilarityView
from .status import MODEL_READY, READY, PageStatus, failure_message

LOAD_FIELDS = {
    "n_ctx": "context-size",
    "n_batch": "batch-size",
    "n_threads": "threads",
    "n_gpu_layers": "gpu-layers",
}
"""The load settings' fields (``LoadChoices``); the chat's parameters panel holds all but the
context."""


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


class App:
    """State of one page: the engine, the conversation, and what is in flight."""

    def __init__(self, runner: LlamaRunner) -> None:
        self.runner = runner
        self.status = PageStatus()
        self.catalogue = CatalogueView(
            runner.store.cache, runner.environment, self.start_load, self.status.report
        )
        self.cache_panel = CachePanel(
            runner.store.cache, self.start_load, self.status.report, self.catalogue.refresh
        )
        store = ConversationStore(IndexedDBConversations())
        self.chat = ChatView(
            runner, self.status, self.show_ready_status, store, self._conversation_saved
        )
        self.conversations = ConversationsView(
            store, self.chat.open_conversation, self.status.report, self.chat.conversation_deleted
        )
        self._model_task: asyncio.Future[None] | None = None
        self._model_abort: Any = None
        self._overall = OverallProgress()
        self._pending: tuple[ModelSource, ModelInspection] | None = None
        """Inspected and waiting for "Download and load" (which reuses the parsed header)."""

    # ---- wiring -------------------------------------------------------------------------

    def wire(self) -> None:
        dom.on(dom.by_id("url-form"), "submit", self._on_url_submit, prevent_default=True)
        dom.on(dom.by_id("inspect-url"), "click", self._on_inspect)
        dom.on(dom.by_id("load-inspected"), "click", self._on_load_inspected)
        dom.on(dom.by_id("file-input"), "change", self._on_file_chosen)
        dom.on(dom.by_id("cancel-load"), "click", lambda _: self.cancel_load())
        for element_id in LOAD_FIELDS.values():
            dom.on(dom.by_id(element_id), "change", lambda _: self._check_load_fields())
        self.cache_panel.wire()
        self.catalogue.wire()
        self.chat.wire()
        self.conversations.wire()
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
            self.status.report(error)
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
        models = parse_index(await fetch_json(INDEX_PATH))
        dom.clear("server-model-list")
        target = dom.by_id("server-model-list")
        for model in models:
            item = dom.append_text_element(target, "li", "")
            button = dom.append_text_element(item, "button", model.name)
            button.type = "button"
            button.className = "server-model"
            dom.append_text_element(item, "span", f" {format_bytes(model.size)}", "muted")
            url = str(js.URL.new(model.url, js.location.href).href)
            source = ModelSource(label=model.name, url=url)
            dom.on(button, "click", lambda _, s=source: self.start_load(s))
        dom.set_visible("server-models", bool(models))

    async def _conversation_saved(self, conversation_id: str | None) -> None:
        await self.conversations.refresh(conversation_id)

    async def restore_last_conversation(self) -> None:
        """After a reload: the conversation used last, as it was left."""
        try:
            summaries = await self.conversations.store.list()
            latest = summaries and await self.conversations.store.get(summaries[0].id)
        except LocalWebAIError as error:
            self.status.report(error)
            return
        if latest:
            await self.chat.open_conversation(latest)
        await self.conversations.refresh(latest.id if latest else None)

    # ---- status -----------------------------------------------------------------------

    def set_picker_enabled(self, enabled: bool) -> None:
        for element_id in ("inspect-url", "load-url", "file-input"):
            dom.set_enabled(element_id, enabled)
        for button in js.document.querySelectorAll("button.server-model"):
            button.disabled = not enabled
        self.cache_panel.set_enabled(enabled)
        self.catalogue.set_enabled(enabled)

    def show_ready_status(self) -> None:
        if self.runner.loaded:
            self.status.set(MODEL_READY, f"Ready: {self.runner.model_name}")
        else:
            self.status.set(READY, "Python ready. Pick a model to load.")

    @contextlib.contextmanager
    def engine_in_use(self, state: str, text: str) -> Iterator[None]:
        """Model picker and chat disabled while another panel uses the engine; then restored."""
        self.set_picker_enabled(False)
        self.chat.set_enabled(False)
        self.status.set(state, text)
        try:
            yield
        finally:
            self.set_picker_enabled(True)
            self.chat.set_enabled(self.runner.loaded)
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
        """One bar across every stage; the text says the stage with bytes, rate and time left."""
        if progress.note:
            dom.append_text_element(dom.by_id("load-notice"), "span", progress.note + " ")
            dom.set_visible("load-notice", True)
            return
        bar = dom.by_id("load-progress")
        value = self._overall.update(progress)
        if value is None:
            bar.removeAttribute("value")  # a download of unknown size: indeterminate
        else:
            bar.value = value
        dom.by_id("load-panel").dataset.stage = progress.stage.value
        dom.set_text("load-text", describe_progress(progress))
        if progress.stage is not LoadStage.READY:
            self.status.set("loading", f"{progress.stage.value.capitalize()}…")

    async def _run_model_task(
        self, source: ModelSource, inspection: ModelInspection | None, load: bool
    ) -> None:
        """Inspect (and with ``load``, download and start) a model; every failure ends here.

        A failure before the engine is touched (bad file, 404, too large, cancelled download)
        leaves a model that is already loaded loaded and usable.
        """
        self._model_abort = new_abort_controller()
        self.status.clear_error()
        close_dialog("models-dialog")  # progress, errors and the chat are on the page
        self.set_picker_enabled(False)
        self.chat.set_enabled(False)
        dom.set_visible("load-inspected", False)
        dom.set_visible("load-panel", True)
        self._overall = OverallProgress()
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
                name = inspection.spec.name or source.label
                self.status.set("inspected", f"Inspected {name}.")
                open_dialog("details-dialog")
        except asyncio.CancelledError:
            await self._after_failure("Loading cancelled.", keep_inspection=False)
        except ModelTooLargeError as error:
            await self._after_failure(str(error), keep_inspection=True)
        except Exception as error:
            await self._after_failure(failure_message(error), keep_inspection=False)
        finally:
            dom.set_visible("load-panel", False)
            self.set_picker_enabled(True)
            self.chat.set_enabled(self.runner.loaded)
            self._model_abort = None
            # the cache list (and with it the catalogue) is refreshed beside, not inside, this
            # task: a next load asked for as soon as the page says "ready" must find none running
            dom.run_beside(self.cache_panel.refresh())

    async def _after_failure(self, message: str, keep_inspection: bool) -> None:
        if not self.runner.loaded:
            await self.runner.unload()  # a half-started engine (cancelled or failed load)
        dom.set_visible("model-info", keep_inspection)
        dom.set_visible("no-details", not keep_inspection and not self.runner.loaded)
        self.show_ready_status()
        self.status.show_error(message)

    async def _inspect(self, source: ModelSource) -> ModelInspection:
        """Parse the header: Range requests for a URL, a Blob slice for a file. No weights."""
        self._on_progress(LoadProgress(LoadStage.READING_HEADER))
        self.status.set("loading", f"Reading the header of {source.label}…")
        inspection = await self.runner.inspect(source, self._model_abort.signal)
        self._show_inspection(inspection)
        return inspection

    @staticmethod
    def _load_choices() -> LoadChoices:
        return LoadChoices.from_form({name: dom.value(id_) for name, id_ in LOAD_FIELDS.items()})

    def _check_load_fields(self) -> None:
        """An invalid engine setting is reported when it is typed, not at the next load."""
        try:
            self._load_choices()
            self.status.clear_error()
        except LocalWebAIError as error:
            self.status.report(error)

    def _load_params(self, inspection: ModelInspection) -> LoadParams:
        return self.runner.load_params(inspection, self._load_choices())

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
        dom.set_text("model-name", self.runner.model_name)
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
        dom.set_visible("no-details", False)

    def _show_memory(self, inspection: ModelInspection, n_ctx: int) -> MemoryEstimate:
        estimate = self.runner.memory_estimate(inspection, n_ctx)
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
    runner = await create_runner()
    dom.set_text("environment", runner.environment.summary())
    app = App(runner)
    wire_layout()
    app.wire()
    BenchPanel(runner, app.status, app.engine_in_use).wire()
    await SimilarityView(runner.environment).start()
    await app.list_server_models()
    await app.cache_panel.refresh()  # and the catalogue, with the same records
    await app.restore_last_conversation()
    app.set_picker_enabled(True)
    boot = boot_record()
    if boot.snapshot_error:  # a normal start instead: only slower
        js.console.warn(f"LocalWebAI: Python started without its snapshot: {boot.snapshot_error}")
    app.status.set(READY, boot.ready_message(boot_seconds))
    js.document.body.dataset.pythonBootMs = str(round(boot_seconds * 1000))
    js.document.body.dataset.pythonBoot = boot.source
    await app.chat.load_markdown()
