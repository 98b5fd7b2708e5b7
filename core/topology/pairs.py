"""Pairwise polygon rules (overlap, near_duplicate, contained, gap), fast on a million polygons.

The costly part of overlap detection is the exact intersection of neighbours that merely
touch: in an annotation coverage almost every bounding-box pair is such a pair. Edge balance
removes them without any GEOS call:

1. Every polygon boundary segment is oriented with the polygon on its left and hashed. In a
   clean coverage each inner segment occurs exactly twice, once in each direction (one
   neighbour on each side), so the number of polygons covering a point cannot change across it.
2. A polygon with any other kind of segment (unmatched, doubled, or crossing) is a *suspect*.
   Only pairs with a suspect are intersected exactly; every polygon found overlapping becomes a
   suspect too and its pairs are tested in the next round, until no new polygon turns up.
   This finds every overlapping pair: the region covered twice is bounded by unbalanced
   segments, so some polygon in it is a suspect, and the rounds walk from it across the region.
3. Gaps: the boundary of the union of all polygons consists of unbalanced segments only. They
   are noded and polygonized; a face covered by no polygon and bounded by at least two features
   is a gap. Labels that only touch (no shared vertices) add faces that are covered, so they
   cost time but are never reported.

With GEOS >= 3.12 (``HAS_COVERAGE``) and ``PREFER_GEOS_COVERAGE``, ``coverage_invalid_edges``
seeds the suspects instead of edge balance when no gaps are needed; both seeds give the same
findings, but GEOS's validator is slower on annotation coverages (see the constant). The
identical pairs among the overlapping ones are the duplicates (``duplicates.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import geos as _geos
from ..geos import shapely
from ..progress import Ticker
from .context import RuleContext
from .duplicates import exact_copies, pair_duplicates
from .geometry import TYPE_POLYGON, polygonal_parts
from .rules import (
    MAX_LISTED_PAIRS,
    OVERLAP_RULES,
    contained_message,
    gap_message,
    more_pairs_message,
    near_duplicate_message,
    overlap_message,
)

_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)
_K3 = np.uint64(0x165667B19E3779F9)
_K4 = np.uint64(0x27D4EB2F165667C5)
_PAIR_CHUNK = 20000
# Intersections of overlapping pairs kept for the findings, up to this many (a few hundred
# bytes each); beyond it the findings compute again the few they list.
_KEPT_PIECES = 250_000
# Polygons whose candidate pairs are made at once (bounds the pair index arrays).
_QUERY_CHUNK = 50000
# GEOS's coverage validator as the suspect seed. Measured on 1M polygons (GEOS 3.14, 2 cores):
# coverage_invalid_edges 14.2 s against 3.1 s for edge balance, so it is off by default.
PREFER_GEOS_COVERAGE = False


def edge_balance(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Suspect polygons and the unbalanced boundary segments of valid polygons.

    Returns ``suspect`` (bool per polygon: it has a segment not matched by exactly one
    opposite segment) and ``free`` ((k, 2, 2) float array, one copy of every unbalanced
    segment).
    """
    balance = _edge_balance(polys)
    return balance.suspect, balance.free


@dataclass
class _Balance:
    """What edge balance learnt: ``suspect`` and ``free`` as ``edge_balance`` returns them,
    ``owner`` (the polygon each free segment was taken from), ``single`` (the free segment
    occurs once: no other polygon has it, in either direction), ``hard`` (the polygon has an
    unbalanced segment that occurs more than once: doubled, or shared by three) and ``shared``
    (the polygon shares a balanced segment with a neighbour)."""

    suspect: np.ndarray
    free: np.ndarray
    owner: np.ndarray
    single: np.ndarray
    hard: np.ndarray
    shared: np.ndarray


def _edge_balance(polys: np.ndarray) -> _Balance:
    """``edge_balance`` with what the other rules need besides (``_Balance``)."""
    m = len(polys)
    if m == 0:
        empty = np.zeros(0, dtype=bool)
        return _Balance(empty, np.empty((0, 2, 2)), np.zeros(0, np.int64), empty, empty, empty)
    coords, cidx, is_ext, poly_of_ring = _ring_coordinates(polys)
    # Segments join consecutive coordinates of one ring; boolean compression of the shifted
    # views reads memory sequentially (much faster than gathering by index).
    is_seg = cidx[:-1] == cidx[1:]
    ring_of_seg = cidx[:-1][is_seg]
    del cidx
    x1 = coords[:-1, 0][is_seg] + 0.0  # + 0.0 turns -0.0 into 0.0 so equal numbers hash equal
    y1 = coords[:-1, 1][is_seg] + 0.0
    x2 = coords[1:, 0][is_seg] + 0.0
    y2 = coords[1:, 1][is_seg] + 0.0
    del coords, is_seg
    # Orientation: exterior rings counter-clockwise, holes clockwise, i.e. polygon on the left.
    area2 = np.bincount(ring_of_seg, weights=x1 * y2 - x2 * y1, minlength=len(is_ext))
    flip = (area2 > 0) != is_ext
    fseg = flip[ring_of_seg]
    # Canonical (undirected) key: the lexicographically smaller end first.
    swap = (x2 < x1) | ((x2 == x1) & (y2 < y1))
    forward = swap == fseg  # segment (after orientation) runs from the smaller end
    del fseg
    ax = np.where(swap, x2, x1)
    ay = np.where(swap, y2, y1)
    bx = np.where(swap, x1, x2)
    by = np.where(swap, y1, y2)
    del x1, y1, x2, y2, swap
    # Two independent 64-bit hashes of the four coordinates: sorting by the first groups equal
    # segments, the second must then agree within each group (a false match needs both to
    # collide, about 1e-25 for ten million segments).
    h = _hash4(ax, ay, bx, by, _K1, _K2, _K3, _K4)
    order = np.argsort(h)
    hs = h[order]
    del h
    h2 = _hash4(ax, ay, bx, by, _K3, _K4, _K1, _K2)[order]
    new = np.empty(len(hs), dtype=bool)
    new[0] = True
    np.not_equal(hs[1:], hs[:-1], out=new[1:])
    del hs
    if np.any(~new[1:] & (h2[1:] != h2[:-1])):
        # A 64-bit collision between different segments: sort by the coordinates instead.
        order = np.lexsort((by, bx, ay, ax))
        new[1:] = (
            (ax[order][1:] != ax[order][:-1])
            | (ay[order][1:] != ay[order][:-1])
            | (bx[order][1:] != bx[order][:-1])
            | (by[order][1:] != by[order][:-1])
        )
    del h2
    starts = np.flatnonzero(new)
    fwd = np.add.reduceat(forward[order].astype(np.int32), starts)
    size = np.diff(np.append(starts, len(order)))
    balanced = (fwd == 1) & (size == 2)
    group = np.cumsum(new) - 1
    bad = ~balanced[group]
    suspect = np.zeros(m, dtype=bool)
    suspect[poly_of_ring[ring_of_seg[order[bad]]]] = True
    hard = np.zeros(m, dtype=bool)
    hard[poly_of_ring[ring_of_seg[order[bad & (size[group] > 1)]]]] = True
    shared = np.zeros(m, dtype=bool)
    shared[poly_of_ring[ring_of_seg[order[~bad]]]] = True
    reps = order[starts[~balanced]]
    free = np.empty((len(reps), 2, 2))  # filled in place: np.stack copies twice
    for k, v in enumerate((ax, ay, bx, by)):
        free[:, k // 2, k % 2] = v[reps]
    owner = poly_of_ring[ring_of_seg[reps]]
    return _Balance(suspect, free, owner, size[~balanced] == 1, hard, shared)


def confirmed_suspects(polys: np.ndarray, balance: _Balance, tree: shapely.STRtree) -> np.ndarray:
    """The suspects that can overlap anything: ``balance.suspect`` without the polygons whose
    unbalanced segments all occur once and all stay clear of every other polygon.

    A segment that occurs once (no neighbour has it, in either direction) is found at the
    outer edge of a coverage, around a lake (a hole) and along the whole boundary of a lone
    object. The number of polygons covering a point changes across such a segment by one,
    from the polygon's side to the other. Take a point ``x`` inside a stretch of boundary of
    a region covered twice or more: some segment through ``x`` is unbalanced (balanced pairs
    change nothing) and belongs to a polygon ``P`` on the covered side, and either another
    polygon contains ``x`` in its interior, or another boundary runs along ``P``'s segment
    through ``x`` (as when a second polygon lies on the covered side with other vertices).
    Either way ``P``'s unbalanced segments meet another polygon's interior, or run along its
    boundary for a stretch, or are doubled (``hard``). So a polygon whose single unbalanced
    segments only touch other polygons at points (the corners of a coverage's outer edge) or
    not at all (a lake) bounds no region covered twice: it is no suspect. On a coverage with
    lakes this leaves nearly no suspects, whose every pair would otherwise be tested exactly.
    Polygons without a balanced segment (lone objects) stay suspects: the first round tests
    them against the neighbours their boxes overlap, which is what clearing them would cost.
    """
    # Only polygons that share a balanced segment (cells of a coverage) are asked: a polygon
    # with no neighbour along a segment (a lone object) needs the same tests with its
    # neighbours in the first round anyway.
    soft = balance.suspect & ~balance.hard & balance.shared
    pick = np.flatnonzero(balance.single & soft[balance.owner])
    if pick.size == 0:
        return balance.suspect
    pick = pick[np.argsort(balance.owner[pick], kind="stable")]
    owners, index = np.unique(balance.owner[pick], return_inverse=True)
    lines = shapely.multilinestrings(shapely.linestrings(balance.free[pick]), indices=index)
    a, b = tree.query(lines)
    keep = owners[a] != b
    a, b = a[keep], b[keep]
    confirmed = balance.suspect & ~soft
    if a.size:
        # DE-9IM of (lines, polygon): interiors meet (II), or a line runs along the boundary
        # (IB of dimension 1).
        relation = shapely.relate(lines[a], polys[b]).astype("U9").view("U1").reshape(-1, 9)
        meets, along = relation[:, 0] != "F", relation[:, 1] == "1"
        confirmed[owners[a[meets | along]]] = True
    return confirmed


def _hash4(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    d: np.ndarray,
    k1: np.uint64,
    k2: np.uint64,
    k3: np.uint64,
    k4: np.uint64,
) -> np.ndarray:
    h = a.view(np.uint64) * k1
    h ^= b.view(np.uint64) * k2
    h = (h ^ (h >> np.uint64(31))) * k3
    h ^= c.view(np.uint64) * k4
    h ^= d.view(np.uint64) * k1
    h ^= h >> np.uint64(29)
    return h


def _ring_coordinates(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(coords, ring index per coordinate, is-exterior per ring, polygon per ring).

    Polygons without holes (nearly all annotations) are read with one ``get_coordinates``
    call, ring = polygon; only the others are split into parts and rings, which creates a
    Python object per ring and costs ten times more.
    """
    simple = (shapely.get_type_id(polys) == TYPE_POLYGON) & (
        shapely.get_num_interior_rings(polys) == 0
    )
    s_idx = np.flatnonzero(simple)
    c1, i1 = shapely.get_coordinates(polys[s_idx], return_index=True)
    ext1 = np.ones(len(s_idx), dtype=bool)
    c_idx = np.flatnonzero(~simple)
    if c_idx.size == 0:
        return c1, i1, ext1, s_idx
    parts, part_of = shapely.get_parts(polys[c_idx], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    ext2 = np.ones(len(rings), dtype=bool)
    ext2[1:] = ring_part[1:] != ring_part[:-1]
    c2, i2 = shapely.get_coordinates(rings, return_index=True)
    return (
        np.concatenate([c1, c2]),
        np.concatenate([i1, i2 + len(s_idx)]),
        np.concatenate([ext1, ext2]),
        np.concatenate([s_idx, c_idx[part_of[ring_part]]]),
    )


def coverage_suspects(polys: np.ndarray) -> np.ndarray:
    """Suspects from GEOS's coverage validator (GEOS >= 3.12): polygons with invalid edges."""
    edges = shapely.coverage_invalid_edges(polys)
    return ~shapely.is_empty(edges) & ~shapely.is_missing(edges)


def _bbox_overlap_area(ba: np.ndarray, bb: np.ndarray) -> np.ndarray:
    w = np.minimum(ba[:, 2], bb[:, 2]) - np.maximum(ba[:, 0], bb[:, 0])
    h = np.minimum(ba[:, 3], bb[:, 3]) - np.maximum(ba[:, 1], bb[:, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def overlapping_pairs(
    ctx: RuleContext,
    polys: np.ndarray,
    suspect: np.ndarray,
    ticker: Ticker,
    tree: shapely.STRtree | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(i, j, area, pieces) for every pair of polygons whose interiors intersect, i < j,
    indices into ``polys``, sorted; ``area`` is that of the polygonal part of the
    intersection as ``ctx.area`` gives it, ``pieces`` those parts (None when there are more
    than ``_KEPT_PIECES``).

    The intersections are kept for the findings up to ``_KEPT_PIECES`` of them; past that
    they are dropped chunk by chunk (the findings compute again the few they list), and
    candidate pairs are made for a bounded number of polygons at a time: memory then grows
    with the number of overlapping pairs (24 bytes each), not with their geometries. A layer
    of 200 000 packed squares has 8.7 million.
    """
    m = len(polys)
    tree = shapely.STRtree(polys) if tree is None else tree
    bounds = shapely.bounds(polys)
    tested = np.zeros(m, dtype=bool)
    frontier = suspect.copy()
    found_i, found_j, found_a = [], [], []
    found_p: list[np.ndarray] | None = []
    kept = 0
    rounds = 0

    def intersect(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Most pairs only touch: the DE-9IM test of the interiors is exact and several times
        # cheaper than the intersection, which is computed for the pairs it passes.
        meet = np.flatnonzero(shapely.relate_pattern(polys[lo], polys[hi], "T********"))
        inter = shapely.intersection(polys[lo[meet]], polys[hi[meet]])
        pos = shapely.area(inter) > 0
        pieces = polygonal_parts(inter[pos])
        return meet[pos], ctx.area(pieces), pieces

    while frontier.any():
        rounds += 1
        first_of_round = len(found_i)
        q_all = np.flatnonzero(frontier)
        if rounds == 1:  # later rounds are small; they only poll for cancel
            ticker.total = float(max(1, len(q_all)))
        for start in range(0, len(q_all), _QUERY_CHUNK):
            q = q_all[start : start + _QUERY_CHUNK]
            a, b = tree.query(polys[q])
            i, j = q[a], b
            # Each unordered pair once: drop self pairs, pairs tested in an earlier round or
            # chunk, and the mirror of pairs where both ends are still to be queried.
            keep = (i != j) & ~tested[j] & ~(frontier[j] & (j < i))
            i, j = i[keep], j[keep]
            lo, hi = np.minimum(i, j), np.maximum(i, j)
            keep = _bbox_overlap_area(bounds[lo], bounds[hi]) > 0  # touching boxes: no overlap
            lo, hi = lo[keep], hi[keep]
            results = ctx.pmap(intersect, [lo, hi], _PAIR_CHUNK)
            for (hit, area, pieces), s in zip(results, _starts(lo)):
                found_i.append(lo[s + hit])
                found_j.append(hi[s + hit])
                found_a.append(area)
                kept += len(hit)
                if found_p is not None:
                    found_p.append(pieces)
                    if kept > _KEPT_PIECES:  # from here on, the findings compute them again
                        found_p = None
            if rounds == 1:
                ticker.advance(len(q))
            else:
                ticker.check()
        tested[q_all] = True
        frontier = np.zeros(m, dtype=bool)
        for arr in found_i[first_of_round:] + found_j[first_of_round:]:
            frontier[arr] = True
        frontier &= ~tested
    if not found_i:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), None
    i = np.concatenate(found_i)
    j = np.concatenate(found_j)
    ar = np.concatenate(found_a)
    order = np.lexsort((j, i))
    kept_pieces = np.concatenate(found_p)[order] if found_p else None
    return i[order], j[order], ar[order], kept_pieces


def _starts(lo: np.ndarray) -> range:
    """Start of each ``_PAIR_CHUNK`` chunk of ``lo`` (as ``RuleContext.pmap`` cuts it)."""
    return range(0, len(lo), _PAIR_CHUNK)


def pair_rules(
    ctx: RuleContext,
    idx: np.ndarray,
    active: set[str],
    ticker: Ticker,
    cover_extra: np.ndarray | None = None,
) -> None:
    """Adds overlap, near_duplicate, duplicate and gap findings for the valid polygons ``idx``;
    ``cover_extra`` (the repaired invalid polygons) covers faces that are then not gaps."""
    polys = ctx.geoms[idx]
    if len(polys) == 0:
        ticker.advance(1)
        return
    need_gaps = "gap" in active
    tree = shapely.STRtree(polys)  # one index for the suspects, the pairs and the gaps
    if PREFER_GEOS_COVERAGE and _geos.HAS_COVERAGE and not need_gaps:
        suspect = coverage_suspects(polys)
        free, owner, shared = np.empty((0, 2, 2)), np.zeros(0, np.int64), suspect
    else:
        balance = _edge_balance(polys)
        free, owner, shared = balance.free, balance.owner, balance.shared
        suspect = balance.suspect
        if active & OVERLAP_RULES:
            suspect = confirmed_suspects(polys, balance, tree)
    ticker.check()
    pairs_ticker = ticker.sub(1, 0.3, 0.85)
    if active & OVERLAP_RULES:
        i, j, area, pieces = overlapping_pairs(ctx, polys, suspect, pairs_ticker, tree)
        _overlap_findings(ctx, idx, polys, i, j, area, active, pieces)
    ticker.check()
    if need_gaps:
        _gap_findings(ctx, idx, polys, free, owner, shared, cover_extra, tree)
    ticker.sub(1, 0.85, 1.0).advance(1)


def _overlap_findings(
    ctx: RuleContext,
    idx: np.ndarray,
    polys: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    area: np.ndarray,
    active: set[str],
    pieces: np.ndarray | None = None,
) -> None:
    """Findings for the overlapping pairs (``polys[i]``, ``polys[j]``) whose intersections have
    the ``area``: identical ones are duplicates, then near duplicates by IoU, then (above the
    tolerance) ``contained`` when one lies inside the other and that rule is active (on the
    inner feature, other fid the outer one), else overlaps. Per feature and rule, the first
    ``max_pair_findings`` pairs (by the other fid) are findings of their own and the rest one
    summary finding."""
    if len(i) == 0:
        return
    opts = ctx.options
    poly_area = ctx.area(polys)
    union = poly_area[i] + poly_area[j] - area
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, area / union, 0.0)
    # Feature indices of each pair, the lower fid first.
    gi, gj = idx[i], idx[j]
    swap = ctx.fids[gj] < ctx.fids[gi]
    gi, gj = np.where(swap, gj, gi), np.where(swap, gi, gj)
    is_dup = np.zeros(len(i), dtype=bool)
    if "duplicate" in active:
        is_dup = exact_copies(polys, i, j, iou)
        dup = np.flatnonzero(is_dup)
        pair_duplicates(ctx, list(zip(gi[dup].tolist(), gj[dup].tolist())), np.ones(dup.size, bool))
    near = ~is_dup & (iou >= opts.near_duplicate_iou) if "near_duplicate" in active else None
    if near is None:
        near = np.zeros(len(i), dtype=bool)
    rest = ~is_dup & ~near & (area > opts.tolerance)
    inner, outer, cont = _contained(polys, i, j, area, poly_area, rest & ("contained" in active))
    over = rest & ~cont & ("overlap" in active)
    for rule, sel in (("near_duplicate", near), ("overlap", over)):
        k = np.flatnonzero(sel)
        inter = None if pieces is None else pieces[k]
        _capped_pair_findings(ctx, rule, polys, i[k], j[k], gi[k], gj[k], area[k], iou[k], inter)
    k = np.flatnonzero(cont)
    ii, oo = inner[k], outer[k]
    _capped_pair_findings(ctx, "contained", polys, ii, oo, idx[ii], idx[oo], area[k], iou[k])


def _contained(
    polys: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    area: np.ndarray,
    poly_area: np.ndarray,
    candidate: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inner, outer, contained) for the overlapping pairs (``i``, ``j``): the smaller and the
    larger polygon of each pair, and whether the ``candidate`` pairs lie one inside the other.
    Only pairs whose intersection is (nearly) the whole smaller polygon are tested exactly."""
    small_i = poly_area[i] <= poly_area[j]
    inner, outer = np.where(small_i, i, j), np.where(small_i, j, i)
    cont = candidate & (area >= (1.0 - 1e-9) * poly_area[inner])
    k = np.flatnonzero(cont)
    cont[k] = shapely.covers(polys[outer[k]], polys[inner[k]])
    return inner, outer, cont


def _capped_pair_findings(
    ctx: RuleContext,
    rule: str,
    polys: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    gi: np.ndarray,
    gj: np.ndarray,
    area: np.ndarray,
    iou: np.ndarray,
    pieces: np.ndarray | None = None,
) -> None:
    """``rule`` findings for pairs (``gi``, ``gj``): at most ``max_pair_findings`` per feature
    ``gi``, located at the intersection (``pieces``, the polygonal parts of the pairs'
    intersections, or computed again here for these only when None); the rest of a
    feature's pairs make one summary finding located at the box around them."""
    if len(i) == 0:
        return
    cap = ctx.options.max_pair_findings
    order = np.lexsort((ctx.fids[gj], ctx.fids[gi]))
    i, j, gi, gj, area, iou = i[order], j[order], gi[order], gj[order], area[order], iou[order]
    if pieces is not None:
        pieces = pieces[order]
    first = np.r_[True, gi[1:] != gi[:-1]]
    rank = np.arange(len(gi)) - np.maximum.accumulate(np.where(first, np.arange(len(gi)), 0))
    listed = rank < cap if cap > 0 else np.ones(len(gi), dtype=bool)
    if cap > 0:  # and a bound for all features together, lowest fids first
        listed &= np.cumsum(listed) <= MAX_LISTED_PAIRS
    k = np.flatnonzero(listed)
    if rule == "contained":  # the intersection is the inner polygon
        inter = polys[i[k]]
    elif pieces is not None:
        inter = pieces[k]
    else:
        parts = ctx.pmap(shapely.intersection, [polys[i[k]], polys[j[k]]], _PAIR_CHUNK)
        inter = np.concatenate(parts) if parts else np.empty(0, dtype=object)
        inter = polygonal_parts(inter)
    opts, unit = ctx.options, ctx.unit
    for n, kk in enumerate(k):
        a, b = int(gi[kk]), int(gj[kk])
        fa, fb = int(ctx.fids[a]), int(ctx.fids[b])
        if rule == "near_duplicate":
            message = near_duplicate_message(fa, fb, iou[kk], opts.near_duplicate_iou)
        elif rule == "contained":
            message = contained_message(area[kk], unit, fa, fb, opts.tolerance)
        else:
            message = overlap_message(area[kk], unit, fa, fb, opts.tolerance)
        ctx.add(rule, a, fb, message, inter[n])
    rest = np.flatnonzero(~listed)
    if rest.size:
        _summary_findings(ctx, rule, polys, i[rest], j[rest], gi[rest], gj[rest], area[rest])


def _summary_findings(
    ctx: RuleContext,
    rule: str,
    polys: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    gi: np.ndarray,
    gj: np.ndarray,
    area: np.ndarray,
) -> None:
    """One finding per feature ``gi`` for its pairs beyond the cap (sorted by ``gi``)."""
    bi, bj = shapely.bounds(polys[i]), shapely.bounds(polys[j])  # of these pairs only
    box = np.concatenate([np.maximum(bi[:, :2], bj[:, :2]), np.minimum(bi[:, 2:], bj[:, 2:])], 1)
    cuts = np.flatnonzero(gi[1:] != gi[:-1]) + 1
    starts = np.r_[0, cuts]
    lo = np.minimum.reduceat(box[:, :2], starts, axis=0)
    hi = np.maximum.reduceat(box[:, 2:], starts, axis=0)
    total = np.add.reduceat(area, starts)
    where = shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])
    cap, unit = ctx.options.max_pair_findings, ctx.unit
    for n, (s, e) in enumerate(zip(starts, np.r_[cuts, len(gi)])):
        others = ctx.fids[gj[s:e]].tolist()
        message = more_pairs_message(rule, int(ctx.fids[gi[s]]), others, total[n], unit, cap)
        ctx.add(rule, int(gi[s]), None, message, where[n])


def _isolated(polys: np.ndarray, shared: np.ndarray, tree: shapely.STRtree) -> np.ndarray:
    """True for the single-part polygons without holes that touch no other polygon.

    Such a polygon cannot bound a gap by its own segments: it lies in one face of everyone
    else's boundaries (see ``_gap_faces``). On scattered objects (buildings, trees, cars) that
    is nearly every polygon, and leaving their boundaries out of the noding is what keeps the
    gap rule near-linear there. Only polygons that share no balanced segment are asked.
    """
    simple = (shapely.get_type_id(polys) == TYPE_POLYGON) & (
        shapely.get_num_interior_rings(polys) == 0
    )
    cand = np.flatnonzero(simple & ~shared)
    isolated = np.zeros(len(polys), dtype=bool)
    if cand.size == 0:
        return isolated
    a, b = tree.query(polys[cand], predicate="intersects")
    touches = np.zeros(cand.size, dtype=bool)
    touches[a[cand[a] != b]] = True
    isolated[cand[~touches]] = True
    return isolated


def _gap_faces(
    polys: np.ndarray, free: np.ndarray, owner: np.ndarray, isolated: np.ndarray
) -> np.ndarray:
    """The faces of the unbalanced segments, as if every polygon's were noded.

    The segments of ``isolated`` polygons are left out: such a polygon cuts no other boundary
    and no face but its own interior, so it only makes a hole in the one face it lies in; the
    faces it lies in get that hole afterwards, which gives the faces of all segments.
    """
    keep = ~isolated[owner]
    if not keep.any():
        return np.empty(0, dtype=object)
    lines = shapely.linestrings(free[keep])
    noded = shapely.unary_union(shapely.multilinestrings(lines))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    islands = polys[isolated]
    if len(faces) == 0 or len(islands) == 0:
        return faces
    f, k = shapely.STRtree(islands).query(faces, predicate="contains")
    if f.size:
        order = np.argsort(f, kind="stable")
        f, k = f[order], k[order]
        holed, first = np.unique(f, return_index=True)
        # Isolated polygons are disjoint, so the islands of one face form a valid multipolygon.
        cut = shapely.multipolygons(islands[k], indices=np.searchsorted(holed, f))
        faces[holed] = shapely.difference(faces[holed], cut)
    return faces


def _gap_findings(
    ctx: RuleContext,
    idx: np.ndarray,
    polys: np.ndarray,
    free: np.ndarray,
    owner: np.ndarray,
    shared: np.ndarray,
    cover_extra: np.ndarray | None,
    tree: shapely.STRtree,
) -> None:
    """Gaps: faces of the unbalanced segments (``free``, taken from polygons ``owner``) covered
    by no polygon (nor by ``cover_extra``) and bounded by at least two features; ``shared``
    marks the polygons with a balanced segment."""
    if len(free) == 0:
        return
    faces = _gap_faces(polys, free, owner, _isolated(polys, shared, tree))
    if len(faces) == 0:
        return
    area = ctx.area(faces)
    max_gap_area = ctx.options.max_gap_area
    if max_gap_area > 0:
        faces, area = faces[area <= max_gap_area], area[area <= max_gap_area]
    if len(faces) == 0:
        return
    probe = shapely.point_on_surface(faces)
    covered = np.zeros(len(faces), dtype=bool)
    covered[tree.query(probe, predicate="intersects")[0]] = True
    if cover_extra is not None and len(cover_extra):
        covered[shapely.STRtree(cover_extra).query(probe, predicate="intersects")[0]] = True
    keep = np.flatnonzero(~covered)
    if keep.size == 0:
        return
    f, p = tree.query(faces[keep], predicate="intersects")
    # Neighbours share a stretch of the gap's boundary; corner touches only count when
    # nothing shares a stretch.
    shares = shapely.relate_pattern(faces[keep][f], polys[p], "****1****")
    has_share = np.zeros(len(keep), dtype=bool)
    has_share[f[shares]] = True
    sel = shares | ~has_share[f]
    f, p = f[sel], p[sel]
    unit = ctx.unit
    for k_local, k in enumerate(keep):
        around = idx[p[f == k_local]]
        fids = sorted({int(ctx.fids[x]) for x in around})
        if len(fids) < 2:  # a polygon's own hole is not a gap between neighbours
            continue
        first = int(around[np.argmin(ctx.fids[around])])
        ctx.add("gap", first, fids[1], gap_message(area[k], unit, fids), faces[k])
