"""diff_features without an ID field: checked stable keys, else geometry matching by IoU."""

from __future__ import annotations

import random
import uuid
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest
from labelguard.core import diff as diff_mod
from labelguard.core.content import read_feature_columns, vector_content, write_feature_index
from labelguard.core.diff import diff_features
from labelguard.core.errors import Cancelled, InputError
from labelguard.core.geos import shapely
from labelguard.gdalio.vector import VectorBatch

Feature = Tuple[Any, Dict[str, Any]]  # shapely geometry, attributes


def _index(features: List[Feature], fids: Optional[List[int]] = None, legacy: bool = False):
    fids = fids if fids is not None else list(range(1, len(features) + 1))
    wkb = np.array([shapely.to_wkb(g) for g, _ in features], dtype=object)
    names = sorted({k for _, a in features for k in a})
    columns = {n: [a.get(n) for _, a in features] for n in names}
    rows = vector_content([VectorBatch(np.array(fids), wkb, columns)]).index
    return [r[:4] for r in rows] if legacy else rows


def _grid(n: int = 40, extra: Optional[Dict[str, List[Any]]] = None) -> List[Feature]:
    out = []
    for i in range(n):
        x, y = (i % 8) * 20.0, (i // 8) * 20.0
        attrs = {"class": "building" if i % 2 else "tree", "note": f"n{i}"}
        for name, values in (extra or {}).items():
            attrs[name] = values[i]
        out.append((shapely.box(x, y, x + 10, y + 10), attrs))
    return out


def _edited(base: List[Feature]) -> List[Feature]:
    """base with known edits; returns the head features in base order (None: deleted)."""
    head: List[Any] = [(g, dict(a)) for g, a in base]
    for i in (1, 2, 3):  # moved by 2: IoU 80/120
        head[i] = (shapely.affinity.translate(base[i][0], 2, 0), head[i][1])
    for i in (4, 5):  # reshaped: one side 3 longer, IoU 100/130
        x0, y0, x1, y1 = base[i][0].bounds
        head[i] = (shapely.box(x0, y0, x1 + 3, y1), head[i][1])
    for i in (6, 7):  # reclassified in place
        head[i][1]["class"] = "shrub"
    head[8] = (shapely.affinity.translate(base[8][0], 1, 0), {**head[8][1], "class": "shrub"})
    head[9] = None  # deleted
    head[10] = None
    head[11] = (shapely.affinity.translate(base[11][0], 8, 0), head[11][1])  # IoU 20/180
    return head


def _shuffled_resave(head: List[Any], new: List[Feature], seed: int = 3):
    """Head features (deleted dropped, new appended) in shuffled order with fids 1..n."""
    kept = [f for f in head if f is not None] + new
    random.Random(seed).shuffle(kept)
    return kept


NEW = [
    (shapely.box(500 + 20 * k, 500, 510 + 20 * k, 510), {"class": "tree", "note": "new"})
    for k in range(3)
]


def test_shuffled_resaved_layer_is_matched_by_geometry_with_exact_counts() -> None:
    base = _grid()
    head = _shuffled_resave(_edited(base), NEW)
    result = diff_features(_index(base), _index(head), stable_fid=True)
    assert result.matching == "geometry"
    assert result.key == "class"
    assert result.note.startswith(
        "matched by geometry (IoU >= 0.5, same class ('class') first, then any class, "
        "one-to-one): no stable key (not kept: fid ("
    )
    assert result.counts() == {
        "added": 4,  # 3 new + the one moved too far
        "removed": 3,  # 2 deleted + the one moved too far
        "unchanged": 29,
        "geometry_changed": 5,
        "attributes_changed": 2,
        "both_changed": 1,
    }
    base_rows = {r[0]: r for r in _index(base)}
    by_base_note: Dict[str, Any] = {}
    for c in result.changes:
        if c.base_fid is not None:
            note = base[c.base_fid - 1][1]["note"]
            by_base_note[note] = (
                c.status,
                c.changed_fields,
                None if c.iou is None else round(c.iou, 3),
            )
    assert by_base_note["n1"] == ("geometry_changed", (), 0.667)
    assert by_base_note["n4"] == ("geometry_changed", (), 0.769)
    assert by_base_note["n6"] == ("attributes_changed", ("class",), 1.0)
    assert by_base_note["n8"] == ("both_changed", ("class",), 0.818)
    assert by_base_note["n11"] == ("removed", (), None)
    assert by_base_note["n0"] == ("unchanged", (), 1.0)
    assert len(base_rows) == 40


def test_without_a_class_field_any_class_matches() -> None:
    base = [(g, {"note": a["note"]}) for g, a in _grid(10)]
    head = [(shapely.affinity.translate(g, 1, 0), dict(a)) for g, a in base]
    result = diff_features(_index(base), _index(list(reversed(head))))
    assert result.matching == "geometry"
    assert result.key is None
    assert result.counts()["geometry_changed"] == 10
    assert "no class field" in result.note


def test_one_to_one_best_iou_first() -> None:
    # two base squares, one head square overlapping both: it pairs with the better one only
    base = [(shapely.box(0, 0, 10, 10), {"c": 1}), (shapely.box(3, 0, 13, 10), {"c": 1})]
    head = [(shapely.box(2, 0, 12, 10), {"c": 1})]
    result = diff_features(_index(base), _index(head), class_field="c")
    pairs = sorted((c.status, c.base_fid, c.head_fid, round(c.iou or 0, 3)) for c in result.changes)
    assert pairs == [("geometry_changed", 2, 1, 0.818), ("removed", 1, None, 0.0)]


def test_kept_geopackage_fid_is_the_key() -> None:
    base = _grid()
    head = _edited(base)
    fids = [i + 1 for i, f in enumerate(head) if f is not None]
    rows = _index([f for f in head if f is not None], fids)
    result = diff_features(_index(base), rows, stable_fid=True)
    assert result.matching == "fid"
    assert result.note == (
        "matched by fid: the GeoPackage fid is kept between the versions (31 of 31 features "
        "with an unchanged geometry keep their fid)"
    )
    counts = result.counts()
    assert (counts["removed"], counts["added"], counts["geometry_changed"]) == (2, 0, 6)
    assert next(c for c in result.changes if c.base_fid == 12).status == "geometry_changed"


def test_fid_is_not_a_key_for_other_formats() -> None:
    base = _grid(8)
    result = diff_features(_index(base), _index(base), stable_fid=False)
    assert result.matching == "geometry"
    assert result.counts()["unchanged"] == 8


def test_uuid_field_kept_between_versions_is_the_key() -> None:
    ids = [str(uuid.UUID(int=i)) for i in range(40)]
    base = _grid(extra={"guid_text": ids})
    head = _shuffled_resave(_edited(base), [])
    result = diff_features(_index(base), _index(head), stable_fid=True)
    assert (result.matching, result.key) == ("key_field", "guid_text")
    counts = result.counts()
    assert (counts["removed"], counts["geometry_changed"], counts["both_changed"]) == (2, 6, 1)
    moved_far = next(c for c in result.changes if c.feature_id == ids[11])
    assert moved_far.status == "geometry_changed"


def test_renumbered_id_and_a_unique_count_are_not_keys() -> None:
    base = _grid(extra={"id": list(range(40)), "area_cm": list(range(100, 140))})
    head = _shuffled_resave(_edited(base), [])
    for n, (_, attrs) in enumerate(head):  # the id is rewritten in the new order
        attrs["id"] = n
    result = diff_features(_index(base), _index(head))
    assert result.matching == "geometry"
    assert "not kept: 'id' (" in result.note
    assert "area_cm" not in result.note


def test_legacy_indexes_without_geometry_match_by_content_and_say_why() -> None:
    base = _grid(20)
    head = _shuffled_resave(_edited(base), [])
    result = diff_features(_index(base, legacy=True), _index(head, legacy=True))
    assert result.matching == "content"
    assert "keep no geometry" in result.note
    counts = result.counts()
    assert (counts["unchanged"], counts["attributes_changed"]) == (9, 2)
    assert (counts["removed"], counts["added"]) == (9, 7)


def test_geometries_from_elsewhere_fill_a_legacy_index() -> None:
    base = _grid(10)
    head = [(shapely.affinity.translate(g, 1, 0), a) for g, a in base]
    wkb = {i + 1: shapely.to_wkb(g) for i, (g, _) in enumerate(base)}
    head_wkb = {i + 1: shapely.to_wkb(g) for i, (g, _) in enumerate(head)}
    result = diff_features(
        _index(base, legacy=True), _index(head, legacy=True), base_wkb=wkb, head_wkb=head_wkb
    )
    assert result.matching == "geometry"
    assert result.counts()["geometry_changed"] == 10


def test_bad_threshold_and_cancel() -> None:
    rows = _index(_grid(4))
    with pytest.raises(InputError, match=r"IoU threshold 0 is not in \(0, 1\]"):
        diff_features(rows, rows, iou_threshold=0)
    with pytest.raises(Cancelled):
        diff_features(rows, rows, should_stop=lambda: True)


# --- the column path gives what the row path gives --------------------------------------


def _row_path(base_rows, head_rows, **kw: Any):
    """The diff by the row-by-row implementation (the reference the column path replaces)."""
    b = diff_mod._Side(base_rows, "the base version", None)
    h = diff_mod._Side(head_rows, "the head version", None)
    return diff_mod._diff_rows(
        b,
        h,
        None,
        kw.get("stable_fid", False),
        kw.get("iou_threshold", 0.5),
        kw.get("class_field"),
        None,
        None,
    )


def _random_layers(seed: int, class_values: List[Any]):
    """Overlapping squares with duplicates, null geometries and every kind of edit."""
    rng = random.Random(seed)
    base: List[Feature] = []
    for i in range(300):
        x, y = rng.uniform(0, 200), rng.uniform(0, 200)
        s = rng.uniform(2, 8)
        geom = None if i % 97 == 5 else shapely.box(x, y, x + s, y + s)
        base.append((geom, {"class": rng.choice(class_values), "note": f"n{i % 250}"}))
    base += [base[3], base[3], (base[7][0], {"class": class_values[0], "note": "dup"})]
    bowtie = shapely.Polygon([(50, 50), (60, 60), (60, 50), (50, 60)])  # invalid: made valid
    concave = shapely.Polygon([(80, 80), (90, 80), (90, 90), (85, 84), (80, 90)])
    base += [(bowtie, {"class": class_values[0]}), (concave, {"class": class_values[0]})]
    head: List[Feature] = []
    for g, a in base:
        r = rng.random()
        a = dict(a)
        if r < 0.1:
            continue  # deleted
        if g is not None and r < 0.35:
            g = shapely.affinity.translate(g, rng.uniform(-3, 3), rng.uniform(-3, 3))
        elif g is not None and r < 0.45:
            g = shapely.affinity.scale(g, rng.uniform(0.7, 1.4), 1.0)
        if r > 0.85:
            a["class"] = rng.choice(class_values)
        if r > 0.95:
            a["note"] = "edited"
        head.append((g, a))
    head += [
        (shapely.box(300 + k, 300, 301 + k, 301), {"class": class_values[0]}) for k in range(5)
    ]
    head += [head[10], head[10]]
    head += [(shapely.affinity.translate(g, 0.5, 0), a) for g, a in base[-2:]]
    rng.shuffle(head)
    return base, head


@pytest.mark.parametrize(
    ("seed", "classes", "kw"),
    [
        (1, ["building", "tree", "road"], {}),
        (2, ["building", None], {"iou_threshold": 0.3}),
        (3, [1, 2.0, True, "x"], {"class_field": "class"}),  # compared pair by pair
        (4, ["a", "b"], {"class_field": "note", "stable_fid": True}),
        (5, ["a"], {"iou_threshold": 1.0}),
    ],
)
def test_the_column_path_gives_the_row_path_result(seed: int, classes, kw) -> None:
    base, head = _random_layers(seed, classes)
    b_rows, h_rows = _index(base), _index(head)
    assert diff_mod._as_columns(b_rows) is not None  # so the column path is the one tested
    fast = diff_features(b_rows, h_rows, **kw)
    slow = _row_path(b_rows, h_rows, **kw)
    assert (fast.matching, fast.key, fast.note) == (slow.matching, slow.key, slow.note)
    assert fast.matching == "geometry"
    assert fast.changes == slow.changes
    assert [type(c.iou) for c in fast.changes] == [type(c.iou) for c in slow.changes]
    counts = fast.counts()
    assert counts["added"]
    assert counts["removed"]
    assert counts["attributes_changed"] + counts["both_changed"]
    assert bool(counts["geometry_changed"]) == (kw.get("iou_threshold", 0.5) < 1.0)


def test_the_column_path_reads_format_3_indexes_as_written() -> None:
    base, head = _random_layers(6, ["building", "tree"])
    b_rows, h_rows = _index(base), _index(head)
    b_cols = read_feature_columns(write_feature_index(b_rows))
    h_cols = read_feature_columns(write_feature_index(h_rows))
    marks: List[float] = []
    result = diff_features(b_cols, h_cols, progress=marks.append)
    assert result.changes == _row_path(b_rows, h_rows).changes
    assert marks[-1] == 1.0
    assert marks == sorted(marks)


def test_the_column_path_finds_the_same_stable_keys() -> None:
    base = _grid(extra={"id": list(range(40))})
    head = _edited(base)
    kept = [f for f in head if f is not None]
    fids = [i + 1 for i, f in enumerate(head) if f is not None]
    b_cols = read_feature_columns(write_feature_index(_index(base)))
    h_cols = read_feature_columns(write_feature_index(_index(kept, fids)))
    for stable_fid, key in ((True, "fid"), (False, "id")):
        result = diff_features(b_cols, h_cols, stable_fid=stable_fid)
        assert (result.matching, result.key) == ("fid" if stable_fid else "key_field", key)
        slow = _row_path(_index(base), _index(kept, fids), stable_fid=stable_fid)
        assert (result.note, result.changes) == (slow.note, slow.changes)


def test_duplicate_fids_take_the_row_path() -> None:
    rows = _index(_grid(6))
    dup = rows[:3] + [(rows[2][0],) + tuple(rows[3][1:])] + rows[4:]
    assert diff_mod._as_columns(dup) is None
    result = diff_features(rows, dup)
    assert result.changes == _row_path(rows, dup).changes
