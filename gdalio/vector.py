"""Bulk vector reading through OGR: WKB and attribute columns in batches, no per-feature QGIS work.

GDAL >= 3.6 streams a layer as Arrow batches (``GetArrowStreamAsNumPy``), about 12x faster than
``getFeatures()`` on a million polygons. Older GDAL falls back to OGR's feature iterator; both
paths give the same batches. Geometries always arrive as WKB (see ``_stream_options``).
"""

from __future__ import annotations

import ctypes
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np
from osgeo import gdal, ogr

from ..core.errors import Cancelled, FileVanished, InputError, Unreadable
from ..core.wkb import WkbArray
from . import opening

gdal.UseExceptions()
ogr.UseExceptions()

BATCH_SIZE = 65536
GDAL_VERSION_NUM = int(gdal.VersionInfo("VERSION_NUM"))
# From GDAL 3.8 the Arrow stream of a layer stored as GeoArrow (Arrow and Parquet drivers, not in
# Debian's GDAL) gives coordinates, and the stream option GEOMETRY_ENCODING=WKB asks for WKB
# instead (GDAL's documentation and third-party reports; no GDAL with these drivers was at hand
# to confirm it).
GEOARROW_MIN_VERSION_NUM = 3080000
# Layer geometry types whose GeoArrow column shapely.from_ragged_array could take as it is.
_GEOARROW_TYPES = frozenset(
    (ogr.wkbPoint, ogr.wkbLineString, ogr.wkbPolygon, ogr.wkbMultiLineString, ogr.wkbMultiPolygon)
)


@dataclass
class VectorBatch:
    """One batch of features: ``fids`` (int64), ``wkb`` (object array of bytes or None, or a
    ``WkbArray`` when read with ``packed_wkb``) and attribute ``columns`` as Python lists (str,
    int, float, bool, ISO date strings or None)."""

    fids: np.ndarray
    wkb: Any
    columns: Dict[str, List[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.fids)


def open_vector(path: str, layer_name: Optional[str] = None):
    """(dataset, layer) for a vector file; raises FileVanished (gone), FileLocked (a GeoPackage
    another writer keeps locked), Unreadable or InputError with a clear message."""
    ds, messages = opening.open_ex(path, gdal.OF_VECTOR | gdal.OF_READONLY)
    if ds is None:
        if gdal.VSIStatL(str(path)) is None:
            raise FileVanished(f"File '{path}' does not exist (moved or deleted?).")
        detail = "; ".join(messages) or "unknown reason"
        raise Unreadable(f"GDAL cannot open '{path}' as a vector dataset ({detail}).")
    if layer_name:
        lyr = ds.GetLayerByName(layer_name)
        if lyr is None:
            raise InputError(f"'{path}' has no layer named '{layer_name}'.")
    else:
        if ds.GetLayerCount() < 1:
            raise InputError(f"'{path}' contains no vector layer.")
        lyr = ds.GetLayer(0)
    return ds, lyr


def _py_column(values: Any) -> List[Any]:
    """A numpy (masked) column from Arrow as a list of plain Python values."""
    mask = np.ma.getmaskarray(values) if np.ma.isMaskedArray(values) else None
    data = np.ma.getdata(values)
    kind = data.dtype.kind
    if kind == "M" and np.datetime_data(data.dtype)[0] == "D":  # Date: "2024-05-17"
        out = [None if np.isnat(v) else str(v) for v in data]
    elif kind == "M":  # DateTime: ISO 8601 without offset (Arrow drops it), as OGR's fallback
        out = [None if np.isnat(v) else str(v.astype("datetime64[ms]")) for v in data]
        out = [_trim_iso(v) for v in out]
    elif kind == "S":
        out = [v.decode("utf-8", "replace") for v in data.tolist()]
    elif kind == "O":
        out = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in data.tolist()]
    else:
        out = data.tolist()
    if mask is not None and mask.any():
        out = [None if m else v for v, m in zip(out, mask.tolist())]
    return out


def _trim_iso(text: Optional[str]) -> Optional[str]:
    """Drop a zero millisecond part so Arrow and OGR give the same ISO string."""
    if text is not None and text.endswith(".000"):
        return text[:-4]
    return text


def _wkb_column(values: Any) -> np.ndarray:
    mask = np.ma.getmaskarray(values) if np.ma.isMaskedArray(values) else None
    data = np.ma.getdata(values)
    if data.dtype.kind == "V":  # all WKBs of equal size come back as fixed-width void
        out = np.empty(len(data), dtype=object)
        out[:] = data.tolist()  # bytes objects, built in C (3x faster than a comprehension)
    else:
        out = np.asarray(data, dtype=object)
    if mask is not None and mask.any():
        out = out.copy()
        out[mask] = None
    return out


# --- Zero-copy access to OGR's Arrow batches (Arrow C data interface, a stable ABI) --------
# GDAL's own numpy conversion turns a variable-width WKB column into one Python bytes object
# per feature (~0.3 s per million, and as much again to pack them); reading the column's
# offsets and data buffers directly costs one memcpy.


class _ArrowSchema(ctypes.Structure):
    pass


_ArrowSchema._fields_ = [
    ("format", ctypes.c_char_p),
    ("name", ctypes.c_char_p),
    ("metadata", ctypes.c_char_p),
    ("flags", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowSchema))),
    ("dictionary", ctypes.POINTER(_ArrowSchema)),
    ("release", ctypes.c_void_p),
    ("private_data", ctypes.c_void_p),
]


class _ArrowArray(ctypes.Structure):
    pass


_ArrowArray._fields_ = [
    ("length", ctypes.c_int64),
    ("null_count", ctypes.c_int64),
    ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowArray))),
    ("dictionary", ctypes.POINTER(_ArrowArray)),
    ("release", ctypes.c_void_p),
    ("private_data", ctypes.c_void_p),
]

_OFFSET_TYPES = {b"z": ctypes.c_int32, b"Z": ctypes.c_int64}  # binary, large binary


def _stream_options(batch_size: int) -> List[str]:
    """Options of every Arrow stream we read: the one place that chooses the geometry encoding.

    Always WKB. On GDAL >= 3.8 an Arrow or Parquet layer stored as GeoArrow streams coordinates
    unless asked for WKB, and our readers take WKB only. The other way round, asking for
    GEOMETRY_ENCODING=GEOARROW changes nothing on the drivers label layers come in: GDAL
    3.10 and 3.13 stream WKB from GeoPackage, Shapefile, FlatGeobuf and GeoJSON whatever is asked
    (``stream_geometry_encoding`` reports what a stream gives; tests/gdalio/test_geoarrow.py
    fails the day that changes).
    """
    opts = [f"MAX_FEATURES_IN_BATCH={batch_size}", "INCLUDE_FID=YES"]
    if GDAL_VERSION_NUM >= GEOARROW_MIN_VERSION_NUM:
        opts.append("GEOMETRY_ENCODING=WKB")
    return opts


@dataclass(frozen=True)
class GeometryEncoding:
    """What an Arrow stream asked for GeoArrow coordinates gives for a layer's geometries:
    ``name`` is "wkb" or the GeoArrow extension (e.g. "geoarrow.polygon"), ``reason`` says why
    in words, for a log or a benchmark table."""

    name: str
    reason: str

    @property
    def coordinates(self) -> bool:
        return self.name != "wkb"


def _extension_name(metadata: Optional[int]) -> Optional[str]:
    """ARROW:extension:name from an Arrow schema's binary metadata at address ``metadata``
    (int32 count, then pairs of int32-length-prefixed key and value)."""
    if not metadata:
        return None
    raw = ctypes.string_at(metadata, 4)
    (count,) = np.frombuffer(raw, "<i4")
    pos, items = 4, {}
    for _ in range(int(count)):
        pair = []
        for _ in range(2):
            (size,) = np.frombuffer(ctypes.string_at(metadata + pos, 4), "<i4")
            pair.append(ctypes.string_at(metadata + pos + 4, int(size)))
            pos += 4 + int(size)
        items[pair[0]] = pair[1]
    name = items.get(b"ARROW:extension:name")
    return name.decode("utf-8", "replace") if name is not None else None


def stream_geometry_encoding(lyr) -> GeometryEncoding:
    """Whether OGR's Arrow stream of ``lyr`` gives geometry coordinates (GeoArrow) when asked
    with GEOMETRY_ENCODING=GEOARROW, and why not. Opens a stream and reads its schema only."""
    version = gdal.__version__
    if not hasattr(lyr, "GetArrowStream"):
        return GeometryEncoding("wkb", f"GDAL {version} has no Arrow stream")
    if GDAL_VERSION_NUM < GEOARROW_MIN_VERSION_NUM:
        return GeometryEncoding("wkb", f"GDAL {version} < 3.8 streams WKB only")
    gtype = lyr.GetGeomType()
    name = ogr.GeometryTypeToName(gtype)
    if ogr.GT_HasZ(gtype) or ogr.GT_HasM(gtype):
        return GeometryEncoding("wkb", f"layer type {name}: Z/M coordinates are read as WKB")
    if gtype not in _GEOARROW_TYPES:
        return GeometryEncoding("wkb", f"layer type {name} has no GeoArrow reading here")
    stream = lyr.GetArrowStream(["INCLUDE_FID=YES", "GEOMETRY_ENCODING=GEOARROW"])
    try:
        schema_obj = stream.GetSchema()
        schema = ctypes.cast(schema_obj._getPtr(), ctypes.POINTER(_ArrowSchema)).contents
        geom_col = (lyr.GetGeometryColumn() or "wkb_geometry").encode("utf-8")
        found = None
        for i in range(schema.n_children):
            child = schema.children[i].contents
            if child.name == geom_col:
                # the metadata field as an address: c_char_p would stop at its first NUL byte
                at = ctypes.addressof(child) + _ArrowSchema.metadata.offset
                found = (child.format, _extension_name(ctypes.c_void_p.from_address(at).value))
        del schema, schema_obj
    finally:
        stream = None
    ds = lyr.GetDataset()  # None for some drivers (FlatGeobuf)
    driver = f"{ds.GetDriver().ShortName} " if ds is not None else ""
    if found is None:
        return GeometryEncoding("wkb", f"no geometry column '{geom_col.decode()}' in the stream")
    fmt, ext = found
    if fmt in _OFFSET_TYPES or ext in (None, "ogc.wkb", "geoarrow.wkb"):
        return GeometryEncoding(
            "wkb",
            f"GDAL {version} {driver}stream ignores GEOMETRY_ENCODING=GEOARROW: "
            f"{ext or 'binary'} (WKB)",
        )
    return GeometryEncoding(ext, f"GDAL {version} {driver}stream gives {ext} coordinates")


def _buffer(address: Optional[int], ctype: Any, count: int) -> np.ndarray:
    """A copy of ``count`` values of ``ctype`` at ``address`` (empty for a NULL buffer)."""
    if not address or count <= 0:
        return np.zeros(max(count, 0), dtype=np.dtype(ctype))
    view = np.ctypeslib.as_array(ctypes.cast(address, ctypes.POINTER(ctype)), shape=(count,))
    return view.copy()


def _valid_bits(address: Optional[int], offset: int, length: int) -> Optional[np.ndarray]:
    if not address:
        return None
    nbytes = (offset + length + 7) // 8
    bits = np.unpackbits(_buffer(address, ctypes.c_uint8, nbytes), bitorder="little")
    return bits[offset : offset + length].astype(bool)


class InconsistentBatch(RuntimeError):
    """An Arrow batch whose buffers contradict each other (seen once from GDAL 3.10's GPKG
    stream under a spatial filter); the layer is then read through OGR's features."""


def _arrow_packed_batches(lyr, batch_size: int) -> Optional[Iterator[VectorBatch]]:
    """Batches of (fids, WkbArray) straight from the Arrow buffers, or None when the stream
    does not have the expected int64 fid and binary geometry columns."""
    if not hasattr(lyr, "GetArrowStream"):
        return None
    stream = lyr.GetArrowStream(_stream_options(batch_size))
    schema_obj = stream.GetSchema()
    schema = ctypes.cast(schema_obj._getPtr(), ctypes.POINTER(_ArrowSchema)).contents
    columns = {}
    for i in range(schema.n_children):
        child = schema.children[i].contents
        columns[(child.name or b"").decode("utf-8", "replace")] = (i, child.format)
    fid = columns.get(lyr.GetFIDColumn() or "OGC_FID")
    geom = columns.get(lyr.GetGeometryColumn() or "wkb_geometry")
    if fid is None or fid[1] != b"l" or geom is None or geom[1] not in _OFFSET_TYPES:
        return None
    offset_type = _OFFSET_TYPES[geom[1]]

    def batches() -> Iterator[VectorBatch]:
        while True:
            batch = stream.GetNextRecordBatch()
            if batch is None:
                return
            arr = ctypes.cast(batch._getPtr(), ctypes.POINTER(_ArrowArray)).contents
            n = int(arr.length)
            f = arr.children[fid[0]].contents
            fids = _buffer(f.buffers[1], ctypes.c_int64, f.offset + n)[f.offset :]
            g = arr.children[geom[0]].contents
            offsets = _buffer(g.buffers[1], offset_type, g.offset + n + 1)[g.offset :]
            offsets = offsets.astype(np.int64)
            if n and (offsets[0] < 0 or np.any(offsets[1:] < offsets[:-1])):
                raise InconsistentBatch(f"geometry offsets of a batch of {n} do not rise")
            data = _buffer(g.buffers[2], ctypes.c_uint8, int(offsets[-1]) if n else 0)
            wkb = WkbArray(data, offsets)
            valid = _valid_bits(g.buffers[0], g.offset, n) if g.null_count else None
            if valid is not None and np.any(~valid & (wkb.lengths > 0)):
                # a null with bytes behind it (allowed, but GDAL does not write them)
                objects = wkb.to_objects()
                objects[~valid] = None
                wkb = WkbArray.from_objects(objects)
            del arr, batch  # releases the batch's memory now
            yield VectorBatch(fids, wkb, {})

    return batches()


def gdal_text(raw: str) -> str:
    """A name or string value as text. GDAL hands text that is not valid UTF-8 (possible in
    GeoJSON and shapefiles) to Python with its bad bytes as surrogate escapes, which no UTF-8
    writer takes; those bytes become U+FFFD, so hashes, sidecars and reports can write it."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return raw


def _raw_fields(lyr) -> List[str]:
    defn = lyr.GetLayerDefn()
    return [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]


def _fields(lyr) -> List[str]:
    return [gdal_text(name) for name in _raw_fields(lyr)]


def arrow_safe(lyr) -> bool:
    """False when GDAL's Arrow reader must not be used on ``lyr``: GDAL 3.6's numpy Arrow
    conversion crashes the process (SIGSEGV) on a field name that is not valid UTF-8."""
    names = _raw_fields(lyr) + [lyr.GetFIDColumn() or "", lyr.GetGeometryColumn() or ""]
    return all(gdal_text(name) == name for name in names)


def _arrow_batches(lyr, fields: Optional[Sequence[str]], batch_size: int) -> Iterator[VectorBatch]:
    fid_col = lyr.GetFIDColumn() or "OGC_FID"
    geom_col = lyr.GetGeometryColumn() or "wkb_geometry"
    stream = lyr.GetArrowStreamAsNumPy(options=_stream_options(batch_size))
    for batch in stream:
        fids = np.asarray(batch[fid_col], dtype=np.int64)
        if geom_col in batch:
            wkb = _wkb_column(batch[geom_col])
        else:
            wkb = np.full(len(fids), None, dtype=object)
        cols = {name: _py_column(batch[name]) for name in (fields or []) if name in batch}
        yield VectorBatch(fids, wkb, cols)


def _feature_value(feat, i: int, ftype: int) -> Any:
    if not feat.IsFieldSetAndNotNull(i):
        return None
    if ftype in (ogr.OFTDate, ogr.OFTDateTime, ogr.OFTTime):
        y, mo, d, h, mi, s, _tz = feat.GetFieldAsDateTime(i)
        if ftype == ogr.OFTDate:
            return f"{y:04d}-{mo:02d}-{d:02d}"
        if ftype == ogr.OFTTime:
            return _dt.time(h, mi, int(s)).isoformat()
        return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{int(s):02d}"
    value = feat.GetField(i)
    return gdal_text(value) if isinstance(value, str) else value


def _feature_batches(
    lyr, fields: Optional[Sequence[str]], batch_size: int
) -> Iterator[VectorBatch]:
    defn = lyr.GetLayerDefn()
    index = {name: i for i, name in enumerate(_fields(lyr))}  # by name as text, not GDAL's
    wanted = [(name, index.get(name, -1)) for name in (fields or [])]
    wanted = [(n, i, defn.GetFieldDefn(i).GetType()) for n, i in wanted if i >= 0]
    fids: List[int] = []
    wkbs: List[Optional[bytes]] = []
    cols: Dict[str, List[Any]] = {n: [] for n, _, _ in wanted}
    lyr.ResetReading()
    for feat in lyr:  # GDAL < 3.6 has no Arrow stream: one pass over OGR features
        fids.append(feat.GetFID())
        geom = feat.GetGeometryRef()
        wkbs.append(None if geom is None else bytes(geom.ExportToIsoWkb()))
        for name, i, ftype in wanted:
            cols[name].append(_feature_value(feat, i, ftype))
        if len(fids) >= batch_size:
            yield VectorBatch(np.array(fids, np.int64), np.array(wkbs + [None], object)[:-1], cols)
            fids, wkbs, cols = [], [], {n: [] for n, _, _ in wanted}
    if fids:
        yield VectorBatch(np.array(fids, np.int64), np.array(wkbs + [None], object)[:-1], cols)


def read_ogr(
    path: str,
    layer_name: Optional[str] = None,
    *,
    where: Optional[str] = None,
    bbox: Optional[Sequence[float]] = None,
    fields: Optional[Sequence[str]] = None,
    all_fields: bool = False,
    batch_size: int = BATCH_SIZE,
    should_stop: Optional[Callable[[], bool]] = None,
    use_arrow: Optional[bool] = None,
    packed_wkb: bool = False,
) -> Iterator[VectorBatch]:
    """Batches of (fid, WKB, attributes) from a vector file.

    ``where`` is an OGR SQL attribute filter (a QGIS subset string on an OGR layer is one).
    ``bbox`` (xmin, ymin, xmax, ymax, layer CRS) is OGR's spatial filter: only features whose
    geometry meets the rectangle (through the file's spatial index when it has one).
    ``fields`` selects attribute columns (``all_fields`` takes every field). ``packed_wkb``
    gives each batch's WKB as a ``WkbArray``. Raises Cancelled between batches when
    ``should_stop`` returns true.
    """
    ds, lyr = open_vector(path, layer_name)
    if where:
        try:
            lyr.SetAttributeFilter(where)
        except RuntimeError as exc:
            raise InputError(f"Invalid filter '{where}' on '{path}': {exc}") from exc
    if bbox is not None:
        lyr.SetSpatialFilterRect(*(float(v) for v in bbox))
    names = _fields(lyr) if all_fields else list(fields or [])
    if use_arrow is None:
        use_arrow = hasattr(lyr, "GetArrowStreamAsNumPy")
    use_arrow = use_arrow and arrow_safe(lyr)
    packed = None
    if use_arrow and packed_wkb and not names:
        packed = _arrow_packed_batches(lyr, batch_size)
    if packed is None:
        packed = (_arrow_batches if use_arrow else _feature_batches)(lyr, names, batch_size)
        if packed_wkb:  # attributes wanted too, or an unexpected Arrow schema: pack here
            packed = (VectorBatch(b.fids, WkbArray.from_objects(b.wkb), b.columns) for b in packed)
    yielded = False
    try:
        while True:
            try:
                batch = next(packed, None)
            except InconsistentBatch as exc:
                if yielded:  # batches went out already: no second pass over the layer here
                    message = f"GDAL's Arrow stream of '{path}' is inconsistent: {exc}"
                    raise Unreadable(message) from exc
                packed = (  # nothing went out yet: read the same features one by one
                    VectorBatch(b.fids, WkbArray.from_objects(b.wkb), b.columns)
                    for b in _feature_batches(lyr, names, batch_size)
                )
                continue
            except RuntimeError as exc:  # GDAL read error in the middle of the layer
                if opening.is_locked_message(str(exc)):
                    raise opening.locked_error(path, opening.LOCK_WAIT_SECONDS) from exc
                raise Unreadable(f"GDAL cannot read '{path}': {exc}") from exc
            if batch is None:
                break
            if should_stop is not None and should_stop():
                raise Cancelled()
            yielded = True
            yield batch
    finally:
        packed = None  # an Arrow stream goes before its dataset
        del lyr, ds  # closes the dataset now, not at garbage collection


def feature_count(path: str, layer_name: Optional[str] = None, where: Optional[str] = None) -> int:
    ds, lyr = open_vector(path, layer_name)
    if where:
        lyr.SetAttributeFilter(where)
    n = lyr.GetFeatureCount()
    del lyr, ds
    return int(n)


def field_names(path: str, layer_name: Optional[str] = None) -> List[str]:
    ds, lyr = open_vector(path, layer_name)
    names = _fields(lyr)
    del lyr, ds
    return names
