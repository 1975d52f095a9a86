"""The Python API of LocalWebAI in the page: load a model, then generate and chat with it.

The UI uses this API, and a PyScript author can import it in their own page::

    from localwebai.browser.runner import LlamaRunner
    from localwebai.params import GenerationParams
    from localwebai.sources import ModelSource

    runner = await LlamaRunner.create()
    await runner.load_model(ModelSource.from_url("https://example.org/model.gguf"))
    async for piece in runner.generate("The capital of France is", GenerationParams(temperature=0)):
        print(piece, end="")
    chat = runner.chat_session(system_prompt="You are terse.")
    reply = await chat.ask("Hi!")

One reply runs at a time (a second one raises ``BusyError``); ``abort()`` stops it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ..chat import DEFAULT_CHAT_TEMPLATE, DEFAULT_TEMPLATE_NAME, ChatSession
from ..environment import Environment
from ..errors import BusyError, EngineError, ModelNotLoadedError, ModelTooLargeError
from ..generation import Generation, GenerationResult, OnComplete, OnText
from ..model_header import ModelInspection
from ..params import DEFAULT_BATCH, DEFAULT_CONTEXT, GenerationParams, LoadParams
from ..progress import LoadProgress, LoadStage
from ..sources import ModelSource
from ..spec import ModelSpecification
from ..tools import Tool
from .blobs import new_abort_controller
from .embedder import Embedder
from .engine import EngineInfo, WllamaEngine
from .environment import probe
from .model_store import ModelStore

OnProgress = Callable[[LoadProgress], None]


def _ignore_progress(_progress: LoadProgress) -> None:
    pass


class LlamaRunner:
    """One model at a time, in wllama's worker; every failure is a ``LocalWebAIError``."""

    def __init__(self, environment: Environment, store: ModelStore | None = None) -> None:
        self.environment = environment
        self.store = store or ModelStore()
        self.engine = WllamaEngine()
        self.metadata: ModelSpecification | None = None
        """The loaded model's specification (from its GGUF header); None until one is loaded."""
        self.engine_info: EngineInfo | None = None
        self.backend = ""
        """What the loaded model runs on: "WebGPU", or "CPU" with the reason."""
        self.embedder: Embedder | None = None
        self.load_overrides: dict[str, int] = {}
        """User settings for the next load (``n_batch``, ``n_threads``, ``n_gpu_layers``)."""
        self._abort_controller: Any = None

    @classmethod
    async def create(cls, force_cpu: bool = False) -> LlamaRunner:
        """A runner for this browser (threads, SIMD, WebGPU probed once)."""
        runner = cls(await probe())
        runner.force_cpu = force_cpu
        return runner

    @property
    def loaded(self) -> bool:
        return self.engine.loaded

    @property
    def force_cpu(self) -> bool:
        """Never try WebGPU (applies from the next ``load_model``)."""
        return self.environment.force_cpu

    @force_cpu.setter
    def force_cpu(self, value: bool) -> None:
        self.environment = replace(self.environment, force_cpu=value)

    @property
    def chat_template_name(self) -> str:
        """The loaded model's own template, or the ChatML default it was given."""
        if self.metadata is None:
            return ""
        return "the model's own" if self.metadata.chat_template else DEFAULT_TEMPLATE_NAME

    # ---- loading ------------------------------------------------------------------------

    def load_params(self, inspection: ModelInspection, n_ctx: int | None = None) -> LoadParams:
        """Parameters for this browser: all cores when isolated, GPU layers when WebGPU works,
        and the ChatML template for a model without one; then ``load_overrides``, validated.
        "CPU only" (``force_cpu``) wins over a GPU layers override."""
        model_context = inspection.spec.context_length
        wanted = LoadParams.context_for(model_context, n_ctx or DEFAULT_CONTEXT)
        params = LoadParams(
            n_ctx=wanted,
            n_threads=self.environment.threads,
            n_gpu_layers=self.environment.gpu_layers,
            n_batch=min(DEFAULT_BATCH, wanted),
            chat_template=None if inspection.spec.chat_template else DEFAULT_CHAT_TEMPLATE,
        )
        params = replace(params, **self.load_overrides)
        return replace(params, n_gpu_layers=0) if self.force_cpu else params

    async def inspect(self, source: ModelSource, signal: Any = None) -> ModelInspection:
        """Read and parse the model's header only (for a URL: a few Range requests)."""
        return await self.store.inspect(source, signal or new_abort_controller().signal)

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
        A failure before the engine starts leaves the model already loaded loaded. When
        WebGPU fails to start, the model is loaded again on the CPU (``backend`` says why).
        """
        signal = signal or new_abort_controller().signal
        if inspection is None:
            on_progress(LoadProgress(LoadStage.READING_HEADER))
            inspection = await self.inspect(source, signal)
        params = params or self.load_params(inspection)
        estimate = inspection.memory(params.n_ctx, self.environment.device_memory_gib)
        if not estimate.fits:
            raise ModelTooLargeError(f"Not loaded: {estimate.message()}")
        blob = await self.store.open(source, inspection, signal, on_progress)
        on_progress(LoadProgress(LoadStage.INITIALIZING))
        self.metadata = None
        self.engine_info = await self._start(blob, params)
        self.metadata = inspection.spec
        on_progress(LoadProgress(LoadStage.READY))
        return self.engine_info

    async def _start(self, blob: Any, params: LoadParams) -> EngineInfo:
        if params.n_gpu_layers == 0:
            reason = self.environment.why_cpu
            self.backend = f"CPU ({reason})" if reason else "CPU"
            return await self.engine.load(blob, params)
        try:
            info = await self.engine.load(blob, params)
        except EngineError as error:
            self.backend = f"CPU (WebGPU failed: {error})"
            return await self.engine.load(blob, replace(params, n_gpu_layers=0))
        self.backend = "WebGPU"
        return info

    async def load_embedding_model(self, source: ModelSource, signal: Any = None) -> Embedder:
        """Load an embedding model beside the chat model (its own worker); ``embed`` uses it."""
        signal = signal or new_abort_controller().signal
        inspection = await self.inspect(source, signal)
        blob = await self.store.open(source, inspection, signal, _ignore_progress)
        if self.embedder is not None:
            await self.embedder.unload()
        self.embedder = await Embedder.load(
            blob, self.environment.threads, self.environment.gpu_layers
        )
        return self.embedder

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, from the model of ``load_embedding_model``."""
        if self.embedder is None:
            raise ModelNotLoadedError("No embedding model is loaded: load one first.")
        return await self.embedder.embed(texts)

    async def unload(self) -> None:
        """Stop any reply, free the model and end the engine's worker."""
        self.abort()
        self.metadata = None
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
        """A multi-turn chat with this runner's model (its own chat template applies)."""
        return ChatSession(self, system_prompt, params, tools)

    def abort(self) -> None:
        """Stop the reply being generated, if any (it ends with stop reason ``aborted``)."""
        if self._abort_controller is not None:
            self._abort_controller.abort()

    async def stream_completion(
        self, prompt: str, params: GenerationParams, on_text: OnText
    ) -> GenerationResult:
        return await self._run(lambda signal: self.engine.complete(prompt, params, signal, on_text))

    async def stream_chat(
        self, messages: list[dict[str, str]], params: GenerationParams, on_text: OnText
    ) -> GenerationResult:
        return await self._run(lambda signal: self.engine.chat(messages, params, signal, on_text))

    async def _run(self, start: Callable[[Any], Any]) -> GenerationResult:
        if self._abort_controller is not None:
            raise BusyError("A reply is still being generated: stop it or wait for it.")
        if not self.engine.loaded:
            raise ModelNotLoadedError("No model is loaded yet: load one first.")
        self._abort_controller = new_abort_controller()
        try:
            return await start(self._abort_controller.signal)
        finally:
            self._abort_controller = None
