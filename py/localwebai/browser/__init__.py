"""The binding layer: the only code in LocalWebAI that touches JavaScript.

Small, typed, async wrappers in the style of PyScript's own ``pyscript.web`` / ``fetch``:
``jsinterop`` (conversions), ``dom`` (elements and events), ``blobs`` (downloads into Blobs,
header bytes), ``cache_store`` (IndexedDB), ``engine`` and ``embedder`` (wllama in its worker),
``environment`` (capability probe) and ``runtime`` (``create_runner``: the core's runner wired to
them). ``status`` and the views (``app``, ``chat_view``, ``cache_panel``, ``similarity_view``,
``bench_panel``) are the page's UI on top. Model weights stay JS Blobs: only header bytes cross
into Python.
"""
