"""validatetopology on a Dask cluster: the layer cut into spatial partitions with a halo
(core.topology.partition), each checked on a worker by the same core code, the findings kept
by their owners merged into the result a single run gives."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from ..core.geos import shapely
from ..core.progress import ProgressFn, StopFn
from ..core.topology import check_topology_batches
from ..core.topology.findings import Finding
from ..core.topology.partition import (
    Bounds,
    Partition,
    feature_bounds,
    frame,
    grown,
    halo_width,
    keep_owned,
    layer_box,
    merge_results,
    owners,
    plan_partitions,
)
from ..core.wkb import WkbArray
from .client import gather, n_workers

PARTITIONS_PER_WORKER = 4


def concat_wkb(parts: Sequence[WkbArray]) -> WkbArray:
    """One WkbArray holding the blobs of ``parts`` in order."""
    if not parts:
        return WkbArray(np.empty(0, np.uint8), np.zeros(1, np.int64))
    data = [p.data[p.offsets[0] : p.offsets[-1]] for p in parts]
    lengths = np.concatenate([p.lengths for p in parts])
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return WkbArray(np.concatenate(data), offsets)


def check_partition(
    fids: np.ndarray,
    wkb: WkbArray,
    owned: np.ndarray,
    safe: Bounds,
    world: Bounds,
    rules: Sequence[str],
    options: Dict[str, Any],
) -> Tuple[List[Finding], List[Finding], List[str]]:
    """On a worker: the topology check of one partition's members and its frame; (findings it
    keeps, gaps it owns but cannot settle, the active rules)."""
    batches: List[Tuple[np.ndarray, Any]] = [(fids, wkb)]
    if "gap" in rules:  # the frame's own findings carry its fid, which nobody owns
        sentinel = np.array([int(fids.max()) + 1 if len(fids) else 1], dtype=np.int64)
        ring = shapely.to_wkb(np.array([frame(safe, world)], dtype=object), flavor="iso")
        batches.append((sentinel, ring))
    total = len(fids) + len(batches) - 1
    result = check_topology_batches(batches, rules, total=total, threads=1, **options)
    kept, unresolved = keep_owned(result, fids, owned, safe, world)
    return kept, unresolved, list(result.counts)


def check_topology_partitioned(
    client,
    batches: Sequence[Tuple[np.ndarray, Any]],
    rules: Sequence[str],
    *,
    partitions: int | None = None,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
    **options: Any,
):
    """``check_topology_batches`` over ``batches`` of (fids, WkbArray), spread over the
    workers of ``client``; the same TopologyResult. ``partitions``: how many (default: 4 per
    worker). Raises Cancelled when ``should_stop`` turns true (the tasks are cancelled)."""
    fids = np.concatenate([np.asarray(b[0], np.int64) for b in batches] or [np.empty(0, np.int64)])
    wkb = concat_wkb([b[1] for b in batches])
    bounds = feature_bounds(shapely.from_wkb(wkb.to_objects(), on_invalid="ignore"))
    # A line end within the snapping tolerance of a line touches it: widen the halo by it.
    halo = halo_width(bounds) + float(options.get("snap_tolerance") or 0.0)
    n = partitions or PARTITIONS_PER_WORKER * n_workers(client)
    parts = plan_partitions(bounds, n, halo=halo)
    owner_of = owners(parts, len(fids))
    world = layer_box(bounds)
    kept: List[Finding] = []
    active: List[str] = []
    todo: List[Partition] = parts
    while todo:
        futures = [
            client.submit(
                check_partition,
                fids[p.members],
                wkb.take(p.members),
                p.owned,
                p.safe,
                world,
                list(rules),
                options,
                pure=False,
            )
            for p in todo
        ]
        weights = [float(len(p.members)) for p in todo]
        out = gather(client, futures, progress, should_stop, weights)
        again: List[Partition] = []
        for part, (k, unresolved, act) in zip(todo, out):
            active = act
            if unresolved:  # a gap reaching past the halo: check this cell with a wider one
                again.append(grown(part, bounds, owner_of))
            else:
                kept.extend(k)
        todo = again
    return merge_results(kept, active, len(fids))
