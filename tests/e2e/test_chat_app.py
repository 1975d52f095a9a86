"""The chat app as a person uses it, in real Chromium: the layout at desktop and phone size,
replies rendered as inert Markdown, conversations kept across reloads and exported/imported,
and a model without a chat template prompted in its own architecture's format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.app_actions import (
    load_by_url,
    open_view,
    send,
    set_generation,
    wait_model_ready,
    wait_reply,
)
from tests.support.browser import PYTHON_BOOT_TIMEOUT_MS

TINY = "tiny-llama.gguf"
GEMMA_REFERENCE = Path(__file__).resolve().parent.parent / "data" / "tiny_gemma_chat.json"
ROWS = "#conversation-list > li"

RICH_REPLY = """Here is the code:

```python
def add(a, b):
    return a + b
```

| name | value |
|------|-------|
| a    | 1     |

- first
- second
"""
HOSTILE_REPLY = (
    "<img src=x onerror=alert(1)> <script>alert(2)</script> "
    "[run](javascript:alert(3)) [page](data:text/html,<b>hi</b>) "
    "![pixel](https://example.com/pixel.png) [docs](https://example.com/docs)\n"
)


def literal_grammar(text: str) -> str:
    """A GBNF grammar whose only sentence is ``text``: the model must write exactly that."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'root ::= "{escaped}"'


def forced_reply(page: Page, text: str) -> dict:
    set_generation(page, "grammar", 0, 400)
    open_view(page, "params")
    page.fill("#grammar", literal_grammar(text))
    send(page, "Answer.")
    return wait_reply(page)


def wait_markdown(page: Page) -> None:
    page.wait_for_selector("body[data-markdown=ready]", timeout=PYTHON_BOOT_TIMEOUT_MS)


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_composer_and_latest_reply_stay_in_view(app_page: Page, width: int, height: int):
    app_page.set_viewport_size({"width": width, "height": height})
    load_by_url(app_page, f"/models/{TINY}")
    wait_model_ready(app_page)
    # greedy prompts clear of wllama 3.8.1's lone-UTF-8-byte failure (see test_app.py)
    set_generation(app_page, "complete", 0, 24)
    for prompt in ("Once upon a time", "The weather today is", "Once upon a time"):
        send(app_page, prompt)
        assert wait_reply(app_page)["error"] == ""
    in_view = app_page.evaluate(
        """() => {
            const inView = (el) => {
                const r = el.getBoundingClientRect();
                return r.top >= 0 && r.bottom <= innerHeight && r.height > 0;
            };
            const replies = document.querySelectorAll('#messages li.assistant');
            return {
                composer: inView(document.getElementById('prompt')),
                send: inView(document.getElementById('send')),
                reply: inView(replies[replies.length - 1]),
                pageScrolls: document.documentElement.scrollHeight > innerHeight,
            };
        }"""
    )
    assert in_view == {"composer": True, "send": True, "reply": True, "pageScrolls": False}


def test_no_horizontal_scroll_at_360_px(app_page: Page):
    app_page.set_viewport_size({"width": 360, "height": 740})
    load_by_url(app_page, f"/models/{TINY}")
    wait_model_ready(app_page)
    for view in ("models", "details", "params", "bench", "similarity"):
        open_view(app_page, view)
        width = app_page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, view
    app_page.keyboard.press("Escape")
    # the sidebar is a drawer on a phone: closed, then opened by its button
    expect(app_page.locator("#sidebar")).to_be_hidden()
    app_page.click("#sidebar-toggle")
    expect(app_page.locator("#sidebar")).to_be_visible()
    expect(app_page.locator("#sidebar-toggle")).to_have_attribute("aria-expanded", "true")
    assert app_page.evaluate("document.documentElement.scrollWidth") <= 360


def test_markdown_renders_code_tables_and_lists(app_page: Page):
    wait_markdown(app_page)
    load_by_url(app_page, f"/models/{TINY}")
    wait_model_ready(app_page)
    reply = forced_reply(app_page, RICH_REPLY)
    assert reply["text"] == RICH_REPLY and reply["stopReason"] == "end"
    rendered = app_page.evaluate(
        """() => {
            const r = [...document.querySelectorAll('#messages li.assistant')].pop();
            return {
                code: r.querySelector('pre[data-language=python] code')?.textContent,
                keyword: r.querySelector('pre .k')?.textContent,
                copy: !!r.querySelector('pre button.code-copy'),
                header: [...r.querySelectorAll('table th')].map((th) => th.textContent),
                items: [...r.querySelectorAll('ul li')].map((li) => li.textContent),
            };
        }"""
    )
    assert rendered == {
        "code": "def add(a, b):\n    return a + b\n",
        "keyword": "def",
        "copy": True,
        "header": ["name", "value"],
        "items": ["first", "second"],
    }
    app_page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    app_page.click("#messages li.assistant pre button.code-copy")
    expect(app_page.locator("#messages li.assistant pre button.code-copy")).to_have_text("Copied")
    copied = app_page.evaluate("navigator.clipboard.readText()")
    assert copied == "def add(a, b):\n    return a + b\n"


def test_markup_in_a_reply_is_inert(app_page: Page):
    dialogs: list[str] = []
    app_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    wait_markdown(app_page)
    load_by_url(app_page, f"/models/{TINY}")
    wait_model_ready(app_page)
    reply = forced_reply(app_page, HOSTILE_REPLY)
    assert reply["text"] == HOSTILE_REPLY
    found = app_page.evaluate(
        """() => {
            const r = [...document.querySelectorAll('#messages li.assistant')].pop();
            return {
                elements: r.querySelectorAll('img, script, iframe, object, embed').length,
                hrefs: [...r.querySelectorAll('a')].map((a) => [a.href, a.rel, a.target]),
                shown: r.querySelector('.markdown').textContent,
            };
        }"""
    )
    assert found["elements"] == 0
    assert found["hrefs"] == [
        ["https://example.com/pixel.png", "noopener noreferrer", "_blank"],
        ["https://example.com/docs", "noopener noreferrer", "_blank"],
    ]
    assert "<img src=x onerror=alert(1)>" in found["shown"]
    assert "<script>alert(2)</script>" in found["shown"]
    assert "[run](javascript:alert(3))" in found["shown"]
    assert dialogs == []  # and app_page fails the test on any request beyond localhost


def test_a_conversation_survives_a_reload_and_export_then_import(app_page: Page, tmp_path):
    load_by_url(app_page, f"/models/{TINY}")
    wait_model_ready(app_page)
    set_generation(app_page, "chat", 0, 8)
    open_view(app_page, "params")
    app_page.fill("#system-prompt", "Be brief.")
    send(app_page, "Hello there")
    first = wait_reply(app_page)
    send(app_page, "And again")
    second = wait_reply(app_page)
    expect(app_page.locator(ROWS)).to_have_count(1)

    def shown() -> list[list[str]]:
        return app_page.evaluate(
            """() => [...document.querySelectorAll('#messages li')].map((li) =>
                [li.className, li.classList.contains('user')
                    ? li.querySelector('.text').textContent : li.dataset.text])"""
        )

    expected = [
        ["user", "Hello there"],
        ["assistant", first["text"]],
        ["user", "And again"],
        ["assistant", second["text"]],
    ]
    assert shown() == expected
    app_page.reload()
    app_page.wait_for_selector("body[data-state=ready]", timeout=PYTHON_BOOT_TIMEOUT_MS)
    expect(app_page.locator("#messages li")).to_have_count(4)
    assert shown() == expected
    assert app_page.input_value("#system-prompt") == "Be brief."
    assert app_page.input_value("#max-tokens") == "8"

    row = app_page.locator(ROWS).first
    with app_page.expect_download() as download:
        row.locator("summary").click()
        row.get_by_role("button", name="Export JSON", exact=True).click()
    exported = tmp_path / download.value.suggested_filename
    download.value.save_as(exported)
    app_page.click("#clear-chat")
    expect(app_page.locator("#messages li")).to_have_count(0)
    app_page.set_input_files("#import-conversation", exported)
    expect(app_page.locator(ROWS)).to_have_count(2)
    app_page.locator(f"{ROWS} .conversation-open").first.click()
    expect(app_page.locator("#messages li")).to_have_count(4)
    assert shown() == expected


def test_a_model_without_a_template_is_prompted_in_its_architectures_format(app_page: Page):
    reference = json.loads(GEMMA_REFERENCE.read_text())
    load_by_url(app_page, f"/models/{reference['model_file']}")
    wait_model_ready(app_page)
    expect(app_page.locator("#template-name")).to_contain_text("Gemma")
    set_generation(app_page, "chat", 0, 64)
    open_view(app_page, "params")
    app_page.fill("#system-prompt", reference["messages"][0]["content"])
    send(app_page, reference["messages"][1]["content"])
    reply = wait_reply(app_page)
    assert reply["stopReason"] == "end"  # at <end_of_turn>, not after 64 tokens
    assert reply["text"] == reference["generated_text"]
