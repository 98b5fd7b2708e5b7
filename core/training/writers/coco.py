"""COCO instance segmentation: one ``annotations/instances_<split>.json`` per split."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import numpy as np

from ..dataset import SCHEMA, TileWindow
from ..encode import coco_annotations
from ..splits import SPLITS
from .base import DatasetContext, FormatWriter, TileLabels, categories

ANNOTATION_KEYS = (
    "id",
    "image_id",
    "category_id",
    "segmentation",
    "area",
    "bbox",
    "iscrowd",
    "source_fid",
    "visible_fraction",
)


class CocoWriter(FormatWriter):
    """Images and annotations are gathered per split and written as one document each at
    ``finish``; annotation ids run 1..n over the whole export, in tile order."""

    name = "coco"
    # A piece too small to count as an object is a crowd (ignore) region: COCOeval and the
    # trainers that honour iscrowd neither learn it as background nor score it.
    below_min_visible = "iscrowd"

    def __init__(self, context: DatasetContext) -> None:
        super().__init__(context)
        self._images: Dict[str, List[Dict[str, Any]]] = {s: [] for s in SPLITS}
        self._annotations: Dict[str, List[Dict[str, Any]]] = {s: [] for s in SPLITS}
        self._last_id = 0

    def begin(self) -> None:
        super().begin()
        (self.root / "annotations").mkdir()

    def add_tile(self, tile: TileWindow, labels: TileLabels) -> Dict[str, str]:
        file_name = f"{tile.name}{self.context.pixels.image_ext}"
        self._images[tile.split].append(
            {
                "id": tile.image_id,
                "file_name": file_name,
                "path": f"images/{tile.split}/{file_name}",
                "width": tile.width,
                "height": tile.height,
                "split": tile.split,
                "col_off": tile.col_off,
                "row_off": tile.row_off,
                "geotransform": list(tile.geotransform),
                "crs_wkt": self.context.image.crs_wkt,
            }
        )
        crowd = labels.visible < self.context.min_visible
        encoded = coco_annotations(
            labels.geoms, tile.width, tile.height, crowd=crowd, holes=self.context.coco_holes
        )
        cats = labels.category_ids
        src_fids = labels.source_fids.tolist()
        vis = np.round(labels.visible, 4).tolist()
        out = self._annotations[tile.split]
        for j, ann in enumerate(encoded):
            self._last_id += 1
            ann.update(
                id=self._last_id,
                image_id=tile.image_id,
                category_id=int(cats[j]),
                source_fid=src_fids[j],
                visible_fraction=vis[j],
            )
            out.append({key: ann[key] for key in ANNOTATION_KEYS})
        return {}

    def finish(self) -> None:
        cats = categories(self.context.labelmap)
        for split in SPLITS:
            doc = {
                "info": {
                    "description": f"LabelGuard export of {self.context.image.name}",
                    "version": SCHEMA,
                },
                "licenses": [],
                # How polygons with holes are written (bridged rings, or RLE): LabelGuard's key.
                "labelguard": {"holes": self.context.coco_holes},
                "images": self._images[split],
                "annotations": self._annotations[split],
                "categories": cats,
            }
            (self.root / "annotations" / f"instances_{split}.json").write_text(
                json.dumps(doc, separators=(",", ":")), encoding="utf-8"
            )
