"""The duplicate rule: features with identical geometries after normalization.

Two ways find them. Hashing normalized WKB works for any geometry; the pair rules find the
identical polygons among the overlapping pairs they compute anyway (``pairs.py``), which is
much cheaper when they run. Both report a group of n copies as (first, other) pairs, first
being the lowest fid.
"""

from __future__ import annotations

import numpy as np

from ..geos import shapely
from ..progress import Ticker
from .context import RuleContext
from .rules import duplicate_message

_DIGEST_CHUNK = 50000
# Pairs whose intersection over union is at least 1 - this are compared exactly.
_IOU_EPSILON = 1e-9


def hash_duplicates(ctx: RuleContext, idx: np.ndarray, ticker: Ticker) -> None:
    """Identical geometries among features ``idx``, found by hashing normalized WKB."""
    if idx.size < 2:
        ticker.advance(1)
        return
    sub = ctx.geoms[idx]

    def digest(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wkb = shapely.to_wkb(shapely.normalize(a))
        return np.array([hash(w) for w in wkb], dtype=np.int64), wkb

    parts = ctx.pmap(digest, [sub], _DIGEST_CHUNK)
    hashes = np.concatenate([p[0] for p in parts])
    wkbs = np.concatenate([p[1] for p in parts])
    order = np.argsort(hashes, kind="stable")
    hs = hashes[order]
    same = np.flatnonzero(hs[1:] == hs[:-1])
    groups: dict[bytes, list[int]] = {}
    for k in np.unique(np.concatenate([same, same + 1])) if same.size else []:
        i = int(order[k])
        groups.setdefault(wkbs[i], []).append(int(idx[i]))
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda i: ctx.fids[i])
        for other in members[1:]:
            _add(ctx, members[0], other)
    ticker.advance(1)


def exact_copies(polys: np.ndarray, i: np.ndarray, j: np.ndarray, iou: np.ndarray) -> np.ndarray:
    """True for the overlapping pairs (``polys[i]``, ``polys[j]``) that are identical; only
    pairs with an ``iou`` of about 1 are compared."""
    is_dup = np.zeros(len(i), dtype=bool)
    cand = np.flatnonzero(iou >= 1.0 - _IOU_EPSILON)
    is_dup[cand] = shapely.equals_exact(
        shapely.normalize(polys[i[cand]]), shapely.normalize(polys[j[cand]]), tolerance=0.0
    )
    return is_dup


def pair_duplicates(ctx: RuleContext, pairs: list[tuple[int, int]], is_dup: np.ndarray) -> None:
    """Duplicate findings from identical pairs (feature indices, lower fid first)."""
    # A group of n copies gives (first, other) pairs only, as the hashing method does.
    copy_of: dict = {}
    for k in sorted(
        np.flatnonzero(is_dup), key=lambda k: (ctx.fids[pairs[k][0]], ctx.fids[pairs[k][1]])
    ):
        gi, gj = pairs[k]
        copy_of.setdefault(gj, gi)
    for k in np.flatnonzero(is_dup):
        gi, gj = pairs[k]
        if gi not in copy_of and copy_of.get(gj) == gi:
            _add(ctx, gi, gj)


def _add(ctx: RuleContext, first: int, other: int) -> None:
    other_fid = int(ctx.fids[other])
    ctx.add(
        "duplicate",
        first,
        other_fid,
        duplicate_message(int(ctx.fids[first]), other_fid),
        ctx.geoms[other],
    )
