"""The chat section of the page: history, system prompt, parameters, modes, stop/regenerate/copy.

It drives the runner API (``LlamaRunner``, ``ChatSession``) like any PyScript author would;
decisions (parameter validation, JSON parsing, stop reasons) stay in the pure core. Every reply,
prompt and error is written with ``textContent``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import js

from ..chat import ChatSession
from ..constrained import ResponseFormat
from ..errors import LocalWebAIError
from ..generation import Generation, GenerationResult
from ..params import GenerationParams
from ..runner import LlamaRunner
from . import dom
from .status import PageStatus

SAMPLING_FIELDS = {
    "max_tokens": "max-tokens",
    "temperature": "temperature",
    "top_k": "top-k",
    "top_p": "top-p",
    "min_p": "min-p",
    "repeat_penalty": "repeat-penalty",
    "seed": "seed",
    "stop": "stop-strings",
}


@dataclass(frozen=True)
class Turn:
    """What the last reply was asked with, so Regenerate can ask again."""

    mode: str
    text: str


class ChatView:
    """The ``#chat`` section, wired to one runner and one chat session."""

    def __init__(
        self, runner: LlamaRunner, status: PageStatus, ready_status: Callable[[], None]
    ) -> None:
        self.runner = runner
        self.session: ChatSession = runner.chat_session()
        self._status = status
        self._ready_status = ready_status
        self._generation: Generation | None = None
        self._last: Turn | None = None

    def wire(self) -> None:
        dom.on(dom.by_id("prompt-form"), "submit", lambda _: self.send(), prevent_default=True)
        dom.on(dom.by_id("prompt"), "keydown", self._on_prompt_key)
        dom.on(dom.by_id("stop"), "click", lambda _: self.stop())
        dom.on(dom.by_id("regenerate"), "click", lambda _: self.regenerate())
        dom.on(dom.by_id("clear-chat"), "click", lambda _: self.new_chat())
        dom.on(dom.by_id("mode"), "change", lambda _: self._show_mode())
        dom.on(dom.by_id("cpu-only"), "change", self._on_cpu_only)

    # ---- state -----------------------------------------------------------------------------

    def set_enabled(self, enabled: bool) -> None:
        """Chat is possible only with a model loaded and no model task running."""
        dom.set_enabled("prompt", enabled)
        dom.set_enabled("send", enabled and self._generation is None)
        dom.set_enabled("regenerate", enabled and self._generation is None and bool(self._last))
        dom.by_id("prompt").placeholder = (
            "Type a message (Enter sends)" if enabled else "Load a model, then type a message"
        )

    def model_loaded(self) -> None:
        """A new model: a new conversation, and which chat template it uses."""
        self.new_chat()
        dom.set_text("template-name", f"Chat template: {self.runner.chat_template_name}")

    def new_chat(self) -> None:
        self.stop()
        self.session.clear()
        self._last = None
        dom.clear("messages")
        dom.set_enabled("regenerate", False)

    def stop(self) -> None:
        if self._generation is not None:
            self._generation.abort()

    def _show_mode(self) -> None:
        dom.set_visible("json-schema-label", dom.value("mode") == "json")
        dom.set_visible("system-prompt-label", dom.value("mode") != "complete")

    def _on_prompt_key(self, event: Any) -> None:
        if event.key == "Enter" and not event.shiftKey:
            event.preventDefault()
            dom.by_id("prompt-form").requestSubmit()

    def _on_cpu_only(self, event: Any) -> None:
        self.runner.force_cpu = bool(event.target.checked)
        dom.set_text("environment", self.runner.environment.summary())

    # ---- one reply -------------------------------------------------------------------------

    def _params(self, mode: str) -> GenerationParams:
        params = GenerationParams.from_form(
            {name: dom.value(element_id) for name, element_id in SAMPLING_FIELDS.items()}
        )
        if mode == "json":
            params = params.with_format(ResponseFormat.from_schema_text(dom.value("json-schema")))
        return params

    async def send(self) -> None:
        text = dom.value("prompt")
        if not text.strip() or self._generation is not None or not self.runner.loaded:
            return
        turn = Turn(dom.value("mode"), text)
        if (params := self._checked_params(turn)) is None:
            return  # the prompt stays in its box, to send again once the setting is fixed
        dom.append_text_element(dom.by_id("messages"), "li", text, "user")
        dom.by_id("prompt").value = ""
        await self._reply(turn, params, regenerate=False)

    async def regenerate(self) -> None:
        """Drop the last reply and ask again with the same prompt and the current settings."""
        if self._last is None or self._generation is not None or not self.runner.loaded:
            return
        if (params := self._checked_params(self._last)) is None:
            return
        replies = js.document.querySelectorAll("#messages li.assistant")
        if replies.length:
            replies.item(replies.length - 1).remove()
        await self._reply(self._last, params, regenerate=True)

    def _checked_params(self, turn: Turn) -> GenerationParams | None:
        """This reply's settings, or None after showing what is wrong with them."""
        self._status.clear_error()
        try:
            params = self._params(turn.mode)
        except LocalWebAIError as error:
            self._status.report(error)
            return None
        self.session.system_prompt = dom.value("system-prompt")
        return params

    async def _reply(self, turn: Turn, params: GenerationParams, regenerate: bool) -> None:
        reply = dom.append_text_element(dom.by_id("messages"), "li", "", "assistant")
        reply_text = js.document.createTextNode("")
        reply.appendChild(reply_text)
        self._generation = self._start(turn, params, regenerate, reply_text.appendData)
        self._last = turn
        dom.set_enabled("send", False)
        dom.set_enabled("regenerate", False)
        dom.set_enabled("stop", True)
        self._status.set("generating", "Generating…")
        try:
            result = await self._generation
            self._show_result(reply, result, params)
        except Exception as error:
            reply.classList.add("failed")
            self._status.report(error)
        finally:
            self._generation = None
            dom.set_enabled("stop", False)
            self.set_enabled(self.runner.loaded)
            self._ready_status()

    def _start(
        self, turn: Turn, params: GenerationParams, regenerate: bool, on_token: Any
    ) -> Generation:
        if turn.mode == "complete":
            return self.runner.generate(turn.text, params, on_token=on_token)
        messages = self.session.messages
        if regenerate and messages and messages[-1].role == "assistant":
            return self.session.regenerate(params, on_token=on_token)
        return self.session.send(turn.text, params, on_token=on_token)

    def _show_result(self, reply: Any, result: GenerationResult, params: GenerationParams) -> None:
        timings = result.timings
        stats = dom.append_text_element(reply, "span", result.summary(), "stats")
        stats.dataset.tokensPerSecond = f"{timings.generation_tokens_per_second:.2f}"
        stats.dataset.promptTokensPerSecond = f"{timings.prompt_tokens_per_second:.2f}"
        stats.dataset.promptTokens = str(timings.prompt_tokens)
        stats.dataset.cachedTokens = str(timings.cached_tokens)
        stats.dataset.generatedTokens = str(timings.generated_tokens)
        if result.first_token_ms is not None:
            stats.dataset.firstTokenMs = f"{result.first_token_ms:.0f}"
        copy = dom.append_text_element(reply, "button", "Copy", "copy")
        copy.type = "button"
        dom.on(copy, "click", lambda _: self._copy(copy, result.text))
        reply.dataset.stopReason = result.stop_reason.value
        reply.dataset.chunks = str(result.chunks)
        if params.response_format.is_json:
            try:
                params.response_format.parse(result.text)
                reply.dataset.json = "valid"
            except LocalWebAIError as error:
                reply.dataset.json = "invalid"
                self._status.report(error)

    @staticmethod
    async def _copy(button: Any, text: str) -> None:
        try:
            await js.navigator.clipboard.writeText(text)
            button.textContent = "Copied"
        except Exception:  # the browser refused clipboard access
            button.textContent = "Copy failed"
