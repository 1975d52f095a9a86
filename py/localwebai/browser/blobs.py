"""Model bytes as JS Blobs: download with progress, or read a small slice (a header) into Python."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import JsException, create_proxy

from ..errors import AbortedError, ModelNotFoundError, ModelSourceError, NetworkError
from .jsinterop import error_fields, glue

Progress = Callable[[int, int], None]


async def fetch_blob(url: str, signal: Any, on_progress: Progress) -> Any:
    """Download ``url`` into a Blob (in JS); typed errors for HTTP failures, drops and aborts."""
    progress = create_proxy(lambda received, total: on_progress(int(received), int(total)))
    try:
        result = await glue.fetchBlob(url, _options(signal, progress))
    except JsException as error:
        name, _, message = error_fields(error)
        if name == "AbortError" or signal.aborted:
            raise AbortedError("Download cancelled.") from None
        raise NetworkError(f"Could not download {url}: {message or 'network error'}.") from None
    finally:
        progress.destroy()
    if not result.ok:
        status, text = int(result.status), str(result.statusText or "")
        if status == 404:
            raise ModelNotFoundError(f"No model at {url}: the server answered 404 Not Found.")
        raise ModelSourceError(f"Could not download {url}: the server answered {status} {text}.")
    return result.blob


def _options(signal: Any, progress: Any) -> Any:
    options = js.Object.new()
    options.signal = signal
    options.onProgress = progress
    return options


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
        return (await response.json()).to_py()
    except JsException:
        return None


def new_abort_controller() -> Any:
    return js.AbortController.new()
