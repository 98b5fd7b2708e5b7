"""Pixel-space label encoders: COCO polygons/RLE/bbox, YOLO boxes and segments, class masks."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..geos import shapely
from .raster import encode_geometry_rle, rasterize

DECIMALS = 2  # pixel coordinates in COCO: 1/100 px
YOLO_DECIMALS = 6  # normalized coordinates in YOLO labels


def _exterior_rings(geoms: np.ndarray) -> Tuple[np.ndarray, List[np.ndarray], np.ndarray]:
    """(piece index per ring, ring coordinates without the closing point, has-hole per piece)."""
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    n_holes = shapely.get_num_interior_rings(parts)
    has_hole = np.bincount(part_of, weights=(n_holes > 0), minlength=geoms.shape[0]) > 0
    coords, ring_idx = shapely.get_coordinates(shapely.get_exterior_ring(parts), return_index=True)
    counts = np.bincount(ring_idx, minlength=parts.shape[0])
    ends = np.cumsum(counts)
    rings = np.split(coords, ends[:-1])
    rings = [r[:-1] for r in rings]  # drop the closing vertex
    return part_of, rings, has_hole


HOLES_BRIDGED = "bridged"
HOLES_RLE = "rle"
HOLE_MODES = (HOLES_BRIDGED, HOLES_RLE)  # the COCO_HOLES parameter's order


def coco_annotations(
    geoms: np.ndarray,
    width: int,
    height: int,
    crowd: Optional[np.ndarray] = None,
    holes: str = HOLES_BRIDGED,
) -> List[Dict[str, Any]]:
    """COCO ``segmentation``/``bbox``/``area``/``iscrowd`` per tile-local (Multi)Polygon.

    Every piece is one annotation with one polygon per part. A part with holes is one ring with
    the holes bridged in (:func:`bridge_holes`), which pycocotools, torchvision and ultralytics
    rasterize with the holes open; with ``holes="rle"`` such pieces are compressed RLE over the
    whole tile instead. Pieces flagged in ``crowd`` are ``iscrowd: 1`` (ignore regions).
    ``area`` is the polygon area in px^2, ``bbox`` [x, y, w, h] its bounds.
    """
    geoms = np.asarray(geoms, dtype=object)
    if geoms.size == 0:
        return []
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    has_holes = (
        np.bincount(
            part_of, weights=shapely.get_num_interior_rings(parts) > 0, minlength=geoms.shape[0]
        )
        > 0
    )
    coords, ring_idx = shapely.get_coordinates(shapely.get_exterior_ring(parts), return_index=True)
    # One rounding and one tolist for the whole tile; rings are then plain list slices.
    flat = np.round(coords, DECIMALS).ravel().tolist()
    ends = 2 * np.cumsum(np.bincount(ring_idx, minlength=parts.shape[0]))
    starts = np.concatenate(([0], ends[:-1]))
    if crowd is None:
        crowd = np.zeros(geoms.shape[0], dtype=bool)
    crowd = np.asarray(crowd, dtype=bool)
    as_rle = has_holes if holes == HOLES_RLE else np.zeros_like(has_holes)
    rle = as_rle.tolist()
    part_holes = (shapely.get_num_interior_rings(parts) > 0).tolist()
    segs: List[Any] = [[] for _ in range(geoms.shape[0])]
    for k, (piece, a, b) in enumerate(zip(part_of.tolist(), starts.tolist(), ends.tolist())):
        if rle[piece]:
            continue
        if part_holes[k]:  # the few parts with holes: one bridged ring each
            ring = np.round(bridge_holes(parts[k]), DECIMALS)
            segs[piece].append(ring.ravel().tolist())
        else:
            segs[piece].append(flat[a : b - 2])  # without the closing vertex
    for piece in np.flatnonzero(as_rle).tolist():  # RLE: one window rasterization each
        segs[piece] = encode_geometry_rle(geoms[piece], width, height)
    bounds = np.round(shapely.bounds(geoms), DECIMALS)
    boxes = np.column_stack(
        [
            bounds[:, 0],
            bounds[:, 1],
            np.round(bounds[:, 2] - bounds[:, 0], DECIMALS),
            np.round(bounds[:, 3] - bounds[:, 1], DECIMALS),
        ]
    ).tolist()
    areas = np.round(shapely.area(geoms), DECIMALS).tolist()
    return [
        {"segmentation": seg, "area": area, "bbox": box, "iscrowd": int(c)}
        for seg, area, box, c in zip(segs, areas, boxes, crowd.tolist())
    ]


def yolo_box_lines(geoms: np.ndarray, classes: Sequence[int], width: int, height: int) -> List[str]:
    """``class cx cy w h`` lines, normalized by the tile size (one line per piece)."""
    geoms = np.asarray(geoms, dtype=object)
    if geoms.size == 0:
        return []
    b = shapely.bounds(geoms)
    cx = (b[:, 0] + b[:, 2]) / 2.0 / width
    cy = (b[:, 1] + b[:, 3]) / 2.0 / height
    w = (b[:, 2] - b[:, 0]) / width
    h = (b[:, 3] - b[:, 1]) / height
    d = YOLO_DECIMALS
    return [
        f"{c} {x:.{d}f} {y:.{d}f} {ww:.{d}f} {hh:.{d}f}"
        for c, x, y, ww, hh in zip(classes, cx.tolist(), cy.tolist(), w.tolist(), h.tolist())
    ]


def _insert_loop(ring: np.ndarray, loop: np.ndarray) -> np.ndarray:
    """``ring`` with ``loop`` traced from the vertex nearest to it and back: a zero-width cut
    joins them (vertices without the closing point)."""
    d = ((ring[:, None, :] - loop[None, :, :]) ** 2).sum(axis=2)
    i, j = np.unravel_index(int(np.argmin(d)), d.shape)
    traced = np.vstack([loop[j:], loop[:j], loop[j : j + 1]])
    return np.vstack([ring[: i + 1], traced, ring[i:]])


def bridge_holes(polygon) -> np.ndarray:  # type: ignore[no-untyped-def]
    """One ring (no closing vertex) tracing the exterior and every hole, joined by zero-width
    cuts at the nearest vertices: how single-ring formats (YOLO) keep holes as holes."""
    ring = shapely.get_coordinates(polygon.exterior)[:-1]
    for hole in polygon.interiors:  # a polygon's holes: a handful
        ring = _insert_loop(ring, shapely.get_coordinates(hole)[:-1])
    return ring


def join_parts(rings: Sequence[np.ndarray]) -> np.ndarray:
    """The rings of a multipart piece as one ring, each part joined to the ring so far by a
    zero-width cut at the nearest vertices (as ultralytics' COCO converter joins segments):
    one YOLO line per instance, the parts still filled and the cuts without area."""
    ring = rings[0]
    for other in rings[1:]:  # the parts of one piece: a handful
        ring = _insert_loop(ring, other)
    return ring


def yolo_segment_lines(
    geoms: np.ndarray, classes: Sequence[int], width: int, height: int
) -> List[str]:
    """``class x1 y1 x2 y2 ...`` lines normalized by the tile size; one line per piece (one
    instance per feature in a tile, as in COCO): holes bridged into their ring
    (:func:`bridge_holes`), parts joined (:func:`join_parts`)."""
    geoms = np.asarray(geoms, dtype=object)
    if geoms.size == 0:
        return []
    part_of, rings, has_hole = _exterior_rings(geoms)
    if has_hole.any():
        parts = shapely.get_parts(geoms)
        rings = [
            bridge_holes(p) if has_hole[k] and len(p.interiors) else r
            for p, r, k in zip(parts, rings, part_of.tolist())
        ]
    per_piece: List[List[np.ndarray]] = [[] for _ in range(geoms.shape[0])]
    for piece, ring in zip(part_of.tolist(), rings):
        per_piece[piece].append(ring)
    scale = np.array([width, height], dtype=float)
    d = YOLO_DECIMALS
    lines = []
    for piece, piece_rings in enumerate(per_piece):
        if not piece_rings:
            continue
        ring = piece_rings[0] if len(piece_rings) == 1 else join_parts(piece_rings)
        xy = np.clip(ring / scale, 0.0, 1.0).ravel()
        lines.append(f"{classes[piece]} " + " ".join(f"{v:.{d}f}" for v in xy.tolist()))
    return lines


def class_mask(
    geoms: np.ndarray, values: Sequence[int], width: int, height: int, dtype: Any = np.uint8
) -> np.ndarray:
    """(height, width) image of class values (0 = background). Larger pieces are burnt first so
    a small object on top of a large one stays visible."""
    out = np.zeros((height, width), dtype=dtype)
    geoms = np.asarray(geoms, dtype=object)
    if geoms.size == 0:
        return out
    order = np.argsort(-shapely.area(geoms), kind="stable")
    bounds = shapely.bounds(geoms)
    for i in order.tolist():  # one small window rasterization per piece
        x0 = max(0, int(np.floor(bounds[i, 0])))
        y0 = max(0, int(np.floor(bounds[i, 1])))
        x1 = min(width, int(np.ceil(bounds[i, 2])))
        y1 = min(height, int(np.ceil(bounds[i, 3])))
        if x1 <= x0 or y1 <= y0:
            continue
        window = rasterize(geoms[i], x1 - x0, y1 - y0, x0, y0)
        out[y0:y1, x0:x1][window] = values[i]
    return out
