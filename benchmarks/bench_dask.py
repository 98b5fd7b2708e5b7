"""Benchmark: the labelguard command line in one process against a local Dask cluster of 2
workers, on the same files (validate with all rules, and manifest build), time and peak RSS.

Usage (from the repository root, with the venv):
    PROJ_DATA=/usr/share/proj .venv/bin/python benchmarks/bench_dask.py \
        [--sizes 100000 1000000] [--layouts coverage,scattered] [--workers 2]

Layouts: ``coverage`` is bench_topology's jittered grid of 9-vertex cells with its defects
(bow ties, pushed edges, shrunk cells, duplicates, slivers); ``scattered`` is rectangles of
4-20 m scattered over a square of the same density with 0.1 % overlapping pairs, 0.05 %
duplicates and 0.05 % bow ties. Each run is a fresh ``python -m labelguard.cli`` process;
its time includes reading the file and, for Dask, starting the cluster. Peak RSS is the
largest single process (driver or worker). The reports of both runs must be byte-equal.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE))


def make_scattered(n: int, path: Path, seed: int = 7) -> None:
    """Writes ``n`` scattered rectangles with defects to a GeoPackage (EPSG:3857)."""
    from labelguard.core.geos import shapely
    from osgeo import ogr, osr

    rng = np.random.default_rng(seed)
    side = (n * 400.0) ** 0.5  # one object per 400 m2
    xy = rng.uniform(0, side, (n, 2))
    wh = rng.uniform(4, 20, (n, 2))
    polys = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + wh[:, 0], xy[:, 1] + wh[:, 1])
    k = max(1, n // 1000)
    over = shapely.box(xy[:k, 0] + 2, xy[:k, 1] + 2, xy[:k, 0] + 8, xy[:k, 1] + 8)
    dups = polys[k : k + k // 2]
    x, y = xy[-k // 2 :, 0], xy[-k // 2 :, 1]
    bows = shapely.polygons(
        np.stack([[x, y], [x + 5, y + 5], [x + 5, y], [x, y + 5], [x, y]], axis=0).transpose(
            2, 0, 1
        )
    )
    allp = np.concatenate([polys[: n - k // 2], bows, over, dups])
    _write(path, shapely.to_wkb(allp), ogr, osr)


def _write(path: Path, wkb, ogr, osr) -> None:
    if path.exists():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(3857)
    lyr = ds.CreateLayer("labels", srs, ogr.wkbPolygon, ["SPATIAL_INDEX=NO"])
    lyr.CreateField(ogr.FieldDefn("cls", ogr.OFTInteger))
    defn = lyr.GetLayerDefn()
    lyr.StartTransaction()
    for i, blob in enumerate(wkb):
        feat = ogr.Feature(defn)
        feat.SetField(0, i % 5)
        feat.SetGeometryDirectly(ogr.CreateGeometryFromWkb(blob))
        lyr.CreateFeature(feat)
    lyr.CommitTransaction()
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
    args = parser.parse_args()
    from bench_topology import make_coverage

    pkg = Path(tempfile.mkdtemp(prefix="lg-bench-"))
    (pkg / "labelguard").symlink_to(ROOT, target_is_directory=True)
    env = dict(os.environ, PYTHONPATH=str(pkg))
    sys.path.insert(0, str(pkg))  # the data generators import labelguard too
    rows = []
    for layout in args.layouts.split(","):
        for n in args.sizes:
            path = DATA / f"{layout}_{n}.gpkg"
            if not path.exists():  # written under another name first: no half file is reused
                part = path.with_suffix(".part.gpkg")
                (make_coverage if layout == "coverage" else make_scattered)(n, part)
                part.rename(path)
            out = Path(tempfile.mkdtemp(prefix="lg-bench-out-"))
            one = _cli(["validate", path, "--report", out / "one.json"], env)
            many = _cli(
                ["validate", path, "--report", out / "many.json", "--workers", args.workers], env
            )
            same = (out / "one.json").read_bytes() == (out / "many.json").read_bytes()
            h1 = _cli(
                ["manifest", "build", path, "--output", DATA / "m1.json", "--dataset-root", DATA],
                env,
            )
            h2 = _cli(
                [
                    "manifest",
                    "build",
                    path,
                    "--output",
                    DATA / "m2.json",
                    "--dataset-root",
                    DATA,
                    "--workers",
                    args.workers,
                ],
                env,
            )
            rows.append((layout, n, one, many, same, h1, h2))
            _table(rows, args.workers)


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


if __name__ == "__main__":
    main()
