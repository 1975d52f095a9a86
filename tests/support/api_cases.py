"""The runner API's behaviour, written once for every backend: plain async functions over a
runner and a locator, asserting with plain ``assert`` and returning what they saw.

CPython runs them on the native runner (tests/native/test_api.py); a page can run the same
functions on the browser runner: this module imports only the standard library and the
``localwebai`` core, and the reference data comes in as arguments (the page reads no files).

``locate(name)`` turns a test model's file name (``TINY``, ``SMOLLM2``, ``MINILM``) into a
``ModelSource``: a local file or a URL natively, a URL on the test server in the page.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

from localwebai.embeddings import cosine_similarity
from localwebai.errors import BusyError, ContextFullError
from localwebai.params import GenerationParams, LoadChoices
from localwebai.runner import LlamaRunner
from localwebai.sources import ModelSource
from localwebai.tools import tool

TINY = "tiny-llama.gguf"
SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM = "all-MiniLM-L6-v2.F16.gguf"
Locate = Callable[[str], ModelSource]


async def load(
    runner: LlamaRunner, locate: Locate, name: str, n_ctx: int = 1024, build: str | None = None
) -> None:
    source = locate(name)
    inspection = await runner.inspect(source)
    params = runner.load_params(inspection, LoadChoices(n_ctx=n_ctx))
    if build:
        params = dataclasses.replace(params, build=build)
    await runner.load_model(source, params, inspection=inspection)


async def greedy_generation(
    runner: LlamaRunner, locate: Locate, reference: dict[str, Any]
) -> dict[str, Any]:
    """Greedy tokens equal native llama.cpp's (tests/data/tiny_llama_greedy.json), streamed,
    awaited and by callback alike."""
    await load(runner, locate, TINY)
    pieces: list[str] = []
    completed: list[Any] = []
    generation = runner.generate(
        reference["prompt"],
        GenerationParams(max_tokens=reference["n_predict"], temperature=0),
        on_complete=completed.append,
    )
    async for piece in generation:
        pieces.append(piece)
    result = generation.result
    seen = {
        "text": result.text,
        "joined": "".join(pieces),
        "stop": result.stop_reason.value,
        "generated": result.timings.generated_tokens,
        "callback": completed[0].text,
        "name": runner.metadata.name if runner.metadata else None,
    }
    assert seen["text"] == reference["generated_text"], seen
    assert seen["joined"] == seen["text"] == seen["callback"]
    assert seen["generated"] == reference["n_predict"]
    assert seen["stop"] == "length"
    assert seen["name"] == "LocalWebAI tiny llama"
    return seen


async def quantized_greedy_generation(
    runner: LlamaRunner, locate: Locate, reference: dict[str, Any], build: str | None = None
) -> dict[str, Any]:
    """SmolLM2's (Q4_1 and Q8_0 weights) greedy tokens equal native llama.cpp's
    (tests/data/smollm2_greedy.json, every step's top-2 logit gap >= 0.2); ``build``, a wasm
    build to load it on instead of the runner's choice."""
    await load(runner, locate, SMOLLM2, n_ctx=256, build=build)
    generation = runner.generate(
        reference["prompt"],
        GenerationParams(max_tokens=reference["n_predict"], temperature=0),
    )
    result = await generation
    info = runner.engine_info
    seen = {"text": result.text, "build": info.build if info else None}
    assert seen["text"] == reference["generated_text"], seen
    return seen


PROBABILITY_TOLERANCE = 0.05
"""Most the probability of one of native llama.cpp's likeliest first tokens may differ in a wasm
build. Not 1e-3: SmolLM2's activations are rounded to 8 bits before each quantized product,
so a last-bit difference in float order flips some roundings, and the logits move by up to
about 1 % (0.4 in the log-probability of the tenth token). Native llama.cpp moves as much with
its own settings: its F32 KV cache instead of F16, or flash attention, changes the second
token's probability by 0.007. Measured per build: docs/performance.md, "Logits"."""


async def first_token_logprobs(
    runner: LlamaRunner, locate: Locate, reference: dict[str, Any], builds: list[str | None]
) -> dict[str, Any]:
    """SmolLM2's likeliest first tokens after the reference prompt have, on each of ``builds``
    (wasm builds; ``None``: the runner's own choice), native llama.cpp's probabilities
    (tests/data/smollm2_greedy.json) within PROBABILITY_TOLERANCE; each generated token comes
    with its own candidates, the likeliest of them the greedy choice."""
    native = {int(token): logprob for token, logprob in reference["first_token_top_logprobs"]}
    params = GenerationParams(max_tokens=4, temperature=0, top_logprobs=len(native))
    seen: dict[str, Any] = {}
    for build in builds:
        await load(runner, locate, SMOLLM2, n_ctx=256, build=build)
        result = await runner.generate(reference["prompt"], params)
        got = {choice.id: choice.logprob for choice in result.top_logprobs[0]}
        info = runner.engine_info
        seen[build or "chosen"] = {
            "build": info.build if info else None,
            "ids": list(got),
            "largest_difference": max(  # a token not among ours counts as probability 0
                abs(math.exp(got[t]) - math.exp(p)) if t in got else math.exp(p)
                for t, p in native.items()
            ),
            "logprob_differences": {t: got[t] - p for t, p in native.items() if t in got},
            "positions": len(result.top_logprobs),
            "likeliest_text": "".join(choices[0].text for choices in result.top_logprobs),
            "text": result.text,
        }
    for build, step in seen.items():
        assert step["ids"][0] == next(iter(native)), (build, step)
        assert step["largest_difference"] <= PROBABILITY_TOLERANCE, (build, step)
        assert step["positions"] == params.max_tokens, (build, step)
        assert step["likeliest_text"] == step["text"], (build, step)
    return seen


HOT_SEEDS = range(1, 25)
"""Seeds of ``broken_utf8_replies_complete``: sampling the tiny model at temperature 2, about
one reply in four picks a byte token (SentencePiece's <0xAB>) that the next token does not
continue, so its text is not valid UTF-8 (seeds 3, 4 and 8 on wllama's build)."""


async def broken_utf8_replies_complete(
    runner: LlamaRunner, locate: Locate, builds: list[str | None]
) -> dict[str, Any]:
    """Replies whose sampled bytes are not valid UTF-8 complete like any other, on each of
    ``builds``; returns, per build, how many of them showed U+FFFD for such bytes."""
    seen: dict[str, Any] = {}
    for build in builds:
        await load(runner, locate, TINY, n_ctx=256, build=build)
        stops, replaced = set(), 0
        for seed in HOT_SEEDS:
            params = GenerationParams(max_tokens=64, temperature=2.0, top_k=0, top_p=1.0, seed=seed)
            result = await runner.generate("Once upon a time", params)
            stops.add(result.stop_reason.value)
            replaced += "\ufffd" in result.text
        info = runner.engine_info
        seen[build or "chosen"] = {
            "build": info.build if info else None,
            "stops": sorted(stops),
            "replaced": replaced,
        }
    for build, step in seen.items():
        assert step["stops"] == ["length"], (build, step)
    return seen


async def abort_then_generate_again(runner: LlamaRunner, locate: Locate) -> dict[str, Any]:
    """``abort()`` mid-reply ends it as "aborted"; the model stays usable."""
    await load(runner, locate, TINY)
    long = runner.generate("Once upon a time", GenerationParams(max_tokens=4000, temperature=0))
    pieces = 0
    async for _ in long:
        pieces += 1
        if pieces == 10:
            runner.abort()
    again = await runner.generate("Hello", GenerationParams(max_tokens=8, temperature=0))
    seen = {
        "stop": long.result.stop_reason.value,
        "generated": long.result.timings.generated_tokens,
        "again_stop": again.stop_reason.value,
        "again_text": again.text,
    }
    assert seen["stop"] == "aborted", seen
    assert 10 <= seen["generated"] < 4000
    assert seen["again_stop"] in ("length", "end") and seen["again_text"]
    return seen


async def second_reply_refused(runner: LlamaRunner, locate: Locate) -> dict[str, Any]:
    """One reply at a time: a second one while the first runs is a ``BusyError``."""
    await load(runner, locate, TINY)
    first = runner.generate("Once upon a time", GenerationParams(max_tokens=24, temperature=0))
    second = runner.generate("Hello", GenerationParams(max_tokens=4, temperature=0))
    refused = ""
    try:
        await second
    except BusyError as error:
        refused = str(error)
    seen = {"refused": refused, "first": (await first).stop_reason.value}
    assert "still being generated" in seen["refused"]
    assert seen["first"] == "length"
    return seen


async def full_context(runner: LlamaRunner, locate: Locate) -> dict[str, Any]:
    """A reply that fills the context stops as "context_full"; a prompt longer than the
    context is a ``ContextFullError``; the model stays usable."""
    await load(runner, locate, TINY, n_ctx=128)
    greedy = GenerationParams(max_tokens=1000, temperature=0)
    full = await runner.generate("Once upon a time", greedy)
    error = ""
    try:
        await runner.generate("word " * 300, GenerationParams(max_tokens=4))
    except ContextFullError as e:
        error = str(e)
    after = await runner.generate("Hello", GenerationParams(max_tokens=4, temperature=0))
    t = full.timings
    seen = {
        "stop": full.stop_reason.value,
        "used": t.prompt_tokens + t.cached_tokens + t.generated_tokens,
        "error": error,
        "after": after.stop_reason.value,
    }
    assert seen["stop"] == "context_full", seen
    assert seen["used"] >= 127
    assert "no longer fits in the model's context window" in seen["error"]
    assert seen["after"] == "length"
    return seen


async def chat_keeps_context(runner: LlamaRunner, locate: Locate) -> dict[str, Any]:
    """SmolLM2 remembers the first turn, and the second turn evaluates only its new tokens."""
    await load(runner, locate, SMOLLM2)
    chat = runner.chat_session()
    params = GenerationParams(max_tokens=24, temperature=0)
    first = await chat.ask("My name is Ada. Please remember it.", params)
    second = await chat.ask("What is my name?", params)
    t1, t2 = first.timings, second.timings
    seen = {
        "first": first.text,
        "second": second.text,
        "t1": [t1.prompt_tokens, t1.cached_tokens, t1.generated_tokens],
        "t2": [t2.prompt_tokens, t2.cached_tokens],
        "turns": len(chat.messages),
        "template": runner.chat_template_name,
    }
    assert "Ada" in seen["second"], seen
    assert seen["turns"] == 4
    assert seen["template"] == "the model's own"
    prompt1, cached1, generated1 = seen["t1"]
    prompt2, cached2 = seen["t2"]
    assert cached1 == 0
    assert cached2 >= prompt1 + generated1 - 2  # the whole first turn comes from the KV cache...
    total2 = prompt2 + cached2  # ...so only the new message and its markers are evaluated
    assert prompt2 <= total2 - (prompt1 + generated1) + 2
    assert prompt2 < prompt1
    return seen


async def json_schema_and_stop_strings(runner: LlamaRunner, locate: Locate) -> dict[str, Any]:
    """A JSON-schema reply parses and validates; a stop string ends a reply before it."""
    await load(runner, locate, SMOLLM2)
    schema = {
        "type": "object",
        "required": ["name", "age"],
        "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"}},
    }
    chat = runner.chat_session()
    value, reply = await chat.ask_json(
        "Describe a person called Ada who is 36 years old, as JSON.",
        schema,
        GenerationParams(max_tokens=40, temperature=0),
    )
    counted = await runner.generate(
        "Count: 1, 2, 3,", GenerationParams(max_tokens=20, temperature=0, stop=(" 6",))
    )
    free = await runner.generate("Count: 1, 2, 3,", GenerationParams(max_tokens=8, temperature=0))
    seen = {
        "value": value,
        "text": reply.text,
        "stopped": counted.text,
        "stop": counted.stop_reason.value,
        "free": free.text,
    }
    assert seen["value"] == {"name": "Ada", "age": 36}, seen
    assert json.loads(seen["text"]) == seen["value"]
    assert " 6" in seen["free"]  # without the stop string the model goes on past 5
    assert seen["stopped"] == seen["free"].split(" 6")[0]
    assert seen["stop"] == "end"
    return seen


async def tool_call_round_trip(runner: LlamaRunner, locate: Locate) -> dict[str, Any]:
    """A forced tool call runs the Python function and the answer uses its result."""
    await load(runner, locate, SMOLLM2)
    called: list[str] = []
    weather = {"city": "Paris", "sky": "sunny", "celsius": 21}

    @tool
    def get_weather(city: str) -> dict:
        "Current weather of a city."
        called.append(city)
        return {**weather, "city": city}

    chat = runner.chat_session(tools=[get_weather])
    outcome = await chat.ask_with_tools(
        "What is the weather in Paris?",
        GenerationParams(max_tokens=40, temperature=0),
        max_steps=1,
        tool_choice="required",
    )
    seen = {
        "seen": called,
        "calls": [[c.name, c.arguments, c.result] for c in outcome.calls],
        "fed_back": [m.content for m in chat.messages if m.role == "user"][-1],
        "answer": outcome.text,
        "turns": len(chat.messages),
    }
    assert seen["seen"] == ["Paris"], seen
    assert seen["calls"] == [["get_weather", {"city": "Paris"}, weather]]
    assert seen["fed_back"].startswith("Tool get_weather returned:")
    assert '"sunny"' in seen["fed_back"]
    assert seen["turns"] == 4
    assert "sunny" in seen["answer"].lower()
    return seen


async def embeddings_match_reference(
    runner: LlamaRunner, locate: Locate, reference: dict[str, Any]
) -> dict[str, Any]:
    """all-MiniLM vectors point where native llama.cpp's do (tests/data/minilm_embeddings.json:
    sentences, unit vectors, their cosines), beside the chat model."""
    await runner.load_embedding_model(locate(MINILM))
    vectors = await runner.embed(reference["sentences"])
    pairs = zip(vectors, reference["embeddings"], strict=True)
    alignment = [cosine_similarity(vector, expected) for vector, expected in pairs]
    size = len(vectors)
    cosine = [[cosine_similarity(vectors[i], vectors[j]) for j in range(size)] for i in range(size)]
    seen = {"dimension": len(vectors[0]), "alignment": alignment, "cosine": cosine}
    assert seen["dimension"] == len(reference["embeddings"][0]) == 384
    assert min(alignment) > 0.999, seen
    for i, j in reference["similar_pairs"]:
        assert cosine[i][j] > 0.6
    for i, j in reference["unrelated_pairs"]:
        assert cosine[i][j] < 0.2
    for row, expected in zip(cosine, reference["cosine"], strict=True):
        assert all(abs(a - b) < 0.01 for a, b in zip(row, expected, strict=True)), cosine
    return seen
