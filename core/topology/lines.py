"""Line rules: dangle (line ends that touch no other line) and self_crossing."""

from __future__ import annotations

import numpy as np

from ..geos import shapely
from .context import RuleContext
from .rules import dangle_message, self_crossing_message


def dangle_findings(ctx: RuleContext, idx: np.ndarray) -> None:
    """A finding at each start or end point of the valid lines ``idx`` that touches neither
    another line nor the rest of its own line; touching means within the snapping tolerance."""
    if idx.size == 0:
        return
    parts, part_of = shapely.get_parts(ctx.geoms[idx], return_index=True)
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
    tol = ctx.options.snap_tolerance
    # Most ends are junctions: the very same point ends another line too. Only the others are
    # asked of GEOS (a distance to every line near them).
    touching = _shared_ends(shapely.get_coordinates(ends_pts))
    touching |= np.concatenate([closed, closed])
    ask = np.flatnonzero(~touching)
    tree = shapely.STRtree(parts)
    if tol > 0:
        e, p = tree.query(ends_pts[ask], predicate="dwithin", distance=tol)
    else:
        e, p = tree.query(ends_pts[ask], predicate="intersects")
    e = ask[e]
    touching[e[p != end_part[e]]] = True
    loose = np.flatnonzero(~touching)
    loose = loose[~_ends_on_itself(parts[end_part[loose]], which[loose], ends_pts[loose], tol)]
    for k in loose:
        i = idx[part_of[end_part[k]]]
        label = "start" if which[k] == 0 else "end"
        ctx.add("dangle", i, None, dangle_message(label), ends_pts[k])


def _ends_on_itself(
    parts: np.ndarray, which: np.ndarray, ends: np.ndarray, tol: float
) -> np.ndarray:
    """True where the start (``which`` 0) or end (1) point ``ends`` of line ``parts`` lies on
    the rest of its own line (a loop: not dangling): the line without its first (last) two
    vertices, when at least two are left."""
    xy, of = shapely.get_coordinates(parts, return_index=True)
    if len(xy) == 0:
        return np.zeros(len(parts), dtype=bool)
    first = np.searchsorted(of, np.arange(len(parts)))
    n = np.bincount(of, minlength=len(parts))
    pos = np.arange(len(xy)) - first[of]
    drop = np.where(which[of] == 0, pos < 2, pos >= n[of] - 2)
    long_enough = n >= 4
    keep = ~drop & long_enough[of]
    out = np.zeros(len(parts), dtype=bool)
    if not keep.any():
        return out
    have = np.flatnonzero(long_enough)
    rest = shapely.linestrings(xy[keep], indices=np.searchsorted(have, of[keep]))
    out[have] = shapely.distance(ends[have], rest) <= tol
    return out


def _shared_ends(xy: np.ndarray) -> np.ndarray:
    """True for each end point (row of ``xy``) that equals another end point exactly."""
    order = np.lexsort((xy[:, 1], xy[:, 0]))
    x, y = xy[order, 0], xy[order, 1]
    same = (x[1:] == x[:-1]) & (y[1:] == y[:-1])
    shared = np.zeros(len(xy), dtype=bool)
    shared[order[1:][same]] = True
    shared[order[:-1][same]] = True
    return shared


def self_crossing_findings(ctx: RuleContext, idx: np.ndarray) -> None:
    """A finding at each point where one of the valid lines ``idx`` crosses or touches itself
    (valid under OGC, but not simple): the nodes where noding the line ends more pieces than
    the line had ends."""
    if idx.size == 0:
        return
    lines = ctx.geoms[idx]
    bad = np.flatnonzero(~shapely.is_simple(lines))
    if bad.size == 0:
        return
    pieces, piece_of = shapely.get_parts(shapely.node(lines[bad]), return_index=True)
    parts, part_of = shapely.get_parts(lines[bad], return_index=True)
    ends = [
        (shapely.get_point(pieces, 0), piece_of, 1),
        (shapely.get_point(pieces, -1), piece_of, 1),
        (shapely.get_point(parts, 0), part_of, -1),
        (shapely.get_point(parts, -1), part_of, -1),
    ]
    xy = np.concatenate([shapely.get_coordinates(p) for p, _, _ in ends])
    owner = np.concatenate([o for _, o, _ in ends]).astype(np.float64)
    weight = np.concatenate([np.full(len(o), w) for _, o, w in ends])
    rows, inverse = np.unique(np.column_stack([owner, xy]), axis=0, return_inverse=True)
    extra = np.bincount(inverse.ravel(), weights=weight, minlength=len(rows))
    nodes = rows[extra > 0]  # sorted by line, then x, then y
    line_of = nodes[:, 0].astype(np.int64)
    count = np.bincount(line_of, minlength=bad.size)
    rank = np.arange(len(nodes)) - np.searchsorted(line_of, line_of)
    for (_, x, y), b, k in zip(nodes, line_of, rank):
        i = idx[bad[b]]
        message = self_crossing_message(x, y, int(k) + 1, int(count[b]))
        ctx.add("self_crossing", i, None, message, shapely.points(x, y))
