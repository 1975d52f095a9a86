"""wllama (llama.cpp in WebAssembly, running in its own Web Worker) behind the core's ``Engine``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import JsException, create_proxy

from ..errors import AbortedError, LocalWebAIError, ModelNotLoadedError, from_engine_error
from ..generation import (
    GenerationResult,
    OnText,
    StopReason,
    Timings,
    TopChoices,
    stop_reason_from_finish,
    top_choices_from_engine,
)
from ..params import GenerationParams, LoadParams
from ..runner import EngineInfo
from .jsinterop import error_fields, field, glue, to_js_object, to_py_dict


def engine_error(error: JsException, loading: bool = False) -> LocalWebAIError:
    """Our error for a wllama call's JS error (``loading``: it ended a model load)."""
    return from_engine_error(*error_fields(error), loading=loading)


async def load_wllama(
    blob: Any, options: dict[str, Any], build: str, on_started: Callable[[], None] | None = None
) -> Any:
    """A new wllama instance (and worker) on the wasm ``build`` with this model Blob loaded;
    ``on_started`` is called when its worker first reads the model. On failure or
    cancellation the worker is ended; a failure is our error."""
    wllama = glue.createWllama(build)
    watching = on_started is not None
    on_read = create_proxy(on_started) if watching else None
    stop_watching = glue.watchEngineReads(blob, on_read) if watching else None
    try:
        await wllama.loadModel(js.Array.of(blob), to_js_object(options))
    except JsException as error:
        await exit_wllama(wllama)
        raise engine_error(error, loading=True) from None
    except asyncio.CancelledError:
        await exit_wllama(wllama)
        raise
    finally:
        if stop_watching is not None:
            stop_watching()
            on_read.destroy()
    return wllama


async def exit_wllama(wllama: Any) -> None:
    """Free the model and end the worker; the worker is gone either way."""
    with contextlib.suppress(JsException):
        await wllama.exit()


class WllamaEngine:
    """One model at a time; a fresh wllama instance (and worker) per load."""

    def __init__(self) -> None:
        self._wllama: Any = None
        self.n_ctx: int | None = None

    @property
    def loaded(self) -> bool:
        return self._wllama is not None and bool(self._wllama.isModelLoaded())

    async def load(
        self, blob: Any, params: LoadParams, on_started: Callable[[], None]
    ) -> EngineInfo:
        """Load the model from a Blob (bytes are read lazily by the worker, never copied here)."""
        await self.unload()
        build = params.build or "default"
        self._wllama = await load_wllama(blob, params.to_wllama(), build, on_started)
        self.n_ctx = params.n_ctx
        return EngineInfo(
            threads=int(self._wllama.getNumThreads()),
            multithread=bool(self._wllama.isMultithread()),
            build=build,
        )

    async def unload(self) -> None:
        """Free the model and end the worker; safe to call at any time."""
        wllama, self._wllama = self._wllama, None
        self.n_ctx = None
        if wllama is not None:
            await exit_wllama(wllama)

    async def chat(
        self, messages: list[dict[str, str]], params: GenerationParams, signal: Any, on_text: OnText
    ) -> GenerationResult:
        """Stream a chat reply (the model's own chat template applies)."""
        options = {"messages": messages, "stream": True, **params.to_wllama()}
        return await self._stream(
            "createChatCompletion", options, params, signal, on_text, _chat_delta
        )

    async def complete(
        self, prompt: str, params: GenerationParams, signal: Any, on_text: OnText
    ) -> GenerationResult:
        """Stream a raw text completion of ``prompt``."""
        options = {"prompt": prompt, "stream": True, **params.to_wllama()}
        return await self._stream("createCompletion", options, params, signal, on_text, _raw_text)

    async def _stream(
        self,
        method: str,
        options: dict[str, Any],
        params: GenerationParams,
        signal: Any,
        on_text: OnText,
        text_of: Callable[[Any], str],
    ) -> GenerationResult:
        if not self.loaded:
            raise ModelNotLoadedError("No model is loaded yet: load one first.")
        started = js.performance.now()
        first_token_ms: float | None = None
        pieces: list[str] = []
        chunks = 0
        finish: str | None = None
        timings: Timings | None = None
        top: list[TopChoices] = []

        def on_data(chunk: Any) -> None:
            nonlocal chunks, first_token_ms, finish, timings
            chunks += 1
            choices = field(chunk, "choices")
            choice = choices[0] if choices is not None and choices.length else None
            piece = text_of(choice) if choice is not None else ""
            if piece:
                if first_token_ms is None:
                    first_token_ms = js.performance.now() - started
                pieces.append(piece)
                on_text(piece)
            logprobs = None if choice is None else field(choice, "logprobs")
            if logprobs is not None and field(logprobs, "content") is not None:
                top.extend(top_choices_from_engine(to_py_dict(logprobs)["content"]))
            if choice is not None and field(choice, "finish_reason"):
                finish = str(choice.finish_reason)
            if field(chunk, "timings") is not None:
                timings = Timings.from_engine(to_py_dict(chunk.timings))

        callback = create_proxy(on_data)
        js_options = to_js_object(options)
        js_options.abortSignal = signal
        js_options.onData = callback
        try:
            await getattr(self._wllama, method)(js_options)
            stop = stop_reason_from_finish(finish, timings, params.max_tokens, self.n_ctx)
        except JsException as error:
            mapped = engine_error(error)
            if not isinstance(mapped, AbortedError):
                raise mapped from None
            stop = StopReason.ABORTED
        finally:
            callback.destroy()
        if timings is None and first_token_ms is not None:
            # wllama sends no timings for an aborted reply: count what streamed in ourselves
            timings = Timings(
                generated_tokens=len(pieces),
                generation_ms=js.performance.now() - started - first_token_ms,
            )
        return GenerationResult(
            text="".join(pieces),
            stop_reason=stop,
            timings=timings or Timings(),
            chunks=chunks,
            first_token_ms=first_token_ms,
            top_logprobs=tuple(top),
        )


def _chat_delta(choice: Any) -> str:
    delta = field(choice, "delta")
    content = None if delta is None else field(delta, "content")
    return "" if content is None else str(content)


def _raw_text(choice: Any) -> str:
    text = field(choice, "text")
    return "" if text is None else str(text)
