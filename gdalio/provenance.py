"""The training export's own sidecar and manifest, linked to the versions it came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

from osgeo import gdal, osr

from ..core.hashing import hash_files, sha256_file
from ..core.io import atomic_write_bytes
from ..core.lineage import latest_manifest_for
from ..core.manifest import Observation, build_manifest, check_chain, write_manifest
from ..core.sidecar import build_sidecar, dump_sidecar, sidecar_path
from ..core.timeutil import utc_now_iso
from ..core.version import generator
from .observe import describe, observe

MANIFEST_NAME = "manifest.json"
TILE_INDEX = "tiles.gpkg"


def creator_versions(qgis_version: Optional[str] = None) -> Dict[str, str]:
    """The manifest's ``creator``: plugin, QGIS (when run inside it), GDAL and PROJ versions."""
    proj = f"{osr.GetPROJVersionMajor()}.{osr.GetPROJVersionMinor()}.{osr.GetPROJVersionMicro()}"
    versions = {"plugin": generator()}
    if qgis_version:
        versions["qgis"] = qgis_version
    versions.update({"gdal": gdal.__version__, "proj": proj})
    return versions


def source_record(
    role: str, path: Optional[str], layer: Optional[str] = None, should_stop=None
) -> Dict[str, Any]:
    """Bytes and content hash of a source file, and the newest manifest that tracks it."""
    if not path or not Path(path).is_file():
        return {
            "role": role,
            "path": path or None,
            "layer": layer,
            "sha256": None,
            "content_sha256": None,
            "manifest": None,
        }
    obs = observe(Path(path), layer, should_stop=should_stop)
    link = None
    found = latest_manifest_for(Path(path), layer)
    if found is not None:
        mpath, entry = found
        status = "matches" if entry["content_sha256"] == obs.content_sha256 else "differs"
        chain = check_chain(mpath)
        link = {
            "path": str(mpath),
            "sha256": sha256_file(mpath),
            "version": chain.versions[0] if chain.versions else "",
            "status": f"content {status} the manifest entry",
        }
    return {
        "role": role,
        "path": str(path),
        "layer": layer,
        "sha256": obs.file.sha256,
        "content_sha256": obs.content_sha256,
        "manifest": link,
    }


def write_export_provenance(
    root: Path,
    sources: Dict[str, Dict[str, Any]],
    version: str,
    creator: Optional[Dict[str, str]] = None,
    should_stop=None,
) -> None:
    """Sidecar of the tile index, then a manifest over every file of the export with the
    sources recorded. Runs inside the export's staging folder (see core.training.export)."""
    index = root / TILE_INDEX
    if index.is_file():
        desc = describe(index, None, "split", should_stop=should_stop)
        atomic_write_bytes(sidecar_path(index), dump_sidecar(build_sidecar(desc, generator())))
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
    hashed = hash_files(files, should_stop=should_stop)
    observations = []
    for fh in hashed:
        if fh.path == index:
            observations.append(
                observe(
                    index,
                    None,
                    kind="vector",
                    file_hash=fh,
                    component_hashes=[],
                    should_stop=should_stop,
                )
            )
        elif not fh.path.name.endswith(".labelguard.yaml"):
            observations.append(Observation(path=fh.path, kind="file", file=fh))
    doc, extra = build_manifest(
        observations,
        root=root,
        manifest_path=root / MANIFEST_NAME,
        version=version,
        creator=creator or creator_versions(),
        created_at=utc_now_iso(),
        sources=[sources[k] for k in sorted(sources)],
    )
    write_manifest(root / MANIFEST_NAME, doc, extra)
