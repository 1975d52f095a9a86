"""The shared API cases (tests/support/api_cases.py) on the native runner: llama.cpp through
llama-cpp-python, models loaded in place from tests' model folder, or over HTTP from serve.py
into a cache folder."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from localwebai.native.blobs import FileRegion
from localwebai.native.runtime import create_runner
from localwebai.runner import LlamaRunner
from localwebai.sources import ModelSource

from tests.support import api_cases
from tests.support.models import MODELS_DIR
from tests.support.server import serve_py
from tests.unit.aio import run

DATA = Path(__file__).resolve().parents[1] / "data"
GREEDY = json.loads((DATA / "tiny_llama_greedy.json").read_text())
SMOLLM2_GREEDY = json.loads((DATA / "smollm2_greedy.json").read_text())
MINILM = json.loads((DATA / "minilm_embeddings.json").read_text())
Case = Callable[..., Awaitable[dict[str, Any]]]


def local_file(name: str) -> ModelSource:
    path = MODELS_DIR / name
    if not path.is_file():
        pytest.fail(f"{name} is missing: run scripts/make_test_models.py")
    return ModelSource.from_file(FileRegion.whole(path), name)


def run_case(case: Case, tmp_path: Path, *args: Any, locate=local_file) -> dict[str, Any]:
    async def body() -> dict[str, Any]:
        runner: LlamaRunner = await create_runner(cache_dir=tmp_path / "cache", threads=2)
        try:
            return await case(runner, locate, *args)
        finally:
            await runner.terminate()

    return run(body())


def test_greedy_generation_equals_native_tokens(tmp_path: Path) -> None:
    run_case(api_cases.greedy_generation, tmp_path, GREEDY)


def test_greedy_generation_from_a_url_through_the_cache(tmp_path: Path) -> None:
    local_file(api_cases.TINY)
    with serve_py(MODELS_DIR) as server:
        seen = run_case(
            api_cases.greedy_generation,
            tmp_path,
            GREEDY,
            locate=lambda name: ModelSource.from_url(f"{server.url}models/{name}"),
        )
    assert seen["text"] == GREEDY["generated_text"]
    [record] = list((tmp_path / "cache").glob("url-*/record.json"))
    digests = json.loads(record.read_text())["chunk_digests"]
    assert digests and all(d.startswith("sha256:") for d in digests)  # natively: hashlib's


def test_a_quantized_model_gives_the_reference_greedy_tokens(tmp_path: Path) -> None:
    seen = run_case(api_cases.quantized_greedy_generation, tmp_path, SMOLLM2_GREEDY)
    assert seen["text"] == SMOLLM2_GREEDY["generated_text"]


def test_first_token_logprobs_are_the_references(tmp_path: Path) -> None:
    seen = run_case(api_cases.first_token_logprobs, tmp_path, SMOLLM2_GREEDY, [None])
    assert seen["chosen"]["build"] == "native"


def test_replies_whose_bytes_are_not_utf8_complete(tmp_path: Path) -> None:
    run_case(api_cases.broken_utf8_replies_complete, tmp_path, [None])


def test_abort_mid_generation_then_generate_again(tmp_path: Path) -> None:
    run_case(api_cases.abort_then_generate_again, tmp_path)


def test_a_second_reply_while_one_runs_is_refused(tmp_path: Path) -> None:
    run_case(api_cases.second_reply_refused, tmp_path)


def test_a_full_context_stops_cleanly_and_a_too_long_prompt_is_a_clear_error(
    tmp_path: Path,
) -> None:
    run_case(api_cases.full_context, tmp_path)


def test_smollm2_chat_keeps_context_and_evaluates_only_new_tokens(tmp_path: Path) -> None:
    run_case(api_cases.chat_keeps_context, tmp_path)


def test_smollm2_json_schema_reply_validates_and_stop_strings_stop(tmp_path: Path) -> None:
    run_case(api_cases.json_schema_and_stop_strings, tmp_path)


def test_smollm2_tool_call_round_trip(tmp_path: Path) -> None:
    run_case(api_cases.tool_call_round_trip, tmp_path)


def test_minilm_embeddings_match_native_reference(tmp_path: Path) -> None:
    run_case(api_cases.embeddings_match_reference, tmp_path, MINILM)
