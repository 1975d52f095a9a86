"""A plain static host for the static build (``python -m localwebai build``): Python's
SimpleHTTPRequestHandler, so no COOP/COEP headers (except under ``headers_prefix``), no Range
support and no model listing of its own; it logs every request and can play "offline"."""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import serve

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Hit:
    path: str
    range: str | None
    served: bool


class StaticHandler(SimpleHTTPRequestHandler):
    """Files from the server's root, Range ignored; logged, and unanswered while offline."""

    server: StaticServer
    extensions_map = {  # noqa: RUF012 - the stdlib's own class attribute, extended
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".webmanifest": "application/manifest+json",
    }

    def handle(self) -> None:
        # the page's first-visit reload drops connections mid-download
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            super().handle()

    def do_GET(self) -> None:
        offline = self.server.offline
        self.server.hits.append(Hit(urlsplit(self.path).path, self.headers["Range"], not offline))
        if offline:  # like a network that is gone: no answer at all
            self.close_connection = True
            return
        super().do_GET()

    def end_headers(self) -> None:
        prefix = self.server.headers_prefix
        if prefix and self.path.startswith(prefix):
            for name, value in serve.ISOLATION_HEADERS.items():
                self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class StaticServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, headers_prefix: str | None = None):
        """Serve ``root``; paths under ``headers_prefix`` get the isolation headers."""
        self.root = root
        self.headers_prefix = headers_prefix
        self.hits: list[Hit] = []
        self.offline = False
        super().__init__(("127.0.0.1", 0), functools.partial(StaticHandler, directory=str(root)))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def paths_since(self, start: int) -> set[str]:
        return {h.path for h in self.hits[start:]}


def build_with_models(out: Path, models: Path, *files: Path, options: tuple[str, ...] = ()) -> None:
    """The static build with ``files`` (hard-linked into the empty folder ``models``) as its
    "On this server" models, and the build's command-line ``options``."""
    for file in files:
        os.link(file, models / file.name)
    run_build(out, "--models", str(models), *options)


def run_build(out: Path, *args: str) -> None:
    """`python -m localwebai build`, exactly as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "py")}
    command = [sys.executable, "-m", "localwebai", "build", str(out), *args]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "built" in proc.stdout
