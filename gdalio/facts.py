"""Open a data file once with GDAL/OGR and return what it says about itself, as typed facts.

Facts are what GDAL reads, unjudged: which of them a sidecar records, or what counts as a CRS
problem, is decided in ``core``. GDAL failures become LabelGuard's own errors here.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from osgeo import gdal, ogr, osr

from ..core.crs import CrsInfo, describe_crs
from ..core.errors import CrsError, FileVanished, InputError, Unreadable
from ..core.sidecar import BandInfo, FieldInfo
from .opening import GdalMessages, open_ex
from .vector import gdal_text

gdal.UseExceptions()
ogr.UseExceptions()

Extent = Tuple[float, float, float, float]

# Words that mark a GDAL message as being about the CRS (checkcrs reports those as invalid_crs).
_CRS_WORDS = ("proj", "crs", "srs", "spatial reference", "coordinate", "projection")
# How much of a GeoJSON file is searched for its "crs" member. Writers (GDAL, QGIS, geopandas)
# put it before "features"; a member after a megabyte of features is not looked for.
_GEOJSON_HEAD_BYTES = 1 << 20
_GEOJSON_CRS_KEY = re.compile(r'"crs"\s*:\s*\{')


@dataclass(frozen=True)
class RasterFacts:
    """A raster as GDAL reads it. ``geotransform`` is empty when the file has none."""

    path: str
    format: str
    width: int
    height: int
    bands: Tuple[BandInfo, ...]
    geotransform: Tuple[float, ...]
    crs: Optional[CrsInfo]
    crs_wkt: Optional[str]
    crs_messages: Tuple[str, ...] = ()
    metadata: Dict[str, str] = field(default_factory=dict)

    @property
    def band_count(self) -> int:
        return len(self.bands)

    @property
    def data_type(self) -> str:
        """The first band's GDAL data type name ("Byte", "UInt16", ...)."""
        return self.bands[0].data_type if self.bands else ""

    @property
    def nodata(self) -> Optional[float]:
        """The first band's nodata value."""
        return self.bands[0].nodata if self.bands else None

    @property
    def pixel_geotransform(self) -> Tuple[float, ...]:
        """The geotransform, or GDAL's default (pixel = map unit, y down) when there is none."""
        return self.geotransform or (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class VectorFacts:
    """One layer of a vector file as OGR reads it. ``extent`` is (xmin, ymin, xmax, ymax) in
    the data's axis order, None for an empty or geometry-less layer, NaNs when every geometry is
    empty; ``north_first`` says the data's first axis is northing (authority lat/lon order)."""

    path: str
    format: str
    layer: str
    layer_count: int
    fields: Tuple[FieldInfo, ...]
    geometry_type: str
    feature_count: int
    extent: Optional[Extent]
    crs: Optional[CrsInfo]
    crs_wkt: Optional[str]
    north_first: bool = False
    crs_messages: Tuple[str, ...] = ()
    metadata: Dict[str, str] = field(default_factory=dict)


Facts = Union[RasterFacts, VectorFacts]


def exists(path: Union[str, Path]) -> bool:
    """True when GDAL can stat the path (also /vsi paths)."""
    return gdal.VSIStatL(str(path)) is not None


def open_dataset(path: Union[str, Path], flags: int, what: str) -> Tuple[Any, List[str]]:
    """(dataset, GDAL messages about its CRS) opened read-only; FileVanished when the file is
    gone, Unreadable naming GDAL's reason when GDAL cannot open it as ``what``, FileLocked
    when a GeoPackage stays locked by another writer."""
    ds, messages = open_ex(path, flags | gdal.OF_READONLY)
    if ds is None:
        if not exists(path):
            raise FileVanished(f"File '{path}' does not exist (moved or deleted?).")
        detail = "; ".join(messages) or "unknown reason"
        raise Unreadable(f"GDAL cannot open '{path}' as {what} ({detail}).")
    return ds, [m for m in messages if any(w in m.lower() for w in _CRS_WORDS)]


def detect_kind(path: Union[str, Path]) -> str:
    """ "raster", "vector" or "file" (neither, e.g. a label map): decided by GDAL. FileLocked
    when a GeoPackage stays locked by another writer (it is not taken for a plain file)."""
    if not Path(path).exists():
        raise FileVanished(f"File '{path}' does not exist (moved or deleted?).")
    ds, _ = open_ex(path, gdal.OF_READONLY | gdal.OF_RASTER | gdal.OF_VECTOR)
    if ds is None:
        return "file"
    if ds.RasterCount > 0:
        return "raster"
    if ds.GetLayerCount() > 0:
        return "vector"
    return "file"


def _wkt2(srs: Optional[osr.SpatialReference]) -> Optional[str]:
    if srs is None:
        return None
    try:
        return srs.ExportToWkt(["FORMAT=WKT2_2019"]) or None
    except RuntimeError:
        return srs.ExportToWkt() or None


def _crs_info(wkt: Optional[str]) -> Optional[CrsInfo]:
    if not wkt:
        return None
    try:
        return describe_crs(wkt)
    except CrsError:
        return None


def _spatial_ref(get: Callable[[], Any]) -> Tuple[Optional[osr.SpatialReference], List[str]]:
    with GdalMessages() as errors:
        try:
            srs = get()
        except RuntimeError as exc:
            errors.messages.append(str(exc))
            srs = None
    return srs, errors.messages


def _north_first(srs: Optional[osr.SpatialReference]) -> bool:
    if srs is None:
        return False
    mapping = srs.GetDataAxisToSRSAxisMapping() or [1, 2]
    orientation = srs.GetAxisOrientation(None, abs(mapping[0]) - 1)
    return orientation in (osr.OAO_North, osr.OAO_South)


def raster_facts_of(ds: Any, path: Union[str, Path], crs_messages: List[str]) -> RasterFacts:
    """Facts of an open raster dataset."""
    srs, srs_messages = _spatial_ref(ds.GetSpatialRef)
    bands = []
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        bands.append(
            BandInfo(
                b,
                gdal.GetDataTypeName(band.DataType),
                band.GetNoDataValue(),
                gdal.GetColorInterpretationName(band.GetColorInterpretation()),
                _text(band.GetDescription(), path, f"band {b} description") or None,
            )
        )
    wkt = _wkt2(srs)
    return RasterFacts(
        path=str(path),
        format=ds.GetDriver().ShortName,
        width=ds.RasterXSize,
        height=ds.RasterYSize,
        bands=tuple(bands),
        geotransform=tuple(float(v) for v in ds.GetGeoTransform(can_return_null=True) or ()),
        crs=_crs_info(wkt),
        crs_wkt=wkt,
        crs_messages=tuple(crs_messages + srs_messages),
        metadata=metadata_of(ds, path),
    )


def _text(value: Any, path: Union[str, Path], what: str) -> Any:
    if isinstance(value, bytes):
        raise Unreadable(
            f"'{path}' cannot be read: its {what} is not UTF-8 text (a damaged file, or one "
            "written in another encoding)."
        )
    return value


def metadata_of(obj: Any, path: Union[str, Path]) -> Dict[str, str]:
    """The default-domain metadata of a GDAL dataset; Unreadable when an item is not UTF-8
    (GDAL then hands over bytes: a damaged or foreign-encoded TIFF tag)."""
    out: Dict[str, str] = {}
    for key, value in (obj.GetMetadata() or {}).items():
        name = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        _text(key, path, "metadata item name")
        out[key] = _text(value, path, f"metadata item {name}")
    return out


def raster_facts(path: Union[str, Path]) -> RasterFacts:
    ds, messages = open_dataset(path, gdal.OF_RASTER, "a raster")
    try:
        return raster_facts_of(ds, path, messages)
    finally:
        ds = None


def _layer_of(ds: Any, path: Union[str, Path], layer: Union[str, int, None]) -> Any:
    if isinstance(layer, str) and layer:
        lyr = ds.GetLayerByName(layer)
    elif ds.GetLayerCount() < 1:
        raise InputError(f"'{path}' contains no vector layer.")
    else:
        lyr = ds.GetLayer(layer or 0)
    if lyr is None:
        raise InputError(f"'{path}' has no layer named '{layer}'.")
    return lyr


def vector_facts_of(
    ds: Any, path: Union[str, Path], layer: Union[str, int, None], crs_messages: List[str]
) -> VectorFacts:
    """Facts of one layer (name, index or None for the first) of an open vector dataset."""
    lyr = _layer_of(ds, path, layer)
    defn = lyr.GetLayerDefn()
    fields = tuple(
        FieldInfo(
            gdal_text(defn.GetFieldDefn(i).GetName()),
            ogr.GetFieldTypeName(defn.GetFieldDefn(i).GetType()),
        )
        for i in range(defn.GetFieldCount())
    )
    srs, srs_messages = _spatial_ref(lyr.GetSpatialRef)
    count = lyr.GetFeatureCount()
    extent: Optional[Extent] = None
    if count > 0 and lyr.GetGeomType() != ogr.wkbNone:
        try:
            xmin, xmax, ymin, ymax = lyr.GetExtent()
            extent = (xmin, ymin, xmax, ymax)
        except RuntimeError:  # only empty geometries: no extent, like an empty layer
            extent = (math.nan, math.nan, math.nan, math.nan)
    wkt = _wkt2(srs)
    return VectorFacts(
        path=str(path),
        format=ds.GetDriver().ShortName,
        layer=lyr.GetName(),
        layer_count=ds.GetLayerCount(),
        fields=fields,
        geometry_type=ogr.GeometryTypeToName(lyr.GetGeomType()),
        feature_count=count,
        extent=extent,
        crs=_crs_info(wkt),
        crs_wkt=wkt,
        north_first=_north_first(srs),
        crs_messages=_crs_messages(ds, path, crs_messages + srs_messages),
        metadata=metadata_of(ds, path),
    )


def _crs_messages(ds: Any, path: Union[str, Path], gdal_messages: List[str]) -> Tuple[str, ...]:
    """GDAL's messages about a layer's CRS; for GeoJSON, one message naming the declared CRS
    when PROJ cannot read it.

    GDAL < 3.10 fails on an unknown CRS in a GeoJSON "crs" member, with a message that depends
    on the PROJ version; GDAL 3.10+ says nothing and uses EPSG:4326. So the declaration is
    read again here, and the message is the same on every version."""
    if ds.GetDriver().ShortName != "GeoJSON":
        return tuple(gdal_messages)
    declared = geojson_declared_crs(path)
    if declared is None:
        return tuple(gdal_messages)
    with GdalMessages():  # PROJ's reason varies by version; the message below does not
        try:
            readable = osr.SpatialReference().SetFromUserInput(declared) == 0
        except RuntimeError:
            readable = False
    if readable:
        return tuple(gdal_messages)
    return (f"the GeoJSON crs member '{declared}' is not a CRS PROJ can read",)


def geojson_declared_crs(path: Union[str, Path]) -> Optional[str]:
    """The CRS a GeoJSON file names in its (pre-RFC 7946) "crs" member, as written: the
    ``name`` of a "name" crs, "EPSG:n" of an "EPSG" crs; None when there is none or it is
    another kind (links). Only the file's first megabyte is searched."""
    fp = gdal.VSIFOpenL(str(path), "rb")
    if fp is None:
        return None
    try:
        head = gdal.VSIFReadL(1, _GEOJSON_HEAD_BYTES, fp)
    finally:
        gdal.VSIFCloseL(fp)
    text = head.decode("utf-8", errors="replace")
    for match in _GEOJSON_CRS_KEY.finditer(text):
        try:
            member, _ = json.JSONDecoder().raw_decode(text, match.end() - 1)
        except ValueError:
            continue
        props = member.get("properties") if isinstance(member, dict) else None
        if not isinstance(props, dict):
            continue
        if member.get("type") == "name" and isinstance(props.get("name"), str):
            return props["name"]
        if member.get("type") == "EPSG" and isinstance(props.get("code"), (int, str)):
            return f"EPSG:{props['code']}"
    return None


def vector_facts(path: Union[str, Path], layer: Union[str, int, None] = None) -> VectorFacts:
    ds, messages = open_dataset(path, gdal.OF_VECTOR, "a vector dataset")
    try:
        return vector_facts_of(ds, path, layer, messages)
    finally:
        ds = None


def read_facts(path: Union[str, Path], layer: Union[str, int, None] = None) -> Optional[Facts]:
    """Facts of a raster or a vector layer from one open, None when GDAL reads neither.
    FileLocked when a GeoPackage stays locked by another writer; Unreadable when its metadata
    cannot be decoded."""
    if not Path(path).exists():
        raise FileVanished(f"File '{path}' does not exist (moved or deleted?).")
    ds, _ = open_ex(path, gdal.OF_READONLY | gdal.OF_RASTER | gdal.OF_VECTOR)
    if ds is None:
        return None
    try:
        if ds.RasterCount > 0:
            return raster_facts_of(ds, path, [])
        if ds.GetLayerCount() > 0:
            return vector_facts_of(ds, path, layer, [])
        return None
    finally:
        ds = None


def prj_text(path: Union[str, Path]) -> Optional[str]:
    """The .prj text of a shapefile, on one line, or None."""
    text = str(path)
    if not text.lower().endswith(".shp"):
        return None
    prj = os.path.splitext(text)[0] + ".prj"
    if not os.path.isfile(prj):
        return None
    with open(prj, encoding="utf-8", errors="replace") as fh:
        return " ".join(fh.read().split())
