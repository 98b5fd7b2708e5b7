"""Benchmark: reading a label layer for the topology check, WKB against what GeoArrow could save.

Usage (from the repository root, with the venv; in a chroot, see tools/matrix.sh run):
    PROJ_DATA=/usr/share/proj .venv/bin/python benchmarks/bench_read.py \
        [--sizes 100000 1000000] [--layouts scattered coverage] [--repeat 3] [--data DIR]

For each layout (``make_scattered`` / ``make_coverage`` of bench_topology.py, written once to
DIR, default benchmarks/data) and size, each run in a fresh process measures:

- read: ``gdalio.topology_inputs.read_layer`` (OGR's Arrow stream, WKB packed in WkbArrays);
- decode: ``core.wkb.decode`` of every batch (WKB to shapely geometries: the parse step);
- build: ``shapely.from_ragged_array`` of the same geometries' coordinates and offsets, the
  only parse cost left if the stream gave GeoArrow coordinates (the arrays are prepared
  untimed with ``shapely.to_ragged_array``);
- what the stream gives when asked for GeoArrow (``stream_geometry_encoding``).

"saved at best" = decode - build (the median of each run's difference): the part of
read+parse that GeoArrow coordinates could take away, if GDAL built them as fast as it builds
WKB. Load averages (1 min) are printed with every run: the machine is shared, so compare runs
taken at similar load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _child(path: str) -> None:
    """One run in this process; prints a RESULT line of JSON."""
    sys.path.insert(0, str(ROOT / "tests"))
    import conftest  # noqa: F401  (registers the checkout as package labelguard)
    from labelguard.core.geos import shapely
    from labelguard.core.wkb import decode
    from labelguard.gdalio.topology_inputs import read_layer
    from labelguard.gdalio.vector import open_vector, stream_geometry_encoding

    load0 = os.getloadavg()[0]
    ds, lyr = open_vector(path)
    encoding = stream_geometry_encoding(lyr)
    del lyr, ds
    t0 = time.perf_counter()
    inp = read_layer(path)
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    parsed = [decode(wkb) for _, wkb in inp.batches]
    t_decode = time.perf_counter() - t0
    ragged = []
    for geoms in parsed:  # untimed: the arrays a GeoArrow stream would hand over
        present = geoms[~shapely.is_missing(geoms)]
        ragged.append(shapely.to_ragged_array(present))
    t0 = time.perf_counter()
    built = [shapely.from_ragged_array(kind, coords, offsets) for kind, coords, offsets in ragged]
    t_build = time.perf_counter() - t0
    n = sum(len(g) for g in parsed)
    assert sum(len(b) for b in built) == n - sum(int(shapely.is_missing(g).sum()) for g in parsed)
    result = {
        "features": n,
        "read": t_read,
        "decode": t_decode,
        "build": t_build,
        "encoding": encoding.name,
        "reason": encoding.reason,
        "load_before": load0,
        "load_after": os.getloadavg()[0],
    }
    print("RESULT " + json.dumps(result), flush=True)


def _ensure(layout: str, n: int, data: Path) -> Path:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT / "tests"))
    import conftest  # noqa: F401
    from bench_topology import make_coverage, make_scattered
    from osgeo import gdal

    path = data / f"{layout}_{n}.gpkg"  # the names bench_topology.py gives them
    if not path.exists():
        t0 = time.perf_counter()
        maker = make_scattered if layout == "scattered" else make_coverage
        meta = maker(n, path)
        path.with_suffix(".json").write_text(json.dumps(meta))
        print(f"generated {path} in {time.perf_counter() - t0:.1f} s", flush=True)
    # bench_topology writes layers of type Unknown, for which no GeoArrow is asked; every
    # geometry of these two layouts is a Polygon, so a Polygon layer holds the same WKB.
    typed = data / f"{layout}_{n}_polygon.gpkg"
    if not typed.exists():
        gdal.UseExceptions()
        gdal.VectorTranslate(
            str(typed), str(path), geometryType="POLYGON", layerCreationOptions=["SPATIAL_INDEX=NO"]
        )
    return typed


def _load() -> str:
    """As uptime prints it (a minimal chroot has no uptime; its /proc is the host's)."""
    return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _run(path: Path) -> dict | None:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path)], capture_output=True, text=True
    )
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if not line:
        print(out.stdout, out.stderr, sep="\n", file=sys.stderr)
        return None
    return json.loads(line[-1][len("RESULT ") :])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    ap.add_argument("--layouts", nargs="*", default=["scattered", "coverage"])
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per case; median")
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--child", metavar="PATH")
    args = ap.parse_args()
    if args.child:
        _child(args.child)
        return
    from osgeo import gdal

    print(f"GDAL {gdal.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"{time.strftime('%H:%M:%S')} {_load()} at start", flush=True)
    rows = []
    for layout in args.layouts:
        for n in args.sizes:
            path = _ensure(layout, n, args.data)
            runs = []
            for _ in range(max(1, args.repeat)):
                res = _run(path)
                if res is not None:
                    runs.append(res)
                    print(
                        f"  {layout} {n}: read {res['read']:.2f} s, decode {res['decode']:.2f} s,"
                        f" build {res['build']:.2f} s, load {res['load_before']:.2f}"
                        f"->{res['load_after']:.2f}",
                        flush=True,
                    )
            if runs:
                rows.append((layout, runs))
    print(f"{time.strftime('%H:%M:%S')} {_load()} at end")
    print("Median of the runs (s). saved at best = decode - build (see the module docstring).")
    head = (
        f"| {'layout':<9} | {'features':>9} | {'read':>6} | {'decode':>6} | {'read+parse':>10} "
        f"| {'build':>6} | {'saved at best':>13} | {'load 1 min':>10} | stream asked for GeoArrow |"
    )
    print(head)
    print("|" + "|".join("-" * (len(c) + 0) for c in head.split("|")[1:-1]) + "|")
    for layout, runs in rows:
        med = {k: float(np.median([r[k] for r in runs])) for k in ("read", "decode", "build")}
        total = float(np.median([r["read"] + r["decode"] for r in runs]))
        saved = float(np.median([r["decode"] - r["build"] for r in runs]))  # per run: same load
        loads = [r["load_before"] for r in runs] + [r["load_after"] for r in runs]
        print(
            f"| {layout:<9} | {runs[0]['features']:>9} | {med['read']:>6.2f} "
            f"| {med['decode']:>6.2f} | {total:>10.2f} | {med['build']:>6.2f} "
            f"| {saved:>5.2f} ({100 * saved / total:>3.0f} %) "
            f"| {min(loads):.1f}-{max(loads):.1f}{'':>3} | {runs[0]['reason']} |"
        )


if __name__ == "__main__":
    main()
