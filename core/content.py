"""Format-independent content hashes.

Vectors: every feature hashes to sha256(geometry hash + attribute hash), where the geometry hash
covers the normalized ISO WKB (shapely ``normalize``: ring start, ring orientation and part
order no longer matter; coordinates rounded to ``COORD_DECIMALS``) and the attribute hash covers
canonical JSON of the attributes sorted by field name, FID excluded. The layer hash is the
SHA-256 over the sorted feature hashes, so feature order, FIDs and the container format (GeoPackage,
GeoJSON, Shapefile) do not matter. Per-feature hashes are what ``diffversions`` compares.

The per-feature index (``write_feature_index``) also keeps each feature's normalized WKB, the
bytes its geometry hash covers, when it is at most ``MAX_KEPT_WKB`` bytes: the size budget is
1 KiB per feature, so at most 1 GiB of WKB per million features before gzip; measured, a whole
index of a million 9-vertex polygons is 200 MB gzip'd with arbitrary coordinates, 86 MB on a
grid (benchmarks/bench_diff.py). Indexes written before this column existed still read.

Rasters: SHA-256 over a canonical header (size, band types, nodata, geotransform, CRS by EPSG or
WKT2) followed by the pixel bytes of every band in row order.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import gzip
import hashlib
import io
import json
import math
import re
import zlib
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .errors import SchemaError
from .geos import shapely
from .progress import StopFn, check_stop

VECTOR_METHOD = "labelguard.vector-content/1"
RASTER_METHOD = "labelguard.raster-content/1"
# GeoJSON written by GDAL keeps 15 significant digits; rounding to 1e-7 CRS units (0.1 um in
# metres, 1 cm in degrees) makes the same features hash the same in every container.
COORD_DECIMALS = 7
EXCLUDED_FIELDS = frozenset({"fid", "ogc_fid"})
# Geometries whose normalized WKB is larger (a polygon of more than ~60 vertices) keep only their
# hash in the feature index: the budget above.
MAX_KEPT_WKB = 1024


def _canonical_value(value: Any) -> Any:
    if isinstance(value, np.generic):  # numpy scalars from an adapter: as Python values
        value = value.item()
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()  # as gdalio.vector gives them: ISO 8601 text
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 2**53:
            return int(value)  # 3.0 (Real) and 3 (Integer) are the same attribute value
        return float(repr(value))
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_canonical_value(v) for v in value]
    return value


def _encode_values(values: List[Any], dumps: Callable[[Any], str]) -> List[str]:
    """JSON text of each value; ints, strings and nulls skip the generic path (the common
    annotation attributes: ids, class names, empty fields)."""
    out: List[str] = []
    append = out.append
    for v in values:  # one pass per column; every branch is a C call
        t = type(v)
        if t is int:
            append(str(v))
        elif t is str:
            append(encode_basestring(v))
        elif v is None:
            append("null")
        else:
            append(dumps(_canonical_value(v)))
    return out


def canonical_attributes(columns: Dict[str, List[Any]], n: int) -> List[bytes]:
    """Canonical JSON bytes of each feature's attributes (fields sorted, FID columns dropped)."""
    names = sorted(name for name in columns if name.lower() not in EXCLUDED_FIELDS)
    if not names:
        return [b"{}"] * n
    dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
    encoded_cols = []
    for i, name in enumerate(names):
        prefix = ("{" if i == 0 else ",") + dumps(name) + ":"
        encoded_cols.append([prefix + v for v in _encode_values(columns[name], dumps)])
    return [("".join(parts) + "}").encode("utf-8") for parts in zip(*encoded_cols)]


def normalized_wkb(wkb: np.ndarray) -> np.ndarray:
    """Normalized ISO WKB (object array; None for null geometries) from raw WKB."""
    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    present = ~shapely.is_missing(geoms)
    out = np.full(len(wkb), None, dtype=object)
    if present.any():
        g = geoms[present]
        # Round 2D and 3D geometries apart: with include_z=True some shapely 2.x/GEOS versions
        # turn a 2D geometry into a 3D one with NaN Z, so the same layer would hash differently
        # on another machine. This keeps every geometry's dimension as read.
        has_z = shapely.has_z(g)
        rounded = np.empty(len(g), dtype=object)
        for mask, z in ((~has_z, False), (has_z, True)):
            if mask.any():
                rounded[mask] = shapely.transform(
                    g[mask], lambda c: np.round(c, COORD_DECIMALS), include_z=z
                )
        g = shapely.normalize(rounded)
        out[present] = shapely.to_wkb(g, byte_order=1, flavor="iso")
    return out


@dataclass(frozen=True)
class FeatureHashes:
    """Per-feature hashes of one batch (hex strings, aligned with ``fids``)."""

    fids: np.ndarray
    geometry: List[str]
    attributes: List[str]
    attributes_json: List[str]
    kept_wkb: List[Optional[bytes]] = field(default_factory=list)
    """Normalized WKB of each geometry up to MAX_KEPT_WKB bytes, else None."""

    @property
    def feature(self) -> List[str]:
        return [feature_hash(g, a) for g, a in zip(self.geometry, self.attributes)]


_NULL_GEOMETRY = hashlib.sha256(b"null").hexdigest()
# (fid, geometry hash, attributes hash, attributes JSON[, kept normalized WKB or None])
IndexRow = Tuple[Any, ...]


def feature_hash(geometry_hash: str, attributes_hash: str) -> str:
    return hashlib.sha256(f"{geometry_hash}:{attributes_hash}".encode()).hexdigest()


def hash_feature_batch(
    fids: np.ndarray, wkb: np.ndarray, columns: Dict[str, List[Any]]
) -> FeatureHashes:
    norm = normalized_wkb(wkb)
    sha = hashlib.sha256
    geom = [_NULL_GEOMETRY if w is None else sha(w).hexdigest() for w in norm.tolist()]
    attrs_json = canonical_attributes(columns, len(fids))
    attrs = [sha(a).hexdigest() for a in attrs_json]
    kept = [w if w is not None and len(w) <= MAX_KEPT_WKB else None for w in norm.tolist()]
    return FeatureHashes(
        np.asarray(fids, dtype=np.int64),
        geom,
        attrs,
        [a.decode("utf-8") for a in attrs_json],
        kept,
    )


@dataclass
class VectorContent:
    """Result of hashing a vector layer: the layer hash and its per-feature index."""

    sha256: str
    feature_count: int
    index: List[IndexRow] = field(repr=False, default_factory=list)
    """(fid, geometry hash, attributes hash, canonical attributes JSON, kept normalized WKB or
    None) per feature, by fid."""


def vector_content(
    batches: Iterable[Any],
    *,
    keep_index: bool = True,
    progress=None,
    total: Optional[int] = None,
    should_stop: StopFn = None,
) -> VectorContent:
    """Content hash of a layer given batches with ``fids``, ``wkb`` and ``columns`` attributes
    (see gdalio.vector.VectorBatch). ``total`` (feature count) drives progress."""
    feature_hashes: List[str] = []
    index: List[IndexRow] = []
    seen = 0
    for batch in batches:
        check_stop(should_stop)
        fh = hash_feature_batch(batch.fids, batch.wkb, batch.columns)
        feature_hashes.extend(fh.feature)
        if keep_index:
            index.extend(
                zip(fh.fids.tolist(), fh.geometry, fh.attributes, fh.attributes_json, fh.kept_wkb)
            )
        seen += len(fh.fids)
        if progress is not None and total:
            progress(min(1.0, seen / total))
    return combine_vector_content([(feature_hashes, index)])


def combine_vector_content(
    parts: Sequence[Tuple[List[str], List[IndexRow]]],
) -> VectorContent:
    """The content of a layer from the (feature hashes, index rows) of its parts, e.g. fid
    ranges hashed on different workers: the layer hash is over the sorted feature hashes, so
    how the features were split does not change it."""
    feature_hashes = sorted(h for hashes, _ in parts for h in hashes)
    digest = hashlib.sha256(f"{VECTOR_METHOD}\n".encode())
    for h in feature_hashes:
        digest.update(bytes.fromhex(h))
    index = [row for _, rows in parts for row in rows]
    index.sort(key=lambda row: row[0])
    return VectorContent(digest.hexdigest(), len(feature_hashes), index)


def write_feature_index(rows: Sequence[Sequence[Any]]) -> bytes:
    """Deterministic gzip'd TSV of the per-feature index (mtime 0, so same rows, same bytes).

    Rows of four (fid, geometry hash, attributes hash, attributes JSON) give the first format;
    rows of five add a ``geometry_wkb`` column: base64 of the kept normalized WKB, empty when
    the row keeps none (None, null or over MAX_KEPT_WKB bytes).
    """
    with_geometry = any(len(row) > 4 for row in rows)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=1, mtime=0, filename="") as gz:
        if not with_geometry:
            gz.write(f"{INDEX_HEADER}\n".encode())
            # One write: gzip's per-call overhead dominated with a write per feature.
            text = "".join(f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\n" for r in rows)
        else:
            gz.write(f"{INDEX_HEADER_WKB}\n".encode())
            b64 = base64.b64encode
            text = "".join(
                f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t"
                f"{b64(r[4]).decode() if len(r) > 4 and r[4] else ''}\n"
                for r in rows
            )
        gz.write(text.encode())
    return buf.getvalue()


_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}\Z")
INDEX_HEADER = "fid\tgeometry_sha256\tattributes_sha256\tattributes"
INDEX_HEADER_WKB = INDEX_HEADER + "\tgeometry_wkb"


def _gunzip(data: bytes, limit: int) -> bytes:
    """One gzip member, refusing more than ``limit`` bytes out (a gzip bomb) and trailing data."""
    inflater = zlib.decompressobj(wbits=31)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise ValueError(f"it unpacks to more than {limit} bytes")
    if not inflater.eof:
        raise ValueError("the gzip stream is truncated")
    if inflater.unused_data:
        raise ValueError("data follows the gzip stream")
    return out


def read_feature_index(
    data: bytes, what: str = "Feature index", *, with_geometry: bool = False
) -> List[Any]:
    """Rows of a feature index written by ``write_feature_index``, either format.

    Rows are (fid, geometry hash, attributes hash, attributes JSON); ``with_geometry`` adds the
    kept normalized WKB (None where the index keeps none, and always for the first format).
    Raises SchemaError naming ``what`` (the file and the manifest) for anything else: not gzip,
    a gzip bomb (over 64 MiB or 200 times its size unpacked), not UTF-8, a bad row.
    """
    try:
        text = _gunzip(data, max(64 << 20, 200 * len(data))).decode("utf-8")
    except (ValueError, zlib.error, UnicodeDecodeError) as exc:
        raise SchemaError(f"{what} is not a LabelGuard feature index: {exc}.") from None
    # Split on "\n" only: str.splitlines() also splits on U+2028, U+0085 and others, which
    # canonical JSON leaves unescaped inside attribute values.
    lines = text.split("\n")
    if lines[0] not in (INDEX_HEADER, INDEX_HEADER_WKB):
        raise SchemaError(f"{what} is not a LabelGuard feature index: its first line is wrong.")
    if lines[0] == INDEX_HEADER_WKB:
        return _read_wkb_rows(lines, what, with_geometry)
    rows: List[Any] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        parts = line.split("\t", 3)
        if len(parts) != 4 or not _HEX64.match(parts[1]) or not _HEX64.match(parts[2]):
            raise SchemaError(f"{what} is not a LabelGuard feature index: line {number} is bad.")
        try:
            fid = int(parts[0])
        except ValueError:
            raise SchemaError(
                f"{what} is not a LabelGuard feature index: line {number} has no feature id."
            ) from None
        if with_geometry:
            rows.append((fid, parts[1], parts[2], parts[3], None))
        else:
            rows.append((fid, parts[1], parts[2], parts[3]))
    return rows


_HEX_TEXT = re.compile(r"[0-9a-f]*\Z")
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/=]*\Z")


def _read_wkb_rows(lines: List[str], what: str, with_geometry: bool) -> List[Any]:
    """Rows of the format with a geometry_wkb column, checked column by column: one regex over
    a whole column instead of two per row (a million rows parse in about 2 s, not 9)."""
    body = lines[1:]
    if body and body[-1] == "":
        body.pop()
    parts = [line.split("\t") for line in body]
    bad = next((n for n, p in enumerate(parts) if len(p) != 5), None)
    if bad is None and parts:
        fids, geoms, attrs, texts, b64s = zip(*parts)
        for col in (geoms, attrs):
            if not (all(len(h) == 64 for h in col) and _HEX_TEXT.match("".join(col))):
                bad = next(n for n, h in enumerate(col) if not _HEX64.match(h))
                break
        if bad is None and not _BASE64_TEXT.match("".join(b64s)):
            bad = next(n for n, b in enumerate(b64s) if not _BASE64.match(b))
        if bad is None:
            bad = next((n for n, b in enumerate(b64s) if len(b) % 4 or "=" in b.rstrip("=")), None)
    if bad is not None:
        raise SchemaError(f"{what} is not a LabelGuard feature index: line {bad + 2} is bad.")
    if not parts:
        return []
    try:
        fid_values = list(map(int, fids))
    except ValueError:
        bad = next(n for n, f in enumerate(fids) if not f.strip().lstrip("-").isdigit())
        raise SchemaError(
            f"{what} is not a LabelGuard feature index: line {bad + 2} has no feature id."
        ) from None
    if not with_geometry:
        return list(zip(fid_values, geoms, attrs, texts))
    decode = binascii.a2b_base64
    try:
        wkbs = [decode(b) if b else None for b in b64s]
    except binascii.Error:
        bad = next(n for n, b in enumerate(b64s) if b and not _valid_b64(b))
        raise SchemaError(
            f"{what} is not a LabelGuard feature index: line {bad + 2} is bad."
        ) from None
    return list(zip(fid_values, geoms, attrs, texts, wkbs))


def _valid_b64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return False
    return True


@dataclass(frozen=True)
class RasterHeader:
    width: int
    height: int
    band_types: Tuple[str, ...]
    nodata: Tuple[Optional[float], ...]
    geotransform: Tuple[float, ...]
    crs: Optional[str]
    """EPSG:n when identifiable, else WKT2, else None (no CRS)."""

    def canonical(self) -> bytes:
        doc = {
            "method": RASTER_METHOD,
            "size": [self.width, self.height],
            "bands": list(self.band_types),
            # NaN nodata is a value ("nan"): a float raster with NaN as nodata masks pixels
            # that one without nodata does not, so the two must not hash the same.
            "nodata": [None if v is None else repr(float(v)) for v in self.nodata],
            "geotransform": [repr(float(v)) for v in self.geotransform],
            "crs": self.crs,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def raster_content(
    header: RasterHeader, blocks: Iterable[bytes], *, should_stop: StopFn = None
) -> str:
    """SHA-256 over the canonical header then the pixel blocks (band-major, row order)."""
    digest = hashlib.sha256(header.canonical())
    for block in blocks:
        check_stop(should_stop)
        digest.update(block)
    return digest.hexdigest()
