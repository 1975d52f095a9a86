"""Saved conversations in real Chromium: the IndexedDB binding and the sidebar view.

The binding only runs inside a page, so these tests load the test-only harness page
(``pages/runner_harness.*``, as test_runner.py does; no model is needed) and run Python in it
(``run_python``). Every test gets a fresh browser context, so its IndexedDB starts empty; a
reload keeps it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from localwebai.conversations import DB_NAME
from playwright.sync_api import Page, expect

import serve
from tests.support.browser import PYTHON_BOOT_TIMEOUT_MS, guarded
from tests.support.page_python import run_python, serve_test_pages
from tests.support.server import serve_py

INDEX = Path(__file__).resolve().parents[2] / "web" / "index.html"
SETUP = """
import js
from localwebai.browser.conversation_db import IndexedDBConversations
from localwebai.chat import Message
from localwebai.conversations import ConversationStore
store = ConversationStore(IndexedDBConversations())
"""
DELETE_DATABASE = """
async def delete_database(name):
    await js.eval(f'''new Promise((done, fail) => {{
        const request = indexedDB.deleteDatabase({name!r});
        request.onsuccess = done;
        request.onerror = () => fail(request.error);
        request.onblocked = () => fail(new Error("deleting {name} is blocked"));
    }})''')

async def database_names():  # ours only (PyScript keeps one of its own)
    names = [str(d.name) for d in await js.indexedDB.databases()]
    return sorted(n for n in names if n.startswith("localwebai"))
"""
ROWS = "#conversation-list li"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[serve.AppServer]:
    """serve.py with an empty models folder: these tests load no model."""
    with serve_py(tmp_path_factory.mktemp("no-models")) as running:
        yield running


@pytest.fixture
def harness(page: Page, server: serve.AppServer) -> Iterator[Page]:
    """The harness page under the app's origin, ``SETUP`` run; non-local requests and uncaught
    page errors fail the test."""

    with guarded(page):
        serve_test_pages(page)
        open_harness(page, server)
        yield page


def open_harness(page: Page, server: serve.AppServer) -> None:
    page.goto(server.url + "runner_harness.html")
    page.wait_for_selector(
        "body[data-state=ready]", state="attached", timeout=PYTHON_BOOT_TIMEOUT_MS
    )
    run_python(page, SETUP + DELETE_DATABASE)


def test_conversations_survive_a_reload_and_clearing_the_model_cache(
    harness: Page, server: serve.AppServer
):
    saved = run_python(
        harness,
        """
        first = await store.save_chat(
            None,
            [Message("user", "Hello <b>there</b>"), Message("assistant", "Hi! **Bold**")],
            system_prompt="Be kind.",
            params={"temperature": "0.7", "mode": "chat"},
            model="SmolLM2",
        )
        second = await store.save_chat(None, [Message("user", "Second chat")])
        [first.to_dict(), [(s.id, s.title) for s in await store.list()]]
        """,
    )
    first, listed = saved
    assert [title for _, title in listed] == ["Second chat", "Hello <b>there</b>"]

    open_harness(harness, server)  # a reload: a new page, the same browser storage
    after_reload = run_python(
        harness,
        f"""
        found = await store.get({first["id"]!r})
        [found.to_dict(), [(s.id, s.title) for s in await store.list()]]
        """,
    )
    assert after_reload == [first, listed]

    # the model cache's own database: open it (a record in it), clear it, then delete it
    remaining = run_python(
        harness,
        """
        from localwebai.browser.cache_store import browser_cache
        from localwebai.browser.jsinterop import glue
        cache = browser_cache()
        await glue.idb.putRecord(js.JSON.parse('{"id": "not-a-model", "schema_version": 0}'))
        before = await database_names()
        await cache.clear()
        cleared = [len(await cache.models()), len(await store.list())]
        await delete_database("localwebai")
        [before, cleared, await database_names(), [s.id for s in await store.list()]]
        """,
    )
    before, cleared, names, ids = remaining
    assert before == sorted(["localwebai", DB_NAME])
    assert cleared == [0, 2]
    assert names == [DB_NAME]
    assert ids == [listed[0][0], listed[1][0]]


def test_deleting_the_conversations_database_elsewhere_is_not_blocked(harness: Page):
    """Our open connection closes on "versionchange"; the next call opens a fresh database."""
    counts = run_python(
        harness,
        f"""
        await store.save_chat(None, [Message("user", "soon gone")])
        before = len(await store.list())
        await delete_database({DB_NAME!r})
        [before, len(await store.list()), await store.get("missing")]
        """,
    )
    assert counts == [1, 0, None]


def test_rename_delete_and_get_through_indexeddb(harness: Page):
    seen = run_python(
        harness,
        """
        a = await store.save_chat(None, [Message("user", "alpha")])
        b = await store.save_chat(None, [Message("user", "beta")])
        await store.rename(a.id, "Renamed alpha")
        await store.delete(b.id)
        imported = await store.import_json(a.to_json())
        [[s.title for s in await store.list()], await store.get(b.id), imported.id != a.id]
        """,
    )
    assert seen == [["alpha", "Renamed alpha"], None, True]


# ---- the sidebar view ----------------------------------------------------------------------


def sidebar_markup() -> str:
    """The app's own ``#conversations`` block, as web/index.html has it."""
    found = re.search(r'<div id="conversations">.*?</div>', INDEX.read_text(), re.S)
    assert found, "web/index.html lost its #conversations block"
    return found.group(0)


@pytest.fixture
def sidebar(harness: Page) -> Page:
    """The app's sidebar markup in the harness, with a ConversationsView over IndexedDB and two
    saved conversations; ``opened``, ``deleted`` and ``errors`` record its callbacks."""
    harness.evaluate(
        "(html) => document.body.insertAdjacentHTML('beforeend', html)", sidebar_markup()
    )
    run_python(
        harness,
        """
        from localwebai.browser.conversations_view import ConversationsView
        opened, deleted, errors = [], [], []
        older = await store.save_chat(
            None,
            [Message("user", "<img src=x onerror=alert(1)> first"), Message("assistant", "# Hi")],
            system_prompt="Be brief.",
            model="tiny-llama",
        )
        newer = await store.save_chat(None, [Message("user", "Second one")])
        view = ConversationsView(
            store,
            on_open=lambda c: opened.append(c.id),
            on_error=lambda e: errors.append(str(e)),
            on_delete=deleted.append,
        )
        view.wire()
        await view.refresh(newer.id)
        """,
    )
    return harness


def row(page: Page, title: str):
    return page.locator(ROWS).filter(has_text=title)


def menu_action(page: Page, title: str, action: str) -> None:
    item = row(page, title)
    item.locator("summary").click()
    item.get_by_role("button", name=action, exact=True).click()


def test_the_sidebar_lists_newest_first_marks_the_active_one_and_opens(sidebar: Page):
    openers = sidebar.locator(f"{ROWS} .conversation-open")
    expect(openers).to_have_text(["Second one", "<img src=x onerror=alert(1)> first"])
    assert sidebar.locator("#conversation-list img").count() == 0  # titles are text, not HTML
    expect(openers.nth(0)).to_have_attribute("aria-current", "true")
    expect(sidebar.locator("#conversations-empty")).to_be_hidden()

    openers.nth(1).click()
    expect(openers.nth(1)).to_have_attribute("aria-current", "true")
    expect(openers.nth(0)).not_to_have_attribute("aria-current", "true")
    assert run_python(sidebar, "[opened == [older.id], errors]") == [True, []]


def test_rename_inline_and_escape_cancels(sidebar: Page):
    menu_action(sidebar, "Second one", "Rename")
    title = sidebar.locator(f"{ROWS} .conversation-rename input")
    expect(title).to_be_focused()
    title.fill("Dropped")
    title.press("Escape")
    expect(row(sidebar, "Second one").locator(".conversation-open")).to_be_visible()

    menu_action(sidebar, "Second one", "Rename")
    sidebar.locator(f"{ROWS} .conversation-rename input").fill("  My   notes ")
    sidebar.keyboard.press("Enter")
    expect(sidebar.locator(f"{ROWS} .conversation-open").first).to_have_text("My notes")
    assert run_python(sidebar, "(await store.get(newer.id)).title") == "My notes"


def test_delete_asks_inline_first(sidebar: Page):
    menu_action(sidebar, "Second one", "Delete")
    confirm = sidebar.locator(f"{ROWS} .conversation-confirm")
    expect(confirm).to_contain_text("Delete “Second one”?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(sidebar.locator(ROWS)).to_have_count(2)

    menu_action(sidebar, "Second one", "Delete")
    sidebar.locator(f"{ROWS} .conversation-confirm").get_by_role("button", name="Delete").click()
    expect(sidebar.locator(ROWS)).to_have_count(1)
    state = run_python(
        sidebar, "[deleted == [newer.id], await store.get(newer.id), view.active_id]"
    )
    assert state == [True, None, None]


def test_export_markdown_and_json_then_import_the_json(sidebar: Page, tmp_path: Path):
    first_title = "<img src=x onerror=alert(1)> first"
    with sidebar.expect_download() as markdown_download:
        menu_action(sidebar, first_title, "Export Markdown")
    download = markdown_download.value
    assert download.suggested_filename == "img-src-x-onerror-alert-1-first.md"
    expected = run_python(sidebar, "(await store.get(older.id)).to_markdown()")
    assert Path(download.path()).read_text() == expected
    assert expected.startswith(f"# {first_title}\n\nModel: tiny-llama\n\n## System prompt")

    with sidebar.expect_download() as json_download:
        menu_action(sidebar, first_title, "Export JSON")
    exported = tmp_path / json_download.value.suggested_filename
    json_download.value.save_as(exported)
    assert json.loads(exported.read_text())["format"] == "localwebai-conversation"

    sidebar.set_input_files("#import-conversation", exported)
    expect(sidebar.locator(ROWS)).to_have_count(3)
    expect(sidebar.locator(f"{ROWS} .conversation-open").first).to_have_text(first_title)
    ids = run_python(sidebar, "[s.id for s in await store.list()]")
    assert len(set(ids)) == 3

    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"format": "something-else"}')
    sidebar.set_input_files("#import-conversation", wrong)
    errors = run_python(
        sidebar,
        """
        import asyncio
        for _ in range(100):  # the import runs as a task of the "change" event
            if errors:
                break
            await asyncio.sleep(0.05)
        errors
        """,
    )
    assert len(errors) == 1 and "not a LocalWebAI conversation file" in errors[0]
    expect(sidebar.locator(ROWS)).to_have_count(3)
