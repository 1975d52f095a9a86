"""The runner for this page: the core's ``LlamaRunner`` wired to the browser's implementations.

::

    from localwebai.browser.runtime import create_runner

    runner = await create_runner()  # force_cpu=True never tries WebGPU
"""

from __future__ import annotations

from ..model_store import ModelStore
from ..runner import LlamaRunner
from .blobs import BlobModelBytes, new_abort_controller
from .cache_store import browser_cache
from .embedder import Embedder
from .engine import WllamaEngine
from .environment import probe


async def create_runner(force_cpu: bool = False) -> LlamaRunner:
    """A runner on wllama, the IndexedDB model cache and this browser's probed capabilities."""
    environment = await probe()
    store = ModelStore(browser_cache(), BlobModelBytes())
    runner = LlamaRunner(environment, WllamaEngine(), store, Embedder.load, new_abort_controller)
    runner.force_cpu = force_cpu
    return runner
