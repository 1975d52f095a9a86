"""The page's side of the model cache: IndexedDB, Range downloads and Blob hashing.

Implements the three interfaces of :mod:`localwebai.cache` over ``web/js/cache.js``; chunk
contents stay JS Blobs throughout.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import js
from pyodide.ffi import JsException, create_proxy

from ..cache import (
    BlobOps,
    CheckedReads,
    ChunkStore,
    FetchedChunk,
    ModelCache,
    QuotaExceeded,
    RangeUnsupported,
    RemoteFile,
    RemoteInfo,
    StorageEstimate,
    StorageRefused,
    TransferCut,
    digest_string,
)
from .blobs import checked_fetch
from .jsinterop import error_fields, field, glue, present


@dataclass(frozen=True)
class StorageState:
    """What ``navigator.storage`` says: bytes used, the quota, and persistence."""

    estimate: StorageEstimate | None
    """None where the browser has no ``navigator.storage`` (WebKit without the Storage API)."""
    persisted: bool


class IndexedDBStore(ChunkStore):
    """Records go through JSON both ways: plain values, ``None`` kept as ``null``."""

    async def records(self) -> list[dict[str, Any]]:
        return json.loads(str(js.JSON.stringify(await glue.idb.records())))

    async def put_record(self, stored: dict[str, Any]) -> None:
        with _storage_errors("the model's cache record"):
            await glue.idb.putRecord(js.JSON.parse(json.dumps(stored)))

    async def delete_model(self, model_id: str) -> None:
        await glue.idb.deleteModel(model_id)

    async def put_chunk(self, model_id: str, index: int, blob: Any, as_bytes: bool = False) -> None:
        with _storage_errors("part of the model"):
            await glue.idb.putChunk(model_id, index, blob, as_bytes)

    async def get_chunk(self, model_id: str, index: int) -> Any | None:
        blob = await glue.idb.getChunk(model_id, index)
        return present(blob)

    async def estimate(self) -> StorageEstimate | None:
        return (await storage_state()).estimate


@contextlib.contextmanager
def _storage_errors(what: str) -> Iterator[None]:
    """A refused IndexedDB write as the core's errors: ``QuotaExceeded`` (the core says how
    much is needed and keeps what is stored) or ``StorageRefused``."""
    try:
        yield
    except JsException as error:
        name, _, message = error_fields(error)
        if name == "QuotaExceededError":
            raise QuotaExceeded from None
        raise StorageRefused(f"The browser could not store {what}: {message}") from None


def _remote(info: Any) -> RemoteInfo:
    size = field(info, "size")
    return RemoteInfo(
        size=None if size is None else int(size),
        etag=field(info, "etag"),
        last_modified=field(info, "lastModified"),
    )


class FetchRemote(RemoteFile):
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
        progress = create_proxy(lambda n: on_bytes(int(n)))
        options = js.Object.new()
        options.signal = signal
        options.onBytes = progress
        options.algorithm = algorithm
        options.whole = whole
        try:
            result = await checked_fetch(glue.fetchChunk(url, start, end, options), url, signal)
        finally:
            progress.destroy()
        if not result.ranged:
            raise RangeUnsupported
        remote = _remote(result.remote)
        if result.cut:
            message = f"The connection broke off: {result.message}."
            raise TransferCut(message, result.blob, remote, aborted=bool(result.aborted))
        return FetchedChunk(result.blob, digest_string(algorithm, str(result.digest)), remote)

    async def stream_chunks(
        self,
        url: str,
        chunk_size: int,
        signal: Any,
        on_chunk: Callable[[int, FetchedChunk], Awaitable[None]],
        on_bytes: Callable[[int], None],
        algorithm: str,
    ) -> RemoteInfo:
        async def chunk(index: Any, blob: Any, digest: Any, remote: Any) -> None:
            fetched = FetchedChunk(blob, digest_string(algorithm, str(digest)), _remote(remote))
            await on_chunk(int(index), fetched)

        chunk_proxy = create_proxy(chunk)
        progress = create_proxy(lambda n: on_bytes(int(n)))
        options = js.Object.new()
        options.signal = signal
        options.onChunk = chunk_proxy
        options.onBytes = progress
        options.algorithm = algorithm
        try:
            result = await checked_fetch(glue.streamChunks(url, chunk_size, options), url, signal)
        finally:
            chunk_proxy.destroy()
            progress.destroy()
        return _remote(result.remote)


@dataclass
class JsCheckedModel:
    """The core's ``CheckedModel`` over web/js/cache.js's ``checkedModel``."""

    model: Any
    on_checked: Any
    """The proxy of the progress callback, destroyed by :meth:`close`."""

    @property
    def blob(self) -> Any:
        return self.model.blob

    def damaged(self) -> list[int]:
        return [int(i) for i in self.model.damaged()]

    def unread(self) -> list[int]:
        return [int(i) for i in self.model.unread()]

    def close(self) -> None:
        self.on_checked.destroy()


class JsBlobOps(BlobOps, CheckedReads):
    digests = ("xxh3", "sha256")  # hash-wasm's XXH3, WebCrypto's sha256 (web/js/cache.js)

    async def digest(self, blob: Any, algorithm: str) -> str:
        return digest_string(algorithm, str(await glue.digestBlob(blob, algorithm)))

    async def sha256_streamed(self, blob: Any, on_bytes: Callable[[int], None]) -> str:
        progress = create_proxy(lambda n: on_bytes(int(n)))
        options = js.Object.new()
        options.onBytes = progress
        try:
            return str(await glue.sha256Streamed(blob, options))
        finally:
            progress.destroy()

    def join(self, blobs: list[Any]) -> Any:
        return glue.joinBlobs(js.Array.of(*blobs))

    def checked_join(
        self, parts: list[Any], expected: list[tuple[str, str]], on_checked: Callable[[int], None]
    ) -> JsCheckedModel:
        progress = create_proxy(lambda n: on_checked(int(n)))
        pairs = js.Array.of(
            *(js.Array.of(algorithm, hex_digest) for algorithm, hex_digest in expected)
        )
        return JsCheckedModel(glue.checkedModel(js.Array.of(*parts), pairs, progress), progress)

    def slice(self, blob: Any, start: int, end: int) -> Any:
        return blob.slice(start, end)

    def size(self, blob: Any) -> int:
        return int(blob.size)


def browser_cache() -> ModelCache:
    """The model cache over this page's IndexedDB and network."""
    return ModelCache(
        IndexedDBStore(), FetchRemote(), JsBlobOps(), clock=lambda: js.performance.now() / 1000
    )


async def storage_state() -> StorageState:
    state = await glue.storageEstimate()
    known = bool(state.known)
    estimate = StorageEstimate(int(state.usage), int(state.quota)) if known else None
    return StorageState(estimate, bool(state.persisted))


async def request_persistence() -> bool:
    """Ask the browser not to evict our storage; its answer (browsers may say no)."""
    return bool(await glue.requestPersistence())
