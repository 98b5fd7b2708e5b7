"""GeoArrow in OGR's Arrow stream: what GDAL gives when asked for coordinates, and that asking
changes no fid, no WKB byte and no topology finding, on every geometry kind a label layer has.

On GDAL < 3.8 (Debian 12) these tests check that WKB is chosen for that reason; on GDAL >= 3.8
(Debian 13, sid) they compare the streams for real, and fail the day GDAL starts to give
coordinates for these drivers, so that a GeoArrow reader gets written against real output.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from labelguard.core.topology import check_topology_batches
from labelguard.gdalio import vector as vector_io
from labelguard.gdalio.topology_inputs import read_layer
from labelguard.gdalio.vector import GeometryEncoding, open_vector, read_ogr
from osgeo import gdal, ogr, osr

HOLED = "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 2 4, 4 4, 4 2, 2 2), (6 6, 6 7, 7 7, 6 6))"
LAYERS = {
    "polygons": (
        ogr.wkbPolygon,
        [HOLED, None, "POLYGON EMPTY", "POLYGON ((20 0, 21 0, 21 1, 20 0))"],
    ),
    "multipolygons": (
        ogr.wkbMultiPolygon,
        [f"MULTIPOLYGON ({HOLED[7:]}, ((20 0, 21 0, 21 1, 20 0)))", "MULTIPOLYGON EMPTY", None],
    ),
    "lines": (ogr.wkbLineString, ["LINESTRING (0 0, 1 1, 2 0)", "LINESTRING EMPTY", None]),
    "multilines": (
        ogr.wkbMultiLineString,
        ["MULTILINESTRING ((0 0, 1 1), (2 2, 3 3, 4 2))", None, "MULTILINESTRING EMPTY"],
    ),
    "points": (ogr.wkbPoint, ["POINT (1 2)", None, "POINT EMPTY", "POINT (-3.5 1e7)"]),
    "degenerate": (
        ogr.wkbPolygon,
        ["POLYGON ((7 3))", "POLYGON ((7 3, 7 3))", "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))"],
    ),
    "degenerate-multi": (
        ogr.wkbMultiPolygon,
        ["MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((7 3)))", "MULTIPOLYGON (((5 5, 6 5, 6 6, 5 5)))"],
    ),
    "3d": (
        ogr.wkbPolygon25D,
        [
            "POLYGON Z ((0 0 1, 1 0 1, 1 1 2, 0 0 1))",
            None,
            "POLYGON Z ((5 5 0, 6 5 0, 6 6 0, 5 5 0))",
        ],
    ),
    "mixed": (ogr.wkbUnknown, [HOLED, "LINESTRING (0 0, 1 1)", "POINT (1 2)", None]),
}
NEW_GDAL = vector_io.GDAL_VERSION_NUM >= vector_io.GEOARROW_MIN_VERSION_NUM


@contextlib.contextmanager
def _quiet():  # a MultiPolygon in a Polygon layer warns; it is the point here
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        yield
    finally:
        gdal.PopErrorHandler()


def _write(path, gtype, wkts, driver="GPKG"):
    ds = ogr.GetDriverByName(driver).CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(3857)
    lyr = ds.CreateLayer("labels", srs, gtype, ["SPATIAL_INDEX=NO"] if driver == "GPKG" else [])
    for wkt in wkts:
        feat = ogr.Feature(lyr.GetLayerDefn())
        if wkt is not None:
            feat.SetGeometryDirectly(ogr.CreateGeometryFromWkt(wkt))
        lyr.CreateFeature(feat)
    ds = None
    return path


@pytest.fixture(params=sorted(LAYERS), ids=sorted(LAYERS))
def label_gpkg(request, tmp_path):
    gtype, wkts = LAYERS[request.param]
    with _quiet():
        path = _write(tmp_path / f"{request.param}.gpkg", gtype, wkts)
    return request.param, path


def _stream(path, options):
    """(fids, WKB bytes or None) straight from GDAL's numpy Arrow stream with ``options``."""
    ds, lyr = open_vector(str(path))
    fid_col, geom_col = lyr.GetFIDColumn() or "OGC_FID", lyr.GetGeometryColumn() or "wkb_geometry"
    fids, wkbs = [], []
    for batch in lyr.GetArrowStreamAsNumPy(options=["INCLUDE_FID=YES", *options]):
        fids += np.asarray(batch[fid_col]).tolist()
        geoms = batch[geom_col]
        mask = np.ma.getmaskarray(geoms).tolist()
        wkbs += [None if m else bytes(v) for v, m in zip(np.ma.getdata(geoms).tolist(), mask)]
    del lyr, ds
    return fids, wkbs


def _iterator(path):
    """(fids, ISO WKB or None) from OGR's feature iterator, the reference."""
    batches = list(read_ogr(str(path), use_arrow=False))
    return (
        [f for b in batches for f in b.fids.tolist()],
        [w for b in batches for w in b.wkb.tolist()],
    )


def test_the_stream_gives_wkb_and_says_why(label_gpkg):
    name, path = label_gpkg
    ds, lyr = open_vector(str(path))
    found = vector_io.stream_geometry_encoding(lyr)
    del lyr, ds
    assert not found.coordinates
    if not NEW_GDAL:
        assert found == GeometryEncoding("wkb", f"GDAL {gdal.__version__} < 3.8 streams WKB only")
    elif name == "3d":
        assert found.reason == "layer type 3D Polygon: Z/M coordinates are read as WKB"
    elif name == "mixed":
        assert found.reason == "layer type Unknown (any) has no GeoArrow reading here"
    else:  # asked for coordinates of a 2D single-type layer: GDAL gives WKB all the same
        assert found.reason == (
            f"GDAL {gdal.__version__} GPKG stream ignores GEOMETRY_ENCODING=GEOARROW: ogc.wkb (WKB)"
        )


def test_asking_for_geoarrow_changes_no_byte(label_gpkg):
    name, path = label_gpkg
    reference = _iterator(path)
    assert len(reference[0]) == len(LAYERS[name][1])
    assert _stream(path, []) == reference
    assert _stream(path, ["GEOMETRY_ENCODING=GEOARROW"]) == reference
    assert _stream(path, vector_io._stream_options(2)[1:]) == reference  # what read_ogr asks


@pytest.mark.parametrize(
    ("driver", "ext"), [("FlatGeobuf", "fgb"), ("ESRI Shapefile", "shp"), ("GeoJSON", "geojson")]
)
@pytest.mark.parametrize("name", ["polygons", "multipolygons", "lines", "points"])
def test_other_drivers_stream_the_same_wkb_whatever_is_asked(tmp_path, driver, ext, name):
    gtype, wkts = LAYERS[name]
    if driver == "FlatGeobuf":  # which nulls and empties it writes depends on the GDAL version
        wkts = [w for w in wkts if w and "EMPTY" not in w]
    with _quiet():
        path = _write(tmp_path / f"{name}.{ext}", gtype, wkts, driver)
    reference = _iterator(path)
    assert len(reference[0]) == len(wkts)
    assert _stream(path, ["GEOMETRY_ENCODING=GEOARROW"]) == reference
    assert _stream(path, vector_io._stream_options(2)[1:]) == reference
    ds, lyr = open_vector(str(path))
    found = vector_io.stream_geometry_encoding(lyr)
    del lyr, ds
    assert not found.coordinates
    assert found.reason.endswith("< 3.8 streams WKB only" if not NEW_GDAL else ": ogc.wkb (WKB)")


def test_stream_options_ask_for_wkb_where_gdal_could_give_coordinates():
    opts = vector_io._stream_options(5)
    assert opts[:2] == ["MAX_FEATURES_IN_BATCH=5", "INCLUDE_FID=YES"]
    assert ("GEOMETRY_ENCODING=WKB" in opts) is NEW_GDAL
    assert len(opts) == 2 + NEW_GDAL


def test_read_layer_and_topology_equal_the_feature_iterator(label_gpkg):
    _, path = label_gpkg
    fids, wkbs = _iterator(path)
    inp = read_layer(str(path))
    assert [f for b, _ in inp.batches for f in b.tolist()] == fids
    assert [w for _, a in inp.batches for w in a.to_objects().tolist()] == wkbs
    rules = ("invalid", "empty", "duplicate", "multipart")
    via_stream = check_topology_batches(iter(inp.batches), rules)
    via_iterator = check_topology_batches(
        [(b.fids, b.wkb) for b in read_ogr(str(path), use_arrow=False, packed_wkb=True)], rules
    )
    assert [f.to_dict() for f in via_stream.findings] == [
        f.to_dict() for f in via_iterator.findings
    ]
    assert via_stream.checked == via_iterator.checked == len(fids)


@pytest.mark.parametrize("name", ["degenerate", "degenerate-multi"])
def test_degenerate_rings_read_from_a_file_are_invalid_at_their_first_point(tmp_path, name):
    gtype, wkts = LAYERS[name]
    with _quiet():
        path = _write(tmp_path / "d.gpkg", gtype, wkts)
    result = check_topology_batches(iter(read_layer(str(path)).batches), ("invalid",))
    located = [(f.rule, f.fid, f.wkt) for f in result.findings]
    if name == "degenerate":
        assert located == [("invalid", 1, "POINT (7 3)"), ("invalid", 2, "POINT (7 3)")]
    else:  # the first coordinate of the whole geometry, as for a blob GEOS cannot read
        assert located == [("invalid", 1, "POINT (0 0)")]
