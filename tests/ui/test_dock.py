"""The dock: finds the manifests, follows edits, saves, layers and new manifests, keeps the
detail on the selection, says what to do next, and acts (build next version, changes)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def versioned(tmp_path, gis):
    """make demo's layout: data/ with manifests v1 -> v2 in a sibling manifests/ folder, plus
    an untracked GeoJSON."""
    import processing

    root = tmp_path / "ds"
    data = root / "data"
    data.mkdir(parents=True)
    tif, gpkg = gis.write_raster(data / "ortho.tif"), gis.write_vector(data / "labels.gpkg")
    layers = [str(tif), str(gpkg)]
    processing.run("labelguard:exportsidecars", {"LAYERS": layers})
    common = {"LAYERS": layers, "DATASET_ROOT": str(data)}
    v1 = processing.run(
        "labelguard:buildmanifest",
        {**common, "VERSION": "v1", "OUTPUT": str(root / "manifests" / "v1.json")},
    )
    processing.run(
        "labelguard:buildmanifest",
        {
            **common,
            "VERSION": "v2",
            "PARENT": v1["OUTPUT"],
            "OUTPUT": str(root / "manifests" / "v2.json"),
        },
    )
    extra = gis.write_vector(data / "scratch.geojson", driver="GeoJSON")
    return {"root": root, "data": data, "tif": tif, "gpkg": gpkg, "extra": extra}


def _dock(qgis_iface, canvas=None):
    from labelguard.ui.dock import LabelGuardDock
    from qgis.core import QgsProject

    messages = []
    dock = LabelGuardDock(
        qgis_iface.mainWindow(),
        QgsProject.instance(),
        lambda text, level: messages.append(text),
        canvas,
    )
    dock._timer.setInterval(0)  # no debounce delay in tests; the bursts still coalesce
    return dock, messages


def wait_for_task(task, bound_ms: int = 60000) -> None:
    """Run the event loop until ``task`` ends (its signals), at most ``bound_ms``."""
    from qgis.core import QgsTask
    from qgis.PyQt.QtCore import QEventLoop, QTimer

    if task.status() in (QgsTask.TaskStatus.Complete, QgsTask.TaskStatus.Terminated):
        return
    loop = QEventLoop()
    task.taskCompleted.connect(loop.quit)
    task.taskTerminated.connect(loop.quit)
    QTimer.singleShot(bound_ms, loop.quit)
    loop.exec()


def _settle(dock, rounds: int = 50) -> None:
    """Process events until the dock has no pending check and no running task (bounded)."""
    from qgis.core import QgsApplication

    for _ in range(rounds):
        QgsApplication.processEvents()
        for task in (dock.task, dock.action_task):
            if task is not None:
                wait_for_task(task)
        QgsApplication.processEvents()
        busy = dock.task is not None or dock.action_task is not None
        if not busy and not dock._timer.isActive() and not dock._pending:
            return
    raise AssertionError("the dock did not finish its checks")


def _run_now(dock):
    """Run the dock's check synchronously, as the task manager would."""
    from labelguard.ui.tasks import LayerStatusTask, layer_ref

    refs = [
        layer_ref(lyr)
        for lyr in sorted(dock.project.mapLayers().values(), key=lambda lyr: lyr.name().lower())
    ]
    task = LayerStatusTask(refs, dock._extra())
    dock.task = task
    assert task.run(), task.error
    dock._finished(task)


def test_finds_sibling_manifests_by_itself(
    qgis_iface, qgis_new_project, labelguard_provider, versioned
):
    from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer

    dock, messages = _dock(qgis_iface)
    project = QgsProject.instance()
    project.addMapLayer(QgsRasterLayer(str(versioned["tif"]), "ortho"))
    project.addMapLayer(QgsVectorLayer(str(versioned["gpkg"]), "labels", "ogr"))
    project.addMapLayer(QgsVectorLayer(str(versioned["extra"]), "scratch", "ogr"))
    project.addMapLayer(QgsVectorLayer("Point?crs=EPSG:4326", "memory", "memory"))
    _settle(dock)  # no Refresh: adding the layers started the check
    assert dock.layer_model.rows() == [
        ("labels", "labels.gpkg", "ok"),
        ("memory", "", "no_file"),
        ("ortho", "ortho.tif", "ok"),
        ("scratch", "scratch.geojson", "untracked"),
    ]
    assert list(dock.lineage_model.versions()) == ["v2", "v1"]
    assert dock.ui.summaryLabel.text() == "2 verified · 1 untracked · 1 without data file"
    assert messages == []
    dock.unload()


def test_open_manifest_and_drop_bind_the_project(
    qgis_iface, qgis_new_project, labelguard_provider, versioned, tmp_path
):
    import shutil

    import processing
    from labelguard.ui.dock import PROJECT_KEY, PROJECT_SCOPE
    from qgis.core import QgsProject, QgsVectorLayer
    from qgis.PyQt.QtCore import QMimeData, QPoint, Qt, QUrl
    from qgis.PyQt.QtGui import QDropEvent

    shutil.rmtree(versioned["root"] / "manifests")
    store = tmp_path / "elsewhere"  # not where the dock would look by itself
    for version, parent in (("v1", None), ("v2", str(store / "v1.json"))):
        params = {
            "LAYERS": [str(versioned["gpkg"])],
            "VERSION": version,
            "DATASET_ROOT": str(versioned["data"]),
            "OUTPUT": str(store / f"{version}.json"),
        }
        processing.run(
            "labelguard:buildmanifest", {**params, "PARENT": parent} if parent else params
        )
    dock, _ = _dock(qgis_iface)
    project = QgsProject.instance()
    project.addMapLayer(QgsVectorLayer(str(versioned["gpkg"]), "labels", "ogr"))
    _settle(dock)
    assert dock.layer_model.statuses() == {"labels": "untracked"}
    dock.select_layer(dock.project.mapLayersByName("labels")[0].id())
    assert dock.ui.detailLabel.text() == (
        "<b>labels</b> (labels.gpkg): no manifest lists this file<br/><i>Next:</i> No manifest "
        "lists this file: open a manifest (Open manifest…) or build a first version (Build "
        "next version)."
    )

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(store / "v1.json"))])
    drop = QDropEvent(
        QPoint(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    dock.dropEvent(drop)
    assert drop.isAccepted()
    _settle(dock)
    assert dock.layer_model.rows() == [("labels", "labels.gpkg", "ok")]
    assert dock.layer_model.item(0, 3).text() == "v2"  # the newest in the bound folder
    assert project.readEntry(PROJECT_SCOPE, PROJECT_KEY)[0] == str(store / "v1.json")

    saved = tmp_path / "review.qgz"
    assert project.write(str(saved))
    dock.unload()
    project.clear()
    assert project.read(str(saved))
    again, _ = _dock(qgis_iface)
    _settle(again)
    assert again.dataset() == store / "v1.json"
    assert again.layer_model.statuses() == {"labels": "ok"}
    again.unload()
    project.removeEntry(PROJECT_SCOPE, PROJECT_KEY)


def test_edit_save_and_detail_follow_the_layer(
    qgis_iface, qgis_new_project, labelguard_provider, versioned
):
    from qgis.core import QgsApplication, QgsProject, QgsRasterLayer, QgsVectorLayer

    logged = []

    def collect(text, _tag, _level):
        logged.append(text)

    log = QgsApplication.messageLog()
    log.messageReceived.connect(collect)
    dock, _ = _dock(qgis_iface)
    project = QgsProject.instance()
    labels = QgsVectorLayer(str(versioned["gpkg"]), "labels", "ogr")
    for layer in (QgsRasterLayer(str(versioned["tif"]), "ortho"), labels):
        project.addMapLayer(layer)  # one check per burst, none cancelled
        QgsApplication.processEvents()
    _settle(dock)
    dock.select_layer(labels.id())

    labels.startEditing()
    labels.deleteFeature(next(labels.getFeatures()).id())
    assert dock.task is None  # shown at once, nothing hashed
    assert dock.layer_model.statuses()["labels"] == "unsaved"
    assert labels.commitChanges()
    _settle(dock)  # saving started a check by itself
    assert dock.layer_model.statuses() == {"labels": "modified", "ortho": "ok"}
    assert dock.selected_status().name == "labels"  # the detail stays on the selected row
    assert dock.ui.detailLabel.text().startswith(
        "<b>labels</b> (labels.gpkg): content changed (3 -> 2 features)"
    )
    assert "<i>Next:</i> If the change is intended, build the next version" in (
        dock.ui.detailLabel.text()
    )
    log.messageReceived.disconnect(collect)
    assert [t for t in logged if "Cancelled" in t] == []
    dock.unload()


def test_build_next_version_refreshes_sidecars_and_chains(
    qgis_iface, qgis_new_project, labelguard_provider, versioned, gis
):
    from qgis.core import QgsProject, QgsVectorLayer

    gis.write_vector(versioned["gpkg"], gis.POLYS[:2])  # an edit outside QGIS
    dock, messages = _dock(qgis_iface)
    project = QgsProject.instance()
    project.addMapLayer(QgsVectorLayer(str(versioned["gpkg"]), "labels", "ogr"))
    _settle(dock)
    assert dock.layer_model.statuses() == {"labels": "modified"}
    assert dock._plan().label == "v3"
    assert [a.text() for a in dock.build_menu().actions() if a.text()] == [
        "Verify now",
        "Build next version…",
        "Show changes since the previous version",
        "Zoom to layer",
        "Open manifest…",
    ]
    task = dock.build_next_version()
    # buildmanifest refreshes the stale sidecar itself: no exportsidecars step before it.
    assert [s.algorithm for s in task.steps] == ["labelguard:buildmanifest"]
    _settle(dock)  # built, then checked again (the new manifest also appeared on disk)
    v3 = versioned["root"] / "manifests" / "v3.json"
    doc = json.loads(v3.read_text())
    assert (doc["version"], doc["parent"]["path"]) == ("v3", "v2.json")
    assert messages == [f"Version v3 written to {v3}"]
    assert dock.layer_model.statuses() == {"labels": "ok"}  # sidecar refreshed: no mismatch
    assert list(dock.lineage_model.versions()) == ["v3", "v2", "v1"]
    dock.unload()


def test_new_manifest_on_disk_is_picked_up(
    qgis_iface, qgis_new_project, labelguard_provider, versioned
):
    import processing
    from qgis.core import QgsProject, QgsVectorLayer

    dock, _ = _dock(qgis_iface)
    QgsProject.instance().addMapLayer(QgsVectorLayer(str(versioned["gpkg"]), "labels", "ogr"))
    _settle(dock)
    manifests = versioned["root"] / "manifests"
    assert dock._watcher.directories() == [str(manifests)]
    processing.run(
        "labelguard:buildmanifest",
        {
            "LAYERS": [str(versioned["gpkg"])],
            "VERSION": "v3-review",
            "PARENT": str(manifests / "v2.json"),
            "DATASET_ROOT": str(versioned["data"]),
            "OUTPUT": str(manifests / "v3.json"),
        },
    )
    dock._folder_changed(str(manifests))  # what the watcher emits for the new file
    _settle(dock)
    assert dock.layer_model.item(0, 3).text() == "v3-review"
    dock.unload()


def test_show_changes_loads_a_styled_diff_layer(
    qgis_iface, qgis_new_project, labelguard_provider, versioned, gis
):
    import processing
    from qgis.core import QgsProject, QgsVectorLayer

    gis.write_vector(versioned["gpkg"], gis.POLYS[:2])
    manifests = versioned["root"] / "manifests"
    processing.run("labelguard:exportsidecars", {"LAYERS": [str(versioned["gpkg"])]})
    processing.run(
        "labelguard:buildmanifest",
        {
            "LAYERS": [str(versioned["gpkg"]), str(versioned["tif"])],
            "VERSION": "v3",
            "PARENT": str(manifests / "v2.json"),
            "DATASET_ROOT": str(versioned["data"]),
            "OUTPUT": str(manifests / "v3.json"),
        },
    )
    dock, _ = _dock(qgis_iface)
    QgsProject.instance().addMapLayer(QgsVectorLayer(str(versioned["gpkg"]), "labels", "ogr"))
    _settle(dock)
    assert dock.show_changes() is not None
    _settle(dock)
    (diff,) = dock.diff_layers
    assert diff.name() == "Changes v2 → v3"
    statuses = sorted(f["status"] for f in diff.getFeatures())
    assert statuses == ["removed", "unchanged", "unchanged"]
    renderer = diff.renderer()
    assert renderer.classAttribute() == "status"
    assert [c.value() for c in renderer.categories()][:2] == ["added", "removed"]
    dock.unload()


def test_labelguard_result_layers_are_not_listed(
    qgis_iface, qgis_new_project, labelguard_provider, versioned, tmp_path
):
    import processing
    from labelguard.render.styles import is_result_layer
    from qgis.core import QgsProject, QgsVectorLayer

    dock, _ = _dock(qgis_iface)
    project = QgsProject.instance()
    labels = QgsVectorLayer(str(versioned["gpkg"]), "labels", "ogr")
    project.addMapLayer(labels)
    manifests = versioned["root"] / "manifests"
    # What the toolbox does: error layers in a file and in memory, a diff, all loaded.
    processing.runAndLoadResults(
        "labelguard:validatetopology",
        {
            "INPUT": labels.id(),
            "OUTPUT": str(tmp_path / "errors.gpkg"),
            "OUTPUT_POINTS": "TEMPORARY_OUTPUT",
            "OUTPUT_LINES": "TEMPORARY_OUTPUT",
        },
    )
    processing.runAndLoadResults(
        "labelguard:diffversions",
        {
            "BASE": str(manifests / "v1.json"),
            "HEAD": str(manifests / "v2.json"),
            "OUTPUT": "TEMPORARY_OUTPUT",
        },
    )
    _settle(dock)
    results = sorted(lyr.name() for lyr in project.mapLayers().values() if is_result_layer(lyr))
    assert results == ["Errors (areas)", "Feature changes"]
    assert not is_result_layer(labels)
    assert dock.layer_model.rows() == [("labels", "labels.gpkg", "ok")]
    assert dock.ui.summaryLabel.text() == "1 verified"
    dock.unload()


def test_double_click_zooms_to_the_layer(
    qgis_iface, qgis_new_project, labelguard_provider, versioned
):
    from qgis.core import QgsCoordinateReferenceSystem, QgsProject, QgsRectangle, QgsVectorLayer
    from qgis.gui import QgsMapCanvas

    canvas = QgsMapCanvas()
    canvas.resize(400, 300)
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:32633"))
    canvas.setExtent(QgsRectangle(0, 0, 10, 10))
    dock, _ = _dock(qgis_iface, canvas)
    labels = QgsVectorLayer(str(versioned["gpkg"]), "labels", "ogr")
    QgsProject.instance().addMapLayer(labels)
    _settle(dock)
    dock._double_clicked(dock.layer_model.index(0, 0))
    assert canvas.extent().contains(labels.extent())
    assert canvas.extent().width() < 200
    dock.unload()


def test_empty_dock_says_how_to_start(qgis_iface, qgis_new_project, labelguard_provider):
    dock, _ = _dock(qgis_iface)
    assert dock.ui.summaryLabel.text().startswith("No layers yet. Add your imagery and label")
    dock.unload()


def test_modified_file_and_broken_chain(
    qgis_iface, qgis_new_project, labelguard_provider, versioned, gis
):
    from qgis.core import QgsProject, QgsVectorLayer

    gis.write_vector(versioned["gpkg"], gis.POLYS[:1])
    v1 = versioned["root"] / "manifests" / "v1.json"
    doc = json.loads(v1.read_text())
    doc["version"] = "v1-edited"
    v1.write_text(json.dumps(doc))
    dock, _ = _dock(qgis_iface)
    QgsProject.instance().addMapLayer(QgsVectorLayer(str(versioned["gpkg"]), "labels", "ogr"))
    _run_now(dock)
    assert dock.layer_model.statuses() == {"labels": "modified"}
    assert dock.ui.summaryLabel.text() == "0 verified · 1 needs attention"
    assert list(dock.lineage_model.versions()) == ["v2", "chain broken"]
    dock.unload()


def test_unload_disconnects_and_ignores_stale_tasks(
    qgis_iface, qgis_new_project, labelguard_provider
):
    from labelguard.ui.tasks import LayerStatusTask
    from qgis.core import QgsProject, QgsVectorLayer

    dock, _ = _dock(qgis_iface)
    layer = QgsVectorLayer("Point?crs=EPSG:4326", "memory", "memory")
    QgsProject.instance().addMapLayer(layer)
    assert list(dock._layer_connections) == [layer.id()]
    stale = LayerStatusTask([])
    dock.task = LayerStatusTask([])
    dock._finished(stale)  # not the tracked task: ignored
    assert dock.task is not None
    dock.unload()
    assert dock.task is None
    assert dock._connections == []
    assert dock._layer_connections == {}
