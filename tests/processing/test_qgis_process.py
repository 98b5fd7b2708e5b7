"""End to end through qgis_process.bin: the plugin loads headless and FAIL_ON_ERROR gates CI."""

from __future__ import annotations

import json


def _json(proc):
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)


def test_versioning_pipeline_and_ci_gate(qgis_process, tmp_path, gis):
    root = tmp_path / "ds"
    root.mkdir()
    tif, gpkg = gis.write_raster(root / "ortho.tif"), gis.write_vector(root / "labels.gpkg")
    listing = qgis_process("list")
    assert listing.returncode == 0
    for alg in ("exportsidecars", "buildmanifest", "verifymanifest", "diffversions"):
        assert f"labelguard:{alg}" in listing.stdout
    res = _json(
        qgis_process(
            "run", "labelguard:exportsidecars", "--json", "--", f"LAYERS={tif}", f"LAYERS={gpkg}"
        )
    )
    assert res["results"]["COUNT"] == 2
    manifest = root / "v1.json"
    res = _json(
        qgis_process(
            "run",
            "labelguard:buildmanifest",
            "--json",
            "--",
            f"LAYERS={tif}",
            f"LAYERS={gpkg}",
            "VERSION=v1",
            f"OUTPUT={manifest}",
        )
    )
    assert res["results"]["ENTRY_COUNT"] == 2
    ok = qgis_process(
        "run",
        "labelguard:verifymanifest",
        "--json",
        "--",
        f"MANIFEST={manifest}",
        "FAIL_ON_ERROR=true",
    )
    assert _json(ok)["results"]["MISMATCH_COUNT"] == 0
    gpkg.unlink()
    gate = qgis_process(
        "run", "labelguard:verifymanifest", "--", f"MANIFEST={manifest}", "FAIL_ON_ERROR=true"
    )
    assert gate.returncode != 0
    assert "1 missing" in gate.stdout + gate.stderr
    assert "Traceback" not in gate.stdout + gate.stderr


def test_non_utf8_property_name_does_not_crash_qgis_process(qgis_process, tmp_path):
    # GDAL 3.6's Arrow reader crashed with SIGSEGV (exit 139, no message) on this file.
    root = tmp_path / "ds"
    root.mkdir()
    bad = root / "labels.geojson"
    bad.write_bytes(
        b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        b'{"cl\x80ss":"tree","id":1},"geometry":{"type":"Point","coordinates":[1,2]}}]}'
    )
    res = _json(qgis_process("run", "labelguard:exportsidecars", "--json", "--", f"LAYERS={bad}"))
    assert res["results"]["COUNT"] == 1
    assert "- name: cl\ufffdss\n" in (root / "labels.geojson.labelguard.yaml").read_text()
    manifest = root / "v1.json"
    args = ["--json", "--", f"LAYERS={bad}", "VERSION=v1", f"OUTPUT={manifest}"]
    res = _json(qgis_process("run", "labelguard:buildmanifest", *args))
    assert res["results"]["ENTRY_COUNT"] == 1
    args = ["--json", "--", f"MANIFEST={manifest}", "FAIL_ON_ERROR=true"]
    res = _json(qgis_process("run", "labelguard:verifymanifest", *args))
    assert res["results"]["OK_COUNT"] == 1
    assert res["results"]["MISMATCH_COUNT"] == 0


def test_an_output_that_is_an_input_fails_the_run(qgis_process, tmp_path, gis):
    # buildmanifest OUTPUT=<one of its LAYERS> replaced an orthophoto with a manifest, exit 0.
    tif = gis.write_raster(tmp_path / "ortho.tif")
    before = tif.read_bytes()
    proc = qgis_process(
        "run", "labelguard:buildmanifest", "--", f"LAYERS={tif}", "VERSION=v1", f"OUTPUT={tif}"
    )
    assert proc.returncode != 0
    assert f"OUTPUT {tif} is one of the inputs (LAYERS)" in proc.stdout + proc.stderr
    assert tif.read_bytes() == before
