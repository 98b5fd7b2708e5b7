"""core.topology on the label layers users have (issue 10): degenerate rings, scattered objects,
snapped line ends, bounded pair findings and the rules Geometry Checker users expect."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from labelguard.core.geos import shapely
from labelguard.core.topology import check_topology, check_topology_batches
from labelguard.core.wkb import WkbArray, decode, first_coordinate


def _poly_wkb(rings, type_code=3) -> bytes:
    out = struct.pack("<bII", 1, type_code, len(rings))
    for ring in rings:
        out += struct.pack("<I", len(ring)) + b"".join(struct.pack("<dd", *p) for p in ring)
    return out


def _multi_wkb(polys) -> bytes:
    return struct.pack("<bII", 1, 6, len(polys)) + b"".join(_poly_wkb(p) for p in polys)


def run(geoms, rules, fids=None, **kw):
    arr = np.array(list(geoms) + [None], dtype=object)[:-1]
    fids = np.arange(1, len(arr) + 1) if fids is None else np.asarray(fids)
    return check_topology(fids, arr, rules, **kw)


def by_rule(result, rule):
    return [(f.fid, f.other_fid, f.wkt) for f in result.findings if f.rule == rule]


DEGENERATE = {
    "one-point ring": _poly_wkb([[(7, 3)]]),
    "two-point ring": _poly_wkb([[(7, 3), (7, 3)]]),
    "multipolygon one-point ring": _multi_wkb([[[(7, 3)]]]),
    "multipolygon two-point ring": _multi_wkb([[[(7, 3), (7, 3)]]]),
}


@pytest.mark.parametrize("blob", DEGENERATE.values(), ids=DEGENERATE.keys())
def test_degenerate_ring_alone_is_an_invalid_finding_at_its_first_coordinate(blob):
    # One feature (or a chunk whose blobs all have the same length) used to crash the run
    # with "A linearring requires at least 4 coordinates".
    for batch in ([blob], [blob, blob]):
        result = check_topology(
            np.arange(1, len(batch) + 1), WkbArray.from_objects(batch), ("invalid",)
        )
        assert [(f.rule, f.fid, f.wkt) for f in result.findings] == [
            ("invalid", k, "POINT (7 3)") for k in range(1, len(batch) + 1)
        ]
        assert result.findings[0].message.startswith("Invalid geometry: ")
        assert result.findings[0].to_dict()["location"] == "POINT (7 3)"


def test_degenerate_ring_in_a_mixed_layer_is_located_too():
    good = shapely.to_wkb(shapely.box(0, 0, 1, 1))
    blobs = [good, DEGENERATE["two-point ring"], good]
    result = check_topology(np.array([1, 2, 3]), WkbArray.from_objects(blobs), ("invalid",))
    assert by_rule(result, "invalid") == [(2, None, "POINT (7 3)")]


def test_unreadable_wkt_is_located_at_its_first_coordinate():
    result = run(["POLYGON ((7 3))", "POLYGON ((7 3, 7 3))"], ("invalid",))
    assert by_rule(result, "invalid") == [(1, None, "POINT (7 3)"), (2, None, "POINT (7 3)")]


def test_decode_never_raises_on_uniform_degenerate_blobs():
    for blob in DEGENERATE.values():
        assert decode(WkbArray.from_objects([blob, blob])).tolist() == [None, None]


@pytest.mark.parametrize(
    ("blob", "expected"),
    [
        (_poly_wkb([[(7, 3)]]), (7.0, 3.0)),
        (_multi_wkb([[], [[(1, 2), (1, 2)]]]), (1.0, 2.0)),
        (struct.pack(">bII", 0, 3, 1) + struct.pack(">Idd", 1, -1.5, 2.5), (-1.5, 2.5)),
        (struct.pack("<bIIdddd", 1, 1002, 1, 4, 5, 6, 0), (4.0, 5.0)),  # ISO LineString Z
        (struct.pack("<bIIIdddd", 1, 0x20000002, 4326, 1, 8, 9, 0, 0)[:-16], (8.0, 9.0)),
        (b"\x01\x03\x00", None),  # truncated header
        (_poly_wkb([]), None),
    ],
    ids=["polygon", "multi-skips-empty", "big-endian", "iso-z", "ewkb-srid", "short", "empty"],
)
def test_first_coordinate_of_blobs_geos_cannot_read(blob, expected):
    assert first_coordinate(blob) == expected


def test_first_coordinate_of_wkt():
    assert first_coordinate("MULTIPOLYGON (((-7.5e1 3, 1 1)))") == (-75.0, 3.0)
    assert first_coordinate("POLYGON EMPTY") is None


def test_unreadable_blob_in_a_later_batch_is_located():
    good = [shapely.to_wkb(g) for g in (shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1))]
    batches = [
        (np.array([1]), WkbArray.from_objects(good[:1])),
        (np.array([2, 3]), WkbArray.from_objects([DEGENERATE["one-point ring"], good[1]])),
    ]
    result = check_topology_batches(batches, ("invalid",))
    assert [(f.fid, f.wkt) for f in result.findings] == [(2, "POINT (7 3)")]
