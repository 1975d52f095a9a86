"""The Python the page runs, as one zip: PyScript fetches it once and unpacks it (web/pyscript.json,
``"./py/localwebai.zip": "./*"``) instead of fetching each module (55 requests, about 0.5 s of
the start on the development box).

serve.py makes it from the checkout on each request, so an edited module is served at once; the
static build writes it (``build.py``). The same tree gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

ARCHIVE_PATH = "py/localwebai.zip"
"""Where the archive is served, relative to the page (serve.py: /py/ is the checkout's py/)."""
NOT_SHIPPED = ("localwebai/__main__.py", "localwebai/tooling/", "localwebai/native/")
"""Never run in the page: the command line, this package and llama.cpp in CPython."""
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: no mtimes in the bytes


def shipped_modules(py_root: Path) -> list[str]:
    """The package's modules the page runs, as paths relative to ``py_root`` (sorted)."""
    modules = (p.relative_to(py_root).as_posix() for p in (py_root / "localwebai").rglob("*.py"))
    return sorted(m for m in modules if not m.startswith(NOT_SHIPPED))


def page_archive(py_root: Path) -> bytes:
    """The zip of :func:`shipped_modules`, deflated, with fixed dates and order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in shipped_modules(py_root):
            info = zipfile.ZipInfo(name, _FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (py_root / name).read_bytes())
    return buffer.getvalue()
