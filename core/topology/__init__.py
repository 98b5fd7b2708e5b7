"""Topology and geometry rules for annotation layers (see ``engine.py``)."""

from __future__ import annotations

from .engine import (
    NEAR_DUPLICATE_IOU,
    RULES,
    SEVERITY,
    SLIVER_COMPACTNESS,
    Batch,
    ExceptionEntry,
    Finding,
    TopologyResult,
    as_exception_entries,
    check_topology,
    check_topology_batches,
    finding_key,
    local_area_scale,
    self_intersection_points,
)

__all__ = [
    "NEAR_DUPLICATE_IOU",
    "RULES",
    "SEVERITY",
    "SLIVER_COMPACTNESS",
    "Batch",
    "ExceptionEntry",
    "Finding",
    "TopologyResult",
    "as_exception_entries",
    "check_topology",
    "check_topology_batches",
    "finding_key",
    "local_area_scale",
    "self_intersection_points",
]
