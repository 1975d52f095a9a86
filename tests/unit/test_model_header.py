"""The async header reader reads only a prefix of the file and grows reads geometrically."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from localwebai.gguf import GGUFError, read_header_file
from localwebai.model_header import read_header, read_model_specification


def reader(data: bytes, calls: list[tuple[int, int]]):
    async def read(start: int, end: int) -> bytes:
        calls.append((start, end))
        return data[start:end]

    return read


@pytest.mark.parametrize("name", ["tiny-llama.gguf", "vocab/ggml-vocab-qwen2.gguf"])
def test_reads_header_with_few_growing_reads(models_dir: Path, name: str) -> None:
    data = (models_dir / name).read_bytes()
    calls: list[tuple[int, int]] = []
    header = asyncio.run(read_header(reader(data, calls), len(data), first_read=4096))
    expected = read_header_file(models_dir / name)
    assert list(header.metadata) == list(expected.metadata)
    assert header.data_offset == expected.data_offset
    # contiguous reads, each at least doubling what was held, never past what the header needs
    assert calls[0] == (0, 4096)
    for (_, prev_end), (start, end) in itertools.pairwise(calls):
        assert start == prev_end
        assert end >= 2 * prev_end or end == len(data)
    assert len(calls) <= 12
    assert calls[-1][1] <= max(2 * expected.data_offset, 4096)


def test_specification_has_provenance(models_dir: Path) -> None:
    data = (models_dir / "tiny-llama.gguf").read_bytes()
    spec = asyncio.run(read_model_specification(reader(data, []), len(data), "tiny.gguf"))
    assert (spec.architecture, spec.source, spec.file_size) == ("llama", "tiny.gguf", len(data))
    assert spec.date_added


def test_truncated_file_is_a_gguf_error(models_dir: Path) -> None:
    data = (models_dir / "tiny-llama.gguf").read_bytes()[:3000]
    with pytest.raises(GGUFError, match="cut short"):
        asyncio.run(read_header(reader(data, []), len(data), first_read=1024))


def test_not_gguf_is_a_gguf_error() -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(100)
    with pytest.raises(GGUFError, match="not a GGUF model"):
        asyncio.run(read_header(reader(data, []), len(data)))
