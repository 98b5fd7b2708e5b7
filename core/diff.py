"""Feature-level differences between two dataset versions, from their feature indexes.

With an ID field, features are matched by its value and classified as unchanged,
geometry_changed, attributes_changed or both_changed (plus added / removed). Without one, only
content can match them: identical features are unchanged, the rest are added or removed.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .content import feature_hash
from .errors import InputError, SchemaError
from .paths import shorten
from .progress import StopFn, check_stop

FEATURE_STATUSES = (
    "added",
    "removed",
    "unchanged",
    "geometry_changed",
    "attributes_changed",
    "both_changed",
)
IndexRow = Tuple[int, str, str, str]  # fid, geometry hash, attributes hash, attributes JSON


@dataclass(frozen=True)
class FeatureChange:
    status: str
    base_fid: Optional[int]
    head_fid: Optional[int]
    feature_id: Any = None
    changed_fields: Tuple[str, ...] = ()

    @property
    def modified(self) -> bool:
        return self.status in ("geometry_changed", "attributes_changed", "both_changed")


@dataclass
class DiffResult:
    changes: List[FeatureChange] = field(default_factory=list)

    def counts(self) -> Dict[str, int]:
        c = {s: 0 for s in FEATURE_STATUSES}
        for ch in self.changes:
            c[ch.status] += 1
        return c


def _attributes(text: str, label: str) -> Dict[str, Any]:
    """The attributes JSON of an index row; SchemaError naming ``label`` when it is not one."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise SchemaError(
            f"The feature index of {label} holds attributes that are not a JSON object "
            f"({shorten(text, 60)}); rebuild the manifest."
        )
    return value


def _ids(rows: Sequence[IndexRow], id_field: str, label: str) -> Dict[Any, IndexRow]:
    by_id: Dict[Any, IndexRow] = {}
    dup: Counter = Counter()
    missing_field = 0
    nulls = 0
    for row in rows:
        attrs = _attributes(row[3], label)
        if id_field not in attrs:
            missing_field += 1
            continue
        value = attrs[id_field]
        if value is None:
            nulls += 1
            continue
        key = json.dumps(value, sort_keys=True)
        if key in by_id:
            dup[key] += 1
        by_id[key] = row
    if rows and missing_field == len(rows):
        raise InputError(f"ID field '{id_field}' does not exist in {label}.")
    if dup:
        value, n = dup.most_common(1)[0]
        raise InputError(
            f"ID field '{id_field}' is not unique in {label}: value {value} appears {n + 1} "
            f"times ({len(dup)} duplicated values). Choose a unique field, or leave ID field "
            "empty to match features by content."
        )
    if nulls:
        raise InputError(
            f"ID field '{id_field}' is empty for {nulls} feature(s) in {label}; "
            "every feature needs an ID to be matched."
        )
    return by_id


def _changed_fields(a: str, b: str, labels: Tuple[str, str]) -> Tuple[str, ...]:
    da, db = _attributes(a, labels[0]), _attributes(b, labels[1])
    return tuple(sorted(k for k in set(da) | set(db) if da.get(k) != db.get(k)))


def diff_features(
    base: Sequence[IndexRow],
    head: Sequence[IndexRow],
    *,
    id_field: Optional[str] = None,
    base_label: str = "the base version",
    head_label: str = "the head version",
    should_stop: StopFn = None,
) -> DiffResult:
    """Classify every feature of two versions of one layer (see module docstring)."""
    result = DiffResult()
    if id_field:
        b_ids = _ids(base, id_field, base_label)
        h_ids = _ids(head, id_field, head_label)
        check_stop(should_stop)
        for key in sorted(set(b_ids) | set(h_ids)):
            b, h = b_ids.get(key), h_ids.get(key)
            fid_value = json.loads(key)
            if b is None:
                result.changes.append(FeatureChange("added", None, h[0], fid_value))
            elif h is None:
                result.changes.append(FeatureChange("removed", b[0], None, fid_value))
            else:
                geom = b[1] != h[1]
                attrs = b[2] != h[2]
                status = (
                    "both_changed"
                    if geom and attrs
                    else "geometry_changed"
                    if geom
                    else "attributes_changed"
                    if attrs
                    else "unchanged"
                )
                fields = _changed_fields(b[3], h[3], (base_label, head_label)) if attrs else ()
                result.changes.append(FeatureChange(status, b[0], h[0], fid_value, fields))
        return result
    b_by_hash: Dict[str, List[int]] = defaultdict(list)
    h_by_hash: Dict[str, List[int]] = defaultdict(list)
    for row in base:
        b_by_hash[feature_hash(row[1], row[2])].append(row[0])
    for row in head:
        h_by_hash[feature_hash(row[1], row[2])].append(row[0])
    check_stop(should_stop)
    for key in sorted(set(b_by_hash) | set(h_by_hash)):
        bf, hf = sorted(b_by_hash.get(key, [])), sorted(h_by_hash.get(key, []))
        n = min(len(bf), len(hf))
        for i in range(n):
            result.changes.append(FeatureChange("unchanged", bf[i], hf[i]))
        for fid in bf[n:]:
            result.changes.append(FeatureChange("removed", fid, None))
        for fid in hf[n:]:
            result.changes.append(FeatureChange("added", None, fid))
    return result
