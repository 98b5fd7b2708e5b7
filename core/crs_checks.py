"""CRS rules across the raster and vector layers of a dataset, on plain per-layer records."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .crs import (
    Bounds,
    CrsInfo,
    crs_difference,
    crs_label,
    describe_crs,
    projected_area_of_use,
    same_crs,
    transform_ring,
)
from .errors import CrsError, FileVanished, LabelGuardError
from .geos import shapely
from .progress import ProgressFn, StopFn, Ticker
from .report import tool_id, write_report
from .sidecar import read_sidecar

RASTER = "raster"
VECTOR = "vector"
ERROR = "error"
WARNING = "warning"

# Rule -> severity, in report order. The rule names are part of the public contract.
RULES: Dict[str, str] = {
    "missing_crs": ERROR,
    "invalid_crs": ERROR,
    "unexpected_crs": ERROR,
    "mixed_crs": ERROR,
    "geographic_crs": ERROR,
    "outside_area_of_use": WARNING,
    "wrong_units": ERROR,
    "axis_swapped": ERROR,
    "no_overlap": ERROR,
    "sidecar_drift": ERROR,
}
_RULE_ORDER = {rule: i for i, rule in enumerate(RULES)}

# Degrees. Global grids often end a hair past +-180/90 from pixel-edge rounding; that is not
# an error. Longitudes up to 360 are accepted because 0-360 grids are common in climate data.
DEGREE_TOLERANCE = 1e-6
LON_MIN, LON_MAX, LAT_MAX = -180.0, 360.0, 90.0

TOOL = tool_id("checkcrs")


def crs_problem(
    messages: Sequence[str], prj_name: str = "", prj_text: Optional[str] = None
) -> Optional[str]:
    """What checkcrs reports as invalid_crs from GDAL's messages about a layer's CRS (repeats
    dropped), led by the start of the shapefile's .prj text when there is one; None when GDAL
    said nothing."""
    if not messages:
        return None
    detail = "GDAL: " + "; ".join(dict.fromkeys(messages))
    if prj_text is not None:
        detail = f"{prj_name} says '{prj_text[:60]}'; {detail}"
    return detail


@dataclass(frozen=True)
class SidecarCrs:
    """The CRS a LabelGuard sidecar records for a data file.

    ``crs`` is WKT2 or "EPSG:n", None when the sidecar records that the file had no CRS.
    ``problem`` says why the sidecar could not be read (then ``crs`` is None).
    """

    path: str
    crs: Optional[str]
    problem: Optional[str] = None


@dataclass(frozen=True)
class LayerRecord:
    """One layer as read from its data source (not from QGIS, which may assume a CRS).

    ``crs`` is the WKT (or "EPSG:n") the data source declares, None when it declares none.
    ``crs_problem`` is set when the source declares a CRS that GDAL/PROJ could not read (the
    reader's message). ``extent`` is (xmin, ymin, xmax, ymax) in the layer's CRS units with
    x = east/longitude, as GDAL and QGIS store data; None for an empty layer.
    """

    name: str
    source: str
    kind: str
    crs: Optional[str]
    extent: Optional[Bounds] = None
    crs_problem: Optional[str] = None
    sidecar: Optional[SidecarCrs] = None


@dataclass(frozen=True)
class CrsFinding:
    """One finding. ``footprint`` is the layer's extent as WKT in longitude/latitude
    (EPSG:4326, x = longitude), None when the layer cannot be placed on the globe."""

    layer: str
    source: str
    rule: str
    severity: str
    message: str
    expected: str = ""
    found: str = ""
    footprint: Optional[str] = None

    def to_report(self) -> Dict[str, Any]:
        """A labelguard.report/1 finding record (fixed key order)."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "ids": [],
            "layer": self.layer,
            "source": self.source,
            "message": self.message,
            "expected": self.expected,
            "found": self.found,
            "location": self.footprint,
        }


@dataclass(frozen=True)
class CrsCheckResult:
    findings: Tuple[CrsFinding, ...]
    checked: int

    @property
    def error_count(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR)

    @property
    def warning_count(self) -> int:
        return sum(1 for f in self.findings if f.severity == WARNING)


@dataclass
class _Layer:
    """A layer with an interpretable CRS, as the dataset-wide rules see it."""

    index: int
    record: LayerRecord
    info: CrsInfo
    footprint: Any  # shapely geometry in lon/lat, or None
    trusted: bool  # extent usable for overlap (units and axes look right)


def require_source(layer: str, path: str, exists: Callable[[str], bool] = os.path.exists) -> None:
    """Raise FileVanished with a message for users when ``path`` no longer exists."""
    if not exists(path):
        raise FileVanished(
            f"Layer '{layer}': its file '{path}' no longer exists (moved, renamed or deleted). "
            "Restore the file or remove the layer from the check."
        )


def read_sidecar_crs(path: str) -> Optional[SidecarCrs]:
    """The CRS recorded in the sidecar at ``path``; None when there is no sidecar there.

    A sidecar that cannot be read or validated gives a SidecarCrs with ``problem`` set.
    """
    if not Path(path).is_file():
        return None
    try:
        doc = read_sidecar(Path(path))
    except LabelGuardError as exc:
        return SidecarCrs(path=str(path), crs=None, problem=str(exc))
    crs = doc.get("crs")
    if not isinstance(crs, dict):
        return SidecarCrs(path=str(path), crs=None)
    wkt2, epsg = crs.get("wkt2"), crs.get("epsg")
    text = wkt2 if wkt2 else (f"EPSG:{epsg}" if epsg is not None else None)
    return SidecarCrs(path=str(path), crs=text)


def check_crs(
    records: Sequence[LayerRecord],
    expected: Optional[str] = None,
    require_projected: bool = False,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
) -> CrsCheckResult:
    """Run every CRS rule over ``records``; findings ordered by layer, then rule.

    ``expected`` is WKT or "EPSG:n"; when given, layers in another CRS get ``unexpected_crs``
    and ``mixed_crs`` is not reported (it would repeat the same layers). Raises CrsError when
    ``expected`` cannot be interpreted, Cancelled when ``should_stop`` returns true.
    """
    expected_info = None
    if expected is not None and str(expected).strip():
        try:
            expected_info = describe_crs(expected)
        except CrsError as exc:
            raise CrsError(f"The expected CRS cannot be interpreted: {exc}") from exc
    ticker = Ticker(len(records) + 1, progress, should_stop)
    findings: List[Tuple[int, CrsFinding]] = []
    layers: List[_Layer] = []
    for index, record in enumerate(records):
        ticker.check()
        layer, items = _check_layer(index, record, expected_info, require_projected)
        findings.extend((index, item) for item in items)
        if layer is not None:
            layers.append(layer)
        ticker.advance()
    if expected_info is None:
        findings.extend(_mixed_crs(layers))
    findings.extend(_no_overlap(layers))
    ticker.advance()
    findings.sort(key=lambda pair: (pair[0], _RULE_ORDER[pair[1].rule]))
    return CrsCheckResult(findings=tuple(f for _, f in findings), checked=len(records))


def _check_layer(
    index: int, record: LayerRecord, expected: Optional[CrsInfo], require_projected: bool
) -> Tuple[Optional[_Layer], List[CrsFinding]]:
    name = record.name
    sidecar = record.sidecar
    if record.crs_problem:
        return None, [
            _finding(
                record,
                "invalid_crs",
                f"Layer '{name}' declares a CRS that cannot be interpreted ({record.crs_problem}); "
                "QGIS would silently use another one. Assign the correct CRS to the file.",
                found=record.crs_problem,
            )
        ]
    if record.crs is None or not str(record.crs).strip():
        hint, expected_text = "", (crs_label(expected) if expected is not None else "")
        if sidecar is not None and sidecar.crs is not None:
            try:
                expected_text = crs_label(sidecar.crs)
                hint = f" Its sidecar records {expected_text}."
            except CrsError:
                pass
        return None, [
            _finding(
                record,
                "missing_crs",
                f"Layer '{name}' has no CRS in its data source, so QGIS would silently assume one. "
                f"Assign the correct CRS to the file.{hint}",
                expected=expected_text,
                found="none",
            )
        ]
    try:
        info = describe_crs(record.crs)
    except CrsError as exc:
        return None, [
            _finding(record, "invalid_crs", f"Layer '{name}': {exc}", found=_short(str(record.crs)))
        ]
    label = crs_label(info)
    footprint = _footprint(info, record.extent)
    items: List[CrsFinding] = []
    if expected is not None and not same_crs(info, expected):
        items.append(
            _finding(
                record,
                "unexpected_crs",
                f"Layer '{name}' is in {label}, expected {crs_label(expected)} "
                f"({crs_difference(info, expected)}). Reproject it.",
                expected=crs_label(expected),
                found=label,
                footprint=footprint,
            )
        )
    if require_projected and info.is_geographic:
        items.append(
            _finding(
                record,
                "geographic_crs",
                f"Layer '{name}' is in {label}, a geographic CRS in degrees, but a projected "
                "CRS is required: areas, tolerances and tile sizes would be wrong. Reproject it.",
                expected="a projected CRS",
                found=label,
                footprint=footprint,
            )
        )
    extent_items, trusted = _extent_findings(record, info, footprint)
    items.extend(extent_items)
    items.extend(_sidecar_findings(record, info, footprint))
    layer = _Layer(index=index, record=record, info=info, footprint=footprint, trusted=trusted)
    return layer, items


def _extent_findings(
    record: LayerRecord, info: CrsInfo, footprint: Any
) -> Tuple[List[CrsFinding], bool]:
    """wrong_units, axis_swapped and outside_area_of_use; also whether the extent is usable."""
    ext = record.extent
    if ext is None or not all(math.isfinite(v) for v in ext):
        return [], False
    inside = None
    if info.is_geographic:
        bad, inside = _geographic_extent(record, info, ext, footprint)
        if bad is not None:
            return [bad], False
    elif info.is_projected:
        bad = _projected_extent(record, info, ext, footprint)
        if bad is not None:
            return [bad], False
    if info.area_of_use is None or not (info.is_geographic or info.is_projected):
        return [], True
    outside = _outside_area_of_use(record, info, ext, footprint, inside)
    return ([] if outside is None else [outside]), True


def _geographic_extent(
    record: LayerRecord, info: CrsInfo, ext: Tuple[float, ...], footprint: Any
) -> Tuple[Optional[CrsFinding], Optional[bool]]:
    """(axis_swapped or wrong_units finding or None, whether the extent lies inside the area
    of use, None when the CRS has none) of a layer in degrees."""
    name, label = record.name, crs_label(info)
    swapped = (ext[1], ext[0], ext[3], ext[2])
    aou = info.area_of_use
    inside = None
    valid = _lonlat_valid(ext)
    if aou is not None:
        area = _aou_geometry(aou)
        inside = valid and bool(area.covers(_geometry(ext)))
        if not inside and _lonlat_valid(swapped) and area.covers(_geometry(swapped)):
            return _finding(
                record,
                "axis_swapped",
                f"Layer '{name}' in {label} looks like it has latitude and longitude "
                f"swapped: its extent ({_xy_text(ext)}) lies outside the CRS's area of use "
                f"({_lonlat_text(aou)}), but with x and y exchanged it lies inside. Swap "
                "the x and y coordinates of the data.",
                expected=_lonlat_text(aou),
                found=_xy_text(ext),
                footprint=footprint,
            ), inside
    if not valid:
        return _finding(
            record,
            "wrong_units",
            f"Layer '{name}' is labelled {label} (degrees) but its coordinates "
            f"({_xy_text(ext)}) are impossible in degrees; they look like projected "
            "coordinates (e.g. metres). Assign the CRS the data were written in.",
            expected="longitude -180..360, latitude -90..90",
            found=_xy_text(ext),
        ), inside
    return None, inside


def _projected_extent(
    record: LayerRecord, info: CrsInfo, ext: Tuple[float, ...], footprint: Any
) -> Optional[CrsFinding]:
    """wrong_units (degrees in a projected CRS) or axis_swapped, or None."""
    name, label = record.name, crs_label(info)
    valid_box = projected_area_of_use(info)
    if valid_box is None:
        return None
    valid_geom = shapely.box(*valid_box)
    if valid_geom.intersects(_geometry(ext)):
        return None
    if _lonlat_valid(ext):
        return _finding(
            record,
            "wrong_units",
            f"Layer '{name}' is labelled {label} ({info.units}) but its "
            f"coordinates ({_xy_text(ext)}) look like degrees: they lie far "
            f"outside the CRS's valid range ({_xy_text(valid_box)}). Assign the "
            "CRS the data were written in.",
            expected=_xy_text(valid_box),
            found=_xy_text(ext),
        )
    if valid_geom.covers(_geometry((ext[1], ext[0], ext[3], ext[2]))):
        return _finding(
            record,
            "axis_swapped",
            f"Layer '{name}' in {label} looks like it has easting and northing "
            f"swapped: its extent ({_xy_text(ext)}) lies outside the CRS's valid "
            f"range ({_xy_text(valid_box)}), but with x and y exchanged it lies "
            "inside. Swap the x and y coordinates of the data.",
            expected=_xy_text(valid_box),
            found=_xy_text(ext),
            footprint=footprint,
        )
    return None


def _outside_area_of_use(
    record: LayerRecord,
    info: CrsInfo,
    ext: Tuple[float, ...],
    footprint: Any,
    inside: Optional[bool],
) -> Optional[CrsFinding]:
    """outside_area_of_use (a warning), or None when the layer lies inside the area of use."""
    aou = info.area_of_use
    area = _aou_geometry(aou)
    if inside is None:
        inside = footprint is not None and bool(area.covers(footprint))
    if inside:
        return None
    shape = _geometry(ext) if info.is_geographic else footprint
    if shape is None or shape.area <= 0 or not shape.intersects(area):
        how, share = "entirely", ""
    else:
        outside = shape.difference(area).area / shape.area
        how, share = "partly", f" ({outside:.0%} of its extent)"
    where = _lonlat_text(shape.bounds) if shape is not None else _xy_text(ext)
    area_name = f"{_area_name(info.area_name)}: " if info.area_name else ""
    return _finding(
        record,
        "outside_area_of_use",
        f"Layer '{record.name}' lies {how} outside the area of use of {crs_label(info)}{share}: "
        f"the layer covers {where}, the CRS is meant for {area_name}{_lonlat_text(aou)}. Check "
        "the CRS, or use one made for this area.",
        expected=_lonlat_text(aou),
        found=where,
        footprint=footprint,
    )


def _sidecar_findings(record: LayerRecord, info: CrsInfo, footprint: Any) -> List[CrsFinding]:
    sidecar = record.sidecar
    if sidecar is None:
        return []
    name, label, where = record.name, crs_label(info), os.path.basename(sidecar.path)
    if sidecar.problem:
        message = f"Layer '{name}': its sidecar {where} cannot be read ({sidecar.problem})."
        return [_finding(record, "sidecar_drift", message, found=label, footprint=footprint)]
    if sidecar.crs is None:
        return [
            _finding(
                record,
                "sidecar_drift",
                f"Layer '{name}' is in {label} but its sidecar {where} records no CRS. The "
                "CRS was assigned after the sidecar was written; re-export the sidecar if that "
                "is intended.",
                expected="none",
                found=label,
                footprint=footprint,
            )
        ]
    try:
        recorded = describe_crs(sidecar.crs)
    except CrsError as exc:
        return [
            _finding(
                record,
                "sidecar_drift",
                f"Layer '{name}': the CRS in its sidecar {where} is unusable: {exc}",
                found=label,
                footprint=footprint,
            )
        ]
    if same_crs(info, recorded):
        return []
    return [
        _finding(
            record,
            "sidecar_drift",
            f"Layer '{name}' is in {label} but its sidecar {where} records "
            f"{crs_label(recorded)} ({crs_difference(info, recorded)}). The data were "
            "reprojected or re-tagged after the sidecar was written: restore the CRS, or "
            "re-export the sidecar if the change is intended.",
            expected=crs_label(recorded),
            found=label,
            footprint=footprint,
        )
    ]


def _mixed_crs(layers: List[_Layer]) -> List[Tuple[int, CrsFinding]]:
    groups: List[List[_Layer]] = []
    for layer in layers:
        for group in groups:
            if same_crs(group[0].info, layer.info):
                group.append(layer)
                break
        else:
            groups.append([layer])
    if len(groups) < 2:
        return []
    # The CRS most layers share is the reference; on a tie, the imagery's, then the first.
    reference = max(
        groups, key=lambda g: (len(g), any(m.record.kind == RASTER for m in g), -g[0].index)
    )
    ref_label = crs_label(reference[0].info)
    names = _names([m.record.name for m in reference])
    verb = "is" if len(reference) == 1 else "are"
    out = []
    for group in groups:
        if group is reference:
            continue
        difference = crs_difference(group[0].info, reference[0].info)
        for layer in group:
            label = crs_label(layer.info)
            out.append(
                (
                    layer.index,
                    _finding(
                        layer.record,
                        "mixed_crs",
                        f"Layer '{layer.record.name}' is in {label} but {names} {verb} in "
                        f"{ref_label} ({difference}). Reproject so that all layers share one "
                        "CRS.",
                        expected=ref_label,
                        found=label,
                        footprint=layer.footprint,
                    ),
                )
            )
    return out


def _no_overlap(layers: List[_Layer]) -> List[Tuple[int, CrsFinding]]:
    rasters = [m for m in layers if m.record.kind == RASTER and m.trusted]
    if not rasters:
        return []
    out = []
    for vec in layers:
        if vec.record.kind != VECTOR or not vec.trusted:
            continue
        ext = vec.record.extent
        if ext is None:  # trusted layers have an extent; not an assert (stripped under -O)
            continue
        answers = [_overlaps(vec.info, ext, vec.footprint, r) for r in rasters]
        if any(answers) or all(a is None for a in answers):
            continue
        names = _names([r.record.name for r in rasters])
        swapped = (ext[1], ext[0], ext[3], ext[2])
        if (not vec.info.is_geographic or _lonlat_valid(swapped)) and any(
            _overlaps(vec.info, swapped, _footprint(vec.info, swapped), r) for r in rasters
        ):
            out.append(
                (
                    vec.index,
                    _finding(
                        vec.record,
                        "axis_swapped",
                        f"Layer '{vec.record.name}' looks like it has x and y swapped: it "
                        f"does not overlap the imagery ({names}), but with x and y exchanged "
                        "it does. Swap the x and y coordinates of the data.",
                        expected=f"overlap with {names}",
                        found=_xy_text(ext),
                        footprint=vec.footprint,
                    ),
                )
            )
            continue
        imagery = _union_text([r.footprint for r in rasters])
        covers = _union_text([vec.footprint])
        out.append(
            (
                vec.index,
                _finding(
                    vec.record,
                    "no_overlap",
                    f"Annotations '{vec.record.name}' do not overlap the imagery ({names}) "
                    f"once both are in one CRS: the annotations cover "
                    f"{covers or _xy_text(ext)}, the imagery covers "
                    f"{imagery or 'an area that cannot be placed on the globe'}. Check the CRS "
                    "of both, or whether they belong to the same dataset.",
                    expected=imagery or names,
                    found=covers or _xy_text(ext),
                    footprint=vec.footprint,
                ),
            )
        )
    return out


def _overlaps(info: CrsInfo, ext: Bounds, footprint: Any, raster: _Layer) -> Optional[bool]:
    """Whether an extent in ``info`` overlaps the raster's; None when that cannot be told.

    Tries the extent in the raster's CRS, then the raster's extent in ``info``, then both
    footprints in lon/lat: the first transformation PROJ can do decides.
    """
    r_ext = raster.record.extent
    if r_ext is None:  # trusted rasters have an extent
        return None
    for src, box, dst, target in ((info, ext, raster.info, r_ext), (raster.info, r_ext, info, ext)):
        ring = transform_ring(src, dst, box)
        if all(math.isfinite(c) for p in ring for c in p):
            return bool(_ring_geometry(ring).intersects(_geometry(target)))
    if footprint is not None and raster.footprint is not None:
        return bool(footprint.intersects(raster.footprint))
    return None


def write_crs_report(
    path: str,
    result: CrsCheckResult,
    records: Sequence[LayerRecord] = (),
    expected: Optional[str] = None,
    require_projected: bool = False,
) -> Dict[str, Any]:
    """Write the labelguard.report/1 JSON for a check atomically; returns the document.

    ``counts`` has every rule (0 when it found nothing), so ``total`` is the number of
    findings. Extra keys: ``layers`` (name, source, kind, CRS label of each record),
    ``settings`` and ``summary`` (layers checked, errors, warnings). Same input, same bytes.
    """
    counts = {rule: 0 for rule in RULES}
    for finding in result.findings:
        counts[finding.rule] += 1
    layers = []
    for record in records:
        try:
            crs: Optional[str] = crs_label(record.crs) if record.crs else None
        except CrsError:
            crs = None
        layers.append(
            {"name": record.name, "source": record.source, "kind": record.kind, "crs": crs}
        )
    extra = {
        "layers": layers,
        "settings": {
            "expected_crs": crs_label(expected) if expected else None,
            "require_projected": bool(require_projected),
        },
        "summary": {
            "checked": result.checked,
            "errors": result.error_count,
            "warnings": result.warning_count,
        },
    }
    findings = [f.to_report() for f in result.findings]
    return write_report(path, TOOL, findings, counts, extra)


def _finding(
    record: LayerRecord,
    rule: str,
    message: str,
    expected: str = "",
    found: str = "",
    footprint: Any = None,
) -> CrsFinding:
    wkt = None if footprint is None else shapely.to_wkt(footprint, rounding_precision=7, trim=True)
    return CrsFinding(
        layer=record.name,
        source=record.source,
        rule=rule,
        severity=RULES[rule],
        message=message,
        expected=expected,
        found=found,
        footprint=wkt,
    )


def _lonlat_valid(b: Sequence[float]) -> bool:
    tol = DEGREE_TOLERANCE
    return (
        LON_MIN - tol <= b[0] <= b[2] <= LON_MAX + tol
        and b[2] - b[0] <= 360.0 + tol
        and -LAT_MAX - tol <= b[1] <= b[3] <= LAT_MAX + tol
    )


def _aou_geometry(aou: Bounds) -> Any:
    """The area of use in lon/lat, also shifted by 360 degrees for 0-360 longitudes."""
    west, south, east, north = aou
    if west <= east:
        boxes = [(west, south, east, north), (west + 360.0, south, east + 360.0, north)]
    else:  # crosses the antimeridian
        boxes = [(-180.0, south, east, north), (west, south, east + 360.0, north)]
    tol = DEGREE_TOLERANCE
    return shapely.union_all(
        [shapely.box(w - tol, s - tol, e + tol, n + tol) for w, s, e, n in boxes]
    )


def _geometry(b: Sequence[float]) -> Any:
    """A box, or the line or point it degenerates to (a layer with one point)."""
    return shapely.envelope(shapely.multipoints([(b[0], b[1]), (b[2], b[3])]))


def _ring_geometry(ring: List[Tuple[float, float]]) -> Any:
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    if min(xs) == max(xs) or min(ys) == max(ys):
        return shapely.envelope(shapely.multipoints(ring))
    return shapely.Polygon(ring)


def _footprint(info: CrsInfo, ext: Optional[Bounds]) -> Any:
    """The extent in lon/lat (densified); None when it cannot be placed on the globe."""
    if ext is None or not all(math.isfinite(v) for v in ext):
        return None
    if not (info.is_geographic or info.is_projected):
        return None
    if info.is_geographic and not _lonlat_valid(ext):
        return None
    ring = transform_ring(info, "EPSG:4326", ext)
    if not all(math.isfinite(c) for p in ring for c in p):
        return None
    if not _lonlat_valid(
        (
            min(p[0] for p in ring),
            min(p[1] for p in ring),
            max(p[0] for p in ring),
            max(p[1] for p in ring),
        )
    ):
        return None
    return _ring_geometry(ring)


def _area_name(text: str, limit: int = 120) -> str:
    """The first phrase of an EPSG area name; the full names list every country."""
    return _short(text.split(". ")[0].split(": ")[0].rstrip("."), limit)


def _num(value: float) -> str:
    """Degrees to 6 decimals (about 0.1 m); large (metre, foot) values to 1 decimal."""
    text = f"{value:.{1 if abs(value) >= 1e4 else 6}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _xy_text(b: Sequence[float]) -> str:
    return f"x {_num(b[0])}..{_num(b[2])}, y {_num(b[1])}..{_num(b[3])}"


def _lonlat_text(b: Sequence[float]) -> str:
    return f"lon {_num(b[0])}..{_num(b[2])}, lat {_num(b[1])}..{_num(b[3])}"


def _union_text(footprints: Sequence[Any]) -> str:
    shapes = [f for f in footprints if f is not None]
    if not shapes:
        return ""
    return _lonlat_text(shapely.union_all(shapes).bounds)


def _names(names: Sequence[str], limit: int = 5) -> str:
    quoted = [f"'{n}'" for n in names[:limit]]
    if len(names) > limit:
        return ", ".join(quoted) + f" and {len(names) - limit} more"
    if len(quoted) > 1:
        return ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return quoted[0]


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
