"""Training export, every format: each written file equals its golden copy byte for byte."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from labelguard.core.geos import shapely
from labelguard.core.training.export import (
    AnnotationSource,
    ExportOptions,
    ImageSource,
    export_training,
)
from labelguard.core.training.geo import pixel_to_world
from labelguard.core.training.labelmap import LabelMap

GT = (500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5)
GOLDEN = Path(__file__).resolve().parents[1] / "data" / "expected" / "training"


class TextWriter:
    """Pixels as short text, so golden files stay small: tile window, mask digest, footprints."""

    image_ext = ".tif"
    mask_ext = ".png"
    channels = 3

    def write_image(self, tile, path):
        path.write_text(f"{tile.name} {tile.col_off} {tile.row_off} {tile.width} {tile.height}\n")

    def write_mask(self, tile, mask, path):
        digest = hashlib.sha256(mask.tobytes()).hexdigest()
        counts = np.unique(mask, return_counts=True)
        path.write_text(f"{mask.dtype} {mask.shape} {digest} {np.stack(counts).tolist()}\n")

    def write_index(self, path, tiles, wkts):
        path.write_text("".join(f"{t.name} {t.split} {w}\n" for t, w in zip(tiles, wkts)))

    def describe(self):
        return {"format": "text"}


def _scene():
    """Holes, a multipolygon, a bowtie (repaired), one feature off the image, one NULL class."""
    rng = np.random.default_rng(11)
    geoms, classes = [], []
    for i in range(14):
        x, y = rng.uniform(20, 480, 2)
        r = rng.uniform(15, 45)
        p = shapely.Point(x, y).buffer(r, quad_segs=4)
        if i % 4 == 0:
            p = p.difference(shapely.Point(x, y).buffer(r / 3, quad_segs=4))
        if i == 5:
            p = shapely.MultiPolygon([p, shapely.box(x + r + 5, y, x + r + 25, y + 15)])
        geoms.append(p)
        classes.append(("road", "tree", "house")[i % 3])
    geoms.append(shapely.from_wkt("POLYGON((100 100, 160 160, 160 100, 100 160, 100 100))"))
    classes.append("tree")
    geoms.append(shapely.box(900, 900, 950, 950))
    classes.append("road")
    geoms.append(shapely.box(10, 10, 30, 30))
    classes.append(None)
    return AnnotationSource(
        fids=np.arange(101, 101 + len(geoms)),
        geoms=pixel_to_world(GT, np.array(geoms, dtype=object)),
        classes=classes,
        name="labels",
        class_field="cls",
        source_crs="EPSG:32631",
    )


CASES = {
    "coco": ExportOptions(fmt=0),
    "yolo_boxes": ExportOptions(fmt=1),
    "yolo_segments": ExportOptions(fmt=2),
    "masks": ExportOptions(fmt=3),
    "masks_labelmap": ExportOptions(
        fmt=3, labelmap=LabelMap(names=("house", "road", "tree"), ids=(3, 254, 7))
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_every_file_equals_golden(tmp_path, case):
    defaults = {"tile_size": 200, "overlap": 40, "min_visible": 0.25, "block_tiles": 1}
    options = ExportOptions(**{**CASES[case].__dict__, **defaults, "val_fraction": 0.4, "seed": 2})
    image = ImageSource("", "img", 500, 420, GT, 'PROJCRS["WGS 84 / UTM zone 31N"]', "EPSG:32631")
    out = tmp_path / "ds"
    export_training(image, _scene(), options, TextWriter(), str(out))
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    golden = GOLDEN / case
    if os.environ.get("LABELGUARD_WRITE_GOLDEN") == "1":  # deliberate regeneration only
        for rel in written:
            (golden / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden / rel).write_bytes((out / rel).read_bytes())
    expected = sorted(p.relative_to(golden).as_posix() for p in golden.rglob("*") if p.is_file())
    assert written == expected
    for rel in written:
        assert (out / rel).read_bytes() == (golden / rel).read_bytes(), rel


def test_format_numbers_follow_the_format_parameter():
    """FORMAT 0..3 is a released parameter: the writer registry must keep this order."""
    from labelguard.core.training.export import FORMATS
    from labelguard.core.training.writers import WRITERS

    assert FORMATS == ("coco", "yolo_boxes", "yolo_segments", "masks")
    assert [cls.__name__ for cls in WRITERS.values()] == [
        "CocoWriter",
        "YoloBoxesWriter",
        "YoloSegmentsWriter",
        "MaskWriter",
    ]
