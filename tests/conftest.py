"""Shared test fixtures: the generated test models, serve.py on a free port, and a browser page
that may only talk to that server (any other request fails the test)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import serve

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO / "models"
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


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The folder `scripts/make_test_models.py` fills; fail loudly when it was not run."""
    if not (MODELS_DIR / "tiny-llama.gguf").is_file():
        pytest.fail("test models missing: run `python scripts/make_test_models.py` first")
    return MODELS_DIR


@pytest.fixture(scope="session")
def app_server(models_dir: Path) -> Iterator[serve.AppServer]:
    """serve.py in a thread on a free port, serving the test models under /models/."""
    server = serve.make_server(port=0, models_dir=models_dir, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium (never a downloaded browser) with the flags that work offline here."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def app_page(page, app_server: serve.AppServer):
    """The app, booted to "Python ready", in a context where non-local requests fail the test."""
    blocked: list[str] = []

    def guard(route) -> None:
        url = route.request.url
        is_network = url.startswith(("http://", "https://", "ws://", "wss://"))
        if is_network and urlsplit(url).hostname not in LOCAL_HOSTS:
            blocked.append(url)
            route.abort()
            return
        route.continue_()

    page.context.route("**/*", guard)
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.goto(app_server.url)
    page.wait_for_selector("body[data-state=ready]", timeout=PYTHON_BOOT_TIMEOUT_MS)
    yield page
    assert blocked == [], f"the page tried to reach beyond localhost: {blocked}"
    assert page_errors == [], f"uncaught errors in the page: {page_errors}"
