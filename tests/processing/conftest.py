"""Registers the LabelGuard provider once, on top of pytest-qgis's qgis_processing fixture."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import numpy as np
from osgeo import gdal, ogr, osr

gdal.UseExceptions()

ROOT = Path(__file__).resolve().parents[2]
QGIS_PROCESS = os.environ.get("QGIS_PROCESS", "/usr/bin/qgis_process.bin")


@pytest.fixture(scope="session")
def labelguard_provider(qgis_processing):
    from qgis.core import QgsApplication

    from labelguard.processing_provider.provider import LabelGuardProvider

    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("labelguard")
    if provider is None:
        provider = LabelGuardProvider()
        assert registry.addProvider(provider)
    return provider


@pytest.fixture()
def run_alg(labelguard_provider):
    """Runs a LabelGuard algorithm by id; returns (results, context)."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    def _run(alg_id, params, feedback=None):
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        fb = feedback or QgsProcessingFeedback()
        results = processing.run(alg_id, params, context=context, feedback=fb)
        return results

    return _run


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory):
    """A folder holding the checkout as ``labelguard/``, for QGIS_PLUGINPATH."""
    base = tmp_path_factory.mktemp("plugins")
    (base / "labelguard").symlink_to(ROOT, target_is_directory=True)
    return base


@pytest.fixture(scope="session")
def qgis_process(plugin_dir, tmp_path_factory):
    """Runs qgis_process.bin with LabelGuard enabled in a throwaway profile."""
    if not shutil.which(QGIS_PROCESS) and not Path(QGIS_PROCESS).exists():
        pytest.fail(f"{QGIS_PROCESS} not found; run tools/bootstrap.sh")
    home = tmp_path_factory.mktemp("home")
    env = dict(os.environ)
    env.update(
        QGIS_PLUGINPATH=str(plugin_dir),
        HOME=str(home),
        XDG_RUNTIME_DIR=str(home),
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=os.pathsep.join(p for p in sys.path if "site-packages" in p),
    )
    enable = subprocess.run(
        [QGIS_PROCESS, "plugins", "enable", "labelguard"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert enable.returncode == 0, enable.stderr + enable.stdout

    def _run(*args, timeout=300):
        return subprocess.run(
            [QGIS_PROCESS, *map(str, args)], env=env, capture_output=True, text=True,
            timeout=timeout,
        )

    return _run


POLYS = [
    (1, "building", "POLYGON((500010 5000010,500030 5000010,500030 5000030,500010 5000030,500010 5000010))"),
    (2, "tree", "POLYGON((500040 5000040,500050 5000040,500045 5000055,500040 5000040))"),
    (3, "water", "POLYGON((500060 5000010,500090 5000010,500090 5000030,500060 5000030,500060 5000010))"),
]


def _srs(epsg):
    s = osr.SpatialReference()
    s.ImportFromEPSG(epsg)
    return s


def write_vector(path: Path, rows=None, driver="GPKG", epsg=32633):
    rows = POLYS if rows is None else rows
    ds = ogr.GetDriverByName(driver).CreateDataSource(str(path))
    lyr = ds.CreateLayer("annotations", _srs(epsg), ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn("id", ogr.OFTInteger))
    lyr.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    for fid, cls, wkt in rows:
        f = ogr.Feature(lyr.GetLayerDefn())
        f["id"], f["class"] = fid, cls
        f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        lyr.CreateFeature(f)
    ds = None
    return path


def write_raster(path: Path, epsg=32633, when="2024:05:17 10:42:00"):
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 100, 80, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((500000, 1, 0, 5000080, 0, -1))
    if epsg:
        ds.SetProjection(_srs(epsg).ExportToWkt())
    ds.SetMetadataItem("TIFFTAG_DATETIME", when)
    for b in range(1, 4):
        ds.GetRasterBand(b).WriteArray(np.full((80, 100), 40 * b, dtype=np.uint8))
    ds = None
    return path




class _Gis:
    POLYS = POLYS
    write_raster = staticmethod(write_raster)
    write_vector = staticmethod(write_vector)


@pytest.fixture()
def gis():
    """Writers for tiny GeoTIFF / GeoPackage / GeoJSON fixtures (UTM 33N by default)."""
    return _Gis
