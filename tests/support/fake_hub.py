"""A local fake of the Hugging Face hub's public paths, for the catalogue's browser tests.

Under ``FAKE_HUB_PREFIX`` (the page's ``?hub=/fake-hub``):

- ``api/models/<owner>/<repo>``: the model API's JSON (``siblings`` with ``rfilename`` and,
  as with ``?blobs=true``, ``size``), listing the served folder's ``*.gguf`` for ``TEST_REPO``
  and ``SLOW_REPO``; ``NO_GGUF_REPO`` holds no GGUF; any other repository is a 404;
- ``<owner>/<repo>/resolve/main/<file>``: the file from the served folder (Range answers as
  serve.py gives them); ``SLOW_REPO``'s arrive slowly, so a test can Cancel mid-download;
- ``catalogue.json``: a test catalogue (the page's ``?catalogue=``) of the test models, plus an
  entry too large for any tab.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FAKE_HUB_PREFIX = "/fake-hub/"
TEST_REPO = "localwebai/test-models"
SLOW_REPO = "localwebai/slow-models"
NO_GGUF_REPO = "localwebai/no-gguf"
CATALOGUE_PATH = f"{FAKE_HUB_PREFIX}catalogue.json"
TINY = "tiny-llama.gguf"
SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
TOO_LARGE_ID = "too-large"
PAGE_QUERY = f"?hub={FAKE_HUB_PREFIX.rstrip('/')}&catalogue={CATALOGUE_PATH}"
"""The query that points the page at this fake."""

_RESOLVE = "/resolve/main/"
_REPOS = (TEST_REPO, SLOW_REPO)


def is_slow(url_path: str) -> bool:
    """Whether the request is a download from ``SLOW_REPO``."""
    return url_path.startswith(f"{FAKE_HUB_PREFIX}{SLOW_REPO}{_RESOLVE}")


def json_answer(url_path: str, models_dir: Path) -> tuple[int, Any] | None:
    """(status, JSON) for the API and the catalogue; ``None`` for any other path."""
    if url_path == CATALOGUE_PATH:
        return 200, test_catalogue(models_dir)
    api = f"{FAKE_HUB_PREFIX}api/models/"
    if not url_path.startswith(api):
        return None
    repo = url_path.removeprefix(api)
    if repo == NO_GGUF_REPO:
        return 200, {"id": repo, "siblings": [{"rfilename": "README.md", "size": 120}]}
    if repo not in _REPOS:
        return 404, {"error": "Repository not found"}
    siblings = [{"rfilename": "README.md", "size": 120}] + [
        {"rfilename": path.name, "size": path.stat().st_size}
        for path in sorted(models_dir.glob("*.gguf"))
    ]
    return 200, {"id": repo, "siblings": siblings}


def resolved_file(url_path: str, models_dir: Path) -> Path | None:
    """The served file a ``resolve/main`` path of a known repository names, else ``None``."""
    for repo in _REPOS:
        prefix = f"{FAKE_HUB_PREFIX}{repo}{_RESOLVE}"
        if url_path.startswith(prefix):
            name = url_path.removeprefix(prefix)
            path = models_dir / name
            return path if "/" not in name and path.suffix == ".gguf" else None
    return None


def _entry(entry_id: str, name: str, repo: str, file: str, size: int, **arch: int) -> dict:
    return {
        "id": entry_id,
        "name": name,
        "repo": repo,
        "file": file,
        "parameters": "test",
        "quantization": "test",
        "size": size,
        "size_exact": True,
        "licence": "test",
        "context_length": 2048,
        "architecture": arch,
        "source": {"file": "tests/support/fake_hub.py"},
    }


def test_catalogue(models_dir: Path) -> dict:
    """The catalogue the tests load: the tiny model, SmolLM2 (slow) and one far too large."""
    smollm2 = {"n_layer": 30, "n_embd": 576, "n_head": 9, "n_head_kv": 3, "head_dim": 64}
    tiny = {"n_layer": 2, "n_embd": 64, "n_head": 4, "n_head_kv": 2, "head_dim": 16}
    huge = {"n_layer": 80, "n_embd": 8192, "n_head": 64, "n_head_kv": 8, "head_dim": 128}
    return {
        "schema_version": 1,
        "models": [
            _entry(
                "tiny",
                "Tiny llama",
                TEST_REPO,
                TINY,
                (models_dir / TINY).stat().st_size,
                **tiny,
                n_ff=128,
            ),
            _entry(
                "smollm2-slow",
                "SmolLM2 135M (slow host)",
                SLOW_REPO,
                SMOLLM2,
                (models_dir / SMOLLM2).stat().st_size,
                **smollm2,
                n_ff=1536,
            ),
            _entry(
                TOO_LARGE_ID,
                "Far too large",
                TEST_REPO,
                "absent-70b.gguf",
                40 << 30,
                **huge,
                n_ff=28672,
            ),
        ],
    }


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()
