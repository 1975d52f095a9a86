"""The runner's pure core: parameters, constrained output, tools, chat sessions, generations.

Chat sessions run here against a scripted backend (a list of replies), the same protocol the
browser's ``LlamaRunner`` implements; the real engine is exercised in tests/e2e/test_runner.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from aio import run
from localwebai.chat import ChatSession, Message
from localwebai.constrained import (
    JSON_GRAMMAR,
    FormatKind,
    ResponseFormat,
    check_schema,
    schema_errors,
    schema_to_grammar,
)
from localwebai.errors import (
    ContextFullError,
    EngineError,
    LocalWebAIError,
    OutputFormatError,
    ParameterError,
    ToolError,
    from_engine_error,
)
from localwebai.generation import (
    Generation,
    GenerationResult,
    StopReason,
    Timings,
    stop_reason_from_finish,
)
from localwebai.params import GenerationParams, LoadParams
from localwebai.tools import NO_CALL_GRAMMAR, ToolRequest, call_tool, parse_tool_call, tool

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
    },
    "required": ["name", "age"],
}


# ---- parameters -------------------------------------------------------------------------------


def test_sampling_parameters_reach_wllama() -> None:
    params = GenerationParams(
        max_tokens=9, temperature=0.5, top_k=7, top_p=0.9, min_p=0.1, repeat_penalty=1.2, seed=4
    )
    assert params.to_wllama() == {
        "max_tokens": 9,
        "temperature": 0.5,
        "top_k": 7,
        "top_p": 0.9,
        "min_p": 0.1,
        "repeat_penalty": 1.2,
        "seed": 4,
    }
    constrained = params.with_format(ResponseFormat.json())
    assert constrained.to_wllama()["grammar"] == JSON_GRAMMAR


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_p": 1.0}, "min_p"),
        ({"repeat_penalty": 0}, "Repeat penalty"),
        ({"seed": -1}, "Seed"),
        ({"top_k": 2.5}, "top_k"),
        ({"stop": ("",)}, "Stop strings"),
        ({"stop": tuple("abcdefghi")}, "At most 8"),
        ({"temperature": float("inf")}, "Temperature"),
        ({"max_tokens": True}, "Max tokens"),
    ],
)
def test_bad_generation_params_name_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        GenerationParams(**kwargs)


def test_form_fields_parse_with_defaults_for_empty_ones() -> None:
    params = GenerationParams.from_form(
        {"max_tokens": "12", "temperature": "0", "seed": "", "stop": "\\n\nEND", "min_p": " "}
    )
    assert (params.max_tokens, params.temperature, params.seed) == (12, 0.0, None)
    assert params.stop == ("\n", "END")
    assert params.min_p == GenerationParams().min_p
    with pytest.raises(ParameterError, match="Seed must be a whole number"):
        GenerationParams.from_form({"seed": "abc"})
    with pytest.raises(ParameterError, match="Unknown generation parameter"):
        GenerationParams.from_form({"mirostat": "2"})


def test_load_params_batch_and_template() -> None:
    assert LoadParams(n_ctx=256, n_batch=128, chat_template="T").to_wllama() == {
        "n_ctx": 256,
        "n_threads": 1,
        "n_gpu_layers": 0,
        "n_batch": 128,
        "chat_template": "T",
    }
    with pytest.raises(ParameterError, match="Batch size"):
        LoadParams(n_ctx=256, n_batch=512)


# ---- constrained output -----------------------------------------------------------------------


def test_schema_grammar_orders_required_then_optional_properties() -> None:
    grammar = schema_to_grammar(PERSON)
    rules = dict(line.split(" ::= ", 1) for line in grammar.strip().split("\n"))
    assert rules["root"] == "ws root-value"
    assert rules["root-value"].startswith('"{" ws "\\"name\\"" ws ":" ws root-value-name')
    assert '"\\"age\\"" ws ":" ws integer' in rules["root-value"]
    assert rules["root-value-name"] == '"\\"" char{0,20} "\\"" ws'
    assert "{0,1}" in rules["root-value-tags"]  # maxItems 2: one item, then at most one more
    assert "value" not in rules  # no generic JSON rules when the schema does not need them


@pytest.mark.parametrize(
    ("schema", "keyword"),
    [
        ({"type": "object", "$ref": "#/x"}, "$ref"),
        ({"type": "string", "pattern": "a+"}, "pattern"),
        ({"type": "strnig"}, "unknown type"),
        ({"type": "array", "items": {"format": "date"}}, "format"),
    ],
)
def test_schemas_outside_the_subset_are_refused(schema: dict, keyword: str) -> None:
    with pytest.raises(ParameterError, match=keyword.replace("$", r"\$")):
        check_schema(schema)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"name": "Ada", "age": 36}, None),
        ({"name": "Ada", "age": 36, "tags": ["a", "b"]}, None),
        ({"name": "Ada"}, "missing required property 'age'"),
        ({"name": "Ada", "age": "36"}, "$.age: expected integer, got string"),
        ({"name": "Ada", "age": -1}, "less than the minimum"),
        ({"name": "x" * 21, "age": 1}, "longer than 20"),
        ({"name": "Ada", "age": 1, "tags": ["c"]}, "$.tags[0]: must be one of"),
        ({"name": "Ada", "age": 1, "tags": ["a", "a", "a"]}, "more than 2 items"),
        ({"name": "Ada", "age": True}, "expected integer, got boolean"),
        ([1], "expected object, got array"),
    ],
)
def test_validator(value: Any, problem: str | None) -> None:
    errors = schema_errors(value, PERSON)
    if problem is None:
        assert errors == []
    else:
        assert any(problem in e for e in errors), errors


def test_response_format_parses_and_validates() -> None:
    person = ResponseFormat.json_schema(PERSON)
    assert person.parse(' {"name": "Ada", "age": 36}\n') == {"name": "Ada", "age": 36}
    with pytest.raises(OutputFormatError, match="max tokens"):
        person.parse('{"name": "Ada", "ag')
    with pytest.raises(OutputFormatError, match="does not match the schema"):
        person.parse('{"name": "Ada"}')
    assert ResponseFormat.from_schema_text("  ").kind is FormatKind.JSON
    with pytest.raises(ParameterError, match="not valid JSON"):
        ResponseFormat.from_schema_text("{type: object}")
    with pytest.raises(ParameterError, match="root"):
        ResponseFormat.gbnf('answer ::= "yes"')
    assert ResponseFormat.text().parse("plain") == "plain"


# ---- tools ------------------------------------------------------------------------------------


@tool
def get_weather(city: str, celsius: bool = True) -> dict:
    """Current weather of a city."""
    return {"city": city, "temperature": 21 if celsius else 70}


@tool(description="Fails on purpose.")
async def broken(reason: str) -> str:
    raise RuntimeError(reason)


def test_tool_schema_comes_from_type_hints() -> None:
    assert get_weather.description == "Current weather of a city."
    assert get_weather.parameters == {
        "type": "object",
        "properties": {"city": {"type": "string"}, "celsius": {"type": "boolean"}},
        "required": ["city"],
    }
    with pytest.raises(ParameterError, match="type hint"):
        tool(lambda x: x)


def test_tool_calls_are_parsed_and_run_without_crashing_the_loop() -> None:
    tools = [get_weather, broken]
    request = parse_tool_call('{"tool": "get_weather", "arguments": {"city": "Paris"}}', tools)
    assert request == ToolRequest("get_weather", {"city": "Paris"})
    assert parse_tool_call("It is sunny.", tools) is None
    assert parse_tool_call('{"tool": "get_weather", "argu', tools) is None
    done = run(call_tool(request, tools))
    assert done.result == {"city": "Paris", "temperature": 21} and not done.error
    assert json.loads(done.result_message().split(": ", 1)[1]) == {"result": done.result}
    failed = run(call_tool(ToolRequest("broken", {"reason": "boom"}), tools))
    assert failed.error == "RuntimeError: boom"
    assert "no such tool" in run(call_tool(ToolRequest("nope", {}), tools)).error
    bad = run(call_tool(ToolRequest("get_weather", {"city": 3}), tools))
    assert "expected string" in bad.error


# ---- generations and chat sessions ------------------------------------------------------------


class ScriptedBackend:
    """Replies from a script, streamed in two pieces; records the messages it was sent."""

    def __init__(self, replies: list[str | Exception]) -> None:
        self.replies = list(replies)
        self.sent: list[list[dict[str, str]]] = []
        self.params: list[GenerationParams] = []
        self.aborted = 0

    async def stream_chat(
        self, messages: list[dict[str, str]], params: GenerationParams, on_text: Callable
    ) -> GenerationResult:
        self.sent.append(messages)
        self.params.append(params)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        half = len(reply) // 2
        for piece in (reply[:half], reply[half:]):
            if piece:
                on_text(piece)
                await asyncio.sleep(0)
        stop = StopReason.ABORTED if self.aborted else StopReason.END
        return GenerationResult(reply, stop, Timings(generated_tokens=2), chunks=2)

    def abort(self) -> None:
        self.aborted += 1


def test_generation_streams_pieces_then_result_and_calls_back() -> None:
    async def scenario() -> tuple[list[str], GenerationResult, list[str], list[GenerationResult]]:
        backend = ScriptedBackend(["Hello there"])
        tokens: list[str] = []
        completed: list[GenerationResult] = []
        session = ChatSession(backend, system_prompt="Be brief.")
        generation = session.send("Hi", on_token=tokens.append, on_complete=completed.append)
        pieces = [piece async for piece in generation]
        return pieces, generation.result, tokens, completed

    pieces, result, tokens, completed = run(scenario())
    assert pieces == tokens == ["Hello", " there"]
    assert result.text == "Hello there" and completed == [result]


def test_abort_mid_stream_ends_the_reply_as_aborted() -> None:
    async def scenario() -> tuple[list[str], GenerationResult, int]:
        backend = ScriptedBackend(["Hello there"])
        generation = ChatSession(backend).send("Hi")
        pieces = []
        async for piece in generation:
            pieces.append(piece)
            generation.abort()
        return pieces, await generation, backend.aborted

    pieces, result, aborted = run(scenario())
    assert aborted == 2 and result.stop_reason is StopReason.ABORTED
    assert "".join(pieces) == result.text


def test_session_history_turns_failures_and_regenerate() -> None:
    async def scenario() -> tuple[ChatSession, ScriptedBackend]:
        backend = ScriptedBackend(["Hello!", EngineError("boom"), "Ada.", "Ada!"])
        session = ChatSession(backend, system_prompt="Be brief.")
        await session.ask("Hi, I am Ada")
        with pytest.raises(EngineError):
            await session.ask("lost turn")
        await session.ask("Who am I?")
        await session.regenerate()
        return session, backend

    session, backend = run(scenario())
    assert [(m.role, m.content) for m in session.messages] == [
        ("user", "Hi, I am Ada"),
        ("assistant", "Hello!"),
        ("user", "Who am I?"),
        ("assistant", "Ada!"),
    ]
    assert backend.sent[0][0] == {"role": "system", "content": "Be brief."}
    assert backend.sent[-1] == backend.sent[-2]  # regenerate asks exactly the same again
    session.clear()
    assert session.messages == []
    with pytest.raises(LocalWebAIError, match="no reply to regenerate"):
        session.regenerate()


def test_session_restores_a_saved_chat_and_takes_back_the_last_turn() -> None:
    backend = ScriptedBackend(["Hello again!", "Edited answer."])
    session = ChatSession(backend)
    session.restore([Message("user", "Hi"), Message("assistant", "Hello!")])
    run(session.ask("Remember me?"))
    assert backend.sent[0][:2] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
    ]
    assert session.take_back_last() == "Remember me?"
    assert [m.content for m in session.messages] == ["Hi", "Hello!"]
    run(session.ask("Remember me, please?"))
    assert backend.sent[-1][-1] == {"role": "user", "content": "Remember me, please?"}
    session.clear()
    with pytest.raises(LocalWebAIError, match="no message to edit"):
        session.take_back_last()


def test_ask_json_constrains_parses_and_validates() -> None:
    backend = ScriptedBackend(['{"name": "Ada", "age": 36}', '{"name": "Ada"}'])
    session = ChatSession(backend)
    value, _ = run(session.ask_json("A person", PERSON))
    assert value == {"name": "Ada", "age": 36}
    assert backend.params[0].to_wllama()["grammar"] == schema_to_grammar(PERSON)
    with pytest.raises(OutputFormatError, match="missing required property 'age'"):
        run(session.ask_json("Another", PERSON))


def test_tool_loop_feeds_results_back_and_is_bounded() -> None:
    call = '{"tool": "get_weather", "arguments": {"city": "Paris"}}'
    backend = ScriptedBackend([call, "It is 21 degrees in Paris."])
    session = ChatSession(backend, "Be brief.", tools=[get_weather])
    outcome = run(session.ask_with_tools("Weather in Paris?", tool_choice="required"))
    assert outcome.text == "It is 21 degrees in Paris."
    assert [(c.name, c.result) for c in outcome.calls] == [
        ("get_weather", {"city": "Paris", "temperature": 21})
    ]
    assert "get_weather" in backend.sent[0][0]["content"]  # the tools are in the system prompt
    assert "grammar" in backend.params[0].to_wllama()  # the first reply is forced to a call
    assert "grammar" not in backend.params[1].to_wllama()
    assert backend.sent[1][-1]["content"].startswith("Tool get_weather returned:")

    # after max_steps calls the next reply is constrained to plain text (not a call)...
    bounded = ScriptedBackend([call, call, "Sunny."])
    session = ChatSession(bounded, tools=[get_weather])
    assert len(run(session.ask_with_tools("Weather?", max_steps=2)).calls) == 2
    assert bounded.params[2].to_wllama()["grammar"] == NO_CALL_GRAMMAR
    assert "grammar" not in bounded.params[1].to_wllama()
    # ...and an engine that ignored it still cannot loop
    looping = ChatSession(ScriptedBackend([call] * 3), tools=[get_weather])
    with pytest.raises(ToolError, match="more than 2 tool calls"):
        run(looping.ask_with_tools("Weather?", max_steps=2))
    with pytest.raises(ToolError, match="no tools"):
        run(ChatSession(ScriptedBackend([])).ask_with_tools("Weather?"))


def test_generation_result_error_is_raised_when_iterating() -> None:
    async def scenario() -> None:
        async for _ in Generation(_failing, lambda: None):
            pass

    with pytest.raises(ContextFullError):
        run(scenario())


async def _failing(on_text: Callable[[str], None]) -> GenerationResult:
    on_text("x")
    raise ContextFullError("full")


# ---- stop reasons and engine errors -----------------------------------------------------------


def test_a_reply_cut_by_the_context_window_is_context_full() -> None:
    full = Timings(prompt_tokens=10, cached_tokens=1, generated_tokens=117)
    assert stop_reason_from_finish("length", full, 500, 128) is StopReason.CONTEXT_FULL
    assert stop_reason_from_finish("length", full, 117, 128) is StopReason.LENGTH
    assert stop_reason_from_finish("length", Timings(generated_tokens=5), 500, 128) is (
        StopReason.LENGTH
    )
    assert stop_reason_from_finish("stop", full, 500, 128) is StopReason.END


def test_context_and_sampler_errors_are_explained() -> None:
    message = "request (431 tokens) exceeds the available context size (256 tokens), try it"
    assert isinstance(from_engine_error("Error", "inference_error", message), ContextFullError)
    sampler = from_engine_error("Error", "inference_error", "Failed to initialize samplers: x")
    assert "grammar" in str(sampler)
