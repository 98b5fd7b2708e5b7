"""LabelGuardFindingsDock: the findings of the latest validatetopology run in one table, to
review them on the map, accept them as exceptions, fix the unambiguous ones and re-check."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsGeometry,
    QgsMessageLog,
    QgsProcessingAlgRunnerTask,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
    QgsProviderRegistry,
    QgsRectangle,
    QgsSettings,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.gui import QgsDockWidget, QgsHighlight, QgsMapCanvas
from qgis.PyQt import uic
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QComboBox, QLabel, QMenu, QTableView, QToolButton, QWidget

from ..core.errors import LabelGuardError
from ..core.topology import ExceptionEntry, Finding
from ..core.topology.exceptions import add_exceptions, exceptions_path_for
from ..core.topology.rules import SNAP_TOLERANCE
from .models import ACCEPTED, FIXED, OPEN, FindingsModel

FORM_CLASS, _ = uic.loadUiType(str(Path(__file__).resolve().parent / "findings.ui"))
LOG_TAG = "LabelGuard"
SETTINGS = "labelguard/dock/findings/"
VALIDATE_ALG = "labelguard:validatetopology"
RUN = "labelguard/findings_run"
RUN_LAYER = "labelguard/findings_layer"
RUN_FILE = "labelguard/findings_file"
ZOOM_ERROR, ZOOM_FEATURE = 0, 1
# The fixes that are unambiguous, by rule; anything else is the reviewer's call.
MAKE_VALID, DELETE_DUPLICATE, REMOVE_VERTEX = "make_valid", "delete", "remove_vertex"


def _identity(f: Finding) -> Tuple[str, int, Optional[int]]:
    """A finding across runs: edits move its location, so its key changes, but not this."""
    return (f.rule, f.fid, f.other_fid)


def findings_from_layer(layer: QgsVectorLayer) -> List[Finding]:
    """Core findings from a validatetopology error layer (one feature per finding)."""
    out = []
    names = layer.fields().names()
    for feat in layer.getFeatures():
        geom = feat.geometry()
        other = feat["other_fid"] if "other_fid" in names else None
        out.append(
            Finding(
                rule=str(feat["rule"]),
                severity=str(feat["severity"]),
                fid=int(feat["fid"]),
                other_fid=None if other in (None, "") or other != other else int(other),
                message=str(feat["message"] or ""),
                wkt="" if geom.isNull() else geom.asWkt(),
                is_exception=bool(feat["is_exception"]),
                key=str(feat["key"] or ""),
            )
        )
    return out


def without_duplicate_vertex(
    geom: QgsGeometry, wkt: str, tolerance: float = SNAP_TOLERANCE
) -> Optional[QgsGeometry]:
    """``geom`` without the vertices that repeat, right after it in the same ring or line, the
    vertex at the point ``wkt`` (where a duplicate_vertex finding is), keeping Z, M and the
    parts; None when there is no such vertex or removing them would drop a part or ring.
    ``tolerance`` (layer units) is the default snapping tolerance of validatetopology."""
    at = QgsGeometry.fromWkt(wkt) if wkt else QgsGeometry()
    if geom is None or geom.isNull() or at.isNull():
        return None
    spot = at.vertexAt(0)  # the error layer holds it as a one-point multipoint
    count = geom.constGet().nCoordinates()
    for nr in range(count - 1):
        if geom.vertexAt(nr).distance(spot) > tolerance:
            continue
        ring = _ring_of(geom, nr)
        end = nr + 1  # the run: consecutive vertices within the tolerance, as the rule sees it
        while (
            end < count
            and _ring_of(geom, end) == ring
            and geom.vertexAt(end).distance(geom.vertexAt(end - 1)) <= tolerance
        ):
            end += 1
        if end == nr + 1:
            continue
        fixed = QgsGeometry(geom)
        for _ in range(end - nr - 1):
            fixed.deleteVertex(nr + 1)  # the ring stays closed: QGIS moves the closing point
        kept = not fixed.isEmpty() and _rings(fixed) == _rings(geom)
        return fixed if kept else None
    return None


def _ring_of(geom: QgsGeometry, nr: int) -> Tuple[int, int]:
    _ok, vid = geom.vertexIdFromVertexNr(nr)
    return (vid.part, vid.ring)


def _rings(geom: QgsGeometry) -> Tuple[int, ...]:
    """Rings (or lines) per part."""
    shape = geom.constGet()
    return tuple(shape.ringCount(part) for part in range(shape.partCount()))


def findings_from_report(path: str) -> List[Finding]:
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    return [
        Finding(
            r["rule"],
            r["severity"],
            int(r["fid"]),
            r.get("other_fid"),
            r.get("message", ""),
            r.get("location") or "",
            bool(r.get("is_exception")),
            r.get("key", ""),
        )
        for r in doc["findings"]
    ]


def sort_findings(findings) -> List[Finding]:
    return sorted(findings, key=lambda f: (f.rule, f.fid, f.other_fid or -1, f.key))


class _Contents(QWidget, FORM_CLASS):
    countsLabel: QLabel
    findingsView: QTableView
    zoomLabel: QLabel
    zoomCombo: QComboBox
    fixButton: QToolButton
    acceptButton: QToolButton
    fixedButton: QToolButton
    recheckButton: QToolButton

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setupUi(self)


class LabelGuardFindingsDock(QgsDockWidget):
    """Fed by the error layers of the latest validatetopology run (from the toolbox, a model
    or this panel's Re-check): one row per finding whatever its geometry type."""

    def __init__(
        self,
        parent=None,
        project: Optional[QgsProject] = None,
        message: Optional[Callable[[str, int], None]] = None,
        canvas: Optional[QgsMapCanvas] = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("LabelGuard findings"))
        self.setObjectName("LabelGuardFindingsDock")
        self.project = project or QgsProject.instance()
        self.canvas = canvas
        self._message = message
        self.ui = _Contents(self)
        self.setWidget(self.ui)
        self.model = FindingsModel(self)
        self.ui.findingsView.setModel(self.model)
        self.ui.findingsView.horizontalHeader().setStretchLastSection(False)
        self.ui.findingsView.verticalHeader().setVisible(False)
        self.ui.zoomCombo.addItems([self.tr("the error"), self.tr("the feature")])
        self.ui.zoomCombo.setCurrentIndex(QgsSettings().value(SETTINGS + "zoom", 0, type=int))
        self.target: Optional[QgsVectorLayer] = None
        self.data_file = ""
        self.run_id = ""
        self.highlights: List[QgsHighlight] = []
        self.task: Optional[QgsProcessingAlgRunnerTask] = None
        self._task_state: Dict[str, object] = {}
        self._new_layers: List[str] = []
        self._watched: List[QgsVectorLayer] = []
        self._collect_timer = QTimer(self)
        self._collect_timer.setSingleShot(True)
        self._collect_timer.setInterval(0)  # after Processing's post-processors have run
        self._connections = [
            (self._collect_timer.timeout, self._collect),
            (self.project.layersAdded, self._layers_added),
            (self.ui.findingsView.selectionModel().currentRowChanged, self._row_changed),
            (self.ui.findingsView.customContextMenuRequested, self._context_menu),
            (self.ui.zoomCombo.currentIndexChanged, self._zoom_mode_changed),
            (self.ui.acceptButton.clicked, self.accept_selected),
            (self.ui.fixedButton.clicked, self.mark_fixed),
            (self.ui.fixButton.clicked, self.fix_selected),
            (self.ui.recheckButton.clicked, self.recheck),
        ]
        for signal, slot in self._connections:
            signal.connect(slot)
        self._update_buttons()
        self.ui.countsLabel.setText(
            self.tr(
                "No findings yet. Run Validate annotation topology (Processing toolbox › "
                "LabelGuard › validation) on a label layer, or select the layer and press "
                "Re-check."
            )
        )

    # -- feeding -------------------------------------------------------------------------

    def _layers_added(self, layers) -> None:
        # Processing sets the run's properties right after adding the layer (post-processor):
        # listen for them, then gather the run once the burst is over.
        for layer in layers:
            if isinstance(layer, QgsVectorLayer):
                layer.customPropertyChanged.connect(self._property_changed)
                self._watched.append(layer)
                if layer.customProperty(RUN):
                    self._new_layers.append(layer.id())
        self._collect_timer.start()

    def _property_changed(self, key: str) -> None:
        layer = self.sender()
        if key == RUN and isinstance(layer, QgsVectorLayer):
            self._new_layers.append(layer.id())
            self._collect_timer.start()

    def _collect(self) -> None:
        """Switch to the newest run whose error layers were just added."""
        new = [self.project.mapLayer(lid) for lid in self._new_layers]
        self._new_layers = []
        runs = [
            lyr.customProperty(RUN) for lyr in new if lyr is not None and lyr.customProperty(RUN)
        ]
        if runs:
            self.show_run(runs[-1])

    def run_layers(self, run_id: str) -> List[QgsVectorLayer]:
        return [
            lyr
            for lyr in self.project.mapLayers().values()
            if isinstance(lyr, QgsVectorLayer) and lyr.customProperty(RUN) == run_id
        ]

    def show_run(self, run_id: str) -> None:
        """Show every finding of one run, from all its error layers (areas, points, lines)."""
        layers = self.run_layers(run_id)
        if not layers:
            return
        findings: List[Finding] = []
        for layer in layers:
            findings.extend(findings_from_layer(layer))
        first = layers[0]
        target = self.project.mapLayer(first.customProperty(RUN_LAYER) or "")
        data_file = first.customProperty(RUN_FILE) or ""
        if target is None and data_file:
            target = next(
                (lyr for lyr in self.project.mapLayers().values() if _file_of(lyr) == data_file),
                None,
            )
        self.run_id = run_id
        self.set_findings(
            findings, target if isinstance(target, QgsVectorLayer) else None, data_file
        )

    def set_findings(
        self,
        findings,
        target: Optional[QgsVectorLayer],
        data_file: str = "",
        fixed: Optional[List[Finding]] = None,
    ) -> None:
        """Show ``findings`` of ``target`` (whose file is ``data_file``); ``fixed`` are earlier
        findings no longer found, shown as fixed."""
        self.target = target
        self.data_file = data_file or (_file_of(target) if target is not None else "")
        rows = sort_findings(findings)
        states = [ACCEPTED if f.is_exception else OPEN for f in rows]
        for f in fixed or []:
            rows.append(f)
            states.append(FIXED)
        self.model.set_findings(rows, states)
        view = self.ui.findingsView
        view.resizeColumnToContents(0)
        view.resizeColumnToContents(1)
        view.setColumnWidth(2, max(260, view.columnWidth(2)))
        view.horizontalHeader().setStretchLastSection(True)
        view.resizeRowsToContents()
        self._clear_highlights()
        self._update_counts()
        self._update_buttons()

    def _update_counts(self) -> None:
        where = f" — {self.target.name()}" if self.target is not None else ""
        self.ui.countsLabel.setText(self.model.counts_text() + where)

    # -- selection and map ---------------------------------------------------------------

    def selected_row(self) -> int:
        index = self.ui.findingsView.currentIndex()
        return index.row() if index.isValid() else -1

    def select_row(self, row: int) -> None:
        self.ui.findingsView.setCurrentIndex(self.model.index(row, 0))

    def _row_changed(self, current, _previous) -> None:
        self._update_buttons()
        if current.isValid():
            self.zoom_to(current.row())

    def _zoom_mode_changed(self, index: int) -> None:
        QgsSettings().setValue(SETTINGS + "zoom", index)
        if self.selected_row() >= 0:
            self.zoom_to(self.selected_row())

    def _feature_geometry(self, fid: int) -> Optional[QgsGeometry]:
        if self.target is None or fid < 0:
            return None
        feats = list(self.target.getFeatures(QgsFeatureRequest(fid)))
        return QgsGeometry(feats[0].geometry()) if feats else None

    def zoom_to(self, row: int) -> None:
        """Zoom to the error location or the feature (the user's choice) and highlight both."""
        self._clear_highlights()
        if self.canvas is None or row < 0:
            return
        finding = self.model.findings[row]
        error = QgsGeometry.fromWkt(finding.wkt) if finding.wkt else None
        feature = self._feature_geometry(finding.fid)
        crs = (
            self.target.crs()
            if self.target is not None
            else self.canvas.mapSettings().destinationCrs()
        )
        to_map = QgsCoordinateTransform(
            crs, self.canvas.mapSettings().destinationCrs(), self.project
        )
        if feature is not None and not feature.isNull():
            self._highlight(feature, QColor(255, 196, 0), self.target)
        if error is not None and not error.isNull():
            self._highlight(error, QColor(215, 25, 28), None, crs)
        want_feature = self.ui.zoomCombo.currentIndex() == ZOOM_FEATURE
        geom = feature if (want_feature and feature is not None) or error is None else error
        if geom is None or geom.isNull():
            return
        box = to_map.transformBoundingBox(geom.boundingBox())
        self.canvas.setExtent(_padded(box, 40 * self.canvas.mapUnitsPerPixel()))
        self.canvas.refresh()

    def _highlight(self, geom: QgsGeometry, color: QColor, layer, crs=None) -> None:
        if layer is None:
            # A geometry in the target's CRS, drawn on a canvas that may be in another one.
            holder = QgsVectorLayer(f"Polygon?crs={crs.authid()}", "hl", "memory") if crs else None
            highlight = QgsHighlight(self.canvas, geom, holder or self.target)
            highlight._holder = holder  # keep the CRS holder alive as long as the highlight
        else:
            highlight = QgsHighlight(self.canvas, geom, layer)
        highlight.setColor(color)
        highlight.setWidth(3)
        fill = QColor(color)
        fill.setAlpha(60)
        highlight.setFillColor(fill)
        highlight.show()
        self.highlights.append(highlight)

    def _clear_highlights(self) -> None:
        for h in self.highlights:
            with contextlib.suppress(RuntimeError):
                h.hide()
                if self.canvas is not None:
                    self.canvas.scene().removeItem(h)
        self.highlights = []

    # -- review actions ------------------------------------------------------------------

    def fix_kind(self, row: int) -> Optional[str]:
        """The unambiguous fix of a finding, or None: make valid for invalid, delete the second
        of an exact duplicate pair, remove the repeated points of a duplicate vertex."""
        if row < 0 or self.target is None or self.model.states[row] != OPEN:
            return None
        finding = self.model.findings[row]
        if finding.rule == "duplicate" and finding.other_fid is not None:
            return DELETE_DUPLICATE
        if finding.rule == "invalid" and self._feature_geometry(finding.fid) is not None:
            return MAKE_VALID
        if finding.rule == "duplicate_vertex" and self._without_vertex(finding) is not None:
            return REMOVE_VERTEX
        return None

    def _without_vertex(self, finding: Finding) -> Optional[QgsGeometry]:
        return without_duplicate_vertex(self._feature_geometry(finding.fid), finding.wkt)

    def _update_buttons(self) -> None:
        row = self.selected_row()
        is_open = row >= 0 and self.model.states[row] == OPEN
        kind = self.fix_kind(row)
        self.ui.fixButton.setEnabled(kind is not None)
        self.ui.fixButton.setText(
            {
                MAKE_VALID: self.tr("Make valid"),
                DELETE_DUPLICATE: self.tr("Delete duplicate"),
                REMOVE_VERTEX: self.tr("Remove duplicate vertex"),
            }.get(kind, self.tr("Fix"))
        )
        self.ui.acceptButton.setEnabled(is_open)
        self.ui.fixedButton.setEnabled(is_open)
        self.ui.recheckButton.setEnabled(self.target is not None and self.task is None)

    def fix_selected(self) -> bool:
        """Apply the finding's fix as one undoable edit command of the layer (the layer is put
        in edit mode; nothing is saved). True when the layer was changed."""
        row = self.selected_row()
        kind = self.fix_kind(row)
        if kind is None:
            return False
        finding = self.model.findings[row]
        layer = self.target
        if not layer.isEditable() and not layer.startEditing():
            self._notify(
                self.tr("Layer {} cannot be edited.").format(layer.name()),
                Qgis.MessageLevel.Warning,
            )
            return False
        label = {
            MAKE_VALID: self.tr("LabelGuard: make feature {} valid"),
            DELETE_DUPLICATE: self.tr("LabelGuard: delete duplicate feature {}"),
            REMOVE_VERTEX: self.tr("LabelGuard: remove duplicate vertex of feature {}"),
        }[kind]
        target_fid = finding.other_fid if kind == DELETE_DUPLICATE else finding.fid
        layer.beginEditCommand(label.format(target_fid))
        if kind == DELETE_DUPLICATE:
            ok = layer.deleteFeature(target_fid)
        elif kind == REMOVE_VERTEX:
            ok = layer.changeGeometry(finding.fid, self._without_vertex(finding))
        else:
            geom = self._feature_geometry(finding.fid).makeValid()
            if layer.geometryType() != geom.type():  # a collection: keep the layer's type
                geom = geom.convertToType(layer.geometryType(), True) or geom
            if QgsWkbTypes.isMultiType(layer.wkbType()):
                geom.convertToMultiType()
            ok = layer.changeGeometry(finding.fid, geom)
        if not ok:
            layer.destroyEditCommand()
            self._notify(self.tr("The fix could not be applied."), Qgis.MessageLevel.Warning)
            return False
        layer.endEditCommand()
        self.model.set_state(row, FIXED)
        self._update_counts()
        self._update_buttons()
        layer.triggerRepaint()
        return True

    def accept_selected(self) -> Optional[Path]:
        """Accept the finding as an exception, written next to the data file, where the next
        validatetopology run picks it up by itself. The file written, or None."""
        row = self.selected_row()
        if row < 0 or self.model.states[row] != OPEN:
            return None
        f = self.model.findings[row]
        path = None
        if self.data_file:
            path = exceptions_path_for(self.data_file)
            try:
                add_exceptions(path, [ExceptionEntry(f.rule, f.fid, f.other_fid, f.key)])
            except (LabelGuardError, OSError) as exc:
                QgsMessageLog.logMessage(str(exc), LOG_TAG, Qgis.MessageLevel.Warning)
                self._notify(str(exc), Qgis.MessageLevel.Warning)
                return None
        else:
            self._notify(
                self.tr("The layer has no data file: the exception holds for this session only."),
                Qgis.MessageLevel.Info,
            )
        self.model.set_state(row, ACCEPTED)
        self._update_counts()
        self._update_buttons()
        return path

    def mark_fixed(self) -> None:
        row = self.selected_row()
        if row >= 0 and self.model.states[row] == OPEN:
            self.model.set_state(row, FIXED)
            self._update_counts()
            self._update_buttons()

    def _context_menu(self, pos) -> None:
        index = self.ui.findingsView.indexAt(pos)
        if index.isValid():
            self.select_row(index.row())
        menu = QMenu(self)
        for button in (
            self.ui.fixButton,
            self.ui.acceptButton,
            self.ui.fixedButton,
            self.ui.recheckButton,
        ):
            action = menu.addAction(button.text(), button.click)
            action.setEnabled(button.isEnabled())
        menu.exec(self.ui.findingsView.viewport().mapToGlobal(pos))

    # -- re-check ------------------------------------------------------------------------

    def recheck(
        self, layer: Optional[QgsVectorLayer] = None
    ) -> Optional[QgsProcessingAlgRunnerTask]:
        """Validate ``layer`` (default: the reviewed one) again, unsaved edits included, in the
        background; findings gone since are shown as fixed."""
        layer = layer if isinstance(layer, QgsVectorLayer) else self.target
        if layer is None or self.task is not None:
            return None
        alg = QgsApplication.processingRegistry().createAlgorithmById(VALIDATE_ALG)
        if alg is None:
            self._notify(
                self.tr("The LabelGuard Processing provider is not loaded."),
                Qgis.MessageLevel.Warning,
            )
            return None
        folder = tempfile.mkdtemp(prefix="labelguard-recheck-")
        report = os.path.join(folder, "report.json")
        params = {
            "INPUT": layer.id(),
            "REPORT": report,
            "OUTPUT": os.path.join(folder, "errors.gpkg"),
            "OUTPUT_POINTS": os.path.join(folder, "error_points.gpkg"),
            "OUTPUT_LINES": os.path.join(folder, "error_lines.gpkg"),
        }
        if self.data_file and layer is self.target:
            beside = exceptions_path_for(self.data_file)
            if beside.is_file():
                params["EXCEPTIONS"] = str(beside)
        context = QgsProcessingContext()
        context.setProject(self.project)
        feedback = QgsProcessingFeedback(False)
        task = QgsProcessingAlgRunnerTask(alg, params, context, feedback)
        previous = {
            _identity(f): f
            for f, s in zip(self.model.findings, self.model.states)
            if s in (OPEN, FIXED)
        }
        # The task needs its context and feedback for its whole life.
        self._task_state = {"context": context, "feedback": feedback, "alg": alg}
        task.executed.connect(
            lambda ok, results, t=task: self._rechecked(t, ok, report, layer, previous)
        )
        self.task = task
        self._update_buttons()
        self.ui.countsLabel.setText(self.tr("Checking {}…").format(layer.name()))
        QgsApplication.taskManager().addTask(task)
        return task

    def _rechecked(self, task, ok: bool, report: str, layer, previous) -> None:
        if task is not self.task:
            return
        self.task = None
        self._task_state = {}
        if not ok or not os.path.isfile(report):
            self._notify(self.tr("Re-check of {} failed; see the log.").format(layer.name()), 1)
            self._update_buttons()
            self._update_counts()
            return
        findings = findings_from_report(report)
        now = {_identity(f) for f in findings}
        fixed = [
            f for key, f in sorted(previous.items(), key=lambda kv: str(kv[0])) if key not in now
        ]
        self.run_id = ""
        self.set_findings(findings, layer, _file_of(layer), fixed)

    def _notify(self, text: str, level: int) -> None:
        if self._message is not None:
            self._message(text, level)

    # -- lifetime ------------------------------------------------------------------------

    def unload(self) -> None:
        """Cancel the re-check, remove highlights, disconnect every signal connected here."""
        if self.task is not None:
            self.task.cancel()
            self.task = None
        self._collect_timer.stop()
        self._clear_highlights()
        for layer in self._watched:
            with contextlib.suppress(TypeError, RuntimeError):
                layer.customPropertyChanged.disconnect(self._property_changed)
        self._watched = []
        for signal, slot in self._connections:
            with contextlib.suppress(TypeError, RuntimeError):
                signal.disconnect(slot)
        self._connections = []

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self._clear_highlights()
        super().closeEvent(event)


def _file_of(layer) -> str:
    if layer is None or layer.providerType() not in ("ogr", "gdal"):
        return ""
    parts = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source())
    return parts.get("path") or ""


def _padded(box: QgsRectangle, least: float) -> QgsRectangle:
    """The box grown by half its size, at least by ``least`` (map units), so the context
    around the error shows."""
    pad = max(max(box.width(), box.height()) * 0.5, least)
    return QgsRectangle(
        box.xMinimum() - pad, box.yMinimum() - pad, box.xMaximum() + pad, box.yMaximum() + pad
    )
