"""localwebai.memory: hand-computed estimates, the fit check and the suggested context."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from localwebai import gguf as g
from localwebai import memory as m
from localwebai.errors import ParameterError
from localwebai.spec import ModelSpecification

GiB = 1 << 30
MiB = 1 << 20


def make_spec(**fields: object) -> ModelSpecification:
    base: dict[str, object] = {
        "architecture": "llama",
        "name": "test",
        "file_type": 0,
        "quantization": "F32",
        "parameter_count": 1,
        "layer_count": 2,
        "embedding_length": 64,
        "feed_forward_length": 128,
        "context_length": 4096,
        "head_count": 4,
        "head_count_kv": 2,
        "key_length": None,
        "value_length": None,
        "rope_freq_base": None,
        "rope_freq_scale": None,
        "vocab_size": 100,
        "tokenizer_model": None,
        "bos_token_id": None,
        "eos_token_id": None,
        "chat_template": None,
        "gguf_version": 3,
        "tensor_count": 10,
        "tensor_data_size": 1_000_000,
    }
    base.update(fields)
    return ModelSpecification(**base)  # type: ignore[arg-type]


# A 70B-like shape: 80 layers, 8192 wide, 64 heads, 8 KV heads, head_dim 128, ff 28672.
BIG = {
    "layer_count": 80,
    "embedding_length": 8192,
    "head_count": 64,
    "head_count_kv": 8,
    "feed_forward_length": 28672,
}


def test_constants() -> None:
    assert m.WASM_MEMORY_LIMIT == 4 * GiB == 2**32
    assert m.KV_BYTES_PER_ELEMENT == 2
    assert m.COMPUTE_UBATCH == 512
    assert 64 * MiB == m.COMPUTE_FIXED_BYTES
    assert m.MIN_SUGGESTED_N_CTX == 512


def test_small_model_by_hand() -> None:
    est = m.estimate_memory(make_spec(), 4096)
    # head_dim = 64 / 4 = 16; K and V: 2 layers x 4096 x 2 kv heads x (16 + 16) x 2 bytes
    assert est.kv_cache_bytes == 2 * 4096 * 2 * 32 * 2 == 1_048_576
    # scores 512 x 4096 x 4 heads x 4 B; activations 512 x (4*64 + 3*128) x 4 B; 64 MiB fixed
    assert est.compute_bytes == 33_554_432 + 1_310_720 + 67_108_864 == 101_974_016
    assert est.weights_bytes == 1_000_000
    assert est.total_bytes == 1_000_000 + 1_048_576 + 101_974_016
    assert est.fits and est.suggested_n_ctx is None
    assert est.limit_bytes == m.WASM_MEMORY_LIMIT and est.device_limit_bytes is None
    assert est.missing == ()
    assert est.message().startswith("Needs about 99.20 MiB with a 4,096-token context; fits")
    assert est.message().endswith("(this device's memory is unknown to the browser).")


def test_short_context_uses_a_smaller_batch() -> None:
    spec = make_spec()
    assert m.compute_buffer_bytes(spec, 100) == (
        100 * 100 * 4 * 4 + 100 * (4 * 64 + 3 * 128) * 4 + 64 * MiB
    )
    assert m.kv_cache_bytes(spec, 100) == 2 * 100 * 2 * 32 * 2


def test_explicit_key_and_value_lengths() -> None:
    spec = make_spec(key_length=192, value_length=128)
    assert m.kv_cache_bytes(spec, 1000) == 2 * 1000 * 2 * (192 + 128) * 2
    only_key = make_spec(key_length=32)
    assert m.kv_cache_bytes(only_key, 1000) == 2 * 1000 * 2 * (32 + 16) * 2
    no_width = make_spec(embedding_length=None, key_length=8, value_length=8)
    assert m.kv_cache_bytes(no_width, 10) == 2 * 10 * 2 * 16 * 2


def test_smollm2(models_dir: Path) -> None:
    path = models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf"
    spec = ModelSpecification.from_header(g.read_header_file(path))
    est = m.estimate_memory(spec, 8192)
    assert est.kv_cache_bytes == 30 * 8192 * 3 * (64 + 64) * 2 == 180 * MiB
    assert est.compute_bytes == (512 * 8192 * 9 * 4) + (512 * (4 * 576 + 3 * 1536) * 4) + 64 * MiB
    assert est.weights_bytes == spec.tensor_data_size
    assert abs(est.weights_bytes - path.stat().st_size) < 2 * MiB
    assert est.fits
    assert m.estimate_memory(spec, 2048, device_memory_gib=0.25).fits is False


def test_huge_model_does_not_fit_at_all() -> None:
    spec = make_spec(tensor_data_size=5 * GiB, **BIG)
    est = m.estimate_memory(spec, 4096)
    assert not est.fits and est.suggested_n_ctx is None
    assert "No context size makes it fit" in est.message()
    assert "4 GiB WebAssembly limit" in est.message()


def test_suggested_context_by_hand() -> None:
    # 3 GiB of weights leaves 1 GiB: kv + compute = 458,752 n + 310,378,496 bytes for context n
    # (kv 80 x n x 8 x 256 x 2 = 327,680 n; scores 512 x n x 64 x 4 = 131,072 n; fixed 64 MiB +
    # activations 512 x (4 x 8192 + 3 x 28672) x 4), so n <= 1664: 1024 is the answer.
    spec = make_spec(tensor_data_size=3 * GiB, **BIG)
    est = m.estimate_memory(spec, 32768)
    assert est.kv_cache_bytes == 327_680 * 32768
    assert est.compute_bytes == 131_072 * 32768 + 310_378_496
    assert not est.fits
    assert est.suggested_n_ctx == 1024
    assert m.estimate_memory(spec, 1024).fits
    assert not m.estimate_memory(spec, 2048).fits
    assert m.estimate_memory(spec, 1664).fits and not m.estimate_memory(spec, 1665).fits
    assert "1,024 tokens" in est.message()
    # with 3.5 GiB of weights only n <= 493 would fit: below the 512 floor, no suggestion
    tighter = m.estimate_memory(dataclasses.replace(spec, tensor_data_size=7 * GiB // 2), 32768)
    assert not tighter.fits and tighter.suggested_n_ctx is None


def test_suggestions_are_powers_of_two_below_the_request() -> None:
    spec = make_spec(tensor_data_size=3 * GiB, **BIG)
    assert m.estimate_memory(spec, 3000).suggested_n_ctx == 1024
    assert m.estimate_memory(spec, 1500).fits  # 1500 <= 1664
    # requested 2048 does not fit; the next power of two down is 1024
    assert m.estimate_memory(spec, 2048).suggested_n_ctx == 1024
    # a request below 512 that does not fit has no suggestion
    assert m.estimate_memory(make_spec(tensor_data_size=5 * GiB), 256).suggested_n_ctx is None


def test_device_memory() -> None:
    spec = make_spec(tensor_data_size=1 * GiB, **BIG)
    est = m.estimate_memory(spec, 2048, device_memory_gib=2)
    assert est.device_limit_bytes == 1 * GiB
    assert est.limit_bytes == 1 * GiB
    assert not est.fits and est.suggested_n_ctx is None
    assert "this device's memory" in est.message()
    roomy = m.estimate_memory(spec, 2048, device_memory_gib=8)
    assert roomy.device_limit_bytes == 4 * GiB and roomy.fits
    assert "fits in 4.00 GiB" in roomy.message()
    assert "unknown" not in roomy.message() + est.message()
    small = make_spec(tensor_data_size=100 * MiB)
    quarter = m.estimate_memory(small, 4096, device_memory_gib=0.5)
    assert quarter.device_limit_bytes == 256 * MiB
    assert quarter.fits


def test_device_limit_drives_the_suggestion() -> None:
    spec = make_spec(tensor_data_size=GiB // 2, **BIG)
    # 1 GiB usable leaves 512 MiB: 458,752 n + 310,378,496 <= 536,870,912 -> n <= 493: none;
    # 2 GiB usable leaves 1.5 GiB: n <= 2834 -> 2048
    assert m.estimate_memory(spec, 8192, device_memory_gib=2).suggested_n_ctx is None
    assert m.estimate_memory(spec, 8192, device_memory_gib=4).suggested_n_ctx == 2048


def test_vocab_only_spec_is_partial(models_dir: Path) -> None:
    header = g.read_header_file(models_dir / "vocab/ggml-vocab-llama-spm.gguf")
    spec = ModelSpecification.from_header(header)
    est = m.estimate_memory(spec, 2048)
    assert est.weights_bytes == 0 and "tensors" in est.missing
    assert est.fits


def test_missing_hyperparameters() -> None:
    spec = make_spec(layer_count=None, head_count=None, head_count_kv=None)
    est = m.estimate_memory(spec, 1024)
    assert est.kv_cache_bytes == 0
    assert est.compute_bytes == 64 * MiB + 512 * (4 * 64 + 3 * 128) * 4
    assert est.missing == ("layer_count", "head_count")


@pytest.mark.parametrize("n_ctx", [0, -1, 1.5, True, "4096", None])
def test_bad_context(n_ctx: object) -> None:
    with pytest.raises(ParameterError, match="context size"):
        m.estimate_memory(make_spec(), n_ctx)  # type: ignore[arg-type]


@pytest.mark.parametrize("gib", [0, -2, float("nan"), "8"])
def test_bad_device_memory(gib: object) -> None:
    with pytest.raises(ParameterError, match="device memory"):
        m.estimate_memory(make_spec(), 512, device_memory_gib=gib)  # type: ignore[arg-type]
