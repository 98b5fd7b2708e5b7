"""Import model predictions through Processing: round trips from COCO and YOLO exports."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import training_fixtures as tf  # noqa: E402
from labelguard.core.geos import shapely  # noqa: E402

EXPORT = "labelguard:exporttraining"
IMPORT = "labelguard:importpredictions"


@pytest.fixture
def training_algs(labelguard_provider):
    from labelguard.processing_provider.export_training import ExportTrainingAlgorithm
    from labelguard.processing_provider.import_predictions import ImportPredictionsAlgorithm

    for cls in (ExportTrainingAlgorithm, ImportPredictionsAlgorithm):
        if labelguard_provider.algorithm(cls().name()) is None:
            labelguard_provider.addAlgorithm(cls())
    return labelguard_provider


@pytest.fixture
def scene(tmp_path):
    polys = tf.source_polygons()
    return {
        "image": tf.make_image(tmp_path / "scene.tif"),
        "annotations": tf.make_annotations(tmp_path / "labels.gpkg", polys),
        "polygons": polys,
    }


def _export(run_alg, scene, out, fmt, **extra):
    return run_alg(
        EXPORT,
        {
            **extra,
            "RASTER": str(scene["image"]),
            "ANNOTATIONS": str(scene["annotations"]),
            "CLASS_FIELD": "cls",
            "FORMAT": fmt,
            "TILE_SIZE": 256,
            "OVERLAP": 64,
            "OUTPUT_FOLDER": str(out),
            "VAL_FRACTION": 0.3,
            "SEED": 2,
            "MIN_VISIBLE": 0.0,
            "SPLIT_BLOCK_TILES": 1,
        },
    )


def _features(layer):
    rows = []
    for f in layer.getFeatures():
        rows.append(
            (
                f["class"],
                f["score"],
                f["kind"],
                f["merged"],
                shapely.from_wkb(bytes(f.geometry().asWkb())),
            )
        )
    return rows


def _best_iou(source_world, rows):
    geoms = np.array([r[4] for r in rows], dtype=object)
    inter = shapely.area(shapely.intersection(source_world, geoms))
    union = shapely.area(shapely.union(source_world, geoms))
    k = int(np.argmax(inter / union))
    return float(inter[k] / union[k]), k


def test_coco_round_trip_gives_one_feature_per_object(tmp_path, scene, training_algs, run_alg):
    out = tmp_path / "ds"
    _export(run_alg, scene, out, 0, COCO_HOLES=1)  # RLE: bridged polygons have their own test
    results = []
    for split in ("train", "val"):
        doc = json.loads((out / "annotations" / f"instances_{split}.json").read_text())
        for ann in doc["annotations"]:
            results.append(
                {
                    "image_id": ann["image_id"],
                    "category_id": ann["category_id"],
                    "segmentation": ann["segmentation"],
                    "score": 0.9,
                }
            )
    assert any(isinstance(r["segmentation"], dict) for r in results)  # RLE for holes
    pred = tmp_path / "results.json"
    pred.write_text(json.dumps(results))
    res = run_alg(
        IMPORT, {"INPUT": str(pred), "DATASET": str(out), "MIN_SCORE": 0.5, "OUTPUT": "memory:"}
    )
    layer = res["OUTPUT"]
    assert layer.crs().authid() == "EPSG:32631"
    rows = _features(layer)
    assert res["FEATURE_COUNT"] == len(rows) == len(scene["polygons"])
    assert res["MERGED_COUNT"] == len(results) - len(rows) > 0
    for _fid, cls, poly in scene["polygons"]:
        iou, k = _best_iou(tf.pixel_to_world(poly), rows)
        assert iou >= 0.97
        assert rows[k][0] == cls
        assert rows[k][1] == pytest.approx(0.9)
        assert len(shapely.get_parts(rows[k][4])) == 1
        src_holes = len(poly.interiors)
        assert shapely.get_num_interior_rings(shapely.get_parts(rows[k][4])[0]) == src_holes


def test_min_score_drops_low_confidence(tmp_path, scene, training_algs, run_alg):
    out = tmp_path / "ds"
    _export(run_alg, scene, out, 0)
    doc = json.loads((out / "annotations" / "instances_train.json").read_text())
    results = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "bbox": a["bbox"],
            "score": 0.3 if i % 2 else 0.8,
        }
        for i, a in enumerate(doc["annotations"])
    ]
    pred = tmp_path / "boxes.json"
    pred.write_text(json.dumps(results))
    low = run_alg(
        IMPORT, {"INPUT": str(pred), "DATASET": str(out), "MIN_SCORE": 0.0, "OUTPUT": "memory:"}
    )
    high = run_alg(
        IMPORT, {"INPUT": str(pred), "DATASET": str(out), "MIN_SCORE": 0.5, "OUTPUT": "memory:"}
    )
    assert 0 < high["FEATURE_COUNT"] < low["FEATURE_COUNT"]
    rows = _features(high["OUTPUT"])
    assert {r[2] for r in rows} == {"box"}
    assert min(r[1] for r in rows) == pytest.approx(0.8)
    for r in rows:  # merged boxes stay rectangles
        assert shapely.area(shapely.envelope(r[4])) == pytest.approx(shapely.area(r[4]))


def test_yolo_segments_with_confidence_round_trip(tmp_path, scene, training_algs, run_alg):
    out = tmp_path / "ds"
    _export(run_alg, scene, out, 2)
    pred_dir = tmp_path / "runs" / "predict" / "labels"
    pred_dir.mkdir(parents=True)
    for split in ("train", "val"):
        for f in sorted((out / "labels" / split).glob("*.txt")):
            lines = [f"{ln} 0.75" for ln in f.read_text().splitlines()]
            (pred_dir / f.name).write_text("\n".join(lines) + "\n")
    res = run_alg(IMPORT, {"INPUT": str(pred_dir), "DATASET": str(out), "OUTPUT": "memory:"})
    rows = _features(res["OUTPUT"])
    assert res["FEATURE_COUNT"] == len(scene["polygons"])
    for _fid, cls, poly in scene["polygons"]:
        iou, k = _best_iou(tf.pixel_to_world(poly), rows)
        assert iou >= 0.97
        assert rows[k][0] == cls
        assert rows[k][1] == pytest.approx(0.75)


def test_yolo_boxes_round_trip(tmp_path, scene, training_algs, run_alg):
    out = tmp_path / "ds"
    _export(run_alg, scene, out, 1)
    pred_dir = tmp_path / "pred"
    shutil.copytree(out / "labels" / "train", pred_dir)
    for f in (out / "labels" / "val").glob("*.txt"):
        shutil.copy(f, pred_dir / f.name)
    res = run_alg(
        IMPORT,
        {"INPUT": str(next(pred_dir.glob("*.txt"))), "DATASET": str(out), "OUTPUT": "memory:"},
    )
    rows = _features(res["OUTPUT"])
    assert res["FEATURE_COUNT"] == len(scene["polygons"])
    for _fid, _cls, poly in scene["polygons"]:
        iou, _k = _best_iou(shapely.envelope(tf.pixel_to_world(poly)), rows)
        assert iou >= 0.97


def test_import_errors(tmp_path, scene, training_algs, run_alg):
    from qgis.core import QgsProcessingException

    out = tmp_path / "ds"
    _export(run_alg, scene, out, 0)
    pred = tmp_path / "other.json"
    pred.write_text(
        json.dumps([{"image_id": 999, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 1.0}])
    )
    with pytest.raises(QgsProcessingException, match="None of the predictions in .* refers to a"):
        run_alg(IMPORT, {"INPUT": str(pred), "DATASET": str(out), "OUTPUT": "memory:"})
    with pytest.raises(QgsProcessingException, match="holds no labelguard_dataset.json"):
        run_alg(IMPORT, {"INPUT": str(pred), "DATASET": str(tmp_path), "OUTPUT": "memory:"})


def test_a_run_from_the_toolbox_loads_the_predictions(
    tmp_path, scene, training_algs, run_alg, run_and_load
):
    out = tmp_path / "ds"
    _export(run_alg, scene, out, 1)
    labels = sorted((out / "labels").rglob("*.txt"))
    assert labels
    res, wrong, loaded = run_and_load(
        IMPORT, {"INPUT": str(labels[0].parent), "DATASET": str(out), "OUTPUT": "TEMPORARY_OUTPUT"}
    )
    assert res["FEATURE_COUNT"] > 0
    assert wrong == []
    assert len(loaded) == 1


def test_no_predictions_give_an_empty_layer(tmp_path, scene, training_algs, run_alg):
    out = tmp_path / "ds"
    _export(run_alg, scene, out, 0)
    pred = tmp_path / "none.json"
    pred.write_text("[]")
    res = run_alg(IMPORT, {"INPUT": str(pred), "DATASET": str(out), "OUTPUT": "memory:"})
    assert (res["FEATURE_COUNT"], res["MERGED_COUNT"], res["OUTPUT"].featureCount()) == (0, 0, 0)


def test_bad_rows_refused_on_request(tmp_path, scene, training_algs, run_alg):
    from qgis.core import QgsProcessingException

    out = tmp_path / "ds"
    _export(run_alg, scene, out, 0)
    pred = tmp_path / "bad.json"
    pred.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}]))
    params = {"INPUT": str(pred), "DATASET": str(out), "OUTPUT": "memory:"}
    assert run_alg(IMPORT, params)["FEATURE_COUNT"] == 0
    with pytest.raises(QgsProcessingException, match=r"record 1: bbox \[1, 2, 3\] is not"):
        run_alg(IMPORT, {**params, "BAD_ROWS": 1})
