"""The model catalogue's core: the shipped catalogue, URLs, the page's overrides, fit, cache state
and the hub's model API answers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from localwebai.cache import ModelRecord, url_model_id
from localwebai.catalogue import (
    CATALOGUE_PATH,
    DEFAULT_HUB,
    CacheState,
    PageOptions,
    action_label,
    cache_state,
    cache_text,
    catalogue_rows,
    estimate_fit,
    find_record,
    model_api_url,
    parse_catalogue,
    parse_hub,
    parse_hub_listing,
    parse_repo_id,
    resolve_url,
)
from localwebai.environment import Environment
from localwebai.errors import (
    CatalogueError,
    HubError,
    HubRepoNotFoundError,
    LocalWebAIError,
    NoGGUFFilesError,
)
from localwebai.memory import kv_cache_bytes
from localwebai.params import DEFAULT_CONTEXT
from localwebai.spec import ModelSpecification

from tests.support import fake_hub

REPO = Path(__file__).resolve().parents[2]
SHIPPED = json.loads((REPO / "web" / "catalogue.json").read_text())
REQUIRED = {
    "Qwen2.5 0.5B Instruct",
    "Qwen2.5 1.5B Instruct",
    "Llama 3.2 1B Instruct",
    "Phi-3.5 mini Instruct",
    "SmolLM2 1.7B Instruct",
    "Gemma 3 1B Instruct",
}


def browser(device_memory_gib: float | None = 8.0) -> Environment:
    return Environment(
        cross_origin_isolated=True,
        shared_array_buffer=True,
        hardware_concurrency=4,
        simd=True,
        jspi=True,
        memory64=True,
        device_memory_gib=device_memory_gib,
    )


def record(url: str | None, file_name: str, size: int, complete: bool) -> ModelRecord:
    spec = ModelSpecification.from_dict({"gguf_version": 3, "tensor_count": 1})
    model_id = url_model_id(url) if url else "file-x"
    chunk_size = -(-size // 3)  # three chunks
    made = ModelRecord.new(model_id, file_name, size, spec, url, chunk_size)
    made.chunk_digests = ["0" * 64 if complete or i == 0 else None for i in range(len(made.chunks))]
    return made


# ---- the shipped catalogue ---------------------------------------------------------------


def test_shipped_catalogue_validates_and_has_the_required_models():
    entries = parse_catalogue(SHIPPED)
    assert {entry.name for entry in entries} >= REQUIRED
    for entry in entries:
        assert entry.file.endswith(".gguf") and "/" in entry.repo
        assert entry.quantization == "Q4_K_M"
        assert {"file", "size", "licence", "architecture", "context_length"} <= set(entry.source)
        assert entry.url().startswith(f"{DEFAULT_HUB}/{entry.repo}/resolve/main/")


def test_shipped_catalogue_fits_a_tab_except_the_largest_at_the_default_context():
    rows = catalogue_rows(parse_catalogue(SHIPPED), [], browser(), DEFAULT_HUB)
    fits = {row.entry.name: row.estimate.fits for row in rows}
    assert fits["Qwen2.5 0.5B Instruct"] and fits["Gemma 3 1B Instruct"]
    # 3.8B without grouped-query attention: its f16 KV cache alone is 1.5 GiB at 4,096 tokens
    assert not fits["Phi-3.5 mini Instruct"]
    phi = next(row for row in rows if row.entry.name == "Phi-3.5 mini Instruct")
    assert phi.estimate.suggested_n_ctx == 2048
    assert "too large for this device" in phi.fit_text() and "2,048" in phi.fit_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema_version=2), "schema_version"),
        (lambda d: d.update(models=[]), "no models"),
        (lambda d: d["models"][0].update(repo="not a repo"), "owner/name"),
        (lambda d: d["models"][0].update(file="../x.gguf"), "file"),
        (lambda d: d["models"][0].update(file="model.bin"), "file"),
        (lambda d: d["models"][0].update(size=0), "size"),
        (lambda d: d["models"][0].update(size_exact="yes"), "size_exact"),
        (lambda d: d["models"][0].update(context_length=True), "context_length"),
        (lambda d: d["models"][0]["architecture"].pop("n_layer"), "n_layer"),
        (lambda d: d["models"][0]["architecture"].update(n_head_kv=99), "n_head_kv"),
        (lambda d: d["models"][0].update(source={}), "source"),
        (lambda d: d["models"][0].update(name=" "), "name"),
        (lambda d: d["models"].append(copy.deepcopy(d["models"][0])), "repeats"),
    ],
)
def test_a_bad_catalogue_is_a_catalogue_error_naming_the_field(change, message):
    data = copy.deepcopy(SHIPPED)
    change(data)
    with pytest.raises(CatalogueError, match=message) as raised:
        parse_catalogue(data)
    assert isinstance(raised.value, LocalWebAIError)


def test_a_catalogue_that_is_not_an_object_is_refused():
    with pytest.raises(CatalogueError):
        parse_catalogue([SHIPPED])


# ---- URLs and the page's overrides ---------------------------------------------------------


def test_download_and_api_urls():
    assert (
        resolve_url("https://huggingface.co/", "a/b", "sub dir/m.gguf")
        == "https://huggingface.co/a/b/resolve/main/sub%20dir/m.gguf"
    )
    assert resolve_url("/fake-hub", "a/b", "m.gguf") == "/fake-hub/a/b/resolve/main/m.gguf"
    assert model_api_url("https://hub.example", "a/b") == (
        "https://hub.example/api/models/a/b?blobs=true"
    )


def test_page_options_default_and_override():
    assert PageOptions.from_query("") == PageOptions(DEFAULT_HUB, CATALOGUE_PATH)
    options = PageOptions.from_query("?engine=simd&hub=/fake-hub/&catalogue=/fake-hub/c.json")
    assert options == PageOptions("/fake-hub", "/fake-hub/c.json")
    assert PageOptions.from_query("?hub=http://127.0.0.1:9/hub").hub == "http://127.0.0.1:9/hub"


@pytest.mark.parametrize(
    "hub",
    [
        "javascript:alert(1)",
        "ftp://example.org",
        "//evil.example",
        "relative/path",
        "https://user:pw@example.org",
        "https://example.org/?q=1",
        "https://",
        "data:text/html,x",
    ],
)
def test_hub_override_must_be_http_or_a_same_origin_path(hub):
    with pytest.raises(HubError, match="hub"):
        parse_hub(hub)


@pytest.mark.parametrize(
    "catalogue", ["https://evil.example/c.json", "//evil.example/c.json", "/c.txt", "/../c.json"]
)
def test_catalogue_override_must_be_a_same_origin_json_path(catalogue):
    with pytest.raises(CatalogueError):
        PageOptions.from_query(f"?catalogue={catalogue}")


@pytest.mark.parametrize(
    "text", ["owner/repo", "  bartowski/Llama-3.2-1B-Instruct-GGUF ", "a_b/c.d-e"]
)
def test_valid_repo_ids(text):
    assert parse_repo_id(text) == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        *("", "owner", "a/b/c", "/repo", "owner/", "own er/repo", "a--b/c", "a/b..c", "-a/b"),
        *("a/b-", "x" * 97 + "/repo", "https://huggingface.co/a/b"),
    ],
)
def test_invalid_repo_ids(text):
    with pytest.raises(HubError, match="owner/name"):
        parse_repo_id(text)


# ---- fit ---------------------------------------------------------------------------------------


def test_fit_uses_the_memory_estimate_at_the_default_context_capped_by_the_model():
    entries = parse_catalogue(SHIPPED)
    smol = next(e for e in entries if e.name == "SmolLM2 1.7B Instruct")
    estimate = estimate_fit(smol, smol.url(), browser())
    assert estimate.n_ctx == DEFAULT_CONTEXT
    assert estimate.weights_bytes == smol.size
    arch = smol.architecture
    assert estimate.kv_cache_bytes == arch.n_layer * DEFAULT_CONTEXT * arch.n_head_kv * 64 * 2 * 2
    gemma = next(e for e in entries if e.name == "Gemma 3 1B Instruct")
    # Gemma's head_dim (256) is not n_embd / n_head (288): the stated one is used
    assert kv_cache_bytes(gemma.specification(""), 1) == 26 * 1 * 256 * 2 * 2


def test_fit_depends_on_the_device_memory():
    entries = parse_catalogue(SHIPPED)
    smol = next(e for e in entries if e.name == "SmolLM2 1.7B Instruct")
    assert estimate_fit(smol, "", browser(8.0)).fits
    assert not estimate_fit(smol, "", browser(2.0)).fits  # a tab gets half: 1 GiB
    assert estimate_fit(smol, "", browser(None)).fits  # unknown: only the wasm limit
    native = Environment.for_native()
    assert estimate_fit(smol, "", native).wasm_limit_bytes is None


def test_fit_of_a_model_trained_on_a_short_context_uses_that_context(tmp_path):
    (tmp_path / fake_hub.TINY).write_bytes(b"x" * 100)
    (tmp_path / fake_hub.SMOLLM2).write_bytes(b"x" * 200)
    [tiny, _, huge] = parse_catalogue(fake_hub.test_catalogue(tmp_path))
    assert estimate_fit(tiny, "", browser()).n_ctx == 2048
    assert estimate_fit(tiny, "", browser()).fits
    assert not estimate_fit(huge, "", browser()).fits


# ---- cache state -------------------------------------------------------------------------------

URL = "https://huggingface.co/o/r/resolve/main/m.gguf"


def test_cache_state_by_source_url_first():
    other = record("https://mirror.example/o/r/resolve/main/m.gguf", "m.gguf", 30, True)
    partial = record(URL, "m.gguf", 30, False)
    found = find_record([other, partial], URL, "m.gguf", 30)
    assert found is partial
    assert cache_state(found) is CacheState.PARTIAL
    assert action_label(found) == "Resume"
    assert cache_text(found).startswith("partly downloaded") and "resumable" in cache_text(found)


def test_cache_state_by_file_name_and_size_when_the_url_differs():
    imported = record(None, "m.gguf", 30, True)
    assert find_record([imported], URL, "sub/m.gguf", 30) is imported
    assert find_record([imported], URL, "m.gguf", 31) is None  # another file of that name
    assert find_record([imported], URL, "m.gguf", None) is imported  # size unknown
    assert cache_state(imported) is CacheState.COMPLETE
    assert (action_label(imported), cache_text(imported)) == ("Load", "cached")


def test_absent_and_what_each_row_loads():
    assert find_record([], URL, "m.gguf") is None
    assert cache_state(None) is CacheState.ABSENT
    assert (action_label(None), cache_text(None)) == ("Download", "not cached")
    entries = parse_catalogue(SHIPPED)
    entry = entries[0]
    complete = record(entry.url(), entry.file, entry.size, True)
    imported_part = record(None, entry.file, entry.size, False)
    [row] = catalogue_rows([entry], [complete], browser(), DEFAULT_HUB)
    assert row.source().cached_id == complete.id
    [row] = catalogue_rows([entry], [imported_part], browser(), DEFAULT_HUB)
    assert row.state is CacheState.PARTIAL
    assert "resumable" not in cache_text(row.record)
    assert row.source().url == entry.url()  # a partial import cannot resume: download it
    [row] = catalogue_rows([entry], [], browser(), "/fake-hub", lambda u: "http://h" + u)
    assert row.url == f"http://h/fake-hub/{entry.repo}/resolve/main/{entry.file}"
    assert row.source().url == row.url


# ---- the hub's model API ----------------------------------------------------------------------


def listing(*siblings: dict[str, Any]) -> dict[str, Any]:
    return {"id": "o/r", "siblings": list(siblings)}


def test_hub_listing_keeps_single_file_ggufs_with_sizes():
    body = listing(
        {"rfilename": "README.md", "size": 10},
        {"rfilename": "b-Q8_0.gguf", "size": 2000},
        {"rfilename": "A-Q4_K_M.GGUF", "lfs": {"size": 1000, "sha256": "x"}},
        {"rfilename": "sub/c.gguf"},
        {"rfilename": "big-00001-of-00002.gguf", "size": 5},
        "junk",
        {"rfilename": 7},
    )
    files = parse_hub_listing(200, body, "/fake-hub", "o/r")
    assert [(f.name, f.size) for f in files] == [
        ("A-Q4_K_M.GGUF", 1000),
        ("b-Q8_0.gguf", 2000),
        ("sub/c.gguf", None),
    ]
    assert files[2].url == "/fake-hub/o/r/resolve/main/sub/c.gguf"
    assert files[0].describe().startswith("A-Q4_K_M.GGUF (")
    assert files[2].describe() == "sub/c.gguf"


@pytest.mark.parametrize("status", [401, 404])
def test_hub_listing_of_a_missing_or_private_repo(status):
    with pytest.raises(HubRepoNotFoundError, match="o/r"):
        parse_hub_listing(status, {"error": "Repository not found"}, DEFAULT_HUB, "o/r")


@pytest.mark.parametrize(
    ("status", "body"), [(500, None), (200, None), (200, [1]), (200, {"siblings": "x"})]
)
def test_hub_listing_that_is_not_a_repo_listing(status, body):
    with pytest.raises(HubError) as raised:
        parse_hub_listing(status, body, DEFAULT_HUB, "o/r")
    assert not isinstance(raised.value, HubRepoNotFoundError | NoGGUFFilesError)


def test_hub_listing_without_gguf_files():
    with pytest.raises(NoGGUFFilesError, match="no single-file GGUF"):
        parse_hub_listing(200, listing({"rfilename": "model.safetensors"}), DEFAULT_HUB, "o/r")
    shards = listing({"rfilename": "m-00001-of-00002.gguf"}, {"rfilename": "m-00002-of-00002.gguf"})
    with pytest.raises(NoGGUFFilesError, match="2 parts of split files"):
        parse_hub_listing(200, shards, DEFAULT_HUB, "o/r")


def test_the_fake_hub_answers_as_the_parser_expects(tmp_path):
    (tmp_path / fake_hub.TINY).write_bytes(b"x" * 100)
    status, body = fake_hub.json_answer(f"/fake-hub/api/models/{fake_hub.TEST_REPO}", tmp_path)
    [tiny] = parse_hub_listing(status, body, "/fake-hub", fake_hub.TEST_REPO)
    assert (tiny.name, tiny.size) == (fake_hub.TINY, 100)
    assert fake_hub.resolved_file(tiny.url, tmp_path) == tmp_path / fake_hub.TINY
    status, body = fake_hub.json_answer("/fake-hub/api/models/no/such", tmp_path)
    with pytest.raises(HubRepoNotFoundError):
        parse_hub_listing(status, body, "/fake-hub", "no/such")
