"""Benchmark: diffversions without an ID field (geometry matching) on 1M vs 1M features.

Usage (from the repository root, with the venv):
    PROJ_DATA=/usr/share/proj .venv/bin/python benchmarks/bench_diff.py \
        [--sizes 100000 1000000] [--repeat 3] [--naive 20000]

Two layouts, as annotation layers come: ``scattered`` (9-vertex polygons of 2-6 m at random
places, a few overlapping) and ``coverage`` (a grid of 9-vertex cells sharing their edges, so
every cell touches eight others). Two edits of each: ``edited`` (the head is re-saved in
shuffled order with new fids; 5 % moved by a fifth of their size, 2 %
reshaped, 2 % reclassified, 1 % deleted, 1 % new) and ``all moved`` (every geometry moved a
little, so every feature goes through the IoU stage). The head and base feature indexes are
written as buildmanifest writes them (format 3); the timed run reads both as diffversions does
(``read_feature_columns``, side by side) and diffs them, in a process
of its own per repeat, interleaved; the table shows the median with all runs. The
straightforward way (a Python loop: one STRtree query and one intersection per pair) runs on
``--naive`` base features of the same data in the same process, scaled to the full size.
A last run cancels after one second and reports how long the cancel took to land.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
sys.path.insert(0, str(ROOT.parent))


def _alias():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "labelguard", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["labelguard"] = module
    spec.loader.exec_module(module)


def _polygons(centres: np.ndarray, radii: np.ndarray, rng: np.random.Generator):
    from labelguard.core.geos import shapely

    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)  # 8 distinct + closing = 9 vertices
    wobble = rng.uniform(0.8, 1.2, (len(centres), 8))
    r = radii[:, None] * wobble
    xy = np.stack([np.cos(angles) * r, np.sin(angles) * r], axis=-1) + centres[:, None, :]
    xy = np.concatenate([xy, xy[:, :1]], axis=1)
    return shapely.polygons(xy)


def _coverage(n: int, rng: np.random.Generator):
    from labelguard.core.geos import shapely

    side = int(np.ceil(np.sqrt(n)))
    i, j = np.divmod(np.arange(n), side)
    x0, y0 = i * 10.0, j * 10.0
    # 9 vertices: corners and edge midpoints, shared exactly with the neighbours
    xs = np.array([0, 5, 10, 10, 10, 5, 0, 0, 0], float)
    ys = np.array([0, 0, 0, 5, 10, 10, 10, 5, 0], float)
    xy = np.stack([x0[:, None] + xs, y0[:, None] + ys], axis=-1)
    return shapely.polygons(xy)


def _layer(layout: str, n: int, rng: np.random.Generator):
    if layout == "coverage":
        return _coverage(n, rng), 10.0
    side = np.sqrt(n) * 20.0
    centres = rng.uniform(0, side, (n, 2))
    return _polygons(centres, rng.uniform(1.0, 3.0, n), rng), 4.0


def _rows(geoms, classes, ids, fids):
    from labelguard.core.content import vector_content
    from labelguard.core.geos import shapely
    from labelguard.gdalio.vector import VectorBatch

    step = 65536
    batches = (
        VectorBatch(
            fids[k : k + step],
            shapely.to_wkb(geoms[k : k + step]),
            {"class": classes[k : k + step].tolist()},
        )
        for k in range(0, len(geoms), step)
    )
    return vector_content(batches).index


def make_data(layout: str, edit: str, n: int) -> Path:
    """Base and head feature indexes (as buildmanifest writes them) under benchmarks/data/."""
    from labelguard.core.content import write_feature_index
    from labelguard.core.geos import shapely

    target = DATA / f"diff_{layout}_{edit.replace(' ', '_')}_{n}"
    if (target / "head.idx.gz").is_file():
        return target
    rng = np.random.default_rng(13)
    geoms, size = _layer(layout, n, rng)
    classes = rng.choice(np.array(["building", "tree", "road", "water"]), n)
    base = _rows(geoms, classes, np.arange(n), np.arange(1, n + 1))
    head_g, head_c = geoms.copy(), classes.copy()
    truth = {"moved": 0, "reshaped": 0, "reclassified": 0, "deleted": 0, "new": 0}
    keep = np.ones(n, bool)
    if edit == "all moved":
        head_g = shapely.transform(geoms, lambda c: c + size * 0.05)
        truth["moved"] = n
        extra_g, extra_c = head_g[:0], head_c[:0]
    else:
        pick = rng.permutation(n)
        a, b, c, d = (int(n * f) for f in (0.05, 0.07, 0.09, 0.10))
        head_g[pick[:a]] = shapely.transform(geoms[pick[:a]], lambda xy: xy + size * 0.2)
        cent = shapely.centroid(geoms[pick[a:b]])
        head_g[pick[a:b]] = [
            shapely.affinity.scale(g, 1.15, 1.0, origin=o) for g, o in zip(geoms[pick[a:b]], cent)
        ]
        head_c[pick[b:c]] = "shrub"
        keep[pick[c:d]] = False
        truth.update(moved=a, reshaped=b - a, reclassified=c - b, deleted=d - c)
        m = d - c
        far = rng.uniform(0, np.sqrt(n) * 20.0, (m, 2)) + np.sqrt(n) * 40.0
        extra_g = _polygons(far, rng.uniform(1.0, 3.0, m), rng)
        extra_c = rng.choice(np.array(["building", "tree"]), m)
        truth["new"] = m
    hg = np.concatenate([head_g[keep], extra_g])
    hc = np.concatenate([head_c[keep], extra_c])
    order = rng.permutation(len(hg))  # re-saved in shuffled order: new fids
    head = _rows(hg[order], hc[order], np.arange(len(hg)), np.arange(1, len(hg) + 1))
    target.mkdir(parents=True, exist_ok=True)
    (target / "base.idx.gz").write_bytes(write_feature_index(base))
    (target / "head.idx.gz").write_bytes(write_feature_index(head))
    (target / "truth.json").write_text(json.dumps(truth))
    return target


def run_once(folder: Path) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from labelguard.core.content import read_feature_columns
    from labelguard.core.diff import diff_features

    def read(name: str):
        return read_feature_columns((folder / name).read_bytes())

    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:  # side by side, as core.diff.index_columns_both reads
        base, head = pool.map(read, ["base.idx.gz", "head.idx.gz"])
    t1 = time.perf_counter()
    marks = []
    result = diff_features(base, head, stable_fid=True, progress=lambda f: marks.append(f))
    t2 = time.perf_counter()
    rss = _peak_mb()
    return {
        "read": t1 - t0,
        "diff": t2 - t1,
        "total": t2 - t0,
        "counts": result.counts(),
        "matching": result.matching,
        "progress_calls": len(marks),
        "rss_mb": rss,
    }


def naive(folder: Path, limit: int) -> dict:
    """The straightforward way on ``limit`` base features: one query and intersection each."""
    from labelguard.core.content import read_feature_index
    from labelguard.core.geos import shapely

    base = read_feature_index((folder / "base.idx.gz").read_bytes(), with_geometry=True)
    head = read_feature_index((folder / "head.idx.gz").read_bytes(), with_geometry=True)
    hg = shapely.from_wkb(np.array([r[4] for r in head], dtype=object))
    tree = shapely.STRtree(hg)
    used = set()
    t0 = time.perf_counter()
    matched = 0
    for row in base[:limit]:
        g = shapely.from_wkb(row[4])
        best, best_iou = None, 0.5
        for j in tree.query(g).tolist():
            h = hg[j]
            inter = g.intersection(h).area
            iou = inter / (g.area + h.area - inter)
            if iou >= best_iou and j not in used:
                best, best_iou = j, iou
        if best is not None:
            used.add(best)
            matched += 1
    elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "scaled": elapsed * len(base) / limit, "matched": matched}


def cancel_latency(folder: Path) -> float:
    from labelguard.core.content import read_feature_columns
    from labelguard.core.diff import diff_features
    from labelguard.core.errors import Cancelled

    base = read_feature_columns((folder / "base.idx.gz").read_bytes())
    head = read_feature_columns((folder / "head.idx.gz").read_bytes())
    start = time.perf_counter()
    try:
        diff_features(base, head, should_stop=lambda: time.perf_counter() - start > 1.0)
    except Cancelled:
        return time.perf_counter() - start - 1.0
    return float("nan")


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(args) -> None:
    _alias()
    folder = Path(args.child) if args.child else None
    if args.what == "diff":
        out = run_once(folder)
    elif args.what == "naive":
        out = naive(folder, args.naive)
    elif args.what == "cancel":
        out = {"latency": cancel_latency(folder)}
    else:
        make_data(args.layout, args.edit, args.n)
        out = {}
    print("RESULT " + json.dumps(out))


def _spawn(*extra: str) -> dict:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, __file__, *extra], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode:
        raise SystemExit(proc.stderr)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--naive", type=int, default=20000)
    ap.add_argument("--layouts", nargs="+", default=["scattered", "coverage"])
    ap.add_argument("--edits", nargs="+", default=["edited", "all moved"])
    ap.add_argument("--child")
    ap.add_argument("--what", default="diff")
    ap.add_argument("--layout")
    ap.add_argument("--edit")
    ap.add_argument("--n", type=int)
    args = ap.parse_args()
    if args.child or args.what == "make":
        _child(args)
        return
    cases = [(lay, ed, n) for n in args.sizes for lay in args.layouts for ed in args.edits]
    folders = {}
    for lay, ed, n in cases:
        print(f"preparing {lay} / {ed} / {n} ...", flush=True)
        _spawn("--what", "make", "--layout", lay, "--edit", ed, "--n", str(n))
        folders[(lay, ed, n)] = DATA / f"diff_{lay}_{ed.replace(' ', '_')}_{n}"
    runs = {c: [] for c in cases}
    for _ in range(args.repeat):  # interleaved: the machine's load hits every case alike
        for c in cases:
            runs[c].append(_spawn("--child", str(folders[c]), "--what", "diff"))
    print()
    header = (
        f"{'layout':10} {'edit':10} {'n':>8} {'read s':>7} {'diff s':>7} {'total s':>8} "
        f"{'all totals':>18} {'peak MB':>8} {'naive s (scaled)':>17}  counts"
    )
    print(header)
    print("-" * len(header))
    for c in cases:
        lay, ed, n = c
        rs = runs[c]
        med = {k: statistics.median(r[k] for r in rs) for k in ("read", "diff", "total", "rss_mb")}
        nv = _spawn("--child", str(folders[c]), "--what", "naive", "--naive", str(args.naive))
        totals = ",".join(f"{r['total']:.1f}" for r in rs)
        counts = rs[0]["counts"]
        print(
            f"{lay:10} {ed:10} {n:>8} {med['read']:>7.1f} {med['diff']:>7.1f} "
            f"{med['total']:>8.1f} {totals:>18} {med['rss_mb']:>8.0f} {nv['scaled']:>17.0f}  "
            + " ".join(f"{k}={v}" for k, v in counts.items() if v)
            + f" ({rs[0]['matching']}; truth {(folders[c] / 'truth.json').read_text()})"
        )
    c = cases[-1]
    lat = _spawn("--child", str(folders[c]), "--what", "cancel")["latency"]
    print(f"\ncancel requested 1 s into {c[0]} / {c[1]} / {c[2]}: raised {lat:.2f} s later")


if __name__ == "__main__":
    main()
