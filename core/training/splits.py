"""Deterministic, spatially grouped train/val assignment of tiles."""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from ..geos import shapely

TRAIN = "train"
VAL = "val"
SPLITS = (TRAIN, VAL)  # folder and document order in every format
ORDERS = 16  # shuffled block orders tried per split


def assign_splits(
    block: np.ndarray, keep: np.ndarray, val_fraction: float, seed: int
) -> np.ndarray:
    """Split name per tile ("train"/"val"), assigning whole blocks.

    Blocks are visited in an order shuffled with ``seed`` and go to val while the kept tiles in
    val stay within ``val_fraction`` (0-1) of all kept tiles; then the one block that brings val
    closest to the fraction is added, if one does. Of ``ORDERS`` such orders, the first that
    comes closest is used. Same inputs, same result. With a fraction > 0 and at least two
    blocks holding kept tiles, val gets at least one block and train keeps at least one.
    """
    block = np.asarray(block, dtype=np.int64)
    keep = np.asarray(keep, dtype=bool)
    out = np.full(block.shape[0], TRAIN, dtype=object)
    if val_fraction <= 0 or block.size == 0:
        return out
    used = np.unique(block[keep])
    if used.size < 2:
        return out
    counts = np.bincount(block[keep], minlength=int(block.max()) + 1)
    target = val_fraction * counts.sum()
    rng = np.random.default_rng(int(seed))
    taken: List[int] = []
    error = np.inf
    for _ in range(ORDERS):  # a few shuffled orders: the first one closest to the target wins
        candidate = _fill(rng.permutation(used), counts, target)
        cand_error = abs(int(counts[candidate].sum()) - target)
        if cand_error < error:
            taken, error = candidate, cand_error
    out[np.isin(block, np.asarray(taken, dtype=np.int64))] = VAL
    return out


def _fill(order: np.ndarray, counts: np.ndarray, target: float) -> List[int]:
    """Blocks in ``order`` taken while the total stays within ``target``, then the one block
    that brings the total closest to it; or one block alone when that is closer. Never every
    block (train keeps one)."""
    taken: List[int] = []
    total = 0
    for b in order.tolist():  # blocks: a few hundred at most
        if total + counts[b] <= target:
            taken.append(b)
            total += counts[b]
    rest = np.setdiff1d(order, np.asarray(taken, dtype=np.int64))
    if rest.size > 1 or not taken:
        candidates = rest if taken else order[:-1]
        best = int(candidates[np.argmin(np.abs(total + counts[candidates] - target))])
        if not taken or abs(total + counts[best] - target) < abs(total - target):
            taken.append(best)
            total += counts[best]
    single = int(order[:-1][np.argmin(np.abs(counts[order[:-1]] - target))])
    if abs(counts[single] - target) < abs(total - target):  # one big block can be closer
        return [single]
    return taken


def _overlapping(
    col_off: np.ndarray, row_off: np.ndarray, width: np.ndarray, height: np.ndarray
) -> List[np.ndarray]:
    """Per window, the other windows it shares at least one pixel with (windows are
    half-open, so windows that only touch share none)."""
    boxes = shapely.box(col_off, row_off, col_off + width, row_off + height)
    a, b = shapely.STRtree(boxes).query(boxes, predicate="intersects")
    share = (
        (a != b)
        & (col_off[a] < col_off[b] + width[b])
        & (col_off[b] < col_off[a] + width[a])
        & (row_off[a] < row_off[b] + height[b])
        & (row_off[b] < row_off[a] + height[a])
    )
    a, b = a[share], b[share]
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    cuts = np.searchsorted(a, np.arange(col_off.shape[0] + 1))
    return [b[cuts[k] : cuts[k + 1]] for k in range(col_off.shape[0])]


def guard_band_splits(
    col_off: np.ndarray,
    row_off: np.ndarray,
    width: np.ndarray,
    height: np.ndarray,
    keep: np.ndarray,
    val_fraction: float,
    seed: int,
) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """Split per tile ("train"/"val") and the tiles dropped as a guard band, for tiles that
    overlap (pixel windows ``col_off``/``row_off``/``width``/``height``).

    Val grows from a kept tile outwards, nearest tile centre first, so it stays compact; every
    kept tile sharing a pixel with a val tile is dropped, so train and val share no pixel.
    Of the growths from ``ORDERS`` start tiles drawn with ``seed`` (among those sharing pixels
    with fewer than all other kept tiles), the one whose share of the written tiles
    (val / (val + train)) is closest to ``val_fraction`` (0-1) wins, then the one dropping
    fewest tiles. None when every kept tile shares pixels with every other one.
    """
    keep = np.asarray(keep, dtype=bool)
    kept = np.flatnonzero(keep)
    if val_fraction <= 0 or kept.size < 2:
        return None
    c, r = np.asarray(col_off)[kept], np.asarray(row_off)[kept]
    w, h = np.asarray(width)[kept], np.asarray(height)[kept]
    near_of = _overlapping(c, r, w, h)
    cx, cy = c + w / 2.0, r + h / 2.0
    n = kept.size
    rng = np.random.default_rng(int(seed))
    best: Optional[Tuple[float, int, List[int]]] = None
    tried = 0
    for start in rng.permutation(n).tolist():  # until ORDERS starts gave a split: None is sure
        if tried == ORDERS:
            break
        tried += int(near_of[start].size < n - 1)
        order = np.lexsort((np.arange(n), (cx - cx[start]) ** 2 + (cy - cy[start]) ** 2))
        in_val = np.zeros(n, dtype=bool)
        near = np.zeros(n, dtype=np.int64)  # val tiles each tile shares pixels with
        n_drop = 0
        for step, t in enumerate(order.tolist()):  # tiles of one image: a few thousand at most
            in_val[t] = True
            n_val = step + 1
            n_drop -= int(near[t] > 0)
            for u in near_of[t].tolist():
                n_drop += int(near[u] == 0 and not in_val[u])
                near[u] += 1
            n_train = n - n_val - n_drop
            if n_train < 1:
                break
            error = abs(n_val / (n_val + n_train) - val_fraction)
            if best is None or (error, n_drop) < best[:2]:
                best = (error, n_drop, order[: step + 1].tolist())
    if best is None:
        return None
    val = np.zeros(n, dtype=bool)
    val[best[2]] = True
    dropped = np.zeros(n, dtype=bool)
    for t in np.flatnonzero(val).tolist():
        dropped[near_of[t]] = True
    dropped &= ~val
    out = np.full(keep.shape[0], TRAIN, dtype=object)
    out[kept[val]] = VAL
    drop = np.zeros(keep.shape[0], dtype=bool)
    drop[kept[dropped]] = True
    return out, drop


def val_share(splits: np.ndarray, keep: np.ndarray) -> float:
    """Share (0-1) of the kept tiles that are in val; 0 when none is kept."""
    kept = np.asarray(splits)[np.asarray(keep, dtype=bool)]
    return float((kept == VAL).mean()) if kept.size else 0.0
