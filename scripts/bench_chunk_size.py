"""Measure download-into-IndexedDB throughput for several cache chunk sizes, against a plain
fetch() of the same file, side by side in one headless Chromium (the basis of CHUNK_SIZE).

    python scripts/bench_chunk_size.py [--model models/X.gguf] [--sizes 8 16 32 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "py")]

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.page_python import run_python  # noqa: E402
from tests.support.server import serve_py  # noqa: E402

MEASURE_TIMEOUT_MS = 600_000

DOWNLOAD = """
import js
from localwebai.browser.blobs import new_abort_controller
from localwebai.browser.cache_store import browser_cache
from localwebai.spec import ModelSpecification

async def measure():
    cache = browser_cache()
    cache.chunk_size = {chunk_size}
    await cache.clear()
    url = str(js.URL.new("{url}", js.location.href).href)
    spec = ModelSpecification.from_dict({{}})
    started = js.performance.now()
    record = await cache.start_download(url, "bench.gguf", {size}, spec, print)
    await cache.download(record, new_abort_controller().signal, lambda p: None, print)
    seconds = (js.performance.now() - started) / 1000
    await cache.clear()
    return seconds

await measure()
"""

PLAIN_FETCH = """async (url) => {
    const started = performance.now();
    const blob = await (await fetch(url, {cache: 'no-store'})).blob();
    if (!blob.size) throw new Error('empty');
    return (performance.now() - started) / 1000;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", type=Path, default=REPO / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32, 64], help="MiB")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.model.stat().st_size
    url = f"/models/{args.model.name}"
    times: dict[str, list[float]] = {"plain fetch": []}
    with serve_py(args.model.parent) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(server.url)
        page.wait_for_selector("body[data-state=ready]", timeout=120_000)
        for _ in range(args.rounds):  # interleaved: every variant once per round
            times["plain fetch"].append(page.evaluate(PLAIN_FETCH, url))
            for mib in args.sizes:
                code = DOWNLOAD.format(chunk_size=mib << 20, url=url, size=size)
                seconds = float(run_python(page, code, timeout_ms=MEASURE_TIMEOUT_MS))
                times.setdefault(f"cache, {mib} MiB chunks", []).append(seconds)
        browser.close()
    plain = statistics.median(times["plain fetch"])
    print(f"{args.model.name}: {size / 2**20:.1f} MiB, median of {args.rounds}")
    for name, runs in times.items():
        median = statistics.median(runs)
        rate = size / median / 2**20
        print(f"  {name:24} {median:6.2f} s  {rate:7.1f} MiB/s  {plain / median:5.2f}x plain fetch")


if __name__ == "__main__":
    main()
