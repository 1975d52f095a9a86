"""Vendored pure-Python wheels, loaded into Pyodide after boot (``pyodide.loadPackage``)."""

from __future__ import annotations

import js
import pyodide_js
from pyodide.ffi import to_js

WHEELS_PATH = "./vendor/wheels/"


async def load_wheels(names: tuple[str, ...]) -> None:
    """Install the named wheels from ``web/vendor/wheels/`` (same origin, works offline)."""
    base = str(js.URL.new(WHEELS_PATH, js.location.href).href)
    await pyodide_js.loadPackage(to_js([base + name for name in names]))
