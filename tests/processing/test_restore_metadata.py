"""labelguard:restoremetadata by id: a GeoTIFF re-saved without its tags is restored from its
sidecar, and verify no longer reports drift."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest


@pytest.fixture
def tracked(run_alg, tmp_path):
    """ortho.tif (time tag, band description, nodata) with its sidecar, in manifest v1."""
    from osgeo import gdal, osr

    root = tmp_path / "data"
    root.mkdir()
    path = root / "ortho.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 8, 6, 1, gdal.GDT_Byte)
    ds.SetGeoTransform((500000.0, 1.0, 0.0, 4000006.0, 0.0, -1.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetSpatialRef(srs)
    ds.SetMetadata({"TIFFTAG_DATETIME": "2024:05:17 10:42:00", "SENSOR": "UAV-7"})
    band = ds.GetRasterBand(1)
    band.SetDescription("panchromatic")
    band.SetNoDataValue(0)
    band.WriteArray(np.arange(1, 49, dtype=np.uint8).reshape(6, 8))
    ds = None
    run_alg("labelguard:exportsidecars", {"LAYERS": [str(path)]})
    manifest = tmp_path / "v1.json"
    run_alg("labelguard:buildmanifest", {"LAYERS": [str(path)], "OUTPUT": str(manifest)})
    return path, manifest


def _statuses(run_alg, manifest, tmp_path):
    report = tmp_path / "verify.json"
    res = run_alg(
        "labelguard:verifymanifest",
        {"MANIFEST": str(manifest), "OUTPUT": "memory:", "REPORT": str(report)},
    )
    doc = json.loads(report.read_text())
    return res["MISMATCH_COUNT"], sorted(f["rule"] for f in doc["findings"])


def _resave_without_tags(path):
    """gdal_translate keeps the pixels and the georeferencing but drops the GDAL tags (nodata,
    band description, other items; TIFFTAG_DATETIME is a TIFF tag and stays), with no
    .aux.xml: what another tool's export does."""
    tmp = path.with_name("converted.tif")
    subprocess.run(
        [
            "gdal_translate",
            "-q",
            "--config",
            "GDAL_PAM_ENABLED",
            "NO",
            "-co",
            "PROFILE=GeoTIFF",
            "-a_nodata",
            "none",
            str(path),
            str(tmp),
        ],
        check=True,
    )
    shutil.move(tmp, path)
    # Only the converted file travels on: the .aux.xml QGIS wrote for the original does not.
    path.with_name(path.name + ".aux.xml").unlink(missing_ok=True)


def test_restore_after_gdal_translate_makes_verify_pass(run_alg, tracked, tmp_path):
    path, manifest = tracked
    _resave_without_tags(path)
    assert _statuses(run_alg, manifest, tmp_path) == (1, ["modified"])
    report = tmp_path / "restore.json"

    res = run_alg(
        "labelguard:restoremetadata",
        {"INPUT": str(path), "OUTPUT": "memory:", "REPORT": str(report)},
    )

    findings = json.loads(report.read_text())["findings"]
    assert (res["CHANGED_COUNT"], res["NOT_HELD_COUNT"]) == (3, 0)
    assert [(f["field"], f["before"], f["after"], f["rule"]) for f in findings] == [
        ("raster/bands/1/nodata", "none", "0", "restored"),
        ("raster/bands/1/description", "none", "panchromatic", "restored"),
        ("metadata/SENSOR", "none", "UAV-7", "restored"),
    ]
    assert _statuses(run_alg, manifest, tmp_path) == (0, ["rewritten"])
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_metadata_drift_is_cleared(run_alg, tracked, tmp_path):
    from osgeo import gdal

    path, manifest = tracked
    gdal.SetConfigOption("GDAL_PAM_ENABLED", "NO")
    try:
        ds = gdal.Open(str(path), gdal.GA_Update)
        ds.SetMetadata({"TIFFTAG_DATETIME": "2025:01:01 00:00:00"})
        ds = None
    finally:
        gdal.SetConfigOption("GDAL_PAM_ENABLED", None)
    assert _statuses(run_alg, manifest, tmp_path) == (1, ["metadata_drift"])

    dry = run_alg("labelguard:restoremetadata", {"INPUT": str(path), "DRY_RUN": True})
    assert (dry["CHANGED_COUNT"], dry["NOT_HELD_COUNT"]) == (2, 0)
    assert _statuses(run_alg, manifest, tmp_path) == (1, ["metadata_drift"])

    res = run_alg("labelguard:restoremetadata", {"INPUT": str(path)})
    assert res["CHANGED_COUNT"] == 2
    assert _statuses(run_alg, manifest, tmp_path) == (0, ["rewritten"])


def test_other_pixels_are_refused_by_name(run_alg, tracked, tmp_path):
    from osgeo import gdal
    from qgis.core import QgsProcessingException

    path, _ = tracked
    ds = gdal.Open(str(path), gdal.GA_Update)
    ds.GetRasterBand(1).WriteArray(np.zeros((1, 1), dtype=np.uint8))
    ds = None
    data = path.read_bytes()
    with pytest.raises(QgsProcessingException, match="pixels of 'ortho.tif' no longer match"):
        run_alg("labelguard:restoremetadata", {"INPUT": str(path)})
    assert path.read_bytes() == data
