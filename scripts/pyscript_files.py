"""Rewrite web/pyscript.json's "files" map from the package tree (run after adding a module)."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "web" / "pyscript.json"


def files_map() -> dict[str, str]:
    modules = sorted((REPO / "py" / "localwebai").rglob("*.py"))
    paths = [p.relative_to(REPO / "py").as_posix() for p in modules]
    return {f"./py/{path}": f"./{path}" for path in paths}


def main() -> None:
    config = json.loads(CONFIG.read_text())
    config["files"] = files_map()
    CONFIG.write_text(json.dumps(config, indent=2) + "\n")


if __name__ == "__main__":
    main()
