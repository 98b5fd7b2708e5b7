"""Guards the dependency direction: core never imports QGIS, Qt, Processing, GDAL, the data layer
or the adapters; the data layer (gdalio) never imports QGIS or the adapters; the command line
(cli) and the Dask backend (cluster) use core and gdalio only; no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("qgis", "PyQt5", "PyQt6", "processing", "osgeo")
FORBIDDEN_RELATIVE = ("processing_provider", "ui", "plugin", "gdalio")
DATA_LAYER_FORBIDDEN = ("qgis", "PyQt5", "PyQt6", "processing")
DATA_LAYER_FORBIDDEN_RELATIVE = ("processing_provider", "ui", "plugin")


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


GDALIO_FILES = sorted((ROOT / "gdalio").rglob("*.py"))


@pytest.mark.parametrize(
    "path", GDALIO_FILES, ids=[p.relative_to(ROOT / "gdalio").as_posix() for p in GDALIO_FILES]
)
def test_data_layer_imports_no_qgis_and_no_adapter(path):
    bad = []
    for level, module, line in _imports(path):
        top = module.split(".")[0]
        if level == 0 and top in DATA_LAYER_FORBIDDEN:
            bad.append(f"{path.name}:{line} imports {module}")
        target = _resolved(path, level, module).split(".")[0]
        if level >= 1 and target in DATA_LAYER_FORBIDDEN_RELATIVE + ("<above>",):
            bad.append(f"{path.name}:{line} imports {'.' * level}{module}")
    assert bad == []


CLI_FILES = sorted((ROOT / "cli").rglob("*.py")) + sorted((ROOT / "cluster").rglob("*.py"))
CLI_FORBIDDEN_RELATIVE = ("processing_provider", "ui", "plugin")


@pytest.mark.parametrize("path", CLI_FILES, ids=[p.relative_to(ROOT).as_posix() for p in CLI_FILES])
def test_command_line_and_cluster_use_core_and_gdalio_only(path):
    bad = []
    for level, module, line in _imports(path):
        top = module.split(".")[0]
        if level == 0 and top in DATA_LAYER_FORBIDDEN + ("osgeo",):
            bad.append(f"{path.name}:{line} imports {module}")
        target = _resolved(path, level, module).split(".")[0]
        if level >= 1 and target in CLI_FORBIDDEN_RELATIVE + ("<above>",):
            bad.append(f"{path.name}:{line} imports {'.' * level}{module}")
    assert bad == []


def test_core_and_data_layer_tests_import_no_adapter():
    bad = []
    for folder in ("core", "gdalio"):
        for path in sorted((ROOT / "tests" / folder).rglob("*.py")):
            for level, module, line in _imports(path):
                parts = module.split(".")
                if (
                    level == 0
                    and parts[0] == "labelguard"
                    and parts[1:2]
                    in (
                        ["processing_provider"],
                        ["ui"],
                        ["plugin"],
                    )
                ):
                    bad.append(f"tests/{folder}/{path.name}:{line} imports {module}")
    assert bad == []


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(path: Path, level: int, module: str) -> str:
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([p for p in base + module.split(".") if p])


def test_no_import_cycles_between_plugin_modules():
    files = [
        p
        for p in ROOT.rglob("*.py")
        if not {".venv", "out", "tests", "benchmarks", "tools"} & set(p.relative_to(ROOT).parts)
    ]
    names = {_module_name(p): p for p in files}
    graph = {}
    for name, path in names.items():
        deps = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):  # TYPE_CHECKING and function-local imports count too
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
                continue
            base = _resolve(path, node.level, node.module or "")
            for alias in node.names:
                target = f"{base}.{alias.name}" if base else alias.name
                while target and target not in names:  # "from .x import name": x is the module
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    deps.add(target)
        graph[name] = deps
    cycles = []
    state = {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(" -> ".join(stack[stack.index(dep) :] + [dep]))
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
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


def test_topology_rule_modules_never_import_the_engine():
    """Rule modules import the context and vocabulary modules; only the engine runs them."""
    package = ROOT / "core" / "topology"
    importers = [
        p.name
        for p in sorted(package.glob("*.py"))
        if p.stem not in ("engine", "__init__")  # the package re-exports the engine
        and any(lvl == 1 and mod.split(".")[0] == "engine" for lvl, mod, _ in _imports(p))
    ]
    assert importers == []


SHARED_ADAPTER_MODULES = {"base", "compat", "layers"}


def test_algorithm_modules_never_import_each_other():
    """What two algorithms share goes into the base template or below (STYLE.md §2)."""
    bad = []
    for path in sorted((ROOT / "processing_provider").glob("*.py")):
        if path.stem in SHARED_ADAPTER_MODULES | {"provider", "__init__"}:
            continue
        for level, module, line in _imports(path):
            if level == 1 and module.split(".")[0] not in SHARED_ADAPTER_MODULES:
                bad.append(f"{path.name}:{line} imports .{module}")
    assert bad == []


def test_ui_runs_algorithms_by_id_and_never_imports_the_provider():
    bad = []
    for path in sorted((ROOT / "ui").rglob("*.py")) + sorted((ROOT / "render").rglob("*.py")):
        for level, module, line in _imports(path):
            target = _resolved(path, level, module).split(".")[0]
            if level >= 1 and target == "processing_provider":
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {'.' * level}{module}")
            if path.parent.name == "render" and (target == "ui" or module.startswith("qgis.gui")):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert bad == []
