"""Shared test fixtures: the generated test models, serve.py on a free port, and a browser page
that may only talk to that server (any other request fails the test)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import gguf
import numpy as np
import pytest

import serve

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO / "models"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
OVERSIZED_MODEL = "oversized-llama.gguf"
LARGE_MODEL = "large-zero-llama.gguf"
LARGE_MODEL_VOCAB = "ggml-vocab-llama-spm.gguf"
LARGE_MODEL_SHAPE = (8192, 256, 3, 64)  # n_embd, n_ff, n_layer, n_head: 2.17 GB in F16
NO_RANGE_PREFIX = "/no-range/"
FLAKY_PREFIX = "/flaky/"
SLOW_PREFIX = "/slow/"
MiB = 1 << 20
SLOW_BYTES_PER_SECOND = 8 * MiB
OVERSIZED_WEIGHTS_SHAPE = (4096, 393_216)  # F32: 6 GiB of weights, more than wasm's 4 GiB
PYTHON_BOOT_TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The folder `scripts/make_test_models.py` fills; fail loudly when it was not run."""
    if not (MODELS_DIR / "tiny-llama.gguf").is_file():
        pytest.fail("test models missing: run `python scripts/make_test_models.py` first")
    return MODELS_DIR


def write_oversized_model(path: Path) -> None:
    """A real GGUF header claiming 6 GiB of weights; the data is a sparse hole (no disk used)."""
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("Oversized header-only llama")
    writer.add_context_length(4096)
    writer.add_block_count(32)
    writer.add_embedding_length(4096)
    writer.add_feed_forward_length(11008)
    writer.add_head_count(32)
    nbytes = OVERSIZED_WEIGHTS_SHAPE[0] * OVERSIZED_WEIGHTS_SHAPE[1] * 4
    writer.add_tensor_info(
        "token_embd.weight", OVERSIZED_WEIGHTS_SHAPE, np.dtype(np.float32), nbytes
    )
    write_with_sparse_data(writer, path, nbytes)


def write_with_sparse_data(writer: gguf.GGUFWriter, path: Path, data_size: int) -> int:
    """Write the header and tensor infos, then extend the file by ``data_size`` bytes of
    tensor data as a sparse hole (zeros that take no time or disk). Returns the file's size."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    with path.open("r+b") as f:
        data_start = -(-f.seek(0, os.SEEK_END) // 32) * 32  # tensor data is 32-byte aligned
        f.truncate(data_start + data_size)
    return data_start + data_size


@pytest.fixture(scope="session")
def served_models_dir(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the test server lists: the test models (hard links) plus the oversized header."""
    served = tmp_path_factory.mktemp("served-models")
    for model in models_dir.glob("*.gguf"):
        try:
            os.link(model, served / model.name)
        except OSError:
            shutil.copy2(model, served / model.name)
    write_oversized_model(served / OVERSIZED_MODEL)
    return served


def write_large_model(path: Path, vocab: Path) -> int:
    """A loadable llama GGUF larger than 2 GiB (F16, 3 layers of width 8192) whose weights are
    all zero: the data is a sparse hole, so it takes no time or disk to make. Returns its size."""
    reader = gguf.GGUFReader(vocab)
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("Large zero llama")
    n_embd, n_ff, n_layer, n_head = LARGE_MODEL_SHAPE
    for key, value in [
        ("context_length", 512),
        ("embedding_length", n_embd),
        ("block_count", n_layer),
        ("feed_forward_length", n_ff),
        ("attention.head_count", n_head),
        ("attention.head_count_kv", n_head),
    ]:
        writer.add_uint32(f"llama.{key}", value)
    writer.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    for key, field in reader.fields.items():
        if key.startswith("tokenizer."):
            writer.add_key_value(key, field.contents(), field.types[0], field.types[-1])
    n_vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    shapes = {"token_embd.weight": (n_vocab, n_embd), "output_norm.weight": (n_embd,)}
    for layer in range(n_layer):
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            shapes[f"blk.{layer}.{name}.weight"] = (n_embd, n_embd)
        shapes[f"blk.{layer}.ffn_gate.weight"] = (n_ff, n_embd)
        shapes[f"blk.{layer}.ffn_up.weight"] = (n_ff, n_embd)
        shapes[f"blk.{layer}.ffn_down.weight"] = (n_embd, n_ff)
        shapes[f"blk.{layer}.attn_norm.weight"] = (n_embd,)
        shapes[f"blk.{layer}.ffn_norm.weight"] = (n_embd,)
    data_size = 0
    for name, shape in shapes.items():
        dtype = np.dtype(np.float16 if len(shape) == 2 else np.float32)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        writer.add_tensor_info(name, shape, dtype, nbytes)
        data_size += -(-nbytes // 32) * 32
    return write_with_sparse_data(writer, path, data_size)


@pytest.fixture(scope="session")
def large_model(served_models_dir: Path, models_dir: Path) -> str:
    """Name of a served model over 2 GiB (weights all zero; see ``write_large_model``)."""
    write_large_model(served_models_dir / LARGE_MODEL, models_dir / "vocab" / LARGE_MODEL_VOCAB)
    return LARGE_MODEL


@pytest.fixture(scope="session")
def oversized_model(served_models_dir: Path) -> str:
    """Name of the served model whose header claims more memory than a tab has."""
    return OVERSIZED_MODEL


class MisbehavingHandler(serve.RequestHandler):
    """serve.py's handler, plus two misbehaving views of /models/X for the browser tests:

    - /no-range/models/X acts like a server without Range support (always 200, whole file);
    - /flaky/models/X drops the connection halfway through the first response to each Range
      longer than 2 MiB (a cache chunk; header reads are left alone);
    - /slow/models/X sends at most SLOW_BYTES_PER_SECOND per response.
    """

    dropped: ClassVar[set[str]] = set()
    """Range headers already answered with a dropped connection (once each, per session)."""

    def _serve(self, send_body: bool) -> None:
        if self.path.startswith(NO_RANGE_PREFIX):
            del self.headers["Range"]
        super()._serve(send_body)

    def _locate(self, url_path: str) -> Path | None:
        for prefix in (NO_RANGE_PREFIX, FLAKY_PREFIX, SLOW_PREFIX):
            url_path = url_path.removeprefix(prefix.rstrip("/"))
        return super()._locate(url_path)

    def _copy(self, source, length: int) -> int:
        if self.path.startswith(SLOW_PREFIX):
            return self._copy_slowly(source, length)
        key = f"{self.path} {self.headers.get('Range')}"
        if not self.path.startswith(FLAKY_PREFIX) or key in self.dropped or length <= 2 * MiB:
            return super()._copy(source, length)
        self.dropped.add(key)
        sent = super()._copy(source, length // 2)
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True
        return sent

    def _copy_slowly(self, source, length: int) -> int:
        sent = 0
        piece = SLOW_BYTES_PER_SECOND // 10
        while sent < length:
            n = super()._copy(source, min(piece, length - sent))
            sent += n
            if n < min(piece, length - sent + n):
                break  # the page went away
            time.sleep(0.1)
        return sent


@pytest.fixture(scope="session")
def app_server(served_models_dir: Path) -> Iterator[serve.AppServer]:
    """serve.py in a thread on a free port, serving the test models under /models/."""
    server = serve.make_server(
        port=0, models_dir=served_models_dir, quiet=True, handler=MisbehavingHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium (never a downloaded browser) with the flags that work offline here."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def block_non_local(context) -> list[str]:
    """Abort every request of a browser context that leaves localhost; the returned list fills
    with their URLs (a test or benchmark fails when it is not empty)."""
    blocked: list[str] = []

    def guard(route) -> None:
        url = route.request.url
        is_network = url.startswith(("http://", "https://", "ws://", "wss://"))
        if is_network and urlsplit(url).hostname not in LOCAL_HOSTS:
            blocked.append(url)
            route.abort()
            return
        route.continue_()

    context.route("**/*", guard)
    return blocked


@contextlib.contextmanager
def guarded(page) -> Iterator:
    """On exit, fail the test if ``page`` tried to reach beyond localhost (such requests are
    aborted) or threw an uncaught error."""
    blocked = block_non_local(page.context)
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    yield page
    assert blocked == [], f"the page tried to reach beyond localhost: {blocked}"
    assert page_errors == [], f"uncaught errors in the page: {page_errors}"


@contextlib.contextmanager
def booted_app(page, app_server: serve.AppServer) -> Iterator:
    """``page`` guarded, with the app open and booted to "Python ready"."""
    with guarded(page):
        page.goto(app_server.url)
        page.wait_for_selector("body[data-state=ready]", timeout=PYTHON_BOOT_TIMEOUT_MS)
        yield page


@pytest.fixture
def app_page(page, app_server: serve.AppServer):
    """The app, booted to "Python ready", in a context where non-local requests fail the test."""
    with booted_app(page, app_server) as booted:
        yield booted


@pytest.fixture
def persistent_app_page(browser_type, browser_type_launch_args, app_server, tmp_path):
    """Like ``app_page``, in a browser with an on-disk profile: the only kind in which Chromium
    enforces a quota set with ``Storage.overrideQuotaForOrigin``."""
    profile = tmp_path / "profile"
    context = browser_type.launch_persistent_context(profile, **browser_type_launch_args)
    try:
        with booted_app(context.new_page(), app_server) as booted:
            yield booted
    finally:
        context.close()
