"""What restoremetadata writes back: the fields a sidecar records that a format conversion can
lose (CRS, geotransform, nodata, band colour and description, recorded metadata items), the
change list shown to the user, and the content check that must pass before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .content import RasterHeader
from .errors import ContentMismatch, InputError
from .paths import shorten

# Per field, what happened (or would happen) to it.
RESTORED = "restored"
PLANNED = "planned"  # dry run: would be restored
NOT_HELD = "not_held"  # the file's format cannot hold the value; left as it is
NOT_RESTORED = "not_restored"  # the format holds it, but not for this value: see the message


@dataclass(frozen=True)
class BandTarget:
    index: int
    nodata: Optional[float]
    color: Optional[str]
    description: Optional[str]


@dataclass(frozen=True)
class RestoreTarget:
    """The values a restored file should hold, from its sidecar. ``metadata`` is the whole
    recorded default-domain metadata; items the file has beyond it (and that a sidecar would
    record) are removed. ``time_key``/``time_text``: a vector's acquisition time tag."""

    kind: str  # "raster" | "vector"
    crs_wkt: Optional[str]
    geotransform: Tuple[float, ...] = ()
    bands: Tuple[BandTarget, ...] = ()
    metadata: Optional[Dict[str, str]] = None


@dataclass(frozen=True)
class FieldChange:
    """One sidecar field that differs: ``before`` as the file holds it, ``after`` as the
    sidecar records it (display text; "none" when unset)."""

    field: str
    before: str
    after: str
    status: str = PLANNED
    message: str = ""


def restore_target(recorded: Dict[str, Any]) -> RestoreTarget:
    """The target values of a sidecar document (labelguard.sidecar/1)."""
    crs = recorded.get("crs")
    wkt = None if crs is None else crs["wkt2"]
    if recorded["kind"] == "raster":
        raster = recorded["raster"]
        return RestoreTarget(
            kind="raster",
            crs_wkt=wkt,
            geotransform=tuple(float(v) for v in raster["geotransform"]),
            bands=tuple(
                BandTarget(b["index"], b["nodata"], b["color"], b["description"])
                for b in raster["bands"]
            ),
            metadata=dict(recorded.get("metadata") or {}),
        )
    return RestoreTarget(kind="vector", crs_wkt=wkt)


def expected_raster_header(recorded: Dict[str, Any]) -> RasterHeader:
    """The content-hash header the file had when its sidecar was written: hashing the file's
    pixels after it gives the sidecar's content SHA-256 exactly when the pixels are the same."""
    raster = recorded["raster"]
    crs = recorded.get("crs")
    crs_key = None if crs is None else (f"EPSG:{crs['epsg']}" if crs["epsg"] else crs["wkt2"])
    return RasterHeader(
        raster["width"],
        raster["height"],
        tuple(b["data_type"] for b in raster["bands"]),
        tuple(None if b["nodata"] is None else float(b["nodata"]) for b in raster["bands"]),
        tuple(float(v) for v in raster["geotransform"]),
        crs_key,
    )


def check_same_content(recorded: Dict[str, Any], kind: str, sha256: str, what: str) -> None:
    """ContentMismatch unless the file (``kind``, content ``sha256`` measured with the
    sidecar's header) is the content its sidecar describes: only metadata is restored, never
    onto other pixels or features."""
    if recorded["kind"] != kind:
        raise InputError(f"{what} is a {kind} file but its sidecar describes a {recorded['kind']}.")
    if recorded["content"]["sha256"] != sha256:
        noun = "pixels" if kind == "raster" else "features"
        raise ContentMismatch(
            f"The {noun} of {what} no longer match its sidecar's content hash (a lossy format "
            f"such as JPEG, resampling, or edits since); nothing was written. Restore metadata "
            f"only onto a lossless copy of the file the sidecar was written for."
        )


def _crs_text(crs: Optional[Dict[str, Any]]) -> str:
    if crs is None:
        return "none"
    return f"EPSG:{crs['epsg']}" if crs.get("epsg") else str(crs.get("name") or "custom CRS")


def _same_crs(a: Optional[Dict[str, Any]], b: Optional[Dict[str, Any]]) -> bool:
    if a is None or b is None:
        return a is b
    if a.get("epsg") or b.get("epsg"):
        return a.get("epsg") == b.get("epsg")
    return a["wkt2"] == b["wkt2"]


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return shorten(str(value), 120)


def field_changes(recorded: Dict[str, Any], current: Dict[str, Any]) -> List[FieldChange]:
    """The restorable fields where ``current`` (the sidecar document the file would get now,
    from ``build_sidecar``) differs from ``recorded``, in a fixed order: CRS, geotransform,
    bands, metadata items by name, acquisition time (vectors)."""
    changes: List[FieldChange] = []
    if not _same_crs(recorded.get("crs"), current.get("crs")):
        changes.append(
            FieldChange("crs", _crs_text(current.get("crs")), _crs_text(recorded.get("crs")))
        )
    if recorded["kind"] == "raster":
        rec, now = recorded["raster"], current["raster"]
        if [float(v) for v in rec["geotransform"]] != [float(v) for v in now["geotransform"]]:
            changes.append(
                FieldChange(
                    "raster/geotransform", _text(now["geotransform"]), _text(rec["geotransform"])
                )
            )
        for rb, nb in zip(rec["bands"], now["bands"]):
            for key in ("nodata", "color", "description"):
                if rb[key] != nb[key]:
                    changes.append(
                        FieldChange(
                            f"raster/bands/{rb['index']}/{key}", _text(nb[key]), _text(rb[key])
                        )
                    )
        rec_md = recorded.get("metadata") or {}
        now_md = current.get("metadata") or {}
        for key in sorted(set(rec_md) | set(now_md)):
            if rec_md.get(key) != now_md.get(key):
                changes.append(
                    FieldChange(f"metadata/{key}", _text(now_md.get(key)), _text(rec_md.get(key)))
                )
    else:
        rec_t, now_t = recorded.get("acquisition_time"), current.get("acquisition_time")
        if (rec_t or {}).get("value") != (now_t or {}).get("value"):
            changes.append(
                FieldChange(
                    "acquisition_time",
                    _text((now_t or {}).get("value")),
                    _text((rec_t or {}).get("value")),
                )
            )
    return changes


def outcome(
    planned: List[FieldChange], left: List[FieldChange], fmt: str, dry_run: bool
) -> List[FieldChange]:
    """The planned changes with their outcome: ``left`` lists the fields that still differ
    after writing (the format ``fmt`` cannot hold them)."""
    still = {c.field: c for c in left}
    out = []
    for c in planned:
        if dry_run:
            out.append(c)
        elif c.field in still and c.after == "none":
            out.append(
                FieldChange(
                    c.field,
                    c.before,
                    c.after,
                    NOT_HELD,
                    f"{fmt} writes this item itself; it stays {still[c.field].before}.",
                )
            )
        elif c.field in still:
            out.append(
                FieldChange(
                    c.field,
                    c.before,
                    c.after,
                    NOT_HELD,
                    f"{fmt} cannot hold this value; it stays {still[c.field].before}. "
                    "Convert to GeoTIFF (rasters) or GeoPackage (vectors) to keep it.",
                )
            )
        else:
            out.append(FieldChange(c.field, c.before, c.after, RESTORED))
    return out
