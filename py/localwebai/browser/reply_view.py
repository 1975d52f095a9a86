"""One assistant reply in ``#messages``: rendered as Markdown while it streams.

Until the Markdown wheels are loaded (``ChatView`` loads them after boot) a reply shows as plain
text; ``refresh`` renders it once they are. The HTML comes only from ``render_markdown``, which
escapes raw HTML and drops unsafe links (see ``localwebai.markdown``); nothing else is ever
written as HTML.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import js

from ..markdown import MarkdownStream, render_markdown

FOLLOW_SLACK_PX = 48
"""A list scrolled to within this of its end follows the reply as it grows."""
RENDER_INTERVAL_S = 0.05
"""Tokens that arrive within this time are rendered together (at most ~20 renders a second)."""


class ReplyView:
    """The reply's ``<li>``: a ``.markdown`` body (finished blocks, then the open tail)."""

    def __init__(self, item: Any, markdown: bool) -> None:
        self.item = item
        self.markdown = markdown
        self.text = ""
        self.body = js.document.createElement("div")
        self.body.className = "markdown"
        item.appendChild(self.body)
        self._stream = MarkdownStream()
        self._finished = js.document.createElement("div")
        self._tail = js.document.createElement("div")
        self.body.append(self._finished, self._tail)
        self._pending: asyncio.Handle | None = None

    def append(self, piece: str) -> None:
        """A streamed piece of text; rendered at the next interval."""
        self.text += piece
        self.item.dataset.text = self.text
        if self._pending is None:
            self._pending = asyncio.get_event_loop().call_later(RENDER_INTERVAL_S, self._render)

    @contextlib.contextmanager
    def following(self) -> Iterator[None]:
        """Keep the newest text in view, unless the reader has scrolled up to read."""
        scroller = self.item.parentElement
        at_end = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight
        yield
        if at_end <= FOLLOW_SLACK_PX:
            scroller.scrollTop = scroller.scrollHeight

    def _render(self) -> None:
        self._pending = None
        with self.following():
            self._render_now()

    def _render_now(self) -> None:
        if not self.markdown:
            self._tail.className = "plain"
            self._tail.textContent = self.text
            return
        self._tail.className = ""
        update = self._stream.update(self.text)
        if update.finished_html:
            self._finished.insertAdjacentHTML("beforeend", update.finished_html)
        self._tail.innerHTML = update.tail_html

    def finish(self, text: str) -> None:
        """The whole reply: rendered once as one document (lists, references and all)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self.text = text
        self.item.dataset.text = text
        with self.following():
            self._show_whole()

    def _show_whole(self) -> None:
        text = self.text
        if self.markdown:
            self.body.innerHTML = render_markdown(text)
            return
        plain = js.document.createElement("div")
        plain.className = "plain"
        plain.textContent = text
        self.body.replaceChildren(plain)

    def refresh(self, markdown: bool) -> None:
        """Render again, e.g. once the Markdown wheels have loaded."""
        self.markdown = markdown
        self.finish(self.text)
