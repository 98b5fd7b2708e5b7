"""gdalio.restore: metadata written back into a file after gdal_translate lost it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from labelguard.core.errors import ContentMismatch
from labelguard.core.restore import NOT_HELD, RESTORED
from labelguard.core.sidecar import build_sidecar, write_sidecar
from labelguard.gdalio.observe import describe
from labelguard.gdalio.restore import restore_metadata
from osgeo import gdal, ogr, osr

# What a sidecar records about a file besides its name and format.
FACTS = ("crs", "extent", "raster", "vector", "content", "acquisition_time", "metadata")


def _srs(epsg: int) -> osr.SpatialReference:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs


def _facts(path: Path) -> dict:
    doc = build_sidecar(describe(path), "test")
    return {k: doc.get(k) for k in FACTS}


def _translate(*args: str) -> None:
    # PAM off: the side file that would keep what the format drops is lost too, as it is when
    # only the converted file is copied on.
    subprocess.run(
        ["gdal_translate", "-q", "--config", "GDAL_PAM_ENABLED", "NO", *args], check=True
    )


@pytest.fixture
def original(tmp_path):
    """A 3-band 16 x 12 GeoTIFF in EPSG:32633 with nodata, band colours and descriptions, a
    time tag and a custom item, and its sidecar."""
    path = tmp_path / "ortho.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 16, 12, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((500000.0, 0.5, 0.0, 4000006.0, 0.0, -0.5))
    ds.SetSpatialRef(_srs(32633))
    ds.SetMetadata({"TIFFTAG_DATETIME": "2024:05:17 10:42:00", "SENSOR": "UAV-7"})
    rng = np.random.default_rng(3)
    for i, (color, name) in enumerate(
        ((gdal.GCI_RedBand, "red"), (gdal.GCI_GreenBand, "green"), (gdal.GCI_BlueBand, "blue"))
    ):
        band = ds.GetRasterBand(i + 1)
        band.SetColorInterpretation(color)
        band.SetDescription(name)
        band.SetNoDataValue(0)
        band.WriteArray(rng.integers(1, 255, (12, 16), dtype=np.uint8))
    ds = None
    side = tmp_path / "ortho.tif.labelguard.yaml"
    write_sidecar(side, build_sidecar(describe(path), "test"))
    return path, side


def test_geotiff_without_tags_is_restored_in_the_file(original, tmp_path):
    path, side = original
    copy = tmp_path / "copy.tif"
    _translate("-co", "PROFILE=BASELINE", str(path), str(copy))
    before = _facts(copy)
    assert before["crs"] is None
    assert before["metadata"] == {"TIFFTAG_DATETIME": "2024:05:17 10:42:00"}

    result = restore_metadata(copy, side)

    assert result.written is True
    assert result.aux_xml is None
    assert [(c.field, c.status) for c in result.changes] == [
        ("crs", RESTORED),
        ("raster/geotransform", RESTORED),
        ("raster/bands/1/nodata", RESTORED),
        ("raster/bands/1/description", RESTORED),
        ("raster/bands/2/nodata", RESTORED),
        ("raster/bands/2/description", RESTORED),
        ("raster/bands/3/nodata", RESTORED),
        ("raster/bands/3/description", RESTORED),
        ("metadata/AREA_OR_POINT", RESTORED),
        ("metadata/SENSOR", RESTORED),
    ]
    assert (result.changes[0].before, result.changes[0].after) == ("none", "EPSG:32633")
    assert _facts(copy) == _facts(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "copy.tif",
        "ortho.tif",
        "ortho.tif.labelguard.yaml",
    ]


def test_dry_run_lists_the_changes_and_writes_nothing(original, tmp_path):
    path, side = original
    copy = tmp_path / "copy.tif"
    _translate("-co", "PROFILE=BASELINE", str(path), str(copy))
    data = copy.read_bytes()

    result = restore_metadata(copy, side, dry_run=True)

    assert result.written is False
    assert len(result.changes) == 10
    assert {c.status for c in result.changes} == {"planned"}
    assert copy.read_bytes() == data


def test_png_with_world_file_keeps_what_png_holds(original, tmp_path):
    path, side = original
    png = tmp_path / "ortho.png"
    _translate("-of", "PNG", "-co", "WORLDFILE=YES", str(path), str(png))
    wld = (tmp_path / "ortho.wld").read_bytes()

    result = restore_metadata(png, side)

    statuses = {c.field: c.status for c in result.changes}
    # PNG holds text items (tEXt) and nodata (tRNS, kept by gdal_translate already); not the
    # CRS, band descriptions or AREA_OR_POINT, and it adds NODATA_VALUES itself.
    assert statuses == {
        "crs": NOT_HELD,
        "raster/bands/1/description": NOT_HELD,
        "raster/bands/2/description": NOT_HELD,
        "raster/bands/3/description": NOT_HELD,
        "metadata/AREA_OR_POINT": NOT_HELD,
        "metadata/NODATA_VALUES": NOT_HELD,
        "metadata/SENSOR": RESTORED,
        "metadata/TIFFTAG_DATETIME": RESTORED,
    }
    assert result.not_held == 6
    assert [c.message for c in result.changes if c.field == "metadata/NODATA_VALUES"] == [
        "PNG writes this item itself; it stays 0 0 0."
    ]
    assert (tmp_path / "ortho.wld").read_bytes() == wld
    assert not (tmp_path / "ortho.png.aux.xml").exists()
    assert _facts(png)["acquisition_time"] == _facts(path)["acquisition_time"]


def test_png_with_aux_xml_gets_every_field(original, tmp_path):
    path, side = original
    png = tmp_path / "ortho.png"
    _translate("-of", "PNG", "-co", "WORLDFILE=YES", str(path), str(png))

    result = restore_metadata(png, side, write_aux=True)

    assert result.aux_xml == tmp_path / "ortho.png.aux.xml"
    assert [c.field for c in result.changes if c.status == NOT_HELD] == ["metadata/NODATA_VALUES"]
    restored, want = _facts(png), _facts(path)
    assert restored["metadata"] == {**want["metadata"], "NODATA_VALUES": "0 0 0"}
    assert {**restored, "metadata": None} == {**want, "metadata": None}


def test_jpeg_is_refused_because_its_pixels_changed(original, tmp_path):
    path, side = original
    jpg = tmp_path / "ortho.jpg"
    _translate("-of", "JPEG", "-co", "WORLDFILE=YES", str(path), str(jpg))
    data = jpg.read_bytes()

    with pytest.raises(ContentMismatch, match="pixels of 'ortho.jpg' no longer match"):
        restore_metadata(jpg, side)
    assert jpg.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ortho.jpg",
        "ortho.tif",
        "ortho.tif.labelguard.yaml",
        "ortho.wld",
    ]


def test_edited_pixels_are_refused(original, tmp_path):
    path, side = original
    copy = tmp_path / "copy.tif"
    _translate("-co", "PROFILE=BASELINE", str(path), str(copy))
    ds = gdal.Open(str(copy), gdal.GA_Update)
    ds.GetRasterBand(1).WriteArray(np.full((1, 1), 7, dtype=np.uint8), 0, 0)
    ds = None

    with pytest.raises(ContentMismatch):
        restore_metadata(copy, side)


def test_geojson_without_crs_gets_the_gpkg_crs_back(tmp_path):
    gpkg = tmp_path / "labels.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(gpkg))
    lyr = ds.CreateLayer("labels", _srs(32633), ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    for k in range(3):
        feat = ogr.Feature(lyr.GetLayerDefn())
        feat.SetField("class", "tree")
        x = 500000 + 10 * k
        feat.SetGeometry(ogr.CreateGeometryFromWkt(f"POLYGON (({x} 0,{x + 5} 0,{x} 5,{x} 0))"))
        lyr.CreateFeature(feat)
    ds = None
    side = tmp_path / "labels.gpkg.labelguard.yaml"
    write_sidecar(side, build_sidecar(describe(gpkg), "test"))
    geojson = tmp_path / "labels.geojson"
    subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(geojson), str(gpkg)], check=True)
    # A web tool writes RFC 7946 without reprojecting: the "crs" member is gone.
    doc = json.loads(geojson.read_text())
    del doc["crs"]
    geojson.write_text(json.dumps(doc))

    result = restore_metadata(geojson, side)

    assert [(c.field, c.before, c.after, c.status) for c in result.changes] == [
        ("crs", "EPSG:4326", "EPSG:32633", RESTORED)
    ]
    assert _facts(geojson)["crs"] == _facts(gpkg)["crs"]
    assert _facts(geojson)["content"] == _facts(gpkg)["content"]
