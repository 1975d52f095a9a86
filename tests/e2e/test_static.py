"""The static build in real Chromium, served by a plain static server under a sub-path.

The server (``tests/support/static_site.py``) is a plain static host: no COOP/COEP headers
(except under the opt-out build's prefix), no Range support, no models listing of its own.
Everything the page needs comes from `python -m localwebai build`; isolation, offline use and
updates come from the build's service worker.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from localwebai.tooling.build import ENGINE_BUILD_FILES, build
from playwright.sync_api import Page, Request, expect

from tests.support.app_actions import open_view, send, set_generation, wait_reply
from tests.support.browser import guarded
from tests.support.server import serving
from tests.support.static_site import StaticServer, build_with_models, run_build

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "tests" / "data" / "tiny_llama_greedy.json"
TINY = "tiny-llama.gguf"
APP = "/apps/localwebai/"  # the main build's sub-path
UPDATE_APP = "/update/localwebai/"  # rebuilt by the update test
HEADERS_APP = "/headers/localwebai/"  # built with --host-sends-headers; the server sends them
PLAIN_APP = "/plain/localwebai/"  # built with --host-sends-headers, served without: not isolated
BOOT_TIMEOUT_MS = 180_000  # first visit: precache ~46 MB, boot Python, reload, boot again
LOAD_TIMEOUT_MS = 90_000
REPLY_TIMEOUT_MS = 120_000
READY_AND_ISOLATED = "crossOriginIsolated && document.body.dataset.state === 'ready'"


def linked_copy(source: Path, dest: Path) -> None:
    """A cheap copy of a source tree (hard links; change files only by replacing them)."""
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("web", "py", "wasm"):
        shutil.copytree(source / folder, dest / folder, copy_function=os.link, ignore=ignore)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[StaticServer]:
    """Four builds under one static server: the main one, one to update, one for the opt-out
    (on a host with the headers), and the opt-out on a host without them."""
    root = tmp_path_factory.mktemp("site")
    build_with_models(
        root / APP.strip("/"), tmp_path_factory.mktemp("site-models"), models_dir / TINY
    )
    run_build(root / HEADERS_APP.strip("/"), "--host-sends-headers")
    build_with_models(
        root / PLAIN_APP.strip("/"),
        tmp_path_factory.mktemp("plain-models"),
        models_dir / TINY,
        options=("--host-sends-headers",),
    )
    with serving(StaticServer(root, headers_prefix=HEADERS_APP)) as server:
        yield server


@pytest.fixture
def site_page(page: Page, site: StaticServer) -> Iterator[Page]:
    """A fresh browser context (no service worker yet) where non-local requests fail the test."""
    with guarded(page):
        yield page
        site.offline = False


def main_frame_loads(page: Page) -> list[str]:
    """A list that fills with the URL of every document the tab loads from now on."""
    loads: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and loads.append(frame.url))
    return loads


def first_visit(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(READY_AND_ISOLATED, timeout=BOOT_TIMEOUT_MS)
    expect(page.locator("#offline-status")).to_have_attribute("data-state", "ready")


def cache_names(page: Page) -> list[str]:
    return page.evaluate("caches.keys()")


def load_tiny(page: Page) -> None:
    open_view(page, "models")
    page.fill("#model-url", f"models/{TINY}")  # relative: the page is under a sub-path
    page.click("#load-url")
    page.wait_for_selector("body[data-state=model-ready]", timeout=LOAD_TIMEOUT_MS)


def greedy_reply(page: Page) -> str:
    """The reference prompt, greedy; returns the reply's text."""
    reference = json.loads(REFERENCE.read_text())
    open_view(page, "params")
    page.select_option("#mode", "complete")
    page.fill("#temperature", "0")
    page.fill("#max-tokens", str(reference["n_predict"]))
    send(page, reference["prompt"])
    reply = page.locator("#messages li.assistant").last
    page.wait_for_function(
        "() => { const r = [...document.querySelectorAll('#messages li.assistant')].pop();"
        " return r && (r.dataset.stopReason || r.classList.contains('failed')); }",
        timeout=REPLY_TIMEOUT_MS,
    )
    assert page.inner_text("#error") == ""
    return reply.evaluate("li => li.dataset.text")


def expected_reply() -> str:
    return json.loads(REFERENCE.read_text())["generated_text"]


def test_development_server_registers_no_service_worker(app_page: Page):
    # serve.py sends the headers itself; a worker there would only serve stale files
    assert app_page.evaluate("navigator.serviceWorker.getRegistrations()") == []
    assert app_page.evaluate("caches.keys()") == []
    assert app_page.is_hidden("#offline-status")


def test_first_visit_reloads_once_into_isolation_then_answers_offline(
    site_page: Page, site: StaticServer
):
    page = site_page
    loads = main_frame_loads(page)
    first_visit(page, site.url(APP))
    # exactly one automatic reload: the service worker's headers made the page isolated
    assert loads == [site.url(APP)] * 2
    with urllib.request.urlopen(site.url(APP)) as response:  # the host itself sends no COEP
        assert "Cross-Origin-Embedder-Policy" not in response.headers
    version = page.get_attribute("#offline-status", "data-version")
    assert cache_names(page) == [f"localwebai-shell:{APP}:{version}"]
    assert "simd-relaxed wasm build" in page.inner_text("#environment")  # ours, on the CPU
    open_view(page, "models")
    expect(page.locator("button.server-model", has_text=TINY)).to_be_visible()  # build's list

    load_tiny(page)
    # a chat turn, saved in this browser: it must be back after the offline reload
    set_generation(page, "chat", 0, 6)
    send(page, "Hello")
    saved_reply = wait_reply(page)["text"]
    expect(page.locator("#conversation-list li")).to_have_count(1)  # saved before going offline
    # wllama's own report (getNumThreads, isMultithread): every core, in its thread pool
    engine = page.inner_text("#model-metadata [data-field=engine]")
    cores = page.evaluate("navigator.hardwareConcurrency")
    assert engine.startswith(f"{cores} thread(s)")
    if cores > 1:
        assert "multi-thread" in engine

    # offline: the context has no network and the server answers nothing. Only requests made
    # from here on count: Chromium reports the abort of the first, pre-isolation document's
    # requests (cut short by the isolation reload, in another process) late, even after this.
    offline_requests: set[Request] = set()
    failed: list[str] = []
    page.on("request", lambda r: offline_requests.add(r))
    page.on(
        "requestfailed",
        lambda r: r in offline_requests and failed.append(f"{r.url}: {r.failure}"),
    )
    page.context.set_offline(True)
    site.offline = True
    offline_from = len(site.hits)
    page.reload()
    page.wait_for_function(READY_AND_ISOLATED, timeout=BOOT_TIMEOUT_MS)
    expect(page.locator("#offline-status")).to_have_attribute("data-network", "offline")
    expect(page.locator("#messages li.user .text")).to_have_text(["Hello"])
    assert page.get_attribute("#messages li.assistant", "data-text") == saved_reply
    expect(page.locator("#conversation-list li")).to_have_count(1)
    assert page.get_attribute("body", "data-python-boot") == "snapshot"  # precached, JSPI's
    load_tiny(page)  # the same URL as before: from the browser's model cache
    assert greedy_reply(page) == expected_reply()
    assert failed == []
    # the only network attempts left are the browser's own update check of the worker: its
    # script, and the one it imports
    assert site.paths_since(offline_from) <= {f"{APP}sw.js", f"{APP}js/wasm-features.js"}


ENGINE_FILES = {build: set(paths) for build, paths in ENGINE_BUILD_FILES.items()}


BUILDS_FORCED = ["simd", "simd64-relaxed", "simd64", "simd-asyncify", "default", "compat"]


@pytest.mark.parametrize("build", BUILDS_FORCED)
def test_each_build_generates_from_local_files(site_page: Page, site: StaticServer, build: str):
    """Ours with relaxed-SIMD kernels is Chromium's CPU default (above); our other builds
    and wllama's two, forced, give the same tokens."""
    page = site_page
    first_visit(page, site.url(APP) + f"?engine={build}")
    assert f"{build} wasm build" in page.inner_text("#environment")
    requested: list[str] = []
    page.context.on("request", lambda request: requested.append(request.url))
    load_tiny(page)
    assert greedy_reply(page) == expected_reply()
    # that build's files came from this site (through the service worker), never from
    # wllama's CDN (the context blocks it), and no other build's
    fetched = {urlsplit(url).path.removeprefix(APP) for url in requested}
    others = set().union(*(files for name, files in ENGINE_FILES.items() if name != build))
    assert ENGINE_FILES[build] <= fetched
    assert not fetched & others
    cached = page.evaluate(
        "async () => { const c = await caches.open((await caches.keys())[0]);"
        " return (await c.keys()).map((r) => new URL(r.url).pathname); }"
    )
    assert {f"{APP}{path}" for path in ENGINE_FILES[build]} <= set(cached)


def test_updated_build_replaces_the_old_cache(
    site_page: Page, site: StaticServer, tmp_path: Path, models_dir: Path
):
    page = site_page
    source = tmp_path / "source"
    linked_copy(REPO, source)
    out = site.root / UPDATE_APP.strip("/")
    old = build(out, source=source)
    first_visit(page, site.url(UPDATE_APP))
    old_cache = f"localwebai-shell:{UPDATE_APP}:{old.version}"
    assert cache_names(page) == [old_cache]

    css = source / "web" / "app.css"
    changed = css.read_text() + "\n/* update marker */\n"
    css.unlink()  # a hard link to the repo's file: replace it, never write through it
    css.write_text(changed)
    new = build(out, source=source)
    assert new.version != old.version
    before = len(site.hits)
    page.reload()  # the navigation makes the browser check sw.js: the new version installs
    expect(page.locator("#update-notice")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    # only the changed files were downloaded; unchanged ones came from the old cache
    fetched = site.paths_since(before)
    assert f"{UPDATE_APP}app.css" in fetched
    assert f"{UPDATE_APP}vendor/pyodide/pyodide.asm.wasm" not in fetched
    assert f"{UPDATE_APP}wasm/wllama.wasm" not in fetched

    loads = main_frame_loads(page)
    page.click("#update-reload")
    page.wait_for_function(
        f"{READY_AND_ISOLATED} && document.getElementById('offline-status').dataset.version"
        f" === '{new.version}'",
        timeout=BOOT_TIMEOUT_MS,
    )
    assert len(loads) == 1
    assert cache_names(page) == [f"localwebai-shell:{UPDATE_APP}:{new.version}"]
    assert "update marker" in page.evaluate("fetch('app.css').then((r) => r.text())")


def test_opt_out_build_on_a_host_with_headers_never_reloads(site_page: Page, site: StaticServer):
    page = site_page
    loads = main_frame_loads(page)
    page.goto(site.url(HEADERS_APP))
    page.wait_for_function(READY_AND_ISOLATED, timeout=BOOT_TIMEOUT_MS)
    expect(page.locator("#offline-status")).to_have_attribute(
        "data-state", "ready", timeout=BOOT_TIMEOUT_MS
    )
    assert loads == [site.url(HEADERS_APP)]
    assert len(cache_names(page)) == 1
    # from the worker's cache, the shell keeps the host's own headers: still isolated
    page.reload()
    page.wait_for_function(READY_AND_ISOLATED, timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    headers = page.evaluate("fetch('app.css').then((r) => Object.fromEntries(r.headers))")
    assert headers.get("x-localwebai-sha256")  # served from the worker's cache
    assert headers["cross-origin-embedder-policy"] == "require-corp"


def test_a_page_that_is_not_isolated_runs_our_build_on_one_thread(
    site_page: Page, site: StaticServer
):
    """Without isolation the browser hides the SharedArrayBuffer global (a shared wasm memory
    still works): our threaded build must not need the global (emscripten.patch)."""
    page = site_page
    page.goto(site.url(PLAIN_APP))
    page.wait_for_function("document.body.dataset.state === 'ready'", timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("[crossOriginIsolated, typeof SharedArrayBuffer]") == [False, "undefined"]
    environment = page.inner_text("#environment")
    assert environment.startswith("1 thread · not isolated")
    assert "simd-relaxed wasm build" in environment
    load_tiny(page)
    assert greedy_reply(page) == expected_reply()
