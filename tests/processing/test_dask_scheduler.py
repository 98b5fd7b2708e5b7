"""SCHEDULER on validatetopology, buildmanifest and verifymanifest: the same outputs as in
process, on a Dask LocalCluster (threads, in this process) started here; cancel drops the
Dask tasks; without dask.distributed one clear line; the toolbox's task keeps the GUI free."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "cli"))
from cli_fixtures import border_layer, defects, sq, write_layer  # noqa: E402

ALGORITHMS = ("validatetopology", "buildmanifest", "verifymanifest")


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 single-threaded workers in this process."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address=":0",
        silence_logs=40,
    )
    yield cluster
    cluster.close()


@pytest.fixture
def scheduler(cluster):
    return cluster.scheduler_address


def ran(cluster, prefix: str) -> int:
    """How many tasks named ``prefix`` the cluster's scheduler has seen so far."""
    found = cluster.scheduler.task_prefixes.get(prefix)
    return 0 if found is None else sum(found.state_counts.values())


def _features(path: Path) -> list:
    """(attributes, WKT) of every feature of a vector file, in fid order."""
    from osgeo import ogr

    ds = ogr.Open(str(path))
    lyr = ds.GetLayer(0)
    rows = []
    for f in lyr:
        geom = f.GetGeometryRef()
        rows.append((f.items(), geom.ExportToIsoWkt() if geom is not None else None))
    return rows


def _validate(run_alg, tmp_path, tag, params):
    out = {
        "OUTPUT": str(tmp_path / f"{tag}_areas.gpkg"),
        "OUTPUT_POINTS": str(tmp_path / f"{tag}_points.gpkg"),
        "OUTPUT_LINES": str(tmp_path / f"{tag}_lines.gpkg"),
        "REPORT": str(tmp_path / f"{tag}.json"),
    }
    return run_alg("labelguard:validatetopology", {**params, **out})


def _same_validate_outputs(tmp_path, one, two) -> None:
    for key in ("ERROR_COUNT", "CHECKED_COUNT", "EXCEPTION_COUNT"):
        assert one[key] == two[key], key
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()
    assert sorted(one) == sorted(two)
    for key in ("OUTPUT", "OUTPUT_POINTS", "OUTPUT_LINES"):
        if key in one:
            assert _features(Path(one[key].split("|")[0])) == _features(
                Path(two[key].split("|")[0])
            ), key


def test_validate_on_the_cluster_equals_in_process(run_alg, cluster, scheduler, tmp_path):
    path = write_layer(tmp_path / "b.gpkg", border_layer())
    params = {"INPUT": str(path), "MIN_AREA": 1.0, "RULES": list(range(17))}
    one = _validate(run_alg, tmp_path, "one", params)
    before = ran(cluster, "check_partition_file")
    two = _validate(run_alg, tmp_path, "two", {**params, "SCHEDULER": scheduler})
    assert ran(cluster, "check_partition_file") >= before + 8  # 4 per worker, read there
    _same_validate_outputs(tmp_path, one, two)
    assert one["ERROR_COUNT"] > 10
    rules = {f["rule"] for f in json.loads((tmp_path / "two.json").read_text())["findings"]}
    assert {"overlap", "gap", "duplicate", "dangle", "empty", "invalid"} <= rules


def test_selected_features_go_to_the_cluster_from_qgis(run_alg, cluster, scheduler, tmp_path):
    """A selection is not in the file: QGIS reads it and sends the partitions' WKB."""
    from qgis.core import QgsProcessingFeatureSourceDefinition, QgsProject, QgsVectorLayer

    path = write_layer(tmp_path / "d.gpkg", defects())
    layer = QgsVectorLayer(str(path), "d", "ogr")
    QgsProject.instance().addMapLayer(layer)
    try:
        layer.selectByIds([f.id() for f in layer.getFeatures() if f.id() % 3])
        source = QgsProcessingFeatureSourceDefinition(layer.id(), True)
        one = _validate(run_alg, tmp_path, "one", {"INPUT": source})
        before = ran(cluster, "check_partition")
        two = _validate(run_alg, tmp_path, "two", {"INPUT": source, "SCHEDULER": scheduler})
        assert ran(cluster, "check_partition") > before
        _same_validate_outputs(tmp_path, one, two)
        assert 0 < one["CHECKED_COUNT"] < len(defects())
    finally:
        QgsProject.instance().removeMapLayer(layer.id())


def _dataset(tmp_path: Path) -> Path:
    ds = tmp_path / "ds"
    ds.mkdir()
    write_layer(ds / "b.gpkg", border_layer())
    write_layer(ds / "d.geojson", defects())
    return ds


def test_build_and_verify_on_the_cluster_equal_in_process(run_alg, cluster, scheduler, tmp_path):
    ds = _dataset(tmp_path)
    layers = [str(ds / "b.gpkg"), str(ds / "d.geojson")]
    one = run_alg(
        "labelguard:buildmanifest",
        {"LAYERS": layers, "VERSION": "v1", "OUTPUT": str(ds / "one.json"), "NEW_HISTORY": True},
    )
    before = ran(cluster, "hash_one")
    two = run_alg(
        "labelguard:buildmanifest",
        {
            "LAYERS": layers,
            "VERSION": "v1",
            "OUTPUT": str(ds / "two.json"),
            "NEW_HISTORY": True,
            "SCHEDULER": scheduler,
        },
    )
    assert one["ENTRY_COUNT"] == two["ENTRY_COUNT"] == 2
    assert ran(cluster, "hash_one") >= before + 2
    a, b = (json.loads((ds / n).read_text())["entries"] for n in ("one.json", "two.json"))
    for entry in a + b:  # the index folder is named after the manifest
        entry["feature_index"]["path"] = Path(entry["feature_index"]["path"]).name
    assert a == b  # hashes, content hashes, feature indexes, CRS, sidecars
    write_layer(ds / "b.gpkg", border_layer(x=90.0))  # now modified
    results = []
    before = ran(cluster, "measure_entry")
    for tag, extra in (("one", {}), ("two", {"SCHEDULER": scheduler})):
        results.append(
            run_alg(
                "labelguard:verifymanifest",
                {
                    "MANIFEST": str(ds / "one.json"),
                    "OUTPUT": str(tmp_path / f"v_{tag}.gpkg"),
                    "REPORT": str(tmp_path / f"v_{tag}.json"),
                    **extra,
                },
            )
        )
    assert ran(cluster, "measure_entry") >= before + 2
    for key in ("OK_COUNT", "MISMATCH_COUNT", "REWRITTEN_COUNT", "CHAIN_OK"):
        assert results[0][key] == results[1][key], key
    assert results[0]["MISMATCH_COUNT"] >= 1
    assert (tmp_path / "v_one.json").read_bytes() == (tmp_path / "v_two.json").read_bytes()
    assert _features(tmp_path / "v_one.gpkg") == _features(tmp_path / "v_two.gpkg")


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_without_dask_one_line_says_how_to_fix(run_alg, tmp_path, monkeypatch, alg):
    from qgis.core import QgsProcessingException

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    ds = _dataset(tmp_path)
    params = {
        "validatetopology": {"INPUT": str(ds / "b.gpkg"), "OUTPUT": "TEMPORARY_OUTPUT"},
        "buildmanifest": {"LAYERS": [str(ds / "b.gpkg")], "OUTPUT": str(ds / "m.json")},
        "verifymanifest": {"MANIFEST": str(ds / "m.json")},
    }[alg]
    if alg == "verifymanifest":
        monkeypatch.delitem(sys.modules, "distributed")
        run_alg(
            "labelguard:buildmanifest",
            {"LAYERS": [str(ds / "b.gpkg")], "OUTPUT": str(ds / "m.json")},
        )
        monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(QgsProcessingException) as err:
        run_alg(f"labelguard:{alg}", {**params, "SCHEDULER": "tcp://127.0.0.1:8786"})
    message = str(err.value)
    assert "\n" not in message.strip()
    assert "dask.distributed cannot be imported in QGIS's Python" in message
    assert "pip install distributed" in message
    assert "leave SCHEDULER empty" in message
    assert not (ds / "m.json").exists() or alg == "verifymanifest"


def test_unreachable_scheduler_is_one_line(run_alg, tmp_path):
    from qgis.core import QgsProcessingException

    path = write_layer(tmp_path / "a.gpkg", [sq(0, 0)])
    with pytest.raises(QgsProcessingException) as err:
        run_alg(
            "labelguard:validatetopology",
            {"INPUT": str(path), "OUTPUT": "TEMPORARY_OUTPUT", "SCHEDULER": "no-port-here"},
        )
    assert str(err.value).startswith("SCHEDULER: cannot reach a Dask scheduler at no-port-here")
    assert "tcp://host:8786" in str(err.value)


def test_cancel_drops_the_dask_tasks_promptly(run_alg, tmp_path):
    """The only worker thread is busy, so the run's tasks wait; Cancel must not wait for them
    and must leave no task of the run on the scheduler."""
    from distributed import Client, Event, LocalCluster
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    client = Client(cluster)
    release = Event("labelguard-test-release", client=client)
    try:
        blocker = client.submit(lambda: Event("labelguard-test-release").wait(60), pure=False)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            state = cluster.scheduler.tasks.get(blocker.key)
            if state is not None and state.state == "processing":
                break
            time.sleep(0.05)
        path = write_layer(tmp_path / "b.gpkg", border_layer())

        class CancelOnProgress(QgsProcessingFeedback):
            def setProgress(self, progress):  # noqa: N802 (QGIS API)
                self.cancel()  # the first progress report comes from waiting on the tasks

        start = time.monotonic()
        with pytest.raises(QgsProcessingException, match="Cancelled; nothing was written"):
            run_alg(
                "labelguard:validatetopology",
                {
                    "INPUT": str(path),
                    "OUTPUT": str(tmp_path / "e.gpkg"),
                    "SCHEDULER": cluster.scheduler_address,
                },
                feedback=CancelOnProgress(),
            )
        assert time.monotonic() - start < 15
        assert not (tmp_path / "e.gpkg").exists()
        deadline = time.monotonic() + 10
        while set(cluster.scheduler.tasks) - {blocker.key} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert set(cluster.scheduler.tasks) == {blocker.key}
    finally:
        release.set()
        client.close()
        cluster.close()


def test_the_toolbox_task_runs_it_off_the_gui_thread(labelguard_provider, scheduler, tmp_path):
    """As the toolbox does: a QgsProcessingAlgRunnerTask; the GUI thread's event loop keeps
    turning while the cluster works, and the algorithm itself never asks for the GUI thread."""
    from qgis.core import (
        QgsApplication,
        QgsProcessingAlgorithm,
        QgsProcessingAlgRunnerTask,
        QgsProcessingContext,
        QgsProcessingFeedback,
        QgsProject,
    )
    from qgis.PyQt.QtCore import QEventLoop, QTimer

    registry = QgsApplication.processingRegistry()
    for name in ALGORITHMS:
        alg = registry.algorithmById(f"labelguard:{name}")
        assert not alg.flags() & QgsProcessingAlgorithm.Flag.FlagNoThreading, name
    path = write_layer(tmp_path / "b.gpkg", border_layer())
    alg = registry.createAlgorithmById("labelguard:validatetopology")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = QgsProcessingFeedback()
    params = {
        "INPUT": str(path),
        "OUTPUT": str(tmp_path / "e.gpkg"),
        "REPORT": str(tmp_path / "r.json"),
        "SCHEDULER": scheduler,
    }
    task = QgsProcessingAlgRunnerTask(alg, params, context, feedback)
    done = []
    task.executed.connect(lambda ok, results: done.append((ok, results)))
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(threading.get_ident()))
    timer.start(20)
    loop = QEventLoop()
    task.executed.connect(lambda *_: QTimer.singleShot(0, loop.quit))
    QTimer.singleShot(60000, loop.quit)
    QgsApplication.taskManager().addTask(task)
    loop.exec()
    timer.stop()
    assert done
    assert done[0][0], feedback.textLog()
    assert done[0][1]["ERROR_COUNT"] > 0
    assert len(ticks) >= 3  # the GUI thread handled events while the task ran
    assert json.loads((tmp_path / "r.json").read_text())["findings"]
