#!/usr/bin/env python3
"""Where the engine's time goes in the browser: a sampling profile of our wasm build, by function.

    python scripts/profile_wasm.py [--model PATH] [--threads N] [--variant NAME] [--top N] [--out F]

It relinks the variant's wllama from the build folder ``scripts/build_wasm.py`` left under
``.cache/wasm-build/`` with ``--profiling-funcs`` (the same code, with its function names), and
serves that in place of the committed build to the bare-wllama page of ``scripts/bench.py``,
in headless Chromium with V8's sampling profiler on (``--prof``: every thread's stack once a
millisecond, into one log per thread). Two phases, each in a fresh browser, as the benchmark
measures them: a prompt (``bench_prompt``, ~128 tokens, one token generated) and generation
(``GENERATED`` tokens after a short prompt), each after a one-token warm-up (which V8's
optimizing tier needs; its few ticks count too). Only the ticks taken while llama.cpp computes
count (under ``llama_context::decode``, or on a compute thread); each goes to the function it
fell in, so an inlined helper counts in its caller, and time a thread spends waiting for the
others at a barrier shows as ``ggml_graph_compute_thread``.
"""

from __future__ import annotations

import argparse
import bisect
import json
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "py"), str(REPO / "scripts")]

import build_wasm  # noqa: E402
from bench import BENCH_MODEL, BOOT_TIMEOUT_MS, N_CTX, PAGE_TIMEOUT_MS, BenchHandler  # noqa: E402
from localwebai.bench import bench_prompt, format_table  # noqa: E402

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, block_non_local  # noqa: E402
from tests.support.server import serve_py  # noqa: E402

GENERATED = 128
SHORT_PROMPT = "Once upon a time"
COMPUTING = ("llama_context::decode", "ggml_graph_compute_secondary_thread")
"""A tick counts when one of its frames is in one of these (the page's thread, the others)."""


@dataclass(frozen=True)
class Phase:
    """One profiled run: its prompt and the tokens it generates."""

    name: str
    prompt: str
    max_tokens: int


PHASES = (Phase("prompt", bench_prompt(0), 1), Phase("generation", SHORT_PROMPT, GENERATED))


class CodeMap:
    """V8's code objects by address, as its log creates, moves and deletes them."""

    def __init__(self) -> None:
        self._names: dict[int, tuple[int, str]] = {}
        self._starts: list[int] = []
        self._stale = False

    def apply(self, fields: list[str]) -> None:
        kind = fields[0]
        if kind == "code-creation" and len(fields) > 6:
            self._names[int(fields[4], 16)] = (int(fields[5]), fields[6].replace("\\x2C", ","))
        elif kind == "code-move" and int(fields[1], 16) in self._names:
            self._names[int(fields[2], 16)] = self._names.pop(int(fields[1], 16))
        elif kind == "code-delete":
            self._names.pop(int(fields[1], 16), None)
        else:
            return
        self._stale = True

    def name(self, address: int) -> str | None:
        if self._stale:
            self._starts = sorted(self._names)
            self._stale = False
        index = bisect.bisect_right(self._starts, address) - 1
        if index < 0:
            return None
        start = self._starts[index]
        size, name = self._names[start]
        return name if address < start + size else None


def short_name(name: str) -> str:
    """A C++ function's name without its parameters."""
    return name.split("(", 1)[0]


def computing_ticks(log_lines: Iterable[str]) -> Counter[str]:
    """Ticks of one V8 ``--prof`` log by the function they fell in, those taken while
    llama.cpp computes only (see COMPUTING)."""
    codes = CodeMap()
    ticks: Counter[str] = Counter()
    for line in log_lines:
        fields = line.rstrip("\n").split(",")
        if fields[0] != "tick":
            codes.apply(fields)
            continue
        # tick,pc,time,is_external_callback,external_callback_or_tos,vm_state,stack...
        frames = [codes.name(int(field, 16)) for field in fields[6:] if field.startswith("0x")]
        if any(frame and frame.startswith(COMPUTING) for frame in frames):
            name = codes.name(int(fields[1], 16))
            ticks[short_name(name) if name else "(unknown)"] += 1
    return ticks


def relink_with_names(variant: str, out: Path) -> None:
    """The variant's wllama.{js,wasm}, linked again from its build folder with function names."""
    build_dir = build_wasm.WORK_DIR / f"build-{variant}"
    link = build_dir / "CMakeFiles/wllama.dir/link.txt"
    if not link.exists():
        sys.exit(f"no build folder for {variant}: run scripts/build_wasm.py --variant {variant}")
    command = (
        link.read_text().strip().replace(" -o wllama.js", f" --profiling-funcs -o {out}/wllama.js")
    )
    env = build_wasm.setup_toolchain(build_wasm.WORK_DIR)
    print(f"relinking {variant} with function names (a few minutes)", flush=True)
    subprocess.run(["bash", "-c", command], cwd=build_dir, env=env, check=True, capture_output=True)


def handler_serving(variant: str, named: Path) -> type[BenchHandler]:
    """bench.py's handler, answering the variant's committed files with the relinked ones."""
    replaced = {f"/wasm/wllama-{variant}.{ext}": named / f"wllama.{ext}" for ext in ("js", "wasm")}

    class ProfileHandler(BenchHandler):
        def _locate(self, url_path: str) -> Path | None:
            return replaced.get(url_path) or super()._locate(url_path)

    return ProfileHandler


def profile_phase(
    base_url: str, model_url: str, variant: str, threads: int, phase: Phase, logs: Path
) -> tuple[Counter[str], dict[str, float]]:
    """One phase in a fresh browser: its computing ticks (all threads) and the engine's timings."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--js-flags=--prof --logfile={logs}/v8.log"],
        )
        context = browser.new_context()
        blocked = block_non_local(context)
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        page.goto(f"{base_url}bench/bare.html")
        page.wait_for_selector("body[data-state=ready]", state="attached", timeout=BOOT_TIMEOUT_MS)
        options = {"nThreads": threads, "nCtx": N_CTX, "useCache": False, "build": variant}
        page.evaluate("([u, o]) => bench.load(u, o)", [model_url, options])
        page.evaluate("([p, n]) => bench.complete(p, n)", ["Warm up.", 1])
        result = page.evaluate("([p, n]) => bench.complete(p, n)", [phase.prompt, phase.max_tokens])
        browser.close()
    if blocked:
        raise RuntimeError(f"the page tried to reach beyond localhost: {blocked}")
    ticks: Counter[str] = Counter()
    for log in logs.glob("*.log"):
        with log.open(errors="replace") as lines:
            ticks += computing_ticks(lines)
    return ticks, result["timings"]


def profile_table(phase: str, ticks: Counter[str], top: int) -> str:
    total = sum(ticks.values())
    rows = [
        [name, f"{100 * count / total:.1f}%", str(count)] for name, count in ticks.most_common(top)
    ]
    return format_table([f"{phase}: function", "share", "ticks"], rows)


def speed_line(timings: dict[str, float]) -> str:
    prompt = f"{timings['prompt_n']} prompt tokens at {timings['prompt_per_second']:.1f}/s"
    generated = f"{timings['predicted_n']} generated at {timings['predicted_per_second']:.1f}/s"
    return f"  {prompt}, {generated}\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=BENCH_MODEL)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variant", default="simd-relaxed", choices=sorted(build_wasm.VARIANTS))
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--out", type=Path, help="write the ticks and timings as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory(prefix="profile-wasm-") as temporary:
        root = Path(temporary)
        relink_with_names(args.variant, root)
        handler = handler_serving(args.variant, root)
        with serve_py(args.model.parent, handler=handler) as server:
            model_url = f"{server.url}models/{args.model.name}"
            for phase in PHASES:
                print(f"profiling {phase.name} ({args.threads} thread(s))", flush=True)
                logs = root / f"logs-{phase.name}"
                logs.mkdir()
                ticks, timings = profile_phase(
                    server.url, model_url, args.variant, args.threads, phase, logs
                )
                results[phase.name] = {"ticks": dict(ticks.most_common()), "timings": timings}
                print(profile_table(phase.name, ticks, args.top), flush=True)
                print(speed_line(timings), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
