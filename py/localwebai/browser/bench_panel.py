"""The benchmark panel: llama-bench-like pp and tg speed of the loaded model, on this machine.

One warm-up completion, then N greedy completions of the same ~128-token prompt shape, each
generating 64 tokens through the app's own engine (the path a chat reply takes); the engine's
timings give the speeds, the core's ``speed_rows`` their medians.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial

from ..bench import measure, parse_runs, speed_rows
from ..errors import LocalWebAIError
from ..generation import Timings
from ..runner import LlamaRunner
from . import dom
from .status import MODEL_READY, PageStatus, failure_message

BUSY_STATE = "benchmarking"

HoldEngine = Callable[[str, str], AbstractContextManager[None]]
"""``hold(state, text)``: the rest of the page leaves the engine alone while it is held."""


class BenchPanel:
    """``#bench-panel``: enabled only while a model is loaded and the app is idle."""

    def __init__(self, runner: LlamaRunner, status: PageStatus, hold_engine: HoldEngine) -> None:
        self._runner = runner
        self._hold_engine = hold_engine
        status.on_change(self.refresh)

    def wire(self) -> None:
        dom.on(dom.by_id("bench-run"), "click", lambda _: self.run())
        self.refresh("")

    def refresh(self, page_state: str) -> None:
        dom.set_enabled("bench-run", page_state == MODEL_READY and self._runner.loaded)

    async def run(self) -> None:
        """Warm up, then time ``runs`` completions and show the pp/tg table."""
        runner = self._runner
        if not runner.loaded:
            return
        dom.clear("bench-results")
        dom.set_visible("bench-table", False)
        try:
            runs = parse_runs(dom.value("bench-runs"))
        except LocalWebAIError as error:
            self._set_status("error", str(error))
            return
        with self._hold_engine(BUSY_STATE, f"Benchmarking {runner.model_name}…"):
            try:
                timings = await measure(self._runner, runs, partial(self._set_status, "running"))
                self._show(timings)
                self._set_status("done", f"{runs} run(s): medians, ± standard deviation.")
            except Exception as error:
                self._set_status("error", failure_message(error))

    def _set_status(self, state: str, text: str) -> None:
        dom.set_text("bench-status", text)
        dom.set_state("bench-status", state)

    def _show(self, timings: list[Timings]) -> None:
        """One row per test, with what the model really ran on: the engine's own thread count
        (wllama's getNumThreads) and the backend it started on."""
        runner = self._runner
        threads = str(runner.engine_info.threads) if runner.engine_info else "?"
        backend = runner.backend.partition(" (")[0]  # "WebGPU" or "CPU", without the reason
        target = dom.by_id("bench-results")
        for row in speed_rows(timings):
            cells = (runner.model_name, backend, threads, row.test, row.text())
            line = dom.append_text_element(target, "tr", "")
            for cell in cells:
                dom.append_text_element(line, "td", cell)
            line.dataset.test = row.test[:2]
            line.dataset.tokens = str(row.tokens)
            line.dataset.tokensPerSecond = f"{row.tokens_per_second:.3f}"
            line.dataset.threads = threads
        dom.set_visible("bench-table", True)
