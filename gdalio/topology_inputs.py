"""Inputs of a topology check read from files: accepted exceptions from an earlier error layer,
report or list."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

from ..core.errors import InputError
from ..core.topology import ExceptionEntry, as_exception_entries, load_exceptions
from ..core.topology.exceptions import FIELDS as EXCEPTION_FIELDS
from .vector import read_ogr


def read_exceptions(path: str) -> List[ExceptionEntry]:
    """Accepted exceptions from a CSV/JSON list or report, or from any vector file OGR reads
    (an earlier error layer). Raises InputError naming the file when it cannot be read."""
    try:
        if Path(path).suffix.lower() in (".json", ".geojson", ".csv"):
            return load_exceptions(path)
        rows: List[Dict[str, Any]] = []
        for batch in read_ogr(path, fields=EXCEPTION_FIELDS):
            names = [n for n in EXCEPTION_FIELDS if n in batch.columns]
            for k in range(len(batch)):
                rows.append({n: batch.columns[n][k] for n in names})
        return as_exception_entries(rows)
    except (InputError, ValueError, TypeError) as exc:
        raise InputError(f"Cannot read accepted exceptions from {path}: {exc}") from exc
