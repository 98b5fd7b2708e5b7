"""Writes the metadata a sidecar records back into a converted file (labelguard:restoremetadata).

Only the target file is written, through a temp copy in its folder and ``os.replace``. GDAL's
PAM side file (``.aux.xml``) is disabled while writing, so every value lands in the file itself
or, when its format cannot hold it, is reported as not held; with ``write_aux`` those values go
into the file's ``.aux.xml`` instead (also written atomically). Which fields differ and whether
the content still matches is decided in ``core.restore``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from osgeo import gdal, osr

from ..core import content as content_mod
from ..core.errors import InputError, Unreadable
from ..core.progress import StopFn, check_stop
from ..core.restore import (
    NOT_HELD,
    FieldChange,
    RestoreTarget,
    check_same_content,
    expected_raster_header,
    field_changes,
    outcome,
    restore_target,
)
from ..core.sidecar import MAX_METADATA_VALUE, read_sidecar
from .facts import open_dataset, raster_facts_of, read_facts, vector_facts
from .observe import _raster_blocks, current_sidecar, vector_content

gdal.UseExceptions()

# Creation options that make a driver keep what it can in the file when it is re-encoded
# (formats without update access): PNG holds metadata items as tEXt chunks only when asked.
_CREATE_OPTIONS: Dict[str, List[str]] = {"PNG": ["WRITE_METADATA_AS_TEXT=YES"]}


# Colour interpretation names as facts reads them, back to GDAL's codes (the Python bindings of
# GDAL 3.6 have no GetColorInterpretationByName).
_COLORS = {gdal.GetColorInterpretationName(i): i for i in range(gdal.GCI_YCbCr_CrBand + 1)}


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    kind: str
    format: str
    changes: Tuple[FieldChange, ...]
    written: bool
    aux_xml: Optional[Path] = None

    @property
    def not_held(self) -> int:
        return sum(1 for c in self.changes if c.status == NOT_HELD)


@contextlib.contextmanager
def _pam(enabled: bool) -> Iterator[None]:
    """GDAL_PAM_ENABLED for this thread only (Processing runs algorithms in worker threads)."""
    old = gdal.GetThreadLocalConfigOption("GDAL_PAM_ENABLED", None)
    gdal.SetThreadLocalConfigOption("GDAL_PAM_ENABLED", "YES" if enabled else "NO")
    try:
        yield
    finally:
        gdal.SetThreadLocalConfigOption("GDAL_PAM_ENABLED", old)


def _srs(wkt: Optional[str]) -> Optional[osr.SpatialReference]:
    if wkt is None:
        return None
    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def _apply_raster(ds: Any, target: RestoreTarget, fields: Optional[set] = None) -> None:
    """Set the target values on an open dataset (only ``fields`` when given)."""

    def wanted(name: str) -> bool:
        return fields is None or name in fields

    if wanted("crs"):
        srs = _srs(target.crs_wkt)
        if srs is None:
            ds.SetProjection("")
        else:
            ds.SetSpatialRef(srs)
    if target.geotransform and wanted("raster/geotransform"):
        ds.SetGeoTransform(target.geotransform)
    for b in target.bands:
        if b.index > ds.RasterCount:
            continue
        band = ds.GetRasterBand(b.index)
        prefix = f"raster/bands/{b.index}/"
        if wanted(prefix + "nodata"):
            if b.nodata is None:
                with contextlib.suppress(RuntimeError):
                    band.DeleteNoDataValue()
            else:
                band.SetNoDataValue(float(b.nodata))
        if wanted(prefix + "color") and b.color:
            band.SetColorInterpretation(_COLORS.get(b.color, gdal.GCI_Undefined))
        if wanted(prefix + "description"):
            band.SetDescription(b.description or "")
    if target.metadata is not None and (
        fields is None or any(f.startswith("metadata/") for f in fields)
    ):
        # Items a sidecar does not record (too long: embedded XML, thumbnails) are kept.
        kept = {k: v for k, v in (ds.GetMetadata() or {}).items() if len(v) >= MAX_METADATA_VALUE}
        kept.update(target.metadata)
        ds.SetMetadata(kept)


def _temp_like(path: Path) -> Path:
    """A new, empty temp file next to ``path`` with the same extension (GDAL picks drivers and
    companion files by it)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.restore-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _pixel_sha256(path: Path, recorded: Dict[str, Any], should_stop: StopFn) -> str:
    ds, _ = open_dataset(path, gdal.OF_RASTER, "a raster")
    try:
        header = expected_raster_header(recorded)
        return content_mod.raster_content(
            header, _raster_blocks(ds, should_stop), should_stop=should_stop
        )
    finally:
        ds = None


def _write_raster(src: Path, tmp: Path, fmt: str, target: RestoreTarget) -> None:
    """Write the target values into ``tmp`` (a copy of ``src`` when the driver can update it,
    else re-encoded from ``src``) with PAM disabled, so nothing goes to a side file."""
    with _pam(False):
        shutil.copyfile(src, tmp)
        try:
            ds = gdal.OpenEx(str(tmp), gdal.OF_RASTER | gdal.OF_UPDATE)
        except RuntimeError:
            ds = None
        if ds is not None:
            _apply_raster(ds, target)
            ds.FlushCache()
            ds = None
            return
        # No update access (PNG, JPEG): re-encode. The caller checks the pixels afterwards, so
        # a lossy driver is refused rather than written.
        driver = gdal.GetDriverByName(fmt)
        if driver is None or driver.GetMetadataItem(gdal.DCAP_CREATECOPY) != "YES":
            raise InputError(f"GDAL cannot write {fmt} files; convert the file to GeoTIFF first.")
        source = gdal.Open(str(src))
        mem = gdal.GetDriverByName("MEM").CreateCopy("", source)
        source = None
        _apply_raster(mem, target)
        out = driver.CreateCopy(str(tmp), mem, options=_CREATE_OPTIONS.get(fmt, []))
        del out, mem  # closes both: the file is complete only then


def _write_aux(tmp: Path, target: RestoreTarget, fields: set) -> Optional[Path]:
    """Write ``fields`` into ``tmp``'s PAM side file; its path, or None when GDAL wrote none."""
    with _pam(True):
        ds = gdal.Open(str(tmp))
        _apply_raster(ds, target, fields)
        ds = None
    aux = Path(str(tmp) + ".aux.xml")
    return aux if aux.exists() else None


def _raster_doc(path: Path, pam: bool) -> Dict[str, Any]:
    with _pam(pam):
        ds, messages = open_dataset(path, gdal.OF_RASTER, "a raster")
        try:
            facts = raster_facts_of(ds, path, messages)
        finally:
            ds = None
    return current_sidecar(path, "", facts)


def _restore_raster(
    path: Path, recorded: Dict[str, Any], dry_run: bool, write_aux: bool, should_stop: StopFn
) -> RestoreResult:
    what = f"'{path.name}'"
    check_same_content(recorded, "raster", _pixel_sha256(path, recorded, should_stop), what)
    current = _raster_doc(path, True)
    fmt = current["file"]["format"]
    planned = field_changes(recorded, current)
    if dry_run or not planned:
        return RestoreResult(path, "raster", fmt, tuple(planned), False)
    target = restore_target(recorded)
    tmp = _temp_like(path)
    tmp_aux = Path(str(tmp) + ".aux.xml")
    aux_written: Optional[Path] = None
    try:
        _write_raster(path, tmp, fmt, target)
        check_stop(should_stop)
        if _pixel_sha256(tmp, recorded, should_stop) != recorded["content"]["sha256"]:
            raise InputError(
                f"Writing {fmt} changes the pixels of {what} (a lossy format); nothing was "
                "written. Convert the file to GeoTIFF, then restore its metadata."
            )
        if write_aux:
            left = {c.field for c in field_changes(recorded, _raster_doc(tmp, False))}
            if left:
                aux_written = _write_aux(tmp, target, left)
        check_stop(should_stop)
        if aux_written is not None:
            os.replace(tmp_aux, Path(str(path) + ".aux.xml"))
            aux_written = Path(str(path) + ".aux.xml")
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp_aux):
            with contextlib.suppress(OSError):
                leftover.unlink()
    after = field_changes(recorded, _raster_doc(path, True))
    return RestoreResult(
        path, "raster", fmt, tuple(outcome(planned, after, fmt, False)), True, aux_written
    )


def _restore_vector(
    path: Path,
    layer: Optional[str],
    recorded: Dict[str, Any],
    dry_run: bool,
    should_stop: StopFn,
) -> RestoreResult:
    what = f"'{path.name}'"
    facts = vector_facts(path, layer)
    vc, _ = vector_content(
        path, facts.layer, keep_index=False, facts=facts, should_stop=should_stop
    )
    check_same_content(recorded, "vector", vc.sha256, what)
    current = current_sidecar(path, vc.sha256, facts)
    planned = field_changes(recorded, current)
    if dry_run or not planned:
        return RestoreResult(path, "vector", facts.format, tuple(planned), False)
    if facts.layer_count > 1:
        raise InputError(
            f"{what} holds {facts.layer_count} layers; restoring metadata rewrites the file, "
            "which is done only for single-layer files."
        )
    tmp = _temp_like(path)
    try:
        tmp.unlink()  # VectorTranslate creates it
        names = {c.field for c in planned}
        opts: Dict[str, Any] = {"format": facts.format}
        if "crs" in names and recorded["crs"] is not None:
            # Assigned, not reprojected: the coordinates are those the sidecar describes.
            opts.update(dstSRS=recorded["crs"]["wkt2"], reproject=False)
        with _pam(False):
            gdal.VectorTranslate(str(tmp), str(path), options=gdal.VectorTranslateOptions(**opts))
            stamp = recorded.get("acquisition_time")
            if "acquisition_time" in names and stamp is not None:
                with contextlib.suppress(RuntimeError):
                    ds = gdal.OpenEx(str(tmp), gdal.OF_VECTOR | gdal.OF_UPDATE)
                    ds.SetMetadataItem(stamp["source"], stamp["value"] + (stamp["offset"] or ""))
                    ds = None
        check_stop(should_stop)
        tmp_facts = vector_facts(tmp)
        tvc, _ = vector_content(tmp, tmp_facts.layer, keep_index=False, facts=tmp_facts)
        if tvc.sha256 != recorded["content"]["sha256"]:
            raise InputError(
                f"Rewriting {what} as {facts.format} changes its features; nothing was written."
            )
        os.replace(tmp, path)
    except RuntimeError as exc:
        raise Unreadable(f"GDAL cannot rewrite {what}: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    now = vector_facts(path, None)
    after = field_changes(recorded, current_sidecar(path, recorded["content"]["sha256"], now))
    return RestoreResult(
        path, "vector", facts.format, tuple(outcome(planned, after, facts.format, False)), True
    )


def restore_metadata(
    path: Path,
    sidecar: Path,
    *,
    layer: Optional[str] = None,
    dry_run: bool = False,
    write_aux: bool = False,
    progress=None,
    should_stop: StopFn = None,
) -> RestoreResult:
    """Write back into ``path`` what its ``sidecar`` records and the file lost.

    Raises ContentMismatch (nothing written) when the pixels or features are not those the
    sidecar describes, InputError when the format cannot be rewritten losslessly.
    """
    path = Path(path)
    recorded = read_sidecar(Path(sidecar))
    facts = read_facts(path, layer)
    if facts is None:
        raise InputError(f"'{path}' is neither a raster nor a vector dataset GDAL can read.")
    kind = "raster" if hasattr(facts, "bands") else "vector"
    if kind != recorded["kind"]:
        raise InputError(
            f"'{path.name}' is a {kind} file but sidecar '{Path(sidecar).name}' describes a "
            f"{recorded['kind']}."
        )
    if kind == "raster":
        result = _restore_raster(path, recorded, dry_run, write_aux, should_stop)
    else:
        result = _restore_vector(path, layer, recorded, dry_run, should_stop)
    if progress is not None:
        progress(1.0)
    return result
