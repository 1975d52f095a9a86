"""The chunked model cache's decisions, over in-memory storage, network and blobs.

Chunks here are 4 KiB (records are made with that chunk size; ``start_download`` then resumes
them), so scenarios run on files of a few chunks; one import test uses the real ``CHUNK_SIZE``.
Every "run" builds a fresh :class:`ModelCache` over the same store, as a page reload does.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest
from aio import run
from hypothesis import given
from hypothesis import strategies as st
from localwebai import cache
from localwebai.cache import (
    CHUNK_SIZE,
    PARALLEL_FETCHES,
    STALLED_ATTEMPTS,
    CacheError,
    Chunk,
    ModelCache,
    ModelRecord,
    StorageEstimate,
    StorageFullError,
    describe_storage,
    digest_algorithm,
    file_model_id,
    plan_chunks,
    url_model_id,
)
from localwebai.errors import AbortedError, LocalWebAIError, NetworkError
from localwebai.progress import LoadProgress, LoadStage, RateMeter
from localwebai.spec import ModelSpecification, format_bytes
from memory_cache import (
    AbortSignal,
    BytesBlobOps,
    CancelAtBytes,
    MemoryChunkStore,
    MemoryRemoteFile,
    chunk_digest,
    sha256,
)

URL = "http://127.0.0.1:8000/models/tiny.gguf"
NAME = "tiny.gguf"
MODEL_ID = url_model_id(URL)
CS = 4096
SPEC = ModelSpecification.from_dict(
    {"name": "Tiny Test", "architecture": "llama", "quantization": "Q8_0", "gguf_version": 3}
)


def file_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def ranges(chunks: list[Chunk]) -> list[tuple[int, int]]:
    return [(c.start, c.end) for c in chunks]


class FakeClock:
    """Each reading is ``step`` seconds after the previous one."""

    def __init__(self, step: float = 0.25) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture(autouse=True)
def _no_retry_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "RETRY_PAUSE_S", 0.0)


@pytest.fixture(autouse=True)
def _dated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Record dates from a counter, so "most recent" is well defined within a second."""
    ticks = iter(range(10**6))

    def now_iso() -> str:
        t = next(ticks)
        return f"2025-01-01T{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}+00:00"

    monkeypatch.setattr(cache, "now_iso", now_iso)


class Harness:
    """One model file on a fake server, a store that outlives page reloads, and the logs."""

    def __init__(
        self,
        data: bytes,
        *,
        quota: int | None = None,
        parallel: int = PARALLEL_FETCHES,
        **server: Any,
    ) -> None:
        self.store = MemoryChunkStore(quota)
        self.remote = MemoryRemoteFile(URL, data, **server)
        self.blobs = BytesBlobOps()
        self.clock = FakeClock()
        self.parallel = parallel
        self.notices: list[str] = []
        self.progress: list[LoadProgress] = []

    @property
    def cache(self) -> ModelCache:
        """A fresh cache over the same store: what a reloaded page makes."""
        return ModelCache(self.store, self.remote, self.blobs, self.clock, self.parallel)

    async def begin(self) -> ModelRecord:
        """Resume (or start, with 4 KiB chunks) the download of the server's file."""
        size = len(self.remote.data)
        if MODEL_ID not in self.store.saved:
            new = ModelRecord.new(MODEL_ID, NAME, size, SPEC, source_url=URL, chunk_size=CS)
            await self.store.put_record(new.to_stored())
        return await self.cache.start_download(URL, NAME, size, SPEC, self.notices.append)

    async def download(self, signal: Any = None) -> ModelRecord:
        record = await self.begin()
        await self.cache.download(record, signal, self.progress.append, self.notices.append)
        return record

    def abort_after(self, puts: int) -> AbortSignal:
        """A signal that fires once ``puts`` more chunks are stored."""
        signal, target = AbortSignal(), len(self.store.puts) + puts

        def on_put(_model_id: str, _index: int) -> None:
            if len(self.store.puts) >= target:
                signal.aborted = True

        self.store.on_put = on_put
        return signal

    def record(self, model_id: str = MODEL_ID) -> ModelRecord:
        """The record as stored (what a reload would read)."""
        record = ModelRecord.from_stored(self.store.saved[model_id])
        assert record is not None
        return record

    def assert_consistent(self, data: bytes, model_id: str = MODEL_ID) -> ModelRecord:
        """Every chunk the stored record marks is stored, holds ``data``'s bytes, and matches."""
        record = self.record(model_id)
        for chunk in record.chunks:
            digest = record.chunk_digests[chunk.index]
            if digest is not None:
                blob = self.store.chunks[(model_id, chunk.index)]
                assert blob == data[chunk.start : chunk.end], chunk
                assert digest == chunk_digest(blob, digest_algorithm(digest))
        return record

    def assert_complete(self, data: bytes, model_id: str = MODEL_ID) -> ModelRecord:
        record = self.assert_consistent(data, model_id)
        assert record.complete
        assert run_assemble(self, record) == data
        return record


def run_assemble(h: Harness, record: ModelRecord) -> bytes:
    async def go() -> bytes:
        return await h.cache.assemble(record)

    return run(go())


# ---- chunk planning and ids ----------------------------------------------------------------


@given(
    chunk_size=st.integers(1, 1 << 26),
    full_chunks=st.integers(0, 300),
    rest=st.integers(0, (1 << 26) - 1),
)
def test_chunks_tile_the_file(chunk_size: int, full_chunks: int, rest: int) -> None:
    size = full_chunks * chunk_size + rest % chunk_size
    chunks = plan_chunks(size, chunk_size)
    assert len(chunks) == -(-size // chunk_size)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    position = 0
    for chunk in chunks:
        assert chunk.start == position and chunk.end > chunk.start
        position = chunk.end
    assert position == size
    assert all(c.size == chunk_size for c in chunks[:-1])
    assert not chunks or 0 < chunks[-1].size <= chunk_size


def test_chunk_plan_edges() -> None:
    assert plan_chunks(0, 10) == []
    assert plan_chunks(1, 10) == [Chunk(0, 0, 1)]
    assert plan_chunks(30, 10) == [Chunk(0, 0, 10), Chunk(1, 10, 20), Chunk(2, 20, 30)]
    assert plan_chunks(31, 10)[-1] == Chunk(3, 30, 31)
    assert plan_chunks(10, 10) == [Chunk(0, 0, 10)]
    big = plan_chunks(5 << 30)  # over 4 GiB: offsets stay exact
    assert len(big) == (5 << 30) // CHUNK_SIZE and big[-1].end == 5 << 30
    for size, chunk_size in ((-1, 10), (10, 0), (10, -5)):
        with pytest.raises(ValueError):
            plan_chunks(size, chunk_size)


@given(st.text(min_size=1), st.text(min_size=1))
def test_url_ids_are_stable_and_distinct(a: str, b: str) -> None:
    assert url_model_id(a) == url_model_id(str(a))
    assert url_model_id(a).startswith("url-")
    assert (url_model_id(a) == url_model_id(b)) == (a == b)


def test_file_ids_are_stable_and_distinct() -> None:
    base = file_model_id("m.gguf", 1000, 1_700_000_000_000)
    assert base == file_model_id("m.gguf", 1000, 1_700_000_000_000)
    assert base.startswith("file-")
    others = {
        file_model_id("n.gguf", 1000, 1_700_000_000_000),
        file_model_id("m.gguf", 1001, 1_700_000_000_000),
        file_model_id("m.gguf", 1000, 1_700_000_000_001),
        file_model_id("m.gguf1", 0, 1_700_000_000_000),  # fields cannot run into each other
        url_model_id("m.gguf"),
    }
    assert len(others) == 5 and base not in others


# ---- downloading -----------------------------------------------------------------------


def test_full_download_stores_every_chunk_once_and_reports_progress() -> None:
    data = file_bytes(7 * CS + 123)
    h = Harness(data)
    run(h.download())
    record = h.assert_complete(data)
    plan = plan_chunks(len(data), CS)
    assert sorted(h.remote.requests) == ranges(plan)  # each range exactly once
    assert sorted(h.store.puts) == [(MODEL_ID, c.index) for c in plan]
    assert record.chunk_digests == [chunk_digest(data[c.start : c.end]) for c in plan]
    assert (record.etag, record.last_modified) == (h.remote.etag, h.remote.last_modified)
    assert record.source_url == URL and record.spec == SPEC.to_dict()
    assert h.notices == []

    # progress: one stage, bytes only grow, never past the total, a sane rate and ETA
    assert {p.stage for p in h.progress} == {LoadStage.DOWNLOADING}
    done = [p.done for p in h.progress]
    assert done == sorted(done) and done[0] == 0 and done[-1] == len(data)
    assert all(p.total == len(data) for p in h.progress)
    rates = [p.bytes_per_second for p in h.progress if p.bytes_per_second is not None]
    assert len(rates) >= len(h.progress) - 2
    # 256-byte network reads, one clock step (0.25 s) apart: 1 KiB/s
    assert max(rates) == pytest.approx(1024) and min(rates) > 0
    etas = [p.eta_seconds for p in h.progress if p.eta_seconds is not None]
    assert all(eta >= 0 for eta in etas) and etas[-1] == 0
    assert etas[0] == pytest.approx((len(data) - 512) / 1024)


def test_start_download_makes_a_record_and_resumes_the_same_one() -> None:
    data = file_bytes(100)
    h = Harness(data)

    async def go() -> None:
        first = await h.cache.start_download(URL, NAME, len(data), SPEC, h.notices.append)
        assert first.id == MODEL_ID and first.missing == first.chunks
        assert first.chunk_size == CHUNK_SIZE and len(first.chunk_digests) == 1
        assert h.record() == first  # saved before any byte is fetched
        again = await h.cache.start_download(URL, NAME, len(data), SPEC, h.notices.append)
        assert again == first

    run(go())
    assert h.notices == []


def test_cancel_then_resume_fetches_each_range_once() -> None:
    data = file_bytes(6 * CS + 10)
    h = Harness(data, parallel=1)
    with pytest.raises(AbortedError):
        run(h.download(h.abort_after(3)))
    record = h.assert_consistent(data)
    assert not record.complete
    assert [c.index for c in record.missing] == [3, 4, 5, 6]
    first_run = list(h.remote.requests)

    h.store.on_put = None
    run(h.download(AbortSignal()))
    h.assert_complete(data)
    assert sorted(first_run + h.remote.requests[len(first_run) :]) == ranges(
        plan_chunks(len(data), CS)
    )


def test_resume_after_parallel_cancel_fetches_only_missing_ranges() -> None:
    data = file_bytes(10 * CS)
    h = Harness(data)
    with pytest.raises(AbortedError):
        run(h.download(h.abort_after(4)))
    record = h.assert_consistent(data)
    missing = ranges(record.missing)
    stored = set(ranges(record.chunks)) - set(missing)
    assert len(stored) >= 4 and missing
    before = len(h.remote.requests)

    h.store.on_put = None
    run(h.download(AbortSignal()))
    h.assert_complete(data)
    resumed = h.remote.requests[before:]
    assert sorted(resumed) == missing  # nothing stored is fetched again, nothing twice


def test_dropped_connection_continues_from_the_last_byte_received() -> None:
    data = file_bytes(5 * CS)
    h = Harness(data)
    h.remote.drop_connection(at=CS // 2, times=2)  # once mid-chunk, then once with no byte
    run(h.download())
    h.assert_complete(data)
    assert h.remote.requests.count((0, CS)) == 1
    assert h.remote.requests.count((CS // 2, CS)) == 2  # the rest, asked again after a stall
    assert h.remote.bytes_sent == len(data)  # no byte fetched twice
    dones = [p.done for p in h.progress]
    assert dones == sorted(dones) and dones[-1] == len(data)  # nothing that arrived is dropped
    waiting = [p for p in h.progress if p.stage is LoadStage.WAITING_FOR_NETWORK]
    assert len(waiting) == 2 and all(0 < p.done < len(data) for p in waiting)


def test_a_connection_that_drops_every_few_bytes_still_completes() -> None:
    data = file_bytes(6 * CS + 123)
    h = Harness(data)
    h.remote.drop_every = 1000  # each 4 KiB chunk takes five responses
    run(h.download())
    h.assert_complete(data)
    assert h.remote.bytes_sent == len(data)
    assert len(h.remote.requests) == sum(-(-c.size // 1000) for c in plan_chunks(len(data), CS))


def test_a_slow_first_chunk_keeps_the_download_streaming() -> None:
    data = file_bytes(5 * CS)
    h = Harness(data)  # 1 KiB/s, far under WHOLE_CHUNK_RATE
    run(h.download())
    h.assert_complete(data)
    assert h.remote.whole_requests == []


def test_a_fast_first_chunk_fetches_the_rest_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "WHOLE_CHUNK_RATE", 500)  # the fake's 1 KiB/s is "fast"
    data = file_bytes(5 * CS + 99)
    h = Harness(data)
    run(h.download())
    h.assert_complete(data)
    chunks = plan_chunks(len(data), CS)
    assert h.remote.requests[0] == (0, CS)  # streamed: it measures the network
    assert sorted(h.remote.whole_requests) == [(c.start, c.end) for c in chunks[1:]]
    assert h.remote.bytes_sent == len(data)
    done = [p.done for p in h.progress]
    assert done == sorted(done) and done[-1] == len(data)


def test_a_cut_whole_chunk_is_fetched_again_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "WHOLE_CHUNK_RATE", 500)
    data = file_bytes(6 * CS)
    h = Harness(data, parallel=1)
    h.remote.drop_connection(at=2 * CS + 1000, times=1)  # chunk 2, fetched whole, breaks
    run(h.download())
    h.assert_complete(data)
    # chunk 1 went whole; chunk 2's first 1000 bytes were lost with its whole response, and
    # from then on every chunk streams, keeping each byte that arrives
    assert h.remote.whole_requests == [(CS, 2 * CS), (2 * CS, 3 * CS)]
    assert h.remote.requests[3:] == [
        (2 * CS, 3 * CS),
        (3 * CS, 4 * CS),
        (4 * CS, 5 * CS),
        (5 * CS, 6 * CS),
    ]
    assert h.remote.bytes_sent == len(data) + 1000


def test_a_first_chunk_that_was_cut_never_goes_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "WHOLE_CHUNK_RATE", 500)
    data = file_bytes(4 * CS)
    h = Harness(data)
    h.remote.drop_connection(at=1000, times=1)
    run(h.download())
    h.assert_complete(data)
    assert h.remote.whole_requests == []
    assert h.remote.bytes_sent == len(data)


def test_progress_rate_is_never_negative_after_a_retry() -> None:
    data = file_bytes(3 * CS)
    h = Harness(data)
    h.remote.drop_connection(at=3000, times=1)
    run(h.download())
    rates = [p.bytes_per_second for p in h.progress if p.bytes_per_second is not None]
    assert min(rates) >= 0, "a retried chunk made the shown download rate negative"
    assert all(p.eta_seconds is None or p.eta_seconds > 0 for p in h.progress[:-1])


def test_connection_that_keeps_dropping_fails_and_keeps_what_arrived() -> None:
    data = file_bytes(8 * CS)
    h = Harness(data)
    # chunk 2 breaks after 1000 bytes, then brings no byte at all
    h.remote.drop_connection(at=2 * CS + 1000, times=1 + STALLED_ATTEMPTS)
    with pytest.raises(NetworkError, match=r"no data arrived for about \d+ s \(7 tries\)"):
        run(h.download())
    assert h.remote.requests.count((2 * CS + 1000, 3 * CS)) == STALLED_ATTEMPTS
    record = h.assert_consistent(data)
    assert not record.complete and record.chunk_digests[2] is None
    assert record.chunk_digests[0] is not None  # stored chunks are kept
    assert record.partial_chunks == {"2": 1000}  # and so is the start of chunk 2
    assert h.store.chunks[(MODEL_ID, 2)] == data[2 * CS : 2 * CS + 1000]
    assert record.stored_bytes == CS * (8 - len(record.missing)) + 1000
    missing = ranges(record.missing)
    before, sent = len(h.remote.requests), h.remote.bytes_sent

    run(h.download())  # the connection is back: only what is missing is fetched
    record = h.assert_complete(data)
    resumed = [(start + 1000, end) if start == 2 * CS else (start, end) for start, end in missing]
    assert sorted(h.remote.requests[before:]) == resumed
    assert h.remote.bytes_sent - sent == sum(end - start for start, end in resumed)
    assert record.partial_chunks == {}


@pytest.mark.parametrize(
    "validators",
    [
        {"etag": '"v1"', "last_modified": None},
        {"etag": None, "last_modified": "Mon, 06 Jan 2025 10:00:00 GMT"},
        {},
    ],
    ids=["etag", "last-modified", "both"],
)
def test_changed_file_on_resume_is_told_and_downloaded_again(validators: dict[str, Any]) -> None:
    old, new = file_bytes(6 * CS, seed=1), file_bytes(6 * CS, seed=2)
    h = Harness(old, parallel=1, **validators)
    with pytest.raises(AbortedError):
        run(h.download(h.abort_after(2)))
    h.remote.change(new)
    h.store.on_put = None
    before = len(h.remote.requests)

    run(h.download(AbortSignal()))
    assert len(h.notices) == 1
    assert NAME in h.notices[0] and "changed on the server" in h.notices[0]
    record = h.assert_complete(new)  # no stale chunk survives
    assert (record.etag, record.last_modified) == (h.remote.etag, h.remote.last_modified)
    assert set(h.remote.requests[before:]) == set(ranges(record.chunks))


def test_cancel_mid_chunk_keeps_what_arrived_and_resume_asks_for_the_rest() -> None:
    data = file_bytes(6 * CS)
    h = Harness(data, piece=512)
    signal = CancelAtBytes(h.remote, 2 * CS + 1536)
    with pytest.raises(AbortedError):
        run(h.download(signal))
    record = h.assert_consistent(data)
    assert record.partial_chunks, "the chunks in flight at Cancel keep their first bytes"
    for index, have in record.partial_chunks.items():
        chunk = record.chunks[int(index)]
        assert h.store.chunks[(MODEL_ID, chunk.index)] == data[chunk.start : chunk.start + have]
    sent = h.remote.bytes_sent
    run(h.download())
    h.assert_complete(data)
    assert h.remote.bytes_sent == len(data)  # across Cancel and Resume, no byte twice
    assert h.remote.bytes_sent - sent == len(data) - record.stored_bytes


def test_a_cancelled_load_task_keeps_what_the_fetches_in_flight_brought() -> None:
    """The page aborts the signal and cancels the load task at once (App.cancel_load)."""
    data = file_bytes(4 * CS)
    h = Harness(data, piece=512)

    async def scenario() -> None:
        signal = AbortSignal()
        task = asyncio.ensure_future(h.download(signal))
        while h.remote.bytes_sent < 1536:
            await asyncio.sleep(0)
        signal.aborted = True
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())
    record = h.assert_consistent(data)
    assert record.partial_chunks and sum(record.partial_chunks.values()) >= 1536
    sent = h.remote.bytes_sent
    run(h.download())
    h.assert_complete(data)
    assert h.remote.bytes_sent - sent == len(data) - record.stored_bytes


def test_retry_pauses_double_up_to_a_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "RETRY_PAUSE_S", 0.5)
    assert [cache.retry_pause(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]
    assert cache.stall_limit_seconds() == 23.5  # the pauses between the 7 tries


def test_file_changing_during_a_download_restarts_it() -> None:
    old, new = file_bytes(8 * CS, seed=1), file_bytes(8 * CS, seed=2)
    h = Harness(old)
    h.store.on_put = lambda _id, _index: len(h.store.puts) == 2 and h.remote.change(new)
    run(h.download())
    assert len(h.notices) == 1 and "changed on the server" in h.notices[0]
    h.assert_complete(new)


def test_size_change_is_noticed_by_start_download_and_starts_fresh() -> None:
    old = file_bytes(6 * CS, seed=1)
    h = Harness(old, parallel=1)
    with pytest.raises(AbortedError):
        run(h.download(h.abort_after(2)))
    new = file_bytes(5 * CS + 7, seed=2)
    h.remote.change(new)

    async def go() -> ModelRecord:
        record = await h.cache.start_download(URL, NAME, len(new), SPEC, h.notices.append)
        assert h.store.chunk_indexes(MODEL_ID) == set()  # the stale chunks are gone
        assert record.size == len(new) and not any(record.chunk_digests)
        await h.cache.download(record, None, h.progress.append, h.notices.append)
        return record

    run(go())
    assert len(h.notices) == 1 and "changed on the server" in h.notices[0]
    assert "8.00 KiB stored" in h.notices[0]
    h.assert_complete(new)


# ---- servers that ignore Range ---------------------------------------------------------


def test_server_without_range_streams_the_file_into_chunks() -> None:
    data = file_bytes(5 * CS + 99)
    h = Harness(data, ranges=False)
    run(h.download())
    h.assert_complete(data)
    assert h.remote.streams == 1
    assert h.remote.requests == [(0, CS)]  # the probe that found Range ignored
    assert sorted(h.store.puts) == [(MODEL_ID, i) for i in range(6)]
    assert h.progress[-1].done == len(data)


def test_server_without_range_resume_stores_only_missing_chunks() -> None:
    data = file_bytes(6 * CS)
    h = Harness(data, ranges=False)
    with pytest.raises(AbortedError):
        run(h.download(h.abort_after(2)))
    assert h.assert_consistent(data).chunk_digests[:2] != [None, None]
    h.store.on_put = None
    before = len(h.store.puts)

    run(h.download(AbortSignal()))
    h.assert_complete(data)
    assert sorted(h.store.puts[before:]) == [(MODEL_ID, i) for i in range(2, 6)]
    assert h.remote.streams == 2


def test_server_without_range_dropping_mid_stream_is_retried() -> None:
    data = file_bytes(5 * CS)
    h = Harness(data, ranges=False)
    h.remote.drop_connection(at=2 * CS + 100, times=1)
    run(h.download())
    h.assert_complete(data)
    assert h.remote.streams == 2
    assert sorted(h.store.puts) == [(MODEL_ID, i) for i in range(5)]  # none stored twice


def test_server_without_range_that_changed_the_file_restarts() -> None:
    old, new = file_bytes(6 * CS, seed=1), file_bytes(6 * CS, seed=2)
    h = Harness(old, ranges=False)
    with pytest.raises(AbortedError):
        run(h.download(h.abort_after(2)))
    h.remote.change(new)
    h.store.on_put = None

    run(h.download(AbortSignal()))
    assert len(h.notices) == 1 and "changed on the server" in h.notices[0]
    h.assert_complete(new)


# ---- storage quota ---------------------------------------------------------------------


def test_quota_exceeded_states_sizes_keeps_the_partial_model_and_resumes() -> None:
    data = file_bytes(5 * CS + 100)
    quota = 2 * CS + CS // 2
    h = Harness(data, quota=quota, parallel=1)
    with pytest.raises(StorageFullError) as raised:
        run(h.download())
    message = str(raised.value)
    assert isinstance(raised.value, LocalWebAIError)
    assert NAME in message
    assert f"needs {format_bytes(len(data) - 2 * CS)} more" in message
    assert f"only {format_bytes(quota - 2 * CS)} of the {format_bytes(quota)} quota" in message
    record = h.assert_consistent(data)
    assert not record.complete
    assert [d is not None for d in record.chunk_digests] == [True, True] + [False] * 4
    assert h.store.chunk_indexes(MODEL_ID) == {0, 1}
    before = len(h.remote.requests)

    h.store.quota = None  # the user freed space
    run(h.download())
    h.assert_complete(data)
    assert h.remote.requests[before:] == ranges(plan_chunks(len(data), CS)[2:])


def test_quota_exceeded_where_the_browser_gives_no_estimate() -> None:
    data = file_bytes(3 * CS)
    h = Harness(data, quota=CS, parallel=1)
    h.store.reports_estimate = False  # no navigator.storage (WebKit without the Storage API)
    with pytest.raises(StorageFullError) as raised:
        run(h.download())
    assert f"needs {format_bytes(2 * CS)} more and the browser refused to store it" in str(
        raised.value
    )
    assert h.store.chunk_indexes(MODEL_ID) == {0}


def test_storage_line_says_unknown_where_the_browser_does_not_say() -> None:
    assert describe_storage(None, False) == (
        "Storage: unknown (this browser does not report its storage use or quota)."
    )
    line = describe_storage(StorageEstimate(usage=10**9, quota=4 * 10**9), True)
    assert line == (
        f"Storage: {format_bytes(10**9)} used of {format_bytes(4 * 10**9)}"
        f" ({format_bytes(3 * 10**9)} free), persistent."
    )


def test_quota_exceeded_with_parallel_fetches_never_marks_unstored_chunks() -> None:
    data = file_bytes(12 * CS)
    h = Harness(data, quota=5 * CS)
    with pytest.raises(StorageFullError):
        run(h.download())
    record = h.assert_consistent(data)
    assert not record.complete and record.stored_bytes <= 5 * CS
    assert record.stored_bytes >= CS


# ---- verifying and opening -------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ([("corrupt", 3)], "Chunk 4 of 6"),
        ([("lose", 1), ("corrupt", 4)], "Chunk 2, 5 of 6"),
    ],
)
def test_open_refetches_only_damaged_chunks(damage: list[tuple[str, int]], message: str) -> None:
    data = file_bytes(5 * CS + 1)
    h = Harness(data)
    run(h.download())
    for how, index in damage:
        getattr(h.store, how)(MODEL_ID, index)
    before = len(h.remote.requests)
    h.progress.clear()

    async def go() -> bytes:
        return await h.cache.open(h.record(), AbortSignal(), h.progress.append, h.notices.append)

    assert run(go()) == data
    assert len(h.notices) == 1 and h.notices[0].startswith(message)
    assert "damaged" in h.notices[0]
    chunks = plan_chunks(len(data), CS)
    assert sorted(h.remote.requests[before:]) == ranges([chunks[i] for _, i in damage])
    h.assert_complete(data)
    verifying = [p for p in h.progress if p.stage == LoadStage.VERIFYING]
    assert verifying[-1].done == verifying[-1].total == len(data)


def test_open_of_an_intact_model_makes_no_request_and_notes_its_use() -> None:
    data = file_bytes(3 * CS)
    h = Harness(data)
    run(h.download())
    before, used = len(h.remote.requests), h.record().last_used

    async def go() -> bytes:
        return await h.cache.open(h.record(), None, h.progress.append, h.notices.append)

    assert run(go()) == data
    assert len(h.remote.requests) == before and h.notices == []
    assert h.record().last_used is not None and h.record().last_used != used


def test_open_cancelled_while_verifying() -> None:
    data = file_bytes(3 * CS)
    h = Harness(data)
    run(h.download())

    async def go() -> bytes:
        return await h.cache.open(
            h.record(), AbortSignal(aborted=True), h.progress.append, h.notices.append
        )

    with pytest.raises(AbortedError):
        run(go())


def test_assemble_refuses_an_incomplete_model() -> None:
    data = file_bytes(3 * CS)
    h = Harness(data, parallel=1)
    with pytest.raises(AbortedError):
        run(h.download(h.abort_after(1)))
    with pytest.raises(CacheError, match="not completely cached"):
        run_assemble(h, h.record())


def test_header_blob_is_the_stored_prefix() -> None:
    data = file_bytes(5 * CS)
    h = Harness(data)
    run(h.download())
    h.store.lose(MODEL_ID, 2)

    async def go(record: ModelRecord) -> bytes | None:
        return await h.cache.header_blob(record)

    assert run(go(h.record())) == data[: 2 * CS]
    record = h.record()
    record.chunk_digests[0] = None
    assert run(go(record)) is None


# ---- importing local files -------------------------------------------------------------


def import_into(h: Harness, file: bytes, model_id: str, signal: Any = None) -> ModelRecord:
    async def go() -> ModelRecord:
        return await h.cache.import_file(
            file, model_id, "local.gguf", SPEC, signal, h.progress.append
        )

    return run(go())


def test_import_file_stores_real_size_chunks_with_digests_and_resumes() -> None:
    data = file_bytes(2 * CHUNK_SIZE + 1000)
    model_id = file_model_id("local.gguf", len(data), 1)
    h = Harness(b"")
    with pytest.raises(AbortedError, match="Import cancelled"):
        import_into(h, data, model_id, h.abort_after(1))
    partial = h.assert_consistent(data, model_id)
    assert [d is not None for d in partial.chunk_digests] == [True, False, False]

    h.store.on_put = None
    h.blobs.slices.clear()
    h.progress.clear()
    record = import_into(h, data, model_id, AbortSignal())
    assert h.blobs.slices == ranges(plan_chunks(len(data))[1:])  # only what was missing
    assert record == h.assert_complete(data, model_id)
    assert record.source_url is None and record.chunk_size == CHUNK_SIZE
    assert record.chunk_digests == [chunk_digest(data[c.start : c.end]) for c in record.chunks]
    assert {p.stage for p in h.progress} == {LoadStage.IMPORTING}
    assert [p.done for p in h.progress] == [2 * CHUNK_SIZE, len(data)]
    assert h.remote.requests == []


def test_damaged_import_asks_for_the_file_and_reimport_repairs_only_that_chunk() -> None:
    data = file_bytes(4 * CS + 5)
    model_id = file_model_id("local.gguf", len(data), 1)
    h = Harness(b"")
    partial = ModelRecord.new(model_id, "local.gguf", len(data), SPEC, chunk_size=CS)
    run(h.store.put_record(partial.to_stored()))
    import_into(h, data, model_id)
    h.store.corrupt(model_id, 2)

    async def go() -> bytes:
        record = h.record(model_id)
        return await h.cache.open(record, None, h.progress.append, h.notices.append)

    with pytest.raises(CacheError, match="pick the file again") as raised:
        run(go())
    assert "chunk 3 of 5" in str(raised.value)
    assert h.remote.requests == [] and h.notices == []
    assert h.record(model_id).chunk_digests[2] is None  # never handed out as complete

    h.blobs.slices.clear()
    import_into(h, data, model_id)
    assert h.blobs.slices == [(2 * CS, 3 * CS)]
    assert run(go()) == data


# ---- records: migration, listing, deleting ---------------------------------------------


def test_chunks_get_the_fastest_digest_the_side_computes() -> None:
    data = file_bytes(3 * CS)
    page = Harness(data)
    run(page.download())
    assert [digest_algorithm(d) for d in page.assert_complete(data).chunk_digests] == ["xxh3"] * 3
    native = Harness(data)
    native.blobs = BytesBlobOps(digests=("sha256",))
    run(native.download())
    assert native.assert_complete(data).chunk_digests == [
        chunk_digest(data[c.start : c.end], "sha256") for c in plan_chunks(len(data), CS)
    ]


def test_a_version_1_record_keeps_its_sha256_chunks_and_new_ones_get_xxh3() -> None:
    data = file_bytes(3 * CS)
    h = Harness(data)
    h.blobs = BytesBlobOps(digests=("sha256",))
    run(h.download())
    stored = h.store.saved[MODEL_ID]
    hexes = [d.removeprefix("sha256:") for d in stored.pop("chunk_digests")]
    hexes[2] = None  # its last chunk still missing
    stored.update(schema_version=1, chunk_sha256=hexes)  # as the cache of 2026-12-02 wrote it
    del h.store.chunks[(MODEL_ID, 2)]
    h.blobs = BytesBlobOps()  # the page: XXH3 preferred

    migrated = h.record()
    assert migrated.schema_version == cache.SCHEMA_VERSION
    assert migrated.chunk_digests[:2] == [f"sha256:{x}" for x in hexes[:2]]
    record = run(h.download())
    assert h.remote.requests[-1] == (2 * CS, 3 * CS)  # only the missing chunk
    digests = h.assert_complete(data).chunk_digests
    assert [digest_algorithm(d) for d in digests] == ["sha256", "sha256", "xxh3"]
    assert run(h.cache.open(record, None, h.progress.append, h.notices.append)) == data
    h.store.corrupt(MODEL_ID, 0)  # a damaged old chunk is still found, by its sha256
    assert [c.index for c in run(h.cache.verified_chunks(h.record(), None, lambda _p: None))] == [0]


def test_a_chunk_in_a_digest_this_side_lacks_is_fetched_again() -> None:
    data = file_bytes(2 * CS)
    h = Harness(data)
    run(h.download())  # XXH3 chunks
    h.blobs = BytesBlobOps(digests=("sha256",))
    bad = run(h.cache.verified_chunks(h.record(), None, lambda _p: None))
    assert [c.index for c in bad] == [0, 1]
    run(h.download())
    assert [digest_algorithm(d) for d in h.assert_complete(data).chunk_digests] == ["sha256"] * 2


def sample_record(model_id: str = MODEL_ID, size: int = 3 * CS) -> ModelRecord:
    return ModelRecord.new(model_id, NAME, size, SPEC, source_url=URL, chunk_size=CS)


def test_record_round_trips_through_storage() -> None:
    record = sample_record()
    record.chunk_digests[1] = "ab" * 32
    record.etag = '"x"'
    assert ModelRecord.from_stored(record.to_stored()) == record


@pytest.mark.parametrize(
    "spoil",
    [
        lambda s: s.update(schema_version=0),
        lambda s: s.update(schema_version=cache.SCHEMA_VERSION + 1),
        lambda s: s.pop("schema_version"),
        lambda s: s.update(chunk_digests=s["chunk_digests"][:-1]),
        lambda s: s.update(chunk_digests=[*s["chunk_digests"], None]),
        lambda s: s.pop("size"),
    ],
    ids=["older", "newer", "unversioned", "too-few-chunks", "too-many-chunks", "no-size"],
)
def test_unreadable_records_are_discarded_with_their_chunks(
    spoil: Callable[[dict[str, Any]], Any],
) -> None:
    h = Harness(b"")
    good, bad = sample_record("url-good"), sample_record("url-bad")
    stored = bad.to_stored()
    spoil(stored)
    assert ModelRecord.from_stored(stored) is None

    async def go() -> list[ModelRecord]:
        await h.store.put_record(good.to_stored())
        await h.store.put_record(stored)
        await h.store.put_chunk("url-bad", 0, b"x" * CS)
        await h.store.put_chunk("url-good", 0, b"y" * CS)
        return await h.cache.models()

    assert run(go()) == [good]
    assert set(h.store.saved) == {"url-good"}
    assert h.store.chunk_indexes("url-bad") == set()
    assert h.store.chunk_indexes("url-good") == {0}


def test_models_are_listed_most_recently_used_first_and_touch_moves_one_up() -> None:
    h = Harness(b"")
    a, b, c = (sample_record(f"url-{n}") for n in "abc")  # added in this order

    async def go() -> list[list[str]]:
        for record in (a, b, c):
            await h.store.put_record(record.to_stored())
        orders = [[r.id for r in await h.cache.models()]]
        await h.cache.touch(a)
        orders.append([r.id for r in await h.cache.models()])
        await h.cache.touch(b)
        orders.append([r.id for r in await h.cache.models()])
        return orders

    assert run(go()) == [
        ["url-c", "url-b", "url-a"],
        ["url-a", "url-c", "url-b"],
        ["url-b", "url-a", "url-c"],
    ]
    assert h.record("url-a").last_used == a.last_used is not None
    assert a.last_used > a.date_added


def test_delete_and_clear() -> None:
    h = Harness(b"")

    async def go() -> None:
        for model_id in ("url-a", "url-b"):
            await h.store.put_record(sample_record(model_id).to_stored())
            await h.store.put_chunk(model_id, 0, b"z" * CS)
        await h.cache.delete("url-a")
        assert [r.id for r in await h.cache.models()] == ["url-b"]
        assert h.store.chunk_indexes("url-a") == set() and h.store.chunk_indexes("url-b") == {0}
        assert await h.cache.get("url-a") is None
        await h.cache.clear()
        assert await h.cache.models() == [] and h.store.chunks == {}

    run(go())


def test_record_status() -> None:
    record = sample_record()
    assert record.status() == "0% (0 of 3 chunks)"
    record.chunk_digests[0] = "0" * 64
    assert record.status() == "33% (1 of 3 chunks)" and record.stored_bytes == CS
    record.chunk_digests = ["0" * 64] * 3
    assert record.complete and record.status() == "complete" and record.missing == []
    assert record.label == "Tiny Test"


# ---- progress arithmetic ---------------------------------------------------------------


def test_rate_meter() -> None:
    meter = RateMeter(window_s=3.0)
    assert meter.add(0.0, 0) is None
    assert meter.add(0.0, 100) is None  # no time has passed
    assert meter.add(1.0, 100) == pytest.approx(100)
    # 100 B/s until t=5, then 1000 B/s: once the window holds only the new pace, it shows
    done, rate = 100, None
    for t in range(2, 11):
        done += 100 if t <= 5 else 1000
        rate = meter.add(float(t), done)
    assert rate == pytest.approx(1000)


def test_load_progress_fraction_and_eta() -> None:
    p = LoadProgress(LoadStage.DOWNLOADING, done=250, total=1000, bytes_per_second=50.0)
    assert p.fraction == 0.25 and p.eta_seconds == pytest.approx(15)
    assert LoadProgress(LoadStage.DOWNLOADING, done=5).fraction is None
    assert LoadProgress(LoadStage.DOWNLOADING, done=5, total=1000).eta_seconds is None
    over = LoadProgress(LoadStage.DOWNLOADING, done=1200, total=1000, bytes_per_second=10.0)
    assert over.fraction == 1.0 and over.eta_seconds == 0


def test_whole_file_sha256_is_checked_once_after_download() -> None:
    data = file_bytes(3 * CS + 7)
    h = Harness(data)

    async def download(expected: str) -> ModelRecord:
        cache = h.cache
        record = await cache.start_download(URL, NAME, len(data), SPEC, h.notices.append, expected)
        await cache.download(record, None, h.progress.append, h.notices.append)
        await cache.verify_file(record, await cache.assemble(record), h.progress.append)
        return record

    record = run(download(sha256(data).upper()))
    assert any(p.stage is LoadStage.VERIFYING for p in h.progress)
    assert record.file_verified and h.record(record.id).file_verified
    h.progress.clear()
    run(h.cache.verify_file(record, data, h.progress.append))  # already verified: no work
    assert h.progress == []


def test_whole_file_sha256_mismatch_removes_the_download() -> None:
    data = file_bytes(2 * CS + 1)
    h = Harness(data)

    async def download() -> None:
        cache = h.cache
        record = await cache.start_download(URL, NAME, len(data), SPEC, h.notices.append, "ab" * 32)
        await cache.download(record, None, h.progress.append, h.notices.append)
        await cache.verify_file(record, await cache.assemble(record), h.progress.append)

    with pytest.raises(CacheError, match="does not match the expected sha256"):
        run(download())
    assert run(h.cache.models()) == []
