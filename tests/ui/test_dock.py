"""The dock: status per layer from the newest manifest, lineage, unsaved edits, cleanup."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def versioned(tmp_path, gis):
    """A dataset with manifests v1 -> v2 (v2 current), plus an untracked GeoJSON."""
    import processing

    root = tmp_path / "ds"
    root.mkdir()
    tif, gpkg = gis.write_raster(root / "ortho.tif"), gis.write_vector(root / "labels.gpkg")
    v1 = processing.run(
        "labelguard:buildmanifest",
        {"LAYERS": [str(tif), str(gpkg)], "VERSION": "v1", "OUTPUT": str(root / "v1.json")},
    )
    processing.run(
        "labelguard:buildmanifest",
        {
            "LAYERS": [str(tif), str(gpkg)],
            "VERSION": "v2",
            "PARENT": v1["OUTPUT"],
            "OUTPUT": str(root / "v2.json"),
        },
    )
    extra = gis.write_vector(root / "scratch.geojson", driver="GeoJSON")
    return {"root": root, "tif": tif, "gpkg": gpkg, "extra": extra}


def _dock(qgis_iface):
    from labelguard.ui.dock import LabelGuardDock
    from qgis.core import QgsProject

    messages = []
    dock = LabelGuardDock(
        qgis_iface.mainWindow(), QgsProject.instance(), lambda text, level: messages.append(text)
    )
    return dock, messages


def _run_now(dock):
    """Run the dock's task synchronously, as the task manager would."""
    from labelguard.ui.tasks import LayerStatusTask, layer_ref

    refs = [
        layer_ref(lyr)
        for lyr in sorted(dock.project.mapLayers().values(), key=lambda lyr: lyr.name().lower())
    ]
    task = LayerStatusTask(refs)
    dock.task = task
    assert task.run(), task.error
    dock._finished(task)


def test_statuses_and_lineage(qgis_iface, qgis_new_project, labelguard_provider, versioned):
    from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer

    dock, _ = _dock(qgis_iface)
    project = QgsProject.instance()
    project.addMapLayer(QgsRasterLayer(str(versioned["tif"]), "ortho"))
    labels = QgsVectorLayer(str(versioned["gpkg"]), "labels", "ogr")
    project.addMapLayer(labels)
    project.addMapLayer(QgsVectorLayer(str(versioned["extra"]), "scratch", "ogr"))
    project.addMapLayer(QgsVectorLayer("Point?crs=EPSG:4326", "memory", "memory"))
    _run_now(dock)
    assert dock.layer_model.statuses() == {
        "labels": "ok",
        "memory": "no_file",
        "ortho": "ok",
        "scratch": "untracked",
    }
    assert list(dock.lineage_model.versions()) == ["v2", "v1"]
    assert dock.ui.summaryLabel.text() == "2 verified · 1 untracked · 1 without data file"

    labels.startEditing()
    labels.deleteFeature(next(labels.getFeatures()).id())
    _run_now(dock)
    assert dock.layer_model.statuses()["labels"] == "unsaved"
    labels.rollBack()
    dock.unload()


def test_modified_file_and_broken_chain(
    qgis_iface, qgis_new_project, labelguard_provider, versioned, gis
):
    from qgis.core import QgsProject, QgsVectorLayer

    gis.write_vector(versioned["gpkg"], gis.POLYS[:1])
    v1 = versioned["root"] / "v1.json"
    doc = json.loads(v1.read_text())
    doc["version"] = "v1-edited"
    v1.write_text(json.dumps(doc))
    dock, _ = _dock(qgis_iface)
    QgsProject.instance().addMapLayer(QgsVectorLayer(str(versioned["gpkg"]), "labels", "ogr"))
    _run_now(dock)
    assert dock.layer_model.statuses() == {"labels": "modified"}
    assert dock.ui.summaryLabel.text() == "0 verified · 1 needs attention"
    assert dock.ui.detailLabel.text().startswith("<b>labels</b>: content changed (3 -> 1")
    assert list(dock.lineage_model.versions()) == ["v2", "chain broken"]
    dock.unload()


def test_unload_disconnects_and_ignores_stale_tasks(
    qgis_iface, qgis_new_project, labelguard_provider
):
    from labelguard.ui.tasks import LayerStatusTask

    dock, _ = _dock(qgis_iface)
    stale = LayerStatusTask([])
    dock.task = LayerStatusTask([])
    dock._finished(stale)  # not the tracked task: ignored
    assert dock.task is not None
    dock.unload()
    assert dock.task is None
    assert dock._connections == []
