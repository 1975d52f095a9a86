"""The native runtime: the same Python API as the page, on llama.cpp (llama-cpp-python) in
CPython, with the model cache in a folder and downloads over HTTP. Never shipped to the page.

- ``runtime``: ``create_runner()``, the core's ``LlamaRunner`` wired to the modules below;
- ``engine``: ``LlamaCppEngine``, the core's ``Engine`` (the twin of ``browser.engine``);
- ``embedder``: ``NativeEmbedder``, an embedding model (the twin of ``browser.embedder``);
- ``cache_store``: the cache's ``ChunkStore`` and ``RemoteFile`` over a folder and urllib;
- ``blobs``: ``FileRegion`` (the native Blob), file/HTTP ``ModelBytes``, abort handles;
- ``cli``: ``python -m localwebai run | chat | pull``.
"""
