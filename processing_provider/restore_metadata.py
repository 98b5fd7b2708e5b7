"""labelguard:restoremetadata: write back from a sidecar what a format conversion lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterMapLayer,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.restore import NOT_HELD, PLANNED, RESTORED
from ..gdalio.observe import sidecar_for
from ..gdalio.restore import restore_metadata
from .base import LabelGuardAlgorithm
from .compat import TYPE_MAPLAYER
from .layers import layer_file

FIELDS = (
    ("field", "str"),
    ("before", "str"),
    ("after", "str"),
    ("status", "str"),
    ("message", "str"),
)


class RestoreMetadataAlgorithm(LabelGuardAlgorithm):
    GROUP_ID = "versioning"
    NAME = "restoremetadata"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("RestoreMetadataAlgorithm", "Restore metadata from sidecar")
    HELP = QT_TRANSLATE_NOOP(
        "RestoreMetadataAlgorithm",
        "Writes back into a converted file what its metadata sidecar records and the "
        "conversion lost: the CRS, the geotransform, per band nodata, colour interpretation "
        "and description, and the recorded metadata items (among them time tags such as "
        "TIFFTAG_DATETIME) of rasters; the CRS and acquisition time of vector layers.\n\n"
        "It first checks that the pixels or features are still those the sidecar describes "
        "(its content hash) and refuses otherwise: a lossy copy (JPEG), a resampled or an "
        "edited file gets no metadata that is not its own. Only the input file is written, "
        "through a temp copy in its folder that replaces it in one step; GDAL's .aux.xml "
        "side file is disabled while writing, so values go into the file itself. Values the "
        "format cannot hold (a PNG has no CRS or band descriptions) are listed as not_held "
        "and left as they are, unless Write .aux.xml is set.\n\n"
        "OUTPUT lists each field that differed: before, after (the sidecar's value) and "
        "status (restored, not_held; planned in a dry run). Outputs: CHANGED_COUNT (fields "
        "restored, or that would be in a dry run) and NOT_HELD_COUNT.",
    )
    INPUT = "INPUT"
    SIDECAR = "SIDECAR"
    DRY_RUN = "DRY_RUN"
    WRITE_AUX_XML = "WRITE_AUX_XML"
    OUTPUT = "OUTPUT"
    CHANGED_COUNT = "CHANGED_COUNT"
    NOT_HELD_COUNT = "NOT_HELD_COUNT"

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        self.add(
            QgsProcessingParameterMapLayer(
                self.INPUT, self.tr("Converted layer"), types=[TYPE_MAPLAYER]
            ),
            self.tr(
                "The raster or vector layer whose file lost metadata in a conversion. Its "
                "file is rewritten in place (atomically); other files are not touched."
            ),
        )
        self.add(
            QgsProcessingParameterFile(
                self.SIDECAR, self.tr("Sidecar"), extension="yaml", optional=True
            ),
            self.tr(
                "The sidecar (.labelguard.yaml) to restore from. Empty: the file's own "
                "sidecar next to it. For a converted copy, give the original file's sidecar."
            ),
        )
        self.add(
            QgsProcessingParameterBoolean(self.DRY_RUN, self.tr("Dry run"), defaultValue=False),
            self.tr("List what would change (status planned) and write nothing."),
        )
        self.add(
            QgsProcessingParameterBoolean(
                self.WRITE_AUX_XML,
                self.tr("Write .aux.xml for what the format cannot hold"),
                defaultValue=False,
            ),
            self.tr(
                "For values the file's format cannot hold (PNG: CRS, band descriptions), "
                "write GDAL's <file>.aux.xml side file instead of leaving them out. QGIS and "
                "GDAL read it, but it must travel with the file."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT, self.tr("Restored fields"), optional=True, createByDefault=True
            ),
            self.tr("One row per field that differed: before, after and what happened."),
        )
        self.add_report(
            self.tr("Optional JSON report (labelguard.report/1) with one finding per field.")
        )
        self.add_counts(
            (self.CHANGED_COUNT, self.tr("Fields restored")),
            (self.NOT_HELD_COUNT, self.tr("Fields the format cannot hold")),
        )

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> Dict[str, Any]:
        layer = self.parameterAsLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.INPUT))
        path, sublayer = layer_file(layer)
        sidecar_text = self.parameterAsFile(parameters, self.SIDECAR, context)
        sidecar = Path(sidecar_text) if sidecar_text else self.call(sidecar_for, path, sublayer)
        if not sidecar.is_file():
            raise QgsProcessingException(
                self.tr(
                    "No sidecar {} for '{}'; give the original file's sidecar in Sidecar."
                ).format(sidecar, path.name)
            )
        dry_run = self.parameterAsBoolean(parameters, self.DRY_RUN, context)
        feedback.pushInfo(self.tr("Restoring {} from {}").format(path.name, sidecar.name))
        result = self.run_core(
            feedback,
            restore_metadata,
            path,
            sidecar,
            layer=sublayer,
            dry_run=dry_run,
            write_aux=self.parameterAsBoolean(parameters, self.WRITE_AUX_XML, context),
        )
        if result.written and layer.dataProvider() is not None:
            layer.dataProvider().reloadData()  # the file under the layer was replaced
        for c in result.changes:
            feedback.pushInfo(f"{c.field}: {c.before} → {c.after} ({c.status})")
        if result.aux_xml is not None:
            feedback.pushInfo(self.tr("Wrote {}").format(result.aux_xml.name))
        rows = (([c.field, c.before, c.after, c.status, c.message], None) for c in result.changes)
        written = {self.OUTPUT: self.write_sink(parameters, context, self.OUTPUT, FIELDS, rows)}
        findings = [
            {
                "rule": c.status,
                "severity": "warning" if c.status == NOT_HELD else "info",
                "message": f"{path.name}: {c.field}: {c.before} -> {c.after}"
                + (f" ({c.message})" if c.message else ""),
                "location": None,
                "field": c.field,
                "before": c.before,
                "after": c.after,
            }
            for c in result.changes
        ]
        changed = sum(1 for c in result.changes if c.status in (RESTORED, PLANNED))
        counts = {"changed": changed, "not_held": result.not_held}
        extra = {"path": str(path), "sidecar": str(sidecar), "dry_run": dry_run}
        written[self.REPORT] = self.write_report(parameters, context, findings, counts, extra)
        results = {self.CHANGED_COUNT: changed, self.NOT_HELD_COUNT: result.not_held}
        return self.finish(parameters, context, results, optional=written)
