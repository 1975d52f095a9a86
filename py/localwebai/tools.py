"""Function calling: Python functions the model may call, declared with a JSON schema.

The protocol is plain text, so it works with any chat model and template: the system prompt
lists the tools and asks for a call as a JSON object ``{"tool": name, "arguments": {...}}``;
a reply that is exactly such an object is a call; the result goes back as the next user
message. ``tool_choice="required"`` makes the call certain with a grammar (see
``ChatSession.ask_with_tools``); small models such as SmolLM2-135M rarely call on their own.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .constrained import check_schema, schema_errors
from .errors import ParameterError

ToolChoice = Literal["auto", "required"]
NO_CALL_GRAMMAR = "root ::= [^{\\x00-\\x20] [^\\x00]*\n"
"""A reply that cannot be a call: its first character is neither ``{`` nor a space."""
_JSON_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}


@dataclass(frozen=True)
class Tool:
    """A Python function (sync or async) the model may call with JSON arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ParameterError(f"A tool name must be an identifier, not {self.name!r}.")
        check_schema(self.parameters, f"tool {self.name} parameters")
        if self.parameters.get("type") != "object":
            raise ParameterError(f"Tool {self.name}: parameters must be an object schema.")

    def call_schema(self) -> dict[str, Any]:
        """The JSON a call of this tool must be."""
        return {
            "type": "object",
            "properties": {"tool": {"const": self.name}, "arguments": self.parameters},
            "required": ["tool", "arguments"],
        }


def tool(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    parameters: dict[str, Any] | None = None,
) -> Any:
    """Declare a tool; use as ``@tool`` or ``@tool(description=..., parameters=...)``.

    Without ``parameters`` the schema comes from the type hints (str, int, float, bool, list,
    dict); parameters without a default are required. The description defaults to the
    docstring's first line.
    """

    def make(fn: Callable[..., Any]) -> Tool:
        doc = (inspect.getdoc(fn) or "").strip().split("\n")[0]
        return Tool(
            name=name or fn.__name__,
            description=description or doc,
            parameters=parameters or _schema_from_signature(fn),
            function=fn,
        )

    return make(function) if function is not None else make


def _schema_from_signature(fn: Callable[..., Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in inspect.signature(fn).parameters.values():
        kind = _JSON_TYPES.get(hints.get(param.name))
        if kind is None:
            raise ParameterError(
                f"Tool {fn.__name__}: give parameter {param.name!r} a type hint "
                "(str, int, float, bool, list or dict) or pass parameters=<JSON schema>."
            )
        properties[param.name] = {"type": kind}
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
    return {"type": "object", "properties": properties, "required": required}


def tools_prompt(tools: Sequence[Tool]) -> str:
    """The system-prompt text that teaches the model the call format."""
    lines = ["You can call these tools:"]
    for t in tools:
        lines.append(
            f"- {t.name}: {t.description} Arguments (JSON schema): "
            f"{json.dumps(t.parameters, ensure_ascii=False)}"
        )
    lines.append(
        'To call a tool, reply with only a JSON object: {"tool": "<name>", "arguments": {...}}. '
        "You then receive its result and answer the user in plain words."
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class ToolRequest:
    """A call the model asked for (not yet run)."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """A call that was made: its arguments and what came back (``error`` when it failed)."""

    name: str
    arguments: dict[str, Any]
    result: Any = None
    error: str = ""

    def result_message(self) -> str:
        """The user message that feeds the result back to the model."""
        payload = {"error": self.error} if self.error else {"result": self.result}
        return f"Tool {self.name} returned: {json.dumps(payload, ensure_ascii=False, default=str)}"


def parse_tool_call(text: str, tools: Sequence[Tool]) -> ToolRequest | None:
    """The call in ``text`` when the reply is one JSON call object, else None (an answer)."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("tool"), str):
        return None
    arguments = value.get("arguments", {})
    return ToolRequest(value["tool"], arguments if isinstance(arguments, dict) else {})


async def call_tool(request: ToolRequest, tools: Sequence[Tool]) -> ToolCall:
    """Run the requested tool; a bad name, bad arguments or a raised error become ``error``
    (fed back to the model, which may try again), never a crash of the loop."""
    by_name = {t.name: t for t in tools}
    found = by_name.get(request.name)
    if found is None:
        known = ", ".join(by_name)
        return ToolCall(request.name, request.arguments, error=f"no such tool (known: {known})")
    if errors := schema_errors(request.arguments, found.parameters):
        return ToolCall(request.name, request.arguments, error="; ".join(errors))
    try:
        value = found.function(**request.arguments)
        if inspect.isawaitable(value):
            value = await value
    except Exception as error:
        return ToolCall(request.name, request.arguments, error=f"{type(error).__name__}: {error}")
    return ToolCall(request.name, request.arguments, result=value)
