"""The static build (`python -m localwebai build`): layout, precache manifest, safety, icons."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest
from localwebai.environment import WASM_BUILDS
from localwebai.tooling.boot_snapshot import snapshot_path, vendored_pyodide
from localwebai.tooling.build import (
    ENGINE_BUILD_FILES,
    BuildError,
    build,
    check_relative_urls,
    find_source,
)
from localwebai.tooling.cli import main
from localwebai.tooling.page_archive import ARCHIVE_PATH

REPO = Path(__file__).resolve().parents[2]
ISOLATION = (
    "Cross-Origin-Opener-Policy: same-origin",
    "Cross-Origin-Embedder-Policy: require-corp",
    "Cross-Origin-Resource-Policy: same-origin",
)


def precache(out: Path) -> dict:
    """The manifest the build wrote into sw.js."""
    match = re.search(r"^const PRECACHE = (\{.*\});$", (out / "sw.js").read_text(), re.M)
    assert match, "sw.js carries no precache manifest"
    return json.loads(match.group(1))


def build_settings(out: Path) -> dict:
    match = re.search(r"const BUILD = (\{.*\});", (out / "js/register-sw.js").read_text())
    assert match, "register-sw.js carries no build settings"
    return json.loads(match.group(1))


def linked_source(tmp_path: Path) -> Path:
    """A checkout copy made of hard links: replace a file to change it, never write into it."""
    source = tmp_path / "source"
    for folder in ("web", "py", "wasm"):
        shutil.copytree(
            REPO / folder,
            source / folder,
            copy_function=os.link,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return source


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "site"
    build(out)
    return out


def test_layout_mirrors_serve_py(site: Path) -> None:
    config = json.loads((site / "pyscript.json").read_text())
    assert (site / config["interpreter"]).is_file()
    for url in config["files"]:  # relative to pyscript.json, as PyScript fetches them
        assert (site / url).is_file(), url
    for rel in (
        "index.html",
        "app.css",
        "main.py",
        "js/glue.js",
        *(path for paths in ENGINE_BUILD_FILES.values() for path in paths),
    ):
        assert (site / rel).is_file(), rel
    # glue.js finds the engine's wasm one folder up, as under serve.py
    assert '"../wasm/wllama.wasm"' in (site / "js/glue.js").read_text()
    assert json.loads((site / "models/index.json").read_text()) == {"models": []}
    assert not list(site.rglob("__pycache__"))
    # the page gets one archive of its modules: no tooling, no command line
    python_files = {p.relative_to(site).as_posix() for p in (site / "py").rglob("*") if p.is_file()}
    assert python_files == {ARCHIVE_PATH}
    names = zipfile.ZipFile(site / ARCHIVE_PATH).namelist()
    assert "localwebai/browser/app.py" in names and "localwebai/gguf/parser.py" in names
    assert not [n for n in names if n.startswith(("localwebai/tooling/", "localwebai/native/"))]
    assert "localwebai/__main__.py" not in names


def test_manifest_lists_every_shell_file_with_its_hash(site: Path) -> None:
    manifest = precache(site)
    listed = {f["path"]: f for f in manifest["files"]}
    written = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    assert set(listed) == written - {"sw.js", "_headers"}
    for path, entry in listed.items():
        data = (site / path).read_bytes()
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), path
    assert listed["wasm/wllama.wasm"]["type"] == "application/wasm"
    assert listed["wasm/wllama-simd.js"]["type"].startswith("text/javascript")
    assert listed["vendor/pyodide/pyodide.mjs"]["type"].startswith("text/javascript")
    assert manifest["builds"] == {name: list(paths) for name, paths in ENGINE_BUILD_FILES.items()}
    assert set(ENGINE_BUILD_FILES) == set(WASM_BUILDS)
    # the service worker caches only the snapshot of Python's start its browser restores
    version, _build_id = vendored_pyodide(REPO)
    assert manifest["snapshots"] == {
        snapshot_path(version, jspi).removeprefix("web/"): jspi for jspi in (False, True)
    }
    settings = build_settings(site)
    assert settings == {"version": manifest["version"], "isolate": True}
    assert manifest["isolate"] is True


def test_version_is_deterministic_and_follows_content_and_settings(
    site: Path, tmp_path: Path
) -> None:
    version = precache(site)["version"]
    assert build(tmp_path / "again").version == version
    assert build(tmp_path / "no-isolation", isolate=False).version != version
    source = linked_source(tmp_path)
    css = source / "web" / "app.css"
    text = css.read_text()
    css.unlink()
    css.write_text(text + "\n/* changed */\n")
    changed = build(tmp_path / "changed", source=source)
    assert changed.version != version
    assert (tmp_path / "changed" / "app.css").read_text().endswith("/* changed */\n")


def test_only_relative_urls(site: Path) -> None:
    check_relative_urls("index.html", (site / "index.html").read_text())
    with pytest.raises(BuildError, match="root-absolute"):
        check_relative_urls("index.html", '<script src="/js/x.js"></script>')
    check_relative_urls("index.html", '<a href="//example.org/">protocol-relative</a>')
    manifest = json.loads((site / "manifest.webmanifest").read_text())
    assert manifest["start_url"] == manifest["scope"] == "./"
    assert all(not icon["src"].startswith("/") for icon in manifest["icons"])


def test_headers_file_and_the_opt_out(site: Path, tmp_path: Path) -> None:
    headers = (site / "_headers").read_text().splitlines()
    start = headers.index("/*")
    assert [line.strip() for line in headers[start + 1 : start + 4]] == list(ISOLATION)
    opted_out = build(tmp_path / "opt-out", isolate=False).out
    assert precache(opted_out)["isolate"] is False
    assert build_settings(opted_out)["isolate"] is False
    assert "--host-sends-headers" in (opted_out / "_headers").read_text()


def test_models_are_shipped_and_listed_but_never_precached(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "small.gguf").write_bytes(b"GGUF" + bytes(60))
    (models / "notes.txt").write_text("not a model")
    out = build(tmp_path / "site", models=models).out
    index = json.loads((out / "models/index.json").read_text())
    assert index == {"models": [{"name": "small.gguf", "url": "models/small.gguf", "size": 64}]}
    assert (out / "models/small.gguf").read_bytes() == b"GGUF" + bytes(60)
    assert not (out / "models/notes.txt").exists()
    paths = {f["path"] for f in precache(out)["files"]}
    assert "models/index.json" in paths and "models/small.gguf" not in paths
    with pytest.raises(BuildError, match=r"no \.gguf"):
        build(tmp_path / "other", models=tmp_path / "site" / "js")


def test_rebuild_replaces_an_earlier_build_and_refuses_other_folders(tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(out)
    (out / "stale.txt").write_text("left from before")
    build(out)
    assert not (out / "stale.txt").exists()

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("keep me")
    with pytest.raises(BuildError, match="refusing to clear"):
        build(precious)
    assert (precious / "thesis.tex").read_text() == "keep me"
    for inside in (REPO / "web" / "dist", REPO / "wasm" / "out", REPO):
        with pytest.raises(BuildError, match="sources"):
            build(inside)
    assert not (REPO / "web" / "dist").exists()


def test_outside_a_source_checkout_the_build_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="not a LocalWebAI source checkout"):
        find_source(tmp_path)
    # the package on its own (as if pip-installed), without web/ and wasm/ beside it
    shutil.copytree(REPO / "py" / "localwebai", tmp_path / "lib" / "localwebai")
    proc = subprocess.run(
        [sys.executable, "-m", "localwebai", "build", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "lib")},
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1
    assert "not a LocalWebAI source checkout" in proc.stderr and "web/index.html" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_command_line_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(tmp_path / "site"), "--host-sends-headers"]) == 0
    out = capsys.readouterr().out
    assert f"version {precache(tmp_path / 'site')['version']}" in out
    assert precache(tmp_path / "site")["isolate"] is False


# ---- icons and the web app manifest ---------------------------------------------------------


def _load_icons_script():
    spec = importlib.util.spec_from_file_location("make_icons", REPO / "scripts/make_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, raw RGBA rows) of a PNG written by scripts/make_icons.py."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
            assert body[8:10] == bytes([8, 6])  # 8-bit RGBA
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height = size
    raw = zlib.decompress(idat)
    stride = 1 + 4 * width
    assert all(raw[row * stride] == 0 for row in range(height))  # filter "none"
    return width, height, b"".join(raw[r * stride + 1 : (r + 1) * stride] for r in range(height))


def test_committed_icons_are_what_the_script_draws() -> None:
    icons = _load_icons_script()
    for name, pixels in icons.icons().items():
        width, height, raw = png_pixels((REPO / "web/icons" / name).read_bytes())
        assert (height, width) == pixels.shape[:2]
        assert raw == pixels.tobytes(), f"web/icons/{name} differs: run scripts/make_icons.py"
    assert (REPO / "web/icons/icon.svg").read_text() == icons.svg()


def test_web_app_manifest_icons_exist_with_their_sizes() -> None:
    manifest = json.loads((REPO / "web/manifest.webmanifest").read_text())
    assert manifest["display"] == "standalone" and manifest["name"] == "LocalWebAI"
    purposes = set()
    for icon in manifest["icons"]:
        path = REPO / "web" / icon["src"]
        assert path.is_file(), icon["src"]
        if icon["type"] == "image/png":
            width, height, _ = png_pixels(path.read_bytes())
            assert icon["sizes"] == f"{width}x{height}"
        purposes.add(icon.get("purpose", "any"))
    assert {"any", "maskable"} <= purposes
    page = (REPO / "web/index.html").read_text()
    assert 'rel="manifest" href="./manifest.webmanifest"' in page
    assert '<script src="./js/register-sw.js"></script>' in page
