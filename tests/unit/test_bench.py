"""The benchmark core: the prompt, medians and spreads, pp/tg rows, grouping, ratios, the table."""

from __future__ import annotations

import pytest
from localwebai.bench import (
    MAX_RUNS,
    Sample,
    bench_prompt,
    format_number,
    format_ratio,
    format_table,
    lookup,
    median,
    parse_runs,
    ratio,
    speed_rows,
    spread,
    summarize,
)
from localwebai.errors import ParameterError
from localwebai.generation import Timings


def test_each_run_has_its_own_prompt_so_no_run_reuses_a_cached_prefix() -> None:
    prompts = [bench_prompt(run) for run in range(MAX_RUNS)]
    assert len({p.split()[0] for p in prompts}) == MAX_RUNS  # each starts with its own token
    assert len({len(p.split()) for p in prompts}) == 1  # same length, same work
    assert 100 <= len(prompts[0].split()) <= 120  # ~128 tokens of English


def test_median_and_spread() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert spread([5.0]) == 0.0
    assert spread([1.0, 3.0]) == pytest.approx(1.4142, abs=1e-4)
    with pytest.raises(ValueError):
        median([])


def test_ratio_is_none_when_a_side_is_missing_or_zero() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(3.0, None) is None
    assert ratio(3.0, 0.0) is None


def test_runs_field_is_validated() -> None:
    assert parse_runs(" 3 ") == 3
    assert parse_runs(str(MAX_RUNS)) == MAX_RUNS
    for text in ("0", str(MAX_RUNS + 1), "three", ""):
        with pytest.raises(ParameterError):
            parse_runs(text)


def test_speed_rows_take_medians_of_the_engine_timings() -> None:
    runs = [
        Timings(prompt_tokens=128, prompt_ms=1000.0, generated_tokens=64, generation_ms=2000.0),
        Timings(prompt_tokens=128, prompt_ms=500.0, generated_tokens=64, generation_ms=1000.0),
        Timings(prompt_tokens=127, prompt_ms=400.0, generated_tokens=64, generation_ms=4000.0),
    ]
    pp, tg = speed_rows(runs)
    assert (pp.test, pp.tokens, pp.runs) == ("pp128", 128, 3)
    assert pp.tokens_per_second == pytest.approx(256.0)  # of 128, 256, 317.5
    assert (tg.test, tg.tokens) == ("tg64", 64)
    assert tg.tokens_per_second == pytest.approx(32.0)  # of 32, 64, 16
    assert tg.text() == f"32.00 ± {spread([32.0, 64.0, 16.0]):.2f}"
    single = speed_rows(runs[:1])
    assert single[0].text() == "128.00 ± 0.00"
    with pytest.raises(ValueError):
        speed_rows([])


def test_summaries_group_by_engine_metric_and_threads_in_first_seen_order() -> None:
    samples = [
        Sample("native", "tg_tps", 50.0, "tokens/s", 1, rep=0),
        Sample("app", "tg_tps", 30.0, "tokens/s", 1, rep=0),
        Sample("native", "tg_tps", 70.0, "tokens/s", 2, rep=0),
        Sample("native", "tg_tps", 60.0, "tokens/s", 1, rep=1),
        Sample("native", "tg_tps", 40.0, "tokens/s", 1, rep=2),
        Sample("app", "python_ready_ms", 2100.0, "ms", None, rep=0),
    ]
    summaries = summarize(samples)
    assert [(s.engine, s.threads) for s in summaries] == [
        ("native", 1),
        ("app", 1),
        ("native", 2),
        ("app", None),
    ]
    assert summaries[0].values == (50.0, 60.0, 40.0)
    assert lookup(summaries, "native", "tg_tps", 1) == 50.0
    assert lookup(summaries, "native", "tg_tps", 2) == 70.0
    assert lookup(summaries, "app", "python_ready_ms") == 2100.0
    assert lookup(summaries, "bare wllama", "tg_tps", 1) is None


def test_numbers_and_table_formatting() -> None:
    assert [format_number(v) for v in (None, 293.4, 58.66, 1.234)] == ["-", "293", "58.7", "1.23"]
    assert (format_ratio(None), format_ratio(0.756)) == ("-", "0.76x")
    table = format_table(
        ["speed", "native", "app"], [["pp128", "293", "88.1"], ["tg64", "59", "-"]]
    )
    assert table.splitlines() == [
        "speed  native   app",
        "-----  ------  ----",
        "pp128     293  88.1",
        "tg64       59     -",
    ]
