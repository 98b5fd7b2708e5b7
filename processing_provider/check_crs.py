"""Check CRS consistency (labelguard:checkcrs): CRS rules across raster and vector layers."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, TypeVar

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsGeometry,
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingUtils,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.crs_checks import (
    RASTER,
    VECTOR,
    CrsCheckResult,
    CrsFinding,
    LayerRecord,
    check_crs,
    write_crs_report,
)
from ..core.progress import StopFn, check_stop
from ..gdalio import facts
from ..gdalio.crs_records import file_record
from .base import LabelGuardAlgorithm
from .compat import TYPE_MAPLAYER, TYPE_VECTOR_POLYGON

T = TypeVar("T")
FIELDS = ("layer", "source", "rule", "severity", "message", "expected", "found")
_CRS_WORDS = ("proj", "crs", "srs", "spatial reference", "coordinate", "projection")


class CheckCrsAlgorithm(LabelGuardAlgorithm):
    """labelguard:checkcrs - one row per CRS finding, a JSON report and the counts."""

    GROUP_ID = "validation"
    NAME = "checkcrs"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CheckCrsAlgorithm", "Check CRS consistency")
    HELP = QT_TRANSLATE_NOOP(
        "CheckCrsAlgorithm",
        "Checks the coordinate reference systems of a dataset's raster and vector layers "
        "before it goes to annotators or to training. The CRS of each layer is read from "
        "its data source (GDAL/OGR), not from QGIS, which silently assigns a default CRS "
        "to files that have none. CRSs are compared by meaning: EPSG:4326 and its WKT are "
        "the same CRS.\n\n"
        "Rules: missing_crs (no CRS in the data source), invalid_crs (a CRS PROJ cannot "
        "interpret), unexpected_crs (not the expected CRS), mixed_crs (layers disagree; "
        "only when no expected CRS is given), geographic_crs (degrees where a projected "
        "CRS is required), outside_area_of_use (warning: the extent lies outside the CRS's "
        "area of use), wrong_units (coordinates impossible for the CRS, e.g. UTM metres "
        "labelled EPSG:4326), axis_swapped (x and y exchanged), no_overlap (annotations do "
        "not overlap the imagery once both are in one CRS) and sidecar_drift (the CRS "
        "differs from the one in the layer's LabelGuard sidecar). All are errors except "
        "outside_area_of_use.\n\n"
        "The issue table has one row per finding (layer, source, rule, severity, message, "
        "expected, found) with the layer's extent in EPSG:4326 where it can be placed. The "
        "JSON report (labelguard.report/1) holds the same findings and the counts. A clean "
        "dataset gives no rows and ISSUE_COUNT 0. With 'Fail on error', any error makes the "
        "algorithm fail after writing the outputs, so that qgis_process exits non-zero.",
    )

    LAYERS = "LAYERS"
    EXPECTED_CRS = "EXPECTED_CRS"
    REQUIRE_PROJECTED = "REQUIRE_PROJECTED"
    OUTPUT = "OUTPUT"
    ISSUE_COUNT = "ISSUE_COUNT"
    ERROR_COUNT = "ERROR_COUNT"
    CHECKED_COUNT = "CHECKED_COUNT"

    def initAlgorithm(self, config: Optional[Dict[str, Any]] = None) -> None:  # noqa: N802
        self.add(
            QgsProcessingParameterMultipleLayers(
                self.LAYERS, self.tr("Layers (rasters and vectors)"), TYPE_MAPLAYER
            ),
            self.tr(
                "The raster and vector layers of one dataset, in any mix. Vector layers are the "
                "annotations and rasters the imagery for the no_overlap rule."
            ),
        )
        self.add(
            QgsProcessingParameterCrs(self.EXPECTED_CRS, self.tr("Expected CRS"), optional=True),
            self.tr(
                "The CRS every layer must be in; layers in another CRS get unexpected_crs. Leave "
                "empty to require only that all layers agree (mixed_crs)."
            ),
        )
        self.add(
            QgsProcessingParameterBoolean(
                self.REQUIRE_PROJECTED,
                self.tr("Require a projected CRS (metres)"),
                defaultValue=False,
            ),
            self.tr(
                "Report geographic_crs for layers in degrees, where areas, tolerances and tile "
                "sizes need a projected CRS."
            ),
        )
        self.add_fail_on_error(
            self.tr(
                "Fail after writing the outputs when there is any error (warnings do not count), "
                "so that qgis_process exits non-zero in a CI gate."
            )
        )
        self.add(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT, self.tr("CRS issues"), TYPE_VECTOR_POLYGON
            ),
            self.tr(
                "One row per finding: layer, source, rule, severity, message, expected and found, "
                "with the layer's extent in EPSG:4326 as geometry where it can be placed."
            ),
        )
        self.add_report(
            self.tr(
                "Optional labelguard.report/1 JSON file with every finding, the counts and the CRS "
                "of each layer."
            )
        )
        self.add_counts(
            (self.ISSUE_COUNT, self.tr("Issues")),
            (self.ERROR_COUNT, self.tr("Errors")),
            (self.CHECKED_COUNT, self.tr("Layers checked")),
        )

    def checkParameterValues(  # noqa: N802 (QGIS API)
        self, parameters: Dict[str, Any], context: QgsProcessingContext
    ) -> Tuple[bool, str]:
        # A path that no longer exists would otherwise fail with a bare "Unable to execute".
        values = parameters.get(self.LAYERS)
        for value in values if isinstance(values, (list, tuple)) else [values]:
            if not isinstance(value, str) or not value.strip():
                continue
            if QgsProcessingUtils.mapLayerFromString(value, context) is not None:
                continue
            path = value.split("|")[0]
            if not facts.exists(path):
                return False, self.tr(
                    "LAYERS: the file '{}' does not exist (moved, renamed or deleted). Restore "
                    "it or remove it from LAYERS."
                ).format(path)
        return super().checkParameterValues(parameters, context)

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> Dict[str, Any]:
        layers = self.parameterAsLayerList(parameters, self.LAYERS, context)
        if not layers:
            raise QgsProcessingException(
                self.tr("No layers to check; choose at least one layer in LAYERS.")
            )
        expected = self._expected_crs(parameters, context)
        require_projected = self.parameterAsBoolean(parameters, self.REQUIRE_PROJECTED, context)
        feedback.pushInfo(
            self.tr("Reading the CRS of {} layers from their data sources").format(len(layers))
        )
        records = self.call(layer_records, layers, should_stop=feedback.isCanceled)
        feedback.pushInfo(self.tr("Checking CRS rules"))
        result = self.run_core(
            feedback, check_crs, records, expected=expected, require_projected=require_projected
        )
        sink_id = self.write_sink(
            parameters,
            context,
            self.OUTPUT,
            [(name, "str") for name in FIELDS],
            (([getattr(f, n) for n in FIELDS], _footprint(f)) for f in result.findings),
            wkb_type=QgsWkbTypes.Type.Polygon,
            crs=QgsCoordinateReferenceSystem("EPSG:4326"),
        )
        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        if report:
            self.call(write_crs_report, report, result, records, expected, require_projected)
        self._log(feedback, result)
        rules = sorted({f.rule for f in result.findings if f.severity == "error"})
        where = self.tr("the report") if report else self.tr("the CRS issues table")
        results = {
            self.OUTPUT: sink_id,
            self.REPORT: report or None,
            self.ISSUE_COUNT: len(result.findings),
            self.ERROR_COUNT: result.error_count,
            self.CHECKED_COUNT: result.checked,
        }
        return self.finish(
            parameters,
            context,
            results,
            failures=result.error_count,
            failure_message=self.tr("{} CRS errors ({}); see {}").format(
                result.error_count, ", ".join(rules), where
            ),
        )

    def _expected_crs(
        self, parameters: Dict[str, Any], context: QgsProcessingContext
    ) -> Optional[str]:
        crs = self.parameterAsCrs(parameters, self.EXPECTED_CRS, context)
        if not crs.isValid():
            return None
        if crs.authid().upper().startswith("EPSG:"):
            return crs.authid()
        return crs.toWkt(QgsCoordinateReferenceSystem.WktVariant.WKT2_2019)

    def _log(self, feedback: QgsProcessingFeedback, result: CrsCheckResult) -> None:
        for finding in result.findings:
            feedback.pushWarning(f"{finding.severity}: {finding.rule}: {finding.message}")
        feedback.pushInfo(
            self.tr("{} layers checked: {} errors, {} warnings").format(
                result.checked, result.error_count, result.warning_count
            )
        )


def layer_records(
    layers: Sequence[QgsMapLayer], progress: Any = None, should_stop: StopFn = None
) -> List[LayerRecord]:
    """Core records for QGIS layers, read from their data sources through GDAL/OGR.

    Raises FileVanished when a layer's file is gone, InputError when GDAL cannot open it.
    """
    records = []
    for layer in layers:
        check_stop(should_stop)
        records.append(layer_record(layer))
    return records


def layer_record(layer: QgsMapLayer) -> LayerRecord:
    """One layer as a core record. File-based layers (GDAL/OGR) are read from the file itself:
    QGIS gives a layer without CRS a default one, so ``layer.crs()`` cannot tell "none"."""
    name = layer.name()
    kind = RASTER if isinstance(layer, QgsRasterLayer) else VECTOR
    provider = layer.providerType()
    path = ""
    if provider in ("gdal", "ogr"):
        parts = QgsProviderRegistry.instance().decodeUri(provider, layer.source())
        path = parts.get("path") if isinstance(parts.get("path"), str) else ""
    if not path:
        # Databases, services and memory layers have no file; their CRS in QGIS is all there is.
        crs = layer.crs()
        text = (
            crs.toWkt(QgsCoordinateReferenceSystem.WktVariant.WKT2_2019) if crs.isValid() else None
        )
        rect = layer.extent()
        extent = (
            None
            if rect.isNull()
            else (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())
        )
        return LayerRecord(name=name, source=layer.source(), kind=kind, crs=text, extent=extent)
    layer_ref = None
    if kind != RASTER:
        sublayer = parts.get("layerName") if isinstance(parts.get("layerName"), str) else None
        layer_id = parts.get("layerId") if isinstance(parts.get("layerId"), int) else None
        layer_ref = sublayer or layer_id
    return file_record(name, path, kind, layer_ref)


def _footprint(finding: CrsFinding) -> Optional[QgsGeometry]:
    """The finding's footprint as a polygon; footprints of one-point layers degenerate to
    points, which do not fit the polygon sink."""
    geometry = QgsGeometry.fromWkt(finding.footprint) if finding.footprint else None
    if geometry is not None and geometry.type() == QgsWkbTypes.GeometryType.PolygonGeometry:
        return geometry
    return None
