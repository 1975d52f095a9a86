"""The memory snapshots of a fresh Pyodide that the page starts from (``web/js/pyodide-boot.js``).

Pyodide's own start (unpacking the standard library, initialising CPython) is about 1.5 s of a
first visit on the development box; restoring a snapshot of the heap it leaves is about 0.3 s.
The snapshot ships with the site, gzipped (31 MB → 6 MB), at :func:`snapshot_path`, named after
the Pyodide version (one for browsers with JSPI, one for those without);
``scripts/make_boot_snapshot.py`` makes both from the vendored Pyodide.

A snapshot restores only into the Pyodide build that made it: Pyodide writes its build id into
the header and checks it on restore (the page then starts normally, only slower), and
``tests/unit/test_boot_snapshot.py`` checks the shipped ones against the vendored build.
"""

from __future__ import annotations

import gzip
import json
import re
import struct
from pathlib import Path

SNAPSHOT_DIR = "web/boot"
PYODIDE_MODULE = "web/vendor/pyodide/pyodide.mjs"
VENDOR_LOCK = "vendor.lock.json"
SNAPSHOT_MAGIC = 1886286592
"""The first little-endian word of every Pyodide memory snapshot (Pyodide's ``makeSnapshot``)."""
_HEADER = struct.Struct("<4I8I")  # magic, header size, JSON length, 0, build id (8 words)
_BUILD_ID = re.compile(r'BUILD_ID:"([0-9a-f]{64})"')
_SNAPSHOT_NAME = re.compile(r"boot/pyodide-[^/]+?-(?P<kind>jspi|no-jspi)\.snapshot\.gz")


class SnapshotError(ValueError):
    """Not a Pyodide memory snapshot (gzipped, as shipped), or no Pyodide to match it with."""


def snapshot_path(version: str, jspi: bool) -> str:
    """Where the snapshot for Pyodide ``version`` ships, relative to the checkout; the page asks
    for ``boot/pyodide-VERSION-jspi.snapshot.gz`` (or ``-no-jspi``) beside ``index.html``.

    There are two because the heap holds indices into the engine's function table that
    Pyodide's JS fills differently with JSPI (``WebAssembly.Suspending``: Chromium, Firefox)
    and without it (Safari): one made in Chromium fails to restore in WebKit ("call_indirect to
    a signature that does not match"), even with JSPI hidden from Pyodide, so the one for
    browsers without JSPI is made in WebKit.
    """
    return f"{SNAPSHOT_DIR}/pyodide-{version}-{'jspi' if jspi else 'no-jspi'}.snapshot.gz"


def snapshot_needs_jspi(site_path: str) -> bool | None:
    """For a path of the site: whether it is the snapshot for browsers with JSPI (True), the one
    for those without (False), or no snapshot (None). The service worker precaches only the
    one its browser starts from (``python -m localwebai build``, ``sw.js``)."""
    name = _SNAPSHOT_NAME.fullmatch(site_path)
    return None if name is None else name.group("kind") == "jspi"


def vendored_pyodide(root: Path) -> tuple[str, str]:
    """(version, build id) of the Pyodide vendored in the checkout at ``root``."""
    lock = json.loads((root / VENDOR_LOCK).read_text(encoding="utf-8"))
    versions = [p["version"] for p in lock["packages"] if p["name"] == "pyodide"]
    build_id = _BUILD_ID.search((root / PYODIDE_MODULE).read_text(encoding="utf-8"))
    if len(versions) != 1 or build_id is None:
        raise SnapshotError(f"no single vendored Pyodide with a build id in {root}")
    return versions[0], build_id.group(1)


def snapshot_build_id(path: Path) -> str:
    """The build id in the header of a shipped (gzipped) snapshot."""
    try:
        with gzip.open(path, "rb") as stream:
            head = stream.read(_HEADER.size)
    except (OSError, EOFError) as error:
        raise SnapshotError(f"{path.name}: not a gzipped snapshot ({error})") from error
    if len(head) < _HEADER.size:
        raise SnapshotError(f"{path.name}: too short for a snapshot header")
    magic, _size, _json_length, _zero, *build_words = _HEADER.unpack(head)
    if magic != SNAPSHOT_MAGIC:
        raise SnapshotError(f"{path.name}: not a Pyodide memory snapshot (magic {magic:#x})")
    return "".join(f"{word:08x}" for word in build_words)
