"""Sidecars of data files: describe, render and write, shared by exportsidecars and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

from ..core.io import atomic_write_bytes
from ..core.progress import StopFn
from ..core.sidecar import DataDescription, build_sidecar, dump_sidecar, sidecar_path
from ..core.version import generator
from .observe import describe


def plan_sidecar(
    path: Path,
    layer: Optional[str],
    folder: Optional[Path],
    class_field: Optional[str] = None,
    should_stop: StopFn = None,
) -> Tuple[Path, bytes, DataDescription]:
    """(where the sidecar of ``path`` goes, its bytes, the description it renders); nothing is
    written, so a caller can describe every input before writing any."""
    desc = describe(path, layer, class_field, should_stop=should_stop)
    data = dump_sidecar(build_sidecar(desc, generator()))
    return sidecar_path(path, folder, desc.layer, desc.multi_layer), data, desc


def write_sidecar(target: Path, data: bytes) -> bool:
    """Write ``data`` to ``target`` atomically unless it already holds exactly these bytes;
    True when written, False when unchanged."""
    if target.is_file() and target.read_bytes() == data:
        return False
    atomic_write_bytes(target, data)
    return True
