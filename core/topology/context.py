"""What every rule receives: the options of a check and the context of one run."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

from ..geos import shapely
from ..progress import Ticker
from .geometry import local_area_scale
from .rules import (
    MAX_PAIR_FINDINGS,
    NEAR_DUPLICATE_IOU,
    SLIVER_COMPACTNESS,
    SNAP_TOLERANCE,
    SPIKE_ANGLE,
    area_unit,
)

# (rule, fid, other fid, message, location geometry or None) as the rules add them.
RawFinding = Tuple[str, int, Optional[int], str, Any]


@dataclass(frozen=True)
class TopologyOptions:
    """The thresholds of one check.

    Areas (``tolerance``: the overlap area that is still accepted, ``min_area``, and
    ``max_gap_area``: 0 means gaps of any size) are in CRS units squared, or in square metres
    when ``ellipsoid`` = (semi-major axis in metres, inverse flattening) says the coordinates
    are longitude/latitude degrees. ``near_duplicate_iou`` is an intersection over union and
    ``sliver_compactness`` a Polsby-Popper compactness, both 0-1. ``snap_tolerance`` is the
    distance in CRS units (degrees for a geographic CRS) within which a line end touches a
    line. ``max_pair_findings`` caps the overlap and near-duplicate findings per feature (0: no
    cap); the rest become one summary finding. ``area_unit`` names the CRS unit squared in
    messages ("m²", "ft²"); empty: "square units" (areas of a geographic CRS are always m²).
    ``spike_angle`` is the angle in degrees at a vertex below which it is a spike (0: off);
    ``snap_tolerance`` is also the distance within which consecutive vertices are duplicates.
    """

    tolerance: float = 0.0
    min_area: float = 0.0
    max_gap_area: float = 0.0
    near_duplicate_iou: float = NEAR_DUPLICATE_IOU
    sliver_compactness: float = SLIVER_COMPACTNESS
    ellipsoid: Optional[Tuple[float, float]] = None
    snap_tolerance: float = SNAP_TOLERANCE
    max_pair_findings: int = MAX_PAIR_FINDINGS
    area_unit: str = ""
    spike_angle: float = SPIKE_ANGLE

    @property
    def geographic(self) -> bool:
        """Coordinates are degrees and areas square metres."""
        return self.ellipsoid is not None


@dataclass
class RuleContext:
    """State of one check that every rule receives: the features in fid order (``geoms`` holds
    None for null, unreadable and, with per-feature rules only, valid geometries), the options,
    the thread pool, the progress ticker, and the findings added so far."""

    fids: np.ndarray
    geoms: np.ndarray
    pool: ThreadPoolExecutor
    ticker: Ticker
    options: TopologyOptions = field(default_factory=TopologyOptions)
    findings: List[RawFinding] = field(default_factory=list)

    @property
    def unit(self) -> str:
        """The unit of ``area`` in messages."""
        return area_unit(self.options.geographic, self.options.area_unit)

    def add(self, rule: str, idx: int, other_fid: int | None, message: str, geom: Any) -> int:
        """Adds a finding on feature ``idx`` (an index into ``fids``); returns its position."""
        self.findings.append((rule, int(self.fids[idx]), other_fid, message, geom))
        return len(self.findings) - 1

    def locate(self, position: int, geom: Any) -> None:
        """Sets the location of the finding at ``position`` (locations made in bulk later)."""
        rule, fid, other, message, _ = self.findings[position]
        self.findings[position] = (rule, fid, other, message, geom)

    def area(self, geoms: np.ndarray) -> np.ndarray:
        """Areas in CRS units squared, or square metres for a geographic CRS."""
        a = shapely.area(geoms)
        if self.options.ellipsoid is None or len(a) == 0:
            return a
        b = shapely.bounds(geoms)
        lat = 0.5 * (b[:, 1] + b[:, 3])
        return a * local_area_scale(np.nan_to_num(lat), *self.options.ellipsoid)

    def pmap(
        self,
        func: Callable[..., Any],
        arrays: Sequence[np.ndarray],
        chunk: int,
        ticker: Ticker | None = None,
    ) -> list[Any]:
        """``func`` over aligned chunks of ``arrays`` in the pool; results in order.

        Chunks are small enough (a fraction of a second) that cancelling stops quickly: the
        ticker raises Cancelled between chunks and pending chunks are dropped.
        """
        n = len(arrays[0])
        starts = list(range(0, n, chunk))
        futures = [self.pool.submit(func, *(a[s : s + chunk] for a in arrays)) for s in starts]
        out = []
        try:
            for s, fut in zip(starts, futures):
                out.append(fut.result())
                if ticker is not None:
                    ticker.advance(min(chunk, n - s))
                else:
                    self.ticker.check()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        return out
