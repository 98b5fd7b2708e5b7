"""LabelGuardDock: hash status and version lineage of every loaded layer, and the actions on
them (verify now, build the next version, show the changes since the previous version)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsMessageLog,
    QgsProject,
    QgsSettings,
    QgsVectorLayer,
)
from qgis.gui import QgsDockWidget, QgsMapCanvas
from qgis.PyQt import uic
from qgis.PyQt.QtCore import QFileSystemWatcher, QTimer
from qgis.PyQt.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QSplitter,
    QToolButton,
    QTreeView,
    QWidget,
)

from ..core import status
from ..core.errors import LabelGuardError
from ..core.lineage import VersionPlan, plan_next_version
from ..core.sidecar import has_sidecar
from ..render.styles import apply_style, is_result_layer
from .models import (
    Column,
    FeatureHistoryModel,
    LayerStatus,
    LayerStatusModel,
    LineageModel,
    Role,
)
from .tasks import (
    AlgorithmsTask,
    AlgorithmStep,
    FeatureHistoryTask,
    LayerStatusTask,
    layer_ref,
)

FORM_CLASS, _ = uic.loadUiType(str(Path(__file__).resolve().parent / "dock.ui"))
LOG_TAG = "LabelGuard"
SETTINGS = "labelguard/dock/"
PROJECT_SCOPE = "LabelGuard"
PROJECT_KEY = "dataset"  # the manifest or folder the project is bound to
DEBOUNCE_MS = 400  # edits, saves and file changes come in bursts: one check per burst
MANIFEST_MARKER = b"labelguard.manifest/"


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


def is_manifest_file(path: str) -> bool:
    """True for a JSON file that starts like a LabelGuard manifest."""
    if not path.lower().endswith(".json"):
        return False
    try:
        with open(path, "rb") as fh:
            return MANIFEST_MARKER in fh.read(256)
    except OSError:
        return False


class _Contents(QWidget, FORM_CLASS):
    summaryLabel: QLabel
    openButton: QToolButton
    buildButton: QToolButton
    refreshButton: QToolButton
    splitter: QSplitter
    layerView: QTreeView
    datasetLabel: QLabel
    detailLabel: QLabel
    lineageLabel: QLabel
    lineageView: QTreeView

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setupUi(self)


class LabelGuardDock(QgsDockWidget):
    """Shows, per loaded layer, whether its file still matches the newest manifest that lists
    it (verified, modified, CRS drift, untracked, unsaved edits...) and that dataset's versions.
    It checks again by itself when layers are added, removed or saved and when a manifest
    appears, and offers the next step for each status.
    """

    def __init__(
        self,
        parent=None,
        project: Optional[QgsProject] = None,
        message: Optional[Callable[[str, int], None]] = None,
        canvas: Optional[QgsMapCanvas] = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("LabelGuard"))
        self.setObjectName("LabelGuardDock")
        self.setAcceptDrops(True)
        self.project = project or QgsProject.instance()
        self.canvas = canvas
        self._message = message
        self.ui = _Contents(self)
        self.setWidget(self.ui)
        self.layer_model = LayerStatusModel(self)
        self.lineage_model = LineageModel(self)
        self.ui.layerView.setModel(self.layer_model)
        self.ui.layerView.setColumnHidden(Column.DETAIL, True)  # shown as tooltip and below
        self.ui.lineageView.setModel(self.lineage_model)
        self.history_model = FeatureHistoryModel(self)
        self.history_view = QTreeView(self.ui.splitter)  # below the lineage, empty until asked
        self.history_view.setRootIsDecorated(False)
        self.history_view.setModel(self.history_model)
        self.ui.refreshButton.setIcon(QgsApplication.getThemeIcon("/mActionRefresh.svg"))
        self.ui.openButton.setIcon(QgsApplication.getThemeIcon("/mActionFileOpen.svg"))
        self.ui.buildButton.setIcon(QgsApplication.getThemeIcon("/mActionNewBookmark.svg"))
        self.task: Optional[LayerStatusTask] = None
        self.action_task: Optional[AlgorithmsTask] = None
        self._pending = False  # a check was asked for while one was running
        self._statuses: Dict[str, LayerStatus] = {}
        self._selected_id: Optional[str] = None
        self._layer_connections: Dict[str, list] = {}
        self.diff_layers: List[QgsVectorLayer] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._watcher = QFileSystemWatcher(self)
        self._connections = [
            (self._timer.timeout, self.refresh),
            (self._watcher.directoryChanged, self._folder_changed),
            (self.ui.refreshButton.clicked, self.refresh),
            (self.ui.openButton.clicked, self._choose_manifest),
            (self.ui.buildButton.clicked, self._ask_build),
            (self.project.layersAdded, self._layers_added),
            (self.project.layersWillBeRemoved, self._layers_will_be_removed),
            (self.project.layersRemoved, self._layers_removed),
            (self.project.readProject, self._project_read),
            (self.project.cleared, self._project_read),
            (self.ui.layerView.selectionModel().currentRowChanged, self._row_changed),
            (self.ui.layerView.customContextMenuRequested, self._context_menu),
            (self.ui.layerView.doubleClicked, self._double_clicked),
        ]
        for signal, slot in self._connections:
            signal.connect(slot)
        splitter_state = QgsSettings().value(SETTINGS + "splitter")
        if splitter_state is not None:
            self.ui.splitter.restoreState(splitter_state)
        self._layers_added(list(self.project.mapLayers().values()))
        self._show_binding()
        self._show_empty_hint()

    # -- the dataset binding -------------------------------------------------------------

    def dataset(self) -> Optional[Path]:
        """The manifest or folder the project is bound to (stored in the project), or None."""
        value, ok = self.project.readEntry(PROJECT_SCOPE, PROJECT_KEY, "")
        if not ok or not value:
            return None
        return Path(self.project.readPath(value))

    def bind_dataset(self, path: Optional[str]) -> None:
        """Bind the project to a manifest or manifests folder (None: unbind) and check again.
        Saved with the project, relative to it when the project is saved relative."""
        if path:
            self.project.writeEntry(PROJECT_SCOPE, PROJECT_KEY, self.project.writePath(path))
        else:
            self.project.removeEntry(PROJECT_SCOPE, PROJECT_KEY)
        self._show_binding()
        self.refresh()

    def _show_binding(self) -> None:
        bound = self.dataset()
        self.ui.datasetLabel.setText(
            self.tr("Dataset: {} (Open manifest… to change)").format(bound)
            if bound
            else self.tr(
                "Manifests are looked for next to the data, in its parent folders, in sibling "
                "manifests/ and versions/ folders and at a .labelguard marker."
            )
        )
        self.ui.datasetLabel.setToolTip(str(bound) if bound else "")

    def _choose_manifest(self) -> None:
        start = QgsSettings().value(SETTINGS + "last_folder", "")
        path, _ = QFileDialog.getOpenFileName(
            self, self.tr("Open manifest"), start, self.tr("LabelGuard manifests (*.json)")
        )
        if not path:
            return
        QgsSettings().setValue(SETTINGS + "last_folder", str(Path(path).parent))
        if not is_manifest_file(path):
            self._notify(
                self.tr("{} is not a LabelGuard manifest.").format(Path(path).name),
                Qgis.MessageLevel.Warning,
            )
            return
        self.bind_dataset(path)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if self._dropped_manifest(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt API)
        path = self._dropped_manifest(event.mimeData())
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.bind_dataset(path)

    @staticmethod
    def _dropped_manifest(mime) -> Optional[str]:
        for url in mime.urls() if mime.hasUrls() else []:
            if url.isLocalFile() and is_manifest_file(url.toLocalFile()):
                return url.toLocalFile()
        return None

    def _project_read(self, *_args) -> None:
        self._show_binding()
        self.schedule_refresh()

    # -- events --------------------------------------------------------------------------

    def schedule_refresh(self) -> None:
        """Check again once the current burst of events is over."""
        self._timer.start()

    def _layers_added(self, layers) -> None:
        for layer in layers:
            if not isinstance(layer, QgsVectorLayer) or layer.id() in self._layer_connections:
                continue
            lid = layer.id()
            conns = [
                (layer.editingStarted, lambda lid=lid: self._mark_unsaved(lid)),
                (layer.layerModified, lambda lid=lid: self._mark_unsaved(lid)),
                (layer.afterCommitChanges, self.schedule_refresh),
                (layer.afterRollBack, self.schedule_refresh),
            ]
            for signal, slot in conns:
                signal.connect(slot)
            self._layer_connections[lid] = [(layer, conns)]
        if layers:
            self.schedule_refresh()

    def _layers_will_be_removed(self, layer_ids) -> None:
        for lid in layer_ids:  # while the layers still exist
            self._disconnect_layer(lid)

    def _layers_removed(self, _layer_ids) -> None:
        self.schedule_refresh()

    def _disconnect_layer(self, lid: str) -> None:
        for _layer, conns in self._layer_connections.pop(lid, []):
            for signal, slot in conns:
                with contextlib.suppress(TypeError, RuntimeError):
                    signal.disconnect(slot)

    def _mark_unsaved(self, layer_id: str) -> None:
        """An edit: show "unsaved edits" at once, without hashing anything."""
        layer = self.project.mapLayer(layer_id)
        current = self._statuses.get(layer_id)
        if current is None or layer is None or not layer.isModified():
            return
        if current.status in (status.UNSAVED, status.NO_FILE, status.UNTRACKED):
            return
        self._statuses[layer_id] = dataclasses.replace(
            current,
            status=status.UNSAVED,
            message=self.tr("layer has unsaved edits; save to verify them"),
        )
        self.show_statuses(list(self._statuses.values()))

    def _folder_changed(self, _folder: str) -> None:
        self.schedule_refresh()

    def _watch(self, statuses) -> None:
        """Watch the folders of the manifests in use (a new version appears there) and the
        bound folder."""
        folders = {str(Path(s.manifest).parent) for s in statuses if s.manifest}
        bound = self.dataset()
        if bound is not None:
            folders.add(str(bound if bound.is_dir() else bound.parent))
        folders = {f for f in folders if os.path.isdir(f)}
        old = set(self._watcher.directories())
        if old - folders:
            self._watcher.removePaths(sorted(old - folders))
        if folders - old:
            self._watcher.addPaths(sorted(folders - old))

    # -- checking ------------------------------------------------------------------------

    def _extra(self) -> List[Path]:
        bound = self.dataset()
        return [bound] if bound is not None else []

    def refresh(self) -> None:
        """Start verifying every layer of the project in a background task; when one is
        running, check again once it is done (never cancelled: nothing to log, no lost work)."""
        self._timer.stop()
        if self.task is not None:
            self._pending = True
            return
        # LabelGuard's own results (error layers, changes, tiles) are not data to version.
        layers = [lyr for lyr in self.project.mapLayers().values() if not is_result_layer(lyr)]
        if not layers:
            self.show_statuses([])
            return
        refs = [layer_ref(layer) for layer in sorted(layers, key=lambda lyr: lyr.name().lower())]
        self.ui.summaryLabel.setText(self.tr("Checking {} layers…").format(len(refs)))
        task = LayerStatusTask(refs, self._extra())
        task.taskCompleted.connect(lambda t=task: self._finished(t))
        task.taskTerminated.connect(lambda t=task: self._finished(t))
        self.task = task
        QgsApplication.taskManager().addTask(task)

    def _finished(self, task: LayerStatusTask) -> None:
        if task is not self.task:  # a task this dock no longer tracks
            return
        self.task = None
        if task.error:
            QgsMessageLog.logMessage(task.error, LOG_TAG, Qgis.MessageLevel.Warning)
            self.ui.summaryLabel.setText(self.tr("Check failed: {}").format(task.error))
            self._notify(task.error, Qgis.MessageLevel.Warning)
        elif not task.isCanceled():
            self.show_statuses(task.statuses)
        if self._pending:
            self._pending = False
            self.refresh()

    def show_statuses(self, statuses) -> None:
        """Show the rows, keeping the selected layer selected and the detail on it."""
        keep = self._selected_id
        # Processing marks a result only after adding it: a check may have started in between.
        statuses = [s for s in statuses if not is_result_layer(self.project.mapLayer(s.layer_id))]
        self._statuses = {s.layer_id: s for s in statuses}
        self.layer_model.set_statuses(statuses)
        for col in (Column.LAYER, Column.FILE, Column.STATUS, Column.VERSION):
            self.ui.layerView.resizeColumnToContents(col)
        counts: Dict[str, int] = {}
        for s in statuses:
            counts[s.status] = counts.get(s.status, 0) + 1
        self.ui.summaryLabel.setText(summary_text(counts, self.tr))
        self._watch(statuses)
        row = self.layer_model.row_of(keep) if keep else -1
        if row >= 0:
            self.ui.layerView.setCurrentIndex(self.layer_model.index(row, 0))
            self._show_selected(self._statuses.get(keep))
        else:
            self._selected_id = None
            self._show_selected(None)
        self._show_empty_hint()

    def _show_empty_hint(self) -> None:
        if self.project.mapLayers():
            return
        self.ui.summaryLabel.setText(
            self.tr(
                "No layers yet. Add your imagery and label layers (Layer › Add Layer); "
                "LabelGuard then checks each against the newest manifest that lists it. "
                "To start versioning, use Build next version; to use an existing dataset, "
                "Open manifest… or drop its JSON here."
            )
        )

    def selected_status(self) -> Optional[LayerStatus]:
        return self._statuses.get(self._selected_id) if self._selected_id else None

    def _show_selected(self, st: Optional[LayerStatus]) -> None:
        """Detail and lineage of the selected row; without a selection, a hint and the
        lineage of the first tracked layer."""
        if st is None:
            self.ui.detailLabel.setText(
                self.tr("Select a layer to see what its status means and what to do next.")
                if self._statuses
                else ""
            )
        else:
            where = f" ({st.file_label})" if st.file_label else ""
            text = f"<b>{st.name}</b>{where}: {st.message}"
            if st.next_step:
                text += "<br/><i>{}</i> {}".format(self.tr("Next:"), st.next_step)
            self.ui.detailLabel.setText(text)
        shown = st if st is not None and st.lineage is not None else None
        if shown is None and st is None:
            shown = next((s for s in self._statuses.values() if s.lineage is not None), None)
        self.lineage_model.set_lineage(
            shown.lineage if shown else None, shown.manifest if shown else None
        )
        self.ui.lineageLabel.setText(
            self.tr("Version lineage of {}").format(Path(shown.manifest).name)
            if shown and shown.manifest
            else self.tr("Version lineage")
        )
        self.ui.lineageView.resizeColumnToContents(0)
        self.ui.lineageView.resizeColumnToContents(1)

    def _row_changed(self, current, _previous) -> None:
        self._selected_id = current.data(Role.LAYER_ID) if current.isValid() else None
        self._show_selected(self.selected_status())

    def select_layer(self, layer_id: str) -> None:
        row = self.layer_model.row_of(layer_id)
        if row >= 0:
            self.ui.layerView.setCurrentIndex(self.layer_model.index(row, 0))

    # -- actions -------------------------------------------------------------------------

    def _context_menu(self, pos) -> None:
        index = self.ui.layerView.indexAt(pos)
        if index.isValid():
            self.ui.layerView.setCurrentIndex(index)
        menu = self.build_menu()
        menu.exec(self.ui.layerView.viewport().mapToGlobal(pos))

    def build_menu(self) -> QMenu:
        """The context menu for the selected row."""
        st = self.selected_status()
        menu = QMenu(self)
        menu.addAction(self.tr("Verify now"), self.refresh)
        build = menu.addAction(self.tr("Build next version…"), self._ask_build)
        build.setEnabled(self._plan() is not None)
        diff = menu.addAction(self.tr("Show changes since the previous version"), self.show_changes)
        diff.setEnabled(self._diff_manifests() is not None)
        if self._history_target() is not None:
            menu.addAction(self.tr("Show history of the selected feature"), self.show_history)
        zoom = menu.addAction(self.tr("Zoom to layer"), self.zoom_to_selected)
        zoom.setEnabled(st is not None and self.canvas is not None)
        menu.addSeparator()
        menu.addAction(self.tr("Open manifest…"), self._choose_manifest)
        if self.dataset() is not None:
            menu.addAction(self.tr("Forget the bound dataset"), lambda: self.bind_dataset(None))
        return menu

    def _double_clicked(self, index) -> None:
        self._selected_id = index.data(Role.LAYER_ID)
        self.zoom_to_selected()

    def zoom_to_selected(self) -> None:
        st = self.selected_status()
        layer = self.project.mapLayer(st.layer_id) if st else None
        if layer is None or self.canvas is None:
            return
        extent = self.canvas.mapSettings().layerExtentToOutputExtent(layer, layer.extent())
        self.canvas.setExtent(extent)
        self.canvas.refresh()

    def _newest_manifest(self) -> Optional[Path]:
        """The manifest of the selected row, else the newest one any row uses."""
        st = self.selected_status()
        if st is not None and st.manifest:
            return Path(st.manifest)
        tracked = [s for s in self._statuses.values() if s.lineage and s.lineage.versions]
        if not tracked:
            return None
        newest = max(tracked, key=lambda s: (s.lineage.versions[0].created_at, s.manifest))
        return Path(newest.manifest)

    def _plan(self) -> Optional[VersionPlan]:
        parent = self._newest_manifest()
        untracked = [
            Path(s.path)
            for s in self._statuses.values()
            if s.status == status.UNTRACKED
            and s.path
            and (parent is None or s is self.selected_status())
        ]
        try:
            return plan_next_version(parent, untracked)
        except LabelGuardError:
            return None

    def _ask_build(self) -> None:
        plan = self._plan()
        if plan is None:
            self._notify(self.tr("Add a layer with a data file first."), Qgis.MessageLevel.Info)
            return
        label, ok = QInputDialog.getText(
            self,
            self.tr("Build next version"),
            self.tr("Version label (parent: {}):").format(
                plan.parent.name if plan.parent else self.tr("none, first version")
            ),
            QLineEdit.EchoMode.Normal,
            plan.label,
        )
        if ok and label.strip():
            self.build_next_version(label.strip())

    def build_next_version(self, label: Optional[str] = None) -> Optional[AlgorithmsTask]:
        """Build the next manifest with the newest one as parent (buildmanifest refreshes stale
        sidecars itself), first exporting sidecars only for files that have none yet, in one
        background task; the dock checks again when it is done."""
        plan = self._plan()
        if plan is None:
            return None
        label = label or plan.label
        output = plan.output if label == plan.label else plan.output.with_name(f"{label}.json")
        files = [str(f) for f in plan.files]
        manifest_params = {
            "LAYERS": files,
            "VERSION": label,
            "DATASET_ROOT": str(plan.root),
            "OUTPUT": str(output),
        }
        if plan.parent is not None:
            manifest_params["PARENT"] = str(plan.parent)
        steps = [AlgorithmStep("labelguard:buildmanifest", manifest_params)]
        new = [str(f) for f in plan.files if not has_sidecar(Path(f))]
        if new:
            steps.insert(0, AlgorithmStep("labelguard:exportsidecars", {"LAYERS": new}))
        return self._start_action(
            AlgorithmsTask(self.tr("LabelGuard: building version {}").format(label), steps),
            lambda task: self._built(task, label, output),
        )

    def _built(self, task: AlgorithmsTask, label: str, output: Path) -> None:
        self._notify(
            self.tr("Version {} written to {}").format(label, output), Qgis.MessageLevel.Success
        )
        self.refresh()

    def _diff_manifests(self):
        head = self._newest_manifest()
        st = self.selected_status()
        lin = st.lineage if st is not None and st.lineage else None
        if lin is None:
            lin = next((s.lineage for s in self._statuses.values() if s.lineage), None)
        if head is None or lin is None or len(lin.versions) < 2:
            return None
        return lin.versions[1].path, lin.versions[0].path

    def show_changes(self) -> Optional[AlgorithmsTask]:
        """Compare the previous version with the newest one and load the styled changes."""
        pair = self._diff_manifests()
        if pair is None:
            return None
        base, head = pair
        folder = Path(tempfile.mkdtemp(prefix="labelguard-diff-"))
        output = folder / f"{base.stem}_{head.stem}_changes.gpkg"
        step = AlgorithmStep(
            "labelguard:diffversions",
            {"BASE": str(base), "HEAD": str(head), "OUTPUT": str(output)},
        )
        return self._start_action(
            AlgorithmsTask(self.tr("LabelGuard: comparing versions"), [step]),
            lambda task: self._load_changes(output, f"{base.stem} → {head.stem}"),
        )

    def _history_target(self):
        """(manifest, layer) when the selected row is a verified vector layer with exactly one
        selected feature, else None."""
        st = self.selected_status()
        layer = self.project.mapLayer(st.layer_id) if st else None
        if not (st and st.manifest and status.is_verified(st.status)):
            return None
        if not isinstance(layer, QgsVectorLayer) or layer.selectedFeatureCount() != 1:
            return None
        return st.manifest, layer

    def show_history(self) -> Optional[FeatureHistoryTask]:
        """Run featurehistory for the selected feature and show its rows below the lineage."""
        target = self._history_target()
        if target is None:
            return None
        manifest, layer = target
        output = Path(tempfile.mkdtemp(prefix="labelguard-history-")) / "history.gpkg"
        (fid,) = layer.selectedFeatureIds()
        task = FeatureHistoryTask(manifest, layer.source(), fid, output)
        return self._start_action(task, lambda t: self.history_model.set_rows(t.rows))

    def _load_changes(self, output: Path, label: str) -> None:
        layer = QgsVectorLayer(str(output), self.tr("Changes {}").format(label), "ogr")
        if not layer.isValid():
            self._notify(self.tr("The changes layer {} cannot be read.").format(output), 1)
            return
        apply_style(layer, "diff")
        self.project.addMapLayer(layer)
        self.diff_layers.append(layer)

    def _start_action(self, task: AlgorithmsTask, done) -> Optional[AlgorithmsTask]:
        if self.action_task is not None:
            self._notify(self.tr("LabelGuard is still busy with the previous action."), 0)
            return None

        def finished(t=task) -> None:
            if t is not self.action_task:
                return
            self.action_task = None
            if t.error or t.isCanceled():
                message = t.error or self.tr("Cancelled.")
                QgsMessageLog.logMessage(message, LOG_TAG, Qgis.MessageLevel.Warning)
                self._notify(message, Qgis.MessageLevel.Warning)
                return
            done(t)

        task.taskCompleted.connect(finished)
        task.taskTerminated.connect(finished)
        self.action_task = task
        QgsApplication.taskManager().addTask(task)
        return task

    def _notify(self, text: str, level: int) -> None:
        if self._message is not None:
            self._message(text, level)

    # -- lifetime ------------------------------------------------------------------------

    def _cancel_tasks(self) -> None:
        for task in (self.task, self.action_task):
            if task is not None:
                task.cancel()
        self.task = None
        self.action_task = None
        self._pending = False
        self._timer.stop()

    def unload(self) -> None:
        """Cancel work, disconnect every signal this dock connected, save state."""
        self._cancel_tasks()
        for signal, slot in self._connections:
            with contextlib.suppress(TypeError, RuntimeError):
                signal.disconnect(slot)
        self._connections = []
        for lid in list(self._layer_connections):
            self._disconnect_layer(lid)
        if self._watcher.directories():
            self._watcher.removePaths(self._watcher.directories())
        QgsSettings().setValue(SETTINGS + "splitter", self.ui.splitter.saveState())

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self._cancel_tasks()
        super().closeEvent(event)
