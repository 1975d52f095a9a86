"""serve.py for the tests: in a thread on a free port, with a handler that can misbehave."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar, TypeVar
from urllib.parse import unquote, urlsplit

import serve

from . import fake_hub

NO_RANGE_PREFIX = "/no-range/"
FLAKY_PREFIX = "/flaky/"
SLOW_PREFIX = "/slow/"
DROPPING_PREFIX = "/drop-every-5mb/"
DROP_EVERY_BYTES = 5 * (1 << 20)
MiB = 1 << 20
SLOW_BYTES_PER_SECOND = 8 * MiB

Server = TypeVar("Server", bound=ThreadingHTTPServer)


class MisbehavingHandler(serve.RequestHandler):
    """serve.py's handler, plus four misbehaving views of /models/X for the browser tests:

    - /no-range/models/X acts like a server without Range support (always 200, whole file);
    - /flaky/models/X drops the connection halfway through the first response to each Range
      longer than 2 MiB (a cache chunk; header reads are left alone);
    - /drop-every-5mb/models/X drops every connection after DROP_EVERY_BYTES of its body, as
      mobile and hotel networks do;
    - /slow/models/X sends at most SLOW_BYTES_PER_SECOND per response;

    and a fake of the Hugging Face hub's public paths under /fake-hub/ (``fake_hub``).
    """

    dropped: ClassVar[set[str]] = set()
    """Range headers already answered with a dropped connection (once each, per session)."""

    def _serve(self, send_body: bool) -> None:
        if self.path.startswith(NO_RANGE_PREFIX):
            del self.headers["Range"]
        url_path = unquote(urlsplit(self.path).path)
        if url_path.startswith(fake_hub.FAKE_HUB_PREFIX) and self.server.models_dir is not None:
            self._serve_fake_hub(url_path, send_body)
            return
        super()._serve(send_body)

    def _serve_fake_hub(self, url_path: str, send_body: bool) -> None:
        models_dir = self.server.models_dir
        assert models_dir is not None
        answer = fake_hub.json_answer(url_path, models_dir)
        if answer is not None:
            status, body = answer
            self._send_bytes(status, fake_hub.encode(body), "application/json", send_body)
            return
        target = fake_hub.resolved_file(url_path, models_dir)
        if target is None or not target.is_file():
            self._send_error(HTTPStatus.NOT_FOUND, "not on the fake hub")
            return
        self._send_file(target, send_body)

    def _locate(self, url_path: str) -> Path | None:
        for prefix in (NO_RANGE_PREFIX, FLAKY_PREFIX, DROPPING_PREFIX, SLOW_PREFIX):
            url_path = url_path.removeprefix(prefix.rstrip("/"))
        return super()._locate(url_path)

    def _copy(self, source, length: int) -> int:
        if self.path.startswith(SLOW_PREFIX) or fake_hub.is_slow(self.path):
            return self._copy_slowly(source, length)
        if self.path.startswith(DROPPING_PREFIX) and length > DROP_EVERY_BYTES:
            return self._copy_and_drop(source, DROP_EVERY_BYTES)
        key = f"{self.path} {self.headers.get('Range')}"
        if not self.path.startswith(FLAKY_PREFIX) or key in self.dropped or length <= 2 * MiB:
            return super()._copy(source, length)
        self.dropped.add(key)
        return self._copy_and_drop(source, length // 2)

    def _copy_and_drop(self, source, length: int) -> int:
        """Send ``length`` bytes of the body, then break the connection."""
        sent = super()._copy(source, length)
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


@contextlib.contextmanager
def serving(server: Server) -> Iterator[Server]:
    """Run ``server`` in a daemon thread until the block ends, then shut it down and close it."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def serve_py(
    models_dir: Path | None, handler: type[BaseHTTPRequestHandler] | None = None
) -> contextlib.AbstractContextManager[serve.AppServer]:
    """serve.py on a free port, quiet, serving ``models_dir`` under /models/, while the block
    runs (``with serve_py(folder) as server: ... server.url``)."""
    return serving(serve.make_server(port=0, models_dir=models_dir, quiet=True, handler=handler))
