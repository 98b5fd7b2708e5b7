"""Generates LabelGuard's sample dataset: an orthophoto GeoTIFF, annotations v1 and v2.

The scene (fields, roads, a settlement, a park with a pond, tree rows) is built as vector
geometry first and rasterized into the image, so every label lines up with what the image
shows. A fixed seed makes every run produce the same pixels, features and bytes. The v1
annotations carry the deliberate defects listed in ``DEFECTS``; the v2 annotations apply
the review listed in ``V2_CHANGES``. Uses GDAL/OGR and numpy only.

Usage: python tools/make_sample.py OUT_DIR [--v2 V2_DIR] [--seed N]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
from osgeo import gdal, ogr, osr

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

SEED = 20240517
EPSG = 32633  # WGS 84 / UTM zone 33N
ORIGIN = (600000.0, 5340512.0)  # upper-left corner, metres
PIXEL = 0.5  # metres
SIZE = 1024  # pixels per side: 512 m x 512 m
BANDS = ("Red", "Green", "Blue", "NIR")
NODATA = 0
# Offset-less local time, as cameras and GDAL write it: LabelGuard must flag it, not guess.
TIFF_DATETIME = "2024:05:17 10:42:00"
ACQUISITION_DATETIME = "2024-05-17T10:42:00"
# Fixed gpkg_contents.last_change, so the GeoPackage bytes are reproducible.
GPKG_DATE = "2024-05-20T12:00:00Z"

RASTER_NAME = "orthophoto.tif"
GPKG_NAME = "annotations.gpkg"
GEOJSON_NAME = "annotations.geojson"
LAYER_NAME = "annotations"
CLASSES = ("building", "tree", "water", "field")
ANNOTATORS = ("ana", "ben", "chen")

# The deliberate defects in the v1 annotations: (kind, what it is). Ids are assigned by
# _add_defects and reported in SampleInfo.defects.
DEFECTS: Tuple[Tuple[str, str], ...] = (
    ("self_intersection", "building outline digitized as a bowtie (two corners swapped)"),
    ("duplicate", "tree polygon saved twice with a new id"),
    ("overlap", "building digitized twice, the second copy shifted by 3 m"),
    ("sliver", "0.1 m wide field strip along a parcel boundary, about 4 m2"),
)

# The review that turns v1 into v2: (change, what happens). Expected diffversions result
# with ID_FIELD=id: 3 added, 2 removed, 3 geometry_changed, 1 attributes_changed.
V2_CHANGES: Tuple[Tuple[str, str], ...] = (
    ("removed", "the duplicate tree"),
    ("removed", "the sliver"),
    ("geometry_changed", "the bowtie building fixed"),
    ("geometry_changed", "building moved 1.2 m east, 0.8 m south"),
    ("geometry_changed", "building moved 1.2 m east, 0.8 m south"),
    ("attributes_changed", "small reservoir re-labelled from field to water"),
    ("added", "tree missed in v1"),
    ("added", "tree missed in v1"),
    ("added", "tree missed in v1"),
)


@dataclass
class SceneObject:
    """One object in the scene: local coordinates in metres (x right, y down from the top)."""

    cls: str
    ring: List[Tuple[float, float]]
    colour: Tuple[int, int, int, int]
    angle: float = 0.0  # orientation in radians (buildings: ridge direction; fields: rows)
    label: str | None = None  # annotated class when it differs from what the image shows


@dataclass
class Annotation:
    id: int
    cls: str
    wkt: str
    annotator: str
    reviewed_at: str


@dataclass
class SampleInfo:
    raster: Path
    gpkg: Path
    geojson: Path
    v2_gpkg: Path
    v2_geojson: Path
    v1_count: int
    v2_count: int
    class_counts: Dict[str, int]
    defects: List[Tuple[str, List[int], str]] = field(default_factory=list)
    v2_changes: List[Tuple[str, int, str]] = field(default_factory=list)


def _rect(cx: float, cy: float, w: float, h: float, angle: float) -> List[Tuple[float, float]]:
    c, s = math.cos(angle), math.sin(angle)
    pts = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts]


def _circle(cx: float, cy: float, r: float, n: int = 16) -> List[Tuple[float, float]]:
    return [
        (cx + r * math.cos(2 * math.pi * i / n), cy + r * math.sin(2 * math.pi * i / n))
        for i in range(n)
    ]


def _blob(rng: np.random.Generator, cx: float, cy: float, r: float) -> List[Tuple[float, float]]:
    n = 40
    phases = rng.uniform(0, 2 * math.pi, 3)
    pts = []
    for i in range(n):
        t = 2 * math.pi * i / n
        rr = r * (1 + 0.18 * math.sin(2 * t + phases[0]) + 0.1 * math.sin(3 * t + phases[1]))
        rr *= 1 + 0.05 * math.sin(5 * t + phases[2])
        pts.append((cx + rr * math.cos(t), cy + 0.8 * rr * math.sin(t)))
    return pts


def _jitter(rng: np.random.Generator, ring, amount: float) -> List[Tuple[float, float]]:
    return [(x + rng.uniform(-amount, amount), y + rng.uniform(-amount, amount)) for x, y in ring]


def _place_trees(rng, count, box, keep_out, min_dist, radius_range, colour):
    """Rejection-samples non-overlapping tree crowns inside ``box`` outside ``keep_out``."""
    x0, y0, x1, y1 = box
    placed: List[Tuple[float, float, float]] = []
    tries = 0
    while len(placed) < count and tries < 20000:
        tries += 1
        r = rng.uniform(*radius_range)
        x, y = rng.uniform(x0 + r, x1 - r), rng.uniform(y0 + r, y1 - r)
        if any(math.hypot(x - kx, y - ky) < kr + r for kx, ky, kr in keep_out):
            continue
        if any(math.hypot(x - px, y - py) < pr + r + min_dist for px, py, pr in placed):
            continue
        placed.append((x, y, r))
    return [SceneObject("tree", _circle(x, y, r), colour(rng)) for x, y, r in placed]


def _tree_colour(rng) -> Tuple[int, int, int, int]:
    g = int(rng.integers(70, 95))
    return (int(g * 0.5), g, int(g * 0.45), int(rng.integers(190, 225)))


# Long on purpose: one random stream draws the scene top to bottom, so the order of the draws
# is the sample's bytes; splitting it would hide that order (tests pin the output).
def build_scene(seed: int = SEED) -> List[SceneObject]:
    """All objects in the image, in drawing order; local metres, y down."""
    rng = np.random.default_rng(seed)
    objects: List[SceneObject] = []

    # Fields: two parcel rows north-east of the crossroads, a 3 x 3 grid south-east.
    crops = [(165, 150, 95, 150), (95, 135, 60, 215), (135, 105, 75, 60), (115, 145, 70, 200)]

    def parcels(x0, x1, y0, y1, ncols, nrows):
        xs = np.linspace(x0, x1, ncols + 1)
        ys = np.linspace(y0, y1, nrows + 1)
        for j in range(nrows):
            for i in range(ncols):
                ring = [
                    (xs[i] + 2, ys[j] + 2),
                    (xs[i + 1] - 2, ys[j] + 2),
                    (xs[i + 1] - 2, ys[j + 1] - 2),
                    (xs[i] + 2, ys[j + 1] - 2),
                ]
                yield _jitter(rng, ring, 1.0)

    for ring in parcels(212, 510, 2, 234, 5, 2):
        objects.append(
            SceneObject("field", ring, crops[int(rng.integers(len(crops)))], rng.uniform(0, 3.1))
        )
    for ring in parcels(224, 510, 264, 510, 3, 3):
        objects.append(
            SceneObject("field", ring, crops[int(rng.integers(len(crops)))], rng.uniform(0, 3.1))
        )
    # A small reservoir takes the place of one south-east parcel; v1 labels it "field".
    reservoir = objects[-5]
    cx = sum(p[0] for p in reservoir.ring) / 4
    cy = sum(p[1] for p in reservoir.ring) / 4
    objects[-5] = SceneObject("water", _blob(rng, cx, cy, 30), (35, 65, 85, 18), label="field")

    # The park pond, south-west of the crossroads.
    objects.append(SceneObject("water", _blob(rng, 95, 385, 48), (30, 60, 80, 15)))

    # Settlement: one building per 25 m cell north-west of the crossroads.
    roofs = [(170, 75, 60, 95), (125, 125, 130, 85), (150, 105, 85, 90), (185, 95, 70, 100)]
    for row in range(9):
        for col in range(7):
            if rng.random() < 0.12:
                continue
            cx = 14 + col * 26 + rng.uniform(-2, 2)
            cy = 14 + row * 26 + rng.uniform(-2, 2)
            w, h = rng.uniform(9, 16), rng.uniform(8, 13)
            angle = rng.normal(0, 0.12)
            objects.append(
                SceneObject(
                    "building",
                    _rect(cx, cy, w, h, angle),
                    roofs[int(rng.integers(len(roofs)))],
                    angle,
                )
            )

    # Tree rows along the roads, then the park trees around the pond.
    for i in range(29):
        x = 218 + i * 10 + rng.uniform(-1, 1)
        objects.append(
            SceneObject("tree", _circle(x, 243, rng.uniform(2.5, 3.8)), _tree_colour(rng))
        )
    for i in range(19):
        x = 8 + i * 10 + rng.uniform(-1, 1)
        objects.append(
            SceneObject("tree", _circle(x, 243, rng.uniform(2.5, 3.8)), _tree_colour(rng))
        )
    for i in range(20):
        y = 268 + i * 12 + rng.uniform(-1, 1)
        objects.append(
            SceneObject("tree", _circle(215, y, rng.uniform(2.5, 3.8)), _tree_colour(rng))
        )
    objects.extend(
        _place_trees(
            rng,
            62,
            (4, 264, 196, 508),
            keep_out=[(95, 385, 62)],
            min_dist=2.0,
            radius_range=(2.0, 5.5),
            colour=_tree_colour,
        )
    )
    return objects


def _noise(rng: np.random.Generator, shape: Tuple[int, int], cell: int) -> np.ndarray:
    """Smooth value noise in [0, 1]: a coarse random grid, bilinearly interpolated."""
    h, w = shape
    grid = rng.random((h // cell + 2, w // cell + 2))
    y = np.arange(h) / cell
    x = np.arange(w) / cell
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    a = grid[y0][:, x0]
    b = grid[y0][:, x0 + 1]
    c = grid[y0 + 1][:, x0]
    d = grid[y0 + 1][:, x0 + 1]
    return a * (1 - fx) * (1 - fy) + b * fx * (1 - fy) + c * (1 - fx) * fy + d * fx * fy


def _rasterize(objects: Sequence[SceneObject], shift: Tuple[float, float] = (0.0, 0.0)):
    """Object index + 1 per pixel (0 = background), via GDAL's rasterizer."""
    mem = gdal.GetDriverByName("MEM").Create("", SIZE, SIZE, 1, gdal.GDT_Int32)
    mem.SetGeoTransform((0.0, PIXEL, 0.0, 0.0, 0.0, PIXEL))
    mem.SetSpatialRef(_srs())
    vds = ogr.GetDriverByName("Memory").CreateDataSource("scene")
    lyr = vds.CreateLayer("scene", _srs(), ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn("idx", ogr.OFTInteger))
    for i, obj in enumerate(objects):
        ring = ogr.Geometry(ogr.wkbLinearRing)
        for x, y in [*obj.ring, obj.ring[0]]:
            ring.AddPoint_2D(x + shift[0], y + shift[1])
        poly = ogr.Geometry(ogr.wkbPolygon)
        poly.AddGeometry(ring)
        feat = ogr.Feature(lyr.GetLayerDefn())
        feat.SetField("idx", i + 1)
        feat.SetGeometry(poly)
        lyr.CreateFeature(feat)
    gdal.RasterizeLayer(mem, [1], lyr, options=["ATTRIBUTE=idx"])
    return mem.GetRasterBand(1).ReadAsArray()


def render(objects: Sequence[SceneObject], seed: int = SEED) -> np.ndarray:
    """The image as a (4, SIZE, SIZE) uint8 array: red, green, blue, near infrared."""
    rng = np.random.default_rng(seed + 1)
    shape = (SIZE, SIZE)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) * PIXEL + PIXEL / 2
    texture = 0.6 * _noise(rng, shape, 64) + 0.3 * _noise(rng, shape, 16)
    texture += 0.1 * _noise(rng, shape, 4)
    leaf = _noise(rng, shape, 2)
    grass = np.array([95, 122, 68, 175], dtype=np.float64)[:, None, None]
    img = grass * (0.8 + 0.4 * texture)[None]

    # Roads: a west-east and a north-south road with dashed centre lines.
    road = ((ys >= 250) & (ys < 258)) | ((xs >= 200) & (xs < 207.5))
    asphalt = np.array([112, 112, 110, 72], dtype=np.float64)[:, None, None]
    img = np.where(road[None], asphalt * (0.92 + 0.16 * texture)[None], img)
    dash = ((np.abs(ys - 254) < 0.3) & (xs % 6 < 3)) | ((np.abs(xs - 203.75) < 0.3) & (ys % 6 < 3))
    img = np.where((dash & road)[None], np.array([215, 215, 210, 120.0])[:, None, None], img)

    idx = _rasterize(objects)
    shadow = _rasterize(
        [o for o in objects if o.cls in ("building", "tree")],
        shift=(1.8, 1.8),
    )
    img = np.where(((shadow > 0) & (idx == 0))[None], img * 0.55, img)

    n = len(objects)
    colour = np.array([(0, 0, 0, 0)] + [o.colour for o in objects], dtype=np.float64)
    cls_code = np.array([-1] + [CLASSES.index(o.cls) for o in objects])
    angle = np.array([0.0] + [o.angle for o in objects])
    cx = np.array([0.0] + [sum(p[0] for p in o.ring) / len(o.ring) for o in objects])
    cy = np.array([0.0] + [sum(p[1] for p in o.ring) / len(o.ring) for o in objects])
    radius = np.array(
        [1.0]
        + [
            max(math.hypot(p[0] - x, p[1] - y) for p in o.ring)
            for o, x, y in zip(objects, cx[1:], cy[1:])
        ]
    )
    assert len(colour) == n + 1
    base = np.moveaxis(colour[idx], -1, 0)
    code = cls_code[idx]
    dx, dy = xs - cx[idx], ys - cy[idx]
    a = angle[idx]
    along = dx * np.cos(a) + dy * np.sin(a)
    across = -dx * np.sin(a) + dy * np.cos(a)

    shade = np.ones(shape)
    # Buildings: a pitched roof, the sunlit half brighter, the ridge a thin bright line.
    is_b = code == CLASSES.index("building")
    shade = np.where(is_b, np.where(across < 0, 1.12, 0.86), shade)
    shade = np.where(is_b & (np.abs(across) < 0.35), 1.25, shade)
    # Trees: crowns brighter in the middle, with leafy texture.
    is_t = code == CLASSES.index("tree")
    r = np.hypot(dx, dy) / radius[idx]
    shade = np.where(is_t, 1.2 - 0.5 * r + 0.3 * (leaf - 0.5), shade)
    # Fields: crop rows in each parcel's own direction.
    is_f = code == CLASSES.index("field")
    rows = np.sin(2 * math.pi * along / 3.0)
    shade = np.where(is_f, 0.9 + 0.08 * rows + 0.2 * (texture - 0.5), shade)
    # Water: darker towards the middle.
    is_w = code == CLASSES.index("water")
    shade = np.where(is_w, 1.15 - 0.35 * (1 - np.clip(r, 0, 1)), shade)
    img = np.where((idx > 0)[None], base * shade[None], img)

    img += rng.normal(0.0, 2.5, img.shape)
    # 0 is the nodata value, so valid pixels start at 1.
    return np.clip(np.rint(img), 1, 255).astype(np.uint8)


def _to_world(ring: Sequence[Tuple[float, float]]) -> List[Tuple[float, float]]:
    # Centimetre coordinates: every format stores them exactly, so GeoPackage and GeoJSON
    # hold the same doubles.
    return [(round(ORIGIN[0] + x, 2), round(ORIGIN[1] - y, 2)) for x, y in ring]


def _wkt(ring: Sequence[Tuple[float, float]]) -> str:
    pts = [*ring, ring[0]]
    return "POLYGON ((" + ", ".join(f"{x:.2f} {y:.2f}" for x, y in pts) + "))"


def _shift(ring, dx: float, dy: float):
    return [(round(x + dx, 2), round(y + dy, 2)) for x, y in ring]


# Long on purpose: the planted defects and v2 edits are one list in the order the README and
# the demo describe them, drawn from one random stream (tests pin the output).
def annotations(objects: Sequence[SceneObject], seed: int = SEED):
    """(v1, v2, defects, v2_changes) for the scene; see DEFECTS and V2_CHANGES."""
    rng = np.random.default_rng(seed + 2)
    world = [_to_world(o.ring) for o in objects]
    # Three park trees the v1 annotators missed; v2 adds them.
    trees = [i for i, o in enumerate(objects) if o.cls == "tree"]
    missed = set(trees[-3:])
    v1: List[Annotation] = []
    for i, obj in enumerate(objects):
        if i in missed:
            continue
        v1.append(
            Annotation(
                len(v1) + 1,
                obj.label or obj.cls,
                _wkt(world[i]),
                ANNOTATORS[int(rng.integers(len(ANNOTATORS)))],
                f"2024-05-{20 + int(rng.integers(3))}T{9 + int(rng.integers(8)):02d}:"
                f"{int(rng.integers(60)):02d}:00Z",
            )
        )
    by_id = {a.id: a for a in v1}
    ann_of = {}
    n = 0
    for i in range(len(objects)):
        if i not in missed:
            n += 1
            ann_of[i] = n
    buildings = [ann_of[i] for i, o in enumerate(objects) if o.cls == "building"]
    tree_ids = [ann_of[i] for i in trees if i in ann_of]
    fields = [ann_of[i] for i, o in enumerate(objects) if o.cls == "field"]

    def new(cls: str, ring) -> Annotation:
        return Annotation(len(v1) + 1, cls, _wkt(ring), "ben", "2024-05-22T16:05:00Z")

    defects: List[Tuple[str, List[int], str]] = []
    descr = dict(DEFECTS)
    # Bowtie: swap two corners of a building.
    bow = by_id[buildings[10]]
    ring = _ring(bow.wkt)
    bow_fixed_wkt = bow.wkt
    bow.wkt = _wkt([ring[0], ring[2], ring[1], ring[3]])
    defects.append(("self_intersection", [bow.id], descr["self_intersection"]))
    # Duplicate tree.
    src = by_id[tree_ids[5]]
    dup = new("tree", _ring(src.wkt))
    v1.append(dup)
    defects.append(("duplicate", [src.id, dup.id], descr["duplicate"]))
    # Overlapping pair: a building digitized twice, shifted by 3 m.
    src = by_id[buildings[20]]
    ovl = new("building", _shift(_ring(src.wkt), 3.0, -1.5))
    v1.append(ovl)
    defects.append(("overlap", [src.id, ovl.id], descr["overlap"]))
    # Sliver: a 40 m x 0.1 m strip inside the track between two parcels.
    f0 = _ring(by_id[fields[0]].wkt)
    x = round(max(p[0] for p in f0[1:3]) + 1.5, 2)
    y_top = round(ORIGIN[1] - 20.0, 2)
    sliver = new("field", [(x, y_top), (x + 0.1, y_top), (x + 0.1, y_top - 40), (x, y_top - 40)])
    v1.append(sliver)
    defects.append(("sliver", [sliver.id], descr["sliver"]))

    # v2: the review.
    changes: List[Tuple[str, int, str]] = []
    desc2 = [d for _, d in V2_CHANGES]
    v2 = [Annotation(a.id, a.cls, a.wkt, a.annotator, a.reviewed_at) for a in v1]
    v2_by = {a.id: a for a in v2}
    for removed in (dup.id, sliver.id):
        v2.remove(v2_by[removed])
    changes.append(("removed", dup.id, desc2[0]))
    changes.append(("removed", sliver.id, desc2[1]))
    v2_by[bow.id].wkt = bow_fixed_wkt
    changes.append(("geometry_changed", bow.id, desc2[2]))
    for k, bid in enumerate((buildings[3], buildings[30])):
        v2_by[bid].wkt = _wkt(_shift(_ring(v2_by[bid].wkt), 1.2, -0.8))
        changes.append(("geometry_changed", bid, desc2[3 + k]))
    res_id = next(ann_of[i] for i, o in enumerate(objects) if o.label == "field")
    v2_by[res_id].cls = "water"
    changes.append(("attributes_changed", res_id, desc2[5]))
    next_id = max(a.id for a in v1) + 1
    for k, i in enumerate(sorted(missed)):
        v2.append(Annotation(next_id + k, "tree", _wkt(world[i]), "chen", "2024-05-24T11:30:00Z"))
        changes.append(("added", next_id + k, desc2[6 + k]))
    return v1, v2, defects, changes


def _ring(wkt: str) -> List[Tuple[float, float]]:
    body = wkt[wkt.index("((") + 2 : wkt.index("))")]
    pts = [tuple(float(v) for v in p.split()) for p in body.split(",")]
    return [(x, y) for x, y in pts[:-1]]


def _srs() -> osr.SpatialReference:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(EPSG)
    return srs


def write_raster(path: Path, pixels: np.ndarray) -> None:
    driver = gdal.GetDriverByName("GTiff")
    ds = driver.Create(
        str(path),
        SIZE,
        SIZE,
        len(BANDS),
        gdal.GDT_Byte,
        options=["TILED=YES", "COMPRESS=DEFLATE", "PREDICTOR=2", "PHOTOMETRIC=RGB", "ALPHA=NO"],
    )
    ds.SetGeoTransform((ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL))
    ds.SetSpatialRef(_srs())
    ds.SetMetadata(
        {
            "TIFFTAG_DATETIME": TIFF_DATETIME,
            "TIFFTAG_IMAGEDESCRIPTION": "LabelGuard sample orthophoto (synthetic), RGB + NIR",
            "ACQUISITION_DATETIME": ACQUISITION_DATETIME,
        }
    )
    interp = (gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand, gdal.GCI_Undefined)
    for b, name in enumerate(BANDS):
        band = ds.GetRasterBand(b + 1)
        band.WriteArray(pixels[b])
        band.SetNoDataValue(NODATA)
        band.SetDescription(name)
        band.SetColorInterpretation(interp[b])
    ds.FlushCache()
    ds = None


def write_annotations(path: Path, driver_name: str, rows: Sequence[Annotation]) -> None:
    if path.exists():
        path.unlink()
    driver = ogr.GetDriverByName(driver_name)
    old = gdal.GetConfigOption("OGR_CURRENT_DATE")
    gdal.SetConfigOption("OGR_CURRENT_DATE", GPKG_DATE)
    try:
        ds = driver.CreateDataSource(str(path))
        lyr = ds.CreateLayer(LAYER_NAME, _srs(), ogr.wkbPolygon)
        for name, kind, width in (
            ("id", ogr.OFTInteger, 0),
            ("class", ogr.OFTString, 16),
            ("annotator", ogr.OFTString, 16),
            ("reviewed_at", ogr.OFTDateTime, 0),
        ):
            fd = ogr.FieldDefn(name, kind)
            fd.SetWidth(width)
            lyr.CreateField(fd)
        if driver_name == "GPKG":
            ds.StartTransaction()
        for a in sorted(rows, key=lambda r: r.id):
            feat = ogr.Feature(lyr.GetLayerDefn())
            feat.SetFID(a.id)
            feat.SetField("id", a.id)
            feat.SetField("class", a.cls)
            feat.SetField("annotator", a.annotator)
            feat.SetField("reviewed_at", a.reviewed_at)
            feat.SetGeometry(ogr.CreateGeometryFromWkt(a.wkt))
            lyr.CreateFeature(feat)
        if driver_name == "GPKG":
            ds.CommitTransaction()
        ds = None
    finally:
        gdal.SetConfigOption("OGR_CURRENT_DATE", old)


def generate(out: Path, v2_out: Path | None = None, seed: int = SEED) -> SampleInfo:
    """Writes the sample into ``out`` (v1) and ``v2_out`` (default ``out/v2``)."""
    out = Path(out)
    v2_out = Path(v2_out) if v2_out is not None else out / "v2"
    out.mkdir(parents=True, exist_ok=True)
    v2_out.mkdir(parents=True, exist_ok=True)
    objects = build_scene(seed)
    pixels = render(objects, seed)
    v1, v2, defects, changes = annotations(objects, seed)
    info = SampleInfo(
        raster=out / RASTER_NAME,
        gpkg=out / GPKG_NAME,
        geojson=out / GEOJSON_NAME,
        v2_gpkg=v2_out / GPKG_NAME,
        v2_geojson=v2_out / GEOJSON_NAME,
        v1_count=len(v1),
        v2_count=len(v2),
        class_counts={c: sum(1 for a in v1 if a.cls == c) for c in CLASSES},
        defects=defects,
        v2_changes=changes,
    )
    write_raster(info.raster, pixels)
    write_annotations(info.gpkg, "GPKG", v1)
    write_annotations(info.geojson, "GeoJSON", v1)
    write_annotations(info.v2_gpkg, "GPKG", v2)
    write_annotations(info.v2_geojson, "GeoJSON", v2)
    return info


def describe(info: SampleInfo) -> str:
    """What was written, with the defect list and the v2 changes; paths relative to cwd."""

    def rel(path: Path) -> str:
        return os.path.relpath(path) if path.is_absolute() else str(path)

    lines = [
        f"raster      {rel(info.raster)}: {SIZE}x{SIZE} px, {len(BANDS)} bands uint8 "
        f"({', '.join(BANDS)}), EPSG:{EPSG}, {PIXEL} m, TIFFTAG_DATETIME={TIFF_DATETIME!r}",
        f"annotations {rel(info.gpkg)} + {info.geojson.name}: {info.v1_count} polygons ("
        + ", ".join(f"{c} {n}" for c, n in info.class_counts.items())
        + ")",
        f"v2          {rel(info.v2_gpkg)} + {info.v2_geojson.name}: {info.v2_count} polygons",
        "deliberate defects in v1:",
        *(f"  {kind:<18} id {', '.join(map(str, ids)):<9} {d}" for kind, ids, d in info.defects),
        "changes v1 -> v2:",
        *(f"  {kind:<18} id {fid:<9} {d}" for kind, fid, d in info.v2_changes),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the v1 dataset")
    parser.add_argument("--v2", type=Path, default=None, help="folder for v2 (default OUT/v2)")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    print(describe(generate(args.out, args.v2, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
