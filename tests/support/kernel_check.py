"""Our relaxed-SIMD kernel check (``wasm/kernels/kernel-check.js``, built by
``scripts/build_wasm.py``) run in a page: its correctness modes for the tests, its timing mode
for ``scripts/bench.py``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tests.support.page_python import serve_test_pages

if TYPE_CHECKING:
    from playwright.sync_api import Page

KERNELS = ("q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q4_K", "q5_K", "q6_K")
CHECK_TIMEOUT_MS = 60_000


def run_kernel_check(page: Page, base_url: str, mode: str) -> list[dict[str, Any]]:
    """The check's JSON lines for ``mode``: "check" (per kernel: cases, exact_cases,
    mismatches against ggml's scalar kernel), "bench" (ns per 256 weights of ggml's scalar,
    ggml's SIMD128 and our relaxed kernel) or "f16" (the build's f16 <-> f32 conversions
    against ggml's scalar ones: one line). ``base_url`` is a serve.py origin (isolated:
    the check is threaded)."""
    serve_test_pages(page)
    page.goto(base_url + f"kernel_check.html?{mode}")
    page.wait_for_function("window.kernelCheck.done", timeout=CHECK_TIMEOUT_MS)
    result = page.evaluate("window.kernelCheck")
    if result["errors"]:
        raise RuntimeError(f"the kernel check wrote errors: {result['errors']}")
    return [json.loads(line) for line in result["lines"]]
