"""Semantic masks: one class-id raster per tile (0 = background), ``classes.json`` and a
``data.yaml`` for semantic trainers."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import numpy as np

from ..dataset import TileWindow
from ..encode import class_mask
from .base import DatasetContext, FormatWriter, TileLabels, categories


class MaskWriter(FormatWriter):
    """8-bit masks (ids above 254 are refused before, see ``check_mask_ids``); the adapter
    writes the pixels."""

    name = "masks"
    below_min_visible = "in mask"  # a mask shows every labelled pixel
    per_split_dirs = ("masks",)

    def __init__(self, context: DatasetContext) -> None:
        super().__init__(context)
        self.dtype = np.uint8

    def add_tile(self, tile: TileWindow, labels: TileLabels) -> Dict[str, str]:
        values = labels.category_ids.tolist()
        mask = class_mask(labels.geoms, values, tile.width, tile.height, self.dtype)
        mask_rel = f"masks/{tile.split}/{tile.name}{self.context.pixels.mask_ext}"
        self.context.pixels.write_mask(tile, mask, self.root / mask_rel)
        return {"mask": mask_rel}

    def finish(self) -> None:
        classes = [{"id": 0, "name": "background"}] + [
            {"id": c["id"], "name": c["name"]} for c in categories(self.context.labelmap)
        ]
        (self.root / "classes.json").write_text(
            json.dumps({"classes": classes, "dtype": np.dtype(self.dtype).name}, indent=2) + "\n",
            encoding="utf-8",
        )
        self._write_data_yaml(classes)

    def _write_data_yaml(self, classes: List[Dict[str, Any]]) -> None:
        """``data.yaml`` as semantic trainers read it (ultralytics: ``masks_dir`` pairs
        images/<split>/x with masks/<split>/x; ``names`` maps every pixel value 0..max to a
        name, so ids a label map leaves out are named ``unused_<id>``)."""
        import yaml

        by_id = {int(c["id"]): str(c["name"]) for c in classes}
        names = {i: by_id.get(i, f"unused_{i}") for i in range(max(by_id) + 1)}
        doc = {
            "train": "images/train",
            "val": "images/val",
            "masks_dir": "masks",
            "nc": len(names),
            "names": names,
            "channels": self.context.pixels.channels,
        }
        (self.root / "data.yaml").write_text(
            "# Semantic segmentation dataset written by LabelGuard: mask pixel values are the "
            "names' keys (0 = background); paths are relative to this file.\n"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True),
            encoding="utf-8",
        )
