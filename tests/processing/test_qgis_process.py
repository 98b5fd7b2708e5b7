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
