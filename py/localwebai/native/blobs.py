"""Model bytes natively: regions of files on disk, HTTP through urllib, and abort handles.

A :class:`FileRegion` plays the part a JS Blob plays in the page: the cache's chunks, a local
model file, and the whole model handed to llama.cpp are all regions of files, so no weights are
ever held in Python. Blocking reads and requests run in worker threads (``asyncio.to_thread``)
a piece at a time, so the event loop stays free and an abort takes effect between pieces.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import itertools
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any, BinaryIO

from ..cache import BlobOps, CacheError, RemoteInfo, digest_string, url_model_id
from ..errors import AbortedError, ModelNotFoundError, ModelSourceError, NetworkError
from ..model_store import DownloadProgress, ModelBytes, RangeBytes

PIECE = 1 << 20
"""Bytes per blocking read (network or disk): small enough for prompt aborts and progress."""
TIMEOUT_S = 30.0
"""Seconds without a byte from the server before a request counts as dropped."""
USER_AGENT = "localwebai"


@dataclass(frozen=True)
class FileRegion:
    """Bytes ``[start, end)`` of a file: the native stand-in for a JS Blob."""

    path: Path
    start: int
    end: int

    @classmethod
    def whole(cls, path: str | Path) -> FileRegion:
        path = Path(path)
        try:
            return cls(path, 0, path.stat().st_size)
        except OSError as error:
            raise ModelSourceError(f"Cannot read {path}: {error.strerror}.") from None

    @property
    def size(self) -> int:
        return self.end - self.start

    def is_whole_file(self) -> bool:
        try:
            return self.start == 0 and self.path.stat().st_size == self.end
        except OSError:
            return False


class AbortSignal:
    """What a JS ``AbortSignal`` is to the core: ``aborted`` turns true once."""

    def __init__(self) -> None:
        self.aborted = False


class AbortController:
    """The core's ``AbortHandle`` natively (``new_abort`` is this class)."""

    def __init__(self) -> None:
        self.signal = AbortSignal()

    def abort(self) -> None:
        self.signal.aborted = True


def check_abort(signal: Any, message: str = "Download cancelled.") -> None:
    if signal is not None and signal.aborted:
        raise AbortedError(message)


def read_region(region: FileRegion, start: int = 0, end: int | None = None) -> bytes:
    """Bytes ``[start, end)`` of a region (blocking; headers and small pieces only)."""
    stop = region.size if end is None else min(end, region.size)
    with region.path.open("rb") as file:
        file.seek(region.start + start)
        return file.read(max(0, stop - start))


def check_digest(algorithm: str) -> None:
    """Natively, chunks get sha256 (``hashlib``; the core asks for nothing else here)."""
    if algorithm != "sha256":
        raise ValueError(f"the native cache computes sha256 chunk digests, not {algorithm}")


class FileBlobOps(BlobOps):
    """The cache's blob operations over file regions; hashing reads a piece at a time."""

    digests = ("sha256",)

    async def digest(self, blob: FileRegion, algorithm: str) -> str:
        check_digest(algorithm)
        return digest_string("sha256", await self.sha256_streamed(blob, lambda _n: None))

    async def sha256_streamed(self, blob: FileRegion, on_bytes: Callable[[int], None]) -> str:
        digest = hashlib.sha256()
        try:
            with blob.path.open("rb") as file:
                file.seek(blob.start)
                left = blob.size
                while left > 0:
                    data = await asyncio.to_thread(file.read, min(PIECE * 8, left))
                    if not data:
                        raise CacheError(f"{blob.path} is shorter than expected.")
                    digest.update(data)
                    left -= len(data)
                    on_bytes(len(data))
        except OSError as error:
            raise CacheError(f"Cannot read {blob.path}: {error.strerror}.") from None
        return digest.hexdigest()

    def join(self, blobs: list[FileRegion]) -> FileRegion:
        """Consecutive regions of one file as one region (the cache only joins those)."""
        first = blobs[0]
        for before, after in itertools.pairwise(blobs):
            if after.path != first.path or after.start != before.end:
                raise CacheError(f"Parts of {first.path} are not consecutive: cannot join them.")
        return FileRegion(first.path, first.start, blobs[-1].end)

    def slice(self, blob: FileRegion, start: int, end: int) -> FileRegion:
        return FileRegion(blob.path, blob.start + start, min(blob.start + end, blob.end))

    def size(self, blob: FileRegion) -> int:
        return blob.size


# ---- HTTP ---------------------------------------------------------------------------------


def _open_url(url: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    """A response to GET ``url`` (blocking); HTTP failures as our errors."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 404:
            raise ModelNotFoundError(
                f"No model at {url}: the server answered 404 Not Found."
            ) from None
        raise ModelSourceError(
            f"Could not download {url}: the server answered {error.code} {error.reason}."
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise NetworkError(f"Could not download {url}: {reason}.") from None


async def open_url(url: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    return await asyncio.to_thread(_open_url, url, headers or {})


async def read_piece(response: http.client.HTTPResponse, size: int, url: str) -> bytes:
    """Up to ``size`` bytes of the body (fewer only at its end); a drop is a NetworkError."""
    try:
        return await asyncio.to_thread(response.read, size)
    except (OSError, http.client.HTTPException) as error:
        raise NetworkError(f"The connection dropped while downloading {url}: {error}.") from None


def remote_info(response: http.client.HTTPResponse) -> RemoteInfo:
    """Size (the Content-Range total of a 206, else Content-Length) and validators."""
    headers: Message = response.headers
    size = None
    if response.status == 206:
        total = (headers.get("Content-Range") or "").rpartition("/")[2]
        size = int(total) if total.isdigit() else None
    elif (length := headers.get("Content-Length") or "").isdigit():
        size = int(length)
    return RemoteInfo(size, headers.get("ETag"), headers.get("Last-Modified"))


async def copy_body(
    response: http.client.HTTPResponse,
    out: BinaryIO,
    length: int | None,
    url: str,
    signal: Any,
    on_bytes: Callable[[int], None],
) -> tuple[int, str]:
    """Write up to ``length`` bytes of the body (all of it when None) to ``out``; the byte
    count and their sha256."""
    digest = hashlib.sha256()
    written = 0
    while length is None or written < length:
        check_abort(signal)
        want = PIECE if length is None else min(PIECE, length - written)
        data = await read_piece(response, want, url)
        if not data:
            break
        await asyncio.to_thread(out.write, data)
        digest.update(data)
        written += len(data)
        on_bytes(len(data))
    return written, digest.hexdigest()


class FileModelBytes(ModelBytes):
    """Model bytes natively: file regions, Range requests, and whole downloads to disk.

    A download of unknown size (not cached, as in the page) goes to ``downloads`` under the
    file's cache id, replaced by the next such download of the same URL.
    """

    def __init__(self, downloads: Path) -> None:
        self.downloads = downloads

    async def read(self, blob: FileRegion, start: int, end: int) -> bytes:
        try:
            return await asyncio.to_thread(read_region, blob, start, end)
        except OSError as error:
            raise ModelSourceError(f"Cannot read {blob.path}: {error.strerror}.") from None

    async def fetch_range(self, url: str, start: int, end: int, signal: Any) -> RangeBytes:
        response = await open_url(url, {"Range": f"bytes={start}-{end - 1}"})
        with response:
            skip = 0 if response.status == 206 else start  # no Range support: read past
            data = b""
            while len(data) < skip + end - start:
                check_abort(signal)
                piece = await read_piece(response, skip + end - start - len(data), url)
                if not piece:
                    break
                data += piece
            return RangeBytes(data=data[skip:], size=remote_info(response).size)

    async def fetch_whole(self, url: str, signal: Any, on_progress: DownloadProgress) -> FileRegion:
        self.downloads.mkdir(parents=True, exist_ok=True)
        path = self.downloads / f"{url_model_id(url)}.gguf"
        partial = path.with_suffix(".part")
        received = 0

        def on_bytes(n: int) -> None:
            nonlocal received
            received += n
            on_progress(received, 0)

        response = await open_url(url)
        try:
            with response, partial.open("wb") as out:
                await copy_body(response, out, None, url, signal, on_bytes)
            os.replace(partial, path)
        except OSError as error:
            raise CacheError(f"Cannot write {path}: {error.strerror}.") from None
        finally:
            partial.unlink(missing_ok=True)
        return FileRegion.whole(path)

    def last_modified_ms(self, file: FileRegion) -> int:
        try:
            return int(file.path.stat().st_mtime * 1000)
        except OSError:
            return 0
