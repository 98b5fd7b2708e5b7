"""Fuzz: mutated manifests, sidecars and feature indexes give user-facing errors only (issue 16).

Fixed seed, a few hundred mutants of each; every file opened must lie inside the test's folder
(or be one of the plugin's own schemas), and the whole run must finish.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import os
import random
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import labelguard
import pytest
import yaml
from labelguard.core.content import read_feature_index, write_feature_index
from labelguard.core.crs_checks import read_sidecar_crs
from labelguard.core.diff import diff_features
from labelguard.core.errors import LabelGuardError
from labelguard.core.hashing import hash_files
from labelguard.core.manifest import (
    POLICY,
    Observation,
    check_chain,
    load_feature_index,
    read_manifest,
    verify_manifest,
)
from labelguard.core.sidecar import DataDescription, build_sidecar, dump_sidecar, read_sidecar

SEED = 16
PLUGIN = str(Path(labelguard.__file__).resolve().parent)
_OPENED: Optional[List[str]] = None


def _audit(event: str, args: tuple) -> None:
    watched = event in ("open", "os.listdir", "os.scandir") and args
    if _OPENED is not None and watched and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.path.realpath(os.fsdecode(args[0])))


sys.addaudithook(_audit)

ROWS = [
    (1, "a" * 64, "b" * 64, '{"class":"building","id":1}'),
    (2, "c" * 64, "d" * 64, '{"class":"tree","id":2}'),
]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def nested(depth: int) -> Any:
    value: Any = {}
    for _ in range(depth):
        value = [value]
    return value


POOL: List[Any] = [
    None,
    0,
    -1,
    10**400,
    1e308,
    True,
    "",
    ".",
    "..",
    "/",
    "/etc/passwd",
    "../../../../../../etc/passwd",
    "data/etcdir/secret.txt",
    "data/pipe.tif",
    "data/a.txt",
    "C:\\Windows\\win.ini",
    "x" * 300,
    "é\u2028\x00",
    {},
    [],
    [1, 2],
    {"path": "/etc/passwd", "sha256": "0" * 64, "version": "v0"},
    nested(200),
]


@pytest.fixture
def dataset(tmp_path: Path) -> Dict[str, Any]:
    root = tmp_path / "dataset"
    data = root / "data"
    data.mkdir(parents=True)
    (data / "a.txt").write_bytes(b"alpha\n")
    (data / "labels.geojson").write_bytes(b'{"type": "FeatureCollection", "features": []}')
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(b"secret\n")
    (data / "etcdir").symlink_to(tmp_path / "outside")
    if hasattr(os, "mkfifo"):
        os.mkfifo(data / "pipe.tif")
    desc = DataDescription(
        name="labels.geojson",
        format="GeoJSON",
        kind="vector",
        crs=None,
        extent=(0.0, 0.0, 1.0, 1.0),
        content_method="labelguard.vector-content/1",
        content_sha256="0" * 64,
        feature_count=2,
        geometry_type="Polygon",
        class_field="class",
        class_counts={"building": 1, "tree": 1},
    )
    sidecar = dump_sidecar(build_sidecar(desc, "LabelGuard fuzz"))
    (data / "labels.geojson.labelguard.yaml").write_bytes(sidecar)
    index = write_feature_index(ROWS)
    (root / "v1.features").mkdir()
    (root / "v1.features" / "0000-labels.tsv.gz").write_bytes(index)

    def entry(path: str, kind: str, **extra: Any) -> Dict[str, Any]:
        raw = (root / path).read_bytes()
        out = {
            "path": path,
            "layer": None,
            "kind": kind,
            "size": len(raw),
            "sha256": sha(raw),
            "content_sha256": None,
            "content_method": None,
            "feature_count": None,
            "crs": None,
            "components": [],
            "sidecar": None,
            "feature_index": None,
        }
        out.update(extra)
        return out

    doc = {
        "schema": "labelguard.manifest/1",
        "version": "v1",
        "created_at": "2024-05-17T08:42:00Z",
        "creator": {"plugin": "0.1.0"},
        "root": ".",
        "parent": None,
        "policy": dict(POLICY),
        "entries": [
            entry("data/a.txt", "file"),
            entry(
                "data/labels.geojson",
                "vector",
                sidecar={"path": "data/labels.geojson.labelguard.yaml", "sha256": sha(sidecar)},
                feature_index={"path": "v1.features/0000-labels.tsv.gz", "sha256": sha(index)},
            ),
        ],
    }
    return {"root": root, "doc": doc, "sidecar": sidecar, "index": index, "tmp": tmp_path}


def measure(path: Path, entry: Dict[str, Any]) -> Observation:
    return Observation(path, "file", hash_files([path])[0])


def _nodes(value: Any, trail: tuple = ()) -> List[tuple]:
    """Paths (key/index tuples) to every node of a JSON value."""
    out = [trail]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_nodes(v, (*trail, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value[:50]):
            out.extend(_nodes(v, (*trail, i)))
    return out


def mutate_doc(doc: Dict[str, Any], rng: random.Random) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        trail = rng.choice(_nodes(doc)[1:])
        parent = doc
        for step in trail[:-1]:
            parent = parent[step]
        key = trail[-1]
        action = rng.random()
        if action < 0.25 and isinstance(parent, dict):
            del parent[key]
        elif action < 0.35 and isinstance(parent, dict):
            parent[rng.choice(["extra", "layer", "crs", "feature_index"])] = rng.choice(POOL)
        else:
            parent[key] = copy.deepcopy(rng.choice(POOL))
        if not isinstance(doc, dict):
            break
    return doc


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        action = rng.random()
        if not buf:
            break
        i = rng.randrange(len(buf))
        if action < 0.4:
            buf[i] = rng.randrange(256)
        elif action < 0.6:
            del buf[i:]
        elif action < 0.8:
            j = rng.randrange(len(buf))
            buf[i:i] = buf[min(i, j) : max(i, j)][:200]
        else:
            del buf[i : i + rng.randint(1, 20)]
    return bytes(buf)


def expect_only_user_errors(func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    message = ""
    try:
        func(*args, **kwargs)
    except LabelGuardError as exc:
        message = str(exc)
    assert len(message) < 2000, message[:300]  # values are cut short in messages


def run_manifest_mutants(ds: Dict[str, Any], rng: random.Random, n: int) -> None:
    manifest = ds["root"] / "v1.json"
    base = json.dumps(ds["doc"], indent=2).encode()
    for i in range(n):
        if i % 3 == 0:
            data = mutate_bytes(base, rng)
        else:
            data = json.dumps(mutate_doc(ds["doc"], rng)).encode()
        manifest.write_bytes(data)
        expect_only_user_errors(verify_manifest, manifest, measure, scan_untracked=i % 2 == 0)
        expect_only_user_errors(check_chain, manifest)
        try:
            doc = read_manifest(manifest)
        except LabelGuardError:
            continue
        for entry in doc["entries"]:
            try:
                raw = load_feature_index(manifest, entry)
            except LabelGuardError:
                continue
            if raw is not None:
                expect_only_user_errors(read_feature_index, raw)


def run_sidecar_mutants(ds: Dict[str, Any], rng: random.Random, n: int) -> None:
    path = ds["root"] / "data" / "labels.geojson.labelguard.yaml"
    text = ds["sidecar"].decode()
    lines = text.split("\n")
    for i in range(n):
        if i % 4 == 0:
            data = mutate_bytes(ds["sidecar"], rng)
        elif i % 4 == 1:
            doc = yaml.safe_load(text)
            data = yaml.safe_dump(mutate_doc(doc, rng), sort_keys=False).encode()
        elif i % 4 == 2:
            k = rng.randrange(len(lines))
            extra = rng.choice(["x: &a [1, 2]", "y: *a", "- [[[[[[", "? ! !!python/object", "\t"])
            data = "\n".join([*lines[:k], extra, *lines[k:]]).encode()
        else:
            data = (text + f"big: {rng.choice(['[' * 200, 'x' * 3000, '{a: ' * 50])}\n").encode()
        path.write_bytes(data)
        expect_only_user_errors(read_sidecar, path)
        found = read_sidecar_crs(str(path))
        assert found is not None


def run_index_mutants(ds: Dict[str, Any], rng: random.Random, n: int) -> None:
    plain = gzip.decompress(ds["index"])
    for i in range(n):
        data = (
            mutate_bytes(ds["index"], rng)
            if i % 2 == 0
            else gzip.compress(mutate_bytes(plain, rng), mtime=0)
        )
        try:
            rows = read_feature_index(data)
        except LabelGuardError:
            continue
        expect_only_user_errors(diff_features, ROWS, rows, id_field="id")
        expect_only_user_errors(diff_features, ROWS, rows)


def test_mutants_raise_only_user_facing_errors_and_read_only_inside(
    dataset: Dict[str, Any],
) -> None:
    global _OPENED
    rng = random.Random(SEED)
    failure: List[BaseException] = []

    def run() -> None:
        try:
            run_manifest_mutants(dataset, rng, 300)
            run_sidecar_mutants(dataset, rng, 200)
            run_index_mutants(dataset, rng, 200)
        except BaseException as exc:
            failure.append(exc)

    _OPENED = []
    try:
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(60)
        assert not worker.is_alive(), "a mutant made verify hang"
        opened = list(_OPENED)
    finally:
        _OPENED = None
    if failure:
        raise failure[0]
    allowed = (str(os.path.realpath(dataset["root"])), PLUGIN)
    outside = sorted({p for p in opened if not p.startswith(allowed)})
    assert outside == []
