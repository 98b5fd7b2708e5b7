"""Label checks before export: invalid and empty geometries, repaired (counted) or refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ..errors import InputError
from ..geos import shapely

try:  # the shared core of topology validation (core/topology/)
    from ..topology import check_topology
except ImportError:  # pragma: no cover - only while topology.py is still being written
    check_topology = None
from .geo import polygonal_parts

REPAIR = "repair"
REFUSE = "refuse"


@dataclass(frozen=True)
class LabelCheck:
    """Result of checking annotation geometries before export.

    ``geoms`` are the geometries to export (repaired where needed); ``keep`` is False for
    features that cannot be exported (empty, or nothing polygonal left after repair).
    """

    geoms: np.ndarray
    keep: np.ndarray
    invalid_fids: Tuple[int, ...]
    empty_fids: Tuple[int, ...]
    repaired: int
    unrepairable_fids: Tuple[int, ...]


def _find_problems(fids: np.ndarray, geoms: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Boolean masks (invalid, empty) over the features, from the topology validation core."""
    if check_topology is None:  # same rules, shapely directly
        empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        return ~empty & ~shapely.is_valid(geoms), empty
    result = check_topology(fids, geoms, ("invalid", "empty"))
    invalid = {f.fid for f in result.findings if f.rule == "invalid"}
    empty = {f.fid for f in result.findings if f.rule == "empty"}
    return np.isin(fids, sorted(invalid)), np.isin(fids, sorted(empty))


def check_labels(
    fids: np.ndarray, geoms: np.ndarray, mode: str = REPAIR, *, list_limit: int = 20
) -> LabelCheck:
    """Find invalid and empty annotation geometries.

    With ``mode`` "repair", invalid ones go through ``make_valid`` (count in ``repaired``) and
    empty ones are left out. With "refuse", any invalid geometry raises.

    Raises:
        InputError: "refuse" mode and invalid geometries; the message lists their feature ids.
    """
    fids = np.asarray(fids, dtype=np.int64)
    geoms = np.asarray(geoms, dtype=object)
    invalid, empty = _find_problems(fids, geoms)
    invalid_fids = tuple(int(f) for f in np.sort(fids[invalid]))
    if invalid_fids and mode == REFUSE:
        shown = ", ".join(str(f) for f in invalid_fids[:list_limit])
        more = (
            f" (and {len(invalid_fids) - list_limit} more)"
            if len(invalid_fids) > list_limit
            else ""
        )
        raise InputError(
            f"{len(invalid_fids)} annotation(s) have invalid geometry: feature ids {shown}{more}. "
            "Fix them (Validate topology lists where), or set INVALID_LABELS to repair."
        )
    out = geoms.copy()
    keep = ~empty
    unrepairable: Tuple[int, ...] = ()
    if invalid.any():
        fixed = polygonal_parts(shapely.make_valid(geoms[invalid]))
        bad = np.array([g is None or shapely.is_empty(g) for g in fixed], dtype=bool)
        out[np.flatnonzero(invalid)] = fixed
        lost = np.flatnonzero(invalid)[bad]
        keep[lost] = False
        unrepairable = tuple(int(f) for f in np.sort(fids[lost]))
    return LabelCheck(
        geoms=out,
        keep=keep,
        invalid_fids=invalid_fids,
        empty_fids=tuple(int(f) for f in np.sort(fids[empty])),
        repaired=int(invalid.sum()) - len(unrepairable),
        unrepairable_fids=unrepairable,
    )


def first(values: Tuple[int, ...], n: int = 20) -> str | None:
    """Comma-separated first ``n`` ids, or None when there are none."""
    if not values:
        return None
    text = ", ".join(str(v) for v in values[:n])
    return text + (f" (and {len(values) - n} more)" if len(values) > n else "")
