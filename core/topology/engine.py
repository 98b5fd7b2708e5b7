"""check_topology and check_topology_batches: parse the features, run the rules, sort findings.

Everything works on numpy arrays of geometries (or WKB) in bulk: GEOS does the per-geometry
work in C, in several threads (shapely releases the GIL), and Python only loops over findings.
How the expensive rules stay fast is explained in ``pairs.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..bulk import paused_gc
from ..errors import InputError
from ..geos import shapely
from ..progress import ProgressFn, StopFn, Ticker
from ..wkb import WkbArray
from .area import area_findings
from .context import RuleContext, TopologyOptions
from .duplicates import hash_duplicates
from .findings import TopologyResult, build_result
from .geometry import LINEAL_TYPES, POLYGONAL_TYPES
from .lines import dangle_findings, self_crossing_findings
from .overlay import overlay_findings
from .pairs import pair_rules
from .parse import Batch, Parsed, parse_batches
from .parts import hole_findings, multipart_findings
from .rules import (
    MAX_PAIR_FINDINGS,
    NEAR_DUPLICATE_IOU,
    OVERLAP_RULES,
    OVERLAY_RULES,
    PAIR_RULES,
    PER_FEATURE_RULES,
    RULES,
    SLIVER_COMPACTNESS,
    SNAP_TOLERANCE,
    SPIKE_ANGLE,
    VERTEX_RULES,
    overlay_without_rule_message,
)
from .validity import empty_findings, invalid_findings
from .vertices import vertex_findings

# Pool size when ``threads`` is not given: the CPU count, capped at this.
_MAX_THREADS = 4


def check_topology(
    fids: np.ndarray,
    geoms: np.ndarray | WkbArray,
    rules: Sequence[str],
    **options: Any,
) -> TopologyResult:
    """Check ``rules`` (names from ``RULES``) on features ``fids`` with geometries ``geoms``.

    ``geoms`` holds shapely geometries, WKB bytes or WKT strings (None for a null geometry),
    or is a ``WkbArray``. Options as ``check_topology_batches``.
    """
    fids = np.asarray(fids, dtype=np.int64)
    if len(fids) != len(geoms):
        raise ValueError("fids and geoms differ in length")
    return check_topology_batches([(fids, geoms)], rules, total=len(fids), **options)


def check_topology_batches(
    batches: Iterable[Batch],
    rules: Sequence[str],
    *,
    total: int | None = None,
    tolerance: float = 0.0,
    min_area: float = 0.0,
    max_gap_area: float = 0.0,
    overlay: np.ndarray | None = None,
    exceptions: Iterable[Any] | None = None,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
    overlay_fids: np.ndarray | None = None,
    near_duplicate_iou: float = NEAR_DUPLICATE_IOU,
    sliver_compactness: float = SLIVER_COMPACTNESS,
    ellipsoid: tuple[float, float] | None = None,
    threads: int | None = None,
    snap_tolerance: float = SNAP_TOLERANCE,
    max_pair_findings: int = MAX_PAIR_FINDINGS,
    area_unit: str = "",
    spike_angle: float = SPIKE_ANGLE,
) -> TopologyResult:
    """Check ``rules`` on features arriving in ``batches`` of (fids, geometries), e.g. straight
    from a reader, so reading overlaps with checking; ``total`` (the expected feature count)
    only scales the progress. Geometries as in ``check_topology``.

    Areas (``tolerance``: the overlap area that is still accepted, ``min_area``, and
    ``max_gap_area``: 0 means gaps of any size) are in CRS units squared, or in square metres
    when ``ellipsoid`` = (semi-major axis in metres, inverse flattening) says the coordinates
    are longitude/latitude degrees (see ``TopologyOptions``). ``overlay`` (with
    ``overlay_fids``) is the second layer for the ``must_*`` rules; they are skipped without
    it, and an overlay without one of them chosen raises InputError (every feature would be
    compared with a layer no rule reads). Rules that do not apply to a geometry type
    (``dangle`` on polygons, ``gap`` on lines) find nothing. A line end within
    ``snap_tolerance`` (CRS units) of a line touches it. At most ``max_pair_findings`` overlap
    and near-duplicate findings per feature (0: all), then one summary finding, so that
    heavily overlapping layers stay in bounded memory. ``area_unit`` ("m²", "ft²": the CRS
    unit squared) is how messages name areas of a projected CRS; empty: "square units".
    ``spike_angle`` (degrees) is the angle at a vertex below which it is a spike; consecutive
    vertices within ``snap_tolerance`` are duplicate vertices.

    Geometries found invalid are excluded from the pairwise and area rules, whose GEOS
    operations are undefined on them. Raises ValueError for an unknown rule and Cancelled
    when ``should_stop`` returns true.
    """
    active = _active_rules(rules, with_overlay=overlay is not None)
    options = TopologyOptions(
        tolerance=tolerance,
        min_area=min_area,
        max_gap_area=max_gap_area,
        near_duplicate_iou=near_duplicate_iou,
        sliver_compactness=sliver_compactness,
        ellipsoid=ellipsoid,
        snap_tolerance=snap_tolerance,
        max_pair_findings=max_pair_findings,
        area_unit=area_unit,
        spike_angle=spike_angle,
    )
    ticker = Ticker(1.0, progress, should_stop)
    workers = threads or min(_MAX_THREADS, os.cpu_count() or 1)
    with paused_gc(), ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        parsed = parse_batches(
            batches,
            ticker.sub(total or 1, 0.0, 0.35),
            pool,
            keep_valid=not set(active) <= PER_FEATURE_RULES,
        )
        ctx = RuleContext(parsed.fids, parsed.geoms, pool, ticker, options)
        _run_rules(ctx, set(active), parsed, overlay, overlay_fids)
    result = build_result(ctx.findings, active, exceptions, len(parsed.fids), options.geographic)
    if progress is not None:
        progress(1.0)
    return result


def _active_rules(rules: Sequence[str], with_overlay: bool) -> list[str]:
    """``rules`` in ``RULES`` order, without the overlay rules when there is no overlay."""
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ValueError(f"unknown rule(s): {', '.join(map(str, unknown))}")
    if with_overlay and not set(rules) & OVERLAY_RULES:
        raise InputError(overlay_without_rule_message())
    selected = [r for r in RULES if r in set(rules)]
    return selected if with_overlay else [r for r in selected if r not in OVERLAY_RULES]


def _run_rules(
    ctx: RuleContext,
    active: set[str],
    parsed: Parsed,
    overlay: np.ndarray | None,
    overlay_fids: np.ndarray | None,
) -> None:
    g = ctx.geoms
    tk = ctx.ticker
    readable = np.ones(len(g), dtype=bool)
    readable[list(parsed.unreadable)] = False
    present = readable & ~parsed.null & ~parsed.empty
    if "empty" in active:
        empty_findings(ctx, parsed.null, parsed.empty)
    # Validity: the boolean test came with parsing; reasons only for the failures.
    valid = parsed.valid & present
    invalid_idx = np.flatnonzero(present & ~valid)
    if "invalid" in active:
        invalid_findings(ctx, parsed.unreadable, invalid_idx)
    tk.check()

    types = shapely.get_type_id(g)
    polygonal = valid & np.isin(types, POLYGONAL_TYPES)
    _polygon_rules(ctx, active, present, polygonal, invalid_idx, types)
    if "multipart" in active:
        multipart_findings(ctx, np.flatnonzero(present), types)
    if "hole" in active:
        hole_findings(ctx, np.flatnonzero(present & np.isin(types, POLYGONAL_TYPES)))
    lines = np.flatnonzero(valid & np.isin(types, LINEAL_TYPES))
    if "dangle" in active:
        dangle_findings(ctx, lines)
    if "self_crossing" in active:
        self_crossing_findings(ctx, lines)
    if active & VERTEX_RULES:
        vertex_findings(ctx, np.flatnonzero(present), active)
    tk.check()
    if overlay is not None and active & OVERLAY_RULES:
        overlay_findings(ctx, np.flatnonzero(valid), active, overlay, overlay_fids)
    tk.sub(1, 0.9, 0.97).advance(1)


def _polygon_rules(
    ctx: RuleContext,
    active: set[str],
    present: np.ndarray,
    polygonal: np.ndarray,
    invalid_idx: np.ndarray,
    types: np.ndarray,
) -> None:
    """duplicate, the pair rules and the area rules (``polygonal``: the valid polygons)."""
    tk = ctx.ticker
    # Identical valid polygons overlap completely, so when overlapping pairs are computed
    # anyway they yield the duplicates too; hashing normalized WKB of every feature (the
    # general method) would cost more than all the pair rules together.
    pair_dups = "duplicate" in active and bool(active & OVERLAP_RULES)
    if "duplicate" in active:
        hash_duplicates(
            ctx, np.flatnonzero(present & ~(polygonal & pair_dups)), tk.sub(1, 0.35, 0.45)
        )
    if active & PAIR_RULES:
        invalid_polys = invalid_idx[np.isin(types[invalid_idx], POLYGONAL_TYPES)]
        pair_rules(
            ctx,
            np.flatnonzero(polygonal),
            active,
            tk.sub(1, 0.45, 0.9),
            cover_extra=shapely.make_valid(ctx.geoms[invalid_polys]),
        )
    if "sliver" in active or ("min_area" in active and ctx.options.min_area > 0):
        area_findings(ctx, np.flatnonzero(polygonal), active)
