"""Inspect a model from the start of its file: parse the GGUF header, growing the read as the
parser asks, and describe what it says (specification, every metadata key, memory needs).

The reader is injected (``read(start, end) -> bytes``, awaited), so the same loop serves a Blob
slice in the page, HTTP Range requests, or a file in CPython tests; which ranges to read is
:class:`localwebai.gguf.HeaderReader`'s policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .gguf import FIRST_READ_SIZE, GGUFArray, GGUFHeader, HeaderReader, MetadataField
from .memory import MemoryEstimate, estimate_memory
from .spec import ModelSpecification

ReadRange = Callable[[int, int], Awaitable[bytes]]

ARRAY_PREVIEW_ITEMS = 5
"""Array elements shown in the metadata view (the rest is summarised by its length)."""
VALUE_PREVIEW_CHARS = 160
"""Characters of a long string shown in the metadata view (chat templates get their own view)."""


async def read_header(
    read: ReadRange, size: int | None, first_read: int = FIRST_READ_SIZE
) -> GGUFHeader:
    """Parse the header of a file of ``size`` bytes (``None``: unknown), reading only its start.

    The reads are :class:`~localwebai.gguf.HeaderReader`'s: each further read at least doubles
    what is held, so a header of H bytes takes O(log H) reads and never more than about 2·H bytes.
    """
    reader = HeaderReader(size, first_read=first_read)
    while (span := reader.next_range()) is not None:
        reader.feed(await read(*span))
    return reader.header


@dataclass(frozen=True)
class ModelInspection:
    """What a model's header says, ready to show before any weight is downloaded."""

    header: GGUFHeader
    spec: ModelSpecification

    def memory(
        self, n_ctx: int, device_memory_gib: float | None = None, in_browser: bool = True
    ) -> MemoryEstimate:
        return estimate_memory(
            self.spec, n_ctx, device_memory_gib=device_memory_gib, in_browser=in_browser
        )

    def metadata_rows(self) -> list[tuple[str, str, str]]:
        """(key, type, value as text) for every metadata entry, in file order."""
        return [(f.key, _type_name(f), _preview(f.value)) for f in self.header.metadata.values()]


async def inspect_model(
    read: ReadRange, size: int | None, source: str, first_read: int = FIRST_READ_SIZE
) -> ModelInspection:
    """Read and parse the header, and derive the specification with where it came from."""
    header = await read_header(read, size, first_read)
    added = datetime.now(UTC).isoformat(timespec="seconds")
    spec = ModelSpecification.from_header(header, source=source, file_size=size, date_added=added)
    return ModelInspection(header, spec)


def _type_name(field: MetadataField) -> str:
    if isinstance(field.value, GGUFArray):
        return f"array[{field.value.element_type.name.lower()}]"
    return field.type.name.lower()


def _preview(value: object) -> str:
    if isinstance(value, GGUFArray):
        items = ", ".join(_preview(v) for v in value.head(ARRAY_PREVIEW_ITEMS))
        more = ", …" if len(value) > ARRAY_PREVIEW_ITEMS else ""
        return f"{len(value):,} items: [{items}{more}]"
    if isinstance(value, str):
        text = value if len(value) <= VALUE_PREVIEW_CHARS else value[:VALUE_PREVIEW_CHARS] + "…"
        return repr(text)
    return str(value)
