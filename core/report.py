"""Writes LabelGuard JSON reports (``schema: labelguard.report/1``), shared by all algorithms."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import SchemaError
from .io import PathLike, atomic_write_text

SCHEMA = "labelguard.report/1"
PROVIDER = "labelguard"
SEVERITIES = ("error", "warning", "info")
# Keys every finding carries: what was checked, how bad, what it means, and where (WKT in the
# layer's CRS, or None when a finding has no place, such as a file that is missing).
FINDING_KEYS = ("rule", "severity", "message", "location")


def tool_id(algorithm: str) -> str:
    """A report's ``tool``: the id of the algorithm that wrote it, as users type it
    ("labelguard:validatetopology")."""
    return f"{PROVIDER}:{algorithm}"


def _clean(value: Any) -> Any:
    """JSON-safe, deterministic copy: dict keys kept in their given order, tuples as lists,
    non-finite floats as None (JSON has no NaN), numpy scalars as Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalar
    if callable(item):
        return _clean(item())
    return str(value)


def build_report(
    tool: str,
    findings: Sequence[Mapping[str, Any]],
    counts: Mapping[str, int],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report as a plain dict, keys in this order: ``schema``, ``tool``, the ``extra``
    keys (sorted), ``counts`` (sorted by name), ``total`` (sum of counts), ``findings``
    (in the given order; callers sort them)."""
    doc: dict[str, Any] = {"schema": SCHEMA, "tool": tool}
    for key in sorted(extra or {}):
        if key in ("schema", "tool", "counts", "total", "findings"):
            raise ValueError(f"report extra key '{key}' is reserved")
        doc[key] = _clean(extra[key])  # type: ignore[index]
    doc["counts"] = {str(k): int(counts[k]) for k in sorted(counts)}
    doc["total"] = int(sum(int(v) for v in counts.values()))
    for f in findings:
        missing = [k for k in FINDING_KEYS if k not in f]
        if missing:
            raise ValueError(f"report finding lacks {', '.join(missing)}: {dict(f)}")
        if f["severity"] not in SEVERITIES:
            raise ValueError(f"report finding has severity {f['severity']!r}")
    doc["findings"] = [_clean(f) for f in findings]
    return doc


def dumps_report(doc: Mapping[str, Any]) -> str:
    """Deterministic JSON text: 2-space indent, UTF-8, trailing newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_report(
    path: PathLike,
    tool: str,
    findings: list[Mapping[str, Any]],
    counts: Mapping[str, int],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a report atomically to ``path`` and return it as a dict.

    Same arguments, same bytes: no time stamp is added (put one in ``extra`` if a format
    needs it). ``findings`` are written in the given order, one JSON object each.
    """
    doc = build_report(tool, findings, counts, extra)
    atomic_write_text(path, dumps_report(doc))
    return doc


def read_report(path: PathLike) -> dict[str, Any]:
    """A report written by ``write_report``; raises SchemaError for anything else."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise SchemaError(f"Cannot read report '{path}': {exc}") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise SchemaError(f"'{path}' is not a {SCHEMA} document.")
    return doc
