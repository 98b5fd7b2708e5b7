"""Vertex rules on lines and polygon rings: duplicate_vertex and spike."""

from __future__ import annotations

import numpy as np

from ..geos import shapely
from .context import RuleContext
from .geometry import LINEAL_TYPES, POLYGONAL_TYPES
from .rules import duplicate_vertex_message, spike_message

# Latitude (degrees) at which the east-west scale of degrees is clipped near the poles.
_MAX_LATITUDE = 89.9


def _linework(ctx: RuleContext, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coordinates, linework per coordinate, feature per linework) of the lines and polygon
    rings of features ``idx``; linework numbers are contiguous and ascending."""
    parts, part_of = shapely.get_parts(ctx.geoms[idx], return_index=True)
    types = shapely.get_type_id(parts)
    poly = np.flatnonzero(np.isin(types, POLYGONAL_TYPES))
    line = np.flatnonzero(np.isin(types, LINEAL_TYPES))
    rings, ring_part = shapely.get_rings(parts[poly], return_index=True)
    work = np.concatenate([rings, parts[line]])
    owner = np.concatenate([idx[part_of[poly[ring_part]]], idx[part_of[line]]])
    coords, which = shapely.get_coordinates(work, return_index=True)
    return coords, which, owner


def vertex_findings(ctx: RuleContext, idx: np.ndarray, active: set[str]) -> None:
    """duplicate_vertex and spike findings for the lines and polygons among features ``idx``:
    consecutive vertices within the snapping tolerance, and vertices where the boundary turns
    back at an angle below ``spike_angle`` degrees (duplicates skipped, rings wrapped around).
    """
    if idx.size == 0:
        return
    xy, lw, owner = _linework(ctx, idx)
    if len(xy) == 0:
        return
    same = lw[1:] == lw[:-1]
    step = np.hypot(*(xy[1:] - xy[:-1]).T)
    tol = ctx.options.snap_tolerance
    dup = same & ((step <= tol) if tol > 0 else (step == 0))
    if "duplicate_vertex" in active:
        # One finding per run of repeated points, at the first of them.
        first = dup & ~np.r_[False, dup[:-1]]
        for k in np.flatnonzero(first):
            x, y = xy[k]
            ctx.add(
                "duplicate_vertex",
                owner[lw[k]],
                None,
                duplicate_vertex_message(x, y),
                shapely.points(x, y),
            )
    limit = ctx.options.spike_angle
    if "spike" in active and limit > 0:
        keep = np.r_[True, ~dup]
        _spikes(ctx, xy[keep], lw[keep], owner, limit)


def _spikes(
    ctx: RuleContext, xy: np.ndarray, lw: np.ndarray, owner: np.ndarray, limit: float
) -> None:
    """Spike findings on coordinates ``xy`` of lineworks ``lw`` without repeated points."""
    n = len(xy)
    starts = np.flatnonzero(np.r_[True, lw[1:] != lw[:-1]])
    ends = np.r_[starts[1:], n] - 1
    closed = (ends - starts >= 3) & np.all(xy[starts] == xy[ends], axis=1)
    # A closed linework's last point repeats its first: drop it and wrap around instead.
    drop = np.zeros(n, dtype=bool)
    drop[ends[closed]] = True
    xy, lw = xy[~drop], lw[~drop]
    n = len(xy)
    starts = np.flatnonzero(np.r_[True, lw[1:] != lw[:-1]])
    ends = np.r_[starts[1:], n] - 1
    prev = np.arange(n) - 1
    nxt = np.arange(n) + 1
    prev[starts] = np.where(closed, ends, -1)
    nxt[ends] = np.where(closed, starts, -1)
    k = np.flatnonzero((prev >= 0) & (nxt >= 0))  # open lines: not at their two ends
    a = xy[prev[k]] - xy[k]
    b = xy[nxt[k]] - xy[k]
    if ctx.options.geographic:  # degrees: equal east-west and north-south lengths
        c = np.cos(np.radians(np.clip(xy[k, 1], -_MAX_LATITUDE, _MAX_LATITUDE)))
        a[:, 0] *= c
        b[:, 0] *= c
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    dot = (a * b).sum(axis=1)
    angle = np.degrees(np.arctan2(np.abs(cross), dot))
    hit = np.flatnonzero(angle < limit)
    for h in hit:
        v = k[h]
        ctx.add(
            "spike",
            owner[lw[v]],
            None,
            spike_message(angle[h], limit),
            shapely.points(xy[v, 0], xy[v, 1]),
        )
