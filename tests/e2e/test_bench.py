"""The benchmark: the in-app panel on the tiny model, and `scripts/bench.py --quick` end to end
(llama-bench and node-llama-cpp natively, wllama's own wasm build, bare wllama on ours, and the
app, in real Chromium).
Speeds are checked for being measured (positive, with the token counts asked for), never against
a threshold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from localwebai.bench import GENERATED_TOKENS
from playwright.sync_api import Page, expect

from tests.support.app_actions import open_view
from tests.support.kernel_check import KERNELS

REPO = Path(__file__).resolve().parent.parent.parent
TINY = "tiny-llama.gguf"
BENCH_TIMEOUT_MS = 180_000
QUICK_TIMEOUT_S = 900  # generous: a shared 2-core machine; first run also installs node-llama-cpp
ENGINES = ("llama-bench", "node-llama-cpp", "wllama's build", "bare wllama", "app")


def test_panel_is_disabled_until_a_model_is_loaded_then_reports_pp_and_tg(app_page: Page):
    run_button = app_page.locator("#bench-run")
    expect(run_button).to_be_disabled()
    open_view(app_page, "models")
    app_page.fill("#model-url", f"/models/{TINY}")
    app_page.click("#load-url")
    app_page.wait_for_selector("body[data-state=model-ready]", timeout=60_000)
    expect(run_button).to_be_enabled()

    open_view(app_page, "bench")
    app_page.fill("#bench-runs", "2")
    run_button.click()
    app_page.wait_for_selector(
        "#bench-status[data-state=done], #bench-status[data-state=error]", timeout=BENCH_TIMEOUT_MS
    )
    assert app_page.get_attribute("#bench-status", "data-state") == "done"
    rows = app_page.eval_on_selector_all(
        "#bench-results tr",
        """rows => rows.map(r => ({
            cells: [...r.cells].map(c => c.textContent),
            tokens: Number(r.dataset.tokens),
            tps: Number(r.dataset.tokensPerSecond),
        }))""",
    )
    threads = app_page.evaluate("navigator.hardwareConcurrency")
    assert [row["cells"][3] for row in rows] == [f"pp{rows[0]['tokens']}", f"tg{GENERATED_TOKENS}"]
    for row in rows:
        model, backend, thread_text, _test, speed = row["cells"]
        assert model == "LocalWebAI tiny llama"
        assert backend == "CPU"
        assert thread_text == str(threads)
        assert row["tps"] > 0
        assert float(speed.split(" ± ")[0]) > 0  # numbers shown as text: "123.45 ± 6.78"
    assert rows[0]["tokens"] > 100  # the ~128-token prompt was processed, not a cached prefix
    # afterwards the app is idle again: chat and the panel usable
    expect(app_page.locator("body")).to_have_attribute("data-state", "model-ready")
    expect(app_page.locator("#send")).to_be_enabled()
    expect(run_button).to_be_enabled()


def test_panel_rejects_a_bad_run_count(app_page: Page):
    open_view(app_page, "models")
    app_page.fill("#model-url", f"/models/{TINY}")
    app_page.click("#load-url")
    app_page.wait_for_selector("body[data-state=model-ready]", timeout=60_000)
    open_view(app_page, "bench")
    app_page.fill("#bench-runs", "0")
    app_page.click("#bench-run")
    expect(app_page.locator("#bench-status")).to_have_attribute("data-state", "error")
    assert "between 1 and" in app_page.inner_text("#bench-status")
    expect(app_page.locator("#bench-table")).to_be_hidden()


def test_quick_benchmark_writes_every_row(models_dir: Path, tmp_path: Path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "scripts/bench.py", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=QUICK_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["meta"]["model"] == TINY
    assert data["meta"]["quick"] is True
    cores = os.cpu_count() or 1
    assert data["meta"]["threads"] == sorted({1, cores})
    summary = {(s["engine"], s["metric"], s["threads"]): s["median"] for s in data["summary"]}
    for threads in data["meta"]["threads"]:
        for engine in ENGINES:
            for metric in ("pp_tps", "tg_tps", "pp_tokens"):
                assert summary[(engine, metric, threads)] > 0, (engine, metric, threads)
            assert summary[(engine, "tg_tokens", threads)] == GENERATED_TOKENS
        for engine in ("bare wllama", "app"):
            for phase in ("load", "generate"):
                assert summary[(engine, f"peak_rss_{phase}_mb", threads)] > 0
                assert summary[(engine, f"peak_anon_{phase}_mb", threads)] > 0
    for engine, metric in (
        ("app", "ui_visible_ms"),
        ("app", "python_ready_ms"),
        ("app", "cached_ready_ms"),
        ("app", "nav_to_cached_ready_ms"),
        ("app", "download_mbps"),
        ("bare wllama", "opfs_cached_ready_ms"),
        ("bare wllama", "fetch_mbps"),
    ):
        assert summary[(engine, metric, None)] > 0, (engine, metric)
    assert [row["kernel"] for row in data["kernels"]] == list(KERNELS)  # our kernels, timed
    # the printed table carries the ratios
    headings = ("app/llama-bench", "app/node-llama-cpp", "app/bare", "app/wllama's")
    for heading in (*headings, "relaxed/SIMD128 speed"):
        assert heading in data["table"]
        assert heading in result.stdout
