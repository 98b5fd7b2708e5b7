"""GEOS geometry type ids and the geometry helpers the rule modules share."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..geos import shapely

TYPE_POINT, TYPE_LINE, TYPE_RING, TYPE_POLYGON = 0, 1, 2, 3
TYPE_MULTIPOINT, TYPE_MULTILINE, TYPE_MULTIPOLYGON, TYPE_COLLECTION = 4, 5, 6, 7
POLYGONAL_TYPES = (TYPE_POLYGON, TYPE_MULTIPOLYGON)
LINEAL_TYPES = (TYPE_LINE, TYPE_RING, TYPE_MULTILINE)
MULTI_TYPES = (TYPE_MULTIPOINT, TYPE_MULTILINE, TYPE_MULTIPOLYGON, TYPE_COLLECTION)


def dimension_part(geom: Any, dim: int) -> Any:
    """The parts of ``geom`` of dimension ``dim`` (drops the touching points/lines of an
    intersection)."""
    if shapely.get_dimensions(geom) == dim and shapely.get_type_id(geom) != TYPE_COLLECTION:
        return geom
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_dimensions(parts) == dim]
    if len(parts) == 0:
        return shapely.from_wkt("GEOMETRYCOLLECTION EMPTY")
    if len(parts) == 1:
        return parts[0]
    return shapely.union_all(parts)


def polygonal_part(geom: Any) -> Any:
    """The polygonal part of an intersection result."""
    return dimension_part(geom, 2)


def polygonal_parts(geoms: np.ndarray) -> np.ndarray:
    """``polygonal_part`` of each of ``geoms``; only the collections are taken apart."""
    out = np.array(geoms, dtype=object)
    mixed = np.flatnonzero(
        (shapely.get_type_id(out) == TYPE_COLLECTION) | (shapely.get_dimensions(out) != 2)
    )
    for k in mixed:  # rare: touching points or lines besides the area
        out[k] = polygonal_part(out[k])
    return out


def local_area_scale(lat: np.ndarray, semi_major: float, inverse_flattening: float) -> np.ndarray:
    """Square metres per square degree at latitude ``lat`` (degrees) on an ellipsoid.

    The product of the meridional and prime-vertical radii of curvature; exact in the limit of
    small areas, within 0.1 % for labels up to about 10 km across.
    """
    f = 1.0 / inverse_flattening if inverse_flattening else 0.0
    e2 = f * (2.0 - f)
    phi = np.radians(np.clip(np.asarray(lat, dtype=np.float64), -90.0, 90.0))
    s2 = np.sin(phi) ** 2
    w = np.sqrt(1.0 - e2 * s2)
    m = semi_major * (1.0 - e2) / w**3
    nn = semi_major / w
    return (np.pi / 180.0) ** 2 * m * nn * np.cos(phi)
