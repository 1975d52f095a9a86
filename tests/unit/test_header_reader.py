"""localwebai.gguf.HeaderReader: the sans-IO policy of which byte ranges to read for a header."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path
from typing import Any

import pytest
from localwebai import gguf as g
from localwebai.gguf import reader as reader_module

KEY = b"general.name"
FIXED_AND_ENTRY = 24 + 8 + len(KEY) + 4 + 8
"""Header bytes before the string value: fixed header, key, type tag, string length."""


def gguf_file(value_length: int, *, tensor_elements: int = 0) -> bytes:
    """A GGUF v3 file with one string entry of ``value_length`` bytes and, when
    ``tensor_elements`` is not 0, one F32 tensor of that many elements (with its data)."""
    n_tensors = 1 if tensor_elements else 0
    header = b"GGUF" + struct.pack("<IQQ", 3, n_tensors, 1)
    header += struct.pack("<Q", len(KEY)) + KEY + struct.pack("<IQ", 8, value_length)
    header += b"x" * value_length
    if not tensor_elements:
        return header
    header += struct.pack("<Q", 1) + b"t" + struct.pack("<IQIQ", 1, tensor_elements, 0, 0)
    return header + bytes(g.align_up(len(header), 32) - len(header)) + bytes(4 * tensor_elements)


def drive(reader: g.HeaderReader, data: bytes, ranges: list[tuple[int, int]]) -> g.GGUFHeader:
    """Serve ``reader``'s ranges from ``data`` (as a file would: short at its end)."""
    while (span := reader.next_range()) is not None:
        ranges.append(span)
        start, end = span
        reader.feed(data[start:end])
    return reader.header


def test_a_header_within_the_first_read_takes_one_read_clamped_to_the_size() -> None:
    data = gguf_file(1000)
    ranges: list[tuple[int, int]] = []
    header = drive(g.HeaderReader(len(data), first_read=4096), data, ranges)
    assert ranges == [(0, len(data))]
    assert header.header_size == FIXED_AND_ENTRY + 1000 == len(data)
    assert header.get("general.name") == "x" * 1000


def test_a_header_bigger_than_the_first_read_reads_what_the_parser_needs() -> None:
    data = gguf_file(10_000)
    for size in (len(data), None):
        ranges: list[tuple[int, int]] = []
        header = drive(g.HeaderReader(size, first_read=64), data, ranges)
        # the string's length prefix is in the first 64 bytes: the second read ends with it
        assert ranges == [(0, 64), (64, FIXED_AND_ENTRY + 10_000)]
        assert header.header_size == len(data)


def test_reads_at_least_double_what_is_held() -> None:
    data = gguf_file(100, tensor_elements=1 << 20)  # 4 MiB of tensor data after the header
    ranges: list[tuple[int, int]] = []
    header = drive(g.HeaderReader(None, first_read=16), data, ranges)
    # 48: the fixed header and the smallest tensor info (more than doubling 16); then doubling
    assert ranges == [(0, 16), (16, 48), (48, 96), (96, 192)]
    assert header.header_size == FIXED_AND_ENTRY + 100 + 8 + 1 + 4 + 8 + 4 + 8 == 189
    assert header.tensors[0].n_bytes == 4 << 20


def test_a_real_vocabulary_takes_few_growing_reads_and_at_most_twice_the_header(
    models_dir: Path,
) -> None:
    data = (models_dir / "vocab/ggml-vocab-qwen2.gguf").read_bytes()
    for size in (len(data), None):
        ranges: list[tuple[int, int]] = []
        header = drive(g.HeaderReader(size, first_read=4096), data, ranges)
        assert header == g.parse_header(data, file_size=len(data))
        assert ranges[0] == (0, 4096)
        for (_, held), (start, end) in itertools.pairwise(ranges):
            assert start == held
            assert end >= 2 * held or end == size  # a vocab file is all header: the last is clamped
        assert len(ranges) <= 12
        assert ranges[-1][1] <= 2 * header.header_size


def test_a_short_read_is_the_end_of_the_file() -> None:
    data = gguf_file(1000)
    ranges: list[tuple[int, int]] = []
    header = drive(g.HeaderReader(None, first_read=4096), data, ranges)
    assert ranges == [(0, 4096)]
    assert header.header_size == len(data)
    # a size that is wrong (too big) is corrected by the short read, too
    ranges.clear()
    assert drive(g.HeaderReader(10 * len(data), first_read=4096), data, ranges) == header
    assert ranges == [(0, 4096)]


def test_a_short_read_inside_the_header_is_a_truncated_file() -> None:
    data = gguf_file(10_000)[:5000]
    ranges: list[tuple[int, int]] = []
    with pytest.raises(g.TruncatedError, match="cut short: it has 5,000 bytes"):
        drive(g.HeaderReader(None, first_read=64), data, ranges)
    assert ranges == [(0, 64), (64, FIXED_AND_ENTRY + 10_000)]


def test_a_known_size_too_small_for_the_header_is_a_truncated_file() -> None:
    data = gguf_file(10_000)[:5000]
    ranges: list[tuple[int, int]] = []
    with pytest.raises(g.TruncatedError, match="cut short"):
        drive(g.HeaderReader(len(data), first_read=64), data, ranges)
    assert ranges == [(0, 64)]  # it needs more than the file has: no pointless second read


def test_missing_tensor_data_is_a_truncated_file() -> None:
    data = gguf_file(100, tensor_elements=1024)
    with pytest.raises(g.TruncatedError, match="tensors need"):
        drive(g.HeaderReader(len(data) - 1), data[:-1], [])
    with pytest.raises(g.TruncatedError, match="tensors need"):
        drive(g.HeaderReader(None), data[:-1], [])


def test_an_empty_file_and_a_non_gguf_file_are_gguf_errors() -> None:
    with pytest.raises(g.TruncatedError, match="empty"):
        drive(g.HeaderReader(None), b"", [])
    with pytest.raises(g.BadMagicError, match="not a GGUF model"):
        drive(g.HeaderReader(None), b"\x89PNG\r\n\x1a\n" + bytes(100), [])


def test_limits_are_the_parsers() -> None:
    data = gguf_file(10_000)
    limits = g.Limits(max_header_size=4096)
    with pytest.raises(g.LimitExceededError, match="the limit is 4,096"):
        drive(g.HeaderReader(len(data), first_read=64, limits=limits), data, [])


def test_each_parse_resumes_the_previous_one(monkeypatch: pytest.MonkeyPatch) -> None:
    resumes: list[g.ParseProgress | None] = []

    def spy(
        data: bytearray, *, resume: g.ParseProgress | None, **kwargs: Any
    ) -> g.GGUFHeader | g.NeedMoreBytes:
        resumes.append(resume)
        return g.parse_header(data, resume=resume, **kwargs)

    monkeypatch.setattr(reader_module, "parse_header", spy)
    data = gguf_file(100, tensor_elements=1024)
    drive(g.HeaderReader(len(data), first_read=64), data, [])
    assert len(resumes) == 3
    assert resumes[0] is None and all(r is not None for r in resumes[1:])


def test_the_header_is_there_only_once_parsed() -> None:
    data = gguf_file(10)
    reader = g.HeaderReader(len(data))
    with pytest.raises(RuntimeError, match="not parsed yet"):
        _ = reader.header
    reader.feed(data)
    assert reader.next_range() is None
    assert reader.header.header_size == len(data)
    with pytest.raises(RuntimeError, match="already parsed"):
        reader.feed(b"")
