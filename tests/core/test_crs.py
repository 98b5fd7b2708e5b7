"""core.crs: CRS description and comparison by meaning, transforms, areas of use, differences."""

from __future__ import annotations

import math

import pyproj
import pytest
from labelguard.core import crs
from labelguard.core.errors import CrsError

WKT1_4326 = pyproj.CRS.from_epsg(4326).to_wkt("WKT1_GDAL")
WKT2_32633 = pyproj.CRS.from_epsg(32633).to_wkt()


def test_describe_crs_identifies_epsg_from_wkt1():
    info = crs.describe_crs(WKT1_4326)
    assert (info.epsg, info.is_geographic, info.is_projected) == (4326, True, False)
    assert info.axis_order == ("north", "east")
    assert info.area_of_use == (-180.0, -90.0, 180.0, 90.0)


@pytest.mark.parametrize("text", ["", "   ", None], ids=["empty", "blank", "none"])
def test_describe_crs_without_crs_raises(text):
    with pytest.raises(CrsError, match="No CRS is defined"):
        crs.describe_crs(text)


def test_describe_crs_uninterpretable_raises():
    with pytest.raises(CrsError, match="PROJ cannot interpret the CRS 'EPSG:999999'"):
        crs.describe_crs("EPSG:999999")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("EPSG:4326", WKT1_4326, True),
        ("EPSG:32633", WKT2_32633, True),
        ("EPSG:32633", "EPSG:32632", False),
        ("EPSG:4326", "OGC:CRS84", False),
    ],
    ids=["4326-wkt1", "32633-wkt2", "utm-zones", "axis-order"],
)
def test_same_crs_compares_by_meaning(a, b, same):
    assert crs.same_crs(a, b) is same


def test_transformer_is_cached_and_east_first():
    t = crs.transformer("EPSG:4326", "EPSG:32633")
    assert t is crs.transformer(WKT1_4326, WKT2_32633)
    x, y = t.transform(15.0, 0.0)
    assert (round(x, 3), round(y, 3)) == (500000.0, 0.0)


def test_densified_ring_is_closed_with_points_per_side():
    ring = crs.densified_ring((0.0, 0.0, 4.0, 2.0), points_per_side=3)
    assert ring == [
        (0.0, 0.0),
        (2.0, 0.0),
        (4.0, 0.0),
        (4.0, 1.0),
        (4.0, 2.0),
        (2.0, 2.0),
        (0.0, 2.0),
        (0.0, 1.0),
        (0.0, 0.0),
    ]


def test_transform_ring_marks_untransformable_points_inf():
    ring = crs.transform_ring("EPSG:32633", "EPSG:4326", (1e9, 5e6, 1.1e9, 5.1e6), 2)
    assert all(math.isinf(x) for x, _ in ring)
    ring = crs.transform_ring("EPSG:32633", "EPSG:4326", (500000, 0, 500000, 0), 2)
    assert [(round(x, 9), round(y, 9)) for x, y in ring][0] == (15.0, 0.0)


def test_projected_area_of_use_in_crs_units():
    box = crs.projected_area_of_use("EPSG:32633")
    assert box is not None
    assert [round(v) for v in box] == [166021, 0, 833979, 9329005]
    assert crs.projected_area_of_use("EPSG:4326") == (-180.0, -90.0, 180.0, 90.0)


def test_projected_area_of_use_none_without_area():
    custom = "+proj=tmerc +lat_0=0 +lon_0=15 +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"
    assert crs.projected_area_of_use(custom) is None


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("EPSG:4326", "EPSG:32633", "geographic (degree) vs projected (metre)"),
        (
            "EPSG:32632",
            "EPSG:32633",
            "Transverse Mercator with different parameters (Longitude of natural origin 9 vs 15)",
        ),
        (
            "EPSG:4258",
            "EPSG:4326",
            "datum European Terrestrial Reference System 1989 vs World Geodetic System 1984",
        ),
        (
            "EPSG:3857",
            "EPSG:32633",
            "projection Popular Visualisation Pseudo Mercator vs Transverse Mercator",
        ),
        ("EPSG:4326", "OGC:CRS84", "axis order north,east vs east,north"),
        (
            "EPSG:2263",
            "EPSG:32618",
            "units US survey foot vs metre; datum North American Datum 1983 vs World Geodetic "
            "System 1984; projection Lambert Conic Conformal (2SP) vs Transverse Mercator",
        ),
        ("EPSG:4326", WKT1_4326, "the same CRS"),
    ],
    ids=["kind", "zone", "datum", "projection", "axes", "units", "same"],
)
def test_crs_difference_says_how(a, b, expected):
    assert crs.crs_difference(a, b) == expected
