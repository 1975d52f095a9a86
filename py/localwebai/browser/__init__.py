"""The binding layer: the only code in LocalWebAI that touches JavaScript.

Small, typed, async wrappers in the style of PyScript's own ``pyscript.web`` / ``fetch``:
``dom`` (elements and events), ``blobs`` (fetching models into Blobs, reading header bytes),
``engine`` (wllama in its worker) and ``environment`` (capability probe). ``app`` is the page's
UI controller built on them. Model weights stay JS Blobs: only header bytes cross into Python.
"""
