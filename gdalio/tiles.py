"""GDAL/OGR side of the training export: read image windows, write georeferenced tiles,
masks and the tile index GeoPackage."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
from osgeo import gdal, ogr, osr

from ..core.errors import InputError, LabelGuardError
from ..core.training.export import TileWindow
from ..core.training.stretch import band_layout, check_output_depth, stretch_limits, to_byte
from .facts import RasterFacts
from .facts import raster_facts as read_raster_facts

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

IMAGE_FORMATS = (("GTiff", ".tif"), ("PNG", ".png"), ("JPEG", ".jpg"))
SAMPLE_PIXELS = 1024  # longest side of the decimated read used for percentile limits


def raster_facts(path: str) -> RasterFacts:
    """Facts of the export's source raster, with the parameter named in the error."""
    try:
        return read_raster_facts(path)
    except LabelGuardError as exc:
        raise InputError(f"RASTER '{path}' cannot be opened with GDAL: {exc}") from exc


class GdalTileWriter:
    """Writes image tiles (GeoTIFF, or PNG/JPEG + world file + .aux.xml), class masks and the
    tile index. Converts to 8-bit only when a stretch is set explicitly."""

    def __init__(
        self,
        facts: RasterFacts,
        crs_wkt: str,
        image_format: int,
        bands: Sequence[int],
        stretch: str,
        bands_given: bool,
    ) -> None:
        self._facts = facts
        self._wkt = crs_wkt
        self._driver, self.image_ext = IMAGE_FORMATS[image_format]
        self.mask_ext = ".tif" if self._driver == "GTiff" else ".png"
        self._bands = list(bands)
        self._stretch = stretch
        check_output_depth(self._driver, facts.data_type, len(self._bands), stretch, bands_given)
        chosen = [facts.bands[b - 1] for b in self._bands]
        self._colors = [b.color or "Undefined" for b in chosen]
        self._descriptions = [b.description or "" for b in chosen]
        self._layout = band_layout(self._driver, self._colors, self._bands)
        self.channels = len(self._bands)
        self._src = gdal.Open(facts.path)
        self._limits: List[Tuple[float, float]] = []
        if stretch != "none":
            self._limits = [self._band_limits(b) for b in self._bands]
        self._out_type = (
            gdal.GDT_Byte if stretch != "none" else self._src.GetRasterBand(self._bands[0]).DataType
        )

    def _band_limits(self, band_no: int) -> Tuple[float, float]:
        band = self._src.GetRasterBand(band_no)
        scale = max(1.0, max(self._facts.width, self._facts.height) / SAMPLE_PIXELS)
        bw = max(1, int(self._facts.width / scale))
        bh = max(1, int(self._facts.height / scale))
        sample = band.ReadAsArray(0, 0, self._facts.width, self._facts.height, bw, bh)
        return stretch_limits(sample, self._stretch, band.GetNoDataValue())

    def describe(self) -> Dict[str, Any]:
        return {
            "format": self._driver,
            "bands": self._bands,
            "source_data_type": self._facts.data_type,
            "data_type": gdal.GetDataTypeName(self._out_type),
            "stretch": self._stretch,
            "stretch_limits": [[round(lo, 6), round(hi, 6)] for lo, hi in self._limits],
            "nodata": self._facts.nodata,
            "channels": self.channels,
            "color_interpretation": self._colors,
            "band_descriptions": self._descriptions,
            "alpha": self._layout["alpha"],
        }

    def _read(self, tile: TileWindow) -> np.ndarray:
        arr = self._src.ReadAsArray(
            tile.col_off, tile.row_off, tile.width, tile.height, band_list=self._bands
        )
        arr = arr.reshape(len(self._bands), tile.height, tile.width)
        return to_byte(arr, self._limits) if self._limits else arr

    def _write(
        self,
        path: Path,
        arr: np.ndarray,
        gt: Sequence[float],
        gdal_type: int,
        driver: str,
        nodata: float | None,
        image: bool = True,
    ) -> None:
        n, h, w = arr.shape
        if driver == "GTiff":
            options = ["COMPRESS=DEFLATE", "ZLEVEL=1"]
            if image:  # GDAL's default makes a 4th Byte band alpha: say what the bands are
                options += [
                    f"PHOTOMETRIC={self._layout['photometric']}",
                    f"ALPHA={'YES' if self._layout['alpha'] else 'UNSPECIFIED'}",
                ]
            ds = gdal.GetDriverByName("GTiff").Create(
                str(path), w, h, n, gdal_type, options=options
            )
            target = ds
        else:
            target = gdal.GetDriverByName("MEM").Create("", w, h, n, gdal_type)
        target.SetGeoTransform(list(gt))
        target.SetProjection(self._wkt)
        for b in range(n):
            band = target.GetRasterBand(b + 1)
            band.WriteArray(arr[b])
            if image and self._descriptions[b]:
                band.SetDescription(self._descriptions[b])
            if nodata is not None:
                band.SetNoDataValue(nodata)
        if driver != "GTiff":
            options = ["WORLDFILE=YES"] + (["QUALITY=95"] if driver == "JPEG" else [])
            # PNG/JPEG cannot hold a CRS: GDAL's PAM writes it to <tile>.aux.xml, the world
            # file holds the transform; GDAL reads both back on open.
            out = gdal.GetDriverByName(driver).CreateCopy(str(path), target, options=options)
            out.FlushCache()
            out = None
        target = None
        ds = None  # noqa: F841 (closes the GeoTIFF)

    def write_image(self, tile: TileWindow, path: Path) -> None:
        nodata = None if self._limits else self._facts.nodata
        self._write(path, self._read(tile), tile.geotransform, self._out_type, self._driver, nodata)

    def write_mask(self, tile: TileWindow, mask: np.ndarray, path: Path) -> None:
        gdal_type = gdal.GDT_Byte if mask.dtype == np.uint8 else gdal.GDT_UInt16
        driver = "GTiff" if self._driver == "GTiff" else "PNG"
        self._write(path, mask[None], tile.geotransform, gdal_type, driver, None, image=False)

    def write_index(self, path: Path, tiles: Sequence[TileWindow], wkts: Sequence[str]) -> None:
        write_tile_index(path, tiles, wkts, self._wkt, self.image_ext)


def write_tile_index(
    path: Path, tiles: Sequence[TileWindow], wkts: Sequence[str], crs_wkt: str, ext: str
) -> None:
    """GeoPackage layer ``tiles``: one footprint polygon per tile with its name and split."""
    # A fixed gpkg_contents timestamp keeps the file byte-identical between identical runs.
    previous = gdal.GetConfigOption("OGR_CURRENT_DATE")
    gdal.SetConfigOption("OGR_CURRENT_DATE", "2000-01-01T00:00:00.000Z")
    try:
        _write_tile_index(path, tiles, wkts, crs_wkt, ext)
    finally:
        gdal.SetConfigOption("OGR_CURRENT_DATE", previous)


def _write_tile_index(
    path: Path, tiles: Sequence[TileWindow], wkts: Sequence[str], crs_wkt: str, ext: str
) -> None:
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs_wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lyr = ds.CreateLayer("tiles", srs, ogr.wkbPolygon)
    for name, kind in (
        ("image_id", ogr.OFTInteger),
        ("name", ogr.OFTString),
        ("split", ogr.OFTString),
        ("image", ogr.OFTString),
        ("col_off", ogr.OFTInteger),
        ("row_off", ogr.OFTInteger),
        ("width", ogr.OFTInteger),
        ("height", ogr.OFTInteger),
    ):
        lyr.CreateField(ogr.FieldDefn(name, kind))
    defn = lyr.GetLayerDefn()
    lyr.StartTransaction()
    for tile, wkt in zip(tiles, wkts):  # one row per tile, inside one transaction
        feat = ogr.Feature(defn)
        feat.SetField("image_id", tile.image_id)
        feat.SetField("name", tile.name)
        feat.SetField("split", tile.split)
        feat.SetField("image", f"images/{tile.split}/{tile.name}{ext}")
        feat.SetField("col_off", tile.col_off)
        feat.SetField("row_off", tile.row_off)
        feat.SetField("width", tile.width)
        feat.SetField("height", tile.height)
        feat.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        lyr.CreateFeature(feat)
    lyr.CommitTransaction()
    ds = None  # noqa: F841 (closes and flushes the GeoPackage)
