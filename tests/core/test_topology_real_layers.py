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


def _rotated_rectangles(n_side, seed=5):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_side):
        for j in range(n_side):
            r = shapely.box(-rng.uniform(3, 7), -rng.uniform(3, 7), 4, 3)
            out.append(
                shapely.affinity.translate(
                    shapely.affinity.rotate(r, rng.uniform(0, 180)), 30 * i + 15, 30 * j + 15
                )
            )
    return out


def test_scattered_objects_are_left_out_of_the_gap_noding():
    from labelguard.core.topology import pairs

    objs = _rotated_rectangles(6)
    objs.append(shapely.affinity.translate(objs[0], 2.0, 0.0))  # overlaps object 1
    polys = np.array(objs, dtype=object)
    shared = pairs._edge_balance(polys).shared
    isolated = pairs._isolated(polys, shared, shapely.STRtree(polys))
    assert np.flatnonzero(~isolated).tolist() == [0, 36]
    assert run(objs, ("gap", "overlap")).counts == {"overlap": 1, "gap": 0}


def _frame():
    """Four bars around the square (2 2, 6 6): a gap bounded by four features."""
    return [
        shapely.box(0, 0, 8, 2),
        shapely.box(0, 6, 8, 8),
        shapely.box(0, 2, 2, 6),
        shapely.box(6, 2, 8, 6),
    ]


def test_an_object_inside_a_gap_makes_a_hole_in_it():
    island = shapely.box(3, 3, 4, 4)  # touches nothing: isolated
    result = run(_frame() + [island], ("gap",))
    gaps = by_rule(result, "gap")
    expected = shapely.box(2, 2, 6, 6).difference(island)
    assert [(a, b) for a, b, _ in gaps] == [(1, 2)]
    assert shapely.equals(shapely.from_wkt(gaps[0][2]), expected)
    assert result.findings[0].message == "Gap of 15 square units between features 1, 2, 3, 4, 5."


def test_an_object_in_a_polygons_hole_bounds_a_gap_with_it():
    donut = shapely.Polygon([(0, 0), (9, 0), (9, 9), (0, 9)], [[(1, 1), (1, 8), (8, 8), (8, 1)]])
    island = shapely.box(3, 3, 4, 4)
    gaps = by_rule(run([donut, island], ("gap",)), "gap")
    assert [(a, b) for a, b, _ in gaps] == [(1, 2)]
    assert shapely.equals(shapely.from_wkt(gaps[0][2]), shapely.box(1, 1, 8, 8).difference(island))


def test_objects_on_a_coverage_are_not_gaps():
    cells = [shapely.box(i, j, i + 1, j + 1) for i in range(0, 10, 1) for j in range(0, 10, 1)]
    trees = [shapely.Point(2.5 + k, 2.5).buffer(0.2) for k in range(5)]  # inside cells
    assert run(cells + trees, ("gap",)).counts == {"gap": 0}


def _snapped_t_junctions(n=2000, seed=1):
    """n lines, each followed by a line whose start was snapped onto its middle (interpolated:
    about 1e-14 off the line in floating point) and whose end lies far away."""
    rng = np.random.default_rng(seed)
    lines = []
    for k in range(n):
        a = np.array([40.0 * k, 0.0]) + rng.uniform(0, 1, 2)
        base = shapely.LineString([a, a + rng.uniform(5, 20, 2)])
        snap = shapely.get_coordinates(
            shapely.line_interpolate_point(base, rng.uniform(0.2, 0.8), normalized=True)
        )[0]
        lines += [base, shapely.LineString([snap, snap + np.array([0.0, -30.0])])]
    return lines


def test_ends_snapped_onto_a_line_are_not_dangles():
    lines = _snapped_t_junctions()
    # Exactly, none of the 2000 snapped ends touches its line (as the issue found).
    assert run(lines, ("dangle",), snap_tolerance=0.0).counts == {"dangle": 4 * 2000}
    result = run(lines, ("dangle",))
    # Every base line has two free ends and every branch one: the snapped ends are not there.
    assert result.counts == {"dangle": 3 * 2000}
    assert {f.fid % 2 for f in result.findings if f.message.startswith("Dangling start")} == {1}
    branch_ends = [f for f in result.findings if f.fid % 2 == 0]
    assert [f.message for f in branch_ends[:1]] == [
        "Dangling end point: the line ends without touching another line."
    ]
    assert len(branch_ends) == 2000


def test_a_larger_snap_tolerance_snaps_more():
    near = [shapely.LineString([(0, 0), (10, 0)]), shapely.LineString([(5, 0.001), (5, 9)])]
    assert by_rule(run(near, ("dangle",)), "dangle") == [
        (1, None, "POINT (0 0)"),
        (1, None, "POINT (10 0)"),
        (2, None, "POINT (5 0.001)"),
        (2, None, "POINT (5 9)"),
    ]
    assert by_rule(run(near, ("dangle",), snap_tolerance=0.01), "dangle")[2:] == [
        (2, None, "POINT (5 9)")
    ]


def test_a_loop_ending_near_itself_is_not_a_dangle():
    loop = shapely.LineString([(0, 0), (10, 0), (10, 10), (5, 1e-14)])
    assert by_rule(run([loop], ("dangle",)), "dangle") == [(1, None, "POINT (0 0)")]


def _stack(n=14):
    """n unit squares shifted by 0.05 each: every pair overlaps."""
    return [shapely.box(0.05 * k, 0, 1 + 0.05 * k, 1) for k in range(n)]


def test_pair_findings_per_feature_are_capped_with_a_summary():
    result = run(_stack(), ("overlap",), near_duplicate_iou=1.0)
    first = [f for f in result.findings if f.fid == 1]
    assert [f.other_fid for f in first] == [None] + list(range(2, 12))
    summary = first[0]
    assert summary.message == (
        "3 more overlaps of feature 1 with features 12, 13, 14 (1.2 square units in all), "
        "not listed one by one: at most 10 per feature and 100000 in all are; the location "
        "is the box around them."
    )
    assert summary.wkt == "POLYGON ((1 0, 1 1, 0.55 1, 0.55 0, 1 0))"
    assert result.counts == {
        "overlap": 3 * (10 + 1) + sum(range(1, 11))
    }  # 13, 12, 11 pairs: capped
    # Without the cap every pair is a finding, as before.
    assert run(_stack(), ("overlap",), max_pair_findings=0).counts == {"overlap": 91}


def test_listed_pairs_are_bounded_for_the_whole_layer(monkeypatch):
    from labelguard.core.topology import pairs

    monkeypatch.setattr(pairs, "MAX_LISTED_PAIRS", 15)
    result = run(_stack(), ("overlap",))
    listed = [f for f in result.findings if f.other_fid is not None]
    assert [(f.fid, f.other_fid) for f in listed][-6:] == [(1, 11)] + [(2, k) for k in range(3, 8)]
    assert len(listed) == 15
    assert [f.fid for f in result.findings if f.other_fid is None] == list(range(1, 14))


def test_summary_of_one_unlisted_pair_is_singular():
    from labelguard.core.topology.rules import more_pairs_message

    text = more_pairs_message("overlap", 1, [12], 0.5, "square units", 10)
    assert text.startswith("1 more overlap of feature 1 with feature 12 (0.5 square units in all)")
    text = more_pairs_message("near_duplicate", 1, [12, 13], 0.5, "square units", 10)
    assert text.startswith("2 more near duplicates of feature 1 with features 12, 13 ")


def test_an_overlay_without_an_overlay_rule_is_an_error_naming_both():
    from labelguard.core.errors import InputError
    from labelguard.core.topology import DEFAULT_RULES

    aoi = np.array([shapely.box(0, 0, 10, 10)], dtype=object)
    with pytest.raises(InputError) as err:
        run([shapely.box(1, 1, 2, 2)], DEFAULT_RULES, overlay=aoi)
    assert str(err.value) == (
        "An overlay layer was given but no overlay rule is chosen: choose must_be_inside "
        "and/or must_not_overlap_with, or check without the overlay layer."
    )


def test_default_rules_leave_out_the_overlay_rules():
    from labelguard.core.topology import DEFAULT_RULES, RULES

    assert "must_be_inside" not in DEFAULT_RULES
    assert "must_not_overlap_with" not in DEFAULT_RULES
    assert set(DEFAULT_RULES) < set(RULES)


def test_only_the_chosen_overlay_rule_runs():
    # Tiles as the overlay: features inside a tile are not flagged by must_not_overlap_with
    # when only must_be_inside is chosen (before, both ran and every feature was flagged).
    tiles = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)], dtype=object)
    geoms = [shapely.box(1, 1, 2, 2), shapely.box(12, 1, 13, 2), shapely.box(19, 9, 21, 11)]
    result = run(geoms, ("invalid", "must_be_inside"), overlay=tiles)
    assert result.counts == {"invalid": 0, "must_be_inside": 1}
    assert by_rule(result, "must_be_inside") == [
        (3, None, "POLYGON ((19 11, 21 11, 21 9, 20 9, 20 10, 19 10, 19 11))")
    ]


def test_areas_name_the_crs_unit_given():
    cells = [shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3)]
    feet = run(cells, ("overlap", "min_area"), min_area=5.0, area_unit="ft²")
    assert [f.message for f in feet.findings] == [
        "Overlap of 1 ft² between features 1 and 2 (tolerance 0).",
        "Area 4 ft² is below the minimum of 5 ft².",
        "Area 4 ft² is below the minimum of 5 ft².",
    ]
    unknown = run(cells, ("overlap",))
    assert unknown.findings[0].message == (
        "Overlap of 1 square units between features 1 and 2 (tolerance 0)."
    )


def test_loops_among_short_lines_and_multilines():
    # Short lines (no rest to end on), loops whose start or end lies on the rest of the line,
    # and a multi-line whose second part is a loop, in one layer: each end judged on its own.
    layer = [
        shapely.LineString([(100, 0), (101, 0)]),
        shapely.LineString([(0, 0), (10, 0), (10, 10), (5, 1e-14)]),  # end on itself
        shapely.LineString([(200, 0), (201, 0), (202, 0)]),
        shapely.LineString([(5, 30 + 1e-14), (10, 20), (10, 30), (0, 30)]),  # start on itself
        shapely.MultiLineString([[(300, 0), (301, 0)], [(0, 50), (10, 50), (10, 60), (5, 50)]]),
    ]
    assert by_rule(run(layer, ("dangle",)), "dangle") == [
        (1, None, "POINT (100 0)"),
        (1, None, "POINT (101 0)"),
        (2, None, "POINT (0 0)"),
        (3, None, "POINT (200 0)"),
        (3, None, "POINT (202 0)"),
        (4, None, "POINT (0 30)"),
        (5, None, "POINT (0 50)"),
        (5, None, "POINT (300 0)"),
        (5, None, "POINT (301 0)"),
    ]
