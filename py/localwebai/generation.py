"""Records of one generation: its text, why it stopped, and its speed."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class StopReason(StrEnum):
    END = "end"  # the model ended its reply (EOS / stop string)
    LENGTH = "length"  # max tokens reached
    ABORTED = "aborted"  # the user pressed Stop


@dataclass(frozen=True)
class Timings:
    """The engine's own counters for one request (llama.cpp server-style timings)."""

    prompt_tokens: int = 0
    prompt_ms: float = 0.0
    generated_tokens: int = 0
    generation_ms: float = 0.0

    @classmethod
    def from_engine(cls, timings: dict[str, Any] | None) -> Timings:
        if not timings:
            return cls()
        return cls(
            prompt_tokens=int(timings.get("prompt_n") or 0),
            prompt_ms=float(timings.get("prompt_ms") or 0.0),
            generated_tokens=int(timings.get("predicted_n") or 0),
            generation_ms=float(timings.get("predicted_ms") or 0.0),
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
class GenerationResult:
    """What one reply produced."""

    text: str
    stop_reason: StopReason
    timings: Timings
    chunks: int
    first_token_ms: float | None = None

    def summary(self) -> str:
        """One line under the reply: tokens, speed, and how it ended."""
        t = self.timings
        parts = [f"{t.generated_tokens} tokens", f"{t.generation_tokens_per_second:.1f} tokens/s"]
        if t.prompt_tokens:
            parts.append(f"prompt {t.prompt_tokens} at {t.prompt_tokens_per_second:.0f} tokens/s")
        if self.first_token_ms is not None:
            parts.append(f"first token {self.first_token_ms / 1000:.2f} s")
        if self.stop_reason is not StopReason.END:
            parts.append(f"stopped: {self.stop_reason.value}")
        return " · ".join(parts)


def stop_reason_from_finish(finish_reason: str | None) -> StopReason:
    """Map the OpenAI-style finish_reason to ours."""
    return StopReason.LENGTH if finish_reason == "length" else StopReason.END
