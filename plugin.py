"""LabelGuardPlugin: wires the Processing provider and the dock into QGIS."""

from __future__ import annotations

from pathlib import Path

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsSettings

LOG_TAG = "LabelGuard"
ICON = Path(__file__).resolve().parent / "ui" / "icons" / "labelguard.svg"


class LabelGuardPlugin:
    def __init__(self, iface) -> None:
        # qgis_process passes iface=None and calls only initProcessing().
        self.iface = iface
        self.provider = None
        self.dock = None
        self.dock_action = None
        self.findings = None
        self.findings_action = None

    def _dependencies_ok(self) -> bool:
        import platform

        from .core.deps import install_hint, missing_dependencies

        missing = missing_dependencies()
        if not missing:
            return True
        message = "LabelGuard needs these Python packages: {}. {}, then restart QGIS.".format(
            "; ".join(missing), install_hint(missing, platform.system())
        )
        QgsMessageLog.logMessage(message, LOG_TAG, Qgis.MessageLevel.Critical)
        if self.iface is not None:
            self.iface.messageBar().pushMessage(
                LOG_TAG, message, level=Qgis.MessageLevel.Critical, duration=0
            )
        return False

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
        if QgsApplication.processingRegistry().providerById("labelguard") is None:
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
