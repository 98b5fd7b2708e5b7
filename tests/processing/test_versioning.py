"""exportsidecars, buildmanifest, verifymanifest and diffversions, run by id through Processing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from labelguard.core.schema import validate


@pytest.fixture
def dataset(tmp_path, gis):
    root = tmp_path / "ds"
    root.mkdir()
    return {
        "root": root,
        "tif": gis.write_raster(root / "ortho.tif"),
        "gpkg": gis.write_vector(root / "labels.gpkg"),
    }


def test_sidecars_are_deterministic_and_describe_the_data(run_alg, dataset, tmp_path):
    params = {"LAYERS": [str(dataset["tif"]), str(dataset["gpkg"])]}
    res = run_alg("labelguard:exportsidecars", params)
    assert res["COUNT"] == 2
    paths = sorted(Path(p) for p in res["SIDECARS"])
    assert [p.name for p in paths] == ["labels.gpkg.labelguard.yaml", "ortho.tif.labelguard.yaml"]
    first = [p.read_bytes() for p in paths]
    run_alg("labelguard:exportsidecars", params)
    assert [p.read_bytes() for p in paths] == first
    tif = paths[1].read_text()
    assert tif.startswith("schema: labelguard.sidecar/1\n")
    assert "epsg: 32633" in tif
    assert "geotransform:\n  - 500000\n  - 1\n" in tif
    assert "value: '2024-05-17T10:42:00'" in tif
    assert "offset_known: false" in tif
    gpkg = paths[0].read_text()
    assert "class_counts:\n    building: 1\n    tree: 1\n    water: 1\n" in gpkg


def test_sidecars_into_output_folder(run_alg, dataset, tmp_path):
    out = tmp_path / "sidecars"
    res = run_alg(
        "labelguard:exportsidecars", {"LAYERS": [str(dataset["gpkg"])], "OUTPUT_FOLDER": str(out)}
    )
    assert res["SIDECARS"] == [str(out / "labels.gpkg.labelguard.yaml")]
    assert not (dataset["root"] / "labels.gpkg.labelguard.yaml").exists()


def test_memory_layer_is_refused_with_a_clear_message(run_alg, qgis_new_project):
    from qgis.core import QgsProcessingException, QgsProject, QgsVectorLayer

    layer = QgsVectorLayer("Polygon?crs=EPSG:32633", "scratch", "memory")
    QgsProject.instance().addMapLayer(layer)
    with pytest.raises(QgsProcessingException, match="Layer 'scratch' is a temporary"):
        run_alg("labelguard:exportsidecars", {"LAYERS": [layer]})


def _build(run_alg, ds, name="v1.json", version="v1", parent=None, layers=None):
    params = {
        "LAYERS": layers or [str(ds["tif"]), str(ds["gpkg"])],
        "VERSION": version,
        "OUTPUT": str(ds["root"] / name),
    }
    if parent:
        params["PARENT"] = str(parent)
    return run_alg("labelguard:buildmanifest", params)


def _verify(run_alg, manifest, tmp_path, **extra):
    report = tmp_path / "verify.json"
    res = run_alg(
        "labelguard:verifymanifest",
        {"MANIFEST": str(manifest), "REPORT": str(report), "OUTPUT": "memory:", **extra},
    )
    doc = json.loads(report.read_text())
    validate(doc, "labelguard.report", "verify report")
    assert all(f["status"] == f["rule"] for f in doc["findings"])
    return res, {(f["path"]): f["status"] for f in doc["findings"]}


def test_build_then_verify_is_clean(run_alg, dataset, tmp_path):
    run_alg("labelguard:exportsidecars", {"LAYERS": [str(dataset["tif"]), str(dataset["gpkg"])]})
    res = _build(run_alg, dataset)
    manifest = json.loads(Path(res["OUTPUT"]).read_text())
    assert res["ENTRY_COUNT"] == 2
    assert [e["path"] for e in manifest["entries"]] == ["labels.gpkg", "ortho.tif"]
    assert manifest["entries"][0]["sidecar"]["path"] == "labels.gpkg.labelguard.yaml"
    assert manifest["entries"][0]["feature_count"] == 3
    verify, statuses = _verify(run_alg, res["OUTPUT"], tmp_path)
    assert statuses == {"labels.gpkg": "ok", "ortho.tif": "ok"}
    assert (verify["OK_COUNT"], verify["MISMATCH_COUNT"], verify["CHAIN_OK"]) == (2, 0, 1)


def test_verify_tells_rewritten_modified_missing_crs_drift_untracked(
    run_alg, dataset, tmp_path, gis
):
    res = _build(run_alg, dataset)
    # Same features, new bytes: VACUUM with a changed page size rewrites the whole file.
    con = sqlite3.connect(dataset["gpkg"])
    con.execute("PRAGMA page_size=8192")
    con.execute("VACUUM")
    con.close()
    gis.write_raster(dataset["tif"], epsg=32634)  # same pixels, other CRS
    gis.write_vector(dataset["root"] / "extra.gpkg")
    verify, statuses = _verify(run_alg, res["OUTPUT"], tmp_path)
    assert statuses == {
        "labels.gpkg": "rewritten",
        "ortho.tif": "crs_drift",
        "extra.gpkg": "untracked",
    }
    assert (verify["OK_COUNT"], verify["MISMATCH_COUNT"], verify["REWRITTEN_COUNT"]) == (1, 2, 1)
    gis.write_vector(dataset["gpkg"], gis.POLYS[:2])
    dataset["tif"].unlink()
    _, statuses = _verify(run_alg, res["OUTPUT"], tmp_path, SCAN_UNTRACKED=False)
    assert statuses == {"labels.gpkg": "modified", "ortho.tif": "missing"}


def test_sidecar_mismatch(run_alg, dataset, tmp_path):
    run_alg("labelguard:exportsidecars", {"LAYERS": [str(dataset["gpkg"])]})
    res = _build(run_alg, dataset, layers=[str(dataset["gpkg"])])
    side = dataset["root"] / "labels.gpkg.labelguard.yaml"
    side.write_text(side.read_text().replace("building: 1", "building: 7"))
    _, statuses = _verify(run_alg, res["OUTPUT"], tmp_path)
    assert statuses["labels.gpkg"] == "sidecar_mismatch"


def test_fail_on_error_raises_with_counts(run_alg, dataset, tmp_path):
    from qgis.core import QgsProcessingException

    res = _build(run_alg, dataset)
    dataset["tif"].unlink()
    with pytest.raises(QgsProcessingException, match=r"does not match manifest v1.json: 1 missing"):
        run_alg(
            "labelguard:verifymanifest",
            {"MANIFEST": res["OUTPUT"], "FAIL_ON_ERROR": True, "OUTPUT": "memory:"},
        )


def test_parent_chain_recorded_and_tampering_detected(run_alg, dataset, tmp_path):
    from qgis.core import QgsProcessingException

    v1 = _build(run_alg, dataset)
    v2 = _build(run_alg, dataset, "v2.json", "v2", parent=v1["OUTPUT"])
    doc = json.loads(Path(v2["OUTPUT"]).read_text())
    assert doc["parent"] == {"path": "v1.json", "sha256": v1["MANIFEST_SHA256"], "version": "v1"}
    v1_path = Path(v1["OUTPUT"])
    v1_path.write_text(v1_path.read_text().replace('"version": "v1"', '"version": "v1b"'))
    verify, _ = _verify(run_alg, v2["OUTPUT"], tmp_path)
    assert verify["CHAIN_OK"] == 0
    with pytest.raises(QgsProcessingException, match="broken manifest chain"):
        run_alg("labelguard:verifymanifest", {"MANIFEST": v2["OUTPUT"], "FAIL_ON_ERROR": True})
    with pytest.raises(QgsProcessingException, match="was changed after it was linked"):
        _build(run_alg, dataset, "v3.json", "v3", parent=v2["OUTPUT"])


def test_missing_parent_and_unknown_schema_version(run_alg, dataset, tmp_path):
    from qgis.core import QgsProcessingException

    v1 = _build(run_alg, dataset)
    future = tmp_path / "future.json"
    doc = json.loads(Path(v1["OUTPUT"]).read_text())
    doc["schema"] = "labelguard.manifest/2"
    future.write_text(json.dumps(doc))
    with pytest.raises(QgsProcessingException, match="uses schema 'labelguard.manifest/2'"):
        run_alg("labelguard:verifymanifest", {"MANIFEST": str(future)})
    with pytest.raises(QgsProcessingException, match="Parent manifest: Manifest .* does not exist"):
        _build(run_alg, dataset, "v2.json", "v2", parent=tmp_path / "nope.json")
    assert not (dataset["root"] / "v2.json").exists()


def test_layer_outside_root_is_refused(run_alg, dataset, tmp_path, gis):
    from qgis.core import QgsProcessingException

    other = gis.write_vector(tmp_path / "elsewhere.gpkg")
    with pytest.raises(QgsProcessingException, match="lies outside the dataset root"):
        _build(run_alg, dataset, layers=[str(dataset["gpkg"]), str(other)])
    assert not (dataset["root"] / "v1.json").exists()


def test_cancel_writes_nothing(run_alg, dataset):
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    with pytest.raises(QgsProcessingException, match="Cancelled; nothing was written"):
        run_alg(
            "labelguard:buildmanifest",
            {
                "LAYERS": [str(dataset["gpkg"])],
                "VERSION": "v1",
                "OUTPUT": str(dataset["root"] / "v1.json"),
            },
            feedback=feedback,
        )
    assert sorted(p.name for p in dataset["root"].iterdir()) == ["labels.gpkg", "ortho.tif"]


def test_gpkg_and_geojson_have_the_same_content_hash(run_alg, dataset, gis):
    geojson = gis.write_vector(dataset["root"] / "labels.geojson", driver="GeoJSON")
    res = _build(run_alg, dataset, layers=[str(dataset["gpkg"]), str(geojson)])
    entries = json.loads(Path(res["OUTPUT"]).read_text())["entries"]
    assert entries[0]["sha256"] != entries[1]["sha256"]
    assert entries[0]["content_sha256"] == entries[1]["content_sha256"]


def test_diff_by_id_and_by_content(run_alg, dataset, tmp_path, gis):
    v1 = _build(run_alg, dataset, layers=[str(dataset["gpkg"])])
    moved = gis.POLYS[0][2].replace("500030", "500033")
    gis.write_vector(
        dataset["gpkg"],
        [
            (1, "building", moved),
            (2, "shrub", gis.POLYS[1][2]),
            (4, "tree", gis.POLYS[2][2].replace("5000030", "5000035")),
        ],
    )
    v2 = _build(
        run_alg, dataset, "v2.json", "v2", parent=v1["OUTPUT"], layers=[str(dataset["gpkg"])]
    )
    report = tmp_path / "diff.json"
    res = run_alg(
        "labelguard:diffversions",
        {
            "BASE": v1["OUTPUT"],
            "HEAD": v2["OUTPUT"],
            "ID_FIELD": "id",
            "OUTPUT": "memory:",
            "REPORT": str(report),
        },
    )
    assert (res["ADDED"], res["REMOVED"], res["MODIFIED"], res["UNCHANGED"]) == (1, 1, 2, 0)
    assert (res["GEOMETRY_CHANGED"], res["ATTRIBUTES_CHANGED"]) == (1, 1)
    doc = json.loads(report.read_text())
    validate(doc, "labelguard.report", "diff report")
    assert doc["tool"] == "labelguard:diffversions"
    layer = res["OUTPUT"]
    if isinstance(layer, str):
        from qgis.core import QgsProcessingUtils

        layer = QgsProcessingUtils.mapLayerFromString(layer, None)
    rows = {
        f["feature_id"]: (f["status"], f["changed_fields"], f["geometry_from"])
        for f in layer.getFeatures()
    }
    assert rows == {
        "1": ("geometry_changed", "", "head"),
        "2": ("attributes_changed", "class", "head"),
        "3": ("removed", "", "base"),  # kept in the base feature index
        "4": ("added", "", "head"),
    }
    # Without the ID field, the GeoPackage fid is checked (feature 2 kept its geometry and
    # its fid) and used as the key.
    no_id_report = tmp_path / "diff-no-id.json"
    no_id = run_alg(
        "labelguard:diffversions",
        {"BASE": v1["OUTPUT"], "HEAD": v2["OUTPUT"], "REPORT": str(no_id_report)},
    )
    assert (no_id["ADDED"], no_id["REMOVED"], no_id["UNCHANGED"], no_id["MODIFIED"]) == (0, 0, 0, 3)
    assert no_id["BOTH_CHANGED"] == 1
    (per_layer,) = json.loads(no_id_report.read_text())["per_layer"].values()
    assert (per_layer["matching"], per_layer["key"]) == ("fid", "fid")
    doc = json.loads(report.read_text())
    assert doc["counts"]["removed"] == 1
    assert len(doc["findings"]) == 4


def test_diff_refuses_a_non_unique_id_field(run_alg, dataset, gis):
    from qgis.core import QgsProcessingException

    gis.write_vector(dataset["gpkg"], [(1, "a", gis.POLYS[0][2]), (1, "b", gis.POLYS[1][2])])
    v1 = _build(run_alg, dataset, layers=[str(dataset["gpkg"])])
    with pytest.raises(QgsProcessingException, match="ID field 'id' is not unique"):
        run_alg(
            "labelguard:diffversions",
            {"BASE": v1["OUTPUT"], "HEAD": v1["OUTPUT"], "ID_FIELD": "id"},
        )


def test_an_unwritable_output_folder_is_one_clear_message(run_alg, dataset, tmp_path):
    from qgis.core import QgsProcessingException

    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be\n", encoding="utf-8")
    with pytest.raises(QgsProcessingException, match=r"^Cannot read or write .*blocker.*: "):
        run_alg(
            "labelguard:exportsidecars",
            {"LAYERS": [str(dataset["gpkg"])], "OUTPUT_FOLDER": str(blocker / "sidecars")},
        )
    assert blocker.read_text(encoding="utf-8") == "a file where a folder should be\n"


def test_runs_from_the_toolbox_load_every_layer_they_announce(
    run_and_load, run_alg, dataset, tmp_path
):
    v1 = _build(run_alg, dataset)
    res, wrong, loaded = run_and_load(
        "labelguard:verifymanifest", {"MANIFEST": v1["OUTPUT"], "OUTPUT": "TEMPORARY_OUTPUT"}
    )
    assert (res["OK_COUNT"], res["MISMATCH_COUNT"], wrong) == (2, 0, [])
    assert len(loaded) == 1
    res, wrong, loaded = run_and_load(
        "labelguard:diffversions",
        {"BASE": v1["OUTPUT"], "HEAD": v1["OUTPUT"], "OUTPUT": "TEMPORARY_OUTPUT"},
    )
    assert (res["UNCHANGED"], wrong) == (3, [])
    assert len(loaded) == 1


def test_buildmanifest_stops_on_a_locked_geopackage(run_alg, dataset, monkeypatch):
    # Recorded as a plain file (bytes only) before, and verify then called it missing.
    from labelguard.gdalio import opening
    from qgis.core import QgsProcessingException

    monkeypatch.setattr(opening, "LOCK_WAIT_SECONDS", 0.1)
    writer = sqlite3.connect(str(dataset["gpkg"]), isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(
            QgsProcessingException,
            match=r"labels.gpkg' is locked by another program's open transaction \(SQLite",
        ):
            _build(run_alg, dataset, layers=[str(dataset["gpkg"])])
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert not (dataset["root"] / "v1.json").exists()


def test_diff_plain_path_and_layername_are_the_same_layer(run_alg, dataset, gis):
    # qgis_process gives a plain path, the desktop "path|layername=...": diff crashed on it.
    gpkg, root = dataset["gpkg"], dataset["root"]
    run_alg(
        "labelguard:buildmanifest",
        {"LAYERS": [str(gpkg)], "VERSION": "v1", "OUTPUT": str(root / "v1.json")},
    )
    gis.write_vector(gpkg, gis.POLYS[:2])
    run_alg(
        "labelguard:buildmanifest",
        {
            "LAYERS": [f"{gpkg}|layername=annotations"],
            "VERSION": "v2",
            "OUTPUT": str(root / "v2.json"),
            "PARENT": str(root / "v1.json"),
        },
    )
    layers = [
        [(e["path"], e["layer"]) for e in json.loads((root / f"{v}.json").read_text())["entries"]]
        for v in ("v1", "v2")
    ]
    assert layers == [[("labels.gpkg", None)], [("labels.gpkg", "annotations")]]
    res = run_alg(
        "labelguard:diffversions",
        {"BASE": str(root / "v1.json"), "HEAD": str(root / "v2.json"), "OUTPUT": "memory:"},
    )
    assert (res["ADDED"], res["REMOVED"], res["MODIFIED"], res["UNCHANGED"]) == (0, 1, 0, 2)
