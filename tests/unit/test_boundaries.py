"""The architecture's rules, checked: a pure core, and a page config that ships every module."""

from __future__ import annotations

import ast
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "py" / "localwebai"
JS_MODULES = {"js", "pyodide", "pyscript"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def core_modules() -> list[Path]:
    """Every module of the package but its binding layer (browser/), subpackages included."""
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != "browser")


def absolute_module(path: Path, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` in ``path`` names, relative imports resolved."""
    if node.level == 0:
        return node.module or ""
    package = path.relative_to(PACKAGE.parent).parent.parts
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def test_core_modules_import_no_js() -> None:
    core = core_modules()
    assert len(core) >= 8
    offenders = {p.relative_to(PACKAGE).as_posix(): imported_roots(p) & JS_MODULES for p in core}
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_core_does_not_import_the_binding_layer() -> None:
    for path in core_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = absolute_module(path, node)
                assert not module.startswith("localwebai.browser"), path.name


def test_pyscript_config_ships_every_module() -> None:
    config = json.loads((REPO / "web" / "pyscript.json").read_text())
    shipped = set(config["files"])
    modules = {f"./py/{p.relative_to(REPO / 'py').as_posix()}" for p in PACKAGE.rglob("*.py")}
    assert shipped == modules
    for source, target in config["files"].items():
        assert target == "." + source.removeprefix("./py")  # ./py/localwebai/x → ./localwebai/x
    assert config["interpreter"] == "./vendor/pyodide/pyodide.mjs"
    assert (REPO / "web" / config["interpreter"]).is_file()
