"""Model bytes for the engine: read a model's header, and hand over its weights as a JS Blob.

URLs download into the IndexedDB cache (or load from it, without a request); local files are
imported into it so they survive reloads; cached models are verified chunk by chunk before use.
The decisions are :class:`localwebai.cache.ModelCache`'s; this module picks the path per source.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import unquote, urlsplit

from ..cache import CacheError, ModelCache, ModelRecord, file_model_id, url_model_id
from ..gguf import FIRST_READ_SIZE
from ..model_header import ModelInspection, ReadRange, inspect_model
from ..progress import LoadProgress, LoadStage
from ..sources import ModelSource
from .blobs import fetch_blob, fetch_range, read_bytes
from .cache_store import browser_cache

OnProgress = Callable[[LoadProgress], None]


def file_name_of(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]) or url


class ModelStore:
    """Where model bytes come from: the cache, the network, or a local file."""

    def __init__(self, cache: ModelCache | None = None) -> None:
        self.cache = cache or browser_cache()

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
        (Range requests for a URL, Blob slices for a file). No weights are read."""
        if source.file is not None:
            read = partial(read_bytes, source.file)
            return await inspect_model(read, int(source.file.size), source.label)
        record = await self._record(source)
        prefix = None if record is None else await self.cache.header_blob(record)
        if record is not None and prefix is not None:
            read = self._prefix_reader(prefix, source)
            return await inspect_model(read, record.size, source.label)
        if source.url is None:
            raise CacheError(f"The cached {source.label} lacks its first part: load it again.")
        first = await fetch_range(source.url, 0, FIRST_READ_SIZE, signal)
        url = source.url

        async def read_url(start: int, end: int) -> bytes:
            if end <= len(first.data):
                return first.data[start:end]
            return (await fetch_range(url, start, end, signal)).data

        return await inspect_model(read_url, first.size, source.label)

    @staticmethod
    def _prefix_reader(prefix: Any, source: ModelSource) -> ReadRange:
        async def read(start: int, end: int) -> bytes:
            if end <= int(prefix.size):
                return await read_bytes(prefix, start, end)
            if source.url is None:
                raise CacheError(f"The cached {source.label} lacks part of its header.")
            return (await fetch_range(source.url, start, end, None)).data

        return read

    async def open(
        self, source: ModelSource, inspection: ModelInspection, signal: Any, on_progress: OnProgress
    ) -> Any:
        """The whole model as a Blob the engine reads lazily; bytes never pass through Python."""

        def notice(text: str) -> None:
            on_progress(LoadProgress(LoadStage.CHECKING_CACHE, note=text))

        if source.file is not None:
            await self._import(source, inspection, signal, on_progress)
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
            notice("The server did not say how large the file is: it is loaded but not cached.")
            return await self._download_uncached(url, on_progress, signal)
        record = await self.cache.start_download(
            url, file_name_of(url), size, inspection.spec, notice, source.sha256
        )
        await self.cache.download(record, signal, on_progress, notice)
        await self.cache.touch(record)
        blob = await self.cache.assemble(record)
        await self.cache.verify_file(record, blob, on_progress)
        return blob

    async def _import(
        self, source: ModelSource, inspection: ModelInspection, signal: Any, on_progress: OnProgress
    ) -> None:
        file = source.file
        model_id = file_model_id(source.label, int(file.size), int(file.lastModified or 0))
        await self.cache.import_file(
            file, model_id, source.label, inspection.spec, signal, on_progress
        )

    @staticmethod
    async def _download_uncached(url: str, on_progress: OnProgress, signal: Any) -> Any:
        def report(received: int, total: int) -> None:
            on_progress(LoadProgress(LoadStage.DOWNLOADING, received, total or None))

        return await fetch_blob(url, signal, report)
