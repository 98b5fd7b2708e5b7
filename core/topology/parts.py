"""Rules on the parts of a geometry: multipart (several parts where one is expected) and hole."""

from __future__ import annotations

import numpy as np

from ..geos import shapely
from .context import RuleContext
from .geometry import MULTI_TYPES, TYPE_MULTILINE, TYPE_MULTIPOINT, TYPE_MULTIPOLYGON
from .rules import hole_message, multipart_message

# The collection that holds the extra parts of a geometry of each multi type.
_COLLECT = {
    TYPE_MULTIPOINT: shapely.multipoints,
    TYPE_MULTILINE: shapely.multilinestrings,
    TYPE_MULTIPOLYGON: shapely.multipolygons,
}


def multipart_findings(ctx: RuleContext, idx: np.ndarray, types: np.ndarray) -> None:
    """A finding per feature of ``idx`` with more than one part, located at all parts but the
    largest; ``types`` holds the GEOS type id of every feature."""
    multi = idx[np.isin(types[idx], MULTI_TYPES)]
    if multi.size == 0:
        return
    nparts = shapely.get_num_geometries(ctx.geoms[multi])
    for i, n in zip(multi[nparts > 1], nparts[nparts > 1]):
        parts = shapely.get_parts(ctx.geoms[i])
        size = np.where(shapely.area(parts) > 0, shapely.area(parts), shapely.length(parts))
        largest = int(np.argmax(size))  # report where the extra parts are
        collect = _COLLECT.get(int(types[i]), shapely.geometrycollections)
        extra = collect(parts[np.arange(len(parts)) != largest])
        ctx.add("multipart", i, None, multipart_message(int(n)), extra)


def hole_findings(ctx: RuleContext, idx: np.ndarray) -> None:
    """A finding per hole (interior ring) of the polygons ``idx``, located at the hole."""
    if idx.size == 0:
        return
    parts, part_of = shapely.get_parts(ctx.geoms[idx], return_index=True)
    holed = np.flatnonzero(shapely.get_num_interior_rings(parts) > 0)
    if holed.size == 0:
        return
    rings, ring_part = shapely.get_rings(parts[holed], return_index=True)
    inner = np.r_[False, ring_part[1:] == ring_part[:-1]]  # the first ring is the exterior
    holes = shapely.polygons(rings[inner])
    owner = idx[part_of[holed[ring_part[inner]]]]
    area = ctx.area(holes)
    unit = ctx.unit
    for i, a, hole in zip(owner, area, holes):
        ctx.add("hole", i, None, hole_message(a, unit), hole)
