#!/usr/bin/env python3
"""llama.cpp's own ``llama-bench``, built for this CPU: the limit the app's speed is measured
against (``scripts/bench.py``).

    python scripts/llama_bench.py                 # build it (once; ~8 min on 2 cores)
    python scripts/llama_bench.py MODEL [-t 1,2]  # and run it: pp and tg tokens/s

Built from the llama.cpp inside the llama-cpp-python 0.3.36 sdist (the same source as our wasm
builds and the native package) with ``GGML_NATIVE=ON``: every instruction this CPU has, which is
what "native speed" means (``llama_cpp_tools.py`` builds and caches it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from common import SetupError
from llama_cpp_tools import Tool, ensure_tool

LLAMA_BENCH = Tool("llama-bench", ("-DGGML_NATIVE=ON",))


@dataclass(frozen=True)
class BenchResult:
    """One llama-bench test: ``pp`` (prompt of ``tokens``) or ``tg`` (``tokens`` generated)."""

    kind: str
    tokens: int
    threads: int
    tokens_per_s: float


def ensure_llama_bench() -> Path:
    """The llama-bench binary, built first when missing."""
    return ensure_tool(LLAMA_BENCH)


class LlamaBenchCrashed(RuntimeError):
    """llama-bench died of a signal (a crash, not a bad argument)."""


def run_llama_bench(
    binary: Path,
    model: Path,
    threads: list[int],
    prompt_tokens: int,
    generated_tokens: int,
    repack: bool = True,
) -> list[BenchResult]:
    """One repetition of pp and tg at each thread count (llama-bench's JSON output).
    ``repack=False`` keeps the weights in their file layout: with ggml's repacked (and, on a CPU
    with AMX, AMX) layouts this build crashes here on SmolLM2's Q4_1 and on the bench model's
    Q4_K_M (SIGSEGV), as llama-cpp-python built with GGML_NATIVE did."""
    cmd = [
        str(binary),
        "-m",
        str(model),
        "-p",
        str(prompt_tokens),
        "-n",
        str(generated_tokens),
        "-t",
        ",".join(map(str, threads)),
        "-r",
        "1",
        "--repack",
        "1" if repack else "0",
        "-o",
        "json",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode < 0:
        raise LlamaBenchCrashed(f"llama-bench died of signal {-result.returncode}")
    if result.returncode != 0:
        raise RuntimeError(f"llama-bench failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return [
        BenchResult(
            kind="pp" if test["n_prompt"] else "tg",
            tokens=test["n_prompt"] or test["n_gen"],
            threads=test["n_threads"],
            tokens_per_s=test["avg_ts"],
        )
        for test in json.loads(result.stdout)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, nargs="?", help="run it on this GGUF")
    parser.add_argument("-t", "--threads", default="1,2", help="thread counts (default 1,2)")
    args = parser.parse_args(argv)
    try:
        binary = ensure_llama_bench()
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.model:
        threads = [int(t) for t in args.threads.split(",")]
        for row in run_llama_bench(binary, args.model, threads, 128, 64):
            print(f"{row.kind}{row.tokens}  {row.threads} thread(s)  {row.tokens_per_s:.1f} t/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
