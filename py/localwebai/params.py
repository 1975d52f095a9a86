"""Load and generation parameters: defaults in one place, validated with clear errors."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ParameterError

DEFAULT_CONTEXT = 4096
MIN_CONTEXT = 128
MAX_CONTEXT = 131072
DEFAULT_MAX_TOKENS = 256
MAX_MAX_TOKENS = 32768
DEFAULT_TEMPERATURE = 0.7
MAX_TEMPERATURE = 2.0


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ParameterError(message)


@dataclass(frozen=True)
class LoadParams:
    """How to load a model into the engine."""

    n_ctx: int = DEFAULT_CONTEXT
    n_threads: int = 1
    n_gpu_layers: int = 0

    def __post_init__(self) -> None:
        _require(
            MIN_CONTEXT <= self.n_ctx <= MAX_CONTEXT,
            f"Context size must be between {MIN_CONTEXT} and {MAX_CONTEXT} tokens, "
            f"not {self.n_ctx}.",
        )
        _require(self.n_threads >= 1, f"Threads must be at least 1, not {self.n_threads}.")
        _require(self.n_gpu_layers >= 0, "GPU layers cannot be negative.")

    @staticmethod
    def context_for(model_context: int | None, wanted: int = DEFAULT_CONTEXT) -> int:
        """The context to ask for: ``wanted``, capped by what the model was trained with."""
        if model_context and model_context >= MIN_CONTEXT:
            return min(wanted, model_context)
        return wanted

    def to_wllama(self) -> dict[str, Any]:
        return {
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "n_gpu_layers": self.n_gpu_layers,
        }


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings for one reply. Temperature 0 means greedy decoding."""

    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = DEFAULT_TEMPERATURE
    top_k: int = 40
    top_p: float = 0.95
    seed: int | None = None
    stop: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _require(
            1 <= self.max_tokens <= MAX_MAX_TOKENS,
            f"Max tokens must be between 1 and {MAX_MAX_TOKENS}, not {self.max_tokens}.",
        )
        _require(
            math.isfinite(self.temperature) and 0 <= self.temperature <= MAX_TEMPERATURE,
            f"Temperature must be between 0 and {MAX_TEMPERATURE}, not {self.temperature}.",
        )
        _require(self.top_k >= 0, f"top_k cannot be negative, not {self.top_k}.")
        _require(0 < self.top_p <= 1, f"top_p must be in (0, 1], not {self.top_p}.")

    @classmethod
    def from_form(cls, max_tokens: str, temperature: str) -> GenerationParams:
        """Parse the page's text fields; a non-number is a ParameterError, not a crash."""
        try:
            tokens = int(max_tokens)
        except ValueError:
            message = f"Max tokens must be a whole number, not {max_tokens!r}."
            raise ParameterError(message) from None
        try:
            temp = float(temperature)
        except ValueError:
            raise ParameterError(f"Temperature must be a number, not {temperature!r}.") from None
        return cls(max_tokens=tokens, temperature=temp)

    def to_wllama(self) -> dict[str, Any]:
        """Options for wllama's createCompletion / createChatCompletion."""
        options: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        if self.temperature == 0:
            options["top_k"] = 1  # greedy: same tokens as native llama.cpp
        else:
            options.update(top_k=self.top_k, top_p=self.top_p)
        if self.seed is not None:
            options["seed"] = self.seed
        if self.stop:
            options["stop"] = list(self.stop)
        return options
