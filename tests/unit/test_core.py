"""Pure-core decisions: parameters, thread/backend choice, chat history, generation records,
and the mapping of wllama's errors onto ours."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from localwebai.chat import ChatHistory
from localwebai.environment import NATIVE_BUILD, Environment
from localwebai.errors import (
    AbortedError,
    ContextFullError,
    EngineError,
    LocalWebAIError,
    ModelLoadError,
    ModelNotLoadedError,
    ParameterError,
    from_engine_error,
)
from localwebai.generation import (
    GenerationResult,
    StopReason,
    Timings,
    TokenChoice,
    stop_reason_from_finish,
    top_choices_from_engine,
)
from localwebai.params import MAX_CONTEXT, MAX_TOP_LOGPROBS, GenerationParams, LoadParams

PROBE = {
    "crossOriginIsolated": True,
    "sharedArrayBuffer": True,
    "hardwareConcurrency": 8,
    "simd": True,
    "jspi": True,
    "memory64": True,
    "webgpu": {"available": True, "fallback": True, "shaderF16": False, "description": "sw"},
    "deviceMemoryGiB": 8,
    "wasmExceptions": True,
    "relaxedSimd": True,
}


def test_isolated_page_uses_every_core_and_skips_a_fallback_gpu() -> None:
    env = Environment.from_probe(PROBE)
    assert env.threads == 8
    assert (env.backend, env.gpu_layers) == ("CPU", 0)
    assert env.summary() == (
        "8 threads · cross-origin isolated · SIMD · CPU (WebGPU unused: only a software "
        "(fallback) adapter) · simd-relaxed wasm build"
    )
    no_relaxed = Environment.from_probe({**PROBE, "relaxedSimd": False})
    assert no_relaxed.summary().endswith(" · simd wasm build")
    no_jspi = Environment.from_probe({**PROBE, "jspi": False})
    assert no_jspi.summary().endswith(" · simd-asyncify wasm build")


GIB = 2**30
CHROMIUM = {
    "simd": True,
    "relaxedSimd": True,
    "jspi": True,
    "memory64": True,
    "wasmExceptions": True,
}
SAFARI = {
    "simd": True,
    "relaxedSimd": False,
    "jspi": False,
    "memory64": False,
    "wasmExceptions": True,
}
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"


@pytest.mark.parametrize(
    ("features", "model_bytes", "gpu", "build"),
    [
        (CHROMIUM, GIB, False, "simd-relaxed"),  # ours on the CPU, relaxed-SIMD kernels
        (CHROMIUM, 2 * GIB - 1, False, "simd-relaxed"),
        ({**CHROMIUM, "relaxedSimd": False}, GIB, False, "simd"),  # SIMD128 kernels
        ({**CHROMIUM, "relaxedSimd": False}, 2 * GIB, False, "simd64"),
        ({**CHROMIUM, "forcedBuild": "simd64-relaxed"}, GIB, False, "simd64-relaxed"),
        (CHROMIUM, 2 * GIB, False, "simd64-relaxed"),  # 2 GiB and more: our memory64 build
        (CHROMIUM, 3 * GIB, False, "simd64-relaxed"),
        (CHROMIUM, 3 * GIB, True, "default"),
        (CHROMIUM, GIB, True, "default"),  # WebGPU lives in wllama's build
        ({**CHROMIUM, "simd": False}, GIB, False, "default"),
        ({**CHROMIUM, "wasmExceptions": False}, GIB, False, "simd-asyncify"),
        ({**CHROMIUM, "memory64": False}, GIB, False, "simd-relaxed"),
        ({**CHROMIUM, "memory64": False}, 3 * GIB, False, "compat"),
        (SAFARI, GIB, False, "simd-asyncify"),  # no JSPI: our Asyncify build
        (SAFARI, 2 * GIB - 1, False, "simd-asyncify"),
        (SAFARI, 2 * GIB, False, "compat"),  # no memory64 build without JSPI: wllama's
        (SAFARI, GIB, True, "compat"),
        ({**SAFARI, "simd": False}, GIB, False, "compat"),  # no SIMD128: wllama's scalar build
        ({**SAFARI, "userAgent": FIREFOX_UA}, 3 * GIB, False, "default"),  # wllama's Firefox rule
        ({**CHROMIUM, "forcedBuild": "simd-asyncify"}, GIB, False, "simd-asyncify"),
        ({**CHROMIUM, "forcedBuild": "compat"}, GIB, False, "compat"),  # ?engine= wins
        ({**CHROMIUM, "forcedBuild": "simd64"}, GIB, False, "simd64"),
        ({**CHROMIUM, "forcedBuild": "simd"}, GIB, False, "simd"),
        ({**SAFARI, "forcedBuild": "simd-relaxed"}, GIB, False, "simd-relaxed"),
        (
            {**SAFARI, "jspi": True, "userAgent": FIREFOX_UA, "memory64": True},
            3 * GIB,
            False,
            "simd64",
        ),  # JSPI and memory64 without relaxed SIMD
        (
            {**CHROMIUM, "userAgent": FIREFOX_UA},
            3 * GIB,
            False,
            "simd64-relaxed",
        ),  # Firefox 153: JSPI, memory64 and relaxed SIMD
        ({**CHROMIUM, "forcedBuild": "nonsense"}, GIB, False, "simd-relaxed"),  # ignored
    ],
)
def test_build_table(features: dict, model_bytes: int, gpu: bool, build: str) -> None:
    probe = {k: v for k, v in PROBE.items() if k not in CHROMIUM}
    env = Environment.from_probe({**probe, **features})
    assert env.build_for(model_bytes, gpu) == build


def test_native_has_one_build() -> None:
    env = Environment.for_native(2)
    assert env.build_for(8 * GIB, gpu=True) == env.engine_build == NATIVE_BUILD


def test_the_gpu_loads_wllamas_build_and_the_cpu_ours() -> None:
    gpu = {"available": True, "fallback": False, "shaderF16": True}
    env = Environment.from_probe({**PROBE, "webgpu": gpu})
    assert (env.backend, env.engine_build) == ("WebGPU", "default")
    assert replace(env, force_cpu=True).engine_build == "simd-relaxed"


def test_not_isolated_means_one_thread() -> None:
    env = Environment.from_probe({**PROBE, "crossOriginIsolated": False})
    assert env.threads == 1
    assert env.summary().startswith("1 thread · not isolated")


CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"
WEBKIT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/60.5"
IOS_CHROME = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0 Mobile"


@pytest.mark.parametrize(
    ("agent", "reported", "threads"),
    [(CHROME, 8, 8), (FIREFOX, 2, 2), (WEBKIT, 4, 2), (WEBKIT, 8, 4), (IOS_CHROME, 2, 1)],
)
def test_webkits_rounded_up_core_count_is_halved(agent: str, reported: int, threads: int) -> None:
    env = Environment.from_probe({**PROBE, "userAgent": agent, "hardwareConcurrency": reported})
    assert env.threads == threads
    assert env.webkit == (agent in (WEBKIT, IOS_CHROME))
    if env.webkit:
        plural = "s" if threads > 1 else ""
        assert env.summary().startswith(
            f"{threads} thread{plural} (of {reported} reported: WebKit rounds up)"
        )


def test_isolated_without_shared_array_buffer_says_why_it_runs_one_thread() -> None:
    env = Environment.from_probe({**PROBE, "sharedArrayBuffer": False})
    assert env.threads == 1
    assert env.summary().startswith(
        "1 thread · cross-origin isolated, no SharedArrayBuffer (single thread) · "
    )


# What Firefox and Safari hand over: no navigator.deviceMemory (glue.js sends null, which the
# binding layer reads as None), or a key missing altogether.
@pytest.mark.parametrize(
    "probe",
    [
        {**PROBE, "deviceMemoryGiB": None},
        {key: value for key, value in PROBE.items() if key != "deviceMemoryGiB"},
        {**PROBE, "deviceMemoryGiB": 0},
        {**PROBE, "deviceMemoryGiB": "8"},
        {**PROBE, "deviceMemoryGiB": True},
    ],
)
def test_device_memory_the_browser_does_not_give_is_unknown(probe: dict) -> None:
    env = Environment.from_probe(probe)
    assert env.device_memory_gib is None and not env.device_memory_known


def test_a_probe_of_only_nones_and_missing_keys_gives_safe_defaults() -> None:
    env = Environment.from_probe({"webgpu": None, "hardwareConcurrency": None, "simd": None})
    # nothing known: the build every browser runs
    assert (env.threads, env.simd, env.backend, env.engine_build) == (1, False, "CPU", "compat")
    assert env.device_memory_gib is None
    known = Environment.from_probe({**PROBE, "deviceMemoryGiB": 0.5})
    assert known.device_memory_gib == 0.5 and known.device_memory_known


@pytest.mark.parametrize(
    ("gpu", "backend", "why"),
    [
        ({"available": True, "fallback": False, "shaderF16": True}, "WebGPU", ""),
        ({"available": True, "fallback": False, "shaderF16": False}, "CPU", "lacks shader-f16"),
        ({"available": False, "reason": "no WebGPU adapter"}, "CPU", "no WebGPU adapter"),
        (None, "CPU", "no WebGPU adapter"),
    ],
)
def test_webgpu_only_when_usable(gpu: dict | None, backend: str, why: str) -> None:
    env = Environment.from_probe({**PROBE, "webgpu": gpu})
    assert env.backend == backend
    assert why in env.webgpu.why_not
    assert env.gpu_layers == (999 if backend == "WebGPU" else 0)


def test_context_is_capped_by_the_model() -> None:
    assert LoadParams.context_for(2048, 4096) == 2048
    assert LoadParams.context_for(8192, 4096) == 4096
    assert LoadParams.context_for(None, 4096) == 4096
    assert LoadParams(n_ctx=1024, n_threads=2).to_wllama() == {
        "n_ctx": 1024,
        "n_threads": 2,
        "n_gpu_layers": 0,
        "n_batch": 512,
    }


@pytest.mark.parametrize(
    "kwargs",
    [{"n_ctx": 64}, {"n_ctx": MAX_CONTEXT + 1}, {"n_threads": 0}, {"n_gpu_layers": -1}],
)
def test_bad_load_params_are_parameter_errors(kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        LoadParams(**kwargs)


def test_greedy_maps_to_top_k_one() -> None:
    assert GenerationParams(max_tokens=8, temperature=0).to_wllama() == {
        "max_tokens": 8,
        "temperature": 0,
        "top_k": 1,
    }
    sampled = GenerationParams(temperature=0.7, seed=3, stop=("\n",)).to_wllama()
    assert sampled["top_p"] == 0.95 and sampled["seed"] == 3 and sampled["stop"] == ["\n"]


def test_top_logprobs_ask_the_engine_for_candidates_and_are_bounded() -> None:
    assert "n_probs" not in GenerationParams().to_wllama()
    assert GenerationParams(top_logprobs=5).to_wllama()["n_probs"] == 5
    for wrong in (-1, MAX_TOP_LOGPROBS + 1, 2.5):
        with pytest.raises(ParameterError, match="top_logprobs"):
            GenerationParams(top_logprobs=wrong)


def test_candidates_are_read_from_the_engines_openai_style_logprobs() -> None:
    content = [
        {
            "id": 7042,
            "token": " Paris",
            "logprob": -0.1,
            "top_logprobs": [
                {"id": 7042, "token": " Paris", "logprob": -0.1, "bytes": [32]},
                {"id": 253, "token": " a", "logprob": -2.5, "bytes": [32, 97]},
            ],
        },
        {"id": 30, "token": ".", "logprob": -0.2, "top_logprobs": None},
    ]
    assert top_choices_from_engine(content) == [
        (TokenChoice(7042, " Paris", -0.1), TokenChoice(253, " a", -2.5)),
        (),
    ]


@pytest.mark.parametrize(
    ("max_tokens", "temperature", "message"),
    [
        ("ten", "0.7", "whole number"),
        ("10", "warm", "must be a number"),
        ("0", "0.7", "between 1 and"),
        ("10", "nan", "between 0 and"),
        ("10", "3", "between 0 and"),
    ],
)
def test_form_values_are_validated(max_tokens: str, temperature: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        GenerationParams.from_form({"max_tokens": max_tokens, "temperature": temperature})


def test_chat_history_puts_the_system_prompt_first() -> None:
    history = ChatHistory(system_prompt="Be brief.")
    history.add_user("Hi")
    history.add_assistant("Hello!")
    assert history.as_dicts() == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
    ]
    history.clear()
    assert history.as_dicts() == [{"role": "system", "content": "Be brief."}]


def test_timings_and_summary() -> None:
    timings = Timings.from_engine(
        {"prompt_n": 20, "prompt_ms": 500.0, "predicted_n": 64, "predicted_ms": 2000.0}
    )
    assert math.isclose(timings.prompt_tokens_per_second, 40.0)
    assert math.isclose(timings.generation_tokens_per_second, 32.0)
    assert Timings.from_engine(None).generation_tokens_per_second == 0.0
    result = GenerationResult("x", StopReason.ABORTED, timings, chunks=64, first_token_ms=250)
    assert result.summary() == (
        "64 tokens · 32.0 tokens/s · prompt 20 at 40 tokens/s · first token 0.25 s · "
        "stopped: aborted"
    )
    assert stop_reason_from_finish("length") is StopReason.LENGTH
    assert stop_reason_from_finish("stop") is StopReason.END


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("AbortError", None, AbortedError),
        ("WllamaError", "kv_cache_full", ContextFullError),
        ("WllamaError", "model_not_loaded", ModelNotLoadedError),
        ("WllamaError", "load_error", ModelLoadError),
        ("RuntimeError", None, EngineError),
        ("WllamaError", "inference_error", EngineError),
        ("NotReadableError", None, ModelLoadError),
    ],
)
def test_engine_errors_map_onto_the_tree(name: str, kind: str | None, expected: type) -> None:
    error = from_engine_error(name, kind, "details")
    assert type(error) is expected
    assert isinstance(error, LocalWebAIError)
    assert str(error)


def test_an_engine_trap_while_loading_is_a_load_error_not_a_reply_error() -> None:
    """A trap during loadModel (e.g. "memory access out of bounds") must not claim that a
    model stays loaded; an abort stays an abort."""
    error = from_engine_error("RuntimeError", None, "memory access out of bounds", loading=True)
    assert type(error) is ModelLoadError
    assert "could not load this model" in str(error) and "stays loaded" not in str(error)
    assert type(from_engine_error("AbortError", None, "", loading=True)) is AbortedError
