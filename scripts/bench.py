#!/usr/bin/env python3
"""Benchmark the app against native llama.cpp and bare wllama: same GGUF, same thread counts.

    python scripts/bench.py [--quick] [--reps N] [--model PATH] [--builds simd,simd64] [--out F]

One command, one sitting. Each repetition runs, for 1 thread and for all cores, the five
engines one after another (their order rotates from one repetition to the next):

* llama-bench: llama.cpp's own benchmark built for this CPU from the same source
  (``scripts/llama_bench.py``; built once, cached): the limit, and the headline ratio;
* node-llama-cpp: llama.cpp through node-llama-cpp's prebuilt CPU binaries
  (``scripts/bench_native.mjs``), a second native column;
* bare wllama: the vendored wllama in headless Chromium on a minimal page (``bench_pages/``),
  the model loaded with wllama's own ``loadModelFromUrl`` and its OPFS cache, on the same wasm
  build as the app (ours, ``simd-relaxed`` in Chromium: ``scripts/build_wasm.py``);
* wllama's build: the same page on wllama 3.8.1's own wasm build (``?engine=default``), the
  build our own replaces on the CPU;
* app: the real page, the model loaded through ``#model-url``/``#load-url``, the speed measured by
  the in-app benchmark panel, its thread count set in the app's own Threads field.

Each measures one warm-up and one greedy completion: ~128 prompt tokens (pp) and 64 generated
tokens (tg), timed by the engine (the actual token counts are reported). Once per repetition, on
the all-cores run, it also measures the app's cold start (navigation → first paint, → Python
ready), a second load of the same URL after a reload (the app's model cache) against wllama's
OPFS cache on a second visit, the app's download against a plain ``fetch()`` of the same file,
and the peak memory of the browser's processes (psutil, summed over Chromium's process tree)
while loading and while generating. Medians over the repetitions go into one table with the
ratios, and with ``--out`` into a JSON file.

Before the rotation, once: our relaxed-SIMD ``vec_dot`` kernels, single-row and as the 4- and
8-column tiles prompts use, against ggml's SIMD128 and scalar ones, ns per 256 weights on a
64 x 4096 matrix (``wasm/kernels/kernel-check.js``, best of 5, in the same Chromium), in the
instruction mix this browser's probe picked and in the other, as a table of their own.

``--builds simd,simd64`` adds, in the same rotation, the bare page forced (``?engine=``) on each
of those wasm builds, and a table of their speeds against the first one named.

``--quick`` runs once on the tiny test model (under a minute; exercised by a test). The full run
uses ``models/bench-qwen2-0.5b-shape.Q4_K_M.gguf`` (``scripts/make_bench_model.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Playwright, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "py")]

from llama_bench import LlamaBenchCrashed, ensure_llama_bench, run_llama_bench  # noqa: E402
from localwebai.bench import (  # noqa: E402
    GENERATED_TOKENS,
    WARMUP_TOKENS,
    Sample,
    Summary,
    bench_prompt,
    format_number,
    format_ratio,
    format_table,
    lookup,
    ratio,
    summarize,
)
from localwebai.environment import Environment  # noqa: E402
from make_test_models import LLAMA_CPP_PYTHON_VERSION  # noqa: E402
from native_reference import ensure_node_llama_cpp  # noqa: E402

import serve  # noqa: E402
from tests.support.app_actions import close_views, open_view  # noqa: E402
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, block_non_local  # noqa: E402
from tests.support.kernel_check import run_kernel_check  # noqa: E402
from tests.support.server import serve_py  # noqa: E402

BENCH_PAGES = Path(__file__).resolve().parent / "bench_pages"
BENCH_PREFIX = "/bench/"
NATIVE_DRIVER = Path(__file__).resolve().parent / "bench_native.mjs"
BENCH_MODEL = REPO / "models" / "bench-qwen2-0.5b-shape.Q4_K_M.gguf"
QUICK_MODEL = REPO / "models" / "tiny-llama.gguf"
N_CTX = 4096  # the app's default context
PAGE_TIMEOUT_MS = 300_000
BOOT_TIMEOUT_MS = 120_000
MEMORY_INTERVAL_S = 0.2
MEMORY_RESCAN_EVERY = 5
MB = 1e6
LIMIT, NATIVE, UPSTREAM, BARE = "llama-bench", "node-llama-cpp", "wllama's build", "bare wllama"
APP = "app"
LIMIT_PROMPT_TOKENS = 128  # llama-bench's pp128 (random tokens; the pages' prompt is ~126)

# Installed before the page's scripts: records when the app changes state, load stage and status,
# in the page's own clock (ms since navigation start).
APP_PROBE = """
window.__bench = { events: [] };
const record = (kind, value) => window.__bench.events.push([kind, value, performance.now()]);
document.addEventListener("submit", () => record("submit", ""), true);
document.addEventListener("DOMContentLoaded", () => {
  const watch = (element, attribute, kind) => {
    if (!element) return;
    new MutationObserver(() => record(kind, element.getAttribute(attribute)))
      .observe(element, { attributes: true, attributeFilter: [attribute] });
  };
  watch(document.body, "data-state", "state");
  watch(document.getElementById("load-panel"), "data-stage", "stage");
});
"""


class BenchHandler(serve.RequestHandler):
    """serve.py's handler, plus the bare-wllama page under /bench/."""

    def _locate(self, url_path: str) -> Path | None:
        if url_path.startswith(BENCH_PREFIX):
            return serve.resolve_inside(BENCH_PAGES, url_path[len(BENCH_PREFIX) :])
        return super()._locate(url_path)


@dataclass
class MemorySampler:
    """Summed memory of a set of processes, sampled in a thread; peaks per phase.

    RSS (``/proc/PID/statm``, cheap to read) counts pages shared between Chromium's processes
    once per process, so its sum is an upper bound; "anon" (RSS minus file-backed and shared
    pages) sums each process's private memory (heaps, wasm memory) without double counting.
    PSS would be exact, but reading smaps costs ~50 ms of kernel time per sweep here, which
    would slow the very inference being measured.
    """

    processes: Callable[[], list[psutil.Process]]
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    phases: dict[str, tuple[float, float]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        tree: list[psutil.Process] = []
        for tick in itertools.count():
            if self._stop.is_set():
                return
            if tick % MEMORY_RESCAN_EVERY == 0:  # new renderers/workers come and go
                tree = self.processes()
            rss = anon = 0
            for process in tree:
                with contextlib.suppress(psutil.Error):
                    info = process.memory_info()
                    rss += info.rss
                    anon += info.rss - info.shared
            self.samples.append((time.monotonic(), rss / MB, anon / MB))
            self._stop.wait(MEMORY_INTERVAL_S)

    @contextlib.contextmanager
    def running(self) -> Iterator[MemorySampler]:
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        time.sleep(2 * MEMORY_INTERVAL_S)  # at least one sample before the phase starts
        yield
        time.sleep(2 * MEMORY_INTERVAL_S)
        self.phases[name] = (started, time.monotonic())

    def peak(self, name: str) -> tuple[float, float]:
        """(peak RSS sum, peak anon sum) in MB during a phase."""
        start, end = self.phases[name]
        inside = [(rss, anon) for t, rss, anon in self.samples if start <= t <= end]
        return max(r for r, _ in inside), max(a for _, a in inside)


def wait_for(page: Page, selector: str, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    """Wait for ``selector``; on timeout, fail with what the page was showing."""
    try:
        page.wait_for_selector(selector, timeout=timeout_ms)
    except PlaywrightTimeoutError:
        shown = page.evaluate(
            """() => ({state: document.body.dataset.state,
                status: document.getElementById("status")?.textContent,
                error: document.getElementById("error")?.textContent})"""
        )
        raise RuntimeError(f"timed out waiting for {selector}; the page showed {shown}") from None


def chromium_processes() -> list[psutil.Process]:
    """Every Chromium process this script started (browser, renderers, GPU, utilities)."""
    children = psutil.Process(os.getpid()).children(recursive=True)
    return [p for p in children if p.name().startswith("chrom")]


def memory_samples(engine: str, sampler: MemorySampler, threads: int, rep: int) -> list[Sample]:
    """Peak memory while loading and while generating, and the increase over the idle page."""
    _rss, idle_anon = sampler.peak("idle")
    samples = [Sample(engine, "idle_anon_mb", idle_anon, "MB", threads, rep)]
    for phase in ("load", "generate"):
        rss, anon = sampler.peak(phase)
        samples += [
            Sample(engine, f"peak_rss_{phase}_mb", rss, "MB", threads, rep),
            Sample(engine, f"peak_anon_{phase}_mb", anon, "MB", threads, rep),
            Sample(engine, f"added_anon_{phase}_mb", anon - idle_anon, "MB", threads, rep),
        ]
    return samples


def speed_samples(engine: str, timings: dict[str, float], threads: int, rep: int) -> list[Sample]:
    """pp/tg tokens per second and token counts from llama.cpp-server-style timings."""
    pp_tokens, tg_tokens = timings["prompt_n"], timings["predicted_n"]
    return [
        Sample(engine, "pp_tps", pp_tokens * 1000 / timings["prompt_ms"], "tokens/s", threads, rep),
        Sample(
            engine, "tg_tps", tg_tokens * 1000 / timings["predicted_ms"], "tokens/s", threads, rep
        ),
        Sample(engine, "pp_tokens", pp_tokens, "tokens", threads, rep),
        Sample(engine, "tg_tokens", tg_tokens, "tokens", threads, rep),
    ]


@dataclass
class Bench:
    """One sitting: the server, the model, and what every run appends."""

    playwright: Playwright
    base_url: str
    model: Path
    node_modules: Path
    llama_bench: Path
    llama_bench_repack: bool = True
    """Cleared, with a note, when llama-bench crashes on this model's repacked weights."""
    samples: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def model_url(self) -> str:
        return f"{self.base_url}models/{self.model.name}"

    @property
    def model_mb(self) -> float:
        return self.model.stat().st_size / MB

    @contextlib.contextmanager
    def session(self, *init_scripts: str) -> Iterator[Page]:
        """A browser with a fresh on-disk profile, like a normal (not private) window: its
        IndexedDB and OPFS live on disk and survive a reload, and start empty."""
        with tempfile.TemporaryDirectory(prefix="bench-profile-") as profile:
            context = self.playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
            blocked = block_non_local(context)
            try:
                for script in init_scripts:
                    context.add_init_script(script)
                page = context.pages[0] if context.pages else context.new_page()
                page.set_default_timeout(PAGE_TIMEOUT_MS)
                page.on("pageerror", lambda error: print(f"page error: {error}", file=sys.stderr))
                yield page
            finally:
                context.close()
            if blocked:
                raise RuntimeError(f"the page tried to reach beyond localhost: {blocked}")

    # ---- native ---------------------------------------------------------------------------

    def limit(self, threads: int, rep: int, _extras: bool) -> None:
        def run() -> list[Any]:
            return run_llama_bench(
                self.llama_bench,
                self.model,
                [threads],
                LIMIT_PROMPT_TOKENS,
                GENERATED_TOKENS,
                repack=self.llama_bench_repack,
            )

        try:
            results = run()
        except LlamaBenchCrashed as crash:
            if not self.llama_bench_repack:
                raise
            self.llama_bench_repack = False
            self.notes.append(f"llama-bench: {crash} with repacked weights; run with --repack 0")
            results = run()
        by_kind = {result.kind: result for result in results}
        pp, tg = by_kind["pp"], by_kind["tg"]
        timings = {
            "prompt_n": pp.tokens,
            "prompt_ms": pp.tokens * 1000 / pp.tokens_per_s,
            "predicted_n": tg.tokens,
            "predicted_ms": tg.tokens * 1000 / tg.tokens_per_s,
        }
        self.samples += speed_samples(LIMIT, timings, threads, rep)
        self.notes.append(
            f"llama-bench: llama.cpp of llama-cpp-python {LLAMA_CPP_PYTHON_VERSION}, GGML_NATIVE"
        )

    def native(self, threads: int, rep: int, _extras: bool) -> None:
        cmd = [
            "node",
            str(NATIVE_DRIVER),
            str(self.node_modules),
            str(self.model),
            str(threads),
            str(N_CTX),
            str(GENERATED_TOKENS),
            bench_prompt(0),
        ]
        process = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sampler = MemorySampler(lambda: [process])
        with sampler.running(), sampler.phase("run"):
            stdout, stderr = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"native run failed:\n{stderr[-2000:]}")
        result = json.loads(stdout.strip().splitlines()[-1])
        timings = {
            "prompt_n": result["prompt_tokens"],
            "prompt_ms": result["prompt_ms"],
            "predicted_n": result["generated_tokens"],
            "predicted_ms": result["generation_ms"],
        }
        self.samples += speed_samples(NATIVE, timings, threads, rep)
        self.samples.append(Sample(NATIVE, "load_ms", result["load_ms"], "ms", threads, rep))
        rss, _anon = sampler.peak("run")
        self.samples.append(Sample(NATIVE, "peak_rss_mb", rss, "MB", threads, rep))
        self.notes.append(f"native: node-llama-cpp {result['engine_version']}")

    # ---- bare wllama ----------------------------------------------------------------------

    def bare(self, threads: int, rep: int, extras: bool) -> None:
        self._bare(BARE, "", threads, rep, extras)

    def upstream(self, threads: int, rep: int, _extras: bool) -> None:
        """wllama's own build: a reference only, so a failure of it is a note, not the end."""
        try:
            self._bare(UPSTREAM, "?engine=default", threads, rep, False)
        except PlaywrightError as exc:
            first_line = str(exc).splitlines()[0]
            self.notes.append(f"{UPSTREAM} failed on this model: {first_line}")

    def forced(self, build: str) -> Callable[[int, int, bool], None]:
        """A run of the bare page on the wasm ``build`` (``?engine=``), as its own engine."""

        def run(threads: int, rep: int, _extras: bool) -> None:
            self._bare(forced_engine(build), f"?engine={build}", threads, rep, False)

        run.__name__ = forced_engine(build)
        return run

    def _bare(self, engine: str, query: str, threads: int, rep: int, extras: bool) -> None:
        with self.session() as page:
            sampler = MemorySampler(chromium_processes)
            with sampler.running():
                self._open_bare(page, query)
                with sampler.phase("idle"):
                    pass
                options = {
                    "nThreads": threads,
                    "nCtx": N_CTX,
                    "useCache": True,
                    "build": self._bare_build(page),
                }
                with sampler.phase("load"):
                    loaded = page.evaluate(
                        "([u, o]) => bench.load(u, o)", [self.model_url, options]
                    )
                load_ms = loaded["load_ms"]
                self.samples.append(Sample(engine, "load_ms", load_ms, "ms", threads, rep))
                page.evaluate("([p, n]) => bench.complete(p, n)", ["Warm up.", WARMUP_TOKENS])
                with sampler.phase("generate"):
                    result = page.evaluate(
                        "([p, n]) => bench.complete(p, n)", [bench_prompt(0), GENERATED_TOKENS]
                    )
            self.samples += speed_samples(engine, result["timings"], threads, rep)
            self.samples += memory_samples(engine, sampler, threads, rep)
            if extras:
                self._bare_extras(page, options, rep)

    def _bare_build(self, page: Page) -> str:
        """The build the app would load this model with on the CPU (or the page's ?engine=)."""
        probe = page.evaluate("() => bench.probe()")
        return Environment.from_probe(probe).build_for(self.model.stat().st_size, gpu=False)

    def _open_bare(self, page: Page, query: str = "") -> None:
        page.goto(f"{self.base_url}bench/bare.html{query}")
        wait_for(page, "body[data-state=ready]", BOOT_TIMEOUT_MS)

    def _bare_extras(self, page: Page, options: dict[str, Any], rep: int) -> None:
        """Second visit: the model from wllama's OPFS cache; then a plain fetch of the file."""
        self._open_bare(page)
        loaded = page.evaluate("([u, o]) => bench.load(u, o)", [self.model_url, options])
        self.samples.append(
            Sample(BARE, "opfs_cached_ready_ms", loaded["load_ms"], "ms", None, rep)
        )
        self._open_bare(page)
        fetched = page.evaluate("(u) => bench.fetchPlain(u)", self.model_url)
        mbps = fetched["bytes"] / MB / (fetched["ms"] / 1000)
        self.samples.append(Sample(BARE, "fetch_mbps", mbps, "MB/s", None, rep))

    # ---- the app --------------------------------------------------------------------------

    def app(self, threads: int, rep: int, extras: bool) -> None:
        with self.session(APP_PROBE) as page:
            sampler = MemorySampler(chromium_processes)
            with sampler.running():
                self._open_app(page, rep)
                open_view(page, "params")  # the Engine settings of the next load
                page.fill("#threads", str(threads))
                page.dispatch_event("#threads", "change")
                close_views(page)
                with sampler.phase("idle"):
                    pass
                with sampler.phase("load"):
                    first = self._load_in_app(page)
                with sampler.phase("generate"):
                    rows = self._run_panel(page)
            self.samples.append(Sample(APP, "load_ms", first["ready_ms"], "ms", threads, rep))
            reported = {int(r["threads"]) for r in rows}
            if reported != {threads}:
                raise RuntimeError(f"the app ran with {reported} thread(s), not {threads}")
            by_test = {r["test"]: r for r in rows}
            for kind in ("pp", "tg"):
                row = by_test[kind]
                self.samples.append(
                    Sample(APP, f"{kind}_tps", float(row["tps"]), "tokens/s", threads, rep)
                )
                self.samples.append(
                    Sample(APP, f"{kind}_tokens", int(row["tokens"]), "tokens", threads, rep)
                )
            self.samples += memory_samples(APP, sampler, threads, rep)
            if extras:
                self._app_extras(page, first, rep)

    def _open_app(self, page: Page, rep: int, cold: bool = True) -> dict[str, float]:
        """Navigate and wait for Python; start-up times in the page's clock (recorded as cold
        start for a fresh browser context, not for a reload)."""
        page.goto(self.base_url)
        wait_for(page, "body[data-state=ready]", BOOT_TIMEOUT_MS)
        times = page.evaluate(
            """() => ({
                fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null,
                dcl: performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd,
                python: Number(document.body.dataset.pythonBootMs),
                boot: document.body.dataset.pythonBoot,
            })"""
        )
        if times["boot"] != "snapshot":
            self.notes.append(f"app: Python started {times['boot']}, not from its snapshot")
        for metric, key in (
            ("ui_visible_ms", "fcp"),
            ("dom_content_loaded_ms", "dcl"),
            ("python_ready_ms", "python"),
        ):
            if cold and times[key] is not None:
                self.samples.append(Sample(APP, metric, times[key], "ms", None, rep))
        return times

    def _load_in_app(self, page: Page) -> dict[str, Any]:
        """Load the model by URL; times from the page's own records."""
        page.evaluate("window.__bench.events = []")
        open_view(page, "models")
        page.fill("#model-url", f"/models/{self.model.name}")
        page.click("#load-url")
        wait_for(page, "body[data-state=model-ready], #error:not([hidden])")
        if page.get_attribute("body", "data-state") != "model-ready":
            raise RuntimeError(f"the app did not load the model: {page.inner_text('#error')}")
        events = page.evaluate("window.__bench.events")
        resources = page.evaluate(
            """(name) => performance.getEntriesByType("resource")
                .filter((e) => e.name.endsWith(name))
                .map((e) => ({ms: e.responseEnd - e.startTime, bytes: e.decodedBodySize}))""",
            f"/models/{self.model.name}",
        )
        submit = next(t for kind, _v, t in events if kind == "submit")
        ready = next(t for kind, v, t in events if kind == "state" and v == "model-ready")
        stages = [(v, t) for kind, v, t in events if kind == "stage"]
        return {
            "ready_ms": ready - submit,
            "submit": submit,
            "ready": ready,
            "stages": stages,
            "resources": resources,
        }

    def _run_panel(self, page: Page) -> list[dict[str, str]]:
        open_view(page, "bench")
        page.fill("#bench-runs", "1")
        page.click("#bench-run")
        wait_for(page, "#bench-status[data-state=done], #bench-status[data-state=error]")
        status = page.get_attribute("#bench-status", "data-state")
        if status != "done":
            raise RuntimeError(f"benchmark panel failed: {page.text_content('#bench-status')}")
        return page.eval_on_selector_all(
            "#bench-results tr",
            """rows => rows.map(r => ({test: r.dataset.test, tokens: r.dataset.tokens,
                tps: r.dataset.tokensPerSecond, threads: r.dataset.threads}))""",
        )

    def _app_extras(self, page: Page, first: dict[str, Any], rep: int) -> None:
        """Download throughput of the first load; then reload and load the same URL again."""
        seconds, basis = self._download_seconds(first)
        self.samples.append(
            Sample(APP, "download_mbps", self.model_mb / seconds, "MB/s", None, rep)
        )
        self.notes.append(f"app download timed {basis}")
        times = self._open_app(page, rep, cold=False)
        self.samples.append(Sample(APP, "python_ready_again_ms", times["python"], "ms", None, rep))
        second = self._load_in_app(page)
        self.samples.append(Sample(APP, "cached_ready_ms", second["ready_ms"], "ms", None, rep))
        nav_to_ready = times["python"] + second["ready_ms"]
        self.samples.append(Sample(APP, "nav_to_cached_ready_ms", nav_to_ready, "ms", None, rep))
        stages = sorted({v for v, _t in second["stages"] if v})
        self.notes.append(f"app second load stages: {', '.join(stages) or 'none reported'}")

    @staticmethod
    def _download_seconds(load: dict[str, Any]) -> tuple[float, str]:
        """From the first 'downloading' stage to the engine start (the download into the cache
        included), else the network time of the model's largest fetch (Resource Timing)."""
        stages = load["stages"]
        start = next((t for v, t in stages if v == "downloading"), None)
        end = next((t for v, t in stages if v == "initializing" and start and t > start), None)
        if start is not None and end is not None:
            return (end - start) / 1000, "from the 'downloading' to the 'initializing' stage"
        whole = max(load["resources"], key=lambda r: r["bytes"])
        return whole["ms"] / 1000, "by Resource Timing of the model's fetch (network only)"


def speed_table(summaries: list[Summary], thread_counts: list[int]) -> str:
    engines = (LIMIT, NATIVE, UPSTREAM, BARE, APP)
    header = [
        "speed",
        "threads",
        *engines,
        "app/llama-bench",
        "app/node-llama-cpp",
        "app/bare",
        "app/wllama's",
    ]
    rows = []
    for threads in thread_counts:
        for kind in ("pp", "tg"):
            values = [lookup(summaries, e, f"{kind}_tps", threads) for e in engines]
            tokens = lookup(summaries, APP, f"{kind}_tokens", threads)
            limit, native, upstream, bare, app = values
            label = f"{kind}{'?' if tokens is None else round(tokens)} tokens/s"
            ratios = (
                ratio(app, limit),
                ratio(app, native),
                ratio(app, bare),
                ratio(app, upstream),
            )
            rows.append(
                [
                    label,
                    str(threads),
                    *(format_number(v) for v in values),
                    *(format_ratio(r) for r in ratios),
                ]
            )
    return format_table(header, rows)


def forced_engine(build: str) -> str:
    return f"{BARE} on {build}"


def builds_table(summaries: list[Summary], thread_counts: list[int], builds: list[str]) -> str:
    """Tokens/s of the bare page on each forced build, and each against the first."""
    engines = [forced_engine(b) for b in builds]
    header = ["speed", "threads", *builds, *(f"{b}/{builds[0]}" for b in builds[1:])]
    rows = []
    for threads in thread_counts:
        for kind in ("pp", "tg"):
            values = [lookup(summaries, e, f"{kind}_tps", threads) for e in engines]
            ratios = [ratio(v, values[0]) for v in values[1:]]
            rows.append(
                [
                    f"{kind} tokens/s",
                    str(threads),
                    *(format_number(v) for v in values),
                    *(format_ratio(r) for r in ratios),
                ]
            )
    return format_table(header, rows)


def kernels_table(rows: list[dict[str, Any]]) -> str:
    """ns per 256 weights of each quant type's vec_dot: ggml's scalar and SIMD128, ours, and
    ours as the 4- and 8-column tiles prompts use (per column), in the instruction mix the
    engine's probe picked; and the tile of 8 in the other mix."""
    mix = rows[0]["mix"] if rows else ""
    other = rows[0]["other_mix"]["mix"] if rows else ""
    header = [
        f"vec_dot ns/256 ({mix})",
        "scalar",
        "SIMD128",
        "relaxed",
        "tile of 4",
        "tile of 8",
        f"tile of 8, {other}",
        "relaxed/SIMD128 speed",
        "tile of 8/relaxed speed",
        f"{mix}/{other} speed, tile of 8",
    ]
    kinds = ("generic", "simd128", "relaxed", "tile4", "tile8")
    table = []
    for row in rows:
        ns = row["ns_per_256"]
        other_tile8 = row["other_mix"]["tile8"]
        table.append(
            [
                row["kernel"],
                *(format_number(ns[kind]) for kind in kinds),
                format_number(other_tile8),
                format_ratio(ratio(ns["simd128"], ns["relaxed"])),
                format_ratio(ratio(ns["relaxed"], ns["tile8"])),
                format_ratio(ratio(other_tile8, ns["tile8"])),
            ]
        )
    return format_table(header, table)


def other_table(summaries: list[Summary], all_cores: int, model_mb: float) -> str:
    def get(engine: str, metric: str, threads: int | None = None) -> float | None:
        return lookup(summaries, engine, metric, threads)

    header = ["startup, cache, download, memory", "app", "reference", "ratio", "target"]
    rows: list[list[str]] = []

    def add(label: str, app: float | None, ref: float | None, ref_name: str, target: str) -> None:
        ref_text = f"{format_number(ref)} ({ref_name})" if ref_name else ""
        ratio_text = format_ratio(ratio(app, ref)) if ref_name else ""
        rows.append([label, format_number(app), ref_text, ratio_text, target])

    add("UI visible (first paint), ms", get(APP, "ui_visible_ms"), None, "", "<= 500")
    add("DOMContentLoaded, ms", get(APP, "dom_content_loaded_ms"), None, "", "")
    add("Python ready (first visit), ms", get(APP, "python_ready_ms"), None, "", "<= 2500")
    add("Python ready (returning visit), ms", get(APP, "python_ready_again_ms"), None, "", "")
    add(
        "first load (download) to ready, ms",
        get(APP, "load_ms", all_cores),
        get(BARE, "load_ms", all_cores),
        "wllama, into OPFS",
        "",
    )
    add(
        "second load (cached) to ready, ms",
        get(APP, "cached_ready_ms"),
        get(BARE, "opfs_cached_ready_ms"),
        "wllama OPFS",
        "<= 1.00x",
    )
    add("navigation to model ready (cached), ms", get(APP, "nav_to_cached_ready_ms"), None, "", "")
    add("download, MB/s", get(APP, "download_mbps"), get(BARE, "fetch_mbps"), "fetch()", ">= 0.90x")
    for phase in ("load", "generate"):
        for kind in ("rss", "anon"):
            add(
                f"peak {kind} sum {phase} (all cores), MB",
                get(APP, f"peak_{kind}_{phase}_mb", all_cores),
                get(BARE, f"peak_{kind}_{phase}_mb", all_cores),
                "bare wllama",
                "",
            )
        add(
            "  anon added over the idle page, MB",
            get(APP, f"added_anon_{phase}_mb", all_cores),
            model_mb,
            "model file",
            "<= 1.50x" if phase == "load" else "",
        )
    add(
        "node-llama-cpp peak RSS (all cores), MB",
        get(NATIVE, "peak_rss_mb", all_cores),
        None,
        "",
        "",
    )
    return format_table(header, rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny model, one repetition")
    parser.add_argument("--reps", type=int, help="repetitions (default 3; 1 with --quick)")
    parser.add_argument("--model", type=Path, help="GGUF to benchmark (default: see --help)")
    parser.add_argument(
        "--builds",
        type=lambda text: [b for b in text.split(",") if b],
        default=[],
        help="also run the bare page forced on these wasm builds (comma-separated)",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 3)
    args.model = (args.model or (QUICK_MODEL if args.quick else BENCH_MODEL)).resolve()
    if not args.model.is_file():
        hint = "make_test_models.py" if args.quick else "make_bench_model.py"
        parser.error(f"{args.model} is missing: run python scripts/{hint}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cores = os.cpu_count() or 1
    thread_counts = sorted({1, cores})
    node_modules = ensure_node_llama_cpp()
    llama_bench = ensure_llama_bench()
    started = time.monotonic()
    with (
        serve_py(args.model.parent, handler=BenchHandler) as server,
        sync_playwright() as playwright,
    ):
        bench = Bench(playwright, server.url, args.model, node_modules, llama_bench)
        with bench.session() as page:
            kernels = run_kernel_check(page, server.url, "bench")
        engines = [bench.limit, bench.native, bench.upstream, bench.bare, bench.app]
        engines += [bench.forced(build) for build in args.builds]
        for rep in range(args.reps):
            turn = rep % len(engines)
            order = engines[turn:] + engines[:turn]
            for threads in thread_counts:
                for run in order:
                    print(
                        f"rep {rep + 1}/{args.reps}  {threads} thread(s)  {run.__name__}",
                        flush=True,
                    )
                    run(threads, rep, threads == cores)
    elapsed = time.monotonic() - started
    summaries = summarize(bench.samples)
    tables = [speed_table(summaries, thread_counts), other_table(summaries, cores, bench.model_mb)]
    tables.append(kernels_table(kernels))
    if args.builds:
        tables.append(builds_table(summaries, thread_counts, args.builds))
    table = "\n\n".join(tables)
    notes = sorted(set(bench.notes))
    print()
    print(
        f"{args.model.name} ({bench.model_mb:.0f} MB), {args.reps} repetition(s), "
        f"medians; {cores} cores; {elapsed:.0f} s"
    )
    print(table)
    for note in notes:
        print(f"note: {note}")
    if args.out:
        result = {
            "meta": {
                "model": args.model.name,
                "model_mb": bench.model_mb,
                "reps": args.reps,
                "quick": args.quick,
                "threads": thread_counts,
                "cores": cores,
                "machine": platform.platform(),
                "chromium_args": CHROMIUM_ARGS,
                "n_ctx": N_CTX,
                "generated_tokens": GENERATED_TOKENS,
                "seconds": elapsed,
                "notes": notes,
            },
            "summary": [asdict(s) for s in summaries],
            "kernels": kernels,
            "samples": [asdict(s) for s in bench.samples],
            "table": table,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
