"""gdalio.facts and gdalio.observe: typed facts from one open, GDAL errors as LabelGuard errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from labelguard.core.errors import FileVanished, InputError
from labelguard.gdalio import facts, observe
from osgeo import gdal, ogr, osr


def _srs(epsg: int) -> osr.SpatialReference:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs


@pytest.fixture
def gpkg(tmp_path):
    """Two layers: ``labels`` (3 squares in EPSG:32633) and ``aoi`` (no features)."""
    path = tmp_path / "labels.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    lyr = ds.CreateLayer("labels", _srs(32633), ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    for k, cls in enumerate(("tree", "tree", "water")):
        feat = ogr.Feature(lyr.GetLayerDefn())
        feat.SetField("class", cls)
        x = 500000 + 10 * k
        feat.SetGeometry(
            ogr.CreateGeometryFromWkt(f"POLYGON (({x} 0, {x + 5} 0, {x + 5} 5, {x} 5, {x} 0))")
        )
        lyr.CreateFeature(feat)
    ds.CreateLayer("aoi", _srs(32633), ogr.wkbPolygon)
    ds = None
    return path


@pytest.fixture
def tif(tmp_path):
    """A 4-band 20 x 10 GeoTIFF at 0.5 m in EPSG:32633 with an acquisition time tag."""
    path = tmp_path / "ortho.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 20, 10, 4, gdal.GDT_Byte)
    ds.SetGeoTransform((500000.0, 0.5, 0.0, 10.0, 0.0, -0.5))
    ds.SetSpatialRef(_srs(32633))
    ds.SetMetadataItem("TIFFTAG_DATETIME", "2024:05:17 10:30:00")
    for b in range(1, 5):
        ds.GetRasterBand(b).WriteArray(np.full((10, 20), b, dtype=np.uint8))
    ds.GetRasterBand(4).SetDescription("nir")
    ds = None
    return path


def test_vector_facts_of_a_named_layer(gpkg):
    f = facts.vector_facts(gpkg, "labels")
    assert (f.layer, f.layer_count, f.format, f.feature_count) == ("labels", 2, "GPKG", 3)
    assert f.geometry_type == "Polygon"
    assert [(fi.name, fi.type) for fi in f.fields] == [("class", "String")]
    assert f.extent == (500000.0, 0.0, 500025.0, 5.0)
    assert f.crs is not None
    assert f.crs.authid == "EPSG:32633"
    assert f.north_first is False


def test_empty_layer_has_no_extent(gpkg):
    f = facts.vector_facts(gpkg, "aoi")
    assert (f.feature_count, f.extent) == (0, None)


def test_raster_facts(tif):
    f = facts.raster_facts(tif)
    assert (f.width, f.height, f.band_count, f.data_type, f.nodata) == (20, 10, 4, "Byte", None)
    assert f.geotransform == (500000.0, 0.5, 0.0, 10.0, 0.0, -0.5)
    assert f.bands[3].description == "nir"
    assert f.metadata["TIFFTAG_DATETIME"] == "2024:05:17 10:30:00"


def test_raster_without_geotransform_gets_gdal_default_pixel_transform(tmp_path):
    path = tmp_path / "plain.tif"
    gdal.GetDriverByName("GTiff").Create(str(path), 4, 4, 1, gdal.GDT_UInt16)
    f = facts.raster_facts(path)
    assert f.geotransform == ()
    assert f.pixel_geotransform == (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    assert f.crs is None


def test_read_facts_tells_raster_vector_and_neither(gpkg, tif, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not geodata\n", encoding="utf-8")
    assert isinstance(facts.read_facts(tif), facts.RasterFacts)
    assert isinstance(facts.read_facts(gpkg, "labels"), facts.VectorFacts)
    assert facts.read_facts(notes) is None
    with pytest.raises(FileVanished, match=r"does not exist \(moved or deleted\?\)"):
        facts.read_facts(tmp_path / "gone.tif")


def test_gdal_failures_become_labelguard_errors(gpkg, tmp_path):
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00garbage")
    with pytest.raises(InputError, match=r"GDAL cannot open '.*broken\.tif' as a raster"):
        facts.raster_facts(broken)
    with pytest.raises(FileVanished, match="does not exist"):
        facts.vector_facts(tmp_path / "gone.gpkg")
    with pytest.raises(InputError, match="has no layer named 'roads'"):
        facts.vector_facts(gpkg, "roads")


class _CountOpens:
    def __init__(self, monkeypatch):
        self.paths: list = []
        real = gdal.OpenEx

        def spy(path, *args, **kwargs):
            self.paths.append(str(path))
            return real(path, *args, **kwargs)

        monkeypatch.setattr(gdal, "OpenEx", spy)


def test_observing_a_vector_layer_opens_it_twice_facts_and_stream(gpkg, monkeypatch):
    opens = _CountOpens(monkeypatch)
    obs = observe.observe(gpkg, "labels")
    assert opens.paths == [str(gpkg), str(gpkg)]  # was 5 before the data layer
    assert (obs.kind, obs.feature_count) == ("vector", 3)
    assert obs.crs is not None
    assert obs.crs.authid == "EPSG:32633"


def test_observing_a_raster_opens_it_twice_kind_and_pixels(tif, monkeypatch):
    opens = _CountOpens(monkeypatch)
    obs = observe.observe(tif)
    assert opens.paths == [str(tif), str(tif)]
    assert obs.kind == "raster"
    assert len(obs.content_sha256) == 64
    opens.paths.clear()
    observe.observe(tif, kind="raster")  # verify knows the kind from the manifest
    assert opens.paths == [str(tif)]


def test_describe_applies_core_policy(gpkg, tif):
    vec = observe.describe(gpkg, "labels")
    assert (vec.layer, vec.multi_layer, vec.class_field) == ("labels", True, "class")
    assert vec.class_counts == {"tree": 2, "water": 1}
    ras = observe.describe(tif)
    assert ras.extent == (500000.0, 5.0, 500010.0, 10.0)
    assert ras.acquisition_time is not None
    assert ras.acquisition_time.source == "TIFFTAG_DATETIME"
    assert ras.acquisition_time.offset_known is False


def _geojson(path, crs=None, crs_last=False, padding=0):
    """A one-point FeatureCollection; ``crs`` is the crs member, before or after the features."""
    members = [
        '"type": "FeatureCollection"',
        '"features": [{"type": "Feature", "properties": {"note": "%s"}, '
        '"geometry": {"type": "Point", "coordinates": [15.0, 45.0]}}]' % ("x" * padding),
    ]
    if crs is not None:
        member = '"crs": ' + json.dumps(crs)
        members.insert(len(members) if crs_last else 1, member)
    path.write_text("{" + ", ".join(members) + "}", encoding="utf-8")
    return path


def _name(urn):
    return {"type": "name", "properties": {"name": urn}}


@pytest.mark.parametrize(
    ("crs", "crs_last", "declared"),
    [
        (_name("urn:ogc:def:crs:EPSG::999999"), False, "urn:ogc:def:crs:EPSG::999999"),
        (_name("urn:ogc:def:crs:OGC:1.3:CRS84"), True, "urn:ogc:def:crs:OGC:1.3:CRS84"),
        ({"type": "EPSG", "properties": {"code": 32633}}, False, "EPSG:32633"),
        ({"type": "link", "properties": {"href": "http://x/crs.prj"}}, False, None),
        (None, False, None),
    ],
    ids=["name", "name-after-features", "epsg-code", "link-not-read", "none"],
)
def test_geojson_declared_crs(tmp_path, crs, crs_last, declared):
    path = _geojson(tmp_path / "a.geojson", crs, crs_last)
    assert facts.geojson_declared_crs(path) == declared


def test_geojson_declared_crs_ignores_a_text_property_named_crs(tmp_path):
    path = tmp_path / "a.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", '
        '"properties": {"crs": "EPSG:1"}, "geometry": null}]}',
        encoding="utf-8",
    )
    assert facts.geojson_declared_crs(path) is None


def test_geojson_declared_crs_searches_only_the_first_megabyte(tmp_path):
    path = _geojson(tmp_path / "a.geojson", _name("EPSG:32633"), crs_last=True, padding=1 << 20)
    assert facts.geojson_declared_crs(path) is None


def test_unknown_geojson_crs_is_reported_on_every_gdal_version(tmp_path):
    # GDAL < 3.10 fails on the unknown code; 3.10+ silently uses EPSG:4326. Both must tell.
    path = _geojson(tmp_path / "a.geojson", _name("urn:ogc:def:crs:EPSG::999999"))
    found = facts.vector_facts(path)
    assert found.crs_messages == (
        "the GeoJSON crs member 'urn:ogc:def:crs:EPSG::999999' is not a CRS PROJ can read",
    )


def test_known_geojson_crs_gives_no_message(tmp_path):
    path = _geojson(tmp_path / "a.geojson", _name("urn:ogc:def:crs:OGC:1.3:CRS84"))
    assert facts.vector_facts(path).crs_messages == ()
    assert facts.vector_facts(_geojson(tmp_path / "b.geojson")).crs_messages == ()
