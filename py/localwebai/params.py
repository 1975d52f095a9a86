"""Load and generation parameters: every default in one place, validated with clear errors.

========================  ===================  ==========================================
parameter                 default              meaning
========================  ===================  ==========================================
``n_ctx``                 4096 (model's max)   context window, tokens
``n_batch``               512                  prompt tokens evaluated per batch
``n_threads``             all cores (isolated) worker threads (1 without isolation)
``n_gpu_layers``          all / 0              layers on WebGPU (0 = CPU only)
``max_tokens``            256                  n_predict: most tokens in one reply
``temperature``           0.7                  0 = greedy (same tokens as llama.cpp)
``top_k``                 40                   0 = off
``top_p``                 0.95                 1 = off
``min_p``                 0.05                 0 = off
``repeat_penalty``        1.0                  1 = off
``seed``                  None (random)        fixed seed for reproducible sampling
``stop``                  ()                   strings that end the reply (not included)
``response_format``       text                 JSON / JSON schema / GBNF (constrained.py)
========================  ===================  ==========================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

from .constrained import ResponseFormat
from .errors import ParameterError

DEFAULT_CONTEXT = 4096
MIN_CONTEXT = 128
MAX_CONTEXT = 131072
DEFAULT_BATCH = 512
MIN_BATCH = 32
DEFAULT_MAX_TOKENS = 256
MAX_MAX_TOKENS = 32768
DEFAULT_TEMPERATURE = 0.7
MAX_TEMPERATURE = 2.0
DEFAULT_TOP_K = 40
DEFAULT_TOP_P = 0.95
DEFAULT_MIN_P = 0.05
DEFAULT_REPEAT_PENALTY = 1.0
MAX_REPEAT_PENALTY = 2.0
MAX_STOP_STRINGS = 8
MAX_SEED = 2**32 - 1
MAX_TOP_LOGPROBS = 20
"""Most candidates per token a reply reports (``GenerationParams.top_logprobs``, as OpenAI's)."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ParameterError(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class LoadParams:
    """How to load a model into the engine."""

    n_ctx: int = DEFAULT_CONTEXT
    n_threads: int = 1
    n_gpu_layers: int = 0
    n_batch: int = DEFAULT_BATCH
    chat_template: str | None = None
    """A jinja template for models whose GGUF has none (None: the model's own)."""
    build: str | None = None
    """The wasm build to run (``Environment.build_for``; set by the runner for each start)."""

    def __post_init__(self) -> None:
        _require(
            _is_int(self.n_ctx) and MIN_CONTEXT <= self.n_ctx <= MAX_CONTEXT,
            f"Context size must be between {MIN_CONTEXT} and {MAX_CONTEXT} tokens, "
            f"not {self.n_ctx}.",
        )
        _require(
            _is_int(self.n_threads) and self.n_threads >= 1,
            f"Threads must be at least 1, not {self.n_threads}.",
        )
        _require(
            _is_int(self.n_gpu_layers) and self.n_gpu_layers >= 0,
            f"GPU layers must be a whole number, 0 or more, not {self.n_gpu_layers}.",
        )
        _require(
            _is_int(self.n_batch) and MIN_BATCH <= self.n_batch <= self.n_ctx,
            f"Batch size must be between {MIN_BATCH} and the context size ({self.n_ctx}), "
            f"not {self.n_batch}.",
        )

    @staticmethod
    def context_for(model_context: int | None, wanted: int = DEFAULT_CONTEXT) -> int:
        """The context to ask for: ``wanted``, capped by what the model was trained with."""
        if model_context and model_context >= MIN_CONTEXT:
            return min(wanted, model_context)
        return wanted

    def to_wllama(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "n_gpu_layers": self.n_gpu_layers,
            "n_batch": self.n_batch,
        }
        if self.chat_template:
            options["chat_template"] = self.chat_template
        return options


@dataclass(frozen=True)
class LoadChoices:
    """What the user chose for the next load; ``None`` leaves a setting to the runner, which
    picks it for the model and the browser (``LlamaRunner.load_params``) and validates the
    result as :class:`LoadParams`."""

    n_ctx: int | None = None
    n_batch: int | None = None
    n_threads: int | None = None
    n_gpu_layers: int | None = None

    LABELS: ClassVar[dict[str, str]] = {
        "n_ctx": "Context",
        "n_batch": "Batch size",
        "n_threads": "Threads",
        "n_gpu_layers": "GPU layers",
    }

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> LoadChoices:
        """Parse the page's text fields, like :meth:`GenerationParams.from_form`: keys are the
        field names, an empty field is automatic, and a value that is not a whole number is a
        ParameterError naming the field."""
        values: dict[str, int] = {}
        for name, raw in form.items():
            if name not in cls.LABELS:
                raise ParameterError(f"Unknown load parameter {name!r}.")
            text = raw.strip()
            if not text:
                continue
            try:
                values[name] = int(text)
            except ValueError:
                label = cls.LABELS[name]
                raise ParameterError(f"{label} must be a whole number, not {raw!r}.") from None
        return cls(**values)

    def overrides(self) -> dict[str, int]:
        """The settings chosen, by ``LoadParams`` field name (context excluded: the runner
        caps it by the model's own before use)."""
        chosen = {"n_batch": self.n_batch, "n_threads": self.n_threads}
        chosen["n_gpu_layers"] = self.n_gpu_layers
        return {name: value for name, value in chosen.items() if value is not None}


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings for one reply. Temperature 0 means greedy decoding."""

    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = DEFAULT_TEMPERATURE
    top_k: int = DEFAULT_TOP_K
    top_p: float = DEFAULT_TOP_P
    min_p: float = DEFAULT_MIN_P
    repeat_penalty: float = DEFAULT_REPEAT_PENALTY
    seed: int | None = None
    stop: tuple[str, ...] = field(default_factory=tuple)
    response_format: ResponseFormat = field(default_factory=ResponseFormat.text)
    top_logprobs: int = 0
    """Report, for each generated token, this many likeliest tokens with their log-probabilities
    (``GenerationResult.top_logprobs``; 0: none)."""

    def __post_init__(self) -> None:
        _require(
            _is_int(self.max_tokens) and 1 <= self.max_tokens <= MAX_MAX_TOKENS,
            f"Max tokens must be between 1 and {MAX_MAX_TOKENS}, not {self.max_tokens}.",
        )
        _require(
            _is_number(self.temperature) and 0 <= self.temperature <= MAX_TEMPERATURE,
            f"Temperature must be between 0 and {MAX_TEMPERATURE}, not {self.temperature}.",
        )
        _require(
            _is_int(self.top_k) and self.top_k >= 0,
            f"top_k must be a whole number, 0 or more, not {self.top_k}.",
        )
        _require(
            _is_number(self.top_p) and 0 < self.top_p <= 1,
            f"top_p must be more than 0 and at most 1, not {self.top_p}.",
        )
        _require(
            _is_number(self.min_p) and 0 <= self.min_p < 1,
            f"min_p must be at least 0 and less than 1, not {self.min_p}.",
        )
        _require(
            _is_number(self.repeat_penalty) and 0 < self.repeat_penalty <= MAX_REPEAT_PENALTY,
            f"Repeat penalty must be more than 0 and at most {MAX_REPEAT_PENALTY} "
            f"(1 = off), not {self.repeat_penalty}.",
        )
        _require(
            self.seed is None or (_is_int(self.seed) and 0 <= self.seed <= MAX_SEED),
            f"Seed must be a whole number from 0 to {MAX_SEED}, or empty, not {self.seed}.",
        )
        _require(
            isinstance(self.stop, tuple) and all(isinstance(s, str) and s for s in self.stop),
            "Stop strings must be non-empty text.",
        )
        _require(
            len(self.stop) <= MAX_STOP_STRINGS,
            f"At most {MAX_STOP_STRINGS} stop strings, not {len(self.stop)}.",
        )
        _require(
            _is_int(self.top_logprobs) and 0 <= self.top_logprobs <= MAX_TOP_LOGPROBS,
            f"top_logprobs must be a whole number from 0 to {MAX_TOP_LOGPROBS}, "
            f"not {self.top_logprobs}.",
        )

    def with_format(self, response_format: ResponseFormat) -> GenerationParams:
        return replace(self, response_format=response_format)

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> GenerationParams:
        """Parse the page's text fields (missing or empty ones keep their defaults).

        Keys are the field names; ``stop`` is one stop string per line. A value that is not a
        number is a ParameterError naming the field, not a crash.
        """
        kinds = {f.name: f.type for f in fields(cls)}
        labels = {"max_tokens": "Max tokens", "top_k": "top_k", "seed": "Seed"}
        values: dict[str, Any] = {}
        for name, raw in form.items():
            if name not in kinds or name == "response_format":
                raise ParameterError(f"Unknown generation parameter {name!r}.")
            text = raw.strip()
            if name == "stop":
                lines = [line for line in raw.split("\n") if line]
                values["stop"] = tuple(_unescape(line) for line in lines)
                continue
            if not text:
                continue
            label = labels.get(name, name.replace("_", " ").capitalize())
            if name in ("max_tokens", "top_k", "seed"):
                try:
                    values[name] = int(text)
                except ValueError:
                    raise ParameterError(f"{label} must be a whole number, not {raw!r}.") from None
            else:
                try:
                    values[name] = float(text)
                except ValueError:
                    raise ParameterError(f"{label} must be a number, not {raw!r}.") from None
        return cls(**values)

    def to_wllama(self) -> dict[str, Any]:
        """Options for wllama's createCompletion / createChatCompletion."""
        options: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        if self.temperature == 0:
            options["top_k"] = 1  # greedy: same tokens as native llama.cpp
        else:
            options.update(top_k=self.top_k, top_p=self.top_p, min_p=self.min_p)
        if self.repeat_penalty != DEFAULT_REPEAT_PENALTY:
            options["repeat_penalty"] = self.repeat_penalty
        if self.seed is not None:
            options["seed"] = self.seed
        if self.stop:
            options["stop"] = list(self.stop)
        if self.response_format.grammar:
            options["grammar"] = self.response_format.grammar
        if self.top_logprobs:
            options["n_probs"] = self.top_logprobs
        return options


def _unescape(line: str) -> str:
    r"""A stop string typed in the page: ``\n`` and ``\t`` stand for newline and tab."""
    return line.replace("\\n", "\n").replace("\\t", "\t")
