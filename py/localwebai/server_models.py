"""The models a site offers ("On this server"): ``models/index.json`` beside the page.

``serve.py`` answers it from its models folder and the static build writes it; the page reads
it (the model picker and the similarity view). One format, written and read here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

INDEX_PATH = "models/index.json"
"""Where the index is, relative to the page."""


@dataclass(frozen=True)
class ServerModel:
    name: str
    url: str
    """Relative to the page (the static build) or to the site root (``serve.py``)."""
    size: int


def list_gguf_files(folder: Path | None, url_prefix: str) -> list[ServerModel]:
    """Every ``*.gguf`` file in ``folder``, sorted by name, at ``url_prefix + name``."""
    if folder is None or not folder.is_dir():
        return []
    return [
        ServerModel(path.name, url_prefix + path.name, path.stat().st_size)
        for path in sorted(folder.glob("*.gguf"))
        if path.is_file()
    ]


def index_json(models: Iterable[ServerModel]) -> str:
    """The index document."""
    return json.dumps({"models": [asdict(model) for model in models]}, indent=2) + "\n"


def parse_index(document: Any) -> list[ServerModel]:
    """The models of an index document; nothing for a missing or malformed one."""
    entries = document.get("models") if isinstance(document, dict) else None
    models = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            models.append(ServerModel(str(entry["name"]), str(entry["url"]), int(entry["size"])))
        except (KeyError, TypeError, ValueError):
            continue
    return models
