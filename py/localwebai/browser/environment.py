"""Ask the browser what it offers the engine (threads, SIMD, JSPI, memory64, WebGPU)."""

from __future__ import annotations

from ..environment import Environment
from .jsinterop import glue, to_py_dict


async def probe() -> Environment:
    return Environment.from_probe(to_py_dict(await glue.probeEnvironment()))
