"""serve.py: isolation headers, MIME types, Range answers, model listing, traversal refusal."""

from __future__ import annotations

import http.client
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import serve
from tests.support.server import serve_py

MODEL_BYTES = bytes(range(256)) * 40  # 10 240 bytes with a recognisable pattern


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[serve.AppServer]:
    models = tmp_path_factory.mktemp("models")
    (models / "small.gguf").write_bytes(MODEL_BYTES)
    (models / "notes.txt").write_text("not a model")
    with serve_py(models) as app:
        yield app


def request(
    app: serve.AppServer, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[http.client.HTTPResponse, bytes]:
    host, port = app.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for name, value in (headers or {}).items():
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


def test_index_has_isolation_headers(server: serve.AppServer) -> None:
    response, body = request(server, "/")
    assert response.status == 200
    assert response.getheader("Cross-Origin-Opener-Policy") == "same-origin"
    assert response.getheader("Cross-Origin-Embedder-Policy") == "require-corp"
    assert response.getheader("Cross-Origin-Resource-Policy") == "same-origin"
    assert response.getheader("Content-Type").startswith("text/html")
    assert b"starting Python" in body


@pytest.mark.parametrize(
    ("path", "mime"),
    [
        ("/wasm/wllama.wasm", "application/wasm"),
        ("/vendor/pyodide/pyodide.mjs", "text/javascript"),
        ("/vendor/wllama/index.js", "text/javascript"),
        ("/models/small.gguf", "application/octet-stream"),
        ("/py/localwebai/errors.py", "text/x-python"),
    ],
)
def test_mime_types(server: serve.AppServer, path: str, mime: str) -> None:
    response, _ = request(server, path, method="HEAD")
    assert response.status == 200, path
    assert response.getheader("Content-Type").split(";")[0] == mime


def test_wheel_mime() -> None:
    assert serve.content_type(Path("micropip-0.11.1-py3-none-any.whl")) == "application/zip"


def test_full_file_advertises_ranges(server: serve.AppServer) -> None:
    response, body = request(server, "/models/small.gguf")
    assert response.status == 200
    assert response.getheader("Accept-Ranges") == "bytes"
    assert body == MODEL_BYTES


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-40", 10200, 10239),
        ("bytes=10200-99999", 10200, 10239),
    ],
)
def test_range_answers_206(server: serve.AppServer, header: str, start: int, end: int) -> None:
    response, body = request(server, "/models/small.gguf", {"Range": header})
    assert response.status == 206
    assert response.getheader("Content-Range") == f"bytes {start}-{end}/{len(MODEL_BYTES)}"
    assert body == MODEL_BYTES[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-20010", "bytes=-0", "bytes=9-3"])
def test_unsatisfiable_range_answers_416(server: serve.AppServer, header: str) -> None:
    response, body = request(server, "/models/small.gguf", {"Range": header})
    assert response.status == 416
    assert response.getheader("Content-Range") == f"bytes */{len(MODEL_BYTES)}"
    assert body == b""


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5", "bytes=abc"])
def test_unsupported_range_forms_send_whole_file(server: serve.AppServer, header: str) -> None:
    response, body = request(server, "/models/small.gguf", {"Range": header})
    assert response.status == 200
    assert body == MODEL_BYTES


def test_page_archive_is_made_from_the_checkout(server: serve.AppServer) -> None:
    response, body = request(server, "/py/localwebai.zip")
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/zip"
    assert response.getheader("Cross-Origin-Embedder-Policy") == "require-corp"
    archive = zipfile.ZipFile(io.BytesIO(body))
    errors = serve.REPO / "py" / "localwebai" / "errors.py"
    assert archive.read("localwebai/errors.py") == errors.read_bytes()
    head, head_body = request(server, "/py/localwebai.zip", method="HEAD")
    assert head.status == 200 and head_body == b""
    assert int(head.getheader("Content-Length")) == len(body)


def test_models_index_lists_only_gguf(server: serve.AppServer) -> None:
    response, body = request(server, "/models/index.json")
    assert response.status == 200
    assert json.loads(body) == {
        "models": [{"name": "small.gguf", "url": "/models/small.gguf", "size": len(MODEL_BYTES)}]
    }


@pytest.mark.parametrize(
    "path",
    [
        "/../serve.py",
        "/%2e%2e/serve.py",
        "/py/../serve.py",
        "/models/..%2fnotes.txt",
        "/models/%2e%2e/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/py/..%5c..%5cserve.py",
    ],
)
def test_traversal_is_refused(server: serve.AppServer, path: str) -> None:
    response, body = request(server, path)
    assert response.status in (403, 404)
    assert b"import" not in body and b"root:" not in body


def test_missing_file_is_404(server: serve.AppServer) -> None:
    response, _ = request(server, "/models/absent.gguf")
    assert response.status == 404


def test_head_sends_no_body(server: serve.AppServer) -> None:
    response, body = request(server, "/models/small.gguf", method="HEAD")
    assert response.status == 200
    assert response.getheader("Content-Length") == str(len(MODEL_BYTES))
    assert body == b""


def test_request_log_counts_bytes(server: serve.AppServer) -> None:
    request(server, "/models/small.gguf?log", {"Range": "bytes=0-9"})
    deadline = time.monotonic() + 5  # the handler logs just after the client has its bytes
    while time.monotonic() < deadline:
        entries = [e for e in server.request_log if e.path == "/models/small.gguf?log"]
        if entries:
            break
        time.sleep(0.01)
    assert [(e.status, e.range, e.bytes_sent) for e in entries] == [(206, "bytes=0-9", 10)]
