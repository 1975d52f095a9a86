"""llama.cpp through llama-cpp-python behind the core's ``Engine``: the native twin of wllama.

Every llama.cpp call runs on one worker thread per engine (llama.cpp's context is not
thread-safe), so the event loop stays free: text pieces come back to it as they stream, and an
abort (or a cancelled task, e.g. Ctrl-C) stops generation at the next token. Parameters, stop
reasons, timings and errors follow ``localwebai.browser.engine``.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import llama_cpp
import numpy as np
from llama_cpp import Llama, LlamaGrammar, StoppingCriteriaList
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from ..chat_formats import CHATML
from ..environment import NATIVE_BUILD
from ..errors import (
    EngineError,
    LocalWebAIError,
    ModelLoadError,
    ModelNotLoadedError,
    from_engine_error,
)
from ..generation import (
    GenerationResult,
    OnText,
    StopReason,
    Timings,
    TokenChoice,
    TopChoices,
    stop_reason_from_finish,
)
from ..params import GenerationParams, LoadParams
from ..runner import EngineInfo
from .blobs import FileRegion

T = TypeVar("T")
NO_GPU_BUILD = (
    "this llama-cpp-python was built for the CPU only; reinstall it with the CMAKE_ARGS of "
    "your GPU (see the README) to offload layers"
)


def engine_error(error: Exception, loading: bool = False) -> LocalWebAIError:
    """Our error for an exception of llama-cpp-python (``loading``: it ended a model load)."""
    message = str(error) or type(error).__name__
    kind = "kv_cache_full" if "exceed context window" in message else None
    return from_engine_error(type(error).__name__, kind, message, loading=loading)


def model_path(blob: FileRegion) -> str:
    """The file llama.cpp maps: the engine takes whole files only."""
    if not isinstance(blob, FileRegion) or not blob.is_whole_file():
        raise ModelLoadError(f"The engine loads whole model files, not {blob!r}.")
    return str(blob.path)


class Worker:
    """The one thread that makes every llama.cpp call of one model."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama.cpp")

    async def call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)


def sampling_options(params: GenerationParams) -> dict[str, Any]:
    """llama-cpp-python's ``create_completion`` arguments (as ``GenerationParams.to_wllama``)."""
    options: dict[str, Any] = {
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
        "repeat_penalty": params.repeat_penalty,
        "seed": params.seed,
        "stop": list(params.stop),
    }
    if params.temperature == 0:
        options.update(top_k=1, top_p=1.0, min_p=0.0)  # greedy: same tokens as llama.cpp
    else:
        options.update(top_k=params.top_k, top_p=params.top_p, min_p=params.min_p)
    return options


def top_logprobs(logits: Any, k: int) -> list[tuple[int, float]]:
    """The ``k`` likeliest token ids of one position and their log-probabilities (the log
    softmax of its logits, in float64), likeliest first."""
    values = np.asarray(logits, dtype=np.float64)
    peak = float(values.max())
    log_total = peak + math.log(float(np.exp(values - peak).sum()))
    best = np.argpartition(values, -k)[-k:]
    best = best[np.argsort(-values[best], kind="stable")]
    return [(int(i), float(values[i]) - log_total) for i in best]


@dataclass
class _Watch:
    """llama-cpp-python's stopping criterion, called once per sampled token (and once more at
    the end, at the last token's position): it counts the tokens, times the prompt, notes the
    ``top`` likeliest tokens of each position (where asked), and stops generation once
    ``cancelled()`` says so.

    The logits it is handed are not the ones sampled from (llama-cpp-python 0.3 keeps them
    only with ``logits_all``), so ``last_logits()`` reads the context's own: those of the last
    evaluated token, which the new token was sampled from."""

    cancelled: Callable[[], bool]
    top: int = 0
    last_logits: Callable[[], Any] | None = None
    started: float = field(default_factory=time.perf_counter)
    prompt: list[int] | None = None
    first_token_at: float | None = None
    longest: int = 0
    choices: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    """Per position (the length of the sequence sampled after), its likeliest tokens."""

    def __call__(self, input_ids: Any, _logits: Any) -> bool:
        if self.prompt is None:
            self.prompt = [int(t) for t in input_ids]
            self.first_token_at = time.perf_counter()
        self.longest = max(self.longest, len(input_ids))
        if self.top and self.last_logits is not None:
            self.choices[len(input_ids)] = top_logprobs(self.last_logits(), self.top)
        return self.cancelled()

    @property
    def generated(self) -> int:
        """Tokens sampled: the first call sees the prompt, each later one a token more."""
        return 0 if self.prompt is None else self.longest - len(self.prompt) + 1

    def timings(self, previous: list[int]) -> Timings:
        if self.prompt is None or self.first_token_at is None:
            return Timings()
        reused = 0  # what llama-cpp-python keeps of the KV cache: the common prefix
        for a, b in zip(previous, self.prompt, strict=False):
            if a != b:
                break
            reused += 1
        cached = min(reused, len(self.prompt) - 1)
        return Timings(
            prompt_tokens=len(self.prompt) - cached,
            prompt_ms=(self.first_token_at - self.started) * 1000,
            generated_tokens=self.generated,
            generation_ms=(time.perf_counter() - self.first_token_at) * 1000,
            cached_tokens=cached,
        )


@dataclass
class _Loaded:
    llama: Llama
    formatter: Jinja2ChatFormatter
    n_ctx: int
    bos: str
    """The BOS token's text where the tokenizer adds one (a template's own is dropped), else ""."""


class LlamaCppEngine:
    """One model at a time, on its own worker thread."""

    def __init__(self) -> None:
        self._model: _Loaded | None = None
        self._worker = Worker()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    async def load(
        self, blob: FileRegion, params: LoadParams, on_started: Callable[[], None]
    ) -> EngineInfo:
        """Map the model file and create its context; a GPU request on a CPU-only build is an
        ``EngineError`` (the runner then loads on the CPU and says why). The engine is this
        process: it has started (``on_started``) as soon as it is asked."""
        on_started()
        await self.unload()
        path = model_path(blob)
        if params.n_gpu_layers > 0 and not llama_cpp.llama_supports_gpu_offload():
            raise ModelLoadError(NO_GPU_BUILD)

        def load() -> _Loaded:
            llama = Llama(
                model_path=path,
                n_ctx=params.n_ctx,
                n_batch=params.n_batch,
                n_threads=params.n_threads,
                n_threads_batch=params.n_threads,
                n_gpu_layers=params.n_gpu_layers,
                verbose=False,
            )
            template = params.chat_template or llama.metadata.get("tokenizer.chat_template")
            bos = _token_text(llama, llama.token_bos())
            formatter = Jinja2ChatFormatter(
                template=template or CHATML.template,
                eos_token=_token_text(llama, llama.token_eos()),
                bos_token=bos,
            )
            vocab = llama_cpp.llama_model_get_vocab(llama.model)
            adds_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
            return _Loaded(llama, formatter, params.n_ctx, bos if adds_bos else "")

        try:
            self._model = await self._worker.call(load)
        except Exception as error:  # llama-cpp-python raises ValueError, RuntimeError, ...
            raise engine_error(error, loading=True) from None
        return EngineInfo(
            threads=params.n_threads, multithread=params.n_threads > 1, build=NATIVE_BUILD
        )

    async def unload(self) -> None:
        """Free the model (after any reply still running on the worker); safe at any time."""
        model, self._model = self._model, None
        if model is not None:
            await self._worker.call(model.llama.close)

    def _require(self) -> _Loaded:
        if self._model is None:
            raise ModelNotLoadedError("No model is loaded yet: load one first.")
        return self._model

    async def chat(
        self, messages: list[dict[str, str]], params: GenerationParams, signal: Any, on_text: OnText
    ) -> GenerationResult:
        """Stream a chat reply: the model's own chat template (or the one it was loaded with)."""
        model = self._require()
        try:
            formatted = model.formatter(messages=messages)
        except Exception as error:  # jinja2 template errors
            raise EngineError(f"The model's chat template failed: {error}") from None
        # As llama.cpp's server: where the vocabulary asks for a BOS, the tokenizer adds it and
        # one the template wrote is dropped (so templates without bos_token get it too).
        prompt = formatted.prompt.removeprefix(model.bos) if model.bos else formatted.prompt
        tokens = model.llama.tokenize(prompt.encode(), add_bos=True, special=True)
        template_stop = formatted.stop or []
        stop = [
            *params.stop,
            *([template_stop] if isinstance(template_stop, str) else template_stop),
        ]
        return await self._stream(model, tokens, params, signal, on_text, stop)

    async def complete(
        self, prompt: str, params: GenerationParams, signal: Any, on_text: OnText
    ) -> GenerationResult:
        """Stream a raw text completion of ``prompt`` (with the model's BOS, as llama.cpp)."""
        model = self._require()
        return await self._stream(model, prompt, params, signal, on_text, list(params.stop))

    async def _stream(
        self,
        model: _Loaded,
        prompt: str | list[int],
        params: GenerationParams,
        signal: Any,
        on_text: OnText,
        stop: list[str],
    ) -> GenerationResult:
        loop = asyncio.get_running_loop()
        stopping = threading.Event()
        watch = _Watch(
            lambda: stopping.is_set() or bool(getattr(signal, "aborted", False)),
            params.top_logprobs,
            partial(_last_logits, model.llama),
        )
        grammar = _grammar(params.response_format.grammar)
        pieces: list[str] = []
        first_piece_ms: list[float] = []

        def run() -> tuple[str | None, Timings, int]:
            llama = model.llama
            previous = [int(t) for t in llama._input_ids[: llama.n_tokens]]
            options = {**sampling_options(params), "stop": stop}
            stream: Iterator[dict[str, Any]] = llama.create_completion(
                prompt,
                stream=True,
                grammar=grammar,
                stopping_criteria=StoppingCriteriaList([watch]),
                **options,
            )
            finish, chunks = None, 0
            try:
                for chunk in stream:
                    chunks += 1
                    choice = chunk["choices"][0]
                    if text := choice.get("text"):
                        if not first_piece_ms:
                            first_piece_ms.append((time.perf_counter() - watch.started) * 1000)
                        pieces.append(text)
                        loop.call_soon_threadsafe(on_text, text)
                    finish = choice.get("finish_reason") or finish
                    if watch.cancelled():
                        break
            finally:
                stream.close()
            return finish, watch.timings(previous), chunks

        try:
            finish, timings, chunks = await self._worker.call(run)
        except asyncio.CancelledError:
            stopping.set()  # the worker stops at the next token; the next call queues behind it
            raise
        except Exception as error:
            raise engine_error(error) from None
        if watch.cancelled():
            stop_reason = StopReason.ABORTED
        else:
            stop_reason = stop_reason_from_finish(finish, timings, params.max_tokens, model.n_ctx)
        return GenerationResult(
            text="".join(pieces),
            stop_reason=stop_reason,
            timings=timings,
            chunks=chunks,
            first_token_ms=first_piece_ms[0] if first_piece_ms else None,
            top_logprobs=tuple(_top_choices(model.llama, step) for step in watch.choices.values()),
        )


def _last_logits(llama: Llama) -> Any:
    """The logits of the last token the context evaluated (a view of llama.cpp's buffer)."""
    return np.ctypeslib.as_array(llama._ctx.get_logits_ith(-1), shape=(llama.n_vocab(),))


def _top_choices(llama: Llama, step: list[tuple[int, float]]) -> TopChoices:
    """One position's candidates with their text (an incomplete UTF-8 end dropped, as
    llama.cpp's server does)."""
    return tuple(
        TokenChoice(token, llama.detokenize([token]).decode("utf-8", errors="ignore"), logprob)
        for token, logprob in step
    )


def _token_text(llama: Llama, token: int) -> str:
    if token < 0:
        return ""
    return llama.detokenize([token], special=True).decode("utf-8", errors="replace")


def _grammar(gbnf: str | None) -> LlamaGrammar | None:
    if not gbnf:
        return None
    try:
        return LlamaGrammar.from_string(gbnf, verbose=False)
    except Exception as error:
        raise EngineError(f"The engine refused this grammar ({error}).") from None
