"""Findings, the result of a check, and the keys that identify a finding across runs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..geos import shapely
from .context import RawFinding
from .exceptions import as_exception_entries
from .rules import RULES, SEVERITY


@dataclass(frozen=True)
class Finding:
    """One problem at one place.

    ``wkt`` is the location in the layer's CRS (empty for a null geometry). ``key`` identifies
    the finding across runs (see ``finding_key``); ``is_exception`` is true when it matched an
    accepted exception.
    """

    rule: str
    severity: str
    fid: int
    other_fid: int | None
    message: str
    wkt: str
    is_exception: bool = False
    key: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Report record (fixed key order)."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "fid": self.fid,
            "other_fid": self.other_fid,
            "message": self.message,
            "is_exception": self.is_exception,
            "key": self.key,
            "location": self.wkt or None,
        }


@dataclass(frozen=True)
class TopologyResult:
    """Findings sorted by rule (in ``RULES`` order), fid, other fid and location.

    ``counts`` has one entry per checked rule and excludes accepted exceptions; ``checked`` is
    the number of features looked at.
    """

    findings: tuple[Finding, ...]
    checked: int
    counts: dict[str, int]

    @property
    def error_count(self) -> int:
        return int(sum(self.counts.values()))

    @property
    def exception_count(self) -> int:
        return sum(1 for f in self.findings if f.is_exception)


def finding_key(
    rule: str, fid: int, other_fid: int | None, wkt_or_geom: Any, geographic: bool = False
) -> str:
    """A 16-hex-digit key for a finding that survives re-runs and edits of other features.

    It hashes the rule, the feature id(s) and the centroid of the error location rounded to
    1e-7 degrees (geographic CRS, about 1 cm) or 1e-3 CRS units (projected). Editing the
    feature itself moves the location and so retires the key, on purpose.
    """
    if isinstance(wkt_or_geom, str):
        geom = shapely.from_wkt(wkt_or_geom) if wkt_or_geom else None
    else:
        geom = wkt_or_geom
    x, y = _anchors(np.array([geom], dtype=object))[0].tolist()
    return _key(rule, fid, other_fid, x, y, 7 if geographic else 3)


def _anchors(geoms: np.ndarray) -> np.ndarray:
    """(x, y) per geometry that keys its finding: the centroid, or the first coordinate of a
    degenerate geometry; NaN for none."""
    out = np.full((len(geoms), 2), np.nan)
    has = ~shapely.is_missing(geoms)
    has[has] = ~shapely.is_empty(geoms[has])
    idx = np.flatnonzero(has)
    if idx.size:
        c = shapely.centroid(geoms[idx])
        out[idx, 0], out[idx, 1] = shapely.get_x(c), shapely.get_y(c)
        for i in idx[shapely.is_empty(c)]:  # degenerate geometry: its first coordinate
            out[i] = shapely.get_coordinates(geoms[i])[0]
    return out


def _key(rule: str, fid: int, other_fid: int | None, x: float, y: float, digits: int) -> str:
    """The key of a finding anchored at (``x``, ``y``) (NaN: no location), the anchor rounded
    to ``digits`` decimals. Called once per finding: plain floats, no numpy scalars."""
    loc = ""
    if x == x:  # not NaN
        loc = f"{round(x, digits) + 0.0:.{digits}f} {round(y, digits) + 0.0:.{digits}f}"
    other = "" if other_fid is None else str(int(other_fid))
    text = f"{rule}|{int(fid)}|{other}|{loc}"
    # A stable id for a finding, not a security hash (the plugin site's Bandit scan asks).
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


_RULE_ORDER = {r: k for k, r in enumerate(RULES)}


def finding_order(f: Finding) -> tuple[int, int, int, str, str]:
    """How findings are sorted: by rule (in ``RULES`` order), fid, other fid, location and
    message."""
    return (
        _RULE_ORDER[f.rule],
        f.fid,
        -1 if f.other_fid is None else f.other_fid,
        f.wkt,
        f.message,
    )


def build_result(
    raw: Sequence[RawFinding],
    active: Sequence[str],
    exceptions: Iterable[Any] | None,
    checked: int,
    geographic: bool,
) -> TopologyResult:
    """The sorted, keyed findings of ``raw`` with accepted ``exceptions`` marked, and the
    counts of the ``active`` rules."""
    entries = as_exception_entries(exceptions)
    keys = {e.key for e in entries if e.key}
    loose = {(e.rule, e.fid, e.other_fid) for e in entries if not e.key}
    loose_any_other = {(e.rule, e.fid) for e in entries if not e.key and e.other_fid is None}
    geoms = np.array([f[4] for f in raw] + [None], dtype=object)[:-1]
    wkts = shapely.to_wkt(geoms, rounding_precision=-1) if len(geoms) else []
    anchors = _anchors(geoms).tolist()
    digits = 7 if geographic else 3
    findings: list[Finding] = []
    for (rule, fid, other, message, _geom), wkt, (x, y) in zip(raw, wkts, anchors):
        wkt = wkt or ""
        key = _key(rule, fid, other, x, y, digits)
        accepted = key in keys or (rule, fid, other) in loose or (rule, fid) in loose_any_other
        findings.append(Finding(rule, SEVERITY[rule], fid, other, message, wkt, accepted, key))
    findings.sort(key=finding_order)
    counts = {r: 0 for r in active}
    for f in findings:
        if not f.is_exception:
            counts[f.rule] += 1
    return TopologyResult(tuple(findings), checked, counts)


def location_wkbs(findings: Sequence[Finding]) -> list[bytes | None]:
    """The findings' locations as WKB (None where a finding has no location), parsed from
    their WKT in one GEOS call: an error layer writer reads these much faster than WKT."""
    wkts = np.array([f.wkt or None for f in findings] + [None], dtype=object)[:-1]
    if len(wkts) == 0:
        return []
    return list(shapely.to_wkb(shapely.from_wkt(wkts)))


def report_extra(
    input_name: str,
    crs: str,
    result: TopologyResult,
    rules: Sequence[str],
    parameters: dict[str, float],
    geographic: bool,
    crs_area_unit: str = "",
) -> dict[str, Any]:
    """The extra keys of a validatetopology report: the input's name and CRS (authority id or
    WKT), the area units, what was checked, the ``rules`` in ``RULES`` order and the area
    ``parameters`` (tolerance, min_area, max_gap_area, snap_tolerance).

    ``area_units`` is "m2" on an ellipsoid, else the CRS unit squared in ASCII ("ft2" for
    ``crs_area_unit`` "ft²"), or "crs_units2" when the CRS unit is not known."""
    unit = "m²" if geographic else crs_area_unit
    return {
        "input": input_name,
        "crs": crs,
        "area_units": unit.replace("²", "2") if unit else "crs_units2",
        "checked": result.checked,
        "exceptions": result.exception_count,
        "rules": [r for r in RULES if r in rules],
        "parameters": {
            k: parameters[k] for k in ("tolerance", "min_area", "max_gap_area", "snap_tolerance")
        },
    }
