"""CRS normalization on pyproj: EPSG where identifiable, WKT2, kind, axis order, area of use."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional, Tuple, Union

import pyproj
from pyproj.enums import WktVersion
from pyproj.exceptions import CRSError as _PyprojCRSError
from pyproj.exceptions import ProjError

from .errors import CrsError

# Minimum confidence (0-100) for pyproj's to_epsg() to call a WKT "EPSG:n". 70 is pyproj's
# default; WKT written by GDAL/QGIS for an EPSG CRS matches at 100, close variants at 70+.
EPSG_MIN_CONFIDENCE = 70


@dataclass(frozen=True)
class CrsInfo:
    """A CRS described by meaning.

    ``area_of_use`` is (west, south, east, north) in degrees (EPSG:4326 longitude/latitude),
    or None when the CRS does not declare one. ``axis_order`` lists the axis directions in
    the CRS's own order, e.g. ("north", "east") for EPSG:4326.
    """

    epsg: Optional[int]
    name: str
    wkt2: str
    is_geographic: bool
    is_projected: bool
    units: str
    axis_order: Tuple[str, ...]
    area_of_use: Optional[Tuple[float, float, float, float]]
    area_name: Optional[str]

    @property
    def authid(self) -> Optional[str]:
        return f"EPSG:{self.epsg}" if self.epsg is not None else None

    def to_dict(self) -> dict:
        """Plain, deterministic mapping for sidecars and reports (fixed key order)."""
        return {
            "epsg": self.epsg,
            "name": self.name,
            "kind": "geographic"
            if self.is_geographic
            else ("projected" if self.is_projected else "other"),
            "units": self.units,
            "axis_order": list(self.axis_order),
            "area_of_use": (
                None
                if self.area_of_use is None
                else {
                    "west": round(self.area_of_use[0], 6),
                    "south": round(self.area_of_use[1], 6),
                    "east": round(self.area_of_use[2], 6),
                    "north": round(self.area_of_use[3], 6),
                    "name": self.area_name,
                }
            ),
            "wkt2": self.wkt2,
        }


CrsLike = Union[str, CrsInfo, pyproj.CRS]


def to_pyproj(crs: CrsLike) -> pyproj.CRS:
    """A pyproj CRS from WKT (1 or 2), a PROJ string, "EPSG:n" or a CrsInfo.

    Raises CrsError when the text is empty or PROJ cannot interpret it.
    """
    if isinstance(crs, pyproj.CRS):
        return crs
    text = crs.wkt2 if isinstance(crs, CrsInfo) else crs
    if text is None or not str(text).strip():
        raise CrsError("No CRS is defined.")
    return _parse(str(text).strip())


@lru_cache(maxsize=256)
def _parse(text: str) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(text)
    except _PyprojCRSError as exc:
        short = text if len(text) <= 80 else text[:77] + "..."
        raise CrsError(f"PROJ cannot interpret the CRS '{short}': {exc}") from exc


def _units(crs: pyproj.CRS) -> str:
    names = sorted({(axis.unit_name or "unknown") for axis in crs.axis_info})
    return ",".join(names) if names else "unknown"


@lru_cache(maxsize=256)
def _describe(text: str) -> CrsInfo:
    crs = _parse(text)
    try:
        return _describe_parsed(crs)
    except ProjError as exc:  # parsed, but PROJ fails on it (identification, area, WKT2)
        short = text if len(text) <= 80 else text[:77] + "..."
        raise CrsError(f"PROJ cannot interpret the CRS '{short}': {exc}") from exc


def _describe_parsed(crs: pyproj.CRS) -> CrsInfo:
    epsg = crs.to_epsg(min_confidence=EPSG_MIN_CONFIDENCE)
    area = crs.area_of_use
    if epsg is not None:
        # Describe an identified CRS by its registry definition, so the same CRS written by two
        # tools (GDAL WKT1, QGIS WKT2, "EPSG:n") gives the same WKT2 and axis order.
        crs = pyproj.CRS.from_epsg(epsg)
        area = crs.area_of_use or area
    return CrsInfo(
        epsg=epsg,
        name=crs.name,
        wkt2=crs.to_wkt(WktVersion.WKT2_2019),
        is_geographic=bool(crs.is_geographic),
        is_projected=bool(crs.is_projected),
        units=_units(crs),
        axis_order=tuple(axis.direction for axis in crs.axis_info),
        area_of_use=None if area is None else tuple(area.bounds),  # type: ignore[arg-type]
        area_name=None if area is None else area.name,
    )


def describe_crs(crs: CrsLike) -> CrsInfo:
    """Normalized description of a CRS; raises CrsError if it is missing or uninterpretable."""
    if isinstance(crs, CrsInfo):
        return crs
    if isinstance(crs, pyproj.CRS):
        return _describe(crs.to_wkt(WktVersion.WKT2_2019))
    if crs is None or not str(crs).strip():
        raise CrsError("No CRS is defined.")
    return _describe(str(crs).strip())


def same_crs(a: CrsLike, b: CrsLike) -> bool:
    """True when two CRS definitions mean the same CRS (EPSG:4326 equals its WKT).

    Compares EPSG codes when both are identifiable, else pyproj equality ignoring axis order
    only when both declare the same axis directions.
    """
    ia, ib = describe_crs(a), describe_crs(b)
    if ia.epsg is not None and ib.epsg is not None:
        return ia.epsg == ib.epsg
    return to_pyproj(ia) == to_pyproj(ib)


def crs_label(crs: CrsLike) -> str:
    """Short human label: "EPSG:32633 (WGS 84 / UTM zone 33N)" or the CRS name."""
    info = describe_crs(crs)
    return f"{info.authid} ({info.name})" if info.epsg is not None else info.name


def crs_summary(info: Optional[CrsInfo]) -> Any:
    return None if info is None else info.to_dict()


Bounds = Tuple[float, float, float, float]


@lru_cache(maxsize=256)
def _transformer(src_wkt2: str, dst_wkt2: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(_parse(src_wkt2), _parse(dst_wkt2), always_xy=True)


def transformer(src: CrsLike, dst: CrsLike) -> pyproj.Transformer:
    """A cached pyproj Transformer with x = east/longitude on both sides (``always_xy``).

    Raises CrsError if either CRS is missing or uninterpretable.
    """
    return _transformer(describe_crs(src).wkt2, describe_crs(dst).wkt2)


def densified_ring(bounds: Bounds, points_per_side: int = 21) -> list:
    """The boundary of a box as a closed list of (x, y), ``points_per_side`` points per side.

    Densifying keeps the shape of a box that curves once it is projected.
    """
    xmin, ymin, xmax, ymax = bounds
    n = max(int(points_per_side), 2)
    steps = [i / (n - 1) for i in range(n)]
    ring = [(xmin + (xmax - xmin) * t, ymin) for t in steps]
    ring += [(xmax, ymin + (ymax - ymin) * t) for t in steps[1:]]
    ring += [(xmax - (xmax - xmin) * t, ymax) for t in steps[1:]]
    ring += [(xmin, ymax - (ymax - ymin) * t) for t in steps[1:]]
    return ring


def transform_ring(src: CrsLike, dst: CrsLike, bounds: Bounds, points_per_side: int = 21) -> list:
    """The densified boundary of ``bounds`` (x = east, ``src`` units) as (x, y) in ``dst``.

    Points PROJ cannot transform come back as ``inf``; callers check ``math.isfinite``.
    """
    ring = densified_ring(bounds, points_per_side)
    xs, ys = transformer(src, dst).transform(
        [p[0] for p in ring], [p[1] for p in ring], errcheck=False
    )
    return list(zip((float(x) for x in xs), (float(y) for y in ys)))


def projected_area_of_use(crs: CrsLike) -> Optional[Bounds]:
    """The area of use as (xmin, ymin, xmax, ymax) in the CRS's own units, x = east.

    None when the CRS declares no area of use or PROJ cannot transform its corners. The box
    encloses the densified area of use, so it is slightly larger than the area itself.
    """
    info = describe_crs(crs)
    if info.area_of_use is None:
        return None
    west, south, east, north = info.area_of_use
    if west > east:  # crosses the antimeridian; PROJ takes longitudes past 180 as well
        east += 360.0
    try:
        box = transformer("EPSG:4326", info).transform_bounds(
            west, south, east, north, densify_pts=21, errcheck=True
        )
    except pyproj.exceptions.ProjError:
        return None
    if not all(math.isfinite(v) for v in box):
        return None
    return tuple(float(v) for v in box)  # type: ignore[return-value]


def _kind(info: CrsInfo) -> str:
    return "geographic" if info.is_geographic else ("projected" if info.is_projected else "other")


def _datum_name(crs: pyproj.CRS) -> Optional[str]:
    datum = crs.datum
    if datum is None:
        return None
    # EPSG:3857 names its datum "World Geodetic System 1984", EPSG:4326 the ensemble of it.
    name = datum.name
    return name[: -len(" ensemble")] if name.endswith(" ensemble") else name


def _operation(crs: pyproj.CRS) -> Tuple[Optional[str], dict]:
    op = crs.coordinate_operation
    if op is None:
        return None, {}
    return op.method_name, {p.name: (round(float(p.value), 9), p.unit_name) for p in op.params}


def crs_difference(a: CrsLike, b: CrsLike) -> str:
    """How two CRSs differ, in words, e.g. "geographic (degree) vs projected (metre)".

    Lists kind, datum, projection method and parameters, units and axis order in that order;
    "the same CRS" when they are the same by meaning.
    """
    ia, ib = describe_crs(a), describe_crs(b)
    if same_crs(ia, ib):
        return "the same CRS"
    pa, pb = to_pyproj(ia), to_pyproj(ib)
    parts = []
    if _kind(ia) != _kind(ib):
        parts.append(f"{_kind(ia)} ({ia.units}) vs {_kind(ib)} ({ib.units})")
    elif ia.units != ib.units:
        parts.append(f"units {ia.units} vs {ib.units}")
    da, db = _datum_name(pa), _datum_name(pb)
    if da != db:
        parts.append(f"datum {da or 'unknown'} vs {db or 'unknown'}")
    (ma, params_a), (mb, params_b) = _operation(pa), _operation(pb)
    if ia.is_projected and ib.is_projected:
        if ma != mb:
            parts.append(f"projection {ma} vs {mb}")
        else:
            changed = [
                f"{name} {params_a[name][0]:g} vs {params_b[name][0]:g}"
                for name in sorted(set(params_a) & set(params_b))
                if params_a[name] != params_b[name]
            ]
            if changed:
                parts.append(f"{ma} with different parameters ({'; '.join(changed)})")
    # Geographic and projected CRSs differ in axis order as a rule; only say so between equals.
    if _kind(ia) == _kind(ib) and ia.axis_order != ib.axis_order:
        parts.append(f"axis order {','.join(ia.axis_order)} vs {','.join(ib.axis_order)}")
    return "; ".join(parts) if parts else "definitions differ in details (names or parameters)"


def ellipsoid_of(crs: CrsLike) -> Optional[Tuple[float, float]]:
    """(semi-major axis in metres, inverse flattening) of a geographic CRS, else None: what
    the topology rules need to give areas in square metres on longitude/latitude data."""
    if crs is None:
        return None
    parsed = to_pyproj(crs)
    if not parsed.is_geographic:
        return None
    ellipsoid = parsed.ellipsoid
    if ellipsoid is None or not ellipsoid.semi_major_metre:
        return (6378137.0, 298.257223563)
    return (float(ellipsoid.semi_major_metre), float(ellipsoid.inverse_flattening))


# Area units as QGIS abbreviates them (QgsUnitTypes), by the CRS's linear unit.
_AREA_UNITS = {
    "metre": "m²",
    "kilometre": "km²",
    "foot": "ft²",
    "US survey foot": "ft²",
    "yard": "yd²",
    "degree": "deg²",
}


def area_unit_of(crs: CrsLike) -> str:
    """The CRS's unit squared as topology messages name it ("m²", "ft²"); "" when unknown."""
    if crs is None:
        return ""
    axes = to_pyproj(crs).axis_info
    return _AREA_UNITS.get(axes[0].unit_name, "") if axes else ""
