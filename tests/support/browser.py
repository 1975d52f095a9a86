"""The browser the tests and benchmarks drive: Debian's Chromium with the flags that work offline
here, a guard that fails a page which reaches beyond localhost, and Chromium's own output kept
for the report of a page that crashed."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Route

    import serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
PYTHON_BOOT_TIMEOUT_MS = 60_000
CRASH_MARKERS = ("Target crashed", "PageCrashed")
"""What Playwright's error (or engines.PageCrashed) says when Chromium's page process died."""
BROWSER_OUTPUT_NOISE = ("dbus", "DBus")
"""Lines of Chromium's output that every start prints here (no system bus in a container)."""


def keep_browser_output(path: Path) -> None:
    """Have Playwright's driver, once started by this process, write what the browsers it
    launches print (stdout and stderr: a crashed page process's last words) to ``path``."""
    os.environ["DEBUG"] = "pw:browser"
    os.environ["DEBUG_FILE"] = str(path)


def browser_output_tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of the output kept by ``keep_browser_output``, less the noise."""
    if not path.is_file():
        return "(no browser output was kept)"
    text = path.read_text(errors="replace").splitlines()
    kept = [line for line in text if not any(noise in line for noise in BROWSER_OUTPUT_NOISE)]
    return "\n".join(kept[-lines:])


def block_non_local(context: BrowserContext) -> list[str]:
    """Abort every request of a browser context that leaves localhost; the returned list fills
    with their URLs (a test or benchmark fails when it is not empty)."""
    blocked: list[str] = []

    def guard(route: Route) -> None:
        url = route.request.url
        is_network = url.startswith(("http://", "https://", "ws://", "wss://"))
        if is_network and urlsplit(url).hostname not in LOCAL_HOSTS:
            blocked.append(url)
            route.abort()
            return
        route.continue_()

    context.route("**/*", guard)
    return blocked


@contextlib.contextmanager
def guarded(page: Page) -> Iterator[Page]:
    """On exit, fail the test if ``page`` tried to reach beyond localhost (such requests are
    aborted) or threw an uncaught error."""
    blocked = block_non_local(page.context)
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    yield page
    assert blocked == [], f"the page tried to reach beyond localhost: {blocked}"
    assert page_errors == [], f"uncaught errors in the page: {page_errors}"


@contextlib.contextmanager
def booted_app(page: Page, app_server: serve.AppServer) -> Iterator[Page]:
    """``page`` guarded, with the app open and booted to "Python ready"."""
    with guarded(page):
        page.goto(app_server.url)
        page.wait_for_selector("body[data-state=ready]", timeout=PYTHON_BOOT_TIMEOUT_MS)
        yield page
