"""The architecture's rules, checked: a pure core, a page config that ships every module the page
runs, and site tooling and the native runtime, which the page never gets."""

from __future__ import annotations

import ast
import io
import json
import zipfile
from pathlib import Path

from localwebai.tooling.page_archive import ARCHIVE_PATH, page_archive

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "py" / "localwebai"
TOOLING = PACKAGE / "tooling"
NATIVE = PACKAGE / "native"
ENTRY_POINT = PACKAGE / "__main__.py"
JS_MODULES = {"js", "pyodide", "pyscript"}
NATIVE_ENGINE = "llama_cpp"


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def imported_modules(path: Path, root: Path = REPO / "py") -> set[str]:
    """Absolute names of what ``path`` (a module under ``root``) imports, relative imports
    resolved; ``from X import y`` counts as X and as X.y (y may be a module)."""
    package = path.relative_to(root).parent.parts
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            modules.add(module)
            modules.update(f"{module}.{alias.name}" for alias in node.names)
    return modules


def is_tooling(path: Path) -> bool:
    return path == ENTRY_POINT or path.is_relative_to(TOOLING)


def is_native(path: Path) -> bool:
    return path.is_relative_to(NATIVE)


def shipped_modules() -> list[Path]:
    """What the page runs: every module of the package but the tooling, ``__main__.py`` and
    the native runtime."""
    return [p for p in sorted(PACKAGE.rglob("*.py")) if not (is_tooling(p) or is_native(p))]


def core_modules() -> list[Path]:
    """Every module of the package but its bindings (browser/, native/), subpackages included."""
    bindings = {"browser", "native"}
    return sorted(
        p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in bindings
    )


def test_core_modules_import_no_js() -> None:
    core = core_modules()
    assert len(core) >= 8
    offenders = {p.relative_to(PACKAGE).as_posix(): imported_roots(p) & JS_MODULES for p in core}
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_core_does_not_import_the_binding_layer() -> None:
    for path in core_modules():
        modules = imported_modules(path)
        assert not {m for m in modules if m.startswith("localwebai.browser")}, path.name


def test_only_the_native_runtime_imports_llama_cpp() -> None:
    users = {
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if NATIVE_ENGINE in imported_roots(p)
    }
    assert users == {"native/engine.py", "native/embedder.py"}


def test_native_runtime_imports_no_js_nor_the_browser_bindings() -> None:
    native = sorted(NATIVE.rglob("*.py"))
    assert {p.name for p in native} >= {"runtime.py", "engine.py", "cache_store.py", "cli.py"}
    for path in native:
        assert not imported_roots(path) & JS_MODULES, path.name
        assert not {m for m in imported_modules(path) if m.startswith("localwebai.browser")}


def test_pyscript_config_ships_every_module_but_the_tooling_and_native() -> None:
    config = json.loads((REPO / "web" / "pyscript.json").read_text())
    assert config["files"] == {f"./{ARCHIVE_PATH}": "./*"}  # unpacked into the cwd: ./localwebai
    archive = zipfile.ZipFile(io.BytesIO(page_archive(REPO / "py")))
    shipped = set(archive.namelist())
    assert shipped == {p.relative_to(REPO / "py").as_posix() for p in shipped_modules()}
    assert "localwebai/browser/app.py" in shipped
    assert not {s for s in shipped if "/tooling/" in s or s.endswith("/__main__.py")}
    assert not {s for s in shipped if "/native/" in s}
    assert archive.read("localwebai/cache.py") == (PACKAGE / "cache.py").read_bytes()
    assert page_archive(REPO / "py") == page_archive(REPO / "py")  # no dates: same tree, same bytes
    # the vendored Pyodide, through the module that restores its snapshot (pyodide-boot.js)
    assert config["interpreter"] == "./js/pyodide-boot.js"
    boot = (REPO / "web" / config["interpreter"]).read_text()
    assert 'from "../vendor/pyodide/pyodide.mjs"' in boot


def test_nothing_shipped_imports_the_tooling_or_native() -> None:
    unshipped = ("localwebai.tooling", "localwebai.native")
    offenders = {
        p.relative_to(PACKAGE).as_posix(): sorted(
            m for m in imported_modules(p) if m.startswith(unshipped)
        )
        for p in shipped_modules()
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_tooling_imports_no_js_nor_the_binding_layer() -> None:
    tooling = [p for p in sorted(PACKAGE.rglob("*.py")) if is_tooling(p)]
    assert {p.name for p in tooling} >= {"__main__.py", "cli.py", "build.py", "http_headers.py"}
    for path in tooling:
        assert not imported_roots(path) & JS_MODULES, path.name
        assert not {m for m in imported_modules(path) if m.startswith("localwebai.browser")}


def test_imported_modules_resolves_relative_imports(tmp_path: Path) -> None:
    module = tmp_path / "localwebai" / "browser" / "x.py"
    module.parent.mkdir(parents=True)
    module.write_text("import js\nfrom . import dom\nfrom ..tooling.build import build\n")
    assert imported_modules(module, tmp_path) == {
        "js",
        "localwebai.browser",
        "localwebai.browser.dom",
        "localwebai.tooling.build",
        "localwebai.tooling.build.build",
    }
    assert "localwebai.tooling.cli" in imported_modules(ENTRY_POINT)
