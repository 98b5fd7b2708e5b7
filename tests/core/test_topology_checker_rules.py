"""core.topology: the rules Geometry Checker users expect (issue 10), with exact findings."""

from __future__ import annotations

import numpy as np
import pytest
from labelguard.core.geos import shapely
from labelguard.core.topology import DEFAULT_RULES, RULES, check_topology


def run(wkts, rules, **kw):
    geoms = np.array([shapely.from_wkt(w) for w in wkts] + [None], dtype=object)[:-1]
    return check_topology(np.arange(1, len(geoms) + 1), geoms, rules, **kw)


def rows(result):
    return [(f.rule, f.fid, f.other_fid, f.wkt, f.message) for f in result.findings]


def test_new_rules_are_appended_so_saved_rule_indices_keep_their_meaning():
    assert RULES[:12] == (
        "invalid",
        "empty",
        "duplicate",
        "near_duplicate",
        "overlap",
        "gap",
        "sliver",
        "min_area",
        "multipart",
        "dangle",
        "must_be_inside",
        "must_not_overlap_with",
    )
    assert RULES[12:] == ("self_crossing", "duplicate_vertex", "spike", "hole", "contained")
    assert (*RULES[:10], "contained") == DEFAULT_RULES


def test_self_crossing_and_self_touching_lines_at_their_crossing_points():
    result = run(
        [
            "LINESTRING (0 0, 2 2, 2 0, 0 2)",  # crosses itself
            "LINESTRING (0 0, 2 0, 2 2, 1 0)",  # its end touches its own middle
            "LINESTRING (0 0, 2 0, 2 2, 0 0)",  # closed: simple
            "MULTILINESTRING ((0 0, 2 0), (1 -1, 1 1))",  # its parts cross
            "MULTILINESTRING ((0 0, 1 0), (1 0, 2 0))",  # parts joined end to end: simple
            "LINESTRING (0 0, 2 0, 1 0, 1 1)",  # runs back along itself from (2 0) to (1 0)
        ],
        ("self_crossing",),
    )
    assert result.counts == {"self_crossing": 5}
    m = "Line crosses or touches itself at ({}){}: valid, but not simple."
    assert rows(result) == [
        ("self_crossing", 1, None, "POINT (1 1)", m.format("1, 1", "")),
        ("self_crossing", 2, None, "POINT (1 0)", m.format("1, 0", "")),
        ("self_crossing", 4, None, "POINT (1 0)", m.format("1, 0", "")),
        ("self_crossing", 6, None, "POINT (1 0)", m.format("1, 0", " [1 of 2]")),
        ("self_crossing", 6, None, "POINT (2 0)", m.format("2, 0", " [2 of 2]")),
    ]


def test_self_crossing_ignores_polygons():
    assert run(["POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0))"], ("self_crossing",)).counts == {
        "self_crossing": 0
    }


def test_duplicate_consecutive_vertices_one_finding_per_run():
    result = run(
        [
            "LINESTRING (0 0, 1 0, 1 0, 1 0, 2 0)",
            "POLYGON ((0 0, 4 0, 4 4, 4 4, 0 4, 0 0))",
            "POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0, 0 0))",  # the closing point repeated
            "POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0))",  # the closing point alone is fine
            "LINESTRING (9 9, 9.000000000001 9, 10 9)",  # within the snapping tolerance
        ],
        ("duplicate_vertex",),
    )
    m = "Duplicate vertex: the same point twice in a row at ({})."
    assert rows(result) == [
        ("duplicate_vertex", 1, None, "POINT (1 0)", m.format("1, 0")),
        ("duplicate_vertex", 2, None, "POINT (4 4)", m.format("4, 4")),
        ("duplicate_vertex", 3, None, "POINT (0 0)", m.format("0, 0")),
        ("duplicate_vertex", 5, None, "POINT (9 9)", m.format("9, 9")),
    ]
    exact = run(
        ["LINESTRING (9 9, 9.000000000001 9, 10 9)"], ("duplicate_vertex",), snap_tolerance=0
    )
    assert exact.counts == {"duplicate_vertex": 0}


def test_spikes_at_the_spike_vertex_with_the_threshold():
    wkts = [
        "POLYGON ((0 0, 10 0, 10 1, 20 1.05, 10 1.1, 10 2, 0 2, 0 0))",  # needle out of a side
        "LINESTRING (0 0, 10 0, 0 0.05)",  # a line that turns back
        "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))",
        "POLYGON ((10 0, 0 0.1, 0 0, 10 0))",  # the spike at the ring's start vertex
        "POLYGON ((30 0, 40 0, 40 0, 30 0.1, 30 0))",  # a duplicate vertex before the spike
    ]
    result = run(wkts, ("spike",))
    m = "Spike: an angle of {}° at this vertex (below 1°)."
    assert rows(result) == [
        ("spike", 1, None, "POINT (20 1.05)", m.format("0.573")),
        ("spike", 2, None, "POINT (10 0)", m.format("0.286")),
        ("spike", 4, None, "POINT (10 0)", m.format("0.573")),
        ("spike", 5, None, "POINT (40 0)", m.format("0.573")),
    ]
    assert run(wkts, ("spike",), spike_angle=0.5).counts == {"spike": 1}


def test_spike_angles_in_degrees_of_longitude_are_measured_east_west_scaled():
    # At 60° north a degree of longitude is half as long as a degree of latitude: the
    # needle of 0.6° in degree units is 1.2° on the ground.
    ellipsoid = (6378137.0, 298.257223563)
    wkt = "LINESTRING (0 60, 0.01 60, 0 60.0001047)"
    plain = run([wkt], ("spike",))
    assert [f.message for f in plain.findings] == [
        "Spike: an angle of 0.6° at this vertex (below 1°)."
    ]
    assert run([wkt], ("spike",), ellipsoid=ellipsoid).counts == {"spike": 0}
    geographic = run([wkt], ("spike",), ellipsoid=ellipsoid, spike_angle=2.0)
    assert [f.message for f in geographic.findings] == [
        "Spike: an angle of 1.2° at this vertex (below 2°)."
    ]


def test_holes_located_at_each_hole():
    result = run(
        [
            "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (1 1, 2 1, 2 2, 1 2, 1 1), "
            "(5 5, 6 5, 6 6, 5 6, 5 5))",
            "MULTIPOLYGON (((20 0, 30 0, 30 10, 20 10, 20 0)), "
            "((40 0, 50 0, 50 10, 40 10, 40 0), (41 1, 43 1, 43 2, 41 2, 41 1)))",
            "POLYGON ((60 0, 70 0, 70 10, 60 10, 60 0))",
        ],
        ("hole",),
        area_unit="m²",
    )
    assert rows(result) == [
        (
            "hole",
            1,
            None,
            "POLYGON ((1 1, 2 1, 2 2, 1 2, 1 1))",
            "Hole of 1 m² in a polygon; holes are not allowed.",
        ),
        (
            "hole",
            1,
            None,
            "POLYGON ((5 5, 6 5, 6 6, 5 6, 5 5))",
            "Hole of 1 m² in a polygon; holes are not allowed.",
        ),
        (
            "hole",
            2,
            None,
            "POLYGON ((41 1, 43 1, 43 2, 41 2, 41 1))",
            "Hole of 2 m² in a polygon; holes are not allowed.",
        ),
    ]


LAYERED = [
    "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))",
    "POLYGON ((1 1, 2 1, 2 2, 1 2, 1 1))",  # inside 1 and inside 4
    "POLYGON ((9 9, 11 9, 11 11, 9 11, 9 9))",  # overlaps 1
    "POLYGON ((0 0, 10 0, 10 5, 0 5, 0 0))",  # inside 1, sharing its boundary
]


def test_contained_names_the_inner_and_the_outer_feature_and_leaves_overlap():
    result = run(LAYERED, ("overlap", "contained"))
    assert result.counts == {"overlap": 1, "contained": 3}
    assert rows(result) == [
        (
            "overlap",
            1,
            3,
            "POLYGON ((10 10, 10 9, 9 9, 9 10, 10 10))",
            "Overlap of 1 square units between features 1 and 3 (tolerance 0).",
        ),
        (
            "contained",
            2,
            1,
            "POLYGON ((1 1, 2 1, 2 2, 1 2, 1 1))",
            "Contained: feature 2 lies inside feature 1 (overlap of 1 square units, tolerance 0).",
        ),
        (
            "contained",
            2,
            4,
            "POLYGON ((1 1, 2 1, 2 2, 1 2, 1 1))",
            "Contained: feature 2 lies inside feature 4 (overlap of 1 square units, tolerance 0).",
        ),
        (
            "contained",
            4,
            1,
            "POLYGON ((0 0, 10 0, 10 5, 0 5, 0 0))",
            "Contained: feature 4 lies inside feature 1 (overlap of 50 square units, tolerance 0).",
        ),
    ]


def test_without_contained_chosen_contained_pairs_stay_overlaps():
    result = run(LAYERED, ("overlap",))
    assert [(f.fid, f.other_fid) for f in result.findings] == [(1, 2), (1, 3), (1, 4), (2, 4)]


def test_contained_respects_the_tolerance_and_leaves_duplicates_to_duplicate():
    square = "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))"
    result = run(
        [square, square, "POLYGON ((1 1, 2 1, 2 2, 1 2, 1 1))"], ("duplicate", "contained")
    )
    assert [(f.rule, f.fid, f.other_fid) for f in result.findings] == [
        ("duplicate", 1, 2),
        ("contained", 3, 1),
        ("contained", 3, 2),
    ]
    assert run(LAYERED, ("contained",), tolerance=1.0).counts == {"contained": 1}


def test_contained_findings_beyond_the_cap_make_one_summary():
    stack = ["POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))"] + [
        f"POLYGON ((-{k} -{k}, {k + 1} -{k}, {k + 1} {k + 1}, -{k} {k + 1}, -{k} -{k}))"
        for k in range(1, 5)
    ]
    result = run(stack, ("contained",), max_pair_findings=2)
    inner = [f for f in result.findings if f.fid == 1]
    assert [(f.other_fid, f.wkt) for f in inner] == [
        (None, "POLYGON ((1 0, 1 1, 0 1, 0 0, 1 0))"),
        (2, "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))"),
        (3, "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))"),
    ]
    assert inner[0].message == (
        "Contained in 2 more features 4, 5 (2 square units in all), not listed one by one: at "
        "most 2 per feature and 100000 in all are; the location is the box around them."
    )


@pytest.mark.parametrize("rule", ["self_crossing", "duplicate_vertex", "spike", "hole"])
def test_new_rules_find_nothing_on_a_clean_coverage(rule):
    cells = [
        f"POLYGON (({i} {j}, {i + 1} {j}, {i + 1} {j + 1}, {i} {j + 1}, {i} {j}))"
        for i in range(3)
        for j in range(3)
    ]
    assert run(cells, (rule,)).counts == {rule: 0}


def test_report_names_the_area_unit_of_the_crs():
    from labelguard.core.topology.findings import report_extra

    result = run(["POLYGON ((0 0, 1 0, 1 1, 0 0))"], rules=("invalid",))
    number = {"tolerance": 0.0, "min_area": 0.0, "max_gap_area": 0.0, "snap_tolerance": 1e-8}

    def units(geographic, unit):
        return report_extra("l", "X", result, ["invalid"], number, geographic, unit)["area_units"]

    assert units(False, "m²") == "m2"
    assert units(False, "ft²") == "ft2"
    assert units(True, "deg²") == "m2"  # areas on the ellipsoid
    assert units(False, "") == "crs_units2"  # the CRS does not say
