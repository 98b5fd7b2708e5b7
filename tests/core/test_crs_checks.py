"""core.crs_checks: one test per rule with data that triggers it and a clean twin."""

from __future__ import annotations

import json

import pyproj
import pytest
from labelguard.core import crs_checks
from labelguard.core.crs import describe_crs
from labelguard.core.crs_checks import LayerRecord, SidecarCrs, check_crs
from labelguard.core.errors import Cancelled, CrsError, FileVanished
from labelguard.core.schema import validate
from labelguard.core.sidecar import DataDescription, build_sidecar, write_sidecar

WKT_4326 = pyproj.CRS.from_epsg(4326).to_wkt("WKT1_GDAL")
WKT_32633 = pyproj.CRS.from_epsg(32633).to_wkt()

# A 10 km square in UTM zone 33N (lon ~15.0-15.13, lat ~45.15-45.24) and labels inside it.
IMAGE = (500000.0, 5000000.0, 510000.0, 5010000.0)
LABELS_UTM = (501000.0, 5001000.0, 502000.0, 5002000.0)
LABELS_LONLAT = (15.01, 45.16, 15.03, 45.18)


def raster(name="image", crs="EPSG:32633", extent=IMAGE, **kw):
    return LayerRecord(
        name=name, source=f"/data/{name}.tif", kind="raster", crs=crs, extent=extent, **kw
    )


def vector(name="labels", crs="EPSG:32633", extent=LABELS_UTM, **kw):
    return LayerRecord(
        name=name, source=f"/data/{name}.gpkg", kind="vector", crs=crs, extent=extent, **kw
    )


def rules(result):
    return [(f.layer, f.rule, f.severity) for f in result.findings]


def test_clean_dataset_reports_nothing():
    result = check_crs(
        [raster(), vector(crs=WKT_32633)], expected="EPSG:32633", require_projected=True
    )
    assert result.findings == ()
    assert (result.checked, result.error_count, result.warning_count) == (2, 0, 0)


def test_clean_geographic_dataset_with_global_grid_edges_reports_nothing():
    world = (-180.0000001, -90.0000001, 180.0000001, 90.0000001)  # pixel-edge rounding
    result = check_crs(
        [raster(crs="EPSG:4326", extent=world), vector(crs=WKT_4326, extent=LABELS_LONLAT)]
    )
    assert result.findings == ()


def test_missing_crs():
    result = check_crs([raster(crs=None), vector()])
    assert rules(result) == [("image", "missing_crs", "error")]
    finding = result.findings[0]
    assert finding.message == (
        "Layer 'image' has no CRS in its data source, so QGIS would silently assume one. "
        "Assign the correct CRS to the file."
    )
    assert (finding.found, finding.source) == ("none", "/data/image.tif")
    assert check_crs([raster(), vector()]).findings == ()


def test_missing_crs_names_the_crs_its_sidecar_records():
    sidecar = SidecarCrs(path="/data/image.tif.labelguard.yaml", crs="EPSG:32633")
    result = check_crs([raster(crs="  ", sidecar=sidecar)])
    assert rules(result) == [("image", "missing_crs", "error")]
    assert result.findings[0].message.endswith(
        "Its sidecar records EPSG:32633 (WGS 84 / UTM zone 33N)."
    )
    assert result.findings[0].expected == "EPSG:32633 (WGS 84 / UTM zone 33N)"


@pytest.mark.parametrize(
    ("record", "found"),
    [
        (raster(crs="EPSG:999999"), "EPSG:999999"),
        (raster(crs='PROJCS["bogus", GARBAGE'), 'PROJCS["bogus", GARBAGE'),
        (
            raster(crs="EPSG:4326", crs_problem="PROJ: proj_create: crs not found"),
            "PROJ: proj_create: crs not found",
        ),
    ],
    ids=["unknown-code", "garbage-wkt", "reader-fell-back"],
)
def test_invalid_crs(record, found):
    result = check_crs([record])
    assert rules(result) == [("image", "invalid_crs", "error")]
    assert result.findings[0].found == found
    assert "cannot be interpreted" in result.findings[0].message or "PROJ cannot interpret" in (
        result.findings[0].message
    )


def test_invalid_crs_clean_twin():
    assert check_crs([raster(crs=pyproj.CRS.from_epsg(32633).to_wkt("WKT1_GDAL"))]).findings == ()


# Czechia, inside the area of use of ETRS89 / UTM zone 33N too.
IMAGE_CZ = (500000.0, 5500000.0, 510000.0, 5510000.0)


def test_unexpected_crs():
    result = check_crs(
        [raster(extent=IMAGE_CZ), vector(crs="EPSG:25833", extent=IMAGE_CZ)], expected="EPSG:32633"
    )
    assert rules(result) == [("labels", "unexpected_crs", "error")]
    finding = result.findings[0]
    assert finding.message == (
        "Layer 'labels' is in EPSG:25833 (ETRS89 / UTM zone 33N), expected EPSG:32633 "
        "(WGS 84 / UTM zone 33N) (datum European Terrestrial Reference System 1989 vs World "
        "Geodetic System 1984). Reproject it."
    )
    assert (finding.expected, finding.found) == (
        "EPSG:32633 (WGS 84 / UTM zone 33N)",
        "EPSG:25833 (ETRS89 / UTM zone 33N)",
    )


def test_unexpected_crs_clean_twin_compares_by_meaning():
    assert check_crs([raster(crs=WKT_32633), vector()], expected=WKT_32633).findings == ()
    assert (
        check_crs([raster(crs="EPSG:4326", extent=(15, 45, 16, 46))], expected=WKT_4326).findings
        == ()
    )


def test_expected_crs_that_cannot_be_interpreted_raises():
    with pytest.raises(CrsError, match="The expected CRS cannot be interpreted"):
        check_crs([raster()], expected="EPSG:999999")


def test_mixed_crs_says_which_layers_and_how():
    result = check_crs([raster(), vector("a"), vector("b", crs="EPSG:4326", extent=LABELS_LONLAT)])
    assert rules(result) == [("b", "mixed_crs", "error")]
    assert result.findings[0].message == (
        "Layer 'b' is in EPSG:4326 (WGS 84) but 'image' and 'a' are in EPSG:32633 "
        "(WGS 84 / UTM zone 33N) (geographic (degree) vs projected (metre)). Reproject so that "
        "all layers share one CRS."
    )
    assert result.findings[0].footprint.startswith("POLYGON ((15.01 45.16, ")


def test_mixed_crs_tie_takes_the_imagery_as_reference():
    result = check_crs([vector(crs="EPSG:25833", extent=IMAGE_CZ), raster(extent=IMAGE_CZ)])
    assert rules(result) == [("labels", "mixed_crs", "error")]
    assert result.findings[0].expected == "EPSG:32633 (WGS 84 / UTM zone 33N)"


def test_mixed_crs_clean_twin_same_crs_written_differently():
    result = check_crs(
        [
            raster(crs="EPSG:4326", extent=(15, 45, 16, 46)),
            vector(crs=WKT_4326, extent=LABELS_LONLAT),
        ]
    )
    assert result.findings == ()


def test_mixed_crs_not_repeated_when_an_expected_crs_is_given():
    result = check_crs(
        [raster(), vector(crs="EPSG:4326", extent=LABELS_LONLAT)], expected="EPSG:32633"
    )
    assert rules(result) == [("labels", "unexpected_crs", "error")]


def test_geographic_crs_when_projected_is_required():
    layer = vector(crs="EPSG:4326", extent=LABELS_LONLAT)
    result = check_crs([layer], require_projected=True)
    assert rules(result) == [("labels", "geographic_crs", "error")]
    assert result.findings[0].found == "EPSG:4326 (WGS 84)"
    assert check_crs([layer], require_projected=False).findings == ()
    assert check_crs([vector()], require_projected=True).findings == ()


def test_outside_area_of_use_entirely():
    # UTM zone 33N covers 12-18 E; x = 900 km is about 20 E.
    result = check_crs([vector(extent=(900000.0, 5000000.0, 910000.0, 5010000.0))])
    assert rules(result) == [("labels", "outside_area_of_use", "warning")]
    finding = result.findings[0]
    assert finding.message.startswith(
        "Layer 'labels' lies entirely outside the area of use of EPSG:32633 (WGS 84 / UTM zone "
        "33N): the layer covers lon 20.078734..20.213352, lat 45.034697..45.130069, the CRS is "
        "meant for Between 12°E and 18°E, northern hemisphere between equator and 84°N, onshore "
        "and offshore: lon 12..18, lat 0..84."
    )
    assert finding.expected == "lon 12..18, lat 0..84"


def test_outside_area_of_use_partly_gives_the_share():
    result = check_crs([vector(crs="EPSG:4258", extent=(-20.0, 50.0, -12.0, 52.0))])
    assert rules(result) == [("labels", "outside_area_of_use", "warning")]
    assert "partly outside the area of use of EPSG:4258 (ETRS89) (49% of its extent)" in (
        result.findings[0].message
    )


def test_outside_area_of_use_clean_twin():
    assert check_crs([vector(crs="EPSG:4258", extent=(10.0, 50.0, 12.0, 52.0))]).findings == ()


def test_wrong_units_metres_labelled_as_degrees():
    result = check_crs([vector(crs="EPSG:4326", extent=LABELS_UTM)])
    assert rules(result) == [("labels", "wrong_units", "error")]
    assert result.findings[0].message == (
        "Layer 'labels' is labelled EPSG:4326 (WGS 84) (degrees) but its coordinates "
        "(x 501000..502000, y 5001000..5002000) are impossible in degrees; they look like "
        "projected coordinates (e.g. metres). Assign the CRS the data were written in."
    )
    assert result.findings[0].footprint is None


def test_wrong_units_degrees_labelled_as_metres():
    result = check_crs([vector(crs="EPSG:32633", extent=LABELS_LONLAT)])
    assert rules(result) == [("labels", "wrong_units", "error")]
    assert "look like degrees: they lie far outside the CRS's valid range " in (
        result.findings[0].message
    )


def test_wrong_units_clean_twins():
    assert check_crs([vector(crs="EPSG:4326", extent=LABELS_LONLAT)]).findings == ()
    assert check_crs([vector(crs="EPSG:32633", extent=LABELS_UTM)]).findings == ()
    # 0-360 longitudes are a convention, not an error.
    assert check_crs([raster(crs="EPSG:4326", extent=(0.0, -90.0, 360.0, 90.0))]).findings == ()


def test_wrong_units_layer_is_not_also_checked_for_overlap():
    result = check_crs([raster(), vector(crs="EPSG:32633", extent=LABELS_LONLAT)])
    assert rules(result) == [("labels", "wrong_units", "error")]


@pytest.mark.parametrize(
    ("crs", "extent"),
    [
        ("EPSG:4326", (45.16, 100.0, 45.2, 101.0)),  # latitude beyond 90 after the swap
        ("EPSG:4258", (50.0, 10.0, 51.0, 11.0)),  # Germany swapped leaves Europe's area of use
        ("EPSG:32633", (5001000.0, 501000.0, 5002000.0, 502000.0)),  # northing, easting
    ],
    ids=["wgs84", "etrs89", "utm"],
)
def test_axis_swapped_by_area_of_use(crs, extent):
    result = check_crs([vector(crs=crs, extent=extent)])
    assert rules(result) == [("labels", "axis_swapped", "error")]
    assert "swapped" in result.findings[0].message
    assert "with x and y exchanged it lies inside" in result.findings[0].message


def test_axis_swapped_by_overlap_with_the_imagery():
    # (lat, lon) inside the world's area of use: only the imagery shows the swap.
    swapped = (45.16, 15.01, 45.18, 15.03)
    result = check_crs([raster(), vector(crs="EPSG:4326", extent=swapped)], expected="EPSG:32633")
    assert rules(result) == [
        ("labels", "unexpected_crs", "error"),
        ("labels", "axis_swapped", "error"),
    ]
    assert result.findings[1].message == (
        "Layer 'labels' looks like it has x and y swapped: it does not overlap the imagery "
        "('image'), but with x and y exchanged it does. Swap the x and y coordinates of the "
        "data."
    )


def test_axis_swapped_clean_twin():
    result = check_crs(
        [
            raster(),
            vector(crs="EPSG:4258", extent=(10.0, 50.0, 11.0, 51.0)),
            vector("lonlat", crs="EPSG:4326", extent=LABELS_LONLAT),
        ],
        expected="EPSG:32633",
    )
    assert [r for r in rules(result) if r[1] == "axis_swapped"] == []


def test_no_overlap_after_transforming_into_one_crs():
    far = (500000.0, 1000000.0, 510000.0, 1010000.0)  # same zone, 4000 km south
    result = check_crs([raster(), vector(extent=far)])
    assert rules(result) == [("labels", "no_overlap", "error")]
    assert result.findings[0].message == (
        "Annotations 'labels' do not overlap the imagery ('image') once both are in one CRS: "
        "the annotations cover lon 15..15.091015, lat 9.046551..9.137013, the imagery covers "
        "lon 15..15.12742, lat 45.153406..45.243493. Check the CRS of both, or whether they "
        "belong to the same dataset."
    )
    assert result.findings[0].footprint.startswith("POLYGON ((15 9.0465625, ")


def test_no_overlap_clean_twin_overlaps_across_crss():
    result = check_crs(
        [
            raster(),
            vector(crs="EPSG:4326", extent=LABELS_LONLAT),
            vector("web", crs="EPSG:3857", extent=(1671000.0, 5650000.0, 1672000.0, 5651000.0)),
        ],
        expected=None,
    )
    assert [r for r in rules(result) if r[1] == "no_overlap"] == []
    assert {r[1] for r in rules(result)} == {"mixed_crs"}


def test_no_overlap_needs_imagery():
    assert check_crs([vector(), vector("far", extent=(5e5, 1e6, 5.1e5, 1.01e6))]).findings == ()


def _write_sidecar(tmp_path, data_name, crs_text):
    desc = DataDescription(
        name=data_name,
        format="GTiff",
        kind="raster",
        crs=None if crs_text is None else describe_crs(crs_text),
        extent=IMAGE,
        content_method="raster-bands/1",
        content_sha256="0" * 64,
    )
    path = tmp_path / f"{data_name}.labelguard.yaml"
    write_sidecar(path, build_sidecar(desc, generator="test"))
    return str(path)


def test_sidecar_drift(tmp_path):
    sidecar = crs_checks.read_sidecar_crs(_write_sidecar(tmp_path, "image.tif", "EPSG:32632"))
    result = check_crs([raster(sidecar=sidecar)])
    assert rules(result) == [("image", "sidecar_drift", "error")]
    assert result.findings[0].message.startswith(
        "Layer 'image' is in EPSG:32633 (WGS 84 / UTM zone 33N) but its sidecar "
        "image.tif.labelguard.yaml records EPSG:32632 (WGS 84 / UTM zone 32N) (Transverse "
        "Mercator with different parameters (Longitude of natural origin 15 vs 9))."
    )


def test_sidecar_drift_clean_twin_compares_by_meaning(tmp_path):
    sidecar = crs_checks.read_sidecar_crs(_write_sidecar(tmp_path, "image.tif", "EPSG:32633"))
    assert sidecar is not None
    assert sidecar.crs.startswith("PROJCRS[")
    assert (
        check_crs(
            [raster(crs=pyproj.CRS.from_epsg(32633).to_wkt("WKT1_GDAL"), sidecar=sidecar)]
        ).findings
        == ()
    )


def test_sidecar_drift_when_the_sidecar_recorded_no_crs(tmp_path):
    sidecar = crs_checks.read_sidecar_crs(_write_sidecar(tmp_path, "image.tif", None))
    assert sidecar == SidecarCrs(path=str(tmp_path / "image.tif.labelguard.yaml"), crs=None)
    result = check_crs([raster(sidecar=sidecar)])
    assert rules(result) == [("image", "sidecar_drift", "error")]
    assert "records no CRS" in result.findings[0].message


def test_unreadable_sidecar_is_reported(tmp_path):
    path = tmp_path / "image.tif.labelguard.yaml"
    path.write_text("schema: labelguard.sidecar/1\ncrs: [unclosed\n", encoding="utf-8")
    sidecar = crs_checks.read_sidecar_crs(str(path))
    assert sidecar is not None
    assert sidecar.crs is None
    assert "not valid YAML" in sidecar.problem
    result = check_crs([raster(sidecar=sidecar)])
    assert rules(result) == [("image", "sidecar_drift", "error")]
    assert "image.tif.labelguard.yaml cannot be read" in result.findings[0].message


def test_no_sidecar_reads_as_none(tmp_path):
    assert crs_checks.read_sidecar_crs(str(tmp_path / "x.tif.labelguard.yaml")) is None


def test_vanished_file_gives_a_clear_message(tmp_path):
    gone = tmp_path / "labels.gpkg"
    with pytest.raises(
        FileVanished,
        match=r"^Layer 'labels': its file '.*labels\.gpkg' no "
        r"longer exists \(moved, renamed or deleted\)",
    ):
        crs_checks.require_source("labels", str(gone))
    gone.write_bytes(b"")
    crs_checks.require_source("labels", str(gone))


def test_empty_layer_gets_only_crs_rules():
    result = check_crs([raster(), vector(extent=None)], require_projected=True)
    assert result.findings == ()


def test_cancel_raises():
    with pytest.raises(Cancelled):
        check_crs([raster(), vector()], should_stop=lambda: True)


def test_progress_reaches_one():
    seen = []
    check_crs([raster(), vector()], progress=seen.append)
    assert seen[-1] == 1.0


def test_report_is_valid_and_deterministic(tmp_path):
    records = [raster(crs=None), vector(crs="EPSG:4326", extent=LABELS_UTM)]
    result = check_crs(records)
    out = tmp_path / "report.json"
    doc = crs_checks.write_crs_report(str(out), result, records)
    validate(doc, "labelguard.report")
    assert json.loads(out.read_text(encoding="utf-8")) == doc
    assert list(doc) == [
        "schema",
        "tool",
        "layers",
        "settings",
        "summary",
        "counts",
        "total",
        "findings",
    ]
    assert doc["tool"] == "labelguard:checkcrs"
    assert doc["counts"]["missing_crs"] == doc["counts"]["wrong_units"] == 1
    assert doc["counts"]["no_overlap"] == 0
    assert len(doc["counts"]) == 10
    assert (doc["total"], doc["summary"]) == (2, {"checked": 2, "errors": 2, "warnings": 0})
    assert doc["settings"] == {"expected_crs": None, "require_projected": False}
    assert doc["layers"][1] == {
        "name": "labels",
        "source": "/data/labels.gpkg",
        "kind": "vector",
        "crs": "EPSG:4326 (WGS 84)",
    }
    assert doc["findings"][0] == {
        "rule": "missing_crs",
        "severity": "error",
        "ids": [],
        "layer": "image",
        "source": "/data/image.tif",
        "message": result.findings[0].message,
        "expected": "",
        "found": "none",
        "location": None,
    }
    first = out.read_bytes()
    crs_checks.write_crs_report(str(out), check_crs(records), records)
    assert out.read_bytes() == first
