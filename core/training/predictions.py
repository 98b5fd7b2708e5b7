"""Model predictions (COCO results, YOLO txt) back to georeferenced geometries in the image CRS."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

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
    problems: Tuple[str, ...] = ()  # the first bad rows, described

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


SKIP = "skip"
REFUSE = "refuse"
BAD_ROW_MODES = (SKIP, REFUSE)  # the BAD_ROWS parameter's order
SHOWN_PROBLEMS = 5  # bad rows described in the summary
SKIP_KEYS = ("low_score", "unknown_image", "unknown_category", "no_geometry", "malformed")


class BadRow(ValueError):
    """One prediction row that cannot be read; the message says what is wrong with it."""


class _Rows:
    """Skip counts and the first problems of one input; refuses at the first bad row in
    "refuse" mode."""

    def __init__(self, path: str, bad_rows: str) -> None:
        if bad_rows not in BAD_ROW_MODES:
            raise InputError(f"BAD_ROWS {bad_rows!r} is unknown; use one of {BAD_ROW_MODES}.")
        self.path = path
        self.refuse = bad_rows == REFUSE
        self.skipped = {k: 0 for k in SKIP_KEYS}
        self.problems: List[str] = []

    def bad(self, where: str, reason: str, key: str = "malformed") -> None:
        text = f"{where}: {reason}"
        if self.refuse:
            raise InputError(
                f"INPUT '{self.path}' {text}. Fix the predictions, or set BAD_ROWS to skip and "
                "count bad rows."
            )
        self.skipped[key] += 1
        if len(self.problems) < SHOWN_PROBLEMS:
            self.problems.append(text)


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRow(f"{what} {value!r} is not an integer")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise BadRow(f"{what} {value!r} is not an integer")
    return int(value)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRow(f"{what} {value!r} is not a number")
    if not math.isfinite(value):
        raise BadRow(f"{what} {value!r} is not finite")
    return float(value)


def _coordinates(values: Any, what: str, w: float, h: float) -> np.ndarray:
    """Finite pixel coordinates (x, y) within one tile size of the tile: bigger ones are
    garbage that would overflow the map transform."""
    try:
        xy = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise BadRow(f"{what} holds values that are not numbers") from exc
    if xy.ndim != 1 or xy.size % 2:
        raise BadRow(f"{what} needs an even count of numbers, not {xy.size}")
    xy = xy.reshape(-1, 2)
    if not np.isfinite(xy).all():
        raise BadRow(f"{what} holds NaN or infinite coordinates")
    if (np.abs(xy - (w / 2, h / 2)) > (1.5 * w, 1.5 * h)).any():
        raise BadRow(f"{what} has coordinates far outside the {w:g} x {h:g} px tile")
    return xy


def _coco_geometry(rec: Dict[str, Any], w: float, h: float) -> Tuple[str, Any, List[np.ndarray]]:
    """(kind, geometry or None, exterior rings) of one COCO record."""
    seg = rec.get("segmentation")
    if isinstance(seg, dict):
        try:
            mask = decode_rle(seg)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadRow(f"segmentation RLE cannot be decoded ({exc})") from exc
        if mask.shape != (int(h), int(w)):
            raise BadRow(f"segmentation RLE size {list(mask.shape)} is not the tile's")
        return POLYGON, mask_to_polygons(mask), []
    if isinstance(seg, list) and seg:
        rings = []
        for flat in seg:
            xy = _coordinates(flat, "segmentation", w, h)
            if xy.shape[0] >= 3:
                rings.append(np.vstack([xy, xy[:1]]))
        return POLYGON, None, rings
    bbox = rec.get("bbox")
    if bbox is None or bbox == []:
        raise BadRow("it has neither segmentation nor bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise BadRow(f"bbox {bbox!r} is not [x, y, width, height]")
    x, y, bw, bh = _coordinates(bbox, "bbox", w, h).ravel().tolist()
    if bw < 0 or bh < 0:
        raise BadRow(f"bbox {bbox!r} has a negative width or height")
    return BOX, shapely.box(x, y, x + bw, y + bh), []


def read_coco_results(
    path: str, index: DatasetIndex, min_score: float, bad_rows: str = SKIP
) -> Detections:
    """Detections from a COCO results file (list of {image_id, category_id, score,
    segmentation|bbox}) or a COCO dataset dict with ``annotations`` (score 1). Rows that
    cannot be read are skipped and counted as ``malformed`` (``bad_rows="skip"``) or refused.

    Raises:
        InputError: unreadable file, or (refuse) the first bad row, named by its position.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"INPUT '{path}' is not a readable COCO results JSON: {exc}") from exc
    records = doc.get("annotations", []) if isinstance(doc, dict) else doc
    if not isinstance(records, list):
        raise InputError(f"INPUT '{path}' is not a COCO results list.")
    rows = _Rows(path, bad_rows)
    tiles: List[int] = []
    classes: List[str] = []
    scores: List[float] = []
    kinds: List[str] = []
    geoms: List[Any] = []
    rings: List[np.ndarray] = []
    owner: List[int] = []
    for n, rec in enumerate(records, start=1):  # JSON records arrive one by one
        where = f"record {n}"
        try:
            if not isinstance(rec, dict):
                raise BadRow("it is not a JSON object")
            score = _number(rec.get("score", 1.0), "score")
            image_id = _integer(rec.get("image_id"), "image_id")
            category_id = _integer(rec.get("category_id"), "category_id")
            tile = index.image_ids.get(image_id)
            if tile is None:
                rows.bad(where, f"image_id {image_id} is not a tile of DATASET", "unknown_image")
                continue
            name = index.category_names.get(category_id)
            if name is None:
                rows.bad(where, f"category_id {category_id} is not in DATASET", "unknown_category")
                continue
            kind, geom, rec_rings = _coco_geometry(
                rec, float(index.width[tile]), float(index.height[tile])
            )
        except BadRow as exc:
            rows.bad(where, str(exc))
            continue
        if score < min_score:
            rows.skipped["low_score"] += 1
            continue
        k = len(tiles)
        rings.extend(rec_rings)
        owner.extend([k] * len(rec_rings))
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
    return _finish(tiles, out, classes, scores, kinds, rows)


def _finish(
    tiles: List[int],
    geoms: np.ndarray,
    classes: List[str],
    scores: List[float],
    kinds: List[str],
    rows: _Rows,
) -> Detections:
    ok = np.array([g is not None for g in geoms.tolist()], dtype=bool)
    if ok.size:
        ok[ok] = ~shapely.is_empty(geoms[ok]) & (shapely.area(geoms[ok]) > 0)
    rows.skipped["no_geometry"] += int((~ok).sum())
    return Detections(
        tile=np.asarray(tiles, dtype=np.int64)[ok],
        geoms=geoms[ok],
        classes=np.asarray(classes, dtype=object)[ok],
        scores=np.asarray(scores, dtype=float)[ok],
        kind=np.asarray(kinds, dtype=object)[ok],
        skipped=rows.skipped,
        problems=tuple(rows.problems),
    )


def _yolo_values(parts: List[str]) -> Tuple[int, List[float]]:
    try:
        cls = _integer(float(parts[0]), "class")
        values = [float(v) for v in parts[1:]]
    except ValueError as exc:
        raise BadRow(f"holds text that is not a number ({exc})") from exc
    if not all(math.isfinite(v) for v in values):
        raise BadRow("holds NaN or infinite values")
    if any(abs(v) > 10 for v in values):
        raise BadRow("has values far outside the normalized 0-1 range")
    return cls, values


def read_yolo_labels(
    folder: str, index: DatasetIndex, min_score: float, bad_rows: str = SKIP
) -> Detections:
    """Detections from YOLO txt files named after the tiles (``class cx cy w h [conf]`` or
    ``class x1 y1 ... xn yn [conf]``, normalized), searched recursively under ``folder``.
    Lines that cannot be read are skipped and counted as ``malformed`` or refused."""
    root = Path(folder)
    files = sorted(root.rglob("*.txt")) if root.is_dir() else [root]
    rows = _Rows(folder, bad_rows)
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
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            rows.bad(f.name, "is not UTF-8 text")
            continue
        lines = [(i, ln.split()) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
        if tile is None:
            for i, _parts in lines:
                rows.bad(f"{f.name}:{i}", "the file name is not a tile of DATASET", "unknown_image")
            continue
        w, h = float(index.width[tile]), float(index.height[tile])
        for i, parts in lines:
            where = f"{f.name}:{i}"
            try:
                cls, values = _yolo_values(parts)
                n = len(values)
                if n in (4, 5):
                    score = values[4] if n == 5 else 1.0
                    kind = BOX
                elif n >= 6:
                    score = values[-1] if n % 2 else 1.0
                    kind = POLYGON
                else:
                    raise BadRow(f"has {n} numbers after the class; a box needs 4 (+ conf)")
            except BadRow as exc:
                rows.bad(where, str(exc))
                continue
            name = index.yolo_names.get(cls)
            if name is None:
                rows.bad(where, f"class {cls} is not in DATASET", "unknown_category")
                continue
            if score < min_score:
                rows.skipped["low_score"] += 1
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
    return _finish(tiles, geoms, classes, scores, kinds, rows)


def _tile_pairs(footprints: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s, t, shared region) for every pair of distinct tiles that overlap or touch, s < t."""
    s, t = shapely.STRtree(footprints).query(footprints, predicate="intersects")
    keep = s < t
    s, t = s[keep], t[keep]
    return s, t, shapely.intersection(footprints[s], footprints[t])


def _near(
    tree: Any, tile: np.ndarray, region: Any, tiles: Tuple[int, int], distance: float
) -> Tuple[np.ndarray, np.ndarray]:
    """Detections of each of the two ``tiles`` that reach ``region`` (within ``distance``)."""
    if distance > 0:
        hit = tree.query(region, predicate="dwithin", distance=distance)
    else:
        hit = tree.query(region, predicate="intersects")
    hit = np.sort(hit)
    return hit[tile[hit] == tiles[0]], hit[tile[hit] == tiles[1]]


def _pairs_between(
    geoms: np.ndarray, classes: np.ndarray, a: np.ndarray, b: np.ndarray, distance: float
) -> Tuple[np.ndarray, np.ndarray]:
    """Same-class (i, j) with i from ``a``, j from ``b`` whose shapes meet (within
    ``distance``)."""
    if a.size == 0 or b.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    tree = shapely.STRtree(geoms[b])
    if distance > 0:
        ia, ib = tree.query(geoms[a], predicate="dwithin", distance=distance)
    else:
        ia, ib = tree.query(geoms[a], predicate="intersects")
    i, j = a[ia], b[ib]
    same = classes[i] == classes[j]
    return i[same], j[same]


def _duplicate_edges(
    geoms: np.ndarray,
    classes: np.ndarray,
    tile: np.ndarray,
    pairs: Tuple[np.ndarray, np.ndarray, np.ndarray],
    iou_threshold: float,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, IoU) of same-class detections from two overlapping tiles whose IoU inside the
    pixels both tiles saw reaches ``iou_threshold``. Work and memory follow the detections in
    each shared strip, never all pairs of the image: detections of one tile are never paired."""
    tree = shapely.STRtree(geoms)
    out_i: List[np.ndarray] = []
    out_j: List[np.ndarray] = []
    out_iou: List[np.ndarray] = []
    for s, t, region in zip(*pairs):  # neighbouring tiles: about 8 per tile
        if shapely.area(region) <= 0:
            continue
        a, b = _near(tree, tile, region, (int(s), int(t)), 0.0)
        i, j = _pairs_between(geoms, classes, a, b, 0.0)
        if i.size == 0:
            continue
        ga = shapely.intersection(geoms[i], region)
        gb = shapely.intersection(geoms[j], region)
        inter = shapely.area(shapely.intersection(ga, gb))
        union = shapely.area(shapely.union(ga, gb))
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        match = iou >= iou_threshold
        out_i.append(i[match])
        out_j.append(j[match])
        out_iou.append(iou[match])
    if not out_i:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_iou)


def _agree(
    geoms: np.ndarray,
    tile: np.ndarray,
    footprints: np.ndarray,
    iou_threshold: float,
    x: int,
    y: int,
) -> bool:
    """Whether detections ``x`` and ``y`` (other tiles) can be one object: their tiles share
    no pixels, or neither shape reaches the shared pixels, or their IoU there reaches
    ``iou_threshold``. False only when one tile saw the pixels and disagrees."""
    region = shapely.intersection(footprints[tile[x]], footprints[tile[y]])
    if shapely.area(region) <= 0:
        return True
    gx = shapely.intersection(geoms[x], region)
    gy = shapely.intersection(geoms[y], region)
    union = shapely.area(shapely.union(gx, gy))
    if union <= 0:
        return True
    return bool(shapely.area(shapely.intersection(gx, gy)) / union >= iou_threshold)


def _suppress(
    n: int,
    tile: np.ndarray,
    scores: np.ndarray,
    edges: Tuple[np.ndarray, np.ndarray, np.ndarray],
    agree: Callable[[int, int], bool],
) -> np.ndarray:
    """Keeper per detection: in order of score, each detection not yet taken keeps its shape
    and grows an object from the matches of its members, best IoU first, at most one
    detection per tile. A match joins only if it agrees (``agree``) with every member: at a
    corner of four tiles the pieces in two diagonal tiles may share no pixel of the object
    and are joined through a third tile; a detection that a member's tile contradicts is
    not (no chains)."""
    keeper = np.full(n, -1, dtype=np.int64)
    i, j, iou = edges
    a = np.concatenate([i, j])
    b = np.concatenate([j, i])
    w = np.concatenate([iou, iou])
    order = np.lexsort((-w, a))
    a, b = a[order], b[order]
    starts = np.searchsorted(a, np.arange(n), side="left")
    ends = np.searchsorted(a, np.arange(n), side="right")
    for d in np.lexsort((np.arange(n), -scores)).tolist():  # greedy: one visit per detection
        if keeper[d] >= 0:
            continue
        keeper[d] = d
        members = [d]
        seen = {int(tile[d])}
        for g in members:  # grows while it is walked: an object has a few tiles, 4 at a corner
            for m in b[starts[g] : ends[g]].tolist():
                if keeper[m] >= 0 or int(tile[m]) in seen:
                    continue
                if all(agree(m, x) for x in members if x != g):
                    keeper[m] = d
                    seen.add(int(tile[m]))
                    members.append(m)
    return keeper


def _border_links(
    geoms: np.ndarray,
    classes: np.ndarray,
    tile: np.ndarray,
    pairs: Tuple[np.ndarray, np.ndarray, np.ndarray],
    edge_tolerance: float,
) -> List[Tuple[float, int, int]]:
    """(-shared length, i, j) for same-class shapes on tiles that only touch which share at
    least half of their edge on the common border (within ``edge_tolerance`` CRS units):
    the pieces of one object cut by the border."""
    tree = shapely.STRtree(geoms)
    dist = 2 * edge_tolerance
    links: List[Tuple[float, int, int]] = []
    for s, t, line in zip(*pairs):  # neighbouring tiles: about 8 per tile
        if shapely.area(line) > 0:
            continue
        a, b = _near(tree, tile, line, (int(s), int(t)), dist)
        i, j = _pairs_between(geoms, classes, a, b, dist)
        if i.size == 0:
            continue
        ga, gb = geoms[i], geoms[j]
        if edge_tolerance > 0:
            ga = shapely.buffer(ga, edge_tolerance, quad_segs=1)
            gb = shapely.buffer(gb, edge_tolerance, quad_segs=1)
        ea = shapely.intersection(ga, line)
        eb = shapely.intersection(gb, line)
        shared = shapely.length(shapely.intersection(ea, eb))
        shortest = np.minimum(shapely.length(ea), shapely.length(eb))
        ok = (shortest > 0) & (shared >= 0.5 * shortest)
        links += zip((-shared[ok]).tolist(), i[ok].tolist(), j[ok].tolist())
    return links


def _groups(n: int, tile: np.ndarray, keeper: np.ndarray, links: List[Tuple[float, int, int]]):
    """Group label per detection: each with its keeper, then border links, longest shared edge
    first, skipping any link that would put two detections of one tile in a group."""
    parent = list(range(n))
    tiles: Dict[int, set] = {}

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(x: int, y: int) -> None:
        rx, ry = root(x), root(y)
        if rx == ry:
            return
        tx = tiles.get(rx, {int(tile[rx])})
        ty = tiles.get(ry, {int(tile[ry])})
        if tx & ty:
            return
        parent[ry] = rx
        tiles[rx] = tx | ty
        tiles.pop(ry, None)

    for d, k in enumerate(keeper.tolist()):  # one step per detection
        if k != d:
            join(k, d)
    for _neg, x, y in sorted(links):  # border links: a few per object crossing a border
        join(x, y)
    return np.array([root(x) for x in range(n)], dtype=np.int64)


def merge_duplicates(
    geoms: np.ndarray,
    classes: np.ndarray,
    tile: np.ndarray,
    footprints: np.ndarray,
    iou_threshold: float,
    edge_tolerance: float = 0.0,
    scores: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Group label per detection (image CRS): one group per object, never two detections of
    one tile.

    Duplicates are the same object seen by overlapping tiles: same class, different tiles,
    IoU inside the pixels both tiles saw at least ``iou_threshold``; the best-scoring one takes
    its matches and theirs while no member's tile contradicts them (no chains, see
    :func:`_suppress`). Pieces of an object cut by the
    border of tiles that only touch are grouped too (:func:`_border_links`)."""
    n = geoms.shape[0]
    scores = np.ones(n) if scores is None else np.asarray(scores, dtype=float)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    pairs = _tile_pairs(footprints)
    edges = _duplicate_edges(geoms, classes, tile, pairs, iou_threshold)

    def agree(x: int, y: int) -> bool:
        return _agree(geoms, tile, footprints, iou_threshold, x, y)

    keeper = _suppress(n, tile, scores, edges, agree)
    return _groups(n, tile, keeper, _border_links(geoms, classes, tile, pairs, edge_tolerance))


def _object_shape(geoms: np.ndarray, tile_footprints: np.ndarray, box: bool) -> Any:
    """One object from its detections, best score first: the best shape where its tile saw
    the object, each next one only where no better tile saw it; boxes stay boxes."""
    shape = geoms[0]
    seen = tile_footprints[0]
    for g, fp in zip(geoms[1:].tolist(), tile_footprints[1:].tolist()):  # a few tiles
        extra = shapely.difference(g, seen)
        if not shapely.is_empty(extra):
            shape = shapely.union(shape, extra)
        seen = shapely.union(seen, fp)
    return shapely.envelope(shape) if box else shape


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
    problems: Tuple[str, ...] = ()  # the first bad rows, described

    def __len__(self) -> int:
        return int(self.geoms.shape[0])


def import_predictions(
    input_path: str,
    dataset: str,
    min_score: float = 0.0,
    iou_threshold: float = 0.5,
    bad_rows: str = SKIP,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
) -> MergedPredictions:
    """Read predictions for the tiles of export folder ``dataset`` and map them to the image
    CRS. ``input_path``: a COCO results ``.json``, or a folder (or one ``.txt`` in it) of YOLO
    label files. The same object seen by overlapping tiles becomes one feature with the shape
    and score of its best detection; an object cut by the border of touching tiles is joined
    (union; boxes stay boxes). No predictions at all give an empty result.

    Raises:
        InputError: unreadable input or dataset, no prediction matches a tile, or (with
            ``bad_rows="refuse"``) the first row that cannot be read.
    """
    ticker = Ticker(1.0, progress, should_stop)
    index = read_dataset(dataset)
    p = Path(input_path)
    if p.is_file() and p.suffix.lower() == ".json":
        det = read_coco_results(str(p), index, min_score, bad_rows)
    elif p.is_dir() or (p.is_file() and p.suffix.lower() == ".txt"):
        det = read_yolo_labels(str(p if p.is_dir() else p.parent), index, min_score, bad_rows)
    else:
        raise InputError(
            f"INPUT '{input_path}' is neither a COCO results .json nor a folder of YOLO .txt "
            "label files."
        )
    ticker.sub(1, 0.0, 0.4).advance()
    read = len(det) + sum(det.skipped.values())
    if read and det.skipped["unknown_image"] == read:
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
    group = merge_duplicates(
        world, det.classes, det.tile, footprints, iou_threshold, half_pixel, det.scores
    )
    ticker.sub(1, 0.4, 0.8).advance()
    order = np.lexsort((-det.scores, group))  # best score first inside each group
    uniq, first_pos, counts = np.unique(group[order], return_index=True, return_counts=True)
    firsts = order[first_pos]
    out = world[firsts].copy()
    kind = det.kind[firsts]
    for k in np.flatnonzero(counts > 1).tolist():  # only objects seen more than once
        members = order[first_pos[k] : first_pos[k] + counts[k]]
        out[k] = _object_shape(world[members], footprints[det.tile[members]], kind[k] == BOX)
    ticker.sub(1, 0.8, 1.0).advance()
    return MergedPredictions(
        geoms=out,
        classes=det.classes[firsts],
        scores=det.scores[firsts],
        kind=kind,
        merged_from=counts.astype(np.int64),
        tile_names=tuple(index.names[int(t)] for t in det.tile[firsts]),
        crs_wkt=index.crs_wkt,
        read=read,
        skipped=det.skipped,
        problems=det.problems,
    )
