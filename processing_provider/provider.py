"""LabelGuardProvider: registers LabelGuard's algorithms with QGIS Processing."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .base import ICON_PATH, plugin_version
from .build_manifest import BuildManifestAlgorithm
from .check_crs import CheckCrsAlgorithm
from .diff_versions import DiffVersionsAlgorithm
from .export_sidecars import ExportSidecarsAlgorithm
from .export_training import ExportTrainingAlgorithm
from .feature_history import FeatureHistoryAlgorithm
from .import_predictions import ImportPredictionsAlgorithm
from .restore_metadata import RestoreMetadataAlgorithm
from .validate_topology import ValidateTopologyAlgorithm
from .verify_manifest import VerifyManifestAlgorithm

# Ordered like PRODUCT.md's table.
ALGORITHMS = (
    ValidateTopologyAlgorithm,
    CheckCrsAlgorithm,
    ExportSidecarsAlgorithm,
    BuildManifestAlgorithm,
    VerifyManifestAlgorithm,
    DiffVersionsAlgorithm,
    ExportTrainingAlgorithm,
    ImportPredictionsAlgorithm,
    FeatureHistoryAlgorithm,
    RestoreMetadataAlgorithm,
)


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
