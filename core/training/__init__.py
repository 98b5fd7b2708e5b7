"""Training-data export and prediction import: tiling, splits, COCO/YOLO/mask encoders."""

from __future__ import annotations
