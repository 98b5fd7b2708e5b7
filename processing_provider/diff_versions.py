"""labelguard:diffversions: what changed between two manifests, down to single features."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
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

from ..core.content import normalized_wkb
from ..core.diff import DEFAULT_IOU, FEATURE_STATUSES, diff_features, index_rows
from ..core.errors import InputError
from ..core.manifest import (
    entry_file,
    manifest_root,
    paired_entries,
    read_manifest,
)
from ..core.progress import Ticker
from ..gdalio.vector import read_ogr
from ..render.styles import RuleStylePostProcessor
from .base import LabelGuardAlgorithm

FIELDS = (
    ("status", "str"),
    ("path", "str"),
    ("layer", "str"),
    ("feature_id", "str"),
    ("base_fid", "int"),
    ("head_fid", "int"),
    ("changed_fields", "str"),
    ("geometry_from", "str"),
    ("iou", "float"),
    ("matched_by", "str"),
)


def _geometries(
    path: Optional[Path], layer: Optional[str], wanted: Dict[int, str], should_stop
) -> Dict[int, bytes]:
    """WKB of the wanted fids whose normalized geometry hash still matches the index."""
    out: Dict[int, bytes] = {}
    if not wanted or path is None:
        return out
    try:
        batches = list(read_ogr(str(path), layer, should_stop=should_stop))
    except InputError:
        return out
    for batch in batches:
        mask = np.isin(batch.fids, np.fromiter(wanted, dtype=np.int64))
        if not mask.any():
            continue
        fids, wkbs = batch.fids[mask], batch.wkb[mask]
        for fid, raw, norm in zip(fids.tolist(), wkbs.tolist(), normalized_wkb(wkbs).tolist()):
            if norm is not None and hashlib.sha256(norm).hexdigest() == wanted[fid]:
                out[fid] = raw
    return out


def _legacy_geometries(root: Path, entry: Optional[Dict[str, Any]], key, rows, should_stop):
    """fid -> WKB from the entry's data file, for an index that keeps no geometry (built
    before indexes kept them), where the file still holds the recorded geometry."""
    if entry is None or not rows or any(len(r) > 4 and r[4] for r in rows):
        return {}
    return _geometries(entry_file(root, entry), key[1], {r[0]: r[1] for r in rows}, should_stop)


def _part(progress, n: int, total: int):
    """Progress of entry ``n`` of ``total`` (its first 90 %; fetching geometries is the rest)."""
    return lambda f: progress((n + 0.9 * f) / total)


def run_diff(
    base: Path,
    head: Path,
    id_field: Optional[str],
    iou_threshold: float = DEFAULT_IOU,
    progress=None,
    should_stop=None,
):
    """Per-entry feature changes and, where the data still holds them, their geometries."""
    base_doc, head_doc = read_manifest(base), read_manifest(head)
    base_root, head_root = manifest_root(base, base_doc), manifest_root(head, head_doc)
    b_entries, h_entries, all_keys = paired_entries(base_doc, head_doc)
    keys = [k for k in all_keys if (b_entries.get(k) or h_entries.get(k))["kind"] == "vector"]
    ticker = Ticker(max(len(keys), 1), progress, should_stop)
    rows: List[Dict[str, Any]] = []
    wkbs: List[Optional[bytes]] = []
    crs_wkts: List[Optional[str]] = []
    per_entry: Dict[str, Dict[str, Any]] = {}
    for n, key in enumerate(keys):
        b, h = b_entries.get(key), h_entries.get(key)
        b_rows = index_rows(base, b, base_doc["version"]) if b else []
        h_rows = index_rows(head, h, head_doc["version"]) if h else []
        both_gpkg = all(e is not None and e["path"].lower().endswith(".gpkg") for e in (b, h))
        result = diff_features(
            b_rows,
            h_rows,
            id_field=id_field,
            stable_fid=both_gpkg,
            iou_threshold=iou_threshold,
            base_wkb=_legacy_geometries(base_root, b, key, b_rows, should_stop),
            head_wkb=_legacy_geometries(head_root, h, key, h_rows, should_stop),
            base_label=f"'{key[0]}' of {base_doc['version']}",
            head_label=f"'{key[0]}' of {head_doc['version']}",
            progress=None if progress is None else _part(progress, n, len(keys)),
            should_stop=should_stop,
        )
        per_entry[key[0] + (f"|{key[1]}" if key[1] else "")] = {
            **result.counts(),
            "matching": result.matching,
            "key": result.key,
            "note": result.note,
        }
        # Geometries kept in the indexes first; the data files only for what they lack.
        head_g = {r[0]: r[4] for r in h_rows if r[4]}
        base_g = {r[0]: r[4] for r in b_rows if r[4]}
        h_geom = {r[0]: r[1] for r in h_rows}
        b_geom = {r[0]: r[1] for r in b_rows}
        head_wanted = {
            c.head_fid: h_geom[c.head_fid]
            for c in result.changes
            if c.head_fid is not None and c.head_fid not in head_g
        }
        base_wanted = {
            c.base_fid: b_geom[c.base_fid]
            for c in result.changes
            if c.head_fid is None and c.base_fid is not None and c.base_fid not in base_g
        }
        if h:
            head_g.update(_geometries(entry_file(head_root, h), key[1], head_wanted, should_stop))
        if b:
            base_g.update(_geometries(entry_file(base_root, b), key[1], base_wanted, should_stop))
        crs = (h or b)["crs"]
        for c in result.changes:
            geom, source = None, ""
            if c.head_fid is not None and c.head_fid in head_g:
                geom, source = head_g[c.head_fid], "head"
            elif c.base_fid is not None and c.base_fid in base_g:
                geom, source = base_g[c.base_fid], "base"
            rows.append(
                {
                    "status": c.status,
                    "path": key[0],
                    "layer": key[1],
                    "feature_id": None
                    if c.feature_id is None
                    else json.dumps(c.feature_id)
                    if not isinstance(c.feature_id, str)
                    else c.feature_id,
                    "base_fid": c.base_fid,
                    "head_fid": c.head_fid,
                    "changed_fields": ",".join(c.changed_fields),
                    "geometry_from": source,
                    "iou": None if c.iou is None else round(c.iou, 6),
                    "matched_by": result.matching,
                }
            )
            wkbs.append(geom)
            crs_wkts.append(None if crs is None else crs["wkt2"])
        ticker.advance()
    return rows, wkbs, crs_wkts, per_entry, (base_doc["version"], head_doc["version"])


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
            )
        }
        dest = written[self.OUTPUT]
        if dest is not None and context.willLoadLayerOnCompletion(dest):
            details = context.layerToLoadOnCompletionDetails(dest)
            details.setPostProcessor(RuleStylePostProcessor.create("diff"))
        counts = {s: 0 for s in FEATURE_STATUSES}
        for r in rows:
            counts[r["status"]] += 1
        findings = [
            dict(rule=r["status"], severity="info", message=_message(r), location=None, **r)
            for r in rows
            if r["status"] != "unchanged"
        ]
        extra = {
            "base": str(base),
            "head": str(head),
            "versions": list(versions),
            "id_field": id_field,
            "iou_threshold": iou,
            "matching": sorted({info["matching"] for info in per_entry.values()}),
            "per_layer": per_entry,
        }
        written[self.REPORT] = self.write_report(parameters, context, findings, counts, extra)
        for name in FEATURE_STATUSES:
            feedback.pushInfo(f"{name}: {counts[name]}")
        modified = (
            counts["geometry_changed"] + counts["attributes_changed"] + counts["both_changed"]
        )
        results = {
            self.ADDED: counts["added"],
            self.REMOVED: counts["removed"],
            self.MODIFIED: modified,
            self.UNCHANGED: counts["unchanged"],
            "GEOMETRY_CHANGED": counts["geometry_changed"],
            "ATTRIBUTES_CHANGED": counts["attributes_changed"],
            "BOTH_CHANGED": counts["both_changed"],
        }
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


def _message(row: Dict[str, Any]) -> str:
    who = (
        f"feature {row['feature_id']}"
        if row["feature_id"] is not None
        else (f"feature fid {row['head_fid'] if row['head_fid'] is not None else row['base_fid']}")
    )
    text = f"{row['path']}: {who} {row['status'].replace('_', ' ')}"
    if row["changed_fields"]:
        text += f" ({row['changed_fields']})"
    if row["iou"] is not None and row["status"] != "unchanged":
        text += f", IoU {row['iou']:.3f}"
    return text
