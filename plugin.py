"""LabelGuardPlugin: wires the Processing provider and the dock into QGIS."""

from __future__ import annotations

import sys
from pathlib import Path

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication

LOG_TAG = "LabelGuard"
ICON = Path(__file__).resolve().parent / "ui" / "icons" / "labelguard.svg"


def tr(text: str) -> str:
    return QCoreApplication.translate("LabelGuardPlugin", text)


def deps_folder() -> Path:
    """The one folder LabelGuard installs Python packages into, in the current QGIS profile."""
    from .core.deps import deps_folder as folder_in

    return folder_in(QgsApplication.qgisSettingsDirPath())


class LabelGuardPlugin:
    def __init__(self, iface) -> None:
        # qgis_process passes iface=None and calls only initProcessing().
        self.iface = iface
        self.provider = None
        self.missing = None
        self.dock = None
        self.dock_action = None
        self.findings = None
        self.findings_action = None
        self.missing = None  # what the dependency check found; None before it ran
        self.deps_item = None  # the message bar item offering to install, and its button
        self.deps_button = None
        self.install_command = None
        self.install_task = None
        # Before any dependency check: what an earlier install put there is what gets imported.
        from .core.deps import add_to_path

        add_to_path(deps_folder(), sys.path)

    def _dependencies_ok(self) -> bool:
        import platform

        from .core.deps import install_hint, missing_dependencies

        self.missing = missing = missing_dependencies()
        if not missing:
            return True
        message = "LabelGuard needs these Python packages: {}. {}, then restart QGIS.".format(
            "; ".join(missing), install_hint(missing, platform.system())
        )
        QgsMessageLog.logMessage(message, LOG_TAG, Qgis.MessageLevel.Critical)
        if self.iface is not None and self.deps_item is None:
            self._offer_install(message, missing)
        return False

    def _offer_install(self, message: str, missing: list) -> None:
        """The message bar line naming what is missing; with a button to install it into
        LabelGuard's folder when pip can fix it and QGIS's interpreter is found."""
        import platform

        from .core.deps import can_install, pip_install_command, qgis_python

        bar = self.iface.messageBar()
        python = qgis_python(sys.executable, sys.exec_prefix, platform.system(), sys.version_info)
        if python is None or not can_install(missing):
            bar.pushMessage(LOG_TAG, message, level=Qgis.MessageLevel.Critical, duration=0)
            return
        from qgis.PyQt.QtWidgets import QPushButton

        self.install_command = pip_install_command(python, deps_folder(), missing)
        self.deps_item = bar.createMessage(LOG_TAG, message)
        self.deps_button = QPushButton(tr("Install into LabelGuard's folder…"), self.deps_item)
        self.deps_button.clicked.connect(self._ask_install)
        self.deps_item.layout().addWidget(self.deps_button)
        bar.pushWidget(self.deps_item, Qgis.MessageLevel.Critical, 0)

    def _ask_install(self) -> None:
        from qgis.PyQt.QtWidgets import QMessageBox

        from .ui.install import PipInstallTask

        if self.install_task is not None or self.install_command is None:
            return
        folder = deps_folder()
        question = tr(
            "Download shapely 2 from the Python Package Index (pypi.org) and install it with "
            "pip into {}?\n\nNothing outside that folder is written. LabelGuard uses it from "
            "the next start of QGIS; deleting the folder undoes the install."
        ).format(folder)
        yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
        answer = QMessageBox.question(self.iface.mainWindow(), LOG_TAG, question, yes | no, no)
        if answer != yes:
            return
        QgsMessageLog.logMessage(
            "Installing: " + " ".join(self.install_command), LOG_TAG, Qgis.MessageLevel.Info
        )
        self.install_task = PipInstallTask(self.install_command, folder)
        self.install_task.taskCompleted.connect(self._install_completed)
        self.install_task.taskTerminated.connect(self._install_terminated)
        self.deps_button.setEnabled(False)
        self._submit(self.install_task)

    def _submit(self, task) -> None:
        QgsApplication.taskManager().addTask(task)

    def _install_completed(self) -> None:
        task, self.install_task = self.install_task, None
        if task is None:
            return  # a task this plugin no longer tracks (unloaded meanwhile)
        QgsMessageLog.logMessage(task.output, LOG_TAG, Qgis.MessageLevel.Info)
        self._pop_deps_item()
        self.iface.messageBar().pushMessage(
            LOG_TAG,
            tr("shapely 2 is installed in {}. Restart QGIS to use LabelGuard.").format(task.folder),
            level=Qgis.MessageLevel.Success,
            duration=0,
        )

    def _install_terminated(self) -> None:
        task, self.install_task = self.install_task, None
        if task is None:
            return
        QgsMessageLog.logMessage(
            "pip failed (exit code {}): {}\n{}".format(
                task.returncode, " ".join(task.command), task.output
            ),
            LOG_TAG,
            Qgis.MessageLevel.Critical,
        )
        if self._deps_item_alive():
            self.deps_button.setEnabled(True)
        self.iface.messageBar().pushMessage(
            LOG_TAG,
            tr("Installing shapely 2 failed; pip's output is in the LabelGuard log."),
            level=Qgis.MessageLevel.Critical,
            duration=0,
        )

    def _deps_item_alive(self) -> bool:
        from qgis.PyQt import sip

        return self.deps_item is not None and not sip.isdeleted(self.deps_item)

    def _pop_deps_item(self) -> None:
        """Removes the install offer (the bar deletes an item the user closed by itself)."""
        if self._deps_item_alive():
            self.deps_button.clicked.disconnect(self._ask_install)
            self.iface.messageBar().popWidget(self.deps_item)
        self.deps_item = None
        self.deps_button = None

    def initProcessing(self) -> None:  # noqa: N802 (QGIS API)
        if self.provider is not None or not self._dependencies_ok():
            return
        if QgsApplication.processingRegistry().providerById("labelguard") is not None:
            return  # registered already (another instance): adding it again would fail
        from .processing_provider.provider import LabelGuardProvider

        self.provider = LabelGuardProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 (QGIS API)
        self.initProcessing()
        if self.missing or QgsApplication.processingRegistry().providerById("labelguard") is None:
            return
        from qgis.core import QgsProject
        from qgis.PyQt.QtCore import Qt
        from qgis.PyQt.QtGui import QIcon
        from qgis.PyQt.QtWidgets import QAction

        from .ui.dock import LabelGuardDock
        from .ui.findings import LabelGuardFindingsDock

        def message(text: str, level: int) -> None:
            self.iface.messageBar().pushMessage(LOG_TAG, text, level=level, duration=8)

        window, canvas = self.iface.mainWindow(), self.iface.mapCanvas()
        self.dock = LabelGuardDock(window, QgsProject.instance(), message, canvas)
        self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock_action = QAction(QIcon(str(ICON)), "LabelGuard: versions and status", window)
        self.dock_action.setCheckable(True)
        self.dock.setToggleVisibilityAction(self.dock_action)
        self.iface.addPluginToMenu("LabelGuard", self.dock_action)
        self.iface.addToolBarIcon(self.dock_action)
        visible = QgsSettings().value("labelguard/dock/visible", True, type=bool)
        self.dock.setUserVisible(visible)
        self.findings = LabelGuardFindingsDock(window, QgsProject.instance(), message, canvas)
        self.iface.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.findings)
        self.findings_action = QAction(QIcon(str(ICON)), "LabelGuard: findings", window)
        self.findings_action.setCheckable(True)
        self.findings.setToggleVisibilityAction(self.findings_action)
        self.iface.addPluginToMenu("LabelGuard", self.findings_action)
        shown = QgsSettings().value("labelguard/dock/findings/visible", False, type=bool)
        self.findings.setUserVisible(shown)

    def unload(self) -> None:
        if self.install_task is not None:
            task, self.install_task = self.install_task, None
            task.taskCompleted.disconnect(self._install_completed)
            task.taskTerminated.disconnect(self._install_terminated)
            task.cancel()
        self._pop_deps_item()
        self.install_command = None
        if self.findings is not None:
            QgsSettings().setValue(
                "labelguard/dock/findings/visible", self.findings.isUserVisible()
            )
            self.findings.unload()
            self.iface.removeDockWidget(self.findings)
            self.findings.deleteLater()
        if self.findings_action is not None:
            self.iface.removePluginMenu("LabelGuard", self.findings_action)
            self.findings_action.deleteLater()
        if self.dock is not None:
            QgsSettings().setValue("labelguard/dock/visible", self.dock.isUserVisible())
            self.dock.unload()
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
        if self.dock_action is not None:
            self.iface.removePluginMenu("LabelGuard", self.dock_action)
            self.iface.removeToolBarIcon(self.dock_action)
            self.dock_action.deleteLater()
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
        self.dock = None
        self.dock_action = None
        self.findings = None
        self.findings_action = None
        self.provider = None
        self.missing = None
