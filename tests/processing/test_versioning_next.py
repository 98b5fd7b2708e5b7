"""Issue 13 through Processing: diff without an ID field, the next version in one safe step."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest


def write_labels(path: Path, features, shuffle_seed=None):
    """A GeoPackage layer 'labels' (class, note) of (wkt, class, note); fids 1..n in order."""
    from osgeo import ogr, osr

    ogr.UseExceptions()
    features = list(features)
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(features)
    if path.exists():
        path.unlink()
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    lyr = ds.CreateLayer("labels", srs, ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    lyr.CreateField(ogr.FieldDefn("note", ogr.OFTString))
    for wkt, cls, note in features:
        f = ogr.Feature(lyr.GetLayerDefn())
        f["class"], f["note"] = cls, note
        f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        lyr.CreateFeature(f)
    ds = None
    return path


def square(i, dx=0.0, grow=0.0):
    x, y = 500000 + (i % 6) * 40 + dx, 5000000 + (i // 6) * 40
    return f"POLYGON(({x} {y},{x + 10 + grow} {y},{x + 10 + grow} {y + 10},{x} {y + 10},{x} {y}))"


BASE = [(square(i), "building" if i % 2 else "tree", f"n{i}") for i in range(30)]


def edited():
    """BASE with known edits, re-saved in shuffled order (new fids)."""
    head = {i: f for i, f in enumerate(BASE)}
    for i in (1, 2, 3):  # moved 2 m: IoU 80/120
        head[i] = (square(i, dx=2), *BASE[i][1:])
    for i in (4, 5):  # reshaped: 3 m longer, IoU 100/130
        head[i] = (square(i, grow=3), *BASE[i][1:])
    for i in (6, 7):  # reclassified
        head[i] = (BASE[i][0], "shrub", BASE[i][2])
    del head[8]  # deleted
    new = [(square(40 + k), "tree", "new") for k in range(2)]  # drawn where nothing was
    return list(head.values()) + new


@pytest.fixture
def labels(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    return root, write_labels(root / "labels.gpkg", BASE)


def build(run_alg, root, gpkg, name, **extra):
    params = {"LAYERS": [str(gpkg)], "OUTPUT": str(root / name), **extra}
    return run_alg("labelguard:buildmanifest", params)


def sink_rows(layer):
    if isinstance(layer, str):
        from qgis.core import QgsProcessingUtils

        layer = QgsProcessingUtils.mapLayerFromString(layer, None)
    return list(layer.getFeatures())


def test_shuffled_resaved_layer_diffs_by_geometry_with_exact_counts(run_alg, labels, tmp_path):
    root, gpkg = labels
    v1 = build(run_alg, root, gpkg, "v1.json", VERSION="v1")
    write_labels(gpkg, edited(), shuffle_seed=5)
    v2 = build(run_alg, root, gpkg, "v2.json")
    report = tmp_path / "diff.json"
    res = run_alg(
        "labelguard:diffversions",
        {"BASE": v1["OUTPUT"], "HEAD": v2["OUTPUT"], "OUTPUT": "memory:", "REPORT": str(report)},
    )
    counts = {k: res[k] for k in ("ADDED", "REMOVED", "UNCHANGED", "MODIFIED")}
    assert counts == {"ADDED": 2, "REMOVED": 1, "UNCHANGED": 22, "MODIFIED": 7}
    assert (res["GEOMETRY_CHANGED"], res["ATTRIBUTES_CHANGED"], res["BOTH_CHANGED"]) == (5, 2, 0)
    doc = json.loads(report.read_text())
    (layer,) = doc["per_layer"].values()
    assert (layer["matching"], layer["key"]) == ("geometry", "class")
    assert layer["note"].startswith("matched by geometry (IoU >= 0.5, same class ('class') first")
    assert "fid (" in layer["note"]  # the fid was checked and found renumbered
    assert doc["matching"] == ["geometry"]
    rows = sink_rows(res["OUTPUT"])
    ious = sorted(
        (f["status"], round(f["iou"], 3))
        for f in rows
        if isinstance(f["iou"], float) and f["iou"] != 1.0
    )
    assert ious == [("geometry_changed", 0.667)] * 3 + [("geometry_changed", 0.769)] * 2
    assert {f["matched_by"] for f in rows} == {"geometry"}
    assert sum(1 for f in rows if not isinstance(f["iou"], float)) == 3  # added and removed


def test_a_low_iou_threshold_pairs_labels_that_moved_far(run_alg, labels):
    root, gpkg = labels
    v1 = build(run_alg, root, gpkg, "v1.json")
    moved = [(square(i, dx=7), c, n) for i, (_, c, n) in enumerate(BASE)]  # IoU 30/170
    write_labels(gpkg, moved, shuffle_seed=1)
    v2 = build(run_alg, root, gpkg, "v2.json")
    params = {"BASE": v1["OUTPUT"], "HEAD": v2["OUTPUT"]}
    assert run_alg("labelguard:diffversions", params)["ADDED"] == 30
    low = run_alg("labelguard:diffversions", {**params, "IOU_THRESHOLD": 0.15})
    assert (low["ADDED"], low["GEOMETRY_CHANGED"]) == (0, 30)


def test_next_version_in_one_step_parent_and_label_default(run_alg, labels):
    root, gpkg = labels
    v1 = build(run_alg, root, gpkg, "first.json")
    write_labels(gpkg, edited())
    v2 = build(run_alg, root, gpkg, "second.json")
    write_labels(gpkg, BASE[:10])
    v3 = build(run_alg, root, gpkg, "third.json")
    docs = [json.loads(Path(r["OUTPUT"]).read_text()) for r in (v1, v2, v3)]
    assert [d["version"] for d in docs] == ["v1", "v2", "v3"]
    assert docs[0]["parent"] is None
    assert docs[1]["parent"]["path"] == "first.json"
    assert docs[2]["parent"] == {
        "path": "second.json",
        "sha256": hashlib.sha256(Path(v2["OUTPUT"]).read_bytes()).hexdigest(),
        "version": "v2",
    }
    fresh = build(run_alg, root, gpkg, "fresh.json", NEW_HISTORY=True, VERSION="r1")
    assert json.loads(Path(fresh["OUTPUT"]).read_text())["parent"] is None


def test_an_existing_manifest_and_its_index_are_never_overwritten(run_alg, labels):
    from qgis.core import QgsProcessingException

    root, gpkg = labels
    v1 = build(run_alg, root, gpkg, "v1.json")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and "v1" in str(p)}
    write_labels(gpkg, edited())
    with pytest.raises(QgsProcessingException, match=r"v1\.json' exists; a version is never"):
        build(run_alg, root, gpkg, "v1.json", NEW_HISTORY=True)
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and "v1" in str(p)}
    assert after == before
    assert len([p for p in before if p.suffix == ".gz"]) == 1
    assert json.loads(Path(v1["OUTPUT"]).read_text())["version"] == "v1"


def test_stale_sidecars_are_refreshed_or_refused(run_alg, labels, tmp_path):
    from qgis.core import QgsProcessingException

    root, gpkg = labels
    run_alg("labelguard:exportsidecars", {"LAYERS": [str(gpkg)]})
    side = root / "labels.gpkg.labelguard.yaml"
    old_side = side.read_bytes()
    write_labels(gpkg, edited())  # the sidecar now describes the old content
    with pytest.raises(
        QgsProcessingException,
        match=r"^1 sidecar\(s\) describe other content than their data file: "
        r"labels\.gpkg\.labelguard\.yaml\. Turn on 'Refresh stale sidecars'",
    ):
        build(run_alg, root, gpkg, "v1.json", REFRESH_SIDECARS=False)
    assert not (root / "v1.json").exists()
    assert side.read_bytes() == old_side
    res = build(run_alg, root, gpkg, "v1.json")
    assert side.read_bytes() != old_side
    assert "tree: 15" in side.read_text()  # 15 trees, 1 reclassified, 1 deleted, 2 new
    verify = run_alg("labelguard:verifymanifest", {"MANIFEST": res["OUTPUT"], "OUTPUT": "memory:"})
    assert (verify["OK_COUNT"], verify["MISMATCH_COUNT"]) == (1, 0)


def test_history_of_one_label_across_three_versions(run_alg, labels, tmp_path):
    root, gpkg = labels
    build(run_alg, root, gpkg, "v1.json")
    write_labels(gpkg, edited(), shuffle_seed=5)  # n1 moved 2 m; fids renumbered
    build(run_alg, root, gpkg, "v2.json")
    v3_features = edited()
    v3_features[1] = (v3_features[1][0], "shrub", "n1")  # then reclassified
    write_labels(gpkg, v3_features, shuffle_seed=9)
    v3 = build(run_alg, root, gpkg, "v3.json")
    x, y = 500000 + 40 + 2 + 5, 5000000 + 5  # inside n1 where v3 has it
    report = tmp_path / "history.json"
    res = run_alg(
        "labelguard:featurehistory",
        {
            "MANIFEST": v3["OUTPUT"],
            "POINT": f"{x},{y} [EPSG:32633]",
            "OUTPUT": "memory:",
            "REPORT": str(report),
        },
    )
    assert (res["VERSION_COUNT"], res["PRESENT_COUNT"], res["CHANGE_COUNT"]) == (3, 3, 2)
    rows = sink_rows(res["OUTPUT"])
    got = [(f["version"], f["status"], f["changed_fields"], f["present"]) for f in rows]
    assert got == [
        ("v3", "attributes_changed", "class", True),
        ("v2", "geometry_changed", "", True),
        ("v1", "added", "", True),
    ]
    assert round(rows[1]["iou"], 3) == 0.667
    # the old geometry, from the v1 feature index alone
    assert rows[2].geometry().boundingBox().toString(0) == "500040,5000000 : 500050,5000010"
    assert rows[0].geometry().boundingBox().toString(0) == "500042,5000000 : 500052,5000010"
    classes = [json.loads(f["attributes"])["class"] for f in rows]
    assert classes == ["shrub", "building", "building"]
    findings = json.loads(report.read_text())["findings"]
    assert [f["rule"] for f in findings] == ["attributes_changed", "geometry_changed", "added"]
    assert findings[2]["location"].startswith("Polygon ((500040 5000000, 500040 5000010,")


def test_history_of_a_label_added_later_and_by_fid(run_alg, labels, tmp_path):
    from qgis.core import QgsProcessingException

    root, gpkg = labels
    build(run_alg, root, gpkg, "v1.json")
    write_labels(gpkg, edited())  # in base order: the new labels get fids 30 and 31
    v2 = build(run_alg, root, gpkg, "v2.json")
    res = run_alg(
        "labelguard:featurehistory",
        {"MANIFEST": v2["OUTPUT"], "FEATURE_ID": "31", "OUTPUT": str(tmp_path / "h.gpkg")},
    )
    from qgis.core import QgsVectorLayer

    written = QgsVectorLayer(res["OUTPUT"], "history", "ogr")  # a GeoPackage has its own fid
    got = [(f["version"], f["status"], f["present"]) for f in written.getFeatures()]
    del written
    assert got == [("v2", "added", True), ("v1", "absent", False)]
    assert (res["VERSION_COUNT"], res["PRESENT_COUNT"], res["CHANGE_COUNT"]) == (2, 1, 0)
    with pytest.raises(QgsProcessingException, match="The layer has no feature with fid 99"):
        run_alg("labelguard:featurehistory", {"MANIFEST": v2["OUTPUT"], "FEATURE_ID": "99"})
