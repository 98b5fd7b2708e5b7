"""Version manifests (``labelguard.manifest/1``): build, write, read, chain check, verify.

Paths inside a manifest are POSIX paths relative to the dataset root; ``root`` is the root's
path relative to the manifest's folder. Feature indexes (per-feature hashes of vector entries,
for ``diffversions``) live in ``<manifest stem>.features/`` next to the manifest, referenced by
path (relative to the manifest's folder) and SHA-256, named after their SHA-256 so that no
build ever overwrites the index another manifest points at. A manifest is never overwritten:
``write_manifest`` refuses an existing file. The parent link holds the parent manifest's
SHA-256, so rewriting any ancestor breaks the chain visibly.

A manifest is untrusted input: every path it names is confined (core/paths.py) to the dataset
root, the root to at most ``MAX_LEVELS_UP`` folder above the manifest's folder, before any file
is opened.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .crs import CrsInfo, same_crs
from .errors import (
    FileVanished,
    InputError,
    LabelGuardError,
    ManifestChainError,
    OutputExists,
    PathOutsideRoot,
    SchemaError,
    Unreadable,
)
from .hashing import FileHash, companion_candidates, sha256_bytes, sha256_file
from .io import TooLarge, atomic_write_all, atomic_write_new, read_regular_file
from .paths import (
    MAX_COMPONENT_BYTES,
    MAX_LEVELS_UP,
    confine,
    regular_file_problem,
    safe_component,
    shorten,
)
from .progress import StopFn, Ticker
from .schema import validate
from .sidecar import recorded_changes, sidecar_path
from .status import METADATA_DRIFT, REWRITTEN, UNREADABLE, VERIFY_STATUSES

SCHEMA_ID = "labelguard.manifest/1"
POLICY = {
    "auxiliary_files": (
        "Auxiliary files (.aux.xml, .ovr, .msk, spatial indexes) are hashed and listed with "
        "role 'auxiliary'. GDAL rewrites them by itself (statistics, overviews), so a change in "
        "them alone is not a mismatch while the entry's content hash is unchanged."
    ),
    "content_hash": (
        "Vectors: SHA-256 over sorted per-feature hashes of normalized geometry WKB (coordinates "
        "rounded to 1e-7 CRS units) and canonical attribute JSON; independent of format, "
        "feature order and FIDs. Rasters: SHA-256 over size, band types, nodata, geotransform, "
        "CRS and pixel data."
    ),
    "bytes_vs_content": (
        "'rewritten' means the file's bytes changed but its content hash did not (GeoPackages "
        "change bytes when opened); 'modified' means the content changed."
    ),
}
STATUSES = VERIFY_STATUSES
DATA_EXTENSIONS = frozenset(
    {
        ".tif",
        ".tiff",
        ".gpkg",
        ".geojson",
        ".shp",
        ".jp2",
        ".vrt",
        ".fgb",
        ".gml",
        ".kml",
        ".img",
        ".png",
        ".jpg",
        ".jpeg",
        ".nc",
        ".sqlite",
        ".parquet",
    }
)


@dataclass(frozen=True)
class Observation:
    """What an adapter measured for one data file now (all paths absolute)."""

    path: Path
    kind: str  # "raster" | "vector" | "file"
    file: FileHash
    components: Tuple[Tuple[FileHash, str], ...] = ()  # (hash, role)
    layer: Optional[str] = None
    content_sha256: Optional[str] = None
    content_method: Optional[str] = None
    feature_count: Optional[int] = None
    crs: Optional[CrsInfo] = None
    sidecar: Optional[FileHash] = None
    sidecar_content_sha256: Optional[str] = None
    feature_index: Optional[bytes] = None
    # The sidecar as read, and the sidecar document the file would get now (both None when
    # there is no readable sidecar): verify compares what the sidecar records.
    sidecar_record: Optional[Dict[str, Any]] = None
    description: Optional[Dict[str, Any]] = None
    crs_problem: Optional[str] = None  # the file has a CRS that PROJ cannot interpret


def relative_to_root(path: Path, root: Path, *, resolve: bool = False) -> str:
    """POSIX path of ``path`` relative to ``root``; PathOutsideRoot if it is not inside.

    With ``resolve``, the path must also stay inside the root once symbolic links are resolved
    (what verify will require of it).
    """
    rp, rr = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    try:
        rel = rp.relative_to(rr)
    except ValueError:
        raise PathOutsideRoot(
            f"'{path}' lies outside the dataset root '{root}'. Choose a dataset root that "
            "contains every layer (or save the manifest in a common parent folder)."
        ) from None
    posix = PurePosixPath(*rel.parts).as_posix()
    if resolve:
        confine(rr, posix, what="File")
    return posix


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "entry"


def build_manifest(
    observations: Sequence[Observation],
    *,
    root: Path,
    manifest_path: Path,
    version: str,
    creator: Dict[str, str],
    created_at: str,
    parent_path: Optional[Path] = None,
    sources: Optional[Sequence[Dict[str, Any]]] = None,
) -> Tuple[Dict[str, Any], Dict[str, bytes]]:
    """The manifest document and the feature-index files to write with it.

    ``sources`` records the versions this dataset was derived from (role, path, sha256,
    content_sha256 and the manifest that tracks them, if any).

    Returns (document, {path relative to the manifest folder: bytes}). Raises PathOutsideRoot,
    InputError (duplicate entries, empty version) and ManifestChainError (parent unusable).
    """
    if not version.strip():
        raise InputError("The version label is empty; give the version a name, e.g. 'v1'.")
    manifest_dir = Path(os.path.abspath(manifest_path)).parent
    parent = None
    if parent_path is not None:
        parent = parent_link(Path(parent_path), manifest_dir)
    index_dir = f"{Path(manifest_path).stem}.features"
    entries: List[Dict[str, Any]] = []
    extra: Dict[str, bytes] = {}
    seen = set()
    for i, obs in enumerate(sorted(observations, key=lambda o: (str(o.path), o.layer or ""))):
        rel = relative_to_root(obs.path, root, resolve=True)
        key = (rel, obs.layer)
        if key in seen:
            raise InputError(f"'{rel}' (layer {obs.layer!r}) is listed twice.")
        seen.add(key)
        entry: Dict[str, Any] = {
            "path": rel,
            "layer": obs.layer,
            "kind": obs.kind,
            "size": obs.file.size,
            "sha256": obs.file.sha256,
            "content_sha256": obs.content_sha256,
            "content_method": obs.content_method,
            "feature_count": obs.feature_count,
            "crs": None if obs.crs is None else {"epsg": obs.crs.epsg, "wkt2": obs.crs.wkt2},
            "components": [
                {
                    "path": relative_to_root(fh.path, root, resolve=True),
                    "size": fh.size,
                    "sha256": fh.sha256,
                    "role": role,
                }
                for fh, role in obs.components
            ],
            "sidecar": None
            if obs.sidecar is None
            else {
                "path": relative_to_root(obs.sidecar.path, root, resolve=True),
                "sha256": obs.sidecar.sha256,
            },
            "feature_index": None,
        }
        if obs.feature_index is not None:
            digest = sha256_bytes(obs.feature_index)
            stem = f"{i:04d}-{_safe_name(rel)}" + (f"-{_safe_name(obs.layer)}" if obs.layer else "")
            stem = safe_component(stem, MAX_COMPONENT_BYTES - 20)
            name = f"{index_dir}/{stem}-{digest[:12]}.idx.gz"
            extra[name] = obs.feature_index
            entry["feature_index"] = {"path": name, "sha256": digest}
        entries.append(entry)
    root_rel = os.path.relpath(os.path.abspath(root), manifest_dir)
    root_rel = PurePosixPath(*Path(root_rel).parts).as_posix() if root_rel != "." else "."
    try:
        confine(manifest_dir, root_rel, what="The dataset root", levels_up=MAX_LEVELS_UP)
    except PathOutsideRoot as exc:
        raise PathOutsideRoot(
            f"{exc} Save the manifest in the dataset root '{root}', in a folder inside it, or "
            "in a folder next to it: verify refuses a manifest whose root is further away."
        ) from None
    doc = {
        "schema": SCHEMA_ID,
        "version": version,
        "created_at": created_at,
        "creator": {k: str(creator[k]) for k in sorted(creator)},
        "root": root_rel,
        "parent": parent,
        "policy": dict(POLICY),
        "entries": entries,
    }
    if sources:
        doc["sources"] = [dict(src) for src in sources]
    validate(doc, "labelguard.manifest", "the new manifest")
    return doc, extra


def dump_manifest(doc: Dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_manifest(path: Path, doc: Dict[str, Any], extra: Dict[str, bytes]) -> str:
    """Write feature indexes and the manifest; returns the manifest SHA-256.

    Never overwrites: an existing manifest at ``path`` is OutputExists before anything is
    written, and a feature index already there is kept when it holds the same bytes (its name
    carries their SHA-256) and OutputExists otherwise. The new indexes are written in full
    before any is renamed into place, and the manifest is linked into place last: a full disk
    or a cancel leaves no manifest, a crash leaves either none or a complete one whose
    referenced files all exist, and the manifest that was there before, with its indexes, is
    never touched.
    """
    validate(doc, "labelguard.manifest", "the manifest")
    if os.path.lexists(path):
        raise OutputExists(
            f"Manifest '{path}' exists; a version is never overwritten. Choose a new file name "
            "(e.g. the next version label), or delete the old manifest yourself."
        )
    base = Path(path).parent
    data = dump_manifest(doc)
    folders = sorted({(base / rel).parent for rel in extra}, reverse=True)
    new_folders = [f for f in folders if not f.exists()]
    try:
        new_indexes = []
        for rel in sorted(extra):
            target = base / rel
            if os.path.lexists(target):
                if target.is_file() and sha256_file(target) == sha256_bytes(extra[rel]):
                    continue
                raise OutputExists(
                    f"Feature index '{target}' exists with other content; it is never "
                    "overwritten. Move it away and build again."
                )
            new_indexes.append((target, extra[rel]))
        atomic_write_all(new_indexes)
        try:
            atomic_write_new(path, data)
        except BaseException:  # no manifest names them: the new indexes go too
            for target, _ in new_indexes:
                with contextlib.suppress(OSError):
                    os.unlink(target)
            raise
    except BaseException:
        for folder in new_folders:  # a folder this call created, now empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return sha256_bytes(data)


MAX_MANIFEST_BYTES = 256 << 20  # about 300,000 entries; more is not a manifest LabelGuard wrote
MAX_JSON_DEPTH = 64  # LabelGuard writes 5 levels
# Optional keys of an entry, filled in on reading so code never meets a KeyError.
ENTRY_DEFAULTS = (
    ("layer", None),
    ("content_method", None),
    ("feature_count", None),
    ("crs", None),
    ("feature_index", None),
)


def _too_deep(text: str) -> Optional[str]:
    """Where ``text`` (JSON) first nests deeper than MAX_JSON_DEPTH: "key 'a/b/c' (line n)".

    Only called on a manifest already found too deep, so its speed does not matter.
    """
    stack: List[str] = []
    last_key = ""
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"(\s*:)?|[\[{]|[\]}]', text):
        token = m.group()
        if token in ("[", "{"):
            stack.append(last_key)
            last_key = ""
            if len(stack) > MAX_JSON_DEPTH:
                line = text.count("\n", 0, m.start()) + 1
                where = "/".join(k for k in stack if k) or "/"
                return f"key '{shorten(where)}' (line {line})"
        elif token in ("]", "}"):
            if stack:
                stack.pop()
        elif m.group(2):
            last_key = m.group(1)
    return None


def read_manifest(path: Path) -> Dict[str, Any]:
    """Parse and validate a manifest; FileVanished / SchemaError / UnknownSchemaVersion.

    Every message names the manifest and, where there is one, the bad key. Manifests over
    MAX_MANIFEST_BYTES or nested deeper than MAX_JSON_DEPTH are SchemaErrors.
    """
    p = Path(path)
    what = f"Manifest '{p}'"
    try:
        text = read_regular_file(p, MAX_MANIFEST_BYTES).decode("utf-8")
    except FileNotFoundError as exc:
        raise FileVanished(f"{what} does not exist.") from exc
    except TooLarge as exc:
        raise SchemaError(
            f"{what} is {exc.size} bytes; manifests are read up to {exc.limit} bytes, so it is "
            "refused."
        ) from exc
    except FileVanished as exc:
        raise FileVanished(f"Manifest: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{what} is not valid JSON: {exc}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{what} is not valid JSON: {exc}") from exc
    except RecursionError:
        where = _too_deep(text) or "a value"
        raise SchemaError(
            f"{what} nests deeper than {MAX_JSON_DEPTH} levels at {where}; refused."
        ) from None
    deep = _too_deep(text) if _depth_exceeds(doc, MAX_JSON_DEPTH) else None
    if deep is not None:
        raise SchemaError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels at {deep}; refused.")
    validate(doc, "labelguard.manifest", what)
    for entry in doc["entries"]:
        for key, default in ENTRY_DEFAULTS:
            entry.setdefault(key, default)
    return doc


def _depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` nests deeper than ``limit`` (iterative: no recursion limit)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend(
                (child, depth + 1) for child in children if isinstance(child, (dict, list))
            )
    return False


def manifest_root(path: Path, doc: Dict[str, Any]) -> Path:
    """The dataset root the manifest at ``path`` describes (absolute).

    Raises PathOutsideRoot when ``root`` is absolute, climbs more than MAX_LEVELS_UP folder
    above the manifest's folder, names a file-system root or leaves through a symbolic link.
    """
    return confine(
        Path(os.path.abspath(path)).parent,
        doc["root"],
        what=f"Manifest '{path}': root",
        levels_up=MAX_LEVELS_UP,
    )


def parent_link(parent_path: Path, manifest_dir: Path) -> Dict[str, str]:
    """The ``parent`` value for a new manifest; ManifestChainError if the parent is unusable."""
    try:
        parent_doc = read_manifest(parent_path)
        digest = sha256_file(parent_path)
    except FileVanished as exc:
        raise ManifestChainError(f"Parent manifest: {exc}") from exc
    except SchemaError as exc:
        raise ManifestChainError(f"Parent manifest is unusable: {exc}") from exc
    chain = check_chain(parent_path)
    if not chain.ok:
        raise ManifestChainError(
            f"The parent manifest's own history is broken: {chain.message} Fix or rebuild it "
            "before linking a new version to it."
        )
    rel = PurePosixPath(*Path(os.path.relpath(os.path.abspath(parent_path), manifest_dir)).parts)
    try:
        confine(manifest_dir, rel.as_posix(), what="Parent manifest", levels_up=MAX_LEVELS_UP)
    except PathOutsideRoot as exc:
        raise ManifestChainError(
            f"{exc} Save the new manifest next to its parent, or one folder away from it: "
            "verify refuses a parent link that goes further."
        ) from None
    return {
        "path": rel.as_posix(),
        "sha256": digest,
        "version": parent_doc["version"],
    }


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    versions: Tuple[str, ...]  # newest first, as far as the chain could be followed
    message: str = ""


def check_chain(path: Path, max_depth: int = 10000) -> ChainStatus:
    """Follow parent links from ``path`` to the first version, checking each recorded SHA-256."""
    versions: List[str] = []
    current = Path(os.path.abspath(path))
    visited = set()
    for _ in range(max_depth):
        doc = read_manifest(current)
        versions.append(doc["version"])
        parent = doc["parent"]
        if parent is None:
            return ChainStatus(True, tuple(versions))
        try:
            ppath = confine(
                current.parent,
                parent["path"],
                what=f"Version '{shorten(doc['version'])}': parent link",
                levels_up=MAX_LEVELS_UP,
            )
        except PathOutsideRoot as exc:
            return ChainStatus(False, tuple(versions), str(exc))
        if ppath in visited:
            return ChainStatus(False, tuple(versions), f"Manifest chain loops back to {ppath}.")
        visited.add(current)
        if not ppath.is_file():
            return ChainStatus(
                False,
                tuple(versions),
                f"Version '{doc['version']}' links to parent manifest "
                f"'{parent['path']}', which is missing.",
            )
        actual = sha256_file(ppath)
        if actual != parent["sha256"]:
            return ChainStatus(
                False,
                tuple(versions),
                f"Parent manifest '{parent['path']}' of version "
                f"'{doc['version']}' was changed after it was linked: SHA-256 is "
                f"{actual[:12]}..., the link records {parent['sha256'][:12]}....",
            )
        try:
            read_manifest(ppath)
        except LabelGuardError as exc:
            return ChainStatus(False, tuple(versions), str(exc))
        current = ppath
    return ChainStatus(False, tuple(versions), "Manifest chain is too long.")


@dataclass
class EntryStatus:
    """Verification result of one entry; ``details`` lists every difference found."""

    path: str
    layer: Optional[str]
    kind: str
    status: str
    message: str
    details: List[str] = field(default_factory=list)
    expected_sha256: Optional[str] = None
    actual_sha256: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


Measure = Callable[[Path, Dict[str, Any]], Observation]


def _component_changes(
    entry: Dict[str, Any], obs: Observation, root: Path, details: List[str]
) -> bool:
    """Whether a required companion file is missing or changed; notes every change."""
    changed = False
    recorded = {c["path"]: c for c in entry["components"]}
    current = {relative_to_root(fh.path, root): (fh, role) for fh, role in obs.components}
    for rel, comp in sorted(recorded.items()):
        now = current.get(rel)
        required = comp.get("role") == "required"
        if now is None:
            changed = changed or required
            details.append(
                f"component {rel} is missing"
                if required
                else f"auxiliary file {rel} is gone (ignored)"
            )
        elif now[0].sha256 != comp["sha256"]:
            changed = changed or required
            details.append(
                f"component {rel} changed"
                if required
                else f"auxiliary file {rel} was rewritten (ignored)"
            )
    for rel in sorted(set(current) - set(recorded)):
        details.append(f"new companion file {rel}")
    return changed


def _crs_drift(entry: Dict[str, Any], obs: Observation) -> Optional[str]:
    """ "CRS was X, is now Y" when the CRS differs from the recorded one, else None."""
    if entry["crs"] is None and obs.crs is None:
        return None
    if entry["crs"] is not None and obs.crs is not None and same_crs(entry["crs"]["wkt2"], obs.crs):
        return None
    was = (
        "none"
        if entry["crs"] is None
        else (f"EPSG:{entry['crs']['epsg']}" if entry["crs"]["epsg"] else "a custom CRS")
    )
    now_label = "none" if obs.crs is None else (obs.crs.authid or obs.crs.name)
    return f"CRS was {was}, is now {now_label}"


def _sidecar_problem(entry: Dict[str, Any], obs: Observation) -> Optional[str]:
    """Why the sidecar no longer vouches for the data (missing, edited, other content)."""
    if entry["sidecar"] is not None:
        if obs.sidecar is None:
            return f"sidecar {entry['sidecar']['path']} is missing"
        if obs.sidecar.sha256 != entry["sidecar"]["sha256"]:
            return f"sidecar {entry['sidecar']['path']} changed since the manifest"
    if (
        obs.sidecar_content_sha256 is not None
        and obs.content_sha256 is not None
        and obs.sidecar_content_sha256 != obs.content_sha256
    ):
        return "sidecar describes different content than the data file holds"
    return None


def compare_entry(entry: Dict[str, Any], obs: Observation, root: Path) -> EntryStatus:
    """Status of one manifest entry against a fresh observation of its file."""
    details: List[str] = []
    bytes_changed = obs.file.sha256 != entry["sha256"]
    bytes_changed = _component_changes(entry, obs, root, details) or bytes_changed
    content_changed = (
        entry["content_sha256"] is not None and obs.content_sha256 != entry["content_sha256"]
    )
    if entry["content_sha256"] is None:
        content_changed = bytes_changed
    drift = _crs_drift(entry, obs)
    if drift is not None:
        details.insert(0, drift)
    sidecar_problem = _sidecar_problem(entry, obs)
    if sidecar_problem:
        details.append(sidecar_problem)
    metadata_changes: List[str] = []
    if (
        sidecar_problem is None
        and entry["sidecar"] is not None
        and obs.sidecar_record is not None
        and obs.description is not None
    ):
        metadata_changes = recorded_changes(obs.sidecar_record, obs.description)
        details.extend(metadata_changes)
    if obs.crs_problem is not None and entry["crs"] is not None:
        status, message = UNREADABLE, str(obs.crs_problem)
        details.insert(0, message)
    elif drift is not None:
        status, message = "crs_drift", drift
    elif content_changed:
        status = "modified"
        message = "content changed" if entry["kind"] != "file" else "bytes changed"
        if obs.feature_count is not None and entry.get("feature_count") is not None:
            message += f" ({entry['feature_count']} -> {obs.feature_count} features)"
    elif metadata_changes:
        more = f" (and {len(metadata_changes) - 1} more)" if len(metadata_changes) > 1 else ""
        status = METADATA_DRIFT
        message = f"metadata differs from its sidecar: {metadata_changes[0]}{more}"
    elif sidecar_problem:
        status, message = "sidecar_mismatch", sidecar_problem
    elif bytes_changed:
        status, message = "rewritten", "bytes changed, content identical"
    else:
        status, message = "ok", "matches the manifest"
    return EntryStatus(
        entry["path"],
        entry.get("layer"),
        entry["kind"],
        status,
        message,
        details,
        entry["sha256"],
        obs.file.sha256,
    )


def verify_manifest(
    path: Path,
    measure: Measure,
    *,
    scan_untracked: bool = True,
    progress=None,
    should_stop: StopFn = None,
) -> Tuple[List[EntryStatus], ChainStatus]:
    """Re-measure every entry of the manifest at ``path`` (``measure(abs_path, entry)``) and
    compare. Entries whose file is gone are ``missing``; data files under the root that no
    entry tracks are ``untracked``. A feature index the manifest records that is gone gets a
    ``missing`` row of its own, one whose SHA-256 differs a ``modified`` row (path relative to
    the manifest's folder). Returns (statuses in manifest order, then index rows, then
    untracked files; chain status)."""
    doc = read_manifest(path)
    root = manifest_root(path, doc)
    chain = check_chain(path)
    entries = doc["entries"]
    ticker = Ticker(sum(_weight(e) for e in entries) or 1, progress, should_stop)
    statuses: List[EntryStatus] = []
    for entry in entries:
        ticker.check()
        refused = _refused(entry, root)
        if refused is not None:
            statuses.append(refused)
            ticker.advance(_weight(entry))
            continue
        abs_path = root / entry["path"]
        if not abs_path.exists():
            statuses.append(
                EntryStatus(
                    entry["path"],
                    entry.get("layer"),
                    entry["kind"],
                    "missing",
                    "file is missing",
                    [],
                    entry["sha256"],
                    None,
                )
            )
        else:
            try:
                obs = measure(abs_path, entry)
            except FileVanished as exc:
                statuses.append(
                    EntryStatus(
                        entry["path"],
                        entry.get("layer"),
                        entry["kind"],
                        "missing",
                        str(exc),
                        [],
                        entry["sha256"],
                        None,
                    )
                )
            except Unreadable as exc:
                statuses.append(
                    EntryStatus(
                        entry["path"],
                        entry.get("layer"),
                        entry["kind"],
                        UNREADABLE,
                        str(exc),
                        [str(exc)],
                        entry["sha256"],
                        None,
                    )
                )
            else:
                statuses.append(_strict_json_check(compare_entry(entry, obs, root), abs_path))
        ticker.advance(_weight(entry))
    statuses.extend(check_feature_indexes(path, entries, should_stop))
    if scan_untracked:
        statuses.extend(find_untracked(doc, root, Path(path)))
    return statuses, chain


JSON_SUFFIXES = (".geojson", ".json")
MAX_STRICT_JSON_BYTES = 256 << 20  # larger GeoJSON files are not parsed a second time


def strict_json_problem(path: Path) -> Optional[str]:
    """Why strict JSON readers (RFC 8259: UTF-8, no NaN/Infinity, nothing after the value)
    cannot parse the file at ``path``, or None. GDAL's GeoJSON reader is lenient, so its
    content hash can stay the same while other tools can no longer read the file. Files over
    MAX_STRICT_JSON_BYTES are not checked (None)."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        data = read_regular_file(path, MAX_STRICT_JSON_BYTES)
    except TooLarge:
        return None
    except (OSError, FileVanished) as exc:
        return str(exc)
    try:
        json.loads(data.decode("utf-8"), parse_constant=refuse)
    except UnicodeDecodeError as exc:
        return f"not UTF-8 ({exc.reason} at byte {exc.start})"
    except ValueError as exc:  # JSONDecodeError is a ValueError
        return shorten(str(exc), 120)
    except RecursionError:
        return "nested too deeply"
    return None


def _strict_json_check(st: EntryStatus, abs_path: Path) -> EntryStatus:
    """A ``rewritten`` GeoJSON that strict JSON readers can no longer parse is unreadable."""
    if st.status != REWRITTEN or abs_path.suffix.lower() not in JSON_SUFFIXES:
        return st
    problem = strict_json_problem(abs_path)
    if problem is None:
        return st
    message = (
        f"bytes changed and the file is no longer valid JSON ({problem}); GDAL still reads "
        "it, strict JSON readers do not"
    )
    return replace(st, status=UNREADABLE, message=message, details=[message, *st.details])


def check_feature_indexes(
    manifest_path: Path, entries: Sequence[Dict[str, Any]], should_stop: StopFn = None
) -> List[EntryStatus]:
    """A failing status for each recorded feature index that is gone, refused or altered."""
    base = Path(os.path.abspath(manifest_path)).parent
    out: List[EntryStatus] = []
    for entry in entries:
        ref = entry.get("feature_index")
        if not ref:
            continue
        owner = f"feature index of '{shorten(entry['path'])}'"
        actual = None
        try:
            p = _check_file(base, ref["path"], "Feature index", entry["path"])
            actual = sha256_file(p, should_stop=should_stop)
        except FileVanished as exc:
            gone = not os.path.lexists(base / ref["path"])
            status, message = "missing", f"{owner} is missing" if gone else str(exc)
        except PathOutsideRoot as exc:
            status, message = "missing", str(exc)
        else:
            if actual == ref["sha256"]:
                continue
            status = "modified"
            message = f"{owner} was changed after the manifest was built (SHA-256 differs)"
        out.append(
            EntryStatus(
                ref["path"],
                entry.get("layer"),
                "file",
                status,
                message,
                [message],
                ref["sha256"],
                actual,
            )
        )
    return out


def _weight(entry: Dict[str, Any]) -> int:
    """Progress weight of an entry: its size, bounded (a forged 10**400 overflows a float)."""
    return min(max(int(entry["size"]), 1), 1 << 60)


def _check_file(root: Path, rel: str, what: str, of: Optional[str] = None) -> Path:
    """The confined path of ``rel``; PathOutsideRoot/FileVanished if it is outside the root or
    exists but is not a regular file (a FIFO blocks a reader, /dev/zero never ends)."""
    path = confine(root, rel, what=what, of=of)
    problem = regular_file_problem(path)
    if problem:
        owner = "" if of is None else f" of '{shorten(of)}'"
        raise FileVanished(f"{what} '{shorten(rel)}'{owner} {problem}.")
    return path


def _refused(entry: Dict[str, Any], root: Path) -> Optional[EntryStatus]:
    """A failing status when a file verify would read for ``entry`` lies outside the root or
    is not a regular file; None when the adapter may measure the entry.

    Checked before the adapter opens anything: the data file, its recorded components and
    sidecar, and the companion files and sidecars an adapter finds next to the data file.
    """
    problem = None
    status = "missing"
    try:
        abs_path = _check_file(root, entry["path"], "Entry")
        for comp in entry["components"]:
            _check_file(root, comp["path"], "Component", entry["path"])
        for other in companion_candidates(abs_path):
            if os.path.lexists(other):
                _check_file(root, relative_to_root(other, root), "Companion file", entry["path"])
    except (PathOutsideRoot, FileVanished) as exc:
        problem = str(exc)
    if problem is None:
        sidecars = [sidecar_path(abs_path), sidecar_path(abs_path, None, entry.get("layer"), True)]
        recorded = [entry["sidecar"]["path"]] if entry["sidecar"] else []
        try:
            for rel in recorded:
                _check_file(root, rel, "Sidecar", entry["path"])
            for side in sidecars:
                if os.path.lexists(side):
                    _check_file(root, relative_to_root(side, root), "Sidecar", entry["path"])
        except (PathOutsideRoot, FileVanished) as exc:
            problem, status = str(exc), "sidecar_mismatch"
    if problem is None:
        return None
    return EntryStatus(
        entry["path"],
        entry.get("layer"),
        entry["kind"],
        status,
        problem,
        [problem],
        entry["sha256"],
        None,
    )


def tracked_paths(doc: Dict[str, Any]) -> set:
    tracked = set()
    for e in doc["entries"]:
        tracked.add(e["path"])
        tracked.update(c["path"] for c in e["components"])
        if e["sidecar"]:
            tracked.add(e["sidecar"]["path"])
    return tracked


def protected_files(manifest_path: Path, max_depth: int = 10000) -> Dict[str, str]:
    """Files no output may overwrite when a manifest is an input: the manifest, the files it
    tracks (data, components, sidecars, feature indexes) and every ancestor manifest of its
    chain with the files those track. Real paths -> what the file is, for messages.

    Best effort: a part of the chain that cannot be read or lies outside its root ends the
    walk (the algorithm reading it reports that).
    """
    out: Dict[str, str] = {}
    current = Path(os.path.abspath(manifest_path))
    for _ in range(max_depth):
        real = os.path.realpath(current)
        if real in out:
            break
        try:
            doc = read_manifest(current)
            root = manifest_root(current, doc)
        except LabelGuardError:
            break
        version = shorten(doc["version"], 60)
        out[real] = f"manifest {version} ('{current.name}')"
        for rel in sorted(tracked_paths(doc)):
            out.setdefault(os.path.realpath(root / rel), f"a file manifest {version} tracks")
        for entry in doc["entries"]:
            ref = entry.get("feature_index")
            if ref:
                index = current.parent / ref["path"]
                out.setdefault(os.path.realpath(index), f"a feature index of manifest {version}")
        if doc["parent"] is None:
            break
        try:
            current = confine(
                current.parent,
                doc["parent"]["path"],
                what="Parent manifest",
                levels_up=MAX_LEVELS_UP,
            )
        except PathOutsideRoot:
            break
    return out


def find_untracked(doc: Dict[str, Any], root: Path, manifest_path: Path) -> List[EntryStatus]:
    """Data files (by extension) under the root that the manifest does not track."""
    tracked = tracked_paths(doc)
    skip_dirs = {f"{Path(manifest_path).stem}.features"}
    out: List[EntryStatus] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and d not in skip_dirs and not d.endswith(".features")
        )
        for name in sorted(filenames):
            if name.startswith(".") or Path(name).suffix.lower() not in DATA_EXTENSIONS:
                continue
            rel = relative_to_root(Path(dirpath) / name, root)
            if rel not in tracked:
                out.append(
                    EntryStatus(rel, None, "file", "untracked", "data file not in the manifest")
                )
    return out


def load_feature_index(manifest_path: Path, entry: Dict[str, Any]) -> Optional[bytes]:
    """The bytes of an entry's feature index, checked against the recorded SHA-256."""
    ref = entry.get("feature_index")
    if not ref:
        return None
    p = confine(
        Path(os.path.abspath(manifest_path)).parent,
        ref["path"],
        what="Feature index",
        of=entry["path"],
    )
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise FileVanished(f"Feature index '{p}' of '{entry['path']}' is missing: {exc}") from exc
    if sha256_bytes(data) != ref["sha256"]:
        raise SchemaError(
            f"Feature index '{p}' was changed after the manifest was built (SHA-256 differs)."
        )
    return data


def entry_file(root: Path, entry: Dict[str, Any]) -> Optional[Path]:
    """The entry's data file for an adapter to open, or None when it is gone, lies outside the
    root (symlinks resolved) or is not a regular file."""
    try:
        path = _check_file(root, entry["path"], "Entry")
    except (PathOutsideRoot, FileVanished):
        return None
    return path if path.is_file() else None


def entries_by_key(doc: Dict[str, Any]) -> Dict[Tuple[str, Optional[str]], Dict[str, Any]]:
    return {(e["path"], e.get("layer")): e for e in doc["entries"]}


EntryKey = Tuple[str, Optional[str]]


def paired_entries(
    base_doc: Dict[str, Any], head_doc: Dict[str, Any]
) -> Tuple[Dict[EntryKey, Dict[str, Any]], Dict[EntryKey, Dict[str, Any]], List[EntryKey]]:
    """The entries of two manifests by (path, layer), and their keys sorted (None first).

    A file tracked without a layer name (a plain path, what qgis_process gives) and the same
    file tracked with one (``path|layername=...``, what the desktop gives) are the same layer
    when that file has a single entry in the other manifest: both get the named key.
    """
    b, h = entries_by_key(base_doc), entries_by_key(head_doc)
    for one, other in ((b, h), (h, b)):
        for path in [k[0] for k in one if k[1] is None]:
            if (path, None) in other:
                continue
            named = [k for k in other if k[0] == path]
            if len(named) == 1 and named[0] not in one:
                one[named[0]] = one.pop((path, None))
    keys = sorted(set(b) | set(h), key=lambda k: (k[0], k[1] is not None, k[1] or ""))
    return b, h, keys


def summarize(statuses: Iterable[EntryStatus]) -> Dict[str, int]:
    counts = {s: 0 for s in STATUSES}
    for st in statuses:
        counts[st.status] += 1
    return counts
