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
        from .processing_provider.provider import LabelGuardProvider

        self.provider = LabelGuardProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 (QGIS API)
        self.initProcessing()
        if self.provider is None:
            return
        from qgis.core import QgsProject
        from qgis.PyQt.QtCore import Qt
        from qgis.PyQt.QtGui import QIcon
        from qgis.PyQt.QtWidgets import QAction

        from .ui.dock import LabelGuardDock

        def message(text: str, level: int) -> None:
            self.iface.messageBar().pushMessage(LOG_TAG, text, level=level, duration=8)

        self.dock = LabelGuardDock(self.iface.mainWindow(), QgsProject.instance(), message)
        self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock_action = QAction(QIcon(str(ICON)), "LabelGuard", self.iface.mainWindow())
        self.dock_action.setCheckable(True)
        self.dock.setToggleVisibilityAction(self.dock_action)
        self.iface.addPluginToMenu("LabelGuard", self.dock_action)
        self.iface.addToolBarIcon(self.dock_action)
        visible = QgsSettings().value("labelguard/dock/visible", True, type=bool)
        self.dock.setUserVisible(visible)

    def unload(self) -> None:
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
        self.provider = None
