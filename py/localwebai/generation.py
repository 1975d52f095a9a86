"""One generation: the reply in progress (``Generation``), and what it produced."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class StopReason(StrEnum):
    END = "end"  # the model ended its reply (EOS / stop string)
    LENGTH = "length"  # max tokens reached
    ABORTED = "aborted"  # the user pressed Stop
    CONTEXT_FULL = "context_full"  # the context window filled up before max tokens


@dataclass(frozen=True)
class Timings:
    """The engine's own counters for one request (llama.cpp server-style timings)."""

    prompt_tokens: int = 0
    """Prompt tokens evaluated for this request (not counting those reused from the KV cache)."""
    prompt_ms: float = 0.0
    generated_tokens: int = 0
    generation_ms: float = 0.0
    cached_tokens: int = 0
    """Prompt tokens reused from the KV cache of the previous request."""

    @classmethod
    def from_engine(cls, timings: dict[str, Any] | None) -> Timings:
        if not timings:
            return cls()
        return cls(
            prompt_tokens=int(timings.get("prompt_n") or 0),
            prompt_ms=float(timings.get("prompt_ms") or 0.0),
            generated_tokens=int(timings.get("predicted_n") or 0),
            generation_ms=float(timings.get("predicted_ms") or 0.0),
            cached_tokens=int(timings.get("cache_n") or 0),
        )

    @property
    def prompt_tokens_per_second(self) -> float:
        return _rate(self.prompt_tokens, self.prompt_ms)

    @property
    def generation_tokens_per_second(self) -> float:
        return _rate(self.generated_tokens, self.generation_ms)


def _rate(tokens: int, ms: float) -> float:
    return tokens * 1000.0 / ms if ms > 0 else 0.0


@dataclass(frozen=True)
class TokenChoice:
    """A candidate for one position of the reply: a token and its log-probability there, under
    the model's own distribution (the softmax of its logits, before any sampling setting)."""

    id: int
    text: str
    logprob: float


TopChoices = tuple[TokenChoice, ...]
"""The likeliest tokens at one position, likeliest first."""


def top_choices_from_engine(entries: list[dict[str, Any]]) -> list[TopChoices]:
    """The ``top_logprobs`` of each token of an OpenAI-style ``logprobs.content`` list (what
    llama.cpp's server, and so wllama, streams with ``n_probs``)."""
    return [
        tuple(
            TokenChoice(int(c["id"]), str(c["token"]), float(c["logprob"]))
            for c in entry.get("top_logprobs") or ()
        )
        for entry in entries
    ]


@dataclass(frozen=True)
class GenerationResult:
    """What one reply produced."""

    text: str
    stop_reason: StopReason
    timings: Timings
    chunks: int
    first_token_ms: float | None = None
    top_logprobs: tuple[TopChoices, ...] = ()
    """Per generated token, the ``GenerationParams.top_logprobs`` likeliest tokens at its
    position (empty where none were asked for)."""

    def summary(self) -> str:
        """One line under the reply: tokens, speed, and how it ended."""
        t = self.timings
        parts = [f"{t.generated_tokens} tokens", f"{t.generation_tokens_per_second:.1f} tokens/s"]
        if t.prompt_tokens:
            parts.append(f"prompt {t.prompt_tokens} at {t.prompt_tokens_per_second:.0f} tokens/s")
        if t.cached_tokens:
            parts.append(f"{t.cached_tokens} cached")
        if self.first_token_ms is not None:
            parts.append(f"first token {self.first_token_ms / 1000:.2f} s")
        if self.stop_reason is not StopReason.END:
            parts.append(f"stopped: {self.stop_reason.value}")
        return " · ".join(parts)


def stop_reason_from_finish(
    finish_reason: str | None,
    timings: Timings | None = None,
    max_tokens: int | None = None,
    n_ctx: int | None = None,
) -> StopReason:
    """Map the OpenAI-style finish_reason to ours.

    The engine does not shift the context: a reply that reaches the end of the context window
    stops with finish_reason "length" before ``max_tokens``; that is ``CONTEXT_FULL``.
    """
    if finish_reason != "length":
        return StopReason.END
    if timings and max_tokens and n_ctx and timings.generated_tokens < max_tokens:
        used = timings.prompt_tokens + timings.cached_tokens + timings.generated_tokens
        if used >= n_ctx - 1:
            return StopReason.CONTEXT_FULL
    return StopReason.LENGTH


OnText = Callable[[str], None]
OnComplete = Callable[[GenerationResult], None]
Run = Callable[[OnText], Awaitable[GenerationResult]]
_END = object()


class Generation:
    """A reply in progress: iterate it for text pieces as they stream, then read ``result``.

    ::

        generation = runner.generate("Once upon a time", params)
        async for piece in generation:
            print(piece, end="")
        print(generation.result.stop_reason)

    ``await generation`` waits for the whole reply and returns its ``GenerationResult``.
    ``on_token`` / ``on_complete`` callbacks are called as well, for callback-style code
    (the reply runs without anyone iterating). ``abort()`` stops it early.
    """

    def __init__(
        self,
        run: Run,
        abort: Callable[[], None],
        on_token: OnText | None = None,
        on_complete: OnComplete | None = None,
    ) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._abort = abort
        self._on_token = on_token
        self._on_complete = on_complete
        self._drained = False
        self._task: asyncio.Future[GenerationResult] = asyncio.ensure_future(run(self._piece))
        self._task.add_done_callback(self._finished)

    def _piece(self, text: str) -> None:
        self._queue.put_nowait(text)
        if self._on_token is not None:
            self._on_token(text)

    def _finished(self, task: asyncio.Future[GenerationResult]) -> None:
        self._queue.put_nowait(_END)
        if self._on_complete is not None and not task.cancelled() and task.exception() is None:
            self._on_complete(task.result())

    def __aiter__(self) -> Generation:
        return self

    async def __anext__(self) -> str:
        if self._drained:
            raise StopAsyncIteration
        piece = await self._queue.get()
        if piece is _END:
            self._drained = True
            self._task.result()  # raise the engine's error, if any
            raise StopAsyncIteration
        return piece

    def __await__(self) -> Generator[Any, None, GenerationResult]:
        return self._task.__await__()

    @property
    def done(self) -> bool:
        return self._task.done()

    @property
    def result(self) -> GenerationResult:
        """The finished reply (raises its error, or ``InvalidStateError`` while running)."""
        return self._task.result()

    def abort(self) -> None:
        """Stop generating; the result keeps the text so far, with stop reason ``aborted``."""
        self._abort()
