"""The rows of validatetopology's error layers: the fields, and each finding's location as the
layer of its dimension holds it (areas, points, lines; one geometry type per layer)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..geos import shapely
from .findings import Finding

# (name, kind) of every error layer, in order; kinds as processing_provider.compat names them.
ERROR_FIELDS: tuple[tuple[str, str], ...] = (
    ("rule", "str"),
    ("severity", "str"),
    ("fid", "int"),
    ("other_fid", "int"),
    ("message", "str"),
    ("is_exception", "bool"),
    ("key", "str"),
)
AREAS, POINTS, LINES = 2, 0, 1
_MULTI = {0: shapely.MultiPoint, 1: shapely.MultiLineString, 2: shapely.MultiPolygon}


def error_values(f: Finding) -> list[Any]:
    """The attribute values of ``f`` in ERROR_FIELDS order."""
    return [f.rule, f.severity, f.fid, f.other_fid, f.message, f.is_exception, f.key]


def _simple_parts(geom: Any) -> list[Any]:
    """The single-part pieces of a geometry, collections and multi-geometries flattened."""
    if geom.geom_type.startswith("Multi") or geom.geom_type == "GeometryCollection":
        return [p for part in shapely.get_parts(geom) for p in _simple_parts(part)]
    return [geom]


def error_location(wkt: str) -> tuple[int, Any]:
    """(dimension of the error layer it goes to, multi-part shapely geometry or None) of a
    finding's location. No location goes to the area layer without geometry; a collection
    keeps its highest-dimension parts (a layer holds one geometry type)."""
    geom = shapely.from_wkt(wkt) if wkt else None
    if geom is None:
        return AREAS, None
    parts = [p for p in _simple_parts(geom) if not p.is_empty]
    for dim in (AREAS, LINES, POINTS):
        chosen = [p for p in parts if shapely.get_dimensions(p) == dim]
        if chosen:
            return dim, _MULTI[dim](chosen)
    dim = int(shapely.get_dimensions(geom))
    return (dim, _MULTI[dim]()) if dim in _MULTI and geom.is_empty else (AREAS, None)


def error_rows(findings: Iterable[Finding]) -> dict[int, list[tuple[list[Any], Any]]]:
    """Rows (values, geometry or None) per error layer dimension, in finding order."""
    out: dict[int, list[tuple[list[Any], Any]]] = {AREAS: [], POINTS: [], LINES: []}
    for f in findings:  # one geometry per finding: findings are few next to features
        dim, geom = error_location(f.wkt)
        out[dim].append((error_values(f), geom))
    return out
