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


GRID_HOLES = {(9, 9), (10, 10), (9, 10)} | {(i, j) for i in range(3, 7) for j in range(12, 17)}


def border_layer(x: float = 100.0, y: float = 100.0):
    """A 20 x 20 coverage of 10 m squares with a hole wider than the halo, a null geometry, and
    defects whose locations span the lines through ``x`` and ``y`` (put them on partition
    borders): an overlap, a copy, a bowtie, a sliver below the minimum area, lines that touch
    only across the border, and two gaps."""
    holes = set(GRID_HOLES)
    i, j = int(x // 10), int(y // 10)
    holes |= {(i - 1, 2), (i, 2)}  # a 20 x 10 gap across x
    holes |= {(2, j - 1), (2, j)}  # and one across y
    rows = [sq(a * 10, b * 10) for a in range(20) for b in range(20) if (a, b) not in holes]
    rows += [sq(x - 7, y - 7, 14, 14)]  # overlaps the squares on all four sides of (x, y)
    for bx, by, dx, dy in ((x - 7, 300.0, 0, 20), (300.0, y - 7, 20, 0)):
        # One set across x (stacked up), one across y (side by side).
        rows += [sq(bx, by, 14, 14), sq(bx, by, 14, 14)]  # two copies
        ax, ay = bx + dx, by + dy
        rows.append(  # a bowtie
            f"POLYGON(({ax} {ay},{ax + 14} {ay + 14},{ax + 14} {ay},{ax} {ay + 14},{ax} {ay}))"
        )
        ax, ay = bx + 2 * dx, by + 2 * dy
        rows.append(sq(ax, ay, 14, 0.05) if dy else sq(ax, ay, 0.05, 14))  # sliver, min_area
    rows += [
        f"LINESTRING({x - 5} 550,{x + 5} 550)",  # touches the next line only across x
        f"LINESTRING({x + 5} 550,{x + 5} 560)",
        f"LINESTRING({x - 1} 570,{x + 1} 571)",  # two dangling ends
        None,  # a null geometry
    ]
    return rows
