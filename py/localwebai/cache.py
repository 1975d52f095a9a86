"""The chunked model cache: download into storage in chunks, resume, verify, list and delete.

All decisions live here, in pure Python; the page supplies three small interfaces (IndexedDB for
:class:`ChunkStore`, ``fetch`` for :class:`RemoteFile`, ``Blob`` + hashing for :class:`BlobOps`),
and CPython tests supply in-memory ones. Chunk contents are opaque objects (JS Blobs in the page):
model bytes never pass through Python.

A chunk is marked complete in its model's record (with its digest) only after the chunk itself
is stored, so a record never claims bytes the store does not hold; a record is complete when
every chunk is marked. Each load checks every chunk against its digest, so a damaged chunk is
never fed to the model (in the page, as the engine reads it: :class:`CheckedReads`). The digest
is the fastest the side can compute (``CHUNK_DIGESTS``): XXH3 in the page, about 8x cheaper
than sha256 there; a user-given whole-file checksum stays sha256.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from .errors import AbortedError, LocalWebAIError, ModelSourceError, NetworkError, ParameterError
from .progress import LoadProgress, LoadStage, OnProgress, RateMeter
from .spec import ModelSpecification, format_bytes

SCHEMA_VERSION = 2
"""Version of the stored record layout; records of another version are migrated or discarded.
2: ``chunk_digests`` as "algorithm:hex" (1: ``chunk_sha256``, bare sha256 hex)."""
CHUNK_DIGESTS = ("xxh3", "sha256")
"""Chunk digests by preference; a cache uses the first its :class:`BlobOps` computes. XXH3
(64-bit) finds damage as surely as sha256 (no one forges chunks in their own browser)."""
MiB = 1 << 20
CHUNK_SIZE = 32 * MiB
"""Bytes per stored chunk. 32 MiB: large enough that per-request and per-transaction costs
vanish (see the closing note of issue 4 for the measurement), small enough that a resumed
download repeats little and that hashing one chunk holds only 32 MiB in memory."""
PARALLEL_FETCHES = 3
"""Chunks downloaded at once: enough to hide request latency without starving the page."""
WHOLE_CHUNK_RATE = 64 * MiB
"""Bytes per second from which a download fetches its chunks whole (``RemoteFile.fetch_chunk``'s
``whole``): the browser makes a whole response's body into a Blob itself and the page never
touches its bytes (from a local server: 1.2x the download into IndexedDB on disk, whose writes
then set the pace; 1.7x in a private window's memory), but the bytes of a response cut short
are lost and progress moves a chunk at a time. So only a download whose first chunk streamed
at least this fast goes whole (a chunk then takes at most half a second), and its first cut
goes back to streaming, which keeps every byte that arrives."""
STALLED_ATTEMPTS = 7
"""Tries in a row that bring no byte before a download gives up. Any byte that arrives starts
the count again, so a connection that drops every few MB still completes."""
RETRY_PAUSE_S = 0.5
"""Pause after the first try without a byte; it doubles with each further one..."""
MAX_RETRY_PAUSE_S = 8.0
"""...up to this. With the defaults a download gives up after about 24 s without a byte."""


def retry_pause(stalled: int) -> float:
    """Seconds to wait after the ``stalled``-th try in a row that brought no byte."""
    return min(RETRY_PAUSE_S * 2 ** (stalled - 1), MAX_RETRY_PAUSE_S)


def stall_limit_seconds() -> float:
    """How long a download waits without a byte before it gives up (the pauses, summed)."""
    return sum(retry_pause(n) for n in range(1, STALLED_ATTEMPTS))


Blob = Any
"""A chunk's contents: a JS Blob in the page, ``bytes`` in CPython tests."""


class CacheError(LocalWebAIError):
    """The model cache could not store, read or verify a model."""


class StorageFullError(CacheError):
    """The browser refused to store more: the quota is used up. Nothing stored is lost."""


class StorageRefused(CacheError):
    """The browser refused to store a chunk, not for lack of space: some private windows and
    WebKit's automation profile keep no Blobs in IndexedDB."""


class QuotaExceeded(Exception):
    """Raised by a :class:`ChunkStore` when the browser refuses a write for lack of space."""


class SourceChangedError(ModelSourceError):
    """The file on the server is not the one a partial download started from."""

    def __init__(self, message: str, remote: RemoteInfo | None = None) -> None:
        super().__init__(message)
        self.remote = remote


class RangeUnsupported(Exception):
    """Raised by :meth:`RemoteFile.fetch_chunk` when the server ignores Range requests."""


class TransferCut(NetworkError):
    """A range's transfer broke off (a dropped connection, or Cancel when ``aborted``) after
    ``partial``, the bytes that arrived first (a blob, possibly empty); ``remote`` is what the
    server said in its headers."""

    def __init__(
        self, message: str, partial: Blob, remote: RemoteInfo | None, aborted: bool = False
    ) -> None:
        super().__init__(message)
        self.partial = partial
        self.remote = remote
        self.aborted = aborted


@dataclass(frozen=True)
class RemoteInfo:
    """What a server says about a file: its size and validators."""

    size: int | None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchedChunk:
    """A downloaded chunk (stored nowhere yet), its digest, and the file's validators."""

    blob: Blob
    digest: str
    """"algorithm:hex", of the algorithm the fetch was asked for."""
    remote: RemoteInfo


@dataclass(frozen=True)
class StorageEstimate:
    usage: int
    quota: int

    @property
    def available(self) -> int:
        return max(0, self.quota - self.usage)


class ChunkStore(Protocol):
    """Persistent storage of records (plain dicts) and chunk blobs; IndexedDB in the page."""

    async def records(self) -> list[dict[str, Any]]: ...
    async def put_record(self, stored: dict[str, Any]) -> None: ...
    async def delete_model(self, model_id: str) -> None: ...
    async def put_chunk(
        self, model_id: str, index: int, blob: Blob, as_bytes: bool = False
    ) -> None:
        """Store a chunk; ``as_bytes`` stores its bytes instead of the Blob (read back as a
        Blob either way), for browsers whose database refuses Blobs."""

    async def get_chunk(self, model_id: str, index: int) -> Blob | None: ...
    async def estimate(self) -> StorageEstimate | None:
        """Usage and quota; None where the browser does not say (no ``navigator.storage``)."""


class RemoteFile(Protocol):
    """HTTP access to a model file; ``fetch`` in the page."""

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
        """Bytes ``[start, end)`` by a Range request, with their ``algorithm`` digest;
        :class:`RangeUnsupported` on a 200. Streamed, with ``on_bytes`` as they arrive and
        :class:`TransferCut` keeping them when the transfer breaks; or, ``whole``, the body
        taken in one piece where that is cheaper (see :data:`WHOLE_CHUNK_RATE`), reported
        once, and lost when cut (a ``TransferCut`` with an empty part)."""
        ...

    async def stream_chunks(
        self,
        url: str,
        chunk_size: int,
        signal: Any,
        on_chunk: Callable[[int, FetchedChunk], Awaitable[None]],
        on_bytes: Callable[[int], None],
        algorithm: str,
    ) -> RemoteInfo:
        """The whole file in one response, cut into chunks handed to ``on_chunk`` in order
        (each with its ``algorithm`` digest)."""
        ...


class BlobOps(Protocol):
    digests: tuple[str, ...]
    """The algorithms of :data:`CHUNK_DIGESTS` that :meth:`digest` computes."""

    async def digest(self, blob: Blob, algorithm: str) -> str:
        """The blob's digest as "algorithm:hex"."""
        ...

    async def sha256_streamed(self, blob: Blob, on_bytes: Callable[[int], None]) -> str:
        """The digest of a blob of any size, read piece by piece (never whole in memory)."""
        ...

    def join(self, blobs: list[Blob]) -> Blob: ...
    def slice(self, blob: Blob, start: int, end: int) -> Blob: ...
    def size(self, blob: Blob) -> int: ...


class CheckedModel(Protocol):
    """A complete model as one blob whose chunks are checked as the engine reads them."""

    @property
    def blob(self) -> Blob:
        """What the engine reads: a read that touches a damaged chunk fails."""
        ...

    def damaged(self) -> list[int]:
        """The chunks whose bytes did not match their digest when read."""
        ...

    def unread(self) -> list[int]:
        """The chunks not read (so not checked) yet."""
        ...

    def close(self) -> None:
        """Release what the reads hold (after the engine's load)."""
        ...


@runtime_checkable
class CheckedReads(Protocol):
    """Blob operations that can also hand the engine a model checked as it reads it (the
    page: each chunk is read whole, hashed and served once, instead of read twice)."""

    def checked_join(
        self,
        parts: list[Blob],
        expected: list[tuple[str, str]],
        on_checked: Callable[[int], None],
    ) -> CheckedModel:
        """``parts`` joined; ``expected[i]`` is (algorithm, hex) of part i; ``on_checked(n)``
        after each part of ``n`` bytes that matched."""
        ...


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


def plan_chunks(size: int, chunk_size: int = CHUNK_SIZE) -> list[Chunk]:
    """Cut ``size`` bytes into consecutive chunks of ``chunk_size`` (the last one shorter)."""
    if size < 0 or chunk_size <= 0:
        raise ValueError("size must be >= 0 and chunk_size > 0")
    return [
        Chunk(i, start, min(start + chunk_size, size))
        for i, start in enumerate(range(0, size, chunk_size))
    ]


def digest_string(algorithm: str, hex_digest: str) -> str:
    """A chunk digest as records keep it: "algorithm:hex"."""
    return f"{algorithm}:{hex_digest.lower()}"


def digest_algorithm(digest: str) -> str:
    return digest.split(":", 1)[0]


def url_model_id(url: str) -> str:
    """The cache id of a model downloaded from ``url`` (stable across visits)."""
    return "url-" + hashlib.sha256(url.encode()).hexdigest()[:24]


def file_model_id(name: str, size: int, last_modified_ms: int) -> str:
    """The cache id of an imported local file: the same file imported twice is one entry."""
    key = f"{name}\0{size}\0{last_modified_ms}"
    return "file-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _changed_message(record: ModelRecord) -> str:
    return (
        f"{record.file_name} changed on the server since it was cached "
        f"({format_bytes(record.stored_bytes)} stored): the stale chunks were dropped and the "
        "download starts over."
    )


def parse_sha256(text: str) -> str | None:
    """A user-typed sha256 (64 hex digits, any case, spaces around): lowercase, or None if blank."""
    digest = text.strip().lower()
    if not digest:
        return None
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ParameterError(f"A sha256 is 64 hexadecimal digits; {text.strip()!r} is not one.")
    return digest


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class ModelRecord:
    """One cached model: where it came from, its chunks' digests, and what it is."""

    id: str
    file_name: str
    size: int
    chunk_size: int
    chunk_digests: list[str | None]
    """Per chunk: its digest ("xxh3:…", "sha256:…") once stored and marked complete, else
    ``None``."""
    spec: dict[str, Any]
    """The parsed :class:`ModelSpecification` as a dict (listing needs no parsing)."""
    date_added: str
    source_url: str | None = None
    """``None`` for an imported local file (which cannot be fetched again)."""
    etag: str | None = None
    last_modified: str | None = None
    last_used: str | None = None
    file_sha256: str | None = None
    """The whole file's expected sha256, when known (given by the user)."""
    file_verified: bool = False
    """Whether the assembled file was checked against ``file_sha256`` (done once)."""
    partial_chunks: dict[str, int] = field(default_factory=dict)
    """Missing chunks whose first bytes are stored (in the chunk's own slot), by chunk index
    (a string: records go through JSON): how many bytes. A resumed download asks for the rest."""
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def new(
        cls,
        model_id: str,
        file_name: str,
        size: int,
        spec: ModelSpecification,
        source_url: str | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> ModelRecord:
        return cls(
            id=model_id,
            file_name=file_name,
            size=size,
            chunk_size=chunk_size,
            chunk_digests=[None] * len(plan_chunks(size, chunk_size)),
            spec=spec.to_dict(),
            date_added=now_iso(),
            source_url=source_url,
        )

    @property
    def chunks(self) -> list[Chunk]:
        return plan_chunks(self.size, self.chunk_size)

    @property
    def missing(self) -> list[Chunk]:
        return [c for c in self.chunks if self.chunk_digests[c.index] is None]

    @property
    def complete(self) -> bool:
        return all(digest is not None for digest in self.chunk_digests)

    @property
    def stored_bytes(self) -> int:
        """Bytes stored: complete chunks, and the first parts of partial ones."""
        whole = sum(c.size for c in self.chunks if self.chunk_digests[c.index] is not None)
        return whole + sum(self.partial_chunks.values())

    @property
    def specification(self) -> ModelSpecification:
        return ModelSpecification.from_dict(self.spec)

    @property
    def label(self) -> str:
        return self.specification.name or self.file_name

    def status(self) -> str:
        """Either 'complete' or how much is stored, like '41% (3 of 7 chunks)'."""
        if self.complete:
            return "complete"
        stored = len(self.chunk_digests) - len(self.missing)
        percent = 100 * self.stored_bytes // max(1, self.size)
        return f"{percent}% ({stored} of {len(self.chunk_digests)} chunks)"

    def matches(self, remote: RemoteInfo) -> bool:
        """Whether the server's file is the one these chunks came from."""
        if remote.size is not None and remote.size != self.size:
            return False
        if self.etag and remote.etag:
            return self.etag == remote.etag
        if self.last_modified and remote.last_modified:
            return self.last_modified == remote.last_modified
        return True

    def to_stored(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> ModelRecord | None:
        """A record read back from storage, migrated to this version; ``None`` to discard it."""
        version = stored.get("schema_version")
        if version == 1 and isinstance(stored.get("chunk_sha256"), list):
            digests = [
                None if d is None else digest_string("sha256", d) for d in stored["chunk_sha256"]
            ]
            stored = {**stored, "chunk_digests": digests, "schema_version": SCHEMA_VERSION}
        elif version != SCHEMA_VERSION:
            return None
        try:
            record = cls(**{f: stored[f] for f in cls.__dataclass_fields__ if f in stored})
            expected = len(plan_chunks(record.size, record.chunk_size))
        except (TypeError, ValueError):
            return None
        if not isinstance(record.chunk_digests, list) or len(record.chunk_digests) != expected:
            return None
        if not isinstance(record.partial_chunks, dict):
            record.partial_chunks = {}
        return record


def describe_record(record: ModelRecord) -> str:
    """One line: quantization, size, completeness, last use (parts the record knows)."""
    spec = record.specification
    parts = [spec.quantization or "", format_bytes(record.size), record.status()]
    if record.last_used:
        parts.append(f"last used {record.last_used.replace('T', ' ')[:16]}")
    return " · ".join(part for part in parts if part)


def describe_storage(estimate: StorageEstimate | None, persisted: bool) -> str:
    """'Storage: 1.20 GB used of 10.0 GB (8.80 GB free), persistent.', or 'unknown' where the
    browser does not say (WebKit without the Storage API)."""
    if estimate is None:
        return "Storage: unknown (this browser does not report its storage use or quota)."
    return (
        f"Storage: {format_bytes(estimate.usage)} used of {format_bytes(estimate.quota)}"
        f" ({format_bytes(estimate.available)} free)" + (", persistent." if persisted else ".")
    )


@dataclass
class _Meter:
    """Bytes done across parallel chunk downloads, reported as progress."""

    stage: LoadStage
    total: int
    done: int
    on_progress: OnProgress
    clock: Callable[[], float]
    rate: RateMeter = field(default_factory=RateMeter)
    received: int = 0
    """Bytes that arrived, never decreasing (``done`` drops when a retry discards bytes)."""

    def add(self, n: int) -> None:
        self.done += n
        self.received += max(0, n)
        speed = self.rate.add(self.clock(), self.received)
        self.on_progress(LoadProgress(self.stage, self.done, self.total, speed))

    def waiting(self) -> None:
        """A transfer broke off and is retried: say so instead of freezing."""
        self.on_progress(LoadProgress(LoadStage.WAITING_FOR_NETWORK, self.done, self.total))


@dataclass
class _Transport:
    """How one download fetches its chunks: whole (see :data:`WHOLE_CHUNK_RATE`) or streamed."""

    whole: bool = False
    cut: bool = False
    """A transfer of this download broke off: it streams from then on."""

    def first_chunk_took(self, received: int, seconds: float) -> None:
        """The first chunk brought ``received`` bytes in ``seconds``: go whole if fast enough."""
        self.whole = not self.cut and received >= WHOLE_CHUNK_RATE * max(seconds, 1e-9)

    def broke(self) -> None:
        self.whole, self.cut = False, True


class ModelCache:
    """The cache's operations, over a store, the network and blob operations."""

    def __init__(
        self,
        store: ChunkStore,
        remote: RemoteFile,
        blobs: BlobOps,
        clock: Callable[[], float],
        parallel: int = PARALLEL_FETCHES,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.store = store
        self.remote = remote
        self.blobs = blobs
        self.clock = clock
        self.parallel = parallel
        self.chunks_as_bytes = False
        """Set once the store refused a Blob (WebKit's automation profile, some private windows):
        chunks are stored as plain bytes from then on, which such browsers keep."""
        self.chunk_size = chunk_size
        """Chunk size of new records (a record keeps the size it was started with)."""
        self.chunk_digest = next(a for a in CHUNK_DIGESTS if a in blobs.digests)
        """The digest of chunks stored from now on (a stored chunk keeps its own)."""

    # ---- records -------------------------------------------------------------------------

    async def models(self) -> list[ModelRecord]:
        """Every cached model, most recently used first; unreadable old records are removed."""
        records: list[ModelRecord] = []
        for stored in await self.store.records():
            record = ModelRecord.from_stored(stored)
            if record is None:
                await self.store.delete_model(str(stored.get("id")))
            else:
                records.append(record)
        return sorted(records, key=lambda r: r.last_used or r.date_added, reverse=True)

    async def get(self, model_id: str) -> ModelRecord | None:
        return next((r for r in await self.models() if r.id == model_id), None)

    async def delete(self, model_id: str) -> None:
        await self.store.delete_model(model_id)

    async def clear(self) -> None:
        for record in await self.models():
            await self.store.delete_model(record.id)

    async def _save(self, record: ModelRecord) -> None:
        try:
            await self.store.put_record(record.to_stored())
        except QuotaExceeded:
            raise await self._full(record) from None

    async def touch(self, record: ModelRecord) -> None:
        """Note that ``record`` was just used (the list shows it first)."""
        record.last_used = now_iso()
        await self._save(record)

    # ---- downloading ---------------------------------------------------------------------

    async def start_download(
        self,
        url: str,
        file_name: str,
        size: int,
        spec: ModelSpecification,
        on_notice: Callable[[str], None],
        file_sha256: str | None = None,
    ) -> ModelRecord:
        """The record for ``url``: the partial one to resume, or a new empty one."""
        existing = await self.get(url_model_id(url))
        if existing is not None and existing.size == size:
            await self.expect_sha256(existing, file_sha256)
            return existing
        if existing is not None:
            on_notice(_changed_message(existing))
            await self.store.delete_model(existing.id)
        record = ModelRecord.new(
            url_model_id(url), file_name, size, spec, source_url=url, chunk_size=self.chunk_size
        )
        await self.expect_sha256(record, file_sha256)
        await self._save(record)
        return record

    async def download(
        self,
        record: ModelRecord,
        signal: Any,
        on_progress: OnProgress,
        on_notice: Callable[[str], None],
    ) -> None:
        """Fetch and store every missing chunk of ``record`` (a URL source) until it is complete.

        Each chunk range is requested once per attempt; a dropped connection retries that
        chunk; a server that changed the file restarts the download (after telling why).
        """
        assert record.source_url is not None
        meter = _Meter(
            LoadStage.DOWNLOADING, record.size, record.stored_bytes, on_progress, self.clock
        )
        on_progress(LoadProgress(LoadStage.DOWNLOADING, meter.done, record.size))
        try:
            await self._fetch_all(record, signal, meter)
        except SourceChangedError as changed:
            await self.store.delete_model(record.id)
            if changed.remote is not None and changed.remote.size not in (None, record.size):
                raise SourceChangedError(
                    f"{record.file_name} changed size on the server since it was inspected: "
                    "the cached part was dropped. Load it again to read its new header."
                ) from None
            on_notice(str(changed))
            record.chunk_digests = [None] * len(record.chunk_digests)
            record.partial_chunks = {}
            record.etag = record.last_modified = None
            await self._save(record)
            meter.done = 0
            await self._fetch_all(record, signal, meter)

    async def _fetch_all(self, record: ModelRecord, signal: Any, meter: _Meter) -> None:
        """Range requests for the missing chunks; one whole response if Range is unsupported."""
        try:
            await self._fetch_missing(record, signal, meter)
        except RangeUnsupported:
            await self._stream_missing(record, signal, meter)

    async def _fetch_missing(self, record: ModelRecord, signal: Any, meter: _Meter) -> None:
        queue = list(record.missing)
        if not queue:
            return
        # The first chunk alone, streamed: it learns the validators, whether Range works at
        # all, and how fast the network is.
        transport = _Transport()
        started, before = self.clock(), meter.received
        await self._fetch_one(record, queue.pop(0), signal, meter, transport)
        transport.first_chunk_took(meter.received - before, self.clock() - started)

        async def worker() -> None:
            while queue:
                await self._fetch_one(record, queue.pop(0), signal, meter, transport)

        workers = [asyncio.ensure_future(worker()) for _ in range(self.parallel)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()

    async def _fetch_one(
        self, record: ModelRecord, chunk: Chunk, signal: Any, meter: _Meter, transport: _Transport
    ) -> None:
        """Fetch one chunk, continuing from the last byte received whenever a transfer breaks
        off, and store it whole. Its first part survives Cancel and a failure (see
        ``partial_chunks``), so a later download asks only for the rest."""
        parts = await self._stored_part(record, chunk)
        stored = sum(self.blobs.size(part) for part in parts)
        try:
            digest = await self._fetch_rest(record, chunk, parts, stored, signal, meter, transport)
        except (AbortedError, NetworkError, asyncio.CancelledError):
            await self._keep_part(record, chunk, parts, stored)
            raise
        blob = parts[0] if len(parts) == 1 else self.blobs.join(parts)
        if digest is None:
            digest = await self.blobs.digest(blob, self.chunk_digest)
        await self._store(record, chunk.index, FetchedChunk(blob, digest, RemoteInfo(record.size)))

    async def _fetch_rest(
        self,
        record: ModelRecord,
        chunk: Chunk,
        parts: list[Blob],
        have: int,
        signal: Any,
        meter: _Meter,
        transport: _Transport,
    ) -> str | None:
        """Fetch ``chunk`` from byte ``have`` on, appending to ``parts`` as bytes arrive; the
        server's digest of the chunk when it came in one piece, else ``None``."""
        url = record.source_url
        assert url is not None
        stalled = 0
        while have < chunk.size:
            fetch = asyncio.ensure_future(
                self.remote.fetch_chunk(
                    url,
                    chunk.start + have,
                    chunk.end,
                    signal,
                    meter.add,
                    self.chunk_digest,
                    whole=transport.whole,
                )
            )
            try:
                fetched = await asyncio.shield(fetch)
            except asyncio.CancelledError:
                await self._collect_cut(fetch, signal, parts)
                raise
            except TransferCut as cut:
                lost = transport.whole  # bytes came, but a whole response keeps none of them
                transport.broke()
                if cut.remote is not None:
                    self._check_source(record, cut.remote)
                got = self.blobs.size(cut.partial)
                if got:
                    parts.append(cut.partial)
                    have += got
                if cut.aborted or getattr(signal, "aborted", False):
                    raise AbortedError("Download cancelled.") from None
                stalled = 0 if got or lost else stalled + 1
            except NetworkError:
                transport.broke()
                if getattr(signal, "aborted", False):
                    raise AbortedError("Download cancelled.") from None
                stalled += 1
            else:
                self._check_source(record, fetched.remote)
                got = self.blobs.size(fetched.blob)
                if have + got > chunk.size:
                    raise NetworkError(
                        f"The server sent {have + got} bytes for bytes {chunk.start}-"
                        f"{chunk.end - 1} of {url}; expected {chunk.size}."
                    )
                parts.append(fetched.blob)
                whole = have == 0 and got == chunk.size
                have += got
                if have == chunk.size:
                    return fetched.digest if whole else None
                stalled = 0 if got else stalled + 1  # cut short without an error
            if stalled >= STALLED_ATTEMPTS:
                raise NetworkError(
                    f"The download of {record.file_name} stopped: no data arrived for about "
                    f"{stall_limit_seconds():.0f} s ({STALLED_ATTEMPTS} tries). What arrived is "
                    "kept: load it again to resume."
                )
            meter.waiting()
            if stalled:
                await asyncio.sleep(retry_pause(stalled))
        return None

    @staticmethod
    async def _collect_cut(
        fetch: asyncio.Future[FetchedChunk], signal: Any, parts: list[Blob]
    ) -> None:
        """The load was cancelled while ``fetch`` ran: with its signal aborted it ends at once,
        and what it brought joins ``parts`` (to be kept); without, it is dropped."""
        if not getattr(signal, "aborted", False):
            fetch.cancel()
            return
        try:
            parts.append((await fetch).blob)
        except TransferCut as cut:
            parts.append(cut.partial)
        except LocalWebAIError:
            pass  # nothing arrived

    async def _stored_part(self, record: ModelRecord, chunk: Chunk) -> list[Blob]:
        """The stored first part of a partial chunk (as a list of one), or nothing."""
        have = record.partial_chunks.get(str(chunk.index), 0)
        blob = await self.store.get_chunk(record.id, chunk.index) if have else None
        if blob is None or self.blobs.size(blob) != have:
            record.partial_chunks.pop(str(chunk.index), None)
            return []
        return [blob]

    async def _keep_part(
        self, record: ModelRecord, chunk: Chunk, parts: list[Blob], stored: int
    ) -> None:
        """Store what arrived of a chunk that did not complete, where it is more than the part
        already ``stored`` (best effort: a full quota only loses this part)."""
        have = sum(self.blobs.size(part) for part in parts)
        if have <= stored:
            return
        try:
            await self._put_chunk(record.id, chunk.index, self.blobs.join(parts))
            record.partial_chunks[str(chunk.index)] = have
            await self.store.put_record(record.to_stored())
        except (QuotaExceeded, CacheError):
            pass

    def _check_source(self, record: ModelRecord, remote: RemoteInfo) -> None:
        if not record.matches(remote):
            raise SourceChangedError(_changed_message(record), remote)
        record.etag = record.etag or remote.etag
        record.last_modified = record.last_modified or remote.last_modified

    async def _stream_missing(self, record: ModelRecord, signal: Any, meter: _Meter) -> None:
        """A server without Range support: one sequential response, stored chunk by chunk.

        Chunks already stored are read past (they cannot be skipped) but not stored again.
        """
        meter.done = 0
        url = record.source_url
        assert url is not None

        async def on_chunk(index: int, fetched: FetchedChunk) -> None:
            self._check_source(record, fetched.remote)
            if record.chunk_digests[index] is None:
                await self._store(record, index, fetched)

        stalled = 0
        while True:
            stored = record.stored_bytes
            try:
                await self.remote.stream_chunks(
                    url, record.chunk_size, signal, on_chunk, meter.add, self.chunk_digest
                )
                break
            except NetworkError:
                meter.done = 0
                stalled = 0 if record.stored_bytes > stored else stalled + 1
                if stalled >= STALLED_ATTEMPTS or getattr(signal, "aborted", False):
                    raise
                meter.waiting()
                await asyncio.sleep(retry_pause(max(1, stalled)))
        if not record.complete:
            raise NetworkError(f"The server sent less than the {record.size} bytes of {url}.")

    async def _put_chunk(self, model_id: str, index: int, blob: Blob) -> None:
        """Store a chunk as a Blob, or as bytes once the store has refused Blobs; where it
        refuses those too, ``StorageRefused`` (the model then loads uncached)."""
        if not self.chunks_as_bytes:
            try:
                await self.store.put_chunk(model_id, index, blob)
                return
            except StorageRefused:
                self.chunks_as_bytes = True
        await self.store.put_chunk(model_id, index, blob, as_bytes=True)

    async def _store(self, record: ModelRecord, index: int, fetched: FetchedChunk) -> None:
        try:
            await self._put_chunk(record.id, index, fetched.blob)
        except QuotaExceeded:
            raise await self._full(record) from None
        record.chunk_digests[index] = fetched.digest
        record.partial_chunks.pop(str(index), None)
        await self._save(record)

    async def _full(self, record: ModelRecord) -> StorageFullError:
        estimate = await self.store.estimate()
        needed = format_bytes(record.size - record.stored_bytes)
        if estimate is None:
            space = f"needs {needed} more and the browser refused to store it"
        elif estimate.available < record.size - record.stored_bytes:
            free, quota = format_bytes(estimate.available), format_bytes(estimate.quota)
            space = f"needs {needed} more, but only {free} of the {quota} quota is free"
        else:  # the estimate is approximate; the browser's refusal is what counts
            free, quota = format_bytes(estimate.available), format_bytes(estimate.quota)
            space = (
                f"needs {needed} more and the browser refused to store it ({free} of {quota} free)"
            )
        return StorageFullError(
            f"Browser storage is full: {record.file_name} {space}. What is downloaded "
            f"({format_bytes(record.stored_bytes)}) is kept: free space (delete a cached model) "
            "and load it again to resume."
        )

    # ---- importing local files -----------------------------------------------------------

    async def import_file(
        self,
        file: Blob,
        model_id: str,
        file_name: str,
        spec: ModelSpecification,
        signal: Any,
        on_progress: OnProgress,
    ) -> ModelRecord:
        """Copy a local file into the cache in chunks, so it survives reloads."""
        size = self.blobs.size(file)
        record = await self.get(model_id)
        if record is None or record.size != size:
            record = ModelRecord.new(model_id, file_name, size, spec, chunk_size=self.chunk_size)
            await self._save(record)
        meter = _Meter(LoadStage.IMPORTING, size, record.stored_bytes, on_progress, self.clock)
        for chunk in record.missing:
            if getattr(signal, "aborted", False):
                raise AbortedError("Import cancelled.")
            blob = self.blobs.slice(file, chunk.start, chunk.end)
            digest = await self.blobs.digest(blob, self.chunk_digest)
            await self._store(record, chunk.index, FetchedChunk(blob, digest, RemoteInfo(size)))
            meter.add(chunk.size)
        return record

    # ---- reading back --------------------------------------------------------------------

    async def header_blob(self, record: ModelRecord) -> Blob | None:
        """The stored prefix of the file (contiguous chunks from the first), for parsing."""
        parts: list[Blob] = []
        for chunk in record.chunks:
            if record.chunk_digests[chunk.index] is None:
                break
            blob = await self.store.get_chunk(record.id, chunk.index)
            if blob is None:
                break
            parts.append(blob)
        return self.blobs.join(parts) if parts else None

    async def verified_chunks(
        self, record: ModelRecord, signal: Any, on_progress: OnProgress
    ) -> list[Chunk]:
        """Check every stored chunk against its digest; unmark (and return) the bad ones."""
        bad: list[Chunk] = []
        meter = _Meter(LoadStage.VERIFYING, record.size, 0, on_progress, self.clock)
        for chunk in record.chunks:
            if not await self._intact(record, chunk, signal):
                bad.append(chunk)
            meter.add(chunk.size)
        await self._unmark(record, bad)
        return bad

    async def _intact(self, record: ModelRecord, chunk: Chunk, signal: Any) -> bool:
        """The chunk is stored whole and matches its digest (Cancel is checked first)."""
        if getattr(signal, "aborted", False):
            raise AbortedError("Loading cancelled.")
        blob = await self.store.get_chunk(record.id, chunk.index)
        expected = record.chunk_digests[chunk.index]
        if expected is None or blob is None or self.blobs.size(blob) != chunk.size:
            return False
        return await self._digest_as(blob, expected) == expected

    async def _unmark(self, record: ModelRecord, bad: list[Chunk]) -> None:
        """Unmark the ``bad`` chunks in the record (they are fetched again), and save it."""
        for chunk in bad:
            record.chunk_digests[chunk.index] = None
        if bad:
            await self._save(record)

    async def _digest_as(self, blob: Blob, expected: str) -> str | None:
        """The blob's digest in ``expected``'s algorithm; None where this side has not that
        one (the chunk then counts as damaged, and is fetched again)."""
        algorithm = digest_algorithm(expected)
        if algorithm not in self.blobs.digests:
            return None
        return await self.blobs.digest(blob, algorithm)

    async def expect_sha256(self, record: ModelRecord, digest: str | None) -> None:
        """Record the whole file's expected sha256 (checked once by :meth:`verify_file`); the
        record is saved only when that changes it."""
        if digest and digest.lower() != record.file_sha256:
            record.file_sha256, record.file_verified = digest.lower(), False
            await self._save(record)

    async def verify_file(self, record: ModelRecord, blob: Blob, on_progress: OnProgress) -> None:
        """Check the whole file once against its expected sha256; a mismatch deletes it."""
        if record.file_sha256 is None or record.file_verified:
            return
        meter = _Meter(LoadStage.VERIFYING, record.size, 0, on_progress, self.clock)
        actual = await self.blobs.sha256_streamed(blob, meter.add)
        if actual != record.file_sha256.lower():
            await self.store.delete_model(record.id)
            raise CacheError(
                f"{record.file_name} does not match the expected sha256 "
                f"({record.file_sha256[:12]}…; it is {actual[:12]}…): it was removed from the "
                "cache. Check the checksum, or the server is sending a different file."
            )
        record.file_verified = True
        await self._save(record)

    async def assemble(self, record: ModelRecord) -> Blob:
        """The whole model as one blob composed of the stored chunks (no bytes copied)."""
        parts = [await self.store.get_chunk(record.id, c.index) for c in record.chunks]
        if any(p is None for p in parts) or not record.complete:
            raise CacheError(f"{record.file_name} is not completely cached.")
        return self.blobs.join(parts)

    async def checked_model(
        self, record: ModelRecord, on_progress: OnProgress
    ) -> CheckedModel | None:
        """A complete model as one blob checked chunk by chunk as the engine reads it (progress:
        the bytes checked), where this side's blobs can; else None (:meth:`open` checks first).
        A chunk missing, of the wrong size or of a digest this side lacks also gives None."""
        if not isinstance(self.blobs, CheckedReads) or not record.complete:
            return None
        expected = [(digest_algorithm(d), d.split(":", 1)[1]) for d in record.chunk_digests if d]
        if any(algorithm not in self.blobs.digests for algorithm, _ in expected):
            return None
        parts = [await self.store.get_chunk(record.id, c.index) for c in record.chunks]
        for part, chunk in zip(parts, record.chunks, strict=True):
            if part is None or self.blobs.size(part) != chunk.size:
                return None
        meter = _Meter(LoadStage.VERIFYING, record.size, 0, on_progress, self.clock)
        return self.blobs.checked_join(parts, expected, meter.add)

    async def damaged_chunks(
        self, record: ModelRecord, checked: CheckedModel, signal: Any
    ) -> list[Chunk]:
        """After the engine's reads of ``checked``: the chunks found damaged, and those it did
        not read, checked now; the bad ones are unmarked in the record."""
        bad = set(checked.damaged())
        for index in checked.unread():
            if not await self._intact(record, record.chunks[index], signal):
                bad.add(index)
        chunks = [record.chunks[index] for index in sorted(bad)]
        await self._unmark(record, chunks)
        return chunks

    async def open(
        self,
        record: ModelRecord,
        signal: Any,
        on_progress: OnProgress,
        on_notice: Callable[[str], None],
    ) -> Blob:
        """A complete, verified model as one blob: damaged chunks are reported and re-fetched."""
        bad = await self.verified_chunks(record, signal, on_progress)
        return await self.repaired(record, bad, signal, on_progress, on_notice)

    async def repaired(
        self,
        record: ModelRecord,
        bad: list[Chunk],
        signal: Any,
        on_progress: OnProgress,
        on_notice: Callable[[str], None],
    ) -> Blob:
        """The model as one blob once its ``bad`` chunks (unmarked) are fetched again from the
        record's URL, which is said first; without a URL, an error that asks for the file."""
        if bad:
            which = ", ".join(str(c.index + 1) for c in bad)
            if record.source_url is None:
                raise CacheError(
                    f"The cached copy of {record.file_name} is damaged (chunk {which} of "
                    f"{len(record.chunk_digests)}): pick the file again to repair it."
                )
            on_notice(
                f"Chunk {which} of {len(record.chunk_digests)} of the cached {record.file_name} "
                "was damaged: fetching only that part again."
            )
            await self.download(record, signal, on_progress, on_notice)
        await self.touch(record)
        return await self.assemble(record)
