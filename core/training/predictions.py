"""Model predictions (COCO results, YOLO txt) back to georeferenced geometries in the image CRS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

from ..errors import InputError
from ..geos import shapely
from ..progress import ProgressFn, StopFn, Ticker
from .geo import GeoTransform, pixel_to_world, polygonal_parts, shift_each
from .raster import decode_rle, mask_to_polygons
from .staging import INDEX_NAME

BOX = "box"
POLYGON = "polygon"


@dataclass(frozen=True)
class DatasetIndex:
    """What import needs from an export folder's ``labelguard_dataset.json``."""

    folder: str
    geotransform: GeoTransform
    crs_wkt: str
    names: Tuple[str, ...]
    col_off: np.ndarray
    row_off: np.ndarray
    width: np.ndarray
    height: np.ndarray
    image_ids: Dict[int, int]
    tile_names: Dict[str, int]
    category_names: Dict[int, str]
    yolo_names: Dict[int, str]


def read_dataset(folder: str) -> DatasetIndex:
    """Read an export folder's index.

    Raises:
        InputError: no index in the folder, or one this version cannot read.
    """
    path = Path(folder) / INDEX_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(
            f"DATASET '{folder}' holds no {INDEX_NAME}; choose the folder written by "
            "Export training dataset."
        ) from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"DATASET index '{path}' cannot be read: {exc}") from exc
    if doc.get("schema") != "labelguard.training/1":
        raise InputError(f"DATASET index '{path}' has unknown schema {doc.get('schema')!r}.")
    tiles = doc["tiles"]
    cats = doc["categories"]
    return DatasetIndex(
        folder=str(folder),
        geotransform=tuple(float(v) for v in doc["image"]["geotransform"]),  # type: ignore[arg-type]
        crs_wkt=doc["image"]["crs_wkt"],
        names=tuple(t["name"] for t in tiles),
        col_off=np.array([t["col_off"] for t in tiles], dtype=np.int64),
        row_off=np.array([t["row_off"] for t in tiles], dtype=np.int64),
        width=np.array([t["width"] for t in tiles], dtype=np.int64),
        height=np.array([t["height"] for t in tiles], dtype=np.int64),
        image_ids={int(t["image_id"]): i for i, t in enumerate(tiles)},
        tile_names={t["name"]: i for i, t in enumerate(tiles)},
        category_names={int(c["id"]): str(c["name"]) for c in cats},
        yolo_names={int(c["yolo_index"]): str(c["name"]) for c in cats},
    )


@dataclass(frozen=True)
class Detections:
    """Detections in tile-local pixel space: tile index into the dataset, class name, score."""

    tile: np.ndarray
    geoms: np.ndarray
    classes: np.ndarray
    scores: np.ndarray
    kind: np.ndarray
    skipped: Dict[str, int]

    def __len__(self) -> int:
        return int(self.tile.shape[0])


def _polygons_from_rings(rings: List[np.ndarray], owner: List[int], n: int) -> np.ndarray:
    """One (Multi)Polygon per owner from flat exterior rings, built and repaired in bulk."""
    out = np.full(n, None, dtype=object)
    if not rings:
        return out
    counts = np.array([r.shape[0] for r in rings])
    coords = np.vstack(rings)
    ring_idx = np.repeat(np.arange(len(rings)), counts)
    lr = shapely.linearrings(coords, indices=ring_idx)
    polys = shapely.make_valid(shapely.polygons(lr))
    parts = polygonal_parts(polys)
    owner_arr = np.asarray(owner)
    uniq, first_pos, n_rings = np.unique(owner_arr, return_index=True, return_counts=True)
    single = n_rings == 1
    out[uniq[single]] = parts[first_pos[single]]
    for k in uniq[~single].tolist():  # multi-polygon predictions are rare: dissolve each
        members = [g for g in parts[owner_arr == k].tolist() if g is not None]
        out[k] = shapely.union_all(members) if members else None
    return out


def read_coco_results(path: str, index: DatasetIndex, min_score: float) -> Detections:
    """Detections from a COCO results file (list of {image_id, category_id, score,
    segmentation|bbox}) or a COCO dataset dict with ``annotations`` (score 1)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"INPUT '{path}' is not a readable COCO results JSON: {exc}") from exc
    records = doc.get("annotations", []) if isinstance(doc, dict) else doc
    if not isinstance(records, list):
        raise InputError(f"INPUT '{path}' is not a COCO results list.")
    skipped = {"low_score": 0, "unknown_image": 0, "unknown_category": 0, "no_geometry": 0}
    tiles: List[int] = []
    classes: List[str] = []
    scores: List[float] = []
    kinds: List[str] = []
    geoms: List[Any] = []
    rings: List[np.ndarray] = []
    owner: List[int] = []
    for rec in records:  # JSON records arrive one by one; geometry work is done in bulk below
        score = float(rec.get("score", 1.0))
        if score < min_score:
            skipped["low_score"] += 1
            continue
        tile = index.image_ids.get(int(rec.get("image_id", -1)))
        if tile is None:
            skipped["unknown_image"] += 1
            continue
        name = index.category_names.get(int(rec.get("category_id", -1)))
        if name is None:
            skipped["unknown_category"] += 1
            continue
        seg = rec.get("segmentation")
        k = len(tiles)
        geom: Any = None
        kind = POLYGON
        if isinstance(seg, dict):
            geom = mask_to_polygons(decode_rle(seg))
        elif isinstance(seg, list) and seg:
            for flat in seg:
                xy = np.asarray(flat, dtype=float).reshape(-1, 2)
                if xy.shape[0] >= 3:
                    rings.append(np.vstack([xy, xy[:1]]))
                    owner.append(k)
        elif rec.get("bbox"):
            x, y, w, h = (float(v) for v in rec["bbox"])
            geom = shapely.box(x, y, x + w, y + h)
            kind = BOX
        else:
            skipped["no_geometry"] += 1
            continue
        tiles.append(tile)
        classes.append(name)
        scores.append(score)
        kinds.append(kind)
        geoms.append(geom)
    out = np.array(geoms + [None], dtype=object)[:-1]
    from_rings = _polygons_from_rings(rings, owner, len(tiles))
    fill = np.array([g is None for g in out.tolist()], dtype=bool) & np.array(
        [g is not None for g in from_rings.tolist()], dtype=bool
    )
    out[fill] = from_rings[fill]
    return _finish(tiles, out, classes, scores, kinds, skipped)


def _finish(
    tiles: List[int],
    geoms: np.ndarray,
    classes: List[str],
    scores: List[float],
    kinds: List[str],
    skipped: Dict[str, int],
) -> Detections:
    ok = np.array([g is not None for g in geoms.tolist()], dtype=bool)
    if ok.size:
        ok[ok] = ~shapely.is_empty(geoms[ok]) & (shapely.area(geoms[ok]) > 0)
    skipped["no_geometry"] = skipped.get("no_geometry", 0) + int((~ok).sum())
    return Detections(
        tile=np.asarray(tiles, dtype=np.int64)[ok],
        geoms=geoms[ok],
        classes=np.asarray(classes, dtype=object)[ok],
        scores=np.asarray(scores, dtype=float)[ok],
        kind=np.asarray(kinds, dtype=object)[ok],
        skipped=skipped,
    )


def read_yolo_labels(folder: str, index: DatasetIndex, min_score: float) -> Detections:
    """Detections from YOLO txt files named after the tiles (``class cx cy w h [conf]`` or
    ``class x1 y1 ... xn yn [conf]``, normalized), searched recursively under ``folder``."""
    root = Path(folder)
    files = sorted(root.rglob("*.txt")) if root.is_dir() else [root]
    skipped = {"low_score": 0, "unknown_image": 0, "unknown_category": 0, "no_geometry": 0}
    tiles: List[int] = []
    classes: List[str] = []
    scores: List[float] = []
    kinds: List[str] = []
    boxes: List[Tuple[float, float, float, float]] = []
    box_owner: List[int] = []
    rings: List[np.ndarray] = []
    owner: List[int] = []
    for f in files:  # one file per tile; lines parsed as text, geometry built in bulk below
        tile = index.tile_names.get(f.stem)
        lines = [ln.split() for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if tile is None:
            skipped["unknown_image"] += len(lines)
            continue
        w, h = float(index.width[tile]), float(index.height[tile])
        for parts in lines:
            values = [float(v) for v in parts[1:]]
            name = index.yolo_names.get(int(float(parts[0])))
            if name is None:
                skipped["unknown_category"] += 1
                continue
            n = len(values)
            if n in (4, 5):
                score = values[4] if n == 5 else 1.0
                kind = BOX
            elif n >= 6:
                score = values[-1] if n % 2 else 1.0
                kind = POLYGON
            else:
                skipped["no_geometry"] += 1
                continue
            if score < min_score:
                skipped["low_score"] += 1
                continue
            k = len(tiles)
            if kind == BOX:
                cx, cy, bw, bh = values[:4]
                boxes.append(
                    ((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h)
                )
                box_owner.append(k)
            else:
                xy = np.asarray(values[: n - (n % 2)], dtype=float).reshape(-1, 2) * (w, h)
                rings.append(np.vstack([xy, xy[:1]]))
                owner.append(k)
            tiles.append(tile)
            classes.append(name)
            scores.append(score)
            kinds.append(kind)
    geoms = _polygons_from_rings(rings, owner, len(tiles))
    if boxes:
        b = np.asarray(boxes)
        geoms[np.asarray(box_owner)] = shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3])
    return _finish(tiles, geoms, classes, scores, kinds, skipped)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label per node for undirected edges (a, b); min-label propagation."""
    labels = np.arange(n)
    if a.size == 0:
        return labels
    while True:
        low = np.minimum(labels[a], labels[b])
        new = labels.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]  # pointer jumping speeds up long chains
        if np.array_equal(new, labels):
            return labels
        labels = new


@dataclass(frozen=True)
class MergedPredictions:
    """Predictions in the image CRS, one feature per object."""

    geoms: np.ndarray
    classes: np.ndarray
    scores: np.ndarray
    kind: np.ndarray
    merged_from: np.ndarray
    tile_names: Tuple[str, ...]
    crs_wkt: str
    read: int
    skipped: Dict[str, int]

    def __len__(self) -> int:
        return int(self.geoms.shape[0])


def merge_duplicates(
    geoms: np.ndarray,
    classes: np.ndarray,
    tile: np.ndarray,
    footprints: np.ndarray,
    iou_threshold: float,
    edge_tolerance: float = 0.0,
) -> np.ndarray:
    """Group label per detection: detections of one class are grouped when their IoU, measured
    inside the pixels both tiles saw, reaches ``iou_threshold``; across tiles that only touch,
    when they share at least half of their edge on the common border (within
    ``edge_tolerance`` CRS units: normalized YOLO coordinates do not land exactly on it)."""
    n = geoms.shape[0]
    if n < 2:
        return np.arange(n)
    tree = shapely.STRtree(geoms)
    if edge_tolerance > 0:
        a, b = tree.query(geoms, predicate="dwithin", distance=2 * edge_tolerance)
    else:
        a, b = tree.query(geoms, predicate="intersects")
    keep = (a < b) & (classes[a] == classes[b])
    a, b = a[keep], b[keep]
    if a.size == 0:
        return np.arange(n)
    same = tile[a] == tile[b]
    region = shapely.intersection(footprints[tile[a]], footprints[tile[b]])
    region_area = shapely.area(region)
    ga = np.where(same, geoms[a], shapely.intersection(geoms[a], region))
    gb = np.where(same, geoms[b], shapely.intersection(geoms[b], region))
    inter = shapely.area(shapely.intersection(ga, gb))
    union = shapely.area(shapely.union(ga, gb))
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    match = (same | (region_area > 0)) & (iou >= iou_threshold)
    border = ~same & (region_area == 0)
    if border.any():
        line = region[border]
        ga_b, gb_b = geoms[a[border]], geoms[b[border]]
        if edge_tolerance > 0:
            ga_b = shapely.buffer(ga_b, edge_tolerance, quad_segs=1)
            gb_b = shapely.buffer(gb_b, edge_tolerance, quad_segs=1)
        ea = shapely.intersection(ga_b, line)
        eb = shapely.intersection(gb_b, line)
        shared = shapely.length(shapely.intersection(ea, eb))
        shortest = np.minimum(shapely.length(ea), shapely.length(eb))
        match[border] = (shortest > 0) & (shared >= 0.5 * shortest)
    return _components(n, a[match], b[match])


def import_predictions(
    input_path: str,
    dataset: str,
    min_score: float = 0.0,
    iou_threshold: float = 0.5,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
) -> MergedPredictions:
    """Read predictions for the tiles of export folder ``dataset`` and map them to the image
    CRS. ``input_path``: a COCO results ``.json``, or a folder (or one ``.txt`` in it) of YOLO
    label files. Duplicates from overlapping tiles are merged (union of the geometry, highest
    score); box predictions stay boxes (envelope of the union).

    Raises:
        InputError: unreadable input or dataset, or no prediction matches a tile.
    """
    ticker = Ticker(1.0, progress, should_stop)
    index = read_dataset(dataset)
    p = Path(input_path)
    if p.is_file() and p.suffix.lower() == ".json":
        det = read_coco_results(str(p), index, min_score)
    elif p.is_dir() or (p.is_file() and p.suffix.lower() == ".txt"):
        det = read_yolo_labels(str(p if p.is_dir() else p.parent), index, min_score)
    else:
        raise InputError(
            f"INPUT '{input_path}' is neither a COCO results .json nor a folder of YOLO .txt "
            "label files."
        )
    ticker.sub(1, 0.0, 0.4).advance()
    read = len(det) + sum(det.skipped.values())
    if read == 0:
        raise InputError(f"INPUT '{input_path}' holds no predictions.")
    if det.skipped["unknown_image"] == read:
        raise InputError(
            f"None of the predictions in '{input_path}' refers to a tile of DATASET "
            f"'{dataset}' (image ids / file names do not match); was it predicted on this export?"
        )
    image_px = shift_each(det.geoms, index.col_off[det.tile], index.row_off[det.tile])
    world = pixel_to_world(index.geotransform, image_px)
    footprints = pixel_to_world(
        index.geotransform,
        shapely.box(
            index.col_off, index.row_off, index.col_off + index.width, index.row_off + index.height
        ),
    )
    ticker.check()
    gt = index.geotransform
    half_pixel = 0.5 * min(float(np.hypot(gt[1], gt[4])), float(np.hypot(gt[2], gt[5])))
    group = merge_duplicates(world, det.classes, det.tile, footprints, iou_threshold, half_pixel)
    ticker.sub(1, 0.4, 0.8).advance()
    order = np.argsort(group, kind="stable")
    uniq, first_pos, counts = np.unique(group[order], return_index=True, return_counts=True)
    firsts = order[first_pos]
    out = world[firsts].copy()
    scores = np.maximum.reduceat(det.scores[order], first_pos) if len(order) else det.scores
    kind = det.kind[firsts]
    for g, pos, c in zip(uniq.tolist(), first_pos.tolist(), counts.tolist()):
        if c > 1:  # only groups with duplicates need a union
            members = order[pos : pos + c]
            merged = shapely.union_all(world[members])
            k = int(np.searchsorted(uniq, g))
            out[k] = shapely.envelope(merged) if kind[k] == BOX else merged
    ticker.sub(1, 0.8, 1.0).advance()
    return MergedPredictions(
        geoms=out,
        classes=det.classes[firsts],
        scores=np.asarray(scores, dtype=float),
        kind=kind,
        merged_from=counts.astype(np.int64),
        tile_names=tuple(index.names[int(t)] for t in det.tile[firsts]),
        crs_wkt=index.crs_wkt,
        read=read,
        skipped=det.skipped,
    )
