"""Rewrite web/pyscript.json's "files" map from the package tree (run after adding a module).

It ships every module but the ones that never run in the page: ``python -m localwebai``'s
``__main__.py``, the ``localwebai.tooling`` package (command line, site build) and the
``localwebai.native`` runtime (llama.cpp in CPython).
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "web" / "pyscript.json"
NOT_SHIPPED = ("localwebai/__main__.py", "localwebai/tooling/", "localwebai/native/")


def files_map() -> dict[str, str]:
    modules = sorted((REPO / "py" / "localwebai").rglob("*.py"))
    paths = [p.relative_to(REPO / "py").as_posix() for p in modules]
    return {f"./py/{path}": f"./{path}" for path in paths if not path.startswith(NOT_SHIPPED)}


def main() -> None:
    config = json.loads(CONFIG.read_text())
    config["files"] = files_map()
    CONFIG.write_text(json.dumps(config, indent=2) + "\n")


if __name__ == "__main__":
    main()
