"""Hashing benchmark: LabelGuard's SHA-256 next to openssl and coreutils, in one table.

Usage: python benchmarks/bench_hashing.py [--quick] [--data DIR] [--repeat N]

Creates its inputs under benchmarks/data/ (gitignored) and reuses them when present:
a 2 GiB file, 5,000 small files (4-64 KiB) and 4 files of 512 MiB. Every measurement runs on a
warm page cache (each input is hashed once, untimed, first), so the numbers compare the hashing
code, not the disk. Runs of the tools being compared are interleaved and the best run counts,
which keeps noise from other processes on a shared machine out of the ratios.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "benchmarks" / "data"
MiB = 1 << 20
GiB = 1 << 30

TARGET_CONTENT_S = 10.0
FULL = {
    "big": 2 * GiB,
    "small_count": 5000,
    "small_min": 4 * 1024,
    "small_max": 64 * 1024,
    "large_count": 4,
    "large": 512 * MiB,
    "features": 1_000_000,
}
QUICK = {
    "big": 256 * MiB,
    "small_count": 1000,
    "small_min": 4 * 1024,
    "small_max": 64 * 1024,
    "large_count": 4,
    "large": 64 * MiB,
    "features": 100_000,
}

TARGET_VS_OPENSSL = 0.95
TARGET_SPEEDUP = 1.7


def _import_hashing():
    """core.hashing through the same ``labelguard`` alias the tests use (tests/conftest.py)."""
    if "labelguard" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "labelguard", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["labelguard"] = module
        spec.loader.exec_module(module)
    from labelguard.core import hashing

    return hashing


def _fill(path: Path, size: int) -> None:
    """Write ``size`` random bytes (never sparse) to ``path``, renamed into place when complete."""
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        written = 0
        while written < size:
            n = min(4 * MiB, size - written)
            fh.write(os.urandom(n))
            written += n
    os.replace(tmp, path)


def _small_sizes(cfg: dict) -> List[int]:
    # Deterministic spread over [small_min, small_max] (a linear congruential sequence).
    span = cfg["small_max"] - cfg["small_min"]
    x, out = 12345, []
    for _ in range(cfg["small_count"]):
        x = (1103515245 * x + 12345) % (1 << 31)
        out.append(cfg["small_min"] + x % (span + 1))
    return out


def _plan(data: Path, cfg: dict) -> List[Tuple[Path, int]]:
    files = [(data / f"big_{cfg['big'] // MiB}M.bin", cfg["big"])]
    small_dir = data / f"small_{cfg['small_count']}"
    files += [(small_dir / f"f{i:05d}.bin", n) for i, n in enumerate(_small_sizes(cfg))]
    files += [
        (data / f"large_{cfg['large'] // MiB}M_{i}.bin", cfg["large"])
        for i in range(cfg["large_count"])
    ]
    return files


def ensure_data(data: Path, cfg: dict) -> None:
    plan = _plan(data, cfg)
    missing = [(p, n) for p, n in plan if not (p.is_file() and p.stat().st_size == n)]
    if not missing:
        print(f"Reusing benchmark data in {data}")
        return
    need = sum(n for _, n in missing)
    data.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(data).free
    margin = 256 * MiB
    if free < need + margin:
        sys.exit(
            f"Not enough disk space in {data}: the benchmark data needs "
            f"{(need + margin) / GiB:.2f} GiB more, {free / GiB:.2f} GiB is free. Free some "
            "space, point --data at a larger disk, or run with --quick."
        )
    print(
        f"Creating {len(missing)} benchmark files ({need / GiB:.2f} GiB) in {data} ...", flush=True
    )
    for p, n in missing:
        p.parent.mkdir(parents=True, exist_ok=True)
        _fill(p, n)
    print("done.", flush=True)


def _best(fn: Callable[[], object], repeat: int) -> Tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _interleaved(fns: Sequence[Callable[[], object]], repeat: int) -> List[Tuple[float, object]]:
    """Best time of each function, running them in turn ``repeat`` times (a, b, a, b, ...)."""
    best = [float("inf")] * len(fns)
    results: List[object] = [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            results[i] = fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return list(zip(best, results))


def _run(cmd: List[str], **kw) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def _openssl_digest(path: Path) -> str:
    # "SHA2-256(path)= hex" (OpenSSL 3) or "SHA256(path)= hex" (1.1)
    return _run(["openssl", "dgst", "-sha256", str(path)]).rsplit("=", 1)[1].strip()


def _sha256sum_digest(path: Path) -> str:
    return _run(["sha256sum", str(path)]).split()[0]


def _xargs(tool: List[str], folder: Path) -> int:
    """Hash every file of ``folder`` with one ``tool`` process per batch of arguments."""
    out = subprocess.run(
        f"find . -type f -name '*.bin' -print0 | xargs -0 {' '.join(tool)}",
        shell=True,
        check=True,
        capture_output=True,
        text=True,
        cwd=folder,
    ).stdout
    return out.count("\n")


def _shell_loop(folder: Path) -> int:
    """One sha256sum process per file, as a naive shell script would do it."""
    out = subprocess.run(
        'for f in *.bin; do sha256sum "$f"; done',
        shell=True,
        check=True,
        capture_output=True,
        text=True,
        cwd=folder,
    ).stdout
    return out.count("\n")


class Table:
    def __init__(self) -> None:
        self.rows: List[Tuple[str, ...]] = []

    def add(self, *cells: str) -> None:
        self.rows.append(tuple(cells))

    def print(self) -> None:
        head = ("case", "tool", "data", "best s", "rate", "vs reference", "target")
        rows = [head] + self.rows
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        line = "+".join("-" * (w + 2) for w in widths)
        print("+" + line + "+")
        for j, r in enumerate(rows):
            print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
            if j == 0:
                print("+" + line + "+")
        print("+" + line + "+")


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# One long function on purpose: the four numbered cases below run in the order the table
# prints them, and later cases reuse rates measured by earlier ones (the per-file overhead of
# case 2 is computed from case 1's single-thread rate).
def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller inputs (about 0.6 GiB)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder for the inputs")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (best counts)")
    ap.add_argument(
        "--skip-loop", action="store_true", help="skip the one-sha256sum-per-file shell loop (slow)"
    )
    args = ap.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    for tool in ("openssl", "sha256sum"):
        if shutil.which(tool) is None:
            sys.exit(f"'{tool}' is not on PATH; install it (apt-get install openssl coreutils).")
    hashing = _import_hashing()
    ensure_data(args.data, cfg)
    plan = _plan(args.data, cfg)
    big = plan[0][0]
    small = [p for p, _ in plan[1 : 1 + cfg["small_count"]]]
    small_dir = small[0].parent
    small_bytes = sum(n for _, n in plan[1 : 1 + cfg["small_count"]])
    large = [p for p, _ in plan[1 + cfg["small_count"] :]]
    large_bytes = sum(p.stat().st_size for p in large)
    rep = max(1, args.repeat)
    table = Table()
    cpus = os.cpu_count() or 1
    print(
        f"CPUs: {cpus}; Python {sys.version.split()[0]}; "
        f"{_run(['openssl', 'version']).strip()}; chunk {hashing.CHUNK // 1024} KiB",
        flush=True,
    )

    # 1. One large file: LabelGuard vs openssl vs sha256sum, warm cache.
    print(f"[1/4] {big.name} ...", flush=True)
    warm = hashing.sha256_file(big)  # untimed: loads the page cache
    (t_lg, d_lg), (t_os, d_os) = _interleaved(
        [lambda: hashing.sha256_file(big), lambda: _openssl_digest(big)], rep
    )
    t_ss, d_ss = _best(lambda: _sha256sum_digest(big), max(1, rep - 1))
    if not (warm == d_lg == d_os == d_ss):
        sys.exit(
            f"Digest disagreement on {big}: labelguard {d_lg}, openssl {d_os}, sha256sum {d_ss}"
        )
    size = big.stat().st_size
    label = f"1 x {size / GiB:.2f} GiB"
    ratio = t_os / t_lg
    table.add(
        "large file",
        "openssl dgst -sha256",
        label,
        f"{t_os:.2f}",
        f"{size / t_os / 1e9:.2f} GB/s",
        "reference",
        "",
    )
    table.add(
        "large file",
        "LabelGuard sha256_file",
        label,
        f"{t_lg:.2f}",
        f"{size / t_lg / 1e9:.2f} GB/s",
        f"{ratio:.0%} of openssl",
        f">= {TARGET_VS_OPENSSL:.0%}: {_verdict(ratio >= TARGET_VS_OPENSSL)}",
    )
    table.add(
        "large file",
        "sha256sum (coreutils)",
        label,
        f"{t_ss:.2f}",
        f"{size / t_ss / 1e9:.2f} GB/s",
        f"{t_os / t_ss:.0%} of openssl",
        "",
    )

    # 2. Many small files: per-file overhead.
    print(f"[2/4] {len(small)} small files ...", flush=True)
    expected = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in small}  # warms the cache
    label = f"{len(small)} x 4-64 KiB ({small_bytes / MiB:.0f} MiB)"
    runs = _interleaved(
        [
            lambda: hashing.hash_files(small),
            lambda: hashing.hash_files(small, threads=1),
            lambda: _xargs(["sha256sum"], small_dir),
            lambda: _xargs(["openssl", "dgst", "-sha256"], small_dir),
        ],
        rep,
    )
    (t_lgn, res), (t_lg1, res1), (t_sum, n_sum), (t_osx, n_osx) = runs
    if [r.sha256 for r in res] != [expected[p] for p in small] or res1 != res:
        sys.exit("hash_files returned wrong digests or order on the small files")
    if n_sum != len(small) or n_osx != len(small):
        sys.exit(f"xargs runs hashed {n_sum}/{n_osx} files instead of {len(small)}")
    n = len(small)
    # Pure hashing time of these bytes at the single-thread large-file rate; the rest is
    # per-file overhead (open, stat, buffer, Python calls).
    pure = small_bytes / (size / t_lg)
    overhead_us = (t_lg1 - pure) / n * 1e6
    share = (t_lg1 - pure) / t_lg1
    table.add(
        "small files",
        "sha256sum via xargs",
        label,
        f"{t_sum:.2f}",
        f"{n / t_sum:,.0f} files/s",
        "reference",
        "",
    )
    table.add(
        "small files",
        "openssl dgst via xargs",
        label,
        f"{t_osx:.2f}",
        f"{n / t_osx:,.0f} files/s",
        f"{t_sum / t_osx:.2f}x sha256sum",
        "",
    )
    table.add(
        "small files",
        "LabelGuard hash_files threads=1",
        label,
        f"{t_lg1:.2f}",
        f"{n / t_lg1:,.0f} files/s",
        f"{t_sum / t_lg1:.2f}x sha256sum",
        f"overhead {overhead_us:.0f} us/file = {share:.0%} of time: "
        f"{_verdict(share < 0.5)} (< 50%)",
    )
    table.add(
        "small files",
        f"LabelGuard hash_files threads={min(n, cpus, 8)}",
        label,
        f"{t_lgn:.2f}",
        f"{n / t_lgn:,.0f} files/s",
        f"{t_sum / t_lgn:.2f}x sha256sum",
        "",
    )
    if not args.skip_loop:
        t_loop, n_loop = _best(lambda: _shell_loop(small_dir), 1)
        if n_loop != n:
            sys.exit(f"shell loop hashed {n_loop} files instead of {n}")
        table.add(
            "small files",
            "shell loop, 1 sha256sum per file",
            label,
            f"{t_loop:.2f}",
            f"{n / t_loop:,.0f} files/s",
            f"{t_sum / t_loop:.2f}x sha256sum",
            "",
        )

    # 3. Several large files at once: parallel threads.
    print(f"[3/4] {len(large)} x {cfg['large'] // MiB} MiB, threads=1 vs threads=2 ...", flush=True)
    hashing.hash_files(large, threads=2)  # warm

    def openssl_pair() -> None:
        # Two openssl processes at once: what the hardware gives two cores right now.
        half = (len(large) + 1) // 2
        procs = [
            subprocess.Popen(
                ["openssl", "dgst", "-sha256", *map(str, group)], stdout=subprocess.DEVNULL
            )
            for group in (large[:half], large[half:])
        ]
        for p in procs:
            if p.wait() != 0:
                raise RuntimeError("openssl failed")

    # All three interleaved, so a burst of load from elsewhere hits them alike.
    (t1, r1), (t2, r2), (t_pair, _) = _interleaved(
        [
            lambda: hashing.hash_files(large, threads=1),
            lambda: hashing.hash_files(large, threads=2),
            openssl_pair,
        ],
        rep,
    )
    if r1 != r2:
        sys.exit("threads=1 and threads=2 disagree on the large files")
    label = f"{len(large)} x {cfg['large'] / MiB:.0f} MiB"
    speedup = t1 / t2
    table.add(
        "parallel",
        "LabelGuard hash_files threads=1",
        label,
        f"{t1:.2f}",
        f"{large_bytes / t1 / 1e9:.2f} GB/s",
        "reference",
        "",
    )
    table.add(
        "parallel",
        "LabelGuard hash_files threads=2",
        label,
        f"{t2:.2f}",
        f"{large_bytes / t2 / 1e9:.2f} GB/s",
        f"{speedup:.2f}x threads=1",
        f">= {TARGET_SPEEDUP}x: {_verdict(speedup >= TARGET_SPEEDUP)}",
    )
    table.add(
        "parallel",
        "2 openssl processes at once",
        label,
        f"{t_pair:.2f}",
        f"{large_bytes / t_pair / 1e9:.2f} GB/s",
        f"{t1 / t_pair:.2f}x threads=1",
        "hardware reference"
        + (f" (< {TARGET_SPEEDUP}x: 2nd core busy)" if t1 / t_pair < TARGET_SPEEDUP else ""),
    )
    # 4. Content hash of an annotation layer (what buildmanifest computes per vector file).
    n_features = cfg["features"]
    gpkg = args.data / f"annotations_{n_features}.gpkg"
    print(f"[4/4] content hash of {gpkg.name} ...", flush=True)
    _ensure_annotations(gpkg, n_features)
    from labelguard.core.content import write_feature_index
    from labelguard.gdalio.observe import vector_content

    progress: List[float] = []

    def _content() -> str:
        progress.clear()
        vc, _ = vector_content(gpkg, "annotations", keep_index=True, progress=progress.append)
        write_feature_index(vc.index)
        return vc.sha256

    (t_c, d_c), (t_loop, d_loop), (t_b, _d) = _interleaved(
        [_content, lambda: _ogr_loop_hash(gpkg), lambda: hashing.sha256_file(gpkg)], 1
    )
    label = f"{n_features:,} polygons, {gpkg.stat().st_size / MiB:.0f} MiB GPKG"
    table.add(
        "content",
        "sha256 of the file bytes",
        label,
        f"{t_b:.2f}",
        f"{n_features / t_b:,.0f} feat/s",
        "reference (bytes only)",
        "",
    )
    table.add(
        "content",
        "OGR feature loop, per-feature sha256",
        label,
        f"{t_loop:.2f}",
        f"{n_features / t_loop:,.0f} feat/s",
        "baseline (no normalization)",
        "",
    )
    table.add(
        "content",
        "LabelGuard content hash + feature index",
        label,
        f"{t_c:.2f}",
        f"{n_features / t_c:,.0f} feat/s",
        f"{t_loop / t_c:.2f}x the loop",
        f"<= {TARGET_CONTENT_S:.0f} s: {_verdict(t_c <= TARGET_CONTENT_S)}; "
        f"{len(progress)} progress updates",
    )
    print()
    table.print()
    return 0


def _ensure_annotations(path: Path, n: int) -> None:
    """A GeoPackage of ``n`` small polygons with an id and a class, like an annotation layer."""
    if path.exists():
        return
    import numpy as np
    from osgeo import ogr, osr

    ogr.UseExceptions()
    rng = np.random.default_rng(42)
    side = int(np.ceil(np.sqrt(n)))
    tmp = path.with_suffix(".tmp.gpkg")
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    lyr = ds.CreateLayer("annotations", srs, ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn("id", ogr.OFTInteger))
    lyr.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    classes = ["building", "tree", "water", "field"]
    defn = lyr.GetLayerDefn()
    ds.StartTransaction()
    for i in range(n):
        x, y = 500000 + (i % side) * 10.0, 5000000 + (i // side) * 10.0
        w, h = rng.uniform(2, 8, 2)
        f = ogr.Feature(defn)
        f["id"] = i
        f["class"] = classes[i % 4]
        f.SetGeometry(
            ogr.CreateGeometryFromWkt(
                f"POLYGON(({x} {y},{x + w:.2f} {y},{x + w:.2f} {y + h:.2f},"
                f"{x} {y + h:.2f},{x} {y}))"
            )
        )
        lyr.CreateFeature(f)
    ds.CommitTransaction()
    ds = None
    tmp.rename(path)


def _ogr_loop_hash(path: Path) -> str:
    """The straightforward way: every feature through OGR's Python API, hashed one by one."""
    import hashlib

    from osgeo import ogr

    ds = ogr.Open(str(path))
    lyr = ds.GetLayer(0)
    digests = []
    for feat in lyr:
        h = hashlib.sha256(bytes(feat.GetGeometryRef().ExportToIsoWkb()))
        h.update(repr([feat.GetField(i) for i in range(feat.GetFieldCount())]).encode())
        digests.append(h.digest())
    digests.sort()
    return hashlib.sha256(b"".join(digests)).hexdigest()


if __name__ == "__main__":
    sys.exit(main())
