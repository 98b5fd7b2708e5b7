"""Manifest work on a Dask cluster: files hashed in parallel on the workers, and the content of
large vector layers hashed per fid range and combined (equal to the single-process hash)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..core.content import (
    IndexRow,
    VectorContent,
    combine_vector_content,
    hash_feature_batch,
)
from ..core.hashing import FileHash, hash_files
from ..core.manifest import manifest_root, read_manifest, verify_manifest
from ..core.progress import ProgressFn, StopFn
from ..core.sidecar import class_counts
from ..gdalio.facts import VectorFacts, vector_facts
from ..gdalio.vector import open_vector, read_ogr
from ..gdalio.versioning import measure_entry
from .client import gather, n_workers

# A layer with fewer features is hashed in one piece (a task costs more than hashing it).
MIN_FEATURES_PER_PART = 50000


def hash_one(path: str) -> FileHash:
    """On a worker: size and SHA-256 of one file (the path must be readable there)."""
    return hash_files([Path(path)], threads=1)[0]


def dask_hasher(client):
    """A ``hasher`` for gdalio.versioning: one task per file, results in input order."""

    def hasher(
        paths: Sequence[Any], progress: ProgressFn = None, should_stop: StopFn = None
    ) -> List[FileHash]:
        files = [str(p) for p in paths]
        futures = [client.submit(hash_one, p, pure=False) for p in files]
        sizes = [float(max(Path(p).stat().st_size, 1)) for p in files]
        out = gather(client, futures, progress, should_stop, sizes)
        return [FileHash(Path(p), h.size, h.sha256) for p, h in zip(paths, out)]

    return hasher


def fid_ranges(path: str, layer: Optional[str], parts: int) -> Tuple[str, List[Tuple[int, int]]]:
    """(FID column, [lo, hi) ranges) cutting the fids of a layer into about ``parts`` pieces."""
    ds, lyr = open_vector(path, layer)
    column = lyr.GetFIDColumn() or "FID"
    sql = ds.ExecuteSQL(f'SELECT MIN({column}), MAX({column}) FROM "{lyr.GetName()}"')
    try:
        feat = sql.GetNextFeature()
        lo, hi = feat.GetField(0), feat.GetField(1)
    finally:
        ds.ReleaseResultSet(sql)
    del lyr, ds
    if lo is None or hi is None:
        return column, [(0, 1)]
    lo, hi = int(lo), int(hi) + 1
    step = max(1, -(-(hi - lo) // max(parts, 1)))
    return column, [(a, min(a + step, hi)) for a in range(lo, hi, step)]


def hash_fid_range(
    path: str,
    layer: str,
    fields: List[str],
    column: str,
    lo: int,
    hi: int,
    keep_index: bool,
    class_field: Optional[str] = None,
) -> Tuple[List[str], List[IndexRow], Optional[Dict[str, int]]]:
    """On a worker: (feature hashes, index rows, class counts or None without
    ``class_field``) of the features with lo <= fid < hi."""
    hashes: List[str] = []
    rows: List[IndexRow] = []
    counts: Optional[Dict[str, int]] = {} if class_field else None
    where = f"{column} >= {lo} AND {column} < {hi}"
    for batch in read_ogr(path, layer, where=where, fields=fields):
        fh = hash_feature_batch(batch.fids, batch.wkb, batch.columns)
        hashes.extend(fh.feature)
        if keep_index:
            rows.extend(
                zip(fh.fids.tolist(), fh.geometry, fh.attributes, fh.attributes_json, fh.kept_wkb)
            )
        if counts is not None:
            add_counts(counts, class_counts(batch.columns.get(class_field, [])))
    return hashes, rows, counts


def add_counts(total: Dict[str, int], more: Dict[str, int]) -> None:
    """Add the class counts ``more`` into ``total``."""
    for key, n in more.items():
        total[key] = total.get(key, 0) + n


def dask_vector_content(client, parts: Optional[int] = None):
    """A ``content`` function for gdalio.observe: large layers hashed per fid range on the
    workers and combined, with the class counts of ``class_field`` summed over the ranges;
    small layers in one task."""

    def content(
        path: Path,
        layer_name: Optional[str],
        *,
        keep_index: bool,
        class_field: Optional[str] = None,
        facts: Optional[VectorFacts] = None,
        progress: ProgressFn = None,
        should_stop: StopFn = None,
    ) -> Tuple[VectorContent, Optional[Dict[str, int]]]:
        found = facts or vector_facts(path, layer_name)
        fields = [f.name for f in found.fields]
        wanted = parts or 4 * n_workers(client)
        wanted = min(wanted, max(1, found.feature_count // MIN_FEATURES_PER_PART))
        column, ranges = fid_ranges(str(path), found.layer, wanted)
        futures = [
            client.submit(
                hash_fid_range,
                str(path),
                found.layer,
                fields,
                column,
                lo,
                hi,
                keep_index,
                class_field,
                pure=False,
            )
            for lo, hi in ranges
        ]
        pieces = gather(client, futures, progress, should_stop)
        counts: Optional[Dict[str, int]] = None
        if class_field:
            counts = {}
            for _, _, part in pieces:
                add_counts(counts, part or {})
        return combine_vector_content([(h, r) for h, r, _ in pieces]), counts

    return content


def dask_verify(
    client,
    manifest: Path,
    scan_untracked: bool,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
):
    """``gdalio.versioning.run_verify`` with every entry measured on the workers at once
    (hashes and content); the comparison stays in core. Cancel drops the pending tasks."""
    doc = read_manifest(manifest)
    root = manifest_root(manifest, doc)
    futures = {}
    for entry in doc["entries"]:
        abs_path = root / entry["path"]
        if abs_path.exists():
            key = (entry["path"], entry.get("layer"))
            futures[key] = client.submit(measure_entry, abs_path, entry, root, pure=False)

    def measure(abs_path: Path, entry: Dict[str, Any]):
        # Polls should_stop while one large file is being measured, so cancel is prompt.
        future = futures[(entry["path"], entry.get("layer"))]
        return gather(client, [future], None, should_stop)[0]

    try:
        return verify_manifest(
            manifest,
            measure,
            scan_untracked=scan_untracked,
            progress=progress,
            should_stop=should_stop,
        )
    finally:
        client.cancel(list(futures.values()))
