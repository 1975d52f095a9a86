"""The model catalogue in real Chromium, against the local fake hub (tests/support/fake_hub.py):
entries with fit and cache state, download, Cancel and resume, and a repository's GGUF files.

The page is opened with ``?hub=/fake-hub&catalogue=/fake-hub/catalogue.json``; every test gets
a fresh browser context (an empty cache) and may reach nothing beyond localhost.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

import serve
from tests.support import fake_hub
from tests.support.app_actions import (
    LOAD_TIMEOUT_MS,
    close_views,
    error_text,
    open_view,
    wait_model_ready,
)
from tests.support.browser import PYTHON_BOOT_TIMEOUT_MS, guarded

ROWS = "#catalogue-list li.catalogue-entry"
TINY_URL_PATH = f"{fake_hub.FAKE_HUB_PREFIX}{fake_hub.TEST_REPO}/resolve/main/{fake_hub.TINY}"


def row(page: Page, entry_id: str):
    return page.locator(f"{ROWS}[data-entry-id='{entry_id}']")


def open_catalogue(page: Page, app_server: serve.AppServer) -> None:
    page.goto(app_server.url + fake_hub.PAGE_QUERY)
    page.wait_for_selector("body[data-state=ready]", timeout=PYTHON_BOOT_TIMEOUT_MS)
    open_view(page, "models")
    expect(page.locator(ROWS)).to_have_count(3)


@pytest.fixture
def catalogue_page(page: Page, app_server: serve.AppServer) -> Iterator[Page]:
    with guarded(page):
        open_catalogue(page, app_server)
        yield page


def test_entries_show_fit_and_cache_state(catalogue_page: Page):
    tiny = row(catalogue_page, "tiny")
    expect(tiny).to_have_attribute("data-fits", "true")
    expect(tiny).to_have_attribute("data-cache", "absent")
    expect(tiny.locator(".fit")).to_contain_text("fits")
    expect(tiny.locator(".cache-state")).to_have_text("not cached")
    expect(tiny.locator("button")).to_have_text("Download")
    expect(tiny.locator(".details")).to_contain_text("2,048-token context")
    huge = row(catalogue_page, fake_hub.TOO_LARGE_ID)
    expect(huge).to_have_attribute("data-fits", "false")
    expect(huge.locator(".fit")).to_contain_text("too large for this device")


def test_download_from_the_fake_hub_loads_and_is_cached_after(
    catalogue_page: Page, app_server: serve.AppServer
):
    row(catalogue_page, "tiny").locator("button").click()
    wait_model_ready(catalogue_page)
    assert any(r.path == TINY_URL_PATH for r in app_server.request_log)

    open_catalogue(catalogue_page, app_server)  # a reload: the cache is the browser's
    tiny = row(catalogue_page, "tiny")
    expect(tiny).to_have_attribute("data-cache", "complete")
    expect(tiny.locator(".cache-state")).to_have_text("cached")
    served_before = len(app_server.request_log)
    tiny.locator("button", has_text="Load").click()
    wait_model_ready(catalogue_page)
    assert not [r for r in app_server.request_log[served_before:] if r.path == TINY_URL_PATH]


def test_cancel_during_a_slow_download_leaves_it_resumable(
    catalogue_page: Page, app_server: serve.AppServer
):
    row(catalogue_page, "smollm2-slow").locator("button").click()
    catalogue_page.wait_for_function(
        "document.getElementById('load-progress').value >= 0.2", timeout=LOAD_TIMEOUT_MS
    )
    close_views(catalogue_page)  # the open modal dialog makes the page behind it inert
    catalogue_page.click("#cancel-load")
    assert "cancelled" in error_text(catalogue_page).lower()

    open_catalogue(catalogue_page, app_server)
    smol = row(catalogue_page, "smollm2-slow")
    expect(smol).to_have_attribute("data-cache", "partial")
    expect(smol.locator(".cache-state")).to_contain_text("resumable")
    expect(smol.locator("button")).to_have_text("Resume")


def test_owner_repo_lists_the_fake_repos_gguf_files_and_one_loads(
    catalogue_page: Page, app_server: serve.AppServer
):
    catalogue_page.fill("#hub-repo", fake_hub.TEST_REPO)
    catalogue_page.click("#hub-list")
    expect(catalogue_page.locator("#hub-status")).to_have_attribute("data-state", "listed")
    served = sorted((p.name for p in app_server.models_dir.glob("*.gguf")), key=str.lower)
    files = catalogue_page.eval_on_selector_all(
        "#hub-files li", "items => items.map(item => item.dataset.file)"
    )
    assert files == served
    tiny = catalogue_page.locator(f"#hub-files li[data-file='{fake_hub.TINY}']")
    expect(tiny).to_contain_text("MiB")  # the size the API gave
    tiny.locator("button").click()
    wait_model_ready(catalogue_page)
    assert any(r.path == TINY_URL_PATH for r in app_server.request_log)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no-such/repo", "no public model repository"),
        (fake_hub.NO_GGUF_REPO, "no single-file GGUF"),
        ("not a repo", "owner/name"),
    ],
)
def test_owner_repo_errors_are_shown_beside_the_form(catalogue_page: Page, text, message):
    catalogue_page.fill("#hub-repo", text)
    catalogue_page.click("#hub-list")
    status = catalogue_page.locator("#hub-status")
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text(message)
    expect(catalogue_page.locator("#hub-files li")).to_have_count(0)
