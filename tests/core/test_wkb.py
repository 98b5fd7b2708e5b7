"""core.wkb: the numpy WKB decoder gives exactly what shapely.from_wkb gives, and is used."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from labelguard.core import wkb as wkbmod
from labelguard.core.geos import shapely


@np.errstate(invalid="ignore")
def _reference(blobs):
    return shapely.from_wkb(np.array(list(blobs) + [None], dtype=object)[:-1], on_invalid="ignore")


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        if x is None or y is None:
            assert x is None, i
            assert y is None, i
        else:
            assert shapely.to_wkb(x) == shapely.to_wkb(y), i


def _poly_wkb(rings, byte_order="<", type_code=3) -> bytes:
    out = struct.pack(byte_order + "bII", 1 if byte_order == "<" else 0, type_code, len(rings))
    for ring in rings:
        out += struct.pack(byte_order + "I", len(ring))
        for x, y in ring:
            out += struct.pack(byte_order + "dd", x, y)
    return out


def _multi_wkb(polys) -> bytes:
    return struct.pack("<bII", 1, 6, len(polys)) + b"".join(_poly_wkb(p) for p in polys)


NAN = float("nan")
SQUARE = [(0, 0), (4, 0), (4, 4), (0, 4), (0, 0)]
HOLE = [(1, 1), (1, 2), (2, 2), (2, 1), (1, 1)]


@pytest.fixture
def count_fallback(monkeypatch):
    """Counts the blobs decode() hands to shapely.from_wkb (call after computing references)."""
    seen = []
    real = shapely.from_wkb

    def spy(values, *args, **kwargs):
        seen.append(len(values))
        return real(values, *args, **kwargs)

    monkeypatch.setattr(wkbmod.shapely, "from_wkb", spy)
    return seen


def _random_polygons(rng, n):
    centres = rng.uniform(0, 1000, (n, 2))
    out = []
    for k, (x, y) in enumerate(centres):
        r = rng.uniform(1, 10)
        m = int(rng.integers(3, 12))
        ang = np.sort(rng.uniform(0, 2 * np.pi, m))
        shell = np.c_[x + r * np.cos(ang), y + r * np.sin(ang)]
        holes = []
        if k % 3 == 0:
            holes = [np.c_[x + 0.2 * r * np.cos(ang), y + 0.2 * r * np.sin(ang)]]
        out.append(shapely.Polygon(shell, holes))
    return out


def test_polygons_and_multipolygons_match_shapely_and_skip_geos_reader(count_fallback):
    rng = np.random.default_rng(1)
    polys = _random_polygons(rng, 300)
    multis = [shapely.MultiPolygon(polys[i : i + 1 + i % 4]) for i in range(0, 200, 5)]
    geoms = np.array(polys + multis, dtype=object)
    rng.shuffle(geoms)
    blobs = list(shapely.to_wkb(geoms))
    ref = _reference(blobs)
    count_fallback.clear()
    got = wkbmod.decode(blobs)
    _same(got, ref)
    assert count_fallback == []  # all decoded by numpy + from_ragged_array
    assert shapely.get_num_interior_rings(got[shapely.get_type_id(got) == 3]).sum() > 0


def test_everything_else_goes_to_geos_with_the_same_result(count_fallback):
    poly = shapely.Polygon(SQUARE, [HOLE])
    z_poly = shapely.Polygon([(0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 0, 1)])
    blobs = [
        None,
        shapely.to_wkb(shapely.Point(1, 2)),
        shapely.to_wkb(shapely.LineString([(0, 0), (1, 1)])),
        shapely.to_wkb(z_poly),  # ISO Z type 1003
        shapely.to_wkb(z_poly, flavor="extended"),  # EWKB Z flag
        shapely.to_wkb(poly, byte_order=0),  # big-endian
        shapely.to_wkb(shapely.set_srid(poly, 3857), include_srid=True),
        shapely.to_wkb(shapely.Polygon()),  # empty polygon: 0 rings
        shapely.to_wkb(shapely.GeometryCollection([poly])),
        _poly_wkb([[(0, 0), (1, 0), (0, 0)]]),  # 3-point ring: GEOS decides (version-dependent)
        _poly_wkb([[(0, 0), (1, 0), (1, 1), (0, 1)]]),  # unclosed ring
        _poly_wkb([[(NAN, 0), (1, 0), (1, 1), (NAN, 0)]]),  # same bytes, but NaN != NaN
        _poly_wkb([SQUARE])[:-3],  # truncated
        _poly_wkb([SQUARE]) + b"\x00",  # trailing byte
        b"\x01\x03",  # too short for a header
        _multi_wkb([[SQUARE], [[(0, 0), (1, 0), (0, 0)]]]),  # one bad part
        _multi_wkb([]),  # empty multipolygon
        _poly_wkb([SQUARE] + [HOLE] * (wkbmod.MAX_RINGS + 1)),  # too many rings
        _multi_wkb([[SQUARE]] * (wkbmod.MAX_PARTS + 1)),
        _poly_wkb([SQUARE]),  # fast path
        _poly_wkb([[(-0.0, 0), (1, 0), (1, 1), (0.0, 0)]]),  # fast path: closed by value
        _poly_wkb([[(0, 0), (NAN, 0), (1, 1), (0, 0)]]),  # fast path: NaN inside the ring
    ]
    ref = _reference(blobs)
    count_fallback.clear()
    got = wkbmod.decode(blobs)
    _same(got, ref)
    assert sum(count_fallback) == len(blobs) - 4  # all but the null and the last three
    assert got[0] is None
    assert shapely.get_coordinates(got[-2])[0, 0] == 0.0  # -0.0 kept, as GEOS reads it


def test_corrupted_blobs_decode_as_geos_reads_them():
    rng = np.random.default_rng(7)
    polys = _random_polygons(rng, 40) + [
        shapely.MultiPolygon(_random_polygons(rng, 3)) for _ in range(10)
    ]
    clean = list(shapely.to_wkb(np.array(polys, dtype=object)))
    blobs = []
    for _ in range(600):
        b = bytearray(clean[int(rng.integers(len(clean)))])
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(min(len(b), 40)))  # headers and counts, mostly
            b[pos] = int(rng.integers(256))
        if rng.random() < 0.2:
            b = b[: int(rng.integers(len(b)))]
        blobs.append(bytes(b))
    _same(wkbmod.decode(blobs), _reference(blobs))


def test_wkb_array_round_trips_slices_and_takes():
    blobs = [b"ab", None, b"", b"cdef", b"g"]
    arr = wkbmod.WkbArray.from_objects(blobs)
    assert len(arr) == 5
    assert list(arr.to_objects()) == [b"ab", None, None, b"cdef", b"g"]
    assert list(arr[1:4].to_objects()) == [None, None, b"cdef"]
    assert list(arr.take(np.array([4, 0, 3, 0])).to_objects()) == [b"g", b"ab", b"cdef", b"ab"]


def test_take_in_steps_keeps_order(monkeypatch):
    monkeypatch.setattr(wkbmod, "_TAKE_BYTES", 7)
    blobs = [bytes([i]) * (1 + i % 5) for i in range(50)]
    arr = wkbmod.WkbArray.from_objects(blobs)
    idx = np.random.default_rng(3).permutation(50)
    assert list(arr.take(idx).to_objects()) == [blobs[i] for i in idx]


def test_decode_accepts_a_wkb_array_slice():
    polys = _random_polygons(np.random.default_rng(5), 20)
    arr = wkbmod.WkbArray.from_objects(shapely.to_wkb(np.array(polys, dtype=object)))
    _same(wkbmod.decode(arr[5:15]), np.array(polys[5:15], dtype=object))
    assert len(wkbmod.decode([])) == 0


def test_batches_of_equal_boxes_take_the_whole_batch_path(count_fallback):
    rng = np.random.default_rng(11)
    x, y = rng.uniform(0, 100, (2, 50))
    boxes = shapely.box(x, y, x + 2, y + 3)
    multis = np.array([shapely.MultiPolygon([b]) for b in boxes], dtype=object)
    for geoms in (boxes, multis):
        blobs = list(shapely.to_wkb(geoms))
        ref = _reference(blobs)
        count_fallback.clear()
        got = wkbmod.decode(wkbmod.WkbArray.from_objects(blobs))
        _same(got, ref)
        assert count_fallback == []
        assert wkbmod._uniform(wkbmod.WkbArray.from_objects(blobs)) is not None


def test_equal_length_batch_with_odd_members(count_fallback):
    boxes = list(shapely.to_wkb(shapely.box(np.arange(6.0), 0, np.arange(6.0) + 1, 1)))
    big_endian = shapely.to_wkb(shapely.box(9, 9, 10, 10), byte_order=0)
    unclosed = _poly_wkb([[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0.5)]])
    nan_start = _poly_wkb([[(NAN, 0), (1, 0), (1, 1), (0, 1), (NAN, 0)]])
    blobs = boxes[:2] + [big_endian, unclosed] + boxes[2:4] + [nan_start] + boxes[4:]
    assert len({len(b) for b in blobs}) == 1  # one length: the whole-batch path is tried
    ref = _reference(blobs)
    count_fallback.clear()
    got = wkbmod.decode(wkbmod.WkbArray.from_objects(blobs))
    _same(got, ref)
    assert sum(count_fallback) == 3  # only the odd ones went to GEOS's reader


def _shapely_bounds(blobs) -> np.ndarray:
    geoms = shapely.from_wkb(np.array(blobs + [None], dtype=object)[:-1], on_invalid="ignore")
    return np.asarray(shapely.bounds(geoms), dtype=float).reshape(len(blobs), 4)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the NaNs
def test_bounds_equal_shapely_on_a_batch_of_equal_boxes_with_odd_members():
    boxes = list(shapely.to_wkb(shapely.box(np.arange(6.0), 0, np.arange(6.0) + 1, 2)))
    big_endian = shapely.to_wkb(shapely.box(9, 9, 10, 10), byte_order=0)
    unclosed = _poly_wkb([[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0.5)]])
    nan_start = _poly_wkb([[(NAN, 0), (1, 0), (1, 1), (0, 1), (NAN, 0)]])
    nan_inside = _poly_wkb([[(0, 0), (4, 0), (NAN, 7), (0, 1), (0, 0)]])
    blobs = boxes[:2] + [big_endian, unclosed, nan_inside] + boxes[2:4] + [nan_start] + boxes[4:]
    assert len({len(b) for b in blobs}) == 1  # one length: the whole-batch path is taken
    got = wkbmod.bounds(wkbmod.WkbArray.from_objects(blobs))
    np.testing.assert_array_equal(got, _shapely_bounds(blobs))
    assert got[4].tolist() == [0.0, 0.0, 4.0, 7.0]  # the NaN x skipped, its y kept


def test_bounds_equal_shapely_on_anything_else():
    rng = np.random.default_rng(5)
    geoms = _random_polygons(rng, 30) + [
        shapely.Point(1, 2),
        shapely.LineString([(0, 0), (3, 4)]),
        shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(5, 5, 6, 7)]),
        shapely.Polygon(),
    ]
    blobs = list(shapely.to_wkb(np.array(geoms, dtype=object))) + [None, b"\x01\x03"]
    got = wkbmod.bounds(wkbmod.WkbArray.from_objects(blobs))
    np.testing.assert_array_equal(got, _shapely_bounds(blobs))
    assert np.isnan(got[-3:]).all()
    assert wkbmod.bounds(wkbmod.WkbArray.from_objects([])).shape == (0, 4)


def test_long_rings_are_copied_ring_by_ring_with_the_same_result(count_fallback, monkeypatch):
    rng = np.random.default_rng(4)
    polys = []
    for k in range(40):  # land cover: rings of hundreds of points, some holes
        m = int(rng.integers(100, 900))
        ang = np.sort(rng.uniform(0, 2 * np.pi, m))
        x, y, r = 100.0 * k, 0.0, 40.0
        shell = np.c_[x + r * np.cos(ang), y + r * np.sin(ang)]
        holes = [np.c_[x + 5 * np.cos(ang[::7]), y + 5 * np.sin(ang[::7])]] if k % 3 else []
        polys.append(shapely.Polygon(shell, holes))
    multis = [shapely.MultiPolygon(polys[i : i + 3]) for i in range(0, 30, 3)]
    blobs = list(shapely.to_wkb(np.array(polys + multis, dtype=object)))
    calls = []
    monkeypatch.setattr(wkbmod, "_LONG_RINGS", 64)
    real = wkbmod._coords
    monkeypatch.setattr(
        wkbmod, "_coords", lambda rd, s, c: calls.append(c.sum() > 64 * len(c)) or real(rd, s, c)
    )
    ref = _reference(blobs)
    count_fallback.clear()
    _same(wkbmod.decode(blobs), ref)
    assert count_fallback == []
    assert calls
    assert all(calls)
