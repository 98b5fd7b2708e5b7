"""Inputs of a topology check read from files: the layer, an overlay layer, and accepted
exceptions from an earlier error layer, report or list."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..core.crs import same_crs, transformer
from ..core.errors import InputError
from ..core.geos import shapely
from ..core.progress import StopFn
from ..core.topology import ExceptionEntry, as_exception_entries, load_exceptions
from ..core.topology.exceptions import FIELDS as EXCEPTION_FIELDS
from ..core.wkb import WkbArray, concat_wkb
from ..core.wkb import bounds as wkb_bounds
from .facts import vector_facts
from .vector import read_ogr


def read_exceptions(path: str) -> List[ExceptionEntry]:
    """Accepted exceptions from a CSV/JSON list or report, or from any vector file OGR reads
    (an earlier error layer). Raises InputError naming the file when it cannot be read."""
    try:
        if Path(path).suffix.lower() in (".json", ".geojson", ".csv"):
            return load_exceptions(path)
        rows: List[Dict[str, Any]] = []
        for batch in read_ogr(path, fields=EXCEPTION_FIELDS):
            names = [n for n in EXCEPTION_FIELDS if n in batch.columns]
            for k in range(len(batch)):
                rows.append({n: batch.columns[n][k] for n in names})
        return as_exception_entries(rows)
    except (InputError, ValueError, TypeError) as exc:
        raise InputError(f"Cannot read accepted exceptions from {path}: {exc}") from exc


@dataclass(frozen=True)
class LayerInput:
    """A vector layer read for a topology check: ``batches`` of (fids, WkbArray) in file order,
    its name and CRS as a report names them, and the feature count."""

    batches: List[Tuple[np.ndarray, WkbArray]]
    name: str
    crs: str
    crs_wkt: Optional[str]
    count: int


def layer_facts(path: str, layer: Optional[str] = None) -> LayerInput:
    """A LayerInput without its features (no batches): name, CRS and feature count only.
    Raises FileVanished / InputError when OGR cannot open it."""
    found = vector_facts(path, layer)
    crs = ""
    if found.crs is not None:
        crs = found.crs.authid or found.crs.wkt2
    return LayerInput([], found.layer, crs, found.crs_wkt, found.feature_count)


def read_layer(path: str, layer: Optional[str] = None, should_stop: StopFn = None) -> LayerInput:
    """Every feature of layer ``layer`` (None: the first) of ``path`` as packed WKB batches.
    Raises FileVanished / InputError when OGR cannot open it."""
    facts = layer_facts(path, layer)
    batches = [
        (b.fids, b.wkb)
        for b in read_ogr(path, facts.name, packed_wkb=True, should_stop=should_stop)
    ]
    return replace(facts, batches=batches)


@dataclass(frozen=True)
class LayerBounds:
    """What a partition plan needs of a layer: ``fids`` and ``bounds`` ((n, 4), NaN for no
    geometry) of every feature, and the features without a bounding box (null, empty or
    unreadable geometry) as ``stray_fids`` with their ``stray_wkb``."""

    fids: np.ndarray
    bounds: np.ndarray
    stray_fids: np.ndarray
    stray_wkb: WkbArray


def read_bounds(
    path: str,
    layer: Optional[str] = None,
    where: Optional[str] = None,
    bbox: Optional[Tuple[float, float, float, float]] = None,
    should_stop: StopFn = None,
) -> LayerBounds:
    """Feature bounding boxes of a layer (with OGR filters ``where`` and ``bbox``), read batch
    by batch so that only the boxes are kept: 40 bytes per feature."""
    fids: List[np.ndarray] = []
    boxes: List[np.ndarray] = []
    s_fids: List[np.ndarray] = []
    s_wkb: List[WkbArray] = []
    for b in read_ogr(
        path, layer, where=where, bbox=bbox, packed_wkb=True, should_stop=should_stop
    ):
        box = wkb_bounds(b.wkb)
        stray = np.flatnonzero(np.isnan(box[:, 0]))
        fids.append(b.fids)
        boxes.append(box)
        if stray.size:
            s_fids.append(b.fids[stray])
            s_wkb.append(b.wkb.take(stray))
    return LayerBounds(
        np.concatenate(fids) if fids else np.empty(0, np.int64),
        np.concatenate(boxes) if boxes else np.empty((0, 4)),
        np.concatenate(s_fids) if s_fids else np.empty(0, np.int64),
        concat_wkb(s_wkb),
    )


def read_overlay(
    path: str, layer: Optional[str], target_wkt: Optional[str], should_stop: StopFn = None
) -> Tuple[np.ndarray, np.ndarray]:
    """(WKB object array, fids) of an overlay layer, reprojected to ``target_wkt`` when its
    CRS is another one (x = east on both sides)."""
    found = vector_facts(path, layer)
    fids, wkbs = [], []
    for b in read_ogr(path, found.layer, should_stop=should_stop):
        fids.append(b.fids)
        wkbs.append(b.wkb)
    fid_arr = np.concatenate(fids) if fids else np.empty(0, np.int64)
    wkb_arr = np.concatenate(wkbs) if wkbs else np.empty(0, dtype=object)
    if target_wkt and found.crs_wkt and not same_crs(found.crs_wkt, target_wkt):
        t = transformer(found.crs_wkt, target_wkt)
        geoms = shapely.from_wkb(wkb_arr)
        moved = shapely.transform(geoms, lambda xy: np.column_stack(t.transform(*xy.T)))
        wkb_arr = shapely.to_wkb(moved, flavor="iso")
    return wkb_arr, fid_arr
