"""The Python API of LocalWebAI: load a model, then generate and chat with it.

``LlamaRunner`` holds every decision of a load and a reply: the parameters for this model and
this machine, the memory check before any download, the path per source (``ModelStore``), the
fallback from a GPU that fails to start to the CPU, and one reply at a time. It runs over small
interfaces: an :class:`Engine` (wllama in the page), an embedding-model loader, and abort
handles, so CPython tests drive it with in-memory fakes. In a PyScript page::

    from localwebai.browser.runtime import create_runner
    from localwebai.params import GenerationParams
    from localwebai.sources import ModelSource

    runner = await create_runner()
    await runner.load_model(ModelSource.from_url("https://example.org/model.gguf"))
    async for piece in runner.generate("The capital of France is", GenerationParams(temperature=0)):
        print(piece, end="")
    chat = runner.chat_session(system_prompt="You are terse.")
    reply = await chat.ask("Hi!")

One reply runs at a time (a second one raises ``BusyError``); ``abort()`` stops it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from .cache import Blob
from .chat import ChatSession
from .chat_formats import ChatFormat, custom_chat_format, fallback_chat_format
from .environment import Environment
from .errors import BusyError, EngineError, ModelNotLoadedError, ModelTooLargeError
from .generation import Generation, GenerationResult, OnComplete, OnText
from .memory import MemoryEstimate
from .model_header import ModelInspection
from .model_store import ModelStore
from .params import DEFAULT_BATCH, DEFAULT_CONTEXT, GenerationParams, LoadChoices, LoadParams
from .progress import LoadProgress, LoadStage, OnProgress
from .sources import ModelSource
from .spec import ModelSpecification
from .tools import Tool


@dataclass(frozen=True)
class EngineInfo:
    """What the engine reports after loading a model."""

    threads: int
    multithread: bool
    build: str
    """The llama.cpp build it runs (in the page: the wasm build, see web/js/engine-build.js)."""


ENGINE_START_TIMEOUT_S = 30.0
"""How long a load waits for the engine's first read of the model (its worker is up and has
instantiated the wasm) before it ends that engine and starts another."""
ENGINE_START_ATTEMPTS = 2
ENGINE_RESTARTED = "The engine's worker did not start: starting another."
ENGINE_DID_NOT_START = (
    "The engine did not start: its worker gave no sign of life in {seconds:.0f} s, twice. "
    "Reload the page and try again."
)


class Engine(Protocol):
    """One model at a time; ``signal`` is the abort handle's signal for one reply."""

    @property
    def loaded(self) -> bool: ...

    async def load(
        self, blob: Blob, params: LoadParams, on_started: Callable[[], None]
    ) -> EngineInfo:
        """Load the model (replacing any); ``on_started`` is called once the engine reads the
        model. An ``EngineError`` when it cannot start."""
        ...

    async def unload(self) -> None: ...

    async def chat(
        self, messages: list[dict[str, str]], params: GenerationParams, signal: Any, on_text: OnText
    ) -> GenerationResult: ...

    async def complete(
        self, prompt: str, params: GenerationParams, signal: Any, on_text: OnText
    ) -> GenerationResult: ...


class EmbeddingEngine(Protocol):
    """A loaded embedding model (see ``localwebai.embeddings``)."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    async def unload(self) -> None: ...


LoadEmbedder = Callable[[Blob, int, int, str], Awaitable[EmbeddingEngine]]
"""``(blob, n_threads, n_gpu_layers, build)`` → a loaded embedding model, in its own engine."""


class AbortHandle(Protocol):
    """Stops one operation: ``abort()`` sets ``signal.aborted`` (a JS AbortController)."""

    @property
    def signal(self) -> Any: ...

    def abort(self) -> None: ...


def _ignore_progress(_progress: LoadProgress) -> None:
    pass


class LlamaRunner:
    """One model at a time; every failure is a ``LocalWebAIError``."""

    def __init__(
        self,
        environment: Environment,
        engine: Engine,
        store: ModelStore,
        load_embedder: LoadEmbedder,
        new_abort: Callable[[], AbortHandle],
    ) -> None:
        self.environment = environment
        self.engine = engine
        self.store = store
        self._load_embedder = load_embedder
        self._new_abort = new_abort
        self.metadata: ModelSpecification | None = None
        """The loaded model's specification (from its GGUF header); None until one is loaded."""
        self.model_name = ""
        """The loaded model's name (from its header, else its source's label)."""
        self.engine_info: EngineInfo | None = None
        self.backend = ""
        """What the loaded model runs on: "WebGPU" (natively "GPU"), or "CPU" with the reason."""
        self.chat_format: ChatFormat | None = None
        """The chat format the loaded model was given (None: its own template, or no model)."""
        self.embedder: EmbeddingEngine | None = None
        self._reply: AbortHandle | None = None

    @property
    def loaded(self) -> bool:
        return self.engine.loaded

    @property
    def busy(self) -> bool:
        """A reply is being generated."""
        return self._reply is not None

    @property
    def force_cpu(self) -> bool:
        """Never try WebGPU (applies from the next ``load_model``)."""
        return self.environment.force_cpu

    @force_cpu.setter
    def force_cpu(self, value: bool) -> None:
        self.environment = replace(self.environment, force_cpu=value)

    @property
    def chat_template_name(self) -> str:
        """Either "the model's own" template or the name of the format given (``chat_format``)."""
        if self.metadata is None:
            return ""
        return "the model's own" if self.chat_format is None else self.chat_format.name

    # ---- loading ------------------------------------------------------------------------

    def load_params(
        self, inspection: ModelInspection, choices: LoadChoices | None = None
    ) -> LoadParams:
        """Parameters for this model here: the context asked for (capped by the model's own),
        all cores when isolated, GPU layers when WebGPU works, and for a model without a chat
        template the one of its architecture's format (``chat_formats``); then the user's
        ``choices``, validated. "CPU only" (``force_cpu``) wins over a GPU layers choice."""
        choices = choices or LoadChoices()
        model_context = inspection.spec.context_length
        wanted = LoadParams.context_for(model_context, choices.n_ctx or DEFAULT_CONTEXT)
        params = LoadParams(
            n_ctx=wanted,
            n_threads=self.environment.threads,
            n_gpu_layers=self.environment.gpu_layers,
            n_batch=min(DEFAULT_BATCH, wanted),
        )
        params, _ = _with_chat_template(inspection, params)
        params = replace(params, **choices.overrides())
        return replace(params, n_gpu_layers=0) if self.force_cpu else params

    def memory_estimate(self, inspection: ModelInspection, n_ctx: int) -> MemoryEstimate:
        """What the model needs at ``n_ctx`` here, and whether it fits (the 4 GiB wasm limit
        in the page, and the device's memory where it is known)."""
        return inspection.memory(
            n_ctx, self.environment.device_memory_gib, in_browser=not self.environment.native
        )

    def _signal(self, signal: Any) -> Any:
        return signal if signal is not None else self._new_abort().signal

    async def inspect(self, source: ModelSource, signal: Any = None) -> ModelInspection:
        """Read and parse the model's header only (for a URL: a few Range requests)."""
        return await self.store.inspect(source, self._signal(signal))

    async def load_model(
        self,
        source: ModelSource,
        params: LoadParams | None = None,
        on_progress: OnProgress = _ignore_progress,
        signal: Any = None,
        inspection: ModelInspection | None = None,
    ) -> EngineInfo:
        """Load a model from a URL, a File or the cache, replacing the loaded one.

        The header is checked first: a model that cannot fit is refused before any download.
        A failure before the engine starts (a download, a refusal; not damage in the cache,
        which is found as the engine reads) leaves the model already loaded loaded. When
        WebGPU fails to start, the model is loaded again on the CPU (``backend`` says why).
        """
        signal = self._signal(signal)
        if inspection is None:
            on_progress(LoadProgress(LoadStage.READING_HEADER))
            inspection = await self.inspect(source, signal)
        params = params or self.load_params(inspection)
        estimate = self.memory_estimate(inspection, params.n_ctx)
        if not estimate.fits:
            raise ModelTooLargeError(f"Not loaded: {estimate.message()}")
        params, chat_format = _with_chat_template(inspection, params)

        async def start(blob: Blob) -> EngineInfo:
            self.metadata = None
            self.model_name = ""
            self.chat_format = None
            return await self._start(blob, params, on_progress)

        self.engine_info = await self.store.load(
            source, inspection, signal, on_progress, start, self.engine.unload
        )
        self.metadata = inspection.spec
        self.chat_format = chat_format
        self.model_name = inspection.spec.name or source.label
        on_progress(LoadProgress(LoadStage.READY))
        return self.engine_info

    def _with_build(self, blob: Blob, params: LoadParams) -> LoadParams:
        """``params`` with the build for this model's size and backend (one the caller named
        in ``params.build`` is kept)."""
        if params.build:
            return params
        return replace(params, build=self._build_for(blob, params.n_gpu_layers))

    def _build_for(self, blob: Blob, n_gpu_layers: int) -> str:
        """The wasm build for this model's size, on the GPU or the CPU."""
        return self.environment.build_for(self.store.cache.blobs.size(blob), n_gpu_layers > 0)

    async def _start(self, blob: Blob, params: LoadParams, on_progress: OnProgress) -> EngineInfo:
        if params.n_gpu_layers == 0:
            reason = self.environment.why_cpu
            self.backend = f"CPU ({reason})" if reason else "CPU"
            return await self._load_engine(blob, self._with_build(blob, params), on_progress)
        try:
            info = await self._load_engine(blob, self._with_build(blob, params), on_progress)
        except EngineError as error:
            self.backend = f"CPU ({self.environment.gpu_name} failed: {error})"
            cpu = replace(params, n_gpu_layers=0)
            return await self._load_engine(blob, self._with_build(blob, cpu), on_progress)
        self.backend = self.environment.gpu_name
        return info

    async def _load_engine(
        self, blob: Blob, params: LoadParams, on_progress: OnProgress
    ) -> EngineInfo:
        """``engine.load``, watched until the engine first reads the model: an engine that
        gives no sign of life in ``ENGINE_START_TIMEOUT_S`` (a worker the browser never ran)
        is ended and another started, up to ``ENGINE_START_ATTEMPTS`` times. Once it reads,
        a load takes as long as the model needs."""
        for attempt in range(ENGINE_START_ATTEMPTS):
            if attempt:
                on_progress(LoadProgress(LoadStage.INITIALIZING, note=ENGINE_RESTARTED))
            started = asyncio.Event()
            load = asyncio.ensure_future(self.engine.load(blob, params, started.set))
            sign_of_life = asyncio.ensure_future(started.wait())
            try:
                await asyncio.wait(
                    {load, sign_of_life},
                    timeout=ENGINE_START_TIMEOUT_S,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            except asyncio.CancelledError:
                load.cancel()
                raise
            finally:
                sign_of_life.cancel()
            if load.done() or started.is_set():
                return await load
            load.cancel()
            await asyncio.gather(load, return_exceptions=True)
            await self.engine.unload()
        raise EngineError(ENGINE_DID_NOT_START.format(seconds=ENGINE_START_TIMEOUT_S))

    async def load_embedding_model(
        self, source: ModelSource, signal: Any = None
    ) -> EmbeddingEngine:
        """Load an embedding model beside the chat model (its own engine); ``embed`` uses it."""
        signal = self._signal(signal)
        inspection = await self.inspect(source, signal)
        blob = await self.store.open(source, inspection, signal, _ignore_progress)
        if self.embedder is not None:
            await self.embedder.unload()
            self.embedder = None
        gpu_layers = self.environment.gpu_layers
        build = self._build_for(blob, gpu_layers)
        self.embedder = await self._load_embedder(blob, self.environment.threads, gpu_layers, build)
        return self.embedder

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, from the model of ``load_embedding_model``."""
        if self.embedder is None:
            raise ModelNotLoadedError("No embedding model is loaded: load one first.")
        return await self.embedder.embed(texts)

    async def unload(self) -> None:
        """Stop any reply, free the model and end the engine."""
        self.abort()
        self.metadata = None
        self.model_name = ""
        self.chat_format = None
        self.engine_info = None
        self.backend = ""
        await self.engine.unload()

    async def terminate(self) -> None:
        """``unload`` the chat model and the embedding model: nothing of this runner is left."""
        await self.unload()
        if self.embedder is not None:
            await self.embedder.unload()
            self.embedder = None

    # ---- generating ---------------------------------------------------------------------

    def generate(
        self,
        prompt: str,
        params: GenerationParams | None = None,
        on_token: OnText | None = None,
        on_complete: OnComplete | None = None,
    ) -> Generation:
        """Complete ``prompt`` as raw text (no chat template): iterate the result for pieces,
        or ``await`` it for the ``GenerationResult``; the callbacks are called as well."""
        params = params or GenerationParams()
        return Generation(
            lambda on_text: self.stream_completion(prompt, params, on_text),
            self.abort,
            on_token,
            on_complete,
        )

    def chat_session(
        self,
        system_prompt: str = "",
        params: GenerationParams | None = None,
        tools: Sequence[Tool] = (),
    ) -> ChatSession:
        """A multi-turn chat with this runner's model (its own chat template applies, or the
        format of ``chat_format``, whose end-of-turn strings end every reply)."""
        return ChatSession(self, system_prompt, params, tools)

    def abort(self) -> None:
        """Stop the reply being generated, if any (it ends with stop reason ``aborted``)."""
        if self._reply is not None:
            self._reply.abort()

    async def stream_completion(
        self, prompt: str, params: GenerationParams, on_text: OnText
    ) -> GenerationResult:
        return await self._run(lambda signal: self.engine.complete(prompt, params, signal, on_text))

    async def stream_chat(
        self, messages: list[dict[str, str]], params: GenerationParams, on_text: OnText
    ) -> GenerationResult:
        if self.chat_format is not None:
            params = self.chat_format.with_stops(params)
        return await self._run(lambda signal: self.engine.chat(messages, params, signal, on_text))

    async def _run(self, start: Callable[[Any], Awaitable[GenerationResult]]) -> GenerationResult:
        if self._reply is not None:
            raise BusyError("A reply is still being generated: stop it or wait for it.")
        if not self.engine.loaded:
            raise ModelNotLoadedError("No model is loaded yet: load one first.")
        self._reply = self._new_abort()
        try:
            return await start(self._reply.signal)
        finally:
            self._reply = None


def _with_chat_template(
    inspection: ModelInspection, params: LoadParams
) -> tuple[LoadParams, ChatFormat | None]:
    """``params`` with the template the engine gets, and its format (None: the model's own).

    A model without a template gets its architecture's format even when the caller's
    ``params`` name none; a template the caller gave is kept."""
    if params.chat_template is None and inspection.spec.chat_template:
        return params, None
    fallback = fallback_chat_format(inspection.header)
    if params.chat_template is None:
        return replace(params, chat_template=fallback.template), fallback
    if params.chat_template == fallback.template:
        return params, fallback
    return params, custom_chat_format(params.chat_template)
