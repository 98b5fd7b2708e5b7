"""Benchmark: merging predictions from overlapping tiles (importpredictions' merge stage).

Prints time and peak traced memory of LabelGuard's merge (pairs only across overlapping tiles,
per shared strip; greedy by score; border joins) next to the straightforward way it replaced
(every intersecting pair of the image, IoU for all, connected components, union per group) on
the same data in the same run, repeats interleaved, medians reported. Shapes users' data takes:
  one_tile  - n mutually overlapping boxes in one tile (a model run at confidence 0.01)
  scattered - n objects spread over a 4096 px image, each seen by every tile covering it
The straightforward way is run only up to ``--baseline-max`` detections: it is quadratic in
mutually overlapping boxes (1,000 took 25 s and 8,000 reached 13.6 GB in issue 16).

Run: PROJ_DATA=/usr/share/proj .venv/bin/python benchmarks/bench_predictions.py
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TILE, STRIDE = 512, 448


def _alias() -> None:
    if "labelguard" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "labelguard", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
        )
        sys.modules["labelguard"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


def _grid(size):
    from labelguard.core.geos import shapely

    offs = list(range(0, size - TILE + 1, STRIDE))
    if offs[-1] + TILE < size:
        offs.append(size - TILE)
    xy = np.array([(x, y) for y in offs for x in offs], dtype=float)
    return shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + TILE, xy[:, 1] + TILE), xy


def one_tile(n, rng):
    from labelguard.core.geos import shapely

    footprints, _xy = _grid(2048)
    xy = rng.uniform(100, 300, (n, 2))
    wh = rng.uniform(80, 160, (n, 2))
    geoms = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + wh[:, 0], xy[:, 1] + wh[:, 1])
    return geoms, np.zeros(n, dtype=object), np.zeros(n, dtype=np.int64), footprints


def scattered(n, rng):
    """Objects of 20-60 px; each detection is the object clipped to a tile that sees it."""
    from labelguard.core.geos import shapely

    footprints, _xy = _grid(4096)
    c = rng.uniform(30, 4066, (n, 2))
    r = rng.uniform(10, 30, n)
    objects = shapely.buffer(shapely.points(c), r, quad_segs=4)
    obj, tile = shapely.STRtree(footprints).query(objects, predicate="intersects")
    geoms = shapely.intersection(objects[obj], footprints[tile])
    classes = (obj % 3).astype(object)
    return geoms, classes, tile.astype(np.int64), footprints


def straightforward(geoms, classes, tile, footprints, iou_threshold=0.5):
    """The previous merge: all intersecting pairs, IoU inside the shared pixels, components."""
    from labelguard.core.geos import shapely

    n = geoms.shape[0]
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = (a < b) & (classes[a] == classes[b])
    a, b = a[keep], b[keep]
    same = tile[a] == tile[b]
    region = shapely.intersection(footprints[tile[a]], footprints[tile[b]])
    ga = np.where(same, geoms[a], shapely.intersection(geoms[a], region))
    gb = np.where(same, geoms[b], shapely.intersection(geoms[b], region))
    inter = shapely.area(shapely.intersection(ga, gb))
    union = shapely.area(shapely.union(ga, gb))
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    match = iou >= iou_threshold
    labels = np.arange(n)
    a, b = a[match], b[match]
    while a.size:
        low = np.minimum(labels[a], labels[b])
        new = labels.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]
        if np.array_equal(new, labels):
            break
        labels = new
    for g in np.unique(labels).tolist():  # one union per merged group, as before
        members = np.flatnonzero(labels == g)
        if members.size > 1:
            shapely.union_all(geoms[members])
    return labels


def labelguard(geoms, classes, tile, footprints):
    from labelguard.core.training.predictions import merge_duplicates

    scores = np.linspace(1.0, 0.5, geoms.shape[0])
    return merge_duplicates(geoms, classes, tile, footprints, 0.5, 0.0, scores)


def _measure(func, data):
    tracemalloc.start()
    t0 = time.perf_counter()
    groups = func(*data)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak / 2**20, int(np.unique(groups).size)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-max", type=int, default=1000)
    parser.add_argument("--sizes", default="250,500,1000,2000,4000,8000")
    args = parser.parse_args()
    _alias()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'shape':10} {'n':>6} {'way':16} {'median s':>9} {'peak MiB':>9} {'objects':>8}")
    for shape in (one_tile, scattered):
        for n in sizes:
            data = shape(n, np.random.default_rng(n))
            ways = [("labelguard", labelguard)]
            if n <= args.baseline_max:
                ways.append(("straightforward", straightforward))
            runs = {name: [] for name, _ in ways}
            for _ in range(args.repeats):  # interleaved: both ways see the same machine load
                for name, func in ways:
                    runs[name].append(_measure(func, data))
            for name, rows in runs.items():
                secs = statistics.median(r[0] for r in rows)
                peak = statistics.median(r[1] for r in rows)
                print(
                    f"{shape.__name__:10} {len(data[0]):>6} {name:16} {secs:9.3f} "
                    f"{peak:9.1f} {rows[0][2]:>8}"
                )


if __name__ == "__main__":
    main()
