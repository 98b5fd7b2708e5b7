"""One writer per training-data format, looked up by the format's name."""

from __future__ import annotations

from typing import Dict, Type

from .base import DatasetContext, FormatWriter, TileLabels
from .coco import CocoWriter
from .masks import MaskWriter
from .yolo import YoloBoxesWriter, YoloSegmentsWriter

# Order is the FORMAT parameter's order (0 = COCO ...); a released position never changes.
WRITERS: Dict[str, Type[FormatWriter]] = {
    cls.name: cls for cls in (CocoWriter, YoloBoxesWriter, YoloSegmentsWriter, MaskWriter)
}

__all__ = ["WRITERS", "DatasetContext", "FormatWriter", "TileLabels"]
