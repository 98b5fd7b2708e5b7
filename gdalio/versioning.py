"""Manifest build, verify and diff over files, shared by the Processing algorithms and the
command line: hash, measure and compare with core's rules, reading data through GDAL/OGR."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..core.content import FeatureIndex, normalized_wkb
from ..core.diff import DEFAULT_IOU, diff_features, index_columns_both
from ..core.errors import InputError, OutputExists
from ..core.hashing import FileHash, companion_files, hash_files
from ..core.manifest import (
    build_manifest,
    entry_file,
    manifest_root,
    paired_entries,
    read_manifest,
    verify_manifest,
    write_manifest,
)
from ..core.paths import shorten
from ..core.progress import Ticker
from ..core.timeutil import utc_now_iso
from .observe import observe, refresh_sidecar, sidecar_for, stale_sidecar
from .vector import read_ogr

Source = Tuple[Path, Optional[str]]  # (data file, layer name inside it or None)
# Hashes files in input order with (paths, progress, should_stop); the default is
# core.hashing.hash_files (threads), the cluster backend hashes on its workers.
HashFiles = Callable[..., List[FileHash]]


def collect_observations(
    sources: Sequence[Source],
    keep_index: bool,
    progress=None,
    should_stop=None,
    hasher: Optional[HashFiles] = None,
    content=None,
):
    """Hash every file and its companions in parallel (first half of the progress), then
    measure content, CRS and sidecar per source (second half). ``hasher`` and ``content``
    replace the file hashing and the vector content hashing (see ``observe``)."""
    plans = []
    all_files: List[Path] = []
    for path, layer in sources:
        comps = companion_files(path)
        plans.append((path, layer, len(all_files), 1 + len(comps)))
        all_files.extend([path] + [c.path for c in comps])
    half = None if progress is None else (lambda f: progress(0.5 * f))
    hashed = (hasher or hash_files)(all_files, progress=half, should_stop=should_stop)
    stage = Ticker(len(plans), progress, should_stop, start=0.5, end=1.0)
    out = []
    for path, layer, start, n in plans:
        out.append(
            observe(
                path,
                layer,
                file_hash=hashed[start],
                component_hashes=hashed[start + 1 : start + n],
                keep_index=keep_index,
                sidecar=sidecar_for(path, layer),
                should_stop=should_stop,
                content=content,
            )
        )
        stage.advance()
    return out


def make_manifest(
    sources,
    *,
    root: Path,
    manifest_path: Path,
    version: str,
    parent: Optional[Path],
    keep_index: bool,
    creator: Dict[str, str],
    refresh_sidecars: bool = True,
    progress=None,
    should_stop=None,
    hasher: Optional[HashFiles] = None,
    content=None,
):
    """Measure, refresh stale sidecars (or refuse), build and write a manifest; returns
    (document, manifest SHA-256, the sidecars exported again)."""
    if os.path.lexists(manifest_path):  # before hours of hashing, not after
        raise OutputExists(
            f"Manifest '{manifest_path}' exists; a version is never overwritten. Choose a new "
            "file name (e.g. the next version label), or delete the old manifest yourself."
        )
    observations = collect_observations(sources, keep_index, progress, should_stop, hasher, content)
    stale = [obs for obs in observations if stale_sidecar(obs)]
    if stale and not refresh_sidecars:
        names = ", ".join(shorten(str(obs.sidecar.path.name)) for obs in stale[:5])
        more = f" and {len(stale) - 5} more" if len(stale) > 5 else ""
        raise InputError(
            f"{len(stale)} sidecar(s) describe other content than their data file: {names}"
            f"{more}. Turn on 'Refresh stale sidecars', or run Export metadata sidecars on "
            "them, then build again; nothing was written."
        )
    refreshed = []
    for n, obs in enumerate(observations):
        if stale_sidecar(obs):
            observations[n] = refresh_sidecar(obs, should_stop, content)
            refreshed.append(obs.sidecar.path)
    doc, extra = build_manifest(
        observations,
        root=root,
        manifest_path=manifest_path,
        version=version,
        creator=creator,
        created_at=utc_now_iso(),
        parent_path=parent,
    )
    return doc, write_manifest(manifest_path, doc, extra), refreshed


def measure_entry(abs_path: Path, entry: Dict[str, Any], root: Path, should_stop=None):
    """The observation of a manifest entry's file now, with its sidecar where recorded."""
    side = root / entry["sidecar"]["path"] if entry.get("sidecar") else None
    return observe(
        abs_path, entry.get("layer"), kind=entry["kind"], sidecar=side, should_stop=should_stop
    )


def run_verify(manifest: Path, scan_untracked: bool, progress=None, should_stop=None):
    """(status per entry, chain status) of a manifest against the files as they are now."""
    root = manifest_root(manifest, read_manifest(manifest))
    return verify_manifest(
        manifest,
        lambda p, e: measure_entry(p, e, root, should_stop),
        scan_untracked=scan_untracked,
        progress=progress,
        should_stop=should_stop,
    )


def _geometries(
    path: Optional[Path], layer: Optional[str], wanted: Dict[int, str], should_stop
) -> Dict[int, bytes]:
    """WKB of the wanted fids whose normalized geometry hash still matches the index."""
    out: Dict[int, bytes] = {}
    if not wanted or path is None:
        return out
    try:
        batches = list(read_ogr(str(path), layer, should_stop=should_stop))
    except InputError:
        return out
    for batch in batches:
        mask = np.isin(batch.fids, np.fromiter(wanted, dtype=np.int64))
        if not mask.any():
            continue
        fids, wkbs = batch.fids[mask], batch.wkb[mask]
        for fid, raw, norm in zip(fids.tolist(), wkbs.tolist(), normalized_wkb(wkbs).tolist()):
            if norm is not None and hashlib.sha256(norm).hexdigest() == wanted[fid]:
                out[fid] = raw
    return out


def _legacy_geometries(
    root: Path, entry: Optional[Dict[str, Any]], key, index: FeatureIndex, should_stop
):
    """fid -> WKB from the entry's data file, for an index that keeps no geometry (built
    before indexes kept them), where the file still holds the recorded geometry."""
    if entry is None or not len(index) or index.has_geometry():
        return {}
    wanted = dict(zip(index.fids.tolist(), index.geometry_hex(np.arange(len(index)))))
    return _geometries(entry_file(root, entry), key[1], wanted, should_stop)


def _positions(index: FeatureIndex, fids: List[Optional[int]]) -> np.ndarray:
    """Row of each fid in the index (the last of equal fids), -1 for None or a missing fid."""
    n = len(fids)
    out = np.full(n, -1, np.int64)
    known = np.fromiter((f is not None for f in fids), bool, n)
    if not len(index) or not known.any():
        return out
    query = np.fromiter((0 if f is None else f for f in fids), np.int64, n)
    order = np.argsort(index.fids, kind="stable")
    ordered = index.fids[order]
    k = np.clip(np.searchsorted(ordered, query, side="right") - 1, 0, None)
    hit = known & (ordered[k] == query)
    out[hit] = order[k[hit]]
    return out


def _kept(index: FeatureIndex, pos: np.ndarray) -> List[Optional[bytes]]:
    """The kept WKB at each row (None where the row keeps none or is -1)."""
    out: List[Optional[bytes]] = [None] * len(pos)
    have = np.flatnonzero(pos >= 0)
    for k, w in zip(have.tolist(), index.wkbs(pos[have])):
        out[k] = w
    return out


def _part(progress, n: int, total: int):
    """Progress of entry ``n`` of ``total`` (its first 90 %; fetching geometries is the rest)."""
    return lambda f: progress((n + 0.9 * f) / total)


def run_diff(
    base: Path,
    head: Path,
    id_field: Optional[str],
    iou_threshold: float = DEFAULT_IOU,
    progress=None,
    should_stop=None,
):
    """Per-entry feature changes and, where the data still holds them, their geometries."""
    base_doc, head_doc = read_manifest(base), read_manifest(head)
    base_root, head_root = manifest_root(base, base_doc), manifest_root(head, head_doc)
    b_entries, h_entries, all_keys = paired_entries(base_doc, head_doc)
    keys = [k for k in all_keys if (b_entries.get(k) or h_entries.get(k))["kind"] == "vector"]
    ticker = Ticker(max(len(keys), 1), progress, should_stop)
    rows: List[Dict[str, Any]] = []
    wkbs: List[Optional[bytes]] = []
    crs_wkts: List[Optional[str]] = []
    per_entry: Dict[str, Dict[str, Any]] = {}
    for n, key in enumerate(keys):
        b, h = b_entries.get(key), h_entries.get(key)
        b_idx, h_idx = index_columns_both(
            (base, b, base_doc["version"]), (head, h, head_doc["version"])
        )
        both_gpkg = all(e is not None and e["path"].lower().endswith(".gpkg") for e in (b, h))
        result = diff_features(
            b_idx,
            h_idx,
            id_field=id_field,
            stable_fid=both_gpkg,
            iou_threshold=iou_threshold,
            base_wkb=_legacy_geometries(base_root, b, key, b_idx, should_stop),
            head_wkb=_legacy_geometries(head_root, h, key, h_idx, should_stop),
            base_label=f"'{key[0]}' of {base_doc['version']}",
            head_label=f"'{key[0]}' of {head_doc['version']}",
            progress=None if progress is None else _part(progress, n, len(keys)),
            should_stop=should_stop,
        )
        per_entry[key[0] + (f"|{key[1]}" if key[1] else "")] = {
            **result.counts(),
            "matching": result.matching,
            "key": result.key,
            "note": result.note,
        }
        # Geometries kept in the indexes first; the data files only for what they lack.
        changes = result.changes
        h_pos = _positions(h_idx, [c.head_fid for c in changes])
        b_pos = _positions(b_idx, [c.base_fid for c in changes])
        h_kept, b_kept = _kept(h_idx, h_pos), _kept(b_idx, b_pos)
        h_lack = np.flatnonzero(h_pos >= 0)
        h_lack = h_lack[[h_kept[k] is None for k in h_lack.tolist()]]
        b_lack = np.flatnonzero(b_pos >= 0)
        b_lack = b_lack[
            [b_kept[k] is None and changes[k].head_fid is None for k in b_lack.tolist()]
        ]
        head_wanted = dict(
            zip([changes[k].head_fid for k in h_lack.tolist()], h_idx.geometry_hex(h_pos[h_lack]))
        )
        base_wanted = dict(
            zip([changes[k].base_fid for k in b_lack.tolist()], b_idx.geometry_hex(b_pos[b_lack]))
        )
        head_g = base_g = {}
        if h:
            head_g = _geometries(entry_file(head_root, h), key[1], head_wanted, should_stop)
        if b:
            base_g = _geometries(entry_file(base_root, b), key[1], base_wanted, should_stop)
        crs = (h or b)["crs"]
        for c, hk, bk in zip(changes, h_kept, b_kept):
            geom, source = None, ""
            if hk is not None:
                geom, source = hk, "head"
            elif c.head_fid is not None and c.head_fid in head_g:
                geom, source = head_g[c.head_fid], "head"
            elif bk is not None:
                geom, source = bk, "base"
            elif c.base_fid is not None and c.base_fid in base_g:
                geom, source = base_g[c.base_fid], "base"
            rows.append(
                {
                    "status": c.status,
                    "path": key[0],
                    "layer": key[1],
                    "feature_id": None
                    if c.feature_id is None
                    else json.dumps(c.feature_id)
                    if not isinstance(c.feature_id, str)
                    else c.feature_id,
                    "base_fid": c.base_fid,
                    "head_fid": c.head_fid,
                    "changed_fields": ",".join(c.changed_fields),
                    "geometry_from": source,
                    "iou": None if c.iou is None else round(c.iou, 6),
                    "matched_by": result.matching,
                }
            )
            wkbs.append(geom)
            crs_wkts.append(None if crs is None else crs["wkt2"])
        ticker.advance()
    return rows, wkbs, crs_wkts, per_entry, (base_doc["version"], head_doc["version"])
