"""What trainers read from an export: channels, masks, instances, holes, class names (issue 11)."""

from __future__ import annotations

import json

import numpy as np
import yaml
from labelguard.core.geos import shapely
from labelguard.core.training.export import (
    AnnotationSource,
    ExportOptions,
    ImageSource,
    export_training,
)
from labelguard.core.training.geo import pixel_to_world

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
