"""Static build: one self-contained folder that any static host can serve, under any sub-path.

``python -m localwebai build OUT/`` mirrors serve.py's URL space with relative URLs only:

    OUT/            web/  (the page, glue, vendored Pyodide/PyScript/wllama, sw.js, icons)
    OUT/py/         localwebai.zip, the Python the page runs (``page_archive``)
    OUT/wasm/       wasm/ (llama.cpp builds: ours for the CPU, wllama's default and compat)
    OUT/models/     index.json (the page's "On this server" list) and, with --models, the GGUFs
    OUT/_headers    COOP/COEP/CORP for hosts that read one (Netlify, Cloudflare Pages)

The build also fills in the service worker's precache manifest (every shell file with its
sha256, size and MIME type) and the registration script's settings. The version is a hash of
the shell's content and the settings, so any change to a file gives a new cache name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from ..errors import LocalWebAIError
from ..server_models import INDEX_PATH, ServerModel, index_json, list_gguf_files
from .boot_snapshot import snapshot_needs_jspi
from .http_headers import ISOLATION_HEADERS, MIME_TYPES
from .page_archive import ARCHIVE_PATH, page_archive

PACKAGE_ROOT = Path(__file__).resolve().parents[3]  # the checkout holding py/localwebai
REQUIRED = ("web/index.html", "web/pyscript.json", "web/sw.js", "web/js/register-sw.js", "wasm")
SW_PATH = "sw.js"
REGISTER_PATH = "js/register-sw.js"
SW_MARKER = "const PRECACHE = null; // @precache-manifest"
REGISTER_MARKER = "const BUILD = null; // @build-settings"
HEADERS_PATH = "_headers"
ENGINE_BUILD_FILES = {
    "simd-relaxed": ("wasm/wllama-simd-relaxed.js", "wasm/wllama-simd-relaxed.wasm"),
    "simd": ("wasm/wllama-simd.js", "wasm/wllama-simd.wasm"),
    "simd64-relaxed": ("wasm/wllama-simd64-relaxed.js", "wasm/wllama-simd64-relaxed.wasm"),
    "simd64": ("wasm/wllama-simd64.js", "wasm/wllama-simd64.wasm"),
    "simd-asyncify": ("wasm/wllama-simd-asyncify.js", "wasm/wllama-simd-asyncify.wasm"),
    "default": ("wasm/wllama.wasm",),
    "compat": ("vendor/wllama-compat/wllama.js", "wasm/wllama-compat.wasm"),
}
"""Each wasm build's own files (environment.WASM_BUILDS): the service worker precaches a
build's files only where this browser uses that build (sw.js, ``USED_HERE``)."""
SKIPPED_NAMES = {"__pycache__", ".DS_Store"}
KERNEL_SOURCES = "wasm/kernels/"
"""Our wasm kernels' C sources and their check (scripts/build_wasm.py): not part of the site."""
VERSION_LENGTH = 16
# a root-absolute URL ("/x") in the page would break under a sub-path
_ROOT_URL = re.compile(r"""(?:src|href)\s*=\s*["']/(?!/)""")


class BuildError(LocalWebAIError):
    """The static build cannot be made as asked."""


@dataclass(frozen=True)
class ShellFile:
    """One file the service worker precaches: its path in OUT/ and what it must contain."""

    path: str
    sha256: str
    size: int
    type: str


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote."""

    out: Path
    version: str
    files: tuple[ShellFile, ...]
    models: tuple[str, ...]

    @property
    def shell_bytes(self) -> int:
        return sum(f.size for f in self.files)


def find_source(root: Path = PACKAGE_ROOT) -> Path:
    """The source checkout to build from; fails clearly for an installed (non-checkout) package."""
    missing = [rel for rel in REQUIRED if not (root / rel).exists()]
    if missing:
        raise BuildError(
            f"{root} is not a LocalWebAI source checkout (missing {', '.join(missing)}). "
            "The build copies web/, py/ and wasm/ from a checkout: run it from a clone, "
            "after `pip install -e .` or with PYTHONPATH=py."
        )
    return root


def mime_type(path: str) -> str:
    return MIME_TYPES.get(PurePosixPath(path).suffix.lower(), "application/octet-stream")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree(folder: Path, prefix: str) -> dict[str, Path]:
    """Every file below ``folder`` as {OUT-relative path: source}, skipping caches and dotfiles."""
    files: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_dir() or any(p in SKIPPED_NAMES or p.startswith(".") for p in rel.parts):
            continue
        files[(PurePosixPath(prefix) / rel.as_posix()).as_posix()] = path
    return files


def shell_sources(source: Path) -> dict[str, Path]:
    """{OUT-relative path: source file} for the app shell, in serve.py's layout."""
    files = _tree(source / "web", "")
    wasm = _tree(source / "wasm", "wasm")
    files.update({rel: path for rel, path in wasm.items() if not rel.startswith(KERNEL_SOURCES)})
    return files


def _page_archive(source: Path, config: bytes) -> bytes:
    """The page's Python as one zip, where web/pyscript.json has PyScript unpack it."""
    files = json.loads(config.decode("utf-8"))["files"]
    if files != {f"./{ARCHIVE_PATH}": "./*"}:
        raise BuildError(f'web/pyscript.json: "files" must be {{"./{ARCHIVE_PATH}": "./*"}}')
    return page_archive(source / "py")


def check_relative_urls(path: str, text: str) -> None:
    """Refuse a page that links to "/…": it would break when the app is not at the site root."""
    if match := _ROOT_URL.search(text):
        raise BuildError(f"{path} uses a root-absolute URL ({match.group(0)}…): use ./ paths")


def headers_file(isolate: bool) -> str:
    """A Netlify/Cloudflare Pages ``_headers`` file (paths relative to the published folder)."""
    why = (
        "the service worker (sw.js) adds them after one reload where a host sends none."
        if isolate
        else "built with --host-sends-headers: the host must send them."
    )
    lines = [
        "# Read by Netlify and Cloudflare Pages (paths are relative to the published folder).",
        "# COOP/COEP make the page cross-origin isolated, so wllama can use threads;",
        f"# {why}",
        "/*",
        *(f"  {name}: {value}" for name, value in ISOLATION_HEADERS.items()),
        f"/{SW_PATH}",
        "  Cache-Control: no-cache",
    ]
    return "\n".join(lines) + "\n"


def _replace_once(text: str, marker: str, replacement: str) -> str:
    if text.count(marker) != 1:
        raise BuildError(f"the build fills in the line {marker!r}, which must occur exactly once")
    return text.replace(marker, replacement)


def _is_build(out: Path) -> bool:
    """``out`` holds an earlier build: a sw.js with a filled-in precache manifest."""
    sw = out / SW_PATH
    return sw.is_file() and "const PRECACHE = {" in sw.read_text(errors="replace")


def _prepare_out(out: Path, source: Path) -> None:
    """Empty ``out`` for the build; refuse anything that could destroy sources or other files."""
    for folder in ("web", "py", "wasm"):
        if out == source / folder or out.is_relative_to(source / folder):
            raise BuildError(f"{out} lies inside the sources ({folder}/): choose another folder")
    if source.is_relative_to(out):
        raise BuildError(f"{out} contains the sources: choose another folder")
    if out.exists() and not out.is_dir():
        raise BuildError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not _is_build(out):
            raise BuildError(
                f"{out} is not empty and holds no LocalWebAI build: refusing to clear it"
            )
        for child in out.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _link_or_copy(source: Path, dest: Path) -> None:
    """Models are large: hard-link when the file system allows, else copy."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def build(
    out: Path, source: Path | None = None, models: Path | None = None, isolate: bool = True
) -> BuildResult:
    """Write the static site to ``out`` (emptied first if it holds an earlier build).

    ``models``: a folder whose ``*.gguf`` files are copied to OUT/models/ and listed on the page.
    ``isolate``: the service worker adds COOP/COEP and reloads once; False for hosts that send
    the headers themselves (``--host-sends-headers``).
    """
    source = find_source(source or PACKAGE_ROOT).resolve()
    out = out.resolve()
    listed: list[ServerModel] = []
    if models is not None:
        if not models.is_dir():
            raise BuildError(f"--models {models}: no such folder")
        listed = list_gguf_files(models, "models/")  # relative to the page
        if not listed:
            raise BuildError(f"--models {models}: no .gguf files in it")
    model_files = {model.name: models / model.name for model in listed if models is not None}

    contents = {rel: path.read_bytes() for rel, path in shell_sources(source).items()}
    contents[ARCHIVE_PATH] = _page_archive(source, contents["pyscript.json"])
    contents[INDEX_PATH] = index_json(listed).encode()
    for rel in ("index.html", "manifest.webmanifest"):
        if rel in contents:
            check_relative_urls(rel, contents[rel].decode("utf-8"))
    sw_source = contents.pop(SW_PATH).decode("utf-8")

    settings = {"isolate": isolate}
    fingerprint = {
        "settings": settings,
        "sw": _digest(sw_source.encode()),
        "files": {rel: _digest(data) for rel, data in contents.items()},
    }
    version = _digest(json.dumps(fingerprint, sort_keys=True).encode())[:VERSION_LENGTH]

    register = contents[REGISTER_PATH].decode("utf-8")
    build_settings = json.dumps({"version": version, **settings})
    register = _replace_once(register, REGISTER_MARKER, f"const BUILD = {build_settings};")
    contents[REGISTER_PATH] = register.encode()
    files = tuple(
        ShellFile(rel, _digest(data), len(data), mime_type(rel))
        for rel, data in sorted(contents.items())
    )
    manifest = {
        "version": version,
        "isolate": isolate,
        "files": [asdict(f) for f in files],
        "builds": {
            build: [rel for rel in paths if rel in contents]
            for build, paths in ENGINE_BUILD_FILES.items()
        },
        "snapshots": {
            rel: needs_jspi
            for rel in sorted(contents)
            if (needs_jspi := snapshot_needs_jspi(rel)) is not None
        },
    }
    sw = _replace_once(sw_source, SW_MARKER, f"const PRECACHE = {json.dumps(manifest)};")

    _prepare_out(out, source)
    for rel, data in contents.items():
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    (out / SW_PATH).write_text(sw, encoding="utf-8")
    (out / HEADERS_PATH).write_text(headers_file(isolate), encoding="utf-8")
    for name, path in model_files.items():
        _link_or_copy(path, out / "models" / name)
    return BuildResult(out, version, files, tuple(model_files))
