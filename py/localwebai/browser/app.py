"""The page's UI controller: wires the DOM to model loading and chat.

Decisions live in the pure core (params, environment, chat, generation, gguf); this module only
moves values between the page and those objects, and keeps the UI responsive and honest about
what is happening. Everything model-derived is written with ``textContent``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import js

from ..chat import ChatHistory
from ..environment import Environment
from ..errors import LocalWebAIError
from ..generation import GenerationResult
from ..model_header import read_model_specification
from ..params import GenerationParams, LoadParams
from ..spec import ModelSpecification
from . import dom
from .blobs import fetch_blob, fetch_json, new_abort_controller, read_bytes
from .engine import EngineInfo, WllamaEngine
from .environment import probe

SERVER_MODELS_INDEX = "./models/index.json"
MIB = 1024 * 1024


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


def format_size(size: int) -> str:
    return f"{size / MIB:.1f} MiB" if size >= MIB else f"{size / 1024:.1f} KiB"


class App:
    """State of one page: the engine, the conversation, and what is in flight."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.engine = WllamaEngine()
        self.history = ChatHistory()
        self.model_name = ""
        self._load_task: asyncio.Future[None] | None = None
        self._load_abort: Any = None
        self._generate_abort: Any = None

    # ---- wiring -------------------------------------------------------------------------

    def wire(self) -> None:
        dom.on(dom.by_id("url-form"), "submit", self._on_url_submit, prevent_default=True)
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

    def _on_url_submit(self, _event: Any) -> None:
        url = dom.value("model-url").strip()
        if url:
            absolute = str(js.URL.new(url, js.location.href).href)
            self.start_load(ModelSource(label=absolute, url=absolute))

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
            dom.append_text_element(item, "span", f" {format_size(int(model['size']))}", "muted")
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
        for element_id in ("load-url", "file-input"):
            dom.set_enabled(element_id, enabled)
        for button in js.document.querySelectorAll("button.server-model"):
            button.disabled = not enabled

    def _set_chat_enabled(self, enabled: bool) -> None:
        dom.set_enabled("prompt", enabled)
        dom.set_enabled("send", enabled)

    def _ready_status(self) -> None:
        if self.engine.loaded:
            self.set_status("model-ready", f"Ready: {self.model_name}")
        else:
            self.set_status("ready", "Python ready. Pick a model to load.")

    # ---- loading -------------------------------------------------------------------------

    def start_load(self, source: ModelSource) -> None:
        if self._load_task is not None and not self._load_task.done():
            return
        self._load_task = asyncio.ensure_future(self._load(source))

    def cancel_load(self) -> None:
        if self._load_abort is not None:
            self._load_abort.abort()
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()

    def _on_progress(self, received: int, total: int) -> None:
        bar = dom.by_id("load-progress")
        if total > 0:
            bar.value = received / total
            dom.set_text("load-text", f"{format_size(received)} of {format_size(total)}")
        else:
            bar.removeAttribute("value")  # indeterminate: the server sent no length
            dom.set_text("load-text", format_size(received))

    async def _load(self, source: ModelSource) -> None:
        self._load_abort = new_abort_controller()
        self.clear_error()
        self.set_picker_enabled(False)
        self._set_chat_enabled(False)
        dom.set_visible("load-panel", True)
        dom.by_id("load-progress").value = 0
        dom.set_text("load-text", "")
        try:
            await self._load_steps(source)
        except asyncio.CancelledError:
            await self.engine.unload()
            dom.set_visible("model-info", False)
            self._ready_status()
            self.show_error("Loading cancelled.")
        except Exception as error:
            await self.engine.unload()
            dom.set_visible("model-info", False)
            self._ready_status()
            self.show_error(describe(error))
        finally:
            dom.set_visible("load-panel", False)
            self.set_picker_enabled(True)
            self._set_chat_enabled(self.engine.loaded)
            self._load_abort = None

    async def _load_steps(self, source: ModelSource) -> None:
        started = js.performance.now()
        if source.url is not None:
            self.set_status("loading", f"Downloading {source.label}…")
            blob = await fetch_blob(source.url, self._load_abort.signal, self._on_progress)
        else:
            blob = source.file
        self.set_status("loading", "Reading the model header…")
        spec = await read_model_specification(
            lambda start, end: read_bytes(blob, start, end), int(blob.size), source=source.label
        )
        self._show_specification(spec)
        self.set_status("loading", "Starting the engine…")
        dom.by_id("load-progress").removeAttribute("value")
        params = LoadParams(
            n_ctx=LoadParams.context_for(spec.context_length),
            n_threads=self.environment.threads,
            n_gpu_layers=self.environment.gpu_layers,
        )
        info = await self.engine.load(blob, params)
        seconds = (js.performance.now() - started) / 1000
        self._show_engine_info(info, params, seconds)
        self.model_name = spec.name or source.label
        self.history.clear()
        dom.clear("messages")
        self._ready_status()

    def _show_specification(self, spec: ModelSpecification) -> None:
        dom.clear("model-metadata")
        rows = spec.summary()
        target = dom.by_id("model-metadata")
        for label, text in rows:
            dom.append_text_element(target, "dt", label)
            dom.append_text_element(target, "dd", text)
        dom.set_visible("model-info", True)

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
