"""importpredictions: merge only the same object seen by overlapping tiles, no chains, empty
input, and rows that cannot be read (issue 11.6-7, issue 16.11 and 16.18)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from labelguard.core.errors import InputError
from labelguard.core.geos import shapely
from labelguard.core.training.export import (
    AnnotationSource,
    ExportOptions,
    ImageSource,
    export_training,
)
from labelguard.core.training.geo import pixel_to_world, world_to_pixel
from labelguard.core.training.predictions import import_predictions

GT = (500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5)


class NullWriter:
    image_ext = ".tif"
    mask_ext = ".tif"
    channels = 3

    def write_image(self, tile, path):
        path.write_bytes(b"img")

    def write_mask(self, tile, mask, path):
        path.write_bytes(b"mask")

    def write_index(self, path, tiles, wkts):
        path.write_text("\n".join(wkts))

    def describe(self):
        return {"format": "null"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """600 x 600 px in 256 px tiles overlapping by 64: tile offsets 0, 192, 344 per axis;
    image ids 1-3 are the top row, left to right."""
    out = tmp_path_factory.mktemp("pred") / "ds"
    ann = AnnotationSource(
        fids=np.array([1]),
        geoms=pixel_to_world(GT, np.array([shapely.box(10, 10, 30, 30)])),
        classes=["house"],
        name="labels",
        class_field="cls",
    )
    image = ImageSource("", "img", 600, 600, GT, "PROJCRS[...]", "EPSG:32631")
    opts = ExportOptions(tile_size=256, overlap=64, val_fraction=0.0, include_empty=True)
    export_training(image, ann, opts, NullWriter(), str(out))
    return out


def _run(tmp_path, dataset, records, **kw):
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(records))
    return import_predictions(str(pred), str(dataset), **kw)


def _box(image_id, x, y, w, h, score=0.9, category_id=1):
    return {"image_id": image_id, "category_id": category_id, "bbox": [x, y, w, h], "score": score}


def _pixels(geom):
    return world_to_pixel(GT, np.array([geom]))[0]


def test_overlapping_detections_of_one_tile_are_never_merged(tmp_path, dataset):
    boxes = [_box(1, 20 + 2 * k, 20 + 2 * k, 60, 60, score=0.01) for k in range(40)]
    res = _run(tmp_path, dataset, boxes)
    assert len(res) == 40
    assert res.merged_from.tolist() == [1] * 40


def test_touching_buildings_and_a_box_over_both_stay_three(tmp_path, dataset):
    res = _run(
        tmp_path,
        dataset,
        [_box(1, 20, 20, 40, 40), _box(1, 60, 20, 40, 40), _box(1, 20, 20, 80, 40, 0.5)],
    )
    assert sorted(shapely.area(res.geoms).tolist()) == [400.0, 400.0, 800.0]


def test_duplicate_across_overlapping_tiles_keeps_the_best_shape(tmp_path, dataset):
    # tile 1 spans x 0-256, tile 2 x 192-448: one house at image x 200-240 seen by both
    best = _box(1, 200, 30, 40, 40, score=0.9)
    other = _box(2, 200 - 192 + 2, 30, 40, 40, score=0.6)  # 2 px to the right
    res = _run(tmp_path, dataset, [other, best])
    assert len(res) == 1
    assert res.scores.tolist() == [0.9]
    assert res.merged_from.tolist() == [2]
    assert shapely.equals(_pixels(res.geoms[0]), shapely.box(200, 30, 240, 70))


def test_matches_never_chain(tmp_path, dataset):
    # three tiles overlap in x 344-448 of the top row only for tiles 2 and 3; tile 1 and 2
    # share x 192-256. A in tile 1 matches B in tile 2; C in tile 2 (same tile as B) must not
    # join A's object, even though it overlaps B.
    a = _box(1, 200, 30, 40, 40, score=0.9)
    b = _box(2, 8, 30, 40, 40, score=0.8)
    c = _box(2, 20, 30, 40, 40, score=0.7)
    res = _run(tmp_path, dataset, [a, b, c])
    assert sorted(res.merged_from.tolist()) == [1, 2]


def _polygon(image_id, xy, score):
    flat = [float(v) for pt in xy for v in pt]
    return {"image_id": image_id, "category_id": 1, "segmentation": [flat], "score": score}


# A diamond at the corner of tiles 1, 2, 4 and 5 (image x/y 250-274, centre 262, 262): it
# reaches tile 2 above y 256 and tile 4 left of x 256 but not the square the four tiles share
# (192-256 both ways), so the pieces in the diagonal tiles 2 and 4 share no pixel of it.
DIAMOND = shapely.Polygon([(262, 250), (274, 262), (262, 274), (250, 262)])
TOP = _polygon(2, [(64, 256), (70, 250), (76, 256)], 0.9)  # tile 2 is at x 192
FULL = _polygon(5, [(70, 58), (82, 70), (70, 82), (58, 70)], 0.8)  # tile 5 is at 192, 192
LEFT = _polygon(4, [(256, 64), (250, 70), (256, 76)], 0.7)  # tile 4 is at y 192


def test_object_at_a_four_tile_corner_is_one_object(tmp_path, dataset):
    # the best piece (tile 2) matches tile 5; tile 4 matches only tile 5 and is not
    # contradicted by tile 2, which saw nothing of the object in the pixels both saw
    res = _run(tmp_path, dataset, [TOP, FULL, LEFT])
    assert len(res) == 1
    assert (res.merged_from.tolist(), res.scores.tolist()) == ([3], [0.9])
    assert shapely.equals(_pixels(res.geoms[0]).normalize(), DIAMOND.normalize())


def test_corner_piece_that_a_diagonal_tile_contradicts_stays_apart(tmp_path, dataset):
    # tile 4 also reports image x 252-256, y 252-258 (partly inside the square all four tiles
    # saw), where tile 2 saw no object: it still matches tile 5 (IoU 36/58) but is not joined
    left = _polygon(4, [(252, 60), (256, 60), (256, 76), (250, 70), (254, 66), (252, 66)], 0.7)
    res = _run(tmp_path, dataset, [TOP, FULL, left])
    assert sorted(res.merged_from.tolist()) == [1, 2]
    assert sorted(res.scores.tolist()) == [0.7, 0.9]


def test_no_predictions_give_an_empty_result(tmp_path, dataset):
    res = _run(tmp_path, dataset, [])
    assert (len(res), res.read) == (0, 0)
    (tmp_path / "labels").mkdir()
    assert len(import_predictions(str(tmp_path / "labels"), str(dataset))) == 0


BAD = [
    _box(1, 1, 2, 3, 4) | {"bbox": [1, 2, 3]},
    _box("1", 10, 10, 5, 5),
    _box(1, 10, 10, 5, 5) | {"category_id": None},
    _box(1, 10, 10, 5, 5) | {"score": "high"},
    {"image_id": 1, "category_id": 1, "segmentation": [[0, 0, "nan", 5, 5, 5]]},
    {"image_id": 1, "category_id": 1, "bbox": [float("nan"), 0, 5, 5]},
    _box(1, 1e300, 10, 5, 5),
    _box(999, 10, 10, 5, 5),
    _box(1, 100, 100, 20, 20),
]


def test_bad_coco_rows_are_skipped_and_counted(tmp_path, dataset):
    res = _run(tmp_path, dataset, BAD)
    assert len(res) == 1
    assert (res.skipped["malformed"], res.skipped["unknown_image"], res.read) == (7, 1, 9)
    assert res.problems == (
        "record 1: bbox [1, 2, 3] is not [x, y, width, height]",
        "record 2: image_id '1' is not an integer",
        "record 3: category_id None is not an integer",
        "record 4: score 'high' is not a number",
        "record 5: segmentation holds NaN or infinite coordinates",
    )


def test_bad_coco_rows_refused_with_the_first_named(tmp_path, dataset):
    with pytest.raises(
        InputError, match=r"record 1: bbox \[1, 2, 3\] is not \[x, y, width, height\]\. Fix"
    ):
        _run(tmp_path, dataset, BAD, bad_rows="refuse")
    with pytest.raises(InputError, match="record 1: image_id 999 is not a tile of DATASET"):
        _run(tmp_path, dataset, [_box(999, 10, 10, 5, 5)], bad_rows="refuse")


def test_bad_yolo_lines_are_skipped_or_refused(tmp_path, dataset):
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "img_x000000_y000000.txt").write_text(
        "0 0.5 0.5 0.1\n0 0.5 nan 0.1 0.1\nx 0.5 0.5 0.1 0.1\n0 1e30 0.5 0.1 0.1\n"
        "0 0.5 0.5 0.1 0.1 0.8\n"
    )
    res = import_predictions(str(folder), str(dataset))
    assert (len(res), res.skipped["malformed"]) == (1, 4)
    assert res.problems[0] == (
        "img_x000000_y000000.txt:1: has 3 numbers after the class; a box needs 4 (+ conf)"
    )
    with pytest.raises(InputError, match=r"img_x000000_y000000.txt:1: has 3 numbers"):
        import_predictions(str(folder), str(dataset), bad_rows="refuse")
