"""Topology and geometry rules for annotation layers, vectorized with shapely 2.

Everything works on numpy arrays of geometries (or WKB) in bulk: GEOS does the per-geometry
work in C, in several threads (shapely releases the GIL), and Python only loops over findings.
How the expensive rules stay fast is explained in ``core/topology/pairs.py``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import wkb as _wkb
from ..bulk import paused_gc
from ..geos import shapely
from ..progress import ProgressFn, StopFn, Ticker
from ..wkb import WkbArray
from . import pairs as _pairs

RULES: tuple[str, ...] = (
    "invalid",
    "empty",
    "duplicate",
    "near_duplicate",
    "overlap",
    "gap",
    "sliver",
    "min_area",
    "multipart",
    "dangle",
    "must_be_inside",
    "must_not_overlap_with",
)

SEVERITY: dict[str, str] = {
    "invalid": "error",
    "empty": "error",
    "duplicate": "error",
    "near_duplicate": "warning",
    "overlap": "error",
    "gap": "error",
    "sliver": "warning",
    "min_area": "warning",
    "multipart": "warning",
    "dangle": "warning",
    "must_be_inside": "error",
    "must_not_overlap_with": "error",
}

# Intersection over union at or above which two features count as near duplicates.
NEAR_DUPLICATE_IOU = 0.9
# Polsby-Popper compactness 4*pi*area/perimeter^2 (1 for a disc) below which a polygon is a
# sliver; 0.05 is about a 1:60 rectangle.
SLIVER_COMPACTNESS = 0.05

_OVERLAY_RULES = ("must_be_inside", "must_not_overlap_with")
_REASON = re.compile(r"^(?P<name>[^\[]*)\[(?P<x>\S+) (?P<y>\S+)\]\s*$")
_SELF_INTERSECTION = ("Self-intersection", "Ring Self-intersection")

_TYPE_POINT, _TYPE_LINE, _TYPE_RING, _TYPE_POLYGON = 0, 1, 2, 3
_TYPE_MULTIPOINT, _TYPE_MULTILINE, _TYPE_MULTIPOLYGON, _TYPE_COLLECTION = 4, 5, 6, 7


@dataclass(frozen=True)
class Finding:
    """One problem at one place.

    ``wkt`` is the location in the layer's CRS (empty for a null geometry). ``key`` identifies
    the finding across runs (see ``finding_key``); ``is_exception`` is true when it matched an
    accepted exception.
    """

    rule: str
    severity: str
    fid: int
    other_fid: int | None
    message: str
    wkt: str
    is_exception: bool = False
    key: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Report record (fixed key order)."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "fid": self.fid,
            "other_fid": self.other_fid,
            "message": self.message,
            "is_exception": self.is_exception,
            "key": self.key,
            "wkt": self.wkt,
        }


@dataclass(frozen=True)
class TopologyResult:
    """Findings sorted by rule (in ``RULES`` order), fid, other fid and location.

    ``counts`` has one entry per checked rule and excludes accepted exceptions; ``checked`` is
    the number of features looked at.
    """

    findings: tuple[Finding, ...]
    checked: int
    counts: dict[str, int]

    @property
    def error_count(self) -> int:
        return int(sum(self.counts.values()))

    @property
    def exception_count(self) -> int:
        return sum(1 for f in self.findings if f.is_exception)


@dataclass(frozen=True)
class ExceptionEntry:
    """An accepted exception: matches findings with this ``key`` or, when ``key`` is empty,
    every finding of ``rule`` on ``fid`` (and ``other_fid`` when given)."""

    rule: str
    fid: int
    other_fid: int | None = None
    key: str = ""


def finding_key(
    rule: str, fid: int, other_fid: int | None, wkt_or_geom: Any, geographic: bool = False
) -> str:
    """A 16-hex-digit key for a finding that survives re-runs and edits of other features.

    It hashes the rule, the feature id(s) and the centroid of the error location rounded to
    1e-7 degrees (geographic CRS, about 1 cm) or 1e-3 CRS units (projected). Editing the
    feature itself moves the location and so retires the key, on purpose.
    """
    if isinstance(wkt_or_geom, str):
        geom = shapely.from_wkt(wkt_or_geom) if wkt_or_geom else None
    else:
        geom = wkt_or_geom
    anchor = _anchors(np.array([geom], dtype=object))[0]
    return _key(rule, fid, other_fid, anchor, geographic)


def _anchors(geoms: np.ndarray) -> np.ndarray:
    """(x, y) per geometry that keys its finding: the centroid, or the first coordinate of a
    degenerate geometry; NaN for none."""
    out = np.full((len(geoms), 2), np.nan)
    has = ~shapely.is_missing(geoms)
    has[has] = ~shapely.is_empty(geoms[has])
    idx = np.flatnonzero(has)
    if idx.size:
        c = shapely.centroid(geoms[idx])
        out[idx, 0], out[idx, 1] = shapely.get_x(c), shapely.get_y(c)
        for i in idx[shapely.is_empty(c)]:  # degenerate geometry: its first coordinate
            out[i] = shapely.get_coordinates(geoms[i])[0]
    return out


def _key(rule: str, fid: int, other_fid: int | None, anchor: np.ndarray, geographic: bool) -> str:
    loc = ""
    if not np.isnan(anchor[0]):
        digits = 7 if geographic else 3
        x, y = (round(float(v), digits) + 0.0 for v in anchor)
        loc = f"{x:.{digits}f} {y:.{digits}f}"
    other = "" if other_fid is None else str(int(other_fid))
    text = f"{rule}|{int(fid)}|{other}|{loc}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def as_exception_entries(items: Iterable[Any] | None) -> list[ExceptionEntry]:
    """ExceptionEntry objects from entries, dicts with rule/fid/other_fid/key (an
    ``is_exception`` of false drops the row) or (rule, fid[, other_fid]) tuples."""
    out: list[ExceptionEntry] = []
    for item in items or ():
        if isinstance(item, ExceptionEntry):
            out.append(item)
        elif isinstance(item, dict):
            if "is_exception" in item and not _truthy(item["is_exception"]):
                continue
            rule = str(item.get("rule") or "")
            key = str(item.get("key") or "")
            fid = item.get("fid")
            if not rule and not key:
                continue
            other = item.get("other_fid")
            out.append(
                ExceptionEntry(
                    rule,
                    int(fid) if fid not in (None, "") else -1,
                    int(other) if other not in (None, "") else None,
                    key,
                )
            )
        else:
            seq = tuple(item)
            out.append(
                ExceptionEntry(
                    str(seq[0]),
                    int(seq[1]),
                    int(seq[2]) if len(seq) > 2 and seq[2] is not None else None,
                )
            )
    return out


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "t")
    return bool(value)


def local_area_scale(lat: np.ndarray, semi_major: float, inverse_flattening: float) -> np.ndarray:
    """Square metres per square degree at latitude ``lat`` (degrees) on an ellipsoid.

    The product of the meridional and prime-vertical radii of curvature; exact in the limit of
    small areas, within 0.1 % for labels up to about 10 km across.
    """
    f = 1.0 / inverse_flattening if inverse_flattening else 0.0
    e2 = f * (2.0 - f)
    phi = np.radians(np.clip(np.asarray(lat, dtype=np.float64), -90.0, 90.0))
    s2 = np.sin(phi) ** 2
    w = np.sqrt(1.0 - e2 * s2)
    m = semi_major * (1.0 - e2) / w**3
    nn = semi_major / w
    return (np.pi / 180.0) ** 2 * m * nn * np.cos(phi)


class _Run:
    """State of one check_topology call: inputs, options, thread pool and progress."""

    def __init__(
        self,
        fids: np.ndarray,
        geoms: np.ndarray,
        pool: ThreadPoolExecutor,
        ticker: Ticker,
        ellipsoid: tuple[float, float] | None,
    ) -> None:
        self.fids = fids
        self.geoms = geoms
        self.pool = pool
        self.ticker = ticker
        self.ellipsoid = ellipsoid
        self.findings: list[tuple[str, int, int | None, str, Any]] = []

    def add(self, rule: str, idx: int, other_fid: int | None, message: str, geom: Any) -> None:
        self.findings.append((rule, int(self.fids[idx]), other_fid, message, geom))

    def area(self, geoms: np.ndarray) -> np.ndarray:
        """Areas in CRS units squared, or square metres for a geographic CRS."""
        a = shapely.area(geoms)
        if self.ellipsoid is None or len(a) == 0:
            return a
        b = shapely.bounds(geoms)
        lat = 0.5 * (b[:, 1] + b[:, 3])
        return a * local_area_scale(np.nan_to_num(lat), *self.ellipsoid)

    def pmap(
        self,
        func: Callable[..., Any],
        arrays: Sequence[np.ndarray],
        chunk: int,
        ticker: Ticker | None = None,
    ) -> list[Any]:
        """``func`` over aligned chunks of ``arrays`` in the pool; results in order.

        Chunks are small enough (a fraction of a second) that cancelling stops quickly: the
        ticker raises Cancelled between chunks and pending chunks are dropped.
        """
        n = len(arrays[0])
        starts = list(range(0, n, chunk))
        futures = [self.pool.submit(func, *(a[s : s + chunk] for a in arrays)) for s in starts]
        out = []
        try:
            for s, fut in zip(starts, futures):
                out.append(fut.result())
                if ticker is not None:
                    ticker.advance(min(chunk, n - s))
                else:
                    self.ticker.check()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        return out


def _fmt(v: float) -> str:
    return f"{float(v):.10g}"


_PARSE_CHUNK = 32_768
# Chunks parsed ahead of the oldest one whose validity test is still running.
_AHEAD = 4
# Rules that only look at one feature at a time: with nothing else active, valid geometries
# are dropped as soon as they are tested, and memory is reused instead of grown.
_PER_FEATURE_RULES = frozenset({"invalid", "empty"})

Batch = tuple[np.ndarray, Any]


@dataclass
class _Parsed:
    """Geometries of all features in fid order, and what parsing learnt about them."""

    fids: np.ndarray
    geoms: np.ndarray  # None for null, unreadable and (when dropped) valid geometries
    null: np.ndarray  # no geometry at all
    empty: np.ndarray  # an empty geometry
    valid: np.ndarray  # GEOS is_valid (False where null or unreadable)
    unreadable: dict[int, str]  # GEOS cannot read the blob: its message


def _parser(raw: Any) -> Callable[[Any], np.ndarray] | None:
    """The function turning a chunk of ``raw`` into geometries (None: they are already)."""
    if isinstance(raw, WkbArray):
        return _wkb.decode
    first = next((v for v in raw if v is not None), None)
    if isinstance(first, str):
        return lambda chunk: shapely.from_wkt(chunk, on_invalid="ignore")
    if isinstance(first, (bytes, bytearray, memoryview)):
        return _wkb.decode
    if first is None:
        return lambda chunk: np.full(len(chunk), None, dtype=object)
    return None


def _chunks(raw: Any) -> Iterable[tuple[Any, np.ndarray]]:
    """Pieces of at most _PARSE_CHUNK features, each with its has-a-blob mask."""
    if not isinstance(raw, WkbArray):
        raw = np.asarray(raw, dtype=object)
    for start in range(0, len(raw), _PARSE_CHUNK):
        chunk = raw[start : start + _PARSE_CHUNK]
        if isinstance(chunk, WkbArray):
            yield chunk, chunk.lengths > 0
        else:
            yield chunk, np.not_equal(chunk, None)


def _unreadable(chunk: Any, failed: np.ndarray) -> list[str]:
    """GEOS's own message for blobs it could not read (rare: e.g. a 3-point ring)."""
    blobs = chunk.take(failed).to_objects() if isinstance(chunk, WkbArray) else chunk[failed]
    out = []
    for blob in blobs:
        try:
            if isinstance(blob, str):
                shapely.from_wkt(blob)
            else:
                shapely.from_wkb(blob)
            out.append("GEOS cannot read this geometry")
        except Exception as exc:  # noqa: BLE001 - GEOS's message is the finding
            out.append(str(exc).split("\n")[0])
    return out


def _validity(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is_valid, is_empty) of a chunk, in a pool thread: GEOS releases the GIL."""
    return shapely.is_valid(geoms), shapely.is_empty(geoms)


def _parse_batches(
    batches: Iterable[Batch], ticker: Ticker, pool: ThreadPoolExecutor, keep_valid: bool
) -> _Parsed:
    """Parse (fids, geometries) batches as they arrive, testing validity on the side.

    Parsing holds the GIL (it creates a Python object per geometry), so it runs in this
    thread, chunk by chunk, while the pool tests the validity of the chunks already parsed
    (GEOS releases the GIL); when the batches come from a reader, reading overlaps with the
    validity test too. Without ``keep_valid``, valid geometries are let go once tested.
    """
    fid_parts: list[np.ndarray] = []
    geom_parts: list[np.ndarray] = []
    null_parts: list[np.ndarray] = []
    empty_parts: list[np.ndarray] = []
    valid_parts: list[np.ndarray] = []
    unreadable: dict[int, str] = {}
    pending: list[tuple[np.ndarray, Any]] = []

    def settle(keep: int) -> None:
        while len(pending) > keep:
            geoms, fut = pending.pop(0)
            valid, empty = fut.result()
            if not keep_valid:
                geoms[valid] = None
            valid_parts.append(valid)
            empty_parts.append(empty)

    offset = 0
    try:
        for fids, raw in batches:
            fids = np.asarray(fids, dtype=np.int64)
            if len(fids) != len(raw):
                raise ValueError("fids and geoms differ in length")
            fid_parts.append(fids)
            parse = _parser(raw)
            for chunk, has_blob in _chunks(raw):
                # (a copy when given geometries: valid ones may be let go below)
                geoms = parse(chunk) if parse is not None else np.array(chunk, dtype=object)
                missing = shapely.is_missing(geoms)
                failed = np.flatnonzero(missing & has_blob)
                if failed.size:
                    unreadable.update(zip((offset + failed).tolist(), _unreadable(chunk, failed)))
                null_parts.append(missing & ~has_blob)
                geom_parts.append(geoms)
                pending.append((geoms, pool.submit(_validity, geoms)))
                settle(keep=_AHEAD)
                offset += len(geoms)
                ticker.advance(len(geoms))
        settle(keep=0)
    except BaseException:
        for _, fut in pending:
            fut.cancel()
        raise

    def cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

    parsed = _Parsed(
        cat(fid_parts, np.int64),
        cat(geom_parts, object),
        cat(null_parts, bool),
        cat(empty_parts, bool),
        cat(valid_parts, bool),
        unreadable,
    )
    fids = parsed.fids
    if len(fids) > 1 and not np.all(fids[1:] >= fids[:-1]):  # work in fid order
        order = np.argsort(fids, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        parsed = _Parsed(
            fids[order],
            parsed.geoms[order],
            parsed.null[order],
            parsed.empty[order],
            parsed.valid[order],
            {int(rank[i]): msg for i, msg in unreadable.items()},
        )
    return parsed


def check_topology(
    fids: np.ndarray,
    geoms: np.ndarray | WkbArray,
    rules: Sequence[str],
    **options: Any,
) -> TopologyResult:
    """Check ``rules`` (names from ``RULES``) on features ``fids`` with geometries ``geoms``.

    ``geoms`` holds shapely geometries, WKB bytes or WKT strings (None for a null geometry),
    or is a ``WkbArray``. Options as ``check_topology_batches``.
    """
    fids = np.asarray(fids, dtype=np.int64)
    if len(fids) != len(geoms):
        raise ValueError("fids and geoms differ in length")
    return check_topology_batches([(fids, geoms)], rules, total=len(fids), **options)


def check_topology_batches(
    batches: Iterable[Batch],
    rules: Sequence[str],
    *,
    total: int | None = None,
    tolerance: float = 0.0,
    min_area: float = 0.0,
    max_gap_area: float = 0.0,
    overlay: np.ndarray | None = None,
    exceptions: Iterable[Any] | None = None,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
    overlay_fids: np.ndarray | None = None,
    near_duplicate_iou: float = NEAR_DUPLICATE_IOU,
    sliver_compactness: float = SLIVER_COMPACTNESS,
    ellipsoid: tuple[float, float] | None = None,
    threads: int | None = None,
) -> TopologyResult:
    """Check ``rules`` on features arriving in ``batches`` of (fids, geometries), e.g. straight
    from a reader, so reading overlaps with checking; ``total`` (the expected feature count)
    only scales the progress. Geometries as in ``check_topology``.

    Areas (``tolerance``: the overlap area that is still accepted, ``min_area``, and
    ``max_gap_area``: 0 means gaps of any size) are in CRS units squared, or in square metres
    when ``ellipsoid`` = (semi-major axis in metres, inverse flattening) says the coordinates
    are longitude/latitude degrees. ``overlay`` (with ``overlay_fids``) is the second layer for
    the ``must_*`` rules; they are skipped without it. Rules that do not apply to a geometry
    type (``dangle`` on polygons, ``gap`` on lines) find nothing.

    Geometries found invalid are excluded from the pairwise and area rules, whose GEOS
    operations are undefined on them. Raises ValueError for an unknown rule and Cancelled
    when ``should_stop`` returns true.
    """
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ValueError(f"unknown rule(s): {', '.join(map(str, unknown))}")
    selected = [r for r in RULES if r in set(rules)]
    active = [r for r in selected if r not in _OVERLAY_RULES] if overlay is None else list(selected)
    ticker = Ticker(1.0, progress, should_stop)
    workers = threads or min(4, os.cpu_count() or 1)
    with paused_gc(), ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        parsed = _parse_batches(
            batches,
            ticker.sub(total or 1, 0.0, 0.35),
            pool,
            keep_valid=not set(active) <= _PER_FEATURE_RULES,
        )
        run = _Run(parsed.fids, parsed.geoms, pool, ticker, ellipsoid)
        _run_rules(
            run,
            set(active),
            parsed,
            tolerance=tolerance,
            min_area=min_area,
            max_gap_area=max_gap_area,
            overlay=overlay,
            overlay_fids=overlay_fids,
            near_duplicate_iou=near_duplicate_iou,
            sliver_compactness=sliver_compactness,
        )
    return _finish(run, active, exceptions, len(parsed.fids), ellipsoid is not None, progress)


def _run_rules(run: _Run, active: set, parsed: _Parsed, **opt: Any) -> None:
    g = run.geoms
    tk = run.ticker
    unreadable = parsed.unreadable
    readable = np.ones(len(g), dtype=bool)
    readable[list(unreadable)] = False
    present = readable & ~parsed.null & ~parsed.empty
    if "empty" in active:
        for i in np.flatnonzero(parsed.null | parsed.empty):
            kind = "null" if parsed.null[i] else "empty"
            run.add("empty", i, None, f"Geometry is {kind}.", None)

    # Validity: the boolean test came with parsing; reasons only for the failures.
    valid = parsed.valid & present
    invalid_idx = np.flatnonzero(present & ~valid)
    if "invalid" in active:
        for i, msg in sorted(unreadable.items()):
            run.add("invalid", i, None, f"Invalid geometry: {msg}.", None)
        _invalid_findings(run, invalid_idx)
    tk.check()

    types = shapely.get_type_id(g)
    polygonal = valid & np.isin(types, (_TYPE_POLYGON, _TYPE_MULTIPOLYGON))
    lineal = valid & np.isin(types, (_TYPE_LINE, _TYPE_RING, _TYPE_MULTILINE))

    dup_pairs: set = set()
    # Identical valid polygons overlap completely, so when overlapping pairs are computed
    # anyway they yield the duplicates too; hashing normalized WKB of every feature (the
    # general method) would cost more than all the pair rules together.
    pair_dups = "duplicate" in active and bool(active & {"overlap", "near_duplicate"})
    if "duplicate" in active:
        dup_pairs = _duplicates(
            run, np.flatnonzero(present & ~(polygonal & pair_dups)), tk.sub(1, 0.35, 0.45)
        )
    if active & {"overlap", "near_duplicate", "gap"}:
        _pairs.pair_rules(
            run,
            np.flatnonzero(polygonal),
            active,
            dup_pairs,
            tolerance=opt["tolerance"],
            max_gap_area=opt["max_gap_area"],
            near_duplicate_iou=opt["near_duplicate_iou"],
            ticker=tk.sub(1, 0.45, 0.9),
            cover_extra=shapely.make_valid(
                g[invalid_idx[np.isin(types[invalid_idx], (_TYPE_POLYGON, _TYPE_MULTIPOLYGON))]]
            ),
        )
    if "sliver" in active or ("min_area" in active and opt["min_area"] > 0):
        _area_rules(
            run, np.flatnonzero(polygonal), active, opt["min_area"], opt["sliver_compactness"]
        )
    if "multipart" in active:
        _multipart(run, np.flatnonzero(present), types)
    if "dangle" in active:
        _dangles(run, np.flatnonzero(lineal))
    tk.check()
    if active & set(_OVERLAY_RULES):
        _overlay_rules(
            run,
            np.flatnonzero(valid),
            active,
            opt["overlay"],
            opt["overlay_fids"],
            opt["tolerance"],
        )
    tk.sub(1, 0.9, 0.97).advance(1)


def _invalid_findings(run: _Run, invalid_idx: np.ndarray) -> None:
    if invalid_idx.size == 0:
        return
    reasons = shapely.is_valid_reason(run.geoms[invalid_idx])
    self_x = [i for i, r in zip(invalid_idx, reasons) if r.split("[")[0] in _SELF_INTERSECTION]
    points = self_intersection_points(run.geoms[np.asarray(self_x, dtype=np.int64)])
    si = dict(zip(self_x, points))
    at: list[int] = []
    xy: list[tuple[float, float]] = []
    for i, reason in zip(invalid_idx, reasons):
        m = _REASON.match(reason)
        name = m.group("name") if m else reason
        geos_pt: list[tuple[float, float]] = []
        if m:
            try:
                geos_pt = [(float(m.group("x")), float(m.group("y")))]
            except ValueError:  # "nan" or garbage coordinates: no location
                geos_pt = []
        locs = [tuple(p) for p in si.get(i, [])] or geos_pt
        if not locs:
            run.add("invalid", i, None, f"Invalid geometry: {name}.", None)
            continue
        for k, (x, y) in enumerate(locs, 1):
            where = f"at ({_fmt(x)}, {_fmt(y)})"
            of = f" [{k} of {len(locs)}]" if len(locs) > 1 else ""
            at.append(len(run.findings))
            xy.append((x, y))
            run.add("invalid", i, None, f"Invalid geometry: {name} {where}{of}.", None)
    points = shapely.points(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
    for n, point in zip(at, points):  # all location points made at once
        rule, fid, other, message, _ = run.findings[n]
        run.findings[n] = (rule, fid, other, message, point)


def self_intersection_points(geoms: np.ndarray) -> list[np.ndarray]:
    """Every place where the boundary of each polygon crosses or touches itself.

    Returns, per geometry, an (n, 2) array of points sorted by x, y: crossings and touches of
    non-adjacent segments of one ring, proper crossings or shared stretches between different
    rings or parts (a single valid touch of a hole and its shell is not reported), and the
    middle of collinear stretches where adjacent segments fold back on themselves (spikes).
    GEOS's validity check stops at the first of them; this finds all, in bulk for all geometries.
    """
    n = len(geoms)
    out: list[np.ndarray] = [np.empty((0, 2)) for _ in range(n)]
    if n == 0:
        return out
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    rings = shapely.remove_repeated_points(rings)
    feat_of_ring = part_of[ring_part]
    coords, cidx = shapely.get_coordinates(rings, return_index=True)
    if len(coords) < 2:
        return out
    s = np.flatnonzero(cidx[:-1] == cidx[1:])
    ring_of_seg = cidx[s]
    first_seg = np.searchsorted(ring_of_seg, np.arange(len(rings)))
    nseg = np.bincount(ring_of_seg, minlength=len(rings))
    pos = np.arange(len(s)) - first_seg[ring_of_seg]
    segs = shapely.linestrings(np.stack([coords[s], coords[s + 1]], axis=1))
    tree = shapely.STRtree(segs)
    a, b = tree.query(segs, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    fa, fb = feat_of_ring[ring_of_seg[a]], feat_of_ring[ring_of_seg[b]]
    same_feat = fa == fb
    a, b = a[same_feat], b[same_feat]
    ra, rb = ring_of_seg[a], ring_of_seg[b]
    same_ring = ra == rb
    d = np.abs(pos[a] - pos[b])
    adjacent = same_ring & ((d == 1) | (d == nseg[ra] - 1))
    # Adjacent segments always meet at their shared vertex; they matter only when they fold
    # back onto each other, which needs them collinear. Skip the clearly non-collinear ones
    # (most pairs) before GEOS computes intersections.
    ua = coords[s[a] + 1] - coords[s[a]]
    ub = coords[s[b] + 1] - coords[s[b]]
    cross = np.abs(ua[:, 0] * ub[:, 1] - ua[:, 1] * ub[:, 0])
    scale = np.hypot(ua[:, 0], ua[:, 1]) * np.hypot(ub[:, 0], ub[:, 1])
    maybe = ~adjacent | (cross <= 1e-9 * scale)
    a, b, same_ring, adjacent = a[maybe], b[maybe], same_ring[maybe], adjacent[maybe]
    fa = fa[same_feat][maybe]
    inter = shapely.intersection(segs[a], segs[b])
    itype = shapely.get_type_id(inter)
    is_line = itype == _TYPE_LINE
    # Different rings must cross properly (or share a stretch): touching once is valid.
    crosses = np.zeros(len(a), dtype=bool)
    crosses[~same_ring] = shapely.crosses(segs[a[~same_ring]], segs[b[~same_ring]])
    report = np.where(same_ring, ~adjacent | is_line, crosses | is_line)
    inter = inter[report]
    feats = fa[report]
    pts = inter.copy()
    lines = shapely.get_type_id(inter) == _TYPE_LINE
    pts[lines] = shapely.line_interpolate_point(inter[lines], 0.5, normalized=True)
    ok = ~shapely.is_empty(pts)
    feats, xy = feats[ok], shapely.get_coordinates(shapely.centroid(pts[ok]))
    order = np.lexsort((xy[:, 1], xy[:, 0], feats))
    feats, xy = feats[order], xy[order]
    # One point per place: drop repeats of a rounded location, keeping the first in x, y order.
    rounded = np.round(xy, 9)
    by_place = np.lexsort((np.arange(len(feats)), rounded[:, 1], rounded[:, 0], feats))
    f_, r_ = feats[by_place], rounded[by_place]
    repeat = np.zeros(len(feats), dtype=bool)
    repeat[by_place[1:]] = (f_[1:] == f_[:-1]) & (r_[1:] == r_[:-1]).all(axis=1)
    feats, xy = feats[~repeat], xy[~repeat]
    cuts = np.flatnonzero(feats[1:] != feats[:-1]) + 1
    for f, pts_f in zip(feats[np.r_[0, cuts]] if len(feats) else [], np.split(xy, cuts)):
        out[int(f)] = pts_f
    return out


def _duplicates(run: _Run, idx: np.ndarray, ticker: Ticker) -> set:
    """Identical geometries after normalization, found by hashing normalized WKB."""
    found: set = set()
    if idx.size < 2:
        ticker.advance(1)
        return found
    sub = run.geoms[idx]

    def digest(a: np.ndarray) -> np.ndarray:
        wkb = shapely.to_wkb(shapely.normalize(a))
        return np.array([hash(w) for w in wkb], dtype=np.int64), wkb

    parts = run.pmap(digest, [sub], 50000)
    hashes = np.concatenate([p[0] for p in parts])
    wkbs = np.concatenate([p[1] for p in parts])
    order = np.argsort(hashes, kind="stable")
    hs = hashes[order]
    same = np.flatnonzero(hs[1:] == hs[:-1])
    groups: dict[bytes, list[int]] = {}
    for k in np.unique(np.concatenate([same, same + 1])) if same.size else []:
        i = int(order[k])
        groups.setdefault(wkbs[i], []).append(int(idx[i]))
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda i: run.fids[i])
        first = members[0]
        for other in members[1:]:
            found.add((min(first, other), max(first, other)))
            run.add(
                "duplicate",
                first,
                int(run.fids[other]),
                f"Duplicate: feature {run.fids[first]} and feature {run.fids[other]} have "
                "the same geometry.",
                run.geoms[other],
            )
    ticker.advance(1)
    return found


def _area_rules(
    run: _Run, idx: np.ndarray, active: set, min_area: float, compactness_limit: float
) -> None:
    if idx.size == 0:
        return
    geoms = run.geoms[idx]
    area = run.area(geoms)
    unit = "m²" if run.ellipsoid is not None else "square units"
    if "min_area" in active and min_area > 0:
        for k in np.flatnonzero(area < min_area):
            run.add(
                "min_area",
                idx[k],
                None,
                f"Area {area[k]:.6g} {unit} is below the minimum of {min_area:.6g} {unit}.",
                geoms[k],
            )
    if "sliver" in active and compactness_limit > 0:
        raw_area = shapely.area(geoms)
        perim = shapely.length(geoms)
        with np.errstate(divide="ignore", invalid="ignore"):
            comp = np.where(perim > 0, 4.0 * np.pi * raw_area / perim**2, 1.0)
        if run.ellipsoid is None:
            cand = np.flatnonzero(comp < compactness_limit)
            true_comp = comp[cand]
        else:
            # Degrees distort shape by cos(latitude) at most: compute the exact value on an
            # east-west rescaled copy, only for the few that could be below the limit.
            b = shapely.bounds(geoms)
            c = np.cos(np.radians(np.clip(0.5 * (b[:, 1] + b[:, 3]), -89.9, 89.9)))
            cand = np.flatnonzero(comp < compactness_limit / c)
            true_comp = np.empty(len(cand))
            for j, k in enumerate(cand):  # few candidates; each needs its own scale factor
                xy = shapely.get_coordinates(geoms[k])
                scaled = shapely.set_coordinates(
                    shapely.transform(geoms[k], lambda p: p), xy * np.array([c[k], 1.0])
                )
                pa, pp = shapely.area(scaled), shapely.length(scaled)
                true_comp[j] = 4.0 * np.pi * pa / pp**2 if pp > 0 else 1.0
            keep = true_comp < compactness_limit
            cand, true_comp = cand[keep], true_comp[keep]
        for k, cval in zip(cand, true_comp):
            run.add(
                "sliver",
                idx[k],
                None,
                f"Sliver: compactness {cval:.3g} is below {compactness_limit:.3g} (long and thin).",
                geoms[k],
            )


def _multipart(run: _Run, idx: np.ndarray, types: np.ndarray) -> None:
    multi = idx[
        np.isin(
            types[idx], (_TYPE_MULTIPOINT, _TYPE_MULTILINE, _TYPE_MULTIPOLYGON, _TYPE_COLLECTION)
        )
    ]
    if multi.size == 0:
        return
    nparts = shapely.get_num_geometries(run.geoms[multi])
    for i, n in zip(multi[nparts > 1], nparts[nparts > 1]):
        parts = shapely.get_parts(run.geoms[i])
        size = np.where(shapely.area(parts) > 0, shapely.area(parts), shapely.length(parts))
        largest = int(np.argmax(size))  # report where the extra parts are
        extra = (
            shapely.multipolygons(parts[np.arange(len(parts)) != largest])
            if types[i] == _TYPE_MULTIPOLYGON
            else shapely.geometrycollections(parts[np.arange(len(parts)) != largest])
        )
        if types[i] == _TYPE_MULTILINE:
            extra = shapely.multilinestrings(parts[np.arange(len(parts)) != largest])
        elif types[i] == _TYPE_MULTIPOINT:
            extra = shapely.multipoints(parts[np.arange(len(parts)) != largest])
        run.add(
            "multipart",
            i,
            None,
            f"Multipart geometry with {int(n)} parts where a single part is expected; the "
            f"location shows the {int(n) - 1} extra part(s).",
            extra,
        )


def _dangles(run: _Run, idx: np.ndarray) -> None:
    if idx.size == 0:
        return
    parts, part_of = shapely.get_parts(run.geoms[idx], return_index=True)
    usable = shapely.get_num_points(parts) >= 2
    parts, part_of = parts[usable], part_of[usable]
    if len(parts) == 0:
        return
    starts = shapely.get_point(parts, 0)
    ends = shapely.get_point(parts, -1)
    closed = shapely.equals(starts, ends)
    ends_pts = np.concatenate([starts, ends])
    end_part = np.concatenate([np.arange(len(parts)), np.arange(len(parts))])
    which = np.concatenate([np.zeros(len(parts), int), np.ones(len(parts), int)])
    tree = shapely.STRtree(parts)
    e, p = tree.query(ends_pts, predicate="intersects")
    other = p != end_part[e]
    touching = np.zeros(len(ends_pts), dtype=bool)
    touching[e[other]] = True
    touching |= np.concatenate([closed, closed])
    for k in np.flatnonzero(~touching):
        part = parts[end_part[k]]
        xy = shapely.get_coordinates(part)
        # A line that ends on itself (a loop) is not dangling: test against the rest of it.
        rest = xy[1:] if which[k] == 0 else xy[:-1]
        rest = rest[1:] if which[k] == 0 else rest[:-1]
        if len(rest) >= 2 and shapely.intersects(ends_pts[k], shapely.linestrings(rest)):
            continue
        i = idx[part_of[end_part[k]]]
        label = "start" if which[k] == 0 else "end"
        run.add(
            "dangle",
            i,
            None,
            f"Dangling {label} point: the line ends without touching another line.",
            ends_pts[k],
        )


def _overlay_rules(
    run: _Run,
    idx: np.ndarray,
    active: set,
    overlay: np.ndarray,
    overlay_fids: np.ndarray | None,
    tolerance: float,
) -> None:
    ov = np.asarray(overlay, dtype=object)
    if len(ov) and isinstance(next((v for v in ov if v is not None), None), (bytes, bytearray)):
        ov = shapely.from_wkb(ov, on_invalid="ignore")
    ofids = (
        np.arange(len(ov), dtype=np.int64)
        if overlay_fids is None
        else np.asarray(overlay_fids, dtype=np.int64)
    )
    usable = ~shapely.is_missing(ov) & ~shapely.is_empty(ov)
    usable[usable] = shapely.is_valid(ov[usable])
    ov_idx = np.flatnonzero(usable)
    ov, ofids = ov[ov_idx], ofids[ov_idx]
    tree = shapely.STRtree(ov)
    geoms = run.geoms[idx]
    dims = shapely.get_dimensions(geoms)

    def too_small(pieces: np.ndarray, d: np.ndarray) -> np.ndarray:
        size = np.where(d == 2, run.area(pieces), shapely.length(pieces))
        return np.where(
            d == 2, size <= tolerance, np.where(d == 1, size <= 0, shapely.is_empty(pieces))
        )

    if "must_be_inside" in active:
        inside = np.zeros(len(idx), dtype=bool)
        a, _b = tree.query(geoms, predicate="covered_by")
        inside[a] = True
        a, b = tree.query(geoms, predicate="intersects")
        for k in np.flatnonzero(~inside):  # only features not inside one overlay polygon
            hits = b[a == k]
            cover = shapely.union_all(ov[hits]) if hits.size else None
            outside = geoms[k] if cover is None else shapely.difference(geoms[k], cover)
            if shapely.is_empty(outside) or too_small(np.array([outside]), dims[k : k + 1])[0]:
                continue
            run.add(
                "must_be_inside",
                idx[k],
                None,
                "Outside the overlay layer: the location shows the part that lies outside.",
                outside,
            )
    if "must_not_overlap_with" in active:
        a, b = tree.query(geoms, predicate="intersects")
        if a.size:
            inter = shapely.intersection(geoms[a], ov[b])
            d = np.minimum(dims[a], shapely.get_dimensions(ov[b]))
            inter = np.array([_dimension_part(x, dd) for x, dd in zip(inter, d)], dtype=object)
            bad = ~too_small(inter, d) & ~shapely.is_empty(inter)
            for k in np.flatnonzero(bad):
                run.add(
                    "must_not_overlap_with",
                    idx[a[k]],
                    int(ofids[b[k]]),
                    f"Overlaps overlay feature {int(ofids[b[k]])}; the location shows the "
                    "shared part.",
                    inter[k],
                )


def _dimension_part(geom: Any, dim: int) -> Any:
    """The parts of ``geom`` of dimension ``dim`` (drops the touching points/lines of an
    intersection)."""
    if shapely.get_dimensions(geom) == dim and shapely.get_type_id(geom) != _TYPE_COLLECTION:
        return geom
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_dimensions(parts) == dim]
    if len(parts) == 0:
        return shapely.from_wkt("GEOMETRYCOLLECTION EMPTY")
    if len(parts) == 1:
        return parts[0]
    return shapely.union_all(parts)


def _finish(
    run: _Run,
    active: list[str],
    exceptions: Iterable[Any] | None,
    checked: int,
    geographic: bool,
    progress: ProgressFn,
) -> TopologyResult:
    entries = as_exception_entries(exceptions)
    keys = {e.key for e in entries if e.key}
    loose = {(e.rule, e.fid, e.other_fid) for e in entries if not e.key}
    loose_any_other = {(e.rule, e.fid) for e in entries if not e.key and e.other_fid is None}
    geoms = np.array([f[4] for f in run.findings] + [None], dtype=object)[:-1]
    wkts = shapely.to_wkt(geoms, rounding_precision=-1) if len(geoms) else []
    anchors = _anchors(geoms)
    findings: list[Finding] = []
    for (rule, fid, other, message, _geom), wkt, anchor in zip(run.findings, wkts, anchors):
        wkt = wkt or ""
        key = _key(rule, fid, other, anchor, geographic)
        accepted = key in keys or (rule, fid, other) in loose or (rule, fid) in loose_any_other
        findings.append(Finding(rule, SEVERITY[rule], fid, other, message, wkt, accepted, key))
    order = {r: k for k, r in enumerate(RULES)}
    findings.sort(
        key=lambda f: (
            order[f.rule],
            f.fid,
            -1 if f.other_fid is None else f.other_fid,
            f.wkt,
            f.message,
        )
    )
    counts = {r: 0 for r in active}
    for f in findings:
        if not f.is_exception:
            counts[f.rule] += 1
    if progress is not None:
        progress(1.0)
    return TopologyResult(tuple(findings), checked, counts)
