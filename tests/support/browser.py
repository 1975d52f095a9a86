"""The browser the tests and benchmarks drive: Debian's Chromium with the flags that work offline
here, and a guard that fails a page which reaches beyond localhost."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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
