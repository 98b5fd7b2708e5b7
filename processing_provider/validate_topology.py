"""ValidateTopologyAlgorithm: topology and geometry rules on an annotation layer."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsEllipsoidUtils,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeatureSourceDefinition,
    QgsProcessingFeedback,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsUnitTypes,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.errors import InputError
from ..core.topology import (
    DEFAULT_RULES,
    NEAR_DUPLICATE_IOU,
    OVERLAY_RULES,
    RULES,
    SLIVER_COMPACTNESS,
    SNAP_TOLERANCE,
    SPIKE_ANGLE,
    ExceptionEntry,
    Finding,
    TopologyResult,
    check_topology_batches,
)
from ..core.topology.error_layer import ERROR_FIELDS
from ..core.topology.exceptions import exceptions_path_for
from ..core.topology.findings import location_wkbs, report_extra
from ..gdalio.topology_inputs import read_exceptions
from .base import LabelGuardAlgorithm
from .compat import TYPE_VECTOR_ANY, TYPE_VECTOR_POLYGON
from .layers import iter_layer_wkb, layer_file, ogr_source, read_features_wkb

RULE_HELP = {
    "invalid": "invalid (GEOS validity, every self-intersection)",
    "empty": "empty (null or empty geometry)",
    "duplicate": "duplicate (same geometry twice)",
    "near_duplicate": "near_duplicate (IoU above threshold)",
    "overlap": "overlap (features overlap by more than the tolerance)",
    "gap": "gap (holes between neighbouring polygons)",
    "sliver": "sliver (long and thin polygons)",
    "min_area": "min_area (area below the minimum)",
    "multipart": "multipart (more than one part)",
    "dangle": "dangle (line ends touching nothing)",
    "must_be_inside": "must_be_inside (outside the overlay layer)",
    "must_not_overlap_with": "must_not_overlap_with (overlaps the overlay layer)",
    "self_crossing": "self_crossing (line crosses or touches itself)",
    "duplicate_vertex": "duplicate_vertex (the same vertex twice in a row)",
    "spike": "spike (angle at a vertex below the spike angle)",
    "hole": "hole (polygon with a hole where none is allowed)",
    "contained": "contained (polygon inside another polygon)",
}

# Error layers by the dimension of the error location: (parameter, wkb type).
_SINKS = {
    2: ("OUTPUT", QgsWkbTypes.Type.MultiPolygon),
    0: ("OUTPUT_POINTS", QgsWkbTypes.Type.MultiPoint),
    1: ("OUTPUT_LINES", QgsWkbTypes.Type.MultiLineString),
}


class ValidateTopologyAlgorithm(LabelGuardAlgorithm):
    GROUP_ID = "validation"
    NAME = "validatetopology"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("ValidateTopologyAlgorithm", "Validate annotation topology")
    TAGS = QT_TRANSLATE_NOOP(
        "ValidateTopologyAlgorithm",
        "topology,validity,overlap,gap,duplicate,sliver,dangle,annotation",
    )
    HELP = QT_TRANSLATE_NOOP(
        "ValidateTopologyAlgorithm",
        "Checks an annotation layer for broken geometry and topology: invalid geometries "
        "(every self-intersection location, not only the first), null/empty geometries, "
        "duplicates and near duplicates, overlaps, gaps between neighbours, slivers, areas "
        "below a minimum, multipart features, dangling line ends, and, with an overlay "
        "layer and the overlay rules chosen, features outside it or overlapping it. The "
        "rules of QGIS's Geometry Checker are there too: self_crossing (a line that crosses "
        "or touches itself: valid, but not simple; located at each such point), "
        "duplicate_vertex (the same vertex twice in a row, within the snapping tolerance; "
        "at the vertex), spike (a vertex with an angle below the spike angle; at the vertex), "
        "hole (a polygon with a hole, for layers where holes are not allowed; at the hole) and "
        "contained (a polygon that lies inside another: fid is the inner feature, other_fid "
        "the outer one, located at the inner polygon).\n\n"
        "Which rule a pair of overlapping polygons goes to: identical ones are duplicate; "
        "then near_duplicate (IoU at least the threshold); then, when contained is chosen, "
        "one inside the other is contained and no longer overlap; the rest overlap. Without "
        "contained chosen, such pairs stay overlaps as before.\n\n"
        "Default rules: all but the overlay rules and the opt-in self_crossing, "
        "duplicate_vertex, spike and hole.\n\n"
        "Each finding is one feature whose geometry is where the problem is (the "
        "self-intersection point, the overlap or gap polygon, the dangling end), with the "
        "fields rule, severity, fid, other_fid, message, is_exception and key. Area findings "
        "go to the error layer (Output), point locations to the point error layer, line "
        "locations to the line error layer; findings without a location (null geometry) "
        "are rows without geometry in the error layer. The JSON report holds every finding "
        "with its location as WKT and the count per rule.\n\n"
        "Areas are in layer units squared (messages name the unit: m², ft², …), or in square "
        "metres for a geographic layer. "
        "Selected features only and the layer filter are honoured.\n\n"
        "Accepted exceptions: give the error layer or report of an earlier run (with "
        "is_exception ticked on the accepted rows), or a CSV/JSON list of rule + fid "
        "(+ other_fid) or key. Matching findings are output with is_exception = true and not "
        "counted. Without one, the exceptions file next to the input data "
        "(<file name>.labelguard-exceptions.json, written by the LabelGuard findings panel "
        "when a finding is accepted) is used when it exists.\n\n"
        "ERROR_COUNT is the number of findings that are not accepted exceptions; "
        "CHECKED_COUNT the number of features checked. With Fail on error, the algorithm "
        "fails after writing its outputs when ERROR_COUNT > 0, so qgis_process exits "
        "non-zero in a CI gate.",
    )

    INPUT = "INPUT"
    RULES = "RULES"
    TOLERANCE = "TOLERANCE"
    MIN_AREA = "MIN_AREA"
    MAX_GAP_AREA = "MAX_GAP_AREA"
    OVERLAY = "OVERLAY"
    EXCEPTIONS = "EXCEPTIONS"
    NEAR_DUPLICATE_IOU = "NEAR_DUPLICATE_IOU"
    SLIVER_COMPACTNESS = "SLIVER_COMPACTNESS"
    SNAP_TOLERANCE = "SNAP_TOLERANCE"
    SPIKE_ANGLE = "SPIKE_ANGLE"
    OUTPUT = "OUTPUT"
    OUTPUT_POINTS = "OUTPUT_POINTS"
    OUTPUT_LINES = "OUTPUT_LINES"
    ERROR_COUNT = "ERROR_COUNT"
    CHECKED_COUNT = "CHECKED_COUNT"
    EXCEPTION_COUNT = "EXCEPTION_COUNT"

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802
        self.add(
            QgsProcessingParameterFeatureSource(
                self.INPUT, self.tr("Annotation layer"), [TYPE_VECTOR_ANY]
            ),
            self.tr("The layer to check. Selected features only and its filter apply."),
        )
        self.add(
            QgsProcessingParameterEnum(
                self.RULES,
                self.tr("Rules"),
                options=[RULE_HELP[r] for r in RULES],
                allowMultiple=True,
                defaultValue=[RULES.index(r) for r in DEFAULT_RULES],
            ),
            self.tr(
                "Rules to check. Rules that do not apply to the layer's geometry type find "
                "nothing. must_be_inside and must_not_overlap_with run only when chosen and "
                "need an overlay layer; they are not chosen by default."
            ),
        )
        self._add_thresholds()
        self._add_other_layers()
        self._add_rule_thresholds()
        self.add_scheduler(
            self.tr(
                "The layer is cut into spatial partitions with a halo, each checked on a worker; "
                "a finding on a partition border is reported once. A GeoPackage, Shapefile or "
                "FlatGeobuf layer without unsaved edits or a selection is read by each worker "
                "itself (its partition only); other layers are sent to the workers from QGIS."
            )
        )
        self._add_outputs()

    def _add_thresholds(self) -> None:
        """The area tolerances."""
        self.add_number(
            self.TOLERANCE,
            self.tr("Overlap tolerance (area)"),
            0.0,
            0.0,
            None,
            self.tr(
                "Overlaps with an area up to this value are accepted (also applies to the "
                "overlay rules). Layer units squared; square metres for a geographic layer."
            ),
        )
        self.add_number(
            self.MIN_AREA,
            self.tr("Minimum area"),
            0.0,
            0.0,
            None,
            self.tr(
                "Polygons with a smaller area are reported by min_area; 0 turns the rule off. "
                "Layer units squared; square metres for a geographic layer."
            ),
        )
        self.add_number(
            self.MAX_GAP_AREA,
            self.tr("Maximum gap area"),
            0.0,
            0.0,
            None,
            self.tr(
                "Only gaps up to this area are reported (larger holes, e.g. lakes, are meant "
                "to be there); 0 reports gaps of any size. Layer units squared; square "
                "metres for a geographic layer."
            ),
        )

    def _add_other_layers(self) -> None:
        """The overlay layer and the accepted exceptions."""
        self.add(
            QgsProcessingParameterFeatureSource(
                self.OVERLAY,
                self.tr("Overlay layer (AOI, tile footprints)"),
                [TYPE_VECTOR_POLYGON],
                optional=True,
            ),
            self.tr(
                "Polygons for must_be_inside (each feature must lie inside them) and "
                "must_not_overlap_with (no feature may overlap them), reprojected to the input "
                "CRS. Choose at least one of these rules in Rules: an overlay layer without them "
                "is an error."
            ),
        )
        self.add(
            QgsProcessingParameterFile(
                self.EXCEPTIONS,
                self.tr("Accepted exceptions"),
                QgsProcessingParameterFile.Behavior.File,
                fileFilter=self.tr(
                    "Exceptions (*.gpkg *.json *.geojson *.csv *.shp *.fgb);;All files (*.*)"
                ),
                optional=True,
            ),
            self.tr(
                "An earlier error layer or report with is_exception ticked on accepted findings, "
                "or a CSV/JSON list with rule, fid, other_fid or key. Matching findings are kept "
                "with is_exception = true and not counted in ERROR_COUNT."
            ),
        )

    def _add_rule_thresholds(self) -> None:
        """Advanced: the near-duplicate and sliver thresholds."""
        self.add_number(
            self.NEAR_DUPLICATE_IOU,
            self.tr("Near-duplicate IoU threshold"),
            NEAR_DUPLICATE_IOU,
            0.0,
            1.0,
            self.tr(
                "Two features whose intersection over union is at least this (0-1) are near "
                "duplicates instead of overlaps."
            ),
            advanced=True,
        )
        self.add_number(
            self.SLIVER_COMPACTNESS,
            self.tr("Sliver compactness threshold"),
            SLIVER_COMPACTNESS,
            0.0,
            1.0,
            self.tr(
                "Polygons whose compactness 4π·area/perimeter² (1 for a disc) is below this are "
                "slivers; 0.05 is about a 1:60 rectangle."
            ),
            advanced=True,
        )
        self.add_number(
            self.SNAP_TOLERANCE,
            self.tr("Snapping tolerance for line ends"),
            SNAP_TOLERANCE,
            0.0,
            None,
            self.tr(
                "A line end within this distance of another line (or of the rest of its own line) "
                "touches it and is not a dangle: an end snapped onto the middle of a line lies "
                "about 1e-14 off it in floating point. Layer units (degrees for a geographic "
                "layer); the default 1e-8 is the tolerance of QGIS's geometry checks; 0 counts "
                "exact contact only. Consecutive vertices closer than this are duplicate_vertex "
                "findings."
            ),
            advanced=True,
        )
        self.add_number(
            self.SPIKE_ANGLE,
            self.tr("Spike angle (degrees)"),
            SPIKE_ANGLE,
            0.0,
            180.0,
            self.tr(
                "A vertex where a line or polygon boundary turns back at an angle below this "
                "(degrees, measured on the ground for a geographic layer) is a spike; 0 turns "
                "the rule off."
            ),
            advanced=True,
        )

    def _add_outputs(self) -> None:
        """The error layers, the report, FAIL_ON_ERROR and the counts."""
        for name, label, kind in (
            (self.OUTPUT, self.tr("Errors (areas)"), self.tr("polygon")),
            (self.OUTPUT_POINTS, self.tr("Errors (points)"), self.tr("point")),
            (self.OUTPUT_LINES, self.tr("Errors (lines)"), self.tr("line")),
        ):
            self.add(
                QgsProcessingParameterFeatureSink(
                    name, label, TYPE_VECTOR_ANY, optional=True, createByDefault=True
                ),
                self.tr(
                    "One feature per finding whose location is a {}: fields rule, severity, fid, "
                    "other_fid, message, is_exception, key. Created only when there are such "
                    "findings{}."
                ).format(
                    kind,
                    self.tr(" (this layer also holds findings without a location)")
                    if name == self.OUTPUT
                    else "",
                ),
            )
        self.add_report(
            self.tr(
                "A labelguard.report/1 JSON file with every finding (location as WKT) and the "
                "count per rule."
            )
        )
        self.add_fail_on_error(
            self.tr(
                "Fail (after writing the outputs) when ERROR_COUNT > 0, so qgis_process exits "
                "non-zero."
            )
        )
        self.add_counts(
            (self.ERROR_COUNT, self.tr("Error count")),
            (self.CHECKED_COUNT, self.tr("Features checked")),
            (self.EXCEPTION_COUNT, self.tr("Accepted exceptions")),
        )

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        source = self.parameterAsSource(parameters, self.INPUT, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.INPUT))
        rules = [RULES[i] for i in self.parameterAsEnums(parameters, self.RULES, context)]
        crs = source.sourceCrs()
        number = {  # the numeric parameters, by core's keyword
            key: self.parameterAsDouble(parameters, name, context)
            for key, name in (
                ("tolerance", self.TOLERANCE),
                ("min_area", self.MIN_AREA),
                ("max_gap_area", self.MAX_GAP_AREA),
                ("near_duplicate_iou", self.NEAR_DUPLICATE_IOU),
                ("sliver_compactness", self.SLIVER_COMPACTNESS),
                ("snap_tolerance", self.SNAP_TOLERANCE),
                ("spike_angle", self.SPIKE_ANGLE),
            )
        }
        overlay, overlay_fids = self._read_overlay(parameters, context, crs, feedback, rules)
        exceptions = self._read_exceptions(parameters, context, feedback)
        ellipsoid = _ellipsoid(crs)
        if ellipsoid is not None:
            feedback.pushInfo(self.tr("Geographic layer: areas are in square metres."))

        options = dict(
            overlay=overlay,
            overlay_fids=overlay_fids,
            exceptions=exceptions,
            ellipsoid=ellipsoid,
            area_unit=_area_unit(crs),
            **number,
        )
        with self.dask_client(parameters, context, feedback) as client:
            if client is None:
                feedback.pushInfo(self.tr("Reading and checking geometries…"))
                batches, total = self._input_batches(parameters, context, source, feedback)
                result: TopologyResult = self.run_core(
                    feedback, check_topology_batches, batches, rules, total=total, **options
                )
            else:
                result = self._check_on_cluster(
                    client, parameters, context, source, feedback, rules, options
                )

        layer_id, data = self._input_file(parameters, context)
        run = {  # on each loaded error layer, so the findings panel can gather one run
            "labelguard/findings_run": uuid.uuid4().hex,
            "labelguard/findings_layer": layer_id,
            "labelguard/findings_file": data,
        }
        written = self._write_sinks(parameters, context, crs, result.findings, run)
        extra = report_extra(
            source.sourceName(),
            crs.authid() or crs.toWkt(),
            result,
            rules,
            number,
            ellipsoid is not None,
            _area_unit(crs),
        )
        findings = [f.to_dict() for f in result.findings]
        written[self.REPORT] = self.write_report(
            parameters, context, findings, result.counts, extra
        )
        for rule, n in result.counts.items():
            if n:
                feedback.pushInfo(self.tr("{}: {}").format(rule, n))
        feedback.pushInfo(
            self.tr("{} finding(s) in {} feature(s); {} accepted exception(s).").format(
                result.error_count, result.checked, result.exception_count
            )
        )
        results = {
            self.ERROR_COUNT: result.error_count,
            self.CHECKED_COUNT: result.checked,
            self.EXCEPTION_COUNT: result.exception_count,
        }
        return self.finish(
            parameters,
            context,
            results,
            optional=written,
            failures=result.error_count,
            failure_message=self.tr("{} topology error(s) found (Fail on error is set).").format(
                result.error_count
            ),
        )

    def _check_on_cluster(
        self,
        client: Any,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        source,
        feedback: QgsProcessingFeedback,
        rules: list[str],
        options: dict[str, Any],
    ) -> TopologyResult:
        """The check spread over the workers of ``client``: each worker reads its partition
        from the layer's file when OGR gives the features QGIS gives, else QGIS reads the
        layer and sends each partition its geometries."""
        from ..cluster.topology import check_topology_file, check_topology_partitioned

        definition = parameters.get(self.INPUT)
        plain = not isinstance(definition, QgsProcessingFeatureSourceDefinition) or (
            not definition.selectedFeaturesOnly and definition.featureLimit in (-1, None)
        )
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        on_file = ogr_source(layer) if plain and layer is not None else None
        if on_file is not None:
            path, name, where = on_file
            feedback.pushInfo(
                self.tr("Checking on the Dask cluster; the workers read {}").format(path)
            )
            return self.run_core(
                feedback, check_topology_file, client, path, name, rules, where=where, **options
            )
        feedback.pushInfo(self.tr("Reading geometries to send to the Dask cluster…"))
        batches, _total = self._input_batches(parameters, context, source, feedback)
        batches = self.run_core(None, list, batches)
        return self.run_core(
            feedback, check_topology_partitioned, client, batches, rules, **options
        )

    def _input_batches(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        source,
        feedback: QgsProcessingFeedback,
    ) -> tuple[Any, int]:
        """(batches of (fids, WKB) read lazily, expected feature count) of the input."""
        definition = parameters.get(self.INPUT)
        selected_only = False
        limited = False
        if isinstance(definition, QgsProcessingFeatureSourceDefinition):
            selected_only = definition.selectedFeaturesOnly
            limited = definition.featureLimit not in (-1, None)
        layer = None if limited else self.parameterAsVectorLayer(parameters, self.INPUT, context)
        if layer is not None:
            batches = iter_layer_wkb(
                layer,
                selected_only=selected_only,
                feature_source=source,
                should_stop=feedback.isCanceled,
            )
        else:
            batches = iter([read_features_wkb(source, should_stop=feedback.isCanceled)])
        return batches, max(int(source.featureCount()), 0)

    def _read_overlay(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        crs: QgsCoordinateReferenceSystem,
        feedback: QgsProcessingFeedback,
        rules: list[str],
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        overlay = self.parameterAsSource(parameters, self.OVERLAY, context)
        if overlay is None:
            if OVERLAY_RULES & set(rules):
                feedback.pushWarning(
                    self.tr("No overlay layer (OVERLAY): {} skipped.").format(
                        ", ".join(r for r in RULES if r in OVERLAY_RULES & set(rules))
                    )
                )
            return None, None
        if not OVERLAY_RULES & set(rules):
            raise QgsProcessingException(
                self.tr(
                    "An overlay layer (OVERLAY) is given but no overlay rule is chosen in "
                    "Rules (RULES): choose must_be_inside and/or must_not_overlap_with, or "
                    "leave OVERLAY empty."
                )
            )
        fids, wkb = read_features_wkb(
            overlay,
            crs=crs,
            transform_context=context.transformContext(),
            should_stop=feedback.isCanceled,
        )
        return wkb, fids

    def _input_file(
        self, parameters: dict[str, Any], context: QgsProcessingContext
    ) -> tuple[str, str]:
        """(layer id in the project or "", data file or "") of the input layer."""
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        if layer is None:
            return "", ""
        layer_id = (
            layer.id() if context.project() and context.project().mapLayer(layer.id()) else ""
        )
        try:
            path, _sub = layer_file(layer)
        except QgsProcessingException:
            return layer_id, ""
        return layer_id, str(path)

    def _read_exceptions(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> list[ExceptionEntry]:
        path = self.parameterAsFile(parameters, self.EXCEPTIONS, context)
        if not path:
            data = self._input_file(parameters, context)[1]
            beside = exceptions_path_for(data) if data else None
            if beside is None or not beside.is_file():
                return []
            path = str(beside)
            feedback.pushInfo(self.tr("Accepted exceptions from {}").format(path))
        try:
            return read_exceptions(path)
        except InputError as exc:
            raise QgsProcessingException(
                self.tr("Cannot read accepted exceptions from {}: {}").format(path, exc.__cause__)
            ) from exc

    def _write_sinks(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        crs: QgsCoordinateReferenceSystem,
        findings: tuple[Finding, ...],
        run: dict[str, str],
    ) -> dict[str, Any]:
        """One error layer per location dimension; the point and line layers only when they
        have findings. Loaded layers get the per-rule style."""
        by_dim: dict[int, list[tuple[list[Any], QgsGeometry]]] = {0: [], 1: [], 2: []}
        # one QgsGeometry per finding: findings are few next to features
        for f, wkb in zip(findings, location_wkbs(findings)):
            dim, geom = _sink_geometry(wkb)
            values = [f.rule, f.severity, f.fid, f.other_fid, f.message, f.is_exception, f.key]
            by_dim[dim].append((values, geom))
        out: dict[str, Any] = {}
        for dim, (param, wkb_type) in _SINKS.items():
            if not by_dim[dim] and dim != 2:
                continue
            # The contract's `fid` attribute would become the GeoPackage primary key, and one
            # feature can have several findings: give the table its own FID column.
            target = self.output_target(parameters, param, context)
            dest = self.write_sink(
                parameters,
                context,
                param,
                ERROR_FIELDS,
                by_dim[dim],
                wkb_type=wkb_type,
                crs=crs,
                layer_options=["FID=error_id"] if ".gpkg" in target.lower() else [],
                style="rules",
                properties=run,
            )
            if dest is not None:
                out[param] = dest
        return out


_DIMENSION = {
    QgsWkbTypes.GeometryType.PointGeometry: 0,
    QgsWkbTypes.GeometryType.LineGeometry: 1,
    QgsWkbTypes.GeometryType.PolygonGeometry: 2,
}


def _sink_geometry(wkb: bytes | None) -> tuple[int, QgsGeometry]:
    """(dimension of the error layer it goes to, multi-type geometry) of a finding's location
    (WKB); a null location goes to the area layer as a row without geometry."""
    geom = QgsGeometry()
    if wkb:
        geom.fromWkb(wkb)
    if geom.isNull():
        return 2, geom
    if geom.type() not in _DIMENSION:  # a collection: sinks hold one geometry type
        geom = _collection_to_single_dim(geom)
    dim = _DIMENSION.get(geom.type(), 2)
    geom.convertToMultiType()
    return dim, geom


def _collection_to_single_dim(geom: QgsGeometry) -> QgsGeometry:
    """The highest-dimension parts of a geometry collection (sinks hold one geometry type)."""
    for gtype in (
        QgsWkbTypes.GeometryType.PolygonGeometry,
        QgsWkbTypes.GeometryType.LineGeometry,
        QgsWkbTypes.GeometryType.PointGeometry,
    ):
        converted = geom.convertToType(gtype, True)
        if converted is not None and not converted.isNull() and not converted.isEmpty():
            return converted
    return QgsGeometry()


def _area_unit(crs: QgsCoordinateReferenceSystem) -> str:
    """The CRS unit squared as messages name it ("m²", "ft²"); "" when the unit is unknown."""
    if not crs.isValid():
        return ""
    unit = QgsUnitTypes.distanceToAreaUnit(crs.mapUnits())
    if unit == QgsUnitTypes.AreaUnit.AreaUnknownUnit:
        return ""
    return QgsUnitTypes.toAbbreviatedString(unit)


def _ellipsoid(crs: QgsCoordinateReferenceSystem) -> tuple[float, float] | None:
    """(semi-major axis, inverse flattening) for a geographic CRS, else None."""
    if not crs.isValid() or not crs.isGeographic():
        return None
    params = QgsEllipsoidUtils.ellipsoidParameters(crs.ellipsoidAcronym() or "EPSG:7030")
    if not params.valid or params.semiMajor <= 0:
        return (6378137.0, 298.257223563)
    return (float(params.semiMajor), float(params.inverseFlattening))
