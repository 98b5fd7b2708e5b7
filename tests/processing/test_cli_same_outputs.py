"""The command line and the Processing algorithms write the same reports, sidecars and
manifest entries on the same files (they share core and gdalio)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "cli"))
from cli_fixtures import defects, sq, write_layer  # noqa: E402


@pytest.fixture
def cli(tmp_path_factory):
    base = tmp_path_factory.mktemp("pkg")
    (base / "labelguard").symlink_to(ROOT, target_is_directory=True)
    env = dict(os.environ, PYTHONPATH=str(base))

    def _run(*args, cwd):
        proc = subprocess.run(
            [sys.executable, "-m", "labelguard.cli", *map(str, args)],
            cwd=str(cwd),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return proc.returncode, proc.stdout, proc.stderr

    return _run


def test_validate_report_equals_the_algorithm(run_alg, cli, tmp_path):
    path = write_layer(tmp_path / "l.gpkg", defects())
    results = run_alg(
        "labelguard:validatetopology",
        {
            "INPUT": str(path),
            "MIN_AREA": 10.0,
            "TOLERANCE": 0.5,
            "REPORT": str(tmp_path / "a.json"),
            "OUTPUT": "TEMPORARY_OUTPUT",
        },
    )
    code, out, err = cli(
        "validate",
        path,
        "--min-area",
        "10",
        "--tolerance",
        "0.5",
        "--report",
        tmp_path / "c.json",
        cwd=tmp_path,
    )
    assert code == 0, err
    assert json.loads(out)["ERROR_COUNT"] == results["ERROR_COUNT"] == 8
    assert (tmp_path / "c.json").read_bytes() == (tmp_path / "a.json").read_bytes()


def test_sidecar_bytes_equal_the_algorithm(run_alg, cli, tmp_path):
    path = write_layer(tmp_path / "l.gpkg", defects())
    run_alg(
        "labelguard:exportsidecars", {"LAYERS": [str(path)], "OUTPUT_FOLDER": str(tmp_path / "a")}
    )
    code, _, err = cli("sidecars", path, "--output-folder", tmp_path / "c", cwd=tmp_path)
    assert code == 0, err
    name = "l.gpkg.labelguard.yaml"
    assert (tmp_path / "c" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()


def test_manifest_verify_and_diff_equal_the_algorithms(run_alg, cli, tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    path = write_layer(ds / "l.gpkg", [sq(0, 0), sq(10, 0), sq(20, 0)])
    run_alg(
        "labelguard:buildmanifest",
        {"LAYERS": [str(path)], "VERSION": "v1", "OUTPUT": str(ds / "a1.json")},
    )
    code, _, err = cli(
        "manifest", "build", path, "--version", "v1", "--output", ds / "c1.json", cwd=tmp_path
    )
    assert code == 0, err
    a1, c1 = (json.loads((ds / n).read_text()) for n in ("a1.json", "c1.json"))
    keep = ("path", "size", "sha256", "content_sha256", "content_method", "feature_count", "crs")
    assert [{k: e[k] for k in keep} for e in c1["entries"]] == [
        {k: e[k] for k in keep} for e in a1["entries"]
    ]
    assert set(c1["creator"]) == {"plugin", "gdal", "proj"}  # no QGIS on the command line
    write_layer(ds / "l.gpkg", [sq(0, 0), sq(10, 0), sq(21, 0)])
    run_alg(
        "labelguard:verifymanifest",
        {
            "MANIFEST": str(ds / "a1.json"),
            "REPORT": str(tmp_path / "va.json"),
            "SCAN_UNTRACKED": False,
        },
    )
    code, _, err = cli(
        "manifest",
        "verify",
        ds / "a1.json",
        "--no-scan-untracked",
        "--report",
        tmp_path / "vc.json",
        cwd=tmp_path,
    )
    assert code == 0, err
    assert (tmp_path / "vc.json").read_bytes() == (tmp_path / "va.json").read_bytes()
    run_alg(
        "labelguard:buildmanifest",
        {
            "LAYERS": [str(path)],
            "VERSION": "v2",
            "PARENT": str(ds / "a1.json"),
            "OUTPUT": str(ds / "a2.json"),
        },
    )
    run_alg(
        "labelguard:diffversions",
        {
            "BASE": str(ds / "a1.json"),
            "HEAD": str(ds / "a2.json"),
            "REPORT": str(tmp_path / "da.json"),
            "OUTPUT": "TEMPORARY_OUTPUT",
        },
    )
    code, _, err = cli(
        "manifest",
        "diff",
        ds / "a1.json",
        ds / "a2.json",
        "--report",
        tmp_path / "dc.json",
        cwd=tmp_path,
    )
    assert code == 0, err
    assert (tmp_path / "dc.json").read_bytes() == (tmp_path / "da.json").read_bytes()


def _layer_rows(path, layer=None):
    """(geometry type, fields with types, [(attributes, WKT)]) of one layer of a file."""
    from osgeo import ogr

    ds = ogr.Open(str(path))
    lyr = ds.GetLayerByName(layer) if layer else ds.GetLayer(0)
    defn = lyr.GetLayerDefn()
    fields = [
        (defn.GetFieldDefn(k).GetName(), defn.GetFieldDefn(k).GetTypeName())
        for k in range(defn.GetFieldCount())
    ]
    rows = []
    for f in lyr:
        geom = f.GetGeometryRef()
        # QGIS's writer stores a feature without geometry as an empty one; the same row.
        empty = geom is None or geom.IsEmpty()
        rows.append((f.items(), None if empty else geom.ExportToIsoWkt()))
    return ogr.GeometryTypeToName(lyr.GetGeomType()), fields, rows


def test_validate_error_layers_equal_the_algorithm(run_alg, cli, tmp_path):
    rows = defects() + ["LINESTRING(500 0,510 0)", "LINESTRING(510 0,510 10)", None]
    rows.append("POLYGON((600 0,610 0,610 10,600 10,600 0),(602 2,602 4,604 4,604 2,602 2))")
    path = write_layer(tmp_path / "l.gpkg", rows)
    rules = ["invalid", "empty", "duplicate", "overlap", "gap", "sliver", "dangle", "hole"]
    from labelguard.core.topology import RULES

    run_alg(
        "labelguard:validatetopology",
        {
            "INPUT": str(path),
            "RULES": [RULES.index(r) for r in rules],
            "OUTPUT": str(tmp_path / "areas.gpkg"),
            "OUTPUT_POINTS": str(tmp_path / "points.gpkg"),
            "OUTPUT_LINES": str(tmp_path / "lines.gpkg"),
        },
    )
    code, _, err = cli(
        "validate", path, "--rules", ",".join(rules), "--errors", tmp_path / "e.gpkg", cwd=tmp_path
    )
    assert code == 0, err
    for name, theirs in (("errors", "areas"), ("errors_points", "points")):
        ours = _layer_rows(tmp_path / "e.gpkg", name)
        assert ours == _layer_rows(tmp_path / f"{theirs}.gpkg"), name
        assert ours[2]
    assert not (tmp_path / "lines.gpkg").exists()  # no line locations: neither writes one
    from osgeo import ogr

    assert ogr.Open(str(tmp_path / "e.gpkg")).GetLayerByName("errors_lines") is None
