#!/usr/bin/env python3
"""Screenshots of the app as a person sees it: light, dark and phone width, with a model loaded.

    python scripts/screenshots.py [--out DIR] [--model NAME]   # default: .cache/screenshots/

Runs serve.py on the test models (``scripts/make_test_models.py``), opens the page in Debian's
Chromium (every non-local request blocked), loads ``--model`` and asks it one short question,
then saves one PNG per view. Look at them with any image viewer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "py")]

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PYTHON_BOOT_TIMEOUT_MS,
    block_non_local,
)
from tests.support.models import MODELS_DIR  # noqa: E402
from tests.support.server import serve_py  # noqa: E402

VIEWS = {
    "light": {"viewport": {"width": 1280, "height": 800}, "color_scheme": "light"},
    "dark": {"viewport": {"width": 1280, "height": 800}, "color_scheme": "dark"},
    "phone": {"viewport": {"width": 360, "height": 740}, "color_scheme": "light"},
}
REPLY_TIMEOUT_MS = 120_000


def shoot(out: Path, model: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with serve_py(MODELS_DIR) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, options in VIEWS.items():
            context = browser.new_context(**options)
            blocked = block_non_local(context)
            page = context.new_page()
            page.goto(server.url)
            page.wait_for_selector("body[data-state=ready]", timeout=PYTHON_BOOT_TIMEOUT_MS)
            page.fill("#model-url", f"/models/{model}")
            page.click("#load-url")
            page.wait_for_selector("body[data-state=model-ready]", timeout=REPLY_TIMEOUT_MS)
            page.fill("#temperature", "0")
            page.fill("#max-tokens", "24")
            page.fill("#prompt", "Which city is the capital of France?")
            page.click("#send")
            page.wait_for_selector(
                "#messages li.assistant[data-stop-reason]", timeout=REPLY_TIMEOUT_MS
            )
            path = out / f"{name}.png"
            page.screenshot(path=path, full_page=True)
            saved.append(path)
            context.close()
            if blocked:
                raise SystemExit(f"the page tried to reach beyond localhost: {blocked}")
        browser.close()
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
