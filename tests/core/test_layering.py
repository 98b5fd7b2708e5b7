"""Guards the dependency direction: core never imports QGIS, Qt, Processing or the adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("qgis", "PyQt5", "PyQt6", "processing", "osgeo")
FORBIDDEN_RELATIVE = ("processing_provider", "ui", "plugin")


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or "", node.lineno


CORE_FILES = sorted((ROOT / "core").rglob("*.py"))


def _resolved(path: Path, level: int, module: str) -> str:
    """The dotted name, from the plugin root, that a (relative) import in ``path`` names."""
    if level == 0:
        return module
    package = list(path.relative_to(ROOT).parent.parts)
    base = package[: len(package) - (level - 1)] if level - 1 <= len(package) else ["<above>"]
    return ".".join(base + ([module] if module else []))


@pytest.mark.parametrize(
    "path", CORE_FILES, ids=[p.relative_to(ROOT / "core").as_posix() for p in CORE_FILES]
)
def test_core_imports_nothing_from_qgis_or_adapters(path):
    bad = []
    for level, module, line in _imports(path):
        top = module.split(".")[0]
        if level == 0 and top in FORBIDDEN:
            bad.append(f"{path.name}:{line} imports {module}")
        target = _resolved(path, level, module).split(".")[0]
        if level >= 1 and target in FORBIDDEN_RELATIVE + ("<above>",):
            bad.append(f"{path.name}:{line} imports {'.' * level}{module}")
    assert bad == []


def test_topology_package_has_no_import_cycle():
    """Rule modules import the context and vocabulary modules, never the engine."""
    package = ROOT / "core" / "topology"
    names = {p.stem for p in package.glob("*.py")} - {"__init__"}
    graph = {}
    for name in names:
        path = package / f"{name}.py"
        deps = set()
        for level, module, _line in _imports(path):
            if level == 1 and module.split(".")[0] in names:
                deps.add(module.split(".")[0])
        graph[name] = deps
    assert {n for n, deps in graph.items() if "engine" in deps} == set()
    done, cycles = set(), []

    def visit(name, stack):
        if name in stack:
            cycles.append(stack[stack.index(name) :] + [name])
            return
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, stack + [name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert cycles == []


ALL_PY = sorted(p for p in ROOT.rglob("*.py") if ".venv" not in p.parts and "out" not in p.parts)


def test_qt_only_through_qgis_pyqt():
    bad = []
    for path in ALL_PY:
        for level, module, line in _imports(path):
            if level == 0 and module.split(".")[0] in ("PyQt5", "PyQt6"):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert bad == []


def test_every_module_has_future_annotations():
    missing = [
        str(p.relative_to(ROOT))
        for p in ALL_PY
        if p.stat().st_size and "from __future__ import annotations" not in p.read_text("utf-8")
    ]
    assert missing == []


def test_shapely_is_imported_only_in_core_geos():
    bad = []
    for path in ALL_PY:
        if path.relative_to(ROOT).as_posix() == "core/geos.py" or "tests" in path.parts:
            continue
        for level, module, line in _imports(path):
            if level == 0 and module.split(".")[0] == "shapely":
                bad.append(f"{path.relative_to(ROOT)}:{line}")
    assert bad == []
