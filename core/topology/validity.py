"""Rules on each geometry by itself: empty (or null) and invalid, with every self-intersection."""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from ..geos import shapely
from .context import RuleContext
from .geometry import TYPE_LINE
from .rules import empty_message, invalid_at_message, invalid_message

_REASON = re.compile(r"^(?P<name>[^\[]*)\[(?P<x>\S+) (?P<y>\S+)\]\s*$")
_SELF_INTERSECTION = ("Self-intersection", "Ring Self-intersection")


def empty_findings(ctx: RuleContext, null: np.ndarray, empty: np.ndarray) -> None:
    """One finding per feature without a geometry (``null``) or with an ``empty`` one."""
    for i in np.flatnonzero(null | empty):
        kind = "null" if null[i] else "empty"
        ctx.add("empty", i, None, empty_message(kind), None)


def invalid_findings(
    ctx: RuleContext,
    unreadable: dict[int, tuple[str, tuple[float, float] | None]],
    invalid_idx: np.ndarray,
) -> None:
    """Findings for blobs GEOS could not read (``unreadable``: index to GEOS's message and the
    blob's first coordinate, the location) and for the geometries ``invalid_idx`` that parsing
    found invalid; reasons are asked of GEOS only for these, and every self-intersection gets
    its own located finding."""
    for i, (msg, xy) in sorted(unreadable.items()):
        at = None if xy is None else shapely.points(xy[0], xy[1])
        ctx.add("invalid", i, None, invalid_message(msg), at)
    if invalid_idx.size == 0:
        return
    reasons = shapely.is_valid_reason(ctx.geoms[invalid_idx])
    self_x = [i for i, r in zip(invalid_idx, reasons) if r.split("[")[0] in _SELF_INTERSECTION]
    points = self_intersection_points(ctx.geoms[np.asarray(self_x, dtype=np.int64)])
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
            ctx.add("invalid", i, None, invalid_message(name), None)
            continue
        for k, (x, y) in enumerate(locs, 1):
            message = invalid_at_message(name, x, y, k, len(locs))
            at.append(ctx.add("invalid", i, None, message, None))
            xy.append((x, y))
    points = shapely.points(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
    for n, point in zip(at, points):  # all location points made at once
        ctx.locate(n, point)


class _Segments(NamedTuple):
    """Boundary segments of all rings: segment k runs from coords[s[k]] to coords[s[k] + 1]."""

    coords: np.ndarray
    s: np.ndarray
    ring_of_seg: np.ndarray
    feat_of_ring: np.ndarray
    nseg: np.ndarray  # segments per ring
    pos: np.ndarray  # position of each segment in its ring
    lines: np.ndarray  # the segments as 2-point linestrings


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
    sg = _ring_segments(geoms)
    if sg is None:
        return out
    feats, inter = _reported_intersections(sg)
    feats, xy = _one_point_per_place(feats, inter)
    cuts = np.flatnonzero(feats[1:] != feats[:-1]) + 1
    for f, pts_f in zip(feats[np.r_[0, cuts]] if len(feats) else [], np.split(xy, cuts)):
        out[int(f)] = pts_f
    return out


def _ring_segments(geoms: np.ndarray) -> _Segments | None:
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    rings = shapely.remove_repeated_points(rings)
    feat_of_ring = part_of[ring_part]
    coords, cidx = shapely.get_coordinates(rings, return_index=True)
    if len(coords) < 2:
        return None
    s = np.flatnonzero(cidx[:-1] == cidx[1:])
    ring_of_seg = cidx[s]
    first_seg = np.searchsorted(ring_of_seg, np.arange(len(rings)))
    nseg = np.bincount(ring_of_seg, minlength=len(rings))
    pos = np.arange(len(s)) - first_seg[ring_of_seg]
    lines = shapely.linestrings(np.stack([coords[s], coords[s + 1]], axis=1))
    return _Segments(coords, s, ring_of_seg, feat_of_ring, nseg, pos, lines)


def _reported_intersections(sg: _Segments) -> tuple[np.ndarray, np.ndarray]:
    """(feature, intersection geometry) for each pair of segments of one feature that meet
    where a valid boundary may not."""
    segs = sg.lines
    tree = shapely.STRtree(segs)
    a, b = tree.query(segs, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    fa, fb = sg.feat_of_ring[sg.ring_of_seg[a]], sg.feat_of_ring[sg.ring_of_seg[b]]
    same_feat = fa == fb
    a, b = a[same_feat], b[same_feat]
    ra, rb = sg.ring_of_seg[a], sg.ring_of_seg[b]
    same_ring = ra == rb
    d = np.abs(sg.pos[a] - sg.pos[b])
    adjacent = same_ring & ((d == 1) | (d == sg.nseg[ra] - 1))
    # Adjacent segments always meet at their shared vertex; they matter only when they fold
    # back onto each other, which needs them collinear. Skip the clearly non-collinear ones
    # (most pairs) before GEOS computes intersections.
    coords, s = sg.coords, sg.s
    ua = coords[s[a] + 1] - coords[s[a]]
    ub = coords[s[b] + 1] - coords[s[b]]
    cross = np.abs(ua[:, 0] * ub[:, 1] - ua[:, 1] * ub[:, 0])
    scale = np.hypot(ua[:, 0], ua[:, 1]) * np.hypot(ub[:, 0], ub[:, 1])
    maybe = ~adjacent | (cross <= 1e-9 * scale)
    a, b, same_ring, adjacent = a[maybe], b[maybe], same_ring[maybe], adjacent[maybe]
    fa = fa[same_feat][maybe]
    inter = shapely.intersection(segs[a], segs[b])
    itype = shapely.get_type_id(inter)
    is_line = itype == TYPE_LINE
    # Different rings must cross properly (or share a stretch): touching once is valid.
    crosses = np.zeros(len(a), dtype=bool)
    crosses[~same_ring] = shapely.crosses(segs[a[~same_ring]], segs[b[~same_ring]])
    report = np.where(same_ring, ~adjacent | is_line, crosses | is_line)
    return fa[report], inter[report]


def _one_point_per_place(feats: np.ndarray, inter: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(feature, (x, y)) sorted by feature, x, y: a point per intersection (the middle of a
    shared stretch), repeats of a place dropped."""
    pts = inter.copy()
    lines = shapely.get_type_id(inter) == TYPE_LINE
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
    return feats[~repeat], xy[~repeat]
