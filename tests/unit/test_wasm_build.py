"""Our wasm build (scripts/build_wasm.py): the committed files match the lock, tampering shows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import build_wasm  # noqa: E402


def test_committed_build_matches_its_lock() -> None:
    assert build_wasm.check() == []
    lock = json.loads(build_wasm.LOCK_PATH.read_text())
    paths = {output["path"] for output in lock["outputs"]}
    assert {"wasm/wllama-simd.wasm", "wasm/wllama-simd.js", "wasm/LICENCE.llama.cpp"} <= paths
    assert "-DEMSCRIPTEN_SYSTEM_PROCESSOR=wasm32" in lock["cmake_flags"]
    assert set(lock["patches"]) == {"llama.cpp.patch", "wllama.patch"}


def test_check_reports_a_changed_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = json.loads(build_wasm.LOCK_PATH.read_text())
    for output in lock["outputs"]:
        copy = tmp_path / output["path"]
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes((REPO / output["path"]).read_bytes())
    glue = tmp_path / "wasm/wllama-simd.js"
    glue.write_bytes(glue.read_bytes() + b"\n")
    (tmp_path / "wasm/LICENCE.llama.cpp").unlink()
    monkeypatch.setattr(build_wasm, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(build_wasm, "LOCK_PATH", tmp_path / "wasm" / build_wasm.LOCK_PATH.name)
    build_wasm.LOCK_PATH.write_text(json.dumps(lock))
    assert build_wasm.check() == [
        "wasm/wllama-simd.js differs from the lock (rebuild or restore it)",
        "wasm/LICENCE.llama.cpp is missing",
    ]


def test_the_toolchain_comes_from_the_mirror_apt_uses(tmp_path: Path) -> None:
    folder = tmp_path / "sources.list.d"
    folder.mkdir()
    (folder / "other.list.disabled").write_text("deb https://example.org/apt stable main\n")
    (folder / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.test/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm\nComponents: main\n"
    )
    mirror = build_wasm.debian_mirror((tmp_path / "sources.list", folder))
    assert mirror == "http://mirror.test/debian"
    deb = build_wasm.TOOLCHAIN[0]
    assert deb.url(mirror) == f"http://mirror.test/debian/pool/main/{deb.path}"
    one_line = tmp_path / "sources.list"
    one_line.write_text("deb [arch=amd64] http://old.test/debian bookworm main\n")
    assert build_wasm.debian_mirror((one_line,)) == "http://old.test/debian"
    with pytest.raises(build_wasm.SetupError, match="No Debian archive"):
        build_wasm.debian_mirror((tmp_path / "missing",))
