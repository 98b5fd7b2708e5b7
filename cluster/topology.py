"""validatetopology on a Dask cluster: the layer cut into spatial partitions with a halo
(core.topology.partition), each checked on a worker by the same core code, the findings kept
by their owners merged into the result a single run gives.

Two ways in: ``check_topology_file`` for a layer in a file the workers can open (the driver
reads only bounding boxes to plan; each worker reads its own partition with an OGR spatial
filter on its safe box), and ``check_topology_partitioned`` for features already in memory
(e.g. a QGIS selection), whose WKB goes from the driver to the workers.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..core.errors import FileVanished
from ..core.geos import shapely
from ..core.progress import ProgressFn, StopFn
from ..core.topology import check_topology_batches
from ..core.topology.findings import Finding, TopologyResult
from ..core.topology.partition import (
    Bounds,
    Grid,
    Partition,
    feature_bounds,
    frame,
    grown,
    halo_width,
    keep_owned,
    layer_box,
    merge_results,
    owners,
    plan_grid,
    plan_partitions,
)
from ..core.wkb import WkbArray, concat_wkb
from ..core.wkb import bounds as wkb_bounds
from ..gdalio.topology_inputs import read_bounds
from ..gdalio.vector import read_ogr
from .client import gather, n_workers

PARTITIONS_PER_WORKER = 4

PartitionResult = Tuple[List[Finding], List[Finding], List[str]]

__all__ = ["check_topology_file", "check_topology_partitioned", "concat_wkb"]


def check_partition(
    fids: np.ndarray,
    wkb: WkbArray,
    owned: np.ndarray,
    safe: Bounds,
    world: Bounds,
    rules: Sequence[str],
    options: Dict[str, Any],
) -> PartitionResult:
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


def check_partition_file(
    path: str,
    layer: Optional[str],
    where: Optional[str],
    index: int,
    safe: Bounds,
    world: Bounds,
    grid: Grid,
    strays: Optional[Tuple[np.ndarray, WkbArray]],
    rules: Sequence[str],
    options: Dict[str, Any],
) -> PartitionResult:
    """On a worker: read the features of partition ``index`` (those meeting its ``safe`` box)
    from the file itself, find the ones it owns on ``grid`` as the driver's plan does, and
    check them. ``strays``: the features without a bounding box (partition 0 owns them; a
    spatial filter never returns them)."""
    fid_parts: List[np.ndarray] = []
    wkb_parts: List[WkbArray] = []
    try:
        for batch in read_ogr(path, layer, where=where, bbox=safe, packed_wkb=True):
            fid_parts.append(batch.fids)
            wkb_parts.append(batch.wkb)
    except FileVanished as exc:
        raise FileVanished(
            f"A Dask worker cannot open {path} ({exc}): the workers read the layer themselves, "
            "so it must be at the same path on every worker (shared storage)."
        ) from exc
    fids = np.concatenate(fid_parts) if fid_parts else np.empty(0, np.int64)
    wkb = concat_wkb(wkb_parts)
    bounds = wkb_bounds(wkb)  # as the driver's read_bounds
    boxed = np.flatnonzero(~np.isnan(bounds[:, 0]))  # strays come from the driver, once
    fids, wkb = fids[boxed], wkb.take(boxed)
    owner = grid.owner(bounds[boxed])
    if strays is not None and len(strays[0]):
        fids = np.concatenate([fids, strays[0]])
        wkb = concat_wkb([wkb, strays[1]])
        owner = np.concatenate([owner, np.zeros(len(strays[0]), np.int64)])
    order = np.argsort(fids, kind="stable")  # file order, as the whole-layer run sees it
    return check_partition(
        fids[order], wkb.take(order), owner[order] == index, safe, world, rules, options
    )


def _run_partitions(
    client,
    parts: List[Partition],
    bounds: np.ndarray,
    submit: Callable[[Partition], Any],
    progress: ProgressFn,
    should_stop: StopFn,
) -> Tuple[List[Finding], List[str]]:
    """Submit every partition, gather, and check again with a wider halo every cell that has
    an unsettled gap; (kept findings, active rules)."""
    owner_of = owners(parts, len(bounds))
    kept: List[Finding] = []
    active: List[str] = []
    todo = parts
    while todo:
        futures = [submit(p) for p in todo]
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
    return kept, active


def check_topology_file(
    client,
    path: str,
    layer: Optional[str],
    rules: Sequence[str],
    *,
    where: Optional[str] = None,
    partitions: Optional[int] = None,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
    **options: Any,
) -> TopologyResult:
    """``check_topology_batches`` over the features of ``layer`` in the file ``path`` (with
    the OGR attribute filter ``where``), spread over the workers of ``client``, which must be
    able to open ``path``; the same TopologyResult. The driver reads bounding boxes only;
    each task carries the path, its boxes and the plan's cell edges, not geometries.
    ``partitions``: how many (default: 4 per worker). Raises Cancelled when ``should_stop``
    turns true (the tasks are cancelled)."""
    found = read_bounds(path, layer, where=where, should_stop=should_stop)
    bounds = found.bounds
    # A line end within the snapping tolerance of a line touches it: widen the halo by it.
    halo = halo_width(bounds) + float(options.get("snap_tolerance") or 0.0)
    n = partitions or PARTITIONS_PER_WORKER * n_workers(client)
    grid = plan_grid(bounds, n)
    parts = plan_partitions(bounds, n, halo=halo, grid=grid)
    world = layer_box(bounds)
    strays = (found.stray_fids, found.stray_wkb)

    def submit(p: Partition):
        return client.submit(
            check_partition_file,
            path,
            layer,
            where,
            p.index,
            p.safe,
            world,
            grid,
            strays if p.index == 0 else None,
            list(rules),
            options,
            pure=False,
        )

    kept, active = _run_partitions(client, parts, bounds, submit, progress, should_stop)
    return merge_results(kept, active, len(found.fids))


def check_topology_partitioned(
    client,
    batches: Sequence[Tuple[np.ndarray, Any]],
    rules: Sequence[str],
    *,
    partitions: Optional[int] = None,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
    **options: Any,
) -> TopologyResult:
    """``check_topology_batches`` over ``batches`` of (fids, WkbArray or WKB objects) held by
    the driver,
    spread over the workers of ``client`` (each task carries its partition's WKB); the same
    TopologyResult. ``partitions``: how many (default: 4 per worker). Raises Cancelled when
    ``should_stop`` turns true (the tasks are cancelled)."""
    fids = np.concatenate([np.asarray(b[0], np.int64) for b in batches] or [np.empty(0, np.int64)])
    wkb = concat_wkb(
        [b[1] if isinstance(b[1], WkbArray) else WkbArray.from_objects(b[1]) for b in batches]
    )
    bounds = feature_bounds(shapely.from_wkb(wkb.to_objects(), on_invalid="ignore"))
    halo = halo_width(bounds) + float(options.get("snap_tolerance") or 0.0)
    n = partitions or PARTITIONS_PER_WORKER * n_workers(client)
    parts = plan_partitions(bounds, n, halo=halo)
    world = layer_box(bounds)

    def submit(p: Partition):
        return client.submit(
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

    kept, active = _run_partitions(client, parts, bounds, submit, progress, should_stop)
    return merge_results(kept, active, len(fids))
