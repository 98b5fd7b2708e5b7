"""``wkb.known_valid``: blobs judged valid without GEOS must be valid for GEOS too."""

from __future__ import annotations

import numpy as np
import pytest
from labelguard.core import wkb
from labelguard.core.geos import shapely
from labelguard.core.topology import check_topology


def rotated_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    c = rng.uniform(0, 1e5, (n, 2))
    w, h = rng.uniform(1e-3, 20, n), rng.uniform(1e-3, 20, n)
    a = rng.uniform(0, np.pi, n)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], float) / 2
    x = corners[None, :, 0] * w[:, None]
    y = corners[None, :, 1] * h[:, None]
    ring = np.stack(
        [c[:, :1] + x * np.cos(a)[:, None] - y * np.sin(a)[:, None],
         c[:, 1:] + x * np.sin(a)[:, None] + y * np.cos(a)[:, None]],
        axis=-1,
    )  # fmt: skip
    return shapely.polygons(ring)


def tricky() -> list:
    wkts = [
        "POLYGON ((0 0, 2 0, 0 2, 2 2, 0 0))",  # bow tie
        "POLYGON ((0 0, 10 0, 10 10, 5 1, 0 10, 0 0))",  # concave, valid
        "POLYGON ((0 0, 1 0, 1 0, 1 1, 0 1, 0 0))",  # repeated point, valid
        "POLYGON ((0 0, 1 0, 2 0, 0 0))",  # collapsed
        "POLYGON ((0 0, 10 0, 10 10, 10 0, 0 0))",  # spike back on itself
        "POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1))",  # a hole
        "POLYGON Z ((0 0 1, 1 0 1, 1 1 1, 0 0 1))",
        "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))",
        "POLYGON EMPTY",
        "LINESTRING (0 0, 0 0)",  # one distinct point: invalid
        "LINESTRING (0 0, 0 0, 1 1)",
        "LINESTRING (0 0, 1 1, 0 0)",
        "LINESTRING Z (0 0 0, 1 1 1)",
        "LINESTRING EMPTY",
        "POINT (1 1)",
    ]
    geoms = [shapely.from_wkt(w) for w in wkts]
    # Five points, each turn the same way, twice around: a pentagram.
    t = np.arange(6) * 4 * np.pi / 5
    geoms.append(shapely.Polygon(np.c_[np.cos(t), np.sin(t)]))
    # A thin sliver whose middle turn is nearly a reversal.
    geoms.append(shapely.Polygon([(0, 0), (1e6, 1e-7), (0, 2e-7), (0, 0)]))
    return geoms


def blobs_with_bad_coordinates() -> list:
    box = shapely.to_wkb(shapely.box(0, 0, 1, 1))
    line = shapely.to_wkb(shapely.LineString([(0, 0), (1, 1)]))
    out = []
    for blob, at in ((box, 13), (line, 9)):
        for bad in (np.nan, np.inf):
            b = bytearray(blob)
            b[at : at + 8] = np.float64(bad).tobytes()
            out.append(bytes(b))
    big_endian = shapely.to_wkb(shapely.box(0, 0, 1, 1), byte_order=0)
    unclosed = bytearray(box)
    unclosed[-8:] = np.float64(0.5).tobytes()
    return out + [big_endian, bytes(unclosed)]


def geos_valid(blobs: list) -> np.ndarray:
    geoms = shapely.from_wkb(blobs, on_invalid="ignore")
    return ~shapely.is_missing(geoms) & shapely.is_valid(geoms) & ~shapely.is_empty(geoms)


@pytest.mark.filterwarnings("ignore:invalid value encountered in from_wkb")
def test_known_valid_never_says_valid_where_geos_does_not():
    rng = np.random.default_rng(3)
    lines = shapely.linestrings(rng.uniform(0, 10, (500, 3, 2)).round(0))  # some repeat points
    geoms = list(rotated_boxes(rng, 2000)) + list(lines) + tricky()
    blobs = list(shapely.to_wkb(np.array(geoms, dtype=object))) + blobs_with_bad_coordinates()
    known = wkb.known_valid(wkb.WkbArray.from_objects(blobs))
    truth = geos_valid(blobs)
    assert not np.any(known & ~truth)
    # ... and takes the common cases off GEOS: boxes, and lines with two distinct points.
    assert known[:2000].all()
    assert known[2000:2500].sum() == truth[2000:2500].sum()
    judged = dict(zip([g.wkt for g in tricky()[:15]], known[2500:2515]))
    assert judged["LINESTRING (0 0, 0 0, 1 1)"]
    assert not judged["POLYGON ((0 0, 10 0, 10 10, 5 1, 0 10, 0 0))"]  # left to GEOS


def test_validity_only_gives_the_same_findings_with_and_without_the_shortcut():
    rng = np.random.default_rng(5)
    geoms = np.array(list(rotated_boxes(rng, 300)) + tricky(), dtype=object)
    blobs = list(shapely.to_wkb(geoms)) + blobs_with_bad_coordinates()
    fids = np.arange(1, len(blobs) + 1)
    fast = check_topology(fids, wkb.WkbArray.from_objects(blobs), ["invalid", "empty"])
    # Given as objects, every blob goes through GEOS.
    plain = check_topology(fids, np.array(blobs, dtype=object), ["invalid", "empty"])
    assert fast.findings == plain.findings
    assert fast.counts == plain.counts
    assert fast.counts["invalid"] >= 8


def test_the_shortcut_is_left_off_where_it_decides_little_with_the_same_findings(monkeypatch):
    from labelguard.core.topology import parse

    monkeypatch.setattr(parse, "_PARSE_CHUNK", 50)
    monkeypatch.setattr(parse, "_SAMPLE", 10)
    concave = [
        shapely.Polygon([(x, 0), (x + 10, 0), (x + 10, 10), (x + 5, 1), (x, 10)])
        for x in range(0, 1500, 15)
    ]
    rng = np.random.default_rng(9)
    geoms = concave + list(rotated_boxes(rng, 200)) + tricky() + concave[:10]
    blobs = list(shapely.to_wkb(np.array(geoms, dtype=object)))
    fids = np.arange(1, len(blobs) + 1)
    calls = []
    real = wkb.known_valid
    monkeypatch.setattr(wkb, "known_valid", lambda arr: calls.append(len(arr)) or real(arr))
    fast = check_topology(fids, wkb.WkbArray.from_objects(blobs), ["invalid", "empty"])
    plain = check_topology(fids, np.array(blobs, dtype=object), ["invalid", "empty"])
    assert fast.findings == plain.findings
    # Concave cells (chunks 1-2): the sample of 10 decides little and the chunk goes to
    # GEOS; boxes (chunks 3-6) are asked for the whole chunk of 50.
    assert calls[:10] == [10, 10, 10, 50, 10, 50, 10, 50, 10, 50]
