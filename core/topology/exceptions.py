"""Accepted exceptions for validatetopology, read from JSON (report, list or GeoJSON) or CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io import PathLike
from .engine import ExceptionEntry, as_exception_entries

FIELDS = ("rule", "fid", "other_fid", "key", "is_exception")


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
