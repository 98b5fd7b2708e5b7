"""The command line without QGIS: help, exit codes, one-line errors, and the reports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_fixtures import defects, sq, write_layer  # noqa: E402

COMMANDS = [
    ["--help"],
    ["validate", "--help"],
    ["checkcrs", "--help"],
    ["sidecars", "--help"],
    ["manifest", "--help"],
    ["manifest", "build", "--help"],
    ["manifest", "verify", "--help"],
    ["manifest", "diff", "--help"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_help_everywhere(cli, args):
    run = cli(*args)
    assert run.code == 0
    assert run.out.startswith("usage: labelguard")
    assert "Exit codes: 0 done, 1 findings with --fail-on-error" in run.out


def test_parameter_names_follow_the_algorithms(cli):
    text = cli("validate", "--help").out
    for flag in (
        "--rules",
        "--tolerance",
        "--min-area",
        "--max-gap-area",
        "--overlay",
        "--exceptions",
        "--report",
        "--fail-on-error",
        "--workers",
        "--scheduler",
    ):
        assert flag in text
    assert "--expected-crs" in cli("checkcrs", "--help").out
    assert "--require-projected" in cli("checkcrs", "--help").out
    assert "--output-folder" in cli("sidecars", "--help").out
    build = cli("manifest", "build", "--help").out
    for flag in ("--parent", "--version", "--dataset-root", "--no-feature-index"):
        assert flag in build
    assert "--id-field" in cli("manifest", "diff", "--help").out


def test_usage_error_is_one_line_exit_2(cli):
    run = cli("validate", "--tolerance", "lots", "x.gpkg")
    assert run.code == 2
    assert run.err == (
        "labelguard: error: argument --tolerance: invalid float value: 'lots' "
        "(see labelguard validate --help)\n"
    )


def test_missing_input_is_one_line_exit_3(cli):
    run = cli("validate", "nowhere.gpkg")
    assert run.code == 3
    assert run.err == "labelguard: File 'nowhere.gpkg' does not exist (moved or deleted?).\n"
    assert run.out == ""


def test_unknown_rule_is_an_input_error(cli, tmp_path):
    write_layer(tmp_path / "l.gpkg", [sq(0, 0)])
    run = cli("validate", "l.gpkg", "--rules", "overlap,wobble")
    assert run.code == 3
    assert run.err.startswith("labelguard: --rules: unknown rule(s) wobble; choose from invalid,")
    assert "Traceback" not in run.err


def test_validate_counts_report_and_gate(cli, tmp_path):
    write_layer(tmp_path / "l.gpkg", defects())
    run = cli("validate", "l.gpkg", "--report", "r.json")
    assert run.code == 0  # findings do not fail without --fail-on-error
    assert run.results == {
        "ERROR_COUNT": 7,
        "CHECKED_COUNT": 102,
        "EXCEPTION_COUNT": 0,
        "REPORT": "r.json",
    }
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["tool"] == "labelguard:validatetopology"
    assert doc["input"] == "l"  # as QGIS names a layer from l.gpkg
    assert doc["crs"] == "EPSG:32633"
    assert {k: v for k, v in doc["counts"].items() if v} == {
        "duplicate": 1,
        "gap": 2,
        "invalid": 1,
        "overlap": 2,
        "sliver": 1,
    }
    gaps = [f for f in doc["findings"] if f["rule"] == "gap"]
    assert [(f["fid"], f["other_fid"]) for f in gaps] == [(35, 44), (45, 54)]
    assert cli("validate", "l.gpkg", "--fail-on-error").code == 1
    gate = cli("validate", "l.gpkg", "--fail-on-error", "--rules", "multipart")
    assert gate.code == 0
    assert gate.results["ERROR_COUNT"] == 0


def test_fail_on_error_says_why_in_one_line(cli, tmp_path):
    write_layer(tmp_path / "l.gpkg", defects())
    # Without the duplicate rule, the copy is one more overlap.
    run = cli("validate", "l.gpkg", "--fail-on-error", "--rules", "overlap")
    assert run.code == 1
    assert run.err == "labelguard: 3 topology error(s) found (--fail-on-error is set).\n"


def test_report_equals_core_on_the_same_features(cli, tmp_path):
    """The command writes what core's check and report writer give for these features."""
    from labelguard.core.report import tool_id, write_report
    from labelguard.core.topology import DEFAULT_RULES, check_topology
    from labelguard.core.topology.findings import report_extra
    from labelguard.gdalio.topology_inputs import read_layer

    write_layer(tmp_path / "l.gpkg", defects())
    assert cli("validate", "l.gpkg", "--min-area", "10", "--report", "cli.json").code == 0
    fids, wkb = read_layer(str(tmp_path / "l.gpkg")).batches[0]
    result = check_topology(fids, wkb, list(DEFAULT_RULES), min_area=10.0, area_unit="m²")
    number = {"tolerance": 0.0, "min_area": 10.0, "max_gap_area": 0.0, "snap_tolerance": 1e-8}
    extra = report_extra("l", "EPSG:32633", result, list(DEFAULT_RULES), number, False, "m²")
    assert extra["area_units"] == "m2"  # UTM: metres, not "crs_units2"
    findings = [f.to_dict() for f in result.findings]
    write_report(
        tmp_path / "core.json", tool_id("validatetopology"), findings, result.counts, extra
    )
    assert (tmp_path / "cli.json").read_bytes() == (tmp_path / "core.json").read_bytes()
    assert result.counts["min_area"] == 1  # the 3 x 3 square


def test_checkcrs_missing_crs_and_gate(cli, tmp_path):
    write_layer(tmp_path / "a.gpkg", [sq(500000, 5000000)])
    from osgeo import gdal

    gdal.UseExceptions()
    bare = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "bare.tif"), 10, 10, 1)
    bare.SetGeoTransform((500000, 1, 0, 5000010, 0, -1))  # georeferenced, but no CRS
    bare = None
    run = cli("checkcrs", "a.gpkg", "--expected-crs", "epsg:32633", "--report", "c.json")
    assert run.code == 0
    assert run.results == {
        "ISSUE_COUNT": 0,
        "ERROR_COUNT": 0,
        "CHECKED_COUNT": 1,
        "REPORT": "c.json",
    }
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["tool"] == "labelguard:checkcrs"
    assert doc["settings"]["expected_crs"] == "EPSG:32633 (WGS 84 / UTM zone 33N)"
    bad = cli("checkcrs", "a.gpkg", "bare.tif", "--fail-on-error")
    assert bad.code == 1
    assert bad.results == {"ISSUE_COUNT": 1, "ERROR_COUNT": 1, "CHECKED_COUNT": 2}
    assert bad.err.startswith("error: missing_crs: ")
    assert bad.err.splitlines()[-1].startswith("labelguard: ")


def test_sidecars_bytes_equal_core(cli, tmp_path):
    from labelguard.gdalio.sidecars import plan_sidecar

    write_layer(tmp_path / "l.gpkg", defects())
    run = cli("sidecars", "l.gpkg", "--output-folder", "meta")
    assert run.code == 0
    assert run.results == {"SIDECARS": ["meta/l.gpkg.labelguard.yaml"], "COUNT": 1}
    target, data, _ = plan_sidecar(tmp_path / "l.gpkg", None, tmp_path / "meta")
    assert target == tmp_path / "meta" / "l.gpkg.labelguard.yaml"
    assert target.read_bytes() == data
    assert (
        "unchanged: meta/l.gpkg.labelguard.yaml"
        in cli("sidecars", "l.gpkg", "--output-folder", "meta").err
    )


def test_manifest_build_verify_diff(cli, tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    write_layer(ds / "l.gpkg", [sq(0, 0), sq(10, 0), sq(20, 0)])
    v1 = cli("manifest", "build", "ds/l.gpkg", "--output", "ds/v1.json", "--version", "v1")
    assert v1.code == 0
    assert v1.results["ENTRY_COUNT"] == 1
    assert len(v1.results["MANIFEST_SHA256"]) == 64
    ok = cli("manifest", "verify", "ds/v1.json", "--fail-on-error", "--report", "v.json")
    assert ok.code == 0
    assert ok.results == {
        "OK_COUNT": 1,
        "MISMATCH_COUNT": 0,
        "REWRITTEN_COUNT": 0,
        "CHAIN_OK": 1,
        "REPORT": "v.json",
    }
    assert json.loads((tmp_path / "v.json").read_text())["tool"] == "labelguard:verifymanifest"
    write_layer(ds / "l.gpkg", [sq(0, 0), sq(10, 0), sq(21, 0), sq(30, 0)])
    bad = cli("manifest", "verify", "ds/v1.json", "--fail-on-error")
    assert bad.code == 1
    assert bad.results["MISMATCH_COUNT"] == 1
    assert (
        bad.err.splitlines()[-1]
        == "labelguard: Dataset does not match manifest v1.json: 1 modified."
    )
    v2 = cli(
        "manifest",
        "build",
        "ds/l.gpkg",
        "--output",
        "ds/v2.json",
        "--version",
        "v2",
        "--parent",
        "ds/v1.json",
    )
    assert v2.code == 0
    diff = cli("manifest", "diff", "ds/v1.json", "ds/v2.json", "--report", "d.json")
    assert diff.code == 0
    # Without an ID field, the moved square is matched by its geometry (IoU) and changed.
    assert diff.results == {
        "ADDED": 1,
        "REMOVED": 0,
        "MODIFIED": 1,
        "UNCHANGED": 2,
        "GEOMETRY_CHANGED": 1,
        "ATTRIBUTES_CHANGED": 0,
        "BOTH_CHANGED": 0,
        "REPORT": "d.json",
    }
    doc = json.loads((tmp_path / "d.json").read_text())
    assert doc["tool"] == "labelguard:diffversions"
    assert doc["versions"] == ["v1", "v2"]


def test_parent_cannot_be_the_output(cli, tmp_path):
    write_layer(tmp_path / "l.gpkg", [sq(0, 0)])
    assert cli("manifest", "build", "l.gpkg", "--output", "m.json").code == 0
    run = cli("manifest", "build", "l.gpkg", "--output", "m.json", "--parent", "m.json")
    assert run.code == 3
    assert run.err.startswith("labelguard: The output manifest is the parent manifest m.json")


def test_no_progress_when_stderr_is_not_a_terminal(cli, tmp_path):
    write_layer(tmp_path / "l.gpkg", defects())
    run = cli("validate", "l.gpkg")
    assert run.err == ""


def _error_layers(path: Path) -> dict:
    """{layer name: (geometry type name, [(attributes, WKT)])} of an error GeoPackage."""
    from osgeo import ogr

    ds = ogr.Open(str(path))
    out = {}
    for i in range(ds.GetLayerCount()):
        lyr = ds.GetLayer(i)
        rows = []
        for f in lyr:
            geom = f.GetGeometryRef()
            rows.append((f.items(), None if geom is None else geom.ExportToIsoWkt()))
        defn = lyr.GetLayerDefn()
        fields = [
            (defn.GetFieldDefn(k).GetName(), defn.GetFieldDefn(k).GetTypeName())
            for k in range(defn.GetFieldCount())
        ]
        out[lyr.GetName()] = (ogr.GeometryTypeToName(lyr.GetGeomType()), fields, rows)
    return out


def test_validate_writes_the_error_layers(cli, tmp_path):
    rows = defects() + ["LINESTRING(500 0,510 0)", "LINESTRING(510 0,510 10)", None]
    write_layer(tmp_path / "l.gpkg", rows)
    run = cli("validate", "l.gpkg", "--min-area", "10", "--report", "r.json", "--errors", "e.gpkg")
    assert run.code == 0, run.err
    assert run.results["ERRORS"] == "e.gpkg"
    layers = _error_layers(tmp_path / "e.gpkg")
    assert sorted(layers) == ["errors", "errors_points"]  # no line locations here
    assert layers["errors"][0] == "Multi Polygon"
    assert layers["errors_points"][0] == "Multi Point"
    assert [n for n, _ in layers["errors"][1]] == [
        "rule",
        "severity",
        "fid",
        "other_fid",
        "message",
        "is_exception",
        "key",
    ]
    report = json.loads((tmp_path / "r.json").read_text())["findings"]
    written = [attrs for _, _, rows_ in layers.values() for attrs, _ in rows_]
    assert len(written) == len(report) == run.results["ERROR_COUNT"]
    by_key = {attrs["key"]: (attrs, wkt) for _, _, rows_ in layers.values() for attrs, wkt in rows_}
    for finding in report:
        attrs, wkt = by_key[finding["key"]]
        assert (attrs["rule"], attrs["fid"], attrs["other_fid"], attrs["message"]) == (
            finding["rule"],
            finding["fid"],
            finding["other_fid"],
            finding["message"],
        )
        assert attrs["is_exception"] == 0
        if finding["location"] is None:
            assert wkt is None  # the null geometry: a row without geometry in errors
        else:
            from labelguard.core.geos import shapely

            assert wkt.startswith("MULTI")
            assert shapely.from_wkt(wkt).equals(shapely.from_wkt(finding["location"]))
    assert {a["rule"] for a, _ in by_key.values()} >= {"empty", "dangle", "gap", "overlap"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file


def test_errors_never_overwrite_an_input(cli, tmp_path):
    write_layer(tmp_path / "l.gpkg", defects())
    before = (tmp_path / "l.gpkg").read_bytes()
    run = cli("validate", "l.gpkg", "--errors", "./l.gpkg")
    assert run.code == 3
    assert run.err.strip().splitlines() == [
        "labelguard: --errors l.gpkg is the INPUT file; writing there would overwrite it. "
        "Choose another file."
    ]
    assert (tmp_path / "l.gpkg").read_bytes() == before
    assert cli("validate", "l.gpkg", "--errors", "e.shp").code == 3


def test_errors_replace_an_old_error_layer_whole(cli, tmp_path):
    write_layer(tmp_path / "l.gpkg", defects())
    write_layer(tmp_path / "e.gpkg", [sq(0, 0)] * 50, name="old")
    run = cli("validate", "l.gpkg", "--errors", "e.gpkg", "--rules", "gap")
    assert run.code == 0, run.err
    layers = _error_layers(tmp_path / "e.gpkg")
    assert list(layers) == ["errors"]
    assert [a["rule"] for a, _ in layers["errors"][2]] == ["gap", "gap"]
