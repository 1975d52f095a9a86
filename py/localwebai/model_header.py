"""Read just enough of a model file to parse its GGUF header, growing the read as the parser asks.

The async twin of ``gguf.read_header``: the reader is injected (``read(start, end) -> bytes``),
so the same loop serves a Blob slice in the page, an HTTP Range request, or a file in tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from .gguf import FIRST_READ_SIZE, GGUFHeader, ParseProgress, parse_header
from .spec import ModelSpecification

ReadRange = Callable[[int, int], Awaitable[bytes]]


async def read_header(read: ReadRange, size: int, first_read: int = FIRST_READ_SIZE) -> GGUFHeader:
    """Parse the header of a ``size``-byte file, reading only as much of its start as needed.

    Each further read at least doubles what is held, so a header of H bytes takes O(log H) reads.
    """
    data = bytearray(await read(0, min(size, first_read)))
    resume: ParseProgress | None = None
    while True:
        result = parse_header(data, file_size=size, resume=resume)
        if isinstance(result, GGUFHeader):
            return result
        resume = result.resume
        end = min(size, max(result.needed, 2 * len(data)))
        data += await read(len(data), end)


async def read_model_specification(read: ReadRange, size: int, source: str) -> ModelSpecification:
    """The model's specification from its header, with where it came from."""
    header = await read_header(read, size)
    added = datetime.now(UTC).isoformat(timespec="seconds")
    return ModelSpecification.from_header(header, source=source, file_size=size, date_added=added)
