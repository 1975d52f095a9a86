"""Model bytes as JS Blobs: download with progress, or read a small slice (a header) into Python.

:class:`BlobModelBytes` is the core's ``ModelBytes`` over these functions.
"""

from __future__ import annotations

from typing import Any

import js
from pyodide.ffi import JsException, create_proxy

from ..errors import AbortedError, ModelNotFoundError, ModelSourceError, NetworkError
from ..model_store import DownloadProgress, ModelBytes, RangeBytes
from .jsinterop import error_fields, field, glue, to_py_dict


async def fetch_blob(url: str, signal: Any, on_progress: DownloadProgress) -> Any:
    """Download ``url`` into a Blob (in JS); typed errors for HTTP failures, drops and aborts."""
    progress = create_proxy(lambda received, total: on_progress(int(received), int(total)))
    options = js.Object.new()
    options.signal = signal
    options.onProgress = progress
    try:
        result = await checked_fetch(glue.fetchBlob(url, options), url, signal)
    finally:
        progress.destroy()
    return result.blob


async def fetch_range(url: str, start: int, end: int, signal: Any) -> RangeBytes:
    """Bytes ``[start, end)`` of ``url`` (header bytes only), by Range request where possible."""
    options = js.Object.new()
    options.signal = signal
    result = await checked_fetch(glue.fetchRange(url, start, end, options), url, signal)
    size = field(result, "size")
    return RangeBytes(data=bytes(result.bytes.to_py()), size=None if size is None else int(size))


async def checked_fetch(request: Any, url: str, signal: Any) -> Any:
    """Await a glue fetch; map its failures onto the error tree."""
    try:
        result = await request
    except JsException as error:
        name, _, message = error_fields(error)
        if name == "AbortError" or signal.aborted:
            raise AbortedError("Download cancelled.") from None
        raise NetworkError(f"Could not download {url}: {message or 'network error'}.") from None
    if not result.ok:
        status, text = int(result.status), str(field(result, "statusText") or "")
        if status == 404:
            raise ModelNotFoundError(f"No model at {url}: the server answered 404 Not Found.")
        raise ModelSourceError(f"Could not download {url}: the server answered {status} {text}.")
    return result


async def read_bytes(blob: Any, start: int, end: int) -> bytes:
    """Bytes ``[start, end)`` of a Blob; only ever used for headers, never for weights."""
    buffer = await blob.slice(start, end).arrayBuffer()
    return bytes(js.Uint8Array.new(buffer).to_py())


async def fetch_json(url: str) -> Any | None:
    """GET a JSON document; ``None`` when it is missing or not JSON (e.g. on a static host)."""
    try:
        response = await js.fetch(url)
        if not response.ok:
            return None
        return to_py_dict(await response.json())
    except JsException:
        return None


def new_abort_controller() -> Any:
    return js.AbortController.new()


class BlobModelBytes(ModelBytes):
    """Model bytes in the page: Blob slices, Range requests and downloads into Blobs."""

    async def read(self, blob: Any, start: int, end: int) -> bytes:
        return await read_bytes(blob, start, end)

    async def fetch_range(self, url: str, start: int, end: int, signal: Any) -> RangeBytes:
        if signal is None:
            signal = new_abort_controller().signal
        return await fetch_range(url, start, end, signal)

    async def fetch_whole(self, url: str, signal: Any, on_progress: DownloadProgress) -> Any:
        return await fetch_blob(url, signal, on_progress)

    def last_modified_ms(self, file: Any) -> int:
        return int(field(file, "lastModified") or 0)
