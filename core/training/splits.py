"""Deterministic, spatially grouped train/val assignment of tiles."""

from __future__ import annotations

from typing import List

import numpy as np

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


def val_share(splits: np.ndarray, keep: np.ndarray) -> float:
    """Share (0-1) of the kept tiles that are in val; 0 when none is kept."""
    kept = np.asarray(splits)[np.asarray(keep, dtype=bool)]
    return float((kept == VAL).mean()) if kept.size else 0.0
