"""The Python runner API in real Chromium with real wllama: what a PyScript author calls.

The API is Python that only runs inside the page, so these tests load a test-only PyScript page
(``pages/runner_harness.*``, served from this folder under the app's origin, never shipped by
the app), import ``localwebai.browser.runtime`` in it exactly as a user's page would
(``RUNNER_API``), and run there (``run_python``) the same API cases the native runner passes in
CPython (``tests/support/api_cases.py``, tests/native/test_api.py): one behaviour, two
backends. The UI's own use of the same API is tested in test_chat_view.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

import serve
from tests.support import api_cases
from tests.support.browser import PYTHON_BOOT_TIMEOUT_MS, guarded
from tests.support.page_python import run_python, serve_test_pages

DATA = Path(__file__).resolve().parent.parent / "data"
GREEDY = json.loads((DATA / "tiny_llama_greedy.json").read_text())
SMOLLM2_GREEDY = json.loads((DATA / "smollm2_greedy.json").read_text())
MINILM = json.loads((DATA / "minilm_embeddings.json").read_text())
RUNNER_API = """
import json
import js
from localwebai.browser.runtime import create_runner
from localwebai.constrained import ResponseFormat
from localwebai.errors import *
from localwebai.generation import StopReason
from localwebai.params import GenerationParams, LoadChoices, LoadParams
from localwebai.sources import ModelSource
from localwebai.tools import tool

def model_url(name):
    return str(js.URL.new(f'/models/{name}', js.location.href).href)

def locate(name):
    return ModelSource.from_url(model_url(name))
"""
"""What the snippets below use: the runner API, imported as a user's page would."""


@pytest.fixture
def harness(page: Page, app_server: serve.AppServer) -> Iterator[Page]:
    """The harness page under the app's origin with ``RUNNER_API`` imported; non-local requests
    and uncaught page errors fail the test."""

    with guarded(page):
        serve_test_pages(page)
        page.goto(app_server.url + "runner_harness.html")
        page.wait_for_selector(
            "body[data-state=ready]", state="attached", timeout=PYTHON_BOOT_TIMEOUT_MS
        )
        run_python(page, RUNNER_API)
        run_python(page, Path(api_cases.__file__).read_text())
        yield page


def run_case(harness: Page, case: str, *args: Any) -> dict[str, Any]:
    """Run the shared API case ``case`` (a function of api_cases) on a fresh browser runner."""
    return run_python(
        harness,
        f"""
        runner = await create_runner()
        try:
            seen = await {case}(runner, locate, *json.loads({json.dumps(args)!r}))
        finally:
            await runner.terminate()
        seen
        """,
    )


def test_greedy_generation_through_the_api_equals_native_tokens(harness: Page):
    assert run_case(harness, "greedy_generation", GREEDY)["text"] == GREEDY["generated_text"]


@pytest.mark.parametrize("build", [None, "simd64-relaxed"])
def test_a_quantized_model_gives_native_greedy_tokens_on_our_relaxed_builds(
    harness: Page, build: str | None
):
    # SmolLM2's Q4_1/Q8_0 weights run through our relaxed-SIMD kernels: Chromium's default
    # build, and the memory64 one (chosen for models of 2 GiB and more) forced
    seen = run_case(harness, "quantized_greedy_generation", SMOLLM2_GREEDY, build)
    assert seen == {"text": SMOLLM2_GREEDY["generated_text"], "build": build or "simd-relaxed"}


def test_first_token_logprobs_match_native_on_every_build(harness: Page):
    # every wasm build the page can run, in one page: our relaxed-SIMD and SIMD128 builds in
    # 32- and 64-bit memory, the Asyncify one (WebKit's), wllama's compat and its default
    builds = [None, "simd", "simd64-relaxed", "simd64", "simd-asyncify", "compat", "default"]
    seen = run_case(harness, "first_token_logprobs", SMOLLM2_GREEDY, builds)
    assert [step["build"] for step in seen.values()] == ["simd-relaxed", *builds[1:]]


def test_replies_whose_bytes_are_not_utf8_complete_on_our_builds(harness: Page):
    # wllama 3.8.1 threw on such a reply ("Invalid typed array length: 1163217991"); our builds
    # send it as llama.cpp's server does (scripts/wasm_patches/wllama.patch). wllama's own builds
    # (compat, default) keep the bug.
    builds = [None, "simd", "simd64-relaxed", "simd64", "simd-asyncify"]
    seen = run_case(harness, "broken_utf8_replies_complete", builds)
    assert [step["build"] for step in seen.values()] == ["simd-relaxed", *builds[1:]]
    assert all(step["replaced"] > 0 for step in seen.values()), seen  # the case did arise


def test_abort_mid_generation_then_generate_again(harness: Page):
    assert run_case(harness, "abort_then_generate_again")["stop"] == "aborted"


def test_a_second_reply_while_one_runs_is_refused(harness: Page):
    assert "still being generated" in run_case(harness, "second_reply_refused")["refused"]


def test_a_full_context_stops_cleanly_and_a_too_long_prompt_is_a_clear_error(harness: Page):
    assert run_case(harness, "full_context")["stop"] == "context_full"


@pytest.mark.slow
def test_smollm2_chat_keeps_context_and_evaluates_only_new_tokens(harness: Page):
    assert "Ada" in run_case(harness, "chat_keeps_context")["second"]


@pytest.mark.slow
def test_smollm2_json_schema_reply_validates_and_stop_strings_stop(harness: Page):
    assert run_case(harness, "json_schema_and_stop_strings")["value"] == {"name": "Ada", "age": 36}


@pytest.mark.slow
def test_smollm2_tool_call_round_trip(harness: Page):
    """SmolLM2-135M does not call tools on its own (its template has no tool support and it
    answers in prose), so the first reply is forced to a call by grammar (tool_choice
    "required"); the loop then runs the Python function, feeds the result back, and (after
    max_steps=1 call) constrains the next reply to words, which use the result."""
    assert "sunny" in run_case(harness, "tool_call_round_trip")["answer"].lower()


def test_minilm_embeddings_through_the_api_match_native_reference(harness: Page):
    assert run_case(harness, "embeddings_match_reference", MINILM)["dimension"] == 384
