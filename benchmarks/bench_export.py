"""Benchmark: training export of a 10,000 x 10,000 px image with 100k annotations.

Prints tiles/s and annotations/s for LabelGuard (the full Processing run, and its label stage
alone) next to a straightforward per-tile, per-feature baseline (a Python loop over tiles and,
inside it, over every feature: shapely intersects + intersection + COCO polygon) on the same
data in the same run. The baseline is timed on a sample of tiles (``--baseline-tiles``) and
its rate extrapolated, because the full loop would take hours.

Run: PROJ_DATA=/usr/share/proj QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_export.py
Data is generated once into benchmarks/data/ (gitignored).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
GT = (500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5)
SIZE = 10_000
N_ANN = 100_000


def _alias() -> None:
    if "labelguard" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "labelguard", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
        )
        sys.modules["labelguard"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


def make_data(size: int, n: int) -> tuple:
    from labelguard.core.geos import shapely
    from osgeo import gdal, ogr, osr

    gdal.UseExceptions()
    DATA.mkdir(parents=True, exist_ok=True)
    image = DATA / f"bench_{size}.tif"
    labels = DATA / f"bench_{size}_{n}.gpkg"
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32631)
    if not image.exists():
        ds = gdal.GetDriverByName("GTiff").Create(
            str(image),
            size,
            size,
            3,
            gdal.GDT_Byte,
            options=["TILED=YES", "COMPRESS=DEFLATE", "ZLEVEL=1"],
        )
        ds.SetGeoTransform(GT)
        ds.SetProjection(srs.ExportToWkt())
        for row in range(0, size, 512):
            h = min(512, size - row)
            yy, xx = np.mgrid[row : row + h, 0:size]
            for b in range(3):
                ds.GetRasterBand(b + 1).WriteArray(
                    ((xx * (b + 1) + yy) % 251).astype(np.uint8), 0, row
                )
        ds = None
    if not labels.exists():
        rng = np.random.default_rng(0)
        xy = rng.uniform(20, size - 20, (n, 2))
        r = rng.uniform(4, 18, n)
        polys = shapely.buffer(shapely.points(xy), r, quad_segs=4)
        holed = np.arange(n) % 20 == 0
        polys[holed] = shapely.difference(
            polys[holed], shapely.buffer(shapely.points(xy[holed]), r[holed] / 3)
        )
        x0, a, _, y0, _, e = GT
        world = shapely.transform(
            polys, lambda c: np.column_stack([x0 + a * c[:, 0], y0 + e * c[:, 1]])
        )
        wkb = shapely.to_wkb(world)
        ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(labels))
        lyr = ds.CreateLayer("labels", srs, ogr.wkbPolygon)
        lyr.CreateField(ogr.FieldDefn("cls", ogr.OFTString))
        defn = lyr.GetLayerDefn()
        names = ("building", "tree", "water", "road")
        lyr.StartTransaction()
        for i in range(n):
            f = ogr.Feature(defn)
            f.SetField("cls", names[i % 4])
            f.SetGeometry(ogr.CreateGeometryFromWkb(wkb[i]))
            lyr.CreateFeature(f)
        lyr.CommitTransaction()
        ds = None
    return image, labels


def run_labelguard(image: Path, labels: Path, out: Path, tile: int, overlap: int) -> dict:
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsProject

    sys.path.insert(0, "/usr/share/qgis/python/plugins")
    app = QgsApplication([], False)
    app.initQgis()
    import processing
    from processing.core.Processing import Processing

    Processing.initialize()
    from labelguard.processing_provider.export_training import ExportTrainingAlgorithm
    from labelguard.processing_provider.provider import LabelGuardProvider

    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("labelguard")
    if provider is None:
        provider = LabelGuardProvider()
        registry.addProvider(provider)
    if provider.algorithm("exporttraining") is None:
        provider.addAlgorithm(ExportTrainingAlgorithm())
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    start = time.perf_counter()
    res = processing.run(
        "labelguard:exporttraining",
        {
            "RASTER": str(image),
            "ANNOTATIONS": str(labels),
            "CLASS_FIELD": "cls",
            "FORMAT": 0,
            "TILE_SIZE": tile,
            "OVERLAP": overlap,
            "OUTPUT_FOLDER": str(out),
            "VAL_FRACTION": 0.2,
            "SEED": 1,
        },
        context=context,
        feedback=QgsProcessingFeedback(),
    )
    res["seconds"] = time.perf_counter() - start
    return res


def load_pixel_geoms(labels: Path):
    from labelguard.core.geos import shapely
    from labelguard.core.training.geo import world_to_pixel
    from osgeo import ogr

    ds = ogr.Open(str(labels))
    lyr = ds.GetLayer(0)
    wkb = [bytes(f.GetGeometryRef().ExportToWkb()) for f in lyr]
    return world_to_pixel(GT, shapely.from_wkb(np.array(wkb, dtype=object)))


def core_label_stage(pix, tile: int, overlap: int) -> tuple:
    from labelguard.core.training.clip import clip_to_tiles
    from labelguard.core.training.encode import coco_annotations
    from labelguard.core.training.tiling import plan_tiles

    start = time.perf_counter()
    grid = plan_tiles(SIZE, SIZE, tile, overlap, block_tiles=4)
    pieces = clip_to_tiles(pix, grid, 0.2)
    starts = np.searchsorted(pieces.tile, np.arange(len(grid)), "left")
    ends = np.searchsorted(pieces.tile, np.arange(len(grid)), "right")
    n = 0
    for t in range(len(grid)):
        n += len(coco_annotations(pieces.geoms[starts[t] : ends[t]], tile, tile))
    return len(grid), n, time.perf_counter() - start


def baseline(pix, tile: int, overlap: int, n_tiles: int) -> tuple:
    """Per tile, per feature: what a first implementation typically does."""
    from labelguard.core.geos import shapely
    from labelguard.core.training.tiling import plan_tiles

    grid = plan_tiles(SIZE, SIZE, tile, overlap, block_tiles=4)
    feats = list(pix)
    areas = [g.area for g in feats]
    start = time.perf_counter()
    n = 0
    sample = np.linspace(0, len(grid) - 1, n_tiles).astype(int)
    for t in sample:
        c, r = int(grid.col_off[t]), int(grid.row_off[t])
        box = shapely.box(c, r, c + tile, r + tile)
        anns = []
        for g, area in zip(feats, areas):  # the straightforward loop being measured
            if not g.intersects(box):
                continue
            piece = g.intersection(box)
            if piece.is_empty or piece.area < 0.2 * area:
                continue
            segs = []
            for part in getattr(piece, "geoms", [piece]):
                if part.geom_type != "Polygon":
                    continue
                segs.append(
                    [
                        round(v, 2)
                        for xy in list(part.exterior.coords)[:-1]
                        for v in (xy[0] - c, xy[1] - r)
                    ]
                )
            x0, y0, x1, y1 = piece.bounds
            anns.append(
                {
                    "segmentation": segs,
                    "bbox": [x0 - c, y0 - r, x1 - x0, y1 - y0],
                    "area": piece.area,
                }
            )
        n += len(anns)
    return len(sample), n, time.perf_counter() - start, len(grid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--baseline-tiles", type=int, default=24)
    args = parser.parse_args()
    _alias()
    t0 = time.perf_counter()
    image, labels = make_data(SIZE, N_ANN)
    print(f"data ready in {time.perf_counter() - t0:.1f} s: {image.name}, {labels.name}")
    out = Path(tempfile.mkdtemp(prefix="bench_export_", dir=DATA)) / "dataset"
    try:
        full = run_labelguard(image, labels, out, args.tile, args.overlap)
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    pix = load_pixel_geoms(labels)
    n_tiles, n_core, s_core = core_label_stage(pix, args.tile, args.overlap)
    b_tiles, b_ann, b_sec, all_tiles = baseline(pix, args.tile, args.overlap, args.baseline_tiles)
    rows = [
        (
            "LabelGuard exporttraining (full run: read, check, clip, COCO, GeoTIFF tiles, hashes)",
            full["TILE_COUNT"],
            full["ANNOTATION_COUNT"],
            full["seconds"],
        ),
        (
            "LabelGuard label stage (STRtree + vectorized clip + COCO encode, all tiles)",
            n_tiles,
            n_core,
            s_core,
        ),
        (
            f"Baseline per tile x per feature (shapely loop, {b_tiles} of {all_tiles} tiles)",
            b_tiles,
            b_ann,
            b_sec,
        ),
    ]
    print(f"\n{SIZE} x {SIZE} px, {N_ANN} annotations, tile {args.tile}, overlap {args.overlap}\n")
    print(
        f"{'method':<92} {'tiles':>6} {'annots':>8} {'seconds':>8} {'tiles/s':>9} {'annots/s':>10}"
    )
    for name, t, a, s in rows:
        print(f"{name:<92} {t:>6} {a:>8} {s:>8.2f} {t / s:>9.1f} {a / s:>10.0f}")
    est = b_sec / b_tiles * all_tiles
    print(
        f"\nBaseline extrapolated to all {all_tiles} tiles: {est:.0f} s for the label stage "
        f"alone; LabelGuard label stage {s_core:.1f} s ({est / s_core:.0f}x faster)."
    )


if __name__ == "__main__":
    main()
