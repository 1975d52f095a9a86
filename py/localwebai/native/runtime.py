"""The runner natively: the core's ``LlamaRunner`` wired to llama.cpp and a cache folder.

The same API as in a PyScript page; only the import differs::

    from localwebai.native.runtime import create_runner   # the page: localwebai.browser.runtime

    runner = await create_runner()  # force_cpu=True never offloads layers to a GPU
"""

from __future__ import annotations

from pathlib import Path

from ..environment import Environment
from ..errors import LocalWebAIError
from ..model_store import ModelStore
from ..runner import LlamaRunner
from .blobs import AbortController, FileModelBytes
from .cache_store import DOWNLOADS, default_cache_dir, native_cache

INSTALL_HINT = (
    "The native runtime needs llama-cpp-python: pip install -e '.[native]' (it builds "
    "llama.cpp; see the README for GPU builds)."
)


async def create_runner(
    force_cpu: bool = False, cache_dir: Path | None = None, threads: int | None = None
) -> LlamaRunner:
    """A runner on llama-cpp-python, the model cache in ``cache_dir`` (``default_cache_dir()``
    when None) and this machine (``threads``: all cores when None). Local files load in place;
    URLs download into the cache, resuming a partial download."""
    try:
        from .embedder import NativeEmbedder
        from .engine import LlamaCppEngine
    except ImportError as error:
        raise LocalWebAIError(f"{INSTALL_HINT} ({error})") from None
    root = cache_dir or default_cache_dir()
    store = ModelStore(native_cache(root), FileModelBytes(root / DOWNLOADS), import_files=False)
    environment = Environment.for_native(threads)
    runner = LlamaRunner(environment, LlamaCppEngine(), store, NativeEmbedder.load, AbortController)
    runner.force_cpu = force_cpu
    return runner
