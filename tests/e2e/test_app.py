"""The app in real Chromium: real Pyodide, real wllama wasm, real models served by serve.py."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from localwebai.cache import plan_chunks
from localwebai.gguf import FIRST_READ_SIZE, read_header_file
from localwebai.tooling.boot_snapshot import snapshot_path, vendored_pyodide
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
from tests.support.browser import PYTHON_BOOT_TIMEOUT_MS, booted_app
from tests.support.page_python import run_python

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "tests" / "data" / "tiny_llama_greedy.json"
TINY = "tiny-llama.gguf"
SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_shell_shows_before_python_then_boots_isolated(page: Page, app_server: serve.AppServer):
    page.goto(app_server.url, wait_until="domcontentloaded")
    assert page.inner_text("#status") == "starting Python…"
    page.wait_for_selector("body[data-state=ready]", timeout=60_000)
    assert page.evaluate("crossOriginIsolated") is True
    cores = page.evaluate("navigator.hardwareConcurrency")
    environment = page.inner_text("#environment")
    assert environment.startswith(f"{cores} thread")
    assert "cross-origin isolated" in environment and "SIMD" in environment
    assert "Python ready in" in page.inner_text("#status")
    # a first run offers to pick a model; the server's models are one click away
    expect(page.locator("#welcome")).to_be_visible()
    page.click("#welcome-models")
    expect(page.locator("button.server-model", has_text=TINY)).to_be_visible()


SNAPSHOT_URLS = "**/boot/pyodide-*.snapshot.gz"


def shipped_snapshot() -> bytes:
    """The gzipped snapshot of the vendored Pyodide that Chromium starts from (it has JSPI)."""
    version, _build_id = vendored_pyodide(REPO)
    return (REPO / snapshot_path(version, jspi=True)).read_bytes()


def reload_app(page: Page) -> str:
    """Reload and wait for Python; how Pyodide started ("snapshot" or "normal")."""
    page.reload()
    page.wait_for_selector("body[data-state=ready]", timeout=PYTHON_BOOT_TIMEOUT_MS)
    return page.get_attribute("body", "data-python-boot")


def python_random(page: Page) -> float:
    return run_python(page, "import random\nrandom.random()")


def test_python_starts_from_the_shipped_snapshot(app_page: Page):
    assert app_page.get_attribute("body", "data-python-boot") == "snapshot"
    assert "(from its snapshot)" in app_page.inner_text("#status")
    first = python_random(app_page)
    assert reload_app(app_page) == "snapshot"
    assert python_random(app_page) != first  # reseeded, not the state every visitor restores
    # the restored interpreter runs the whole app: UI, cache, engine, native-equal tokens
    assert_tiny_model_matches_native(app_page)


def test_a_snapshot_the_host_already_unpacked_still_restores(app_page: Page):
    # hosts that send .gz files with Content-Encoding: gzip hand the page the bare heap
    heap = gzip.decompress(shipped_snapshot())
    app_page.route(SNAPSHOT_URLS, lambda route: route.fulfill(body=heap))
    assert reload_app(app_page) == "snapshot"


@pytest.mark.parametrize("answer", ["missing", "truncated", "not a snapshot"])
def test_without_a_usable_snapshot_python_starts_normally(app_page: Page, answer: str):
    bodies = {
        "truncated": shipped_snapshot()[: 1 << 20],
        "not a snapshot": gzip.compress(bytes(range(256)) * 4096),
    }
    if answer == "missing":
        app_page.route(SNAPSHOT_URLS, lambda route: route.fulfill(status=404))
    else:
        app_page.route(SNAPSHOT_URLS, lambda route: route.fulfill(body=bodies[answer]))
    warnings: list[str] = []
    app_page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    assert reload_app(app_page) == "normal"
    assert "(full start)" in app_page.inner_text("#status")
    assert [w for w in warnings if "Python started without its snapshot" in w]
    app_page.unroute(SNAPSHOT_URLS)
    assert reload_app(app_page) == "snapshot"  # nothing was left behind by the failed one


def engine_freed_read_bytes(page: Page) -> int:
    """What the engine's worker freed of the model's reads once copied (web/js/engine-build.js,
    ``freeFileReads``). Workers are listed in the order they started: wllama's comes before
    the engine's threads ("em-pthread"), which must not be asked: one waiting in
    ``Atomics.wait`` never answers."""
    for worker in page.workers:
        name, freed = worker.evaluate("() => [self.name, self.freedReadBytes ?? 0]")
        if name != "em-pthread":
            return freed
    raise AssertionError("no wllama worker in the page")


def test_tiny_model_by_url_matches_native_greedy_tokens(app_page: Page, models_dir: Path):
    reference = json.loads(REFERENCE.read_text())
    load_by_url(app_page, f"/models/{TINY}")
    wait_model_ready(app_page)
    metadata = app_page.inner_text("#model-metadata")
    assert "llama" in metadata
    # every tensor's bytes were read and freed once in wasm memory (the tokens below show they
    # were copied whole first)
    tensors = read_header_file(models_dir / TINY).tensor_data_size
    assert engine_freed_read_bytes(app_page) >= tensors
    set_generation(app_page, "complete", 0, reference["n_predict"])
    send(app_page, reference["prompt"])
    reply = wait_reply(app_page)
    assert reply["text"] == reference["generated_text"]
    assert reply["stopReason"] in ("length", "end")


def assert_tiny_model_matches_native(page: Page) -> None:
    """Load the tiny model by URL; its greedy completion must equal native llama.cpp's."""
    reference = json.loads(REFERENCE.read_text())
    load_by_url(page, f"/models/{TINY}")
    wait_model_ready(page)
    set_generation(page, "complete", 0, reference["n_predict"])
    send(page, reference["prompt"])
    reply = wait_reply(page)
    assert reply["error"] == ""
    assert reply["text"] == reference["generated_text"]


# What Firefox and Safari lack, taken away from Chromium before the page's first script runs.
NO_DEVICE_MEMORY = "delete Navigator.prototype.deviceMemory;"
NO_OPFS = "delete StorageManager.prototype.getDirectory;"


def test_without_device_memory_the_model_loads_and_the_page_says_it_is_unknown(
    page: Page, app_server: serve.AppServer
):
    page.add_init_script(NO_DEVICE_MEMORY)
    with booted_app(page, app_server):
        assert page.evaluate("'deviceMemory' in navigator") is False
        assert_tiny_model_matches_native(page)
        estimate = page.inner_text("#memory-estimate")
        assert "fits" in estimate and "this device's memory is unknown" in estimate


def test_without_opfs_the_model_loads_from_our_cache(page: Page, app_server: serve.AppServer):
    page.add_init_script(NO_OPFS)
    with booted_app(page, app_server):
        assert page.evaluate("typeof navigator.storage.getDirectory") == "undefined"
        assert_tiny_model_matches_native(page)
        # loaded again, it comes from our IndexedDB cache: not one request to the server
        requests = len(served_bytes(app_server, TINY))
        page.reload()
        page.wait_for_selector("body[data-state=ready]", timeout=PYTHON_BOOT_TIMEOUT_MS)
        assert_tiny_model_matches_native(page)
        assert len(served_bytes(app_server, TINY)) == requests


def test_load_local_file_and_stream_several_chunks(app_page: Page, models_dir: Path):
    # SmolLM2, not the tiny model: its 40 tokens take long enough (~0.5 s) to be seen streaming
    app_page.set_input_files("#file-input", str(models_dir / SMOLLM2))
    wait_model_ready(app_page)
    engine = app_page.inner_text("#model-metadata [data-field=engine]")
    cores = app_page.evaluate("navigator.hardwareConcurrency")
    assert engine.startswith(f"{cores} thread(s)")
    build = app_page.inner_text("#model-metadata [data-field=build]")
    assert build == "simd-relaxed wasm build"  # ours, for a model under 2 GiB on the CPU
    # the lengths of the reply's shown text while it streams in (rendered at most every 50 ms)
    app_page.evaluate(
        """() => {
            window.__shownLengths = [];
            new MutationObserver(() => {
                const last = '#messages li.assistant:last-of-type .markdown';
                const body = document.querySelector(last);
                if (body) window.__shownLengths.push(body.textContent.length);
            }).observe(
                document.getElementById('messages'),
                {subtree: true, characterData: true, childList: true});
        }"""
    )
    set_generation(app_page, "complete", 0, 40)
    send(app_page, "The weather today is")
    reply = wait_reply(app_page)
    assert reply["error"] == ""
    assert reply["chunks"] >= 5
    # part of the reply was on screen before the whole of it: it streamed, not appeared at once
    shown = app_page.evaluate("window.__shownLengths")
    final = app_page.evaluate(
        "document.querySelector('#messages li.assistant:last-of-type .markdown').textContent.length"
    )
    assert any(0 < length < final for length in shown), (shown, final)
    assert "tokens/s" in reply["stats"]


def test_stop_ends_long_generation_and_next_prompt_works(app_page: Page):
    load_by_url(app_page, f"/models/{TINY}")
    wait_model_ready(app_page)
    # greedy, so deterministic: sampled output of the random model can emit a lone UTF-8 byte
    # token, on which wllama 3.8.1 fails, ending the reply before Stop is pressed
    set_generation(app_page, "complete", 0, 4000)
    send(app_page, "Once upon a time")
    app_page.wait_for_function(
        "document.querySelector('#messages li.assistant')?.textContent.length > 20"
    )
    app_page.click("#stop")
    stopped = wait_reply(app_page, 0)
    assert stopped["stopReason"] == "aborted"
    assert "stopped: aborted" in stopped["stats"]
    set_generation(app_page, "complete", 0, 8)
    send(app_page, "Hello")
    again = wait_reply(app_page, 1)
    assert again["stopReason"] in ("length", "end")
    assert again["text"]


def test_cancel_during_load_leaves_app_usable(app_page: Page):
    cdp = app_page.context.new_cdp_session(app_page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": 2_000_000, "uploadThroughput": -1},
    )
    load_by_url(app_page, f"/models/{SMOLLM2}")
    app_page.wait_for_function("document.getElementById('load-progress').value > 0")
    app_page.click("#cancel-load")
    assert "cancelled" in error_text(app_page).lower()
    app_page.wait_for_selector("body[data-state=ready]")
    expect(app_page.locator("#load-panel")).to_be_hidden()
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    load_by_url(app_page, f"/models/{TINY}")
    wait_model_ready(app_page)
    expect(app_page.locator("#error")).to_be_hidden()


def test_non_gguf_file_gives_clear_message(app_page: Page, tmp_path: Path):
    fake = tmp_path / "holiday-photo.gguf"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(4096))
    app_page.set_input_files("#file-input", str(fake))
    message = error_text(app_page)
    assert "not a GGUF model" in message
    app_page.wait_for_selector("body[data-state=ready]")
    expect(app_page.locator("#send")).to_be_disabled()


def test_404_url_gives_clear_message(app_page: Page):
    load_by_url(app_page, "/models/no-such-model.gguf")
    message = error_text(app_page)
    assert "404" in message and "no-such-model.gguf" in message
    app_page.wait_for_selector("body[data-state=ready]")


@pytest.mark.slow
def test_smollm2_knows_the_capital_of_france(app_page: Page):
    open_view(app_page, "models")
    app_page.click(f"button.server-model:has-text('{SMOLLM2}')")
    wait_model_ready(app_page)
    metadata = app_page.inner_text("#model-metadata")
    assert "llama" in metadata
    reply = complete_smollm2_reference(app_page)
    assert same_words(reply["text"], SMOLLM2_GREEDY["generated_text"]), reply


def chunk_ranges(size: int) -> list[str]:
    """The Range header of each cache chunk of a file of ``size`` bytes, sorted."""
    return sorted(f"bytes={c.start}-{c.end - 1}" for c in plan_chunks(size))


def served_bytes(server: serve.AppServer, name: str) -> list[serve.LoggedRequest]:
    return [e for e in server.request_log if e.path == f"/models/{name}"]


def test_inspect_reads_only_the_header(app_page: Page, app_server: serve.AppServer):
    before = len(served_bytes(app_server, SMOLLM2))
    open_view(app_page, "models")
    app_page.fill("#model-url", f"/models/{SMOLLM2}")
    app_page.click("#inspect-url")
    app_page.wait_for_selector("body[data-state=inspected]", timeout=LOAD_TIMEOUT_MS)
    expect(app_page.locator("#load-inspected")).to_be_visible()
    assert app_page.inner_text("[data-field=architecture]") == "llama"
    assert app_page.inner_text("[data-field=parameters]").startswith("134.5")
    assert app_page.inner_text("[data-field='chat template']") == "yes"
    template = app_page.evaluate("document.getElementById('chat-template').textContent")
    assert "<|im_start|>" in template
    assert "fits" in app_page.inner_text("#memory-estimate")
    assert int(app_page.inner_text("#metadata-count")) > 20
    requests = served_bytes(app_server, SMOLLM2)[before:]
    size = (app_server.models_dir / SMOLLM2).stat().st_size
    header_size = read_header_file(app_server.models_dir / SMOLLM2).header_size
    assert requests and all(r.status == 206 and r.range for r in requests)
    read = sum(r.bytes_sent for r in requests)
    # the header alone is 1.8 % of SmolLM2: reads double, so at most about twice the header
    assert header_size <= read <= 2 * header_size and read / size < 0.025
    # Load after Inspect reuses the parsed header and downloads the model once, in chunks
    app_page.click("#load-inspected")
    wait_model_ready(app_page)
    chunks = served_bytes(app_server, SMOLLM2)[before + len(requests) :]
    assert sorted(r.range for r in chunks) == chunk_ranges(size)
    assert sum(r.bytes_sent for r in chunks) == size


def test_model_too_large_for_wasm_is_refused_before_download(
    app_page: Page, app_server: serve.AppServer, oversized_model: str
):
    load_by_url(app_page, f"/models/{TINY}")
    wait_model_ready(app_page)
    open_view(app_page, "models")
    app_page.fill("#model-url", f"/models/{oversized_model}")
    app_page.click("#load-url")
    message = error_text(app_page)
    assert "4 GiB WebAssembly limit" in message and message.startswith("Not loaded")
    expect(app_page.locator("#memory-estimate")).to_have_class("too-large")
    assert app_page.inner_text("[data-field=name]") == "Oversized header-only llama"
    requests = served_bytes(app_server, oversized_model)
    # one Range request for the header's first MiB, never the 6 GiB body
    assert [(r.status, r.bytes_sent) for r in requests] == [(206, FIRST_READ_SIZE)]
    # the refusal lost nothing: the model loaded before still answers
    app_page.wait_for_selector("body[data-state=model-ready]")
    set_generation(app_page, "complete", 0, 8)
    send(app_page, "Hello")
    assert wait_reply(app_page)["stopReason"] in ("length", "end")


def test_inspect_works_when_the_server_ignores_range(app_page: Page, app_server: serve.AppServer):
    path = f"/no-range/models/{SMOLLM2}"
    open_view(app_page, "models")
    app_page.fill("#model-url", path)
    app_page.click("#inspect-url")
    app_page.wait_for_selector("body[data-state=inspected]", timeout=LOAD_TIMEOUT_MS)
    assert app_page.inner_text("[data-field=architecture]") == "llama"
    assert app_page.inner_text("[data-field='file size']") == "93.81 MiB"
    size = (app_server.models_dir / SMOLLM2).stat().st_size
    requests = [e for e in app_server.request_log if e.path == path]
    assert requests and all(r.status == 200 for r in requests)
    # the page stops reading once the header is parsed; the server may have buffered a little
    assert sum(r.bytes_sent for r in requests) < size / 2


def test_drop_a_file_on_the_page(app_page: Page):
    app_page.evaluate(
        """async (url) => {
            const blob = await (await fetch(url)).blob();
            const transfer = new DataTransfer();
            transfer.items.add(new File([blob], 'dropped.gguf'));
            const zone = document.getElementById('drop-zone');
            zone.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true}));
        }""",
        f"/models/{TINY}",
    )
    wait_model_ready(app_page)
    assert app_page.inner_text("[data-field=source]") == "dropped.gguf"
    assert app_page.inner_text("[data-field=name]") == "LocalWebAI tiny llama"
