"""Reading a header from the start of a file, sans I/O: :class:`HeaderReader` says which bytes to
read next and parses what it is fed; :func:`read_header` and :func:`read_header_file` drive it
with a synchronous reader (``localwebai.model_header.read_header`` with an asynchronous one)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from .limits import DEFAULT_LIMITS, Limits
from .parser import parse_header
from .records import GGUFHeader, ParseProgress

FIRST_READ_SIZE: Final = 1 << 20
"""Bytes a :class:`HeaderReader` asks for first (most headers without a big vocab fit in 1 MiB)."""
LOCAL_FIRST_READ_SIZE: Final = 8 << 20
"""The first read where the bytes are already on this machine (a cached chunk, a picked file):
a header with a large vocabulary then parses in one pass instead of four (a 151k-token header:
100 → 52 ms in CPython), for the cost of copying a few more MiB."""


class HeaderReader:
    """The policy of reading a header: which byte range to read next, until it is parsed.

    Loop: read ``next_range()`` (``[start, end)``, contiguous with what was fed) and ``feed`` the
    bytes, until ``next_range()`` is ``None``; then ``header`` holds the result. The first read is
    ``first_read`` bytes; each further one at least doubles what is held (and covers what the
    parser says it needs), so a header of H bytes takes O(log H) reads and never more than about
    2·H bytes in all. Reads stop at ``file_size`` when it is known (``None``: unknown); a short
    read means that the file ends there. ``feed`` raises a ``GGUFError`` subclass for a file that
    is not a valid GGUF header (truncated, corrupt, beyond ``limits``).
    """

    def __init__(
        self,
        file_size: int | None = None,
        *,
        first_read: int = FIRST_READ_SIZE,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._file_size = file_size
        self._limits = limits
        self._data = bytearray()
        self._end = max(1, first_read) if file_size is None else min(file_size, max(1, first_read))
        self._resume: ParseProgress | None = None
        self._header: GGUFHeader | None = None

    def next_range(self) -> tuple[int, int] | None:
        """The byte range ``[start, end)`` to read next, or ``None`` once the header is parsed."""
        return None if self._header is not None else (len(self._data), self._end)

    def feed(self, data: bytes) -> None:
        """Take the bytes read for ``next_range()``; fewer than asked means the file ended."""
        if self._header is not None:
            raise RuntimeError("The header is already parsed; there is nothing more to read.")
        asked = self._end - len(self._data)
        self._data += data
        if len(data) < asked:
            self._file_size = len(self._data)
        result = parse_header(
            self._data, file_size=self._file_size, limits=self._limits, resume=self._resume
        )
        if isinstance(result, GGUFHeader):
            self._header = result
            return
        self._resume = result.resume
        end = max(result.needed, 2 * len(self._data))
        self._end = end if self._file_size is None else min(self._file_size, end)

    @property
    def header(self) -> GGUFHeader:
        """The parsed header (once ``next_range()`` is ``None``)."""
        if self._header is None:
            raise RuntimeError("The header is not parsed yet: read next_range() and feed it.")
        return self._header


def read_header(
    read: Callable[[int, int], bytes],
    *,
    file_size: int | None = None,
    first_read: int = FIRST_READ_SIZE,
    limits: Limits = DEFAULT_LIMITS,
) -> GGUFHeader:
    """Parse a header with a synchronous ``read(offset, size)`` that returns up to ``size`` bytes.

    The reads are :class:`HeaderReader`'s: ``O(log H)`` of them for a header of ``H`` bytes.
    """
    reader = HeaderReader(file_size, first_read=first_read, limits=limits)
    while (span := reader.next_range()) is not None:
        start, end = span
        reader.feed(read(start, end - start))
    return reader.header


def read_header_file(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> GGUFHeader:
    """Parse the header of a local GGUF file."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)

        def read(offset: int, n: int) -> bytes:
            fh.seek(offset)
            return fh.read(n)

        return read_header(read, file_size=size, limits=limits)
