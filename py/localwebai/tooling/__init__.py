"""What runs on your machine, never in the page: the command line (``python -m localwebai``),
the static site build, and the headers and MIME types serve.py and the build send.

CPython only: web/pyscript.json does not ship this package, and nothing it ships imports it.
"""
