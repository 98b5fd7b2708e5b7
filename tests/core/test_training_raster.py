"""Pure-numpy rasterizing, COCO RLE and mask vectorizing against shapely and pycocotools."""

from __future__ import annotations

import numpy as np
import pytest
from labelguard.core.geos import shapely
from labelguard.core.training.raster import (
    counts_to_string,
    decode_rle,
    encode_rle,
    mask_to_polygons,
    rasterize,
    rle_counts,
    string_to_counts,
)

mask_util = pytest.importorskip("pycocotools.mask")

HOLED = shapely.from_wkt(
    "POLYGON((10 10, 90 12, 80 70, 15 60, 10 10),(30 30, 50 30, 50 50, 30 50, 30 30))"
)


def test_rasterize_area_matches_polygon_and_keeps_hole():
    mask = rasterize(HOLED, 100, 80)
    assert mask.shape == (80, 100)
    assert abs(int(mask.sum()) - HOLED.area) / HOLED.area < 0.01
    assert not mask[40, 40]  # hole centre
    assert mask[20, 20]


def test_rasterize_pixel_centre_rule():
    mask = rasterize(shapely.box(2, 3, 5, 4), 8, 6)
    assert np.argwhere(mask).tolist() == [[3, 2], [3, 3], [3, 4]]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_rle_string_equals_pycocotools(seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((37, 53)) > 0.6
    mask[:, 10:30] = True  # long runs exercise multi-chunk deltas
    ours = encode_rle(mask)
    theirs = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert ours["counts"] == theirs["counts"].decode("ascii")
    assert ours["size"] == [37, 53]
    assert (mask_util.decode({"size": ours["size"], "counts": ours["counts"]}) == mask).all()
    assert (decode_rle(ours) == mask).all()
    assert string_to_counts(ours["counts"]) == rle_counts(mask)


def test_rle_of_mask_starting_with_ones():
    mask = np.ones((2, 2), dtype=bool)
    assert rle_counts(mask) == [0, 4]
    assert (
        counts_to_string([0, 4])
        == mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode()
    )


def test_mask_to_polygons_round_trip_keeps_hole():
    mask = rasterize(HOLED, 100, 80)
    poly = mask_to_polygons(mask)
    assert poly.geom_type == "Polygon"
    assert len(poly.interiors) == 1
    assert abs(poly.area - mask.sum()) <= 2.0
    iou = shapely.intersection(poly, HOLED).area / shapely.union(poly, HOLED).area
    assert iou > 0.97


@pytest.mark.parametrize(
    "geom",
    [
        HOLED,
        shapely.box(0, 0, 30, 80),
        shapely.box(70, 0, 100, 80),
        shapely.box(0, 0, 100, 80).difference(shapely.box(20, 20, 40, 40)),
    ],
    ids=["holed", "full-height-left", "full-height-right", "whole-image"],
)
def test_window_rle_equals_full_image_rle(geom):
    from labelguard.core.training.raster import encode_geometry_rle

    assert encode_geometry_rle(geom, 100, 80) == encode_rle(rasterize(geom, 100, 80))
