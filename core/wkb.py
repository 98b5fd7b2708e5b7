"""WKB in bulk: a packed column of WKB blobs, and a fast decoder for polygon layers.

``shapely.from_wkb`` runs GEOS's WKB reader once per geometry and holds the GIL while it does,
about 0.8 s per million 9-vertex polygons. Annotation layers are almost all 2D little-endian
Polygons and MultiPolygons, whose WKB is simple enough to split into coordinates and offsets
with a few numpy operations; ``shapely.from_ragged_array`` (the GeoArrow layout) then builds the
geometries in C, in under half the time. Everything else (other types, Z/M, big-endian, EWKB,
rings GEOS would refuse, truncated blobs) goes through ``shapely.from_wkb`` unchanged, so
``decode`` gives exactly what ``shapely.from_wkb(..., on_invalid="ignore")`` gives.

(GDAL >= 3.8 can stream GeoArrow coordinates itself; GDAL 3.6, shipped with QGIS 3.22 on
Debian 12, streams WKB only.)
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .geos import shapely

_POLYGON, _MULTIPOLYGON = 3, 6
# Polygons with more rings, or multipolygons with more parts, than this are decoded by GEOS:
# the vectorized parser loops once per ring (or part) index.
MAX_RINGS = 64
MAX_PARTS = 64
# ``WkbArray.take`` copies at most this many bytes per step (its index array is 8x that).
_TAKE_BYTES = 1 << 22


@dataclass
class WkbArray:
    """WKB blobs back to back in one byte buffer: blob ``i`` is ``data[offsets[i]:offsets[i+1]]``;
    an empty blob stands for a null geometry. Slicing never builds one Python object per
    geometry (an object array of a million ``bytes`` costs ~0.2 s to make)."""

    data: np.ndarray  # uint8
    offsets: np.ndarray  # int64, len(self) + 1, offsets[0] may be > 0 after slicing

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @classmethod
    def from_objects(cls, values: Iterable[bytes | bytearray | memoryview | None]) -> WkbArray:
        """From a sequence of WKB ``bytes`` (None for a null geometry)."""
        items = [b"" if v is None else bytes(v) for v in values]
        offsets = np.zeros(len(items) + 1, dtype=np.int64)
        if items:
            np.cumsum(np.fromiter(map(len, items), np.int64, len(items)), out=offsets[1:])
        return cls(np.frombuffer(b"".join(items), dtype=np.uint8), offsets)

    def __getitem__(self, item: slice) -> WkbArray:
        if not isinstance(item, slice) or item.step not in (None, 1):
            raise TypeError("WkbArray supports plain slices; use take() for an index array")
        start, stop, _ = item.indices(len(self))
        return WkbArray(self.data, self.offsets[start : max(stop, start) + 1])

    def take(self, indices: np.ndarray) -> WkbArray:
        """The blobs at ``indices`` (any order, repeats allowed), copied into a new buffer."""
        indices = np.asarray(indices, dtype=np.int64)
        lengths = self.lengths[indices]
        offsets = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        out = np.empty(int(offsets[-1]), dtype=np.uint8)
        starts = self.offsets[:-1][indices]
        i = 0
        while i < len(indices):  # in steps, so the byte index array stays small
            j = i + 1 + int(np.searchsorted(offsets[i + 1 :], offsets[i] + _TAKE_BYTES))
            j = min(j, len(indices))
            n = lengths[i:j]
            first = np.repeat(offsets[i:j] - offsets[i], n)
            within = np.arange(int(n.sum()), dtype=np.int64) - first
            out[offsets[i] : offsets[j]] = self.data[np.repeat(starts[i:j], n) + within]
            i = j
        return WkbArray(out, offsets)

    def to_objects(self) -> np.ndarray:
        """An object array of ``bytes`` (None for a null geometry)."""
        out = np.empty(len(self), dtype=object)
        raw = self.data.tobytes()
        offs = self.offsets.tolist()
        out[:] = [raw[a:b] if b > a else None for a, b in zip(offs[:-1], offs[1:])]
        return out


def concat_wkb(parts: Sequence[WkbArray]) -> WkbArray:
    """One WkbArray holding the blobs of ``parts`` in order."""
    if not parts:
        return WkbArray(np.empty(0, np.uint8), np.zeros(1, np.int64))
    data = [p.data[p.offsets[0] : p.offsets[-1]] for p in parts]
    lengths = np.concatenate([p.lengths for p in parts])
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return WkbArray(np.concatenate(data), offsets)


def _strided(data: np.ndarray, dtype: str) -> np.ndarray:
    """``data`` seen as overlapping items of ``dtype`` starting at every byte, so that values
    at arbitrary (unaligned) byte positions can be gathered with one fancy index."""
    size = np.dtype(dtype).itemsize
    count = max(len(data) - size + 1, 0)
    return np.ndarray(shape=(count,), dtype=dtype, buffer=data, strides=(1,))


class _Reader:
    """Vectorized reads of little-endian values at byte positions of one buffer."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.u32 = _strided(data, "<u4")
        self.point = _strided(data, "V16")

    def uint32(self, pos: np.ndarray) -> np.ndarray:
        return self.u32[pos].astype(np.int64)


def _ring_table(rd: _Reader, pos: np.ndarray, end: np.ndarray, ok: np.ndarray):
    """Parse polygon bodies (ring count, then rings) starting at ``pos``, each ending at or
    before ``end``. Returns (ring body index, ring order, coordinate start, point count) for
    all rings, the end position of each body, and ``ok`` cleared where a body is malformed
    or has more than MAX_RINGS rings."""
    ok = ok & (pos + 4 <= end)
    nrings = np.zeros(len(pos), dtype=np.int64)
    nrings[ok] = rd.uint32(pos[ok])
    ok &= (nrings >= 1) & (nrings <= MAX_RINGS)
    cur = pos + 4
    owners, orders, starts, counts = [], [], [], []
    r = 0
    while True:
        act = np.flatnonzero(ok & (nrings > r))
        if act.size == 0:
            break
        head_ok = cur[act] + 4 <= end[act]
        ok[act[~head_ok]] = False
        act = act[head_ok]
        npts = rd.uint32(cur[act])
        stop = cur[act] + 4 + 16 * npts
        good = (npts >= 4) & (stop <= end[act])
        ok[act[~good]] = False
        act, npts, stop = act[good], npts[good], stop[good]
        owners.append(act)
        orders.append(np.full(act.size, r, dtype=np.int64))
        starts.append(cur[act] + 4)
        counts.append(npts)
        cur[act] = stop
        r += 1
    cat = lambda xs: np.concatenate(xs) if xs else np.empty(0, np.int64)  # noqa: E731
    return cat(owners), cat(orders), cat(starts), cat(counts), cur, ok


def _closed(rd: _Reader, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """True where a ring's last point equals its first, compared by value as GEOS does (so a
    ring starting at NaN is not closed, and GEOS's reader refuses it)."""
    first = rd.point[starts].view("<f8").reshape(-1, 2)
    last = rd.point[starts + 16 * (counts - 1)].view("<f8").reshape(-1, 2)
    return (first == last).all(axis=1)


def _coords(rd: _Reader, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The points of all rings, ring after ring, as an (n, 2) float64 array."""
    if len(counts) == 0:
        return np.empty((0, 2), dtype=np.float64)
    if counts.min() == counts.max():  # all rings the same size: one gather
        width = int(counts[0]) * 16
        rows = _strided(rd.data, f"V{width}")[starts]
        return rows.view("<f8").reshape(-1, 2)
    total = int(counts.sum())
    if total > _LONG_RINGS * len(counts):
        # Long rings (land cover): each ring's bytes copied at once; an index per point would
        # cost more than the copy.
        out = np.empty((total, 2), dtype=np.float64)
        flat = out.reshape(-1).view(np.uint8)
        pos = 0
        for s, c in zip(starts.tolist(), counts.tolist()):
            flat[pos : pos + 16 * c] = rd.data[s : s + 16 * c]
            pos += 16 * c
        return out
    first = np.zeros(len(counts), dtype=np.int64)
    if len(counts) > 1:
        np.cumsum(counts[:-1], out=first[1:])
    # Byte position of point k (k counted over all rings) = ring start + 16 * (k - ring's first).
    pos = np.repeat(starts - 16 * first, counts) + 16 * np.arange(int(first[-1] + counts[-1]))
    return rd.point[pos].view("<f8").reshape(-1, 2)


# Rings of more points than this on average are copied ring by ring (see ``_coords``).
_LONG_RINGS = 64


def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _polygons(rd: _Reader, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode Polygon blobs; returns (geometries, ok) where ok marks those decoded here."""
    ok = np.ones(len(start), dtype=bool)
    owner, order, rstart, npts, cur, ok = _ring_table(rd, start + 5, end, ok)
    ok &= cur == end
    bad_ring = ~_closed(rd, rstart, npts)
    ok[owner[bad_ring]] = False
    keep = ok[owner]
    owner, order, rstart, npts = owner[keep], order[keep], rstart[keep], npts[keep]
    sort = np.lexsort((order, owner))
    owner, rstart, npts = owner[sort], rstart[sort], npts[sort]
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return np.empty(0, dtype=object), ok
    rings_per = np.bincount(owner, minlength=len(start))[idx]
    geoms = shapely.from_ragged_array(
        shapely.GeometryType.POLYGON,
        _coords(rd, rstart, npts),
        (_offsets(npts), _offsets(rings_per)),
    )
    return geoms, ok


def _multipolygons(
    rd: _Reader, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Decode MultiPolygon blobs; returns (geometries, ok) as ``_polygons``."""
    n = len(start)
    ok = start + 9 <= end
    nparts = np.zeros(n, dtype=np.int64)
    nparts[ok] = rd.uint32(start[ok] + 5)
    ok &= (nparts >= 1) & (nparts <= MAX_PARTS)
    cur = start + 9
    part_geom, part_order = [], []
    ring_part, ring_order, ring_start, ring_npts = [], [], [], []
    n_parts_total = 0
    p = 0
    while True:
        act = np.flatnonzero(ok & (nparts > p))
        if act.size == 0:
            break
        head = cur[act]
        head_ok = head + 9 <= end[act]
        head_ok[head_ok] &= (rd.data[head[head_ok]] == 1) & (
            rd.uint32(head[head_ok] + 1) == _POLYGON
        )
        ok[act[~head_ok]] = False
        act = act[head_ok]
        owner, order, rstart, npts, pend, pok = _ring_table(
            rd, cur[act] + 5, end[act], np.ones(act.size, dtype=bool)
        )
        ok[act[~pok]] = False
        cur[act] = pend
        ids = n_parts_total + np.arange(act.size, dtype=np.int64)
        part_geom.append(act)
        part_order.append(np.full(act.size, p, dtype=np.int64))
        ring_part.append(ids[owner])
        ring_order.append(order)
        ring_start.append(rstart)
        ring_npts.append(npts)
        n_parts_total += act.size
        p += 1
    ok &= cur == end
    if not part_geom:
        return np.empty(0, dtype=object), ok
    part_geom_a = np.concatenate(part_geom)
    part_order_a = np.concatenate(part_order)
    rpart = np.concatenate(ring_part)
    rorder = np.concatenate(ring_order)
    rstart = np.concatenate(ring_start)
    rnpts = np.concatenate(ring_npts)
    bad_ring = ~_closed(rd, rstart, rnpts)
    ok[part_geom_a[rpart[bad_ring]]] = False
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return np.empty(0, dtype=object), ok
    # Order parts by (geometry, part) and rings by (that part order, ring).
    keep_part = ok[part_geom_a]
    psort = np.lexsort((part_order_a, part_geom_a))
    psort = psort[keep_part[psort]]
    rank = np.full(n_parts_total, -1, dtype=np.int64)
    rank[psort] = np.arange(psort.size)
    keep_ring = rank[rpart] >= 0
    rsort = np.lexsort((rorder[keep_ring], rank[rpart[keep_ring]]))
    rstart, rnpts = rstart[keep_ring][rsort], rnpts[keep_ring][rsort]
    rings_per_part = np.bincount(rank[rpart[keep_ring]], minlength=psort.size)
    parts_per_geom = np.bincount(part_geom_a[psort], minlength=n)[idx]
    geoms = shapely.from_ragged_array(
        shapely.GeometryType.MULTIPOLYGON,
        _coords(rd, rstart, rnpts),
        (_offsets(rnpts), _offsets(rings_per_part), _offsets(parts_per_geom)),
    )
    return geoms, ok


def _uniform_coords(arr: WkbArray) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The common case of a batch of equally long one-ring polygons (box annotations, fixed
    templates) as whole-batch arrays: (coordinates (n, points, 2), ok, WKB type), or None
    when the batch is not of that kind. Blobs whose header differs from the first blob's,
    or whose ring is not closed, are not ok."""
    n = len(arr)
    lengths = arr.lengths
    size = int(lengths[0])
    if size < 13 or not np.all(lengths == size):
        return None
    rows = arr.data[arr.offsets[0] : arr.offsets[-1]].reshape(n, size)
    first = rows[0]
    if first[0] != 1:
        return None
    kind = int(first[1:5].view("<u4")[0])
    head = {_POLYGON: 13, _MULTIPOLYGON: 22}.get(kind)
    # Rings of fewer than 4 points are GEOS's to refuse (from_ragged_array raises on them).
    if head is None or size < head + 4 * 16 or (size - head) % 16:
        return None
    template = np.frombuffer(
        (b"\x01" + np.array([_MULTIPOLYGON, 1], "<u4").tobytes() if kind == _MULTIPOLYGON else b"")
        + b"\x01"
        + np.array([_POLYGON, 1, (size - head) // 16], "<u4").tobytes(),
        dtype=np.uint8,
    )
    ok = np.all(rows[:, :head] == template, axis=1)
    points = (size - head) // 16
    coords = np.ascontiguousarray(rows[:, head:]).view("<f8").reshape(n, points, 2)
    ok &= np.all(coords[:, 0] == coords[:, -1], axis=1)  # closed (by value, as GEOS checks)
    return coords, ok, kind


def _uniform(arr: WkbArray) -> tuple[np.ndarray, np.ndarray] | None:
    """``_uniform_coords`` decoded: (geometries of the ok blobs, ok), or None."""
    found = _uniform_coords(arr)
    if found is None:
        return None
    coords, ok, kind = found
    n, points = coords.shape[0], coords.shape[1]
    good = np.flatnonzero(ok)
    if good.size == 0:
        return np.empty(0, dtype=object), ok
    flat = coords[good].reshape(-1, 2) if good.size < n else coords.reshape(-1, 2)
    steps = np.arange(good.size + 1, dtype=np.int64)
    offsets: tuple[np.ndarray, ...] = (steps * points, steps)
    if kind == _MULTIPOLYGON:
        offsets = offsets + (steps,)
    geoms = shapely.from_ragged_array(shapely.GeometryType(kind), flat, offsets)
    return geoms, ok


def bounds(values: WkbArray) -> np.ndarray:
    """(n, 4) bounding boxes (xmin, ymin, xmax, ymax) of WKB blobs, NaN where there is no
    geometry or GEOS cannot read it: ``shapely.bounds(decode(values))``, but straight from
    the coordinates for a batch of equally long one-ring polygons (no geometry is built).
    A NaN coordinate is skipped, as GEOS's envelope skips it."""
    n = len(values)
    out = np.full((n, 4), np.nan)
    if n == 0:
        return out
    try:
        found = _uniform_coords(values)
    except ValueError:
        found = None
    rest = np.arange(n)
    if found is not None:
        coords, ok, _ = found
        good = np.flatnonzero(ok)
        if good.size:
            c = coords if good.size == n else coords[good]
            low, high = c[:, 0].copy(), c[:, 0].copy()
            for k in range(1, c.shape[1]):  # one step per vertex, each over the whole batch
                np.fmin(low, c[:, k], out=low)  # fmin/fmax skip NaN, as GEOS's envelope
                np.fmax(high, c[:, k], out=high)
            out[good, 0:2] = low
            out[good, 2:4] = high
        rest = np.flatnonzero(~ok)
    if rest.size:
        geoms = decode(values.take(rest) if rest.size < n else values)
        out[rest] = np.asarray(shapely.bounds(geoms), dtype=float).reshape(rest.size, 4)
    return out


# Rings and lines of up to this many points are judged by ``known_valid``; longer ones by GEOS.
MAX_KNOWN_POINTS = 64
# A turn counts as a turn when its cross product exceeds this share of the two edge lengths'
# product: far above rounding, so the sign is the sign GEOS's exact orientation test gives.
_TURN_EPS = 1e-9
_LINESTRING = 2


def known_valid(arr: WkbArray) -> np.ndarray:
    """True for blobs that are valid and not empty for certain, judged without GEOS.

    Two kinds, the bulk of annotation layers, qualify: 2D single-ring polygons whose ring is
    strictly convex (every turn the same way, clear of rounding, once around: a simple ring),
    and 2D lines with at least two distinct points (all that GEOS asks of a line). Every
    coordinate must be finite. False means "ask GEOS", not invalid. A validity-only check
    then builds GEOS geometries only for the rest (rotated boxes and road segments: nearly
    none), which is where its time went.
    """
    n = len(arr)
    out = np.zeros(n, dtype=bool)
    lengths = arr.lengths
    start = arr.offsets[:-1]
    cand = np.flatnonzero(lengths >= 9)
    if cand.size == 0:
        return out
    rd = _Reader(arr.data)
    cand = cand[arr.data[start[cand]] == 1]
    kind = rd.uint32(start[cand] + 1)
    line = cand[kind == _LINESTRING]
    poly = cand[(kind == _POLYGON) & (lengths[cand] >= 13)]
    poly = poly[rd.uint32(start[poly] + 5) == 1]
    for rows, head, minimum, judge in (
        (line, 9, 2, _line_known_valid),
        (poly, 13, 4, _ring_known_valid),
    ):
        if rows.size == 0:
            continue
        npts = rd.uint32(start[rows] + head - 4)
        fits = (npts >= minimum) & (npts <= MAX_KNOWN_POINTS) & (lengths[rows] == head + 16 * npts)
        rows, npts = rows[fits], npts[fits]
        for k in np.unique(npts):
            group = rows[npts == k]
            width = int(k) * 16
            xy = _strided(arr.data, f"V{width}")[start[group] + head]
            xy = xy.view("<f8").reshape(len(group), int(k), 2)
            out[group] = np.isfinite(xy).all(axis=(1, 2)) & judge(xy)
    return out


def _line_known_valid(xy: np.ndarray) -> np.ndarray:
    """(m, k, 2) line points: at least two distinct points."""
    return np.any(xy[:, 1:] != xy[:, :1], axis=(1, 2))


def _ring_known_valid(xy: np.ndarray) -> np.ndarray:
    """(m, k, 2) closed ring points: strictly convex, turning once around.

    Every turn is clear of rounding and the same way, so each is less than half a turn and
    the edge directions rotate monotonically; they then cross the x axis twice per time
    around: twice is a convex simple ring, four times a pentagram."""
    closed = np.all(xy[:, 0] == xy[:, -1], axis=1)
    edge = np.diff(xy, axis=1)  # (m, k - 1, 2): the ring's edges, the closing one last
    ex, ey = edge[..., 0], edge[..., 1]
    nx = np.concatenate([ex[:, 1:], ex[:, :1]], axis=1)  # the edge after each one
    ny = np.concatenate([ey[:, 1:], ey[:, :1]], axis=1)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        cross = ex * ny - ey * nx
        scale = (ex * ex + ey * ey) * (nx * nx + ny * ny)
        clear = cross * cross > (_TURN_EPS * _TURN_EPS) * scale
    left = np.all(clear & (cross > 0), axis=1)
    right = np.all(clear & (cross < 0), axis=1)
    upper = (ey > 0) | ((ey == 0) & (ex > 0))  # direction in [0, pi)
    flips = np.count_nonzero(upper != np.concatenate([upper[:, 1:], upper[:, :1]], axis=1), 1)
    return closed & (left | right) & (flips == 2)


def decode(values: WkbArray | np.ndarray | Sequence) -> np.ndarray:
    """Geometries (None where the blob is null or GEOS cannot read it) from WKB, exactly as
    ``shapely.from_wkb(values, on_invalid="ignore")`` but faster for 2D polygon layers."""
    arr = values if isinstance(values, WkbArray) else WkbArray.from_objects(values)
    n = len(arr)
    out = np.full(n, None, dtype=object)
    if n == 0:
        return out
    start = arr.offsets[:-1]
    end = arr.offsets[1:]
    done = np.zeros(n, dtype=bool)
    try:
        uniform = _uniform(arr)
    except (shapely.errors.GEOSException, ValueError):  # the general path below sorts them out
        uniform = None
    if uniform is not None:
        geoms, ok = uniform
        out[ok] = geoms
        done = ok
        if done.all():
            return out
    rd = _Reader(arr.data)
    head = np.flatnonzero((end - start >= 9) & ~done)
    if head.size:
        order = arr.data[start[head]]
        kind = np.zeros(head.size, dtype=np.int64)
        le = order == 1
        kind[le] = rd.uint32(start[head][le] + 1)
        for code, fn in ((_POLYGON, _polygons), (_MULTIPOLYGON, _multipolygons)):
            sel = head[kind == code]
            if sel.size:
                try:
                    geoms, ok = fn(rd, start[sel], end[sel])
                except (shapely.errors.GEOSException, ValueError):  # a case missed above: GEOS
                    continue  # reads these blobs itself below, one by one
                out[sel[ok]] = geoms
                done[sel[ok]] = True
    rest = np.flatnonzero(~done & (end > start))
    if rest.size:
        blobs = arr.take(rest).to_objects()
        with np.errstate(invalid="ignore"):  # NaN coordinates raise the FPU flag, harmlessly
            out[rest] = shapely.from_wkb(blobs, on_invalid="ignore")
    return out


# WKT's first coordinate: the first two numbers after an opening parenthesis.
_WKT_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_WKT_FIRST = re.compile(rf"\(\s*({_WKT_NUMBER})\s+({_WKT_NUMBER})")
# ISO and EWKB geometry type codes: point, line, polygon, then the multi types and collection.
_EWKB_Z, _EWKB_M, _EWKB_SRID = 0x80000000, 0x40000000, 0x20000000


def first_coordinate(value: bytes | bytearray | memoryview | str) -> tuple[float, float] | None:
    """(x, y) of the first coordinate of a WKB blob (ISO or EWKB, either byte order) or WKT
    string, read without GEOS, so it works on geometries GEOS refuses (a one-point ring, a
    truncated blob); None when there is no coordinate or the header is garbage."""
    if isinstance(value, str):
        m = _WKT_FIRST.search(value)
        return (float(m.group(1)), float(m.group(2))) if m else None
    data = bytes(value)
    try:
        return _first_in(data, 0, depth=0)[0]
    except (struct.error, ValueError):
        return None


def _first_in(data: bytes, pos: int, depth: int) -> tuple[tuple[float, float] | None, int]:
    """(first coordinate or None, position after the geometry) of the geometry at ``pos``;
    raises struct.error when the blob ends too early."""
    if depth > 32:
        raise ValueError("nesting too deep")
    order = "<" if data[pos] == 1 else ">"
    (code,) = struct.unpack_from(order + "I", data, pos + 1)
    pos += 5
    dims = 2 + bool(code & _EWKB_Z) + bool(code & _EWKB_M)
    if code & _EWKB_SRID:
        pos += 4
    code &= 0x0FFFFFFF
    iso, kind = divmod(code, 1000)
    dims += {0: 0, 1: 1, 2: 1, 3: 2}.get(iso, 0)
    width = 8 * dims

    def count(p: int) -> int:
        return int(struct.unpack_from(order + "I", data, p)[0])

    # Only the first coordinate is wanted: return as soon as one is read (position -1).
    if kind == 1:
        x, y = struct.unpack_from(order + "dd", data, pos)
        return (None, pos + width) if x != x and y != y else ((x, y), -1)  # NaN NaN: empty
    if kind in (2, 3):
        n_rings, pos = (1, pos) if kind == 2 else (count(pos), pos + 4)
        for _ in range(n_rings):
            n = count(pos)
            if n:
                return struct.unpack_from(order + "dd", data, pos + 4), -1
            pos += 4
        return None, pos
    if kind in (4, 5, 6, 7):
        n_parts, pos = count(pos), pos + 4
        for _ in range(n_parts):
            xy, pos = _first_in(data, pos, depth + 1)
            if xy is not None:
                return xy, -1
        return None, pos
    raise ValueError(f"unknown geometry type {code}")
