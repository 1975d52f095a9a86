"""Python run in a page from a test: the one way the tests (and scripts/) do it.

``run_python(page, code)`` runs ``code`` in the page's own PyScript interpreter, in the namespace
the page's ``<script type="py">`` run in (the app's, or a test page's), and returns the value of
its last expression. The first call on a page adds the in-page half, ``HOOK``, as one more
``<script type="py">``.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import serve
from tests.support.browser import PYTHON_BOOT_TIMEOUT_MS

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

HARNESS_PAGES = Path(__file__).resolve().parents[1] / "e2e" / "pages"
HARNESS_FILES = ("runner_harness.html", "runner_harness.py", "kernel_check.html")

RUN_TIMEOUT_MS = 300_000

HOOK = """
def _install_run_python(namespace):
    import json
    import traceback

    import js
    from pyodide.code import eval_code_async
    from pyodide.ffi import create_proxy

    async def run(source):
        try:
            value = await eval_code_async(source, namespace)
        except Exception as error:
            failure = {"ok": False, "type": type(error).__name__, "message": str(error),
                       "trace": traceback.format_exc()}
            return json.dumps(failure)
        return json.dumps({"ok": True, "value": value}, default=repr)

    js.window.__runPython = create_proxy(run)


_install_run_python(globals())
del _install_run_python
"""
"""Defines ``window.__runPython(source)``: runs ``source`` (top-level ``await`` allowed) in the
namespace of the page's scripts, and resolves to JSON ``{"ok": true, "value": ...}`` (a value
JSON cannot hold as its repr) or ``{"ok": false, "type", "message", "trace"}``."""

_ADD_HOOK = """(hook) => {
    if (window.__runPython !== undefined) return;
    const script = document.createElement('script');
    script.type = 'py';
    script.textContent = hook;
    document.body.appendChild(script);
}"""

_RUN = """async ([source, timeoutMs]) => {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(
            () => reject(new Error(`run_python: no answer in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
        return await Promise.race([window.__runPython(source), timeout]);
    } finally {
        clearTimeout(timer);
    }
}"""


def run_python(page: Page, code: str, timeout_ms: int = RUN_TIMEOUT_MS) -> Any:
    """Run ``code`` (dedented; top-level ``await`` allowed) in ``page``'s Python and return the
    value of its last expression, through JSON. Names it defines stay for the next call on the
    same page. A Python exception fails the test (AssertionError) with its traceback."""
    page.evaluate(_ADD_HOOK, HOOK)
    page.wait_for_function("window.__runPython !== undefined", timeout=PYTHON_BOOT_TIMEOUT_MS)
    reply = json.loads(page.evaluate(_RUN, [textwrap.dedent(code), timeout_ms]))
    if not reply["ok"]:
        raise AssertionError(f"{reply['type']}: {reply['message']}\n{reply['trace']}")
    return reply["value"]


def serve_test_pages(page: Page) -> None:
    """Answer the test pages (``HARNESS_FILES``: the runner harness and its ``.py``, the kernel
    check) from ``tests/e2e/pages`` on whatever origin the page is on, with the isolation
    headers; every other request goes on (to the localhost guard)."""

    def fulfil(route: Route) -> None:
        name = urlsplit(route.request.url).path.lstrip("/")
        if name not in HARNESS_FILES:
            route.fallback()
            return
        mime = "text/html" if name.endswith(".html") else "text/x-python"
        headers = {**serve.ISOLATION_HEADERS, "Content-Type": mime}
        route.fulfill(path=HARNESS_PAGES / name, headers=headers)

    page.route("**/*", fulfil)
