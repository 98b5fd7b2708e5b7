"""Benchmark: the labelguard command line in one process against a local Dask cluster of 2
workers, on the same files (validate, and manifest build), time and peak RSS, and how the
time grows from one size to the next (1M to 10M).

Usage (from the repository root, with the venv):
    PROJ_DATA=/usr/share/proj .venv/bin/python benchmarks/bench_dask.py \
        [--sizes 100000 1000000] [--layouts coverage,scattered] [--workers 2] [--gap]

    # the issue's benchmark: 1M and 10M scattered polygons (about 2.5 GB of GeoPackage at
    # 10M, generated once into benchmarks/data/; run on a quiet machine)
    PROJ_DATA=/usr/share/proj .venv/bin/python benchmarks/bench_dask.py \
        --sizes 1000000 10000000 --layouts scattered --workers 2

Layouts: ``coverage`` is bench_topology's jittered grid of 9-vertex cells with its defects
(bow ties, pushed edges, shrunk cells, duplicates, slivers); ``scattered`` is rectangles of
4-12 m, one at a random place in each 20 m cell (so that only the defects touch), with
0.1 % overlapping pairs, 0.05 % duplicates and 0.05 % bow ties, written in chunks of a
million (so 10M fits in memory) with a spatial index (the workers read their partitions
through it). Each run is a fresh ``python -m labelguard.cli`` process; its time includes
reading the file and, for Dask, starting the cluster. Peak RSS is the largest single process
(driver or worker). The reports of both runs must be byte-equal.

Rules: the validate default rules, except that on ``scattered`` the gap rule is left out
unless ``--gap`` is given: on scattered objects every partition re-checks the layer's
outside with growing halos (docs/scaling.md), which at 10M is hours, not a benchmark.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE))


CHUNK = 1_000_000  # polygons generated and written at a time


def scattered_chunk(n: int, side: float, rng: np.random.Generator, start: int = 0) -> np.ndarray:
    """WKB of ``n`` rectangles scattered over a square of ``side`` metres, one at a random
    place inside each 20 m cell (objects ``start`` to ``start + n`` of the layer, row by row),
    so that only the defects touch: 0.1 % overlapping pairs, 0.05 % duplicates, 0.05 % bow
    ties."""
    from labelguard.core.geos import shapely

    per_row = max(1, int(np.ceil(side / 20.0)))
    cell = start + np.arange(n)
    wh = rng.uniform(4, 12, (n, 2))
    xy = np.stack([(cell % per_row) * 20.0, (cell // per_row) * 20.0], axis=1)
    xy += rng.uniform(0, 1, (n, 2)) * (20.0 - wh)
    polys = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + wh[:, 0], xy[:, 1] + wh[:, 1])
    k = max(2, n // 1000)
    over = shapely.box(xy[:k, 0] + 2, xy[:k, 1] + 2, xy[:k, 0] + 8, xy[:k, 1] + 8)
    dups = polys[k : k + k // 2]
    x, y = xy[-(k // 2) :, 0], xy[-(k // 2) :, 1]
    bows = shapely.polygons(
        np.stack([[x, y], [x + 5, y + 5], [x + 5, y], [x, y + 5], [x, y]], axis=0).transpose(
            2, 0, 1
        )
    )
    # n - 2k polygons + k/2 bow ties + k overlapping + k/2 copies = n
    allp = np.concatenate([polys[: n - 2 * k], bows, over, dups])
    return shapely.to_wkb(allp)


def make_scattered(n: int, path: Path, seed: int = 7) -> None:
    """Writes ``n`` scattered rectangles with defects to a GeoPackage (EPSG:3857), a million
    at a time, with its spatial index (built once at the end by GDAL)."""
    from osgeo import ogr, osr

    rng = np.random.default_rng(seed)
    side = (n * 400.0) ** 0.5  # one object per 400 m2
    if path.exists():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(3857)
    lyr = ds.CreateLayer("labels", srs, ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn("cls", ogr.OFTInteger))
    defn = lyr.GetLayerDefn()
    written = 0
    while written < n:
        m = min(CHUNK, n - written)
        lyr.StartTransaction()
        for blob in scattered_chunk(m, side, rng, written):  # OGR writes one at a time
            feat = ogr.Feature(defn)
            feat.SetField(0, written % 5)
            feat.SetGeometryDirectly(ogr.CreateGeometryFromWkb(blob))
            lyr.CreateFeature(feat)
            written += 1
        lyr.CommitTransaction()
        print(f"  {path.name}: {written:,} of {n:,} polygons written", flush=True)
    ds = None


def _add_spatial_index(path: Path) -> None:
    """The GeoPackage R-tree bench_topology's files go without (workers read through it)."""
    from osgeo import ogr

    ds = ogr.Open(str(path), update=1)
    lyr = ds.GetLayer(0)
    ds.ExecuteSQL(f"SELECT CreateSpatialIndex('{lyr.GetName()}', '{lyr.GetGeometryColumn()}')")
    lyr = None
    ds = None


# Runs the command in a process of its own, so the peak RSS of its descendants is its own.
_MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "t = time.perf_counter() - t\n"
    "print(p.returncode, t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.stderr.write(p.stderr)\n"
)


def _cli(args, env) -> tuple[float, float]:
    """(seconds, peak RSS in MB of the largest process) of one command-line run."""
    cmd = [sys.executable, "-m", "labelguard.cli", "-q", *map(str, args)]
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], env=env, capture_output=True, text=True
    )
    code, seconds, rss = proc.stdout.split()
    if int(code) not in (0, 1):
        raise SystemExit(f"{' '.join(map(str, args))} failed: {proc.stderr.strip()}")
    return float(seconds), int(rss) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100000, 1000000])
    parser.add_argument("--layouts", default="coverage,scattered")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--gap", action="store_true", help="check gaps on scattered layers too (very slow)"
    )
    parser.add_argument(
        "--no-manifest", dest="manifest", action="store_false", help="validate only"
    )
    args = parser.parse_args()
    from bench_topology import make_coverage

    pkg = Path(tempfile.mkdtemp(prefix="lg-bench-"))
    (pkg / "labelguard").symlink_to(ROOT, target_is_directory=True)
    env = dict(os.environ, PYTHONPATH=str(pkg))
    sys.path.insert(0, str(pkg))  # the data generators import labelguard too
    rows = []
    from labelguard.core.topology import DEFAULT_RULES

    for layout in args.layouts.split(","):
        rules = [r for r in DEFAULT_RULES if args.gap or layout != "scattered" or r != "gap"]
        for n in args.sizes:
            # "_indexed": files of earlier versions of this script had no spatial index
            path = DATA / f"{layout}_{n}_indexed.gpkg"
            if not path.exists():  # written under another name first: no half file is reused
                part = path.with_suffix(".part.gpkg")
                if layout == "coverage":
                    make_coverage(n, part)
                    _add_spatial_index(part)
                else:
                    make_scattered(n, part)
                part.rename(path)
            # inside the dataset root: a manifest's root may not be far above it
            out = Path(tempfile.mkdtemp(prefix="lg-bench-out-", dir=DATA))
            validate = ["validate", path, "--rules", ",".join(rules)]
            one = _cli([*validate, "--report", out / "one.json"], env)
            many = _cli([*validate, "--report", out / "many.json", "--workers", args.workers], env)
            same = (out / "one.json").read_bytes() == (out / "many.json").read_bytes()
            h1 = h2 = (float("nan"), float("nan"))
            if args.manifest:
                build = ["manifest", "build", path, "--dataset-root", DATA, "--new-history"]
                h1 = _cli([*build, "--output", out / "m1.json"], env)
                h2 = _cli([*build, "--output", out / "m2.json", "--workers", args.workers], env)
            rows.append((layout, n, one, many, same, h1, h2))
            shutil.rmtree(out)
            _table(rows, args.workers)
    _growth(rows, args.workers)


def _table(rows, workers: int) -> None:
    print(
        f"\n| layout | polygons | validate 1 process | validate {workers} workers | speed-up "
        f"| same report | manifest 1 process | manifest {workers} workers |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    for layout, n, one, many, same, h1, h2 in rows:
        print(
            f"| {layout} | {n:,} | {one[0]:.1f} s, {one[1]:.0f} MB | {many[0]:.1f} s, "
            f"{many[1]:.0f} MB | {one[0] / many[0]:.2f}x | {'yes' if same else 'NO'} "
            f"| {h1[0]:.1f} s | {h2[0]:.1f} s |",
            flush=True,
        )


def _growth(rows, workers: int) -> None:
    """Time ratios from each size to the next of the same layout (10x more polygons: 10x the
    time is linear)."""
    print(f"\n| layout | from | to | validate 1 process | validate {workers} workers |")
    print("|---|---:|---:|---:|---:|")
    for a, b in zip(rows, rows[1:]):
        if a[0] != b[0]:
            continue
        print(
            f"| {a[0]} | {a[1]:,} | {b[1]:,} | {b[2][0] / a[2][0]:.1f}x "
            f"| {b[3][0] / a[3][0]:.1f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
