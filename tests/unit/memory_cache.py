"""In-memory implementations of the cache's three interfaces, for CPython tests.

A chunk "blob" is ``bytes``. The fakes misbehave on request, the way browsers and servers do:
the store runs out of quota or loses/corrupts a chunk; the server ignores Range, drops the
connection mid-transfer, or changes its file. Each awaits ``asyncio.sleep(0)`` between steps, so
parallel downloads really interleave.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import xxhash
from localwebai.cache import (
    FetchedChunk,
    QuotaExceeded,
    RangeUnsupported,
    RemoteInfo,
    StorageRefused,
    TransferCut,
    digest_string,
)
from localwebai.cache import StorageEstimate as Estimate
from localwebai.errors import AbortedError, ModelNotFoundError, NetworkError

UNLIMITED = 1 << 50
STREAM_PIECE = 4096


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


HEX_DIGESTS: dict[str, Callable[[bytes], str]] = {
    "xxh3": xxhash.xxh3_64_hexdigest,  # the page's (hash-wasm's XXH3, seed 0)
    "sha256": sha256,
}


def chunk_digest(data: bytes, algorithm: str = "xxh3") -> str:
    """A chunk's digest as records keep it."""
    return digest_string(algorithm, HEX_DIGESTS[algorithm](data))


@dataclass
class AbortSignal:
    """Stands in for a JS ``AbortSignal``: the cache and the fakes read ``.aborted``."""

    aborted: bool = False


def check_abort(signal: Any) -> None:
    if getattr(signal, "aborted", False):
        raise AbortedError("Loading cancelled.")


class MemoryChunkStore:
    """Records (deep-copied, like IndexedDB's structured clone) and chunks in dicts.

    Only chunk bytes count towards ``quota``; ``puts`` logs every stored (model id, index), and
    ``on_put`` (when set) is called after each one: tests use it to cancel at a given point.
    """

    def __init__(self, quota: int | None = None) -> None:
        self.quota = quota
        self.saved: dict[str, dict[str, Any]] = {}
        self.chunks: dict[tuple[str, int], bytes] = {}
        self.puts: list[tuple[str, int]] = []
        self.on_put: Callable[[str, int], None] | None = None
        self.refuses_blobs = False
        """Refuse Blobs, as WebKit's automation profile and some private windows do."""
        self.keeps_bytes = True
        """With ``refuses_blobs``: whether chunks stored as bytes are kept (False: nothing is)."""
        self.byte_puts = 0
        self.reports_estimate = True
        """False: no estimate, like a browser without ``navigator.storage``."""

    @property
    def usage(self) -> int:
        return sum(len(blob) for blob in self.chunks.values())

    def chunk_indexes(self, model_id: str) -> set[int]:
        return {index for mid, index in self.chunks if mid == model_id}

    def corrupt(self, model_id: str, index: int) -> None:
        """Flip one byte of a stored chunk (its size stays the same)."""
        blob = bytearray(self.chunks[(model_id, index)])
        blob[len(blob) // 2] ^= 0xFF
        self.chunks[(model_id, index)] = bytes(blob)

    def lose(self, model_id: str, index: int) -> None:
        del self.chunks[(model_id, index)]

    async def records(self) -> list[dict[str, Any]]:
        await asyncio.sleep(0)
        return [copy.deepcopy(stored) for stored in self.saved.values()]

    async def put_record(self, stored: dict[str, Any]) -> None:
        self.saved[stored["id"]] = copy.deepcopy(stored)
        await asyncio.sleep(0)

    async def delete_model(self, model_id: str) -> None:
        self.saved.pop(model_id, None)
        for key in [key for key in self.chunks if key[0] == model_id]:
            del self.chunks[key]
        await asyncio.sleep(0)

    async def put_chunk(
        self, model_id: str, index: int, blob: bytes, as_bytes: bool = False
    ) -> None:
        if self.refuses_blobs and not (as_bytes and self.keeps_bytes):
            raise StorageRefused("The browser could not store part of the model: Error preparing")
        if as_bytes:
            self.byte_puts += 1
        old = len(self.chunks.get((model_id, index), b""))
        if self.quota is not None and self.usage - old + len(blob) > self.quota:
            raise QuotaExceeded("QuotaExceededError")
        self.chunks[(model_id, index)] = blob
        self.puts.append((model_id, index))
        if self.on_put is not None:
            self.on_put(model_id, index)
        await asyncio.sleep(0)

    async def get_chunk(self, model_id: str, index: int) -> bytes | None:
        await asyncio.sleep(0)
        return self.chunks.get((model_id, index))

    async def estimate(self) -> Estimate | None:
        if not self.reports_estimate:
            return None
        return Estimate(self.usage, UNLIMITED if self.quota is None else self.quota)


class MemoryRemoteFile:
    """One file on a fake server at ``url``, sent in ``piece``-byte network reads.

    ``requests`` logs each Range request's (start, end); ``streams`` counts whole-file responses.
    """

    def __init__(
        self,
        url: str,
        data: bytes,
        *,
        etag: str | None = '"v1"',
        last_modified: str | None = "Mon, 06 Jan 2025 10:00:00 GMT",
        ranges: bool = True,
        piece: int = 256,
    ) -> None:
        self.url = url
        self.data = data
        self.etag = etag
        self.last_modified = last_modified
        self.ranges = ranges
        self.piece = piece
        self.requests: list[tuple[int, int]] = []
        self.whole_requests: list[tuple[int, int]] = []
        """The requests whose body was taken whole (``fetch_chunk``'s ``whole``)."""
        self.streams = 0
        self.bytes_sent = 0
        self.drop_every: int | None = None
        """When set, every Range response breaks after this many bytes."""
        self._drops_left = 0
        self._drop_at = 0
        self._version = 1

    @property
    def info(self) -> RemoteInfo:
        return RemoteInfo(len(self.data), self.etag, self.last_modified)

    def change(self, data: bytes) -> None:
        """Replace the file: new bytes, new validators (each kept only if one was sent)."""
        self._version += 1
        self.data = data
        if self.etag is not None:
            self.etag = f'"v{self._version}"'
        if self.last_modified is not None:
            self.last_modified = f"Tue, 07 Jan 2025 10:00:{self._version:02d} GMT"

    def drop_connection(self, at: int, times: int = 1) -> None:
        """The next ``times`` transfers that reach file offset ``at`` break there."""
        self._drop_at, self._drops_left = at, times

    async def _send(
        self,
        start: int,
        body: bytes,
        signal: Any,
        on_bytes: Callable[[int], None],
        info: RemoteInfo | None = None,
    ) -> None:
        """Deliver ``body`` (the file from ``start``) piece by piece, or break on a drop.

        Given ``info`` (a Range response, whose bytes a page keeps), a drop or a Cancel after
        some bytes raise ``TransferCut`` with them; otherwise a drop is a ``NetworkError``."""
        breaks = self._drops_left > 0 and start <= self._drop_at < start + len(body)
        if breaks:
            self._drops_left -= 1
        drop_at = self._drop_at
        if info is not None and self.drop_every is not None and self.drop_every < len(body):
            breaks, drop_at = True, start + self.drop_every
        sent = 0
        while sent < len(body):
            await asyncio.sleep(0)
            if getattr(signal, "aborted", False) and info is not None and sent:
                raise TransferCut("Download cancelled.", body[:sent], info, aborted=True)
            check_abort(signal)
            n = min(self.piece, len(body) - sent)
            if breaks:
                n = min(n, drop_at - start - sent)
                if n == 0:
                    if info is not None:
                        raise TransferCut("The connection was reset.", body[:sent], info)
                    raise NetworkError("The connection was reset.")
            on_bytes(n)
            sent += n
            self.bytes_sent += n

    def _check_url(self, url: str) -> None:
        if url != self.url:
            raise ModelNotFoundError(f"404: {url}")

    async def fetch_chunk(
        self,
        url: str,
        start: int,
        end: int,
        signal: Any,
        on_bytes: Callable[[int], None],
        algorithm: str,
        whole: bool = False,
    ) -> FetchedChunk:
        check_abort(signal)
        self._check_url(url)
        self.requests.append((start, end))
        if whole:
            self.whole_requests.append((start, end))
        if not self.ranges:
            raise RangeUnsupported(url)
        body, info = self.data[start:end], self.info
        if not whole:
            await self._send(start, body, signal, on_bytes, info)
            return FetchedChunk(body, chunk_digest(body, algorithm), info)
        try:  # as a browser's Response.blob(): all or nothing, reported once
            await self._send(start, body, signal, lambda _n: None, info)
        except TransferCut as cut:
            raise TransferCut(str(cut), b"", info, cut.aborted) from None
        on_bytes(len(body))
        return FetchedChunk(body, chunk_digest(body, algorithm), info)

    async def stream_chunks(
        self,
        url: str,
        chunk_size: int,
        signal: Any,
        on_chunk: Callable[[int, FetchedChunk], Awaitable[None]],
        on_bytes: Callable[[int], None],
        algorithm: str,
    ) -> RemoteInfo:
        check_abort(signal)
        self._check_url(url)
        self.streams += 1
        data, info = self.data, self.info
        for index, start in enumerate(range(0, len(data), chunk_size)):
            body = data[start : start + chunk_size]
            await self._send(start, body, signal, on_bytes)
            await on_chunk(index, FetchedChunk(body, chunk_digest(body, algorithm), info))
        return info


class BytesBlobOps:
    """Blob operations over ``bytes``; ``slices`` logs every (start, end) sliced. ``digests``:
    XXH3 and sha256, as in the page (sha256 alone, as natively)."""

    def __init__(self, digests: tuple[str, ...] = ("xxh3", "sha256")) -> None:
        self.slices: list[tuple[int, int]] = []
        self.digests = digests

    async def digest(self, blob: bytes, algorithm: str) -> str:
        assert algorithm in self.digests
        await asyncio.sleep(0)
        return chunk_digest(blob, algorithm)

    async def sha256_streamed(self, blob: bytes, on_bytes: Callable[[int], None]) -> str:
        digest = hashlib.sha256()
        for start in range(0, len(blob), STREAM_PIECE):
            digest.update(blob[start : start + STREAM_PIECE])
            on_bytes(len(blob[start : start + STREAM_PIECE]))
            await asyncio.sleep(0)
        return digest.hexdigest()

    def join(self, blobs: list[bytes]) -> bytes:
        return b"".join(blobs)

    def slice(self, blob: bytes, start: int, end: int) -> bytes:
        self.slices.append((start, end))
        return blob[start:end]

    def size(self, blob: bytes) -> int:
        return len(blob)


class CheckedBytes(bytes):
    """The blob of a :class:`MemoryCheckedModel`: the whole model's bytes, read by an engine
    through :meth:`MemoryCheckedModel.read` (the way the page's reads are checked)."""

    checked_model: MemoryCheckedModel


class MemoryCheckedModel:
    """The core's ``CheckedModel`` over ``bytes`` parts."""

    def __init__(
        self,
        parts: list[bytes],
        expected: list[tuple[str, str]],
        on_checked: Callable[[int], None],
    ) -> None:
        self.parts = parts
        self.expected = expected
        self.on_checked = on_checked
        self.checked: set[int] = set()
        self.bad: set[int] = set()
        self.closed = False
        self.blob = CheckedBytes(b"".join(parts))
        self.blob.checked_model = self

    def read(self) -> None:
        """An engine reads the model start to end: each part is checked as it is reached;
        a damaged one fails the read (``OSError``), as in the page."""
        for index, part in enumerate(self.parts):
            algorithm, hex_digest = self.expected[index]
            if index not in self.checked:
                if HEX_DIGESTS[algorithm](part) != hex_digest:
                    self.bad.add(index)
                    raise OSError(f"chunk {index + 1} is damaged")
                self.checked.add(index)
                self.on_checked(len(part))

    def damaged(self) -> list[int]:
        return sorted(self.bad)

    def unread(self) -> list[int]:
        return [i for i in range(len(self.parts)) if i not in self.checked | self.bad]

    def close(self) -> None:
        self.closed = True


class CheckingBlobOps(BytesBlobOps):
    """:class:`BytesBlobOps` that also give models checked as they are read, as the page's do
    (the core's ``CheckedReads``); ``checked_models`` logs each one given."""

    def __init__(self, digests: tuple[str, ...] = ("xxh3", "sha256")) -> None:
        super().__init__(digests)
        self.checked_models: list[MemoryCheckedModel] = []
        self.digested = 0

    async def digest(self, blob: bytes, algorithm: str) -> str:
        self.digested += 1
        return await super().digest(blob, algorithm)

    def checked_join(
        self,
        parts: list[bytes],
        expected: list[tuple[str, str]],
        on_checked: Callable[[int], None],
    ) -> MemoryCheckedModel:
        model = MemoryCheckedModel(parts, expected, on_checked)
        self.checked_models.append(model)
        return model


class CancelAtBytes:
    """A signal that fires once the server has sent ``limit`` bytes (Cancel mid-chunk)."""

    def __init__(self, remote: MemoryRemoteFile, limit: int) -> None:
        self.remote = remote
        self.limit = limit

    @property
    def aborted(self) -> bool:
        return self.remote.bytes_sent >= self.limit
