"""Training export: labels checked, clipped to tiles, split, encoded, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InputError
from ..geos import shapely
from ..hashing import hash_files, sha256_file
from ..progress import ProgressFn, StopFn, Ticker
from .clip import TilePieces, clip_to_tiles
from .dataset import (
    SCHEMA,
    AnnotationSource,
    ExportOptions,
    ExportResult,
    ImageSource,
    TileWindow,
    TileWriter,
)
from .encode import HOLE_MODES
from .geo import pixel_to_world, tile_geotransform, world_to_pixel
from .labelmap import LabelMap, check_classes, check_mask_ids, class_name, labelmap_from_values
from .labels import LabelCheck, check_labels, first
from .splits import SPLITS, VAL, assign_splits, guard_band_splits, val_share
from .staging import INDEX_NAME, check_target, staged_folder
from .tiling import TileGrid, plan_tiles
from .writers import WRITERS, DatasetContext, FormatWriter, TileLabels

__all__ = [  # the adapter and tests import the types from here, where they always lived
    "FORMATS",
    "SCHEMA",
    "AnnotationSource",
    "ExportOptions",
    "ExportResult",
    "ImageSource",
    "TileWindow",
    "TileWriter",
    "annotations_content_sha256",
    "export_training",
]

FORMATS = tuple(WRITERS)  # FORMAT parameter value -> format name


def annotations_content_sha256(fids: np.ndarray, geoms: np.ndarray, names: Sequence[Any]) -> str:
    """SHA-256 over (class, normalized WKB) of every feature, in sorted order: the same labels
    hash the same whatever the file format or feature order."""
    wkb = shapely.to_wkb(shapely.normalize(np.asarray(geoms, dtype=object)), hex=True)
    rows = sorted(f"{n}\t{w}" for n, w in zip(names, wkb.tolist()))
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.encode("utf-8") + b"\n")
    return digest.hexdigest()


def _source_record(path: str, should_stop: StopFn) -> Dict[str, Any]:
    if path and os.path.isfile(path):
        return {
            "path": path,
            "size": os.path.getsize(path),
            "sha256": sha256_file(path, None, should_stop),
        }
    return {"path": path or None, "size": None, "sha256": None}


def _validate_inputs(
    image: ImageSource, annotations: AnnotationSource, options: ExportOptions
) -> None:
    if not image.crs_wkt:
        raise InputError(
            f"Image '{image.name}' has no CRS, so its tiles cannot be georeferenced; set one in "
            "Layer Properties > Source (or with gdal_edit.py -a_srs) and run again."
        )
    if not 0 <= options.fmt < len(FORMATS):
        raise InputError(f"FORMAT {options.fmt} is unknown; use 0 to {len(FORMATS) - 1}.")
    if not 0.0 <= options.val_fraction < 1.0:
        raise InputError(f"VAL_FRACTION {options.val_fraction} must be in [0, 1).")
    if options.coco_holes not in HOLE_MODES:
        raise InputError(f"COCO_HOLES {options.coco_holes!r} is unknown; use one of {HOLE_MODES}.")
    if not 0.0 <= options.min_visible <= 1.0:
        raise InputError(f"MIN_VISIBLE {options.min_visible} must be in [0, 1].")
    if len(annotations.fids) == 0:
        raise InputError(
            f"Annotation layer '{annotations.name}' has no features; nothing to export."
        )


@dataclass(frozen=True)
class _Labels:
    """The annotations that go into the dataset, after the class, geometry and image checks;
    ``used_*`` are aligned, ``pix`` in image pixels, ``used_geoms`` in the image CRS."""

    features: int
    no_class: int
    check: LabelCheck
    outside: int
    labelmap: LabelMap
    used_fids: np.ndarray
    used_names: np.ndarray
    used_geoms: np.ndarray
    used_cats: np.ndarray
    pix: np.ndarray

    @property
    def skipped_geometry(self) -> int:
        return len(self.check.empty_fids) + len(self.check.unrepairable_fids)


def _class_names(
    annotations: AnnotationSource, field_label: str, warnings: List[str]
) -> Tuple[np.ndarray, np.ndarray]:
    """(class name per feature, no-class mask); refuses a field that is empty everywhere."""
    names = np.array([class_name(v) for v in annotations.classes], dtype=object)  # cheap
    no_class = np.array([n is None for n in names], dtype=bool)
    if no_class.all():
        raise InputError(
            f"Class field '{field_label}' of '{annotations.name}' is empty (NULL or blank) for "
            f"all {len(names)} features; choose the field that holds the class names."
        )
    if no_class.any():
        fids = np.asarray(annotations.fids, dtype=np.int64)
        warnings.append(
            f"{int(no_class.sum())} feature(s) with an empty '{field_label}' were skipped "
            f"(feature ids {first(tuple(int(f) for f in np.sort(fids[no_class])))})."
        )
    return names, no_class


def _checked_geometries(
    fids: np.ndarray, geoms: np.ndarray, mode: str, warnings: List[str]
) -> LabelCheck:
    check = check_labels(fids, geoms, mode)
    if check.repaired:
        warnings.append(
            f"{check.repaired} invalid geometr{'y was' if check.repaired == 1 else 'ies were'} "
            f"repaired with make_valid (feature ids {first(check.invalid_fids)})."
        )
    if check.empty_fids or check.unrepairable_fids:
        lost = tuple(sorted(check.empty_fids + check.unrepairable_fids))
        warnings.append(
            f"{len(lost)} empty or unrepairable geometries were skipped ({first(lost)})."
        )
    return check


def _prepare_labels(
    image: ImageSource,
    annotations: AnnotationSource,
    options: ExportOptions,
    warnings: List[str],
    say: Callable[[str], None],
    ticker: Ticker,
) -> _Labels:
    """Class names, geometry check/repair, label map, and the labels that touch the image."""
    fids = np.asarray(annotations.fids, dtype=np.int64)
    field_label = annotations.class_field or "CLASS_FIELD"
    names, no_class = _class_names(annotations, field_label, warnings)
    say(f"Checking {len(fids)} annotation geometries")
    check = _checked_geometries(fids, annotations.geoms, options.invalid_mode, warnings)
    use = check.keep & ~no_class
    ticker.check()

    if options.labelmap is not None:
        labelmap = options.labelmap
        check_classes(labelmap, [str(n) for n in names[use]], f"'{field_label}'")
    else:
        labelmap = labelmap_from_values(str(n) for n in names[use])
    if FORMATS[options.fmt] == "masks":
        numbered = (
            "" if options.labelmap else f"Class field '{field_label}' of '{annotations.name}'"
        )
        check_mask_ids(labelmap, numbered)
    cat_of = labelmap.id_of()

    pix = world_to_pixel(image.geotransform, check.geoms[use])
    on_image = shapely.intersects(pix, shapely.box(0, 0, image.width, image.height))
    if not on_image.any():
        raise InputError(
            f"None of the {int(use.sum())} annotations in '{annotations.name}' overlaps image "
            f"'{image.name}'. Check that both layers show the same place: a wrong CRS on either "
            "layer is the usual cause."
        )
    outside = int((~on_image).sum())
    if outside:
        warnings.append(f"{outside} annotation(s) lie entirely outside the image and were skipped.")
    used_idx = np.flatnonzero(use)[on_image]
    used_names = names[used_idx]
    return _Labels(
        features=int(len(fids)),
        no_class=int(no_class.sum()),
        check=check,
        outside=outside,
        labelmap=labelmap,
        used_fids=fids[used_idx],
        used_names=used_names,
        used_geoms=check.geoms[used_idx],
        used_cats=np.array([cat_of[str(n)] for n in used_names], dtype=np.int64),
        pix=pix[on_image],
    )


@dataclass(frozen=True)
class _Plan:
    """The tiles to write, in order, and where each tile's pieces sit in ``pieces``."""

    tiles: List[TileWindow]  # a list, as the pixel writer's write_index always got
    pieces: TilePieces
    starts: np.ndarray
    ends: np.ndarray
    empty_tiles: int
    block_tiles: int  # the split block size used (0: no split)
    val_share: float  # achieved share (0-1) of the tiles in val
    split_method: str  # "blocks", "guard_band" or "none" (VAL_FRACTION 0)
    dropped_tiles: int  # tiles left out as the guard band around val

    @property
    def n_pieces(self) -> int:
        return int((self.ends - self.starts).sum()) if len(self.tiles) else 0

    def n_below(self, min_visible: float) -> int:
        """Pieces written whose visible fraction is below ``min_visible``."""
        if not len(self.tiles):
            return 0
        written = np.concatenate(
            [np.arange(a, b) for a, b in zip(self.starts.tolist(), self.ends.tolist())]
        ).astype(np.int64)
        return int((self.pieces.visible[written] < min_visible).sum())

    def labels_of(self, k: int, labels: _Labels) -> TileLabels:
        sl = slice(int(self.starts[k]), int(self.ends[k]))
        ann = self.pieces.ann[sl]
        return TileLabels(
            geoms=self.pieces.geoms[sl],
            category_ids=labels.used_cats[ann],
            source_fids=labels.used_fids[ann],
            visible=self.pieces.visible[sl],
        )


SPLIT_TOLERANCE = 0.05  # an achieved val share this close to the asked one ends the search


def _tiles_with_labels(grid: TileGrid, pix: np.ndarray) -> np.ndarray:
    """Tiles that a label covers with some area (not only touches): cheap, before clipping."""
    boxes = grid.boxes()
    t, a = shapely.STRtree(pix).query(boxes, predicate="intersects")
    inner = ~shapely.touches(boxes[t], pix[a])
    return np.bincount(t[inner], minlength=len(grid)) > 0


def _cannot_split(image: ImageSource, options: ExportOptions, kept: int) -> InputError:
    return InputError(
        f"VAL_FRACTION {options.val_fraction} cannot be met: only {kept} tile(s) of "
        f"'{image.name}' hold annotations and each shares pixels with every other one, so none "
        "can go to validation without sharing pixels with train. Lower TILE_SIZE, or set "
        "VAL_FRACTION to 0."
    )


def _guard_band(
    grid: TileGrid, keep: np.ndarray, options: ExportOptions
) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    return guard_band_splits(
        grid.col_off, grid.row_off, grid.width, grid.height, keep,
        options.val_fraction, options.seed,
    )  # fmt: skip


def _split_grid(
    image: ImageSource, labels: _Labels, options: ExportOptions
) -> Tuple[TileGrid, int, bool]:
    """The tile grid, split block size (tiles per side) and whether a guard band is used,
    chosen to meet VAL_FRACTION best.

    Blocks keep train and val from sharing pixels, but an image holding one block cannot be
    split, and big blocks make coarse shares: block sizes from SPLIT_BLOCK_TILES down to 1 are
    tried, and the first whose val share is within SPLIT_TOLERANCE of the asked one is used.
    Else the overlapping tile grid with a guard band (tiles sharing pixels with a val tile are
    dropped) is used when it comes closer, or when no block size gives a split.

    Raises:
        InputError: neither gives a validation split (every label tile shares pixels with
            every other one).
    """
    size = (image.width, image.height, options.tile_size, options.overlap)
    if options.val_fraction <= 0:
        return plan_tiles(*size, 0), 0, False
    best: Optional[Tuple[float, TileGrid, int]] = None
    for blocks in range(max(1, options.block_tiles), 0, -1):
        grid = plan_tiles(*size, blocks)
        keep = _tiles_with_labels(grid, labels.pix) | options.include_empty
        splits = assign_splits(grid.block, keep, options.val_fraction, options.seed)
        if not (splits[keep] == VAL).any():
            continue
        error = abs(val_share(splits, keep) - options.val_fraction)
        if best is None or error < best[0]:
            best = (error, grid, blocks)
        if error <= SPLIT_TOLERANCE:
            return grid, blocks, False
    plain = plan_tiles(*size, 0)
    keep = _tiles_with_labels(plain, labels.pix) | options.include_empty
    guard = _guard_band(plain, keep, options)
    if guard is not None:
        error = abs(val_share(guard[0], keep & ~guard[1]) - options.val_fraction)
        if best is None or error < best[0]:
            return plain, 0, True
    if best is None:
        raise _cannot_split(image, options, int(keep.sum()))
    return best[1], best[2], False


def _plan_tiles(
    image: ImageSource,
    labels: _Labels,
    options: ExportOptions,
    warnings: List[str],
    say: Callable[[str], None],
    ticker: Ticker,
) -> _Plan:
    """Tile grid, labels clipped to it, the tiles kept and their split."""
    grid, block_tiles, guarded = _split_grid(image, labels, options)
    say(f"Clipping {len(labels.pix)} annotations to {len(grid)} tiles")
    # Every piece is kept: masks must show every labelled pixel, and a piece below MIN_VISIBLE
    # is left to the format writer to mark (COCO iscrowd) so no object goes unlabelled.
    pieces = clip_to_tiles(labels.pix, grid, 0.0, ticker.sub(1, 0.02, 0.2))
    has_labels = np.bincount(pieces.tile, minlength=len(grid)) > 0
    keep_tile = has_labels | options.include_empty
    dropped = 0
    if guarded:
        guard = _guard_band(grid, keep_tile, options)
        if guard is None:  # clipping found fewer label tiles than the quick test before it
            raise _cannot_split(image, options, int(keep_tile.sum()))
        splits, drop = guard
        dropped = int(drop.sum())
        keep_tile &= ~drop
    else:
        splits = assign_splits(grid.block, keep_tile, options.val_fraction, options.seed)
    share = val_share(splits, keep_tile)
    if guarded:
        warnings.append(
            f"Split blocks cannot meet VAL_FRACTION {options.val_fraction} on '{image.name}', "
            f"so a guard band was used: {dropped} tile(s) sharing pixels with a val tile were "
            f"left out, and validation holds {share:.1%} of the {int(keep_tile.sum())} tiles."
        )
    elif options.val_fraction > 0:
        if block_tiles != options.block_tiles:
            warnings.append(
                f"Split blocks of {block_tiles} tile(s) per side were used instead of "
                f"SPLIT_BLOCK_TILES {options.block_tiles}, so that validation gets "
                f"{share:.1%} of the tiles (VAL_FRACTION {options.val_fraction})."
            )
        elif abs(share - options.val_fraction) > SPLIT_TOLERANCE:
            warnings.append(
                f"Validation holds {share:.1%} of the tiles, not VAL_FRACTION "
                f"{options.val_fraction}: whole split blocks are assigned."
            )
    kept = np.flatnonzero(keep_tile)
    tiles: List[TileWindow] = []
    for image_id, t in enumerate(kept.tolist(), start=1):
        c, r = int(grid.col_off[t]), int(grid.row_off[t])
        tiles.append(
            TileWindow(
                image_id=image_id,
                name=f"{image.name}_x{c:06d}_y{r:06d}",
                split=str(splits[t]),
                col_off=c,
                row_off=r,
                width=int(grid.width[t]),
                height=int(grid.height[t]),
                geotransform=tile_geotransform(image.geotransform, c, r),
            )
        )
    return _Plan(
        tiles=tiles,
        pieces=pieces,
        starts=np.searchsorted(pieces.tile, kept, side="left"),
        ends=np.searchsorted(pieces.tile, kept, side="right"),
        empty_tiles=int((~has_labels[kept]).sum()),
        block_tiles=block_tiles,
        val_share=share,
        split_method=("guard_band" if guarded else "blocks")
        if options.val_fraction > 0
        else "none",
        dropped_tiles=dropped,
    )


def _write_tiles(
    root: Path,
    plan: _Plan,
    labels: _Labels,
    pixels: TileWriter,
    fmt_writer: FormatWriter,
    tick: Ticker,
) -> List[Dict[str, Any]]:
    """Image and labels of every tile; returns the tile records of the dataset index."""
    records: List[Dict[str, Any]] = []
    for k, tile in enumerate(plan.tiles):  # one iteration per tile: pixels are written per tile
        img_rel = f"images/{tile.split}/{tile.name}{pixels.image_ext}"
        pixels.write_image(tile, root / img_rel)
        record: Dict[str, Any] = {
            "image_id": tile.image_id,
            "name": tile.name,
            "split": tile.split,
            "image": img_rel,
            "col_off": tile.col_off,
            "row_off": tile.row_off,
            "width": tile.width,
            "height": tile.height,
            "geotransform": list(tile.geotransform),
            "annotations": int(plan.ends[k] - plan.starts[k]),
        }
        record.update(fmt_writer.add_tile(tile, plan.labels_of(k, labels)))
        records.append(record)
        tick.advance()
    return records


def _write_tile_index(
    root: Path, image: ImageSource, tiles: Sequence[TileWindow], pixels: TileWriter
) -> None:
    """``tiles.gpkg``: the footprint of every tile in the image CRS (full-precision WKT)."""
    footprints = (
        shapely.to_wkt(
            pixel_to_world(
                image.geotransform,
                shapely.box(
                    np.array([t.col_off for t in tiles]),
                    np.array([t.row_off for t in tiles]),
                    np.array([t.col_off + t.width for t in tiles]),
                    np.array([t.row_off + t.height for t in tiles]),
                ),
            ),
            rounding_precision=-1,
        ).tolist()
        if tiles
        else []
    )
    pixels.write_index(root / "tiles.gpkg", tiles, footprints)


def _provenance(
    image: ImageSource, annotations: AnnotationSource, labels: _Labels, should_stop: StopFn
) -> Dict[str, Any]:
    return {
        "image": _source_record(image.path, should_stop),
        "annotations": {
            **_source_record(annotations.path, should_stop),
            "layer": annotations.layer or annotations.name,
            "class_field": annotations.class_field,
            "source_crs": annotations.source_crs,
            "content_sha256": annotations_content_sha256(
                labels.used_fids, labels.used_geoms, labels.used_names
            ),
        },
    }


def _split_counts(tiles: Sequence[TileWindow]) -> Dict[str, int]:
    return {s: sum(1 for t in tiles if t.split == s) for s in SPLITS}


def _index_document(
    fmt: str,
    image: ImageSource,
    options: ExportOptions,
    pixels: TileWriter,
    labels: _Labels,
    plan: _Plan,
    warnings: List[str],
    provenance: Dict[str, Any],
    tile_records: List[Dict[str, Any]],
    files: List[Dict[str, Any]],
) -> Dict[str, Any]:
    """``labelguard_dataset.json``; its key order is part of the format."""
    check = labels.check
    fmt_below = WRITERS[fmt].below_min_visible
    return {
        "schema": SCHEMA,
        "format": fmt,
        "image": {
            "name": image.name,
            "width": image.width,
            "height": image.height,
            "geotransform": list(image.geotransform),
            "crs_wkt": image.crs_wkt,
            "crs_authid": image.crs_authid,
            "tiles": pixels.describe(),
        },
        "sources": provenance,
        "parameters": {
            "tile_size": options.tile_size,
            "overlap": options.overlap,
            "min_visible": options.min_visible,
            "include_empty": options.include_empty,
            "val_fraction": options.val_fraction,
            "seed": options.seed,
            "split_block_tiles": options.block_tiles,
            "invalid_labels": options.invalid_mode,
            "coco_holes": options.coco_holes,
        },
        "labels": {
            "features": labels.features,
            "used": int(len(labels.used_fids)),
            "repaired": check.repaired,
            "repaired_fids": list(check.invalid_fids),
            "skipped_empty_class": labels.no_class,
            "skipped_empty_geometry": labels.skipped_geometry,
            "outside_image": labels.outside,
            "pieces_written": plan.n_pieces,
            "pieces_below_min_visible": plan.n_below(options.min_visible),
            "below_min_visible": fmt_below,
        },
        "categories": labels.labelmap.to_json(),
        "splits": _split_counts(plan.tiles),
        "split": {
            "val_fraction_asked": options.val_fraction,
            "val_fraction": round(plan.val_share, 4),
            "block_tiles": plan.block_tiles,
            "method": plan.split_method,
            "dropped_tiles": plan.dropped_tiles,
        },
        "warnings": warnings,
        "tiles": tile_records,
        "files": files,
    }


def _result(
    target: Path, labels: _Labels, plan: _Plan, warnings: List[str], min_visible: float
) -> ExportResult:
    return ExportResult(
        folder=str(target),
        tile_count=len(plan.tiles),
        annotation_count=plan.n_pieces,
        split_tiles=_split_counts(plan.tiles),
        val_share=plan.val_share,
        split_block_tiles=plan.block_tiles,
        split_method=plan.split_method,
        dropped_tiles=plan.dropped_tiles,
        empty_tiles=plan.empty_tiles,
        dropped_pieces=plan.pieces.dropped,
        below_min_visible=plan.n_below(min_visible),
        features_used=int(len(labels.used_fids)),
        repaired=labels.check.repaired,
        skipped={
            "empty_class": labels.no_class,
            "empty_geometry": labels.skipped_geometry,
            "outside_image": labels.outside,
        },
        labelmap=labels.labelmap,
        warnings=tuple(warnings),
    )


def export_training(
    image: ImageSource,
    annotations: AnnotationSource,
    options: ExportOptions,
    writer: TileWriter,
    target: str,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
    log: Any = None,
    finalize: Optional[Callable[[Path], None]] = None,
) -> ExportResult:
    """Write a training dataset for ``image`` + ``annotations`` into folder ``target``.

    The folder is built next to ``target`` and renamed into place at the end, so a cancel or
    an error leaves no partial dataset. ``log`` (optional) receives one line per stage.
    ``writer`` writes the pixels (image tiles, masks, the tile index); the format's own files
    come from the :data:`~.writers.WRITERS` entry that ``options.fmt`` names.

    Raises:
        InputError: bad input (no CRS, no features, class problems, annotations outside the
            image, refused invalid labels); OutputExists: target not usable; Cancelled.
    """
    say = log or (lambda _msg: None)
    ticker = Ticker(1.0, progress, should_stop)
    _validate_inputs(image, annotations, options)
    target_path = Path(target)
    check_target(target_path, options.overwrite)
    warnings: List[str] = []
    labels = _prepare_labels(image, annotations, options, warnings, say, ticker)
    plan = _plan_tiles(image, labels, options, warnings, say, ticker)
    fmt = FORMATS[options.fmt]
    tiles = plan.tiles

    with staged_folder(target_path, options.overwrite) as root:
        context = DatasetContext(
            root, image, labels.labelmap, writer, options.min_visible, options.coco_holes
        )
        fmt_writer = WRITERS[fmt](context)
        fmt_writer.begin()
        say(f"Writing {len(tiles)} tiles ({fmt})")
        write_tick = ticker.sub(max(1, len(tiles)), 0.2, 0.93)
        tile_records = _write_tiles(root, plan, labels, writer, fmt_writer, write_tick)
        fmt_writer.finish()
        (root / "labelmap.json").write_text(
            json.dumps(labels.labelmap.to_json(), indent=2) + "\n", encoding="utf-8"
        )
        _write_tile_index(root, image, tiles, writer)
        ticker.check()

        say("Hashing sources and written files")
        provenance = _provenance(image, annotations, labels, should_stop)
        written = sorted(p for p in root.rglob("*") if p.is_file())
        files = [
            {"path": h.path.relative_to(root).as_posix(), "size": h.size, "sha256": h.sha256}
            for h in hash_files(written, should_stop=should_stop)
        ]
        index = _index_document(
            fmt, image, options, writer, labels, plan, warnings, provenance, tile_records, files
        )
        (root / INDEX_NAME).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
        if finalize is not None:  # sidecar + manifest, inside the staging folder: atomic too
            say("Writing the export's sidecar and manifest")
            finalize(root)
        ticker.sub(1, 0.93, 1.0).advance()

    return _result(target_path, labels, plan, warnings, options.min_visible)
