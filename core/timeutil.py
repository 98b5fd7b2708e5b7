"""Acquisition times to ISO 8601 UTC; a local time without an offset is recorded as such."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Optional

_PATTERNS = (
    # EXIF / TIFFTAG_DATETIME: "2024:05:17 10:42:00"
    re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?(.*)$"),
    # ISO 8601 and GDAL's "2024/05/17 10:42:00+02"
    re.compile(r"^(\d{4})[-/](\d{2})[-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?(.*)$"),
)
_OFFSET = re.compile(r"^\s*(?:(Z|UTC|GMT)|([+-])(\d{2}):?(\d{2})?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Timestamp:
    """``local`` is the time as written (ISO 8601, no offset). ``utc`` is ISO 8601 with "Z" when
    the offset is known, else None: an offset-less time is never silently taken as UTC."""

    local: str
    utc: Optional[str]
    offset: Optional[str]
    source: str

    @property
    def offset_known(self) -> bool:
        return self.utc is not None

    def to_dict(self) -> dict:
        return {
            "value": self.local,
            "utc": self.utc,
            "offset": self.offset,
            "offset_known": self.offset_known,
            "source": self.source,
            "note": None
            if self.offset_known
            else "local time without a UTC offset; recorded as written, not converted",
        }


def parse_timestamp(text: str, source: str = "") -> Optional[Timestamp]:
    """Parse EXIF/TIFF ("2024:05:17 10:42:00"), GDAL and ISO 8601 times; None if unparseable."""
    raw = (text or "").strip()
    for pattern in _PATTERNS:
        m = pattern.match(raw)
        if not m:
            continue
        y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
        # Microseconds from at most 6 digits (truncated): rounding ".9999999" up to 1e6 us
        # would make a valid time unparseable.
        micro = int((m.group(7) or ".")[1:7].ljust(6, "0"))
        try:
            base = dt.datetime(y, mo, d, h, mi, s, micro)
        except ValueError:
            return None
        local = base.isoformat()
        rest = (m.group(8) or "").strip()
        if not rest:
            return Timestamp(local, None, None, source)
        om = _OFFSET.match(rest)
        if not om:
            return Timestamp(local, None, None, source)
        if om.group(1):
            delta = dt.timedelta(0)
        else:
            hours, minutes = int(om.group(3)), int(om.group(4) or 0)
            if hours > 23 or minutes > 59:  # datetime.timezone would raise ValueError
                return None
            sign = -1 if om.group(2) == "-" else 1
            delta = sign * dt.timedelta(hours=hours, minutes=minutes)
        aware = base.replace(tzinfo=dt.timezone(delta))
        utc = aware.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat() + "Z"
        total = int(delta.total_seconds() // 60)
        offset = "{}{:02d}:{:02d}".format(
            "+" if total >= 0 else "-", abs(total) // 60, abs(total) % 60
        )
        return Timestamp(local, utc, offset, source)
    return None


def utc_now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# Metadata tags that carry an acquisition time, in order of preference (GDAL domains, EXIF).
TIME_KEYS = (
    "ACQUISITIONDATETIME",
    "ACQUISITION_DATETIME",
    "ACQUISITION_TIME",
    "DATETIME_ORIGINAL",
    "TIFFTAG_DATETIME",
    "DATETIME",
    "IMAGE_DATE",
)


def acquisition_time(metadata: dict) -> Optional[Timestamp]:
    """The first parseable acquisition time among TIME_KEYS (keys compared case-insensitively)."""
    md = {str(k).upper(): v for k, v in metadata.items()}
    for key in TIME_KEYS:
        if key in md:
            ts = parse_timestamp(md[key], source=key)
            if ts is not None:
                return ts
    return None
