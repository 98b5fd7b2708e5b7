"""Finding the manifests that track a data file, and the version lineage of a dataset."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .errors import LabelGuardError
from .manifest import check_chain, manifest_root, read_manifest

MARKER = b"labelguard.manifest/"
MARKER_FILE = ".labelguard"  # at a dataset root: may name manifest folders, one a line
MANIFEST_FOLDERS = ("manifests", "versions")  # looked for next to the data and its parents
MAX_MARKER_LEVELS = 6  # how far up a marker file is looked for


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


def _marker_folders(folder: Path) -> List[Path]:
    """Folders a marker file at ``folder`` names (one relative path a line), or []."""
    try:
        text = (folder / MARKER_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    lines = (line.strip() for line in text.splitlines())
    return [folder / line for line in lines if line and not line.startswith("#")]


def manifest_folders(
    data_folder: Path, levels_up: int = 2, extra: Sequence[Path] = ()
) -> List[Path]:
    """The folders searched for the manifests of a data folder, in order, without repeats.

    ``extra`` (manifest files or folders the user chose) first; then the data folder and up to
    ``levels_up`` parents, each with its ``manifests/`` and ``versions/`` subfolders. Above
    that, climbing goes on (up to ``MAX_MARKER_LEVELS``) to a folder holding a ``.labelguard``
    marker file, the dataset root, which is searched the same way plus the folders the marker
    names; climbing stops at a marker.
    """
    out: List[Path] = []

    def add(folder: Path) -> None:
        folder = Path(os.path.abspath(folder))
        if folder not in out:
            out.append(folder)

    for item in extra:
        add(item.parent if item.suffix.lower() == ".json" else item)
    current = Path(os.path.abspath(data_folder))
    for level in range(MAX_MARKER_LEVELS + 1):
        marked = (current / MARKER_FILE).is_file()
        if level <= levels_up or marked:
            add(current)
            for name in MANIFEST_FOLDERS:
                add(current / name)
            for folder in _marker_folders(current):
                add(folder)
        if marked or current.parent == current:
            break
        current = current.parent
    return out


def find_manifests(folder: Path, levels_up: int = 2, extra: Sequence[Path] = ()) -> List[Path]:
    """LabelGuard manifests (*.json) in the folders ``manifest_folders`` lists, plus the
    manifest files named in ``extra``."""
    found: List[Path] = []
    for item in extra:
        path = Path(os.path.abspath(item))
        if path.suffix.lower() == ".json" and path.is_file() and path not in found:
            found.append(path)
    for current in manifest_folders(folder, levels_up, extra):
        try:
            names = sorted(os.listdir(current))
        except OSError:
            continue
        found.extend(
            current / n
            for n in names
            if n.lower().endswith(".json")
            and current / n not in found
            and _looks_like_manifest(current / n)
        )
    return found


def latest_manifest_for(
    data_path: Path,
    layer: Optional[str] = None,
    levels_up: int = 2,
    extra: Sequence[Path] = (),
) -> Optional[Tuple[Path, Dict]]:
    """The newest manifest (by created_at, then name) with an entry for the file, and the entry.

    Manifests are looked for as ``find_manifests`` does; ``extra`` are the manifest files or
    folders the user bound the dataset to.
    """
    target = os.path.normcase(os.path.abspath(data_path))
    best: Optional[Tuple[str, str, Path, Dict]] = None
    for mpath in find_manifests(Path(data_path).parent, levels_up, extra):
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


def next_version_label(current: str) -> str:
    """The label proposed for the version after ``current``: its last number plus one, with a
    text suffix after it dropped ("v2" -> "v3", "v3-review" -> "v4", "2024-05" -> "2024-06");
    ``current-2`` when it has no number after a separator or "v"."""
    match = re.match(r"^(.*?)(\d+)(\D*)$", current)
    if match is None:
        return f"{current}-2" if current else "v1"
    prefix, number = match.group(1), match.group(2)
    if prefix and not prefix.endswith(("v", "V", "-", "_", ".")):
        return f"{current}-2"
    return f"{prefix}{int(number) + 1:0{len(number)}d}"


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


@dataclass(frozen=True)
class VersionPlan:
    """What building the next version takes: the data files (sidecars refreshed first), the
    dataset root paths are relative to, the parent manifest (None for a first version), the
    proposed label and where the manifest goes."""

    files: Tuple[Path, ...]
    root: Path
    parent: Optional[Path]
    label: str
    output: Path


def plan_next_version(parent: Optional[Path], more_files: Sequence[Path] = ()) -> VersionPlan:
    """The next version after manifest ``parent``: its entries that still exist plus
    ``more_files``, under the parent's root, written next to the parent. Without a parent, a
    first version "v1" of ``more_files``, rooted at their common folder, into a ``manifests``
    folder beside it. Raises LabelGuardError when there is nothing to version."""
    files: List[Path] = []
    if parent is not None:
        doc = read_manifest(parent)
        root = manifest_root(parent, doc)
        for entry in doc["entries"]:
            path = Path(os.path.normpath(root / entry["path"]))
            if path.exists() and path not in files:
                files.append(path)
    for extra in more_files:
        path = Path(os.path.abspath(extra))
        if path not in files:
            files.append(path)
    if not files:
        raise LabelGuardError("There is no data file to put in a version.")
    if parent is not None:
        label = next_version_label(doc["version"])
        output = parent.parent / f"{label}.json"
        n = 2
        while output.exists():  # never overwrite a version
            output = parent.parent / f"{label}-{n}.json"
            n += 1
        return VersionPlan(tuple(files), root, parent, output.stem, output)
    root = Path(os.path.commonpath([str(f.parent) for f in files]))
    return VersionPlan(tuple(files), root, None, "v1", root.parent / "manifests" / "v1.json")


def newest_manifest(folder: Path) -> Optional[Path]:
    """The newest LabelGuard manifest directly in ``folder``, or None when it holds none.

    Newest: among the manifests no other one there names as its parent, the latest
    ``created_at``, then the longest chain of parents in the folder, then the name. Files that
    are not readable manifests are skipped.
    """
    folder = Path(os.path.abspath(folder))
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return None
    docs: Dict[Path, Dict] = {}
    for name in names:
        path = folder / name
        if not name.lower().endswith(".json") or not _looks_like_manifest(path):
            continue
        try:
            docs[path] = read_manifest(path)
        except LabelGuardError:
            continue
    if not docs:
        return None
    parent_of: Dict[Path, Path] = {}
    for path, doc in docs.items():
        link = doc["parent"]
        if link is not None:
            parent_of[path] = Path(os.path.normpath(folder / link["path"]))

    def depth(path: Path) -> int:
        n, seen = 0, {path}
        while path in parent_of and parent_of[path] in docs and parent_of[path] not in seen:
            path = parent_of[path]
            seen.add(path)
            n += 1
        return n

    parents = set(parent_of.values())
    heads = [p for p in docs if p not in parents] or list(docs)
    return max(heads, key=lambda p: (docs[p]["created_at"], depth(p), p.name))
