"""Affine geotransforms (GDAL order) between world coordinates and pixel space."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ..geos import shapely

GeoTransform = Tuple[float, float, float, float, float, float]


def tile_geotransform(gt: GeoTransform, col_off: float, row_off: float) -> GeoTransform:
    """Geotransform of a window whose top-left pixel is (col_off, row_off) of the image.

    Works for rotated/sheared transforms too: only the origin moves, pixel axes stay.
    """
    x0, a, b, y0, d, e = (float(v) for v in gt)
    return (x0 + col_off * a + row_off * b, a, b, y0 + col_off * d + row_off * e, d, e)


def invert_geotransform(gt: GeoTransform) -> GeoTransform:
    """Inverse mapping world -> pixel, as a geotransform tuple (GDAL InvGeoTransform)."""
    x0, a, b, y0, d, e = (float(v) for v in gt)
    det = a * e - b * d
    if det == 0.0:
        raise ValueError(f"geotransform {gt} is not invertible")
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return (-(ia * x0 + ib * y0), ia, ib, -(id_ * x0 + ie * y0), id_, ie)


def _apply(gt: GeoTransform, coords: np.ndarray) -> np.ndarray:
    x0, a, b, y0, d, e = gt
    out = np.empty_like(coords)
    out[:, 0] = x0 + a * coords[:, 0] + b * coords[:, 1]
    out[:, 1] = y0 + d * coords[:, 0] + e * coords[:, 1]
    return out


def world_to_pixel(gt: GeoTransform, geoms: np.ndarray) -> np.ndarray:
    """Geometries in the image CRS -> pixel space (x = column, y = row, origin top-left)."""
    inv = invert_geotransform(gt)
    return shapely.transform(np.asarray(geoms, dtype=object), lambda c: _apply(inv, c))


def pixel_to_world(gt: GeoTransform, geoms: np.ndarray) -> np.ndarray:
    """Pixel-space geometries -> the CRS of ``gt``."""
    g = tuple(float(v) for v in gt)
    return shapely.transform(np.asarray(geoms, dtype=object), lambda c: _apply(g, c))  # type: ignore[arg-type]


def shift_each(geoms: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Translate geometry i by (dx[i], dy[i]) in one vectorized pass."""
    geoms = np.asarray(geoms, dtype=object)
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    coords[:, 0] += np.asarray(dx, dtype=float)[index]
    coords[:, 1] += np.asarray(dy, dtype=float)[index]
    return shapely.set_coordinates(geoms.copy(), coords)


def geotransform_to_world_file(gt: GeoTransform) -> str:
    """ESRI world file text (pixel-centre origin) for ``gt``; 12 significant decimals."""
    x0, a, b, y0, d, e = (float(v) for v in gt)
    cx = x0 + 0.5 * a + 0.5 * b
    cy = y0 + 0.5 * d + 0.5 * e
    return "".join(f"{v:.12f}\n" for v in (a, d, b, e, cx, cy))


def polygonal_parts(geoms: np.ndarray) -> np.ndarray:
    """The polygonal part of each geometry as a MultiPolygon (None where nothing polygonal is
    left): GEOS intersections and make_valid can add lines and points at edges."""
    geoms = np.asarray(geoms, dtype=object)
    out = np.full(geoms.shape[0], None, dtype=object)
    parts, idx = shapely.get_parts(geoms, return_index=True)
    # MultiPolygons nested in a collection are flattened once more.
    parts, sub = shapely.get_parts(parts, return_index=True)
    idx = idx[sub]
    poly = shapely.get_type_id(parts) == 3
    parts, idx = parts[poly], idx[poly]
    if parts.size:
        order = np.argsort(idx, kind="stable")
        hit, dense = np.unique(idx[order], return_inverse=True)
        out[hit] = shapely.multipolygons(parts[order], indices=dense)
    return out
