"""labelguard:featurehistory: the history of one label across the manifest chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterPoint,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.diff import DEFAULT_IOU
from ..core.history import feature_history, find_entry
from ..core.manifest import manifest_root, read_manifest, relative_to_root
from .base import LabelGuardAlgorithm
from .compat import TYPE_VECTOR_ANY
from .layers import layer_file

FIELDS = (
    ("version", "str"),
    ("created_at", "str"),
    ("manifest", "str"),
    ("present", "bool"),
    ("status", "str"),
    ("feature_fid", "int"),
    ("changed_fields", "str"),
    ("iou", "float"),
    ("matched_by", "str"),
    ("attributes", "str"),
    ("geometry_kept", "bool"),
)


class FeatureHistoryAlgorithm(LabelGuardAlgorithm):
    GROUP_ID = "versioning"
    NAME = "featurehistory"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("FeatureHistoryAlgorithm", "Feature history")
    HELP = QT_TRANSLATE_NOOP(
        "FeatureHistoryAlgorithm",
        "Which version changed this label, and what did it look like before? From a "
        "manifest, follows the parent manifests back to the first version (each link's "
        "SHA-256 checked) and follows one feature through them, using only the manifests "
        "and their feature indexes: the data files of old versions need not exist.\n\n"
        "The feature is given by its id (FEATURE_ID: the fid in the manifest's version, or "
        "a value of ID_FIELD), else by location (POINT: the feature there), else by the "
        "one selected feature of INPUT. Between each version and its parent, features are "
        "paired as Compare dataset versions pairs them (ID field, else a checked stable key, "
        "else geometry matching by IoU).\n\n"
        "OUTPUT holds one feature per version, newest first: present or not, its status "
        "against the older version (added, unchanged, geometry_changed, attributes_changed, "
        "both_changed; absent when that version does not hold it), the changed fields, the "
        "IoU, its attributes, and its geometry in that version where the feature index "
        "keeps it (geometries up to 1 KiB of WKB; larger ones keep only their hash). A "
        "broken parent link ends the history with a warning.\n\n"
        "Outputs: VERSION_COUNT, PRESENT_COUNT, CHANGE_COUNT (versions that changed it).",
    )
    MANIFEST = "MANIFEST"
    INPUT = "INPUT"
    FEATURE_ID = "FEATURE_ID"
    ID_FIELD = "ID_FIELD"
    POINT = "POINT"
    IOU_THRESHOLD = "IOU_THRESHOLD"
    OUTPUT = "OUTPUT"
    VERSION_COUNT = "VERSION_COUNT"
    PRESENT_COUNT = "PRESENT_COUNT"
    CHANGE_COUNT = "CHANGE_COUNT"

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        self.add(
            QgsProcessingParameterFile(self.MANIFEST, self.tr("Manifest"), extension="json"),
            self.tr("Manifest of the newest version to start from; its parents are followed."),
        )
        self.add(
            QgsProcessingParameterVectorLayer(
                self.INPUT, self.tr("Layer"), [TYPE_VECTOR_ANY], optional=True
            ),
            self.tr(
                "The layer the feature belongs to (its data file must be tracked by the "
                "manifest). Its one selected feature is used when neither a feature id nor "
                "a location is given. Empty: the manifest's only vector layer."
            ),
        )
        self.add(
            QgsProcessingParameterString(self.FEATURE_ID, self.tr("Feature id"), optional=True),
            self.tr(
                "The feature's fid in the manifest's version, or its value of ID field "
                "when one is given."
            ),
        )
        self.add(
            QgsProcessingParameterString(self.ID_FIELD, self.tr("ID field"), optional=True),
            self.tr(
                "Attribute that identifies features across versions, as in Compare "
                "dataset versions. Empty: a checked stable key, else geometry matching."
            ),
        )
        self.add(
            QgsProcessingParameterPoint(self.POINT, self.tr("Location"), optional=True),
            self.tr(
                "A point on the feature (any CRS; it is transformed to the layer's). Used "
                "when no feature id is given; the smallest feature there is taken."
            ),
        )
        self.add_number(
            self.IOU_THRESHOLD,
            self.tr("IoU threshold for geometry matching"),
            DEFAULT_IOU,
            0.01,
            1.0,
            self.tr(
                "Without an ID field or stable key, a polygon in the parent version is the "
                "same label when the intersection over union is at least this fraction."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT, self.tr("Feature history"), optional=True, createByDefault=True
            ),
            self.tr("One feature per version, newest first, with its geometry in that version."),
        )
        self.add_report(
            self.tr("Optional JSON report (labelguard.report/1) with one finding per version.")
        )
        self.add_counts(
            (self.VERSION_COUNT, self.tr("Versions")),
            (self.PRESENT_COUNT, self.tr("Versions holding the feature")),
            (self.CHANGE_COUNT, self.tr("Versions that changed it")),
        )

    def _feature(
        self, parameters: Dict[str, Any], context: QgsProcessingContext, manifest: Path
    ) -> Dict[str, Any]:
        """Keyword arguments of feature_history naming the layer and the feature."""
        doc = self.call(read_manifest, manifest)
        kwargs: Dict[str, Any] = {}
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        if layer is not None:
            data_file, sublayer = layer_file(layer)
            rel = self.call(relative_to_root, data_file, manifest_root(manifest, doc))
            kwargs.update(path=rel, layer=sublayer)
        entry = self.call(find_entry, doc, kwargs.get("path"), kwargs.get("layer"))
        text = self.parameterAsString(parameters, self.FEATURE_ID, context).strip()
        id_field = self.parameterAsString(parameters, self.ID_FIELD, context).strip() or None
        kwargs["id_field"] = id_field
        if text:
            if id_field:
                kwargs["feature_id"] = text
            else:
                try:
                    kwargs["fid"] = int(text)
                except ValueError:
                    raise QgsProcessingException(
                        self.tr(
                            "Feature id '{}' is not a fid; give ID field to look it up by an "
                            "attribute."
                        ).format(text)
                    ) from None
        elif parameters.get(self.POINT):
            crs = _entry_crs(entry)
            p = self.parameterAsPoint(parameters, self.POINT, context, crs)
            kwargs["point"] = (p.x(), p.y())
        elif layer is not None:
            selected = sorted(layer.selectedFeatureIds())
            if len(selected) != 1:
                raise QgsProcessingException(
                    self.tr(
                        "Layer '{}' has {} selected features; select exactly one, or give a "
                        "feature id or a location."
                    ).format(layer.name(), len(selected))
                )
            kwargs["fid"] = selected[0]
        else:
            raise QgsProcessingException(
                self.tr("No feature given: set Feature id, Location, or select one feature.")
            )
        return kwargs

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> Dict[str, Any]:
        manifest = Path(self.parameterAsFile(parameters, self.MANIFEST, context))
        kwargs = self._feature(parameters, context, manifest)
        iou = self.parameterAsDouble(parameters, self.IOU_THRESHOLD, context)
        history = self.run_core(feedback, feature_history, manifest, iou_threshold=iou, **kwargs)
        if not history.intact:
            feedback.pushWarning(self.tr("History incomplete: {}").format(history.message))
        entry = find_entry(read_manifest(manifest), history.path, history.layer)
        wkb_type, geoms = _geometries(history.steps)
        sink_rows = (
            (
                [
                    s.version,
                    s.created_at,
                    str(s.manifest),
                    s.present,
                    s.status,
                    s.fid,
                    ",".join(s.changed_fields),
                    s.iou,
                    s.matching,
                    s.attributes,
                    s.wkb is not None,
                ],
                g,
            )
            for s, g in zip(history.steps, geoms)
        )
        written = {
            self.OUTPUT: self.write_sink(
                parameters,
                context,
                self.OUTPUT,
                FIELDS,
                sink_rows,
                wkb_type=wkb_type,
                crs=_entry_crs(entry),
                feedback=feedback,
            )
        }
        for s in history.steps:
            feedback.pushInfo(
                self.tr("{}: {}{}").format(
                    s.version,
                    s.status.replace("_", " "),
                    f" ({', '.join(s.changed_fields)})" if s.changed_fields else "",
                )
            )
        findings = [
            {
                "rule": s.status,
                "severity": "info",
                "message": f"{history.path}: version {s.version}: {s.status.replace('_', ' ')}",
                "location": None if s.wkb is None else _wkt(s.wkb),
                "version": s.version,
                "present": s.present,
                "fid": s.fid,
                "changed_fields": list(s.changed_fields),
                "iou": s.iou,
                "matched_by": s.matching,
                "attributes": s.attributes,
            }
            for s in history.steps
        ]
        present = sum(1 for s in history.steps if s.present)
        counts = {"versions": len(history.steps), "present": present, "changes": history.changes}
        extra = {"path": history.path, "layer": history.layer, "intact": history.intact}
        written[self.REPORT] = self.write_report(parameters, context, findings, counts, extra)
        results = {
            self.VERSION_COUNT: len(history.steps),
            self.PRESENT_COUNT: present,
            self.CHANGE_COUNT: history.changes,
        }
        return self.finish(parameters, context, results, optional=written)


def _entry_crs(entry: Dict[str, Any]) -> QgsCoordinateReferenceSystem:
    if entry["crs"] is None:
        return QgsCoordinateReferenceSystem()
    return QgsCoordinateReferenceSystem.fromWkt(entry["crs"]["wkt2"])


def _geometries(steps) -> Tuple[Any, list]:
    geoms = []
    types = set()
    for s in steps:
        g: Optional[QgsGeometry] = None
        if s.wkb is not None:
            g = QgsGeometry()
            g.fromWkb(s.wkb)
            g.convertToMultiType()
            types.add(g.wkbType())
        geoms.append(g)
    if not types:
        return QgsWkbTypes.Type.NoGeometry, geoms
    return (types.pop() if len(types) == 1 else QgsWkbTypes.Type.Unknown), geoms


def _wkt(wkb: bytes) -> str:
    g = QgsGeometry()
    g.fromWkb(wkb)
    return g.asWkt(7)
