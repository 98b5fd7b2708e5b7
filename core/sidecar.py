"""Deterministic YAML metadata sidecars: ``<data file name>.labelguard.yaml``.

Same input, same bytes: fixed key order, no wall-clock time, floats as Python's shortest
round-trip repr, multi-line strings (WKT2) as YAML literal blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from .crs import CrsInfo
from .errors import FileVanished, SchemaError
from .io import TooLarge, atomic_write_bytes, read_regular_file
from .paths import MAX_COMPONENT_BYTES, safe_component, shorten
from .schema import validate
from .timeutil import Timestamp

SCHEMA_ID = "labelguard.sidecar/1"
SUFFIX = ".labelguard.yaml"


def sidecar_path(
    data_path: Path,
    output_folder: Optional[Path] = None,
    layer: Optional[str] = None,
    multi_layer: bool = False,
) -> Path:
    """Where the sidecar of ``data_path`` goes; one per layer for multi-layer containers.

    The layer name comes from the data: made one safe file-name component (core/paths.py
    ``safe_component``), so "../x" or "a/b" can never leave the folder. Ordinary names are
    used as they are.
    """
    name = data_path.name + SUFFIX
    if multi_layer and layer:
        room = MAX_COMPONENT_BYTES - len(f"{data_path.name}.{SUFFIX}".encode())
        name = f"{data_path.name}.{safe_component(layer, max(room, 24))}{SUFFIX}"
    return (output_folder if output_folder is not None else data_path.parent) / name


def has_sidecar(data_path: Path) -> bool:
    """True when a sidecar of ``data_path`` (of any of its layers) is next to it."""
    if (data_path.parent / (data_path.name + SUFFIX)).is_file():
        return True
    prefix = data_path.name + "."
    return any(
        p.name.startswith(prefix) and p.name.endswith(SUFFIX) and p.is_file()
        for p in data_path.parent.iterdir()
    )


# Metadata values longer than this are not recorded (embedded XML, thumbnails, ...).
MAX_METADATA_VALUE = 500


def recorded_layer(layer: str, layer_count: int, fmt: str) -> Optional[str]:
    """The layer name a sidecar records: for containers of several layers and GeoPackages
    (which may gain layers), else None (a shapefile's layer name is its file name)."""
    return layer if layer_count > 1 or fmt == "GPKG" else None


def recorded_metadata(metadata: Dict[str, str]) -> Dict[str, str]:
    """The raster metadata items a sidecar records."""
    return {k: v for k, v in metadata.items() if len(v) < MAX_METADATA_VALUE}


@dataclass(frozen=True)
class BandInfo:
    index: int
    data_type: str
    nodata: Optional[float]
    color: Optional[str] = None
    description: Optional[str] = None


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str


@dataclass(frozen=True)
class DataDescription:
    """Everything a sidecar records about one data file, as read by an adapter (GDAL/OGR).

    ``geotransform`` follows GDAL's order (x0, dx, rx, y0, ry, dy); extents are in CRS units.
    """

    name: str
    format: str
    kind: str  # "raster" | "vector"
    crs: Optional[CrsInfo]
    extent: Optional[Tuple[float, float, float, float]]
    content_method: str
    content_sha256: str
    components: Tuple[str, ...] = ()
    layer: Optional[str] = None
    width: int = 0
    height: int = 0
    geotransform: Tuple[float, ...] = ()
    bands: Tuple[BandInfo, ...] = ()
    geometry_type: str = ""
    feature_count: int = 0
    fields: Tuple[FieldInfo, ...] = ()
    class_field: Optional[str] = None
    class_counts: Optional[Dict[str, int]] = None
    acquisition_time: Optional[Timestamp] = None
    metadata: Dict[str, str] = field(default_factory=dict)
    multi_layer: bool = False  # the file holds several layers: one sidecar per layer


def _num(value: float) -> Any:
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def build_sidecar(desc: DataDescription, generator: str) -> Dict[str, Any]:
    """The sidecar document (a dict in its fixed key order) for one data file."""
    doc: Dict[str, Any] = {
        "schema": SCHEMA_ID,
        "file": {
            "name": desc.name,
            "format": desc.format,
            "layer": desc.layer,
            "components": list(desc.components),
        },
        "kind": desc.kind,
        "crs": None if desc.crs is None else desc.crs.to_dict(),
        "extent": None
        if desc.extent is None
        else dict(zip(("xmin", "ymin", "xmax", "ymax"), (_num(v) for v in desc.extent))),
    }
    if desc.kind == "raster":
        gt = [_num(v) for v in desc.geotransform]
        doc["raster"] = {
            "width": desc.width,
            "height": desc.height,
            "geotransform": gt,
            "resolution": [abs(gt[1]), abs(gt[5])] if len(gt) == 6 else [],
            "bands": [
                {
                    "index": b.index,
                    "data_type": b.data_type,
                    "nodata": None if b.nodata is None else _num(b.nodata),
                    "color": b.color,
                    "description": b.description or None,
                }
                for b in desc.bands
            ],
        }
    else:
        doc["vector"] = {
            "geometry_type": desc.geometry_type,
            "feature_count": desc.feature_count,
            "fields": [{"name": f.name, "type": f.type} for f in desc.fields],
            "class_field": desc.class_field,
            "class_counts": None
            if desc.class_counts is None
            else {k: desc.class_counts[k] for k in sorted(desc.class_counts)},
        }
    doc["content"] = {"method": desc.content_method, "sha256": desc.content_sha256}
    doc["acquisition_time"] = (
        None if desc.acquisition_time is None else desc.acquisition_time.to_dict()
    )
    doc["provenance"] = {"generator": generator}
    if desc.metadata:
        doc["metadata"] = {k: str(desc.metadata[k]) for k in sorted(desc.metadata)}
    return doc


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, data: str):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _float_representer(dumper: yaml.SafeDumper, data: float):
    text = (
        repr(data)
        if data == data and data not in (float("inf"), float("-inf"))
        else (".nan" if data != data else (".inf" if data > 0 else "-.inf"))
    )
    if "e" in text and "." not in text:
        # YAML 1.1 floats need a dot: "1e-05" (a pixel size in degrees) would be written as
        # the tagged string !!float '1e-05'; "1.0e-05" is a plain float to every YAML reader.
        text = text.replace("e", ".0e", 1)
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_Dumper.add_representer(str, _str_representer)
_Dumper.add_representer(float, _float_representer)


def dump_sidecar(doc: Dict[str, Any]) -> bytes:
    """Validated, deterministic YAML bytes."""
    validate(doc, "labelguard.sidecar", "sidecar")
    text = yaml.dump(
        doc,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
        indent=2,
    )
    return text.encode("utf-8")


def write_sidecar(path: Path, doc: Dict[str, Any]) -> Path:
    atomic_write_bytes(path, dump_sidecar(doc))
    return path


def _refuse_yaml_bombs(text: str, what: str) -> None:
    """SchemaError for anchors, aliases and deep nesting, found by the scanner (which neither
    expands nor recurses): an alias bomb of 557 bytes expands to 10^9 strings in safe_load,
    and LabelGuard never writes an anchor."""
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
            line = token.start_mark.line + 1
            raise SchemaError(
                f"{what} uses YAML anchors or aliases (line {line}); LabelGuard sidecars never "
                "contain them, so it is refused. Export the sidecar again."
            )
        if isinstance(token, _OPENING):
            depth += 1
            if depth > MAX_DEPTH:
                raise SchemaError(
                    f"{what} nests deeper than {MAX_DEPTH} levels (line "
                    f"{token.start_mark.line + 1}); refused. Export the sidecar again."
                )
        elif isinstance(token, _CLOSING):
            depth -= 1


_OPENING = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSING = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
MAX_SIDECAR_BYTES = 1 << 20  # 1 MiB; a sidecar with 10,000 classes is about 300 kB
MAX_DEPTH = 32  # LabelGuard writes 4 levels


def read_sidecar(path: Path) -> Dict[str, Any]:
    """Parse and validate a sidecar.

    Raises FileVanished, SchemaError or UnknownSchemaVersion with a message naming the file.
    Sidecars over MAX_SIDECAR_BYTES, with YAML anchors/aliases or nested deeper than
    MAX_DEPTH are SchemaErrors, found before anything is built from them.
    """
    what = f"Sidecar '{path}'"
    try:
        text = read_regular_file(path, MAX_SIDECAR_BYTES).decode("utf-8")
    except FileNotFoundError as exc:
        raise FileVanished(f"{what} does not exist.") from exc
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{what} is not UTF-8 text: {exc}") from exc
    except TooLarge as exc:
        raise SchemaError(
            f"{what} is {exc.size} bytes; sidecars are at most {exc.limit} bytes, so it is "
            "refused. Export the sidecar again."
        ) from exc
    except FileVanished as exc:
        raise FileVanished(f"Sidecar: {exc}") from exc
    try:
        _refuse_yaml_bombs(text, what)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SchemaError(f"{what} is not valid YAML: {shorten(str(exc), 400)}") from exc
    except RecursionError as exc:  # deep nesting the token count did not see
        raise SchemaError(f"{what} nests too deeply; refused.") from exc
    validate(doc, "labelguard.sidecar", what)
    return doc


# What verify compares between a sidecar and the file now. Left out: the content hash, feature
# and class counts (the manifest's content hash covers them), the class field (a choice made
# when exporting, not a property of the file), the CRS (crs_drift) and provenance (which
# plugin version wrote it).
COMPARED_KEYS = ("file", "kind", "extent", "raster", "vector", "acquisition_time", "metadata")
_SKIPPED_KEYS = frozenset({"vector/feature_count", "vector/class_field"})


def _flatten(value: Any, prefix: str, out: Dict[str, Any]) -> None:
    """Leaf values of a sidecar document by path ("raster/bands/1/color"); nulls and empty
    containers are left out, so a value set to null reads as gone."""
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            _flatten(value[key], f"{prefix}/{key}", out)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _flatten(item, f"{prefix}/{i + 1}", out)
    elif value is not None and not (isinstance(value, float) and value != value):
        out[prefix] = value


def recorded_changes(recorded: Dict[str, Any], now: Dict[str, Any]) -> List[str]:
    """What a sidecar records that differs from the sidecar the data file would get now
    (both ``build_sidecar`` documents), one line per value, e.g. "acquisition_time/value was
    '2024-05-17T10:42:00', is now '2025-01-01T00:00:00'". Empty when nothing differs."""
    before: Dict[str, Any] = {}
    after: Dict[str, Any] = {}
    for key in COMPARED_KEYS:
        _flatten(recorded.get(key), key, before)
        _flatten(now.get(key), key, after)
    changes = []
    for key in sorted(set(before) | set(after)):
        if key in _SKIPPED_KEYS or key.startswith("vector/class_counts/"):
            continue
        old, new = before.get(key), after.get(key)
        if key not in before:
            changes.append(f"{key} is new: {shorten(repr(new), 80)}")
        elif key not in after:
            changes.append(f"{key} is gone (was {shorten(repr(old), 80)})")
        elif old != new:
            changes.append(f"{key} was {shorten(repr(old), 80)}, is now {shorten(repr(new), 80)}")
    return changes


def class_counts(values: Sequence[Any]) -> Dict[str, int]:
    """Counts per class value (as text; missing values under "<null>")."""
    counts: Dict[str, int] = {}
    for v in values:
        key = "<null>" if v is None else str(v)
        counts[key] = counts.get(key, 0) + 1
    return counts


def guess_class_field(names: List[str]) -> Optional[str]:
    """The conventional class field of an annotation layer, if one is present."""
    lowered = {n.lower(): n for n in names}
    for candidate in (
        "class",
        "label",
        "category",
        "class_name",
        "classname",
        "class_id",
        "category_id",
        "label_id",
        "type",
    ):
        if candidate in lowered:
            return lowered[candidate]
    return None
