"""Tile grids, split blocks and deterministic, leak-free splits."""

from __future__ import annotations

import numpy as np
import pytest
from labelguard.core.errors import InputError
from labelguard.core.geos import shapely
from labelguard.core.training.geo import (
    invert_geotransform,
    pixel_to_world,
    tile_geotransform,
    world_to_pixel,
)
from labelguard.core.training.splits import assign_splits
from labelguard.core.training.tiling import plan_tiles


def test_single_block_grid_covers_image_with_full_tiles():
    grid = plan_tiles(600, 600, 256, 64)
    assert grid.col_off[:4].tolist() == [0, 192, 344, 0]
    assert set(grid.width.tolist()) == {256}
    cover = shapely.union_all(grid.boxes())
    assert cover.equals(shapely.box(0, 0, 600, 600))
    assert grid.block_count == 1


def test_small_image_gives_one_partial_tile():
    grid = plan_tiles(100, 80, 256, 64)
    assert (grid.col_off.tolist(), grid.width.tolist(), grid.height.tolist()) == ([0], [100], [80])


def test_blocks_never_overlap_each_other():
    grid = plan_tiles(2000, 1500, 256, 64, block_tiles=2)
    boxes = grid.boxes()
    tree = shapely.STRtree(boxes)
    a, b = tree.query(boxes, predicate="intersects")
    overlapping = shapely.area(shapely.intersection(boxes[a], boxes[b])) > 0
    assert (grid.block[a[overlapping]] == grid.block[b[overlapping]]).all()
    assert grid.block_count > 4
    assert shapely.union_all(boxes).equals(shapely.box(0, 0, 2000, 1500))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((600, 600, 8, 0), "TILE_SIZE 8 is too small"),
        ((600, 600, 256, 256), "OVERLAP 256 must be at least 0 and smaller than TILE_SIZE 256"),
    ],
    ids=["tiny-tile", "overlap-too-big"],
)
def test_bad_tiling_parameters(args, message):
    with pytest.raises(InputError, match=message):
        plan_tiles(*args)


def test_splits_are_deterministic_and_whole_blocks():
    grid = plan_tiles(3000, 3000, 256, 64, block_tiles=2)
    keep = np.ones(len(grid), dtype=bool)
    a = assign_splits(grid.block, keep, 0.25, seed=7)
    b = assign_splits(grid.block, keep, 0.25, seed=7)
    c = assign_splits(grid.block, keep, 0.25, seed=8)
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist()
    for blk in np.unique(grid.block):
        assert len(set(a[grid.block == blk].tolist())) == 1
    share = (a == "val").mean()
    assert 0.15 < share < 0.35


def test_zero_fraction_is_all_train():
    assert set(assign_splits(np.array([0, 1, 2]), np.ones(3, bool), 0.0, 1).tolist()) == {"train"}


def test_tile_geotransform_and_inverse():
    gt = (1000.0, 2.0, 0.5, 5000.0, 0.25, -2.0)
    sub = tile_geotransform(gt, 10, 20)
    assert sub == (1000.0 + 20 + 10, 2.0, 0.5, 5000.0 + 2.5 - 40, 0.25, -2.0)
    inv = invert_geotransform(gt)
    x, y = 1234.5, 4321.0
    col = inv[0] + inv[1] * x + inv[2] * y
    row = inv[3] + inv[4] * x + inv[5] * y
    assert gt[0] + gt[1] * col + gt[2] * row == pytest.approx(x)
    assert gt[3] + gt[4] * col + gt[5] * row == pytest.approx(y)
    poly = np.array([shapely.box(3, 4, 50, 60)])
    back = world_to_pixel(gt, pixel_to_world(gt, poly))
    assert shapely.equals_exact(back[0], poly[0], tolerance=1e-9)
