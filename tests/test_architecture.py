"""The shape docs/architecture.md draws, held by tests: layers that depend one way, no import cycles
(function-local imports counted), plugins that import only ``dftk.api``, a core that names no plugin and no
finding kind, and a plugin API that docs/plugins.md documents in full."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import dftk.api
from helpers import REPO

CORE = REPO / "dftk"
PLUGINS = REPO / "plugins"
# Lower layers first; a module may import its own layer and the layers before it, never one after it.
LAYERS = ["base", "evidence", "hashing", "fs", "engine", "case", "report", "ewf", "acquire", "cli", "api"]
BASE = {"dftk", "dftk.clock", "dftk.errors", "dftk.records", "dftk.shortcuts", "dftk.text"}


def _modules(folder: Path, package: str) -> dict[str, Path]:
    found = {}
    for path in folder.rglob("*.py"):
        parts = [package, *path.relative_to(folder).with_suffix("").parts]
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


ALL = {**_modules(CORE, "dftk"), **_modules(PLUGINS, "dftk_plugins")}


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every dftk module the module imports, anywhere in it (function-local imports included). ``from a.b
    import c`` imports the package ``a.b`` (its ``__init__`` runs) and, when ``c`` is a module, ``a.b.c``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for name in names:
            while name and name not in ALL:
                name = name.rpartition(".")[0]
            if name and name != module:
                yield name, node.lineno


def _layer(module: str) -> str:
    if module in BASE or module == "dftk.__main__":
        return "cli" if module == "dftk.__main__" else "base"
    return module.split(".")[1]


def test_no_import_cycles() -> None:
    graph = {m: {target for target, _ in _imports(m, p)} for m, p in ALL.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert cycles == []


def test_core_layers_depend_one_way() -> None:
    wrong = []
    for module, path in _modules(CORE, "dftk").items():
        mine = LAYERS.index(_layer(module))
        for target, line in _imports(module, path):
            if target.startswith("dftk_plugins"):
                wrong.append(f"{path.relative_to(REPO)}:{line} imports a plugin package ({target})")
            elif LAYERS.index(_layer(target)) > mine:
                wrong.append(f"{path.relative_to(REPO)}:{line} ({_layer(module)}) imports {target} ({_layer(target)})")
    assert wrong == []


def test_evidence_layer_imports_nothing_above_it() -> None:
    above = ("dftk.fs", "dftk.engine", "dftk.case", "dftk.report", "dftk.cli", "dftk.api")
    found = [(m, t) for m, p in _modules(CORE / "evidence", "dftk.evidence").items() for t, _ in _imports(m, p)
             if t.startswith(above)]
    assert found == []


def test_plugins_import_only_the_plugin_api() -> None:
    wrong = [f"{path.relative_to(REPO)}:{line} imports {target}"
             for module, path in _modules(PLUGINS, "dftk_plugins").items()
             for target, line in _imports(module, path)
             if target.startswith("dftk.") and target != "dftk.api"]
    assert wrong == []


def _plugin_kinds() -> set[str]:
    """The finding kinds the repository's plugins write as literals."""
    kinds = set()
    for path in PLUGINS.rglob("*.py"):
        kinds |= set(re.findall(r"Finding\(\s*f?[\"']([a-z0-9_.-]+/[a-z0-9_.-]+)[\"']", path.read_text()))
    return kinds


def _string_constants(path: Path) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.value, node.lineno


def test_core_names_no_plugin_and_no_finding_kind() -> None:
    kinds = _plugin_kinds()
    assert {"hash/file", "image/thumbnail", "media/image"} <= kinds  # the scan itself works
    names = set(dftk.api.installed())
    fields = {"jpeg_base64", "datetime_original", "gps_latitude", "gps_longitude"}
    found = [f"{path.relative_to(REPO)}:{line}: {value!r}" for path in CORE.rglob("*.py")
             for value, line in _string_constants(path)
             if value in kinds or value in fields or "dftk_plugins" in value
             or (value in names and path.name != "api.py")]
    assert found == []


def test_modules_and_classes_stay_small() -> None:
    """Over about 400 lines a module becomes a package; over about 250 lines a class is split by responsibility."""
    large = []
    for path in [*CORE.rglob("*.py"), *PLUGINS.rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 400:
            large.append(f"{path.relative_to(REPO)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and (node.end_lineno or 0) - node.lineno > 250:
                large.append(f"{path.relative_to(REPO)}: class {node.name}")
    assert large == []


def test_docs_document_every_name_of_the_plugin_api() -> None:
    text = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    missing = [name for name in dftk.api.__all__ if f"`{name}`" not in text]
    assert missing == []


@pytest.mark.parametrize("name", dftk.api.__all__)
def test_every_api_name_exists(name: str) -> None:
    assert hasattr(dftk.api, name)
