"""The multipart rule: a geometry of several parts where one is expected."""

from __future__ import annotations

import numpy as np

from ..geos import shapely
from .context import RuleContext
from .geometry import MULTI_TYPES, TYPE_MULTILINE, TYPE_MULTIPOINT, TYPE_MULTIPOLYGON
from .rules import multipart_message

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
