"""Clip pixel-space annotations to tile windows in bulk (STRtree + vectorized GEOS)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geos import shapely
from ..progress import Ticker
from .geo import polygonal_parts, shift_each
from .tiling import TileGrid

_EMPTY = shapely.from_wkt("MULTIPOLYGON EMPTY")
_CHUNK = 20000


@dataclass(frozen=True)
class TilePieces:
    """One row per (tile, annotation) pair kept after clipping, sorted by tile then annotation.

    ``geoms`` are Polygon/MultiPolygon in tile-local pixel coordinates (origin at the tile's
    top-left corner); ``visible`` is the clipped area over the annotation's full area (0-1).
    """

    tile: np.ndarray
    ann: np.ndarray
    geoms: np.ndarray
    visible: np.ndarray
    dropped: int

    def __len__(self) -> int:
        return int(self.tile.shape[0])


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Polygonal part of each geometry (intersections can add lines/points at edges)."""
    simple = np.isin(shapely.get_type_id(geoms), (3, 6))
    if simple.all():
        return geoms
    out = geoms.copy()
    mixed = np.flatnonzero(~simple)
    fixed = polygonal_parts(geoms[mixed])
    fixed[np.array([g is None for g in fixed.tolist()], dtype=bool)] = _EMPTY
    out[mixed] = fixed
    return out


def clip_to_tiles(
    pixel_geoms: np.ndarray,
    grid: TileGrid,
    min_visible: float = 0.0,
    ticker: Ticker | None = None,
) -> TilePieces:
    """Intersect every annotation with every tile it touches.

    Pieces whose visible fraction is below ``min_visible`` (0-1), or that keep no area, are
    dropped and counted in ``dropped``. Fully contained annotations skip the GEOS intersection.
    """
    geoms = np.asarray(pixel_geoms, dtype=object)
    boxes = grid.boxes()
    tree = shapely.STRtree(geoms)
    pairs = tree.query(boxes, predicate="intersects")
    tile_idx, ann_idx = pairs[0], pairs[1]
    order = np.lexsort((ann_idx, tile_idx))
    tile_idx, ann_idx = tile_idx[order], ann_idx[order]
    areas = shapely.area(geoms)
    shapely.prepare(boxes)
    out = np.empty(tile_idx.shape[0], dtype=object)
    n = tile_idx.shape[0]
    sub = ticker.sub(max(1, n), 0.0, 1.0) if ticker is not None else None
    for start in range(0, n, _CHUNK):
        t = tile_idx[start : start + _CHUNK]
        a = ann_idx[start : start + _CHUNK]
        inside = shapely.contains_properly(boxes[t], geoms[a])
        piece = geoms[a].copy()
        cut = np.flatnonzero(~inside)
        if cut.size:
            piece[cut] = _polygonal(shapely.intersection(geoms[a[cut]], boxes[t[cut]]))
        out[start : start + _CHUNK] = piece
        if sub is not None:
            sub.advance(len(t))
    if n:
        piece_area = shapely.area(out)
        visible = np.divide(piece_area, areas[ann_idx], out=np.zeros(n), where=areas[ann_idx] > 0)
        keep = (piece_area > 0) & (visible >= min_visible) & ~shapely.is_empty(out)
    else:
        visible = np.zeros(0)
        keep = np.zeros(0, dtype=bool)
    tile_idx, ann_idx, out, visible = tile_idx[keep], ann_idx[keep], out[keep], visible[keep]
    local = shift_each(out, -grid.col_off[tile_idx], -grid.row_off[tile_idx]) if out.size else out
    return TilePieces(
        tile=tile_idx,
        ann=ann_idx,
        geoms=local,
        visible=visible,
        dropped=int(n - int(keep.sum())),
    )
