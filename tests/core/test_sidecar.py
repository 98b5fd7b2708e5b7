"""core.sidecar: deterministic YAML bytes (golden files), round trip, clear errors, naming."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from labelguard.core.crs import CrsInfo
from labelguard.core.errors import FileVanished, SchemaError, UnknownSchemaVersion
from labelguard.core.sidecar import (
    BandInfo,
    DataDescription,
    FieldInfo,
    build_sidecar,
    class_counts,
    dump_sidecar,
    guess_class_field,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)
from labelguard.core.timeutil import parse_timestamp

EXPECTED = Path(__file__).resolve().parents[1] / "data" / "expected"
GENERATOR = "LabelGuard 0.1.0 (GDAL 3.6.2, PROJ 9.1.1)"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

# Hand-made, so the golden files do not depend on the PROJ database of the test machine.
UTM33N = CrsInfo(
    epsg=32633,
    name="WGS 84 / UTM zone 33N",
    wkt2='PROJCRS["WGS 84 / UTM zone 33N",\n'
    '    BASEGEOGCRS["WGS 84",\n'
    '        DATUM["World Geodetic System 1984",\n'
    '            ELLIPSOID["WGS 84",6378137,298.257223563]]],\n'
    '    CONVERSION["UTM zone 33N",\n'
    '        METHOD["Transverse Mercator"]],\n'
    '    ID["EPSG",32633]]',
    is_geographic=False,
    is_projected=True,
    units="metre",
    axis_order=("east", "north"),
    area_of_use=(12.0, 0.0, 18.0, 84.0),
    area_name="Between 12°E and 18°E, northern hemisphere between equator and 84°N.",
)

RASTER = DataDescription(
    name="ortho.tif",
    format="GTiff",
    kind="raster",
    crs=UTM33N,
    extent=(500000.0, 4649900.0, 500100.0, 4650000.0),
    content_method="labelguard.raster-content/1",
    content_sha256=SHA,
    components=("ortho.tfw", "ortho.tif.aux.xml"),
    width=200,
    height=200,
    geotransform=(500000.0, 0.5, 0.0, 4650000.0, 0.0, -0.5),
    bands=(
        BandInfo(1, "Byte", 0.0, "Red", "red"),
        BandInfo(2, "Byte", 0.0, "Green"),
        BandInfo(3, "Float32", float("nan"), None, ""),
    ),
    acquisition_time=parse_timestamp("2024:05:17 10:42:00", "TIFFTAG_DATETIME"),
    metadata={"TIFFTAG_SOFTWARE": "make_sample.py", "AREA_OR_POINT": "Area"},
)

VECTOR = DataDescription(
    name="labels.gpkg",
    format="GPKG",
    kind="vector",
    crs=None,
    extent=(12.123456789, 45.5, 12.2, 45.6),
    content_method="labelguard.vector-content/1",
    content_sha256=SHA,
    layer="labels",
    geometry_type="Polygon",
    feature_count=3,
    fields=(FieldInfo("class", "String"), FieldInfo("area_m2", "Real")),
    class_field="class",
    class_counts={"tree": 1, "building": 2, "<null>": 0},
    acquisition_time=parse_timestamp("2024-05-17T10:42:00+02:00", "field 'captured'"),
)

GEOGRAPHIC = DataDescription(
    name="dem.tif",
    format="GTiff",
    kind="raster",
    crs=None,
    extent=(12.0, 45.0, 12.001, 45.001),
    content_method="labelguard.raster-content/1",
    content_sha256=SHA,
    width=100,
    height=100,
    geotransform=(12.0, 1e-05, 0.0, 45.001, 0.0, -1e-05),
    bands=(BandInfo(1, "Int16", -32768.0),),
)


@pytest.mark.parametrize(
    ("desc", "golden"),
    [(RASTER, "ortho.tif.labelguard.yaml"), (VECTOR, "labels.gpkg.labels.labelguard.yaml")],
    ids=["raster", "vector"],
)
def test_golden_file(desc: DataDescription, golden: str) -> None:
    assert dump_sidecar(build_sidecar(desc, GENERATOR)) == (EXPECTED / golden).read_bytes()


def test_same_input_same_bytes() -> None:
    first = dump_sidecar(build_sidecar(RASTER, GENERATOR))
    again = dump_sidecar(build_sidecar(RASTER, GENERATOR))
    assert first == again


def test_dict_order_of_inputs_does_not_matter() -> None:
    shuffled = DataDescription(
        **{**VECTOR.__dict__, "class_counts": {"<null>": 0, "building": 2, "tree": 1}}
    )
    assert dump_sidecar(build_sidecar(shuffled, GENERATOR)) == dump_sidecar(
        build_sidecar(VECTOR, GENERATOR)
    )


def test_first_key_is_schema() -> None:
    text = dump_sidecar(build_sidecar(VECTOR, GENERATOR)).decode()
    assert text.splitlines()[0] == "schema: labelguard.sidecar/1"
    assert list(build_sidecar(VECTOR, GENERATOR)) == [
        "schema",
        "file",
        "kind",
        "crs",
        "extent",
        "vector",
        "content",
        "acquisition_time",
        "provenance",
    ]


def test_wkt_is_a_literal_block() -> None:
    text = dump_sidecar(build_sidecar(RASTER, GENERATOR)).decode()
    assert '  wkt2: |-\n    PROJCRS["WGS 84 / UTM zone 33N",\n        BASEGEOGCRS' in text


def test_small_floats_are_plain_yaml_floats() -> None:
    text = dump_sidecar(build_sidecar(GEOGRAPHIC, GENERATOR)).decode()
    assert "  - 1.0e-05\n" in text
    assert "!!float" not in text
    assert yaml.safe_load(text)["raster"]["resolution"] == [1e-05, 1e-05]


def test_no_wall_clock_time_inside() -> None:
    import datetime as dt

    before = dump_sidecar(build_sidecar(RASTER, GENERATOR))
    today = dt.date.today().isoformat()
    assert today.encode() not in before


def test_write_and_read_round_trip(tmp_path: Path) -> None:
    doc = build_sidecar(VECTOR, GENERATOR)
    path = write_sidecar(
        sidecar_path(tmp_path / "labels.gpkg", layer="labels", multi_layer=True), doc
    )
    assert path == tmp_path / "labels.gpkg.labels.labelguard.yaml"
    assert read_sidecar(path) == doc
    assert path.read_bytes() == dump_sidecar(doc)


def test_round_trip_keeps_types(tmp_path: Path) -> None:
    doc = build_sidecar(RASTER, GENERATOR)
    back = read_sidecar(write_sidecar(tmp_path / "ortho.tif.labelguard.yaml", doc))
    assert back["acquisition_time"]["value"] == "2024-05-17T10:42:00"  # a str, not a datetime
    assert back["raster"]["geotransform"] == [500000, 0.5, 0, 4650000, 0, -0.5]
    assert math.isnan(back["raster"]["bands"][2]["nodata"])
    back["raster"]["bands"][2]["nodata"] = doc["raster"]["bands"][2]["nodata"] = None
    assert back == doc


def test_read_rejects_bad_yaml(tmp_path: Path) -> None:
    p = tmp_path / "bad.labelguard.yaml"
    p.write_text("schema: labelguard.sidecar/1\nfile: [unclosed\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"^Sidecar '.*bad\.labelguard\.yaml' is not valid YAML"):
        read_sidecar(p)


def test_read_rejects_non_utf8(tmp_path: Path) -> None:
    p = tmp_path / "latin1.labelguard.yaml"
    p.write_bytes("schema: labelguard.sidecar/1\nname: Ärger\n".encode("latin-1"))
    with pytest.raises(SchemaError, match=r"^Sidecar '.*latin1\.labelguard\.yaml' is not UTF-8"):
        read_sidecar(p)


def test_read_rejects_unknown_schema_version(tmp_path: Path) -> None:
    p = tmp_path / "future.labelguard.yaml"
    p.write_text("schema: labelguard.sidecar/2\nnew_key: 1\n", encoding="utf-8")
    with pytest.raises(
        UnknownSchemaVersion,
        match=(
            r"^Sidecar '.*future\.labelguard\.yaml' uses schema 'labelguard\.sidecar/2', which "
            r"this version of LabelGuard does not know \(it reads 'labelguard\.sidecar/1'\)\."
        ),
    ):
        read_sidecar(p)


def test_read_rejects_invalid_document(tmp_path: Path) -> None:
    doc = build_sidecar(VECTOR, GENERATOR)
    doc["vector"]["feature_count"] = -3
    p = tmp_path / "x.labelguard.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with pytest.raises(
        SchemaError,
        match=(
            r"^Sidecar '.*x\.labelguard\.yaml' does not match "
            r"labelguard\.sidecar/1: /vector/feature_count: -3 "
            r"is below 0$"
        ),
    ):
        read_sidecar(p)


def test_read_rejects_empty_and_missing(tmp_path: Path) -> None:
    p = tmp_path / "empty.labelguard.yaml"
    p.write_text("", encoding="utf-8")
    with pytest.raises(
        SchemaError, match=r"is not a labelguard\.sidecar document \(not a mapping\)"
    ):
        read_sidecar(p)
    with pytest.raises(
        FileVanished, match=r"^Sidecar '.*gone\.labelguard\.yaml' does not exist\.$"
    ):
        read_sidecar(tmp_path / "gone.labelguard.yaml")


def test_invalid_document_is_never_written(tmp_path: Path) -> None:
    doc = build_sidecar(RASTER, GENERATOR)
    doc["kind"] = "mesh"
    target = tmp_path / "ortho.tif.labelguard.yaml"
    with pytest.raises(SchemaError, match=r"/kind: 'mesh' is not one of \['raster', 'vector'\]"):
        write_sidecar(target, doc)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("data", "kwargs", "expected"),
    [
        ("data/ortho.tif", {}, "data/ortho.tif.labelguard.yaml"),
        ("data/ortho.tif", {"output_folder": Path("out")}, "out/ortho.tif.labelguard.yaml"),
        (
            "data/labels.gpkg",
            {"layer": "roads", "multi_layer": True},
            "data/labels.gpkg.roads.labelguard.yaml",
        ),
        ("data/labels.gpkg", {"layer": "roads"}, "data/labels.gpkg.labelguard.yaml"),
        ("data/roads.shp", {"multi_layer": True}, "data/roads.shp.labelguard.yaml"),
    ],
    ids=["next-to-data", "output-folder", "multi-layer", "single-layer", "no-layer-name"],
)
def test_sidecar_path(data: str, kwargs: dict, expected: str) -> None:
    assert sidecar_path(Path(data), **kwargs) == Path(expected)


def test_class_counts_and_guess() -> None:
    assert class_counts(["a", None, 1, "a", "1"]) == {"a": 2, "<null>": 1, "1": 2}
    assert guess_class_field(["fid", "Label", "class_id"]) == "Label"
    assert guess_class_field(["fid", "area"]) is None


def test_has_sidecar_sees_file_and_per_layer_sidecars(tmp_path):
    from labelguard.core.sidecar import has_sidecar

    data = tmp_path / "labels.gpkg"
    data.write_bytes(b"")
    assert has_sidecar(data) is False
    (tmp_path / "labels.gpkg.roads.labelguard.yaml").write_text("x")
    assert has_sidecar(data) is True
    other = tmp_path / "ortho.tif"
    assert has_sidecar(other) is False
    (tmp_path / "ortho.tif.labelguard.yaml").write_text("x")
    assert has_sidecar(other) is True
