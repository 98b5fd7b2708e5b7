"""Finding the manifests that track a data file, and the version lineage of a dataset."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .errors import LabelGuardError
from .manifest import check_chain, manifest_root, read_manifest

MARKER = b"labelguard.manifest/"


@dataclass(frozen=True)
class VersionInfo:
    version: str
    created_at: str
    path: Path
    entry_count: int


@dataclass(frozen=True)
class Lineage:
    """Versions newest first as far as the parent links could be followed."""

    versions: Tuple[VersionInfo, ...]
    intact: bool
    message: str = ""


def _looks_like_manifest(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return MARKER in fh.read(256)
    except OSError:
        return False


def find_manifests(folder: Path, levels_up: int = 2) -> List[Path]:
    """LabelGuard manifests (*.json) in ``folder`` and up to ``levels_up`` parent folders."""
    found: List[Path] = []
    current = Path(os.path.abspath(folder))
    for _ in range(levels_up + 1):
        try:
            names = sorted(os.listdir(current))
        except OSError:
            names = []
        found.extend(
            current / n
            for n in names
            if n.lower().endswith(".json") and _looks_like_manifest(current / n)
        )
        if current.parent == current:
            break
        current = current.parent
    return found


def latest_manifest_for(
    data_path: Path, layer: Optional[str] = None, levels_up: int = 2
) -> Optional[Tuple[Path, Dict]]:
    """The newest manifest (by created_at, then name) with an entry for the file, and the entry."""
    target = os.path.normcase(os.path.abspath(data_path))
    best: Optional[Tuple[str, str, Path, Dict]] = None
    for mpath in find_manifests(Path(data_path).parent, levels_up):
        try:
            doc = read_manifest(mpath)
            root = manifest_root(mpath, doc)
        except LabelGuardError:
            continue
        for entry in doc["entries"]:
            if os.path.normcase(os.path.abspath(root / entry["path"])) != target:
                continue
            if layer and entry.get("layer") and entry["layer"] != layer:
                continue
            key = (doc["created_at"], mpath.name)
            if best is None or key > best[:2]:
                best = (doc["created_at"], mpath.name, mpath, entry)
    return None if best is None else (best[2], best[3])


def lineage(manifest_path: Path) -> Lineage:
    """The chain of versions ending at ``manifest_path``, newest first."""
    status = check_chain(manifest_path)
    versions: List[VersionInfo] = []
    current: Optional[Path] = Path(os.path.abspath(manifest_path))
    while current is not None and len(versions) < len(status.versions):
        doc = read_manifest(current)
        versions.append(
            VersionInfo(doc["version"], doc["created_at"], current, len(doc["entries"]))
        )
        parent = doc["parent"]
        current = (
            None if parent is None else Path(os.path.normpath(current.parent / parent["path"]))
        )
    return Lineage(tuple(versions), status.ok, status.message)
