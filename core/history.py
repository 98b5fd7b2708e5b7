"""The history of one feature across a manifest chain, from the feature indexes alone.

From a manifest, the parents are followed (each link's SHA-256 checked); between each version
and its parent the layer is diffed as ``diffversions`` does (core/diff.py: ID field, else a
checked stable key, else geometry matching), and the feature is followed to the feature it
was in the parent. Each version gets a step: present or not, its status against the older
version, the changed fields, the IoU, and the geometry where the feature index keeps it.
The dock calls ``feature_history`` for the selected feature.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .diff import DEFAULT_IOU, IndexRow, diff_features, index_rows
from .errors import InputError, LabelGuardError
from .geos import shapely
from .hashing import sha256_file
from .manifest import entries_by_key, manifest_root, read_manifest, relative_to_root
from .paths import MAX_LEVELS_UP, confine, shorten
from .progress import ProgressFn, StopFn, check_stop


@dataclass(frozen=True)
class HistoryStep:
    """The feature in one version. ``status`` compares it with the next older version:
    added (not there before, or the first version), unchanged, geometry_changed,
    attributes_changed, both_changed; ``absent`` when this version does not hold it."""

    version: str
    manifest: Path
    created_at: str
    present: bool
    status: str
    fid: Optional[int] = None
    changed_fields: Tuple[str, ...] = ()
    iou: Optional[float] = None
    matching: str = ""
    attributes: Optional[str] = None
    geometry_sha256: Optional[str] = None
    wkb: Optional[bytes] = None
    """Normalized WKB of the feature in this version, when its feature index keeps it."""


@dataclass(frozen=True)
class FeatureHistory:
    path: str
    layer: Optional[str]
    steps: Tuple[HistoryStep, ...]  # newest first
    intact: bool
    message: str = ""

    @property
    def changes(self) -> int:
        """Versions in which the feature changed (not counting the one that added it)."""
        return sum(1 for s in self.steps if s.status.endswith("_changed"))


def find_entry(
    doc: Dict[str, Any], path: Optional[str] = None, layer: Optional[str] = None
) -> Dict[str, Any]:
    """The vector entry of ``path`` (relative to the dataset root) and ``layer``; the only
    vector entry when ``path`` is None. InputError naming the choices otherwise."""
    vectors = [e for e in doc["entries"] if e["kind"] == "vector"]
    if path is None:
        if len(vectors) == 1:
            return vectors[0]
        names = ", ".join(shorten(e["path"]) for e in vectors[:6]) or "none"
        raise InputError(
            f"Manifest {doc['version']} has {len(vectors)} vector layers ({names}); choose the "
            "layer the feature belongs to."
        )
    matches = [e for e in vectors if e["path"] == path]
    if len(matches) > 1:
        matches = [e for e in matches if layer is None or e["layer"] == layer]
    if len(matches) != 1:
        raise InputError(
            f"Manifest {doc['version']} has no vector entry for '{shorten(path)}'"
            + (f" (layer {layer!r})" if layer else "")
            + "; choose a layer the manifest tracks."
        )
    return matches[0]


def locate_feature(rows: List[IndexRow], x: float, y: float) -> Optional[int]:
    """The fid of the feature whose kept geometry contains (x, y) in the layer's CRS, the
    smallest when several do; None when none does."""
    have = [r for r in rows if len(r) > 4 and r[4]]
    if not have:
        return None
    geoms = shapely.from_wkb([r[4] for r in have], on_invalid="ignore")
    inside = shapely.intersects_xy(geoms, x, y)
    if not inside.any():
        return None
    areas = shapely.area(geoms)
    best = min((areas[i], have[i][0]) for i in inside.nonzero()[0].tolist())
    return int(best[1])


def _start_fid(
    rows: List[IndexRow], fid: Optional[int], id_field: Optional[str], feature_id: Optional[str]
) -> int:
    if id_field and feature_id is not None:
        hits = [r[0] for r in rows if _text(json.loads(r[3]).get(id_field)) == feature_id]
        if len(hits) != 1:
            raise InputError(
                f"{len(hits)} features have {id_field} = {shorten(feature_id)}; the ID field "
                "must name exactly one."
            )
        return hits[0]
    if fid is None:
        raise InputError("No feature given: give a feature id, a selection or a location.")
    if not any(r[0] == fid for r in rows):
        raise InputError(f"The layer has no feature with fid {fid} in this version.")
    return fid


def _text(value: Any) -> Optional[str]:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def _step(version: Dict[str, Any], path: Path, row: Optional[IndexRow]) -> HistoryStep:
    if row is None:
        return HistoryStep(version["version"], path, version["created_at"], False, "absent")
    return HistoryStep(
        version["version"],
        path,
        version["created_at"],
        True,
        "added",
        fid=row[0],
        attributes=row[3],
        geometry_sha256=row[1],
        wkb=row[4] if len(row) > 4 else None,
    )


def feature_history(
    manifest_path: Path,
    *,
    path: Optional[str] = None,
    layer: Optional[str] = None,
    data_file: Optional[Path] = None,
    fid: Optional[int] = None,
    point: Optional[Tuple[float, float]] = None,
    id_field: Optional[str] = None,
    feature_id: Optional[str] = None,
    iou_threshold: float = DEFAULT_IOU,
    max_versions: int = 10000,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
) -> FeatureHistory:
    """History of one feature of the layer ``path``/``layer`` from the manifest at
    ``manifest_path`` back to the first version (``path`` relative to the dataset root, or
    ``data_file`` as a path on disk; neither: the manifest's only vector layer).

    The feature is ``fid`` in that manifest's version, or the one whose ``id_field`` is
    ``feature_id``, or the one at ``point`` (x, y in the layer's CRS). A broken parent link
    ends the walk with ``intact`` False and a message. Raises InputError when the feature or
    the layer cannot be found, and what ``read_manifest`` raises for the manifest itself.
    """
    current = Path(os.path.abspath(manifest_path))
    doc = read_manifest(current)
    if data_file is not None and path is None:
        path = relative_to_root(Path(data_file), manifest_root(current, doc))
    entry = find_entry(doc, path, layer)
    key = (entry["path"], entry["layer"])
    rows = index_rows(current, entry, doc["version"])
    if point is not None and fid is None and feature_id is None:
        fid = locate_feature(rows, *point)
        if fid is None:
            raise InputError(
                f"No feature of '{shorten(entry['path'])}' in version {doc['version']} lies at "
                f"({point[0]:g}, {point[1]:g}) (or the index keeps no geometry there)."
            )
    fid = _start_fid(rows, fid, id_field, feature_id)
    steps: List[HistoryStep] = [_step(doc, current, next(r for r in rows if r[0] == fid))]
    following: Optional[int] = fid
    intact, message = True, ""
    for n in range(max_versions):
        check_stop(should_stop)
        if progress is not None:
            progress(min(0.99, n / (n + 4)))  # the chain's length is known only at its end
        link = doc["parent"]
        if link is None:
            break
        try:
            ppath = confine(
                current.parent, link["path"], what="Parent link", levels_up=MAX_LEVELS_UP
            )
            if not ppath.is_file():
                raise InputError(f"Parent manifest '{link['path']}' is missing.")
            if sha256_file(ppath) != link["sha256"]:
                raise InputError(
                    f"Parent manifest '{link['path']}' was changed after version "
                    f"{doc['version']} linked it; the history stops here."
                )
            parent_doc = read_manifest(ppath)
        except LabelGuardError as exc:
            intact, message = False, str(exc)
            break
        p_entry = entries_by_key(parent_doc).get(key)
        p_row = None
        if following is not None and p_entry is not None:
            p_rows = index_rows(ppath, p_entry, parent_doc["version"])
            result = diff_features(
                p_rows,
                rows,
                id_field=id_field,
                stable_fid=entry["path"].lower().endswith(".gpkg"),
                iou_threshold=iou_threshold,
                base_label=f"'{key[0]}' of {parent_doc['version']}",
                head_label=f"'{key[0]}' of {doc['version']}",
                should_stop=should_stop,
            )
            change = next(c for c in result.changes if c.head_fid == following)
            steps[-1] = replace(
                steps[-1],
                status=change.status,
                changed_fields=change.changed_fields,
                iou=change.iou,
                matching=result.matching,
            )
            following = change.base_fid
            if following is not None:
                p_row = next(r for r in p_rows if r[0] == following)
            rows = p_rows
        else:
            following = None
        steps.append(_step(parent_doc, ppath, p_row))
        doc, current = parent_doc, ppath
    if progress is not None:
        progress(1.0)
    return FeatureHistory(entry["path"], entry["layer"], tuple(steps), intact, message)
