"""Model bytes for the engine: read a model's header, and hand over its weights as one blob.

URLs download into the model cache (or load from it, without a request); local files are
imported into it so they survive reloads; cached models are verified chunk by chunk before use
(in the page as the engine reads them: :meth:`ModelStore.load`).
The cache's own decisions are :class:`localwebai.cache.ModelCache`'s; this module picks the path
for each source. Where bytes live is behind :class:`ModelBytes` (JS Blobs and ``fetch`` in the
page, files and HTTP natively, ``bytes`` in tests), so the bytes never pass through here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from .cache import (
    Blob,
    CacheError,
    ModelCache,
    ModelRecord,
    StorageRefused,
    file_model_id,
    url_model_id,
)
from .errors import LocalWebAIError
from .gguf import FIRST_READ_SIZE, LOCAL_FIRST_READ_SIZE
from .model_header import ModelInspection, ReadRange, inspect_model
from .progress import LoadProgress, LoadStage, OnProgress
from .sources import ModelSource

DownloadProgress = Callable[[int, int], None]
"""``(received, total)`` bytes of a download; ``total`` is 0 when the server did not say."""

Started = TypeVar("Started")

UNCACHED_NOTICE = "The server did not say how large the file is: it is loaded but not cached."


@dataclass(frozen=True)
class RangeBytes:
    """Part of a remote file, and what the server said about the whole."""

    data: bytes
    size: int | None


class ModelBytes(Protocol):
    """Where model bytes are read from: slices of a blob, and a URL's bytes."""

    async def read(self, blob: Blob, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of a blob (only ever a header)."""
        ...

    async def fetch_range(self, url: str, start: int, end: int, signal: Any) -> RangeBytes:
        """Bytes ``[start, end)`` of ``url``, by Range request where the server allows it."""
        ...

    async def fetch_whole(self, url: str, signal: Any, on_progress: DownloadProgress) -> Blob:
        """The whole of ``url`` as a blob (for a server that gives no size: not cached)."""
        ...

    def last_modified_ms(self, file: Blob) -> int:
        """A local file's modification time (0 when unknown): part of its cache id."""
        ...


def file_name_of(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]) or url


class ModelStore:
    """Where model bytes come from: the cache, the network, or a local file."""

    def __init__(
        self, cache: ModelCache, model_bytes: ModelBytes, import_files: bool = True
    ) -> None:
        self.cache = cache
        self.bytes = model_bytes
        self.import_files = import_files
        """Copy local files into the cache (the page: a picked File is gone after a reload;
        natively the file stays where it is, so it is loaded in place)."""

    async def _record(self, source: ModelSource) -> ModelRecord | None:
        if source.cached_id is not None:
            record = await self.cache.get(source.cached_id)
            if record is None:
                raise CacheError(f"{source.label} is no longer in the cache.")
            return record
        if source.url is not None:
            return await self.cache.get(url_model_id(source.url))
        return None

    async def inspect(self, source: ModelSource, signal: Any) -> ModelInspection:
        """Parse the header, from the cache when it holds the file's start, else from the source
        (Range requests for a URL, blob slices for a file). No weights are read."""
        if source.file is not None:
            read = partial(self.bytes.read, source.file)
            size = self.cache.blobs.size(source.file)
            return await inspect_model(read, size, source.label, LOCAL_FIRST_READ_SIZE)
        record = await self._record(source)
        url = source.url or (record and record.source_url)
        prefix = None if record is None else await self.cache.header_blob(record)
        if record is not None and prefix is not None:
            read = self._prefix_reader(prefix, source.label, url)
            first_read = min(LOCAL_FIRST_READ_SIZE, self.cache.blobs.size(prefix))
            return await inspect_model(read, record.size, source.label, first_read)
        if url is None:  # an imported file whose first chunk is gone
            raise CacheError(
                f"The cached {source.label} lacks its first part: pick the file again."
            )
        first = await self.bytes.fetch_range(url, 0, FIRST_READ_SIZE, signal)

        async def read_url(start: int, end: int) -> bytes:
            if end <= len(first.data):
                return first.data[start:end]
            return (await self.bytes.fetch_range(url, start, end, signal)).data

        return await inspect_model(read_url, first.size, source.label)

    def _prefix_reader(self, prefix: Blob, label: str, url: str | None) -> ReadRange:
        """Header bytes from the cached start of the file, then (past it) from its URL."""

        async def read(start: int, end: int) -> bytes:
            if end <= self.cache.blobs.size(prefix):
                return await self.bytes.read(prefix, start, end)
            if url is None:
                raise CacheError(f"The cached {label} lacks part of its header.")
            return (await self.bytes.fetch_range(url, start, end, None)).data

        return read

    async def load(
        self,
        source: ModelSource,
        inspection: ModelInspection,
        signal: Any,
        on_progress: OnProgress,
        start: Callable[[Blob], Awaitable[Started]],
        stop: Callable[[], Awaitable[None]],
    ) -> Started:
        """Open the model (:meth:`open`) and start the engine on it (``start``).

        A complete cached model, where the blobs can, is not checked first: the engine starts
        at once on a blob whose chunks are checked as it reads them, so each is read once. A
        damaged chunk fails the engine's read; the load then waits for the verdict on every
        chunk, ends that engine (``stop``, where it had loaded anyway), fetches only the
        damaged chunks again and starts the engine on the repaired model. Nothing uses a model
        before all of its chunks have matched."""
        record = await self._complete_record(source)
        checked = None if record is None else await self.cache.checked_model(record, on_progress)
        if record is None or checked is None:
            blob = await self.open(source, inspection, signal, on_progress)
            on_progress(LoadProgress(LoadStage.INITIALIZING))
            return await start(blob)
        on_progress(LoadProgress(LoadStage.INITIALIZING))
        try:
            started, failure = await _started(start(checked.blob))
            bad = await self.cache.damaged_chunks(record, checked, signal)
        finally:
            checked.close()
        if not bad:
            if failure is not None:
                raise failure
            await self.cache.touch(record)
            return started
        if failure is None:
            await stop()
        blob = await self.cache.repaired(record, bad, signal, on_progress, _notice(on_progress))
        on_progress(LoadProgress(LoadStage.INITIALIZING))
        return await start(blob)

    async def _complete_record(self, source: ModelSource) -> ModelRecord | None:
        """The source's cached record, where it is complete and nothing but its chunks is to
        be checked (a new or unchecked whole-file sha256 is checked first, by :meth:`open`)."""
        if source.file is not None:
            return None
        record = await self._record(source)
        if record is None or not record.complete or _file_check_due(record, source.sha256):
            return None
        return record

    async def open(
        self, source: ModelSource, inspection: ModelInspection, signal: Any, on_progress: OnProgress
    ) -> Blob:
        """The whole model as one blob the engine reads lazily.

        A local file is imported into the cache and handed over as it is; a complete cached
        model is verified (a damaged chunk is fetched again); anything else downloads into the
        cache, resuming what a partial record already holds. Where the browser stores nothing
        (``StorageRefused`` before any chunk), the model loads uncached, with a notice."""
        notice = _notice(on_progress)
        if source.file is not None:
            if self.import_files:
                await self._import(source, inspection, signal, on_progress, notice)
            return source.file
        on_progress(LoadProgress(LoadStage.CHECKING_CACHE))
        record = await self._record(source)
        if record is not None and record.complete:
            await self.cache.expect_sha256(record, source.sha256)
            blob = await self.cache.open(record, signal, on_progress, notice)
            await self.cache.verify_file(record, blob, on_progress)
            return blob
        url = source.url or (record and record.source_url)
        if url is None:  # a partial import: only the file itself can complete it
            raise CacheError(
                f"{source.label} was only partly imported: pick the file again to finish."
            )
        size = inspection.spec.file_size
        if size is None:
            notice(UNCACHED_NOTICE)
            return await self._download_uncached(url, on_progress, signal)
        record = await self.cache.start_download(
            url, file_name_of(url), size, inspection.spec, notice, source.sha256
        )
        try:
            await self.cache.download(record, signal, on_progress, notice)
        except StorageRefused as refused:
            await self._without_cache(record.id, refused)
            notice(
                f"{_reason(refused)}. It is loaded without caching: it downloads again next time."
            )
            return await self._download_uncached(url, on_progress, signal)
        await self.cache.touch(record)
        blob = await self.cache.assemble(record)
        await self.cache.verify_file(record, blob, on_progress)
        return blob

    async def _import(
        self,
        source: ModelSource,
        inspection: ModelInspection,
        signal: Any,
        on_progress: OnProgress,
        notice: Callable[[str], None],
    ) -> None:
        file = source.file
        size = self.cache.blobs.size(file)
        model_id = file_model_id(source.label, size, self.bytes.last_modified_ms(file))
        try:
            await self.cache.import_file(
                file, model_id, source.label, inspection.spec, signal, on_progress
            )
        except StorageRefused as refused:
            await self._without_cache(model_id, refused)
            notice(f"{_reason(refused)}. It is loaded from the file, not cached.")

    async def _without_cache(self, model_id: str, refused: StorageRefused) -> None:
        """Give up caching a model where the browser stored none of it (it keeps no Blobs):
        drop its empty record. Where it stored some before, the refusal is an error."""
        record = await self.cache.get(model_id)
        if record is not None and record.stored_bytes:
            raise refused
        await self.cache.delete(model_id)

    async def _download_uncached(self, url: str, on_progress: OnProgress, signal: Any) -> Blob:
        def report(received: int, total: int) -> None:
            on_progress(LoadProgress(LoadStage.DOWNLOADING, received, total or None))

        return await self.bytes.fetch_whole(url, signal, report)


async def _started(
    starting: Awaitable[Started],
) -> tuple[Started, None] | tuple[None, LocalWebAIError]:
    """The engine start's result, or its failure (kept until the chunks' verdict)."""
    try:
        return await starting, None
    except LocalWebAIError as failure:
        return None, failure


def _notice(on_progress: OnProgress) -> Callable[[str], None]:
    """Notices of a load, shown beside its progress."""

    def notice(text: str) -> None:
        on_progress(LoadProgress(LoadStage.CHECKING_CACHE, note=text))

    return notice


def _file_check_due(record: ModelRecord, sha256: str | None) -> bool:
    """The whole file's sha256 is to be checked on this load (a new or unchecked checksum)."""
    new = sha256 is not None and sha256.lower() != record.file_sha256
    return new or (record.file_sha256 is not None and not record.file_verified)


def _reason(refused: StorageRefused) -> str:
    return str(refused).rstrip(".")
