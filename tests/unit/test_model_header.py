"""The async header reader reads only a prefix of the file and grows reads geometrically."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from aio import run
from localwebai.gguf import GGUFError, read_header_file
from localwebai.model_header import inspect_model, read_header


def reader(data: bytes, calls: list[tuple[int, int]]):
    async def read(start: int, end: int) -> bytes:
        calls.append((start, end))
        return data[start:end]

    return read


@pytest.mark.parametrize("name", ["tiny-llama.gguf", "vocab/ggml-vocab-qwen2.gguf"])
def test_reads_header_with_few_growing_reads(models_dir: Path, name: str) -> None:
    data = (models_dir / name).read_bytes()
    calls: list[tuple[int, int]] = []
    header = run(read_header(reader(data, calls), len(data), first_read=4096))
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


def test_inspection_has_provenance_and_memory(models_dir: Path) -> None:
    data = (models_dir / "tiny-llama.gguf").read_bytes()
    inspection = run(inspect_model(reader(data, []), len(data), "tiny.gguf"))
    spec = inspection.spec
    assert (spec.architecture, spec.source, spec.file_size) == ("llama", "tiny.gguf", len(data))
    assert spec.date_added
    assert inspection.memory(2048).fits


def test_unknown_size_reads_until_the_source_ends(models_dir: Path) -> None:
    data = (models_dir / "tiny-llama.gguf").read_bytes()
    header = run(read_header(reader(data, []), None, first_read=4096))
    assert header.data_offset == read_header_file(models_dir / "tiny-llama.gguf").data_offset


def test_metadata_rows_summarise_arrays(models_dir: Path) -> None:
    data = (models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf").read_bytes()
    inspection = run(inspect_model(reader(data, []), len(data), "smol"))
    rows = {key: (kind, text) for key, kind, text in inspection.metadata_rows()}
    assert len(rows) == len(inspection.header.metadata)
    kind, text = rows["tokenizer.ggml.tokens"]
    assert kind == "array[string]"
    assert text.startswith("49,152 items: [") and text.endswith(", …]")
    assert len(text) < 400
    assert rows["general.architecture"] == ("string", "'llama'")
    template_kind, template = rows["tokenizer.chat_template"]
    assert template_kind == "string" and template[-2] == "…" and len(template) < 200


def test_truncated_file_is_a_gguf_error(models_dir: Path) -> None:
    data = (models_dir / "tiny-llama.gguf").read_bytes()[:3000]
    with pytest.raises(GGUFError, match="cut short"):
        run(read_header(reader(data, []), len(data), first_read=1024))


def test_not_gguf_is_a_gguf_error() -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(100)
    with pytest.raises(GGUFError, match="not a GGUF model"):
        run(read_header(reader(data, []), len(data)))
