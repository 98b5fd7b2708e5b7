"""The training export's plain types: its inputs, options, tile windows, pixel writer, result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Protocol, Sequence, Tuple

import numpy as np

from .geo import GeoTransform
from .labelmap import LabelMap
from .labels import REPAIR

SCHEMA = "labelguard.training/1"


@dataclass(frozen=True)
class ImageSource:
    """The image being tiled: size in pixels, GDAL geotransform, CRS as WKT2 (+ authid)."""

    path: str
    name: str
    width: int
    height: int
    geotransform: GeoTransform
    crs_wkt: str
    crs_authid: str = ""


@dataclass(frozen=True)
class AnnotationSource:
    """Annotation features already in the image CRS; ``classes`` are raw field values."""

    fids: np.ndarray
    geoms: np.ndarray
    classes: Sequence[Any]
    name: str
    path: str = ""
    class_field: str = ""
    source_crs: str = ""
    layer: str = ""  # the layer inside the file (GeoPackage table); "" when the file is one


@dataclass(frozen=True)
class ExportOptions:
    fmt: int = 0
    tile_size: int = 512
    overlap: int = 64
    min_visible: float = 0.2
    include_empty: bool = False
    val_fraction: float = 0.2
    seed: int = 42
    block_tiles: int = 4
    labelmap: LabelMap | None = None
    invalid_mode: str = REPAIR
    overwrite: bool = False
    coco_holes: str = "bridged"  # COCO polygons with holes: "bridged" rings or "rle"


@dataclass(frozen=True)
class TileWindow:
    """One tile: COCO image id, file stem, split and window in image pixels."""

    image_id: int
    name: str
    split: str
    col_off: int
    row_off: int
    width: int
    height: int
    geotransform: GeoTransform


class TileWriter(Protocol):
    """What the adapter provides: pixels in, georeferenced files out (GDAL lives there)."""

    image_ext: str
    mask_ext: str
    channels: int  # bands per image tile

    def write_image(self, tile: TileWindow, path: Path) -> None: ...

    def write_mask(self, tile: TileWindow, mask: np.ndarray, path: Path) -> None: ...

    def write_index(self, path: Path, tiles: Sequence[TileWindow], wkts: Sequence[str]) -> None: ...

    def describe(self) -> Dict[str, Any]: ...


@dataclass(frozen=True)
class ExportResult:
    folder: str
    tile_count: int
    annotation_count: int
    split_tiles: Dict[str, int]
    empty_tiles: int
    dropped_pieces: int  # pieces that kept no area after clipping
    features_used: int
    repaired: int
    skipped: Dict[str, int]
    labelmap: LabelMap
    warnings: Tuple[str, ...] = field(default_factory=tuple)
    val_share: float = 0.0  # achieved share (0-1) of the tiles in val
    split_block_tiles: int = 0  # split block size used (tiles per side; 0: no split)
    split_method: str = "none"  # "blocks", "guard_band" or "none" (VAL_FRACTION 0)
    dropped_tiles: int = 0  # tiles left out as the guard band around val (no shared pixel)
    below_min_visible: int = 0  # pieces written below MIN_VISIBLE (COCO: iscrowd 1)
