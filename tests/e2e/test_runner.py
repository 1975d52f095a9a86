"""The Python runner API in real Chromium with real wllama: what a PyScript author calls.

The API is Python that only runs inside the page, so these tests load a test-only PyScript page
(``pages/runner_harness.*``, served from this folder under the app's origin, never shipped by
the app), import ``localwebai.browser.runtime`` in it exactly as a user's page would
(``RUNNER_API``), and run the snippets below there (``run_python``). The UI's own use of the
same API is tested in test_chat_view.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route

import serve
from tests.support.browser import PYTHON_BOOT_TIMEOUT_MS, guarded
from tests.support.page_python import run_python

PAGES = Path(__file__).resolve().parent / "pages"
REFERENCE = Path(__file__).resolve().parent.parent / "data" / "tiny_llama_greedy.json"
TINY = "tiny-llama.gguf"
SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
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
"""
"""What the snippets below use: the runner API, imported as a user's page would."""


@pytest.fixture
def harness(page: Page, app_server: serve.AppServer) -> Iterator[Page]:
    """The harness page under the app's origin with ``RUNNER_API`` imported; non-local requests
    and uncaught page errors fail the test."""

    def serve_harness(route: Route) -> None:
        name = urlsplit(route.request.url).path.lstrip("/")
        if name in ("runner_harness.html", "runner_harness.py"):
            mime = "text/html" if name.endswith(".html") else "text/x-python"
            headers = {**serve.ISOLATION_HEADERS, "Content-Type": mime}
            route.fulfill(path=PAGES / name, headers=headers)
            return
        route.fallback()  # to the localhost guard

    with guarded(page):
        page.route("**/*", serve_harness)
        page.goto(app_server.url + "runner_harness.html")
        page.wait_for_selector(
            "body[data-state=ready]", state="attached", timeout=PYTHON_BOOT_TIMEOUT_MS
        )
        run_python(page, RUNNER_API)
        yield page


def load(harness: Page, model: str, n_ctx: int = 1024) -> None:
    run_python(
        harness,
        f"""
        runner = await create_runner()
        source = ModelSource.from_url(model_url({model!r}))
        inspection = await runner.inspect(source)
        params = runner.load_params(inspection, LoadChoices(n_ctx={n_ctx}))
        await runner.load_model(source, params, inspection=inspection)
        """,
    )


def test_greedy_generation_through_the_api_equals_native_tokens(harness: Page):
    reference = json.loads(REFERENCE.read_text())
    load(harness, TINY)
    result = run_python(
        harness,
        f"""
        pieces, completed = [], []
        generation = runner.generate(
            {reference["prompt"]!r},
            GenerationParams(max_tokens={reference["n_predict"]}, temperature=0),
            on_complete=completed.append,
        )
        async for piece in generation:
            pieces.append(piece)
        r = generation.result
        {{"text": r.text, "joined": "".join(pieces), "stop": r.stop_reason.value,
          "generated": r.timings.generated_tokens, "callback": completed[0].text,
          "name": runner.metadata.name}}
        """,
    )
    assert result["text"] == reference["generated_text"]
    assert result["joined"] == result["text"] == result["callback"]
    assert result["generated"] == reference["n_predict"]
    assert result["stop"] == "length"
    assert result["name"] == "LocalWebAI tiny llama"


def test_abort_mid_generation_then_generate_again(harness: Page):
    load(harness, TINY)
    result = run_python(
        harness,
        """
        long = runner.generate("Once upon a time", GenerationParams(max_tokens=4000, temperature=0))
        pieces = 0
        async for _ in long:
            pieces += 1
            if pieces == 10:
                runner.abort()
        again = await runner.generate("Hello", GenerationParams(max_tokens=8, temperature=0))
        {"stop": long.result.stop_reason.value, "generated": long.result.timings.generated_tokens,
         "again_stop": again.stop_reason.value, "again_text": again.text}
        """,
    )
    assert result["stop"] == "aborted"
    assert 10 <= result["generated"] < 4000
    assert result["again_stop"] in ("length", "end") and result["again_text"]


def test_a_second_reply_while_one_runs_is_refused(harness: Page):
    load(harness, TINY)
    result = run_python(
        harness,
        """
        first = runner.generate("Once upon a time", GenerationParams(max_tokens=24, temperature=0))
        second = runner.generate("Hello", GenerationParams(max_tokens=4, temperature=0))
        try:
            await second
            refused = ""
        except BusyError as error:
            refused = str(error)
        {"refused": refused, "first": (await first).stop_reason.value}
        """,
    )
    assert "still being generated" in result["refused"]
    assert result["first"] == "length"


def test_a_full_context_stops_cleanly_and_a_too_long_prompt_is_a_clear_error(harness: Page):
    load(harness, TINY, n_ctx=128)
    result = run_python(
        harness,
        """
        full = await runner.generate(
            "Once upon a time", GenerationParams(max_tokens=1000, temperature=0)
        )
        try:
            await runner.generate("word " * 300, GenerationParams(max_tokens=4))
            error = ""
        except ContextFullError as e:
            error = str(e)
        after = await runner.generate("Hello", GenerationParams(max_tokens=4, temperature=0))
        {"stop": full.stop_reason.value, "used": full.timings.prompt_tokens
         + full.timings.cached_tokens + full.timings.generated_tokens, "error": error,
         "after": after.stop_reason.value}
        """,
    )
    assert result["stop"] == "context_full"
    assert result["used"] >= 127
    assert "no longer fits in the model's context window" in result["error"]
    assert result["after"] == "length"


@pytest.mark.slow
def test_smollm2_chat_keeps_context_and_evaluates_only_new_tokens(harness: Page):
    load(harness, SMOLLM2)
    result = run_python(
        harness,
        """
        chat = runner.chat_session()
        params = GenerationParams(max_tokens=24, temperature=0)
        first = await chat.ask("My name is Ada. Please remember it.", params)
        second = await chat.ask("What is my name?", params)
        t1, t2 = first.timings, second.timings
        {"first": first.text, "second": second.text, "t1": [t1.prompt_tokens, t1.cached_tokens,
         t1.generated_tokens], "t2": [t2.prompt_tokens, t2.cached_tokens],
         "turns": len(chat.messages), "template": runner.chat_template_name}
        """,
    )
    print("SmolLM2 two turns:", result)
    assert "Ada" in result["second"]
    assert result["turns"] == 4
    assert result["template"] == "the model's own"
    prompt1, cached1, generated1 = result["t1"]
    prompt2, cached2 = result["t2"]
    assert cached1 == 0
    # the whole first turn (prompt and reply) comes from the KV cache...
    assert cached2 >= prompt1 + generated1 - 2
    # ...so only the second user message and the template's markers around it are evaluated
    total2 = prompt2 + cached2
    assert prompt2 <= total2 - (prompt1 + generated1) + 2
    assert prompt2 < prompt1


@pytest.mark.slow
def test_smollm2_json_schema_reply_validates_and_stop_strings_stop(harness: Page):
    load(harness, SMOLLM2)
    result = run_python(
        harness,
        """
        schema = {"type": "object", "required": ["name", "age"], "properties": {
            "name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"}}}
        chat = runner.chat_session()
        value, reply = await chat.ask_json(
            "Describe a person called Ada who is 36 years old, as JSON.", schema,
            GenerationParams(max_tokens=40, temperature=0))
        counted = await runner.generate(
            "Count: 1, 2, 3,", GenerationParams(max_tokens=20, temperature=0, stop=(" 6",)))
        free = await runner.generate(
            "Count: 1, 2, 3,", GenerationParams(max_tokens=8, temperature=0))
        {"value": value, "text": reply.text, "stopped": counted.text,
         "stop": counted.stop_reason.value, "free": free.text}
        """,
    )
    assert result["value"] == {"name": "Ada", "age": 36}
    assert json.loads(result["text"]) == result["value"]
    assert " 6" in result["free"]  # without the stop string the model goes on past 5
    assert result["stopped"] == result["free"].split(" 6")[0]
    assert result["stop"] == "end"


@pytest.mark.slow
def test_smollm2_tool_call_round_trip(harness: Page):
    """SmolLM2-135M does not call tools on its own (its template has no tool support and it
    answers in prose), so the first reply is forced to a call by grammar (tool_choice
    "required"); the loop then runs the Python function, feeds the result back, and (after
    max_steps=1 call) constrains the next reply to words, which use the result."""
    load(harness, SMOLLM2)
    result = run_python(
        harness,
        """
        seen = []

        @tool
        def get_weather(city: str) -> dict:
            "Current weather of a city."
            seen.append(city)
            return {"city": city, "sky": "sunny", "celsius": 21}

        chat = runner.chat_session(tools=[get_weather])
        outcome = await chat.ask_with_tools(
            "What is the weather in Paris?", GenerationParams(max_tokens=40, temperature=0),
            max_steps=1, tool_choice="required")
        {"seen": seen, "calls": [[c.name, c.arguments, c.result] for c in outcome.calls],
         "fed_back": [m.content for m in chat.messages if m.role == "user"][-1],
         "answer": outcome.text, "turns": len(chat.messages)}
        """,
    )
    assert result["seen"] == ["Paris"]
    weather = {"city": "Paris", "sky": "sunny", "celsius": 21}
    assert result["calls"] == [["get_weather", {"city": "Paris"}, weather]]
    assert result["fed_back"].startswith("Tool get_weather returned:")
    assert '"sunny"' in result["fed_back"]
    assert result["turns"] == 4
    assert "sunny" in result["answer"].lower()  # the answer uses what the tool returned
