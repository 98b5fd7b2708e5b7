"""Georeferencing arithmetic on plain tuples: extents from affine geotransforms, axis order."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

Extent = Tuple[float, float, float, float]


def extent_from_geotransform(gt: Sequence[float], width: int, height: int) -> Optional[Extent]:
    """(xmin, ymin, xmax, ymax) of a ``width`` x ``height`` pixel grid under the GDAL affine
    geotransform ``gt`` (rotation terms included); None without a geotransform."""
    if len(gt) != 6:
        return None
    corners = ((0, 0), (width, 0), (0, height), (width, height))
    xs = [gt[0] + gt[1] * px + gt[2] * py for px, py in corners]
    ys = [gt[3] + gt[4] * px + gt[5] * py for px, py in corners]
    return (min(xs), min(ys), max(xs), max(ys))


def east_first(extent: Extent, north_first: bool) -> Extent:
    """The extent with x = east: data stored in authority (lat, lon) order gets swapped."""
    if north_first:
        return (extent[1], extent[0], extent[3], extent[2])
    return extent
