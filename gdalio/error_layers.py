"""validatetopology's error layers written by GDAL (for the command line): one GeoPackage with
a layer per location dimension, the fields and geometry types the algorithm's sinks have."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Any, Iterable, Optional

from osgeo import gdal, ogr, osr

from ..core.geos import shapely
from ..core.io import apply_default_mode
from ..core.topology.error_layer import AREAS, ERROR_FIELDS, LINES, POINTS, error_rows
from ..core.topology.findings import Finding

gdal.UseExceptions()
ogr.UseExceptions()

# Layer name and geometry type per dimension, as the algorithm's OUTPUT, OUTPUT_POINTS and
# OUTPUT_LINES; the area layer is always there (it also holds findings without a location).
LAYERS = {
    AREAS: ("errors", ogr.wkbMultiPolygon),
    POINTS: ("errors_points", ogr.wkbMultiPoint),
    LINES: ("errors_lines", ogr.wkbMultiLineString),
}
_OGR_TYPES = {"str": ogr.OFTString, "int": ogr.OFTInteger64, "bool": ogr.OFTInteger}


def write_error_layers(
    path: Path, findings: Iterable[Finding], crs_wkt: Optional[str]
) -> dict[str, int]:
    """Write the findings to the GeoPackage ``path`` atomically (a temp file next to it, then
    renamed over it: readers see the old file or the new one); rows per layer written."""
    target = Path(path)
    rows = error_rows(findings)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp.gpkg"
    try:
        counts = _write(tmp, rows, crs_wkt)
        apply_default_mode(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # on disk before it replaces anything
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
            with contextlib.suppress(OSError):
                leftover.unlink()
        raise
    return counts


def _write(path: Path, rows: dict[int, list[tuple[list[Any], Any]]], crs_wkt: Optional[str]):
    srs = None
    if crs_wkt:
        srs = osr.SpatialReference()
        srs.ImportFromWkt(crs_wkt)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    try:
        ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    except RuntimeError as exc:
        raise OSError(0, f"GDAL cannot create a GeoPackage there ({exc})", str(path)) from exc
    counts: dict[str, int] = {}
    for dim, (name, gtype) in LAYERS.items():
        if not rows[dim] and dim != AREAS:
            continue
        # The `fid` field would become the GeoPackage primary key, and one feature can have
        # several findings: the table gets its own FID column, as the algorithm's sinks.
        lyr = ds.CreateLayer(name, srs, gtype, options=["FID=error_id"])
        for field_name, kind in ERROR_FIELDS:
            defn = ogr.FieldDefn(field_name, _OGR_TYPES[kind])
            if kind == "bool":
                defn.SetSubType(ogr.OFSTBoolean)
            lyr.CreateField(defn)
        layer_defn = lyr.GetLayerDefn()
        lyr.StartTransaction()
        for values, geom in rows[dim]:
            feat = ogr.Feature(layer_defn)
            for i, value in enumerate(values):
                if value is None:
                    feat.SetFieldNull(i)
                else:
                    feat.SetField(i, int(value) if isinstance(value, bool) else value)
            if geom is not None:
                wkb = shapely.to_wkb(geom, flavor="iso")
                feat.SetGeometry(ogr.CreateGeometryFromWkb(wkb))
            lyr.CreateFeature(feat)
        lyr.CommitTransaction()
        counts[name] = len(rows[dim])
        lyr = None
    ds.FlushCache()
    ds = None  # closes the GeoPackage before it is renamed
    return counts
