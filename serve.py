"""Development server for LocalWebAI (standard library only).

    python serve.py [--host 127.0.0.1] [--port 8000] [--models DIR]

Serves the app with the headers that make the page cross-origin isolated (so wllama can use
threads), the right MIME types for wasm and modules, and HTTP Range answers so large model files
stream. URL space, each prefix backed by one folder of the repo:

    /          web/      the page, its CSS and JS glue, vendored Pyodide/PyScript/wllama
    /py/       py/       the Python package the page imports, as one zip made on each
                         request (/py/localwebai.zip: localwebai.tooling.page_archive)
    /wasm/     wasm/     the llama.cpp WebAssembly build
    /models/   --models  local GGUF files (default: ./models when it exists);
                         /models/index.json lists them for the page
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import mimetypes
import os
import re
import sys
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "py"))  # the pure localwebai package; it needs no install

from localwebai.server_models import INDEX_PATH, index_json, list_gguf_files  # noqa: E402
from localwebai.tooling.http_headers import ISOLATION_HEADERS, MIME_TYPES  # noqa: E402
from localwebai.tooling.page_archive import ARCHIVE_PATH, page_archive  # noqa: E402

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MODELS_DIR = REPO / "models"
MODELS_PREFIX = "/models/"
COPY_CHUNK = 1 << 20

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    """The Range header names no byte of the file."""


@dataclass(frozen=True)
class LoggedRequest:
    """One answered request, kept so tests can count what was served."""

    method: str
    path: str
    status: int
    range: str | None
    bytes_sent: int


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Return the inclusive byte span a single-range ``Range`` header asks for.

    ``None`` means "send the whole file": no header, a malformed one, or several ranges (RFC 9110
    lets a server ignore those). Raises ``RangeNotSatisfiable`` when the range lies past the end.
    """
    if not header:
        return None
    match = _RANGE_RE.match(header.strip())
    if not match or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # suffix range: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - length), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or (last != "" and int(last) < start):
        raise RangeNotSatisfiable
    return start, end


def content_type(path: Path) -> str:
    """MIME type by extension; the table wins over the platform's mimetypes database."""
    suffix = path.suffix.lower()
    if suffix in MIME_TYPES:
        return MIME_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def resolve_inside(root: Path, relative: str) -> Path | None:
    """Map a URL path below ``root`` to a file, or ``None`` if it would leave ``root``."""
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    if any(p == ".." or "\\" in p or "\0" in p for p in parts):
        return None
    candidate = root.joinpath(*parts).resolve()
    root = root.resolve()
    if candidate != root and not candidate.is_relative_to(root):
        return None
    return candidate


class AppServer(ThreadingHTTPServer):
    """The HTTP server, holding the URL-prefix → folder map and a request log."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        models_dir: Path | None,
        quiet: bool = False,
        handler: type[BaseHTTPRequestHandler] | None = None,
    ):
        self.roots: dict[str, Path] = {
            "/py/": REPO / "py",
            "/wasm/": REPO / "wasm",
            "/": REPO / "web",
        }
        self.models_dir = models_dir
        if models_dir is not None:
            self.roots = {MODELS_PREFIX: models_dir, **self.roots}
        self.quiet = quiet
        self.request_log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        super().__init__(address, handler or RequestHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self.request_log.append(entry)


class RequestHandler(BaseHTTPRequestHandler):
    """GET/HEAD for static files with isolation headers and single-range support."""

    server: AppServer
    protocol_version = "HTTP/1.1"
    server_version = "LocalWebAI-serve"

    def handle(self) -> None:
        # the browser may drop a connection at any time (a cancelled download, a closed tab)
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            super().handle()

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _serve(self, send_body: bool) -> None:
        url_path = unquote(urlsplit(self.path).path)
        if url_path == "/" + INDEX_PATH:
            body = index_json(list_gguf_files(self.server.models_dir, MODELS_PREFIX)).encode()
            self._send_bytes(HTTPStatus.OK, body, "application/json", send_body)
            return
        if url_path == "/" + ARCHIVE_PATH:
            archive = page_archive(REPO / "py")
            self._send_bytes(HTTPStatus.OK, archive, "application/zip", send_body)
            return
        target = self._locate(url_path)
        if target is None:
            self._send_error(HTTPStatus.FORBIDDEN, "path outside the served folders")
            return
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            self._send_error(HTTPStatus.NOT_FOUND, "not found")
            return
        self._send_file(target, send_body)

    def _locate(self, url_path: str) -> Path | None:
        if not url_path.startswith("/") or "//" in url_path:
            return None
        for prefix, root in self.server.roots.items():
            if url_path.startswith(prefix) or url_path + "/" == prefix:
                return resolve_inside(root, url_path[len(prefix) :])
        return None

    def _common_headers(self) -> None:
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-cache")

    def _send_file(self, path: Path, send_body: bool) -> None:
        stat = path.stat()
        size = stat.st_size
        range_header = self.headers.get("Range")
        try:
            span = parse_range(range_header, size)
        except RangeNotSatisfiable:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self._common_headers()
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            self._log(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, range_header, 0)
            return
        start, end = span if span else (0, size - 1)
        length = end - start + 1 if size else 0
        status = HTTPStatus.PARTIAL_CONTENT if span else HTTPStatus.OK
        self.send_response(status)
        self._common_headers()
        self.send_header("Content-Type", content_type(path))
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
        self.send_header("ETag", f'"{stat.st_mtime_ns:x}-{size:x}"')
        if span:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        sent = 0
        if send_body and length:
            with path.open("rb") as f:
                f.seek(start)
                sent = self._copy(f, length)
        self._log(status, range_header, sent)

    def _copy(self, source, length: int) -> int:
        sent = 0
        try:
            while sent < length:
                chunk = source.read(min(COPY_CHUNK, length - sent))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the page cancelled the download
        return sent

    def _send_bytes(self, status: int, body: bytes, mime: str, send_body: bool) -> None:
        self.send_response(status)
        self._common_headers()
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)
        self._log(status, None, len(body) if send_body else 0)

    def _send_error(self, status: HTTPStatus, reason: str) -> None:
        self._send_bytes(status, f"{status.value} {reason}\n".encode(), MIME_TYPES[".txt"], True)

    def _log(self, status: int, range_header: str | None, sent: int) -> None:
        self.server.record(LoggedRequest(self.command, self.path, int(status), range_header, sent))

    def log_message(self, format: str, *args: object) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)


def make_server(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    models_dir: Path | None = None,
    quiet: bool = False,
    handler: type[BaseHTTPRequestHandler] | None = None,
) -> AppServer:
    """Create (but do not start) the server; port 0 picks a free one."""
    return AppServer((host, port), models_dir, quiet=quiet, handler=handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve LocalWebAI with COOP/COEP for threads.")
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default %(default)s")
    parser.add_argument(
        "--models",
        type=Path,
        default=None,
        help="folder of .gguf files served under /models/ (default: ./models if it exists)",
    )
    args = parser.parse_args(argv)
    models_dir = args.models
    if models_dir is None and DEFAULT_MODELS_DIR.is_dir():
        models_dir = DEFAULT_MODELS_DIR
    if models_dir is not None and not models_dir.is_dir():
        parser.error(f"--models {models_dir}: no such folder")
    server = make_server(args.host, args.port, models_dir)
    print(f"LocalWebAI at {server.url}  (Ctrl+C to stop)", flush=True)
    if models_dir is not None:
        count = len(list_gguf_files(models_dir, MODELS_PREFIX))
        print(f"serving {count} model(s) from {models_dir.resolve()} under {MODELS_PREFIX}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
