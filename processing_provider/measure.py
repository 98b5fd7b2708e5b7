"""Reads data files with GDAL/OGR into core inputs: descriptions, content hashes, observations.

Uses osgeo only (no QGIS), so build/verify behave the same in QGIS, qgis_process and tests.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from osgeo import gdal, ogr, osr

from ..core import content as content_mod
from ..core.crs import CrsInfo, describe_crs
from ..core.errors import CrsError, FileVanished, InputError, SchemaError
from ..core.hashing import FileHash, companion_files, hash_files, sha256_file
from ..core.manifest import Observation
from ..core.progress import StopFn, check_stop
from ..core.sidecar import (
    BandInfo,
    DataDescription,
    FieldInfo,
    class_counts,
    guess_class_field,
    read_sidecar,
    sidecar_path,
)
from ..core.timeutil import Timestamp, parse_timestamp
from .vector_io import open_vector, read_ogr

gdal.UseExceptions()
ogr.UseExceptions()

TIME_KEYS = (
    "ACQUISITIONDATETIME",
    "ACQUISITION_DATETIME",
    "ACQUISITION_TIME",
    "DATETIME_ORIGINAL",
    "TIFFTAG_DATETIME",
    "DATETIME",
    "IMAGE_DATE",
)
ROWS_PER_READ = 256


def _srs_info(srs: Optional[osr.SpatialReference]) -> Optional[CrsInfo]:
    if srs is None:
        return None
    try:
        wkt = srs.ExportToWkt(["FORMAT=WKT2_2019"])
    except RuntimeError:
        wkt = srs.ExportToWkt()
    if not wkt:
        return None
    try:
        return describe_crs(wkt)
    except CrsError:
        return None


def open_raster(path: Path) -> gdal.Dataset:
    try:
        ds = gdal.OpenEx(str(path), gdal.OF_RASTER | gdal.OF_READONLY)
    except RuntimeError as exc:
        raise FileVanished(f"Cannot open '{path}' as a raster: {exc}") from exc
    if ds is None:
        raise FileVanished(f"Cannot open '{path}' as a raster.")
    return ds


def detect_kind(path: Path) -> str:
    """ "raster", "vector" or "file" (neither, e.g. a label map): decided by GDAL."""
    if not Path(path).exists():
        raise FileVanished(f"File '{path}' does not exist (moved or deleted?).")
    try:
        ds = gdal.OpenEx(str(path), gdal.OF_READONLY | gdal.OF_RASTER | gdal.OF_VECTOR)
    except RuntimeError:
        return "file"
    if ds is None:
        return "file"
    if ds.RasterCount > 0:
        return "raster"
    if ds.GetLayerCount() > 0:
        return "vector"
    return "file"


def acquisition_time(ds: gdal.Dataset) -> Optional[Timestamp]:
    return time_from_metadata(ds.GetMetadata() or {})


def time_from_metadata(metadata: Dict[str, str]) -> Optional[Timestamp]:
    """The first parseable acquisition time among TIME_KEYS (keys compared case-insensitively)."""
    md = {k.upper(): v for k, v in metadata.items()}
    for key in TIME_KEYS:
        if key in md:
            ts = parse_timestamp(md[key], source=key)
            if ts is not None:
                return ts
    return None


def _raster_blocks(ds: gdal.Dataset, should_stop: StopFn):
    w, h = ds.RasterXSize, ds.RasterYSize
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        for y in range(0, h, ROWS_PER_READ):
            check_stop(should_stop)
            yield band.ReadRaster(0, y, w, min(ROWS_PER_READ, h - y))


def raster_content(path: Path, should_stop: StopFn = None) -> Tuple[str, Dict[str, Any]]:
    """(content SHA-256, facts) of a raster; facts feed the sidecar."""
    ds = open_raster(path)
    crs = _srs_info(ds.GetSpatialRef())
    bands = []
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        bands.append(
            BandInfo(
                b,
                gdal.GetDataTypeName(band.DataType),
                band.GetNoDataValue(),
                gdal.GetColorInterpretationName(band.GetColorInterpretation()),
                band.GetDescription() or None,
            )
        )
    gt = tuple(float(v) for v in ds.GetGeoTransform(can_return_null=True) or ())
    header = content_mod.RasterHeader(
        ds.RasterXSize,
        ds.RasterYSize,
        tuple(b.data_type for b in bands),
        tuple(b.nodata for b in bands),
        gt,
        None if crs is None else (crs.authid or crs.wkt2),
    )
    digest = content_mod.raster_content(
        header, _raster_blocks(ds, should_stop), should_stop=should_stop
    )
    facts = {
        "crs": crs,
        "bands": tuple(bands),
        "geotransform": gt,
        "width": ds.RasterXSize,
        "height": ds.RasterYSize,
        "format": ds.GetDriver().ShortName,
        "time": acquisition_time(ds),
    }
    ds = None
    return digest, facts


def _extent_from_gt(gt, w, h) -> Optional[Tuple[float, float, float, float]]:
    if len(gt) != 6:
        return None
    xs = [gt[0] + gt[1] * px + gt[2] * py for px, py in ((0, 0), (w, 0), (0, h), (w, h))]
    ys = [gt[3] + gt[4] * px + gt[5] * py for px, py in ((0, 0), (w, 0), (0, h), (w, h))]
    return (min(xs), min(ys), max(xs), max(ys))


def vector_facts(path: Path, layer_name: Optional[str]) -> Dict[str, Any]:
    ds, lyr = open_vector(str(path), layer_name)
    defn = lyr.GetLayerDefn()
    fields = tuple(
        FieldInfo(
            defn.GetFieldDefn(i).GetName(), ogr.GetFieldTypeName(defn.GetFieldDefn(i).GetType())
        )
        for i in range(defn.GetFieldCount())
    )
    extent = None
    if lyr.GetFeatureCount() > 0 and lyr.GetGeomType() != ogr.wkbNone:
        xmin, xmax, ymin, ymax = lyr.GetExtent()
        extent = (xmin, ymin, xmax, ymax)
    facts = {
        "layer": lyr.GetName(),
        "layer_count": ds.GetLayerCount(),
        "crs": _srs_info(lyr.GetSpatialRef()),
        "fields": fields,
        "geometry_type": ogr.GeometryTypeToName(lyr.GetGeomType()),
        "extent": extent,
        "format": ds.GetDriver().ShortName,
        "feature_count": lyr.GetFeatureCount(),
        "metadata": ds.GetMetadata() or {},
    }
    ds = None
    return facts


def vector_content(
    path: Path,
    layer_name: Optional[str],
    *,
    keep_index: bool,
    class_field: Optional[str] = None,
    progress=None,
    should_stop: StopFn = None,
) -> Tuple[content_mod.VectorContent, Optional[Dict[str, int]]]:
    """Content hash (and per-feature index) of a vector layer, plus class counts if asked."""
    facts = vector_facts(path, layer_name)
    counts: Optional[Dict[str, int]] = {} if class_field else None
    names = [f.name for f in facts["fields"]]

    def batches():
        for batch in read_ogr(str(path), facts["layer"], fields=names, should_stop=should_stop):
            if counts is not None:
                for k, v in class_counts(batch.columns.get(class_field, [])).items():
                    counts[k] = counts.get(k, 0) + v
            yield batch

    vc = content_mod.vector_content(
        batches(),
        keep_index=keep_index,
        progress=progress,
        total=facts["feature_count"],
        should_stop=should_stop,
    )
    return vc, counts


def describe(
    path: Path,
    layer_name: Optional[str] = None,
    class_field: Optional[str] = None,
    should_stop: StopFn = None,
) -> DataDescription:
    """Everything a sidecar records about a raster or vector data file."""
    path = Path(path)
    kind = detect_kind(path)
    # Only required companions: GDAL/QGIS create .aux.xml caches on their own, and a sidecar
    # must not change because a layer was opened.
    components = tuple(c.path.name for c in companion_files(path) if c.role == "required")
    if kind == "raster":
        digest, f = raster_content(path, should_stop)
        ds = open_raster(path)
        md = {k: v for k, v in (ds.GetMetadata() or {}).items() if len(v) < 500}
        ds = None
        return DataDescription(
            name=path.name,
            format=f["format"],
            kind="raster",
            crs=f["crs"],
            extent=_extent_from_gt(f["geotransform"], f["width"], f["height"]),
            content_method=content_mod.RASTER_METHOD,
            content_sha256=digest,
            components=components,
            width=f["width"],
            height=f["height"],
            geotransform=f["geotransform"],
            bands=f["bands"],
            acquisition_time=f["time"],
            metadata=md,
        )
    if kind == "vector":
        f = vector_facts(path, layer_name)
        field_names = [fi.name for fi in f["fields"]]
        if class_field and class_field not in field_names:
            raise InputError(
                f"Class field '{class_field}' does not exist in '{path.name}' "
                f"(fields: {', '.join(field_names) or 'none'})."
            )
        cls = class_field or guess_class_field(field_names)
        vc, counts = vector_content(
            path, f["layer"], keep_index=False, class_field=cls, should_stop=should_stop
        )
        ts = time_from_metadata(f["metadata"])
        return DataDescription(
            name=path.name,
            format=f["format"],
            kind="vector",
            crs=f["crs"],
            extent=f["extent"],
            content_method=content_mod.VECTOR_METHOD,
            content_sha256=vc.sha256,
            components=components,
            layer=f["layer"] if f["layer_count"] > 1 or f["format"] == "GPKG" else None,
            geometry_type=f["geometry_type"],
            feature_count=vc.feature_count,
            fields=f["fields"],
            class_field=cls,
            class_counts=counts,
            acquisition_time=ts,
        )
    raise InputError(f"'{path}' is neither a raster nor a vector dataset GDAL can read.")


def is_multi_layer(path: Path) -> bool:
    try:
        ds = gdal.OpenEx(str(path), gdal.OF_VECTOR | gdal.OF_READONLY)
    except RuntimeError:
        return False
    return ds is not None and ds.GetLayerCount() > 1


def sidecar_for(path: Path, layer: Optional[str]) -> Path:
    return sidecar_path(Path(path), None, layer, is_multi_layer(path))


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
) -> Observation:
    """Measure a data file now: bytes, companion files, content, CRS and its sidecar.

    ``file_hash``/``component_hashes`` may be passed when already computed (bulk hashing).
    ``sidecar``: where its sidecar is expected (default: next to the data).
    """
    path = Path(path)
    kind = kind or detect_kind(path)
    comps = companion_files(path)
    if file_hash is None or component_hashes is None:
        hashed = hash_files([path] + [c.path for c in comps], should_stop=should_stop)
        file_hash, component_hashes = hashed[0], hashed[1:]
    components = tuple(zip(component_hashes, (c.role for c in comps)))
    obs = Observation(path=path, kind=kind, file=file_hash, components=components, layer=layer)
    if kind == "raster":
        digest, f = raster_content(path, should_stop)
        obs = replace(
            obs, content_sha256=digest, content_method=content_mod.RASTER_METHOD, crs=f["crs"]
        )
    elif kind == "vector":
        facts = vector_facts(path, layer)
        vc, _ = vector_content(
            path, facts["layer"], keep_index=keep_index, progress=progress, should_stop=should_stop
        )
        obs = replace(
            obs,
            layer=layer,
            content_sha256=vc.sha256,
            content_method=content_mod.VECTOR_METHOD,
            feature_count=vc.feature_count,
            crs=facts["crs"],
            feature_index=content_mod.write_feature_index(vc.index) if keep_index else None,
        )
    side = sidecar if sidecar is not None else sidecar_for(path, layer)
    if side.is_file():
        sc_hash = FileHash(side, side.stat().st_size, sha256_file(side))
        try:
            sc_content = read_sidecar(side)["content"]["sha256"]
        except (SchemaError, FileVanished):
            sc_content = "unreadable"
        obs = replace(obs, sidecar=sc_hash, sidecar_content_sha256=sc_content)
    return obs
