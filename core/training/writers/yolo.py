"""YOLO: one ``labels/<split>/<tile>.txt`` per tile (boxes or segments) and ``data.yaml``."""

from __future__ import annotations

from typing import Callable, ClassVar, Dict, List, Sequence

import numpy as np

from ..dataset import TileWindow
from ..encode import yolo_box_lines, yolo_segment_lines
from .base import DatasetContext, FormatWriter, TileLabels

LineEncoder = Callable[[np.ndarray, Sequence[int], int, int], List[str]]


class YoloWriter(FormatWriter):
    """Shared by both YOLO flavours; a subclass only picks the line encoder."""

    per_split_dirs = ("labels",)
    encode: ClassVar[LineEncoder]

    def __init__(self, context: DatasetContext) -> None:
        super().__init__(context)
        labelmap = context.labelmap
        yolo_of = labelmap.yolo_index()
        cat_of = labelmap.id_of()
        self._yolo_of = yolo_of
        self._yolo_by_cat = {cat_of[n]: yolo_of[n] for n in labelmap.names}

    def add_tile(self, tile: TileWindow, labels: TileLabels) -> Dict[str, str]:
        yolo_cls = [self._yolo_by_cat[int(c)] for c in labels.category_ids]
        lines = self.encode(labels.geoms, yolo_cls, tile.width, tile.height)
        label_rel = f"labels/{tile.split}/{tile.name}.txt"
        (self.root / label_rel).write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
        return {"label": label_rel}

    def finish(self) -> None:
        import yaml

        yolo_names = {self._yolo_of[n]: n for n in self.context.labelmap.names}
        # Both keys always: ultralytics' check_det_dataset refuses a data.yaml without val.
        data = {"train": "images/train", "val": "images/val"}
        doc_yaml = {
            **data,
            "nc": len(yolo_names),
            "names": dict(sorted(yolo_names.items())),
            "channels": self.context.pixels.channels,  # ultralytics reads 3 when it is missing
        }
        (self.root / "data.yaml").write_text(
            "# YOLO dataset written by LabelGuard; paths are relative to this file.\n"
            + yaml.safe_dump(doc_yaml, sort_keys=False, allow_unicode=True),
            encoding="utf-8",
        )


class YoloBoxesWriter(YoloWriter):
    """``class cx cy w h`` per piece."""

    name = "yolo_boxes"
    encode = staticmethod(yolo_box_lines)


class YoloSegmentsWriter(YoloWriter):
    """``class x1 y1 x2 y2 ...`` per polygon part, holes bridged into the ring."""

    name = "yolo_segments"
    encode = staticmethod(yolo_segment_lines)
