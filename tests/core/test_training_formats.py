"""What trainers read from an export: channels, masks, instances, holes, class names (issue 11)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from labelguard.core.errors import InputError
from labelguard.core.geos import shapely
from labelguard.core.training.export import (
    AnnotationSource,
    ExportOptions,
    ImageSource,
    export_training,
)
from labelguard.core.training.geo import pixel_to_world
from labelguard.core.training.labelmap import read_labelmap

GT = (500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5)


class MemWriter:
    """Keeps masks in memory; images and the index as placeholders."""

    image_ext = ".tif"
    mask_ext = ".png"

    def __init__(self, channels=3):
        self.channels = channels
        self.masks = {}

    def write_image(self, tile, path):
        path.write_bytes(b"img")

    def write_mask(self, tile, mask, path):
        self.masks[tile.name] = mask
        path.write_bytes(b"mask")

    def write_index(self, path, tiles, wkts):
        path.write_text("\n".join(wkts))

    def describe(self):
        return {"format": "mem", "channels": self.channels}


def _image(size=600):
    return ImageSource("", "img", size, size, GT, "PROJCRS[...]", "EPSG:32631")


def _annotations(pix, classes, name="labels"):
    return AnnotationSource(
        fids=np.arange(1, len(pix) + 1),
        geoms=pixel_to_world(GT, np.array(pix, dtype=object)),
        classes=classes,
        name=name,
        class_field="cls",
    )


def _export(tmp_path, pix, classes, writer=None, **kw):
    out = tmp_path / "ds"
    opts = {"tile_size": 256, "overlap": 0, "val_fraction": 0.0, **kw}
    res = export_training(
        _image(), _annotations(pix, classes), ExportOptions(**opts), writer or MemWriter(), str(out)
    )
    return res, out


def test_yolo_data_yaml_says_how_many_channels(tmp_path):
    _res, out = _export(tmp_path, [shapely.box(10, 10, 60, 60)], ["a"], MemWriter(4), fmt=1)
    assert yaml.safe_load((out / "data.yaml").read_text())["channels"] == 4
    doc = json.loads((out / "labelguard_dataset.json").read_text())
    assert doc["image"]["tiles"]["channels"] == 4


STRADDLING = [shapely.box(240, 10, 340, 60)]  # 16 % in the first tile, 84 % in the second


def test_masks_show_pixels_of_pieces_below_min_visible(tmp_path):
    writer = MemWriter()
    res, _out = _export(tmp_path, STRADDLING, ["a"], writer, fmt=3, min_visible=0.2)
    first = writer.masks["img_x000000_y000000"]
    assert int((first == 1).sum()) == 16 * 50
    assert int((writer.masks["img_x000256_y000000"] == 1).sum()) == 84 * 50
    assert res.annotation_count == 2
    assert res.below_min_visible == 1


def test_coco_marks_pieces_below_min_visible_as_crowd(tmp_path):
    res, out = _export(tmp_path, STRADDLING, ["a"], fmt=0, min_visible=0.2)
    doc = json.loads((out / "annotations" / "instances_train.json").read_text())
    by_image = {a["image_id"]: a for a in doc["annotations"]}
    assert [by_image[i]["iscrowd"] for i in (1, 2)] == [1, 0]
    assert by_image[1]["segmentation"] == [[240.0, 10.0, 240.0, 60.0, 256.0, 60.0, 256.0, 10.0]]
    assert by_image[1]["area"] == 800.0
    index = json.loads((out / "labelguard_dataset.json").read_text())["labels"]
    assert (index["pieces_below_min_visible"], index["below_min_visible"]) == (1, "iscrowd")
    assert res.annotation_count == 2


def test_yolo_writes_pieces_below_min_visible(tmp_path):
    res, out = _export(tmp_path, STRADDLING, ["a"], fmt=1, min_visible=0.2)
    line = (out / "labels" / "train" / "img_x000000_y000000.txt").read_text()
    assert line == "0 0.968750 0.136719 0.062500 0.195312\n"
    index = json.loads((out / "labelguard_dataset.json").read_text())["labels"]
    assert index["below_min_visible"] == "written"
    assert res.annotation_count == 2


HOLED = shapely.box(20, 20, 120, 120).difference(shapely.box(50, 50, 90, 90))


def _torchvision_mask(segmentation, height, width):
    """What torchvision's detection reference (ConvertCocoPolysToMask) does with a polygon."""
    mask_util = pytest.importorskip("pycocotools.mask")
    rles = mask_util.frPyObjects(segmentation, height, width)
    mask = mask_util.decode(rles)
    if mask.ndim < 3:
        mask = mask[..., None]
    return mask.any(axis=2)


def test_coco_holes_are_bridged_polygons_trainers_read(tmp_path):
    _res, out = _export(tmp_path, [HOLED], ["a"], fmt=0)
    doc = json.loads((out / "annotations" / "instances_train.json").read_text())
    (ann,) = doc["annotations"]
    assert (ann["iscrowd"], len(ann["segmentation"])) == (0, 1)
    mask = _torchvision_mask(ann["segmentation"], 256, 256)
    assert int(mask.sum()) == 100 * 100 - 40 * 40
    assert not mask[70, 70]
    assert doc["labelguard"] == {"holes": "bridged"}
    index = json.loads((out / "labelguard_dataset.json").read_text())
    assert index["parameters"]["coco_holes"] == "bridged"


def test_coco_holes_as_rle_on_request(tmp_path):
    _res, out = _export(tmp_path, [HOLED], ["a"], fmt=0, coco_holes="rle")
    doc = json.loads((out / "annotations" / "instances_train.json").read_text())
    assert set(doc["annotations"][0]["segmentation"]) == {"size", "counts"}
    assert doc["labelguard"] == {"holes": "rle"}


def test_yolo_segments_write_one_line_per_multipart_feature(tmp_path):
    two_parts = shapely.MultiPolygon([shapely.box(10, 10, 40, 40), shapely.box(100, 10, 140, 50)])
    res, out = _export(tmp_path, [two_parts, HOLED], ["a", "b"], fmt=2)
    lines = (out / "labels" / "train" / "img_x000000_y000000.txt").read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == ["0", "1"]
    assert res.annotation_count == 2
    from labelguard.core.training.raster import rasterize

    xy = np.array(lines[0].split()[1:], dtype=float).reshape(-1, 2) * 256
    assert int(rasterize(shapely.Polygon(xy), 256, 256).sum()) == 30 * 30 + 40 * 40


def _check_det_dataset_rules(path):
    """The rules ultralytics 8.4's check_det_dataset and check_class_names apply to data.yaml
    (read from ultralytics/data/utils.py and nn/autobackend.py; ultralytics itself needs torch)."""
    data = yaml.safe_load(path.read_text())
    assert "train" in data, "'train' and 'val' are required in all data YAMLs"
    assert "val" in data, "'train' and 'val' are required in all data YAMLs"
    assert "path" not in data  # without it, paths resolve next to the yaml file
    names = {int(k): str(v) for k, v in data["names"].items()}
    assert data["nc"] == len(names)
    assert max(names) < len(names), "class indices must be 0..nc-1"
    for key in ("train", "val"):
        assert (path.parent / data[key]).is_dir()
    return data


def test_masks_write_a_data_yaml_semantic_trainers_read(tmp_path):
    from labelguard.core.training.labelmap import LabelMap

    labelmap = LabelMap(names=("house", "road"), ids=(1, 3))
    pix = [shapely.box(10, 10, 60, 60), shapely.box(100, 100, 150, 150)]
    _res, out = _export(tmp_path, pix, ["house", "road"], fmt=3, labelmap=labelmap)
    data = _check_det_dataset_rules(out / "data.yaml")
    assert data["masks_dir"] == "masks"
    assert data["names"] == {0: "background", 1: "house", 2: "unused_2", 3: "road"}
    assert data["channels"] == 3
    assert (out / "masks" / "train" / "img_x000000_y000000.png").is_file()


@pytest.mark.parametrize("fmt", [1, 2], ids=["yolo-boxes", "yolo-segments"])
def test_yolo_data_yaml_passes_ultralytics_dataset_rules(tmp_path, fmt):
    pix = [shapely.box(10, 10, 60, 60), shapely.box(300, 300, 360, 360)]
    _res, out = _export(tmp_path, pix, ["a", "b"], fmt=fmt)
    assert _check_det_dataset_rules(out / "data.yaml")["names"] == {0: "a", 1: "b"}


def test_a_class_named_null_is_a_class(tmp_path):
    res, out = _export(tmp_path, [shapely.box(10, 10, 60, 60)], ["null"], fmt=0)
    assert (res.features_used, res.labelmap.names) == (1, ("null",))


def _labelmap_file(tmp_path, ids):
    path = tmp_path / "map.json"
    path.write_text(json.dumps(dict(zip(("a", "b", "c"), ids))))
    return read_labelmap(str(path)), str(path)


def test_masks_refuse_label_map_ids_from_255(tmp_path):
    # 255 is ultralytics' "ignore" mask value, and 8-bit masks cannot hold 300
    labelmap, path = _labelmap_file(tmp_path, (3, 255, 300))
    with pytest.raises(InputError) as info:
        _export(tmp_path, [shapely.box(10, 10, 60, 60)], ["a"], fmt=3, labelmap=labelmap)
    assert str(info.value) == (
        f"Label map '{path}' gives 'b' id 255, 'c' id 300; mask pixels are 8-bit class ids and "
        "255 is the 'ignore' value of semantic trainers (ultralytics, mmsegmentation), so the "
        "masks format takes ids 1-254. Renumber these classes in LABEL_MAP."
    )
    assert not (tmp_path / "ds").exists()
    res, _out = _export(tmp_path, [shapely.box(10, 10, 60, 60)], ["a"], fmt=0, labelmap=labelmap)
    assert res.labelmap.ids == (3, 255, 300)  # COCO ids have no such limit


def test_masks_take_id_254_in_8_bit(tmp_path):
    labelmap, _path = _labelmap_file(tmp_path, (3, 254, 7))
    writer = MemWriter()
    _export(tmp_path, [shapely.box(10, 10, 60, 60)], ["b"], writer, fmt=3, labelmap=labelmap)
    mask = writer.masks["img_x000000_y000000"]
    assert (mask.dtype, int((mask == 254).sum())) == (np.uint8, 50 * 50)


def test_masks_refuse_more_than_254_numbered_classes(tmp_path):
    pix = [shapely.box(2 * k, 0, 2 * k + 1, 1) for k in range(255)]
    with pytest.raises(InputError) as info:
        _export(tmp_path, pix, [f"c{k:03d}" for k in range(255)], fmt=3)
    assert str(info.value) == (
        "Class field 'cls' of 'labels' has 255 classes, numbered 1-255; mask pixels are 8-bit "
        "class ids and 255 is the 'ignore' value of semantic trainers (ultralytics, "
        "mmsegmentation), so the masks format takes ids 1-254. Merge classes with a LABEL_MAP "
        "file, or export as COCO or YOLO."
    )
