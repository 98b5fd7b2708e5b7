"""core.crs normalization as sidecars and manifests use it: EPSG, WKT2, axis order, area."""

from __future__ import annotations

import pytest
from labelguard.core.crs import CrsInfo, describe_crs, same_crs
from labelguard.core.errors import CrsError
from osgeo import osr

TMERC = (
    "+proj=tmerc +lat_0=0 +lon_0=15.5 +k=0.9996 +x_0=500000 +y_0=0 +datum=WGS84 +units=m +no_defs"
)


def _gdal_wkt1(epsg: int) -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


@pytest.mark.parametrize(
    "crs",
    [
        "EPSG:32633",
        "epsg:32633",
        "+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs",
        _gdal_wkt1(32633),
    ],
    ids=["authid", "lower-case", "proj-string", "gdal-wkt1"],
)
def test_same_crs_written_differently_normalizes_to_one_description(crs: str) -> None:
    info = describe_crs(crs)
    assert info == describe_crs("EPSG:32633")
    assert (info.epsg, info.name, info.units, info.axis_order) == (
        32633,
        "WGS 84 / UTM zone 33N",
        "metre",
        ("east", "north"),
    )
    assert info.is_projected
    assert not info.is_geographic
    assert info.area_of_use == (12.0, 0.0, 18.0, 84.0)
    assert info.wkt2.startswith('PROJCRS["WGS 84 / UTM zone 33N",')
    assert 'ID["EPSG",32633]' in info.wkt2


def test_geographic_axis_order_is_recorded() -> None:
    info = describe_crs("EPSG:4326")
    assert (info.epsg, info.is_geographic, info.units, info.axis_order) == (
        4326,
        True,
        "degree",
        ("north", "east"),
    )
    assert info.to_dict()["kind"] == "geographic"


def test_custom_crs_has_no_epsg() -> None:
    info = describe_crs(TMERC)
    assert info.epsg is None
    assert info.authid is None
    assert info.to_dict()["epsg"] is None
    assert info.to_dict()["kind"] == "projected"


def test_to_dict_key_order_and_rounding() -> None:
    d = describe_crs("EPSG:32633").to_dict()
    assert list(d) == ["epsg", "name", "kind", "units", "axis_order", "area_of_use", "wkt2"]
    assert list(d["area_of_use"]) == ["west", "south", "east", "north", "name"]
    assert d["axis_order"] == ["east", "north"]


def test_describe_is_idempotent_on_its_own_wkt2() -> None:
    info = describe_crs("EPSG:32633")
    assert describe_crs(info.wkt2) == info
    assert describe_crs(info) is info
    custom = describe_crs(TMERC)
    assert describe_crs(custom.wkt2).wkt2 == custom.wkt2


def test_same_crs() -> None:
    assert same_crs(_gdal_wkt1(32633), "EPSG:32633")
    assert same_crs(describe_crs("EPSG:32633"), describe_crs("EPSG:32633").wkt2)
    assert not same_crs("EPSG:32633", "EPSG:32634")
    assert same_crs(TMERC, describe_crs(TMERC).wkt2)
    assert not same_crs(TMERC, TMERC.replace("+lon_0=15.5", "+lon_0=15"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"^No CRS is defined\.$"),
        ("   ", r"^No CRS is defined\.$"),
        ("garbage", r"^PROJ cannot interpret the CRS 'garbage'"),
    ],
    ids=["empty", "blank", "garbage"],
)
def test_bad_crs_messages(text: str, message: str) -> None:
    with pytest.raises(CrsError, match=message):
        describe_crs(text)


def test_crsinfo_is_frozen() -> None:
    info = describe_crs("EPSG:4326")
    assert isinstance(info, CrsInfo)
    with pytest.raises(AttributeError):
        info.epsg = 1  # type: ignore[misc]
