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


@pytest.mark.parametrize("path", CORE_FILES, ids=[p.name for p in CORE_FILES])
def test_core_imports_nothing_from_qgis_or_adapters(path):
    bad = []
    for level, module, line in _imports(path):
        top = module.split(".")[0]
        if level == 0 and top in FORBIDDEN:
            bad.append(f"{path.name}:{line} imports {module}")
        if level >= 2 and top in FORBIDDEN_RELATIVE:
            bad.append(f"{path.name}:{line} imports ..{module}")
    assert bad == []


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
