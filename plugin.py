"""LabelGuardPlugin: wires the Processing provider and the dock into QGIS."""

from __future__ import annotations

from qgis.core import Qgis, QgsApplication, QgsMessageLog

LOG_TAG = "LabelGuard"


class LabelGuardPlugin:
    def __init__(self, iface) -> None:
        # qgis_process passes iface=None and calls only initProcessing().
        self.iface = iface
        self.provider = None
        self.dock = None
        self.dock_action = None

    def _dependencies_ok(self) -> bool:
        from .core.deps import missing_dependencies

        missing = missing_dependencies()
        if not missing:
            return True
        message = "LabelGuard needs these Python packages: {}. Install them with pip into the " \
            "Python QGIS uses, then restart QGIS.".format("; ".join(missing))
        QgsMessageLog.logMessage(message, LOG_TAG, Qgis.Critical)
        if self.iface is not None:
            self.iface.messageBar().pushMessage(LOG_TAG, message, level=Qgis.Critical, duration=0)
        return False

    def initProcessing(self) -> None:  # noqa: N802 (QGIS API)
        if self.provider is not None or not self._dependencies_ok():
            return
        from .processing_provider.provider import LabelGuardProvider

        self.provider = LabelGuardProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 (QGIS API)
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
        self.provider = None
