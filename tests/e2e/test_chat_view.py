"""The chat section in real Chromium: settings, stats, regenerate, copy, JSON mode, the CPU-only
toggle and WebGPU detection, and markup from a model or a person shown as text, never run."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import pytest
from playwright.sync_api import BrowserType, Page, expect

import serve
from tests.support.app_actions import (
    error_text,
    load_by_url,
    open_view,
    send,
    set_generation,
    wait_model_ready,
    wait_reply,
)
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, PYTHON_BOOT_TIMEOUT_MS, block_non_local

TINY = "tiny-llama.gguf"
MARKUP = "<img src=x onerror=alert(1)>"
MARKUP_MODEL = "markup-name.gguf"


def copy_with_name(source: Path, target: Path, name: str) -> None:
    """``source`` GGUF with ``general.name`` replaced; every other key and tensor copied."""
    reader = gguf.GGUFReader(source)
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    writer = gguf.GGUFWriter(target, arch)
    writer.add_name(name)
    for key, field in reader.fields.items():
        if key in ("general.name", "general.architecture") or key.startswith("GGUF."):
            continue
        writer.add_key_value(key, field.contents(), field.types[0], field.types[-1])
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="session")
def markup_model(served_models_dir: Path, models_dir: Path) -> str:
    """The tiny llama, served under a name that is HTML markup."""
    target = served_models_dir / MARKUP_MODEL
    if not target.exists():
        copy_with_name(models_dir / TINY, target, MARKUP)
    return MARKUP_MODEL


def no_markup_ran(page: Page, dialogs: list[str]) -> None:
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert dialogs == []


def stats_of(page: Page, index: int) -> dict:
    return page.evaluate(
        "(i) => ({...document.querySelectorAll('#messages li.assistant')[i]"
        ".querySelector('.stats').dataset})",
        index,
    )


def test_settings_stats_copy_regenerate_and_markup_in_prompts(app_page: Page):
    dialogs: list[str] = []
    app_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    app_page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    load_by_url(app_page, f"/models/{TINY}")
    wait_model_ready(app_page)
    template = app_page.inner_text("#template-name")
    assert "chosen by architecture" in template and "the model has no chat template" in template
    # a bad parameter is named, and nothing is sent
    set_generation(app_page, "chat", 0, 6)
    open_view(app_page, "params")
    app_page.fill("#top-p", "2")
    send(app_page, "Hi")
    assert "top_p must be more than 0 and at most 1" in error_text(app_page)
    expect(app_page.locator("#messages li")).to_have_count(0)
    # markup typed by a person is text, in the system prompt and in the user bubble
    open_view(app_page, "params")
    app_page.fill("#top-p", "0.95")
    app_page.fill("#system-prompt", MARKUP)
    send(app_page, f"Say {MARKUP}")
    first = wait_reply(app_page, 0)
    assert first["error"] == "" and first["stopReason"] == "length"
    user = app_page.evaluate("document.querySelector('#messages li.user .text').textContent")
    assert user == f"Say {MARKUP}"
    no_markup_ran(app_page, dialogs)
    stats = stats_of(app_page, 0)
    assert int(stats["generatedTokens"]) == 6
    assert float(stats["tokensPerSecond"]) > 0 and float(stats["promptTokensPerSecond"]) > 0
    assert float(stats["firstTokenMs"]) > 0
    assert "first token" in first["stats"] and "prompt" in first["stats"]
    # copy puts the reply's text on the clipboard
    app_page.click("#messages li.assistant button.copy")
    expect(app_page.locator("#messages li.assistant button.copy")).to_have_text("Copied")
    assert app_page.evaluate("navigator.clipboard.readText()") == first["text"]
    # regenerate replaces the reply (greedy: the same text) and reuses the cached prompt
    app_page.evaluate("document.querySelector('#messages li.assistant').dataset.old = 'yes'")
    app_page.click("#regenerate")
    app_page.wait_for_function(
        "(() => { const r = document.querySelector('#messages li.assistant');"
        " return r && !r.dataset.old && r.dataset.stopReason; })()",
        timeout=120_000,
    )
    again = wait_reply(app_page, 0)
    expect(app_page.locator("#messages li.assistant")).to_have_count(1)
    assert again["text"] == first["text"]
    regenerated = stats_of(app_page, 0)
    assert int(regenerated["cachedTokens"]) >= int(stats["promptTokens"]) - 1
    # New chat empties the conversation
    app_page.click("#clear-chat")
    expect(app_page.locator("#messages li")).to_have_count(0)
    expect(app_page.locator("#regenerate")).to_be_disabled()


def test_markup_in_model_name_and_model_output_shows_as_text(app_page: Page, markup_model: str):
    dialogs: list[str] = []
    app_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    load_by_url(app_page, f"/models/{markup_model}")
    wait_model_ready(app_page)
    assert app_page.inner_text("[data-field=name]") == MARKUP
    assert MARKUP in app_page.inner_text("#status")
    # JSON mode with a schema whose only value is the markup: the model must write it
    set_generation(app_page, "json", 0, 40)
    schema = {"type": "object", "properties": {"html": {"const": MARKUP}}, "required": ["html"]}
    open_view(app_page, "params")
    app_page.fill("#json-schema", json.dumps(schema))
    send(app_page, "Give me the HTML.")
    reply = wait_reply(app_page)
    assert json.loads(reply["text"]) == {"html": MARKUP}
    assert app_page.get_attribute("#messages li.assistant", "data-json") == "valid"
    no_markup_ran(app_page, dialogs)


def test_json_mode_reply_that_breaks_the_schema_is_reported(app_page: Page):
    load_by_url(app_page, f"/models/{TINY}")
    wait_model_ready(app_page)
    # 6 tokens cannot finish a 20-character string: the reply is cut, and the page says so
    set_generation(app_page, "json", 0, 6)
    schema = {"type": "object", "properties": {"a": {"const": "x" * 20}}, "required": ["a"]}
    open_view(app_page, "params")
    app_page.fill("#json-schema", json.dumps(schema))
    send(app_page, "JSON please")
    reply = wait_reply(app_page)
    assert reply["stopReason"] == "length"
    assert app_page.get_attribute("#messages li.assistant", "data-json") == "invalid"
    assert "not complete JSON" in error_text(app_page)


def test_webgpu_fallback_adapter_is_detected_and_cpu_only_toggle(
    browser_type: BrowserType, app_server: serve.AppServer
):
    """Headless Chromium with --enable-unsafe-webgpu offers only a SwiftShader fallback adapter
    without shader-f16: the app must say so and run on the CPU."""
    browser = browser_type.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--enable-unsafe-webgpu"]
    )
    try:
        page = browser.new_page()
        blocked = block_non_local(page.context)
        page.goto(app_server.url)
        page.wait_for_selector("body[data-state=ready]", timeout=PYTHON_BOOT_TIMEOUT_MS)
        adapter = page.evaluate(
            "async () => { const a = await navigator.gpu?.requestAdapter();"
            " return a ? {fallback: a.info.isFallbackAdapter,"
            " f16: a.features.has('shader-f16')} : null; }"
        )
        environment = page.inner_text("#environment")
        assert "CPU (WebGPU unused: " in environment
        if adapter is not None:
            assert adapter["fallback"] or not adapter["f16"]
            reason = "only a software (fallback) adapter" if adapter["fallback"] else "shader-f16"
            assert reason in environment
        open_view(page, "params")
        page.check("#cpu-only")
        expect(page.locator("#environment")).to_contain_text("CPU (CPU only chosen)")
        load_by_url(page, f"/models/{TINY}")
        wait_model_ready(page)
        assert "CPU (CPU only chosen)" in page.inner_text("[data-field=engine]")
    finally:
        browser.close()
    assert blocked == []
