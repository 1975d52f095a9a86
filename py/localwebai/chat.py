"""Chat: the messages of one conversation, and ``ChatSession``, a multi-turn chat on a runner.

The model's own chat template (jinja, from its GGUF) turns the messages into its prompt; the
engine applies it, so a session only keeps the messages. A model without a template gets one
of ``localwebai.chat_formats`` (chosen by its architecture), passed at load time by the runner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .constrained import ResponseFormat
from .errors import LocalWebAIError, ToolError
from .generation import Generation, GenerationResult, OnComplete, OnText, StopReason
from .params import GenerationParams
from .tools import (
    NO_CALL_GRAMMAR,
    Tool,
    ToolCall,
    ToolChoice,
    call_tool,
    parse_tool_call,
    tools_prompt,
)

Role = Literal["system", "user", "assistant"]

DEFAULT_TOOL_STEPS = 4


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass
class ChatHistory:
    """A conversation; the system prompt, if any, always comes first."""

    system_prompt: str = ""
    messages: list[Message] = field(default_factory=list)

    def add_user(self, text: str) -> None:
        self.messages.append(Message("user", text))

    def add_assistant(self, text: str) -> None:
        self.messages.append(Message("assistant", text))

    def clear(self) -> None:
        self.messages.clear()

    def as_dicts(self) -> list[dict[str, str]]:
        """The full prompt for the engine: system prompt then the turns."""
        head = [Message("system", self.system_prompt)] if self.system_prompt else []
        return [{"role": m.role, "content": m.content} for m in head + self.messages]


class ChatBackend(Protocol):
    """What a session needs from a runner (``LlamaRunner`` is one)."""

    def stream_chat(
        self, messages: list[dict[str, str]], params: GenerationParams, on_text: OnText
    ) -> Awaitable[GenerationResult]: ...

    def abort(self) -> None: ...


@dataclass(frozen=True)
class ToolRun:
    """The outcome of ``ChatSession.ask_with_tools``: the final answer and every call made."""

    result: GenerationResult
    calls: list[ToolCall]

    @property
    def text(self) -> str:
        return self.result.text


class ChatSession:
    """A multi-turn chat: history, system prompt, optional tools; one reply at a time.

    ::

        chat = runner.chat_session(system_prompt="You are terse.")
        async for piece in chat.send("Hi!"):
            print(piece, end="")
        reply = await chat.ask("And again?")          # GenerationResult
        value, _ = await chat.ask_json("A person as JSON", schema)

    Each turn sends the whole history; the engine reuses the KV cache of the previous turn,
    so only the new tokens are evaluated (``result.timings.cached_tokens`` shows it).
    """

    def __init__(
        self,
        backend: ChatBackend,
        system_prompt: str = "",
        params: GenerationParams | None = None,
        tools: Sequence[Tool] = (),
    ) -> None:
        self.backend = backend
        self.params = params or GenerationParams()
        self.tools = list(tools)
        self._system_prompt = system_prompt
        self.history = ChatHistory(self._full_system_prompt())

    # ---- the conversation ----------------------------------------------------------------

    @property
    def system_prompt(self) -> str:
        return self._system_prompt

    @system_prompt.setter
    def system_prompt(self, text: str) -> None:
        self._system_prompt = text
        self.history.system_prompt = self._full_system_prompt()

    def _full_system_prompt(self) -> str:
        if not self.tools:
            return self._system_prompt
        return "\n\n".join(p for p in (self._system_prompt, tools_prompt(self.tools)) if p)

    @property
    def messages(self) -> list[Message]:
        return list(self.history.messages)

    def clear(self) -> None:
        """Start over (the system prompt stays)."""
        self.history.clear()

    def restore(self, messages: Sequence[Message]) -> None:
        """Continue a saved conversation: its turns become the history."""
        self.history.messages = list(messages)

    def take_back_last(self) -> str:
        """Remove the last user message and the reply to it; return that message, to edit."""
        messages = self.history.messages
        if messages and messages[-1].role == "assistant":
            messages.pop()
        if not messages or messages[-1].role != "user":
            raise LocalWebAIError("There is no message to edit yet.")
        return messages.pop().content

    def abort(self) -> None:
        self.backend.abort()

    # ---- one turn ------------------------------------------------------------------------

    def send(
        self,
        text: str,
        params: GenerationParams | None = None,
        on_token: OnText | None = None,
        on_complete: OnComplete | None = None,
    ) -> Generation:
        """Add a user message and stream the reply; the reply joins the history when done.

        A failed turn (an error, or Stop before any text) leaves the history as it was.
        """
        self.history.add_user(text)
        return self._reply(params or self.params, on_token, on_complete, undo_user=True)

    async def ask(self, text: str, params: GenerationParams | None = None) -> GenerationResult:
        """``send`` and wait for the whole reply."""
        return await self.send(text, params)

    def regenerate(
        self,
        params: GenerationParams | None = None,
        on_token: OnText | None = None,
        on_complete: OnComplete | None = None,
    ) -> Generation:
        """Drop the last reply and generate a new one for the same user message."""
        if not self.history.messages or self.history.messages[-1].role != "assistant":
            raise LocalWebAIError("There is no reply to regenerate yet.")
        self.history.messages.pop()
        return self._reply(params or self.params, on_token, on_complete, undo_user=False)

    async def ask_json(
        self, text: str, schema: Any = None, params: GenerationParams | None = None
    ) -> tuple[Any, GenerationResult]:
        """A reply constrained to JSON (matching ``schema`` when given), parsed and validated.

        Raises ``OutputFormatError`` when the reply does not parse or match (for example when
        it hit ``max_tokens`` before the JSON was complete).
        """
        response_format = (
            ResponseFormat.json() if schema is None else ResponseFormat.json_schema(schema)
        )
        result = await self.send(text, (params or self.params).with_format(response_format))
        return response_format.parse(result.text), result

    def _reply(
        self,
        params: GenerationParams,
        on_token: OnText | None,
        on_complete: OnComplete | None,
        undo_user: bool,
    ) -> Generation:
        messages = self.history.as_dicts()

        async def run(on_text: OnText) -> GenerationResult:
            try:
                result = await self.backend.stream_chat(messages, params, on_text)
            except BaseException:
                if undo_user:
                    self.history.messages.pop()
                raise
            if result.stop_reason is StopReason.ABORTED and not result.text:
                if undo_user:
                    self.history.messages.pop()
            else:
                self.history.add_assistant(result.text)
            return result

        return Generation(run, self.backend.abort, on_token, on_complete)

    # ---- tools ---------------------------------------------------------------------------

    async def ask_with_tools(
        self,
        text: str,
        params: GenerationParams | None = None,
        max_steps: int = DEFAULT_TOOL_STEPS,
        tool_choice: ToolChoice = "auto",
        on_call: Callable[[ToolCall], None] | None = None,
    ) -> ToolRun:
        """Ask, run the tools the model calls, feed their results back, until it answers.

        ``tool_choice="required"`` constrains the first reply (by grammar) to a call of one of
        the session's tools; later replies are free. After ``max_steps`` calls the next reply
        is constrained to plain text (not a call), so the loop always ends; an engine that
        ignored that constraint would raise ``ToolError``.
        """
        if not self.tools:
            raise ToolError("This chat has no tools: create it with tools=[...].")
        params = params or self.params
        calls: list[ToolCall] = []
        first = params
        if tool_choice == "required":
            first = params.with_format(ResponseFormat.json_schema(_call_schema(self.tools)))
        result = await self.send(text, first)
        while (request := parse_tool_call(result.text, self.tools)) is not None:
            if len(calls) >= max_steps:
                raise ToolError(
                    f"The model asked for more than {max_steps} tool calls in one answer; stopped."
                )
            call = await call_tool(request, self.tools)
            calls.append(call)
            if on_call is not None:
                on_call(call)
            last = len(calls) >= max_steps
            follow = params.with_format(ResponseFormat.gbnf(NO_CALL_GRAMMAR)) if last else params
            result = await self.send(call.result_message(), follow)
        return ToolRun(result, calls)


def _call_schema(tools: Sequence[Tool]) -> dict[str, Any]:
    return {"anyOf": [t.call_schema() for t in tools]}
