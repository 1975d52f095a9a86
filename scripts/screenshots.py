#!/usr/bin/env python3
"""Screenshots of the app as a person sees it: first run, catalogue, a chat, details, cache.

    python scripts/screenshots.py [--out DIR] [--model NAME]   # default: .cache/screenshots/

Runs serve.py on the test models (``scripts/make_test_models.py``), opens the page in Debian's
Chromium (every non-local request blocked) and saves, as PNGs: the empty first run, the model
catalogue, a chat whose reply has a rendered code block (desktop light and dark, and a
390x844 phone), the model details and the cache view. Look at them with any image viewer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "py")]

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support.app_actions import (  # noqa: E402
    close_views,
    load_by_url,
    open_view,
    send,
    set_generation,
    wait_reply,
)
from tests.support.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PYTHON_BOOT_TIMEOUT_MS,
    block_non_local,
)
from tests.support.models import MODELS_DIR  # noqa: E402
from tests.support.server import serve_py  # noqa: E402

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
REPLY_TIMEOUT_MS = 120_000
CODE_PROMPT = "Write a Python function that adds two numbers."


def _open(browser, server_url: str, viewport: dict, scheme: str):
    context = browser.new_context(viewport=viewport, color_scheme=scheme)
    blocked = block_non_local(context)
    page = context.new_page()
    page.goto(server_url)
    page.wait_for_selector("body[data-state=ready]", timeout=PYTHON_BOOT_TIMEOUT_MS)
    page.wait_for_selector("body[data-markdown=ready]", timeout=PYTHON_BOOT_TIMEOUT_MS)
    return context, page, blocked


def _chat(page, model: str) -> None:
    load_by_url(page, f"/models/{model}")
    page.wait_for_selector("body[data-state=model-ready]", timeout=REPLY_TIMEOUT_MS)
    set_generation(page, "chat", 0, 160)
    send(page, CODE_PROMPT)
    wait_reply(page)


def shoot(out: Path, model: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []

    def save(page, name: str) -> None:
        path = out / f"{name}.png"
        page.screenshot(path=path)
        saved.append(path)

    with serve_py(MODELS_DIR) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        blocked: list[str] = []
        for scheme in ("light", "dark"):
            context, page, blocked_here = _open(browser, server.url, DESKTOP, scheme)
            if scheme == "light":
                save(page, "first-run")
                open_view(page, "models")
                save(page, "catalogue")
                close_views(page)
            _chat(page, model)
            save(page, f"chat-{scheme}")
            if scheme == "light":
                open_view(page, "details")
                save(page, "details")
                open_view(page, "models")
                page.locator("#cache-panel").scroll_into_view_if_needed()
                save(page, "cache")
            blocked += blocked_here
            context.close()
        context, page, blocked_here = _open(browser, server.url, PHONE, "light")
        _chat(page, model)
        save(page, "chat-phone")
        blocked += blocked_here
        context.close()
        browser.close()
    if blocked:
        raise SystemExit(f"the page tried to reach beyond localhost: {blocked}")
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / ".cache" / "screenshots")
    parser.add_argument("--model", default="SmolLM2-135M-Instruct.Q4_1.gguf")
    args = parser.parse_args()
    for path in shoot(args.out, args.model):
        print(path)


if __name__ == "__main__":
    main()
