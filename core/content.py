"""Format-independent content hashes.

Vectors: every feature hashes to sha256(geometry hash + attribute hash), where the geometry hash
covers the normalized ISO WKB (shapely ``normalize``: ring start, ring orientation and part
order no longer matter; coordinates rounded to ``COORD_DECIMALS``) and the attribute hash covers
canonical JSON of the attributes sorted by field name, FID excluded. The layer hash is the
SHA-256 over the sorted feature hashes, so feature order, FIDs and the container format (GeoPackage,
GeoJSON, Shapefile) do not matter. Per-feature hashes are what ``diffversions`` compares.

The per-feature index (``write_feature_index``) also keeps each feature's normalized WKB, the
bytes its geometry hash covers, when it is at most ``MAX_KEPT_WKB`` bytes: the size budget is
1 KiB per feature, so at most 1 GiB of WKB per million features before gzip. Since format 3 the
index is binary and columnar (raw digests and WKB instead of hex and base64 text), so it reads
without building a Python object per feature. Indexes of formats 1 and 2 (gzip'd TSV) still
read.

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
import itertools
import json
import math
import re
import zlib
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .bulk import paused_gc
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


INDEX_FORMAT_3 = b"labelguard.feature-index/3\n"
_U64 = np.dtype("<u8")
_I64 = np.dtype("<i8")
_U32 = np.dtype("<u4")


class FeatureIndex:
    """A per-feature index held as columns (numpy arrays and byte blobs), as format 3 stores
    it: building a million row tuples and hex strings cost more than the whole diff.

    ``fids`` (int64), ``geometry`` and ``attributes`` (SHA-256 digests, uint8 of shape (n,
    32)), ``attributes_text`` (the canonical attributes JSON, UTF-8, each ended by a newline;
    canonical JSON escapes newlines) and the kept normalized WKB (``wkb_blob`` with n + 1
    ``wkb_offsets``; an empty slice keeps none). ``rows()`` gives the row tuples that
    ``read_feature_index`` returns.
    """

    __slots__ = (
        "fids",
        "geometry",
        "attributes",
        "attributes_text",
        "text_offsets",
        "wkb_blob",
        "wkb_offsets",
    )

    def __init__(
        self,
        fids: np.ndarray,
        geometry: np.ndarray,
        attributes: np.ndarray,
        attributes_text: bytes,
        wkb_lengths: np.ndarray,
        wkb_blob: bytes,
    ) -> None:
        n = len(fids)
        self.fids = fids
        self.geometry = geometry
        self.attributes = attributes
        self.attributes_text = attributes_text
        ends = np.flatnonzero(np.frombuffer(attributes_text, np.uint8) == 10) + 1
        if len(ends) != n or (n and ends[-1] != len(attributes_text)):
            raise ValueError("the attributes column does not hold one line per feature")
        self.text_offsets = np.concatenate([np.zeros(1, np.int64), ends.astype(np.int64)])
        self.wkb_blob = wkb_blob
        self.wkb_offsets = np.zeros(n + 1, np.int64)
        np.cumsum(wkb_lengths, out=self.wkb_offsets[1:])
        if self.wkb_offsets[-1] != len(wkb_blob):
            raise ValueError("the geometry column is not as long as its lengths say")

    def __len__(self) -> int:
        return len(self.fids)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> FeatureIndex:
        """Columns of row tuples (fid, geometry hash, attributes hash, attributes JSON[,
        kept WKB]); ValueError when a hash is not hex or a text holds a newline."""
        n = len(rows)
        fids = np.fromiter((r[0] for r in rows), np.int64, n)
        geometry = np.frombuffer(bytes.fromhex("".join(r[1] for r in rows)), np.uint8)
        attributes = np.frombuffer(bytes.fromhex("".join(r[2] for r in rows)), np.uint8)
        if len(geometry) != 32 * n or len(attributes) != 32 * n:
            raise ValueError("a hash is not a SHA-256 digest")
        text = "".join(f"{r[3]}\n" for r in rows).encode("utf-8")
        wkbs = [r[4] if len(r) > 4 and r[4] else b"" for r in rows]
        lengths = np.fromiter(map(len, wkbs), np.int64, n)
        return cls(
            fids, geometry.reshape(n, 32), attributes.reshape(n, 32), text, lengths, b"".join(wkbs)
        )

    def has_geometry(self) -> bool:
        """Whether any feature keeps its WKB."""
        return bool(len(self.wkb_blob))

    def texts(self, idx: Sequence[int]) -> List[bytes]:
        """The attributes JSON (UTF-8, without its newline) of the rows ``idx``."""
        o, t = self.text_offsets, self.attributes_text
        starts, ends = o[idx].tolist(), (o[1:][idx] - 1).tolist()
        return [t[a:b] for a, b in zip(starts, ends)]

    def wkbs(self, idx: Sequence[int]) -> List[Optional[bytes]]:
        """The kept WKB of the rows ``idx`` (None where none is kept)."""
        o, w = self.wkb_offsets, self.wkb_blob
        starts, ends = o[idx].tolist(), o[1:][idx].tolist()
        return [w[a:b] if b > a else None for a, b in zip(starts, ends)]

    def geometry_hex(self, idx: Sequence[int]) -> List[str]:
        return _hex_rows(self.geometry[idx])

    def rows(self, with_geometry: bool = False) -> List[IndexRow]:
        """The index as row tuples (hex hashes, attributes JSON text[, WKB or None])."""
        n = len(self)
        if not n:
            return []
        fids = self.fids.tolist()
        geoms, attrs = _hex_rows(self.geometry), _hex_rows(self.attributes)
        texts = self.attributes_text.decode("utf-8").split("\n")[:n]
        if not with_geometry:
            return list(zip(fids, geoms, attrs, texts))
        return list(zip(fids, geoms, attrs, texts, self.wkbs(np.arange(n))))


def _hex_rows(digests: np.ndarray) -> List[str]:
    text = digests.tobytes().hex()
    width = 2 * digests.shape[1] if digests.ndim == 2 else 64
    return [text[k : k + width] for k in range(0, len(text), width)]


def write_feature_index(rows: Sequence[Sequence[Any]]) -> bytes:
    """Deterministic gzip'd feature index, format 3 (mtime 0, so same rows, same bytes).

    Rows are (fid, geometry hash, attributes hash, attributes JSON[, kept normalized WKB or
    None]), or a ``FeatureIndex``. Format 3 is binary and columnar: the line
    ``labelguard.feature-index/3``, then little-endian uint64 n, n int64 fids, n raw 32-byte
    geometry SHA-256, n raw attributes SHA-256, n uint32 WKB lengths (0: none kept), uint64
    length of the attributes text, the attributes text (canonical JSON, UTF-8, one line per
    feature), then the kept WKB back to back. ``read_feature_index`` still reads the gzip'd
    TSV of formats 1 and 2.
    """
    index = rows if isinstance(rows, FeatureIndex) else FeatureIndex.from_rows(rows)
    n = len(index)
    lengths = np.diff(index.wkb_offsets).astype(_U32)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=1, mtime=0, filename="") as gz:
        gz.write(INDEX_FORMAT_3)
        gz.write(np.array([n], _U64).tobytes())
        gz.write(index.fids.astype(_I64).tobytes())
        gz.write(np.ascontiguousarray(index.geometry, np.uint8).tobytes())
        gz.write(np.ascontiguousarray(index.attributes, np.uint8).tobytes())
        gz.write(lengths.tobytes())
        gz.write(np.array([len(index.attributes_text)], _U64).tobytes())
        gz.write(index.attributes_text)
        gz.write(index.wkb_blob)
    return buf.getvalue()


def _read_format_3(payload: memoryview, what: str) -> FeatureIndex:
    """Columns of a format-3 payload (after the gzip), every length checked."""

    def bad(why: str) -> SchemaError:
        return SchemaError(f"{what} is not a LabelGuard feature index: {why}.")

    pos = len(INDEX_FORMAT_3)
    size = len(payload)
    if size < pos + 8:
        raise bad("it ends before its feature count")
    n = int(np.frombuffer(payload, _U64, 1, pos)[0])
    pos += 8
    fixed = 76 * n + 8  # fid, two digests, WKB length; then the text length
    if n > size or pos + fixed > size:
        raise bad(f"it is shorter than its {n} features need")
    fids = np.frombuffer(payload, _I64, n, pos).astype(np.int64)
    pos += 8 * n
    geometry = np.frombuffer(payload, np.uint8, 32 * n, pos).reshape(n, 32)
    pos += 32 * n
    attributes = np.frombuffer(payload, np.uint8, 32 * n, pos).reshape(n, 32)
    pos += 32 * n
    lengths = np.frombuffer(payload, _U32, n, pos).astype(np.int64)
    pos += 4 * n
    text_len = int(np.frombuffer(payload, _U64, 1, pos)[0])
    pos += 8
    if text_len > size - pos:
        raise bad("its attributes column is cut short")
    text = bytes(payload[pos : pos + text_len])
    pos += text_len
    if int(lengths.sum()) != size - pos:
        raise bad("its geometry column does not match its lengths")
    try:
        text.decode("utf-8")
        return FeatureIndex(fids, geometry, attributes, text, lengths, bytes(payload[pos:]))
    except UnicodeDecodeError as exc:
        raise bad(f"its attributes are not UTF-8 ({exc})") from None
    except ValueError as exc:
        raise bad(str(exc)) from None


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


def _payload(data: bytes, what: str) -> bytes:
    try:
        return _gunzip(data, max(64 << 20, 200 * len(data)))
    except (ValueError, zlib.error) as exc:
        raise SchemaError(f"{what} is not a LabelGuard feature index: {exc}.") from None


def read_feature_index(
    data: bytes, what: str = "Feature index", *, with_geometry: bool = False
) -> List[Any]:
    """Rows of a feature index written by ``write_feature_index``, any format (1 and 2: gzip'd
    TSV; 3: binary columns).

    Rows are (fid, geometry hash, attributes hash, attributes JSON); ``with_geometry`` adds the
    kept normalized WKB (None where the index keeps none, and always for the first format).
    Raises SchemaError naming ``what`` (the file and the manifest) for anything else: not gzip,
    a gzip bomb (over 64 MiB or 200 times its size unpacked), not UTF-8, a bad row.
    """
    raw = _payload(data, what)
    if raw.startswith(INDEX_FORMAT_3):
        return _read_format_3(memoryview(raw), what).rows(with_geometry)
    return _read_tsv(raw, what, with_geometry)


def read_feature_columns(data: bytes, what: str = "Feature index") -> FeatureIndex:
    """The feature index (any format) as columns; raises what ``read_feature_index`` raises."""
    raw = _payload(data, what)
    if raw.startswith(INDEX_FORMAT_3):
        return _read_format_3(memoryview(raw), what)
    return FeatureIndex.from_rows(_read_tsv(raw, what, True))


def _read_tsv(raw: bytes, what: str, with_geometry: bool) -> List[Any]:
    """Rows of formats 1 and 2 (gzip'd TSV, with a geometry_wkb column from format 2 on)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{what} is not a LabelGuard feature index: {exc}.") from None
    # Split on "\n" only: str.splitlines() also splits on U+2028, U+0085 and others, which
    # canonical JSON leaves unescaped inside attribute values.
    lines = text.split("\n")
    if lines[0] not in (INDEX_HEADER, INDEX_HEADER_WKB):
        raise SchemaError(f"{what} is not a LabelGuard feature index: its first line is wrong.")
    if lines[0] == INDEX_HEADER_WKB:
        with paused_gc():  # a million rows of tuples and strings, no cycles among them
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


def _read_wkb_rows(lines: List[str], what: str, with_geometry: bool) -> List[Any]:
    """Rows of the format with a geometry_wkb column, checked column by column (one C pass over
    a whole column instead of two regexes per row). The fast path splits the whole body once on tabs
    (canonical JSON escapes tabs and newlines, so neither occurs inside a field) and slices the
    flat list into columns; a body that does not split into rows of five falls back to the row
    by row split, which names the bad line."""
    body = lines[1:]
    if body and body[-1] == "":
        body.pop()
    if not body:
        return []
    flat = "\t".join(body).split("\t")
    if len(flat) == 5 * len(body) and all(map((4).__eq__, map(str.count, body, _TABS))):
        fids, geoms, attrs, texts, b64s = (flat[k::5] for k in range(5))
    else:
        parts = [line.split("\t") for line in body]
        bad = next((n for n, p in enumerate(parts) if len(p) != 5), None)
        if bad is not None:
            raise SchemaError(f"{what} is not a LabelGuard feature index: line {bad + 2} is bad.")
        fids, geoms, attrs, texts, b64s = (list(col) for col in zip(*parts))
    bad = None
    for col in (geoms, attrs):
        if not (all(map((64).__eq__, map(len, col))) and _only("".join(col), _HEX_CHARS)):
            bad = next(n for n, h in enumerate(col) if not _HEX64.match(h))
            break
    if bad is None and not _only("".join(b64s), _BASE64_CHARS):
        bad = next(n for n, b in enumerate(b64s) if not _BASE64.match(b))
    if bad is None and (
        any(map((3).__and__, map(len, b64s)))
        or "=" in "".join(map(str.rstrip, b64s, itertools.repeat("=")))
    ):
        bad = next((n for n, b in enumerate(b64s) if len(b) % 4 or "=" in b.rstrip("=")), None)
    if bad is not None:
        raise SchemaError(f"{what} is not a LabelGuard feature index: line {bad + 2} is bad.")
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


_TABS = itertools.repeat("\t")
_HEX_CHARS = b"0123456789abcdef"
_BASE64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def _only(text: str, chars: bytes) -> bool:
    """Whether ``text`` holds nothing but ``chars`` (ASCII): bytes.translate deletes them in
    one C pass, ten times faster than a character-class regex over a whole column."""
    return text.isascii() and not text.encode("ascii").translate(None, chars)


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
