"""The IndexedDB model cache in real Chromium: download in chunks, resume, verify, offline.

Every test gets a fresh browser context, so its IndexedDB starts empty; a reload keeps it.
"""

from __future__ import annotations

import hashlib

import pytest
import xxhash
from localwebai.cache import CHUNK_SIZE, PARALLEL_FETCHES, plan_chunks
from localwebai.gguf import FIRST_READ_SIZE
from playwright.sync_api import Page, expect

import serve
from tests.support.app_actions import (
    LOAD_TIMEOUT_MS,
    SMOLLM2_GREEDY,
    complete_smollm2_reference,
    error_text,
    load_by_url,
    open_view,
    same_words,
    send,
    set_generation,
    wait_model_ready,
    wait_reply,
)
from tests.support.browser import PYTHON_BOOT_TIMEOUT_MS
from tests.support.server import (
    DROP_EVERY_BYTES,
    DROPPING_PREFIX,
    FLAKY_PREFIX,
    NO_RANGE_PREFIX,
    SLOW_PREFIX,
)

SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
TINY = "tiny-llama.gguf"
CACHED_ROWS = "#cached-model-list li"
LARGE_LOAD_TIMEOUT_MS = 600_000
IN_FLIGHT_BYTES = 4 << 20
"""What one connection may hold in its buffers when it breaks or the page cancels (the kernel's
and the browser's): written by the server, never read by the page."""


def reload(page: Page) -> None:
    page.reload()
    page.wait_for_selector("body[data-state=ready]", timeout=PYTHON_BOOT_TIMEOUT_MS)


def cached_rows(page: Page) -> list[dict]:
    return page.eval_on_selector_all(
        CACHED_ROWS,
        """rows => rows.map(row => ({
            id: row.dataset.modelId,
            complete: row.dataset.complete === 'true',
            text: row.textContent,
            action: row.querySelector('.load-cached').textContent,
        }))""",
    )


def listed_complete(page: Page) -> list[dict]:
    """The cache list once its first row shows a complete model: the page refreshes the list
    just after it says "ready", so a test reads it only then."""
    first = page.locator(CACHED_ROWS).first
    expect(first).to_have_attribute("data-complete", "true", timeout=LOAD_TIMEOUT_MS)
    return cached_rows(page)


def chunk_requests(server: serve.AppServer, path: str, since: int = 0) -> list[serve.LoggedRequest]:
    """Requests for ``path`` (from log entry ``since`` on) that asked for a whole cache chunk."""
    size = (server.models_dir / path.rsplit("/", 1)[-1]).stat().st_size
    ranges = {f"bytes={c.start}-{c.end - 1}" for c in plan_chunks(size)}
    return [r for r in server.request_log[since:] if r.path == path and r.range in ranges]


def bytes_served_twice(requests: list[serve.LoggedRequest]) -> int:
    """Bytes the server sent more than once: all it sent, less the union of what it sent."""
    spans = sorted(
        (range_start(r), range_start(r) + r.bytes_sent)
        for r in requests
        if r.range and r.status == 206
    )
    union, reach = 0, 0
    for start, end in spans:
        union += max(0, end - max(start, reach))
        reach = max(reach, end)
    return sum(end - start for start, end in spans) - union


def range_start(request: serve.LoggedRequest) -> int:
    return int(request.range.removeprefix("bytes=").split("-")[0])


def range_length(request: serve.LoggedRequest) -> int:
    """How many bytes the request's Range asked for."""
    first, last = request.range.removeprefix("bytes=").split("-")
    return int(last) - int(first) + 1


def record_stages(page: Page) -> None:
    """Collect every stage the load panel shows into window.seenStages."""
    page.evaluate(
        """() => {
            window.seenStages = [];
            const panel = document.getElementById('load-panel');
            new MutationObserver(() => {
                const stage = panel.dataset.stage;
                if (stage && window.seenStages.at(-1) !== stage) window.seenStages.push(stage);
            }).observe(panel, {attributes: true, attributeFilter: ['data-stage']});
        }"""
    )


def stored_records(page: Page) -> list[dict]:
    """The model cache's records, as IndexedDB holds them."""
    return page.evaluate(
        """() => new Promise((resolve, reject) => {
            const open = indexedDB.open("localwebai");
            open.onerror = () => reject(open.error);
            open.onsuccess = () => {
                const all = open.result.transaction("models").objectStore("models").getAll();
                all.onsuccess = () => { open.result.close(); resolve(all.result); };
                all.onerror = () => reject(all.error);
            };
        })"""
    )


def answers_as_native(page: Page) -> None:
    reply = complete_smollm2_reference(page)
    assert same_words(reply["text"], SMOLLM2_GREEDY["generated_text"]), reply


def test_model_loads_from_the_cache_with_its_url_blocked(app_page: Page, app_server):
    url = f"/models/{SMOLLM2}"
    start = len(app_server.request_log)
    record_stages(app_page)
    load_by_url(app_page, url)
    wait_model_ready(app_page)
    assert app_page.evaluate("window.seenStages")[:2] == ["reading header", "checking cache"]
    assert "downloading" in app_page.evaluate("window.seenStages")
    [row] = listed_complete(app_page)
    assert row["complete"] and "Q4_1" in row["text"] and "complete" in row["text"]
    data = (app_server.models_dir / SMOLLM2).read_bytes()
    assert sum(r.bytes_sent for r in chunk_requests(app_server, url, start)) == len(data)
    # each chunk marked with hash-wasm's XXH3 of its bytes: what Python's xxhash computes
    [record] = stored_records(app_page)
    assert record["chunk_digests"] == [
        f"xxh3:{xxhash.xxh3_64_hexdigest(data[c.start : c.end])}" for c in plan_chunks(len(data))
    ]

    reload(app_page)
    blocked: list[str] = []

    def block(route) -> None:
        blocked.append(route.request.url)
        route.abort()

    app_page.context.route(f"**/models/{SMOLLM2}", block)
    served_before = len(app_server.request_log)
    record_stages(app_page)
    load_by_url(app_page, url)
    wait_model_ready(app_page)
    stages = app_page.evaluate("window.seenStages")
    assert "verifying" in stages and "downloading" not in stages
    answers_as_native(app_page)
    assert blocked == []
    assert not [r for r in app_server.request_log[served_before:] if SMOLLM2 in r.path]
    assert "last used" in cached_rows(app_page)[0]["text"]


FETCH_CHUNK = """async ([url, start, end, whole]) => {
    const { fetchChunk } = await import("/js/http.js");
    const reports = [];
    const r = await fetchChunk(url, start, end, {
        algorithm: "xxh3", whole, onBytes: (n) => reports.push(n) });
    return { cut: r.cut, size: r.blob.size, digest: r.digest ?? null, reports };
}"""


def test_a_chunk_fetched_whole_is_the_browsers_blob_and_lost_when_cut(app_page: Page, app_server):
    # the two ways of web/js/http.js's fetchChunk (the core picks: cache.WHOLE_CHUNK_RATE)
    data = (app_server.models_dir / SMOLLM2).read_bytes()
    start, end = CHUNK_SIZE, 2 * CHUNK_SIZE
    url = f"/models/{SMOLLM2}"
    whole = app_page.evaluate(FETCH_CHUNK, [url, start, end, True])
    assert whole == {
        "cut": False,
        "size": CHUNK_SIZE,
        "digest": xxhash.xxh3_64_hexdigest(data[start:end]),
        "reports": [CHUNK_SIZE],  # once, at the end
    }
    streamed = app_page.evaluate(FETCH_CHUNK, [url, start, end, False])
    assert streamed["digest"] == whole["digest"] and len(streamed["reports"]) > 1
    # cut after 5 MB: a whole response keeps nothing, a streamed one what the page read
    dropping = f"{DROPPING_PREFIX}models/{SMOLLM2}"
    lost = app_page.evaluate(FETCH_CHUNK, [dropping, start, end, True])
    assert lost == {"cut": True, "size": 0, "digest": None, "reports": []}
    kept = app_page.evaluate(FETCH_CHUNK, [dropping, start, end, False])
    assert kept["cut"] and 0 < kept["size"] <= DROP_EVERY_BYTES
    assert sum(kept["reports"]) == kept["size"]


def test_cancel_then_resume_after_reload_fetches_only_missing_chunks(app_page: Page, app_server):
    url = f"{SLOW_PREFIX}models/{SMOLLM2}"
    load_by_url(app_page, url)
    app_page.wait_for_function(
        "document.getElementById('load-progress').value >= 0.5", timeout=LOAD_TIMEOUT_MS
    )
    expect(app_page.locator("#load-text")).to_contain_text("/s")  # a rate is shown
    app_page.click("#cancel-load")
    assert "cancelled" in error_text(app_page).lower()
    reload(app_page)
    [row] = cached_rows(app_page)
    assert not row["complete"] and row["action"] == "Resume" and "chunks" in row["text"]

    open_view(app_page, "models")
    app_page.click(f"{CACHED_ROWS} .load-cached")
    wait_model_ready(app_page)
    listed_complete(app_page)
    requests = [r for r in app_server.request_log if r.path == url]
    whole = [r.range for r in chunk_requests(app_server, url) if r.bytes_sent == range_length(r)]
    assert sorted(whole) == sorted(set(whole))  # no chunk was downloaded twice
    cut_short = [r for r in requests if r.range and r.bytes_sent < range_length(r)]
    assert len(cut_short) <= PARALLEL_FETCHES  # only those in flight at Cancel
    # the chunks in flight at Cancel kept what had arrived: Resume asked only for the rest
    size = (app_server.models_dir / SMOLLM2).stat().st_size
    chunk_starts = {c.start for c in plan_chunks(size)}
    continued = [r for r in requests if r.range and range_start(r) not in chunk_starts]
    assert continued and all(r.bytes_sent == range_length(r) for r in continued)
    # fetched twice: only what was in the pipes at Cancel (the server wrote it, the page never
    # got it), at most the socket buffers of each connection in flight
    assert bytes_served_twice(requests) <= PARALLEL_FETCHES * IN_FLIGHT_BYTES
    answers_as_native(app_page)


def test_dropped_connection_mid_chunk_continues_from_the_last_byte(app_page: Page, app_server):
    url = f"{FLAKY_PREFIX}models/{SMOLLM2}"
    load_by_url(app_page, url)
    wait_model_ready(app_page)
    requests = [r for r in app_server.request_log if r.path == url and r.range]
    dropped = [r for r in chunk_requests(app_server, url) if r.bytes_sent < range_length(r)]
    assert dropped, "the test server should have dropped connections"
    by_chunk: dict[str, list[serve.LoggedRequest]] = {}
    for request in requests:
        by_chunk.setdefault(request.range.rsplit("-", 1)[1], []).append(request)
    for tries in by_chunk.values():  # each dropped chunk went on from where it broke off
        starts = [range_start(r) for r in tries]  # (the same again when none of it arrived)
        assert starts == sorted(starts) and tries[-1].bytes_sent == range_length(tries[-1])
    assert bytes_served_twice(requests) <= len(dropped) * IN_FLIGHT_BYTES
    listed_complete(app_page)
    answers_as_native(app_page)


@pytest.mark.slow
def test_a_network_that_drops_every_5_mb_loads_and_fetches_no_byte_twice(
    app_page: Page, app_server
):
    url = f"{DROPPING_PREFIX}models/{SMOLLM2}"
    record_stages(app_page)
    load_by_url(app_page, url)
    wait_model_ready(app_page)
    assert "waiting for the network (retrying)" in app_page.evaluate("window.seenStages")
    requests = [r for r in app_server.request_log if r.path == url]
    assert max(r.bytes_sent for r in requests) <= DROP_EVERY_BYTES
    size = (app_server.models_dir / SMOLLM2).stat().st_size
    assert len(requests) > size // DROP_EVERY_BYTES  # every chunk took several connections
    # what was fetched again is what was in flight at each drop (the browser discards what its
    # errored stream still held), never a chunk from its start
    cut = [r for r in requests if r.bytes_sent < range_length(r)]
    assert bytes_served_twice(requests) <= FIRST_READ_SIZE + len(cut) * IN_FLIGHT_BYTES
    listed_complete(app_page)
    answers_as_native(app_page)


def test_a_download_cut_in_its_first_chunk_resumes_from_the_cache_list(app_page: Page, app_server):
    url = f"{SLOW_PREFIX}models/{SMOLLM2}"
    load_by_url(app_page, url)
    app_page.wait_for_function(
        "document.getElementById('load-progress').value > 0.02", timeout=LOAD_TIMEOUT_MS
    )
    app_page.click("#cancel-load")  # inside the first 32 MiB chunk: no chunk is whole yet
    assert "cancelled" in error_text(app_page).lower()
    reload(app_page)
    [row] = cached_rows(app_page)
    assert not row["complete"] and row["action"] == "Resume"
    served = len(app_server.request_log)
    open_view(app_page, "models")
    app_page.click(f"{CACHED_ROWS} .load-cached")
    wait_model_ready(app_page)
    listed_complete(app_page)
    resumed = [r for r in app_server.request_log[served:] if r.path == url]
    assert resumed and all(r.status == 206 for r in resumed)
    answers_as_native(app_page)


def test_server_without_range_support_still_caches(app_page: Page, app_server):
    url = f"{NO_RANGE_PREFIX}models/{SMOLLM2}"
    load_by_url(app_page, url)
    wait_model_ready(app_page)
    listed_complete(app_page)
    reload(app_page)
    served_before = len(app_server.request_log)
    load_by_url(app_page, url)
    wait_model_ready(app_page)
    assert not [r for r in app_server.request_log[served_before:] if SMOLLM2 in r.path]


CORRUPT_CHUNK_JS = """async (index) => {
    const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open('localwebai');
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
    });
    const done = (tx) => new Promise((resolve, reject) => {
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
    });
    const result = (req) => new Promise((resolve) => {
        req.onsuccess = () => resolve(req.result);
    });
    const store = (name) => db.transaction(name).objectStore(name);
    const [modelId] = await result(store('models').getAllKeys());
    const entry = await result(store('chunks').get([modelId, index]));
    const bytes = new Uint8Array(await entry.blob.arrayBuffer());
    bytes[1000] ^= 0xff;
    const tx = db.transaction('chunks', 'readwrite');
    tx.objectStore('chunks').put({modelId, index, blob: new Blob([bytes])});
    await done(tx);
    db.close();
}"""


def test_corrupted_chunk_is_reported_and_fetched_again_alone(app_page: Page, app_server):
    url = f"/models/{SMOLLM2}"
    load_by_url(app_page, url)
    wait_model_ready(app_page)
    app_page.evaluate(CORRUPT_CHUNK_JS, 1)
    reload(app_page)
    served_before = len(app_server.request_log)
    load_by_url(app_page, url)
    wait_model_ready(app_page)
    chunks = plan_chunks((app_server.models_dir / SMOLLM2).stat().st_size)
    expect(app_page.locator("#load-notice")).to_contain_text(f"Chunk 2 of {len(chunks)}")
    again = [r for r in app_server.request_log[served_before:] if SMOLLM2 in r.path]
    assert [(r.range, r.bytes_sent) for r in again] == [
        (f"bytes={chunks[1].start}-{chunks[1].end - 1}", CHUNK_SIZE)
    ]
    answers_as_native(app_page)


def test_full_quota_keeps_the_partial_download_resumable(persistent_app_page: Page, app_server):
    app_page = persistent_app_page
    cdp = app_page.context.new_cdp_session(app_page)
    origin = app_server.url.rstrip("/")
    start = len(app_server.request_log)
    # room for one 32 MiB chunk; a second never fits
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin, "quotaSize": 56 << 20})
    load_by_url(app_page, f"/models/{SMOLLM2}")
    message = error_text(app_page)
    assert "storage is full" in message and "needs" in message and "free" in message
    # the list is refreshed once the failed load has ended, just after the message shows
    expect(app_page.locator(CACHED_ROWS)).to_have_count(1, timeout=LOAD_TIMEOUT_MS)
    [row] = cached_rows(app_page)
    assert not row["complete"] and row["action"] == "Resume"
    assert "used of" in app_page.inner_text("#storage-estimate")

    cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin})
    resumed_from = len(app_server.request_log)
    open_view(app_page, "models")
    app_page.click(f"{CACHED_ROWS} .load-cached")
    wait_model_ready(app_page)
    listed_complete(app_page)
    first = chunk_requests(app_server, f"/models/{SMOLLM2}", start)[:1]
    again = chunk_requests(app_server, f"/models/{SMOLLM2}", resumed_from)
    assert first and again and first[0].range not in {r.range for r in again}  # kept, not refetched


def test_imported_file_survives_reload_and_can_be_deleted(app_page: Page, models_dir):
    app_page.set_input_files("#file-input", str(models_dir / TINY))
    wait_model_ready(app_page)
    reload(app_page)
    [row] = cached_rows(app_page)
    assert row["complete"] and row["action"] == "Load"
    open_view(app_page, "models")
    app_page.click(f"{CACHED_ROWS} .load-cached")
    wait_model_ready(app_page)
    assert app_page.inner_text("[data-field=name]") == "LocalWebAI tiny llama"
    set_generation(app_page, "complete", 0, 8)
    send(app_page, "Once upon a time")
    assert wait_reply(app_page)["stopReason"] in ("length", "end")

    load_by_url(app_page, f"/models/{TINY}")  # a second cache entry, from the server
    expect(app_page.locator(CACHED_ROWS)).to_have_count(2, timeout=LOAD_TIMEOUT_MS)
    open_view(app_page, "models")
    app_page.click(f"{CACHED_ROWS}:first-child .delete-cached")
    expect(app_page.locator(CACHED_ROWS)).to_have_count(1)
    app_page.once("dialog", lambda dialog: dialog.accept())
    open_view(app_page, "models")
    app_page.click("#clear-cache")
    expect(app_page.locator(CACHED_ROWS)).to_have_count(0)
    expect(app_page.locator("#cache-empty")).to_be_visible()
    open_view(app_page, "models")
    app_page.click("#persist-storage")
    expect(app_page.locator("#persist-answer")).not_to_be_empty()


def test_whole_file_sha256_is_checked_after_download(app_page: Page, app_server):
    path = app_server.models_dir / TINY
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    open_view(app_page, "models")
    app_page.click("#checksum summary")
    app_page.fill("#model-sha256", "0" * 64)
    load_by_url(app_page, f"/models/{TINY}")
    assert "does not match the expected sha256" in error_text(app_page)
    expect(app_page.locator(CACHED_ROWS)).to_have_count(0)

    open_view(app_page, "models")
    app_page.fill("#model-sha256", digest.upper())
    record_stages(app_page)
    load_by_url(app_page, f"/models/{TINY}")
    wait_model_ready(app_page)
    assert app_page.evaluate("window.seenStages")[-3:] == ["verifying", "initializing", "ready"]
    expect(app_page.locator("#error")).to_be_hidden()


@pytest.mark.slow
def test_model_over_2_gib_loads_from_cached_chunks(
    persistent_app_page: Page, app_server, large_model
):
    """Models over 2 and over 3 GiB. An on-disk profile, as users have: a private window keeps
    IndexedDB Blobs in memory, and Chromium then fails to read 2 GiB of them back."""
    app_page = persistent_app_page
    size = (app_server.models_dir / large_model).stat().st_size
    assert size > (2 if large_model == "large-zero-llama.gguf" else 3) * 2**30
    load_by_url(app_page, f"/models/{large_model}")
    app_page.wait_for_selector("body[data-state=model-ready]", timeout=LARGE_LOAD_TIMEOUT_MS)
    [row] = listed_complete(app_page)
    assert row["complete"] and len(plan_chunks(size)) > 64
    # our 32-bit build cannot read a GGUF this big: our memory64 build runs it
    build = app_page.inner_text("#model-metadata [data-field=build]")
    assert build == "simd64-relaxed wasm build"
    set_generation(app_page, "complete", 0, 2)
    send(app_page, "Hello")
    assert wait_reply(app_page)["stopReason"] == "length"  # it ran; zero weights say nothing
