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

from ..core.content import normalized_wkb, read_feature_index
from ..core.diff import FEATURE_STATUSES, diff_features
from ..core.errors import InputError
from ..core.manifest import (
    entry_file,
    load_feature_index,
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
)


def _index(manifest: Path, entry: Dict[str, Any], label: str):
    data = load_feature_index(manifest, entry)
    if data is None:
        raise InputError(
            f"Manifest {label} has no per-feature hashes for '{entry['path']}' "
            "(built with 'Store per-feature hashes' off); rebuild it to compare "
            "features."
        )
    return read_feature_index(data, f"Feature index of '{entry['path']}' in manifest {label}")


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


def run_diff(base: Path, head: Path, id_field: Optional[str], progress=None, should_stop=None):
    """Per-entry feature changes and, where the data still holds them, their geometries."""
    base_doc, head_doc = read_manifest(base), read_manifest(head)
    base_root, head_root = manifest_root(base, base_doc), manifest_root(head, head_doc)
    b_entries, h_entries, all_keys = paired_entries(base_doc, head_doc)
    keys = [k for k in all_keys if (b_entries.get(k) or h_entries.get(k))["kind"] == "vector"]
    ticker = Ticker(max(len(keys), 1), progress, should_stop)
    rows: List[Dict[str, Any]] = []
    wkbs: List[Optional[bytes]] = []
    crs_wkts: List[Optional[str]] = []
    per_entry: Dict[str, Dict[str, int]] = {}
    for key in keys:
        b, h = b_entries.get(key), h_entries.get(key)
        b_rows = _index(base, b, base_doc["version"]) if b else []
        h_rows = _index(head, h, head_doc["version"]) if h else []
        result = diff_features(
            b_rows,
            h_rows,
            id_field=id_field,
            base_label=f"'{key[0]}' of {base_doc['version']}",
            head_label=f"'{key[0]}' of {head_doc['version']}",
            should_stop=should_stop,
        )
        per_entry[key[0] + (f"|{key[1]}" if key[1] else "")] = result.counts()
        h_geom = {r[0]: r[1] for r in h_rows}
        b_geom = {r[0]: r[1] for r in b_rows}
        head_wanted = {
            c.head_fid: h_geom[c.head_fid] for c in result.changes if c.head_fid is not None
        }
        base_wanted = {
            c.base_fid: b_geom[c.base_fid]
            for c in result.changes
            if c.head_fid is None and c.base_fid is not None
        }
        head_g = (
            _geometries(entry_file(head_root, h), key[1], head_wanted, should_stop) if h else {}
        )
        base_g = (
            _geometries(entry_file(base_root, b), key[1], base_wanted, should_stop) if b else {}
        )
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
        "changed_fields lists the attributes that differ. Without an ID field, features "
        "can only be matched by content: identical features are unchanged, everything "
        "else is added or removed.\n\n"
        "OUTPUT holds one feature per compared feature with its status; its geometry is "
        "taken from the current data file when that still holds the recorded geometry "
        "(head version first, then base), otherwise it is empty.\n\n"
        "Outputs: ADDED, REMOVED, MODIFIED (any change), UNCHANGED, and the three kinds of "
        "modification separately.",
    )
    BASE = "BASE"
    HEAD = "HEAD"
    ID_FIELD = "ID_FIELD"
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
                "empty). Leave empty to match by content only."
            ),
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
        rows, wkbs, crs_wkts, per_entry, versions = self.run_core(
            feedback, run_diff, base, head, id_field
        )
        feedback.pushInfo(self.tr("Compared {} → {}").format(*versions))
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
    return text
