"""labelguard:checkcrs run by id through Processing on tiny GDAL/OGR files in tmp_path."""

from __future__ import annotations

import json

import pytest
from osgeo import gdal, ogr, osr

ALG = "labelguard:checkcrs"
# The raster of the gis fixture: 100 x 80 m in UTM 33N at (500000, 5000000), lon ~15, lat ~45.
LONLAT_POLY = "POLYGON((15.0001 45.1535,15.0005 45.1535,15.0005 45.1538,15.0001 45.1535))"
LATLON_POLY = "POLYGON((45.1535 15.0001,45.1535 15.0005,45.1538 15.0005,45.1535 15.0001))"


def _run(run_alg, tmp_path, layers, **params):
    params = {
        "LAYERS": [str(p) if not hasattr(p, "id") else p for p in layers],
        "OUTPUT": str(tmp_path / "issues.gpkg"),
        "REPORT": str(tmp_path / "report.json"),
        **params,
    }
    return run_alg(ALG, params)


def _rows(tmp_path):
    ds = ogr.Open(str(tmp_path / "issues.gpkg"))
    lyr = ds.GetLayer(0)
    rows = [(f["layer"], f["rule"], f["severity"]) for f in lyr]
    ds = None
    return rows


def _report(tmp_path):
    return json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))


def _geojson(path, wkt, crs_name=None):
    geometry = json.loads(ogr.CreateGeometryFromWkt(wkt).ExportToJson())
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"class": "building"}, "geometry": geometry}
        ],
    }
    if crs_name:
        doc["crs"] = {"type": "name", "properties": {"name": crs_name}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def dataset(tmp_path, gis):
    root = tmp_path / "ds"
    root.mkdir()
    return {
        "root": root,
        "tif": gis.write_raster(root / "ortho.tif"),
        "gpkg": gis.write_vector(root / "labels.gpkg"),
    }


def test_clean_mixed_raster_and_vector_dataset_reports_nothing(run_alg, tmp_path, dataset):
    res = _run(
        run_alg,
        tmp_path,
        [dataset["tif"], dataset["gpkg"]],
        EXPECTED_CRS="EPSG:32633",
        REQUIRE_PROJECTED=True,
        FAIL_ON_ERROR=True,
    )
    assert (res["ISSUE_COUNT"], res["ERROR_COUNT"], res["CHECKED_COUNT"]) == (0, 0, 2)
    assert res["REPORT"] == str(tmp_path / "report.json")
    assert _rows(tmp_path) == []
    report = _report(tmp_path)
    assert (report["schema"], report["tool"], report["total"]) == (
        "labelguard.report/1",
        "labelguard:checkcrs",
        0,
    )
    assert [(lyr["kind"], lyr["crs"]) for lyr in report["layers"]] == [
        ("raster", "EPSG:32633 (WGS 84 / UTM zone 33N)"),
        ("vector", "EPSG:32633 (WGS 84 / UTM zone 33N)"),
    ]


def test_report_is_optional_and_counts_always_present(run_alg, tmp_path, dataset):
    res = run_alg(ALG, {"LAYERS": [str(dataset["tif"])], "OUTPUT": "TEMPORARY_OUTPUT"})
    assert res["REPORT"] is None
    assert (res["ISSUE_COUNT"], res["ERROR_COUNT"], res["CHECKED_COUNT"]) == (0, 0, 1)
    assert res["OUTPUT"]


def test_missing_crs_is_read_from_the_file_not_from_qgis(run_alg, tmp_path, dataset, gis):
    from qgis.core import QgsCoordinateReferenceSystem, QgsRasterLayer

    bare = gis.write_raster(dataset["root"] / "bare.tif", epsg=None)
    layer = QgsRasterLayer(str(bare), "bare")
    # What QGIS does to a file without CRS when it loads it in the desktop: assume one.
    layer.setCrs(QgsCoordinateReferenceSystem("EPSG:32633"))
    assert layer.crs().authid() == "EPSG:32633"
    res = _run(run_alg, tmp_path, [layer, dataset["gpkg"]])
    assert res["ISSUE_COUNT"] == 1
    assert _rows(tmp_path) == [("bare", "missing_crs", "error")]
    finding = _report(tmp_path)["findings"][0]
    assert finding["message"] == (
        "Layer 'bare' has no CRS in its data source, so QGIS would silently assume one. "
        "Assign the correct CRS to the file."
    )
    assert finding["source"] == str(bare)


def test_missing_crs_clean_twin(run_alg, tmp_path, dataset):
    from qgis.core import QgsRasterLayer

    layer = QgsRasterLayer(str(dataset["tif"]), "ortho")
    assert _run(run_alg, tmp_path, [layer])["ISSUE_COUNT"] == 0


def test_invalid_crs_that_gdal_replaced_silently(run_alg, tmp_path, dataset):
    from qgis.core import QgsVectorLayer

    path = _geojson(dataset["root"] / "labels.geojson", LONLAT_POLY, "urn:ogc:def:crs:EPSG::999999")
    layer = QgsVectorLayer(str(path), "labels", "ogr")
    assert layer.crs().authid() == "EPSG:4326"  # GDAL fell back to WGS 84 without a word
    res = _run(run_alg, tmp_path, [layer])
    assert res["ISSUE_COUNT"] == 1
    finding = _report(tmp_path)["findings"][0]
    assert (finding["rule"], finding["found"]) == (
        "invalid_crs",
        "GDAL: the GeoJSON crs member 'urn:ogc:def:crs:EPSG::999999' is not a CRS PROJ can read",
    )


def test_invalid_crs_in_a_shapefile_prj(run_alg, tmp_path, dataset, gis):
    shp = gis.write_vector(dataset["root"] / "labels.shp", driver="ESRI Shapefile")
    shp.with_suffix(".prj").write_text('PROJCS["bogus", GARBAGE', encoding="utf-8")
    res = _run(run_alg, tmp_path, [shp])
    assert res["ISSUE_COUNT"] == 1
    finding = _report(tmp_path)["findings"][0]
    assert finding["rule"] == "invalid_crs"
    assert finding["found"].startswith("labels.prj says 'PROJCS[\"bogus\", GARBAGE'; GDAL: ")


def test_invalid_crs_clean_twin_geojson_with_a_known_crs(run_alg, tmp_path, dataset):
    path = _geojson(
        dataset["root"] / "labels.geojson", LONLAT_POLY, "urn:ogc:def:crs:OGC:1.3:CRS84"
    )
    assert _run(run_alg, tmp_path, [path])["ISSUE_COUNT"] == 0


def test_unexpected_crs_and_its_clean_twin(run_alg, tmp_path, dataset):
    res = _run(run_alg, tmp_path, [dataset["tif"], dataset["gpkg"]], EXPECTED_CRS="EPSG:32632")
    assert res["ISSUE_COUNT"] == 2
    assert _rows(tmp_path) == [
        ("ortho", "unexpected_crs", "error"),
        ("labels", "unexpected_crs", "error"),
    ]
    res = _run(run_alg, tmp_path, [dataset["tif"], dataset["gpkg"]], EXPECTED_CRS="EPSG:32633")
    assert res["ISSUE_COUNT"] == 0


def test_mixed_crs_across_raster_and_vector(run_alg, tmp_path, dataset, gis):
    lonlat = gis.write_vector(
        dataset["root"] / "lonlat.gpkg", epsg=4326, rows=[(1, "building", LONLAT_POLY)]
    )
    res = _run(run_alg, tmp_path, [dataset["tif"], dataset["gpkg"], lonlat])
    assert res["ISSUE_COUNT"] == 1
    finding = _report(tmp_path)["findings"][0]
    assert finding["rule"] == "mixed_crs"
    assert finding["message"] == (
        "Layer 'lonlat' is in EPSG:4326 (WGS 84) but 'ortho' and 'labels' are in EPSG:32633 "
        "(WGS 84 / UTM zone 33N) (geographic (degree) vs projected (metre)). Reproject so that "
        "all layers share one CRS."
    )
    # The issue table carries the layer's footprint in EPSG:4326.
    ds = ogr.Open(str(tmp_path / "issues.gpkg"))
    lyr = ds.GetLayer(0)
    assert lyr.GetSpatialRef().GetAuthorityCode(None) == "4326"
    feature = lyr.GetNextFeature()
    assert [feature[name] for name in ("layer", "rule", "severity", "expected", "found")] == [
        "lonlat",
        "mixed_crs",
        "error",
        "EPSG:32633 (WGS 84 / UTM zone 33N)",
        "EPSG:4326 (WGS 84)",
    ]
    assert feature.GetGeometryRef().GetEnvelope() == pytest.approx(
        (15.0001, 15.0005, 45.1535, 45.1538)
    )


def test_geographic_crs_when_projected_is_required(run_alg, tmp_path, dataset, gis):
    lonlat = gis.write_vector(
        dataset["root"] / "lonlat.gpkg", epsg=4326, rows=[(1, "building", LONLAT_POLY)]
    )
    res = _run(run_alg, tmp_path, [lonlat], REQUIRE_PROJECTED=True)
    assert _rows(tmp_path) == [("lonlat", "geographic_crs", "error")]
    assert res["ERROR_COUNT"] == 1
    assert _run(run_alg, tmp_path, [lonlat], REQUIRE_PROJECTED=False)["ISSUE_COUNT"] == 0


def test_wrong_units_utm_metres_labelled_wgs84(run_alg, tmp_path, dataset, gis):
    labelled = gis.write_vector(dataset["root"] / "metres.gpkg", epsg=4326)
    res = _run(run_alg, tmp_path, [labelled])
    assert _rows(tmp_path) == [("metres", "wrong_units", "error")]
    assert (
        "(x 500010..500090, y 5000010..5000055) are impossible in degrees"
        in (_report(tmp_path)["findings"][0]["message"])
    )
    assert res["ISSUE_COUNT"] == 1
    assert _run(run_alg, tmp_path, [dataset["gpkg"]])["ISSUE_COUNT"] == 0


def test_axis_swapped_labels_against_the_imagery(run_alg, tmp_path, dataset, gis):
    swapped = gis.write_vector(
        dataset["root"] / "swapped.gpkg", epsg=4326, rows=[(1, "building", LATLON_POLY)]
    )
    straight = gis.write_vector(
        dataset["root"] / "straight.gpkg", epsg=4326, rows=[(1, "building", LONLAT_POLY)]
    )
    _run(run_alg, tmp_path, [dataset["tif"], swapped, straight], EXPECTED_CRS="EPSG:32633")
    assert _rows(tmp_path) == [
        ("swapped", "unexpected_crs", "error"),
        ("swapped", "axis_swapped", "error"),
        ("straight", "unexpected_crs", "error"),
    ]


def test_no_overlap_and_its_clean_twin(run_alg, tmp_path, dataset, gis):
    far = gis.write_vector(
        dataset["root"] / "far.gpkg",
        rows=[
            (
                1,
                "building",
                "POLYGON((600000 5000000,600010 5000000,600010 5000010,600000 5000000))",
            )
        ],
    )
    res = _run(run_alg, tmp_path, [dataset["tif"], dataset["gpkg"], far])
    assert _rows(tmp_path) == [("far", "no_overlap", "error")]
    assert res["ISSUE_COUNT"] == 1
    assert _report(tmp_path)["findings"][0]["message"].startswith(
        "Annotations 'far' do not overlap the imagery ('ortho') once both are in one CRS"
    )


def test_outside_area_of_use_is_a_warning_that_does_not_fail(run_alg, tmp_path, dataset, gis):
    east = gis.write_vector(
        dataset["root"] / "east.gpkg",
        rows=[
            (
                1,
                "building",
                "POLYGON((900000 5000000,900010 5000000,900010 5000010,900000 5000000))",
            )
        ],
    )
    res = _run(run_alg, tmp_path, [east], FAIL_ON_ERROR=True)
    assert _rows(tmp_path) == [("east", "outside_area_of_use", "warning")]
    assert (res["ISSUE_COUNT"], res["ERROR_COUNT"]) == (1, 0)


def test_sidecar_drift_after_the_file_was_retagged(run_alg, tmp_path, dataset):
    run_alg("labelguard:exportsidecars", {"LAYERS": [str(dataset["tif"])]})
    assert _run(run_alg, tmp_path, [dataset["tif"]])["ISSUE_COUNT"] == 0
    ds = gdal.Open(str(dataset["tif"]), gdal.GA_Update)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    ds.SetSpatialRef(srs)
    ds = None
    res = _run(run_alg, tmp_path, [dataset["tif"]])
    assert _rows(tmp_path) == [("ortho", "sidecar_drift", "error")]
    assert res["ISSUE_COUNT"] == 1
    assert _report(tmp_path)["findings"][0]["message"].startswith(
        "Layer 'ortho' is in EPSG:32632 (WGS 84 / UTM zone 32N) but its sidecar "
        "ortho.tif.labelguard.yaml records EPSG:32633 (WGS 84 / UTM zone 33N)"
    )


def test_vanished_file_gives_a_clear_message(run_alg, tmp_path, dataset, qgis_new_project):
    from qgis.core import QgsProcessingException, QgsProject, QgsVectorLayer

    layer = QgsVectorLayer(str(dataset["gpkg"]), "labels", "ogr")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    dataset["gpkg"].unlink()
    with pytest.raises(
        QgsProcessingException,
        match=(
            r"^Layer 'labels': its file '.*labels\.gpkg' no longer exists \(moved, renamed or "
            r"deleted\)\. Restore the file or remove the layer from the check\.$"
        ),
    ):
        _run(run_alg, tmp_path, [layer, dataset["tif"]])


def test_vanished_path_is_refused_with_a_clear_message(run_alg, tmp_path):
    from qgis.core import QgsProcessingException

    gone = tmp_path / "gone.gpkg"
    with pytest.raises(QgsProcessingException, match=r"LAYERS: the file '.*gone\.gpkg' does not"):
        _run(run_alg, tmp_path, [gone])


def test_fail_on_error_raises_after_writing_the_report(run_alg, tmp_path, dataset, gis):
    from qgis.core import QgsProcessingException

    bare = gis.write_raster(dataset["root"] / "bare.tif", epsg=None)
    with pytest.raises(
        QgsProcessingException,
        match=r"^1 CRS errors \(missing_crs\); see the "
        r"report$",
    ):
        _run(run_alg, tmp_path, [bare, dataset["gpkg"]], FAIL_ON_ERROR=True)
    assert _report(tmp_path)["counts"]["missing_crs"] == 1


def test_memory_layer_uses_its_qgis_crs(run_alg, tmp_path, qgis_new_project):
    from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

    layer = QgsVectorLayer("Polygon?crs=EPSG:4326", "scratch", "memory")
    feature = QgsFeature()
    feature.setGeometry(
        QgsGeometry.fromWkt(
            "POLYGON((500000 5000000,500010 5000000,500010 5000010,500000 5000000))"
        )
    )
    layer.dataProvider().addFeatures([feature])
    layer.updateExtents()
    _run(run_alg, tmp_path, [layer])
    assert _rows(tmp_path) == [("scratch", "wrong_units", "error")]


def test_qgis_process_gate(qgis_process, tmp_path, dataset, gis):
    bare = gis.write_raster(dataset["root"] / "bare.tif", epsg=None)
    clean = qgis_process(
        "run",
        ALG,
        "--json",
        "--",
        f"LAYERS={dataset['tif']}",
        f"LAYERS={dataset['gpkg']}",
        "FAIL_ON_ERROR=true",
        f"OUTPUT={tmp_path / 'ok.gpkg'}",
    )
    assert clean.returncode == 0, clean.stderr + clean.stdout
    assert json.loads(clean.stdout)["results"]["ISSUE_COUNT"] == 0
    gate = qgis_process(
        "run",
        ALG,
        "--",
        f"LAYERS={bare}",
        f"LAYERS={dataset['gpkg']}",
        "FAIL_ON_ERROR=true",
        f"OUTPUT={tmp_path / 'bad.gpkg'}",
    )
    assert gate.returncode != 0
    assert "1 CRS errors (missing_crs); see the CRS issues table" in gate.stdout + gate.stderr
    assert "Traceback" not in gate.stdout + gate.stderr


def test_a_run_from_the_toolbox_loads_the_issue_table(run_and_load, tmp_path, dataset):
    results, wrong, loaded = run_and_load(
        ALG,
        {"LAYERS": [str(dataset["tif"]), str(dataset["gpkg"])], "OUTPUT": "TEMPORARY_OUTPUT"},
    )
    assert results["ISSUE_COUNT"] == 0
    assert wrong == []
    assert loaded == ["CRS issues"]
