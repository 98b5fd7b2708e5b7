"""Core training export with a fake pixel writer: encoders, label checks, staging, import."""

from __future__ import annotations

import json

import numpy as np
import pytest
from labelguard.core.errors import Cancelled, InputError, OutputExists
from labelguard.core.geos import shapely
from labelguard.core.training.encode import bridge_holes, coco_annotations, yolo_box_lines
from labelguard.core.training.export import (
    AnnotationSource,
    ExportOptions,
    ImageSource,
    export_training,
)
from labelguard.core.training.geo import pixel_to_world
from labelguard.core.training.labelmap import labelmap_from_values, read_labelmap
from labelguard.core.training.labels import REFUSE, check_labels
from labelguard.core.training.predictions import import_predictions
from labelguard.core.training.raster import rasterize

GT = (500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5)


class FakeWriter:
    image_ext = ".tif"
    mask_ext = ".tif"
    channels = 3

    def __init__(self):
        self.masks = {}

    def write_image(self, tile, path):
        path.write_bytes(b"img")

    def write_mask(self, tile, mask, path):
        self.masks[tile.name] = mask
        path.write_bytes(b"mask")

    def write_index(self, path, tiles, wkts):
        path.write_text("\n".join(wkts))

    def describe(self):
        return {"format": "fake"}


def _image():
    return ImageSource("", "img", 600, 600, GT, "PROJCRS[...]", "EPSG:32631")


def _polygons(n=30, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        x, y = rng.uniform(30, 570, 2)
        r = rng.uniform(20, 40)
        p = shapely.Point(x, y).buffer(r)
        if i % 5 == 0:
            p = p.difference(shapely.Point(x, y).buffer(r / 3))
        out.append(p)
    return np.array(out, dtype=object)


def _annotations(pix, classes=None, fids=None):
    n = len(pix)
    return AnnotationSource(
        fids=np.arange(1, n + 1) if fids is None else fids,
        geoms=pixel_to_world(GT, pix),
        classes=classes if classes is not None else [("a", "b", "c")[i % 3] for i in range(n)],
        name="labels",
        class_field="cls",
    )


def test_coco_annotations_polygon_bbox_area_and_rle_for_holes():
    plain = shapely.box(10, 20, 40, 30)
    holed = shapely.box(50, 50, 90, 90).difference(shapely.box(60, 60, 80, 80))
    anns = coco_annotations(np.array([plain, holed], dtype=object), 100, 100, holes="rle")
    assert anns[0]["segmentation"] == [[40.0, 20.0, 40.0, 30.0, 10.0, 30.0, 10.0, 20.0]]
    assert anns[0]["bbox"] == [10.0, 20.0, 30.0, 10.0]
    assert anns[0]["area"] == 300.0
    assert set(anns[1]["segmentation"]) == {"size", "counts"}
    assert anns[1]["area"] == 1200.0


def test_yolo_box_line_is_normalized_bounds():
    assert yolo_box_lines(np.array([shapely.box(10, 20, 40, 30)]), [2], 100, 50) == [
        "2 0.250000 0.500000 0.300000 0.200000"
    ]


def test_bridged_hole_rasterizes_like_the_polygon():
    holed = shapely.box(5, 5, 45, 45).difference(shapely.box(15, 15, 30, 30))
    ring = bridge_holes(holed)
    single = shapely.Polygon(ring)
    assert (rasterize(single, 50, 50) == rasterize(holed, 50, 50)).all()


def test_labelmap_sorted_and_numeric():
    assert labelmap_from_values(["b", "a", "b"]).id_of() == {"a": 1, "b": 2}
    assert labelmap_from_values(["10", "9", "100"]).names == ("9", "10", "100")


def test_labelmap_file_forms(tmp_path):
    p = tmp_path / "map.json"
    p.write_text(json.dumps({"tree": 7, "building": 3}))
    lm = read_labelmap(str(p))
    assert lm.id_of() == {"building": 3, "tree": 7}
    assert lm.yolo_index() == {"building": 0, "tree": 1}
    p.write_text(json.dumps({"a": 1, "b": 1}))
    with pytest.raises(InputError, match=r"ids \[1\] are used by more than one class"):
        read_labelmap(str(p))


def test_refuse_lists_invalid_feature_ids():
    bowtie = shapely.from_wkt("POLYGON((0 0, 2 2, 2 0, 0 2, 0 0))")
    geoms = np.array([shapely.box(0, 0, 1, 1), bowtie], dtype=object)
    with pytest.raises(InputError, match=r"1 annotation\(s\) have invalid geometry: feature ids 8"):
        check_labels(np.array([7, 8]), geoms, REFUSE)
    fixed = check_labels(np.array([7, 8]), geoms)
    assert fixed.repaired == 1
    assert fixed.geoms[1].is_valid
    assert fixed.geoms[1].area == pytest.approx(2.0)


def test_export_then_import_round_trip(tmp_path):
    pix = _polygons()
    out = tmp_path / "ds"
    res = export_training(
        _image(),
        _annotations(pix),
        ExportOptions(tile_size=256, overlap=64, min_visible=0.0, val_fraction=0.3, block_tiles=1),
        FakeWriter(),
        str(out),
    )
    assert res.features_used == 30
    merged = {"annotations": []}
    for split in ("train", "val"):
        merged["annotations"] += json.loads(
            (out / "annotations" / f"instances_{split}.json").read_text()
        )["annotations"]
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(merged))
    back = import_predictions(str(pred), str(out))
    assert len(back) == 30
    world = pixel_to_world(GT, pix)
    tree = shapely.STRtree(back.geoms)
    for g in world:
        cand = tree.query(g, predicate="intersects")
        iou = max(
            shapely.intersection(g, back.geoms[c]).area / shapely.union(g, back.geoms[c]).area
            for c in cand
        )
        assert iou >= 0.97


def test_output_folder_rules(tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    ann = _annotations(_polygons(5))
    with pytest.raises(OutputExists, match="is not empty; choose an empty or new folder"):
        export_training(_image(), ann, ExportOptions(), FakeWriter(), str(out))
    with pytest.raises(OutputExists, match="holds no LabelGuard export"):
        export_training(_image(), ann, ExportOptions(overwrite=True), FakeWriter(), str(out))
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_cancel_leaves_nothing(tmp_path):
    out = tmp_path / "ds"
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        export_training(
            _image(),
            _annotations(_polygons()),
            ExportOptions(tile_size=128, overlap=0),
            FakeWriter(),
            str(out),
            should_stop=stop,
        )
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_previous_export(tmp_path):
    out = tmp_path / "ds"
    ann = _annotations(_polygons(10))
    # 600 px in 512 px tiles cannot be split without shared pixels (an error since issue 11)
    opts = ExportOptions(fmt=1, val_fraction=0.0)
    export_training(_image(), ann, opts, FakeWriter(), str(out))
    assert (out / "data.yaml").is_file()
    opts = ExportOptions(fmt=0, overwrite=True, val_fraction=0.0)
    export_training(_image(), ann, opts, FakeWriter(), str(out))
    assert not (out / "data.yaml").exists()
    assert (out / "annotations" / "instances_train.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"classes": [None] * 5},
            "Class field 'cls' of 'labels' is empty \\(NULL or blank\\) for all 5",
        ),
        ({"pix": []}, "Annotation layer 'labels' has no features"),
        (
            {"pix": [shapely.box(5000, 5000, 5100, 5100)]},
            "None of the 1 annotations in 'labels' overlaps",
        ),
    ],
    ids=["null-classes", "empty-layer", "outside-image"],
)
def test_bad_annotations(tmp_path, kwargs, message):
    pix = np.array(kwargs.pop("pix", list(_polygons(5))), dtype=object)
    ann = _annotations(pix, **kwargs)
    with pytest.raises(InputError, match=message):
        export_training(_image(), ann, ExportOptions(), FakeWriter(), str(tmp_path / "ds"))


def test_image_without_crs(tmp_path):
    img = ImageSource("", "img", 600, 600, GT, "")
    with pytest.raises(InputError, match="Image 'img' has no CRS"):
        export_training(
            img, _annotations(_polygons(3)), ExportOptions(), FakeWriter(), str(tmp_path / "ds")
        )


def test_masks_hold_class_ids(tmp_path):
    pix = np.array([shapely.box(10, 10, 110, 60), shapely.box(200, 200, 260, 300)], dtype=object)
    writer = FakeWriter()
    export_training(
        _image(),
        _annotations(pix, classes=["x", "y"]),
        ExportOptions(fmt=3, tile_size=600, overlap=0, val_fraction=0.0),
        writer,
        str(tmp_path / "ds"),
    )
    (mask,) = writer.masks.values()
    assert np.bincount(mask.ravel()).tolist() == [600 * 600 - 5000 - 6000, 5000, 6000]
    classes = json.loads((tmp_path / "ds" / "classes.json").read_text())["classes"]
    assert classes == [
        {"id": 0, "name": "background"},
        {"id": 1, "name": "x"},
        {"id": 2, "name": "y"},
    ]


def test_next_run_removes_staging_folders_of_killed_exports(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    killed = tmp_path / ".ds.abc123.staging"
    (killed / "images").mkdir(parents=True)
    (tmp_path / ".ds.abc123.staging.owner").write_text(f"{dead} {socket.gethostname()}\n")
    running = tmp_path / ".ds.live99.staging"
    running.mkdir()
    (tmp_path / ".ds.live99.staging.owner").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    other = tmp_path / ".other.xyz.staging"
    other.mkdir()
    opts = ExportOptions(fmt=1, val_fraction=0.0)
    export_training(_image(), _annotations(_polygons(5)), opts, FakeWriter(), str(tmp_path / "ds"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".ds.live99.staging",
        ".ds.live99.staging.owner",
        ".other.xyz.staging",
        "ds",
    ]
