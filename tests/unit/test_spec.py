"""localwebai.spec: model specification from real and hand-made headers."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import gguf
import pytest
from localwebai import gguf as g
from localwebai.spec import (
    LLAMA_FTYPE_NAMES,
    ModelSpecification,
    dominant_tensor_type,
    format_bytes,
    format_count,
    quantization_name,
)

SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gstr(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def kv_u32(key: str, value: int) -> bytes:
    return gstr(key) + struct.pack("<II", 4, value)


def kv_f32(key: str, value: float) -> bytes:
    return gstr(key) + struct.pack("<If", 6, value)


def kv_str(key: str, value: str) -> bytes:
    return gstr(key) + struct.pack("<I", 8) + gstr(value)


def kv_u32_array(key: str, values: list[int]) -> bytes:
    return gstr(key) + struct.pack(f"<IIQ{len(values)}I", 9, 4, len(values), *values)


def tinfo(name: str, shape: list[int], ggml_type: int, offset: int) -> bytes:
    return gstr(name) + struct.pack(f"<I{len(shape)}QIQ", len(shape), *shape, ggml_type, offset)


def header_of(kvs: list[bytes], tensors: list[bytes] = ()) -> g.GGUFHeader:  # type: ignore[assignment]
    data = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs)
    result = g.parse_header(data + b"".join(tensors))
    assert isinstance(result, g.GGUFHeader)
    return result


def reader_param_count(path: Path) -> int:
    return sum(int(t.n_elements) for t in gguf.GGUFReader(path).tensors)


def test_smollm2(models_dir: Path) -> None:
    path = models_dir / SMOLLM2
    header = g.read_header_file(path)
    spec = ModelSpecification.from_header(
        header, source=SMOLLM2, file_size=path.stat().st_size, date_added="2026-11-23T12:00:00Z"
    )
    assert spec.architecture == "llama"
    assert spec.parameter_count == reader_param_count(path) == 134_515_008
    assert spec.quantization == "Q4_1" and spec.file_type == 3
    assert spec.chat_template is not None and "{% for message in messages %}" in spec.chat_template
    assert spec.layer_count == 30
    assert spec.embedding_length == 576
    assert spec.feed_forward_length == 1536
    assert spec.context_length == 8192
    assert (spec.head_count, spec.head_count_kv) == (9, 3)
    assert spec.key_length is None and spec.value_length is None
    assert spec.rope_freq_base == 100000.0
    assert spec.rope_freq_scale is None
    assert spec.vocab_size == 49152
    assert spec.tokenizer_model == "gpt2"
    assert (spec.bos_token_id, spec.eos_token_id) == (1, 2)
    assert spec.gguf_version == 3 and spec.tensor_count == 272
    assert header.data_offset + spec.tensor_data_size <= spec.file_size
    assert spec.file_size - header.data_offset - spec.tensor_data_size < header.alignment
    assert spec.source == SMOLLM2 and spec.date_added == "2026-11-23T12:00:00Z"
    as_dict = spec.to_dict()
    assert as_dict["parameter_count"] == 134_515_008
    assert json.loads(json.dumps(as_dict)) == as_dict
    rows = dict(spec.summary())
    assert rows["Parameters"] == "134.5 M"
    assert rows["Quantization"] == "Q4_1"
    assert rows["Attention heads"] == "9 (3 for keys/values)"
    assert rows["Context length"] == "8,192"
    assert rows["Chat template"] == "yes"
    assert rows["File size"] == format_bytes(spec.file_size)
    assert "RoPE scale" not in rows


def test_tiny_llama(models_dir: Path) -> None:
    path = models_dir / "tiny-llama.gguf"
    spec = ModelSpecification.from_header(g.read_header_file(path), source=path.name)
    reader = gguf.GGUFReader(path)

    def field(key: str) -> object:
        return reader.fields[key].contents()

    assert spec.architecture == "llama"
    assert spec.name == field("general.name")
    assert spec.quantization == "F32" and spec.file_type == 0
    assert spec.parameter_count == sum(int(t.n_elements) for t in reader.tensors)
    assert spec.layer_count == field("llama.block_count") == 2
    assert spec.embedding_length == field("llama.embedding_length") == 64
    assert spec.feed_forward_length == field("llama.feed_forward_length") == 128
    assert spec.head_count == field("llama.attention.head_count") == 4
    assert spec.head_count_kv == field("llama.attention.head_count_kv") == 2
    assert spec.context_length == field("llama.context_length") == 4096
    assert spec.rope_freq_base == 10000.0
    assert spec.vocab_size == len(reader.fields["tokenizer.ggml.tokens"].data)
    assert spec.tokenizer_model == field("tokenizer.ggml.model")
    assert spec.bos_token_id == field("tokenizer.ggml.bos_token_id")
    assert spec.eos_token_id == field("tokenizer.ggml.eos_token_id")
    assert spec.tensor_count == len(reader.tensors)
    last = reader.tensors[-1]
    assert spec.tensor_data_size == last.data_offset + last.n_bytes - reader.data_offset


def test_vocab_only(models_dir: Path) -> None:
    header = g.read_header_file(models_dir / "vocab/ggml-vocab-qwen2.gguf")
    spec = ModelSpecification.from_header(header)
    assert spec.architecture == "qwen2"
    assert spec.parameter_count is None
    assert spec.quantization is None  # no weights to be quantized
    assert spec.tensor_count == 0 and spec.tensor_data_size == 0
    assert spec.vocab_size == 151936
    assert spec.tokenizer_model == "gpt2"
    assert spec.chat_template is not None
    assert spec.source is None and spec.file_size is None and spec.date_added is None
    rows = dict(spec.summary())
    assert "Parameters" not in rows and "Weights" not in rows and "Source" not in rows


@pytest.mark.parametrize("name", ["bert-bge", "llama-spm", "gemma-4", "command-r"])
def test_every_vocab_file_gives_a_spec(models_dir: Path, name: str) -> None:
    spec = ModelSpecification.from_header(
        g.read_header_file(models_dir / f"vocab/ggml-vocab-{name}.gguf")
    )
    assert spec.architecture and spec.vocab_size and spec.vocab_size > 1000
    assert spec.parameter_count is None and spec.quantization is None
    json.dumps(spec.to_dict())


def test_bare_header_gives_none_fields() -> None:
    spec = ModelSpecification.from_header(header_of([]))
    values = spec.to_dict()
    for key in ("gguf_version", "tensor_count", "tensor_data_size"):
        values.pop(key)
    assert set(values.values()) == {None}
    assert dict(spec.summary()) == {"Chat template": "no", "GGUF version": "3"}


def test_fields_of_the_wrong_type_are_none() -> None:
    spec = ModelSpecification.from_header(
        header_of(
            [
                kv_str("general.architecture", "llama"),
                kv_str("llama.block_count", "thirty"),
                gstr("llama.context_length") + struct.pack("<IB", 7, 1),  # a bool
                kv_u32("general.name", 5),
                kv_str("llama.rope.freq_base", "1e4"),
                kv_u32("tokenizer.chat_template", 1),
                kv_str("llama.attention.head_count", "x"),
            ]
        )
    )
    assert spec.architecture == "llama"
    assert spec.layer_count is None and spec.context_length is None and spec.name is None
    assert spec.rope_freq_base is None and spec.chat_template is None
    assert spec.head_count is None and spec.head_count_kv is None


def test_derived_fields() -> None:
    spec = ModelSpecification.from_header(
        header_of(
            [
                kv_str("general.architecture", "phi3"),
                kv_u32("phi3.attention.head_count", 32),
                kv_u32_array("phi3.feed_forward_length", [100, 300, 200]),
                kv_f32("phi3.rope.scaling.factor", 4.0),
                kv_u32("phi3.vocab_size", 1234),
                kv_u32("phi3.attention.key_length", 192),
                kv_u32("phi3.attention.value_length", 128),
                kv_u32("general.file_type", 1024),  # "guessed"
            ],
            [
                tinfo("a", [256, 4], 12, 0),  # Q4_K, 1024 elements
                tinfo("b", [32, 8], 8, 576),  # Q8_0, 256 elements
                tinfo("n", [4096], 0, 896),  # F32 vector, ignored for the dominant type
            ],
        )
    )
    assert spec.head_count_kv == 32  # defaults to head_count
    assert spec.feed_forward_length == 300  # the largest per-layer value
    assert spec.rope_freq_scale == 0.25
    assert spec.vocab_size == 1234  # no token list: {arch}.vocab_size
    assert (spec.key_length, spec.value_length) == (192, 128)
    assert spec.quantization == "Q4_K"
    assert spec.parameter_count == 1024 + 256 + 4096


def test_rope_scale_linear_and_bad_factor() -> None:
    linear = header_of([kv_str("general.architecture", "x"), kv_f32("x.rope.scale_linear", 2.0)])
    assert ModelSpecification.from_header(linear).rope_freq_scale == 0.5
    zero = header_of([kv_str("general.architecture", "x"), kv_f32("x.rope.scaling.factor", 0.0)])
    assert ModelSpecification.from_header(zero).rope_freq_scale is None


def test_ftype_names_match_gguf_package() -> None:
    for member in gguf.LlamaFileType:
        if member is gguf.LlamaFileType.GUESSED:
            assert int(member) not in LLAMA_FTYPE_NAMES
            continue
        expected = member.name.removeprefix("MOSTLY_").removeprefix("ALL_")
        assert LLAMA_FTYPE_NAMES[int(member)] == expected


def test_quantization_name_fallbacks() -> None:
    tensors = (
        g.TensorInfo("a", (32, 2), g.GGMLType.Q8_0, 0, 64, 68, 0),
        g.TensorInfo("b", (32, 4), g.GGMLType.Q4_0, 96, 128, 72, 0),
        g.TensorInfo("c", (1000,), g.GGMLType.F32, 192, 1000, 4000, 0),
    )
    assert quantization_name(15, tensors) == "Q4_K_M"
    assert quantization_name(None, tensors) == "Q4_0"
    assert quantization_name(999, tensors) == "Q4_0"
    assert quantization_name(None, ()) is None
    assert dominant_tensor_type(tensors[2:]) == "F32"


def test_formatting() -> None:
    assert format_count(None) is None
    assert format_count(999) == "999"
    assert format_count(1_500) == "1.5 K"
    assert format_count(7_241_732_096) == "7.2 B"
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.50 KiB"
    assert format_bytes(3 << 30) == "3.00 GiB"
    assert format_bytes(5000 << 30) == "5000.00 GiB"
