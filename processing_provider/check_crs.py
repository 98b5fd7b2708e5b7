"""Check CRS consistency (labelguard:checkcrs): CRS rules across raster and vector layers."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from osgeo import gdal, osr
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingUtils,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from ..core.crs_checks import (
    RASTER,
    VECTOR,
    CrsCheckResult,
    CrsFinding,
    LayerRecord,
    check_crs,
    read_sidecar_crs,
    require_source,
    write_crs_report,
)
from ..core.errors import FileVanished, InputError
from ..core.progress import StopFn, check_stop
from ..core.sidecar import sidecar_path
from .base import LabelGuardAlgorithm
from .compat import TYPE_MAPLAYER, TYPE_VECTOR_POLYGON

FIELDS = ("layer", "source", "rule", "severity", "message", "expected", "found")
_CRS_WORDS = ("proj", "crs", "srs", "spatial reference", "coordinate", "projection")


class CheckCrsAlgorithm(LabelGuardAlgorithm):
    """labelguard:checkcrs - one row per CRS finding, a JSON report and the counts."""

    GROUP_ID = "validation"

    LAYERS = "LAYERS"
    EXPECTED_CRS = "EXPECTED_CRS"
    REQUIRE_PROJECTED = "REQUIRE_PROJECTED"
    OUTPUT = "OUTPUT"
    REPORT = "REPORT"
    FAIL_ON_ERROR = "FAIL_ON_ERROR"
    ISSUE_COUNT = "ISSUE_COUNT"
    ERROR_COUNT = "ERROR_COUNT"
    CHECKED_COUNT = "CHECKED_COUNT"

    def name(self) -> str:
        return "checkcrs"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Check CRS consistency")

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr(
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
            "algorithm fail after writing the outputs, so that qgis_process exits non-zero."
        )

    def initAlgorithm(self, config: Optional[Dict[str, Any]] = None) -> None:  # noqa: N802
        layers = QgsProcessingParameterMultipleLayers(
            self.LAYERS, self.tr("Layers (rasters and vectors)"), TYPE_MAPLAYER
        )
        layers.setHelp(
            self.tr(
                "The raster and vector layers of one dataset, in any mix. Vector layers are the "
                "annotations and rasters the imagery for the no_overlap rule."
            )
        )
        self.addParameter(layers)
        expected = QgsProcessingParameterCrs(
            self.EXPECTED_CRS, self.tr("Expected CRS"), optional=True
        )
        expected.setHelp(
            self.tr(
                "The CRS every layer must be in; layers in another CRS get unexpected_crs. Leave "
                "empty to require only that all layers agree (mixed_crs)."
            )
        )
        self.addParameter(expected)
        projected = QgsProcessingParameterBoolean(
            self.REQUIRE_PROJECTED, self.tr("Require a projected CRS (metres)"), defaultValue=False
        )
        projected.setHelp(
            self.tr(
                "Report geographic_crs for layers in degrees, where areas, tolerances and tile "
                "sizes need a projected CRS."
            )
        )
        self.addParameter(projected)
        fail = QgsProcessingParameterBoolean(
            self.FAIL_ON_ERROR, self.tr("Fail on error"), defaultValue=False
        )
        fail.setHelp(
            self.tr(
                "Fail after writing the outputs when there is any error (warnings do not count), "
                "so that qgis_process exits non-zero in a CI gate."
            )
        )
        self.addParameter(fail)
        output = QgsProcessingParameterFeatureSink(
            self.OUTPUT, self.tr("CRS issues"), TYPE_VECTOR_POLYGON
        )
        output.setHelp(
            self.tr(
                "One row per finding: layer, source, rule, severity, message, expected and found, "
                "with the layer's extent in EPSG:4326 as geometry where it can be placed."
            )
        )
        self.addParameter(output)
        report = QgsProcessingParameterFileDestination(
            self.REPORT,
            self.tr("JSON report"),
            self.tr("JSON files (*.json)"),
            optional=True,
            createByDefault=False,
        )
        report.setHelp(
            self.tr(
                "Optional labelguard.report/1 JSON file with every finding, the counts and the CRS "
                "of each layer."
            )
        )
        self.addParameter(report)
        self.addOutput(QgsProcessingOutputNumber(self.ISSUE_COUNT, self.tr("Issues")))
        self.addOutput(QgsProcessingOutputNumber(self.ERROR_COUNT, self.tr("Errors")))
        self.addOutput(QgsProcessingOutputNumber(self.CHECKED_COUNT, self.tr("Layers checked")))

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
            if gdal.VSIStatL(path) is None:
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
        records = self.run_core(None, layer_records, layers, should_stop=feedback.isCanceled)
        feedback.pushInfo(self.tr("Checking CRS rules"))
        result = self.run_core(
            feedback, check_crs, records, expected=expected, require_projected=require_projected
        )
        sink_id = self._write_sink(parameters, context, result.findings)
        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        if report:
            self.run_core(
                None, write_crs_report, report, result, records, expected, require_projected
            )
        self._log(feedback, result)
        if result.error_count and self.parameterAsBoolean(parameters, self.FAIL_ON_ERROR, context):
            rules = sorted({f.rule for f in result.findings if f.severity == "error"})
            where = self.tr("the report") if report else self.tr("the CRS issues table")
            raise QgsProcessingException(
                self.tr("{} CRS errors ({}); see {}").format(
                    result.error_count, ", ".join(rules), where
                )
            )
        return {
            self.OUTPUT: sink_id,
            self.REPORT: report or None,
            self.ISSUE_COUNT: len(result.findings),
            self.ERROR_COUNT: result.error_count,
            self.CHECKED_COUNT: result.checked,
        }

    def _expected_crs(
        self, parameters: Dict[str, Any], context: QgsProcessingContext
    ) -> Optional[str]:
        crs = self.parameterAsCrs(parameters, self.EXPECTED_CRS, context)
        if not crs.isValid():
            return None
        if crs.authid().upper().startswith("EPSG:"):
            return crs.authid()
        return crs.toWkt(QgsCoordinateReferenceSystem.WktVariant.WKT2_2019)

    def _write_sink(
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        findings: Sequence[CrsFinding],
    ) -> str:
        fields = QgsFields()
        for name in FIELDS:
            fields.append(QgsField(name, QVariant.String))
        sink, sink_id = self.parameterAsSink(
            parameters,
            self.OUTPUT,
            context,
            fields,
            QgsWkbTypes.Type.Polygon,
            QgsCoordinateReferenceSystem("EPSG:4326"),
        )
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        for finding in findings:
            feature = QgsFeature(fields)
            feature.setAttributes([getattr(finding, name) for name in FIELDS])
            geometry = QgsGeometry.fromWkt(finding.footprint) if finding.footprint else None
            # Footprints of one-point layers degenerate to points; they do not fit a polygon sink.
            if geometry is not None and geometry.type() == QgsWkbTypes.GeometryType.PolygonGeometry:
                feature.setGeometry(geometry)
            if not sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert):
                raise QgsProcessingException(self.writeFeatureError(sink, parameters, self.OUTPUT))
        return sink_id

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
    require_source(name, path, exists=lambda p: gdal.VSIStatL(p) is not None)
    if kind == RASTER:
        crs, problem, extent, multi = _read_raster(name, path)
        sublayer = None
    else:
        sublayer = parts.get("layerName") if isinstance(parts.get("layerName"), str) else None
        layer_id = parts.get("layerId") if isinstance(parts.get("layerId"), int) else None
        crs, problem, extent, multi, sublayer = _read_vector(name, path, sublayer, layer_id)
    sidecar = None
    if not path.startswith("/vsi"):
        sidecar = read_sidecar_crs(str(sidecar_path(Path(path), layer=sublayer, multi_layer=multi)))
    return LayerRecord(
        name=name,
        source=path,
        kind=kind,
        crs=crs,
        extent=extent,
        crs_problem=problem,
        sidecar=sidecar,
    )


class _GdalErrors:
    """Collects GDAL failure messages while active, whether or not GDAL raises exceptions."""

    def __init__(self) -> None:
        self.messages: List[str] = []

    def _handler(self, err_class: int, _code: int, message: str) -> None:
        if err_class >= gdal.CE_Failure:
            self.messages.append(" ".join(str(message).split()))

    def __enter__(self) -> _GdalErrors:
        gdal.PushErrorHandler(self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        gdal.PopErrorHandler()


def _open(name: str, path: str, flags: int) -> Tuple[Any, List[str]]:
    with _GdalErrors() as errors:
        try:
            ds = gdal.OpenEx(path, flags | gdal.OF_READONLY)
        except RuntimeError as exc:
            errors.messages.append(str(exc))
            ds = None
    if ds is None:
        if gdal.VSIStatL(path) is None:
            raise FileVanished(f"Layer '{name}': its file '{path}' no longer exists.")
        detail = "; ".join(errors.messages) or "unknown reason"
        raise InputError(f"Layer '{name}': GDAL cannot open '{path}' ({detail}).")
    crs_messages = [m for m in errors.messages if any(w in m.lower() for w in _CRS_WORDS)]
    return ds, crs_messages


def _spatial_ref(get: Any) -> Tuple[Optional[osr.SpatialReference], List[str]]:
    with _GdalErrors() as errors:
        try:
            srs = get()
        except RuntimeError as exc:
            errors.messages.append(str(exc))
            srs = None
    return srs, errors.messages


def _wkt(srs: osr.SpatialReference) -> str:
    try:
        return srs.ExportToWkt(["FORMAT=WKT2_2019"])
    except RuntimeError:
        return srs.ExportToWkt()


def _east_first(
    srs: osr.SpatialReference, extent: Tuple[float, float, float, float]
) -> Tuple[float, float, float, float]:
    """The extent with x = east: drivers that keep the authority order (lat, lon) get swapped."""
    mapping = srs.GetDataAxisToSRSAxisMapping() or [1, 2]
    orientation = srs.GetAxisOrientation(None, abs(mapping[0]) - 1)
    if orientation in (osr.OAO_North, osr.OAO_South):
        return (extent[1], extent[0], extent[3], extent[2])
    return extent


def _problem(messages: List[str], prj: Optional[str] = None) -> Optional[str]:
    if not messages:
        return None
    detail = "GDAL: " + "; ".join(dict.fromkeys(messages))
    if prj and os.path.isfile(prj):
        with open(prj, encoding="utf-8", errors="replace") as fh:
            text = " ".join(fh.read().split())
        detail = f"{os.path.basename(prj)} says '{text[:60]}'; {detail}"
    return detail


def _read_raster(name: str, path: str):  # type: ignore[no-untyped-def]
    ds, messages = _open(name, path, gdal.OF_RASTER)
    srs, srs_messages = _spatial_ref(ds.GetSpatialRef)
    problem = _problem(messages + srs_messages)
    extent = None
    geotransform = ds.GetGeoTransform(can_return_null=True)
    if geotransform is not None:
        xs, ys = [], []
        for col, row in (
            (0, 0),
            (ds.RasterXSize, 0),
            (0, ds.RasterYSize),
            (ds.RasterXSize, ds.RasterYSize),
        ):
            xs.append(geotransform[0] + col * geotransform[1] + row * geotransform[2])
            ys.append(geotransform[3] + col * geotransform[4] + row * geotransform[5])
        extent = (min(xs), min(ys), max(xs), max(ys))
    crs = None if srs is None else _wkt(srs)
    # A geotransform's x is the column direction, whatever the CRS's axis order says.
    return crs, problem, extent, False


def _read_vector(name: str, path: str, sublayer: Optional[str], layer_id: Optional[int]):  # type: ignore[no-untyped-def]
    ds, messages = _open(name, path, gdal.OF_VECTOR)
    lyr = ds.GetLayerByName(sublayer) if sublayer else ds.GetLayer(layer_id or 0)
    if lyr is None:
        raise InputError(f"Layer '{name}': '{path}' has no layer '{sublayer or layer_id}'.")
    srs, srs_messages = _spatial_ref(lyr.GetSpatialRef)
    prj = os.path.splitext(path)[0] + ".prj" if path.lower().endswith(".shp") else None
    problem = _problem(messages + srs_messages, prj)
    extent = None
    if lyr.GetFeatureCount() > 0:
        try:
            minx, maxx, miny, maxy = lyr.GetExtent()
        except RuntimeError:  # only empty geometries: no extent, like an empty layer
            minx = maxx = miny = maxy = math.nan
        extent = (minx, miny, maxx, maxy)
        if srs is not None:
            extent = _east_first(srs, extent)
    crs = None if srs is None else _wkt(srs)
    return crs, problem, extent, ds.GetLayerCount() > 1, lyr.GetName()
