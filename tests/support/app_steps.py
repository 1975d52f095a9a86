"""What a person does with the app, as steps over a :class:`~tests.support.engines.Driver`, so
one test runs unchanged in Chromium, Firefox and WebKit. Inputs are filled and buttons clicked
through the DOM (``value`` + ``input``/``change`` events, ``click()``): the same in every engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.engines import Driver, wait_for

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "tiny_llama_greedy.json"
BOOT_TIMEOUT_S = 120
LOAD_TIMEOUT_S = 180
REPLY_TIMEOUT_S = 300

FILL = """(selector, value) => {
    const element = document.querySelector(selector);
    element.value = value;
    element.dispatchEvent(new Event('input', {bubbles: true}));
    element.dispatchEvent(new Event('change', {bubbles: true}));
}"""
CLICK = "(selector) => document.querySelector(selector).click()"
TEXT = "(selector) => document.querySelector(selector)?.textContent ?? null"
WATCH_STATES = """() => {
    window.__states = [];
    if (!window.__stateWatch) {
        window.__stateWatch = new MutationObserver(
            () => window.__states.push(document.body.dataset.state));
        window.__stateWatch.observe(
            document.body, {attributes: true, attributeFilter: ['data-state']});
    }
}"""
LOAD_OUTCOME = """() => {
    if (!(window.__states || []).length) return null;  // the load has not begun
    const state = document.body.dataset.state;
    const error = document.getElementById('error');
    const failed = !error.hidden && error.textContent;
    if (state === 'model-ready' && !failed) return {ready: true};
    const settled = state === 'ready' || state === 'model-ready';
    if (settled && failed) return {ready: false, error: failed};
    return null;
}"""
USER_MESSAGES = "() => document.querySelectorAll('#messages li.user').length"
TAKEN = """(sent) => document.querySelectorAll('#messages li.user').length > sent
    || document.getElementById('error').textContent || null"""
REPLY = """(index) => {
    const replies = document.querySelectorAll('#messages li.assistant');
    const reply = replies[index < 0 ? replies.length + index : index];
    if (!reply || !(reply.dataset.stopReason || reply.classList.contains('failed'))) return null;
    return {
        text: reply.dataset.text || '',
        stopReason: reply.dataset.stopReason || null,
        stats: reply.querySelector('.stats')?.textContent || '',
        error: document.getElementById('error').textContent,
    };
}"""


def reference() -> dict[str, Any]:
    """The tiny model's greedy completion by native llama.cpp (``scripts/native_reference.py``)."""
    return json.loads(REFERENCE.read_text())


def fill(driver: Driver, selector: str, value: str) -> None:
    driver.evaluate(FILL, selector, value)


def click(driver: Driver, selector: str) -> None:
    driver.evaluate(CLICK, selector)


def text(driver: Driver, selector: str) -> str | None:
    return driver.evaluate(TEXT, selector)


def wait_ready(driver: Driver, timeout_s: float = BOOT_TIMEOUT_S) -> None:
    """Until Python has booted (or a load/generation has ended) and the page takes input."""
    wait_for(driver, "() => document.body?.dataset.state === 'ready'", timeout_s=timeout_s)


def open_app(driver: Driver, url: str) -> None:
    driver.goto(url)
    wait_ready(driver)


def reload_app(driver: Driver) -> None:
    driver.reload()
    wait_ready(driver)


def load_by_url(driver: Driver, url: str) -> None:
    """Start loading ``url``; :func:`wait_model_ready` or :func:`error_text` tell how it ended
    (they watch the page's state from here on, so an earlier error is not taken for this)."""
    driver.evaluate(WATCH_STATES)
    fill(driver, "#model-url", url)
    click(driver, "#load-url")


def load_file(driver: Driver, path: Path) -> None:
    """Start loading a local file through the file input (as :func:`load_by_url`)."""
    driver.evaluate(WATCH_STATES)
    driver.set_files("#file-input", path)


def load_outcome(driver: Driver, timeout_s: float = LOAD_TIMEOUT_S) -> dict:
    """How the load started last ended: ``{ready: true}`` or ``{ready: false, error}``."""
    return wait_for(driver, LOAD_OUTCOME, timeout_s=timeout_s)


def wait_model_ready(driver: Driver, timeout_s: float = LOAD_TIMEOUT_S) -> None:
    """Until the model is loaded; fails with the page's error message if the load failed."""
    outcome = load_outcome(driver, timeout_s)
    assert outcome["ready"], f"{driver.engine}: the model did not load: {outcome['error']}"


def error_text(driver: Driver, timeout_s: float = LOAD_TIMEOUT_S) -> str:
    """The error the load started last ended with (fails if it loaded)."""
    outcome = load_outcome(driver, timeout_s)
    assert not outcome["ready"], f"{driver.engine}: the load succeeded; an error was expected"
    return outcome["error"]


def field(driver: Driver, name: str) -> str | None:
    """A row of the loaded model's details (``engine``, ``build``, ``loaded in``)."""
    return text(driver, f"#model-metadata [data-field='{name}']")


def set_generation(driver: Driver, mode: str, temperature: float, max_tokens: int) -> None:
    fill(driver, "#mode", mode)
    fill(driver, "#temperature", str(temperature))
    fill(driver, "#max-tokens", str(max_tokens))


def send(driver: Driver, prompt: str) -> None:
    """Type and send a message; returns once the page has taken it (or shown an error)."""
    sent = driver.evaluate(USER_MESSAGES)
    fill(driver, "#prompt", prompt)
    click(driver, "#send")
    wait_for(driver, TAKEN, sent)


def wait_reply(driver: Driver, index: int = -1, timeout_s: float = REPLY_TIMEOUT_S) -> dict:
    """Assistant reply number ``index`` (-1: the newest) once it has finished: text, stop
    reason, stats, error."""
    return wait_for(driver, REPLY, index, timeout_s=timeout_s)


def greedy_reference_reply(driver: Driver, index: int = -1) -> dict:
    """The reference prompt, greedy, as native llama.cpp ran it; the finished reply."""
    expected = reference()
    set_generation(driver, "complete", 0, expected["n_predict"])
    send(driver, expected["prompt"])
    return wait_reply(driver, index)
