"""The conversation: messages, composer, Stop/Regenerate/Copy/Edit, and the parameters dialog.

It drives the runner API (``LlamaRunner``, ``ChatSession``) like any PyScript author would;
decisions (parameter validation, JSON parsing, stop reasons) stay in the pure core. Prompts and
errors are written with ``textContent``; a reply is rendered as inert Markdown
(``ReplyView``, ``localwebai.markdown``) once the Markdown wheels have loaded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import js

from ..chat import ChatSession, Message
from ..constrained import ResponseFormat
from ..conversations import Conversation, ConversationStore
from ..errors import LocalWebAIError
from ..generation import Generation, GenerationResult
from ..markdown import PAGE_WHEELS, render_markdown
from ..params import GenerationParams
from ..runner import LlamaRunner
from . import dom
from .packages import load_wheels
from .reply_view import ReplyView
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
SAVED_FIELDS = {
    **SAMPLING_FIELDS,
    "mode": "mode",
    "json_schema": "json-schema",
    "grammar": "grammar",
}
"""The settings a saved conversation keeps (and restores), by form field."""


@dataclass(frozen=True)
class Turn:
    """What the last reply was asked with, so Regenerate can ask again."""

    mode: str
    text: str


class ChatView:
    """The ``#chat`` section, wired to one runner and one chat session."""

    def __init__(
        self,
        runner: LlamaRunner,
        status: PageStatus,
        ready_status: Callable[[], None],
        store: ConversationStore,
        on_saved: Callable[[str | None], Awaitable[None]],
    ) -> None:
        self.runner = runner
        self.session: ChatSession = runner.chat_session()
        self.store = store
        self.conversation_id: str | None = None
        """The saved conversation on screen (None: a new chat, saved after its first reply)."""
        self._on_saved = on_saved
        self._status = status
        self._ready_status = ready_status
        self._generation: Generation | None = None
        self._last: Turn | None = None
        self._replies: list[ReplyView] = []
        self.markdown = False
        """Whether the Markdown wheels are loaded (until then replies show as plain text)."""

    def wire(self) -> None:
        dom.on(dom.by_id("messages"), "click", self._on_messages_click)
        dom.on(dom.by_id("prompt-form"), "submit", lambda _: self.send(), prevent_default=True)
        dom.on(dom.by_id("prompt"), "keydown", self._on_prompt_key)
        dom.on(dom.by_id("stop"), "click", lambda _: self.stop())
        dom.on(dom.by_id("regenerate"), "click", lambda _: self.regenerate())
        dom.on(dom.by_id("clear-chat"), "click", lambda _: self.new_chat())
        dom.on(dom.by_id("mode"), "change", lambda _: self._show_mode())
        dom.on(dom.by_id("cpu-only"), "change", self._on_cpu_only)

    async def load_markdown(self) -> None:
        """Load the Markdown wheels (after boot: the first screen does not wait for them)."""
        await load_wheels(PAGE_WHEELS)
        render_markdown("warm *up*\n\n```python\nx = 1\n```\n")  # imports, lexers
        self.markdown = True
        js.document.body.dataset.markdown = "ready"
        for reply in self._replies:
            reply.refresh(True)

    # ---- state -----------------------------------------------------------------------------

    def set_enabled(self, enabled: bool) -> None:
        """Chat is possible only with a model loaded and no model task running."""
        dom.set_enabled("prompt", enabled)
        dom.set_enabled("send", enabled and self._generation is None)
        dom.set_enabled("regenerate", enabled and self._generation is None and bool(self._last))
        idle = enabled and self._generation is None
        for button in js.document.querySelectorAll("#messages button.edit"):
            button.disabled = not idle
        dom.by_id("prompt").placeholder = (
            "Message the model (Enter sends, Shift+Enter: new line)"
            if enabled
            else "Load a model, then type a message"
        )

    def model_loaded(self) -> None:
        """A new model continues the conversation on screen; says which chat format it uses."""
        dom.set_text("template-name", f"Chat format: {self.runner.chat_template_name}")

    def _clear(self) -> None:
        self.stop()
        self.session.clear()
        self._last = None
        self._replies.clear()
        dom.clear("messages")
        dom.set_enabled("regenerate", False)

    async def new_chat(self) -> None:
        """An empty conversation (the saved ones stay in the sidebar)."""
        self._clear()
        self.conversation_id = None
        await self._on_saved(None)

    async def open_conversation(self, conversation: Conversation) -> None:
        """Show a saved conversation and continue it: its messages, system prompt and settings."""
        if self._generation is not None:
            raise LocalWebAIError("Stop the reply being written before opening another chat.")
        self._clear()
        self.conversation_id = conversation.id
        self.session.restore(conversation.messages)
        for name, element_id in SAVED_FIELDS.items():
            if name in conversation.params:
                dom.by_id(element_id).value = conversation.params[name]
        dom.by_id("system-prompt").value = conversation.system_prompt
        self._show_mode()
        for message in conversation.messages:
            if message.role == "user":
                self._add_user_message(message.content)
            else:
                item = dom.append_text_element(dom.by_id("messages"), "li", "", "assistant")
                view = ReplyView(item, self.markdown)
                view.finish(message.content)
                self._replies.append(view)
        last_user = next((m for m in reversed(conversation.messages) if m.role == "user"), None)
        if conversation.messages and conversation.messages[-1].role == "assistant" and last_user:
            self._last = Turn(conversation.params.get("mode", "chat"), last_user.content)
        self.set_enabled(self.runner.loaded)

    async def conversation_deleted(self, conversation_id: str) -> None:
        if conversation_id == self.conversation_id:
            await self.new_chat()

    async def _save(self) -> None:
        """Keep the conversation (after each reply); a chat with no reply yet is not saved."""
        messages: list[Message] = self.session.messages
        if not messages:
            return
        try:
            saved = await self.store.save_chat(
                self.conversation_id,
                messages,
                system_prompt=dom.value("system-prompt"),
                params={name: dom.value(element_id) for name, element_id in SAVED_FIELDS.items()},
                model=self.runner.model_name or "",
            )
        except LocalWebAIError as error:
            self._status.report(error)
            return
        self.conversation_id = saved.id
        await self._on_saved(saved.id)

    def stop(self) -> None:
        if self._generation is not None:
            self._generation.abort()

    def _show_mode(self) -> None:
        dom.set_visible("json-schema-label", dom.value("mode") == "json")
        dom.set_visible("grammar-label", dom.value("mode") == "grammar")
        dom.set_visible("system-prompt-label", dom.value("mode") != "complete")

    def _on_prompt_key(self, event: Any) -> None:
        if event.key == "Enter" and not event.shiftKey:
            event.preventDefault()
            dom.by_id("prompt-form").requestSubmit()

    def _on_messages_click(self, event: Any) -> None:
        """Copy buttons of code blocks (rendered HTML has no handlers of its own)."""
        button = dom.closest(event.target, "button.code-copy")
        if button is None:
            return None
        return self._copy(button, str(button.parentElement.querySelector("code").textContent))

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
        elif mode == "grammar":
            params = params.with_format(ResponseFormat.gbnf(dom.value("grammar")))
        return params

    async def send(self) -> None:
        text = dom.value("prompt")
        if not text.strip() or self._generation is not None or not self.runner.loaded:
            return
        turn = Turn(dom.value("mode"), text)
        if (params := self._checked_params(turn)) is None:
            return  # the prompt stays in its box, to send again once the setting is fixed
        self._add_user_message(text)
        dom.by_id("prompt").value = ""
        await self._reply(turn, params, regenerate=False)

    def _add_user_message(self, text: str) -> None:
        """The user's message, as text; only the newest one has an Edit button."""
        for old in js.document.querySelectorAll("#messages li.user button.edit"):
            old.remove()
        item = dom.append_text_element(dom.by_id("messages"), "li", "", "user")
        dom.append_text_element(item, "div", text, "text")
        edit = dom.append_text_element(item, "button", "Edit", "edit")
        edit.type = "button"
        edit.setAttribute("aria-label", "Edit and resend this message")
        dom.on(edit, "click", lambda _: self.edit_last())

    def edit_last(self) -> None:
        """Take the last message and its reply back into the composer, to change and resend."""
        if self._generation is not None:
            return
        if self._last is not None and self._last.mode == "complete":
            text = self._last.text
        else:
            try:
                text = self.session.take_back_last()
            except LocalWebAIError as error:
                self._status.report(error)
                return
        items = js.document.querySelectorAll("#messages li.user")
        last_user = items.item(items.length - 1) if items.length else None
        while last_user is not None and last_user.nextElementSibling is not None:
            last_user.nextElementSibling.remove()
        if last_user is not None:
            last_user.remove()
        if self._replies:
            self._replies.pop()
        self._last = None
        dom.set_enabled("regenerate", False)
        prompt = dom.by_id("prompt")
        prompt.value = text
        prompt.focus()

    async def regenerate(self) -> None:
        """Drop the last reply and ask again with the same prompt and the current settings."""
        if self._last is None or self._generation is not None or not self.runner.loaded:
            return
        if (params := self._checked_params(self._last)) is None:
            return
        replies = js.document.querySelectorAll("#messages li.assistant")
        if replies.length:
            replies.item(replies.length - 1).remove()
        if self._replies:
            self._replies.pop()
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
        view = ReplyView(reply, self.markdown)
        self._replies.append(view)
        self._generation = self._start(turn, params, regenerate, view.append)
        self._last = turn
        dom.set_enabled("send", False)
        dom.set_enabled("regenerate", False)
        dom.set_enabled("stop", True)
        self.set_enabled(True)
        self._status.set("generating", "Generating…")
        messages = dom.by_id("messages")
        messages.scrollTop = messages.scrollHeight  # a message just sent: show its reply
        try:
            result = await self._generation
            view.finish(result.text)
            with view.following():
                self._show_result(reply, result, params)
        except Exception as error:
            view.finish(view.text)
            reply.classList.add("failed")
            self._status.report(error)
        finally:
            self._generation = None
            dom.set_enabled("stop", False)
            self.set_enabled(self.runner.loaded)
            self._ready_status()
        if turn.mode != "complete":
            await self._save()

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
        actions = dom.append_text_element(reply, "div", "", "actions")
        copy = dom.append_text_element(actions, "button", "Copy", "copy")
        copy.type = "button"
        copy.setAttribute("aria-label", "Copy this reply")
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
