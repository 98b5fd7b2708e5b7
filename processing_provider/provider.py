"""LabelGuardProvider: registers LabelGuard's algorithms with QGIS Processing."""

from __future__ import annotations

import configparser
from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .base import ICON_PATH

ALGORITHMS: tuple = ()


def plugin_version() -> str:
    """``version`` from metadata.txt, the single source of the version."""
    parser = configparser.ConfigParser()
    parser.read(Path(__file__).resolve().parents[1] / "metadata.txt", encoding="utf-8")
    return parser.get("general", "version", fallback="0")


class LabelGuardProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "labelguard"

    def name(self) -> str:
        return "LabelGuard"

    def longName(self) -> str:  # noqa: N802 (QGIS API)
        return QCoreApplication.translate("LabelGuardProvider", "LabelGuard {}").format(
            plugin_version()
        )

    def icon(self) -> QIcon:
        return QIcon(str(ICON_PATH))

    def svgIconPath(self) -> str:  # noqa: N802 (QGIS API)
        return str(ICON_PATH)

    def versionInfo(self) -> str:  # noqa: N802 (QGIS API)
        return plugin_version()

    def loadAlgorithms(self) -> None:  # noqa: N802 (QGIS API)
        for cls in ALGORITHMS:
            self.addAlgorithm(cls())
