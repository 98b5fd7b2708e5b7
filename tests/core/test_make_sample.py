"""The sample generator (tools/make_sample.py) is deterministic and makes what it promises."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import pytest

gdal = pytest.importorskip("osgeo.gdal")
ogr = pytest.importorskip("osgeo.ogr")
osr = pytest.importorskip("osgeo.osr")

ROOT = Path(__file__).resolve().parents[2]


def _load_make_sample():
    spec = importlib.util.spec_from_file_location(
        "labelguard_make_sample", ROOT / "tools" / "make_sample.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up by name while the class body is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make_sample = _load_make_sample()


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """The sample generated twice into separate folders."""
    out = []
    for run in ("a", "b"):
        base = tmp_path_factory.mktemp(f"sample_{run}")
        out.append(make_sample.generate(base / "data", base / "v2"))
    return out


def _features(path: Path) -> dict[int, tuple]:
    ds = ogr.Open(str(path))
    layer = ds.GetLayer(0)
    rows = {}
    for feat in layer:
        rows[feat.GetField("id")] = (
            feat.GetField("class"),
            feat.GetField("annotator"),
            feat.GetField("reviewed_at"),
            feat.GetGeometryRef().ExportToIsoWkt(),
        )
    return rows


def _pixels_sha256(path: Path) -> str:
    ds = gdal.Open(str(path))
    digest = hashlib.sha256()
    for b in range(1, ds.RasterCount + 1):
        digest.update(ds.GetRasterBand(b).ReadAsArray().tobytes())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


FILES = ("raster", "gpkg", "geojson", "v2_gpkg", "v2_geojson")


@pytest.mark.parametrize("name", FILES)
def test_two_runs_write_identical_bytes(samples, name):
    a, b = samples
    assert _file_sha256(getattr(a, name)) == _file_sha256(getattr(b, name))


def test_two_runs_give_identical_pixels_and_features(samples):
    a, b = samples
    assert _pixels_sha256(a.raster) == _pixels_sha256(b.raster)
    assert _features(a.gpkg) == _features(b.gpkg)
    assert _features(a.v2_gpkg) == _features(b.v2_gpkg)


def test_another_seed_gives_other_pixels(tmp_path, samples):
    other = make_sample.generate(tmp_path / "data", tmp_path / "v2", seed=1)
    assert _pixels_sha256(other.raster) != _pixels_sha256(samples[0].raster)


def test_raster_is_a_utm_multiband_orthophoto_with_offsetless_time(samples):
    ds = gdal.Open(str(samples[0].raster))
    assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (1024, 1024, 4)
    assert ds.GetRasterBand(1).DataType == gdal.GDT_Byte
    srs = osr.SpatialReference(wkt=ds.GetProjection())
    assert srs.GetAuthorityCode(None) == "32633"
    assert ds.GetGeoTransform() == (600000.0, 0.5, 0.0, 5340512.0, 0.0, -0.5)
    meta = ds.GetMetadata()
    assert meta["TIFFTAG_DATETIME"] == "2024:05:17 10:42:00"
    assert meta["ACQUISITION_DATETIME"] == "2024-05-17T10:42:00"
    descriptions = [ds.GetRasterBand(b).GetDescription() for b in range(1, 5)]
    assert descriptions == ["Red", "Green", "Blue", "NIR"]
    assert ds.GetRasterBand(4).GetNoDataValue() == 0


def test_image_is_textured_not_flat(samples):
    ds = gdal.Open(str(samples[0].raster))
    red = ds.GetRasterBand(1).ReadAsArray()
    assert red.min() >= 1  # 0 is nodata
    assert len(set(red.ravel().tolist())) > 100


def test_labels_line_up_with_the_image(samples):
    """Water is dark in NIR and trees are bright, at their annotated centroids."""
    ds = gdal.Open(str(samples[0].raster))
    nir = ds.GetRasterBand(4).ReadAsArray()
    x0, px, _, y0, _, py = ds.GetGeoTransform()
    vector = ogr.Open(str(samples[0].gpkg))  # the layer lives only as long as its dataset
    layer = vector.GetLayer(0)
    values: dict[str, list[int]] = {"water": [], "tree": []}
    for feat in layer:
        cls = feat.GetField("class")
        if cls in values:
            point = feat.GetGeometryRef().Centroid()
            col, row = int((point.GetX() - x0) / px), int((point.GetY() - y0) / py)
            values[cls].append(int(nir[row, col]))
    assert values["water"]
    assert max(values["water"]) < 40
    assert min(values["tree"]) > 120


def test_annotations_have_the_promised_schema_and_counts(samples):
    info = samples[0]
    ds = ogr.Open(str(info.gpkg))
    assert ds.GetLayerCount() == 1
    layer = ds.GetLayerByName("annotations")
    assert layer is not None
    assert ogr.GT_Flatten(layer.GetGeomType()) == ogr.wkbPolygon
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "32633"
    defn = layer.GetLayerDefn()
    fields = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    assert fields == ["id", "class", "annotator", "reviewed_at"]
    rows = _features(info.gpkg)
    assert len(rows) == info.v1_count == 207
    assert {r[0] for r in rows.values()} == {"building", "tree", "water", "field"}
    assert info.class_counts == {"building": 58, "tree": 128, "water": 1, "field": 20}


def test_geojson_holds_the_same_features_as_the_geopackage(samples):
    info = samples[0]
    assert _features(info.geojson) == _features(info.gpkg)
    assert _features(info.v2_geojson) == _features(info.v2_gpkg)


def _geometry(path: Path, fid: int):
    ds = ogr.Open(str(path))
    layer = ds.GetLayer(0)
    layer.SetAttributeFilter(f"id = {fid}")
    feat = layer.GetNextFeature()
    return feat.GetGeometryRef().Clone()


def test_defect_list_names_each_defect_once_with_real_ids(samples):
    info = samples[0]
    kinds = [kind for kind, _, _ in info.defects]
    assert kinds == ["self_intersection", "duplicate", "overlap", "sliver"]
    assert kinds == [kind for kind, _ in make_sample.DEFECTS]
    by_kind = {kind: ids for kind, ids, _ in info.defects}
    assert by_kind == {
        "self_intersection": [31],
        "duplicate": [83, 205],
        "overlap": [41, 206],
        "sliver": [207],
    }
    assert not _geometry(info.gpkg, 31).IsValid()
    a, b = (_geometry(info.gpkg, i) for i in by_kind["duplicate"])
    assert a.Equals(b)
    a, b = (_geometry(info.gpkg, i) for i in by_kind["overlap"])
    assert a.Overlaps(b)
    assert _geometry(info.gpkg, 207).GetArea() == pytest.approx(4.0, abs=0.01)


def test_only_the_defects_are_broken(samples):
    """Apart from the listed defects, the v1 polygons are valid and pairwise disjoint."""
    info = samples[0]
    defect_ids = {i for _, ids, _ in info.defects for i in ids}
    ds = ogr.Open(str(info.gpkg))
    layer = ds.GetLayer(0)
    geoms = {
        f.GetField("id"): f.GetGeometryRef().Clone()
        for f in layer
        if f.GetField("id") not in defect_ids
    }
    assert all(g.IsValid() for g in geoms.values())
    assert min(g.GetArea() for g in geoms.values()) > 10.0
    union_area = ogr.Geometry(ogr.wkbMultiPolygon)
    for g in geoms.values():
        union_area.AddGeometry(g)
    assert union_area.UnionCascaded().GetArea() == pytest.approx(
        sum(g.GetArea() for g in geoms.values()), rel=1e-9
    )


def test_v2_applies_exactly_the_listed_changes(samples):
    info = samples[0]
    v1, v2 = _features(info.gpkg), _features(info.v2_gpkg)
    added = sorted(set(v2) - set(v1))
    removed = sorted(set(v1) - set(v2))
    geometry = sorted(i for i in set(v1) & set(v2) if v1[i][3] != v2[i][3])
    attributes = sorted(i for i in set(v1) & set(v2) if v1[i][:3] != v2[i][:3])
    expected = {
        kind: sorted(fid for k, fid, _ in info.v2_changes if k == kind)
        for kind in ("added", "removed", "geometry_changed", "attributes_changed")
    }
    assert expected == {
        "added": [208, 209, 210],
        "removed": [205, 207],
        "geometry_changed": [24, 31, 51],
        "attributes_changed": [15],
    }
    assert (added, removed, geometry, attributes) == (
        expected["added"],
        expected["removed"],
        expected["geometry_changed"],
        expected["attributes_changed"],
    )
    assert (v1[15][0], v2[15][0]) == ("field", "water")
    assert len(v2) == info.v2_count == 208


def test_cli_prints_the_defect_list(tmp_path, capsys):
    assert make_sample.main([str(tmp_path / "data"), "--v2", str(tmp_path / "v2")]) == 0
    out = capsys.readouterr().out
    assert "self_intersection  id 31" in out
    assert "sliver             id 207" in out
    assert "attributes_changed id 15" in out
    assert (tmp_path / "v2" / "annotations.gpkg").is_file()
