"""Opening files with GDAL: failure messages collected, and a bounded wait on a GeoPackage
locked by another program's open transaction, which ends in a FileLocked error, never in the
file being taken for one GDAL cannot read."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Tuple, Union

from osgeo import gdal

from ..core.errors import FileLocked

gdal.UseExceptions()

# How long to wait for another writer to finish its transaction, in seconds.
LOCK_WAIT_SECONDS = 5.0


class GdalMessages:
    """Collects GDAL failure messages while active, whether or not GDAL raises exceptions."""

    def __init__(self) -> None:
        self.messages: List[str] = []

    def _handler(self, err_class: int, _code: int, message: str) -> None:
        if err_class >= gdal.CE_Failure:
            self.messages.append(" ".join(str(message).split()))

    def __enter__(self) -> GdalMessages:
        gdal.PushErrorHandler(self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        gdal.PopErrorHandler()


def is_locked_message(message: str) -> bool:
    """True for SQLite's "database is locked" / "database table is locked" (GeoPackage)."""
    text = message.lower()
    return "database is locked" in text or "database table is locked" in text


def locked_error(path: Union[str, Path], waited: float) -> FileLocked:
    return FileLocked(
        f"'{path}' is locked by another program's open transaction (SQLite: database is "
        f"locked; waited {waited:g} s). Finish the edit there (in QGIS: save or roll back the "
        "layer's edits, or close the program), then run again."
    )


def open_ex(path: Union[str, Path], flags: int) -> Tuple[Optional[Any], List[str]]:
    """(dataset or None, GDAL's failure messages) for ``gdal.OpenEx(path, flags)``.

    SQLite waits up to LOCK_WAIT_SECONDS for another writer's transaction to end (for this
    open and the reads on the dataset); a file still locked then raises FileLocked.
    """
    key = "SQLITE_BUSY_TIMEOUT"  # milliseconds; GDAL's default is 5000
    before = gdal.GetThreadLocalConfigOption(key, None)
    gdal.SetThreadLocalConfigOption(key, str(int(LOCK_WAIT_SECONDS * 1000)))
    try:
        with GdalMessages() as errors:
            try:
                ds = gdal.OpenEx(str(path), flags)
            except RuntimeError as exc:
                errors.messages.append(str(exc))
                ds = None
    finally:
        gdal.SetThreadLocalConfigOption(key, before)
    if ds is None and any(is_locked_message(m) for m in errors.messages):
        raise locked_error(path, LOCK_WAIT_SECONDS)
    return ds, errors.messages
