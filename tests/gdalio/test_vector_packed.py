"""gdalio.vector's zero-copy Arrow reader gives the same fids and WKB as GDAL's numpy reader."""

from __future__ import annotations

import numpy as np
import pytest
from labelguard.core.geos import shapely
from labelguard.gdalio import vector as vector_io
from labelguard.gdalio.vector import read_ogr
from osgeo import ogr, osr


@pytest.fixture
def mixed_gpkg(tmp_path):
    path = tmp_path / "mixed.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(3857)
    lyr = ds.CreateLayer("labels", srs, ogr.wkbUnknown)
    lyr.CreateField(ogr.FieldDefn("cls", ogr.OFTInteger))
    rng = np.random.default_rng(4)
    for k in range(23):
        feat = ogr.Feature(lyr.GetLayerDefn())
        feat.SetField(0, k % 3)
        if k % 5 != 2:  # every fifth feature has no geometry
            m = int(rng.integers(3, 9))
            ang = np.sort(rng.uniform(0, 2 * np.pi, m))
            geom = shapely.Polygon(np.c_[k + np.cos(ang), np.sin(ang)])
            if k % 4 == 0:
                geom = shapely.MultiPolygon([geom, shapely.box(k + 2, 2, k + 3, 3)])
            feat.SetGeometry(ogr.CreateGeometryFromWkb(shapely.to_wkb(geom)))
        lyr.CreateFeature(feat)
    ds = None
    return path


@pytest.mark.parametrize("where", [None, "cls = 1"])
def test_packed_batches_equal_numpy_batches(mixed_gpkg, where):
    plain = list(read_ogr(str(mixed_gpkg), "labels", where=where, batch_size=4))
    packed = list(read_ogr(str(mixed_gpkg), "labels", where=where, batch_size=4, packed_wkb=True))
    assert len(plain) == len(packed) > 1
    for a, b in zip(plain, packed):
        assert a.fids.tolist() == b.fids.tolist()
        assert list(a.wkb) == list(b.wkb.to_objects())
    nulls = sum(int((b.wkb.lengths == 0).sum()) for b in packed)
    assert nulls == (5 if where is None else 2)  # k = 2, 7, 12, 17, 22; of those k % 3 == 1: 7, 22


def test_packed_reader_is_the_one_used(mixed_gpkg, monkeypatch):
    seen = []
    real = vector_io._arrow_packed_batches

    def spy(*args):
        out = real(*args)
        seen.append(out is not None)
        return out

    monkeypatch.setattr(vector_io, "_arrow_packed_batches", spy)
    list(read_ogr(str(mixed_gpkg), "labels", packed_wkb=True))
    assert seen == [True]


def test_packed_with_attributes_packs_the_numpy_batches(mixed_gpkg):
    plain = list(read_ogr(str(mixed_gpkg), "labels", fields=["cls"], batch_size=8))
    packed = list(
        read_ogr(str(mixed_gpkg), "labels", fields=["cls"], batch_size=8, packed_wkb=True)
    )
    assert [b.columns for b in plain] == [b.columns for b in packed]
    for a, b in zip(plain, packed):
        assert list(a.wkb) == list(b.wkb.to_objects())


def _broken_after(good: int):
    """An Arrow reader that gives ``good`` real batches, then one whose offsets fall."""
    real = vector_io._arrow_packed_batches

    def reader(lyr, batch_size):
        batches = real(lyr, batch_size)

        def gen():
            for k, batch in enumerate(batches):
                if k == good:
                    raise vector_io.InconsistentBatch("geometry offsets of a batch do not rise")
                yield batch

        return gen()

    return reader


def test_an_inconsistent_first_batch_reads_the_layer_through_ogr_features(mixed_gpkg, monkeypatch):
    expected = list(read_ogr(str(mixed_gpkg), "labels", batch_size=4, use_arrow=False))
    monkeypatch.setattr(vector_io, "_arrow_packed_batches", _broken_after(0))
    got = list(read_ogr(str(mixed_gpkg), "labels", batch_size=4, packed_wkb=True))
    assert [b.fids.tolist() for b in got] == [b.fids.tolist() for b in expected]
    assert [list(b.wkb.to_objects()) for b in got] == [list(b.wkb) for b in expected]


def test_an_inconsistent_later_batch_is_a_clear_error(mixed_gpkg, monkeypatch):
    from labelguard.core.errors import Unreadable

    monkeypatch.setattr(vector_io, "_arrow_packed_batches", _broken_after(2))
    with pytest.raises(Unreadable, match="Arrow stream of .*mixed.gpkg' is inconsistent"):
        list(read_ogr(str(mixed_gpkg), "labels", batch_size=4, packed_wkb=True))
