"""Model output as Markdown: rendered inert, and incrementally while it streams.

``render_markdown`` turns text into HTML with markdown-it-py (CommonMark plus tables and
strikethrough) and is safe by construction:

- raw HTML in the text is escaped (``html`` off), so ``<script>`` or ``<img onerror>`` shows as
  text;
- images are not rendered (the rule is off): ``![a](u)`` becomes a link, so nothing the model
  writes makes the page load a resource;
- links are kept only for http(s) and relative URLs (``javascript:``, ``data:``, ``file:`` … stay
  text), and open in a new tab with ``rel="noopener noreferrer"``;
- fenced code is highlighted by Pygments (escaped spans) and gets a Copy button.

``MarkdownStream`` keeps a growing reply cheap: blocks that can no longer change (those before a
blank line outside a code fence) are rendered once; only the open last block is re-rendered as
tokens arrive. The libraries are pure Python: in the page they are vendored wheels loaded after
boot (``browser/packages.py``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

PAGE_WHEELS = (
    "markdown_it_py-4.3.0-py3-none-any.whl",
    "mdurl-0.1.2-py3-none-any.whl",
    "pygments-2.21.0-py3-none-any.whl",
)
"""The vendored wheels (web/vendor/wheels/, see scripts/vendor.py) this module needs."""

SAFE_SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
COPY_BUTTON = '<button type="button" class="code-copy" aria-label="Copy code">Copy</button>'


def is_safe_link(url: str) -> bool:
    """http(s) or relative; any other scheme (javascript:, data:, file:, vbscript:) is refused."""
    cleaned = "".join(url.split()).lower()  # browsers ignore whitespace inside a scheme
    match = _SCHEME.match(cleaned)
    return match is None or match.group(1) in SAFE_SCHEMES


def _highlight(code: str, language: str, _attrs: Any) -> str:
    """Pygments spans for a known language; '' lets markdown-it escape the code itself."""
    if not language:
        return ""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language)
    except ClassNotFound:
        return ""
    return highlight(code, lexer, HtmlFormatter(nowrap=True))


@cache
def _renderer() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight})
    md.enable(["table", "strikethrough"])
    md.disable("image")
    md.validateLink = is_safe_link
    default_fence = md.renderer.rules["fence"]

    def fence(tokens: list[Any], idx: int, options: Any, env: Any) -> str:
        rendered = default_fence(tokens, idx, options, env)
        language = html.escape(tokens[idx].info.strip().split(" ")[0])
        head = f'<pre class="hl" data-language="{language}">' if language else '<pre class="hl">'
        return rendered.replace("<pre>", head + COPY_BUTTON, 1)

    def link_open(tokens: list[Any], idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "noopener noreferrer")
        tokens[idx].attrSet("target", "_blank")
        return md.renderer.renderToken(tokens, idx, options, env)

    md.renderer.rules["fence"] = fence
    md.renderer.rules["link_open"] = link_open
    return md


def render_markdown(text: str) -> str:
    """Inert HTML for ``text`` (see the module docstring for what "inert" covers)."""
    return _renderer().render(text)


def finished_length(text: str) -> int:
    """How much of ``text`` is whole blocks that later text cannot change.

    A block ends at a blank line outside a code fence once a line that starts a new block
    follows it: not indented (which could continue a list item or be indented code), and not a
    list item after a list (one list, not two). A closed fence ends its block at once.
    """
    end = 0
    lines = text.split("\n")[:-1]  # the last piece is an unfinished line
    offset = 0
    fence: str | None = None
    block_is_list = False
    block_start = True
    blank_before = False
    for line in lines:
        start, offset = offset, offset + len(line) + 1
        if fence is not None:
            if line.strip().startswith(fence) and set(line.strip()) == {fence[0]}:
                fence = None
                end, block_start = offset, True
            continue
        if not line.strip():
            blank_before = True
            continue
        new_block = blank_before and not line[0].isspace()
        if new_block and not (block_is_list and _LIST_ITEM.match(line)):
            end, block_start = start, True
        if block_start:
            block_is_list = bool(_LIST_ITEM.match(line))
            block_start = False
        blank_before = False
        if match := _FENCE.match(line):
            fence = match.group(1)
            if start > end and not block_is_list:
                end = start  # a fence opening after a paragraph starts its own block
    return end


@dataclass
class StreamUpdate:
    """What changed: HTML for newly finished blocks (to append) and for the open tail."""

    finished_html: str
    tail_html: str


@dataclass
class MarkdownStream:
    """A growing reply rendered block by block: each finished block once, the tail each time."""

    render: Callable[[str], str] = render_markdown
    done: int = 0
    """Characters of the text already rendered as finished blocks."""

    def update(self, text: str) -> StreamUpdate:
        """The HTML to add for ``text``, the whole reply so far (it only grows)."""
        finished = self.done + finished_length(text[self.done :])
        new_blocks = self.render(text[self.done : finished]) if finished > self.done else ""
        self.done = finished
        tail = text[finished:]
        return StreamUpdate(new_blocks, self.render(tail) if tail.strip() else "")
