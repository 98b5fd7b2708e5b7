"""Rules against a second (overlay) layer: must_be_inside and must_not_overlap_with."""

from __future__ import annotations

import numpy as np

from ..geos import shapely
from .context import RuleContext
from .geometry import dimension_part
from .rules import outside_message, overlaps_overlay_message


def overlay_findings(
    ctx: RuleContext,
    idx: np.ndarray,
    active: set[str],
    overlay: np.ndarray,
    overlay_fids: np.ndarray | None,
) -> None:
    """must_* findings for the valid features ``idx`` against ``overlay`` (geometries or WKB;
    null, empty and invalid ones are ignored), whose fids are ``overlay_fids`` (default: the
    positions)."""
    ov, ofids = _usable_overlay(overlay, overlay_fids)
    tree = shapely.STRtree(ov)
    geoms = ctx.geoms[idx]
    dims = shapely.get_dimensions(geoms)
    if "must_be_inside" in active:
        _outside(ctx, idx, geoms, dims, ov, tree)
    if "must_not_overlap_with" in active:
        _overlapping(ctx, idx, geoms, dims, ov, ofids, tree)


def _usable_overlay(
    overlay: np.ndarray, overlay_fids: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
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
    return ov[ov_idx], ofids[ov_idx]


def _too_small(ctx: RuleContext, pieces: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Pieces of dimension ``d`` too small to report: areas up to the tolerance, lines of no
    length, empty points."""
    size = np.where(d == 2, ctx.area(pieces), shapely.length(pieces))
    tolerance = ctx.options.tolerance
    return np.where(
        d == 2, size <= tolerance, np.where(d == 1, size <= 0, shapely.is_empty(pieces))
    )


def _outside(
    ctx: RuleContext,
    idx: np.ndarray,
    geoms: np.ndarray,
    dims: np.ndarray,
    ov: np.ndarray,
    tree: shapely.STRtree,
) -> None:
    inside = np.zeros(len(idx), dtype=bool)
    a, _b = tree.query(geoms, predicate="covered_by")
    inside[a] = True
    a, b = tree.query(geoms, predicate="intersects")
    for k in np.flatnonzero(~inside):  # only features not inside one overlay polygon
        hits = b[a == k]
        cover = shapely.union_all(ov[hits]) if hits.size else None
        outside = geoms[k] if cover is None else shapely.difference(geoms[k], cover)
        if shapely.is_empty(outside) or _too_small(ctx, np.array([outside]), dims[k : k + 1])[0]:
            continue
        ctx.add("must_be_inside", idx[k], None, outside_message(), outside)


def _overlapping(
    ctx: RuleContext,
    idx: np.ndarray,
    geoms: np.ndarray,
    dims: np.ndarray,
    ov: np.ndarray,
    ofids: np.ndarray,
    tree: shapely.STRtree,
) -> None:
    a, b = tree.query(geoms, predicate="intersects")
    if a.size == 0:
        return
    inter = shapely.intersection(geoms[a], ov[b])
    d = np.minimum(dims[a], shapely.get_dimensions(ov[b]))
    inter = np.array([dimension_part(x, dd) for x, dd in zip(inter, d)], dtype=object)
    bad = ~_too_small(ctx, inter, d) & ~shapely.is_empty(inter)
    for k in np.flatnonzero(bad):
        ofid = int(ofids[b[k]])
        ctx.add("must_not_overlap_with", idx[a[k]], ofid, overlaps_overlay_message(ofid), inter[k])
