"""validatetopology through Processing: outputs, fast path vs fallback, exceptions, exit code."""

from __future__ import annotations

import json

import pytest
from labelguard.core.schema import validate

ALG = "labelguard:validatetopology"
RULES_INDEX = {
    r: k
    for k, r in enumerate(
        ("invalid", "empty", "duplicate", "near_duplicate", "overlap", "gap", "sliver")
        + ("min_area", "multipart", "dangle", "must_be_inside", "must_not_overlap_with")
        + ("self_crossing", "duplicate_vertex", "spike", "hole", "contained")
    )
}

# A 3x3 grid of unit squares (a clean coverage) with known defects:
#  fid 1..9  grid cells (fid 5 missing: a gap enclosed by 1-4, 6-9)
#  fid 10    bow tie at x 10..11 -> invalid, self-intersection at (10.5, 0.5)
#  fid 11    zigzag crossing its base line three times -> 3 self-intersections
#  fid 12    exact duplicate of fid 1
#  fid 13    overlaps fid 3 by 0.25
#  fid 14    null geometry
GRID = {
    1: "POLYGON((0 0,1 0,1 1,0 1,0 0))",
    2: "POLYGON((1 0,2 0,2 1,1 1,1 0))",
    3: "POLYGON((2 0,3 0,3 1,2 1,2 0))",
    4: "POLYGON((0 1,1 1,1 2,0 2,0 1))",
    6: "POLYGON((2 1,3 1,3 2,2 2,2 1))",
    7: "POLYGON((0 2,1 2,1 3,0 3,0 2))",
    8: "POLYGON((1 2,2 2,2 3,1 3,1 2))",
    9: "POLYGON((2 2,3 2,3 3,2 3,2 2))",
}
DEFECTS = {
    10: "POLYGON((10 0,11 1,11 0,10 1,10 0))",
    11: "POLYGON((20 0,23 0,23 1,22 -1,21 1,20 -1,20 0))",
    12: GRID[1],
    13: "POLYGON((2.5 0.5,3.5 0.5,3.5 -0.5,2.5 -0.5,2.5 0.5))",
    14: None,
}


@pytest.fixture
def alg_registered(labelguard_provider):
    from labelguard.processing_provider.validate_topology import ValidateTopologyAlgorithm
    from qgis.core import QgsApplication

    if QgsApplication.processingRegistry().algorithmById(ALG) is None:
        labelguard_provider.addAlgorithm(ValidateTopologyAlgorithm())
    return labelguard_provider


def _features():
    return {**GRID, **DEFECTS}


@pytest.fixture
def gpkg_path(tmp_path):
    from osgeo import ogr, osr

    path = tmp_path / "labels.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(3857)
    lyr = ds.CreateLayer("labels", srs, ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn("cls", ogr.OFTInteger))
    for fid, wkt in sorted(_features().items()):
        feat = ogr.Feature(lyr.GetLayerDefn())
        feat.SetFID(fid)
        feat.SetField("cls", fid % 3)
        if wkt:
            feat.SetGeometryDirectly(ogr.CreateGeometryFromWkt(wkt))
        lyr.CreateFeature(feat)
    ds = None
    return path


@pytest.fixture
def gpkg_layer(gpkg_path):
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(f"{gpkg_path}|layername=labels", "labels", "ogr")
    assert layer.isValid()
    return layer


@pytest.fixture
def memory_layer(gpkg_layer):
    """The same features in a memory layer (QGIS iterator path); fids kept."""
    from qgis.core import QgsFeature, QgsVectorLayer

    layer = QgsVectorLayer("Polygon?crs=EPSG:3857&field=cls:integer", "mem", "memory")
    source = {f.id(): f for f in gpkg_layer.getFeatures()}
    # The memory provider numbers features 1, 2, ...: add placeholders for missing ids and
    # delete them, so both layers have the same feature ids.
    feats = [
        QgsFeature(source[i]) if i in source else QgsFeature(layer.fields())
        for i in range(1, max(source) + 1)
    ]
    assert layer.dataProvider().addFeatures(feats)
    assert layer.dataProvider().deleteFeatures(
        [i for i in range(1, max(source) + 1) if i not in source]
    )
    assert sorted(f.id() for f in layer.getFeatures()) == sorted(source)
    return layer


def _summary(findings):
    return sorted((f["rule"], f["fid"], f["other_fid"], f["location"]) for f in findings)


def _run(run_alg, layer, tmp_path, name="r", **params):
    report = tmp_path / f"{name}.json"
    base = {
        "INPUT": layer,
        "RULES": list(range(9)),
        "OUTPUT": "TEMPORARY_OUTPUT",
        "OUTPUT_POINTS": "TEMPORARY_OUTPUT",
        "REPORT": str(report),
    }
    base.update(params)
    results = run_alg(ALG, base)
    doc = json.loads(report.read_text(encoding="utf-8"))
    validate(doc, "labelguard.report", "topology report")
    return results, doc


def test_gpkg_findings_counts_and_locations(alg_registered, run_alg, gpkg_layer, tmp_path):
    results, report = _run(run_alg, gpkg_layer, tmp_path)
    assert report["schema"] == "labelguard.report/1"
    assert report["counts"] == {
        "invalid": 4,
        "empty": 1,
        "duplicate": 1,
        "near_duplicate": 0,
        "overlap": 1,
        "gap": 1,
        "sliver": 0,
        "min_area": 0,
        "multipart": 0,
    }
    assert results["ERROR_COUNT"] == 8
    assert results["CHECKED_COUNT"] == 13
    rows = _summary(report["findings"])
    assert ("invalid", 10, None, "POINT (10.5 0.5)") in rows
    assert [r[3] for r in rows if r[:2] == ("invalid", 11)] == [
        "POINT (20.5 0)",
        "POINT (21.5 0)",
        "POINT (22.5 0)",
    ]
    assert ("duplicate", 1, 12, "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))") in rows
    assert ("empty", 14, None, None) in rows  # no place: location null
    overlap = [r for r in rows if r[0] == "overlap"]
    assert [r[:3] for r in overlap] == [("overlap", 3, 13)]
    gap = [r for r in rows if r[0] == "gap"]
    assert [r[:3] for r in gap] == [("gap", 2, 4)]
    from labelguard.core.geos import shapely

    assert shapely.equals(shapely.from_wkt(gap[0][3]), shapely.box(1, 1, 2, 2))
    assert shapely.equals(shapely.from_wkt(overlap[0][3]), shapely.box(2.5, 0, 3, 0.5))
    areas = sorted(
        (f["rule"], f["fid"], f["other_fid"], f["is_exception"])
        for f in results["OUTPUT"].getFeatures()
    )
    assert areas == [
        ("duplicate", 1, 12, False),
        ("empty", 14, None, False),
        ("gap", 2, 4, False),
        ("overlap", 3, 13, False),
    ]
    points = sorted(
        (f["fid"], f.geometry().asWkt()) for f in results["OUTPUT_POINTS"].getFeatures()
    )
    assert points == [
        (10, "MultiPoint ((10.5 0.5))"),
        (11, "MultiPoint ((20.5 0))"),
        (11, "MultiPoint ((21.5 0))"),
        (11, "MultiPoint ((22.5 0))"),
    ]
    assert "OUTPUT_LINES" not in results
    assert [f.name() for f in results["OUTPUT"].fields()] == [
        "rule",
        "severity",
        "fid",
        "other_fid",
        "message",
        "is_exception",
        "key",
    ]


def test_fast_path_equals_fallback(alg_registered, gpkg_layer, memory_layer):
    import numpy as np
    from labelguard.processing_provider.layers import _ogr_fast_path, iter_layer_wkb

    def read_layer_wkb(layer, **kwargs):  # all batches, in fid order
        parts = list(iter_layer_wkb(layer, **kwargs))
        fids = np.concatenate([f for f, _ in parts])
        wkb = np.concatenate([w.to_objects() for _, w in parts])
        order = np.argsort(fids)
        return fids[order], wkb[order]

    assert _ogr_fast_path(gpkg_layer) is not None
    assert _ogr_fast_path(memory_layer) is None
    for sel in (False, True):
        gpkg_layer.selectByIds([1, 10, 14])
        memory_layer.selectByIds([1, 10, 14])
        f1, w1 = read_layer_wkb(gpkg_layer, selected_only=sel)
        f2, w2 = read_layer_wkb(memory_layer, selected_only=sel)
        f3, w3 = read_layer_wkb(gpkg_layer, selected_only=sel, use_ogr=False)
        assert f1.tolist() == f2.tolist() == f3.tolist()
        from labelguard.core.geos import shapely

        for a, b, c in zip(w1, w2, w3):
            ga, gb, gc = (None if x is None else shapely.from_wkb(x) for x in (a, b, c))
            assert (ga is None) == (gb is None) == (gc is None)
            if ga is not None:
                assert shapely.equals_exact(ga, gb)
                assert shapely.equals_exact(ga, gc)
    assert f1.tolist() == [1, 10, 14]


def test_same_report_through_memory_layer(
    alg_registered, run_alg, gpkg_layer, memory_layer, tmp_path
):
    _, a = _run(run_alg, gpkg_layer, tmp_path, "a")
    _, b = _run(run_alg, memory_layer, tmp_path, "b")
    assert a["findings"] == b["findings"]
    assert a["counts"] == b["counts"]


def test_subset_string_and_selection(alg_registered, run_alg, gpkg_layer, tmp_path):
    from qgis.core import QgsProcessingFeatureSourceDefinition

    gpkg_layer.setSubsetString("fid <> 12")
    results, report = _run(run_alg, gpkg_layer, tmp_path, "subset")
    assert report["counts"]["duplicate"] == 0
    assert results["CHECKED_COUNT"] == 12
    gpkg_layer.setSubsetString("")
    gpkg_layer.selectByIds([10, 11])
    from qgis.core import QgsProject

    QgsProject.instance().addMapLayer(gpkg_layer, False)
    try:
        src = QgsProcessingFeatureSourceDefinition(gpkg_layer.id(), True)
        results, report = _run(run_alg, src, tmp_path, "sel")
    finally:
        QgsProject.instance().takeMapLayer(gpkg_layer)
    assert results["CHECKED_COUNT"] == 2
    assert {f["fid"] for f in report["findings"]} == {10, 11}


def test_exceptions_from_report_are_not_counted(alg_registered, run_alg, gpkg_layer, tmp_path):
    _, report = _run(run_alg, gpkg_layer, tmp_path, "first")
    for f in report["findings"]:
        f["is_exception"] = f["rule"] == "overlap"
    exc = tmp_path / "exceptions.json"
    exc.write_text(json.dumps(report), encoding="utf-8")
    results, second = _run(run_alg, gpkg_layer, tmp_path, "second", EXCEPTIONS=str(exc))
    assert second["counts"]["overlap"] == 0
    assert results["ERROR_COUNT"] == 7
    assert results["EXCEPTION_COUNT"] == 1
    assert [f["is_exception"] for f in second["findings"] if f["rule"] == "overlap"] == [True]


def test_fail_on_error_raises(alg_registered, run_alg, gpkg_layer, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="8 topology error"):
        _run(run_alg, gpkg_layer, tmp_path, "fail", FAIL_ON_ERROR=True)
    assert (tmp_path / "fail.json").exists()


def test_qgis_process_exit_code(qgis_process, gpkg_path, tmp_path):
    ok = qgis_process(
        "run",
        ALG,
        f"--INPUT={gpkg_path}|layername=labels",
        "--RULES=0,1",
        f"--OUTPUT={tmp_path / 'e1.gpkg'}",
        f"--REPORT={tmp_path / 'ok.json'}",
    )
    assert ok.returncode == 0, ok.stderr + ok.stdout
    assert "ERROR_COUNT:\t5" in ok.stdout
    fail = qgis_process(
        "run",
        ALG,
        f"--INPUT={gpkg_path}|layername=labels",
        f"--OUTPUT={tmp_path / 'e2.gpkg'}",
        "--FAIL_ON_ERROR=true",
    )
    assert fail.returncode != 0


def test_error_layer_to_geopackage_keeps_fid_attribute(
    alg_registered, run_alg, gpkg_layer, tmp_path
):
    """Feature 11 has several self-intersections: several rows with fid 11 in one GeoPackage."""
    from qgis.core import QgsVectorLayer

    points = tmp_path / "error_points.gpkg"
    _, report = _run(
        run_alg,
        gpkg_layer,
        tmp_path,
        OUTPUT=str(tmp_path / "errors.gpkg"),
        OUTPUT_POINTS=str(points),
    )
    layer = QgsVectorLayer(str(points), "points", "ogr")
    assert layer.isValid()
    fids = sorted(f["fid"] for f in layer.getFeatures() if f["rule"] == "invalid")
    expected = sorted(
        f["fid"]
        for f in report["findings"]
        if f["rule"] == "invalid" and f["location"].startswith("POINT")
    )
    assert fids == expected
    assert fids.count(11) >= 2


@pytest.mark.parametrize("wkt", ["POLYGON ((7 3))", "MULTIPOLYGON (((7 3, 7 3)))"])
def test_one_degenerate_feature_is_an_invalid_finding_not_a_crash(
    alg_registered, run_alg, tmp_path, wkt
):
    from osgeo import ogr, osr

    path = tmp_path / "one.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(3857)
    lyr = ds.CreateLayer("labels", srs, ogr.wkbUnknown)
    feat = ogr.Feature(lyr.GetLayerDefn())
    feat.SetGeometryDirectly(ogr.CreateGeometryFromWkt(wkt))
    lyr.CreateFeature(feat)
    ds = None
    results, report = _run(run_alg, f"{path}|layername=labels", tmp_path, RULES=[0])
    assert results["ERROR_COUNT"] == 1
    assert [(f["rule"], f["fid"], f["location"]) for f in report["findings"]] == [
        ("invalid", 1, "POINT (7 3)")
    ]


def test_snapped_line_ends_and_snap_tolerance(alg_registered, run_alg, tmp_path):
    from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

    layer = QgsVectorLayer("LineString?crs=EPSG:3857", "roads", "memory")
    base = QgsGeometry.fromWkt("LINESTRING (0.1 0.2, 7.3 9.9)")
    snapped = base.interpolate(0.37 * base.length()).asPoint()  # ~1e-15 off the line
    branch = QgsGeometry.fromWkt(f"LINESTRING ({snapped.x()!r} {snapped.y()!r}, 20 0)")
    feats = []
    for g in (base, branch):
        f = QgsFeature()
        f.setGeometry(g)
        feats.append(f)
    assert layer.dataProvider().addFeatures(feats)
    dangle = [RULES_INDEX["dangle"]]
    _, report = _run(run_alg, layer, tmp_path, "snap", RULES=dangle)
    assert [(f["fid"], f["location"]) for f in report["findings"]] == [
        (1, "POINT (0.1 0.2)"),
        (1, "POINT (7.3 9.9)"),
        (2, "POINT (20 0)"),
    ]
    _, exact = _run(run_alg, layer, tmp_path, "exact", RULES=dangle, SNAP_TOLERANCE=0.0)
    assert exact["counts"] == {"dangle": 4}


def _memory_polygons(wkts, name="mem"):
    from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

    layer = QgsVectorLayer("Polygon?crs=EPSG:3857", name, "memory")
    feats = []
    for wkt in wkts:
        f = QgsFeature()
        f.setGeometry(QgsGeometry.fromWkt(wkt))
        feats.append(f)
    assert layer.dataProvider().addFeatures(feats)
    return layer


def test_default_rules_leave_out_the_overlay_rules(alg_registered):
    from qgis.core import QgsApplication

    alg = QgsApplication.processingRegistry().algorithmById(ALG)
    default = alg.parameterDefinition("RULES").defaultValue()
    assert RULES_INDEX["must_be_inside"] not in default
    assert RULES_INDEX["must_not_overlap_with"] not in default
    assert [k for k in range(10) if k not in default] == []


def test_overlay_with_the_default_rules_is_an_error_naming_the_overlay_rules(
    alg_registered, run_alg, gpkg_layer, tmp_path
):
    from qgis.core import QgsProcessingException

    tiles = _memory_polygons(["POLYGON ((-1 -1, 30 -1, 30 4, -1 4, -1 -1))"], "tiles")
    with pytest.raises(QgsProcessingException) as err:
        run_alg(
            ALG,
            {"INPUT": gpkg_layer, "OVERLAY": tiles, "OUTPUT": "TEMPORARY_OUTPUT"},
        )
    assert str(err.value) == (
        "An overlay layer (OVERLAY) is given but no overlay rule is chosen in Rules (RULES): "
        "choose must_be_inside and/or must_not_overlap_with, or leave OVERLAY empty."
    )


def test_overlay_with_must_be_inside_flags_only_the_features_outside(
    alg_registered, run_alg, tmp_path
):
    labels = _memory_polygons(
        ["POLYGON ((1 1, 2 1, 2 2, 1 2, 1 1))", "POLYGON ((9 9, 11 9, 11 10, 9 10, 9 9))"]
    )
    tiles = _memory_polygons(["POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))"], "tiles")
    results, report = _run(
        run_alg, labels, tmp_path, RULES=[RULES_INDEX["must_be_inside"]], OVERLAY=tiles
    )
    assert results["ERROR_COUNT"] == 1
    assert [(f["rule"], f["fid"], f["location"]) for f in report["findings"]] == [
        ("must_be_inside", 2, "POLYGON ((11 10, 11 9, 10 9, 10 10, 11 10))")
    ]


def test_a_run_from_the_toolbox_loads_every_error_layer_it_announces(
    alg_registered, run_and_load, gpkg_layer, tmp_path
):
    """Before: parameterAsOutputLayer() registered a second layer to load per sink, and every
    run ended with "The following layers were not correctly generated"."""
    results, wrong, loaded = run_and_load(
        ALG,
        {
            "INPUT": gpkg_layer,
            "RULES": list(range(9)),
            "OUTPUT": "TEMPORARY_OUTPUT",
            "OUTPUT_POINTS": "TEMPORARY_OUTPUT",
            "OUTPUT_LINES": "TEMPORARY_OUTPUT",
        },
    )
    assert results["ERROR_COUNT"] == 8
    assert wrong == []
    assert sorted(loaded) == ["Errors (areas)", "Errors (points)"]
    errors = tmp_path / "errors.gpkg"
    _results, wrong, loaded = run_and_load(
        ALG, {"INPUT": gpkg_layer, "RULES": list(range(9)), "OUTPUT": str(errors)}
    )
    assert wrong == []
    assert loaded == ["Errors (areas)"]  # only OUTPUT was given to load
    assert errors.exists()


@pytest.mark.parametrize(("crs", "unit"), [("EPSG:3857", "m²"), ("EPSG:2263", "ft²")])
def test_areas_name_the_crs_unit(alg_registered, run_alg, tmp_path, crs, unit):
    from qgis.core import QgsCoordinateReferenceSystem

    layer = _memory_polygons(
        ["POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0))", "POLYGON ((1 1, 3 1, 3 3, 1 3, 1 1))"]
    )
    layer.setCrs(QgsCoordinateReferenceSystem(crs))
    _, report = _run(run_alg, layer, tmp_path, RULES=[RULES_INDEX["overlap"]])
    assert [f["message"] for f in report["findings"]] == [
        f"Overlap of 1 {unit} between features 1 and 2 (tolerance 0)."
    ]


def test_geometry_checker_rules_by_index(alg_registered, run_alg, tmp_path):
    from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

    polygons = _memory_polygons(
        [
            "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (1 1, 2 1, 2 2, 1 2, 1 1))",
            "POLYGON ((5 5, 6 5, 6 6, 5 6, 5 5))",
            "POLYGON ((20 0, 30 0, 30 0, 20 0.1, 20 0))",
        ]
    )
    rules = [RULES_INDEX[r] for r in ("duplicate_vertex", "spike", "hole", "contained")]
    results, report = _run(run_alg, polygons, tmp_path, "polys", RULES=rules, SPIKE_ANGLE=2.0)
    assert [(f["rule"], f["fid"], f["other_fid"], f["location"]) for f in report["findings"]] == [
        ("duplicate_vertex", 3, None, "POINT (30 0)"),
        ("spike", 3, None, "POINT (30 0)"),
        ("hole", 1, None, "POLYGON ((1 1, 2 1, 2 2, 1 2, 1 1))"),
        ("contained", 2, 1, "POLYGON ((5 5, 6 5, 6 6, 5 6, 5 5))"),
    ]
    assert report["findings"][2]["message"] == "Hole of 1 m² in a polygon; holes are not allowed."
    assert results["ERROR_COUNT"] == 4
    lines = QgsVectorLayer("LineString?crs=EPSG:3857", "roads", "memory")
    f = QgsFeature()
    f.setGeometry(QgsGeometry.fromWkt("LINESTRING (0 0, 2 2, 2 0, 0 2)"))
    assert lines.dataProvider().addFeatures([f])
    _, report = _run(run_alg, lines, tmp_path, "lines", RULES=[RULES_INDEX["self_crossing"]])
    assert [(f["rule"], f["fid"], f["location"]) for f in report["findings"]] == [
        ("self_crossing", 1, "POINT (1 1)")
    ]
