"""Run inside desktop QGIS (``qgis --code``) by tools/screenshot.sh: stages the sample dataset with
two versions, loads it, lets the LabelGuard dock verify it, and saves a window screenshot."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import processing
from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtGui import QColor
from qgis.utils import iface, plugins

ROOT = Path(os.environ["LABELGUARD_CHECKOUT"])
WORK = Path(os.environ["LABELGUARD_SHOT_DIR"])
OUT = Path(os.environ.get("LABELGUARD_SHOT", ROOT / "docs" / "screenshot.png"))
sys.path.insert(0, str(ROOT / "tools"))
import make_sample  # noqa: E402

data = WORK / "dataset"
shutil.rmtree(data, ignore_errors=True)
info = make_sample.generate(data, WORK / "v2")
layers = [str(info.raster), str(info.gpkg), str(info.geojson)]
processing.run("labelguard:exportsidecars", {"LAYERS": layers})
v1 = processing.run(
    "labelguard:buildmanifest", {"LAYERS": layers, "VERSION": "v1", "OUTPUT": str(data / "v1.json")}
)["OUTPUT"]
shutil.copy(info.v2_gpkg, info.gpkg)
processing.run("labelguard:exportsidecars", {"LAYERS": layers})
v2 = processing.run(
    "labelguard:buildmanifest",
    {"LAYERS": layers, "VERSION": "v2", "PARENT": v1, "OUTPUT": str(data / "v2.json")},
)["OUTPUT"]
processing.run(
    "labelguard:buildmanifest",
    {"LAYERS": layers, "VERSION": "v3-review", "PARENT": v2, "OUTPUT": str(data / "v3.json")},
)
shutil.copy(info.v2_geojson, info.geojson)  # someone overwrote the GeoJSON export

project = QgsProject.instance()
project.addMapLayer(QgsRasterLayer(str(info.raster), "orthophoto"))
export = QgsVectorLayer(str(info.geojson), "annotations (GeoJSON export)", "ogr")
project.addMapLayer(export)
project.layerTreeRoot().findLayer(export.id()).setItemVisibilityChecked(False)
labels = QgsVectorLayer(str(info.gpkg), "annotations", "ogr")
symbol = labels.renderer().symbol()
symbol.setColor(QColor(255, 196, 0, 70))
symbol.symbolLayer(0).setStrokeColor(QColor(255, 196, 0))
symbol.symbolLayer(0).setStrokeWidth(0.5)
project.addMapLayer(labels)
project.addMapLayer(QgsVectorLayer("Polygon?crs=EPSG:32633", "review notes", "memory"))
iface.mainWindow().resize(1500, 900)
iface.mapCanvas().setExtent(labels.extent())
dock = plugins["labelguard"].dock
dock.setUserVisible(True)
iface.mainWindow().resizeDocks([dock], [520], Qt.Orientation.Horizontal)
dock.refresh()
ticks = {"n": 0}


def _wait() -> None:
    ticks["n"] += 1
    if dock.task is None or ticks["n"] > 240:
        view = dock.ui.layerView
        view.setCurrentIndex(view.model().index(0, 0))  # the modified GeoJSON export
        iface.mapCanvas().refresh()
        QTimer.singleShot(2500, _shoot)
    else:
        QTimer.singleShot(250, _wait)


def _shoot() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    iface.mainWindow().grab().save(str(OUT))
    print(f"screenshot: {OUT}", flush=True)
    iface.actionExit().trigger()


QTimer.singleShot(1000, _wait)
