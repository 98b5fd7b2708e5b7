"""Pure-numpy polygon rasterizing, COCO RLE (pycocotools-compatible) and mask vectorizing."""

from __future__ import annotations

from typing import Dict, List, Tuple, Union

import numpy as np

from ..geos import shapely


def _edges(geom) -> np.ndarray:  # type: ignore[no-untyped-def]
    """All ring edges of a (Multi)Polygon as an (n, 4) array x0, y0, x1, y1."""
    rings = shapely.get_rings(shapely.get_parts(geom))
    chunks = []
    for ring in rings:  # rings of one geometry: a handful, not per feature
        c = shapely.get_coordinates(ring)
        if c.shape[0] >= 2:
            chunks.append(np.hstack([c[:-1], c[1:]]))
    return np.vstack(chunks) if chunks else np.zeros((0, 4))


def rasterize(  # type: ignore[no-untyped-def]
    geom, width: int, height: int, x_off: float = 0.0, y_off: float = 0.0
) -> np.ndarray:
    """Boolean (height, width) mask of the pixels whose centre lies inside ``geom``
    (pixel-space coordinates, x = column, y = row); the mask's top-left pixel is at
    (x_off, y_off). Even-odd rule, so holes stay holes."""
    mask = np.zeros((height, width), dtype=bool)
    if geom is None or shapely.is_empty(geom):
        return mask
    e = _edges(geom) - (x_off, y_off, x_off, y_off)
    if e.shape[0] == 0:
        return mask
    x0, y0, x1, y1 = e.T
    ylo = np.minimum(y0, y1)
    yhi = np.maximum(y0, y1)
    # Rows whose centre (r + 0.5) lies in [ylo, yhi): half-open, so vertices count once.
    r_first = np.clip(np.ceil(ylo - 0.5), 0, height).astype(np.int64)
    r_last = np.clip(np.ceil(yhi - 0.5), 0, height).astype(np.int64)
    n_rows = r_last - r_first
    live = n_rows > 0
    if not live.any():
        return mask
    x0, y0, x1, y1, r_first, n_rows = (
        x0[live],
        y0[live],
        x1[live],
        y1[live],
        r_first[live],
        n_rows[live],
    )
    edge_of = np.repeat(np.arange(n_rows.shape[0]), n_rows)
    start = np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
    rows = r_first[edge_of] + (np.arange(edge_of.shape[0]) - start)
    yc = rows + 0.5
    t = (yc - y0[edge_of]) / (y1[edge_of] - y0[edge_of])
    xs = x0[edge_of] + t * (x1[edge_of] - x0[edge_of])
    # A pixel is inside when an odd number of crossings lie left of its centre: sort the
    # crossings per row, then count with one searchsorted over (row, x) keys.
    span = float(width) + 2.0
    keys = np.sort(rows * span + np.clip(xs, -1.0, width + 1.0) + 1.0)
    pix_r, pix_c = np.divmod(np.arange(height * width, dtype=np.int64), width)
    pix_keys = pix_r * span + pix_c + 0.5 + 1.0
    before = np.searchsorted(keys, pix_keys)
    row_start = np.searchsorted(keys, pix_r * span)
    mask.ravel()[:] = ((before - row_start) & 1).astype(bool)
    return mask


def rle_counts(mask: np.ndarray) -> List[int]:
    """Uncompressed COCO RLE counts: column-major runs, starting with a (maybe empty) 0-run."""
    flat = np.asarray(mask, dtype=np.uint8).ravel(order="F")
    if flat.size == 0:
        return [0]
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat[0] == 1:
        runs.insert(0, 0)
    return [int(r) for r in runs]


def counts_to_string(counts: List[int]) -> str:
    """pycocotools' compressed RLE string (maskApi.c rleToString)."""
    out = []
    for i, value in enumerate(counts):
        x = int(value)
        if i > 2:
            x -= int(counts[i - 2])
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def string_to_counts(text: Union[str, bytes]) -> List[int]:
    """Inverse of :func:`counts_to_string` (maskApi.c rleFrString)."""
    s = text.decode("ascii") if isinstance(text, bytes) else text
    counts: List[int] = []
    p = 0
    while p < len(s):
        x = 0
        k = 0
        more = True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def encode_rle(mask: np.ndarray) -> Dict[str, object]:
    """COCO compressed RLE dict {"size": [h, w], "counts": str} of a boolean mask."""
    h, w = mask.shape
    return {"size": [int(h), int(w)], "counts": counts_to_string(rle_counts(mask))}


def window_rle_counts(window: np.ndarray, x0: int, y0: int, width: int, height: int) -> List[int]:
    """RLE counts of a (height, width) image that is False except for ``window`` placed with
    its top-left pixel at (x0, y0); work proportional to the window, not the image."""
    win = np.asarray(window, dtype=np.int8)
    wh, ww = win.shape
    padded = np.zeros((wh + 2, ww), dtype=np.int8)
    padded[1:-1] = win
    d = np.diff(padded, axis=0)
    sr, sc = np.nonzero(d.T == 1)  # transposed: column-major order of the runs
    er, ec = np.nonzero(d.T == -1)
    starts = (x0 + sr).astype(np.int64) * height + y0 + sc
    ends = (x0 + er).astype(np.int64) * height + y0 + ec
    if wh == height:  # a run ending at a column's bottom continues at the next one's top
        joined = np.isin(ends, starts)
        keep_start = ~np.isin(starts, ends)
        starts, ends = starts[keep_start], ends[~joined]
    bounds = np.empty(2 * starts.size + 2, dtype=np.int64)
    bounds[0] = 0
    bounds[1:-1:2] = starts
    bounds[2:-1:2] = ends
    bounds[-1] = width * height
    if ends.size and ends[-1] == width * height:
        bounds = bounds[:-1]  # the image ends inside a run: no trailing zero count
    return np.diff(bounds).tolist()


def encode_geometry_rle(geom, width: int, height: int) -> Dict[str, object]:  # type: ignore[no-untyped-def]
    """COCO compressed RLE of ``geom`` rasterized on a (height, width) image, computed on the
    geometry's bounding window only."""
    bx0, by0, bx1, by1 = shapely.bounds(geom)
    x0, y0 = max(0, int(np.floor(bx0))), max(0, int(np.floor(by0)))
    x1, y1 = min(width, int(np.ceil(bx1))), min(height, int(np.ceil(by1)))
    if x1 <= x0 or y1 <= y0:
        return {"size": [int(height), int(width)], "counts": counts_to_string([width * height])}
    win = rasterize(geom, x1 - x0, y1 - y0, x0, y0)
    counts = window_rle_counts(win, x0, y0, width, height)
    return {"size": [int(height), int(width)], "counts": counts_to_string(counts)}


def decode_rle(rle: Dict[str, object]) -> np.ndarray:
    """Boolean (h, w) mask from a COCO RLE dict (compressed string or counts list)."""
    h, w = (int(v) for v in rle["size"])  # type: ignore[union-attr]
    counts = rle["counts"]
    runs = string_to_counts(counts) if isinstance(counts, (str, bytes)) else list(counts)  # type: ignore[arg-type]
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, np.asarray(runs, dtype=np.int64))
    if flat.size != h * w:
        raise ValueError(f"RLE covers {flat.size} pixels, size says {h * w}")
    return flat.reshape((h, w), order="F")


def cut_corners(geom, cut: float = 0.5):  # type: ignore[no-untyped-def]
    """Replace every vertex by two points ``cut`` px back along its edges (at most half an
    edge). On a pixel staircase this lands on the edge midpoints, i.e. on the diagonal the
    pixels sample, instead of the stair corners; straight edges lose only a corner triangle."""
    polys = shapely.get_parts(geom)
    if polys.size == 0:
        return geom
    rings, poly_of = shapely.get_rings(polys, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    counts = np.bincount(ring_of, minlength=rings.shape[0])
    starts = np.cumsum(counts) - counts
    keep = np.ones(coords.shape[0], dtype=bool)
    keep[starts + counts - 1] = False  # closing vertex
    pts, rid = coords[keep], ring_of[keep]
    n = np.bincount(rid, minlength=rings.shape[0])
    first = np.cumsum(n) - n
    pos = np.arange(pts.shape[0]) - first[rid]
    nxt = first[rid] + (pos + 1) % n[rid]
    prv = first[rid] + (pos - 1) % n[rid]
    e_out = pts[nxt] - pts
    e_in = pts - pts[prv]
    l_out = np.hypot(e_out[:, 0], e_out[:, 1])[:, None]
    l_in = np.hypot(e_in[:, 0], e_in[:, 1])[:, None]
    before = pts - e_in / np.maximum(l_in, 1e-12) * np.minimum(cut, l_in / 2)
    after = pts + e_out / np.maximum(l_out, 1e-12) * np.minimum(cut, l_out / 2)
    new = np.stack([before, after], axis=1).reshape(-1, 2)
    new_rid = np.repeat(rid, 2)
    # close each ring again
    n2 = 2 * n
    first2 = np.cumsum(n2) - n2
    closed = np.insert(new, first2[1:].tolist() + [new.shape[0]], new[first2], axis=0)
    closed_rid = np.insert(new_rid, first2[1:].tolist() + [new.shape[0]], np.arange(n.shape[0]))
    new_rings = shapely.linearrings(closed, indices=closed_rid)
    out = shapely.polygons(new_rings, indices=poly_of)
    merged = shapely.multipolygons(out) if out.shape[0] > 1 else out[0]
    return shapely.make_valid(merged) if not shapely.is_valid(merged) else merged


def mask_to_polygons(mask: np.ndarray, smooth: bool = True):  # type: ignore[no-untyped-def]
    """(Multi)Polygon covering the True pixels of ``mask`` in pixel space; holes kept.

    Each row's runs become boxes merged by a unary union (row runs are not noded against each
    other, so a coverage union would leave them apart); ``smooth`` cuts the stair corners
    (:func:`cut_corners`), which brings the outline closer to the shape the pixels sampled.
    """
    m = np.asarray(mask, dtype=bool)
    h, w = m.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = m
    d = np.diff(padded, axis=1)
    sr, sc = np.nonzero(d == 1)
    _er, ec = np.nonzero(d == -1)
    if sr.size == 0:
        return shapely.from_wkt("POLYGON EMPTY")
    merged = shapely.union_all(shapely.box(sc, sr, ec, sr + 1))
    merged = shapely.simplify(merged, 0.0)  # drop collinear vertices before cutting corners
    return cut_corners(merged) if smooth else merged


def bbox_of_mask(mask: np.ndarray) -> Tuple[int, int, int, int]:
    """(x, y, w, h) of the True pixels; zeros when the mask is empty."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return (0, 0, 0, 0)
    return (
        int(xs.min()),
        int(ys.min()),
        int(xs.max() - xs.min() + 1),
        int(ys.max() - ys.min() + 1),
    )
