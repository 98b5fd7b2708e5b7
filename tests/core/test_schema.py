"""core.schema: the subset validator agrees with jsonschema; clear errors for wrong documents."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable, Dict

import jsonschema
import pytest
from labelguard.core import schema
from labelguard.core.errors import SchemaError, UnknownSchemaVersion
from labelguard.core.schema import KNOWN, load_schema, schema_errors, validate

SHA = "0123456789abcdef" * 4

SIDECAR: Dict[str, Any] = {
    "schema": "labelguard.sidecar/1",
    "file": {"name": "ortho.tif", "format": "GTiff", "layer": None, "components": ["ortho.tfw"]},
    "kind": "raster",
    "crs": {
        "epsg": 32633,
        "name": "WGS 84 / UTM zone 33N",
        "kind": "projected",
        "units": "metre",
        "axis_order": ["east", "north"],
        "area_of_use": {
            "west": 12.0,
            "south": 0.0,
            "east": 18.0,
            "north": 84.0,
            "name": "Between 12°E and 18°E",
        },
        "wkt2": 'PROJCRS["WGS 84 / UTM zone 33N"]',
    },
    "extent": {"xmin": 500000, "ymin": 4649000.5, "xmax": 500100, "ymax": 4650000},
    "raster": {
        "width": 200,
        "height": 100,
        "geotransform": [500000, 0.5, 0, 4650000, 0, -0.5],
        "resolution": [0.5, 0.5],
        "bands": [
            {"index": 1, "data_type": "Byte", "nodata": 0, "color": "Red", "description": None}
        ],
    },
    "content": {"method": "labelguard.raster-content/1", "sha256": SHA},
    "acquisition_time": {
        "value": "2024-05-17T10:42:00",
        "utc": None,
        "offset": None,
        "offset_known": False,
        "source": "TIFFTAG_DATETIME",
        "note": "local time",
    },
    "provenance": {"generator": "LabelGuard 0.1.0"},
    "metadata": {"AREA_OR_POINT": "Area"},
}

VECTOR_SIDECAR: Dict[str, Any] = {
    **{k: v for k, v in SIDECAR.items() if k not in ("raster", "metadata")},
    "file": {"name": "labels.gpkg", "format": "GPKG", "layer": "labels", "components": []},
    "kind": "vector",
    "crs": None,
    "extent": None,
    "vector": {
        "geometry_type": "Polygon",
        "feature_count": 3,
        "fields": [{"name": "class", "type": "String"}],
        "class_field": "class",
        "class_counts": {"building": 2, "tree": 1},
    },
    "acquisition_time": None,
}

MANIFEST: Dict[str, Any] = {
    "schema": "labelguard.manifest/1",
    "version": "v2",
    "created_at": "2024-05-17T10:42:00Z",
    "creator": {"plugin": "0.1.0", "gdal": "3.6.2"},
    "root": ".",
    "parent": {"path": "v1.manifest.json", "sha256": SHA, "version": "v1"},
    "policy": {"auxiliary_files": "…", "content_hash": "…"},
    "entries": [
        {
            "path": "data/ortho.tif",
            "layer": None,
            "kind": "raster",
            "size": 1234,
            "sha256": SHA,
            "content_sha256": SHA,
            "content_method": "labelguard.raster-content/1",
            "feature_count": None,
            "crs": {"epsg": 32633, "wkt2": "PROJCRS[...]"},
            "components": [
                {"path": "data/ortho.tif.aux.xml", "size": 10, "sha256": SHA, "role": "auxiliary"}
            ],
            "sidecar": {"path": "data/ortho.tif.labelguard.yaml", "sha256": SHA},
            "feature_index": {"path": "v2.features/0000-data_ortho.tif.tsv.gz", "sha256": SHA},
        }
    ],
}

REPORT: Dict[str, Any] = {
    "schema": "labelguard.report/1",
    "tool": "labelguard:validatetopology",
    "counts": {"errors": 1, "checked": 10},
    "findings": [
        {
            "rule": "overlap",
            "severity": "error",
            "message": "overlaps 7",
            "location": "POINT (1 2)",
            "fids": [3, 7],
        }
    ],
}


def _set(path: str, value: Any) -> Callable[[Dict[str, Any]], None]:
    keys = [int(k) if k.isdigit() else k for k in path.split("/")]

    def apply(doc: Dict[str, Any]) -> None:
        target = doc
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value

    return apply


def _delete(path: str) -> Callable[[Dict[str, Any]], None]:
    keys = [int(k) if k.isdigit() else k for k in path.split("/")]

    def apply(doc: Dict[str, Any]) -> None:
        target = doc
        for k in keys[:-1]:
            target = target[k]
        del target[keys[-1]]

    return apply


CASES = [
    # (id, base document, schema file, mutation or None, valid?)
    ("sidecar-raster", SIDECAR, "sidecar.schema.json", None, True),
    ("sidecar-vector", VECTOR_SIDECAR, "sidecar.schema.json", None, True),
    ("sidecar-float-int", SIDECAR, "sidecar.schema.json", _set("raster/width", 200.0), True),
    ("sidecar-no-content", SIDECAR, "sidecar.schema.json", _delete("content"), False),
    ("sidecar-extra-key", SIDECAR, "sidecar.schema.json", _set("extra", 1), False),
    ("sidecar-bad-kind", SIDECAR, "sidecar.schema.json", _set("kind", "mesh"), False),
    ("sidecar-epsg-string", SIDECAR, "sidecar.schema.json", _set("crs/epsg", "32633"), False),
    ("sidecar-epsg-bool", SIDECAR, "sidecar.schema.json", _set("crs/epsg", True), False),
    ("sidecar-crs-no-wkt", SIDECAR, "sidecar.schema.json", _delete("crs/wkt2"), False),
    ("sidecar-empty-name", SIDECAR, "sidecar.schema.json", _set("file/name", ""), False),
    ("sidecar-file-extra", SIDECAR, "sidecar.schema.json", _set("file/x", "y"), False),
    ("sidecar-negative-width", SIDECAR, "sidecar.schema.json", _set("raster/width", -1), False),
    ("sidecar-fraction-width", SIDECAR, "sidecar.schema.json", _set("raster/width", 2.5), False),
    ("sidecar-band-0", SIDECAR, "sidecar.schema.json", _set("raster/bands/0/index", 0), False),
    (
        "sidecar-nodata-string",
        SIDECAR,
        "sidecar.schema.json",
        _set("raster/bands/0/nodata", "0"),
        False,
    ),
    ("sidecar-extent-string", SIDECAR, "sidecar.schema.json", _set("extent/xmin", "a"), False),
    ("sidecar-component-int", SIDECAR, "sidecar.schema.json", _set("file/components", [1]), False),
    (
        "sidecar-sha-upper",
        SIDECAR,
        "sidecar.schema.json",
        _set("content/sha256", SHA.upper()),
        False,
    ),
    (
        "sidecar-time-no-flag",
        SIDECAR,
        "sidecar.schema.json",
        _delete("acquisition_time/offset_known"),
        False,
    ),
    (
        "sidecar-metadata-int",
        SIDECAR,
        "sidecar.schema.json",
        _set("metadata/AREA_OR_POINT", 1),
        False,
    ),
    (
        "sidecar-class-count-negative",
        VECTOR_SIDECAR,
        "sidecar.schema.json",
        _set("vector/class_counts/tree", -1),
        False,
    ),
    (
        "sidecar-wrong-const",
        SIDECAR,
        "sidecar.schema.json",
        _set("schema", "labelguard.sidecar/2"),
        False,
    ),
    ("sidecar-not-object", [], "sidecar.schema.json", None, False),
    ("manifest", MANIFEST, "manifest.schema.json", None, True),
    ("manifest-no-parent-link", MANIFEST, "manifest.schema.json", _set("parent", None), True),
    (
        "manifest-null-content",
        MANIFEST,
        "manifest.schema.json",
        _set("entries/0/content_sha256", None),
        True,
    ),
    (
        "manifest-dotdot-name",
        MANIFEST,
        "manifest.schema.json",
        _set("entries/0/path", "..data/x.tif"),
        True,
    ),
    (
        "manifest-parent-escapes",
        MANIFEST,
        "manifest.schema.json",
        _set("entries/0/path", "../x.tif"),
        False,
    ),
    (
        "manifest-inner-dotdot",
        MANIFEST,
        "manifest.schema.json",
        _set("entries/0/path", "data/../../x.tif"),
        False,
    ),
    (
        "manifest-absolute",
        MANIFEST,
        "manifest.schema.json",
        _set("entries/0/path", "/data/x.tif"),
        False,
    ),
    (
        "manifest-drive",
        MANIFEST,
        "manifest.schema.json",
        _set("entries/0/path", "C:/data/x.tif"),
        False,
    ),
    ("manifest-empty-path", MANIFEST, "manifest.schema.json", _set("entries/0/path", ""), False),
    (
        "manifest-local-time",
        MANIFEST,
        "manifest.schema.json",
        _set("created_at", "2024-05-17T10:42:00"),
        False,
    ),
    ("manifest-no-plugin", MANIFEST, "manifest.schema.json", _delete("creator/plugin"), False),
    ("manifest-creator-int", MANIFEST, "manifest.schema.json", _set("creator/qgis", 3), False),
    ("manifest-parent-no-sha", MANIFEST, "manifest.schema.json", _delete("parent/sha256"), False),
    (
        "manifest-short-sha",
        MANIFEST,
        "manifest.schema.json",
        _set("entries/0/sha256", "abc"),
        False,
    ),
    (
        "manifest-bad-content-sha",
        MANIFEST,
        "manifest.schema.json",
        _set("entries/0/content_sha256", "xyz"),
        False,
    ),
    (
        "manifest-bad-kind",
        MANIFEST,
        "manifest.schema.json",
        _set("entries/0/kind", "folder"),
        False,
    ),
    ("manifest-negative-size", MANIFEST, "manifest.schema.json", _set("entries/0/size", -1), False),
    ("manifest-bool-size", MANIFEST, "manifest.schema.json", _set("entries/0/size", True), False),
    (
        "manifest-bad-role",
        MANIFEST,
        "manifest.schema.json",
        _set("entries/0/components/0/role", "optional"),
        False,
    ),
    (
        "manifest-component-extra",
        MANIFEST,
        "manifest.schema.json",
        _set("entries/0/components/0/mtime", 1),
        False,
    ),
    ("manifest-entry-extra", MANIFEST, "manifest.schema.json", _set("entries/0/x", 1), False),
    ("manifest-no-entries", MANIFEST, "manifest.schema.json", _delete("entries"), False),
    ("manifest-entries-object", MANIFEST, "manifest.schema.json", _set("entries", {}), False),
    ("report", REPORT, "report.schema.json", None, True),
    ("report-null-location", REPORT, "report.schema.json", _set("findings/0/location", None), True),
    (
        "report-bad-severity",
        REPORT,
        "report.schema.json",
        _set("findings/0/severity", "fatal"),
        False,
    ),
    ("report-negative-count", REPORT, "report.schema.json", _set("counts/errors", -1), False),
    ("report-fraction-count", REPORT, "report.schema.json", _set("counts/errors", 1.5), False),
    ("report-no-rule", REPORT, "report.schema.json", _delete("findings/0/rule"), False),
    ("report-empty-tool", REPORT, "report.schema.json", _set("tool", ""), False),
    ("report-bare-tool", REPORT, "report.schema.json", _set("tool", "checkcrs"), False),
    ("report-no-location", REPORT, "report.schema.json", _delete("findings/0/location"), False),
]


@pytest.mark.parametrize(
    ("base", "filename", "mutate", "valid"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_subset_validator_agrees_with_jsonschema(
    base: Any, filename: str, mutate, valid: bool
) -> None:
    doc = copy.deepcopy(base)
    if mutate is not None:
        mutate(doc)
    full = jsonschema.Draft202012Validator(load_schema(filename))
    ours = schema_errors(doc, filename)
    assert full.is_valid(doc) is valid, list(full.iter_errors(doc))
    assert (ours == []) is valid, ours


def test_shipped_schemas_are_valid_draft_2020_12() -> None:
    for _family, (_schema_id, filename) in sorted(KNOWN.items()):
        jsonschema.Draft202012Validator.check_schema(load_schema(filename))


def test_shipped_schemas_use_only_supported_keywords() -> None:
    supported = {
        "$schema",
        "$id",
        "$defs",
        "$ref",
        "title",
        "description",
        "type",
        "enum",
        "const",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "pattern",
        "minimum",
        "minLength",
    }

    def keywords(node: Any, out: set) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                out.add(key)
                if key in ("properties", "$defs"):
                    for sub in value.values():
                        keywords(sub, out)
                else:
                    keywords(value, out)
        elif isinstance(node, list):
            for item in node:
                keywords(item, out)

    for _family, (_schema_id, filename) in sorted(KNOWN.items()):
        used: set = set()
        keywords(load_schema(filename), used)
        assert used <= supported, f"{filename} uses {sorted(used - supported)}"


def test_error_messages_name_the_place() -> None:
    doc = copy.deepcopy(MANIFEST)
    doc["entries"][0]["size"] = -1
    doc["entries"][0]["kind"] = "folder"
    del doc["version"]
    assert schema_errors(doc, "manifest.schema.json") == [
        "/: missing required key 'version'",
        "/entries/0/kind: 'folder' is not one of ['raster', 'vector', 'file']",
        "/entries/0/size: -1 is below 0",
    ]


def test_validate_accepts_valid_documents() -> None:
    validate(copy.deepcopy(SIDECAR), "labelguard.sidecar")
    validate(copy.deepcopy(MANIFEST), "labelguard.manifest")
    validate(copy.deepcopy(REPORT), "labelguard.report")


def test_unknown_schema_version_message() -> None:
    doc = dict(MANIFEST, schema="labelguard.manifest/2")
    with pytest.raises(
        UnknownSchemaVersion,
        match=(
            r"^Manifest 'v2\.json' uses schema 'labelguard\.manifest/2', which this version of "
            r"LabelGuard does not know \(it reads 'labelguard\.manifest/1'\)\. Upgrade LabelGuard "
            r"to read it\.$"
        ),
    ):
        validate(doc, "labelguard.manifest", "Manifest 'v2.json'")


def test_wrong_family_message() -> None:
    with pytest.raises(
        SchemaError,
        match=(
            r"^sidecar is not a labelguard\.sidecar document \(schema is "
            r"'labelguard\.manifest/1', expected 'labelguard\.sidecar/1'\)\.$"
        ),
    ) as info:
        validate(copy.deepcopy(MANIFEST), "labelguard.sidecar", "sidecar")
    assert not isinstance(info.value, UnknownSchemaVersion)


def test_missing_schema_key_message() -> None:
    with pytest.raises(SchemaError, match=r"\(schema is None, expected 'labelguard\.report/1'\)"):
        validate({"tool": "x"}, "labelguard.report", "report")


def test_not_a_mapping_message() -> None:
    with pytest.raises(
        SchemaError,
        match=r"^report is not a labelguard\.report document "
        r"\(not a mapping\)\.$",
    ):
        validate(["labelguard.report/1"], "labelguard.report", "report")


def test_invalid_document_lists_first_five_problems() -> None:
    doc = copy.deepcopy(REPORT)
    doc["findings"] = [{"severity": "fatal", "location": None} for _ in range(3)]
    with pytest.raises(SchemaError) as info:
        validate(doc, "labelguard.report", "report.json")
    assert str(info.value) == (
        "report.json does not match labelguard.report/1: "
        "/findings/0: missing required key 'rule'; /findings/0: missing required key 'message'; "
        "/findings/0/severity: 'fatal' is not one of ['error', 'warning', 'info']; "
        "/findings/1: missing required key 'rule'; /findings/1: missing required key 'message' "
        "(and 4 more)"
    )


def test_schema_files_are_loaded_from_the_plugin() -> None:
    assert schema.SCHEMA_DIR.name == "schemas"
    assert json.loads((schema.SCHEMA_DIR / "manifest.schema.json").read_text())["$id"].endswith(
        "manifest-1.json"
    )
