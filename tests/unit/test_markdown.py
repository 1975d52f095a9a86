"""Replies as Markdown: what renders, what stays inert, and the streaming split."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from localwebai.markdown import (
    PAGE_WHEELS,
    MarkdownStream,
    finished_length,
    is_safe_link,
    render_markdown,
)

ROOT = Path(__file__).resolve().parents[2]

RICH = """Here is a plan:

- first
- second

1. one
2. two

```python
def add(x):
    return x + 1  # one more
```

| name | value |
|------|-------|
| a    | 1     |

Some `inline` code, *emphasis*, **strong** and a [link](https://example.com/docs).

> quoted

Last paragraph.
"""


def test_blocks_render_as_html() -> None:
    out = render_markdown(RICH)
    assert "<ul>\n<li>first</li>" in out
    assert "<ol>\n<li>one</li>" in out
    assert "<table>" in out and "<th>name</th>" in out and "<td>1</td>" in out
    assert "<code>inline</code>" in out and "<em>emphasis</em>" in out
    assert "<strong>strong</strong>" in out and "<blockquote>" in out


def test_fenced_code_is_highlighted_with_a_copy_button() -> None:
    out = render_markdown(RICH)
    assert '<pre class="hl" data-language="python"><button type="button" class="code-copy"' in out
    assert '<span class="k">def</span>' in out
    assert '<span class="c1"># one more</span>' in out


def test_unknown_language_is_escaped_plain_code() -> None:
    out = render_markdown("```nosuchlang\na < b && c\n```\n")
    assert "a &lt; b &amp;&amp; c" in out and "<span" not in out


def test_links_open_apart_from_the_page() -> None:
    out = render_markdown("[docs](https://example.com/a?b=1)")
    assert (
        '<a href="https://example.com/a?b=1" rel="noopener noreferrer" target="_blank">docs</a>'
        in out
    )


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="https://example.com" onclick="alert(1)">x</a>',
        "<iframe src=https://example.com></iframe>",
        "<style>body{display:none}</style>",
        "text <b onmouseover=alert(1)>bold</b>",
    ],
)
def test_raw_html_is_shown_as_text(text: str) -> None:
    out = render_markdown(text)
    assert not re.search(r"<(script|img|iframe|style|b |a )", out)
    assert "&lt;" in out


@pytest.mark.parametrize(
    "text",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](java\tscript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox)",
        "[x](file:///etc/passwd)",
        "<javascript:alert(1)>",
        "[x][r]\n\n[r]: javascript:alert(1)",
    ],
)
def test_unsafe_links_stay_text(text: str) -> None:
    out = render_markdown(text)
    assert "href" not in out


def test_images_load_nothing() -> None:
    out = render_markdown("![a cat](https://example.com/cat.png) ![x](data:image/png;base64,AA)")
    assert "<img" not in out and "src=" not in out


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://a.b/c", True),
        ("http://a.b", True),
        ("/models/x.gguf", True),
        ("#section", True),
        ("relative/page", True),
        ("mailto:a@b.c", False),
        ("javascript:alert(1)", False),
        (" data:text/html,x", False),
    ],
)
def test_safe_links(url: str, safe: bool) -> None:
    assert is_safe_link(url) is safe


def _stream(text: str, step: int) -> tuple[str, int]:
    """Feed ``text`` ``step`` characters at a time: (finished + final tail HTML, chars rendered)."""
    rendered = 0

    def counting_render(part: str) -> str:
        nonlocal rendered
        rendered += len(part)
        return render_markdown(part)

    stream = MarkdownStream(counting_render)
    html = []
    for end in range(step, len(text) + step, step):
        update = stream.update(text[:end])
        html.append(update.finished_html)
    return "".join(html) + update.tail_html, rendered


@pytest.mark.parametrize("step", [1, 3, 7, 40])
def test_streaming_renders_what_the_whole_text_renders(step: int) -> None:
    assert _stream(RICH, step)[0] == render_markdown(RICH)


def test_a_long_reply_is_not_re_rendered_per_token() -> None:
    paragraph = "A sentence of a long answer, with `code` and *stress*. " * 6
    reply = "\n\n".join(f"{paragraph} ({n})" for n in range(60))  # ~20,000 characters
    html, rendered = _stream(reply, 4)  # ~5,000 updates, as tokens
    assert html == render_markdown(reply)
    # each update re-renders only the open paragraph: about one paragraph's worth per update
    assert rendered < len(reply) * 200, rendered
    assert rendered < len(reply) ** 2 / 4 / 20


def test_code_fence_blank_lines_do_not_end_its_block() -> None:
    text = "```\nline one\n\nline two\n"
    assert finished_length(text) == 0
    assert finished_length(text + "```\nafter\n") == len(text + "```\n")


def test_a_loose_list_stays_one_list() -> None:
    text = "- a\n\n- b\n\nend\n"
    assert finished_length(text) == len("- a\n\n- b\n\n")
    assert render_markdown(text[: finished_length(text)]).count("<ul>") == 1


def test_indented_continuation_keeps_the_block_open() -> None:
    assert finished_length("1. item\n\n   more of the item\n") == 0


def test_page_wheels_are_the_vendored_ones() -> None:
    lock = json.loads((ROOT / "vendor.lock.json").read_text(encoding="utf-8"))
    vendored = {
        Path(f["path"]).name
        for p in lock["packages"]
        for f in p["files"]
        if f["path"].startswith("web/vendor/wheels/") and f["path"].endswith(".whl")
    }
    assert vendored == set(PAGE_WHEELS)
