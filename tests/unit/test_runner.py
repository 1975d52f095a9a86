"""The runner's decisions, over in-memory fakes of its engine, model cache and network:
load parameters, the memory check, the path per source, the GPU→CPU fallback, one reply at a
time. The real engine and browser run the same code in tests/e2e/test_runner.py."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf
import localwebai.runner as runner_module
import numpy as np
import pytest
from aio import run
from localwebai.cache import CacheError, ModelCache, plan_chunks, url_model_id
from localwebai.chat_formats import CHATML, GEMMA
from localwebai.environment import Environment
from localwebai.errors import (
    AbortedError,
    BusyError,
    EngineError,
    ModelNotFoundError,
    ModelNotLoadedError,
    ModelTooLargeError,
    ParameterError,
)
from localwebai.generation import GenerationResult, StopReason, Timings
from localwebai.gguf import LOCAL_FIRST_READ_SIZE
from localwebai.model_store import UNCACHED_NOTICE, ModelStore, RangeBytes
from localwebai.params import GenerationParams, LoadChoices, LoadParams
from localwebai.progress import LoadProgress, LoadStage
from localwebai.runner import EngineInfo, LlamaRunner
from localwebai.sources import ModelSource
from memory_cache import (
    AbortSignal,
    CancelAtBytes,
    CheckedBytes,
    CheckingBlobOps,
    MemoryChunkStore,
    MemoryRemoteFile,
)

URL = "http://127.0.0.1:8000/models/runner-test.gguf"
CHUNK = 4096
PROBE = {
    "crossOriginIsolated": True,
    "sharedArrayBuffer": True,
    "hardwareConcurrency": 4,
    "simd": True,
    "jspi": True,
    "memory64": True,
    "wasmExceptions": True,
    "webgpu": {"available": False, "reason": "navigator.gpu is absent"},
}
USABLE_GPU = {"available": True, "fallback": False, "shaderF16": True}


def make_model(
    path: Path,
    name: str = "Runner test",
    context: int = 2048,
    template: str | None = None,
    rows: int = 48,
    architecture: str = "llama",
    vocab: int = 0,
) -> bytes:
    """A small real GGUF: one tensor of ``rows`` x 64 floats (48: a few chunks of the test
    cache)."""
    writer = gguf.GGUFWriter(path, architecture)
    writer.add_name(name)
    writer.add_context_length(context)
    writer.add_block_count(1)
    writer.add_embedding_length(64)
    writer.add_feed_forward_length(128)
    writer.add_head_count(4)
    if template:
        writer.add_chat_template(template)
    if vocab:
        writer.add_token_list([f"token-{i}" for i in range(vocab)])
    weights = np.random.default_rng(0).standard_normal((rows, 64)).astype(np.float32)
    writer.add_tensor("token_embd.weight", weights)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


@dataclass
class FakeFile:
    """A local file the user picked: its bytes, name and modification time."""

    data: bytes
    last_modified: int = 1_700_000_000_000


class FakeBlobOps(CheckingBlobOps):
    """``bytes`` blobs, checked as they are read (as in the page), and picked files (a
    ``FakeFile``) that slice like Blobs."""

    def slice(self, blob: Any, start: int, end: int) -> bytes:
        return super().slice(blob.data if isinstance(blob, FakeFile) else blob, start, end)

    def size(self, blob: Any) -> int:
        return len(blob.data if isinstance(blob, FakeFile) else blob)


class FakeModelBytes:
    """``ModelBytes`` over the fake server: header reads by Range, or whole downloads."""

    def __init__(self, remote: MemoryRemoteFile, tell_size: bool = True) -> None:
        self.remote = remote
        self.tell_size = tell_size
        self.header_reads: list[tuple[int, int]] = []
        self.blob_reads: list[tuple[int, int]] = []
        self.whole_downloads = 0

    async def read(self, blob: Any, start: int, end: int) -> bytes:
        self.blob_reads.append((start, end))
        data = blob.data if isinstance(blob, FakeFile) else blob
        return data[start:end]

    async def fetch_range(self, url: str, start: int, end: int, signal: Any) -> RangeBytes:
        if url != self.remote.url:
            raise ModelNotFoundError(f"No model at {url}: the server answered 404 Not Found.")
        self.header_reads.append((start, end))
        size = len(self.remote.data) if self.tell_size else None
        return RangeBytes(self.remote.data[start:end], size)

    async def fetch_whole(self, url: str, signal: Any, on_progress: Any) -> bytes:
        self.whole_downloads += 1
        on_progress(len(self.remote.data), 0)
        return self.remote.data

    def last_modified_ms(self, file: Any) -> int:
        return file.last_modified


class FakeEngine:
    """Loads anything; with ``gpu_fails`` a GPU load fails as WebGPU does on a bad adapter, and
    the first ``silent_starts`` loads never start.

    A reply streams ``reply`` one character at a time, waiting for ``gate`` between pieces
    when set, and ends as "aborted" once its signal is aborted."""

    def __init__(
        self,
        gpu_fails: bool = False,
        reply: str = "Hello",
        silent_starts: int = 0,
        reads: bool = True,
    ) -> None:
        self.gpu_fails = gpu_fails
        self.reads = reads
        """Read a checked model whole while loading (False: a load that ends before)."""
        self.silent_starts = silent_starts
        """How many loads never start (no read of the model, as a worker that never runs)."""
        self.reply = reply
        self.loads: list[tuple[Any, LoadParams]] = []
        self.chats: list[GenerationParams] = []
        self.gate: asyncio.Event | None = None
        self.unloads = 0
        self._loaded = False

    @property
    def loaded(self) -> bool:
        return self._loaded

    async def load(self, blob: Any, params: LoadParams, on_started: Any) -> EngineInfo:
        self.loads.append((blob, params))
        self._loaded = False
        if len(self.loads) <= self.silent_starts:  # a worker the browser never runs
            await asyncio.Event().wait()
        on_started()
        if self.reads and isinstance(blob, CheckedBytes):
            try:
                blob.checked_model.read()
            except OSError as error:
                raise EngineError(f"File read failed: {error}") from None
        if params.n_gpu_layers and self.gpu_fails:
            raise EngineError("Failed to create WebGPU device")
        self._loaded = True
        return EngineInfo(params.n_threads, params.n_threads > 1, "simd")

    async def unload(self) -> None:
        self._loaded = False
        self.unloads += 1

    async def complete(
        self, prompt: str, params: GenerationParams, signal: Any, on_text: Any
    ) -> GenerationResult:
        pieces = []
        for char in self.reply:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(0)
            if signal.aborted:
                return GenerationResult("".join(pieces), StopReason.ABORTED, Timings(), len(pieces))
            pieces.append(char)
            on_text(char)
        return GenerationResult("".join(pieces), StopReason.END, Timings(), len(pieces))

    async def chat(
        self, messages: list[dict[str, str]], params: GenerationParams, signal: Any, on_text: Any
    ) -> GenerationResult:
        self.chats.append(params)
        return await self.complete(messages[-1]["content"], params, signal, on_text)


class FakeAbort:
    def __init__(self) -> None:
        self.signal = AbortSignal()

    def abort(self) -> None:
        self.signal.aborted = True


@dataclass
class FakeEmbedder:
    blob: Any
    threads: int
    gpu_layers: int
    unloaded: bool = False

    async def embed(self, texts: Any) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]

    async def unload(self) -> None:
        self.unloaded = True


async def load_fake_embedder(blob: Any, threads: int, gpu_layers: int, build: str) -> FakeEmbedder:
    return FakeEmbedder(blob, threads, gpu_layers)


@dataclass
class Setup:
    """A runner over fakes; ``store`` outlives runners, as IndexedDB outlives a page."""

    data: bytes
    probe: dict[str, Any] = field(default_factory=lambda: dict(PROBE))
    store: MemoryChunkStore = field(default_factory=MemoryChunkStore)
    tell_size: bool = True
    blobs: FakeBlobOps = field(default_factory=lambda: FakeBlobOps())

    def __post_init__(self) -> None:
        self.remote = MemoryRemoteFile(URL, self.data)

    def runner(self, engine: FakeEngine | None = None) -> LlamaRunner:
        cache = ModelCache(self.store, self.remote, self.blobs, clock=lambda: 0.0, chunk_size=CHUNK)
        self.bytes = FakeModelBytes(self.remote, self.tell_size)
        environment = Environment.from_probe(self.probe)
        return LlamaRunner(
            environment,
            engine or FakeEngine(),
            ModelStore(cache, self.bytes),
            load_fake_embedder,
            FakeAbort,
        )


@pytest.fixture
def model(tmp_path: Path) -> bytes:
    return make_model(tmp_path / "runner-test.gguf")


# ---- load parameters ----------------------------------------------------------------------


def test_load_params_fit_the_model_and_the_browser(tmp_path: Path, model: bytes) -> None:
    runner = Setup(model).runner()
    inspection = run(runner.inspect(ModelSource.from_url(URL)))
    params = runner.load_params(inspection)
    # the context asked for (4096 by default) is capped by the model's own 2048
    assert params == LoadParams(
        n_ctx=2048, n_threads=4, n_gpu_layers=0, n_batch=512, chat_template=CHATML.template
    )
    short = runner.load_params(inspection, LoadChoices(n_ctx=256))
    assert (short.n_ctx, short.n_batch) == (256, 256)
    chosen = runner.load_params(inspection, LoadChoices(n_batch=64, n_threads=2, n_gpu_layers=5))
    assert (chosen.n_batch, chosen.n_threads, chosen.n_gpu_layers) == (64, 2, 5)
    runner.force_cpu = True  # "CPU only" wins over a GPU layers choice
    assert runner.load_params(inspection, LoadChoices(n_gpu_layers=5)).n_gpu_layers == 0
    with pytest.raises(ParameterError, match="Batch size must be between 32"):
        runner.load_params(inspection, LoadChoices(n_batch=16))
    templated = make_model(tmp_path / "templated.gguf", template="{{ messages }}")
    setup = Setup(templated, probe={**PROBE, "webgpu": USABLE_GPU, "crossOriginIsolated": False})
    runner = setup.runner()
    params = runner.load_params(run(runner.inspect(ModelSource.from_url(URL))))
    assert (params.chat_template, params.n_threads, params.n_gpu_layers) == (None, 1, 999)


def test_a_model_without_a_template_gets_its_architectures_format(tmp_path: Path) -> None:
    gemma = make_model(tmp_path / "gemma.gguf", architecture="gemma")
    engine = FakeEngine()
    runner = Setup(gemma).runner(engine)
    assert runner.chat_template_name == ""
    run(runner.load_model(ModelSource.from_url(URL), LoadParams(n_ctx=256, n_batch=256)))
    assert engine.loads[-1][1].chat_template == GEMMA.template  # also when params name none
    assert runner.chat_format is GEMMA
    assert runner.chat_template_name == GEMMA.name
    run(runner.chat_session().ask("Hi", GenerationParams(stop=("\n",))))
    assert engine.chats[-1].stop == ("\n", "<end_of_turn>")
    custom = LoadParams(n_ctx=256, n_batch=256, chat_template="T")
    run(runner.load_model(ModelSource.from_url(URL), custom))
    assert runner.chat_template_name == "custom (given at load)"
    run(runner.chat_session().ask("Hi"))
    assert engine.chats[-1].stop == ()
    run(runner.unload())
    assert (runner.chat_format, runner.chat_template_name) == (None, "")


def test_a_model_with_a_template_keeps_it(tmp_path: Path) -> None:
    templated = make_model(tmp_path / "gemma.gguf", template="{{ messages }}", architecture="gemma")
    engine = FakeEngine()
    runner = Setup(templated).runner(engine)
    run(runner.load_model(ModelSource.from_url(URL), LoadParams(n_ctx=256, n_batch=256)))
    assert engine.loads[-1][1].chat_template is None
    assert (runner.chat_format, runner.chat_template_name) == (None, "the model's own")
    run(runner.chat_session().ask("Hi"))
    assert engine.chats[-1].stop == ()


def test_load_choices_from_the_form() -> None:
    form = {"n_ctx": " 1024 ", "n_batch": "", "n_threads": "2", "n_gpu_layers": ""}
    assert LoadChoices.from_form(form) == LoadChoices(n_ctx=1024, n_threads=2)
    assert LoadChoices.from_form({}).overrides() == {}
    assert LoadChoices(n_ctx=512, n_gpu_layers=0).overrides() == {"n_gpu_layers": 0}
    with pytest.raises(ParameterError, match="Batch size must be a whole number, not 'many'"):
        LoadChoices.from_form({"n_batch": "many"})
    with pytest.raises(ParameterError, match="Context must be a whole number"):
        LoadChoices.from_form({"n_ctx": "4k"})
    with pytest.raises(ParameterError, match="Unknown load parameter"):
        LoadChoices.from_form({"n_ubatch": "8"})


# ---- the path per source ------------------------------------------------------------------


def test_a_url_downloads_into_the_cache_once_then_loads_with_no_request(model: bytes) -> None:
    setup = Setup(model)
    engine = FakeEngine()
    progress: list[LoadProgress] = []
    info = run(
        setup.runner(engine).load_model(ModelSource.from_url(URL), on_progress=progress.append)
    )
    assert info == EngineInfo(threads=4, multithread=True, build="simd")
    assert engine.loads[0][0] == model  # the whole file, assembled from the cached chunks
    assert setup.bytes.header_reads and len(setup.remote.requests) == -(-len(model) // CHUNK)
    stages = [p.stage for p in progress]
    assert stages[0] is LoadStage.READING_HEADER and stages[-1] is LoadStage.READY
    assert LoadStage.DOWNLOADING in stages and LoadStage.INITIALIZING in stages
    # a reload: the header comes from the cached prefix and the weights from the cache
    requests = len(setup.remote.requests)
    again = FakeEngine()
    runner = setup.runner(again)
    run(runner.load_model(ModelSource.from_url(URL)))
    assert again.loads[0][0] == model
    assert len(setup.remote.requests) == requests and setup.bytes.header_reads == []
    assert runner.model_name == "Runner test"
    # picked from the cache list, by id
    by_id = FakeEngine()
    run(setup.runner(by_id).load_model(ModelSource.from_cache(url_model_id(URL), "runner")))
    assert by_id.loads[0][0] == model and len(setup.remote.requests) == requests


def test_a_local_file_is_imported_and_handed_over_as_it_is(model: bytes) -> None:
    setup = Setup(model)
    engine = FakeEngine()
    picked = FakeFile(model)
    runner = setup.runner(engine)
    run(runner.load_model(ModelSource.from_file(picked, "mine.gguf")))
    assert engine.loads[0][0] is picked
    assert setup.remote.requests == [] and setup.bytes.header_reads == []
    records = run(runner.store.cache.models())
    assert [(r.file_name, r.complete) for r in records] == [("mine.gguf", True)]
    # from then on it loads from the cache, without the file
    again = FakeEngine()
    run(setup.runner(again).load_model(ModelSource.from_cache(records[0].id, "mine.gguf")))
    assert again.loads[0][0] == model


def test_a_header_on_this_machine_is_parsed_from_one_read(tmp_path: Path) -> None:
    model = make_model(tmp_path / "vocab.gguf", vocab=150_000)  # a 2.4 MB header
    setup = Setup(model)
    runner = setup.runner()
    inspection = run(runner.inspect(ModelSource.from_file(FakeFile(model), "vocab.gguf")))
    assert len(setup.bytes.blob_reads) == 1 and inspection.header.data_offset > 2 << 20
    run(runner.load_model(ModelSource.from_file(FakeFile(model), "vocab.gguf")))
    (record,) = run(runner.store.cache.models())
    setup.bytes.blob_reads.clear()
    run(runner.inspect(ModelSource.from_cache(record.id, record.label)))  # the cached prefix
    assert setup.bytes.blob_reads == [(0, min(LOCAL_FIRST_READ_SIZE, len(model)))]


def test_a_download_cut_in_its_first_chunk_resumes_from_the_cache_list(tmp_path: Path) -> None:
    model = make_model(tmp_path / "big.gguf", rows=4096)  # 1 MiB: many test chunks
    setup = Setup(model)
    runner = setup.runner()
    with pytest.raises(AbortedError):
        run(runner.load_model(ModelSource.from_url(URL), signal=CancelAtBytes(setup.remote, 1000)))
    (record,) = run(runner.store.cache.models())
    assert record.chunk_digests[0] is None and record.partial_chunks  # no whole chunk yet
    # the cache list offers Resume by id: the record's own URL serves the header and the rest
    engine = FakeEngine()
    run(setup.runner(engine).load_model(ModelSource.from_cache(record.id, record.label)))
    assert engine.loads[0][0] == model
    assert setup.remote.bytes_sent == len(model)  # nothing fetched twice across the two


def test_a_browser_that_refuses_blobs_caches_chunks_as_bytes(model: bytes) -> None:
    setup = Setup(model)
    setup.store.refuses_blobs = True  # WebKit's automation profile: Blobs no, ArrayBuffers yes
    engine = FakeEngine()
    run(setup.runner(engine).load_model(ModelSource.from_url(URL)))
    sent = setup.remote.bytes_sent
    again = setup.runner(engine)  # a reload: a new cache object, the same database
    run(again.load_model(ModelSource.from_url(URL)))
    assert engine.loads[0][0] == model and engine.loads[1][0] == model
    assert setup.remote.bytes_sent == sent  # the second load came from the cache
    assert setup.store.byte_puts == len(plan_chunks(len(model), CHUNK)) > 0
    (record,) = run(again.store.cache.models())
    assert record.complete


def test_a_browser_that_stores_nothing_still_loads_models_uncached(model: bytes) -> None:
    setup = Setup(model)
    setup.store.refuses_blobs = True
    setup.store.keeps_bytes = False
    notes: list[str] = []

    def on_progress(progress: LoadProgress) -> None:
        if progress.note:
            notes.append(progress.note)

    engine = FakeEngine()
    runner = setup.runner(engine)
    run(runner.load_model(ModelSource.from_url(URL), on_progress=on_progress))
    picked = FakeFile(model)
    run(runner.load_model(ModelSource.from_file(picked, "mine.gguf"), on_progress=on_progress))
    assert engine.loads[0][0] == model and engine.loads[1][0] is picked
    assert setup.bytes.whole_downloads == 1 and runner.loaded
    assert "loaded without caching: it downloads again next time" in notes[0]
    assert "It is loaded from the file, not cached." in notes[1]
    assert run(runner.store.cache.models()) == []  # no empty record left behind


def test_a_partial_import_asks_for_the_file_again(tmp_path: Path) -> None:
    # 2 MiB, cancelled after 1.2 MiB: more than the header read, less than the file
    model = make_model(tmp_path / "mine.gguf", rows=8192)
    setup = Setup(model)
    runner = setup.runner()
    picked = FakeFile(model)
    runner_abort = FakeAbort()
    setup.store.on_put = lambda _model, index: index == 300 and runner_abort.abort()
    source = ModelSource.from_file(picked, "mine.gguf")
    with pytest.raises(Exception, match="cancelled"):
        run(runner.load_model(source, signal=runner_abort.signal))
    (record,) = run(runner.store.cache.models())
    assert not record.complete
    with pytest.raises(CacheError, match="only partly imported: pick the file again"):
        run(setup.runner().load_model(ModelSource.from_cache(record.id, "mine.gguf")))
    run(runner.store.cache.delete(record.id))
    with pytest.raises(CacheError, match="no longer in the cache"):
        run(setup.runner().load_model(ModelSource.from_cache(record.id, "mine.gguf")))


def test_a_server_that_gives_no_size_is_loaded_but_not_cached(model: bytes) -> None:
    setup = Setup(model, tell_size=False)
    engine = FakeEngine()
    notes: list[str] = []
    runner = setup.runner(engine)

    def on_progress(progress: LoadProgress) -> None:
        if progress.note:
            notes.append(progress.note)

    run(runner.load_model(ModelSource.from_url(URL), on_progress=on_progress))
    assert engine.loads[0][0] == model and setup.bytes.whole_downloads == 1
    assert notes == [UNCACHED_NOTICE]
    assert run(runner.store.cache.models()) == []


# ---- refusals and failures ----------------------------------------------------------------


def test_a_model_too_large_is_refused_before_any_download(model: bytes) -> None:
    setup = Setup(model, probe={**PROBE, "deviceMemoryGiB": 0.0625})  # 32 MiB for the tab
    engine = FakeEngine()
    with pytest.raises(ModelTooLargeError, match=r"Not loaded: .*this device's memory"):
        run(setup.runner(engine).load_model(ModelSource.from_url(URL)))
    assert setup.remote.requests == [] and engine.loads == []
    assert setup.store.saved == {}


def test_a_failed_load_leaves_the_loaded_model_loaded(model: bytes) -> None:
    setup = Setup(model)
    engine = FakeEngine()
    runner = setup.runner(engine)
    run(runner.load_model(ModelSource.from_url(URL)))
    with pytest.raises(ModelNotFoundError, match="404"):
        run(runner.load_model(ModelSource.from_url(URL + ".missing")))
    assert runner.loaded and runner.model_name == "Runner test"

    async def reply() -> GenerationResult:
        return await runner.generate("Hi", GenerationParams())

    assert run(reply()).text == "Hello"


def test_webgpu_that_fails_to_start_falls_back_to_the_cpu(model: bytes) -> None:
    setup = Setup(model, probe={**PROBE, "webgpu": USABLE_GPU})
    engine = FakeEngine(gpu_fails=True)
    runner = setup.runner(engine)
    run(runner.load_model(ModelSource.from_url(URL)))
    assert [params.n_gpu_layers for _, params in engine.loads] == [999, 0]
    # WebGPU lives in wllama's build; the CPU retry runs ours
    assert [params.build for _, params in engine.loads] == ["default", "simd"]
    assert runner.loaded
    assert runner.backend == "CPU (WebGPU failed: Failed to create WebGPU device)"
    working = FakeEngine()
    runner = setup.runner(working)
    run(runner.load_model(ModelSource.from_url(URL)))
    assert runner.backend == "WebGPU" and len(working.loads) == 1
    runner.force_cpu = True
    run(runner.load_model(ModelSource.from_url(URL)))
    assert runner.backend == "CPU (CPU only chosen)"
    assert working.loads[-1][1].n_gpu_layers == 0
    cpu = Setup(model).runner()
    run(cpu.load_model(ModelSource.from_url(URL)))
    assert cpu.backend == "CPU (WebGPU unused: navigator.gpu is absent)"


def test_an_engine_that_never_starts_is_replaced_then_reported(
    model: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "ENGINE_START_TIMEOUT_S", 0.05)
    setup = Setup(model)
    once = FakeEngine(silent_starts=1)  # the first worker never runs: a second one is started
    runner = setup.runner(once)
    notes: list[str] = []
    run(runner.load_model(ModelSource.from_url(URL), on_progress=lambda p: notes.append(p.note)))
    assert runner.loaded and len(once.loads) == 2 and once.unloads >= 1
    assert runner_module.ENGINE_RESTARTED in notes
    never = FakeEngine(silent_starts=runner_module.ENGINE_START_ATTEMPTS)
    runner = setup.runner(never)
    with pytest.raises(EngineError, match=r"did not start: .* in 0 s, twice\. Reload the page"):
        run(runner.load_model(ModelSource.from_url(URL)))
    assert not runner.loaded and len(never.loads) == runner_module.ENGINE_START_ATTEMPTS
    assert run(runner.store.cache.models())[0].complete  # the cached model is kept


def test_a_slow_load_that_has_started_is_not_cut_short(
    model: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "ENGINE_START_TIMEOUT_S", 0.01)

    class SlowEngine(FakeEngine):
        async def load(self, blob: Any, params: LoadParams, on_started: Any) -> EngineInfo:
            on_started()  # reading a big model takes longer than the start timeout
            await asyncio.sleep(0.05)
            return await super().load(blob, params, lambda: None)

    engine = SlowEngine()
    runner = Setup(model).runner(engine)
    run(runner.load_model(ModelSource.from_url(URL)))
    assert runner.loaded and len(engine.loads) == 1


# ---- a cached model: checked as the engine reads it ---------------------------------------


def cached(model: bytes) -> tuple[Setup, str]:
    """A setup whose store holds the whole model (downloaded once), and its record id."""
    setup = Setup(model)
    run(setup.runner().load_model(ModelSource.from_url(URL)))
    (record,) = run(setup.runner().store.cache.models())
    setup.blobs.digested = 0
    return setup, record.id


def test_a_cached_model_is_checked_as_the_engine_reads_it(model: bytes) -> None:
    setup, _ = cached(model)
    engine = FakeEngine()
    progress: list[LoadProgress] = []
    runner = setup.runner(engine)
    run(runner.load_model(ModelSource.from_url(URL), on_progress=progress.append))
    assert runner.loaded and engine.loads[0][0] == model
    checked = setup.blobs.checked_models[-1]
    assert checked.closed and checked.damaged() == [] and checked.unread() == []
    assert setup.blobs.digested == 0  # no pass over the chunks before or after the engine's
    verifying = [p for p in progress if p.stage is LoadStage.VERIFYING]
    assert verifying[-1].done == verifying[-1].total == len(model)
    assert [p.stage for p in progress][-1] is LoadStage.READY
    assert run(runner.store.cache.models())[0].last_used is not None


def test_chunks_the_engine_did_not_read_are_checked_after_it(model: bytes) -> None:
    setup, _ = cached(model)
    runner = setup.runner(FakeEngine(reads=False))
    run(runner.load_model(ModelSource.from_url(URL)))
    assert runner.loaded and setup.blobs.digested == len(plan_chunks(len(model), CHUNK))


@pytest.mark.parametrize("reads", [True, False], ids=["read and failed", "loaded unread"])
def test_a_damaged_chunk_is_fetched_again_before_the_model_is_used(
    model: bytes, reads: bool
) -> None:
    setup, model_id = cached(model)
    setup.store.corrupt(model_id, 1)
    requests = len(setup.remote.requests)
    engine = FakeEngine(reads=reads)
    notes: list[str] = []
    runner = setup.runner(engine)
    run(runner.load_model(ModelSource.from_url(URL), on_progress=lambda p: notes.append(p.note)))
    assert runner.loaded and len(engine.loads) == 2 and engine.loads[-1][0] == model
    assert engine.unloads == (0 if reads else 1)  # a model loaded from damaged bytes is ended
    chunk = plan_chunks(len(model), CHUNK)[1]
    assert setup.remote.requests[requests:] == [(chunk.start, chunk.end)]
    assert any(n.startswith("Chunk 2 of") and "damaged" in n for n in notes if n)
    assert run(runner.store.cache.models())[0].complete


def test_a_damaged_import_asks_for_the_file_again(model: bytes) -> None:
    setup = Setup(model)
    run(setup.runner().load_model(ModelSource.from_file(FakeFile(model), "mine.gguf")))
    (record,) = run(setup.runner().store.cache.models())
    setup.store.corrupt(record.id, 2)
    engine = FakeEngine()
    runner = setup.runner(engine)
    with pytest.raises(CacheError, match=r"damaged \(chunk 3 of \d+\): pick the file again"):
        run(runner.load_model(ModelSource.from_cache(record.id, record.label)))
    assert len(engine.loads) == 1 and not runner.loaded and setup.remote.requests == []


def test_an_engine_failure_on_intact_chunks_is_the_engine_error(model: bytes) -> None:
    setup, _ = cached(model)

    class FailingEngine(FakeEngine):
        async def load(self, blob: Any, params: LoadParams, on_started: Any) -> EngineInfo:
            await super().load(blob, params, on_started)
            raise EngineError("llama_model_load: unknown model architecture")

    engine = FailingEngine()
    runner = setup.runner(engine)
    with pytest.raises(EngineError, match="unknown model architecture"):
        run(runner.load_model(ModelSource.from_url(URL)))
    assert len(engine.loads) == 1 and setup.blobs.checked_models[-1].closed
    assert run(runner.store.cache.models())[0].complete  # nothing unmarked, nothing fetched


# ---- replies ------------------------------------------------------------------------------


def test_one_reply_at_a_time_and_abort_stops_it(model: bytes) -> None:
    async def scenario() -> tuple[GenerationResult, GenerationResult]:
        engine = FakeEngine(reply="Once upon a time")
        runner = Setup(model).runner(engine)
        with pytest.raises(ModelNotLoadedError):
            await runner.generate("Hi")
        await runner.load_model(ModelSource.from_url(URL))
        engine.gate = asyncio.Event()
        first = runner.generate("Once")
        await asyncio.sleep(0)
        assert runner.busy
        with pytest.raises(BusyError, match="still being generated"):
            await runner.generate("Again")
        with pytest.raises(BusyError):
            await runner.chat_session().ask("Hello?")
        runner.abort()
        engine.gate.set()
        stopped = await first
        assert not runner.busy
        return stopped, await runner.generate("Next")

    stopped, after = run(scenario())
    assert stopped.stop_reason is StopReason.ABORTED and stopped.text == ""
    assert (after.stop_reason, after.text) == (StopReason.END, "Once upon a time")


def test_an_embedding_model_loads_beside_the_chat_model(model: bytes) -> None:
    setup = Setup(model)
    runner = setup.runner()
    with pytest.raises(ModelNotLoadedError, match="No embedding model"):
        run(runner.embed(["a"]))
    first = run(runner.load_embedding_model(ModelSource.from_url(URL)))
    assert (first.blob, first.threads, first.gpu_layers) == (model, 4, 0)
    assert run(runner.embed(["a", "b"])) == [[1.0, 0.0], [1.0, 0.0]]
    second = run(runner.load_embedding_model(ModelSource.from_url(URL)))
    assert first.unloaded and not second.unloaded
    run(runner.terminate())
    assert second.unloaded and runner.embedder is None and not runner.loaded
