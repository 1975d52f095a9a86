#!/usr/bin/env python3
"""Make the memory snapshots of a fresh Pyodide that the page starts from.

    python scripts/make_boot_snapshot.py     # writes web/boot/pyodide-VERSION-*.snapshot.gz

Run it whenever `scripts/vendor.py` brings another Pyodide (`tests/unit/test_boot_snapshot.py`
fails until then; the page still starts, normally and 1.5 s slower). It serves the checkout with
serve.py's handler and, in Debian's Chromium and in WebKitGTK (the tests' drivers,
`tests/support/engines.py`, every non-local request refused), loads the vendored Pyodide in a
module worker with `_makeSnapshot` and writes the heap gzipped: Chromium's for browsers with
JSPI, WebKit's for those without (Safari). `localwebai.tooling.boot_snapshot` says why two, and
what the page does with them. Old snapshots of other Pyodide versions are removed. The bytes
differ from run to run (CPython seeds its string hashes at start), so they are made once per
Pyodide and committed.
"""

from __future__ import annotations

import base64
import gzip
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "py")]

from localwebai.tooling.boot_snapshot import (  # noqa: E402
    SNAPSHOT_DIR,
    snapshot_build_id,
    snapshot_path,
    vendored_pyodide,
)
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support.engines import launched  # noqa: E402
from tests.support.server import serve_py  # noqa: E402

MADE_IN = {True: "chromium", False: "webkit"}
"""Where each snapshot is made: Chromium has JSPI (as Firefox has), WebKit has not (Safari)."""
WORKER = """
import { loadPyodide } from "%(index)spyodide.mjs";
const pyodide = await loadPyodide({ indexURL: "%(index)s", _makeSnapshot: true });
const snapshot = pyodide.makeMemorySnapshot();
self.postMessage(snapshot, [snapshot.buffer]);
"""
MAKE = """async (source) => {
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  const snapshot = await new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => resolve(data);
    worker.onerror = (event) => reject(new Error(event.message || "the worker failed"));
  });
  worker.terminate();
  let text = "";
  for (let i = 0; i < snapshot.length; i += 0x8000) {
    text += String.fromCharCode(...snapshot.subarray(i, i + 0x8000));
  }
  return btoa(text);
}"""


def make_snapshot(engine: str, base_url: str, playwright: Any) -> bytes:
    """A fresh Pyodide's heap, as the vendored Pyodide writes it in ``engine``."""
    with launched(engine, playwright) as driver:
        driver.goto(base_url + "manifest.webmanifest")  # any page of the site's origin
        worker = WORKER % {"index": base_url + "vendor/pyodide/"}
        return base64.b64decode(driver.evaluate(MAKE, worker))


def main() -> int:
    version, build_id = vendored_pyodide(REPO)
    with serve_py(None) as server, sync_playwright() as playwright:
        base_url = f"http://127.0.0.1:{server.server_address[1]}/"
        made = {jspi: make_snapshot(MADE_IN[jspi], base_url, playwright) for jspi in MADE_IN}
    folder = REPO / SNAPSHOT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("pyodide-*.snapshot.gz"):
        old.unlink()
    for jspi, snapshot in made.items():
        target = REPO / snapshot_path(version, jspi)
        target.write_bytes(gzip.compress(snapshot, compresslevel=9, mtime=0))
        if snapshot_build_id(target) != build_id:
            target.unlink()
            raise RuntimeError(f"{target.name}: not the vendored Pyodide's build ({build_id})")
        heap_mb, file_mb = len(snapshot) / 1e6, target.stat().st_size / 1e6
        print(
            f"{target.relative_to(REPO)} (made in {MADE_IN[jspi]}): {heap_mb:.1f} MB heap, "
            f"{file_mb:.1f} MB gzipped"
        )
    print(f"Pyodide {version}, build {build_id[:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
