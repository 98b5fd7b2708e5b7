"""labelguard:diffversions: what changed between two manifests, down to single features."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterString,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.diff import DEFAULT_IOU, FEATURE_STATUSES
from ..core.versioning import DIFF_FIELDS as FIELDS
from ..core.versioning import diff_outcome
from ..gdalio.versioning import run_diff
from .base import LabelGuardAlgorithm


class DiffVersionsAlgorithm(LabelGuardAlgorithm):
    GROUP_ID = "versioning"
    NAME = "diffversions"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("DiffVersionsAlgorithm", "Compare dataset versions")
    HELP = QT_TRANSLATE_NOOP(
        "DiffVersionsAlgorithm",
        "Compares two version manifests feature by feature, using the per-feature hashes "
        "stored when the manifests were built (the data files of the old version need not "
        "exist any more).\n\n"
        "With an ID field, features are matched by its value and classified as added, "
        "removed, unchanged, geometry_changed, attributes_changed or both_changed; "
        "changed_fields lists the attributes that differ.\n\n"
        "Without an ID field, a stable key is used when the data has one, and checked first: "
        "the GeoPackage fid when both versions are GeoPackages, or a unique integer field "
        "named like an id (id, label_id, uuid, ...) or a UUID field present in both "
        "versions. The key counts as stable only when the features whose geometry did not "
        "change kept it (99 %). Otherwise features are matched by geometry: identical "
        "features, then identical geometries (a reclassified label), then polygons whose "
        "intersection over union (IoU) reaches the IoU threshold, in the same class first "
        "(when a class, label or category field exists), then in any class, one-to-one, "
        "best IoU first. A moved, reshaped or reclassified label is then geometry_changed, "
        "attributes_changed or both_changed; only truly new or deleted ones are added or "
        "removed. Points and lines match by identical geometry only. The log, the report "
        "(per_layer matching and note) and the matched_by field say which matching was "
        "used; the iou field holds the IoU of each matched pair.\n\n"
        "OUTPUT holds one feature per compared feature with its status; its geometry is "
        "the one the feature index keeps (head version first, then base), else the one in "
        "the current data file when that still holds the recorded geometry, otherwise "
        "empty.\n\n"
        "Outputs: ADDED, REMOVED, MODIFIED (any change), UNCHANGED, and the three kinds of "
        "modification separately.",
    )
    BASE = "BASE"
    HEAD = "HEAD"
    ID_FIELD = "ID_FIELD"
    IOU_THRESHOLD = "IOU_THRESHOLD"
    OUTPUT = "OUTPUT"
    ADDED = "ADDED"
    REMOVED = "REMOVED"
    MODIFIED = "MODIFIED"
    UNCHANGED = "UNCHANGED"

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        self.add(
            QgsProcessingParameterFile(
                self.BASE, self.tr("Base manifest (older)"), extension="json"
            ),
            self.tr("Manifest of the version to compare from."),
        )
        self.add(
            QgsProcessingParameterFile(
                self.HEAD, self.tr("Head manifest (newer)"), extension="json"
            ),
            self.tr("Manifest of the version to compare to."),
        )
        self.add(
            QgsProcessingParameterString(self.ID_FIELD, self.tr("ID field"), optional=True),
            self.tr(
                "Attribute that identifies a feature across versions (unique, never "
                "empty). Leave empty to use a stable key found in the data (checked), "
                "else geometry matching."
            ),
        )
        self.add_number(
            self.IOU_THRESHOLD,
            self.tr("IoU threshold for geometry matching"),
            DEFAULT_IOU,
            0.01,
            1.0,
            self.tr(
                "Without an ID field or stable key, two polygons are the same label when "
                "their intersection over union is at least this fraction (0-1). Lower it "
                "to pair labels that moved further."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT, self.tr("Feature changes"), optional=True, createByDefault=True
            ),
            self.tr("One feature per compared feature with status, ids and changed fields."),
        )
        self.add_report(
            self.tr(
                "Optional JSON report (labelguard.report/1) of every changed feature "
                "and counts per layer."
            )
        )
        self.add_counts(
            (self.ADDED, self.tr("Added")),
            (self.REMOVED, self.tr("Removed")),
            (self.MODIFIED, self.tr("Modified (any change)")),
            (self.UNCHANGED, self.tr("Unchanged")),
            ("GEOMETRY_CHANGED", self.tr("Geometry changed")),
            ("ATTRIBUTES_CHANGED", self.tr("Attributes changed")),
            ("BOTH_CHANGED", self.tr("Geometry and attributes changed")),
        )

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> Dict[str, Any]:
        base = Path(self.parameterAsFile(parameters, self.BASE, context))
        head = Path(self.parameterAsFile(parameters, self.HEAD, context))
        id_field = self.parameterAsString(parameters, self.ID_FIELD, context).strip() or None
        iou = self.parameterAsDouble(parameters, self.IOU_THRESHOLD, context)
        rows, wkbs, crs_wkts, per_entry, versions = self.run_core(
            feedback, run_diff, base, head, id_field, iou
        )
        feedback.pushInfo(self.tr("Compared {} → {}").format(*versions))
        for layer, info in per_entry.items():
            feedback.pushInfo(self.tr("{}: {}").format(layer, info["note"]))
        geoms, wkb_type, target = _sink_geometries(wkbs, crs_wkts, context)
        written: Dict[str, Any] = {
            self.OUTPUT: self.write_sink(
                parameters,
                context,
                self.OUTPUT,
                FIELDS,
                (([r[n] for n, _ in FIELDS], g) for r, g in zip(rows, geoms)),
                wkb_type=wkb_type,
                crs=target,
                feedback=feedback,
                style="diff",
            )
        }
        outcome = diff_outcome(base, head, id_field, rows, per_entry, versions, iou)
        counts = outcome.counts
        written[self.REPORT] = self.write_report(
            parameters, context, outcome.findings, counts, outcome.extra
        )
        for name in FEATURE_STATUSES:
            feedback.pushInfo(f"{name}: {counts[name]}")
        results = dict(outcome.results)
        return self.finish(parameters, context, results, optional=written)


def _sink_geometries(
    wkbs: List[Optional[bytes]], crs_wkts: List[Optional[str]], context: QgsProcessingContext
) -> Tuple[List[Optional[QgsGeometry]], Any, QgsCoordinateReferenceSystem]:
    """(geometries in one CRS, the sink's geometry type, that CRS): the first CRS seen is the
    target, the others are reprojected to it; mixed geometry types give an Unknown sink."""
    target_wkt = next((w for w in crs_wkts if w), None)
    target = (
        QgsCoordinateReferenceSystem.fromWkt(target_wkt)
        if target_wkt
        else QgsCoordinateReferenceSystem()
    )
    geoms: List[Optional[QgsGeometry]] = []
    transforms: Dict[str, QgsCoordinateTransform] = {}
    wkb_types = set()
    for raw, wkt in zip(wkbs, crs_wkts):
        if raw is None:
            geoms.append(None)
            continue
        g = QgsGeometry()
        g.fromWkb(raw)
        if wkt and wkt != target_wkt:
            if wkt not in transforms:
                transforms[wkt] = QgsCoordinateTransform(
                    QgsCoordinateReferenceSystem.fromWkt(wkt), target, context.project()
                )
            g.transform(transforms[wkt])
        wkb_types.add(QgsWkbTypes.multiType(g.wkbType()))
        geoms.append(g)
    wkb_type = wkb_types.pop() if len(wkb_types) == 1 else QgsWkbTypes.Type.Unknown
    if wkb_type != QgsWkbTypes.Type.Unknown:
        geoms = [None if g is None else _to_multi(g) for g in geoms]
    return geoms, wkb_type, target


def _to_multi(g: QgsGeometry) -> QgsGeometry:
    g = QgsGeometry(g)
    g.convertToMultiType()
    return g
