"""Accepted exceptions for validatetopology, read from JSON (report, list or GeoJSON) or CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io import PathLike, atomic_write_text

FIELDS = ("rule", "fid", "other_fid", "key", "is_exception")


@dataclass(frozen=True)
class ExceptionEntry:
    """An accepted exception: matches findings with this ``key`` or, when ``key`` is empty,
    every finding of ``rule`` on ``fid`` (and ``other_fid`` when given)."""

    rule: str
    fid: int
    other_fid: int | None = None
    key: str = ""


def as_exception_entries(items: Iterable[Any] | None) -> list[ExceptionEntry]:
    """ExceptionEntry objects from entries, dicts with rule/fid/other_fid/key (an
    ``is_exception`` of false drops the row) or (rule, fid[, other_fid]) tuples."""
    out: list[ExceptionEntry] = []
    for item in items or ():
        if isinstance(item, ExceptionEntry):
            out.append(item)
        elif isinstance(item, dict):
            if "is_exception" in item and not _truthy(item["is_exception"]):
                continue
            rule = str(item.get("rule") or "")
            key = str(item.get("key") or "")
            fid = item.get("fid")
            if not rule and not key:
                continue
            other = item.get("other_fid")
            out.append(
                ExceptionEntry(
                    rule,
                    int(fid) if fid not in (None, "") else -1,
                    int(other) if other not in (None, "") else None,
                    key,
                )
            )
        else:
            seq = tuple(item)
            out.append(
                ExceptionEntry(
                    str(seq[0]),
                    int(seq[1]),
                    int(seq[2]) if len(seq) > 2 and seq[2] is not None else None,
                )
            )
    return out


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "t")
    return bool(value)


def exception_rows_from_json(doc: Any) -> list[dict[str, Any]]:
    """Rows from a LabelGuard report (its findings), ``{"exceptions": [...]}``, a plain list
    of objects or a GeoJSON FeatureCollection (feature properties)."""
    if isinstance(doc, dict):
        if doc.get("type") == "FeatureCollection":
            return [dict(f.get("properties") or {}) for f in doc.get("features") or []]
        for name in ("exceptions", "findings"):
            if isinstance(doc.get(name), list):
                return [dict(r) for r in doc[name] if isinstance(r, dict)]
        raise InputError("The exceptions file has no 'exceptions' or 'findings' list.")
    if isinstance(doc, list):
        return [dict(r) for r in doc if isinstance(r, dict)]
    raise InputError("The exceptions file must hold a list of exceptions.")


def load_exceptions(path: PathLike) -> list[ExceptionEntry]:
    """Accepted exceptions from a ``.json``/``.geojson`` or ``.csv`` file.

    Each row names ``rule`` and ``fid`` (optionally ``other_fid``) or a finding ``key``; rows
    with an ``is_exception`` column that is false are ignored, so the error layer or report of
    an earlier run can be fed back after a reviewer ticked ``is_exception``. Raises InputError
    when the file cannot be read.
    """
    p = Path(path)
    try:
        if p.suffix.lower() == ".csv":
            with open(p, newline="", encoding="utf-8-sig") as fh:
                rows = [dict(r) for r in csv.DictReader(fh)]
        else:
            with open(p, encoding="utf-8") as fh:
                rows = exception_rows_from_json(json.load(fh))
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read exceptions from '{p}': {exc}") from exc
    try:
        return as_exception_entries(rows)
    except (TypeError, ValueError) as exc:
        raise InputError(f"Malformed exception row in '{p}': {exc}") from exc


EXCEPTIONS_SUFFIX = ".labelguard-exceptions.json"


def exceptions_path_for(data_path: PathLike) -> Path:
    """Where the accepted exceptions of a data file live: next to it, as
    ``<file name>.labelguard-exceptions.json``. validatetopology reads this file by itself
    when no exceptions are given."""
    p = Path(data_path)
    return p.with_name(p.name + EXCEPTIONS_SUFFIX)


def _entry_row(entry: ExceptionEntry) -> dict[str, Any]:
    return {"rule": entry.rule, "fid": entry.fid, "other_fid": entry.other_fid, "key": entry.key}


def add_exceptions(path: PathLike, entries: Iterable[ExceptionEntry]) -> list[ExceptionEntry]:
    """Add accepted exceptions to the file at ``path`` (created when missing) and return all it
    holds: ``{"exceptions": [...]}`` sorted by rule, fid, other fid and key, one per finding.
    Raises InputError when an existing file cannot be read."""
    p = Path(path)
    current = load_exceptions(p) if p.exists() else []
    merged = {(e.rule, e.fid, e.other_fid, e.key): e for e in [*current, *entries]}
    ordered = [merged[k] for k in sorted(merged, key=lambda k: (k[0], k[1], k[2] or -1, k[3]))]
    doc = {"exceptions": [_entry_row(e) for e in ordered]}
    atomic_write_text(p, json.dumps(doc, indent=2) + "\n")
    return ordered
