"""core.restore: which sidecar fields differ, and the content check before a restore."""

from __future__ import annotations

import pytest
from labelguard.core.errors import ContentMismatch, InputError
from labelguard.core.restore import (
    NOT_HELD,
    RESTORED,
    FieldChange,
    check_same_content,
    expected_raster_header,
    field_changes,
    outcome,
)

CRS = {"epsg": 32633, "name": "WGS 84 / UTM zone 33N", "wkt2": "PROJCRS[...]"}


def _raster(crs=CRS, nodata=0, description="red", metadata=None):
    doc = {
        "kind": "raster",
        "crs": crs,
        "raster": {
            "width": 4,
            "height": 2,
            "geotransform": [10, 1, 0, 20, 0, -1],
            "bands": [
                {
                    "index": 1,
                    "data_type": "Byte",
                    "nodata": nodata,
                    "color": "Gray",
                    "description": description,
                },
            ],
        },
        "content": {"sha256": "ab" * 32},
    }
    if metadata:
        doc["metadata"] = metadata
    return doc


def test_field_changes_name_each_lost_value_before_and_after():
    recorded = _raster(metadata={"SENSOR": "UAV-7", "TIFFTAG_DATETIME": "2024:05:17 10:42:00"})
    current = _raster(crs=None, nodata=None, description=None, metadata={"EXTRA": "1"})

    assert field_changes(recorded, current) == [
        FieldChange("crs", "none", "EPSG:32633"),
        FieldChange("raster/bands/1/nodata", "none", "0"),
        FieldChange("raster/bands/1/description", "none", "red"),
        FieldChange("metadata/EXTRA", "1", "none"),
        FieldChange("metadata/SENSOR", "none", "UAV-7"),
        FieldChange("metadata/TIFFTAG_DATETIME", "none", "2024:05:17 10:42:00"),
    ]
    assert field_changes(recorded, recorded) == []


def test_outcome_marks_values_the_format_kept_out():
    planned = [FieldChange("crs", "none", "EPSG:32633"), FieldChange("metadata/A", "none", "1")]
    left = [FieldChange("crs", "none", "EPSG:32633")]

    got = outcome(planned, left, "PNG", dry_run=False)

    assert [(c.field, c.status) for c in got] == [("crs", NOT_HELD), ("metadata/A", RESTORED)]
    assert got[0].message.startswith("PNG cannot hold this value; it stays none.")


def test_content_check_refuses_other_pixels_and_other_kinds():
    recorded = _raster()
    check_same_content(recorded, "raster", "ab" * 32, "'x.tif'")
    with pytest.raises(ContentMismatch, match="pixels of 'x.tif' no longer match"):
        check_same_content(recorded, "raster", "cd" * 32, "'x.tif'")
    with pytest.raises(InputError, match="vector file but its sidecar describes a raster"):
        check_same_content(recorded, "vector", "ab" * 32, "'x.tif'")


def test_expected_header_is_the_recorded_one():
    header = expected_raster_header(_raster())
    assert (header.width, header.height, header.band_types) == (4, 2, ("Byte",))
    assert (header.nodata, header.crs) == ((0.0,), "EPSG:32633")
    assert header.geotransform == (10.0, 1.0, 0.0, 20.0, 0.0, -1.0)
