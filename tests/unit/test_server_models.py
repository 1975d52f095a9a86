"""The "On this server" list: one format, written by serve.py and the build, read by the page."""

from __future__ import annotations

import json
from pathlib import Path

from localwebai.server_models import ServerModel, index_json, list_gguf_files, parse_index


def test_the_index_lists_gguf_files_and_reads_back(tmp_path: Path) -> None:
    (tmp_path / "b.gguf").write_bytes(b"GGUF" * 3)
    (tmp_path / "a.gguf").write_bytes(b"GGUF")
    (tmp_path / "notes.txt").write_text("not a model")
    (tmp_path / "folder.gguf").mkdir()
    models = list_gguf_files(tmp_path, "/models/")
    assert models == [
        ServerModel("a.gguf", "/models/a.gguf", 4),
        ServerModel("b.gguf", "/models/b.gguf", 12),
    ]
    assert parse_index(json.loads(index_json(models))) == models
    assert list_gguf_files(tmp_path / "missing", "") == list_gguf_files(None, "") == []


def test_a_missing_or_malformed_index_offers_nothing_it_cannot_read() -> None:
    assert parse_index(None) == parse_index([]) == parse_index({"models": "x"}) == []
    document = {
        "models": [{"name": "ok.gguf", "url": "models/ok.gguf", "size": "7"}, {"name": 1}, None]
    }
    assert parse_index(document) == [ServerModel("ok.gguf", "models/ok.gguf", 7)]
