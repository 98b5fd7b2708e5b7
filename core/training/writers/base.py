"""What every training-data format writer does: folders per split, one call per tile, a finish."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Tuple

import numpy as np

from ..dataset import ImageSource, TileWindow, TileWriter
from ..labelmap import LabelMap
from ..splits import SPLITS


@dataclass(frozen=True)
class DatasetContext:
    """What a format writer knows about the whole export, fixed before the first tile."""

    root: Path  # the staging folder; renamed into place after the last write
    image: ImageSource
    labelmap: LabelMap
    pixels: TileWriter  # the adapter's GDAL side: image, mask and index files
    min_visible: float = 0.0  # pieces below this visible fraction (0-1) are not full objects
    coco_holes: str = "bridged"  # how COCO writes polygons with holes (encode.HOLE_MODES)


@dataclass(frozen=True)
class TileLabels:
    """The label pieces of one tile, aligned: tile-local pixel (Multi)Polygons, category id,
    source feature id and visible fraction (0-1) of each piece."""

    geoms: np.ndarray
    category_ids: np.ndarray
    source_fids: np.ndarray
    visible: np.ndarray


class FormatWriter(abc.ABC):
    """One training-data format. The pipeline calls ``begin`` once, ``add_tile`` per tile in
    tile order, then ``finish``. A writer keeps state between calls (COCO gathers one document
    per split), so each export builds a new one.

    Files are written plainly: the staging folder, renamed at the end, is the atomic unit.
    """

    name: ClassVar[str]
    # What happens to a piece below MIN_VISIBLE, as the dataset index states it.
    below_min_visible: ClassVar[str] = "written"
    per_split_dirs: ClassVar[Tuple[str, ...]] = ()  # folders beside images/<split>/

    def __init__(self, context: DatasetContext) -> None:
        self.context = context
        self.root = context.root

    def begin(self) -> None:
        """Create ``images/<split>/`` and this format's folders."""
        for split in SPLITS:
            for top in ("images", *self.per_split_dirs):
                (self.root / top / split).mkdir(parents=True)

    @abc.abstractmethod
    def add_tile(self, tile: TileWindow, labels: TileLabels) -> Dict[str, str]:
        """Write or gather the labels of ``tile`` (its image is already written); returns the
        tile-index fields naming the files written for it (``{"label": "labels/..."}``)."""

    @abc.abstractmethod
    def finish(self) -> None:
        """Write the dataset-level files (COCO documents, ``data.yaml``, ``classes.json``)."""


def categories(labelmap: LabelMap) -> List[Dict[str, Any]]:
    """COCO categories in id order; the mask class list is built from the same list."""
    return [
        {"id": i, "name": n, "supercategory": ""}
        for i, n in sorted(zip(labelmap.ids, labelmap.names))
    ]
