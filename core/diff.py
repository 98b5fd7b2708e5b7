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

Without an ID field the pairing runs on the index's columns (``FeatureIndex``: hashes grouped
by sorting, attributes parsed only where needed); the row-by-row implementation, which gives
the same result, serves ID fields, geometries read from the data files and duplicate fids.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np

from .bulk import paused_gc
from .content import FeatureIndex, read_feature_columns
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
Index = Union[Sequence[IndexRow], FeatureIndex]
DEFAULT_IOU = 0.5
KEY_AGREEMENT = 0.99
_NULL_GEOMETRY = hashlib.sha256(b"null").hexdigest()  # as core.content hashes a null geometry
_NULL_WORDS = np.frombuffer(hashlib.sha256(b"null").digest(), "<u8")
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
        self._fids: Optional[List[Any]] = None
        self._fid_array: Optional[np.ndarray] = None

    def attrs(self) -> List[Dict[str, Any]]:
        if self._attrs is None:
            self._attrs = _parse_all([r[3] for r in self.rows], self.label)
        return self._attrs

    def fids(self) -> List[Any]:
        if self._fids is None:
            self._fids = [r[0] for r in self.rows]
        return self._fids

    def fid_array(self) -> np.ndarray:
        if self._fid_array is None:
            self._fid_array = np.fromiter(self.fids(), np.int64, len(self.rows))
        return self._fid_array

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
    return _key_values([a.get(name) for a in side.attrs()], name)


def _key_values(values: List[Any], name: str) -> Optional[List[Any]]:
    """``values`` as keys when all are unique integers (of a field named like an id) or UUIDs,
    else None."""
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
    src = side.rows
    if side.extra_wkb:
        wkbs = [side.wkb(i) for i in idx]
    else:  # the usual case, inlined: a million method calls cost a second
        wkbs = [src[i][4] if len(src[i]) > 4 and src[i][4] else None for i in idx]
    have = np.fromiter((w is not None for w in wkbs), bool, len(wkbs))
    rows = np.asarray(idx, dtype=np.int64)[have]
    return _valid_polygons(rows, [w for w in wkbs if w is not None])


def _valid_polygons(rows: np.ndarray, wkbs: List[bytes]) -> Tuple[np.ndarray, np.ndarray]:
    """(rows, geometries) of the WKB that parse to a geometry with an area; invalid ones made
    valid first."""
    raw = np.empty(len(wkbs), dtype=object)
    raw[:] = wkbs
    geoms = shapely.from_wkb(raw, on_invalid="ignore") if len(raw) else raw
    if len(geoms):
        bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
        if bad.any():
            geoms[bad] = shapely.make_valid(geoms[bad])
        keep = shapely.area(geoms) > 0
        rows, geoms = rows[keep], geoms[keep]
    return rows, geoms


def _intersection_areas(bg: np.ndarray, hg: np.ndarray) -> np.ndarray:
    return shapely.area(shapely.intersection(bg, hg))


def iou_candidates(
    bg: np.ndarray,
    hg: np.ndarray,
    threshold: float,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(base index, head index, IoU) of every pair of polygons with IoU >= ``threshold``.

    STRtree query of bounding boxes per chunk of base polygons; a bounding-box bound (the
    intersection is at most the boxes' overlap and the smaller area) drops most pairs before
    the exact intersection, so the tree's own ``intersects`` predicate (a GEOS call per pair)
    would only repeat work. The exact intersections, one GEOS overlay per pair and most of the
    time, run in worker threads (shapely releases the GIL) while the next chunk is queried.
    """
    tree = shapely.STRtree(hg)
    a_b, a_h = shapely.area(bg), shapely.area(hg)
    bb, hb = shapely.bounds(bg), shapely.bounds(hg)
    out_b, out_h, pending = [], [], []
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            for start in range(0, len(bg), _CHUNK):
                check_stop(should_stop)
                bi, hi = tree.query(bg[start : start + _CHUNK])
                bi = bi + start
                ix = np.minimum(bb[bi, 2], hb[hi, 2]) - np.maximum(bb[bi, 0], hb[hi, 0])
                iy = np.minimum(bb[bi, 3], hb[hi, 3]) - np.maximum(bb[bi, 1], hb[hi, 1])
                bound = np.minimum(
                    np.clip(ix, 0, None) * np.clip(iy, 0, None), np.minimum(a_b[bi], a_h[hi])
                )
                union_lo = a_b[bi] + a_h[hi] - bound
                keep = (bound > 0) & (bound >= threshold * union_lo)
                bi, hi = bi[keep], hi[keep]
                out_b.append(bi)
                out_h.append(hi)
                step = max(1, -(-len(bi) // workers))
                pending.append(
                    [
                        pool.submit(_intersection_areas, bg[bi[k : k + step]], hg[hi[k : k + step]])
                        for k in range(0, len(bi), step)
                    ]
                )
                if progress is not None:
                    progress(0.8 * min(1.0, (start + _CHUNK) / max(len(bg), 1)))
            inters = []
            for n, futures in enumerate(pending):
                check_stop(should_stop)
                inters.extend(f.result() for f in futures)
                if progress is not None:
                    progress(0.8 + 0.2 * (n + 1) / len(pending))
        except BaseException:
            for futures in pending:
                for f in futures:
                    f.cancel()
            raise
    if not out_b:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    bi, hi = np.concatenate(out_b), np.concatenate(out_h)
    inter = np.concatenate(inters) if inters else np.zeros(0)
    iou = inter / (a_b[bi] + a_h[hi] - inter)
    keep = iou >= threshold
    return bi[keep], hi[keep], iou[keep]


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


def _same_class(
    base: _Side, head: _Side, class_field: str, bi: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Whether base row ``bi[k]`` and head row ``hi[k]`` have the same class value. Text and
    empty values (the usual classes) are coded once per row and compared as integer arrays;
    other values compare pair by pair, as ``==`` does (1 == 1.0 == True)."""
    bv = [a.get(class_field) for a in base.attrs()]
    hv = [a.get(class_field) for a in head.attrs()]
    if all(v is None or type(v) is str for v in itertools.chain(bv, hv)):  # noqa: E721
        codes: Dict[Optional[str], int] = {}
        cb = np.fromiter((codes.setdefault(v, len(codes)) for v in bv), np.int64, len(bv))
        ch = np.fromiter((codes.setdefault(v, len(codes)) for v in hv), np.int64, len(hv))
        return cb[bi] == ch[hi]
    return np.fromiter((bv[b] == hv[h] for b, h in zip(bi.tolist(), hi.tolist())), bool, len(bi))


def _by_fid(changes: List[FeatureChange]) -> List[FeatureChange]:
    """Changes ordered by head fid, then the removed ones by base fid (numpy's stable lexsort
    instead of a million key calls)."""
    if not changes:
        return changes
    head_none = np.fromiter((c[2] is None for c in changes), bool, len(changes))
    fid = np.fromiter((c[1] if c[2] is None else c[2] for c in changes), np.int64, len(changes))
    return [changes[k] for k in np.lexsort((fid, head_none)).tolist()]


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
    b_fids, h_fids = base.fids(), head.fids()
    # tuple.__new__ skips the NamedTuple's Python-level __new__: a million of these.
    new = tuple.__new__
    changes.extend(
        new(FeatureChange, ("unchanged", b_fids[i], h_fids[j], None, (), 1.0)) for i, j in same
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
        # Side by side: parsing and validating WKB release the GIL.
        with ThreadPoolExecutor(max_workers=2) as pool:
            b_job = pool.submit(_polygons, base, bl)
            h_rows, hg = _polygons(head, hl)
            b_rows, bg = b_job.result()
        had_geometry = any(base.wkb(i) for i in bl) or any(head.wkb(j) for j in hl)
        report(0.35)
        if len(bg) and len(hg):
            sub = None if progress is None else (lambda f: progress(0.35 + 0.55 * f))
            ci, cj, iou = iou_candidates(bg, hg, threshold, sub, should_stop)
            b_fid = base.fid_array()[b_rows[ci]]
            h_fid = head.fid_array()[h_rows[cj]]
            order = np.lexsort((h_fid, b_fid, -iou))
            used_b = np.zeros(len(bg), bool)
            used_h = np.zeros(len(hg), bool)
            taken: List[int] = []
            if class_field:
                same_class = _same_class(base, head, class_field, b_rows[ci], h_rows[cj])
                taken += _greedy(order[same_class[order]], ci, cj, used_b, used_h)
            taken += _greedy(order, ci, cj, used_b, used_h)
            pick = np.asarray(taken, dtype=np.int64)
            ti, tj = b_rows[ci[pick]], h_rows[cj[pick]]
            changes.extend(
                _pair(base, head, i, j, None, v)
                for i, j, v in zip(ti.tolist(), tj.tolist(), iou[pick].tolist())
            )
            left_b = np.ones(len(base.rows), bool)
            left_h = np.ones(len(head.rows), bool)
            left_b[ti], left_h[tj] = False, False
            lb, lh = left_b.tolist(), left_h.tolist()
            bl = [i for i in bl if lb[i]]
            hl = [j for j in hl if lh[j]]
    changes.extend(new(FeatureChange, ("removed", b_fids[i], None, None, (), None)) for i in bl)
    changes.extend(new(FeatureChange, ("added", None, h_fids[j], None, (), None)) for j in hl)
    changes = _by_fid(changes)
    report(1.0)
    return changes, had_geometry


# --- geometry matching on columns --------------------------------------------------------
# The same matching as _stable_key and _geometry_match, on a FeatureIndex's arrays: hashes are
# grouped by sorting 64-bit words instead of a dict of a million strings, attributes are
# parsed only for the rows that need them (the first, class values of IoU candidates, pairs
# whose attributes differ), and the changes are built in head-fid order without a sort key per
# feature. Used when both fid columns ascend strictly, as every written index's do; anything
# else (duplicate fids, an ID field, geometries from the data files) takes the row path.


class _Columns:
    """One version's feature index as columns, with attributes parsed on demand."""

    def __init__(self, index: FeatureIndex, label: str) -> None:
        self.index = index
        self.label = label
        self.fids = index.fids
        self.gw = np.ascontiguousarray(index.geometry).view("<u8")  # (n, 4) words of SHA-256
        self.aw = np.ascontiguousarray(index.attributes).view("<u8")
        self.null = (self.gw == _NULL_WORDS).all(axis=1)
        self._first: Optional[Dict[str, Any]] = None

    def __len__(self) -> int:
        return len(self.fids)

    def attrs(self, idx: Sequence[int]) -> List[Dict[str, Any]]:
        """Parsed attributes of the rows ``idx``; each distinct text is parsed once."""
        texts = self.index.texts(idx)
        distinct = list(dict.fromkeys(texts))
        parsed = dict(zip(distinct, _parse_all_bytes(distinct, self.label)))
        return [parsed[t] for t in texts]

    def first(self) -> Dict[str, Any]:
        if self._first is None:
            self._first = self.attrs([0])[0]
        return self._first


def _parse_all_bytes(texts: List[bytes], label: str) -> List[Dict[str, Any]]:
    """As ``_parse_all``, for UTF-8 texts."""
    try:
        values = json.loads(b"[" + b",".join(texts) + b"]") if texts else []
    except (ValueError, RecursionError):
        values = None
    if (
        values is None or len(values) != len(texts) or not all(type(v) is dict for v in values)  # noqa: E721 (exact type, fast)
    ):
        return [_attributes(t.decode("utf-8"), label) for t in texts]
    return values


def _groups(kb: np.ndarray, kh: np.ndarray) -> Tuple[np.ndarray, np.ndarray, int]:
    """Group ids of the rows of two (n, words) uint64 key arrays: equal keys, equal ids.

    Sorted by the XOR of the words; the full keys are then compared neighbour by neighbour,
    and should two different keys share that 64-bit value (never seen with SHA-256 words),
    sorted again by every word, so the groups are exact."""
    k = np.concatenate([kb, kh])
    n = len(k)
    if not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    prefix = np.bitwise_xor.reduce(k, axis=1)
    order = np.argsort(prefix, kind="stable")
    ks = k[order]
    new = np.empty(n, bool)
    new[0] = True
    np.any(ks[1:] != ks[:-1], axis=1, out=new[1:])
    ps = prefix[order]
    if np.any(new[1:] & (ps[1:] == ps[:-1])):
        order = np.lexsort(k.T[::-1])
        ks = k[order]
        np.any(ks[1:] != ks[:-1], axis=1, out=new[1:])
    sorted_ids = np.cumsum(new) - 1
    gid = np.empty(n, np.int64)
    gid[order] = sorted_ids
    return gid[: len(kb)], gid[len(kb) :], int(sorted_ids[-1]) + 1


def _rank_pairs(gb: np.ndarray, gh: np.ndarray, ng: int) -> Tuple[np.ndarray, np.ndarray]:
    """Positions (base, head) paired one-to-one within each group, in position order: the
    k-th base row of a group with its k-th head row, as ``_group_pairs`` pairs them."""
    cb = np.bincount(gb, minlength=ng)
    ch = np.bincount(gh, minlength=ng)

    def ranked(g: np.ndarray, counts: np.ndarray, other: np.ndarray) -> np.ndarray:
        order = np.argsort(g, kind="stable")
        gs = g[order]
        rank = np.arange(len(g)) - (np.cumsum(counts) - counts)[gs]
        return order[rank < other[gs]]

    return ranked(gb, cb, ch), ranked(gh, ch, cb)


def _stable_key_columns(
    base: _Columns, head: _Columns, stable_fid: bool, geometry_groups
) -> Tuple[Optional[str], str]:
    """(key name or None, note), as ``_stable_key`` decides them."""
    if not len(base) or not len(head):
        return None, "one version is empty"
    gb, gh, ng = geometry_groups
    unique = (np.bincount(gb, minlength=ng) == 1) & (np.bincount(gh, minlength=ng) == 1)
    unique[gb[base.null]] = False
    h_at = np.full(ng, -1, np.int64)
    h_at[gh] = np.arange(len(head))
    ev_b = np.flatnonzero(unique[gb])
    ev_h = h_at[gb[ev_b]]
    n_ev = len(ev_b)
    if not n_ev:
        return None, "no feature kept its geometry, so no key could be checked"
    tried: List[str] = []
    if stable_fid:
        same = int(np.count_nonzero(base.fids[ev_b] == head.fids[ev_h]))
        if same >= KEY_AGREEMENT * n_ev:
            return "fid", (
                f"the GeoPackage fid is kept between the versions ({same} of {n_ev} "
                "features with an unchanged geometry keep their fid)"
            )
        tried.append(f"fid ({same} of {n_ev} unchanged geometries keep it)")
    names = sorted(set(base.first()) & set(head.first()), key=lambda n: (n.lower() != "id", n))
    for name in names:
        bk = _key_values_of(base, name)
        hk = _key_values_of(head, name) if bk is not None else None
        if bk is None or hk is None:
            continue
        same = sum(1 for i, j in zip(ev_b.tolist(), ev_h.tolist()) if bk[i] == hk[j])
        if same >= KEY_AGREEMENT * n_ev:
            return name, (
                f"field '{name}' is unique in both versions and kept ({same} of "
                f"{n_ev} features with an unchanged geometry keep it)"
            )
        tried.append(f"'{name}' ({same} of {n_ev} unchanged geometries keep it)")
    why = "no unique id field in both versions" if not tried else "not kept: " + ", ".join(tried)
    return None, f"no stable key ({why})"


def _key_values_of(side: _Columns, name: str) -> Optional[List[Any]]:
    """``_key_column`` of a column side; a first value that is neither an integer nor a UUID
    decides it without parsing the other rows (``_key_values`` would stop there too)."""
    first = side.first().get(name)
    if type(first) is not int and not (isinstance(first, str) and _UUID.match(first)):
        return None
    return _key_values([a.get(name) for a in side.attrs(np.arange(len(side)))], name)


def _polygons_columns(side: _Columns, idx: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """As ``_polygons``, for rows ``idx`` of a column side."""
    offsets = side.index.wkb_offsets
    rows = idx[offsets[idx + 1] > offsets[idx]]
    return _valid_polygons(rows, side.index.wkbs(rows))  # type: ignore[arg-type]


def _same_class_columns(
    base: _Columns, head: _Columns, class_field: str, bi: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """As ``_same_class``, parsing only the rows in ``bi`` and ``hi``. On text and empty
    values, codes and ``==`` agree, so looking at these rows alone gives the same answer."""
    ub, inv_b = np.unique(bi, return_inverse=True)
    uh, inv_h = np.unique(hi, return_inverse=True)
    bv = [a.get(class_field) for a in base.attrs(ub)]
    hv = [a.get(class_field) for a in head.attrs(uh)]
    if all(v is None or type(v) is str for v in itertools.chain(bv, hv)):  # noqa: E721
        codes: Dict[Optional[str], int] = {}
        cb = np.fromiter((codes.setdefault(v, len(codes)) for v in bv), np.int64, len(bv))
        ch = np.fromiter((codes.setdefault(v, len(codes)) for v in hv), np.int64, len(hv))
        return cb[inv_b] == ch[inv_h]
    return np.fromiter(
        (bv[b] == hv[h] for b, h in zip(inv_b.tolist(), inv_h.tolist())), bool, len(bi)
    )


_PAIR_STATUS = np.array(
    ["unchanged", "geometry_changed", "attributes_changed", "both_changed", "added"], dtype=object
)


def _geometry_match_columns(
    base: _Columns,
    head: _Columns,
    geometry_groups,
    threshold: float,
    class_field: Optional[str],
    progress: ProgressFn,
    should_stop: StopFn,
) -> Tuple[List[FeatureChange], bool]:
    """``_geometry_match`` on columns: the same pairs, statuses, IoU and order."""
    report = progress or (lambda f: None)
    nb, nh = len(base), len(head)
    left_b, left_h = np.ones(nb, bool), np.ones(nh, bool)
    # Identical features share a geometry group. A group of one base and one head row pairs
    # when their attributes hash is equal; a group missing from one side pairs nothing; only
    # the other groups (duplicated geometries) are grouped again by both hashes.
    gb, gh, ng = geometry_groups
    cb, ch = np.bincount(gb, minlength=ng), np.bincount(gh, minlength=ng)
    one = (cb == 1) & (ch == 1)
    h_at = np.full(ng, -1, np.int64)
    h_at[gh] = np.arange(nh)
    sb = np.flatnonzero(one[gb])
    sh = h_at[gb[sb]]
    same = (base.aw[sb] == head.aw[sh]).all(axis=1)
    several = (cb > 0) & (ch > 0) & ~one
    mb, mh = np.flatnonzero(several[gb]), np.flatnonzero(several[gh])
    g1b, g1h, n1 = _groups(
        np.concatenate([base.gw[mb], base.aw[mb]], axis=1),
        np.concatenate([head.gw[mh], head.aw[mh]], axis=1),
    )
    q1b, q1h = _rank_pairs(g1b, g1h, n1)
    p1b, p1h = np.concatenate([sb[same], mb[q1b]]), np.concatenate([sh[same], mh[q1h]])
    left_b[p1b] = left_h[p1h] = False
    check_stop(should_stop)
    report(0.1)
    # identical geometries (not null ones)
    rb, rh = np.flatnonzero(left_b & ~base.null), np.flatnonzero(left_h & ~head.null)
    p2b, p2h = _rank_pairs(gb[rb], gh[rh], ng)
    p2b, p2h = rb[p2b], rh[p2h]
    left_b[p2b] = left_h[p2h] = False
    check_stop(should_stop)
    report(0.2)
    p3b = p3h = np.zeros(0, np.int64)
    iou3 = np.zeros(0)
    had_geometry = True
    bl, hl = np.flatnonzero(left_b), np.flatnonzero(left_h)
    if len(bl) and len(hl):
        # Side by side: parsing and validating WKB release the GIL.
        with ThreadPoolExecutor(max_workers=2) as pool:
            b_job = pool.submit(_polygons_columns, base, bl)
            h_rows, hg = _polygons_columns(head, hl)
            b_rows, bg = b_job.result()
        bo, ho = base.index.wkb_offsets, head.index.wkb_offsets
        had_geometry = bool((bo[bl + 1] > bo[bl]).any() or (ho[hl + 1] > ho[hl]).any())
        report(0.35)
        if len(bg) and len(hg):
            sub = None if progress is None else (lambda f: progress(0.35 + 0.55 * f))
            ci, cj, iou = iou_candidates(bg, hg, threshold, sub, should_stop)
            # A candidate whose two polygons have no other candidate is taken in either pass
            # of the greedy choice, whatever its class, and takes nothing from any other:
            # taken at once (most of them when every feature moved a little). The others go
            # through the greedy passes, best IoU first, as in _geometry_match.
            alone = (np.bincount(ci, minlength=len(bg))[ci] == 1) & (
                np.bincount(cj, minlength=len(hg))[cj] == 1
            )
            contested = np.flatnonzero(~alone)
            used_b = np.zeros(len(bg), bool)
            used_h = np.zeros(len(hg), bool)
            taken: List[int] = []
            if len(contested):
                sub_i, sub_j = ci[contested], cj[contested]
                order = np.lexsort(
                    (head.fids[h_rows[sub_j]], base.fids[b_rows[sub_i]], -iou[contested])
                )
                if class_field:
                    same_class = _same_class_columns(
                        base, head, class_field, b_rows[sub_i], h_rows[sub_j]
                    )
                    taken += _greedy(order[same_class[order]], sub_i, sub_j, used_b, used_h)
                taken += _greedy(order, sub_i, sub_j, used_b, used_h)
            pick = np.concatenate(
                [np.flatnonzero(alone), contested[np.asarray(taken, dtype=np.int64)]]
            )
            p3b, p3h, iou3 = b_rows[ci[pick]], h_rows[cj[pick]], iou[pick]
            left_b[p3b] = left_h[p3h] = False
    check_stop(should_stop)
    pb = np.concatenate([p1b, p2b, p3b])
    ph = np.concatenate([p1h, p2h, p3h])
    geom_diff = (base.gw[pb] != head.gw[ph]).any(axis=1)
    attr_diff = (base.aw[pb] != head.aw[ph]).any(axis=1)
    # Every head row is paired or added, so the changes in head-row order are in head-fid
    # order (fids ascend), then the removed ones in base-fid order: _by_fid's order.
    code = np.full(nh, 4, np.int64)
    code[ph] = geom_diff + 2 * attr_diff
    base_fid = np.full(nh, None, dtype=object)
    base_fid[ph] = base.fids[pb].astype(object)
    iou_h = np.full(nh, None, dtype=object)
    iou_h[ph] = np.concatenate([np.ones(len(p1b) + len(p2b)), iou3])
    fields: List[Tuple[str, ...]] = [()] * nh
    if attr_diff.any():
        cb, ch = pb[attr_diff], ph[attr_diff]
        # A Python loop: field by field comparison of two dicts, only for pairs whose
        # attributes hash differs.
        for j, da, db in zip(ch.tolist(), base.attrs(cb), head.attrs(ch)):
            fields[j] = _changed_fields(da, db)
    new = partial(tuple.__new__, FeatureChange)
    changes = list(
        map(
            new,
            zip(
                _PAIR_STATUS[code].tolist(),
                base_fid.tolist(),
                head.fids.tolist(),
                itertools.repeat(None),
                fields,
                iou_h.tolist(),
            ),
        )
    )
    removed = base.fids[np.flatnonzero(left_b)].tolist()
    changes.extend(new(("removed", f, None, None, (), None)) for f in removed)
    report(1.0)
    return changes, had_geometry


def diff_features(
    base: Index,
    head: Index,
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

    ``base`` and ``head`` are feature indexes: a ``FeatureIndex`` (as ``read_feature_columns``
    gives it; the fast way) or its rows. The kept normalized WKB (a row's fifth item), else
    ``base_wkb`` / ``head_wkb`` (fid -> WKB, e.g. read from a data file whose geometry still
    matches the index), gives the geometries to match by IoU. ``stable_fid``: both versions
    are GeoPackages, so their fid may be a key (still checked). ``class_field``: None guesses
    a conventional one (class, label, category, ...). ``iou_threshold`` is a fraction 0-1.
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise InputError(f"IoU threshold {iou_threshold} is not in (0, 1]; 0.5 is usual.")
    # A million FeatureChange tuples and parsed attribute dicts, no cycles among them: the
    # collector would walk them over and over (a third of the time at 1M features).
    with paused_gc():
        return _diff(
            base,
            head,
            id_field,
            stable_fid,
            iou_threshold,
            class_field,
            base_wkb,
            head_wkb,
            base_label,
            head_label,
            progress,
            should_stop,
        )


def _diff(
    base: Index,
    head: Index,
    id_field: Optional[str],
    stable_fid: bool,
    iou_threshold: float,
    class_field: Optional[str],
    base_wkb: Optional[Mapping[int, bytes]],
    head_wkb: Optional[Mapping[int, bytes]],
    base_label: str,
    head_label: str,
    progress: ProgressFn,
    should_stop: StopFn,
) -> DiffResult:
    if not id_field and not base_wkb and not head_wkb:
        cb, ch = _as_columns(base), _as_columns(head)
        if cb is not None and ch is not None:
            return _diff_columns(
                _Columns(cb, base_label),
                _Columns(ch, head_label),
                stable_fid,
                iou_threshold,
                class_field,
                progress,
                should_stop,
            )
    b = _Side(_as_rows(base), base_label, base_wkb)
    h = _Side(_as_rows(head), head_label, head_wkb)
    return _diff_rows(b, h, id_field, stable_fid, iou_threshold, class_field, progress, should_stop)


def _diff_rows(
    b: _Side,
    h: _Side,
    id_field: Optional[str],
    stable_fid: bool,
    iou_threshold: float,
    class_field: Optional[str],
    progress: ProgressFn,
    should_stop: StopFn,
) -> DiffResult:
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
    return _geometry_result(changes, had_geometry, why, class_field, iou_threshold, b.rows, h.rows)


def _geometry_result(
    changes: List[FeatureChange],
    had_geometry: bool,
    why: str,
    class_field: Optional[str],
    iou_threshold: float,
    b_rows: Sequence[Any],
    h_rows: Sequence[Any],
) -> DiffResult:
    cls = f"same class ('{class_field}') first, then any class" if class_field else "no class field"
    if had_geometry:
        note = f"matched by geometry (IoU >= {iou_threshold:g}, {cls}, one-to-one): {why}"
        return DiffResult(changes, "geometry", class_field, note)
    note = (
        f"matched by content only: {why}, and the feature indexes keep no geometry to match by "
        "IoU (rebuild the base manifest with this version to keep them)"
    )
    if not (len(b_rows) and len(h_rows)):
        note = f"matched by content only: {why}"
    return DiffResult(changes, "content", class_field, note)


def _as_columns(index: Index) -> Optional[FeatureIndex]:
    """The index as columns when its fids ascend strictly (every written index's do), else
    None: rows that are not a valid index, or duplicate fids, take the row path."""
    if not isinstance(index, FeatureIndex):
        try:
            index = FeatureIndex.from_rows(index)
        except (ValueError, TypeError, IndexError, OverflowError):
            return None
    fids = index.fids
    return index if len(fids) < 2 or bool((fids[1:] > fids[:-1]).all()) else None


def _as_rows(index: Index) -> Sequence[IndexRow]:
    return index.rows(with_geometry=True) if isinstance(index, FeatureIndex) else index


def _diff_columns(
    b: _Columns,
    h: _Columns,
    stable_fid: bool,
    iou_threshold: float,
    class_field: Optional[str],
    progress: ProgressFn,
    should_stop: StopFn,
) -> DiffResult:
    groups = _groups(b.gw, h.gw)
    key, why = _stable_key_columns(b, h, stable_fid, groups)
    check_stop(should_stop)
    if key is not None:
        # A checked stable key pairs features by value, row by row (no geometry stage): the
        # row path does that.
        return _diff_rows(
            _Side(b.index.rows(with_geometry=True), b.label, None),
            _Side(h.index.rows(with_geometry=True), h.label, None),
            None,
            stable_fid,
            iou_threshold,
            class_field,
            progress,
            should_stop,
        )
    if class_field is None and len(b) and len(h):
        class_field = guess_class_field(sorted(set(b.first()) | set(h.first())))
    changes, had_geometry = _geometry_match_columns(
        b, h, groups, iou_threshold, class_field, progress, should_stop
    )
    return _geometry_result(changes, had_geometry, why, class_field, iou_threshold, b.fids, h.fids)


def index_rows(manifest_path: Path, entry: Dict[str, Any], version: str) -> List[IndexRow]:
    """Feature-index rows (with kept WKB) of a manifest entry; InputError when it has none."""
    return index_columns(manifest_path, entry, version).rows(with_geometry=True)


def index_columns(manifest_path: Path, entry: Dict[str, Any], version: str) -> FeatureIndex:
    """The feature index of a manifest entry as columns; InputError when it has none."""
    data = load_feature_index(manifest_path, entry)
    if data is None:
        raise InputError(
            f"Manifest {version} has no per-feature hashes for '{entry['path']}' "
            "(built with 'Store per-feature hashes' off); rebuild it to compare "
            "features."
        )
    return read_feature_columns(data, f"Feature index of '{entry['path']}' in manifest {version}")


def _empty_index() -> FeatureIndex:
    no_digest = np.zeros((0, 32), np.uint8)
    return FeatureIndex(
        np.zeros(0, np.int64), no_digest, no_digest, b"", np.zeros(0, np.int64), b""
    )


def index_columns_both(
    base: Tuple[Path, Optional[Dict[str, Any]], str],
    head: Tuple[Path, Optional[Dict[str, Any]], str],
) -> Tuple[FeatureIndex, FeatureIndex]:
    """``index_columns`` of a base and a head (manifest path, entry or None: empty, version),
    read side by side: unpacking one index (zlib releases the GIL) overlaps reading the
    other."""

    def read(side: Tuple[Path, Optional[Dict[str, Any]], str]) -> FeatureIndex:
        path, entry, version = side
        return index_columns(path, entry, version) if entry else _empty_index()

    with ThreadPoolExecutor(max_workers=2) as pool:
        b_job = pool.submit(read, base)
        try:
            h_rows = read(head)
        except Exception:
            b_job.result()  # a broken base is reported first, as when read one after the other
            raise
        return b_job.result(), h_rows
