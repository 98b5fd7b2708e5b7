"""Turning (fids, geometries) batches into geometries in fid order, validity tested on the side."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import wkb as _wkb
from ..geos import shapely
from ..progress import Ticker
from ..wkb import WkbArray

_PARSE_CHUNK = 32_768
# Features of a chunk that ``wkb.known_valid`` is first asked about (see ``add_chunk``).
_SAMPLE = 512
# Chunks parsed ahead of the oldest one whose validity test is still running.
_AHEAD = 4

Batch = tuple[np.ndarray, Any]


@dataclass
class Parsed:
    """Geometries of all features in fid order, and what parsing learnt about them."""

    fids: np.ndarray
    geoms: np.ndarray  # None for null, unreadable and (when dropped) valid geometries
    null: np.ndarray  # no geometry at all
    empty: np.ndarray  # an empty geometry
    valid: np.ndarray  # GEOS is_valid (False where null or unreadable)
    # GEOS cannot read the blob: its message and first coordinate (None if there is none)
    unreadable: dict[int, tuple[str, tuple[float, float] | None]]


def parse_batches(
    batches: Iterable[Batch], ticker: Ticker, pool: ThreadPoolExecutor, keep_valid: bool
) -> Parsed:
    """Parse (fids, geometries) batches as they arrive, testing validity on the side.

    Parsing holds the GIL (it creates a Python object per geometry), so it runs in this
    thread, chunk by chunk, while the pool tests the validity of the chunks already parsed
    (GEOS releases the GIL); when the batches come from a reader, reading overlaps with the
    validity test too. Without ``keep_valid``, valid geometries are let go once tested.
    """
    parts = _Parts(pool, keep_valid)
    try:
        for fids, raw in batches:
            fids = np.asarray(fids, dtype=np.int64)
            if len(fids) != len(raw):
                raise ValueError("fids and geoms differ in length")
            parts.fids.append(fids)
            parse = _parser(raw)
            for chunk, has_blob in _chunks(raw):
                ticker.advance(parts.add_chunk(chunk, has_blob, parse))
        parts.settle(keep=0)
    except BaseException:
        parts.cancel()
        raise
    return _in_fid_order(parts.parsed())


class _Parts:
    """The pieces of ``Parsed`` as chunks are parsed, and the validity tests still running."""

    def __init__(self, pool: ThreadPoolExecutor, keep_valid: bool) -> None:
        self.pool = pool
        self.keep_valid = keep_valid
        self.fids: list[np.ndarray] = []
        self.geoms: list[np.ndarray] = []
        self.null: list[np.ndarray] = []
        self.empty: list[np.ndarray] = []
        self.valid: list[np.ndarray] = []
        self.unreadable: dict[int, tuple[str, tuple[float, float] | None]] = {}
        self.pending: list[tuple[np.ndarray, Future]] = []
        self.offset = 0

    def add_chunk(
        self, chunk: Any, has_blob: np.ndarray, parse: Callable[[Any], np.ndarray] | None
    ) -> int:
        """Parses ``chunk``, queues its validity test; returns its feature count.

        Without ``keep_valid``, blobs that are valid for certain (``wkb.known_valid``) are
        not parsed at all."""
        n = len(chunk)
        known = np.zeros(n, dtype=bool)
        if not self.keep_valid and isinstance(chunk, WkbArray):
            known = _known_valid(chunk)
        ask = np.flatnonzero(~known)
        if ask.size * 2 > n:  # a copy of most of the chunk costs more than parsing it all
            known[:] = False
            ask = np.arange(n)
        if ask.size == n:
            # (a copy when given geometries: valid ones may be let go below)
            geoms = parse(chunk) if parse is not None else np.array(chunk, dtype=object)
        else:
            geoms = np.full(n, None, dtype=object)
            if ask.size:
                geoms[ask] = _wkb.decode(chunk.take(ask))
        missing = shapely.is_missing(geoms) & ~known
        failed = np.flatnonzero(missing & has_blob)
        if failed.size:
            self.unreadable.update(zip((self.offset + failed).tolist(), _unreadable(chunk, failed)))
        self.null.append(missing & ~has_blob)
        self.geoms.append(geoms)
        tested = geoms if ask.size == n else geoms[ask]
        self.pending.append((geoms, known, ask, self.pool.submit(_validity, tested)))
        self.settle(keep=_AHEAD)
        self.offset += n
        return n

    def settle(self, keep: int) -> None:
        """Collects validity results until at most ``keep`` tests are running."""
        while len(self.pending) > keep:
            geoms, known, ask, fut = self.pending.pop(0)
            valid_asked, empty_asked = fut.result()
            valid, empty = known.copy(), np.zeros(len(known), dtype=bool)
            valid[ask], empty[ask] = valid_asked, empty_asked
            if not self.keep_valid:
                geoms[valid] = None
            self.valid.append(valid)
            self.empty.append(empty)

    def cancel(self) -> None:
        for *_, fut in self.pending:
            fut.cancel()

    def parsed(self) -> Parsed:
        def cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
            return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

        return Parsed(
            cat(self.fids, np.int64),
            cat(self.geoms, object),
            cat(self.null, bool),
            cat(self.empty, bool),
            cat(self.valid, bool),
            self.unreadable,
        )


def _known_valid(chunk: WkbArray) -> np.ndarray:
    """``wkb.known_valid`` of a chunk, asked of a sample first: on concave cells it decides
    little and costs about what GEOS does, so the chunk is asked only when the sample is at
    least half decided."""
    sample = _wkb.known_valid(chunk[:_SAMPLE])
    if len(chunk) <= _SAMPLE:
        return sample
    if np.count_nonzero(sample) * 2 < len(sample):
        return np.zeros(len(chunk), dtype=bool)
    return _wkb.known_valid(chunk)


def _in_fid_order(parsed: Parsed) -> Parsed:
    fids = parsed.fids
    if len(fids) < 2 or np.all(fids[1:] >= fids[:-1]):
        return parsed
    order = np.argsort(fids, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return Parsed(
        fids[order],
        parsed.geoms[order],
        parsed.null[order],
        parsed.empty[order],
        parsed.valid[order],
        {int(rank[i]): msg for i, msg in parsed.unreadable.items()},
    )


def _parser(raw: Any) -> Callable[[Any], np.ndarray] | None:
    """The function turning a chunk of ``raw`` into geometries (None: they are already)."""
    if isinstance(raw, WkbArray):
        return _wkb.decode
    first = next((v for v in raw if v is not None), None)
    if isinstance(first, str):
        return lambda chunk: shapely.from_wkt(chunk, on_invalid="ignore")
    if isinstance(first, (bytes, bytearray, memoryview)):
        return _wkb.decode
    if first is None:
        return lambda chunk: np.full(len(chunk), None, dtype=object)
    return None


def _chunks(raw: Any) -> Iterable[tuple[Any, np.ndarray]]:
    """Pieces of at most _PARSE_CHUNK features, each with its has-a-blob mask."""
    if not isinstance(raw, WkbArray):
        raw = np.asarray(raw, dtype=object)
    for start in range(0, len(raw), _PARSE_CHUNK):
        chunk = raw[start : start + _PARSE_CHUNK]
        if isinstance(chunk, WkbArray):
            yield chunk, chunk.lengths > 0
        else:
            yield chunk, np.not_equal(chunk, None)


def _unreadable(chunk: Any, failed: np.ndarray) -> list[tuple[str, tuple[float, float] | None]]:
    """GEOS's own message for blobs it could not read (rare: e.g. a one-point ring), and the
    first coordinate of each, read without GEOS, as its location."""
    blobs = chunk.take(failed).to_objects() if isinstance(chunk, WkbArray) else chunk[failed]
    out = []
    for blob in blobs:  # a loop: these are the few broken blobs of a layer
        try:
            if isinstance(blob, str):
                shapely.from_wkt(blob)
            else:
                shapely.from_wkb(blob)
            message = "GEOS cannot read this geometry"
        except Exception as exc:  # noqa: BLE001 - GEOS's message is the finding
            message = str(exc).split("\n")[0]
        out.append((message, _wkb.first_coordinate(blob)))
    return out


def _validity(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is_valid, is_empty) of a chunk, in a pool thread: GEOS releases the GIL."""
    return shapely.is_valid(geoms), shapely.is_empty(geoms)
