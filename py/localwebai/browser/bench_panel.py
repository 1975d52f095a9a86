"""The benchmark panel: llama-bench-like pp and tg speed of the loaded model, on this machine.

One warm-up completion, then N greedy completions of the same ~128-token prompt shape, each
generating 64 tokens through the app's own engine (the path a chat reply takes); the engine's
timings give the speeds, the core's ``speed_rows`` their medians.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import js
from pyodide.ffi import create_proxy

from ..bench import GENERATED_TOKENS, WARMUP_TOKENS, bench_prompt, parse_runs, speed_rows
from ..errors import LocalWebAIError
from ..generation import Timings
from ..params import GenerationParams
from . import dom
from .blobs import new_abort_controller

if TYPE_CHECKING:
    from .app import App

BUSY_STATE = "benchmarking"


def _ignore_text(_piece: str) -> None:
    """Benchmark output is not shown."""


class BenchPanel:
    """``#bench-panel``: enabled only while a model is loaded and the app is idle."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._observer: Any = None

    def wire(self) -> None:
        dom.on(dom.by_id("bench-run"), "click", lambda _: self.run())
        # the app announces every state change on <body data-state>; follow it
        self._observer = js.MutationObserver.new(create_proxy(lambda *_: self.refresh()))
        options = js.Object.new()
        options.attributes = True
        options.attributeFilter = js.Array.of("data-state")
        self._observer.observe(js.document.body, options)
        self.refresh()

    def refresh(self) -> None:
        idle = str(js.document.body.dataset.state) == "model-ready"
        dom.set_enabled("bench-run", idle and self._app.engine.loaded)

    async def run(self) -> None:
        """Warm up, then time ``runs`` completions and show the pp/tg table."""
        app = self._app
        if not app.engine.loaded:
            return
        dom.clear("bench-results")
        dom.set_visible("bench-table", False)
        try:
            runs = parse_runs(dom.value("bench-runs"))
        except LocalWebAIError as error:
            self._set_status("error", str(error))
            return
        with app.engine_in_use(BUSY_STATE, f"Benchmarking {app.model_name}…"):
            try:
                self._show(await self._measure(runs))
                self._set_status("done", f"{runs} run(s): medians, ± standard deviation.")
            except LocalWebAIError as error:
                self._set_status("error", str(error))
            except Exception as error:
                js.console.error(f"benchmark: unexpected {type(error).__name__}: {error}")
                self._set_status("error", f"Unexpected error ({type(error).__name__}): {error}")

    async def _measure(self, runs: int) -> list[Timings]:
        """A short warm-up, then ``runs`` greedy completions; the engine's timings of each."""
        engine = self._app.engine
        signal = new_abort_controller().signal
        self._set_status("running", "Warming up…")
        warmup = GenerationParams(max_tokens=WARMUP_TOKENS, temperature=0)
        await engine.complete("Warm up.", warmup, signal, _ignore_text)
        timings: list[Timings] = []
        params = GenerationParams(max_tokens=GENERATED_TOKENS, temperature=0)
        for run in range(runs):
            self._set_status("running", f"Run {run + 1} of {runs}…")
            result = await engine.complete(bench_prompt(run), params, signal, _ignore_text)
            timings.append(result.timings)
        return timings

    def _set_status(self, state: str, text: str) -> None:
        dom.set_text("bench-status", text)
        dom.set_state("bench-status", state)

    def _show(self, timings: list[Timings]) -> None:
        """One row per test, with what the model really ran on: the engine's own thread count
        (wllama's getNumThreads) and the backend it started on."""
        runner = self._app.runner
        threads = str(runner.engine_info.threads) if runner.engine_info else "?"
        backend = runner.backend.partition(" (")[0]  # "WebGPU" or "CPU", without the reason
        target = dom.by_id("bench-results")
        for row in speed_rows(timings):
            cells = (self._app.model_name, backend, threads, row.test, row.text())
            line = dom.append_text_element(target, "tr", "")
            for cell in cells:
                dom.append_text_element(line, "td", cell)
            line.dataset.test = row.test[:2]
            line.dataset.tokens = str(row.tokens)
            line.dataset.tokensPerSecond = f"{row.tokens_per_second:.3f}"
            line.dataset.threads = threads
        dom.set_visible("bench-table", True)
