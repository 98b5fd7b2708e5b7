"""Export training dataset through Processing: formats, georeferencing, splits, bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import training_fixtures as tf  # noqa: E402
from labelguard.core.geos import shapely  # noqa: E402

ALG = "labelguard:exporttraining"


@pytest.fixture
def training_algs(labelguard_provider):
    """The training algorithms on the provider, also before the lead registers them."""
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


def _params(scene, out, **extra):
    params = {
        "RASTER": str(scene["image"]),
        "ANNOTATIONS": str(scene["annotations"]),
        "CLASS_FIELD": "cls",
        "FORMAT": 0,
        "TILE_SIZE": 256,
        "OVERLAP": 32,
        "OUTPUT_FOLDER": str(out),
        "VAL_FRACTION": 0.3,
        "SEED": 5,
        "MIN_VISIBLE": 0.3,
        "SPLIT_BLOCK_TILES": 1,
    }
    params.update(extra)
    return params


def _clipped(polygons, fid, col, row, w, h):
    """The source polygon (pixel space) clipped to a tile, in tile-local pixels."""
    poly = dict((f, p) for f, _, p in polygons)[fid]
    piece = shapely.intersection(poly, shapely.box(col, row, col + w, row + h))
    return shapely.transform(piece, lambda c: c - (col, row))


def _index(out):
    return json.loads((Path(out) / "labelguard_dataset.json").read_text())


def test_coco_loads_in_pycocotools_and_matches_clipped_polygons(
    tmp_path, scene, training_algs, run_alg
):
    coco_mod = pytest.importorskip("pycocotools.coco")
    mask_util = pytest.importorskip("pycocotools.mask")
    out = tmp_path / "coco"
    res = run_alg(ALG, _params(scene, out))
    assert res["OUTPUT_FOLDER"] == str(out)
    assert res["TILE_COUNT"] == res["TRAIN_TILE_COUNT"] + res["VAL_TILE_COUNT"] > 0
    n_ann = 0
    n_holes = 0
    for split in ("train", "val"):
        coco = coco_mod.COCO(str(out / "annotations" / f"instances_{split}.json"))
        assert sorted(c["name"] for c in coco.loadCats(coco.getCatIds())) == [
            "building",
            "tree",
            "water",
        ]
        for ann in coco.loadAnns(coco.getAnnIds()):
            img = coco.loadImgs(ann["image_id"])[0]
            piece = _clipped(
                scene["polygons"],
                ann["source_fid"],
                img["col_off"],
                img["row_off"],
                img["width"],
                img["height"],
            )
            mask = coco.annToMask(ann)
            assert abs(mask.sum() - piece.area) / piece.area < 0.02, ann["id"]
            assert ann["area"] == pytest.approx(piece.area, abs=0.05)
            x0, y0, x1, y1 = piece.bounds
            assert ann["bbox"] == pytest.approx([x0, y0, x1 - x0, y1 - y0], abs=0.01)
            rle_box = mask_util.toBbox(coco.annToRLE(ann))
            # crowd pieces (below MIN_VISIBLE, written since issue 11) are tile-edge slivers
            # whose pointed ends pycocotools' pixel grid may miss by up to a pixel each side
            tolerance = 2.0 if ann["iscrowd"] else 1.0
            assert rle_box == pytest.approx(ann["bbox"], abs=tolerance)
            if shapely.get_num_interior_rings(shapely.get_parts(piece)).sum():
                n_holes += 1
                # bridged polygons since issue 11 (RLE with iscrowd 0 broke torchvision)
                assert isinstance(ann["segmentation"], list)
                hole = shapely.get_parts(piece)[0].interiors[0]
                cx, cy = shapely.centroid(shapely.Polygon(hole)).coords[0]
                assert mask[int(cy), int(cx)] == 0
            n_ann += 1
    assert n_ann == res["ANNOTATION_COUNT"]
    assert n_holes >= 3


def test_tiles_keep_georeferencing(tmp_path, scene, training_algs, run_alg):
    from osgeo import gdal

    out = tmp_path / "geo"
    run_alg(ALG, _params(scene, out))
    coco = json.loads((out / "annotations" / "instances_train.json").read_text())
    src = gdal.Open(str(scene["image"]))
    for img in coco["images"]:
        ds = gdal.Open(str(out / img["path"]))
        gt = ds.GetGeoTransform()
        assert list(gt) == img["geotransform"]
        assert gt[0] == tf.GT[0] + img["col_off"] * tf.GT[1]
        assert gt[3] == tf.GT[3] + img["row_off"] * tf.GT[5]
        assert ds.GetSpatialRef().GetAuthorityCode(None) == str(tf.EPSG)
        assert "32631" in img["crs_wkt"]
        window = src.ReadAsArray(img["col_off"], img["row_off"], img["width"], img["height"])
        assert (ds.ReadAsArray() == window).all()
    tiles = gdal.OpenEx(str(out / "tiles.gpkg"))
    layer = tiles.GetLayer("tiles")
    assert layer.GetFeatureCount() == len(_index(out)["tiles"])
    assert {f.GetField("split") for f in layer} == {"train", "val"}


def test_png_tiles_have_world_file_and_aux_xml(tmp_path, scene, training_algs, run_alg):
    from osgeo import gdal

    out = tmp_path / "png"
    run_alg(ALG, _params(scene, out, IMAGE_FORMAT=1))
    tile = _index(out)["tiles"][0]
    path = out / tile["image"]
    assert path.suffix == ".png"
    assert path.with_suffix(".wld").is_file() or Path(f"{path}.aux.xml").is_file()
    assert Path(f"{path}.aux.xml").is_file()
    ds = gdal.Open(str(path))
    assert list(ds.GetGeoTransform()) == pytest.approx(tile["geotransform"])
    assert ds.GetSpatialRef().GetAuthorityCode(None) == str(tf.EPSG)


def test_sixteen_bit_needs_explicit_stretch(tmp_path, training_algs, run_alg):
    from osgeo import gdal
    from qgis.core import QgsProcessingException

    image = tf.make_image(tmp_path / "u16.tif", dtype="UInt16", bands=4)
    scene = {
        "image": image,
        "annotations": tf.make_annotations(tmp_path / "l.gpkg", tf.source_polygons()),
    }
    with pytest.raises(QgsProcessingException, match="The image is UInt16; PNG tiles are 8-bit"):
        run_alg(ALG, _params(scene, tmp_path / "a", IMAGE_FORMAT=1))
    with pytest.raises(
        QgsProcessingException,
        match=r"JPEG tiles take 1 or 3 band\(s\), but the image has 4; set BANDS",
    ):
        run_alg(ALG, _params(scene, tmp_path / "b", IMAGE_FORMAT=2, STRETCH=1))
    out = tmp_path / "c"
    run_alg(ALG, _params(scene, out, IMAGE_FORMAT=2, STRETCH=1, BANDS="3,2,1"))
    rec = _index(out)["image"]["tiles"]
    assert rec["bands"] == [3, 2, 1]
    assert rec["stretch"] == "minmax"
    assert rec["data_type"] == "Byte"
    assert len(rec["stretch_limits"]) == 3
    ds = gdal.Open(str(out / _index(out)["tiles"][0]["image"]))
    assert ds.RasterCount == 3
    assert ds.GetRasterBand(1).DataType == gdal.GDT_Byte


def test_yolo_boxes_and_segments_match_polygons(tmp_path, scene, training_algs, run_alg):
    import yaml
    from labelguard.core.training.raster import rasterize

    for fmt in (1, 2):
        out = tmp_path / f"yolo{fmt}"
        res = run_alg(ALG, _params(scene, out, FORMAT=fmt, MIN_VISIBLE=0.5))
        data = yaml.safe_load((out / "data.yaml").read_text())
        assert data["names"] == {0: "building", 1: "tree", 2: "water"}
        assert data["train"] == "images/train"
        index = _index(out)
        lines_total = 0
        for tile in index["tiles"]:
            w, h = tile["width"], tile["height"]
            lines = (out / tile["label"]).read_text().splitlines()
            lines_total += len(lines)
            box = shapely.box(
                tile["col_off"], tile["row_off"], tile["col_off"] + w, tile["row_off"] + h
            )
            expected = []
            for _fid, cls, poly in scene["polygons"]:
                piece = shapely.intersection(poly, box)
                if piece.area >= 0.5 * poly.area:
                    expected.append(
                        (
                            cls,
                            shapely.transform(
                                piece, lambda c, t=tile: c - (t["col_off"], t["row_off"])
                            ),
                        )
                    )
            assert len(lines) >= len(expected)
            names = data["names"]
            for cls, piece in expected:
                if fmt == 1:
                    x0, y0, x1, y1 = piece.bounds
                    want = np.array(
                        [(x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h]
                    )
                    got = [
                        np.array(ln.split()[1:], float)
                        for ln in lines
                        if names[int(ln.split()[0])] == cls
                    ]
                    assert min(np.abs(g - want).max() for g in got) < 1e-5
                else:
                    best = 0.0
                    for ln in lines:
                        vals = ln.split()
                        if names[int(vals[0])] != cls:
                            continue
                        xy = np.array(vals[1:], float).reshape(-1, 2) * (w, h)
                        ring = rasterize(shapely.Polygon(xy), w, h)
                        truth = rasterize(piece, w, h)
                        iou = (ring & truth).sum() / max(1, (ring | truth).sum())
                        best = max(best, iou)
                    assert best > 0.99
        assert lines_total == res["ANNOTATION_COUNT"]


def test_masks_and_class_map(tmp_path, scene, training_algs, run_alg):
    from osgeo import gdal

    out = tmp_path / "masks"
    run_alg(ALG, _params(scene, out, FORMAT=3, MIN_VISIBLE=0.0, VAL_FRACTION=0.0))
    classes = json.loads((out / "classes.json").read_text())["classes"]
    assert [c["name"] for c in classes] == ["background", "building", "tree", "water"]
    total = 0
    for tile in _index(out)["tiles"]:
        ds = gdal.Open(str(out / tile["mask"]))
        assert list(ds.GetGeoTransform()) == tile["geotransform"]
        total += int((ds.ReadAsArray() > 0).sum())
    union = shapely.union_all([p for _, _, p in scene["polygons"]])
    # tiles overlap: every pixel under a polygon is counted in each tile that covers it
    assert total >= union.area * 0.98


def test_reprojected_annotations_land_on_the_same_pixels(tmp_path, scene, training_algs, run_alg):
    ann4326 = tf.make_annotations(tmp_path / "wgs84.gpkg", scene["polygons"], epsg=4326)
    a = run_alg(ALG, _params(scene, tmp_path / "a", VAL_FRACTION=0.0))
    b = run_alg(ALG, _params(dict(scene, annotations=ann4326), tmp_path / "b", VAL_FRACTION=0.0))
    assert a["ANNOTATION_COUNT"] == b["ANNOTATION_COUNT"]
    ca = json.loads((tmp_path / "a/annotations/instances_train.json").read_text())["annotations"]
    cb = json.loads((tmp_path / "b/annotations/instances_train.json").read_text())["annotations"]
    assert [x["area"] for x in ca] == pytest.approx([x["area"] for x in cb], rel=1e-3)
    assert _index(tmp_path / "b")["sources"]["annotations"]["source_crs"] == "EPSG:4326"


def test_split_is_deterministic_without_leakage(tmp_path, scene, training_algs, run_alg):
    run_alg(ALG, _params(scene, tmp_path / "a", TILE_SIZE=128, OVERLAP=32, SPLIT_BLOCK_TILES=2))
    run_alg(ALG, _params(scene, tmp_path / "b", TILE_SIZE=128, OVERLAP=32, SPLIT_BLOCK_TILES=2))
    ia, ib = _index(tmp_path / "a"), _index(tmp_path / "b")
    assert [(t["name"], t["split"]) for t in ia["tiles"]] == [
        (t["name"], t["split"]) for t in ib["tiles"]
    ]
    assert ia["files"] == ib["files"]
    assert ia["splits"]["val"] > 0
    boxes = {
        s: shapely.union_all(
            [
                shapely.box(
                    t["col_off"],
                    t["row_off"],
                    t["col_off"] + t["width"],
                    t["row_off"] + t["height"],
                )
                for t in ia["tiles"]
                if t["split"] == s
            ]
        )
        for s in ("train", "val")
    }
    assert shapely.intersection(boxes["train"], boxes["val"]).area == 0.0


def test_records_source_hashes_and_label_repairs(tmp_path, training_algs, run_alg):
    import hashlib

    polys = tf.source_polygons()
    polys.append(
        (99, "tree", shapely.from_wkt("POLYGON((100 100, 200 200, 200 100, 100 200, 100 100))"))
    )
    scene = {
        "image": tf.make_image(tmp_path / "s.tif"),
        "annotations": tf.make_annotations(tmp_path / "l.gpkg", polys),
    }
    res = run_alg(ALG, _params(scene, tmp_path / "out"))
    assert res["REPAIRED_COUNT"] == 1
    index = _index(tmp_path / "out")
    assert index["labels"]["repaired_fids"] == [99]
    assert (
        index["sources"]["image"]["sha256"]
        == hashlib.sha256(scene["image"].read_bytes()).hexdigest()
    )
    assert (
        index["sources"]["annotations"]["sha256"]
        == hashlib.sha256(scene["annotations"].read_bytes()).hexdigest()
    )
    listed = {f["path"] for f in index["files"]}
    assert "tiles.gpkg" in listed
    assert "annotations/instances_train.json" in listed
    from qgis.core import QgsProcessingException

    with pytest.raises(
        QgsProcessingException, match=r"1 annotation\(s\) have invalid geometry: feature ids 99\."
    ):
        run_alg(ALG, _params(scene, tmp_path / "refused", INVALID_LABELS=1))
    assert not (tmp_path / "refused").exists()


def test_label_map_file_fixes_ids(tmp_path, scene, training_algs, run_alg):
    lm = tmp_path / "map.json"
    lm.write_text(json.dumps({"water": 1, "tree": 5, "building": 9, "road": 12}))
    run_alg(ALG, _params(scene, tmp_path / "out", LABEL_MAP=str(lm)))
    cats = json.loads((tmp_path / "out/annotations/instances_train.json").read_text())["categories"]
    assert [(c["id"], c["name"]) for c in cats] == [
        (1, "water"),
        (5, "tree"),
        (9, "building"),
        (12, "road"),
    ]
    lm.write_text(json.dumps({"water": 1}))
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="Classes 'building', 'tree' in 'cls' are not"):
        run_alg(ALG, _params(scene, tmp_path / "out2", LABEL_MAP=str(lm)))


def test_cancel_leaves_no_dataset(tmp_path, scene, training_algs, run_alg):
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    class CancelLater(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.polls = 0

        def isCanceled(self):  # noqa: N802 (QGIS API)
            self.polls += 1
            return self.polls > 6

    with pytest.raises(QgsProcessingException, match="Cancelled; nothing was written."):
        run_alg(
            ALG, _params(scene, tmp_path / "out", TILE_SIZE=64, OVERLAP=0), feedback=CancelLater()
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.gpkg", "scene.tif"]


def _error_cases(tmp_path):
    polys = tf.source_polygons(n=6)
    good_img = tf.make_image(tmp_path / "ok.tif")
    good_ann = tf.make_annotations(tmp_path / "ok.gpkg", polys)
    far = [(1, "x", shapely.box(5000, 5000, 5050, 5050))]
    notempty = tmp_path / "full"
    notempty.mkdir()
    (notempty / "keep.txt").write_text("x")
    return (
        {
            "no-crs": (
                {"RASTER": str(tf.make_image(tmp_path / "nocrs.tif", epsg=None))},
                "Image 'nocrs' has no CRS, so its tiles cannot be georeferenced",
            ),
            "outside": (
                {"ANNOTATIONS": str(tf.make_annotations(tmp_path / "far.gpkg", far))},
                "None of the 1 annotations in 'far' overlaps image 'ok'",
            ),
            "no-class-field": ({"CLASS_FIELD": ""}, "CLASS_FIELD is not set"),
            "unknown-field": ({"CLASS_FIELD": "nope"}, "CLASS_FIELD 'nope' does not exist in 'ok'"),
            "null-classes": (
                {
                    "ANNOTATIONS": str(
                        tf.make_annotations(tmp_path / "nulls.gpkg", polys, class_values=[None] * 6)
                    )
                },
                "Class field 'cls' of 'nulls' is empty \\(NULL or blank\\) for all 6 features",
            ),
            "empty-layer": (
                {"ANNOTATIONS": str(tf.make_annotations(tmp_path / "empty.gpkg", []))},
                "Annotation layer 'empty' has no features",
            ),
            "not-empty-folder": ({"OUTPUT_FOLDER": str(notempty)}, "is not empty; choose an empty"),
            "overwrite-foreign": (
                {"OUTPUT_FOLDER": str(notempty), "OVERWRITE": True},
                "holds no LabelGuard export",
            ),
            "bad-bands": ({"BANDS": "4,x"}, "BANDS '4,x' is not a comma-separated list"),
        },
        good_img,
        good_ann,
    )


ERROR_IDS = [
    "no-crs",
    "outside",
    "no-class-field",
    "unknown-field",
    "null-classes",
    "empty-layer",
    "not-empty-folder",
    "overwrite-foreign",
    "bad-bands",
]


@pytest.mark.parametrize("case", ERROR_IDS, ids=ERROR_IDS)
def test_bad_input_messages(tmp_path, training_algs, run_alg, case):
    from qgis.core import QgsProcessingException

    cases, img, ann = _error_cases(tmp_path)
    override, message = cases[case]
    scene = {"image": img, "annotations": ann}
    params = _params(scene, tmp_path / "out")
    params.update(override)
    with pytest.raises(QgsProcessingException, match=message):
        run_alg(ALG, params)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".staging")]


def test_qgis_process_exit_codes(tmp_path, scene, qgis_process):
    from labelguard.processing_provider.provider import ALGORITHMS

    if "exporttraining" not in [cls().name() for cls in ALGORITHMS]:
        pytest.skip("ExportTrainingAlgorithm is not registered in provider.ALGORITHMS yet")
    ok = qgis_process(
        "run",
        ALG,
        "--json",
        "--",
        f"RASTER={scene['image']}",
        f"ANNOTATIONS={scene['annotations']}",
        "CLASS_FIELD=cls",
        "TILE_SIZE=256",
        f"OUTPUT_FOLDER={tmp_path / 'out'}",
    )
    assert ok.returncode == 0, ok.stderr
    results = json.loads(ok.stdout)["results"]
    assert results["TILE_COUNT"] == len(_index(tmp_path / "out")["tiles"]) > 0
    bad = qgis_process(
        "run",
        ALG,
        "--",
        f"RASTER={scene['image']}",
        f"ANNOTATIONS={scene['annotations']}",
        "CLASS_FIELD=cls",
        f"OUTPUT_FOLDER={tmp_path / 'out'}",
    )
    assert bad.returncode != 0
    assert "is not empty; choose an empty or new folder" in bad.stdout + bad.stderr


def test_export_writes_manifest_linked_to_source_versions(tmp_path, scene, training_algs, run_alg):
    """A model's training set traces back to the named version of its labels."""
    dataset = run_alg(
        "labelguard:buildmanifest",
        {
            "LAYERS": [str(scene["image"]), str(scene["annotations"])],
            "VERSION": "labels-v7",
            "OUTPUT": str(tmp_path / "labels-v7.json"),
        },
    )
    out = tmp_path / "out"
    run_alg(ALG, _params(scene, out))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema"] == "labelguard.manifest/1"
    sources = {s["role"]: s for s in manifest["sources"]}
    recorded = {
        e["path"]: e for e in json.loads((tmp_path / "labels-v7.json").read_text())["entries"]
    }
    ann = sources["annotations"]
    assert ann["content_sha256"] == recorded[scene["annotations"].name]["content_sha256"]
    assert ann["manifest"]["version"] == "labels-v7"
    assert ann["manifest"]["sha256"] == dataset["MANIFEST_SHA256"]
    assert ann["manifest"]["status"] == "content matches the manifest entry"
    paths = {e["path"] for e in manifest["entries"]}
    assert {"tiles.gpkg", "labelguard_dataset.json", "annotations/instances_train.json"} <= paths
    assert (out / "tiles.gpkg.labelguard.yaml").is_file()
    verify = run_alg(
        "labelguard:verifymanifest", {"MANIFEST": str(out / "manifest.json"), "FAIL_ON_ERROR": True}
    )
    assert (verify["OK_COUNT"], verify["MISMATCH_COUNT"]) == (len(manifest["entries"]), 0)


def test_sources_record_the_geopackage_layer_name(tmp_path, training_algs, run_alg):
    polys = tf.source_polygons(n=6)
    ann = tf.make_annotations(tmp_path / "labels_file.gpkg", polys, layer="buildings")
    image = tf.make_image(tmp_path / "scene.tif")
    out = tmp_path / "ds"
    params = {"RASTER": str(image), "ANNOTATIONS": str(ann), "VAL_FRACTION": 0.0}
    run_alg(ALG, _params({"image": image, "annotations": ann}, out, **params))
    assert _index(out)["sources"]["annotations"]["layer"] == "buildings"


def test_tile_index_loads_styled_by_split(
    tmp_path, scene, training_algs, run_alg, qgis_new_project, layer_tree_view
):
    import processing
    from labelguard.render.styles import is_result_layer
    from qgis.core import QgsProject

    headless = run_alg(ALG, _params(scene, tmp_path / "headless"))
    assert headless["TILE_INDEX"] == f"{tmp_path / 'headless' / 'tiles.gpkg'}|layername=tiles"
    assert QgsProject.instance().mapLayers() == {}  # a headless run loads nothing
    out = tmp_path / "shown"
    res = processing.runAndLoadResults(ALG, _params(scene, out))  # what the toolbox does
    assert res["TILE_INDEX"] == f"{out / 'tiles.gpkg'}|layername=tiles"
    (tiles,) = QgsProject.instance().mapLayersByName("Tiles shown")
    assert tiles.source() == res["TILE_INDEX"]
    assert tiles.featureCount() == res["TILE_COUNT"]
    split = tiles.fields().indexOf("split")
    assert sorted(tiles.uniqueValues(split)) == ["train", "val"]
    renderer = tiles.renderer()
    assert renderer.classAttribute() == "split"
    categories = renderer.categories()  # the symbols belong to these copies: keep them
    assert [(c.value(), c.label()) for c in categories] == [("train", "train"), ("val", "val")]
    outlines = [c.symbol().symbolLayer(1).strokeColor().name() for c in categories]
    assert outlines == ["#2c7bb6", "#e66101"]  # over a white halo
    assert is_result_layer(tiles)
