"""The page's UI controller: wires the DOM to model loading and chat.

Decisions live in the pure core (params, environment, chat, generation, gguf); this module only
moves values between the page and those objects, and keeps the UI responsive and honest about
what is happening. Everything model-derived is written with ``textContent``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import Any

import js

from ..chat import ChatHistory
from ..environment import Environment
from ..errors import LocalWebAIError, ModelTooLargeError, ParameterError
from ..generation import GenerationResult
from ..gguf import FIRST_READ_SIZE
from ..memory import MemoryEstimate
from ..model_header import ModelInspection, inspect_model
from ..params import GenerationParams, LoadParams
from ..spec import format_bytes
from . import dom
from .blobs import fetch_blob, fetch_json, fetch_range, new_abort_controller, read_bytes
from .engine import EngineInfo, WllamaEngine
from .environment import probe

SERVER_MODELS_INDEX = "./models/index.json"


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: a URL, or a local File (a Blob) the user picked or dropped."""

    label: str
    url: str | None = None
    file: Any = None


def describe(error: Exception) -> str:
    """The message for the page: ours as written; anything else is a bug, shown and logged."""
    if isinstance(error, LocalWebAIError):
        return str(error)
    js.console.error(f"unexpected {type(error).__name__}: {error}")
    return f"Unexpected error ({type(error).__name__}): {error}"


class App:
    """State of one page: the engine, the conversation, and what is in flight."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.engine = WllamaEngine()
        self.history = ChatHistory()
        self.model_name = ""
        self._model_task: asyncio.Future[None] | None = None
        self._model_abort: Any = None
        self._pending: tuple[ModelSource, ModelInspection] | None = None
        """Inspected and waiting for "Download and load" (which reuses the parsed header)."""
        self._generate_abort: Any = None

    # ---- wiring -------------------------------------------------------------------------

    def wire(self) -> None:
        dom.on(dom.by_id("url-form"), "submit", self._on_url_submit, prevent_default=True)
        dom.on(dom.by_id("inspect-url"), "click", self._on_inspect)
        dom.on(dom.by_id("load-inspected"), "click", self._on_load_inspected)
        dom.on(dom.by_id("file-input"), "change", self._on_file_chosen)
        dom.on(dom.by_id("cancel-load"), "click", lambda _: self.cancel_load())
        dom.on(dom.by_id("prompt-form"), "submit", lambda _: self.send(), prevent_default=True)
        dom.on(dom.by_id("prompt"), "keydown", self._on_prompt_key)
        dom.on(dom.by_id("stop"), "click", lambda _: self.stop())
        dom.on(dom.by_id("clear-chat"), "click", lambda _: self.new_chat())
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
        return ModelSource(label=absolute, url=absolute)

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
            self.start_load(ModelSource(label=str(files.item(0).name), file=files.item(0)))
        event.target.value = ""  # choosing the same file again fires 'change' again

    def _on_drop(self, event: Any) -> None:
        dom.by_id("drop-zone").classList.remove("dragging")
        files = event.dataTransfer.files
        if files.length:
            self.start_load(ModelSource(label=str(files.item(0).name), file=files.item(0)))

    def _on_prompt_key(self, event: Any) -> None:
        if event.key == "Enter" and not event.shiftKey:
            event.preventDefault()
            dom.by_id("prompt-form").requestSubmit()

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

    def set_picker_enabled(self, enabled: bool) -> None:
        for element_id in ("inspect-url", "load-url", "file-input"):
            dom.set_enabled(element_id, enabled)
        for button in js.document.querySelectorAll("button.server-model"):
            button.disabled = not enabled

    def _set_chat_enabled(self, enabled: bool) -> None:
        dom.set_enabled("prompt", enabled)
        dom.set_enabled("send", enabled)
        dom.by_id("prompt").placeholder = (
            "Type a message (Enter sends)" if enabled else "Load a model, then type a message"
        )

    def _ready_status(self) -> None:
        if self.engine.loaded:
            self.set_status("model-ready", f"Ready: {self.model_name}")
        else:
            self.set_status("ready", "Python ready. Pick a model to load.")

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

    def _on_progress(self, received: int, total: int) -> None:
        bar = dom.by_id("load-progress")
        if total > 0:
            bar.value = received / total
            dom.set_text("load-text", f"{format_bytes(received)} of {format_bytes(total)}")
        else:
            bar.removeAttribute("value")  # indeterminate: the server sent no length
            dom.set_text("load-text", format_bytes(received))

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
        self._set_chat_enabled(False)
        dom.set_visible("load-inspected", False)
        dom.set_visible("load-panel", True)
        dom.by_id("load-progress").value = 0
        dom.set_text("load-text", "")
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
            self._set_chat_enabled(self.engine.loaded)
            self._model_abort = None

    async def _after_failure(self, message: str, keep_inspection: bool) -> None:
        if not self.engine.loaded:
            await self.engine.unload()  # a half-started engine (cancelled or failed load)
        dom.set_visible("model-info", keep_inspection)
        self._ready_status()
        self.show_error(message)

    @staticmethod
    def _title(source: ModelSource, inspection: ModelInspection) -> str:
        return inspection.spec.name or source.label

    async def _inspect(self, source: ModelSource) -> ModelInspection:
        """Parse the header: Range requests for a URL, a Blob slice for a file. No weights."""
        self.set_status("loading", f"Reading the header of {source.label}…")
        if source.url is None:
            read = partial(read_bytes, source.file)
            inspection = await inspect_model(read, int(source.file.size), source.label)
        else:
            inspection = await self._inspect_url(source.url, source.label)
        self._show_inspection(inspection)
        return inspection

    async def _inspect_url(self, url: str, label: str) -> ModelInspection:
        signal = self._model_abort.signal
        first = await fetch_range(url, 0, FIRST_READ_SIZE, signal)

        async def read(start: int, end: int) -> bytes:
            if end <= len(first.data):
                return first.data[start:end]
            return (await fetch_range(url, start, end, signal)).data

        return await inspect_model(read, first.size, label)

    def _load_params(self, inspection: ModelInspection) -> LoadParams:
        wanted = dom.value("context-size")
        try:
            n_ctx = int(wanted)
        except ValueError:
            raise ParameterError(f"Context must be a whole number, not {wanted!r}.") from None
        return LoadParams(
            n_ctx=LoadParams.context_for(inspection.spec.context_length, n_ctx),
            n_threads=self.environment.threads,
            n_gpu_layers=self.environment.gpu_layers,
        )

    async def _load(self, source: ModelSource, inspection: ModelInspection) -> None:
        params = self._load_params(inspection)
        estimate = self._show_memory(inspection, params.n_ctx)
        if not estimate.fits:
            raise ModelTooLargeError(f"Not loaded: {estimate.message()}")
        await self.engine.unload()
        started = js.performance.now()
        if source.url is not None:
            self.set_status("loading", f"Downloading {source.label}…")
            blob = await fetch_blob(source.url, self._model_abort.signal, self._on_progress)
        else:
            blob = source.file
        self.set_status("loading", "Starting the engine…")
        dom.by_id("load-progress").removeAttribute("value")
        info = await self.engine.load(blob, params)
        seconds = (js.performance.now() - started) / 1000
        self._show_engine_info(info, params, seconds)
        self.model_name = self._title(source, inspection)
        self.history.clear()
        dom.clear("messages")
        self._ready_status()

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
            ("Engine", f"{info.threads} thread(s), {mode}, {self.environment.backend}"),
            ("Context", f"{params.n_ctx} tokens"),
            ("Loaded in", f"{seconds:.2f} s"),
        ]
        for label, text in rows:
            dom.append_text_element(target, "dt", label)
            dom.append_text_element(target, "dd", text).dataset.field = label.lower()

    # ---- chat ----------------------------------------------------------------------------

    def new_chat(self) -> None:
        self.stop()
        self.history.clear()
        dom.clear("messages")

    def stop(self) -> None:
        if self._generate_abort is not None:
            self._generate_abort.abort()

    async def send(self) -> None:
        text = dom.value("prompt")
        if not text.strip() or self._generate_abort is not None or not self.engine.loaded:
            return
        self.clear_error()
        try:
            params = GenerationParams.from_form(dom.value("max-tokens"), dom.value("temperature"))
        except LocalWebAIError as error:
            self.show_error(str(error))
            return
        chat_mode = dom.value("mode") == "chat"
        messages = dom.by_id("messages")
        dom.append_text_element(messages, "li", text, "user")
        reply = dom.append_text_element(messages, "li", "", "assistant")
        reply_text = js.document.createTextNode("")
        reply.appendChild(reply_text)
        dom.by_id("prompt").value = ""
        self._generate_abort = new_abort_controller()
        dom.set_enabled("send", False)
        dom.set_enabled("stop", True)
        self.set_status("generating", "Generating…")
        signal = self._generate_abort.signal
        try:
            result = await self._generate(text, chat_mode, params, signal, reply_text.appendData)
            stats = dom.append_text_element(reply, "span", result.summary(), "stats")
            stats.dataset.tokensPerSecond = f"{result.timings.generation_tokens_per_second:.2f}"
            reply.dataset.stopReason = result.stop_reason.value
            reply.dataset.chunks = str(result.chunks)
        except Exception as error:
            reply.classList.add("failed")
            self.show_error(describe(error))
        finally:
            self._generate_abort = None
            dom.set_enabled("stop", False)
            dom.set_enabled("send", self.engine.loaded)
            self._ready_status()

    async def _generate(
        self, text: str, chat_mode: bool, params: GenerationParams, signal: Any, on_text: Any
    ) -> GenerationResult:
        if not chat_mode:
            return await self.engine.complete(text, params, signal, on_text)
        self.history.add_user(text)
        try:
            result = await self.engine.chat(self.history.as_dicts(), params, signal, on_text)
        except LocalWebAIError:
            self.history.messages.pop()  # the failed turn is not part of the conversation
            raise
        self.history.add_assistant(result.text)
        return result


async def main() -> None:
    """Entry point called by ``web/main.py`` once PyScript has booted Python."""
    boot_seconds = js.performance.now() / 1000
    environment = await probe()
    dom.set_text("environment", environment.summary())
    app = App(environment)
    app.wire()
    await app.list_server_models()
    app.set_picker_enabled(True)
    app.set_status("ready", f"Python ready in {boot_seconds:.1f} s. Pick a model to load.")
    js.document.body.dataset.pythonBootMs = str(round(boot_seconds * 1000))
