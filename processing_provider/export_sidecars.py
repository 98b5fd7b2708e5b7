"""labelguard:exportsidecars: one deterministic YAML sidecar per input data file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputString,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..gdalio.sidecars import plan_sidecar, write_sidecar
from .base import LabelGuardAlgorithm
from .compat import TYPE_MAPLAYER


class ExportSidecarsAlgorithm(LabelGuardAlgorithm):
    GROUP_ID = "versioning"
    NAME = "exportsidecars"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("ExportSidecarsAlgorithm", "Export metadata sidecars")
    HELP = QT_TRANSLATE_NOOP(
        "ExportSidecarsAlgorithm",
        "Writes one YAML metadata sidecar per input layer's data file, named "
        "<data file name>.labelguard.yaml (one per layer for multi-layer GeoPackages). "
        "A sidecar records what format conversions tend to lose: the CRS as EPSG code and "
        "WKT2 (with axis order and area of use), extent, the affine transform, resolution, "
        "bands and nodata of rasters, geometry type, fields and class counts of vectors, "
        "the acquisition time in ISO 8601 UTC (a local time without offset is recorded as "
        "written and flagged, never guessed), and a content hash.\n\n"
        "Sidecars are deterministic: the same data gives byte-identical files, so they can "
        "be committed and diffed. Existing sidecars of the same data are replaced "
        "atomically; the data files themselves are never written.\n\n"
        "Outputs: SIDECARS (the paths written) and COUNT.",
    )
    LAYERS = "LAYERS"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    CLASS_FIELD = "CLASS_FIELD"
    SIDECARS = "SIDECARS"
    COUNT = "COUNT"

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        self.add(
            QgsProcessingParameterMultipleLayers(
                self.LAYERS, self.tr("Raster and vector layers"), TYPE_MAPLAYER
            ),
            self.tr(
                "File-based raster and vector layers to describe. Memory and "
                "database layers are refused: they have no file to sit next to."
            ),
        )
        self.add(
            QgsProcessingParameterFolderDestination(
                self.OUTPUT_FOLDER,
                self.tr("Output folder (empty: next to each data file)"),
                optional=True,
                createByDefault=False,
            ),
            self.tr(
                "Where to write the sidecars. Leave empty to write each sidecar "
                "next to its data file, where verify and the dock look for it."
            ),
        )
        self.add(
            QgsProcessingParameterString(
                self.CLASS_FIELD, self.tr("Class field for class counts"), optional=True
            ),
            self.tr(
                "Field holding the annotation class, for per-class counts in "
                "vector sidecars. Empty: a field named class, label or category "
                "is used if present."
            ),
            advanced=True,
        )
        self.addOutput(QgsProcessingOutputString(self.SIDECARS, self.tr("Sidecar files")))
        self.add_counts((self.COUNT, self.tr("Number of sidecars")))

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> Dict[str, Any]:
        sources = self.layer_files(parameters, self.LAYERS, context)
        folder_text = self.parameterAsString(parameters, self.OUTPUT_FOLDER, context)
        folder = Path(folder_text) if folder_text else None
        class_field = self.parameterAsString(parameters, self.CLASS_FIELD, context) or None
        # Describe everything first, then write: a bad input leaves no partial set of sidecars.
        planned = []
        for i, (path, sublayer) in enumerate(sources):
            self.check_canceled(feedback)
            feedback.pushInfo(self.tr("Describing {}").format(path.name))
            target, data, desc = self.call(
                plan_sidecar, path, sublayer, folder, class_field, should_stop=feedback.isCanceled
            )
            self._warn_about(feedback, path, desc)
            planned.append((target, data))
            feedback.setProgress(100.0 * (i + 1) / len(sources))
        written = []
        for target, data in planned:
            unchanged = not self.call(write_sidecar, target, data)
            state = self.tr("unchanged") if unchanged else self.tr("written")
            feedback.pushInfo(self.tr("{}: {}").format(state, target))
            written.append(str(target))
        return self.finish(parameters, context, {self.SIDECARS: written, self.COUNT: len(written)})

    def _warn_about(self, feedback: QgsProcessingFeedback, path: Path, desc) -> None:
        if desc.crs is None:
            feedback.pushWarning(
                self.tr("{} has no CRS; the sidecar records crs: null.").format(path.name)
            )
        if desc.acquisition_time is not None and not desc.acquisition_time.offset_known:
            feedback.pushWarning(
                self.tr(
                    "{}: acquisition time {} has no UTC offset; recorded as local time, not "
                    "converted."
                ).format(path.name, desc.acquisition_time.local)
            )
