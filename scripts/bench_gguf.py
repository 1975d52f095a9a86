#!/usr/bin/env python3
"""Time GGUF header parsing: localwebai.gguf against gguf.GGUFReader, in CPython.

Prints a table of median times over N runs for SmolLM2's header and the Qwen2 vocab file
(151,936 tokens). ``ours (parse)`` parses bytes already in memory; ``ours (file)`` includes
reading the file; ``ours + values`` also decodes every array; GGUFReader memory-maps the file and
builds its fields. Not a test: run ``python scripts/bench_gguf.py [--runs N]`` after
``scripts/make_test_models.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "py"))

from localwebai import gguf as ours  # noqa: E402

FILES = [
    REPO / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf",
    REPO / "models" / "vocab" / "ggml-vocab-qwen2.gguf",
]


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def parse_with_values(data: bytes) -> None:
    header = ours.parse_header(data)
    assert isinstance(header, ours.GGUFHeader)
    for entry in header.metadata.values():
        entry.to_python()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per measurement (default 7)")
    parser.add_argument("--reader-runs", type=int, default=3, help="runs for GGUFReader")
    args = parser.parse_args()
    try:
        import gguf
    except ImportError:
        gguf = None
    missing = [p for p in FILES if not p.is_file()]
    if missing:
        print(f"missing {', '.join(map(str, missing))}: run scripts/make_test_models.py")
        return 1
    print(
        f"Python {sys.version.split()[0]}, median of {args.runs} runs "
        f"({args.reader_runs} for GGUFReader)\n"
    )
    columns = (
        "file",
        "header",
        "ours (parse)",
        "ours (file)",
        "ours + values",
        "GGUFReader",
        "speed-up",
    )
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for path in FILES:
        header = ours.read_header_file(path)
        data = path.read_bytes()[: header.header_size]
        parse = median_ms(lambda data=data: ours.parse_header(data), args.runs)
        from_file = median_ms(lambda path=path: ours.read_header_file(path), args.runs)
        values = median_ms(lambda data=data: parse_with_values(data), args.runs)
        if gguf is not None:
            reader = median_ms(lambda path=path: gguf.GGUFReader(path), args.reader_runs)
            reader_text, ratio = f"{reader:,.1f} ms", f"{reader / from_file:,.0f}x"
        else:
            reader_text, ratio = "(gguf not installed)", "-"
        print(
            f"| {path.name} | {header.header_size / 1e6:.2f} MB | {parse:,.1f} ms | "
            f"{from_file:,.1f} ms | {values:,.1f} ms | {reader_text} | {ratio} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
