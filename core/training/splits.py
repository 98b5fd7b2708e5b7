"""Deterministic, spatially grouped train/val assignment of tiles."""

from __future__ import annotations

import numpy as np

TRAIN = "train"
VAL = "val"
SPLITS = (TRAIN, VAL)  # folder and document order in every format


def assign_splits(
    block: np.ndarray, keep: np.ndarray, val_fraction: float, seed: int
) -> np.ndarray:
    """Split name per tile ("train"/"val"), assigning whole blocks.

    Blocks are shuffled with ``seed`` and taken into val until the kept tiles in val reach
    ``val_fraction`` (0-1) of all kept tiles. Same inputs, same result. With a fraction > 0 and
    at least two blocks holding kept tiles, val gets at least one block and train keeps at
    least one.
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
    order = np.random.default_rng(int(seed)).permutation(used)
    target = val_fraction * counts.sum()
    taken = []
    total = 0
    for b in order[:-1]:  # the last block always stays in train
        if taken and total >= target:
            break
        if taken and abs(total + counts[b] - target) > abs(total - target):
            continue
        taken.append(b)
        total += counts[b]
    out[np.isin(block, np.asarray(taken, dtype=np.int64))] = VAL
    return out
