"""localwebai.gguf: oracle against gguf.GGUFReader, partial input, every error path."""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
from localwebai import gguf as g
from localwebai.errors import GGUFError, LocalWebAIError

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
VOCAB_NAMES = [
    "aquila", "baichuan", "bert-bge", "command-r", "deepseek-coder", "deepseek-llm", "falcon",
    "gemma-4", "gpt-2", "gpt-neox", "llama-bpe", "llama-spm", "mpt", "nomic-bert-moe", "phi-3",
    "qwen2", "qwen35", "refact", "starcoder",
]  # fmt: skip
EXPECTED_MODELS = [
    *(f"vocab/ggml-vocab-{name}.gguf" for name in VOCAB_NAMES),
    "tiny-llama.gguf",
    "SmolLM2-135M-Instruct.Q4_1.gguf",
]
# Whatever else is under models/ is checked too.
MODEL_FILES = sorted(
    set(EXPECTED_MODELS)
    | {p.relative_to(MODELS_DIR).as_posix() for p in MODELS_DIR.rglob("*.gguf")}
    if MODELS_DIR.is_dir()
    else set(EXPECTED_MODELS)
)

VT = gguf.GGUFValueType


# --- hand-made GGUF bytes -----------------------------------------------------------------------


def gstr(text: str | bytes) -> bytes:
    """A GGUF string: u64 length + bytes."""
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


SCALAR_FORMATS = dict(enumerate("BbHhIif?")) | {10: "Q", 11: "q", 12: "d"}


def scalar(vtype: int, value: Any) -> bytes:
    fmt = {
        0: "B",
        1: "b",
        2: "H",
        3: "h",
        4: "I",
        5: "i",
        6: "f",
        7: "?",
        10: "Q",
        11: "q",
        12: "d",
    }
    return struct.pack("<" + fmt[vtype], value)


def arr(etype: int, elements: list[bytes]) -> bytes:
    """An array payload (without the outer ARRAY tag): element type, count, elements."""
    return struct.pack("<IQ", etype, len(elements)) + b"".join(elements)


def kv(key: str | bytes, vtype: int, payload: bytes) -> bytes:
    return gstr(key) + struct.pack("<I", vtype) + payload


def tinfo(name: str | bytes, shape: list[int], ggml_type: int, offset: int) -> bytes:
    return (
        gstr(name)
        + struct.pack("<I", len(shape))
        + struct.pack(f"<{len(shape)}Q", *shape)
        + struct.pack("<IQ", ggml_type, offset)
    )


def build(
    kvs: list[bytes],
    tensors: list[bytes] = (),  # type: ignore[assignment]
    *,
    version: int = 3,
    n_kv: int | None = None,
    n_tensors: int | None = None,
    magic: bytes = b"GGUF",
) -> bytes:
    head = magic + struct.pack(
        "<IQQ",
        version,
        len(tensors) if n_tensors is None else n_tensors,
        len(kvs) if n_kv is None else n_kv,
    )
    return head + b"".join(kvs) + b"".join(tensors)


ARCH = kv("general.architecture", 8, gstr("llama"))


def parse_full(data: bytes, **kwargs: Any) -> g.GGUFHeader:
    result = g.parse_header(data, **kwargs)
    assert isinstance(result, g.GGUFHeader), result
    return result


def raises(exc: type[Exception], data: bytes, match: str | None = None, **kwargs: Any) -> Any:
    with pytest.raises(exc, match=match) as info:
        g.parse_header(data, **kwargs)
    error = info.value
    assert isinstance(error, GGUFError) and isinstance(error, LocalWebAIError)
    assert str(error)
    return error


# --- generated file with every value type and tensor type --------------------------------------

NESTED_INTS = [[1, 2, 3], [4], [5, 6]]
NESTED_STRINGS = [["a", "bé"], ["ç"], ["", "dd", "e"]]
DEEP = [[[1, 2], [3]], [[4]]]
SCALARS: list[tuple[str, Any, VT]] = [
    ("t.u8", 255, VT.UINT8),
    ("t.i8", -128, VT.INT8),
    ("t.u16", 65535, VT.UINT16),
    ("t.i16", -32768, VT.INT16),
    ("t.u32", 2**32 - 1, VT.UINT32),
    ("t.i32", -(2**31), VT.INT32),
    ("t.f32", 1.5, VT.FLOAT32),
    ("t.f32inf", math.inf, VT.FLOAT32),
    ("t.bool_t", True, VT.BOOL),
    ("t.bool_f", False, VT.BOOL),
    ("t.str", "héllo wörld ✓ 🦙", VT.STRING),
    ("t.str_empty", "", VT.STRING),
    ("t.u64", 2**64 - 1, VT.UINT64),
    ("t.i64", -(2**63), VT.INT64),
    ("t.f64", -2.5e300, VT.FLOAT64),
]
ARRAYS: list[tuple[str, list[Any], VT]] = [
    ("a.u8", [0, 1, 255], VT.UINT8),
    ("a.i8", [-1, 0, 127], VT.INT8),
    ("a.u16", [1, 65535], VT.UINT16),
    ("a.i16", [-5, 5], VT.INT16),
    ("a.u32", [7, 2**32 - 1], VT.UINT32),
    ("a.i32", list(range(-50, 50)), VT.INT32),
    ("a.f32", [0.25, -1.0, 3.5], VT.FLOAT32),
    ("a.bool", [True, False, True], VT.BOOL),
    ("a.str", ["x", "", "ünïcödé", "a" * 300, "Ġhello"], VT.STRING),
    ("a.u64", [2**64 - 1, 0], VT.UINT64),
    ("a.i64", [-(2**63), 2**63 - 1], VT.INT64),
    ("a.f64", [1e-300, 2.0], VT.FLOAT64),
    ("a.nested_ints", NESTED_INTS, VT.ARRAY),
    ("a.nested_strings", NESTED_STRINGS, VT.ARRAY),
    ("a.deep", DEEP, VT.ARRAY),
]
NUMPY_TYPES = {
    g.GGMLType.F32: np.float32,
    g.GGMLType.F16: np.float16,
    g.GGMLType.F64: np.float64,
    g.GGMLType.I8: np.int8,
    g.GGMLType.I16: np.int16,
    g.GGMLType.I32: np.int32,
    g.GGMLType.I64: np.int64,
}


def write_generated(path: Path, alignment: int | None = None) -> Path:
    """A GGUF with every metadata value type and one tensor of every ggml type."""
    writer = gguf.GGUFWriter(path, "llama")
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    writer.add_name("generated")
    writer.add_uint32("llama.block_count", 2)
    for key, value, vtype in SCALARS:
        writer.add_key_value(key, value, vtype)
    for key, value, etype in ARRAYS:
        writer.add_key_value(key, value, VT.ARRAY, sub_type=etype)
    for i, ggml_type in enumerate(g.GGMLType):
        block, size = g.GGML_TYPE_SIZES[ggml_type]
        rows = 1 + i % 3
        name = f"blk.{i}.{ggml_type.name.lower()}.weight"
        if ggml_type in NUMPY_TYPES:
            writer.add_tensor(name, np.zeros((rows, 8 * block), dtype=NUMPY_TYPES[ggml_type]))
        else:
            raw = np.zeros((rows, 2 * size), dtype=np.uint8)  # 2 blocks per row
            writer.add_tensor(name, raw, raw_dtype=gguf.GGMLQuantizationType(int(ggml_type)))
    writer.add_tensor("output_norm.weight", np.ones(64, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_generated(tmp_path_factory.mktemp("gguf") / "generated.gguf")


@pytest.fixture(scope="session")
def generated_aligned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_generated(tmp_path_factory.mktemp("gguf") / "aligned.gguf", alignment=256)


@pytest.fixture(scope="session")
def generated_v2(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = bytearray(generated.read_bytes())
    data[4:8] = struct.pack("<I", 2)  # little-endian v2 and v3 have the same layout
    path = tmp_path_factory.mktemp("gguf") / "v2.gguf"
    path.write_bytes(bytes(data))
    return path


# --- oracle -------------------------------------------------------------------------------------


def reader_type_path(value: g.MetadataField) -> list[int]:
    """The ``types`` list GGUFReader builds: element types follow the first element only."""
    path = [int(value.type)]
    current: Any = value.value
    while isinstance(current, g.GGUFArray) and len(current) > 0:
        path.append(int(current.element_type))
        current = current[0]
    return path


def flatten(value: Any) -> Any:
    """GGUFReader flattens arrays of arrays into one list."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [leaf for item in value for leaf in flatten(item)]
    return value


def assert_matches_reader(path: Path) -> g.GGUFHeader:
    data = path.read_bytes()
    ours = parse_full(data, file_size=len(data))
    reader = gguf.GGUFReader(path)
    assert ours.version == reader.fields["GGUF.version"].contents()
    assert ours.tensor_count == reader.fields["GGUF.tensor_count"].contents()
    assert ours.kv_count == reader.fields["GGUF.kv_count"].contents()
    keys = [k for k in reader.fields if not k.startswith("GGUF.")]
    assert list(ours.metadata) == keys
    assert len(keys) == ours.kv_count
    for key in keys:
        field = reader.fields[key]
        mine = ours.metadata[key]
        assert reader_type_path(mine) == [int(t) for t in field.types], key
        assert mine.offset == field.offset, key
        value = mine.to_python()
        expected = field.contents()
        assert flatten(value) == expected, key
        if isinstance(mine.value, g.GGUFArray) and mine.value.element_type != g.ValueType.ARRAY:
            assert len(mine.value) == len(field.data), key
    assert ours.alignment == reader.alignment
    assert ours.data_offset == reader.data_offset
    assert len(ours.tensors) == len(reader.tensors) == ours.tensor_count
    for mine, theirs in zip(ours.tensors, reader.tensors, strict=True):
        assert mine.name == theirs.name
        assert list(mine.shape) == theirs.shape.tolist()
        assert int(mine.ggml_type) == int(theirs.tensor_type)
        assert mine.type_name == theirs.tensor_type.name
        assert ours.data_offset + mine.offset == theirs.data_offset
        assert mine.n_elements == theirs.n_elements
        assert mine.n_bytes == theirs.n_bytes
        assert mine.info_offset == theirs.field.offset
    if reader.tensors:
        last = reader.tensors[-1]
        assert ours.data_offset + ours.tensor_data_size == last.data_offset + last.n_bytes
    else:
        assert ours.tensor_data_size == 0
    return ours


def test_expected_models_present(models_dir: Path) -> None:
    for name in EXPECTED_MODELS:
        assert (models_dir / name).is_file(), name


@pytest.mark.parametrize("name", MODEL_FILES)
def test_oracle_model_files(models_dir: Path, name: str) -> None:
    header = assert_matches_reader(models_dir / name)
    assert header.architecture


def test_oracle_generated(generated: Path) -> None:
    header = assert_matches_reader(generated)
    for key, value, _ in SCALARS:
        assert header.get(key) == value, key
        assert header.metadata[key].type == g.ValueType[_.name]
    for key, value, etype in ARRAYS:
        array = header.get(key)
        assert isinstance(array, g.GGUFArray)
        assert array.element_type == g.ValueType[etype.name]
        assert array.to_list() == value, key
    assert {t.ggml_type for t in header.tensors} == set(g.GGMLType)
    assert header.version == 3


def test_oracle_custom_alignment(generated_aligned: Path) -> None:
    header = assert_matches_reader(generated_aligned)
    assert header.alignment == 256
    assert header.data_offset % 256 == 0
    assert all(t.offset % 256 == 0 for t in header.tensors)


def test_oracle_version_2(generated_v2: Path) -> None:
    assert assert_matches_reader(generated_v2).version == 2


def test_oracle_empty_and_nested_arrays(tmp_path: Path) -> None:
    """Arrays GGUFWriter cannot write: empty ones, arrays of empty arrays, empty strings."""
    data = build(
        [
            ARCH,
            kv("e.ints", 9, arr(5, [])),
            kv("e.strs", 9, arr(8, [])),
            kv("e.nested", 9, arr(9, [arr(5, []), arr(5, [scalar(5, 3)])])),
            kv("e.str", 8, gstr("")),
            kv("e.nested_empty", 9, arr(9, [])),
        ]
    )
    path = tmp_path / "e.gguf"
    path.write_bytes(data)
    header = assert_matches_reader(path)
    assert header.get("e.ints").to_list() == []
    assert header.get("e.nested").to_list() == [[], [3]]
    assert header.get("e.nested_empty").to_list() == []
    assert header.get("e.nested")[1].element_type is g.ValueType.INT32


def test_arrays_of_arrays_of_different_types() -> None:
    """GGUF allows it (GGUFReader misreads it, so no oracle here)."""
    data = build([kv("e.mixed", 9, arr(9, [arr(8, [gstr("x")]), arr(4, [scalar(4, 9)])]))])
    mixed = parse_full(data).get("e.mixed")
    assert mixed.to_list() == [["x"], [9]]
    assert [inner.element_type for inner in mixed] == [g.ValueType.STRING, g.ValueType.UINT32]


def test_type_tables_match_gguf_package() -> None:
    assert {t.name: int(t) for t in g.GGMLType} == {
        t.name: int(t) for t in gguf.GGMLQuantizationType
    }
    assert {t.name: g.GGML_TYPE_SIZES[t] for t in g.GGMLType} == {
        t.name: size for t, size in gguf.GGML_QUANT_SIZES.items()
    }
    assert {t.name: int(t) for t in g.ValueType} == {t.name: int(t) for t in gguf.GGUFValueType}
    assert g.DEFAULT_ALIGNMENT == gguf.GGUF_DEFAULT_ALIGNMENT
    assert g.MAX_VERSION == gguf.GGUF_VERSION
    assert g.ggml_type_name(12) == "Q4_K"
    assert g.ggml_type_name(4) == "type 4"


# --- partial input ------------------------------------------------------------------------------


def sample_prefixes(header_size: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    small = [0, 1, 3, 4, 5, 8, 12, 16, 23, 24, 25, 31, 32, 33, 100]
    scattered = [rng.randrange(header_size) for _ in range(12)]
    near = [header_size - d for d in (1, 2, 7, 8, 9, 17, 64)] + [header_size, header_size + 1]
    return sorted({n for n in small + scattered + near if n >= 0})


def check_prefixes(data: bytes, full: g.GGUFHeader, lengths: list[int]) -> None:
    """Each prefix gives NeedMoreBytes within the contract or the full header; needed grows."""
    last_needed = 0
    view = memoryview(data)
    for n in sorted(lengths):
        result = g.parse_header(view[:n])
        if n >= full.header_size:
            assert result == full, n
            continue
        assert isinstance(result, g.NeedMoreBytes), n
        assert n < result.needed <= full.header_size, (n, result)
        assert result.have == n
        assert result.needed >= last_needed
        last_needed = result.needed
        if n < 4096 or n == full.header_size - 1:
            with pytest.raises(g.TruncatedError):  # the same bytes, said to be the whole file
                g.parse_header(view[:n], file_size=n)


def converge(data: bytes, *, use_resume: bool, start: int = 0) -> tuple[g.GGUFHeader, int]:
    """Feed exactly what is asked for until the header comes; return it and the call count."""
    view = memoryview(data)
    n = start
    resume = None
    for calls in range(1, 10_000):
        result = g.parse_header(view[:n], resume=resume if use_resume else None)
        if isinstance(result, g.GGUFHeader):
            return result, calls
        assert result.needed > n
        n = result.needed
        resume = result.resume
    raise AssertionError("did not converge")


@pytest.mark.parametrize("name", MODEL_FILES)
def test_partial_model_files(models_dir: Path, name: str) -> None:
    data = (models_dir / name).read_bytes()
    full = parse_full(data)
    H = full.header_size
    check_prefixes(data, full, sample_prefixes(H, seed=len(data)))
    # every prefix length around the end of the header, resuming from just before it
    before = g.parse_header(data[: H - 40])
    assert isinstance(before, g.NeedMoreBytes) and before.resume is not None
    for n in range(H - 40, H + 9):
        result = g.parse_header(data[:n], resume=before.resume)
        if n >= H:
            assert result == full
        else:
            assert isinstance(result, g.NeedMoreBytes)
            assert n < result.needed <= H
    header, calls = converge(data, use_resume=True)
    assert header == full
    assert calls < 200


def test_partial_generated_every_prefix(generated: Path) -> None:
    """The small generated header: every single prefix length, from scratch."""
    data = generated.read_bytes()
    full = parse_full(data)
    check_prefixes(data, full, list(range(full.header_size + 3)))


def test_converge_without_resume(models_dir: Path, generated: Path) -> None:
    for path in (generated, models_dir / "vocab/ggml-vocab-llama-spm.gguf"):
        data = path.read_bytes()
        full = parse_full(data)
        header, calls = converge(data, use_resume=False)
        assert header == full
        header2, calls2 = converge(data, use_resume=True)
        assert header2 == full and calls2 == calls


def test_resume_ignored_when_it_does_not_match(generated: Path, models_dir: Path) -> None:
    data = generated.read_bytes()
    other = (models_dir / "tiny-llama.gguf").read_bytes()
    partial = g.parse_header(data[:2000])
    assert isinstance(partial, g.NeedMoreBytes) and partial.resume is not None
    assert g.parse_header(other, resume=partial.resume) == parse_full(other)
    shorter = g.parse_header(data[:100], resume=partial.resume)
    assert isinstance(shorter, g.NeedMoreBytes) and shorter.needed <= partial.needed
    limited = g.parse_header(data, resume=partial.resume, limits=g.Limits(max_kv_count=1000))
    assert limited == parse_full(data)


def test_needed_includes_minimum_of_what_follows() -> None:
    data = build([ARCH, kv("x.y", 4, scalar(4, 1))], [tinfo("t", [32], 0, 0)])
    result = g.parse_header(data[:30])
    assert isinstance(result, g.NeedMoreBytes)
    # stuck at 24 on the first key's length (8 bytes); that entry needs >= 5 more (type tag and a
    # 1-byte value), the other entry >= 13, the tensor info >= 24
    assert result.needed == 24 + 8 + 5 + 13 + 24
    assert result.needed <= len(data)
    assert "metadata" in result.what


def test_input_types(generated: Path) -> None:
    data = generated.read_bytes()
    full = parse_full(data)
    assert parse_full(bytearray(data)) == full
    assert parse_full(memoryview(data)) == full
    assert parse_full(memoryview(data).cast("B", (len(data),))) == full
    words = memoryview(data[: len(data) // 4 * 4]).cast("I")
    assert parse_full(words) == full


# --- conveniences -------------------------------------------------------------------------------


def test_read_header_grows_geometrically(models_dir: Path) -> None:
    path = models_dir / "vocab/ggml-vocab-gemma-4.gguf"
    data = path.read_bytes()
    reads: list[tuple[int, int]] = []

    def read(offset: int, size: int) -> bytes:
        reads.append((offset, size))
        return data[offset : offset + size]

    header = g.read_header(read, first_read=4096)
    assert header == parse_full(data)
    assert len(reads) <= 14
    assert all(size >= offset for offset, size in reads[1:])  # each read at least doubles
    assert g.read_header_file(path) == header


def test_read_header_truncated_file(generated: Path, tmp_path: Path) -> None:
    data = generated.read_bytes()
    full = parse_full(data)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: full.header_size - 10])
    with pytest.raises(g.TruncatedError, match="cut short"):
        g.read_header_file(cut)
    cut.write_bytes(data[: full.data_offset + 10])  # header complete, tensor data missing
    with pytest.raises(g.TruncatedError, match="tensors need"):
        g.read_header_file(cut)
    with pytest.raises(g.TruncatedError):
        g.read_header(lambda o, n: data[: full.header_size - 1][o : o + n], first_read=64)


def test_read_header_with_file_size(generated: Path) -> None:
    data = generated.read_bytes()
    calls = []

    def read(offset: int, size: int) -> bytes:
        calls.append(size)
        return data[offset : offset + size]

    assert g.read_header(read, file_size=len(data), first_read=16) == parse_full(data)
    assert sum(calls) <= len(data)


# --- header accessors and arrays ----------------------------------------------------------------


def test_header_accessors(generated: Path) -> None:
    data = generated.read_bytes()
    header = parse_full(data)
    assert header.architecture == "llama"
    assert "general.name" in header and "nope" not in header
    assert header.get("nope", 7) == 7
    tensor = header.tensor("output_norm.weight")
    assert tensor is not None and tensor.shape == (64,) and tensor.n_dims == 1
    assert tensor.type_name == "F32" and tensor.n_bytes == 256
    assert header.tensor("missing") is None
    assert header.expected_file_size == len(data)
    assert header.data_offset == g.align_up(header.header_size, 32)
    assert g.tensor_nbytes(g.GGMLType.Q4_K, (512, 3)) == 2 * 144 * 3


def test_gguf_array_api(generated: Path) -> None:
    header = parse_full(generated.read_bytes())
    strings = header.get("a.str")
    assert isinstance(strings, g.GGUFArray)
    expected = ["x", "", "ünïcödé", "a" * 300, "Ġhello"]
    assert len(strings) == 5 and strings.count == 5
    assert list(strings) == expected
    assert strings[2] == "ünïcödé" and strings[-1] == "Ġhello"
    assert strings[1:4] == expected[1:4]
    assert strings[::2] == expected[::2]
    assert strings[3:1] == []
    assert strings.head(2) == expected[:2]
    assert strings.head(-1) == []
    with pytest.raises(IndexError):
        strings[5]
    assert "5 items" in repr(strings)
    ints = header.get("a.i32")
    assert ints[10:13] == [-40, -39, -38] and ints[-1] == 49
    assert ints.nbytes == 400
    assert ints != strings and ints == header.get("a.i32")
    assert (ints == [1]) is False
    nested = header.get("a.nested_strings")
    assert nested[2].to_list() == ["", "dd", "e"]
    assert [inner.to_list() for inner in nested] == NESTED_STRINGS
    assert header.get("a.deep")[0][1].to_list() == [3]
    assert header.metadata["a.deep"].to_python() == DEEP
    assert header.metadata["t.u8"].to_python() == 255


def test_big_arrays_stay_encoded(models_dir: Path) -> None:
    header = g.read_header_file(models_dir / "vocab/ggml-vocab-qwen2.gguf")
    tokens = header.get("tokenizer.ggml.tokens")
    assert isinstance(tokens, g.GGUFArray) and len(tokens) == 151936
    assert tokens.head(3) == ["!", '"', "#"]
    assert tokens[151935] == list(tokens)[-1]
    assert header.get("tokenizer.ggml.token_type")[:2] == [1, 1]


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hint"),
    [
        (b"<!DOCTYPE html><html>", "web page"),
        (b"  <html>", "web page"),
        (b'{"error": "not found"}', "JSON"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:", "Git LFS"),
        (b"PK\x03\x04rest", "ZIP"),
        (b"tjgg\x03\x00\x00\x00", "GGML"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"GGUX" + bytes(20), "not a GGUF"),
        (b"X", "not a GGUF"),
        (b"GGX", "not a GGUF"),
    ],
)
def test_bad_magic(start: bytes, hint: str) -> None:
    error = raises(g.BadMagicError, start, match=hint)
    assert error.offset == 0


def test_magic_prefix_needs_more() -> None:
    for n in range(4):
        result = g.parse_header(b"GGUF"[:n])
        assert isinstance(result, g.NeedMoreBytes) and result.needed == g.FIXED_HEADER_SIZE


def test_empty_file() -> None:
    raises(g.TruncatedError, b"", match="empty", file_size=0)


@pytest.mark.parametrize("version", [0, 1, 4, 99, 0xFFFF_FFFF])
def test_unsupported_version(version: int) -> None:
    error = raises(g.UnsupportedVersionError, build([], version=version), match=str(version))
    assert error.offset == 4
    if version == 1:
        assert "obsolete" in str(error)


def test_big_endian(tmp_path: Path) -> None:
    path = tmp_path / "be.gguf"
    writer = gguf.GGUFWriter(path, "llama", endianess=gguf.GGUFEndian.BIG)
    writer.add_uint32("llama.block_count", 1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    raises(g.BigEndianError, path.read_bytes(), match="big-endian")
    raises(g.BigEndianError, b"GGUF\x00\x00\x00\x02")


def test_truncated_with_file_size(generated: Path) -> None:
    data = generated.read_bytes()
    full = parse_full(data)
    for n in (5, 24, 100, full.header_size - 1):
        raises(g.TruncatedError, data[:n], match="cut short", file_size=n)
    # the file is said to be longer than the header but too short for the tensor data
    raises(g.TruncatedError, data[:-1], match="tensors need", file_size=len(data) - 1)
    # a prefix of a file whose known size is too small for the header
    raises(g.TruncatedError, data[: full.header_size - 5], file_size=full.header_size - 1)
    early = g.parse_header(data[:100], file_size=full.header_size - 1)  # cannot tell yet
    assert isinstance(early, g.NeedMoreBytes)
    # file_size smaller than the data given is taken as len(data)
    assert parse_full(data, file_size=10) == full


def test_limits_on_counts() -> None:
    raises(g.LimitExceededError, build([], n_tensors=2**40), match="tensors")
    raises(g.LimitExceededError, build([], n_kv=2**40), match="metadata entries")
    raises(g.LimitExceededError, build([], n_kv=2**64 - 1), match="metadata entries")
    small = g.Limits(max_kv_count=1, max_tensor_count=0)
    raises(g.LimitExceededError, build([ARCH, ARCH]), limits=small)
    raises(g.LimitExceededError, build([], [tinfo("t", [1], 0, 0)]), limits=small)


def test_limits_on_lengths() -> None:
    huge_key = struct.pack("<Q", 2**62)
    raises(g.LimitExceededError, build([huge_key]), match="length")
    raises(g.LimitExceededError, build([kv("k", 8, struct.pack("<Q", 2**60))]), match="length")
    raises(g.LimitExceededError, build([kv("k", 9, struct.pack("<IQ", 5, 2**50))]), match="elem")
    many_strings = kv("k", 9, struct.pack("<IQ", 8, 3) + gstr("a") + struct.pack("<Q", 2**40))
    raises(g.LimitExceededError, build([many_strings]), match="element 1")
    limits = g.Limits(max_string_length=4, max_array_length=2, max_key_length=3)
    raises(g.LimitExceededError, build([kv("k", 8, gstr("hello"))]), limits=limits)
    raises(g.LimitExceededError, build([kv("k", 9, arr(4, [scalar(4, 1)] * 3))]), limits=limits)
    raises(g.LimitExceededError, build([kv("long", 4, scalar(4, 1))]), limits=limits)
    name = "n" * g.GGML_MAX_NAME
    raises(g.LimitExceededError, build([], [tinfo(name, [1], 0, 0)]), match="63")
    assert parse_full(build([], [tinfo(name[:-1], [1], 0, 0)])).tensors[0].name == name[:-1]


def test_limit_on_depth() -> None:
    payload = arr(5, [scalar(5, 1)])
    for _ in range(g.MAX_ARRAY_DEPTH - 1):
        payload = arr(9, [payload])
    assert parse_full(build([kv("k", 9, payload)])).get("k").to_list() == [[[[[[[[1]]]]]]]]
    raises(g.LimitExceededError, build([kv("k", 9, arr(9, [payload]))]), match="levels")


def test_limit_on_header_size() -> None:
    limits = g.Limits(max_header_size=1000)
    data = build([kv("k", 9, struct.pack("<IQ", 4, 300))])  # needs 24 + 8+1+4+12 + 1200 bytes
    raises(g.LimitExceededError, data, match="header would be", limits=limits)
    raises(g.LimitExceededError, build([], n_kv=10_000), limits=limits)


def test_unknown_value_type() -> None:
    raises(g.UnknownValueTypeError, build([kv("k", 13, b"")]), match="unknown value type")
    raises(g.UnknownValueTypeError, build([kv("k", 9, struct.pack("<IQ", 77, 1))]))
    nested_bad = kv("k", 9, arr(9, [struct.pack("<IQ", 2**31, 0)]))
    raises(g.UnknownValueTypeError, build([nested_bad]))


@pytest.mark.parametrize("type_id", [4, 5, 31, 32, 33, 36, 37, 38, 42, 2**32 - 1])
def test_unknown_tensor_type(type_id: int) -> None:
    raises(g.UnknownTensorTypeError, build([], [tinfo("t", [32], type_id, 0)]), match="type")


def test_tensor_shapes() -> None:
    raises(g.TensorLayoutError, build([], [tinfo("t", [1, 1, 1, 1, 1], 0, 0)]), match="dimension")
    raises(g.TensorLayoutError, build([], [tinfo("t", [33], 2, 0)]), match="block size 32")
    raises(g.TensorLayoutError, build([], [tinfo("t", [2**63], 0, 0)]), match="impossible")
    raises(g.TensorLayoutError, build([], [tinfo("t", [2**32, 2**32], 0, 0)]), match="impossible")
    scalar_tensor = parse_full(build([], [tinfo("t", [], 0, 0)])).tensors[0]
    assert scalar_tensor.shape == () and scalar_tensor.n_elements == 1
    assert scalar_tensor.n_bytes == 4
    empty = parse_full(build([], [tinfo("t", [0, 5], 0, 0)])).tensors[0]
    assert empty.n_elements == 0 and empty.n_bytes == 0


def test_tensor_offsets() -> None:
    ok = parse_full(build([], [tinfo("a", [8], 0, 0), tinfo("b", [8], 0, 64)]))
    assert ok.tensor_data_size == 64 + 32
    raises(g.AlignmentError, build([], [tinfo("a", [8], 0, 16)]), match="alignment 32")
    overlap = [tinfo("a", [16], 0, 0), tinfo("b", [8], 0, 32)]  # a is 64 bytes
    raises(g.TensorLayoutError, build([], overlap), match="inside")
    unordered = [tinfo("a", [8], 0, 64), tinfo("b", [8], 0, 0)]
    raises(g.TensorLayoutError, build([], unordered), match="before")
    raises(g.TensorLayoutError, build([], [tinfo("a", [8], 0, 2**63 - 32)]), match="past")


@pytest.mark.parametrize(
    ("payload", "vtype", "match"),
    [
        (scalar(4, 0), 4, "not a power of two"),
        (scalar(4, 48), 4, "not a power of two"),
        (scalar(4, 3), 4, "not a power of two"),
        (scalar(10, 64), 10, "uint32"),
        (gstr("32"), 8, "uint32"),
    ],
)
def test_bad_alignment(payload: bytes, vtype: int, match: str) -> None:
    raises(g.AlignmentError, build([kv("general.alignment", vtype, payload)]), match=match)


def test_alignment_applies() -> None:
    data = build([kv("general.alignment", 4, scalar(4, 8))], [tinfo("a", [2], 0, 8)])
    header = parse_full(data)
    assert header.alignment == 8 and header.data_offset == g.align_up(len(data), 8)


def test_duplicates() -> None:
    raises(g.DuplicateKeyError, build([ARCH, ARCH]), match="general.architecture")
    twice = [tinfo("a", [8], 0, 0), tinfo("a", [8], 0, 32)]
    raises(g.DuplicateTensorError, build([], twice), match="'a'")


@pytest.mark.parametrize(
    "data",
    [
        build([kv(b"bad\xff", 4, scalar(4, 1))]),
        build([kv("k", 8, gstr(b"\xc3"))]),
        build([kv("k", 8, gstr(b"ok\xed\xa0\x80"))]),  # a UTF-16 surrogate
        build([kv("k", 9, arr(8, [gstr("a"), gstr(b"b\xc3"), gstr(b"\xa9")]))]),
        build([kv("k", 9, arr(8, [gstr("a" * 200), gstr(b"\xff")]))]),  # long-length path
        build([kv("k", 9, arr(8, [gstr(b"\xff" * 130)]))]),
        build([kv("k", 9, arr(8, [gstr("a" * 130), gstr("b"), gstr(b"c\x80")]))]),
        build([kv("k", 9, arr(9, [arr(8, [gstr(b"\xfe")])]))]),
        build([], [tinfo(b"t\xff", [8], 0, 0)]),
    ],
)
def test_invalid_utf8(data: bytes) -> None:
    raises(g.InvalidStringError, data, match="UTF-8")


def test_valid_utf8_arrays_with_long_strings() -> None:
    values = ["é" * 100, "x", "ü" * 64, "", "✓" * 300]
    data = build([kv("k", 9, arr(8, [gstr(v) for v in values]))])
    assert parse_full(data).get("k").to_list() == values


def test_bool_bytes_other_than_one_are_true() -> None:
    assert parse_full(build([kv("k", 7, b"\x02")])).get("k") is True


def test_errors_carry_offsets() -> None:
    data = build([ARCH, kv("k", 13, b"")])
    error = raises(g.UnknownValueTypeError, data)
    assert error.offset == 24 + len(ARCH) + 9


def iter_prefix_errors(data: bytes) -> Iterator[int]:
    for n in range(len(data)):
        try:
            g.parse_header(data[:n], file_size=n)
        except g.TruncatedError:
            yield n


def test_every_cut_of_a_small_file_is_truncated() -> None:
    data = build(
        [ARCH, kv("k", 9, arr(9, [arr(8, [gstr("ab")]), arr(6, [scalar(6, 1.0)])]))],
        [tinfo("t", [4, 2], 1, 0)],
    )
    assert list(iter_prefix_errors(data)) == list(range(len(data)))
