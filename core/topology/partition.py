"""Spatial partitions with a halo, so a topology check can run partition by partition (on a
cluster) and still find every finding exactly once, as one run over the whole layer does.

Each feature is *owned* by the one grid cell its bounding-box centre falls in (features without
geometry by partition 0). A partition's *members* are its owned features plus every feature
whose bounding box meets the cell grown by the *halo*, the largest bounding-box side of the
layer (the *safe* box). So both features of an overlapping pair, two copies, a line end and the
line it touches are members of the partition that owns the feature a finding is reported on
(the lower fid of a pair, the first of a group of copies); that partition keeps the finding,
the others drop it.

Gaps need more: a gap face can be larger than any feature. Every feature that meets the safe
box is a member, so inside it the partition sees exactly what a whole-layer run sees. A
*frame* polygon around the safe box closes off what lies beyond, so a gap cut by the box edge
still appears as a face touching the frame. A gap face strictly inside the safe box is final;
one that reaches past the layer's bounding box is the outside of the layer, not a gap; any
other one touching the frame is *unresolved*, and the cell is checked again with a halo twice
as wide (at the latest when the safe box holds the whole layer, nothing is unresolved).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..geos import shapely
from .findings import Finding, TopologyResult, finding_order

Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class Partition:
    """One cell: ``members`` (positions into the layer, ascending) and which of them it
    ``owns``; ``safe`` is the cell grown by ``halo`` (every feature whose bounding box meets
    it is a member)."""

    index: int
    cell: Bounds
    halo: float
    members: np.ndarray
    owned: np.ndarray

    @property
    def safe(self) -> Bounds:
        x0, y0, x1, y1 = self.cell
        h = self.halo
        return (x0 - h, y0 - h, x1 + h, y1 + h)


def feature_bounds(geoms: np.ndarray) -> np.ndarray:
    """(n, 4) bounding boxes of shapely geometries; NaN rows for null and empty ones."""
    b = shapely.bounds(geoms)
    return np.asarray(b, dtype=float).reshape(len(geoms), 4)


def halo_width(bounds: np.ndarray) -> float:
    """The largest bounding-box side of the layer (CRS units), the smallest halo that keeps
    every pair of touching features together."""
    present = ~np.isnan(bounds[:, 0])
    if not present.any():
        return 0.0
    b = bounds[present]
    side = max(float(np.max(b[:, 2] - b[:, 0])), float(np.max(b[:, 3] - b[:, 1])))
    return side * (1 + 1e-9) + 1e-9


@dataclass(frozen=True)
class Grid:
    """The cells of a partition plan: ``x_edges`` (nx + 1) cut the layer into strips, and row
    ``i`` of ``y_edges`` ((nx, ny + 1)) cuts strip ``i`` into cells; cell ``i * ny + j``. A
    worker that reads its own features finds which of them it owns with ``owner`` from this
    alone (no empty ``x_edges``: no feature has a geometry, one cell)."""

    x_edges: np.ndarray
    y_edges: np.ndarray

    @property
    def cells(self) -> list[Bounds]:
        if len(self.x_edges) == 0:
            return [(0.0, 0.0, 0.0, 0.0)]
        nx, ny = len(self.x_edges) - 1, self.y_edges.shape[1] - 1
        x, y = self.x_edges, self.y_edges
        return [
            (float(x[i]), float(y[i, j]), float(x[i + 1]), float(y[i, j + 1]))
            for i in range(nx)
            for j in range(ny)
        ]

    def owner(self, bounds: np.ndarray) -> np.ndarray:
        """The cell each feature with ``bounds`` ((k, 4), NaN for no geometry) belongs to: the
        one its bounding-box centre falls in (cell 0 for no geometry)."""
        k = len(bounds)
        owner = np.zeros(k, dtype=np.int64)
        if len(self.x_edges) == 0 or k == 0:
            return owner
        present = ~np.isnan(bounds[:, 0])
        cx = 0.5 * (bounds[:, 0] + bounds[:, 2])
        cy = 0.5 * (bounds[:, 1] + bounds[:, 3])
        nx, ny = len(self.x_edges) - 1, self.y_edges.shape[1] - 1
        col = np.clip(np.searchsorted(self.x_edges, cx, side="right") - 1, 0, nx - 1)
        for i in range(nx):
            in_col = present & (col == i)
            row = np.clip(np.searchsorted(self.y_edges[i], cy, side="right") - 1, 0, ny - 1)
            owner[in_col] = i * ny + row[in_col]
        return owner


def plan_grid(bounds: np.ndarray, n: int) -> Grid:
    """About ``n`` cells for features with ``bounds`` ((k, 4), NaN for no geometry): strips of
    equal feature counts along x, each cut into cells of equal counts along y."""
    present = ~np.isnan(bounds[:, 0])
    if not present.any():
        return Grid(np.empty(0), np.empty((0, 1)))
    cx = 0.5 * (bounds[:, 0] + bounds[:, 2])
    cy = 0.5 * (bounds[:, 1] + bounds[:, 3])
    n = max(1, min(n, int(present.sum())))
    nx = max(1, int(round(math.sqrt(n))))
    ny = max(1, math.ceil(n / nx))
    x_edges = _edges(cx[present], nx)
    col = np.clip(np.searchsorted(x_edges, cx, side="right") - 1, 0, nx - 1)
    y_edges = np.zeros((nx, ny + 1))
    for i in range(nx):
        in_col = present & (col == i)
        if in_col.any():
            y_edges[i] = _edges(cy[in_col], ny)
    return Grid(x_edges, y_edges)


def plan_partitions(
    bounds: np.ndarray, n: int, halo: float | None = None, grid: Grid | None = None
) -> list[Partition]:
    """The partitions of features with ``bounds`` ((k, 4), NaN for no geometry) on ``grid``
    (default: ``plan_grid(bounds, n)``), with ``halo`` (default: ``halo_width``)."""
    grid = grid if grid is not None else plan_grid(bounds, n)
    h = halo_width(bounds) if halo is None else halo
    owner = grid.owner(bounds)
    cells = grid.cells
    return [_partition(p, cells[p], h, bounds, owner) for p in range(len(cells))]


def _edges(values: np.ndarray, parts: int) -> np.ndarray:
    edges = np.quantile(values, np.linspace(0.0, 1.0, parts + 1))
    edges[0], edges[-1] = float(values.min()), float(values.max())
    return np.maximum.accumulate(edges)


def _partition(
    index: int, cell: Bounds, halo: float, bounds: np.ndarray, owner: np.ndarray
) -> Partition:
    x0, y0, x1, y1 = cell
    with np.errstate(invalid="ignore"):
        near = (
            (bounds[:, 0] <= x1 + halo)
            & (bounds[:, 2] >= x0 - halo)
            & (bounds[:, 1] <= y1 + halo)
            & (bounds[:, 3] >= y0 - halo)
        )
    members = np.flatnonzero(near | (owner == index))
    return Partition(index, cell, halo, members, owner[members] == index)


def grown(part: Partition, bounds: np.ndarray, owner_of: np.ndarray) -> Partition:
    """The same cell with a halo twice as wide (at least the layer's extent when that is
    all that is left)."""
    return _partition(part.index, part.cell, max(2.0 * part.halo, 1e-9), bounds, owner_of)


def owners(parts: Sequence[Partition], k: int) -> np.ndarray:
    """The owning partition of each of ``k`` features."""
    out = np.zeros(k, dtype=np.int64)
    for p in parts:
        out[p.members[p.owned]] = p.index
    return out


def layer_box(bounds: np.ndarray) -> Bounds:
    """The bounding box of the whole layer (zeros when no feature has a geometry)."""
    present = ~np.isnan(bounds[:, 0])
    if not present.any():
        return (0.0, 0.0, 0.0, 0.0)
    b = bounds[present]
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def frame(safe: Bounds, world: Bounds) -> Any:
    """A polygon around the safe box, reaching past the layer's box: it closes off the gap
    faces the box edge cuts (see the module docstring)."""
    x0, y0 = min(safe[0], world[0]), min(safe[1], world[1])
    x1, y1 = max(safe[2], world[2]), max(safe[3], world[3])
    pad = max(x1 - x0, y1 - y0, 1.0)
    outer = shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    return shapely.Polygon(outer.exterior.coords, [shapely.box(*safe).exterior.coords[::-1]])


def keep_owned(
    result: TopologyResult, fids: np.ndarray, owned: np.ndarray, safe: Bounds, world: Bounds
) -> tuple[list[Finding], list[Finding]]:
    """(findings this partition keeps, gaps it owns but cannot settle) of a check over its
    members with ids ``fids`` (and the frame); ``world`` is the layer's bounding box."""
    mine = set(fids[owned].tolist())
    kept: list[Finding] = []
    unresolved: list[Finding] = []
    for f in result.findings:
        if f.fid not in mine:
            continue
        if f.rule != "gap":
            kept.append(f)
            continue
        x0, y0, x1, y1 = shapely.bounds(shapely.from_wkt(f.wkt))
        if x0 > safe[0] and y0 > safe[1] and x1 < safe[2] and y1 < safe[3]:
            kept.append(f)
        elif x0 >= world[0] and y0 >= world[1] and x1 <= world[2] and y1 <= world[3]:
            unresolved.append(f)
        # else: the face reaches past every feature, so it is the layer's outside
    return kept, unresolved


def merge_results(
    findings: Sequence[Finding], active: Sequence[str], checked: int
) -> TopologyResult:
    """One result from the findings kept by every partition, sorted and counted as
    ``build_result`` does for a single run."""
    ordered = sorted(findings, key=finding_order)
    counts = {r: 0 for r in active}
    for f in ordered:
        if not f.is_exception:
            counts[f.rule] += 1
    return TopologyResult(tuple(ordered), checked, counts)
