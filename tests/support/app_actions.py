"""What a person does with the app, as Playwright steps shared by the browser tests and scripts."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

LOAD_TIMEOUT_MS = 60_000
REPLY_TIMEOUT_MS = 120_000


def open_view(page: Page, name: str) -> None:
    """Open a view from the top bar: models, details, params, bench or similarity."""
    if not page.evaluate("(id) => document.getElementById(id).open", f"{name}-dialog"):
        close_views(page)
        page.click(f"#open-{name}")
    expect(page.locator(f"#{name}-dialog")).to_be_visible()


def close_views(page: Page) -> None:
    """Close whichever view is open (Escape would, too), back to the chat."""
    page.evaluate("document.querySelectorAll('dialog[open]').forEach((d) => d.close())")


def load_by_url(page: Page, url: str) -> None:
    open_view(page, "models")
    page.fill("#model-url", url)
    page.click("#load-url")


def wait_model_ready(page: Page) -> None:
    page.wait_for_selector("body[data-state=model-ready]", timeout=LOAD_TIMEOUT_MS)


def set_generation(page: Page, mode: str, temperature: float, max_tokens: int) -> None:
    open_view(page, "params")
    page.select_option("#mode", mode)
    page.fill("#temperature", str(temperature))
    page.fill("#max-tokens", str(max_tokens))
    close_views(page)


def send(page: Page, prompt: str) -> None:
    """Type and send a message; returns once the page has taken it."""
    close_views(page)
    sent = page.locator("#messages li.user").count()
    page.fill("#prompt", prompt)
    page.click("#send")
    page.wait_for_function(
        "(n) => document.querySelectorAll('#messages li.user').length > n || "
        "document.getElementById('error').textContent",
        arg=sent,
    )


def wait_reply(page: Page, index: int = -1) -> dict:
    """Wait until assistant reply number ``index`` (from 0; -1: the newest) has finished."""
    selector = "#messages li.assistant"
    page.wait_for_function(
        """([selector, index]) => {
            const replies = document.querySelectorAll(selector);
            const reply = replies[index < 0 ? replies.length + index : index];
            return reply && (reply.dataset.stopReason || reply.classList.contains('failed'));
        }""",
        arg=[selector, index],
        timeout=REPLY_TIMEOUT_MS,
    )
    return page.evaluate(
        """([selector, index]) => {
            const replies = document.querySelectorAll(selector);
            const reply = replies[index < 0 ? replies.length + index : index];
            return {
                text: reply.dataset.text || "",
                stopReason: reply.dataset.stopReason || null,
                chunks: Number(reply.dataset.chunks || 0),
                stats: reply.querySelector('.stats')?.textContent || "",
                error: document.getElementById('error').textContent,
            };
        }""",
        [selector, index],
    )


SMOLLM2_GREEDY = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "smollm2_greedy.json").read_text()
)
"""SmolLM2's greedy completion on native llama.cpp (``scripts/native_reference.py --smollm2``)."""


def same_words(shown: str, text: str) -> bool:
    """A reply as the page shows it (rendered: paragraphs, no edge spaces) is ``text``."""
    return shown.split() == text.split()


def complete_smollm2_reference(page: Page) -> dict:
    """Greedy-complete SmolLM2's reference prompt in the loaded model (SmolLM2 in the tests):
    ``same_words(reply["text"], SMOLLM2_GREEDY["generated_text"])`` where the engine computes
    as native llama.cpp does (every step's top-2 logit gap is at least 0.2). A chat question
    is no oracle: the chat template's rendering and each build's rounding change the answer."""
    set_generation(page, "complete", 0, SMOLLM2_GREEDY["n_predict"])
    send(page, SMOLLM2_GREEDY["prompt"])
    return wait_reply(page)


def error_text(page: Page) -> str:
    expect(page.locator("#error")).to_be_visible()
    return page.inner_text("#error")
