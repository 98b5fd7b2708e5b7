"""LabelGuardDock: hash status and version lineage of every loaded layer."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Dict, Optional

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsProject, QgsSettings
from qgis.gui import QgsDockWidget
from qgis.PyQt import uic
from qgis.PyQt.QtWidgets import QLabel, QSplitter, QToolButton, QTreeView, QWidget

from ..core import status
from .models import LayerStatus, LayerStatusModel, LineageModel, Role
from .tasks import LayerStatusTask, layer_ref

FORM_CLASS, _ = uic.loadUiType(str(Path(__file__).resolve().parent / "dock.ui"))
LOG_TAG = "LabelGuard"
SETTINGS = "labelguard/dock/"


def summary_text(counts: Dict[str, int], tr: Callable[[str], str]) -> str:
    """One line such as "2 verified · 1 needs attention · 1 without data file"."""
    verified = sum(counts.get(k, 0) for k in status.VERIFIED)
    problems = sum(counts.get(k, 0) for k in status.NEEDS_ATTENTION)
    parts = [tr("{} verified").format(verified)]
    if problems:
        parts.append(
            (tr("{} needs attention") if problems == 1 else tr("{} need attention")).format(
                problems
            )
        )
    if counts.get(status.UNTRACKED):
        parts.append(tr("{} untracked").format(counts[status.UNTRACKED]))
    if counts.get(status.NO_FILE):
        parts.append(tr("{} without data file").format(counts[status.NO_FILE]))
    return " · ".join(parts)


class _Contents(QWidget, FORM_CLASS):
    summaryLabel: QLabel
    refreshButton: QToolButton
    splitter: QSplitter
    layerView: QTreeView
    detailLabel: QLabel
    lineageLabel: QLabel
    lineageView: QTreeView

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setupUi(self)


class LabelGuardDock(QgsDockWidget):
    """Shows, per loaded layer, whether its file still matches the newest manifest that lists
    it (verified, modified, CRS drift, untracked, unsaved edits...) and that dataset's versions.
    """

    def __init__(
        self,
        parent=None,
        project: Optional[QgsProject] = None,
        message: Optional[Callable[[str, int], None]] = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("LabelGuard"))
        self.setObjectName("LabelGuardDock")
        self.project = project or QgsProject.instance()
        self._message = message
        self.ui = _Contents(self)
        self.setWidget(self.ui)
        self.layer_model = LayerStatusModel(self)
        self.lineage_model = LineageModel(self)
        self.ui.layerView.setModel(self.layer_model)
        self.ui.layerView.setColumnHidden(3, True)  # the detail shows as tooltip and below
        self.ui.lineageView.setModel(self.lineage_model)
        self.ui.refreshButton.setIcon(QgsApplication.getThemeIcon("/mActionRefresh.svg"))
        self.task: Optional[LayerStatusTask] = None
        self._statuses: Dict[str, LayerStatus] = {}
        self._connections = [
            (self.ui.refreshButton.clicked, self.refresh),
            (self.project.layersAdded, self._layers_changed),
            (self.project.layersRemoved, self._layers_changed),
            (self.ui.layerView.selectionModel().currentRowChanged, self._row_changed),
        ]
        for signal, slot in self._connections:
            signal.connect(slot)
        splitter_state = QgsSettings().value(SETTINGS + "splitter")
        if splitter_state is not None:
            self.ui.splitter.restoreState(splitter_state)

    def _layers_changed(self, *_args) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Start verifying every layer of the project in a background task."""
        if self.task is not None:
            self.task.cancel()
        layers = list(self.project.mapLayers().values())
        refs = [layer_ref(layer) for layer in sorted(layers, key=lambda lyr: lyr.name().lower())]
        self.layer_model.set_statuses(LayerStatus(r.layer_id, r.name, "checking") for r in refs)
        self.ui.summaryLabel.setText(self.tr("Checking {} layers…").format(len(refs)))
        task = LayerStatusTask(refs)
        task.taskCompleted.connect(lambda t=task: self._finished(t))
        task.taskTerminated.connect(lambda t=task: self._finished(t))
        self.task = task
        QgsApplication.taskManager().addTask(task)

    def _finished(self, task: LayerStatusTask) -> None:
        if task is not self.task:  # a newer refresh replaced this one
            return
        self.task = None
        if task.error:
            QgsMessageLog.logMessage(task.error, LOG_TAG, Qgis.MessageLevel.Warning)
            self.ui.summaryLabel.setText(self.tr("Check failed: {}").format(task.error))
            if self._message is not None:
                self._message(task.error, Qgis.MessageLevel.Warning)
            return
        self.show_statuses(task.statuses)

    def show_statuses(self, statuses) -> None:
        self._statuses = {s.layer_id: s for s in statuses}
        self.layer_model.set_statuses(statuses)
        for col in range(3):
            self.ui.layerView.resizeColumnToContents(col)
        self._show_detail(statuses[0] if statuses else None)
        counts: Dict[str, int] = {}
        for s in statuses:
            counts[s.status] = counts.get(s.status, 0) + 1
        self.ui.summaryLabel.setText(summary_text(counts, self.tr))
        first = next((s for s in statuses if s.lineage is not None), None)
        self.lineage_model.set_lineage(
            first.lineage if first else None, first.manifest if first else None
        )
        self.ui.lineageView.resizeColumnToContents(0)
        self.ui.lineageView.resizeColumnToContents(1)

    def _show_detail(self, status: Optional[LayerStatus]) -> None:
        self.ui.detailLabel.setText(
            "" if status is None else f"<b>{status.name}</b>: {status.message}"
        )

    def _row_changed(self, current, _previous) -> None:
        status = self._statuses.get(current.data(Role.LAYER_ID)) if current.isValid() else None
        self._show_detail(status)
        if status is not None and status.lineage is not None:
            self.lineage_model.set_lineage(status.lineage, status.manifest)
            self.ui.lineageLabel.setText(
                self.tr("Version lineage of {}").format(
                    Path(status.manifest).name if status.manifest else ""
                )
            )

    def unload(self) -> None:
        """Cancel work, disconnect every signal this dock connected, save state."""
        if self.task is not None:
            self.task.cancel()
            self.task = None
        for signal, slot in self._connections:
            with contextlib.suppress(TypeError, RuntimeError):
                signal.disconnect(slot)
        self._connections = []
        QgsSettings().setValue(SETTINGS + "splitter", self.ui.splitter.saveState())

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if self.task is not None:
            self.task.cancel()
            self.task = None
        super().closeEvent(event)
