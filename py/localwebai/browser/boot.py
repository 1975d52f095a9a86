"""Pyodide's start in this page (``web/js/pyodide-boot.js``): how it went."""

from __future__ import annotations

from ..boot import BootRecord
from .jsinterop import glue, to_py_dict


def boot_record() -> BootRecord:
    return BootRecord.from_js(to_py_dict(glue.bootRecord()))
