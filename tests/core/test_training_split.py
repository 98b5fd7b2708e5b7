"""VAL_FRACTION with default settings: a validation split that trainers accept (issue 11.1)."""

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
from labelguard.core.training.splits import assign_splits

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


def _scattered(width, height, n=120, seed=4):
    rng = np.random.default_rng(seed)
    xy = rng.uniform((20, 20), (width - 20, height - 20), (n, 2))
    pix = shapely.buffer(shapely.points(xy), 12, quad_segs=4)
    return AnnotationSource(
        fids=np.arange(1, n + 1),
        geoms=pixel_to_world(GT, pix),
        classes=["a"] * n,
        name="labels",
        class_field="cls",
    )


def _export(tmp_path, width, height, **kw):
    image = ImageSource("", "img", width, height, GT, "PROJCRS[...]", "EPSG:32631")
    out = tmp_path / "ds"
    res = export_training(
        image, _scattered(width, height), ExportOptions(**kw), NullWriter(), str(out)
    )
    return res, json.loads((out / "labelguard_dataset.json").read_text()), out


def test_demo_sized_image_with_defaults_gets_a_val_split(tmp_path):
    res, doc, out = _export(tmp_path, 1024, 1024, fmt=1)
    assert res.split_tiles == {"train": 3, "val": 1}
    assert doc["split"] == {"val_fraction_asked": 0.2, "val_fraction": 0.25, "block_tiles": 1}
    assert res.val_share == 0.25
    assert any("Split blocks of 1 tile(s) per side were used" in w for w in res.warnings)
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert (data["train"], data["val"]) == ("images/train", "images/val")


def test_larger_image_meets_the_asked_share_closely(tmp_path):
    res, doc, _ = _export(tmp_path, 2048, 1536, fmt=0, tile_size=512)
    kept = res.split_tiles["train"] + res.split_tiles["val"]
    assert abs(res.split_tiles["val"] / kept - 0.2) <= 0.05
    assert doc["split"]["val_fraction"] == round(res.split_tiles["val"] / kept, 4)


def test_image_too_small_to_split_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match=r"VAL_FRACTION 0.2 cannot be met: only 4 tile\(s\)"):
        _export(tmp_path, 600, 600)
    assert list(tmp_path.iterdir()) == []


def test_val_fraction_zero_still_writes_both_yolo_keys(tmp_path):
    _res, doc, out = _export(tmp_path, 600, 600, fmt=2, val_fraction=0.0)
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert (data["train"], data["val"]) == ("images/train", "images/val")
    assert (out / "images" / "val").is_dir()
    assert doc["split"] == {"val_fraction_asked": 0.0, "val_fraction": 0.0, "block_tiles": 0}


def test_assignment_does_not_overshoot_with_a_big_first_block():
    # blocks of 4, 1, 1, 1, 1, 1, 1, 1, 1 tiles: 0.2 of 12 is 2.4 tiles
    block = np.array([0] * 4 + list(range(1, 9)))
    keep = np.ones(block.size, dtype=bool)
    shares = [(assign_splits(block, keep, 0.2, seed) == "val").sum() for seed in range(20)]
    assert set(shares) <= {2, 3}
