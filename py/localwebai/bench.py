"""Benchmark arithmetic shared by the in-app panel and ``scripts/bench.py``.

The workload is llama-bench's: prompt processing of about 128 tokens ("pp") and generation of
64 tokens ("tg"), both from one completion's engine timings. Records here are plain data; the
median over repetitions, ratios and the text table are computed the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .errors import ParameterError
from .generation import GenerationResult, OnText, Timings
from .params import GenerationParams

GENERATED_TOKENS = 64
WARMUP_TOKENS = 4
RUN_PREFIXES = "ACDGHIJKLO"
"""One letter per run. Greedy output of the tiny test model after these letters never contains
a lone UTF-8 byte token, on which wllama 3.8.1 fails (after B, E, F, M, N or X it does)."""
MAX_RUNS = len(RUN_PREFIXES)

_PROMPT_BODY = (
    "The old lighthouse keeper climbed the spiral stairs every evening to light the lamp. "
    "From the top he could see the fishing boats returning to the harbour, the gulls circling "
    "above the nets, and the long line of hills that marked the edge of the valley. In winter "
    "the storms came from the west and the waves broke over the rocks below the tower, but the "
    "light never failed. Travellers who passed through the village often asked him why he "
    "stayed alone for so many years. He would smile, point at the sea, and say that somebody "
    "had to keep watch while the others slept. The lamp still burns, always."
)


def bench_prompt(run: int) -> str:
    """The pp prompt of run ``run`` (0-based): 128 tokens with the Qwen2 tokenizer (142 with
    LLaMA's, BOS included). Each run's first token differs, so no run reuses another's cached
    prompt."""
    return f"{RUN_PREFIXES[run % len(RUN_PREFIXES)]}: {_PROMPT_BODY}"


def parse_runs(text: str) -> int:
    """The panel's Runs field as a count from 1 to ``MAX_RUNS``."""
    try:
        runs = int(text)
    except ValueError:
        raise ParameterError(f"Runs must be a whole number, not {text!r}.") from None
    if not 1 <= runs <= MAX_RUNS:
        raise ParameterError(f"Runs must be between 1 and {MAX_RUNS}, not {runs}.")
    return runs


class Completer(Protocol):
    """What a benchmark runs on: ``LlamaRunner`` (one reply at a time, its busy guard held)."""

    def stream_completion(
        self, prompt: str, params: GenerationParams, on_text: OnText
    ) -> Awaitable[GenerationResult]: ...


def _ignore_text(_piece: str) -> None:
    """Benchmark output is not shown."""


async def measure(runner: Completer, runs: int, on_status: Callable[[str], None]) -> list[Timings]:
    """A short warm-up, then ``runs`` greedy completions of the pp prompt, each generating
    ``GENERATED_TOKENS``: the engine's timings of each (the panel and ``python -m localwebai
    bench`` alike)."""
    on_status("Warming up…")
    warmup = GenerationParams(max_tokens=WARMUP_TOKENS, temperature=0)
    await runner.stream_completion("Warm up.", warmup, _ignore_text)
    params = GenerationParams(max_tokens=GENERATED_TOKENS, temperature=0)
    timings: list[Timings] = []
    for run in range(runs):
        on_status(f"Run {run + 1} of {runs}…")
        result = await runner.stream_completion(bench_prompt(run), params, _ignore_text)
        timings.append(result.timings)
    return timings


# statistics is imported where it is used: with the fractions and decimal modules it pulls in,
# it took 130 ms of the page's start in Pyodide, for a panel opened later if at all.


def median(values: Iterable[float]) -> float:
    """Median of one or more values."""
    import statistics

    items = list(values)
    if not items:
        raise ValueError("median of no values")
    return float(statistics.median(items))


def spread(values: Sequence[float]) -> float:
    """Sample standard deviation (0 for a single value), llama-bench's ``±``."""
    import statistics

    return float(statistics.stdev(values)) if len(values) > 1 else 0.0


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


@dataclass(frozen=True)
class SpeedRow:
    """One llama-bench line: a test (``pp128`` / ``tg64``) and its tokens per second."""

    test: str
    tokens: int
    tokens_per_second: float
    spread: float
    runs: int

    def text(self) -> str:
        """``293.1 ± 2.4`` (median ± standard deviation)."""
        return f"{self.tokens_per_second:.2f} ± {self.spread:.2f}"


def speed_rows(runs: Sequence[Timings]) -> list[SpeedRow]:
    """The pp and tg rows of several completions' timings (median over the runs)."""
    if not runs:
        raise ValueError("no benchmark runs")
    rows = []
    for kind, tokens, rates in (
        ("pp", [t.prompt_tokens for t in runs], [t.prompt_tokens_per_second for t in runs]),
        ("tg", [t.generated_tokens for t in runs], [t.generation_tokens_per_second for t in runs]),
    ):
        count = round(median(tokens))
        rows.append(SpeedRow(f"{kind}{count}", count, median(rates), spread(rates), len(runs)))
    return rows


@dataclass(frozen=True)
class Sample:
    """One measured value from one repetition of ``scripts/bench.py``."""

    engine: str
    metric: str
    value: float
    unit: str
    threads: int | None = None
    rep: int = 0


@dataclass(frozen=True)
class Summary:
    """The median of every repetition's sample of one (engine, metric, threads)."""

    engine: str
    metric: str
    threads: int | None
    unit: str
    median: float
    values: tuple[float, ...]


def summarize(samples: Iterable[Sample]) -> list[Summary]:
    """Group samples by (engine, metric, threads, unit), in first-seen order; median each."""
    groups: dict[tuple[str, str, int | None, str], list[float]] = {}
    for s in samples:
        groups.setdefault((s.engine, s.metric, s.threads, s.unit), []).append(s.value)
    return [
        Summary(engine, metric, threads, unit, median(values), tuple(values))
        for (engine, metric, threads, unit), values in groups.items()
    ]


def lookup(
    summaries: Iterable[Summary], engine: str, metric: str, threads: int | None = None
) -> float | None:
    """The median of one (engine, metric, threads), or None when it was not measured."""
    for s in summaries:
        if (s.engine, s.metric, s.threads) == (engine, metric, threads):
            return s.median
    return None


def format_number(value: float | None) -> str:
    """Three significant figures for the table; ``-`` for a value not measured."""
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])
