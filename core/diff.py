"""Feature-level differences between two dataset versions, from their feature indexes.

Features are paired, then classified as unchanged, geometry_changed, attributes_changed or
both_changed (plus added / removed). How they are paired is the ``matching`` of the result:

- ``id_field``: by the value of the ID field the user named;
- ``fid`` / ``key_field``: by a stable key found in the data, when the caller gives no ID field:
  the GeoPackage fid, or a unique integer (named like an id) or UUID field present in both
  versions. A key is used only when it is checked: features whose geometry is identical and
  unique in both versions must carry the same key (``KEY_AGREEMENT`` of them);
- ``geometry``: otherwise identical features pair first, then identical geometries (a
  reclassified label), then the remaining polygons by intersection over union (IoU at least
  the threshold; same class first when there is a class field, then any class), one-to-one,
  best IoU first;
- ``content``: as ``geometry`` when the feature indexes keep no geometry (built before they
  did): only identical features and identical geometries pair.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .content import read_feature_index
from .errors import InputError, SchemaError
from .geos import shapely
from .manifest import load_feature_index
from .paths import shorten
from .progress import ProgressFn, StopFn, check_stop
from .sidecar import guess_class_field

FEATURE_STATUSES = (
    "added",
    "removed",
    "unchanged",
    "geometry_changed",
    "attributes_changed",
    "both_changed",
)
MATCHINGS = ("id_field", "fid", "key_field", "geometry", "content")
IndexRow = Tuple[Any, ...]  # fid, geometry hash, attributes hash, attributes JSON[, kept WKB]
DEFAULT_IOU = 0.5
KEY_AGREEMENT = 0.99
_NULL_GEOMETRY = hashlib.sha256(b"null").hexdigest()  # as core.content hashes a null geometry
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\Z"
)
_ID_NAME = re.compile(r"(id|uuid|guid|key)\Z", re.IGNORECASE)
_CHUNK = 65536


class FeatureChange(NamedTuple):
    # A NamedTuple, not a frozen dataclass: a diff of a million features makes a million of
    # them, and a dataclass's __init__ costs three times as much.
    status: str
    base_fid: Optional[int]
    head_fid: Optional[int]
    feature_id: Any = None
    changed_fields: Tuple[str, ...] = ()
    iou: Optional[float] = None
    """Intersection over union of the two geometries (0-1) when matched by geometry."""

    @property
    def modified(self) -> bool:
        return self.status in ("geometry_changed", "attributes_changed", "both_changed")


@dataclass
class DiffResult:
    changes: List[FeatureChange] = field(default_factory=list)
    matching: str = "content"
    key: Optional[str] = None
    """The ID field or stable key (``fid`` or a field name); the class field for geometry."""
    note: str = ""
    """One sentence for users: how features were paired and why."""

    def counts(self) -> Dict[str, int]:
        c = {s: 0 for s in FEATURE_STATUSES}
        for ch in self.changes:
            c[ch.status] += 1
        return c


def _attributes(text: str, label: str) -> Dict[str, Any]:
    """The attributes JSON of an index row; SchemaError naming ``label`` when it is not one."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise SchemaError(
            f"The feature index of {label} holds attributes that are not a JSON object "
            f"({shorten(text, 60)}); rebuild the manifest."
        )
    return value


def _parse_all(texts: List[str], label: str) -> List[Dict[str, Any]]:
    """Every attributes JSON of an index, parsed in one call (a million json.loads calls take
    five seconds, one call over the joined array a fifth of that); row by row only to name a
    bad row."""
    try:
        values = json.loads("[" + ",".join(texts) + "]") if texts else []
    except (ValueError, RecursionError):
        values = None
    if (
        values is None or len(values) != len(texts) or not all(type(v) is dict for v in values)  # noqa: E721 (exact type, fast)
    ):
        return [_attributes(t, label) for t in texts]
    return values


class _Side:
    """One version's rows, with attributes parsed on first use."""

    def __init__(self, rows: Sequence[IndexRow], label: str, wkb: Optional[Mapping[int, bytes]]):
        self.rows = rows
        self.label = label
        self.extra_wkb = wkb or {}
        self._attrs: Optional[List[Dict[str, Any]]] = None

    def attrs(self) -> List[Dict[str, Any]]:
        if self._attrs is None:
            self._attrs = _parse_all([r[3] for r in self.rows], self.label)
        return self._attrs

    def wkb(self, i: int) -> Optional[bytes]:
        row = self.rows[i]
        if len(row) > 4 and row[4]:
            return row[4]
        return self.extra_wkb.get(row[0])


def _ids(side: _Side, id_field: str) -> Dict[str, int]:
    """JSON text of each feature's ID value -> row index; InputError when unusable."""
    by_id: Dict[str, int] = {}
    dup: Counter = Counter()
    missing_field = 0
    nulls = 0
    for i, attrs in enumerate(side.attrs()):
        if id_field not in attrs:
            missing_field += 1
            continue
        value = attrs[id_field]
        if value is None:
            nulls += 1
            continue
        key = json.dumps(value, sort_keys=True)
        if key in by_id:
            dup[key] += 1
        by_id[key] = i
    label = side.label
    if side.rows and missing_field == len(side.rows):
        raise InputError(f"ID field '{id_field}' does not exist in {label}.")
    if dup:
        value, n = dup.most_common(1)[0]
        raise InputError(
            f"ID field '{id_field}' is not unique in {label}: value {value} appears {n + 1} "
            f"times ({len(dup)} duplicated values). Choose a unique field, or leave ID field "
            "empty to match features by a stable key or by geometry."
        )
    if nulls:
        raise InputError(
            f"ID field '{id_field}' is empty for {nulls} feature(s) in {label}; "
            "every feature needs an ID to be matched."
        )
    return by_id


_MISSING = object()


def _changed_fields(da: Dict[str, Any], db: Dict[str, Any]) -> Tuple[str, ...]:
    out = [k for k, v in da.items() if db.get(k, _MISSING) != v]
    out.extend(k for k in db if k not in da)
    return tuple(sorted(out))


def _status(b: IndexRow, h: IndexRow) -> str:
    geom, attrs = b[1] != h[1], b[2] != h[2]
    if geom and attrs:
        return "both_changed"
    if geom:
        return "geometry_changed"
    return "attributes_changed" if attrs else "unchanged"


def _pair(base: _Side, head: _Side, i: int, j: int, fid_value: Any, iou: Optional[float]):
    b, h = base.rows[i], head.rows[j]
    status = _status(b, h)
    fields = _changed_fields(base.attrs()[i], head.attrs()[j]) if b[2] != h[2] else ()
    return FeatureChange(status, b[0], h[0], fid_value, fields, iou)


def _keyed(
    base: _Side,
    head: _Side,
    b_keys: Mapping[Any, int],
    h_keys: Mapping[Any, int],
    value: Callable[[Any], Any],
) -> List[FeatureChange]:
    out: List[FeatureChange] = []
    for key in sorted(set(b_keys) | set(h_keys)):
        i, j = b_keys.get(key), h_keys.get(key)
        if i is None:
            out.append(FeatureChange("added", None, head.rows[j][0], value(key)))
        elif j is None:
            out.append(FeatureChange("removed", base.rows[i][0], None, value(key)))
        else:
            out.append(_pair(base, head, i, j, value(key), None))
    return out


# --- stable keys -------------------------------------------------------------------------


def _evidence(base: _Side, head: _Side) -> List[Tuple[int, int]]:
    """(base row, head row) of features whose geometry is identical and unique in both."""
    bc = Counter(r[1] for r in base.rows)
    hc = Counter(r[1] for r in head.rows)
    b_at = {r[1]: i for i, r in enumerate(base.rows) if bc[r[1]] == 1 and r[1] != _NULL_GEOMETRY}
    return [(b_at[r[1]], j) for j, r in enumerate(head.rows) if hc[r[1]] == 1 and r[1] in b_at]


def _agrees(evidence: Sequence[Tuple[int, int]], b_key: Sequence[Any], h_key: Sequence[Any]):
    same = sum(1 for i, j in evidence if b_key[i] == h_key[j])
    return same >= KEY_AGREEMENT * len(evidence), same


def _key_column(side: _Side, name: str) -> Optional[List[Any]]:
    """The field's values when every feature has a unique integer or UUID value, else None."""
    values = [a.get(name) for a in side.attrs()]
    if not values:
        return None
    if all(type(v) is int for v in values):
        if not _ID_NAME.search(name):
            return None  # a unique count or area is no identity
    elif not all(isinstance(v, str) and _UUID.match(v) for v in values):
        return None
    if len(set(values)) != len(values):
        return None
    return [v.lower().replace("-", "") if isinstance(v, str) else v for v in values]


def _stable_key(
    base: _Side, head: _Side, stable_fid: bool
) -> Tuple[Optional[str], Optional[Tuple[List[Any], List[Any]]], str]:
    """(key name or None, (base keys, head keys), note). ``fid`` is the GeoPackage fid."""
    if not base.rows or not head.rows:
        return None, None, "one version is empty"
    evidence = _evidence(base, head)
    if not evidence:
        return None, None, "no feature kept its geometry, so no key could be checked"
    tried: List[str] = []
    if stable_fid:
        bk, hk = [r[0] for r in base.rows], [r[0] for r in head.rows]
        ok, same = _agrees(evidence, bk, hk)
        if ok:
            return (
                "fid",
                (bk, hk),
                (
                    f"the GeoPackage fid is kept between the versions ({same} of {len(evidence)} "
                    "features with an unchanged geometry keep their fid)"
                ),
            )
        tried.append(f"fid ({same} of {len(evidence)} unchanged geometries keep it)")
    names = sorted(
        set(base.attrs()[0]) & set(head.attrs()[0]), key=lambda n: (n.lower() != "id", n)
    )
    for name in names:
        bk2 = _key_column(base, name)
        hk2 = _key_column(head, name) if bk2 is not None else None
        if bk2 is None or hk2 is None:
            continue
        ok, same = _agrees(evidence, bk2, hk2)
        if ok:
            return (
                name,
                (bk2, hk2),
                (
                    f"field '{name}' is unique in both versions and kept ({same} of "
                    f"{len(evidence)} features with an unchanged geometry keep it)"
                ),
            )
        tried.append(f"'{name}' ({same} of {len(evidence)} unchanged geometries keep it)")
    why = "no unique id field in both versions" if not tried else "not kept: " + ", ".join(tried)
    return None, None, f"no stable key ({why})"


# --- geometry matching -------------------------------------------------------------------


def _group_pairs(
    base: _Side, head: _Side, bl: List[int], hl: List[int], key: Callable[[IndexRow], Any]
) -> Tuple[List[Tuple[int, int]], List[int], List[int]]:
    """One-to-one pairs of rows with equal ``key`` (lowest fids together); the rest.

    ``bl`` and ``hl`` ascend, and index rows are sorted by fid, so equal keys pair in fid
    order without sorting."""
    b_first: Dict[Any, int] = {}
    b_more: Dict[Any, List[int]] = defaultdict(list)
    brows, hrows = base.rows, head.rows
    for i in bl:
        k = key(brows[i])
        if k is None:
            continue
        if k in b_first:
            b_more[k].append(i)
        else:
            b_first[k] = i
    h_first: Dict[Any, int] = {}
    h_more: Dict[Any, List[int]] = defaultdict(list)
    for j in hl:
        k = key(hrows[j])
        if k is None:
            continue
        if k in h_first:
            h_more[k].append(j)
        else:
            h_first[k] = j
    pairs: List[Tuple[int, int]] = []
    for k, i in b_first.items():
        j = h_first.get(k)
        if j is None:
            continue
        pairs.append((i, j))
        if k in b_more or k in h_more:
            pairs.extend(zip(b_more.get(k, ()), h_more.get(k, ())))
    used_b = {i for i, _ in pairs}
    used_h = {j for _, j in pairs}
    return pairs, [i for i in bl if i not in used_b], [j for j in hl if j not in used_h]


def _polygons(side: _Side, idx: List[int]) -> Tuple[np.ndarray, np.ndarray]:
    """(row indexes, geometries) of the rows whose kept WKB is a polygon with an area."""
    wkbs = [side.wkb(i) for i in idx]
    have = np.fromiter((w is not None for w in wkbs), bool, len(wkbs))
    rows = np.asarray(idx, dtype=np.int64)[have]
    raw = np.empty(int(have.sum()), dtype=object)
    raw[:] = [w for w in wkbs if w is not None]
    geoms = shapely.from_wkb(raw, on_invalid="ignore") if len(raw) else raw
    if len(geoms):
        bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
        if bad.any():
            geoms[bad] = shapely.make_valid(geoms[bad])
        keep = shapely.area(geoms) > 0
        rows, geoms = rows[keep], geoms[keep]
    return rows, geoms


def iou_candidates(
    bg: np.ndarray,
    hg: np.ndarray,
    threshold: float,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(base index, head index, IoU) of every pair of polygons with IoU >= ``threshold``.

    STRtree query per chunk of base polygons, a bounding-box bound (the intersection is at most
    the boxes' overlap and the smaller area) drops most pairs before the exact intersection.
    """
    tree = shapely.STRtree(hg)
    a_b, a_h = shapely.area(bg), shapely.area(hg)
    bb, hb = shapely.bounds(bg), shapely.bounds(hg)
    out_b, out_h, out_iou = [], [], []
    for start in range(0, len(bg), _CHUNK):
        check_stop(should_stop)
        bi, hi = tree.query(bg[start : start + _CHUNK], predicate="intersects")
        bi = bi + start
        ix = np.minimum(bb[bi, 2], hb[hi, 2]) - np.maximum(bb[bi, 0], hb[hi, 0])
        iy = np.minimum(bb[bi, 3], hb[hi, 3]) - np.maximum(bb[bi, 1], hb[hi, 1])
        bound = np.minimum(
            np.clip(ix, 0, None) * np.clip(iy, 0, None), np.minimum(a_b[bi], a_h[hi])
        )
        union_lo = a_b[bi] + a_h[hi] - bound
        keep = bound >= threshold * union_lo
        bi, hi = bi[keep], hi[keep]
        inter = shapely.area(shapely.intersection(bg[bi], hg[hi]))
        iou = inter / (a_b[bi] + a_h[hi] - inter)
        keep = iou >= threshold
        out_b.append(bi[keep])
        out_h.append(hi[keep])
        out_iou.append(iou[keep])
        if progress is not None:
            progress(min(1.0, (start + _CHUNK) / max(len(bg), 1)))
    if not out_b:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(out_b), np.concatenate(out_h), np.concatenate(out_iou)


def _greedy(
    order: np.ndarray, bi: np.ndarray, hi: np.ndarray, used_b: np.ndarray, used_h: np.ndarray
) -> List[int]:
    """Candidate positions taken one-to-one in ``order`` (best IoU first)."""
    taken: List[int] = []
    ub, uh = used_b, used_h
    bl, hl = bi.tolist(), hi.tolist()
    # A Python loop: each choice depends on the ones before it (one-to-one); it runs once per
    # candidate pair that passed the IoU threshold, a few per feature.
    for k in order.tolist():
        b, h = bl[k], hl[k]
        if ub[b] or uh[h]:
            continue
        ub[b] = uh[h] = True
        taken.append(k)
    return taken


def _geometry_match(
    base: _Side,
    head: _Side,
    threshold: float,
    class_field: Optional[str],
    progress: ProgressFn,
    should_stop: StopFn,
) -> Tuple[List[FeatureChange], bool]:
    """Changes by geometry matching, and False when features were left to match by IoU but
    none of them had a geometry (indexes that keep none)."""
    report = progress or (lambda f: None)
    changes: List[FeatureChange] = []
    bl, hl = list(range(len(base.rows))), list(range(len(head.rows)))
    same, bl, hl = _group_pairs(base, head, bl, hl, lambda r: r[1] + r[2])
    changes.extend(
        FeatureChange("unchanged", base.rows[i][0], head.rows[j][0], None, (), 1.0) for i, j in same
    )
    check_stop(should_stop)
    report(0.1)
    moved, bl, hl = _group_pairs(
        base, head, bl, hl, lambda r: r[1] if r[1] != _NULL_GEOMETRY else None
    )
    changes.extend(_pair(base, head, i, j, None, 1.0) for i, j in moved)
    check_stop(should_stop)
    report(0.2)
    had_geometry = True
    if bl and hl:
        b_rows, bg = _polygons(base, bl)
        h_rows, hg = _polygons(head, hl)
        had_geometry = any(base.wkb(i) for i in bl) or any(head.wkb(j) for j in hl)
        report(0.35)
        if len(bg) and len(hg):
            sub = None if progress is None else (lambda f: progress(0.35 + 0.55 * f))
            ci, cj, iou = iou_candidates(bg, hg, threshold, sub, should_stop)
            b_fid = np.fromiter((base.rows[i][0] for i in b_rows[ci]), np.int64, len(ci))
            h_fid = np.fromiter((head.rows[j][0] for j in h_rows[cj]), np.int64, len(cj))
            order = np.lexsort((h_fid, b_fid, -iou))
            used_b = np.zeros(len(bg), bool)
            used_h = np.zeros(len(hg), bool)
            taken: List[int] = []
            if class_field:
                ba, ha = base.attrs(), head.attrs()
                same_class = np.fromiter(
                    (
                        ba[b].get(class_field) == ha[h].get(class_field)
                        for b, h in zip(b_rows[ci].tolist(), h_rows[cj].tolist())
                    ),
                    bool,
                    len(ci),
                )
                taken += _greedy(order[same_class[order]], ci, cj, used_b, used_h)
            taken += _greedy(order, ci, cj, used_b, used_h)
            matched_b = set()
            matched_h = set()
            for k in taken:
                i, j = int(b_rows[ci[k]]), int(h_rows[cj[k]])
                changes.append(_pair(base, head, i, j, None, float(iou[k])))
                matched_b.add(i)
                matched_h.add(j)
            bl = [i for i in bl if i not in matched_b]
            hl = [j for j in hl if j not in matched_h]
    changes.extend(FeatureChange("removed", base.rows[i][0], None) for i in bl)
    changes.extend(FeatureChange("added", None, head.rows[j][0]) for j in hl)
    changes.sort(
        key=lambda c: (c.head_fid is None, c.head_fid if c.head_fid is not None else c.base_fid)
    )
    report(1.0)
    return changes, had_geometry


def diff_features(
    base: Sequence[IndexRow],
    head: Sequence[IndexRow],
    *,
    id_field: Optional[str] = None,
    stable_fid: bool = False,
    iou_threshold: float = DEFAULT_IOU,
    class_field: Optional[str] = None,
    base_wkb: Optional[Mapping[int, bytes]] = None,
    head_wkb: Optional[Mapping[int, bytes]] = None,
    base_label: str = "the base version",
    head_label: str = "the head version",
    progress: ProgressFn = None,
    should_stop: StopFn = None,
) -> DiffResult:
    """Pair and classify every feature of two versions of one layer (see module docstring).

    Rows are feature-index rows; their fifth item (the kept normalized WKB), else
    ``base_wkb`` / ``head_wkb`` (fid -> WKB, e.g. read from a data file whose geometry still
    matches the index), gives the geometries to match by IoU. ``stable_fid``: both versions
    are GeoPackages, so their fid may be a key (still checked). ``class_field``: None guesses
    a conventional one (class, label, category, ...). ``iou_threshold`` is a fraction 0-1.
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise InputError(f"IoU threshold {iou_threshold} is not in (0, 1]; 0.5 is usual.")
    b = _Side(base, base_label, base_wkb)
    h = _Side(head, head_label, head_wkb)
    if id_field:
        b_ids, h_ids = _ids(b, id_field), _ids(h, id_field)
        check_stop(should_stop)
        changes = _keyed(b, h, b_ids, h_ids, json.loads)
        return DiffResult(changes, "id_field", id_field, f"matched by ID field '{id_field}'")
    key, keys, why = _stable_key(b, h, stable_fid)
    check_stop(should_stop)
    if key is not None and keys is not None:
        bk = {k: i for i, k in enumerate(keys[0])}
        hk = {k: i for i, k in enumerate(keys[1])}
        if key == "fid":
            changes = _keyed(b, h, bk, hk, lambda k: k)
            return DiffResult(changes, "fid", "fid", f"matched by fid: {why}")
        col_b = {k: b.attrs()[i][key] for k, i in bk.items()}
        col_h = {k: h.attrs()[i][key] for k, i in hk.items()}
        changes = _keyed(b, h, bk, hk, lambda k: col_b.get(k, col_h.get(k)))
        return DiffResult(changes, "key_field", key, f"matched by stable key: {why}")
    if class_field is None and b.rows and h.rows:
        class_field = guess_class_field(sorted(set(b.attrs()[0]) | set(h.attrs()[0])))
    changes, had_geometry = _geometry_match(b, h, iou_threshold, class_field, progress, should_stop)
    cls = f"same class ('{class_field}') first, then any class" if class_field else "no class field"
    if had_geometry:
        note = f"matched by geometry (IoU >= {iou_threshold:g}, {cls}, one-to-one): {why}"
        return DiffResult(changes, "geometry", class_field, note)
    note = (
        f"matched by content only: {why}, and the feature indexes keep no geometry to match by "
        "IoU (rebuild the base manifest with this version to keep them)"
    )
    if not (len(b.rows) and len(h.rows)):
        note = f"matched by content only: {why}"
    return DiffResult(changes, "content", class_field, note)


def index_rows(manifest_path: Path, entry: Dict[str, Any], version: str) -> List[IndexRow]:
    """Feature-index rows (with kept WKB) of a manifest entry; InputError when it has none."""
    data = load_feature_index(manifest_path, entry)
    if data is None:
        raise InputError(
            f"Manifest {version} has no per-feature hashes for '{entry['path']}' "
            "(built with 'Store per-feature hashes' off); rebuild it to compare "
            "features."
        )
    return read_feature_index(
        data, f"Feature index of '{entry['path']}' in manifest {version}", with_geometry=True
    )
