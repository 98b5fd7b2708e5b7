"""Registers the LabelGuard provider once, on top of pytest-qgis's qgis_processing fixture."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QGIS_PROCESS = os.environ.get("QGIS_PROCESS", "/usr/bin/qgis_process.bin")


@pytest.fixture
def run_alg(labelguard_provider):
    """Runs a LabelGuard algorithm by id; returns (results, context)."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    def _run(alg_id, params, feedback=None):
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        fb = feedback or QgsProcessingFeedback()
        results = processing.run(alg_id, params, context=context, feedback=fb)
        return results

    return _run


@pytest.fixture
def run_and_load(labelguard_provider, layer_tree_view):
    """Runs a LabelGuard algorithm by id as the toolbox dialog does (outputs loaded into the
    project, then QGIS's result handling); returns (results, the layers QGIS reported as not
    correctly generated, the layers added to the project). Loaded layers are removed after."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    class Feedback(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.errors = []

        def reportError(self, error, fatal_error=False):  # noqa: N802 (QGIS API)
            self.errors.append(error)

    added = []
    project = QgsProject.instance()

    def _run(alg_id, params):
        context = QgsProcessingContext()
        context.setProject(project)
        feedback = Feedback()
        before = set(project.mapLayers())
        results = processing.runAndLoadResults(alg_id, dict(params), feedback, context)
        new = sorted(set(project.mapLayers()) - before)
        added.extend(new)
        wrong = [
            line[2:]
            for error in feedback.errors
            if "not correctly generated" in error
            for line in error.splitlines()
            if line.startswith("• ")
        ]
        return results, wrong, [project.mapLayer(i).name() for i in new]

    yield _run
    project.removeMapLayers(added)


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory):
    """A folder holding the checkout as ``labelguard/``, for QGIS_PLUGINPATH."""
    base = tmp_path_factory.mktemp("plugins")
    (base / "labelguard").symlink_to(ROOT, target_is_directory=True)
    return base


@pytest.fixture(scope="session")
def qgis_process(plugin_dir, tmp_path_factory):
    """Runs qgis_process.bin with LabelGuard enabled in a throwaway profile."""
    if not shutil.which(QGIS_PROCESS) and not Path(QGIS_PROCESS).exists():
        pytest.fail(f"{QGIS_PROCESS} not found; run tools/bootstrap.sh")
    home = tmp_path_factory.mktemp("home")
    env = dict(os.environ)
    env.update(
        QGIS_PLUGINPATH=str(plugin_dir),
        HOME=str(home),
        XDG_RUNTIME_DIR=str(home),
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=os.pathsep.join(p for p in sys.path if "site-packages" in p),
    )
    enable = subprocess.run(
        [QGIS_PROCESS, "plugins", "enable", "labelguard"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert enable.returncode == 0, enable.stderr + enable.stdout

    def _run(*args, timeout=300):
        return subprocess.run(
            [QGIS_PROCESS, *map(str, args)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return _run
