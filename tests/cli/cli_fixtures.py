"""Tiny vector layers for the command-line tests (shared by tests/cli and tests/processing)."""

from __future__ import annotations

from pathlib import Path


def sq(x: float, y: float, w: float = 10.0, h: float = 10.0) -> str:
    return f"POLYGON(({x} {y},{x + w} {y},{x + w} {y + h},{x} {y + h},{x} {y}))"


def write_layer(path: Path, wkts, epsg: int | None = 32633, name: str = "annotations") -> Path:
    from osgeo import ogr, osr

    ogr.UseExceptions()
    srs = None
    if epsg:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
    driver = "GPKG" if path.suffix == ".gpkg" else "GeoJSON"
    ds = ogr.GetDriverByName(driver).CreateDataSource(str(path))
    lyr = ds.CreateLayer(name, srs, ogr.wkbUnknown)
    lyr.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    for k, wkt in enumerate(wkts):
        f = ogr.Feature(lyr.GetLayerDefn())
        f["class"] = ("building", "tree")[k % 2]
        if wkt is not None:
            f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        lyr.CreateFeature(f)
    ds = None
    return path


def defects() -> list:
    """A 10 x 10 coverage of 10 m squares with two holes (gaps), an overlapping square, a
    copy, a bowtie and a sliver: 7 findings."""
    rows = [
        sq(i * 10, j * 10) for i in range(10) for j in range(10) if (i, j) not in ((4, 4), (5, 5))
    ]
    rows += [sq(49, 49, 3, 3), sq(0, 0), "POLYGON((200 0,210 10,210 0,200 10,200 0))"]
    rows.append(sq(300, 300, 100, 0.5))
    return rows
