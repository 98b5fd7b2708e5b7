"""The rule vocabulary: rule names, severities, default thresholds and the finding messages.

Every text a finding carries is written here, so reports, the dock and the error layers read
one wording (and tests pin it).
"""

from __future__ import annotations

from collections.abc import Sequence

RULES: tuple[str, ...] = (
    "invalid",
    "empty",
    "duplicate",
    "near_duplicate",
    "overlap",
    "gap",
    "sliver",
    "min_area",
    "multipart",
    "dangle",
    "must_be_inside",
    "must_not_overlap_with",
    # Appended, never inserted: saved models select rules by their index in this tuple.
    "self_crossing",
    "duplicate_vertex",
    "spike",
    "hole",
    "contained",
)

SEVERITY: dict[str, str] = {
    "invalid": "error",
    "empty": "error",
    "duplicate": "error",
    "near_duplicate": "warning",
    "overlap": "error",
    "gap": "error",
    "sliver": "warning",
    "min_area": "warning",
    "multipart": "warning",
    "dangle": "warning",
    "must_be_inside": "error",
    "must_not_overlap_with": "error",
    "self_crossing": "error",
    "duplicate_vertex": "warning",
    "spike": "warning",
    "hole": "error",
    "contained": "error",
}

# Intersection over union at or above which two features count as near duplicates.
NEAR_DUPLICATE_IOU = 0.9
# Polsby-Popper compactness 4*pi*area/perimeter^2 (1 for a disc) below which a polygon is a
# sliver; 0.05 is about a 1:60 rectangle.
SLIVER_COMPACTNESS = 0.05

# Distance (CRS units) within which a line end touches another line: a line end snapped onto
# the middle of another line lies ~1e-14 off it in floating point. QGIS's geometry checks use
# the same 1e-8.
SNAP_TOLERANCE = 1e-8
# Angle (degrees) at a vertex below which the vertex is a spike: the boundary goes out and
# comes back almost along itself.
SPIKE_ANGLE = 1.0

# Rules that need the second (overlay) layer; skipped without one. They are not among the
# default rules: a feature cannot be both inside the overlay and not overlapping it.
OVERLAY_RULES = frozenset({"must_be_inside", "must_not_overlap_with"})
# Rules a user opts into: the geometry-checker rules added later (a default run on data that
# passed before still passes, unless an old rule already found the defect).
OPT_IN_RULES = frozenset({"self_crossing", "duplicate_vertex", "spike", "hole"})
# The rules checked when none are chosen (the default of the Processing RULES parameter).
# ``contained`` is among them: it takes over the overlap findings where one polygon lies
# inside the other.
DEFAULT_RULES: tuple[str, ...] = tuple(
    r for r in RULES if r not in OVERLAY_RULES and r not in OPT_IN_RULES
)
# Rules that only look at one feature at a time: with nothing else active, valid geometries
# are dropped as soon as they are tested, and memory is reused instead of grown.
PER_FEATURE_RULES = frozenset({"invalid", "empty"})
# Rules that need the overlapping pairs of polygons (and so find the duplicates on the way).
OVERLAP_RULES = frozenset({"overlap", "near_duplicate", "contained"})
# Rules on the vertices of lines and polygon rings (``vertices.py``).
VERTEX_RULES = frozenset({"duplicate_vertex", "spike"})
# Rules computed from pairs of neighbouring polygons (``pairs.py``).
PAIR_RULES = OVERLAP_RULES | {"gap"}
# Gap messages list this many feature ids, then "...".
GAP_LISTED_FIDS = 6
# Overlap and near-duplicate findings per feature (as the lower fid of the pair), and in all
# per rule, before the rest become one summary finding per feature: 200 000 packed squares
# have 8.7 million overlapping pairs, and a finding costs about 1.7 KB.
MAX_PAIR_FINDINGS = 10
MAX_LISTED_PAIRS = 100_000


def area_unit(geographic: bool, crs_unit: str = "") -> str:
    """The unit of areas in messages: square metres on an ellipsoid, else ``crs_unit`` (the
    CRS unit squared, e.g. "ft²"), or "square units" when the CRS unit is not known."""
    if geographic:
        return "m²"
    return crs_unit or "square units"


def _coordinate(v: float) -> str:
    return f"{float(v):.10g}"


def empty_message(kind: str) -> str:
    return f"Geometry is {kind}."


def invalid_message(reason: str) -> str:
    return f"Invalid geometry: {reason}."


def invalid_at_message(reason: str, x: float, y: float, k: int, n: int) -> str:
    """Location ``k`` of ``n`` where a geometry is invalid for ``reason``."""
    of = f" [{k} of {n}]" if n > 1 else ""
    return invalid_message(f"{reason} at ({_coordinate(x)}, {_coordinate(y)}){of}")


def duplicate_message(fid: int, other_fid: int) -> str:
    return f"Duplicate: feature {fid} and feature {other_fid} have the same geometry."


def near_duplicate_message(fid: int, other_fid: int, iou: float, threshold: float) -> str:
    return (
        f"Near duplicate: features {fid} and {other_fid} overlap with IoU {iou:.3f} "
        f"(threshold {threshold:.2f})."
    )


def overlap_message(area: float, unit: str, fid: int, other_fid: int, tolerance: float) -> str:
    return (
        f"Overlap of {area:.6g} {unit} between features {fid} and {other_fid} "
        f"(tolerance {tolerance:.6g})."
    )


def gap_message(area: float, unit: str, fids: Sequence[int]) -> str:
    """``fids``: the sorted ids of the features around the gap."""
    listed = ", ".join(map(str, fids[:GAP_LISTED_FIDS]))
    if len(fids) > GAP_LISTED_FIDS:
        listed += ", ..."
    return f"Gap of {area:.6g} {unit} between features {listed}."


def contained_message(
    area: float, unit: str, fid: int, container_fid: int, tolerance: float
) -> str:
    return (
        f"Contained: feature {fid} lies inside feature {container_fid} (overlap of "
        f"{area:.6g} {unit}, tolerance {tolerance:.6g})."
    )


def more_pairs_message(
    rule: str, fid: int, other_fids: Sequence[int], area: float, unit: str, cap: int
) -> str:
    """The summary of feature ``fid``'s ``rule`` pairs that are not findings of their own."""
    listed = ", ".join(map(str, other_fids[:GAP_LISTED_FIDS]))
    if len(other_fids) > GAP_LISTED_FIDS:
        listed += ", ..."
    one = len(other_fids) == 1
    if rule == "contained":
        return (
            f"Contained in {len(other_fids)} more feature{'' if one else 's'} {listed} "
            f"({area:.6g} {unit} in all), not listed one by one: at most {cap} per feature "
            f"and {MAX_LISTED_PAIRS} in all are; the location is the box around them."
        )
    what = ("overlap" if one else "overlaps") if rule == "overlap" else "near duplicate"
    if rule != "overlap" and not one:
        what = "near duplicates"
    return (
        f"{len(other_fids)} more {what} of feature {fid} with feature{'' if one else 's'} "
        f"{listed} "
        f"({area:.6g} {unit} in all), not listed one by one: at most {cap} per feature and "
        f"{MAX_LISTED_PAIRS} in all are; the location is the box around them."
    )


def min_area_message(area: float, min_area: float, unit: str) -> str:
    return f"Area {area:.6g} {unit} is below the minimum of {min_area:.6g} {unit}."


def sliver_message(compactness: float, limit: float) -> str:
    return f"Sliver: compactness {compactness:.3g} is below {limit:.3g} (long and thin)."


def multipart_message(n_parts: int) -> str:
    return (
        f"Multipart geometry with {n_parts} parts where a single part is expected; the "
        f"location shows the {n_parts - 1} extra part(s)."
    )


def dangle_message(end: str) -> str:
    """``end``: "start" or "end"."""
    return f"Dangling {end} point: the line ends without touching another line."


def self_crossing_message(x: float, y: float, k: int, n: int) -> str:
    """Location ``k`` of ``n`` where a line crosses or touches itself."""
    of = f" [{k} of {n}]" if n > 1 else ""
    return (
        f"Line crosses or touches itself at ({_coordinate(x)}, {_coordinate(y)}){of}: valid, "
        "but not simple."
    )


def duplicate_vertex_message(x: float, y: float) -> str:
    return (
        f"Duplicate vertex: the same point twice in a row at ({_coordinate(x)}, {_coordinate(y)})."
    )


def spike_message(angle: float, limit: float) -> str:
    return f"Spike: an angle of {angle:.3g}° at this vertex (below {limit:.3g}°)."


def hole_message(area: float, unit: str) -> str:
    return f"Hole of {area:.6g} {unit} in a polygon; holes are not allowed."


def outside_message() -> str:
    return "Outside the overlay layer: the location shows the part that lies outside."


def overlay_without_rule_message() -> str:
    names = " and/or ".join(sorted(OVERLAY_RULES))
    return (
        f"An overlay layer was given but no overlay rule is chosen: choose {names}, or "
        "check without the overlay layer."
    )


def overlaps_overlay_message(overlay_fid: int) -> str:
    return f"Overlaps overlay feature {overlay_fid}; the location shows the shared part."
