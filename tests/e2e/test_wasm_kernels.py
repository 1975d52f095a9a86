"""Our relaxed-SIMD vec_dot kernels (wasm/kernels/quants-relaxed.c) against ggml's scalar ones,
in real Chromium: wasm/kernels/kernel-check.js, linked by scripts/build_wasm.py from the
simd-relaxed build's own ggml libraries, runs every kernel on random and edge-value blocks, both
the single-row kernel and the 4- and 8-column tiles that prompts use, in both instruction mixes
(quads: the i32x4 relaxed dot; pairs: the i16x8 one, for engines without a dot instruction);
and the F16 conversions every wasm build's ggml uses.

Chromium, not node: node 20's V8 (11.3, relaxed SIMD behind a flag) computes the relaxed dot
wrongly in its baseline compiler (Liftoff: twice the products, the accumulator dropped), so a
check there says nothing about the browsers the build is for.
"""

from __future__ import annotations

from playwright.sync_api import Page

import serve
from tests.support.browser import guarded
from tests.support.kernel_check import KERNELS, run_kernel_check


def test_relaxed_kernels_equal_ggmls_scalar_ones(page: Page, app_server: serve.AppServer):
    with guarded(page):
        rows = run_kernel_check(page, app_server.url, "check")
    results = {row["kernel"]: row for row in rows}
    assert sorted(results) == sorted(KERNELS)
    for name, row in results.items():
        assert row["mismatches"] == 0, name
        # every fill of weights by activations at three lengths, unit and random scales
        assert row["cases"] == 528, name
        # some with integer sums small enough to be compared bit for bit
        assert row["exact_cases"] >= 40, name
        # the tiles: each case as column 0 of 4 and of 8 (the others random), every column checked
        assert row["tile_mismatches"] == 0, name
        assert row["tile_cases"] == (4 + 8) * row["cases"], name
        assert row["tile_exact_cases"] >= row["exact_cases"], name
        # both instruction mixes ran every case; each mix was checked above, and they agree
        # float for float, so the engine's probe changes the speed, never a result
        assert row["mix"] in ("quads", "pairs"), name
        assert row["mix_differences"] == 0, name


def test_the_timing_mode_times_each_kernel_in_both_mixes(page: Page, app_server: serve.AppServer):
    with guarded(page):
        rows = run_kernel_check(page, app_server.url, "bench")
    assert [row["kernel"] for row in rows] == list(KERNELS)
    for row in rows:
        assert set(row["ns_per_256"]) == {"generic", "simd128", "relaxed", "tile4", "tile8"}
        assert all(ns > 0 for ns in row["ns_per_256"].values())
        other = row["other_mix"]
        assert {row["mix"], other["mix"]} == {"quads", "pairs"}
        assert all(other[kind] > 0 for kind in ("relaxed", "tile4", "tile8"))


def test_f16_conversions_equal_ggmls_scalar_ones(page: Page, app_server: serve.AppServer):
    """The F16 vectors of every wasm build (llama.cpp.patch: the KV cache's attention, F16
    weights) convert in SIMD128 with ggml's own algorithm: the same bits as its scalar code."""
    with guarded(page):
        (row,) = run_kernel_check(page, app_server.url, "f16")
    assert row["conversion"] == "f16"
    assert row["halves"] == 65536
    assert row["half_mismatches"] == 0
    # every sign, exponent and f16 mantissa with 4 patterns of the dropped bits, and 2^20 random
    assert row["floats"] == 4 * 2**19 + 2**20
    assert row["float_mismatches"] == 0
    # flash attention's F16 accumulator kept in f32: rounded as the conversion there and back
    assert row["round_mismatches"] == 0
