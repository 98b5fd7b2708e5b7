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
from labelguard.core.training.splits import assign_splits, guard_band_splits, val_share
from labelguard.core.training.tiling import plan_tiles

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
    assert doc["split"] == {
        "val_fraction_asked": 0.2,
        "val_fraction": 0.25,
        "block_tiles": 1,
        "method": "blocks",
        "dropped_tiles": 0,
    }
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
    # 512 px tiles at offsets 0 and 88 each way: every tile shares pixels with the 3 others,
    # so no guard band can separate two of them either
    with pytest.raises(InputError, match=r"VAL_FRACTION 0.2 cannot be met: only 4 tile\(s\)"):
        _export(tmp_path, 600, 600)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match=r"hold annotations and each shares pixels with every"):
        _export(tmp_path, 600, 600)


def _shared_pixels(tiles, width, height):
    """Pixels that a train window and a val window both cover, painted on the image."""
    cover = {s: np.zeros((height, width), dtype=bool) for s in ("train", "val")}
    for t in tiles:
        cover[t["split"]][
            t["row_off"] : t["row_off"] + t["height"], t["col_off"] : t["col_off"] + t["width"]
        ] = True  # noqa: E501
    return int((cover["train"] & cover["val"]).sum())


def test_guard_band_when_split_blocks_are_too_coarse(tmp_path):
    # 1024 x 700 px, 512 px tiles at x 0, 448, 512 and y 0, 188, all holding labels. Split
    # blocks give two blocks of 3 tiles at best (val 50%); the overlapping grid with val at
    # (0, 188) and the three tiles sharing its pixels, (0, 0), (448, 0) and (448, 188),
    # dropped gives 1 val of 3 tiles written.
    res, doc, _ = _export(tmp_path, 1024, 700, fmt=0)
    tiles = [(t["col_off"], t["row_off"], t["split"]) for t in doc["tiles"]]
    assert tiles == [(512, 0, "train"), (0, 188, "val"), (512, 188, "train")]
    assert doc["split"] == {
        "val_fraction_asked": 0.2,
        "val_fraction": 0.3333,
        "block_tiles": 0,
        "method": "guard_band",
        "dropped_tiles": 3,
    }
    assert (res.split_tiles, res.dropped_tiles, res.split_method) == (
        {"train": 2, "val": 1},
        3,
        "guard_band",
    )
    assert res.warnings[-1] == (
        "Split blocks cannot meet VAL_FRACTION 0.2 on 'img', so a guard band was used: 3 "
        "tile(s) sharing pixels with a val tile were left out, and validation holds 33.3% of "
        "the 3 tiles."
    )
    assert _shared_pixels(doc["tiles"], 1024, 700) == 0


def test_guard_band_tiles_and_share_on_a_2d_grid():
    # 2000 x 1100 px in 512 px tiles overlapping by 64: x 0, 448, 896, 1344, 1488 and
    # y 0, 448, 588, every tile kept. Val grows from (1488, 448) to (1488, 588); the four
    # tiles sharing pixels with them are dropped; 2 val of 11 written tiles.
    grid = plan_tiles(2000, 1100, 512, 64)
    keep = np.ones(len(grid), dtype=bool)
    splits, drop = guard_band_splits(
        grid.col_off, grid.row_off, grid.width, grid.height, keep, 0.2, 42
    )
    at = list(zip(grid.col_off.tolist(), grid.row_off.tolist()))
    assert [at[k] for k in np.flatnonzero(splits == "val")] == [(1488, 448), (1488, 588)]
    assert [at[k] for k in np.flatnonzero(drop)] == [(1344, 0), (1488, 0), (1344, 448), (1344, 588)]
    assert val_share(splits, keep & ~drop) == 2 / 11
    tiles = [
        {"split": str(splits[k]), "col_off": c, "row_off": r, "width": 512, "height": 512}
        for k, (c, r) in enumerate(at)
        if not drop[k]
    ]
    assert _shared_pixels(tiles, 2000, 1100) == 0
    # each dropped tile shares pixels with a val tile: none was dropped for nothing
    for k in np.flatnonzero(drop).tolist():
        window = {"split": "train", "col_off": at[k][0], "row_off": at[k][1]}
        pair = [window | {"width": 512, "height": 512}]
        pair += [t for t in tiles if t["split"] == "val"]
        assert _shared_pixels(pair, 2000, 1100) > 0, at[k]


def test_guard_band_is_none_when_every_tile_shares_pixels_with_every_other():
    grid = plan_tiles(600, 600, 512, 64)
    keep = np.ones(len(grid), dtype=bool)
    args = (grid.col_off, grid.row_off, grid.width, grid.height, keep, 0.2, 42)
    assert guard_band_splits(*args) is None


def test_val_fraction_zero_still_writes_both_yolo_keys(tmp_path):
    _res, doc, out = _export(tmp_path, 600, 600, fmt=2, val_fraction=0.0)
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert (data["train"], data["val"]) == ("images/train", "images/val")
    assert (out / "images" / "val").is_dir()
    assert doc["split"] == {
        "val_fraction_asked": 0.0,
        "val_fraction": 0.0,
        "block_tiles": 0,
        "method": "none",
        "dropped_tiles": 0,
    }


def test_assignment_does_not_overshoot_with_a_big_first_block():
    # blocks of 4, 1, 1, 1, 1, 1, 1, 1, 1 tiles: 0.2 of 12 is 2.4 tiles
    block = np.array([0] * 4 + list(range(1, 9)))
    keep = np.ones(block.size, dtype=bool)
    shares = [(assign_splits(block, keep, 0.2, seed) == "val").sum() for seed in range(20)]
    assert set(shares) <= {2, 3}
