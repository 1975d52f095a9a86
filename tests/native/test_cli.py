"""``python -m localwebai run`` and ``pull`` as a person runs them: in a subprocess, with
serve.py (in a thread, on 127.0.0.1) as the model server."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import pytest
from localwebai.cache import CHUNK_SIZE

from tests.support.models import MODELS_DIR, REPO
from tests.support.server import SLOW_PREFIX, MisbehavingHandler, serve_py

GREEDY = json.loads((REPO / "tests" / "data" / "tiny_llama_greedy.json").read_text())
SMOLLM2 = MODELS_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def localwebai(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "localwebai", *map(str, args)]


ENV = {**os.environ, "PYTHONPATH": str(REPO / "py")}


def test_run_prints_the_greedy_reference_text(tmp_path: Path) -> None:
    tiny = MODELS_DIR / GREEDY["model_file"]
    if not tiny.is_file():
        pytest.fail("the tiny model is missing: run scripts/make_test_models.py")
    options = ["--temperature", "0", "--max-tokens", "16", "--cache-dir", tmp_path]
    command = localwebai("run", tiny, GREEDY["prompt"], *options)
    done = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = done.stdout.removesuffix("\n")
    assert len(text) > 16 and GREEDY["generated_text"].startswith(text)
    assert "16 tokens" in done.stderr and "stopped: length" in done.stderr


class RecordingHandler(MisbehavingHandler):
    """serve.py's handler that notes every Range it was asked for."""

    ranges: ClassVar[list[str]] = []

    def _serve(self, send_body: bool) -> None:
        self.ranges.append(self.headers.get("Range") or "")
        super()._serve(send_body)


def chunk_marks(cache: Path) -> list[str | None]:
    records = list(cache.glob("url-*/record.json"))
    if not records:
        return []
    try:
        return json.loads(records[0].read_text())["chunk_digests"]
    except (OSError, ValueError):
        return []


def test_pull_killed_mid_download_fetches_only_the_missing_chunks_again(tmp_path: Path) -> None:
    if not SMOLLM2.is_file():
        pytest.fail("SmolLM2 is missing: run scripts/make_test_models.py")
    cache = tmp_path / "cache"
    with serve_py(MODELS_DIR, RecordingHandler) as server:
        url = f"{server.url}{SLOW_PREFIX.lstrip('/')}models/{SMOLLM2.name}"
        pull = localwebai("pull", url, "--cache-dir", cache)
        first = subprocess.Popen(pull, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not any(chunk_marks(cache)) and time.monotonic() < deadline:
            time.sleep(0.1)
        first.kill()
        first.communicate()
        kept = chunk_marks(cache)
        assert any(kept) and not all(kept), kept  # interrupted mid-download
        RecordingHandler.ranges.clear()
        done = subprocess.run(pull, env=ENV, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert all(chunk_marks(cache))
    size, chunk = SMOLLM2.stat().st_size, CHUNK_SIZE
    for index, mark in enumerate(kept):
        start = index * chunk
        fetched = f"bytes={start}-{min(start + chunk, size) - 1}" in RecordingHandler.ranges
        assert fetched == (mark is None), (index, kept, RecordingHandler.ranges)
    [model] = list(cache.glob("url-*/model.gguf"))
    assert sha256(model) == sha256(SMOLLM2)
    assert str(model) in done.stdout


def cli(*args: str | Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        localwebai(*args), env=ENV, capture_output=True, text=True, timeout=timeout
    )


def test_inspect_shows_the_header_and_the_memory_estimate(tmp_path: Path) -> None:
    done = cli(
        "inspect", MODELS_DIR / GREEDY["model_file"], "--ctx", "512", "--cache-dir", tmp_path
    )
    assert done.returncode == 0, done.stderr
    rows = dict(line.split(None, 1) for line in done.stdout.splitlines() if "  " in line)
    assert rows["Name"].strip() == "LocalWebAI tiny llama"
    assert "Memory: Needs about" in done.stdout and "512-token context; fits" in done.stdout
    missing = cli("inspect", tmp_path / "nothing.gguf", "--cache-dir", tmp_path)
    assert missing.returncode == 1 and "is not a file, an http(s) URL" in missing.stderr


def test_run_with_a_json_schema_prints_json_that_follows_it(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "required": ["name", "age"],
        "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"}},
    }
    (tmp_path / "person.json").write_text(json.dumps(schema))
    options = [
        "--json-schema",
        tmp_path / "person.json",
        "--temperature",
        "0",
        "--max-tokens",
        "48",
    ]
    done = cli(
        "run", SMOLLM2, "Ada is 36. Describe her as JSON.", *options, "--cache-dir", tmp_path
    )
    assert done.returncode == 0, done.stderr
    value = json.loads(done.stdout)
    assert set(value) == {"name", "age"} and isinstance(value["age"], int)


def test_bench_prints_pp_and_tg_rows(tmp_path: Path) -> None:
    done = cli("bench", MODELS_DIR / GREEDY["model_file"], "--runs", "1", "--cache-dir", tmp_path)
    assert done.returncode == 0, done.stderr
    tests = [line.split()[-4] for line in done.stdout.splitlines()[2:]]
    assert tests[0].startswith("pp") and tests[1] == "tg64"


def test_models_lists_and_removes_what_pull_cached(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with serve_py(MODELS_DIR) as server:
        pulled = cli("pull", f"{server.url}models/{GREEDY['model_file']}", "--cache-dir", cache)
    assert pulled.returncode == 0, pulled.stderr
    listed = cli("models", "--cache-dir", cache)
    assert GREEDY["model_file"] in listed.stdout and "complete" in listed.stdout
    removed = cli("models", "--remove", GREEDY["model_file"], "--cache-dir", cache)
    assert removed.returncode == 0 and "removed" in removed.stdout
    assert "no cached models" in cli("models", "--cache-dir", cache).stderr
