"""Which polygons the overlap rules intersect exactly (``pairs.confirmed_suspects``).

Lone unbalanced segments (the outer edge of a coverage, a lake, a scattered object) are left
out unless they meet another polygon; every overlapping pair must still be found. The cases
below are the ones a shortcut of this kind gets wrong, each checked against every pair
intersected the plain way.
"""

from __future__ import annotations

import numpy as np
import pytest
from labelguard.core.geos import shapely
from labelguard.core.topology import check_topology
from labelguard.core.topology import pairs as topology_pairs


def cells(n: int, size: float = 1.0, x0: float = 0.0, y0: float = 0.0) -> list:
    return [
        shapely.box(x0 + i * size, y0 + j * size, x0 + (i + 1) * size, y0 + (j + 1) * size)
        for i in range(n)
        for j in range(n)
    ]


def lake_cell(x: float, y: float, size: float = 10.0) -> shapely.Polygon:
    hole = [(x + 4, y + 4), (x + 4, y + 6), (x + 6, y + 6), (x + 6, y + 4)]
    return shapely.Polygon(shapely.box(x, y, x + size, y + size).exterior.coords, [hole])


def brute_pairs(geoms: list) -> list[tuple[int, int]]:
    """Every pair (fid, fid) whose intersection has an area, tested one by one."""
    arr = np.array(geoms, dtype=object)
    a, b = shapely.STRtree(arr).query(arr)
    keep = a < b
    a, b = a[keep], b[keep]
    hit = shapely.area(shapely.intersection(arr[a], arr[b])) > 0
    return sorted(zip((a[hit] + 1).tolist(), (b[hit] + 1).tolist()))


def found_pairs(geoms: list) -> list[tuple[int, int]]:
    arr = np.array(geoms, dtype=object)
    result = check_topology(np.arange(1, len(arr) + 1), arr, ("overlap",), max_pair_findings=0)
    return sorted((f.fid, f.other_fid) for f in result.findings)


def suspects(geoms: list) -> np.ndarray:
    arr = np.array(geoms, dtype=object)
    balance = topology_pairs._edge_balance(arr)
    return topology_pairs.confirmed_suspects(arr, balance, shapely.STRtree(arr))


def test_lakes_and_the_outer_edge_of_a_coverage_are_no_suspects():
    layer = [lake_cell(10 * i, 10 * j) for i in range(4) for j in range(4)]
    arr = np.array(layer, dtype=object)
    balance = topology_pairs._edge_balance(arr)
    assert balance.suspect.all()  # every cell has a lake or an outer edge
    assert not suspects(layer).any()
    assert found_pairs(layer) == []


def test_the_outer_edge_is_cleared_objects_stay_suspects():
    lone = [shapely.box(100 + 3 * k, 0, 101 + 3 * k, 1) for k in range(5)]
    on_cell = shapely.box(0.2, 0.2, 0.6, 0.6)  # inside cell 1
    layer = cells(3) + lone + [on_cell]
    # The border cells are cleared; objects (no balanced segment) are left to the first round.
    assert suspects(layer).tolist() == [False] * 9 + [True] * 6
    assert found_pairs(layer) == brute_pairs(layer) == [(1, 15)]


def test_an_island_filling_its_lake_exactly_is_no_overlap_a_larger_one_is():
    lake = lake_cell(0, 0)
    exact = shapely.box(4, 4, 6, 6)
    larger = shapely.box(3.9, 4, 6, 6)
    assert found_pairs([lake, exact]) == []
    assert found_pairs([lake, larger]) == brute_pairs([lake, larger]) == [(1, 2)]


def test_a_copy_with_other_vertices_is_found_although_no_segment_is_doubled():
    # The copy of cell 5 has a vertex in the middle of every edge: none of its segments equals
    # one of the cell's, and all of them lie on the boundaries of the cell and its neighbours.
    layer = cells(3)
    x, y = 1.0, 1.0
    copy = shapely.Polygon(
        [(x, y), (x + 0.5, y), (x + 1, y), (x + 1, y + 0.5), (x + 1, y + 1), (x + 0.5, y + 1)]
        + [(x, y + 1), (x, y + 0.5)]
    )
    assert shapely.equals(copy, layer[4])
    layer.append(copy)
    assert found_pairs(layer) == brute_pairs(layer) == [(5, 10)]
    arr = np.array(layer, dtype=object)
    result = check_topology(np.arange(1, 11), arr, ("duplicate", "near_duplicate", "overlap"))
    assert [(f.rule, f.fid, f.other_fid) for f in result.findings] == [("near_duplicate", 5, 10)]


def test_an_object_with_an_edge_along_a_cell_edge_is_found():
    # A building inside cell 5 whose bottom edge lies on the cell's bottom edge, with other
    # vertices: its segments meet the cell only along its boundary and inside it.
    layer = cells(3) + [shapely.box(1.2, 1.0, 1.6, 1.5)]
    assert found_pairs(layer) == brute_pairs(layer) == [(5, 10)]


def test_two_stacked_coverages_overlap_everywhere_inside():
    # Every inner segment of both coverages is balanced; only the outer edges are unbalanced,
    # and they run along each other. The overlaps inside are found by walking from the edge.
    a = cells(4)
    b = [
        shapely.Polygon([(0, y0), (4, y0), (4, y0 + 1), (0, y0 + 1)]) for y0 in (0.0, 1.0, 2.0, 3.0)
    ]  # four strips with vertices only at x = 0 and 4
    layer = a + b
    expected = brute_pairs(layer)
    assert len(expected) == 16
    assert found_pairs(layer) == expected


@pytest.mark.parametrize("seed", range(6))
def test_random_coverages_with_lakes_and_objects_match_every_pair_intersected(seed):
    rng = np.random.default_rng(seed)
    layer = []
    for i in range(6):
        for j in range(6):
            if rng.random() < 0.3:
                layer.append(lake_cell(10 * i, 10 * j))
            else:
                layer.append(shapely.box(10 * i, 10 * j, 10 * i + 10, 10 * j + 10))
    for _ in range(25):  # objects: inside a cell, across cells, on edges, in lakes, outside
        x, y = rng.choice([0.0, 2.5, 4.0, 5.0, 10.0, 58.0], 2) + rng.integers(0, 6, 2) * 10
        w, h = rng.choice([0.5, 1.0, 2.0, 6.0], 2)
        layer.append(shapely.box(x, y, x + w, y + h))
    layer.append(shapely.box(70, 70, 75, 75))  # a lone object
    assert found_pairs(layer) == brute_pairs(layer)


def test_findings_are_the_same_whether_intersections_are_kept_or_computed_again(monkeypatch):
    rng = np.random.default_rng(11)
    layer = cells(6, size=10.0)
    for _ in range(60):
        x, y = rng.uniform(0, 55, 2)
        layer.append(shapely.box(x, y, x + rng.uniform(1, 12), y + rng.uniform(1, 12)))
    arr = np.array(layer, dtype=object)
    rules = ("duplicate", "near_duplicate", "overlap", "contained")

    def findings():
        result = check_topology(np.arange(1, len(arr) + 1), arr, rules, max_pair_findings=3)
        return [(f.rule, f.fid, f.other_fid, f.message, f.wkt) for f in result.findings]

    kept = findings()
    monkeypatch.setattr(topology_pairs, "_KEPT_PIECES", 0)
    assert findings() == kept
    assert sum(rule == "overlap" for rule, *_ in kept) > 50
