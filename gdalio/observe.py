"""Measures data files with GDAL/OGR into core inputs: sidecar descriptions, content hashes and
manifest observations. Each measurement opens the file for its facts once, and once more to
stream its content. What the facts mean (which time tag counts, which companions and metadata
a sidecar records) is decided by core.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple, Union

from osgeo import gdal

from ..core import content as content_mod
from ..core.errors import FileVanished, InputError, LabelGuardError, SchemaError, Unreadable
from ..core.georef import extent_from_geotransform
from ..core.hashing import FileHash, companion_files, hash_files, required_companions, sha256_file
from ..core.io import atomic_write_bytes
from ..core.manifest import Observation
from ..core.progress import StopFn, check_stop
from ..core.sidecar import (
    DataDescription,
    build_sidecar,
    class_counts,
    dump_sidecar,
    guess_class_field,
    read_sidecar,
    recorded_layer,
    recorded_metadata,
    sidecar_path,
)
from ..core.timeutil import acquisition_time
from ..core.version import generator
from .facts import (
    RasterFacts,
    VectorFacts,
    detect_kind,
    open_dataset,
    raster_facts_of,
    read_facts,
    vector_facts,
)
from .vector import read_ogr

ROWS_PER_READ = 256

__all__ = [
    "current_sidecar",
    "describe",
    "detect_kind",
    "observe",
    "raster_content",
    "refresh_sidecar",
    "sidecar_for",
    "stale_sidecar",
    "vector_content",
]


def _raster_blocks(ds: gdal.Dataset, should_stop: StopFn) -> Iterator[bytes]:
    w, h = ds.RasterXSize, ds.RasterYSize
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        for y in range(0, h, ROWS_PER_READ):
            check_stop(should_stop)
            try:
                block = band.ReadRaster(0, y, w, min(ROWS_PER_READ, h - y))
            except RuntimeError as exc:  # a damaged or truncated file
                raise Unreadable(f"GDAL cannot read '{ds.GetDescription()}': {exc}") from exc
            yield block


def raster_content(path: Path, should_stop: StopFn = None) -> Tuple[str, RasterFacts]:
    """(content SHA-256, facts) of a raster, from one open of the file."""
    ds, messages = open_dataset(path, gdal.OF_RASTER, "a raster")
    try:
        facts = raster_facts_of(ds, path, messages)
        header = content_mod.RasterHeader(
            facts.width,
            facts.height,
            tuple(b.data_type for b in facts.bands),
            tuple(b.nodata for b in facts.bands),
            facts.geotransform,
            None if facts.crs is None else (facts.crs.authid or facts.crs.wkt2),
        )
        digest = content_mod.raster_content(
            header, _raster_blocks(ds, should_stop), should_stop=should_stop
        )
    finally:
        ds = None
    return digest, facts


def vector_content(
    path: Path,
    layer_name: Optional[str],
    *,
    keep_index: bool,
    class_field: Optional[str] = None,
    facts: Optional[VectorFacts] = None,
    progress=None,
    should_stop: StopFn = None,
) -> Tuple[content_mod.VectorContent, Optional[Dict[str, int]]]:
    """Content hash (and per-feature index) of a vector layer, plus class counts if asked.
    ``facts``: the layer's facts when already read."""
    facts = facts or vector_facts(path, layer_name)
    counts: Optional[Dict[str, int]] = {} if class_field else None
    names = [f.name for f in facts.fields]

    def batches():
        for batch in read_ogr(str(path), facts.layer, fields=names, should_stop=should_stop):
            if counts is not None:
                for k, v in class_counts(batch.columns.get(class_field, [])).items():
                    counts[k] = counts.get(k, 0) + v
            yield batch

    vc = content_mod.vector_content(
        batches(),
        keep_index=keep_index,
        progress=progress,
        total=facts.feature_count,
        should_stop=should_stop,
    )
    return vc, counts


def _describe_raster(path: Path, should_stop: StopFn) -> DataDescription:
    digest, f = raster_content(path, should_stop)
    return _raster_description(path, digest, f)


def _raster_description(path: Path, digest: str, f: RasterFacts) -> DataDescription:
    return DataDescription(
        name=path.name,
        format=f.format,
        kind="raster",
        crs=f.crs,
        extent=extent_from_geotransform(f.geotransform, f.width, f.height),
        content_method=content_mod.RASTER_METHOD,
        content_sha256=digest,
        components=required_companions(path),
        width=f.width,
        height=f.height,
        geotransform=f.geotransform,
        bands=f.bands,
        acquisition_time=acquisition_time(f.metadata),
        metadata=recorded_metadata(f.metadata),
    )


def current_sidecar(path: Path, digest: str, facts: Union[RasterFacts, VectorFacts]) -> Dict:
    """The sidecar document (without class counts or provenance) a file with these facts and
    content hash would get now: what restoremetadata compares with the recorded one."""
    if isinstance(facts, RasterFacts):
        return build_sidecar(_raster_description(path, digest, facts), "")
    vc = content_mod.VectorContent(digest, facts.feature_count)
    return build_sidecar(_vector_description(path, facts, vc, None, None), "")


def _describe_vector(
    path: Path, f: VectorFacts, class_field: Optional[str], should_stop: StopFn, content=None
) -> DataDescription:
    field_names = [fi.name for fi in f.fields]
    if class_field and class_field not in field_names:
        raise InputError(
            f"Class field '{class_field}' does not exist in '{path.name}' "
            f"(fields: {', '.join(field_names) or 'none'})."
        )
    cls = class_field or guess_class_field(field_names)
    vc, counts = (content or vector_content)(
        path, f.layer, keep_index=False, class_field=cls, facts=f, should_stop=should_stop
    )
    return _vector_description(path, f, vc, cls, counts)


def _vector_description(
    path: Path,
    f: VectorFacts,
    vc: content_mod.VectorContent,
    cls: Optional[str],
    counts: Optional[Dict[str, int]],
) -> DataDescription:
    extent = f.extent if f.extent is not None and f.extent[0] == f.extent[0] else None  # NaN
    return DataDescription(
        name=path.name,
        format=f.format,
        kind="vector",
        crs=f.crs,
        extent=extent,
        content_method=content_mod.VECTOR_METHOD,
        content_sha256=vc.sha256,
        components=required_companions(path),
        layer=recorded_layer(f.layer, f.layer_count, f.format),
        geometry_type=f.geometry_type,
        feature_count=vc.feature_count,
        fields=f.fields,
        class_field=cls,
        class_counts=counts,
        acquisition_time=acquisition_time(f.metadata),
        multi_layer=f.layer_count > 1,
    )


def describe(
    path: Path,
    layer_name: Optional[str] = None,
    class_field: Optional[str] = None,
    should_stop: StopFn = None,
    content=None,
) -> DataDescription:
    """Everything a sidecar records about a raster or vector data file. ``content``: what
    hashes a vector layer and counts its classes (see ``observe``)."""
    path = Path(path)
    facts = read_facts(path, layer_name)
    if isinstance(facts, RasterFacts):
        return _describe_raster(path, should_stop)
    if isinstance(facts, VectorFacts):
        return _describe_vector(path, facts, class_field, should_stop, content)
    raise InputError(f"'{path}' is neither a raster nor a vector dataset GDAL can read.")


def sidecar_for(path: Path, layer: Optional[str], facts: Optional[VectorFacts] = None) -> Path:
    """Where the sidecar of a data file (one layer of a multi-layer container) is expected."""
    if facts is None:
        found = read_facts(path, layer) if Path(path).exists() else None
        layer_count = found.layer_count if isinstance(found, VectorFacts) else 0
    else:
        layer_count = facts.layer_count
    return sidecar_path(Path(path), None, layer, layer_count > 1)


def _read_sidecar(side: Path) -> Tuple[Optional[FileHash], Optional[Dict]]:
    """(file hash, parsed document) of a sidecar; (None, None) when there is none, a None
    document when it cannot be parsed."""
    if not side.is_file():
        return None, None
    sc_hash = FileHash(side, side.stat().st_size, sha256_file(side))
    try:
        return sc_hash, read_sidecar(side)
    except (SchemaError, FileVanished):
        return sc_hash, None


def _crs_problem(facts: Union[RasterFacts, VectorFacts]) -> Optional[str]:
    if facts.crs_wkt and facts.crs is None:
        return f"'{facts.path}' has a CRS that PROJ cannot interpret; the file cannot be checked."
    return None


def observe(
    path: Path,
    layer: Optional[str] = None,
    *,
    kind: Optional[str] = None,
    file_hash: Optional[FileHash] = None,
    component_hashes=None,
    keep_index: bool = False,
    sidecar: Optional[Path] = None,
    progress=None,
    should_stop: StopFn = None,
    content=None,
) -> Observation:
    """Measure a data file now: bytes, companion files, content, CRS and its sidecar.

    ``content``: what hashes a vector layer's content, with ``vector_content``'s signature
    (default: ``vector_content``, in this process; the cluster backend hashes parts on workers).

    ``file_hash``/``component_hashes`` may be passed when already computed (bulk hashing).
    ``kind``: what the manifest recorded ("file" skips GDAL). ``sidecar``: where its sidecar is
    expected (default: next to the data).
    """
    path = Path(path)
    facts = read_facts(path, layer) if kind in (None, "vector") else None
    if kind is None:
        kind = "raster" if isinstance(facts, RasterFacts) else "vector" if facts else "file"
    comps = companion_files(path)
    if file_hash is None or component_hashes is None:
        hashed = hash_files([path] + [c.path for c in comps], should_stop=should_stop)
        file_hash, component_hashes = hashed[0], hashed[1:]
    components = tuple(zip(component_hashes, (c.role for c in comps)))
    obs = Observation(path=path, kind=kind, file=file_hash, components=components, layer=layer)
    if sidecar is None:  # rasters and plain files hold no layers
        multi = isinstance(facts, VectorFacts) and facts.layer_count > 1
        sidecar = sidecar_path(path, None, layer, multi)
    obs = _with_sidecar(obs, sidecar)
    record = obs.sidecar_record
    if kind == "raster":
        digest, f = raster_content(path, should_stop)
        obs = replace(
            obs,
            content_sha256=digest,
            content_method=content_mod.RASTER_METHOD,
            crs=f.crs,
            crs_problem=_crs_problem(f),
        )
        if record is not None:
            desc = _raster_description(path, digest, f)
            obs = replace(obs, description=build_sidecar(desc, ""))
    elif kind == "vector":
        vfacts = facts if isinstance(facts, VectorFacts) else vector_facts(path, layer)
        vc, _ = (content or vector_content)(
            path,
            vfacts.layer,
            keep_index=keep_index,
            facts=vfacts,
            progress=progress,
            should_stop=should_stop,
        )
        obs = replace(
            obs,
            content_sha256=vc.sha256,
            content_method=content_mod.VECTOR_METHOD,
            feature_count=vc.feature_count,
            crs=vfacts.crs,
            crs_problem=_crs_problem(vfacts),
            feature_index=content_mod.write_feature_index(vc.index) if keep_index else None,
        )
        if record is not None:
            desc = _vector_description(path, vfacts, vc, None, None)
            obs = replace(obs, description=build_sidecar(desc, ""))
    return obs


def _with_sidecar(obs: Observation, side: Path) -> Observation:
    """The observation with the hashes and record of the sidecar at ``side``, if there is one."""
    sc_hash, record = _read_sidecar(side)
    if sc_hash is None:
        return obs
    sc_content = "unreadable" if record is None else record["content"]["sha256"]
    return replace(obs, sidecar=sc_hash, sidecar_content_sha256=sc_content, sidecar_record=record)


def stale_sidecar(obs: Observation) -> bool:
    """True when the observed file has a sidecar that describes other content (or none it can
    read): exporting it again is what the next verify would ask for."""
    return (
        obs.sidecar is not None
        and obs.content_sha256 is not None
        and obs.sidecar_content_sha256 != obs.content_sha256
    )


def refresh_sidecar(obs: Observation, should_stop: StopFn = None, content=None) -> Observation:
    """Export the sidecar of an observed file again, in place and atomically, keeping the class
    field the old sidecar recorded when the data still has it; the observation with the new
    sidecar's hashes. ``content``: as in ``observe``."""
    if obs.sidecar is None:
        raise ValueError(f"{obs.path} has no sidecar to refresh")
    target = obs.sidecar.path
    class_field = None
    with contextlib.suppress(LabelGuardError):  # unreadable: it is being replaced
        class_field = (read_sidecar(target).get("vector") or {}).get("class_field")
    try:
        desc = describe(obs.path, obs.layer, class_field, should_stop, content)
    except InputError:
        if class_field is None:
            raise
        desc = describe(obs.path, obs.layer, None, should_stop, content)  # the class field is gone
    atomic_write_bytes(target, dump_sidecar(build_sidecar(desc, generator())))
    return _with_sidecar(obs, target)
