"""Tile grids in pixel space, grouped into split blocks so train and val never share pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from ..errors import InputError
from ..geos import shapely


@dataclass(frozen=True)
class TileGrid:
    """Tile windows in pixel space (columns/rows of the source image).

    ``block`` is the split block each tile lies in: tiles in different blocks never overlap,
    so assigning whole blocks to a split cannot leak pixels from train into val.
    """

    col_off: np.ndarray
    row_off: np.ndarray
    width: np.ndarray
    height: np.ndarray
    block: np.ndarray
    block_count: int

    def __len__(self) -> int:
        return int(self.col_off.shape[0])

    def boxes(self) -> np.ndarray:
        """Tile footprints as shapely boxes in pixel space."""
        return shapely.box(
            self.col_off, self.row_off, self.col_off + self.width, self.row_off + self.height
        )


def _axis_offsets(start: int, length: int, tile: int, stride: int) -> List[Tuple[int, int]]:
    """(offset, size) of windows covering [start, start+length); the last one is shifted back
    so every window is full size whenever ``length >= tile``."""
    if length <= tile:
        return [(start, length)]
    offsets = list(range(start, start + length - tile + 1, stride))
    if offsets[-1] + tile < start + length:
        offsets.append(start + length - tile)
    return [(o, tile) for o in offsets]


def _axis_blocks(length: int, block: int, tile: int) -> List[Tuple[int, int]]:
    """(start, size) of split blocks along one axis; a remainder narrower than a tile joins
    the block before it."""
    if block <= 0 or block >= length:
        return [(0, length)]
    starts = list(range(0, length, block))
    spans = [(s, min(block, length - s)) for s in starts]
    if len(spans) > 1 and spans[-1][1] < tile:
        last = spans.pop()
        prev = spans.pop()
        spans.append((prev[0], prev[1] + last[1]))
    return spans


def plan_tiles(
    width: int, height: int, tile_size: int, overlap: int, block_tiles: int = 0
) -> TileGrid:
    """Tile windows of ``tile_size`` px overlapping by ``overlap`` px over a width x height
    image. With ``block_tiles`` > 0 the image is first cut into blocks of that many tiles per
    side; tiles overlap inside a block and never across blocks.

    Raises:
        InputError: tile size or overlap out of range.
    """
    if width <= 0 or height <= 0:
        raise InputError(f"The image has no pixels ({width} x {height}).")
    if tile_size < 16:
        raise InputError(f"TILE_SIZE {tile_size} is too small; use at least 16 pixels.")
    if overlap < 0 or overlap >= tile_size:
        raise InputError(
            f"OVERLAP {overlap} must be at least 0 and smaller than TILE_SIZE {tile_size}."
        )
    stride = tile_size - overlap
    block_px = tile_size + (block_tiles - 1) * stride if block_tiles > 0 else 0
    cols: List[int] = []
    rows: List[int] = []
    ws: List[int] = []
    hs: List[int] = []
    blocks: List[int] = []
    n_block = 0
    for by, bh in _axis_blocks(height, block_px, tile_size):
        for bx, bw in _axis_blocks(width, block_px, tile_size):
            for ry, rh in _axis_offsets(by, bh, tile_size, stride):
                for cx, cw in _axis_offsets(bx, bw, tile_size, stride):
                    cols.append(cx)
                    rows.append(ry)
                    ws.append(cw)
                    hs.append(rh)
                    blocks.append(n_block)
            n_block += 1
    return TileGrid(
        col_off=np.asarray(cols, dtype=np.int64),
        row_off=np.asarray(rows, dtype=np.int64),
        width=np.asarray(ws, dtype=np.int64),
        height=np.asarray(hs, dtype=np.int64),
        block=np.asarray(blocks, dtype=np.int64),
        block_count=n_block,
    )
