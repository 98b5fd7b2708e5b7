"""Benchmark: labelguard:validatetopology against qgis:checkvalidity on 100k and 1M polygons.

Usage (from the repository root, with the venv):
    PROJ_DATA=/usr/share/proj QT_QPA_PLATFORM=offscreen .venv/bin/python \
        benchmarks/bench_topology.py [--sizes 100000 1000000] [--runs validity,all,qgis] \
        [--repeat 3]

--layout grid (default) is an annotation coverage: a grid of cells whose shared corners and
edge midpoints are jittered (neighbours share vertices exactly, 9 vertices per cell), written
once to benchmarks/data/coverage_<n>.gpkg, with injected defects (per 10 000 cells): 10 bow ties
(invalid), 5 cells whose edge midpoint is pushed into a neighbour (overlap), 5 shrunk cells
(gaps), 5 duplicates, 5 slivers appended along cell edges (sliver + overlap). --layout
scattered is scattered objects (``make_scattered``: rotated rectangles with known truth, the
expected counts printed before the runs); --layout landcover (``make_landcover``: polygons of
200-2,000 vertices with holes), mixed (``make_mixed``: scattered objects over a coverage) and
lines (``make_lines``: a road network with T-junctions, snapped ends and dangles) likewise.
Each variant runs in its own process through processing.run, so the peak RSS is per variant;
each variant runs --repeat times, interleaved, and the table shows the median with all the
runs. The "all" variant checks every rule that applies to the layout (``ALL_RULES``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"


def _grid(n_side: int, rng: np.random.Generator):
    """Corner and edge-midpoint coordinates of a jittered n_side x n_side grid (cell = 10 m)."""
    size = 10.0
    cx = np.arange(n_side + 1) * size
    corners = np.stack(np.meshgrid(cx, cx, indexing="ij"), axis=-1).astype(np.float64)
    corners[1:-1, 1:-1] += rng.uniform(-2.0, 2.0, corners[1:-1, 1:-1].shape)
    # Midpoints of horizontal edges (between (i, j) and (i+1, j)) and vertical edges.
    hmid = 0.5 * (corners[:-1, :, :] + corners[1:, :, :])
    vmid = 0.5 * (corners[:, :-1, :] + corners[:, 1:, :])
    hmid[:, 1:-1, 1] += rng.uniform(-1.0, 1.0, hmid[:, 1:-1, 1].shape)
    vmid[1:-1, :, 0] += rng.uniform(-1.0, 1.0, vmid[1:-1, :, 0].shape)
    return corners, hmid, vmid


def _vary(ring: np.ndarray, rng: np.random.Generator):
    """Polygons from (m, 9, 2) rings with 0-6 extra vertices on each ring's first edge and a
    square hole in every 7th: WKBs of many sizes, some with two rings."""
    from labelguard.core.geos import shapely

    m = len(ring)
    extra = rng.integers(0, 7, m)
    out = np.empty(m, dtype=object)
    for k in range(7):
        idx = np.flatnonzero(extra == k)
        if not idx.size:
            continue
        t = (np.arange(1, k + 1) / (k + 1))[None, :, None]
        a, b = ring[idx, 0:1], ring[idx, 1:2]
        out[idx] = shapely.polygons(
            np.concatenate([ring[idx, :1], a + t * (b - a), ring[idx, 1:]], 1)
        )
    holed = np.arange(0, m, 7)
    c = ring[holed, :8].mean(axis=1)
    hole = np.stack([c + d for d in ([-1, -1], [-1, 1], [1, 1], [1, -1], [-1, -1])], axis=1)
    shells = shapely.get_exterior_ring(out[holed])
    out[holed] = shapely.polygons(shells, holes=shapely.linearrings(hole)[:, None])
    return out


def make_coverage(n: int, path: Path, seed: int = 42, layout: str = "grid") -> dict:
    """Writes the benchmark GeoPackage; returns the injected defect counts. ``layout="varied"``
    gives the cells 9-15 vertices and every 7th a hole (validity timings only: the extra
    vertices are not shared with the neighbours, so the pair rules find slivers of overlap)."""
    from labelguard.core.geos import shapely

    rng = np.random.default_rng(seed)
    n_side = int(round(n**0.5))
    corners, hmid, vmid = _grid(n_side, rng)
    i, j = np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij")
    i, j = i.ravel(), j.ravel()
    # Ring (counter-clockwise): c(i,j), h(i,j), c(i+1,j), v(i+1,j), c(i+1,j+1), h(i,j+1),
    # c(i,j+1), v(i,j), back to c(i,j).
    ring = np.stack(
        [
            corners[i, j],
            hmid[i, j],
            corners[i + 1, j],
            vmid[i + 1, j],
            corners[i + 1, j + 1],
            hmid[i, j + 1],
            corners[i, j + 1],
            vmid[i, j],
            corners[i, j],
        ],
        axis=1,
    )
    m = len(i)
    per = max(1, m // 10000)
    pick = rng.permutation(m)
    bow = pick[: 10 * per]
    ovl = pick[10 * per : 15 * per]
    gap = pick[15 * per : 20 * per]
    dup = pick[20 * per : 25 * per]
    sliv = pick[25 * per : 30 * per]
    ring[bow, 2], ring[bow, 6] = ring[bow, 6].copy(), ring[bow, 2].copy()  # bow tie
    ring[ovl, 3, 0] += 3.0  # push the right midpoint into the right neighbour
    centre = ring[gap, :8].mean(axis=1, keepdims=True)
    ring[gap] = centre + 0.9 * (ring[gap] - centre)
    polys = shapely.polygons(ring) if layout == "grid" else _vary(ring, rng)
    extra = [polys[dup]]
    c = ring[sliv, 0]
    slivers = shapely.box(c[:, 0], c[:, 1], c[:, 0] + 6.0, c[:, 1] + 0.05)
    extra.append(slivers)
    allp = np.concatenate([polys] + extra)
    _write_gpkg(path, shapely.to_wkb(allp))
    return {
        "features": int(len(allp)),
        "bow_ties": int(len(bow)),
        "pushed": int(len(ovl)),
        "shrunk": int(len(gap)),
        "duplicates": int(len(dup)),
        "slivers": int(len(sliv)),
    }


def make_scattered(n: int, path: Path, seed: int = 42) -> dict:
    """Writes a scattered-objects GeoPackage (buildings, trees, cars: the usual ML label layer)
    and returns the injected defects with the expected counts per rule.

    One rotated rectangle of 6-15 m per 30 m cell, its centre jittered by up to 8 m, so a few
    overlap their neighbours (counted exactly here with GEOS). Injected per 10 000 objects: 10
    bow ties (invalid), 5 duplicates, 5 slivers (0.1 x 8 m, alone in their cell) and 5
    courtyards (the object replaced by four touching bars around an empty square: one gap).
    """
    from labelguard.core.geos import shapely

    rng = np.random.default_rng(seed)
    n_side = int(round(n**0.5))
    m = n_side * n_side
    i, j = np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij")
    cx = i.ravel() * 30.0 + 15.0 + rng.uniform(-8.0, 8.0, m)
    cy = j.ravel() * 30.0 + 15.0 + rng.uniform(-8.0, 8.0, m)
    hl, hw = rng.uniform(3.0, 7.5, m), rng.uniform(3.0, 7.5, m)
    ang = rng.uniform(0.0, np.pi, m)
    unit = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)], dtype=np.float64)
    lx, ly = unit[None, :, 0] * hl[:, None], unit[None, :, 1] * hw[:, None]
    c, s_ = np.cos(ang)[:, None], np.sin(ang)[:, None]
    ring = np.stack([cx[:, None] + lx * c - ly * s_, cy[:, None] + lx * s_ + ly * c], axis=-1)
    per = max(1, m // 10000)
    pick = rng.permutation(m)
    bow, dup = pick[: 10 * per], pick[10 * per : 15 * per]
    sliv, court = pick[15 * per : 20 * per], pick[20 * per : 25 * per]
    ring[bow, 1], ring[bow, 2] = ring[bow, 2].copy(), ring[bow, 1].copy()  # bow tie
    polys = shapely.polygons(ring)
    ox, oy = i.ravel() * 30.0, j.ravel() * 30.0  # cell origins
    polys[sliv] = shapely.box(ox[sliv] + 11, oy[sliv] + 15, ox[sliv] + 19, oy[sliv] + 15.1)
    x, y = ox[court] + 7.0, oy[court] + 7.0  # a 16 m block around a 6 m courtyard
    bars = np.stack(
        [
            shapely.box(x, y, x + 16, y + 5),
            shapely.box(x, y + 11, x + 16, y + 16),
            shapely.box(x, y + 5, x + 5, y + 11),
            shapely.box(x + 11, y + 5, x + 16, y + 11),
        ],
        axis=1,
    )
    polys[court] = bars[:, 0]
    allp = np.concatenate([polys, polys[dup], bars[:, 1:].ravel()])
    # The truth, with GEOS: overlapping pairs of valid polygons that are not copies.
    valid = shapely.is_valid(allp)
    vp = allp[valid]
    a, b = shapely.STRtree(vp).query(vp, predicate="intersects")
    a, b = a[a < b], b[a < b]
    hit = shapely.area(shapely.intersection(vp[a], vp[b])) > 0
    a, b = a[hit], b[hit]
    overlaps = int((~shapely.equals(vp[a], vp[b])).sum())
    _write_gpkg(path, shapely.to_wkb(allp))
    return {
        "features": int(len(allp)),
        "invalid": int((~valid).sum()),
        "overlap": overlaps,
        "duplicate": int(len(dup)),
        "sliver": int(len(sliv)),
        "min_area": int(len(sliv)),
        "gap": int(len(court)),
    }


def make_landcover(n: int, path: Path, seed: int = 42) -> dict:
    """Writes a many-vertex land cover GeoPackage and returns its injected defects and truth.

    A coverage of 100 m cells whose shared edges are wiggly lines of 50-500 vertices each
    (both neighbours hold the same vertices), so polygons have 200-2,000 vertices; every 10th
    cell has a lake (a hole, valid). Injected per 1,000 cells: 2 cells whose lake crosses the
    cell boundary (invalid) and 2 duplicated cells. The truth is counted with GEOS here.
    """
    from labelguard.core.geos import shapely

    rng = np.random.default_rng(seed)
    n_side = max(2, int(round(n**0.5)))
    size = 100.0

    def edge(x0, y0, x1, y1, k, sign):
        t = np.linspace(0.0, 1.0, k)
        wig = np.sin(t * np.pi * rng.integers(1, 6)) * rng.uniform(0.5, 3.0) * (t * (1 - t) > 0)
        px, py = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        # perpendicular wiggle: horizontal edges move in y, vertical ones in x
        if y0 == y1:
            py = py + sign * wig
        else:
            px = px + sign * wig
        return np.stack([px, py], axis=1)

    h_edges = {}
    v_edges = {}
    for i in range(n_side):
        for j in range(n_side + 1):
            k = int(rng.integers(50, 501))
            h_edges[i, j] = edge(i * size, j * size, (i + 1) * size, j * size, k, 1.0)
    for i in range(n_side + 1):
        for j in range(n_side):
            k = int(rng.integers(50, 501))
            v_edges[i, j] = edge(i * size, j * size, i * size, (j + 1) * size, k, 1.0)
    polys = []
    for i in range(n_side):  # a loop over cells: building test data, not checked code
        for j in range(n_side):
            ring = np.concatenate(
                [
                    h_edges[i, j][:-1],
                    v_edges[i + 1, j][:-1],
                    h_edges[i, j + 1][::-1][:-1],
                    v_edges[i, j][::-1],
                ]
            )
            polys.append(ring)
    m = len(polys)
    per = max(1, m // 1000)
    pick = rng.permutation(m)
    bad, dup = set(pick[: 2 * per].tolist()), pick[2 * per : 4 * per]
    out = np.empty(m, dtype=object)
    for k, ring in enumerate(polys):
        i, j = divmod(k, n_side)
        holes = None
        if k in bad:  # a lake across the lower-left corner: outside the shell
            x, y = i * size, j * size
            holes = [[(x - 5, y - 5), (x + 20, y - 5), (x + 20, y + 20), (x - 5, y + 20)]]
        elif k % 10 == 0:
            x, y = i * size + 40, j * size + 40
            holes = [[(x, y), (x + 20, y), (x + 20, y + 20), (x, y + 20)]]
        out[k] = shapely.Polygon(ring, holes)
    allp = np.concatenate([out, out[dup]])
    _write_gpkg(path, shapely.to_wkb(allp))
    nv = shapely.get_num_coordinates(allp)
    return {
        "features": int(len(allp)),
        "vertices": f"{int(nv.min())}-{int(nv.max())}",
        "invalid": int((~shapely.is_valid(allp)).sum()),
        "duplicate": int(len(dup)),
    }


def make_mixed(n: int, path: Path, seed: int = 42) -> dict:
    """Scattered objects over a coverage: half the features a grid coverage (``make_coverage``
    cells, clean), half scattered rectangles lying on it, as when buildings are labelled on
    top of land cover. Every object overlaps or lies inside the cells under it; the truth
    (invalid, overlapping pairs, contained pairs) is counted with GEOS here."""
    from labelguard.core.geos import shapely

    half = n // 2
    cov = DATA / f"_mixed_cov_{n}.gpkg"
    sca = DATA / f"_mixed_sca_{n}.gpkg"
    make_coverage(half, cov, seed)
    make_scattered(half, sca, seed)
    parts = []
    for p in (cov, sca):
        from osgeo import ogr

        ds = ogr.Open(str(p))
        parts.append(
            np.array(
                [shapely.from_wkb(bytes(f.GetGeometryRef().ExportToWkb())) for f in ds.GetLayer()],
                dtype=object,
            )
        )
        ds = None
        p.unlink()
    allp = np.concatenate(parts)
    valid = shapely.is_valid(allp)
    vp = allp[valid]
    a, b = shapely.STRtree(vp).query(vp, predicate="intersects")
    a, b = a[a < b], b[a < b]
    inter = shapely.area(shapely.intersection(vp[a], vp[b]))
    hit = inter > 0
    a, b = a[hit], b[hit]
    same = shapely.equals(vp[a], vp[b])
    inside = shapely.covers(vp[a], vp[b]) | shapely.covers(vp[b], vp[a])
    _write_gpkg(path, shapely.to_wkb(allp))
    return {
        "features": int(len(allp)),
        "invalid": int((~valid).sum()),
        "overlapping_pairs": int((~same).sum()),
        "contained_pairs": int((inside & ~same).sum()),
    }


def make_lines(n: int, path: Path, seed: int = 42) -> dict:
    """A road network of ``n`` lines and its truth: street segments of a 50 m grid, each from
    junction to junction (ends shared exactly, no dangles), and side streets ending on the
    middle of a segment (T-junctions, ends snapped in floating point: not dangles). Injected per
    10,000 lines: 10 segments cut short at one end (one dangle each), 5 loops that run back along
    themselves (self_crossing at 2 points each) and 5 segments with a repeated vertex
    (duplicate_vertex). The dead ends of the side streets are dangles too.
    """
    from labelguard.core.geos import shapely

    rng = np.random.default_rng(seed)
    n_side = max(2, int(round((n / 2.5) ** 0.5)))  # 2 n_side² segments, the rest side streets
    size = 50.0
    # Segments of a closed grid: horizontal ones on n_side + 1 rows, vertical ones likewise.
    hi, hj = np.meshgrid(np.arange(n_side), np.arange(n_side + 1), indexing="ij")
    hi, hj = hi.ravel() * size, hj.ravel() * size
    vi, vj = np.meshgrid(np.arange(n_side + 1), np.arange(n_side), indexing="ij")
    vi, vj = vi.ravel() * size, vj.ravel() * size
    h = np.stack([np.stack([hi, hj], 1), np.stack([hi + size, hj], 1)], 1)
    v = np.stack([np.stack([vi, vj], 1), np.stack([vi, vj + size], 1)], 1)
    segs = np.concatenate([h, v])
    m_side = max(1, n - len(segs))
    # Side streets: from the middle of a horizontal segment (a point computed on the line, so
    # ~1e-14 off it in floating point) up a third of the cell; their far end is a dead end.
    side = rng.permutation(len(h))[:m_side]
    t = rng.uniform(0.2, 0.8, len(side))
    a0, a1 = h[side, 0], h[side, 1]
    start = a0 + t[:, None] * (a1 - a0)
    sides = np.stack([start, start + np.array([0.0, 0.37 * size])], 1)
    lines = list(shapely.linestrings(np.concatenate([segs, sides])))
    m = len(lines)
    per = max(1, m // 10000)
    # Defects on vertical segments only, which carry no side street.
    pick = len(h) + rng.permutation(len(v))
    short, loops, dups = pick[: 10 * per], pick[10 * per : 15 * per], pick[15 * per : 20 * per]
    for k in short:  # cut short at its end: one dangle (its start stays on the junction)
        p0, p1 = segs[k]
        lines[k] = shapely.linestrings([p0, p0 + 0.8 * (p1 - p0)])
    for k in loops:  # a loop that crosses itself in the middle of the segment
        p0, p1 = segs[k]
        d = (p1 - p0) / size
        q = np.array([-d[1], d[0]])
        mid = p0 + 0.5 * (p1 - p0)
        pts = [p0, mid + 5 * d, mid + 5 * d + 5 * q, mid - 5 * d + 5 * q, mid - 5 * d, p1]
        lines[k] = shapely.linestrings(pts)
    for k in dups:
        p0, p1 = segs[k]
        lines[k] = shapely.linestrings([p0, 0.5 * (p0 + p1), 0.5 * (p0 + p1), p1])
    arr = np.array(lines, dtype=object)
    _write_gpkg(path, shapely.to_wkb(arr), kind="line")
    return {
        "features": int(m),
        "dangle": int(len(short) + len(sides)),
        "self_crossing": int(2 * len(loops)),
        "duplicate_vertex": int(len(dups)),
    }


def _write_gpkg(path: Path, wkb: np.ndarray, kind: str = "polygon") -> None:
    """A GeoPackage layer "labels" (EPSG:3857, a class field, no spatial index) of ``wkb``."""
    from osgeo import ogr, osr

    if path.exists():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(3857)
    gtype = ogr.wkbLineString if kind == "line" else ogr.wkbUnknown
    lyr = ds.CreateLayer("labels", srs, gtype, ["SPATIAL_INDEX=NO"])
    lyr.CreateField(ogr.FieldDefn("cls", ogr.OFTInteger))
    defn = lyr.GetLayerDefn()
    lyr.StartTransaction()
    for k, blob in enumerate(wkb):
        feat = ogr.Feature(defn)
        feat.SetField(0, int(k % 5))
        feat.SetGeometryDirectly(ogr.CreateGeometryFromWkb(blob))
        lyr.CreateFeature(feat)
    lyr.CommitTransaction()
    ds = None


# The rules of the "all" variant per layout (indices into RULES): every rule that applies.
ALL_RULES = {
    "grid": [0, 1, 2, 4, 5, 6, 7],
    "varied": [0, 1, 2, 4, 5, 6, 7],
    "scattered": [0, 1, 2, 4, 5, 6, 7],
    "landcover": [0, 1, 2, 4, 5, 6, 7, 16],
    "mixed": [0, 1, 2, 4, 5, 6, 7, 16],
    "lines": [0, 1, 2, 9, 12, 13, 14],
}


def _rules_child(path: str, layout: str) -> None:
    """Times each rule of ``ALL_RULES[layout]`` alone through core (the layer read once), one
    JSON line per rule: what each rule costs, parse and validity test included."""
    sys.path.insert(0, str(ROOT / "tests"))
    import conftest  # noqa: F401
    from labelguard.core.topology import RULES, check_topology_batches
    from labelguard.gdalio.topology_inputs import read_layer

    inp = read_layer(path, "labels")
    for rule in [RULES[k] for k in ALL_RULES[layout]]:
        t0 = time.perf_counter()
        result = check_topology_batches(inp.batches, [rule], total=inp.count, min_area=1.0)
        dt = time.perf_counter() - t0
        print("RULE " + json.dumps({"rule": rule, "seconds": dt, "findings": result.counts}))


def _per_rule(sizes: list, layout: str, paths: dict) -> None:
    """The per-rule table: seconds at each size and the growth from the first to the last."""
    times: dict = {}
    for n in sizes:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        out = subprocess.run(
            [sys.executable, __file__, "--rules-child", str(paths[n]), layout],
            env=env,
            capture_output=True,
            text=True,
        )
        for line in out.stdout.splitlines():
            if line.startswith("RULE "):
                row = json.loads(line[5:])
                times.setdefault(row["rule"], {})[n] = row["seconds"]
                print(f"  {n}: {row['rule']} {row['seconds']:.2f} s {row['findings']}", flush=True)
        if out.returncode:
            print(out.stderr[-3000:])
    lo, hi = sizes[0], sizes[-1]
    print()
    print(f"Per rule, alone, through core ({layout}); growth = time at {hi} / time at {lo}")
    print(f"(x{hi / lo:.0f} features; the same factor is linear).")
    print(f"| {'rule':<16} | " + " | ".join(f"{n:>9}" for n in sizes) + " | growth |")
    print(f"|{'-' * 18}|" + "|".join("-" * 11 for _ in sizes) + "|--------|")
    for rule, row in times.items():
        cells = " | ".join(f"{row.get(n, float('nan')):>7.2f} s" for n in sizes)
        growth = row[hi] / row[lo] if lo in row and hi in row and row[lo] > 0 else float("nan")
        print(f"| {rule:<16} | {cells} | {growth:>5.1f}x |")


def _child(variant: str, path: str, layout: str = "grid") -> None:
    """Runs one variant in this process and prints a JSON line with time and peak RSS."""
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback

    app = QgsApplication([], False)
    app.initQgis()
    sys.path.insert(0, "/usr/share/qgis/python/plugins")
    import processing
    from processing.core.Processing import Processing

    Processing.initialize()
    sys.path.insert(0, str(ROOT / "tests"))
    import conftest  # noqa: F401  (registers the checkout as package labelguard)
    from labelguard.processing_provider.provider import LabelGuardProvider
    from labelguard.processing_provider.validate_topology import ValidateTopologyAlgorithm

    registry = QgsApplication.processingRegistry()
    provider = LabelGuardProvider()
    registry.addProvider(provider)
    if registry.algorithmById("labelguard:validatetopology") is None:
        provider.addAlgorithm(ValidateTopologyAlgorithm())
    uri = f"{path}|layername=labels"
    context = QgsProcessingContext()
    feedback = QgsProcessingFeedback()
    if variant == "qgis":
        params = {"INPUT_LAYER": uri, "METHOD": 2}
        alg = "qgis:checkvalidity"
    else:
        rules = [0] if variant == "validity" else ALL_RULES[layout]
        params = {
            "INPUT": uri,
            "RULES": rules,
            "MIN_AREA": 1.0,
            "OUTPUT": "TEMPORARY_OUTPUT",
            "OUTPUT_POINTS": "TEMPORARY_OUTPUT",
        }
        alg = "labelguard:validatetopology"
    profile = os.environ.get("LABELGUARD_PROFILE")  # a file for cProfile stats of the run
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    res = processing.run(alg, params, context=context, feedback=feedback)
    dt = time.perf_counter() - t0
    if profile:
        profiler.disable()
        profiler.dump_stats(profile)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    counts = {k: v for k, v in res.items() if isinstance(v, (int, float))}
    print(
        "RESULT "
        + json.dumps({"variant": variant, "seconds": dt, "peak_rss_mb": rss, "counts": counts})
    )
    app.exitQgis()


# Long on purpose: argument parsing, then one loop over layouts and sizes in the order the
# table prints them (each run in a fresh process); splitting it would only move the loop.
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    ap.add_argument("--runs", default="all,validity,qgis")
    ap.add_argument(
        "--layout",
        choices=("grid", "varied", "scattered", "landcover", "mixed", "lines"),
        default="grid",
        help="grid: 9-vertex cells; varied: 9-15 vertices, some holes (for validity timings); "
        "scattered: rotated rectangles, one per 30 m cell, a few overlapping; landcover: a "
        "coverage of 200-2,000-vertex polygons, some with holes; mixed: scattered objects over "
        "a coverage; lines: a road network with T-junctions, snapped ends and dangles",
    )
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs per variant (fresh process each); median"
    )
    ap.add_argument(
        "--per-rule",
        action="store_true",
        help="time each rule alone through core at every size, and its growth with n",
    )
    ap.add_argument("--child", nargs=3, metavar=("VARIANT", "PATH", "LAYOUT"))
    ap.add_argument("--rules-child", nargs=2, metavar=("PATH", "LAYOUT"))
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    if args.rules_child:
        _rules_child(*args.rules_child)
        return
    sys.path.insert(0, str(ROOT / "tests"))
    import conftest  # noqa: F401

    rows = []
    paths: dict = {}
    for n in args.sizes:
        path = (
            DATA
            / {
                "grid": f"coverage_{n}.gpkg",
                "varied": f"coverage_varied_{n}.gpkg",
                "scattered": f"scattered_{n}.gpkg",
                "landcover": f"landcover_{n}.gpkg",
                "mixed": f"mixed_{n}.gpkg",
                "lines": f"lines_{n}.gpkg",
            }[args.layout]
        )
        meta_path = path.with_suffix(".json")
        if not path.exists() or not meta_path.exists():
            t0 = time.perf_counter()
            makers = {"scattered": make_scattered, "landcover": make_landcover}
            makers.update(mixed=make_mixed, lines=make_lines)
            if args.layout in makers:
                meta = makers[args.layout](n, path)
            else:
                meta = make_coverage(n, path, layout=args.layout)
            meta_path.write_text(json.dumps(meta))
            print(f"generated {path} in {time.perf_counter() - t0:.1f} s: {meta}", flush=True)
        meta = json.loads(meta_path.read_text())
        print(f"  {n}: {args.layout}, expected {meta}", flush=True)
        paths[n] = path
        if args.per_rule:
            continue
        variants = args.runs.split(",")
        runs: dict = {v: [] for v in variants}
        for _ in range(max(1, args.repeat)):  # interleaved, so drift hits every variant alike
            for variant in variants:
                res = _run_child(variant, path, args.layout)
                if res is None:
                    continue
                runs[variant].append(res)
                print(
                    f"  {n}: {variant} {res['seconds']:.2f} s {res['peak_rss_mb']:.0f} MB "
                    f"{res['counts']}",
                    flush=True,
                )
        for variant in variants:
            if runs[variant]:
                times = sorted(r["seconds"] for r in runs[variant])
                res = dict(runs[variant][0], seconds=float(np.median(times)), times=times)
                res["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs[variant])
                rows.append((meta["features"], res))
    if args.per_rule:
        _per_rule(args.sizes, args.layout, paths)
        return
    names = {
        "all": "LabelGuard all rules",
        "validity": "LabelGuard validity only",
        "qgis": "qgis:checkvalidity (GEOS)",
    }
    qgis = {f: r["seconds"] for f, r in rows if r["variant"] == "qgis"}
    print()
    print("Median of the runs; 'vs QGIS' = qgis:checkvalidity time / this time (higher is faster).")
    print(
        f"| {'features':>9} | {'variant':<28} | {'time (s)':>8} | {'runs (s)':<18} "
        f"| {'vs QGIS':>7} | {'peak RSS (MB)':>13} |"
    )
    print(f"|{'-' * 11}|{'-' * 30}|{'-' * 10}|{'-' * 20}|{'-' * 9}|{'-' * 15}|")
    for feats, res in rows:
        ratio = f"{qgis[feats] / res['seconds']:.1f}x" if feats in qgis else "-"
        spread = ", ".join(f"{t:.2f}" for t in res["times"])
        print(
            f"| {feats:>9} | {names.get(res['variant'], res['variant']):<28} | "
            f"{res['seconds']:>8.2f} | {spread:<18} | {ratio:>7} | {res['peak_rss_mb']:>13.0f} |"
        )


def _run_child(variant: str, path: Path, layout: str):
    """One variant in a fresh process: its RESULT dict, or None (output printed) on failure."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, __file__, "--child", variant, str(path), layout],
        env=env,
        capture_output=True,
        text=True,
    )
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if not line:  # exitQgis may crash on the way out; the RESULT line is what counts
        print(out.stdout[-2000:], out.stderr[-4000:])
        return None
    return json.loads(line[-1][7:])


if __name__ == "__main__":
    main()
