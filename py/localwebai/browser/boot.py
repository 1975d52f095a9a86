"""Pyodide's start in this page (``web/js/pyodide-boot.js``): how it went, and saving a snapshot."""

from __future__ import annotations

from ..boot import BootRecord
from .jsinterop import glue, to_py_dict


def boot_record() -> BootRecord:
    return BootRecord.from_js(to_py_dict(glue.bootRecord()))


async def save_boot_snapshot() -> int:
    """Make and store a snapshot of a fresh Pyodide (in a worker); its size in bytes."""
    return int(await glue.saveBootSnapshot())
