"""Run inside desktop QGIS (``qgis --code``) by tools/screenshot.sh: loads ``make demo``'s real
output (out/demo, nothing staged), lets the LabelGuard dock verify it against the demo's
manifests, validates the annotations into the findings panel, loads the styled v1 -> v2 diff,
and saves three window screenshots into docs/."""

from __future__ import annotations

import os
from pathlib import Path

import processing
from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtGui import QColor
from qgis.utils import iface, plugins

ROOT = Path(os.environ["LABELGUARD_CHECKOUT"])
DEMO = Path(os.environ.get("LABELGUARD_DEMO", ROOT / "out" / "demo"))
DOCS = ROOT / "docs"
plugin = plugins["labelguard"]
dock, findings = plugin.dock, plugin.findings
project = QgsProject.instance()
window, canvas = iface.mainWindow(), iface.mapCanvas()
labels: QgsVectorLayer  # the GeoPackage labels, set by load()


def _save(name: str) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(DOCS / name))
    print(f"screenshot: {DOCS / name}", flush=True)


def _when(ready, then, ticks=[0]) -> None:  # noqa: B006 (a bound shared by the waits)
    ticks[0] += 1
    if ready() or ticks[0] > 600:
        QTimer.singleShot(1500, then)
    else:
        QTimer.singleShot(200, lambda: _when(ready, then))


def load() -> None:
    global labels
    data = DEMO / "data"
    project.addMapLayer(QgsRasterLayer(str(data / "orthophoto.tif"), "orthophoto"))
    export = QgsVectorLayer(str(data / "annotations.geojson"), "annotations", "ogr")
    project.addMapLayer(export)
    project.layerTreeRoot().findLayer(export.id()).setItemVisibilityChecked(False)
    labels = QgsVectorLayer(str(data / "annotations.gpkg"), "annotations", "ogr")
    symbol = labels.renderer().symbol()
    symbol.setColor(QColor(255, 196, 0, 50))
    symbol.symbolLayer(0).setStrokeColor(QColor(255, 196, 0))
    symbol.symbolLayer(0).setStrokeWidth(0.4)
    project.addMapLayer(labels)
    project.addMapLayer(QgsVectorLayer("Polygon?crs=EPSG:32633", "review notes", "memory"))
    window.resize(1500, 900)
    canvas.setExtent(labels.extent())
    dock.setUserVisible(True)
    findings.setUserVisible(False)
    window.resizeDocks([dock], [560], Qt.Orientation.Horizontal)
    # The dock checks by itself once the layers are in; wait for it to settle.
    _when(lambda: dock.task is None and not dock._timer.isActive() and dock._statuses, shot_dock)


def shot_dock() -> None:
    dock.select_layer(labels.id())
    _save("screenshot.png")
    outputs = {k: "TEMPORARY_OUTPUT" for k in ("OUTPUT", "OUTPUT_POINTS", "OUTPUT_LINES")}
    processing.runAndLoadResults("labelguard:validatetopology", {"INPUT": labels.id(), **outputs})
    findings.setUserVisible(True)
    window.resizeDocks([findings], [300], Qt.Orientation.Vertical)
    _when(lambda: findings.model.rowCount() > 0, shot_findings)


def shot_findings() -> None:
    row = next((i for i, f in enumerate(findings.model.findings) if f.rule == "invalid"), 0)
    findings.select_row(row)
    QTimer.singleShot(1500, lambda: (_save("findings.png"), load_diff()))


def load_diff() -> None:
    from labelguard.render.styles import apply_style

    findings.setUserVisible(False)
    for layer in findings.run_layers(findings.run_id):
        project.layerTreeRoot().findLayer(layer.id()).setItemVisibilityChecked(False)
    project.layerTreeRoot().findLayer(labels.id()).setItemVisibilityChecked(False)
    diff = QgsVectorLayer(str(DEMO / "diff" / "v1_v2_features.gpkg"), "changes v1 → v2", "ogr")
    diff.setSubsetString("\"path\" = 'annotations.gpkg'")  # one source file of the two
    apply_style(diff, "diff")
    project.addMapLayer(diff)
    changed = [f.geometry().boundingBox() for f in diff.getFeatures() if f["status"] != "unchanged"]
    box = changed[0]
    for b in changed[1:]:
        box.combineExtentWith(b)
    box.grow(max(box.width(), box.height()) * 0.15)
    canvas.setExtent(box)
    canvas.refresh()
    QTimer.singleShot(2500, finish)


def finish() -> None:
    _save("diff.png")
    iface.actionExit().trigger()


QTimer.singleShot(1000, load)
