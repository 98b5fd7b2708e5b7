"""core.content: format-independent vector content hashes, feature indexes, raster content."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
from labelguard.core import content
from labelguard.core.content import (
    INDEX_FORMAT_3,
    INDEX_HEADER,
    INDEX_HEADER_WKB,
    MAX_KEPT_WKB,
    RasterHeader,
    VectorContent,
    canonical_attributes,
    normalized_wkb,
    raster_content,
    read_feature_columns,
    read_feature_index,
    vector_content,
    write_feature_index,
)
from labelguard.core.errors import Cancelled, SchemaError
from labelguard.core.geos import shapely
from labelguard.gdalio.vector import VectorBatch, read_ogr
from osgeo import ogr, osr

ogr.UseExceptions()

FIELDS = (
    ("class", ogr.OFTString),
    ("count", ogr.OFTInteger),
    ("score", ogr.OFTReal),
    ("day", ogr.OFTDate),
)
# (WKT, attributes) in UTM metres; coordinates with decimals exercise the rounding.
FEATURES: List[Tuple[Optional[str], Dict[str, Any]]] = [
    (
        "POLYGON ((500000.125 4649776.5, 500010.75 4649776.5, 500010.75 4649790.25, "
        "500000.125 4649790.25, 500000.125 4649776.5))",
        {"class": "building", "count": 3, "score": 0.87, "day": "2024-05-17"},
    ),
    (
        "POLYGON ((500020 4649776, 500030 4649776, 500030 4649786, 500020 4649786, "
        "500020 4649776), (500022 4649778, 500022 4649780, 500024 4649780, 500024 4649778, "
        "500022 4649778))",
        {"class": "pool", "count": 1, "score": 0.123456789012, "day": None},
    ),
    (
        "MULTIPOLYGON (((500040 4649776, 500045 4649776, 500045 4649781, 500040 4649776)), "
        "((500050 4649776, 500055 4649776, 500055 4649781, 500050 4649776)))",
        {"class": "tree", "count": None, "score": -2.5, "day": "2023-12-31"},
    ),
    (
        "POLYGON ((500060 4649776, 500070 4649776, 500070 4649786, 500060 4649776))",
        {"class": 'Ärger "quoted" ✓', "count": 0, "score": 1e-9, "day": "2024-01-01"},
    ),
    (None, {"class": "no geometry", "count": 7, "score": None, "day": None}),
]


def write_layer(
    path: Path,
    driver: str,
    features: Sequence[Tuple[Optional[str], Dict]],
    fields: Sequence[Tuple[str, int]] = FIELDS,
) -> Path:
    ds = ogr.GetDriverByName(driver).CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    options = ["ENCODING=UTF-8"] if driver == "ESRI Shapefile" else []
    lyr = ds.CreateLayer("labels", srs, ogr.wkbUnknown, options=options)
    for name, ftype in fields:
        lyr.CreateField(ogr.FieldDefn(name, ftype))
    for wkt, attrs in features:
        feat = ogr.Feature(lyr.GetLayerDefn())
        if wkt is not None:
            feat.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        for name, value in attrs.items():
            if value is not None:
                feat.SetField(name, value)
        lyr.CreateFeature(feat)
    ds = None
    return path


def layer_content(path: Path, **kwargs) -> VectorContent:
    return vector_content(read_ogr(str(path), all_fields=True), **kwargs)


def rotate_ring(wkt: str) -> str:
    """The same polygon with the exterior ring starting at another vertex and reversed."""
    geom = shapely.from_wkt(wkt)
    coords = list(geom.exterior.coords)[:-1]
    coords = coords[1:] + coords[:1]
    coords.reverse()
    return shapely.Polygon(coords + [coords[0]], [list(r.coords) for r in geom.interiors]).wkt


@pytest.fixture
def gpkg(tmp_path: Path) -> Path:
    return write_layer(tmp_path / "labels.gpkg", "GPKG", FEATURES)


def test_geopackage_and_geojson_hash_the_same(gpkg: Path, tmp_path: Path) -> None:
    geojson = write_layer(tmp_path / "labels.geojson", "GeoJSON", FEATURES)
    a, b = layer_content(gpkg), layer_content(geojson)
    assert a.feature_count == b.feature_count == 5
    assert a.sha256 == b.sha256
    # FIDs differ (GeoPackage counts from 1, GeoJSON from 0) but the rows match otherwise
    assert [r[0] for r in a.index] == [1, 2, 3, 4, 5]
    assert [r[0] for r in b.index] == [0, 1, 2, 3, 4]
    assert [r[1:] for r in a.index] == [r[1:] for r in b.index]


def test_shapefile_hashes_like_geopackage_for_single_polygons(tmp_path: Path) -> None:
    fields = FIELDS[:3]  # no Date field, and no multipolygon or null geometry in a shapefile
    feats = [
        (w, {k: v for k, v in a.items() if k != "day"}) for w, a in FEATURES[:2] + FEATURES[3:4]
    ]
    shp = write_layer(tmp_path / "labels.shp", "ESRI Shapefile", feats, fields)
    gp = write_layer(tmp_path / "labels2.gpkg", "GPKG", feats, fields)
    assert layer_content(shp).sha256 == layer_content(gp).sha256


def test_feature_order_and_ring_start_do_not_matter(gpkg: Path, tmp_path: Path) -> None:
    shuffled = [
        (None if w is None else (rotate_ring(w) if w.startswith("POLYGON") else w), a)
        for w, a in reversed(FEATURES)
    ]
    assert shuffled[1][0] != FEATURES[3][0]
    other = write_layer(tmp_path / "shuffled.gpkg", "GPKG", shuffled)
    assert layer_content(other).sha256 == layer_content(gpkg).sha256


def test_multipolygon_part_order_does_not_matter(tmp_path: Path) -> None:
    a = write_layer(tmp_path / "a.gpkg", "GPKG", [(FEATURES[2][0], {})], ())
    swapped = (
        "MULTIPOLYGON (((500050 4649776, 500055 4649776, 500055 4649781, "
        "500050 4649776)), ((500040 4649776, 500045 4649776, 500045 4649781, "
        "500040 4649776)))"
    )
    b = write_layer(tmp_path / "b.gpkg", "GPKG", [(swapped, {})], ())
    assert layer_content(a).sha256 == layer_content(b).sha256


def _changed(features, i: int, wkt: Optional[str] = None, **attrs) -> list:
    out = list(features)
    w, a = out[i]
    out[i] = (wkt if wkt is not None else w, {**a, **attrs})
    return out


def _diff_rows(a: VectorContent, b: VectorContent) -> List[Tuple[int, bool, bool]]:
    """(fid, geometry changed, attributes changed) for rows that differ, by fid."""
    rb = {r[0]: r for r in b.index}
    return [
        (r[0], r[1] != rb[r[0]][1], r[2] != rb[r[0]][2])
        for r in a.index
        if r[0] in rb and r[1:3] != rb[r[0]][1:3]
    ]


def test_moved_vertex_changes_hash_and_names_the_feature(gpkg: Path, tmp_path: Path) -> None:
    moved = FEATURES[1][0].replace("500030 4649786", "500030 4649786.5")
    other = write_layer(tmp_path / "moved.gpkg", "GPKG", _changed(FEATURES, 1, moved))
    a, b = layer_content(gpkg), layer_content(other)
    assert a.sha256 != b.sha256
    assert _diff_rows(a, b) == [(2, True, False)]


def test_sub_rounding_noise_does_not_change_hash(gpkg: Path, tmp_path: Path) -> None:
    """A difference below 1e-7 CRS units (float noise from a format round trip) is ignored."""
    noisy = FEATURES[1][0].replace("500030 4649786", "500030.00000000003 4649786")
    other = write_layer(tmp_path / "noisy.gpkg", "GPKG", _changed(FEATURES, 1, noisy))
    assert layer_content(other).sha256 == layer_content(gpkg).sha256


def test_changed_attribute_changes_hash_and_names_the_feature(gpkg: Path, tmp_path: Path) -> None:
    other = write_layer(tmp_path / "attr.gpkg", "GPKG", _changed(FEATURES, 3, **{"class": "x"}))
    a, b = layer_content(gpkg), layer_content(other)
    assert a.sha256 != b.sha256
    assert _diff_rows(a, b) == [(4, False, True)]
    assert json.loads(b.index[3][3])["class"] == "x"


def test_deleted_feature_changes_hash(gpkg: Path, tmp_path: Path) -> None:
    other = write_layer(tmp_path / "deleted.gpkg", "GPKG", FEATURES[:2] + FEATURES[3:])
    a, b = layer_content(gpkg), layer_content(other)
    assert b.feature_count == 4
    assert a.sha256 != b.sha256
    assert sorted(r[1:] for r in a.index if r[1:] not in [x[1:] for x in b.index]) == [
        a.index[2][1:]
    ]


def test_duplicated_feature_changes_hash(gpkg: Path, tmp_path: Path) -> None:
    other = write_layer(tmp_path / "dup.gpkg", "GPKG", FEATURES + FEATURES[:1])
    assert layer_content(other).sha256 != layer_content(gpkg).sha256


def test_integer_3_equals_real_3(tmp_path: Path) -> None:
    a = write_layer(tmp_path / "int.gpkg", "GPKG", [(None, {"n": 3})], [("n", ogr.OFTInteger)])
    b = write_layer(
        tmp_path / "real.geojson", "GeoJSON", [(None, {"n": 3.0})], [("n", ogr.OFTReal)]
    )
    assert layer_content(a).index[0][3] == '{"n":3}'
    assert layer_content(a).sha256 == layer_content(b).sha256
    assert canonical_attributes({"n": [3]}, 1) == canonical_attributes({"n": [3.0]}, 1)
    assert canonical_attributes({"n": [3.5]}, 1) == [b'{"n":3.5}']


def test_canonical_attributes_exact_bytes() -> None:
    columns = {
        "zeta": [1, None],
        "fid": [10, 11],
        "OGC_FID": [1, 2],
        "alpha": ["é\t\n", float("nan")],
        "blob": [b"\x00\xff", None],
        "flag": [True, False],
        "big": [2.0**60, 1e-7],
    }
    assert canonical_attributes(columns, 2) == [
        '{"alpha":"é\\t\\n","big":1.152921504606847e+18,"blob":"00ff","flag":true,"zeta":1}'.encode(),
        b'{"alpha":null,"big":1e-07,"blob":null,"flag":false,"zeta":null}',
    ]
    assert canonical_attributes({"fid": [1, 2]}, 2) == [b"{}", b"{}"]


def test_normalized_wkb() -> None:
    square = shapely.from_wkt("POLYGON ((0 0, 0 1, 1 1, 1 0, 0 0))")
    rotated = shapely.from_wkt("POLYGON ((1 1, 1 0, 0 0, 0 1, 1 1))")
    out = normalized_wkb(
        np.array([shapely.to_wkb(square), None, shapely.to_wkb(rotated), b"not wkb"], dtype=object)
    )
    assert out[0] == out[2] == shapely.to_wkb(shapely.normalize(square), byte_order=1, flavor="iso")
    assert out[1] is None
    assert out[3] is None  # unreadable WKB hashes like a null geometry instead of crashing


def test_vector_content_of_batches_exact_digest() -> None:
    wkb = np.array([shapely.to_wkb(shapely.Point(1, 2)), None], dtype=object)
    batch = VectorBatch(np.array([7, 8]), wkb, {"c": ["a", "b"]})
    result = vector_content([batch])
    g = hashlib.sha256(shapely.to_wkb(shapely.Point(1, 2), byte_order=1, flavor="iso"))
    a0, a1 = (hashlib.sha256(b'{"c":"a"}').hexdigest(), hashlib.sha256(b'{"c":"b"}').hexdigest())
    null = hashlib.sha256(b"null").hexdigest()
    f0 = hashlib.sha256(f"{g.hexdigest()}:{a0}".encode()).hexdigest()
    f1 = hashlib.sha256(f"{null}:{a1}".encode()).hexdigest()
    expected = hashlib.sha256(b"labelguard.vector-content/1\n")
    for h in sorted([f0, f1]):
        expected.update(bytes.fromhex(h))
    assert result.sha256 == expected.hexdigest()
    point = shapely.to_wkb(shapely.Point(1, 2), byte_order=1, flavor="iso")
    assert result.index == [
        (7, g.hexdigest(), a0, '{"c":"a"}', point),
        (8, null, a1, '{"c":"b"}', None),
    ]


def test_batching_does_not_change_hash(gpkg: Path) -> None:
    whole = vector_content(read_ogr(str(gpkg), all_fields=True))
    split = vector_content(read_ogr(str(gpkg), all_fields=True, batch_size=2))
    assert split.sha256 == whole.sha256
    assert split.index == whole.index


def test_vector_content_progress_and_cancel(gpkg: Path) -> None:
    seen: list = []
    vector_content(
        read_ogr(str(gpkg), all_fields=True, batch_size=2), progress=seen.append, total=5
    )
    assert seen == [0.4, 0.8, 1.0]
    calls = []
    with pytest.raises(Cancelled, match="Cancelled; nothing was written."):
        vector_content(
            read_ogr(str(gpkg), all_fields=True, batch_size=2),
            should_stop=lambda: len(calls) > 1 or calls.append(1) is not None,
        )


def test_empty_layer(tmp_path: Path) -> None:
    empty = write_layer(tmp_path / "empty.gpkg", "GPKG", [])
    result = layer_content(empty)
    assert result.feature_count == 0
    assert result.sha256 == hashlib.sha256(b"labelguard.vector-content/1\n").hexdigest()


ROWS = [
    (1, "a" * 64, "b" * 64, '{"class":"building"}'),
    (2, "c" * 64, "d" * 64, '{"class":"tab\\tnew\\nline"}'),
    (3, "e" * 64, "f" * 64, '{"class":"line\u2028separator \x85 nel \x1c fs"}'),
]


def _tsv_index(rows: Sequence[Sequence[Any]], with_geometry: bool) -> bytes:
    """A feature index as formats 1 and 2 wrote it (gzip'd TSV; base64 WKB in format 2),
    built here by hand so the old files stay readable whatever the writer does now."""
    header = INDEX_HEADER_WKB if with_geometry else INDEX_HEADER
    lines = [header]
    for r in rows:
        cells = [str(r[0]), r[1], r[2], r[3]]
        if with_geometry:
            cells.append(base64.b64encode(r[4]).decode() if len(r) > 4 and r[4] else "")
        lines.append("\t".join(cells))
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def test_feature_index_bytes_are_deterministic() -> None:
    data = write_feature_index(ROWS)
    assert data == write_feature_index(list(ROWS))
    assert data[:2] == b"\x1f\x8b"
    assert data[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0
    plain = gzip.decompress(data)
    assert plain.startswith(b"labelguard.feature-index/3\n")
    body = plain[len(INDEX_FORMAT_3) :]
    assert body[:8] == (3).to_bytes(8, "little")
    assert body[8:32] == b"".join(i.to_bytes(8, "little") for i in (1, 2, 3))
    assert body[32 : 32 + 32] == b"\xaa" * 32  # raw digests, not hex
    texts = "".join(r[3] + "\n" for r in ROWS).encode()
    assert body[32 + 192 : 32 + 192 + 12] == bytes(12)  # no WKB kept: lengths 0
    assert body[236:244] == len(texts).to_bytes(8, "little")
    assert body[244:] == texts


def test_feature_index_round_trips() -> None:
    assert read_feature_index(write_feature_index(ROWS)) == ROWS
    assert read_feature_index(write_feature_index([])) == []
    assert len(read_feature_columns(write_feature_index([]))) == 0


def test_feature_index_round_trips_real_layer(gpkg: Path) -> None:
    index = layer_content(gpkg).index
    data = write_feature_index(index)
    assert read_feature_index(data, with_geometry=True) == index
    assert read_feature_index(data) == [row[:4] for row in index]
    assert read_feature_columns(data).rows(with_geometry=True) == index
    assert gzip.decompress(data).startswith(INDEX_FORMAT_3)


def test_feature_index_keeps_geometry_within_the_budget() -> None:
    small = shapely.to_wkb(shapely.box(0, 0, 1, 1), byte_order=1, flavor="iso")
    ring = shapely.Point(0, 0).buffer(10, quad_segs=20)  # 81 vertices: over MAX_KEPT_WKB
    batch = VectorBatch(
        np.array([1, 2]), np.array([small, shapely.to_wkb(ring)], dtype=object), {"c": [1, 2]}
    )
    rows = vector_content([batch]).index
    assert len(shapely.to_wkb(shapely.normalize(ring))) > MAX_KEPT_WKB >= len(small)
    assert rows[0][4] == shapely.to_wkb(shapely.normalize(shapely.box(0, 0, 1, 1)), flavor="iso")
    assert hashlib.sha256(rows[0][4]).hexdigest() == rows[0][1]  # the bytes the hash covers
    assert rows[1][4] is None
    back = read_feature_index(write_feature_index(rows), with_geometry=True)
    assert back == rows


def test_first_format_feature_indexes_still_read() -> None:
    legacy = _tsv_index(ROWS, with_geometry=False)  # built before geometry was kept
    assert read_feature_index(legacy) == ROWS
    assert read_feature_index(legacy, with_geometry=True) == [row + (None,) for row in ROWS]
    columns = read_feature_columns(legacy)
    assert not columns.has_geometry()
    assert columns.rows() == ROWS


def test_second_format_feature_indexes_still_read(gpkg: Path) -> None:
    index = layer_content(gpkg).index
    legacy = _tsv_index(index, with_geometry=True)  # gzip'd TSV with base64 WKB
    assert read_feature_index(legacy, with_geometry=True) == index
    columns = read_feature_columns(legacy)
    assert columns.has_geometry()
    assert columns.rows(with_geometry=True) == index
    assert columns.fids.tolist() == [r[0] for r in index]
    assert columns.geometry_hex([0]) == [index[0][1]]
    # rewritten in format 3, the same rows
    assert read_feature_index(write_feature_index(columns), with_geometry=True) == index


def _format_3(rows: Sequence[Sequence[Any]]) -> bytes:
    return gzip.decompress(write_feature_index(rows))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p[: len(INDEX_FORMAT_3) + 4], "it ends before its feature count"),
        (lambda p: p[:100], "it is shorter than its 3 features need"),
        (lambda p: p[:-1], "its attributes column is cut short"),
        (lambda p: p + b"x", "its geometry column does not match its lengths"),
        (lambda p: p[:-2] + b"\xff\n", "its attributes are not UTF-8"),
        (lambda p: p[:-3] + b"\n}\n", "the attributes column does not hold one line per feature"),
        (
            lambda p: p[: len(INDEX_FORMAT_3)] + (10**12).to_bytes(8, "little") + p[40:],
            "it is shorter than its 1000000000000 features need",
        ),
    ],
    ids=["no-count", "short", "cut-text", "trailing", "not-utf8", "extra-line", "huge-count"],
)
def test_a_broken_format_3_index_is_a_schema_error(edit, message: str) -> None:
    data = gzip.compress(edit(_format_3(ROWS)), mtime=0)
    with pytest.raises(
        SchemaError, match=rf"^Feature index 'x' is not a LabelGuard feature index: {message}"
    ):
        read_feature_index(data, "Feature index 'x'")
    with pytest.raises(SchemaError, match=message):
        read_feature_columns(data, "Feature index 'x'")


def test_a_newline_inside_an_attributes_text_is_refused_by_the_writer() -> None:
    with pytest.raises(ValueError, match="one line per feature"):
        write_feature_index([(1, "a" * 64, "b" * 64, '{"a":"x\ny"}')])


@pytest.mark.parametrize(
    "line",
    ["1\t" + "a" * 64 + "\t" + "b" * 64 + "\t{}", "1\t" + "a" * 64 + "\t" + "b" * 64 + "\t{}\t@@"],
    ids=["no geometry column", "not base64"],
)
def test_a_bad_geometry_column_is_a_schema_error(line: str) -> None:
    data = gzip.compress(f"{INDEX_HEADER}\tgeometry_wkb\n{line}\n".encode())
    with pytest.raises(SchemaError, match="line 2 is bad"):
        read_feature_index(data, "Feature index 'x'", with_geometry=True)


HEADER = RasterHeader(
    width=3,
    height=2,
    band_types=("Byte", "Byte"),
    nodata=(0.0, None),
    geotransform=(500000.0, 0.5, 0.0, 4650000.0, 0.0, -0.5),
    crs="EPSG:32633",
)
PIXELS = [bytes([1, 2, 3, 4, 5, 6]), bytes([9, 9, 9, 9, 9, 9])]


def test_raster_header_canonical_bytes() -> None:
    assert HEADER.canonical() == (
        b'{"bands":["Byte","Byte"],"crs":"EPSG:32633","geotransform":["500000.0","0.5","0.0",'
        b'"4650000.0","0.0","-0.5"],"method":"labelguard.raster-content/1","nodata":["0.0",null],'
        b'"size":[3,2]}'
    )


def test_raster_content_exact_digest() -> None:
    expected = hashlib.sha256(HEADER.canonical() + b"".join(PIXELS)).hexdigest()
    assert raster_content(HEADER, PIXELS) == expected
    assert raster_content(HEADER, [b"".join(PIXELS)]) == expected  # block size does not matter


@pytest.mark.parametrize(
    ("header", "pixels"),
    [
        (HEADER, [bytes([1, 2, 3, 4, 5, 7]), PIXELS[1]]),
        (
            RasterHeader(
                3,
                2,
                HEADER.band_types,
                HEADER.nodata,
                (500000.5, 0.5, 0.0, 4650000.0, 0.0, -0.5),
                HEADER.crs,
            ),
            PIXELS,
        ),
        (
            RasterHeader(3, 2, HEADER.band_types, (255.0, None), HEADER.geotransform, HEADER.crs),
            PIXELS,
        ),
        (
            RasterHeader(3, 2, HEADER.band_types, (None, None), HEADER.geotransform, HEADER.crs),
            PIXELS,
        ),
        (
            RasterHeader(3, 2, HEADER.band_types, HEADER.nodata, HEADER.geotransform, "EPSG:32634"),
            PIXELS,
        ),
        (RasterHeader(3, 2, HEADER.band_types, HEADER.nodata, HEADER.geotransform, None), PIXELS),
        (
            RasterHeader(2, 3, HEADER.band_types, HEADER.nodata, HEADER.geotransform, HEADER.crs),
            PIXELS,
        ),
        (
            RasterHeader(3, 2, ("UInt16", "Byte"), HEADER.nodata, HEADER.geotransform, HEADER.crs),
            PIXELS,
        ),
    ],
    ids=[
        "pixel",
        "geotransform",
        "nodata-value",
        "nodata-removed",
        "crs",
        "crs-removed",
        "shape",
        "band-type",
    ],
)
def test_raster_content_changes(header: RasterHeader, pixels: List[bytes]) -> None:
    assert raster_content(header, pixels) != raster_content(HEADER, PIXELS)


def test_raster_content_identical_input_identical_hash() -> None:
    same = RasterHeader(
        3, 2, ("Byte", "Byte"), (0, None), (500000, 0.5, 0, 4650000, 0, -0.5), "EPSG:32633"
    )
    assert raster_content(same, [bytes(b) for b in PIXELS]) == raster_content(HEADER, PIXELS)


def test_raster_nan_nodata_differs_from_no_nodata() -> None:
    nan = RasterHeader(
        3, 2, HEADER.band_types, (float("nan"), None), HEADER.geotransform, HEADER.crs
    )
    none = RasterHeader(3, 2, HEADER.band_types, (None, None), HEADER.geotransform, HEADER.crs)
    assert b'"nodata":["nan",null]' in nan.canonical()
    assert raster_content(nan, PIXELS) != raster_content(none, PIXELS)
    assert (
        nan.canonical()
        == RasterHeader(
            3, 2, HEADER.band_types, (np.float32("nan"), None), HEADER.geotransform, HEADER.crs
        ).canonical()
    )


def test_raster_content_cancel() -> None:
    with pytest.raises(Cancelled, match="Cancelled; nothing was written."):
        raster_content(HEADER, PIXELS, should_stop=lambda: True)


def test_coord_decimals_documented_in_manifest_policy() -> None:
    from labelguard.core.manifest import POLICY

    assert f"1e-{content.COORD_DECIMALS}" in POLICY["content_hash"]


def test_normalized_wkb_keeps_dimension_and_rounds() -> None:
    geoms = [
        shapely.from_wkt("POLYGON ((0 0, 1 0, 1 1, 0 0))"),
        shapely.from_wkt("POINT Z (1.123456789 2 3.123456789)"),
        shapely.from_wkt("LINESTRING (0.00000004 0, 1 1)"),
    ]
    out = normalized_wkb(np.array([shapely.to_wkb(g) for g in geoms], dtype=object))
    back = [shapely.from_wkb(w) for w in out]
    assert [g.has_z for g in back] == [False, True, False]
    assert [g.wkt for g in back] == [
        "POLYGON ((0 0, 1 1, 1 0, 0 0))",
        "POINT Z (1.1234568 2 3.1234568)",
        "LINESTRING (0 0, 1 1)",
    ]


def test_canonical_attributes_plain_python_and_numpy_values_agree() -> None:
    import datetime as dt

    assert canonical_attributes(
        {
            "d": [dt.date(2024, 5, 17)],
            "t": [dt.datetime(2024, 5, 17, 10, 42)],
            "i": [np.int64(3)],
            "f": [np.float32(0.5)],
            "b": [np.bool_(True)],
        },
        1,
    ) == [b'{"b":true,"d":"2024-05-17","f":0.5,"i":3,"t":"2024-05-17T10:42:00"}']


@pytest.mark.parametrize("driver", ["GPKG", "GeoJSON"])
def test_arrow_and_feature_readers_hash_the_same(tmp_path: Path, driver: str) -> None:
    """GDAL >= 3.6 reads through Arrow, older GDAL feature by feature: same content hash."""
    no_date = [(w, {k: v for k, v in a.items() if k != "day"}) for w, a in FEATURES]
    path = write_layer(tmp_path / f"labels.{driver.lower()}", driver, no_date, FIELDS[:3])
    arrow = vector_content(read_ogr(str(path), all_fields=True, use_arrow=True))
    features = vector_content(read_ogr(str(path), all_fields=True, use_arrow=False))
    assert arrow.index == features.index
    assert arrow.sha256 == features.sha256


def test_arrow_and_feature_readers_agree_on_date_fields(tmp_path: Path) -> None:
    path = write_layer(tmp_path / "labels.gpkg", "GPKG", FEATURES)
    arrow = vector_content(read_ogr(str(path), all_fields=True, use_arrow=True))
    features = vector_content(read_ogr(str(path), all_fields=True, use_arrow=False))
    assert [r[3] for r in arrow.index] == [r[3] for r in features.index]
    days = sorted(json.loads(r[3])["day"] or "" for r in arrow.index)
    assert days == ["", "", "2023-12-31", "2024-01-01", "2024-05-17"]
