"""The vendored browser runtime matches vendor.lock.json, and the checker catches tampering."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "vendor.py"
sys.path.insert(0, str(SCRIPT.parent))  # vendor.py imports its sibling common.py


def _load_vendor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendor_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


vendor = _load_vendor()


@pytest.fixture(scope="module")
def lock():
    return vendor.Lock.load(REPO / vendor.LOCK_NAME)


def _copy_tree(tmp_path: Path, lock) -> Path:
    """A copy of every vendored file plus the lock under `tmp_path` (~24 MB)."""
    for rec in lock.files():
        dest = tmp_path / rec.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rec.path, dest)
    shutil.copyfile(REPO / vendor.LOCK_NAME, tmp_path / vendor.LOCK_NAME)
    return tmp_path


def test_committed_files_pass_the_check() -> None:
    assert vendor.check(REPO) == []


def test_check_command_exits_zero() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "OK" in proc.stdout


def test_lock_covers_packages_licences_and_patch(lock) -> None:
    by_name = {p.name: p for p in lock.packages}
    assert set(by_name) == {
        "@wllama/wllama",
        "@wllama/wllama-compat",
        "pyodide",
        "@pyscript/core",
        "hash-wasm",
        "micropip",
        *vendor.PAGE_WHEELS,
    }
    assert by_name["@wllama/wllama-compat"].version == by_name["@wllama/wllama"].version
    assert all(p.integrity.startswith(("sha512-", "sha256-")) for p in lock.packages)
    paths = {f.path for f in lock.files()}
    assert {
        "web/vendor/wllama/LICENCE",
        "web/vendor/wllama-compat/LICENCE",
        "wasm/LICENCE.wllama",
        "web/vendor/pyodide/LICENSE",
        "web/vendor/pyscript/LICENSE",
        "web/vendor/hash-wasm/LICENSE",
        *(f"{vendor.WHEELS_DIR}/LICENSE.{name}" for name in vendor.PAGE_WHEELS),
    } <= paths
    assert not any(p.endswith(".map") for p in paths)
    patched = [f for f in lock.files() if f.patch is not None]
    assert [f.path for f in patched] == [vendor.PYODIDE_LOCK]
    assert patched[0].patch.upstream_sha256 != patched[0].sha256


def test_tampered_byte_is_reported(tmp_path: Path, lock) -> None:
    rec = next(f for f in lock.files() if f.path == "web/vendor/pyscript/core.js")
    copy = tmp_path / rec.path
    copy.parent.mkdir(parents=True)
    data = bytearray((REPO / rec.path).read_bytes())
    data[0] ^= 0x01  # same size, different content
    copy.write_bytes(bytes(data))
    problems = vendor.verify_files(tmp_path, [rec])
    assert len(problems) == 1 and "sha256" in problems[0] and rec.path in problems[0]
    assert vendor.verify_files(tmp_path, [rec]) != vendor.verify_files(REPO, [rec])


def test_wrong_size_and_missing_are_reported(tmp_path: Path, lock) -> None:
    rec = next(f for f in lock.files() if f.path == "web/vendor/wllama/LICENCE")
    bigger = vendor.FileRecord(rec.path, rec.source, rec.sha256, rec.size + 1)
    assert "size" in vendor.verify_files(REPO, [bigger])[0]
    assert vendor.verify_files(tmp_path, [rec]) == [f"{rec.path}: missing"]


def test_full_check_on_a_copy_finds_extra_file_and_bad_pyodide_lock(tmp_path: Path, lock) -> None:
    root = _copy_tree(tmp_path, lock)
    assert vendor.check(root) == []

    (root / "web/vendor/pyscript/core.js.map").write_text("{}")
    pyodide_lock = root / vendor.PYODIDE_LOCK
    data = json.loads(pyodide_lock.read_text())
    data["packages"]["micropip"]["sha256"] = "0" * 64
    pyodide_lock.write_text(json.dumps(data))

    problems = vendor.check(root)
    assert any("core.js.map: not listed" in p for p in problems)
    assert any(p.startswith(f"{vendor.PYODIDE_LOCK}: sha256") for p in problems)
    assert any("micropip sha256" in p for p in problems)

    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "core.js.map" in proc.stderr


def test_patch_pyodide_lock_is_minimal() -> None:
    upstream = json.dumps(
        {
            "info": {},
            "packages": {
                "micropip": {
                    "file_name": "micropip-1-py3-none-any.whl",
                    "sha256": "aa",
                    "version": "1",
                }
            },
        }
    ).encode()
    patched, changes = vendor.patch_pyodide_lock(upstream, "micropip-1-py3-none-any.whl", "bb")
    assert patched == upstream.replace(b'"aa"', b'"bb"')
    assert changes == {"packages.micropip.sha256": {"from": "aa", "to": "bb"}}
