"""Area rules on valid polygons: min_area and sliver (long and thin)."""

from __future__ import annotations

import numpy as np

from ..geos import shapely
from .context import RuleContext
from .rules import min_area_message, sliver_message

# Latitude (degrees) at which the east-west scale of degrees is clipped near the poles.
_MAX_LATITUDE = 89.9


def area_findings(ctx: RuleContext, idx: np.ndarray, active: set[str]) -> None:
    """min_area and sliver findings for the valid polygons ``idx``."""
    if idx.size == 0:
        return
    geoms = ctx.geoms[idx]
    opts = ctx.options
    if "min_area" in active and opts.min_area > 0:
        area = ctx.area(geoms)
        unit = ctx.unit
        for k in np.flatnonzero(area < opts.min_area):
            ctx.add(
                "min_area", idx[k], None, min_area_message(area[k], opts.min_area, unit), geoms[k]
            )
    limit = opts.sliver_compactness
    if "sliver" in active and limit > 0:
        cand, comp = _below_compactness(geoms, limit, opts.geographic)
        for k, cval in zip(cand, comp):
            ctx.add("sliver", idx[k], None, sliver_message(cval, limit), geoms[k])


def _compactness(area: np.ndarray, perimeter: np.ndarray) -> np.ndarray:
    """Polsby-Popper compactness; 1 for a geometry without perimeter."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(perimeter > 0, 4.0 * np.pi * area / perimeter**2, 1.0)


def _below_compactness(
    geoms: np.ndarray, limit: float, geographic: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, compactness) of the ``geoms`` less compact than ``limit``; with
    ``geographic`` degrees, measured on a copy rescaled to equal east-west and north-south
    lengths."""
    comp = _compactness(shapely.area(geoms), shapely.length(geoms))
    if not geographic:
        cand = np.flatnonzero(comp < limit)
        return cand, comp[cand]
    # Degrees distort shape by cos(latitude) at most: compute the exact value on an
    # east-west rescaled copy, only for the few that could be below the limit.
    b = shapely.bounds(geoms)
    c = np.cos(np.radians(np.clip(0.5 * (b[:, 1] + b[:, 3]), -_MAX_LATITUDE, _MAX_LATITUDE)))
    cand = np.flatnonzero(comp < limit / c)
    true_comp = np.empty(len(cand))
    for j, k in enumerate(cand):  # few candidates; each needs its own scale factor
        xy = shapely.get_coordinates(geoms[k])
        scaled = shapely.set_coordinates(
            shapely.transform(geoms[k], lambda p: p), xy * np.array([c[k], 1.0])
        )
        pa, pp = shapely.area(scaled), shapely.length(scaled)
        true_comp[j] = 4.0 * np.pi * pa / pp**2 if pp > 0 else 1.0
    keep = true_comp < limit
    return cand[keep], true_comp[keep]
