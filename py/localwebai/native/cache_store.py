"""The native side of the model cache: a folder per model, and Range downloads over urllib.

Layout under the cache folder (``default_cache_dir()``)::

    <model id>/record.json   the ModelRecord (the same JSON the page keeps in IndexedDB)
    <model id>/model.gguf    the file itself, chunk i at byte i x chunk_size (written sparse)
    downloads/               files of unknown size (not cached, as in the page)

Chunks are written straight to their place in ``model.gguf``, so a complete model is one
ordinary GGUF file llama.cpp maps as it is: nothing is copied or joined. As everywhere, the
record is the truth: a chunk counts only once the record marks it, after it was written.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..cache import (
    CacheError,
    ChunkStore,
    FetchedChunk,
    ModelCache,
    QuotaExceeded,
    RangeUnsupported,
    RemoteFile,
    RemoteInfo,
    StorageEstimate,
    StorageFullError,
    TransferCut,
    digest_string,
    url_model_id,
)
from ..errors import AbortedError, NetworkError
from .blobs import (
    PIECE,
    FileBlobOps,
    FileRegion,
    check_digest,
    copy_body,
    open_url,
    remote_info,
)

RECORD = "record.json"
MODEL = "model.gguf"
DOWNLOADS = "downloads"
_MODEL_ID = re.compile(r"[A-Za-z0-9_-]+")


def default_cache_dir() -> Path:
    """``$LOCALWEBAI_CACHE``, else ``$XDG_CACHE_HOME/localwebai``, else ``~/.cache/localwebai``."""
    if chosen := os.environ.get("LOCALWEBAI_CACHE"):
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "localwebai"


def _write_error(path: Path, error: OSError) -> CacheError:
    if error.errno == errno.ENOSPC:
        return StorageFullError(
            f"The disk is full: could not write {path}. What is downloaded is kept: free "
            "space and load (or pull) it again to resume."
        )
    return CacheError(f"Cannot write {path}: {error.strerror}.")


class FileChunkStore(ChunkStore):
    """Records and chunks in the cache folder; a write that finds the disk full is a quota."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, model_id: str) -> Path:
        if not _MODEL_ID.fullmatch(model_id):
            raise CacheError(f"Not a model id: {model_id!r}.")
        return self.root / model_id

    def model_path(self, model_id: str) -> Path:
        """Where the model's bytes live (chunks in place, sparse until complete)."""
        return self.folder(model_id) / MODEL

    def _record(self, model_id: str) -> dict[str, Any]:
        try:
            return json.loads((self.folder(model_id) / RECORD).read_text())
        except (OSError, ValueError):
            raise CacheError(f"The cache has no readable record of {model_id}.") from None

    async def records(self) -> list[dict[str, Any]]:
        found = []
        for record in sorted(self.root.glob(f"*/{RECORD}")):
            try:
                found.append(json.loads(record.read_text()))
            except (OSError, ValueError):
                found.append({"id": record.parent.name})  # unreadable: the cache discards it
        return found

    async def put_record(self, stored: dict[str, Any]) -> None:
        folder = self.folder(str(stored["id"]))
        path = folder / RECORD
        partial = path.with_suffix(".tmp")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(stored, indent=1))
            os.replace(partial, path)  # never half a record
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise QuotaExceeded from None
            raise _write_error(path, error) from None

    async def delete_model(self, model_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.folder(model_id), True)

    def region(self, model_id: str, index: int) -> FileRegion:
        """Where chunk ``index`` belongs in the model file (per the record's chunk size)."""
        record = self._record(model_id)
        chunk_size, size = int(record["chunk_size"]), int(record["size"])
        start = index * chunk_size
        return FileRegion(self.model_path(model_id), start, min(start + chunk_size, size))

    async def put_chunk(
        self, model_id: str, index: int, blob: FileRegion, as_bytes: bool = False
    ) -> None:
        """Downloaded chunks (and the first parts of cut ones) were written in place already;
        anything else is copied there (files hold bytes: ``as_bytes`` changes nothing)."""
        target = self.region(model_id, index)
        if (blob.path, blob.start) == (target.path, target.start):
            return
        try:
            await asyncio.to_thread(_copy_region, blob, target)
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise QuotaExceeded from None
            raise _write_error(target.path, error) from None

    async def get_chunk(self, model_id: str, index: int) -> FileRegion | None:
        try:
            target = self.region(model_id, index)
            return target if target.path.stat().st_size >= target.end else None
        except (CacheError, OSError):
            return None

    async def estimate(self) -> StorageEstimate:
        self.root.mkdir(parents=True, exist_ok=True)
        usage = shutil.disk_usage(self.root)
        return StorageEstimate(usage=usage.total - usage.free, quota=usage.total)


def _copy_region(source: FileRegion, target: FileRegion) -> None:
    target.path.parent.mkdir(parents=True, exist_ok=True)
    target.path.touch(exist_ok=True)
    with source.path.open("rb") as src, target.path.open("r+b") as out:
        src.seek(source.start)
        out.seek(target.start)
        left = source.size
        while left > 0 and (data := src.read(min(PIECE * 8, left))):
            out.write(data)
            left -= len(data)


class HttpRemote(RemoteFile):
    """Range requests over urllib, written straight into the model's file in ``store``."""

    def __init__(self, store: FileChunkStore) -> None:
        self.store = store

    def _target(self, url: str) -> Path:
        path = self.store.model_path(url_model_id(url))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        return path

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
        # ``whole`` changes nothing here: the body is written straight into the file as it
        # arrives either way, so every byte is kept
        check_digest(algorithm)
        response = await open_url(url, {"Range": f"bytes={start}-{end - 1}"})
        with response:
            if response.status != 206:
                raise RangeUnsupported
            path = self._target(url)
            received = 0

            def count(n: int) -> None:
                nonlocal received
                received += n
                on_bytes(n)

            try:
                with path.open("r+b") as out:
                    out.seek(start)
                    written, digest = await copy_body(
                        response, out, end - start, url, signal, count
                    )
            except OSError as error:
                raise _write_error(path, error) from None
            except (NetworkError, AbortedError) as error:  # what arrived is in place: keep it
                part = FileRegion(path, start, start + received)
                aborted = isinstance(error, AbortedError)
                raise TransferCut(str(error), part, remote_info(response), aborted) from None
            region = FileRegion(path, start, start + written)
            return FetchedChunk(region, digest_string("sha256", digest), remote_info(response))

    async def stream_chunks(
        self,
        url: str,
        chunk_size: int,
        signal: Any,
        on_chunk: Callable[[int, FetchedChunk], Awaitable[None]],
        on_bytes: Callable[[int], None],
        algorithm: str,
    ) -> RemoteInfo:
        check_digest(algorithm)
        response = await open_url(url)
        with response:
            remote = remote_info(response)
            path = self._target(url)
            index = 0
            try:
                with path.open("r+b") as out:
                    while True:
                        start = index * chunk_size
                        out.seek(start)
                        written, digest = await copy_body(
                            response, out, chunk_size, url, signal, on_bytes
                        )
                        if not written:
                            break
                        region = FileRegion(path, start, start + written)
                        fetched = FetchedChunk(region, digest_string("sha256", digest), remote)
                        await on_chunk(index, fetched)
                        index += 1
            except OSError as error:
                raise _write_error(path, error) from None
        return remote


def native_cache(root: Path | None = None) -> ModelCache:
    """The model cache in ``root`` (``default_cache_dir()`` when None)."""
    store = FileChunkStore(root or default_cache_dir())
    return ModelCache(store, HttpRemote(store), FileBlobOps(), clock=time.monotonic)
