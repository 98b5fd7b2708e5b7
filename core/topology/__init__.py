"""Topology and geometry rules for annotation layers, vectorized with shapely 2.

``check_topology`` / ``check_topology_batches`` (``engine.py``) parse the features
(``parse.py``), build a ``RuleContext`` with the ``TopologyOptions`` (``context.py``) and
hand it to one module per rule family: ``validity``, ``duplicates``, ``pairs`` (overlap,
near_duplicate, contained, gap), ``area`` (sliver, min_area), ``parts`` (multipart, hole),
``lines`` (dangle, self_crossing), ``vertices`` (duplicate_vertex, spike) and ``overlay``
(must_*). Names, severities, thresholds and messages live in
``rules.py``, geometry type ids and shared geometry helpers in ``geometry.py``. Rule modules
import these and ``context`` (``pairs`` also the duplicate helpers), never the engine; only
the engine imports the rule modules.
"""

from __future__ import annotations

from .context import RuleContext, TopologyOptions
from .engine import check_topology, check_topology_batches
from .exceptions import ExceptionEntry, as_exception_entries, load_exceptions
from .findings import Finding, TopologyResult, finding_key
from .geometry import local_area_scale
from .parse import Batch
from .rules import (
    DEFAULT_RULES,
    NEAR_DUPLICATE_IOU,
    OVERLAY_RULES,
    RULES,
    SEVERITY,
    SLIVER_COMPACTNESS,
    SNAP_TOLERANCE,
    SPIKE_ANGLE,
)
from .validity import self_intersection_points

__all__ = [
    "DEFAULT_RULES",
    "NEAR_DUPLICATE_IOU",
    "OVERLAY_RULES",
    "RULES",
    "SEVERITY",
    "SLIVER_COMPACTNESS",
    "SNAP_TOLERANCE",
    "SPIKE_ANGLE",
    "Batch",
    "ExceptionEntry",
    "Finding",
    "RuleContext",
    "TopologyOptions",
    "TopologyResult",
    "as_exception_entries",
    "check_topology",
    "check_topology_batches",
    "finding_key",
    "load_exceptions",
    "local_area_scale",
    "self_intersection_points",
]
