"""core.topology: every rule with injected defects, exact counts and locations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from labelguard.core import geos as geos_mod
from labelguard.core.errors import Cancelled
from labelguard.core.geos import shapely
from labelguard.core.topology import (
    RULES,
    ExceptionEntry,
    check_topology,
    finding_key,
    local_area_scale,
    self_intersection_points,
)
from labelguard.core.topology import pairs as topology_pairs

ALL_POLYGON_RULES = (
    "invalid",
    "empty",
    "duplicate",
    "near_duplicate",
    "overlap",
    "gap",
    "sliver",
    "min_area",
    "multipart",
)


def grid(n=4, size=1.0, x0=0.0, y0=0.0, midpoints=False):
    """A clean coverage of n x n cells; with ``midpoints`` a vertex in the middle of each edge
    (shared with the neighbour)."""
    cells = []
    for i in range(n):
        for j in range(n):
            x, y = x0 + i * size, y0 + j * size
            if midpoints:
                h = size / 2
                cells.append(
                    shapely.Polygon(
                        [
                            (x, y),
                            (x + h, y),
                            (x + size, y),
                            (x + size, y + h),
                            (x + size, y + size),
                            (x + h, y + size),
                            (x, y + size),
                            (x, y + h),
                        ]
                    )
                )
            else:
                cells.append(shapely.box(x, y, x + size, y + size))
    return cells


def run(geoms, rules=ALL_POLYGON_RULES, fids=None, **kw):
    arr = np.array(list(geoms) + [None], dtype=object)[:-1]
    fids = np.arange(1, len(arr) + 1) if fids is None else np.asarray(fids)
    return check_topology(fids, arr, rules, **kw)


def by_rule(result, rule):
    return [(f.fid, f.other_fid, f.wkt) for f in result.findings if f.rule == rule]


@pytest.mark.parametrize("midpoints", [False, True], ids=["boxes", "shared-midpoints"])
def test_clean_coverage_has_no_findings(midpoints):
    result = run(grid(5, midpoints=midpoints))
    assert result.findings == ()
    assert result.counts == {r: 0 for r in ALL_POLYGON_RULES}
    assert result.checked == 25


def test_touching_labels_without_shared_vertices_are_fine():
    # One big cell on the left touches two small cells on the right along x = 2; the small
    # cells' corner (2, 1) is not a vertex of the big one (a T-junction).
    geoms = [shapely.box(0, 0, 2, 2), shapely.box(2, 0, 3, 1), shapely.box(2, 1, 3, 2)]
    assert run(geoms).findings == ()


def test_bow_tie_reports_its_crossing_point():
    result = run([shapely.from_wkt("POLYGON((0 0,2 2,2 0,0 2,0 0))")], rules=("invalid",))
    assert by_rule(result, "invalid") == [(1, None, "POINT (1 1)")]
    assert result.findings[0].message == "Invalid geometry: Self-intersection at (1, 1)."


def test_every_self_intersection_is_reported():
    zigzag = shapely.from_wkt("POLYGON((0 0,3 0,3 1,2 -1,1 1,0 -1,0 0))")
    result = run([zigzag], rules=("invalid",))
    assert [w for _, _, w in by_rule(result, "invalid")] == [
        "POINT (0.5 0)",
        "POINT (1.5 0)",
        "POINT (2.5 0)",
    ]
    assert result.counts == {"invalid": 3}
    assert result.findings[1].message.endswith("[2 of 3].")


def test_self_touching_ring_and_hole_cases():
    ring_touch = shapely.from_wkt("POLYGON((0 0,4 0,4 4,2 0,0 4,0 0))")  # touches at (2 0)
    hole_touch_once = shapely.from_wkt(  # valid: a hole touching the shell once
        "POLYGON((0 0,4 0,4 4,0 4,0 0),(2 0,3 1,1 1,2 0))"
    )
    hole_outside = shapely.from_wkt("POLYGON((0 0,1 0,1 1,0 1,0 0),(5 5,6 5,6 6,5 5))")
    pts = self_intersection_points(np.array([ring_touch, hole_touch_once], dtype=object))
    assert pts[0].tolist() == [[2.0, 0.0]]
    assert pts[1].tolist() == []
    result = run([hole_touch_once, hole_outside], rules=("invalid",))
    assert by_rule(result, "invalid") == [(2, None, "POINT (5 5)")]
    assert "Hole lies outside shell" in result.findings[0].message


def test_invalid_matches_geos_is_valid():
    rng = np.random.default_rng(3)
    geoms = shapely.polygons(rng.uniform(0, 10, (300, 5, 2)))  # random pentagons
    result = run(geoms, rules=("invalid",))
    invalid_fids = {f.fid for f in result.findings}
    expected = {i + 1 for i in np.flatnonzero(~shapely.is_valid(geoms))}
    assert invalid_fids == expected
    assert len(expected) > 50


def test_empty_and_null_and_unreadable_wkb():
    geoms = np.array(
        [None, shapely.to_wkb(shapely.Polygon()), shapely.to_wkb(shapely.box(0, 0, 1, 1))],
        dtype=object,
    )
    bad_ring = bytes.fromhex(  # a polygon whose ring has 3 points
        "010300000001000000030000000000000000000000000000000000000000000000000000400000000000"
        "00000000000000000000000000000000000000"
    )
    geoms = np.append(geoms, np.array([bad_ring], dtype=object))
    result = check_topology(np.array([1, 2, 3, 4]), geoms, ("invalid", "empty"))
    assert [(f.rule, f.fid, f.message) for f in result.findings] == [
        ("invalid", 4, "Invalid geometry: Too few points in geometry component at (0, 0)."),
        ("empty", 1, "Geometry is null."),
        ("empty", 2, "Geometry is empty."),
    ]


def test_duplicates_and_near_duplicates():
    cells = grid(3)
    geoms = cells + [cells[4], cells[4], shapely.box(0.02, 0.0, 1.02, 1.0)]
    result = run(geoms, fids=range(10, 10 + len(geoms)))
    assert by_rule(result, "duplicate") == [(14, 19, cells[4].wkt), (14, 20, cells[4].wkt)]
    near = by_rule(result, "near_duplicate")
    assert [(a, b) for a, b, _ in near] == [(10, 21)]
    assert shapely.equals(shapely.from_wkt(near[0][2]), shapely.box(0.02, 0, 1, 1))
    # The near duplicate also overlaps its right neighbour (fid 13) by 0.02.
    assert [(a, b) for a, b, _ in by_rule(result, "overlap")] == [(13, 21)]


def test_duplicates_by_hash_when_no_pair_rule():
    cells = grid(2)
    result = run(cells + [cells[0]], rules=("duplicate",))
    assert by_rule(result, "duplicate") == [(1, 5, cells[0].wkt)]


@pytest.mark.parametrize("coverage", [False, True], ids=["edge-balance", "geos-coverage"])
def test_overlap_polygon_and_tolerance(monkeypatch, coverage):
    if coverage and not hasattr(shapely, "coverage_invalid_edges"):
        pytest.skip("GEOS without coverage functions")
    monkeypatch.setattr(geos_mod, "HAS_COVERAGE", coverage)
    monkeypatch.setattr(topology_pairs, "PREFER_GEOS_COVERAGE", coverage)
    cells = grid(4)
    cells[5] = shapely.box(1, 1, 2.3, 2)  # pushes 0.3 x 1 into cell 9 (x 2..3, y 1..2)
    cells[0] = shapely.box(0, 0, 1.01, 1)  # 0.01 into cell 4: under the tolerance below
    result = run(cells, rules=("overlap",), tolerance=0.05)
    overlaps = by_rule(result, "overlap")
    assert [(a, b) for a, b, _ in overlaps] == [(6, 10)]
    assert shapely.equals(shapely.from_wkt(overlaps[0][2]), shapely.box(2, 1, 2.3, 2))
    assert result.findings[0].message == (
        "Overlap of 0.3 square units between features 6 and 10 (tolerance 0.05)."
    )
    assert run(cells, rules=("overlap",)).counts == {"overlap": 2}


def test_overlap_hidden_inside_a_clean_looking_cluster():
    # A big square fully covered by a clean 3x3 grid on top of it: every grid cell's inner
    # edges are balanced, yet each cell overlaps the square.
    cells = grid(3)
    result = run(cells + [shapely.box(0, 0, 3, 3)], rules=("overlap",))
    assert sorted((a, b) for a, b, _ in by_rule(result, "overlap")) == [
        (k, 10) for k in range(1, 10)
    ]


def test_gap_between_neighbours_and_not_at_the_outer_boundary():
    cells = grid(3)
    hole_cell = cells.pop(4)  # the centre cell is missing -> a gap bounded by 4 neighbours
    result = run(cells, rules=("gap",))
    gaps = by_rule(result, "gap")
    assert len(gaps) == 1
    assert shapely.equals(shapely.from_wkt(gaps[0][2]), hole_cell)
    assert gaps[0][:2] == (2, 4)
    assert result.findings[0].message == "Gap of 1 square units between features 2, 4, 5, 7."
    # Larger than MAX_GAP_AREA: a hole meant to be there.
    assert run(cells, rules=("gap",), max_gap_area=0.5).counts == {"gap": 0}
    # A notch in the outer boundary is not a gap.
    assert run(grid(3)[:-1], rules=("gap",)).counts == {"gap": 0}


def test_a_polygons_own_hole_is_not_a_gap():
    donut = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (1, 2), (2, 2), (2, 1)]])
    assert run([donut, shapely.box(4, 0, 5, 4)], rules=("gap",)).counts == {"gap": 0}


def test_sliver_and_min_area():
    cells = grid(2)
    thin = shapely.box(10, 0, 10.01, 5)
    result = run(cells + [thin], rules=("sliver", "min_area"), min_area=0.5)
    assert by_rule(result, "sliver") == [(5, None, thin.wkt)]
    assert by_rule(result, "min_area") == [(5, None, thin.wkt)]
    assert result.findings[1].message == (
        "Area 0.05 square units is below the minimum of 0.5 square units."
    )


def test_multipart_points_at_the_extra_parts():
    mp = shapely.MultiPolygon([shapely.box(0, 0, 2, 2), shapely.box(5, 5, 6, 6)])
    result = run([mp, shapely.MultiPolygon([shapely.box(9, 9, 10, 10)])], rules=("multipart",))
    assert by_rule(result, "multipart") == [(1, None, "MULTIPOLYGON (((6 5, 6 6, 5 6, 5 5, 6 5)))")]


def test_dangles_on_lines():
    lines = [
        shapely.LineString([(0, 0), (1, 0)]),
        shapely.LineString([(1, 0), (2, 0), (2, 1)]),
        shapely.LineString([(1, 0), (1, 1)]),
        shapely.LineString([(5, 5), (6, 5), (6, 6), (5, 5)]),
    ]  # closed ring: no dangle
    result = run(lines, rules=("dangle", "invalid"))
    assert by_rule(result, "dangle") == [
        (1, None, "POINT (0 0)"),
        (2, None, "POINT (2 1)"),
        (3, None, "POINT (1 1)"),
    ]


def test_overlay_rules():
    aoi = np.array([shapely.box(0, 0, 10, 10)], dtype=object)
    geoms = [shapely.box(1, 1, 2, 2), shapely.box(9, 9, 11, 10)]
    result = run(
        geoms,
        rules=("must_be_inside", "must_not_overlap_with"),
        overlay=aoi,
        overlay_fids=np.array([7]),
    )
    assert by_rule(result, "must_be_inside") == [
        (2, None, "POLYGON ((11 10, 11 9, 10 9, 10 10, 11 10))")
    ]
    assert [(a, b) for a, b, _ in by_rule(result, "must_not_overlap_with")] == [(1, 7), (2, 7)]
    assert set(run(geoms, rules=("must_be_inside",)).counts) == set()  # no overlay: skipped


def test_geographic_areas_in_square_metres():
    # 0.001 x 0.001 degree at the equator is about 111.3 m x 110.6 m.
    scale = local_area_scale(np.array([0.0]), 6378137.0, 298.257223563)[0]
    assert scale == pytest.approx(111319.49 * 110574.27, rel=1e-4)
    cell = shapely.box(0, 0, 0.001, 0.001)
    result = run(
        [cell], rules=("min_area",), min_area=12400.0, ellipsoid=(6378137.0, 298.257223563)
    )
    assert result.counts == {"min_area": 1}
    assert "12309" in result.findings[0].message
    assert "m²" in result.findings[0].message


def test_exceptions_by_key_and_by_fid():
    cells = grid(2)
    cells[0] = shapely.box(0, 0, 1.5, 1)
    first = run(cells, rules=("overlap", "sliver"), sliver_compactness=0.99)
    overlap = [f for f in first.findings if f.rule == "overlap"][0]
    assert overlap.key == finding_key("overlap", overlap.fid, overlap.other_fid, overlap.wkt)
    again = run(
        cells,
        rules=("overlap", "sliver"),
        sliver_compactness=0.99,
        exceptions=[
            {"key": overlap.key, "rule": "overlap", "is_exception": True},
            ExceptionEntry("sliver", 1),
        ],
    )
    accepted = [(f.rule, f.fid) for f in again.findings if f.is_exception]
    assert accepted == [("overlap", 1), ("sliver", 1)]
    assert again.counts["overlap"] == first.counts["overlap"] - 1
    # The key survives an edit of an unrelated feature.
    cells[3] = shapely.box(1, 1, 2, 2.2)
    moved = run(cells, rules=("overlap",), exceptions=[ExceptionEntry("", -1, None, overlap.key)])
    assert [f.is_exception for f in moved.findings] == [True]


def test_cancel_and_progress():
    seen = []
    run(grid(10), progress=seen.append)
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    with pytest.raises(Cancelled):
        run(grid(10), should_stop=lambda: True)


def test_unknown_rule():
    with pytest.raises(ValueError, match="unknown rule"):
        run(grid(1), rules=("overlaps",))
    assert RULES[:2] == ("invalid", "empty")


def test_edge_balance_flags_only_boundary_cells():
    cells = np.array(grid(4, midpoints=True), dtype=object)
    suspect, free = topology_pairs.edge_balance(cells)
    assert suspect.sum() == 12  # the 12 cells on the outer boundary, not the 4 inner ones
    assert len(free) == 4 * 4 * 2  # two segments per outer cell edge


def _mixed_layer():
    """Cells with a bow tie, a null, an empty polygon, a duplicate and a sliver."""
    cells = grid(6)
    cells[4] = shapely.from_wkt("POLYGON((4 0,5 1,5 0,4 1,4 0))")  # bow tie
    cells[9] = None
    cells[11] = shapely.Polygon()
    cells.append(cells[20])  # duplicate
    cells.append(shapely.box(0, 0, 3, 0.01))  # sliver over three cells
    return cells


def test_batches_in_any_order_give_the_same_result_as_one_array():
    from labelguard.core.topology import check_topology_batches
    from labelguard.core.wkb import WkbArray

    cells = _mixed_layer()
    fids = np.arange(100, 100 + len(cells))
    whole = run(cells, fids=fids)
    blobs = [None if g is None else shapely.to_wkb(g) for g in cells]
    order = np.random.default_rng(2).permutation(len(cells))
    batches = [
        (fids[part], WkbArray.from_objects([blobs[i] for i in part]))
        for part in np.array_split(order, 4)
    ]
    streamed = check_topology_batches(batches, ALL_POLYGON_RULES, total=len(cells))
    assert streamed.findings == whole.findings
    assert streamed.counts == whole.counts
    assert whole.counts["invalid"] == 1
    assert whole.counts["empty"] == 2
    assert whole.counts["duplicate"] == 1


def test_per_feature_rules_alone_find_the_same_as_with_all_rules(monkeypatch):
    import labelguard.core.topology.parse as topology

    monkeypatch.setattr(topology, "_PARSE_CHUNK", 5)  # many chunks, dropped as they go
    cells = _mixed_layer()
    alone = run(cells, rules=("invalid", "empty"))
    everything = run(cells)
    keep = {"invalid", "empty"}
    assert alone.findings == tuple(f for f in everything.findings if f.rule in keep)
    assert alone.counts == {"invalid": 1, "empty": 2}


def test_unreadable_blob_in_a_later_batch_names_its_own_feature():
    from labelguard.core.topology import check_topology_batches
    from labelguard.core.wkb import WkbArray

    good = [shapely.to_wkb(g) for g in grid(2)]
    broken = good[0][:20]  # truncated WKB
    batches = [
        (np.array([1, 2]), WkbArray.from_objects(good[:2])),
        (np.array([3, 4, 5]), WkbArray.from_objects([good[2], broken, good[3]])),
    ]
    result = check_topology_batches(batches, ("invalid",))
    assert [(f.rule, f.fid) for f in result.findings] == [("invalid", 4)]
    assert "Invalid geometry" in result.findings[0].message


def test_cancel_stops_reading_further_batches():
    from labelguard.core.topology import check_topology_batches

    read = []
    stop = {"now": False}

    def batches():
        for k in range(5):
            read.append(k)
            stop["now"] = k >= 1
            yield np.array([k]), np.array([shapely.to_wkb(shapely.box(k, 0, k + 1, 1))], object)

    with pytest.raises(Cancelled):
        check_topology_batches(batches(), ("invalid",), should_stop=lambda: stop["now"])
    assert read == [0, 1]


def test_accepted_exceptions_file_next_to_the_data(tmp_path):
    from labelguard.core.topology import ExceptionEntry
    from labelguard.core.topology.exceptions import (
        add_exceptions,
        exceptions_path_for,
        load_exceptions,
    )

    path = exceptions_path_for(tmp_path / "labels.gpkg")
    assert path == tmp_path / "labels.gpkg.labelguard-exceptions.json"
    add_exceptions(path, [ExceptionEntry("overlap", 7, 3, "abc")])
    held = add_exceptions(
        path, [ExceptionEntry("duplicate", 2, 5), ExceptionEntry("overlap", 7, 3, "abc")]
    )
    assert held == [ExceptionEntry("duplicate", 2, 5), ExceptionEntry("overlap", 7, 3, "abc")]
    assert load_exceptions(path) == held
    assert json.loads(path.read_text())["exceptions"][0] == {
        "rule": "duplicate",
        "fid": 2,
        "other_fid": 5,
        "key": "",
    }


def test_finding_keys_stay_what_earlier_releases_wrote():
    # Accepted exceptions are matched by key: these were computed by the 0.1.0 code before
    # build_result was made faster, and must never change.
    geoms = [
        shapely.box(0, 0, 1, 1),
        shapely.box(0.5, 0, 1.5, 1),
        shapely.from_wkt("POLYGON ((0 0, 2 0, 0 2, 2 2, 0 0))"),
        shapely.box(10.00049, 10.0005, 11, 11.12345),
    ]
    result = run(geoms, rules=("invalid", "overlap", "min_area"), min_area=5)
    assert [(f.rule, f.fid, f.key) for f in result.findings] == [
        ("invalid", 3, "c9b0ad0e295058d2"),
        ("overlap", 1, "186cc67fb61f62b7"),
        ("min_area", 1, "a5ebe4d1535bf18a"),
        ("min_area", 2, "3bf6d1b8c51236f3"),
        ("min_area", 4, "a320bfac56f74552"),
    ]
    assert finding_key("gap", 3, None, "POINT (1.2345 -0.0004)", True) == "e79703beb1fa3f8f"
    assert finding_key("gap", 3, 4, None) == "11e83c889ff0f28a"
