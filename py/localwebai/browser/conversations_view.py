"""The conversations sidebar: saved chats to open, rename, delete and export, and an import.

Renders into ``#conversation-list`` (inside ``#conversations``, beside the "New chat" button the
chat view wires). One delegated listener per event serves every row, so re-rendering adds no
handlers. Titles come from user and model text: they go in through ``textContent`` only.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import js

from ..conversations import (
    MAX_TITLE,
    Conversation,
    ConversationStore,
    ConversationSummary,
    check_file_size,
    export_file_name,
)
from ..errors import ConversationError
from . import dom
from .jsinterop import present, to_js_object

LIST_ID = "conversation-list"
IMPORT_ID = "import-conversation"
REVOKE_DELAY_S = 1.0
"""How long a download's object URL lives after its click (the browser reads it meanwhile)."""
EXPORTS = {
    "export-markdown": ("md", "text/markdown;charset=utf-8"),
    "export-json": ("json", "application/json"),
}

OnOpen = Callable[[Conversation], Awaitable[None] | None]


class ConversationsView:
    """The saved conversations; opening one goes through ``on_open`` (the chat view restores
    it), and ``on_delete`` (when given) hears of each deleted id. Failures go to ``on_error``."""

    def __init__(
        self,
        store: ConversationStore,
        on_open: OnOpen,
        on_error: Callable[[Exception], None],
        on_delete: Callable[[str], Awaitable[None] | None] | None = None,
    ) -> None:
        self.store = store
        self.on_open = on_open
        self.on_error = on_error
        self.on_delete = on_delete
        self.active_id: str | None = None
        self._summaries: list[ConversationSummary] = []
        self._editing: tuple[str, str] | None = None
        """("rename" or "delete", id): the row showing its inline title input or confirm step."""

    def wire(self) -> None:
        target = dom.by_id(LIST_ID)
        dom.on(target, "click", self._on_click)
        dom.on(target, "submit", self._on_submit, prevent_default=True)
        dom.on(target, "keydown", self._on_key)
        dom.on(dom.by_id(f"{IMPORT_ID}-button"), "click", lambda _: dom.by_id(IMPORT_ID).click())
        dom.on(dom.by_id(IMPORT_ID), "change", self._on_import)

    async def refresh(self, active_id: str | None) -> None:
        """Re-read the list, ``active_id`` (the chat on screen, if saved) marked current. A
        failure is shown, never raised."""
        self.active_id = active_id
        try:
            self._summaries = await self.store.list()
        except Exception as error:  # shown in the page, never raised into the event loop
            self.on_error(error)
            return
        self._render()

    # ---- rendering -------------------------------------------------------------------------

    def _render(self) -> None:
        target = dom.by_id(LIST_ID)
        target.replaceChildren()
        for summary in self._summaries:
            item = dom.append_text_element(target, "li", "")
            item.dataset.conversationId = summary.id
            mode, editing_id = self._editing or ("", "")
            if editing_id != summary.id:
                _row(item, summary, summary.id == self.active_id)
            elif mode == "rename":
                _rename_form(item, summary)
            else:
                _delete_confirm(item, summary)
        dom.set_visible("conversations-empty", not self._summaries)

    def _item(self, conversation_id: str) -> Any:
        """The row of ``conversation_id`` (compared as data, never put in a selector)."""
        for item in dom.by_id(LIST_ID).children:
            if str(item.dataset.conversationId) == conversation_id:
                return item
        return None

    def _focus(self, conversation_id: str, selector: str) -> None:
        item = self._item(conversation_id)
        element = None if item is None else present(item.querySelector(selector))
        if element is not None:
            element.focus()

    def _edit(self, mode: str | None, conversation_id: str) -> None:
        self._editing = None if mode is None else (mode, conversation_id)
        self._render()
        focus = {"rename": "input", "delete": "button[data-action=cancel]"}
        self._focus(conversation_id, focus.get(mode or "", ".conversation-open"))

    # ---- events ----------------------------------------------------------------------------

    async def _on_click(self, event: Any) -> None:
        button = present(event.target.closest("button[data-action]"))
        if button is None:
            return
        menu = present(button.closest("details"))
        if menu is not None:
            menu.open = False
        conversation_id = str(button.closest("li").dataset.conversationId)
        try:
            await self._act(str(button.dataset.action), conversation_id)
        except Exception as error:  # shown in the page, never raised into the event loop
            self.on_error(error)

    async def _act(self, action: str, conversation_id: str) -> None:
        if action == "open":
            await _maybe_await(self.on_open(await self._get(conversation_id)))
            self.active_id = conversation_id
            self._render()
            self._focus(conversation_id, ".conversation-open")
        elif action in ("rename", "delete"):
            self._edit(action, conversation_id)
        elif action == "cancel":
            self._edit(None, conversation_id)
        elif action == "confirm-delete":
            await self.store.delete(conversation_id)
            self._editing = None
            if self.on_delete is not None:
                await _maybe_await(self.on_delete(conversation_id))
            await self.refresh(None if conversation_id == self.active_id else self.active_id)
            dom.by_id("clear-chat").focus()
        elif action in EXPORTS:
            extension, mime = EXPORTS[action]
            conversation = await self._get(conversation_id)
            text = conversation.to_markdown() if extension == "md" else conversation.to_json()
            await _download(text, export_file_name(conversation, extension), mime)

    async def _on_submit(self, event: Any) -> None:
        form = event.target
        conversation_id = str(form.closest("li").dataset.conversationId)
        try:
            await self.store.rename(conversation_id, str(form.querySelector("input").value))
        except Exception as error:  # shown in the page, never raised into the event loop
            self.on_error(error)
            return
        self._editing = None
        await self.refresh(self.active_id)
        self._focus(conversation_id, ".conversation-open")

    def _on_key(self, event: Any) -> None:
        if event.key == "Escape" and self._editing is not None:
            event.preventDefault()
            self._edit(None, self._editing[1])

    async def _on_import(self, event: Any) -> None:
        picker = event.target
        if not picker.files.length:
            return
        file = picker.files.item(0)
        picker.value = ""  # picking the same file again fires "change" again
        try:
            check_file_size(int(file.size))
            imported = await self.store.import_json(str(await file.text()))
        except Exception as error:  # shown in the page, never raised into the event loop
            self.on_error(error)
            return
        await self.refresh(self.active_id)
        self._focus(imported.id, ".conversation-open")

    async def _get(self, conversation_id: str) -> Conversation:
        conversation = await self.store.get(conversation_id)
        if conversation is None:
            await self.refresh(self.active_id)
            raise ConversationError("This conversation is no longer saved (deleted elsewhere?).")
        return conversation


def _button(parent: Any, text: str, action: str | None, class_name: str = "") -> Any:
    button = dom.append_text_element(parent, "button", text, class_name)
    button.type = "button" if action else "submit"
    if action:
        button.dataset.action = action
    return button


def _row(item: Any, summary: ConversationSummary, active: bool) -> None:
    """The title (opens it), then a menu: Rename, Delete, Export Markdown, Export JSON."""
    opener = _button(item, summary.title, "open", "conversation-open")
    opener.title = summary.title
    if active:
        opener.setAttribute("aria-current", "true")
    menu = dom.append_text_element(item, "details", "", "conversation-menu")
    toggle = dom.append_text_element(menu, "summary", "⋯")
    toggle.setAttribute("aria-label", f"Actions for {summary.title}")
    toggle.title = "Rename, delete, export"
    actions = dom.append_text_element(menu, "div", "", "conversation-actions")
    _button(actions, "Rename", "rename")
    _button(actions, "Delete", "delete")
    _button(actions, "Export Markdown", "export-markdown")
    _button(actions, "Export JSON", "export-json")


def _rename_form(item: Any, summary: ConversationSummary) -> None:
    form = dom.append_text_element(item, "form", "", "conversation-rename")
    field = dom.append_text_element(form, "input", "")
    field.type = "text"
    field.value = summary.title
    field.maxLength = MAX_TITLE
    field.setAttribute("aria-label", "New title (empty: the first message)")
    _button(form, "Save", None, "primary")
    _button(form, "Cancel", "cancel")


def _delete_confirm(item: Any, summary: ConversationSummary) -> None:
    box = dom.append_text_element(item, "div", "", "conversation-confirm")
    dom.append_text_element(box, "p", f"Delete “{summary.title}”?")
    _button(box, "Delete", "confirm-delete", "danger")
    _button(box, "Cancel", "cancel")


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if inspect.isawaitable(result):
        await result


async def _download(text: str, file_name: str, mime: str) -> None:
    """Save ``text`` as ``file_name`` through a Blob object URL, revoked once it was read."""
    url = js.URL.createObjectURL(js.Blob.new(js.Array.of(text), to_js_object({"type": mime})))
    link = js.document.createElement("a")
    link.href = url
    link.download = file_name
    link.hidden = True
    js.document.body.appendChild(link)
    try:
        link.click()
    finally:
        link.remove()
    await asyncio.sleep(REVOKE_DELAY_S)
    js.URL.revokeObjectURL(url)
