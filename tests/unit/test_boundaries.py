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


def test_core_modules_import_no_js() -> None:
    core = sorted(PACKAGE.glob("*.py"))
    assert len(core) >= 8
    offenders = {p.name: imported_roots(p) & JS_MODULES for p in core}
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_core_does_not_import_the_binding_layer() -> None:
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = ("." * node.level) + (node.module or "")
                assert not module.startswith((".browser", "localwebai.browser")), path.name


def test_pyscript_config_ships_every_module() -> None:
    config = json.loads((REPO / "web" / "pyscript.json").read_text())
    shipped = set(config["files"])
    modules = {f"./py/{p.relative_to(REPO / 'py').as_posix()}" for p in PACKAGE.rglob("*.py")}
    assert shipped == modules
    for source, target in config["files"].items():
        assert target == "." + source.removeprefix("./py")  # ./py/localwebai/x → ./localwebai/x
    assert config["interpreter"] == "./vendor/pyodide/pyodide.mjs"
    assert (REPO / "web" / config["interpreter"]).is_file()
