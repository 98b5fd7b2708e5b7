"""core.timeutil: EXIF/GDAL/ISO times to UTC; offset-less times are recorded, not guessed."""

from __future__ import annotations

from typing import Optional

import pytest
from labelguard.core.timeutil import Timestamp, parse_timestamp, utc_now_iso

NOTE = "local time without a UTC offset; recorded as written, not converted"


def test_exif_time_without_offset_is_not_converted() -> None:
    ts = parse_timestamp("2024:05:17 10:42:00", "EXIF DateTimeOriginal")
    assert ts == Timestamp("2024-05-17T10:42:00", None, None, "EXIF DateTimeOriginal")
    assert ts.offset_known is False
    assert ts.to_dict() == {
        "value": "2024-05-17T10:42:00",
        "utc": None,
        "offset": None,
        "offset_known": False,
        "source": "EXIF DateTimeOriginal",
        "note": NOTE,
    }


@pytest.mark.parametrize(
    ("text", "local", "utc", "offset"),
    [
        ("2024-05-17T10:42:00+02:00", "2024-05-17T10:42:00", "2024-05-17T08:42:00Z", "+02:00"),
        ("2024-05-17T10:42:00Z", "2024-05-17T10:42:00", "2024-05-17T10:42:00Z", "+00:00"),
        ("2024-05-17T10:42:00z", "2024-05-17T10:42:00", "2024-05-17T10:42:00Z", "+00:00"),
        ("2024/05/17 10:42:00+02", "2024-05-17T10:42:00", "2024-05-17T08:42:00Z", "+02:00"),
        ("2024-05-17 23:30:00-05:30", "2024-05-17T23:30:00", "2024-05-18T05:00:00Z", "-05:30"),
        ("2024-01-01T00:15:00+0100", "2024-01-01T00:15:00", "2023-12-31T23:15:00Z", "+01:00"),
        ("2024-05-17T10:42:00-00:30", "2024-05-17T10:42:00", "2024-05-17T11:12:00Z", "-00:30"),
        ("2024:05:17 10:42:00+02:00", "2024-05-17T10:42:00", "2024-05-17T08:42:00Z", "+02:00"),
        ("2024-05-17 10:42:00 UTC", "2024-05-17T10:42:00", "2024-05-17T10:42:00Z", "+00:00"),
        (
            "2024-05-17T10:42:00.25+02:00",
            "2024-05-17T10:42:00.250000",
            "2024-05-17T08:42:00.250000Z",
            "+02:00",
        ),
        (
            "2024-05-17T10:42:00.9999999Z",
            "2024-05-17T10:42:00.999999",
            "2024-05-17T10:42:00.999999Z",
            "+00:00",
        ),
        ("  2024-05-17T10:42:00Z \n", "2024-05-17T10:42:00", "2024-05-17T10:42:00Z", "+00:00"),
    ],
    ids=[
        "iso-plus2",
        "iso-Z",
        "iso-lower-z",
        "gdal-plus2",
        "minus-half-hour",
        "compact-offset",
        "minus-zero-hours",
        "exif-with-offset",
        "utc-word",
        "fraction",
        "7-digit-fraction",
        "whitespace",
    ],
)
def test_times_with_offset_convert_to_utc(text: str, local: str, utc: str, offset: str) -> None:
    ts = parse_timestamp(text, "TIFFTAG_DATETIME")
    assert ts == Timestamp(local, utc, offset, "TIFFTAG_DATETIME")
    assert ts.to_dict()["note"] is None
    assert ts.to_dict()["offset_known"] is True


def test_iso_without_offset_is_local() -> None:
    ts = parse_timestamp("2024-05-17T10:42:00")
    assert ts == Timestamp("2024-05-17T10:42:00", None, None, "")
    assert ts.to_dict()["note"] == NOTE


def test_unknown_zone_name_is_not_guessed() -> None:
    """'PST' is not an offset LabelGuard can trust (it is ambiguous): recorded as local."""
    assert parse_timestamp("2024-05-17T10:42:00 PST") == Timestamp(
        "2024-05-17T10:42:00", None, None, ""
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        None,
        "garbage",
        "2024-05-17",
        "10:42:00",
        "2024-02-30T10:00:00",
        "2024-13-01T10:00:00",
        "2024-05-17T25:00:00",
        "2024-05-17T10:61:00",
        "2024-05-17T10:42:00+25:00",
        "2024-05-17T10:42:00+02:75",
        "17.05.2024 10:42",
        "2024:05:17",
    ],
    ids=[
        "empty",
        "blank",
        "none",
        "garbage",
        "date-only",
        "time-only",
        "feb-30",
        "month-13",
        "hour-25",
        "minute-61",
        "offset-25h",
        "offset-75min",
        "german",
        "exif-date-only",
    ],
)
def test_unparseable_gives_none(text: Optional[str]) -> None:
    assert parse_timestamp(text) is None  # type: ignore[arg-type]


def test_utc_now_iso_format() -> None:
    import re

    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", utc_now_iso())
