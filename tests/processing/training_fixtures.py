"""Builders for the training export tests: a small georeferenced image and annotations."""

from __future__ import annotations

from pathlib import Path

import numpy as np

GT = (500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5)
EPSG = 32631
SIZE = 600


def make_image(
    path: Path, *, epsg: int | None = EPSG, dtype: str = "Byte", bands: int = 3, size: int = SIZE
) -> Path:
    from osgeo import gdal, osr

    gdal.UseExceptions()
    gtype = gdal.GetDataTypeByName(dtype)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), size, size, bands, gtype)
    ds.SetGeoTransform(GT)
    if epsg is not None:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        ds.SetProjection(srs.ExportToWkt())
    yy, xx = np.mgrid[0:size, 0:size]
    for b in range(bands):
        scale = 1 if dtype == "Byte" else 40
        arr = ((xx * (b + 1) + yy * 3) % 251) * scale
        ds.GetRasterBand(b + 1).WriteArray(arr.astype(np.float64))
    ds = None
    return path


def source_polygons(seed: int = 3, n: int = 24):
    """(fid, class, pixel-space polygon) with some holes, sized so clipped pieces stay large."""
    from labelguard.core.geos import shapely

    rng = np.random.default_rng(seed)
    out = []
    classes = ["building", "tree", "water"]
    for i in range(n):
        x, y = rng.uniform(40, SIZE - 40, 2)
        r = rng.uniform(25, 45)
        poly = shapely.Point(x, y).buffer(r, quad_segs=16)
        poly = shapely.affinity.scale(poly, 1.0, rng.uniform(0.6, 1.0))
        if i % 4 == 0:
            poly = poly.difference(shapely.Point(x, y).buffer(r / 3, quad_segs=8))
        out.append((i + 1, classes[i % 3], poly))
    return out


def pixel_to_world(geom):
    from labelguard.core.geos import shapely

    x0, a, _, y0, _, e = GT
    return shapely.transform(geom, lambda c: np.column_stack([x0 + a * c[:, 0], y0 + e * c[:, 1]]))


def make_annotations(
    path: Path, polygons, *, epsg: int = EPSG, class_values=None, layer: str = "labels"
) -> Path:
    """GeoPackage polygon layer with field ``cls`` (world coordinates, reprojected to epsg)."""
    from labelguard.core.geos import shapely
    from osgeo import ogr, osr

    ogr.UseExceptions()
    src = osr.SpatialReference()
    src.ImportFromEPSG(EPSG)
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(epsg)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    tr = osr.CoordinateTransformation(src, dst)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    lyr = ds.CreateLayer(layer, dst, ogr.wkbMultiPolygon)
    lyr.CreateField(ogr.FieldDefn("cls", ogr.OFTString))
    for k, (fid, cls, poly) in enumerate(polygons):
        feat = ogr.Feature(lyr.GetLayerDefn())
        feat.SetFID(fid)
        value = cls if class_values is None else class_values[k]
        if value is not None:
            feat.SetField("cls", value)
        if poly is not None:
            g = ogr.CreateGeometryFromWkb(shapely.to_wkb(pixel_to_world(poly)))
            if epsg != EPSG:
                g.Transform(tr)
            feat.SetGeometry(ogr.ForceToMultiPolygon(g))
        lyr.CreateFeature(feat)
    ds = None
    return path
