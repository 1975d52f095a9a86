"""Fuzzing localwebai.gguf: mutated real headers and random bytes give a GGUFError or a parse.

Whatever the bytes, the parser must not raise anything but ``GGUFError`` subclasses, must not
hang (each case has a deadline) and must not allocate much more than the bytes it was given.
"""

from __future__ import annotations

import struct
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from localwebai import gguf as g
from localwebai.errors import GGUFError

DEADLINE = timedelta(seconds=3)
FUZZ = settings(
    deadline=DEADLINE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
    database=None,
)
HUGE_VALUES = [
    2**64 - 1, 2**63, 2**63 - 1, 2**62, 2**40, 2**32, 2**32 - 1, 2**31, 2**24 + 1,
    g.MAX_ARRAY_LENGTH + 1, g.MAX_STRING_LENGTH + 1, g.MAX_KV_COUNT + 1, 65535, 257, 13, 9, 5, 0,
]  # fmt: skip


# --- a small header with every kind of item ------------------------------------------------------


def gstr(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def kv(key: str, vtype: int, payload: bytes) -> bytes:
    return gstr(key) + struct.pack("<I", vtype) + payload


def arr(etype: int, elements: list[bytes]) -> bytes:
    return struct.pack("<IQ", etype, len(elements)) + b"".join(elements)


def tinfo(name: str, shape: list[int], ggml_type: int, offset: int) -> bytes:
    return gstr(name) + struct.pack(f"<I{len(shape)}QIQ", len(shape), *shape, ggml_type, offset)


def small_header() -> bytes:
    kvs = [
        kv("general.architecture", 8, gstr("llama")),
        kv("general.alignment", 4, struct.pack("<I", 64)),
        kv("u8", 0, b"\x07"),
        kv("i16", 3, struct.pack("<h", -3)),
        kv("f32", 6, struct.pack("<f", 0.5)),
        kv("bool", 7, b"\x01"),
        kv("u64", 10, struct.pack("<Q", 2**40)),
        kv("f64", 12, struct.pack("<d", 1.25)),
        kv("tokens", 9, arr(8, [gstr(t) for t in ["<s>", "</s>", "héllo", "x" * 140, "", "✓"]])),
        kv("scores", 9, arr(6, [struct.pack("<f", -i) for i in range(6)])),
        kv("nested", 9, arr(9, [arr(5, [struct.pack("<i", 1)]), arr(8, [gstr("a")]), arr(4, [])])),
        kv("template", 8, gstr("{% for m in messages %}{{ m.content }}{% endfor %}")),
    ]
    tensors = [
        tinfo("token_embd.weight", [256, 6], 12, 0),
        tinfo("blk.0.attn_q.weight", [64, 64], 8, 896),
        tinfo("output_norm.weight", [64], 0, 896 + 4352),
    ]
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    return head + b"".join(kvs) + b"".join(tensors)


SMALL = small_header()


def structural_offsets(data: bytes) -> list[int]:
    """Where counts, lengths and type tags sit: the best places to plant absurd values."""
    header = g.parse_header(data)
    assert isinstance(header, g.GGUFHeader)
    offsets = [4, 8, 16]
    for entry in header.metadata.values():
        key_end = entry.offset + 8 + len(entry.key.encode())
        offsets += [entry.offset, key_end, key_end + 4, key_end + 8]
        if isinstance(entry.value, g.GGUFArray):
            offsets += [entry.value.offset - 12, entry.value.offset - 8, entry.value.offset]
    for tensor in header.tensors:
        name_end = tensor.info_offset + 8 + len(tensor.name.encode())
        dims_end = name_end + 4 + 8 * tensor.n_dims
        offsets += [tensor.info_offset, name_end, name_end + 4, dims_end, dims_end + 4]
    return sorted({o for o in offsets if o < len(data)})


SMALL_OFFSETS = structural_offsets(SMALL)


# --- the property -------------------------------------------------------------------------------


def materialize(header: g.GGUFHeader) -> None:
    for entry in header.metadata.values():
        value = entry.to_python()
        if isinstance(entry.value, g.GGUFArray):
            assert len(value) == len(entry.value)
            if len(entry.value):
                last = entry.value[-1]  # random access agrees with the full decode
                if isinstance(last, g.GGUFArray):
                    last = last.to_list()
                assert repr(last) == repr(value[-1])
    assert header.data_offset >= header.header_size
    assert header.data_offset % header.alignment == 0
    end = 0
    for tensor in header.tensors:
        assert tensor.offset >= end and tensor.offset % header.alignment == 0
        assert tensor.n_dims <= g.GGML_MAX_DIMS
        end = tensor.offset + tensor.n_bytes
    assert header.tensor_data_size == end


def check(data: bytes) -> None:
    """Parse as a prefix and as a whole file: only GGUFErrors, and results within contract."""
    for file_size in (None, len(data)):
        try:
            result = g.parse_header(data, file_size=file_size)
        except GGUFError as error:
            event(type(error).__name__)
            assert str(error)
            assert isinstance(error, g.GGUFFormatError)
            continue
        event(type(result).__name__)
        if isinstance(result, g.NeedMoreBytes):
            assert file_size is None
            assert len(data) < result.needed <= g.MAX_HEADER_SIZE
        else:
            assert result.header_size <= len(data)
            materialize(result)


# --- mutation strategies ------------------------------------------------------------------------


@st.composite
def flipped(draw: st.DrawFn, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] ^= draw(st.integers(1, 255))
    return bytes(data)


@st.composite
def planted(draw: st.DrawFn, seed: bytes, offsets: list[int]) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.sampled_from(offsets) | st.integers(0, len(data) - 1))
        value = draw(st.sampled_from(HUGE_VALUES))
        width = draw(st.sampled_from([4, 8]))
        data[pos : pos + width] = (value % (1 << (8 * width))).to_bytes(width, "little")
    return bytes(data[: len(seed)])


@st.composite
def spliced(draw: st.DrawFn, seed: bytes) -> bytes:
    """Bytes inserted or deleted, so everything after is shifted."""
    pos = draw(st.integers(0, len(seed)))
    if draw(st.booleans()):
        return seed[:pos] + draw(st.binary(min_size=1, max_size=16)) + seed[pos:]
    return seed[:pos] + seed[pos + draw(st.integers(1, 16)) :]


@st.composite
def truncated(draw: st.DrawFn, seed: bytes) -> bytes:
    return seed[: draw(st.integers(0, len(seed)))]


def mutations(seed: bytes, offsets: list[int]) -> st.SearchStrategy[bytes]:
    return st.one_of(flipped(seed), planted(seed, offsets), spliced(seed), truncated(seed)).flatmap(
        lambda data: st.just(data) | flipped(data) if data else st.just(data)
    )


# --- tests on the small header ------------------------------------------------------------------


def test_small_seed_is_valid() -> None:
    header = g.parse_header(SMALL)
    assert isinstance(header, g.GGUFHeader)
    assert header.get("nested").to_list() == [[1], ["a"], []]
    assert header.alignment == 64 and len(header.tensors) == 3
    assert len(SMALL_OFFSETS) > 50


@settings(FUZZ, max_examples=4000)
@given(mutations(SMALL, SMALL_OFFSETS))
def test_fuzz_small_header(data: bytes) -> None:
    check(data)


@settings(FUZZ, max_examples=1000)
@given(st.binary(max_size=512))
def test_fuzz_random_bytes(data: bytes) -> None:
    check(data)


@settings(FUZZ, max_examples=1500)
@given(
    st.sampled_from([2, 3]),
    st.integers(0, 8) | st.sampled_from(HUGE_VALUES),
    st.integers(0, 8) | st.sampled_from(HUGE_VALUES),
    st.binary(max_size=512),
)
def test_fuzz_random_body(version: int, n_tensors: int, n_kv: int, body: bytes) -> None:
    """A valid fixed header followed by random bytes goes deeper than random bytes alone."""
    n_tensors %= 2**64
    n_kv %= 2**64
    check(b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv) + body)


@st.composite
def random_values(draw: st.DrawFn) -> tuple[bytes, list[Any]]:
    """A random metadata section with the values it encodes, for a round trip."""
    scalars = {
        0: ("<B", st.integers(0, 255)),
        1: ("<b", st.integers(-128, 127)),
        4: ("<I", st.integers(0, 2**32 - 1)),
        5: ("<i", st.integers(-(2**31), 2**31 - 1)),
        7: ("<?", st.booleans()),
        10: ("<Q", st.integers(0, 2**64 - 1)),
        11: ("<q", st.integers(-(2**63), 2**63 - 1)),
        12: ("<d", st.floats(allow_nan=False)),
    }
    entries, values = [], []
    for i in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from([*scalars, 8, 9]))
        if kind == 8:
            text = draw(st.text(max_size=40))
            payload, value = gstr(text), text
        elif kind == 9:
            etype = draw(st.sampled_from([*scalars, 8]))
            if etype == 8:
                items = draw(st.lists(st.text(max_size=200), max_size=20))
                payload = arr(8, [gstr(t) for t in items])
            else:
                fmt, strategy = scalars[etype]
                items = draw(st.lists(strategy, max_size=20))
                payload = arr(etype, [struct.pack(fmt, v) for v in items])
            value = items
        else:
            fmt, strategy = scalars[kind]
            value = draw(strategy)
            payload = struct.pack(fmt, value)
        entries.append(kv(f"k{i}", kind, payload))
        values.append(value)
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, len(entries)) + b"".join(entries)
    return data, values


@settings(FUZZ, max_examples=300)
@given(random_values())
def test_round_trip_random_metadata(case: tuple[bytes, list[Any]]) -> None:
    data, values = case
    header = g.parse_header(data, file_size=len(data))
    assert isinstance(header, g.GGUFHeader)
    assert [entry.to_python() for entry in header.metadata.values()] == values
    for n in range(0, len(data), max(1, len(data) // 16)):
        partial = g.parse_header(data[:n])
        assert isinstance(partial, g.NeedMoreBytes) and n < partial.needed <= len(data)


# --- tests on real headers ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_header(models_dir: Path) -> tuple[bytes, list[int]]:
    data = (models_dir / "tiny-llama.gguf").read_bytes()
    header = g.parse_header(data)
    assert isinstance(header, g.GGUFHeader)
    seed = data[: header.header_size]
    return seed, structural_offsets(seed)


@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_fuzz_tiny_llama_header(tiny_header: tuple[bytes, list[int]], data: st.DataObject) -> None:
    seed, offsets = tiny_header
    check(data.draw(mutations(seed, offsets)))


@pytest.fixture(scope="session")
def smollm2_header(models_dir: Path) -> bytes:
    with open(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf", "rb") as fh:
        data = fh.read(2 << 20)
    header = g.parse_header(data)
    assert isinstance(header, g.GGUFHeader)
    return data[: header.header_size]


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_fuzz_smollm2_header(smollm2_header: bytes, data: st.DataObject) -> None:
    check(data.draw(st.one_of(flipped(smollm2_header), truncated(smollm2_header))))


# --- memory -------------------------------------------------------------------------------------

MEMORY_SLACK = 256 << 10


def peak_parse_memory(data: bytes, **kwargs: Any) -> int:
    tracemalloc.start()
    try:
        g.parse_header(data, **kwargs)
    except GGUFError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_memory_stays_bounded(tiny_header: tuple[bytes, list[int]], data: st.DataObject) -> None:
    seed, offsets = tiny_header
    mutated = data.draw(st.one_of(planted(seed, offsets), flipped(seed)))
    assert peak_parse_memory(mutated) <= 2 * len(mutated) + MEMORY_SLACK


@pytest.mark.parametrize(
    "data",
    [
        b"GGUF" + struct.pack("<IQQ", 3, g.MAX_TENSOR_COUNT, g.MAX_KV_COUNT),
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv("k", 9, struct.pack("<IQ", 8, 2**24)),
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv("k", 9, struct.pack("<IQ", 9, 2**22)),
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv("k", 8, struct.pack("<Q", 2**24)),
        b"GGUF" + struct.pack("<IQQ", 3, 1, 0) + struct.pack("<Q", 63),
    ],
)
def test_claims_without_bytes_allocate_nothing(data: bytes) -> None:
    """Counts and lengths within the limits but with no bytes behind them."""
    assert peak_parse_memory(data) < MEMORY_SLACK
    assert peak_parse_memory(data, file_size=len(data)) < MEMORY_SLACK
    with pytest.raises(g.TruncatedError):
        g.parse_header(data, file_size=len(data))
