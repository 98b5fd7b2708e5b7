"""Tile images keep the meaning of their bands: a 4th band is alpha only if the source says so."""

from __future__ import annotations

import numpy as np
import pytest
from labelguard.core.errors import InputError
from labelguard.core.training.dataset import TileWindow
from labelguard.gdalio.tiles import GdalTileWriter, raster_facts
from osgeo import gdal, osr

gdal.UseExceptions()
GT = (500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5)
NAMES = ("red", "green", "blue", "nir")


def _image(path, alpha=False):
    options = ["PHOTOMETRIC=RGB", f"ALPHA={'YES' if alpha else 'UNSPECIFIED'}"]
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 64, 64, 4, gdal.GDT_Byte, options)
    ds.SetGeoTransform(GT)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32631)
    ds.SetProjection(srs.ExportToWkt())
    for b in range(4):
        band = ds.GetRasterBand(b + 1)
        band.WriteArray(np.full((64, 64), 10 * (b + 1), dtype=np.uint8))
        band.SetDescription(NAMES[b])
    ds = None
    return str(path)


def _writer(path, image_format=0):
    facts = raster_facts(path)
    return GdalTileWriter(facts, facts.crs_wkt, image_format, [1, 2, 3, 4], "none", False)


TILE = TileWindow(1, "t", "train", 0, 0, 32, 32, GT)


def _bands(path):
    ds = gdal.Open(str(path))
    return [
        (
            gdal.GetColorInterpretationName(ds.GetRasterBand(i + 1).GetColorInterpretation()),
            ds.GetRasterBand(i + 1).GetDescription(),
        )
        for i in range(ds.RasterCount)
    ]


def test_nir_band_stays_a_band_with_its_description(tmp_path):
    writer = _writer(_image(tmp_path / "rgbn.tif"))
    writer.write_image(TILE, tmp_path / "tile.tif")
    assert _bands(tmp_path / "tile.tif") == [
        ("Red", "red"),
        ("Green", "green"),
        ("Blue", "blue"),
        ("Undefined", "nir"),
    ]
    described = writer.describe()
    assert (described["channels"], described["alpha"]) == (4, False)
    assert described["band_descriptions"] == list(NAMES)
    assert writer.channels == 4


def test_a_real_alpha_band_stays_alpha(tmp_path):
    writer = _writer(_image(tmp_path / "rgba.tif", alpha=True))
    writer.write_image(TILE, tmp_path / "tile.tif")
    assert [c for c, _ in _bands(tmp_path / "tile.tif")] == ["Red", "Green", "Blue", "Alpha"]
    assert writer.describe()["alpha"] is True


def test_png_refuses_to_turn_nir_into_transparency(tmp_path):
    with pytest.raises(
        InputError, match=r"PNG tiles with 4 bands store band 4 \(Undefined\) as transparency"
    ):
        _writer(_image(tmp_path / "rgbn.tif"), image_format=1)
