"""Manifests from elsewhere: verify reads only regular files inside the dataset root (issue 16)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import stat
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

import labelguard
import pytest
from labelguard.core import manifest as manifest_mod
from labelguard.core.content import read_feature_index
from labelguard.core.diff import diff_features
from labelguard.core.errors import FileVanished, ManifestChainError, PathOutsideRoot, SchemaError
from labelguard.core.hashing import hash_files, sha256_file
from labelguard.core.manifest import (
    POLICY,
    Observation,
    build_manifest,
    check_chain,
    load_feature_index,
    manifest_root,
    read_manifest,
    summarize,
    verify_manifest,
)

CREATED = "2024-05-17T08:42:00Z"
HEADER = b"fid\tgeometry_sha256\tattributes_sha256\tattributes\n"
PLUGIN = str(Path(labelguard.__file__).resolve().parent)  # reads its own JSON Schemas
_OPENED: Optional[List[str]] = None


def _audit(event: str, args: tuple) -> None:
    # Audit hooks cannot be removed; this one only records while a test holds the list.
    watched = event in ("open", "os.listdir", "os.scandir") and args
    if _OPENED is not None and watched and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.path.abspath(os.fsdecode(args[0])))


sys.addaudithook(_audit)


@pytest.fixture
def opened():
    """Absolute paths of every file opened and folder listed while the test runs."""
    global _OPENED
    _OPENED = []
    try:
        yield _OPENED
    finally:
        _OPENED = None


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_entry(path: str, data: bytes, **extra: Any) -> Dict[str, Any]:
    entry = {
        "path": path,
        "layer": None,
        "kind": "file",
        "size": len(data),
        "sha256": sha(data),
        "content_sha256": None,
        "crs": None,
        "components": [],
        "sidecar": None,
    }
    entry.update(extra)
    return entry


def write_doc(
    manifest: Path,
    entries: List[Dict[str, Any]],
    root: str = ".",
    parent: Optional[Dict[str, str]] = None,
) -> Path:
    doc = {
        "schema": "labelguard.manifest/1",
        "version": "v1",
        "created_at": CREATED,
        "creator": {"plugin": "0.1.0"},
        "root": root,
        "parent": parent,
        "policy": dict(POLICY),
        "entries": entries,
    }
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(doc, indent=2))
    return manifest


class Measure:
    """A stand-in adapter: hashes the file and records which paths it was asked to measure."""

    def __init__(self) -> None:
        self.paths: List[Path] = []

    def __call__(self, path: Path, entry: Dict[str, Any]) -> Observation:
        self.paths.append(path)
        return Observation(path, "file", hash_files([path])[0])


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """dataset/data/a.txt inside the root; outside/secret.txt next to the dataset."""
    root = tmp_path / "dataset"
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.txt").write_bytes(b"alpha\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(b"secret\n")
    return root


# --- item 1: root and entries confined ----------------------------------------------------


@pytest.mark.parametrize(
    ("root", "message"),
    [
        ("/etc", r"root '/etc' is an absolute path; a manifest may only name paths relative"),
        ("/", r"root '/' is an absolute path"),
        ("../..", r"root '\.\./\.\.' climbs 2 folder\(s\) above '.*dataset' \(at most 1 folder"),
        ("../" * 40, r"root '(\.\./){40}' climbs 40 folder\(s\)"),
        ("data/../../..", r"root 'data/\.\./\.\./\.\.' climbs 2 folder\(s\)"),
    ],
    ids=["etc", "fs-root", "two-up", "forty-up", "down-then-up"],
)
def test_root_outside_the_dataset_is_refused(
    dataset: Path, opened: List[str], root: str, message: str
) -> None:
    manifest = write_doc(dataset / "v1.json", [file_entry("passwd", b"x")], root=root)
    measure = Measure()
    with pytest.raises(PathOutsideRoot, match=rf"^Manifest '.*v1\.json': {message}"):
        verify_manifest(manifest, measure, scan_untracked=False)
    assert measure.paths == []
    assert not [p for p in opened if not p.startswith((str(dataset), PLUGIN))]


def test_root_naming_the_file_system_root_is_refused(tmp_path: Path) -> None:
    """A manifest one level below '/' may not say root '..': that walks the file system."""
    top = Path(os.path.abspath("/"))
    with pytest.raises(PathOutsideRoot, match=r"names the file-system root '/' as a dataset"):
        manifest_root(top / "v1.json", {"root": "."})
    with pytest.raises(PathOutsideRoot, match=r"root '\.\.' names the file-system root"):
        manifest_root(top / "tmp" / "v1.json", {"root": ".."})


def test_root_through_a_symlink_out_of_the_folder_is_refused(dataset: Path, tmp_path: Path) -> None:
    (dataset / "elsewhere").symlink_to(tmp_path / "outside")
    manifest = write_doc(dataset / "v1.json", [file_entry("secret.txt", b"secret\n")], "elsewhere")
    with pytest.raises(
        PathOutsideRoot,
        match=r"root 'elsewhere' resolves to '.*outside', outside '.*dataset' \(through a "
        r"symbolic link\)\. Refused, nothing was read\.$",
    ):
        verify_manifest(manifest, Measure())


def test_entry_through_a_symlinked_folder_is_refused_by_name(
    dataset: Path, tmp_path: Path, opened: List[str]
) -> None:
    (dataset / "data" / "etcdir").symlink_to(tmp_path / "outside")
    manifest = write_doc(
        dataset / "v1.json",
        [file_entry("data/a.txt", b"alpha\n"), file_entry("data/etcdir/secret.txt", b"secret\n")],
    )
    measure = Measure()
    statuses, _ = verify_manifest(manifest, measure)
    assert [(s.path, s.status) for s in statuses] == [
        ("data/a.txt", "ok"),
        ("data/etcdir/secret.txt", "missing"),
    ]
    assert statuses[1].message == (
        f"Entry 'data/etcdir/secret.txt' resolves to '{tmp_path / 'outside' / 'secret.txt'}', "
        f"outside '{dataset}' (through a symbolic link). Refused, nothing was read."
    )
    assert statuses[1].actual_sha256 is None
    assert measure.paths == [dataset / "data" / "a.txt"]
    assert str(tmp_path / "outside" / "secret.txt") not in opened
    assert str(tmp_path / "outside") not in opened  # the untracked scan does not follow it


def test_symlinked_sidecar_and_companion_are_refused(dataset: Path, tmp_path: Path) -> None:
    data = dataset / "data"
    (data / "b.txt").write_bytes(b"beta\n")
    (data / "b.txt.labelguard.yaml").symlink_to(tmp_path / "outside" / "secret.txt")
    (data / "ortho.tif").write_bytes(b"pixels")
    (data / "ortho.tfw").symlink_to(tmp_path / "outside" / "secret.txt")
    manifest = write_doc(
        dataset / "v1.json",
        [file_entry("data/b.txt", b"beta\n"), file_entry("data/ortho.tif", b"pixels")],
    )
    measure = Measure()
    statuses, _ = verify_manifest(manifest, measure, scan_untracked=False)
    assert [(s.path, s.status, s.message.split(" resolves")[0]) for s in statuses] == [
        ("data/b.txt", "sidecar_mismatch", "Sidecar 'data/b.txt.labelguard.yaml' of 'data/b.txt'"),
        ("data/ortho.tif", "missing", "Companion file 'data/ortho.tfw' of 'data/ortho.tif'"),
    ]
    assert measure.paths == []


def test_symlink_that_stays_inside_the_root_is_fine(dataset: Path) -> None:
    (dataset / "latest").symlink_to(dataset / "data")
    manifest = write_doc(dataset / "v1.json", [file_entry("latest/a.txt", b"alpha\n")])
    statuses, _ = verify_manifest(manifest, Measure(), scan_untracked=False)
    assert [(s.path, s.status) for s in statuses] == [("latest/a.txt", "ok")]


def test_parent_link_outside_is_a_broken_chain(dataset: Path, opened: List[str]) -> None:
    manifest = write_doc(
        dataset / "v1.json",
        [],
        parent={"path": "/etc/passwd", "sha256": "0" * 64, "version": "v0"},
    )
    chain = check_chain(manifest)
    assert not chain.ok
    assert chain.message == (
        "Version 'v1': parent link '/etc/passwd' is an absolute path; a manifest may only "
        "name paths relative to its own folder. Refused, nothing was read."
    )
    assert "/etc/passwd" not in opened


def test_feature_index_through_a_symlink_is_refused(dataset: Path, tmp_path: Path) -> None:
    (dataset / "v1.features").symlink_to(tmp_path / "outside")
    manifest = write_doc(dataset / "v1.json", [])
    entry = file_entry(
        "data/a.txt",
        b"alpha\n",
        feature_index={"path": "v1.features/secret.txt", "sha256": sha(b"secret\n")},
    )
    with pytest.raises(
        PathOutsideRoot,
        match=r"^Feature index 'v1\.features/secret\.txt' of 'data/a\.txt' resolves to '",
    ):
        load_feature_index(manifest, entry)


def test_build_refuses_a_root_verify_would_refuse(dataset: Path) -> None:
    obs = Measure()(dataset / "data" / "a.txt", {})
    with pytest.raises(
        PathOutsideRoot,
        match=r"The dataset root '\.\./\.\./dataset' climbs 2 folder\(s\) .* Save the manifest in "
        r"the dataset root",
    ):
        build_manifest(
            [obs],
            root=dataset,
            manifest_path=dataset.parent / "a" / "b" / "v1.json",
            version="v1",
            creator={"plugin": "0.1.0"},
            created_at=CREATED,
        )


def test_build_refuses_a_layer_reached_through_a_symlink_out_of_the_root(
    dataset: Path, tmp_path: Path
) -> None:
    (dataset / "data" / "etcdir").symlink_to(tmp_path / "outside")
    obs = Measure()(dataset / "data" / "etcdir" / "secret.txt", {})
    with pytest.raises(
        PathOutsideRoot,
        match=r"^File 'data/etcdir/secret\.txt' resolves to '.*outside/secret\.txt', outside",
    ):
        build_manifest(
            [obs],
            root=dataset,
            manifest_path=dataset / "v1.json",
            version="v1",
            creator={"plugin": "0.1.0"},
            created_at=CREATED,
        )


def test_build_refuses_a_parent_link_verify_would_refuse(dataset: Path, tmp_path: Path) -> None:
    parent = write_doc(tmp_path / "archive" / "old" / "v0.json", [])
    obs = Measure()(dataset / "data" / "a.txt", {})
    with pytest.raises(
        ManifestChainError,
        match=r"^Parent manifest '\.\./\.\./archive/old/v0\.json' climbs 2 folder\(s\)",
    ):
        build_manifest(
            [obs],
            root=dataset,
            manifest_path=dataset / "versions" / "v1.json",
            version="v1",
            creator={"plugin": "0.1.0"},
            created_at=CREATED,
            parent_path=parent,
        )


# --- item 2: only regular files are read --------------------------------------------------


def finishes(func, *args, **kwargs):
    """``func(*args)``'s result; fails instead of hanging the suite when it blocks (a FIFO)."""
    box: Dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = func(*args, **kwargs)
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), f"{func.__name__} blocked on a special file"
    if "error" in box:
        raise box["error"]
    return box["result"]


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


@needs_fifo
def test_fifo_entry_is_reported_not_read(dataset: Path) -> None:
    os.mkfifo(dataset / "data" / "pipe.geojson")
    manifest = write_doc(
        dataset / "v1.json",
        [file_entry("data/a.txt", b"alpha\n"), file_entry("data/pipe.geojson", b"")],
    )
    measure = Measure()
    statuses, _ = finishes(verify_manifest, manifest, measure)
    assert [(s.path, s.status, s.message) for s in statuses] == [
        ("data/a.txt", "ok", "matches the manifest"),
        (
            "data/pipe.geojson",
            "missing",
            "Entry 'data/pipe.geojson' is a FIFO (named pipe), not a regular file; not read.",
        ),
    ]
    assert measure.paths == [dataset / "data" / "a.txt"]


@needs_fifo
def test_fifo_companion_and_sidecar_are_reported_not_read(dataset: Path) -> None:
    data = dataset / "data"
    (data / "ortho.tif").write_bytes(b"pixels")
    os.mkfifo(data / "ortho.tfw")
    os.mkfifo(data / "a.txt.labelguard.yaml")
    manifest = write_doc(
        dataset / "v1.json",
        [file_entry("data/a.txt", b"alpha\n"), file_entry("data/ortho.tif", b"pixels")],
    )
    measure = Measure()
    statuses, _ = finishes(verify_manifest, manifest, measure, scan_untracked=False)
    assert [(s.path, s.status, s.message) for s in statuses] == [
        (
            "data/a.txt",
            "sidecar_mismatch",
            "Sidecar 'data/a.txt.labelguard.yaml' of 'data/a.txt' is a FIFO (named pipe), not a "
            "regular file; not read.",
        ),
        (
            "data/ortho.tif",
            "missing",
            "Companion file 'data/ortho.tfw' of 'data/ortho.tif' is a FIFO (named pipe), not a "
            "regular file; not read.",
        ),
    ]
    assert measure.paths == []


@needs_fifo
def test_hashing_refuses_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.tif")
    with pytest.raises(
        FileVanished, match=r"^'.*pipe\.tif' is a FIFO \(named pipe\), not a regular file; not"
    ):
        finishes(hash_files, [tmp_path / "pipe.tif"])


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_hashing_refuses_a_symlink_to_dev_zero(tmp_path: Path) -> None:
    (tmp_path / "zero.tif").symlink_to("/dev/zero")
    with pytest.raises(
        FileVanished, match=r"^'.*zero\.tif' is a character device, not a regular file; not"
    ):
        finishes(sha256_file, tmp_path / "zero.tif")


@pytest.mark.skipif(
    not hasattr(os, "mknod") or os.geteuid() != 0, reason="creating a device needs root"
)
def test_device_inside_the_dataset_is_reported_not_read(dataset: Path) -> None:
    os.mknod(dataset / "data" / "zero.tif", 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    manifest = write_doc(dataset / "v1.json", [file_entry("data/zero.tif", b"")])
    statuses, _ = finishes(verify_manifest, manifest, Measure(), scan_untracked=False)
    assert [(s.status, s.message) for s in statuses] == [
        ("missing", "Entry 'data/zero.tif' is a character device, not a regular file; not read.")
    ]


# --- item 10: malformed manifests and feature indexes are user-facing errors --------------


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [100, 1000, 100_000], ids=["100", "1000", "100000"])
def test_deep_nesting_names_the_manifest_and_the_key(dataset: Path, depth: int) -> None:
    entry = file_entry("data/a.txt", b"alpha\n", crs={"epsg": None, "wkt2": "x"})
    manifest = write_doc(dataset / "v1.json", [entry])
    doc = json.loads(manifest.read_text())
    doc["entries"][0]["crs"]["area"] = "NESTED"
    manifest.write_text(
        json.dumps(doc).replace('"NESTED"', "[" * depth + "]" * depth), encoding="utf-8"
    )
    with pytest.raises(
        SchemaError,
        match=r"^Manifest '.*v1\.json' nests deeper than 64 levels at key 'entries/crs/area' "
        r"\(line 1\); refused\.$",
    ):
        verify_manifest(manifest, Measure())


def test_long_entry_path_is_reported(dataset: Path) -> None:
    long = "data/" + "x" * 300
    manifest = write_doc(dataset / "v1.json", [file_entry(long, b"")])
    statuses, _ = verify_manifest(manifest, Measure(), scan_untracked=False)
    assert [(s.status, s.message) for s in statuses] == [
        (
            "missing",
            f"Entry '{long[:120]}... (305 characters)' cannot be read: File name too long.",
        )
    ]


def test_optional_entry_keys_may_be_missing(dataset: Path) -> None:
    entry = file_entry("data/a.txt", b"alpha\n")
    del entry["crs"], entry["layer"]
    manifest = write_doc(dataset / "v1.json", [entry])
    statuses, _ = verify_manifest(manifest, Measure(), scan_untracked=False)
    assert [(s.path, s.layer, s.status) for s in statuses] == [("data/a.txt", None, "ok")]


def test_huge_size_does_not_overflow(dataset: Path) -> None:
    manifest = write_doc(dataset / "v1.json", [file_entry("data/a.txt", b"alpha\n", size=0)])
    manifest.write_text(manifest.read_text().replace('"size": 0', '"size": 1' + "0" * 400))
    seen: List[float] = []
    statuses, _ = verify_manifest(manifest, Measure(), scan_untracked=False, progress=seen.append)
    assert [s.status for s in statuses] == ["ok"]
    assert seen == [1.0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("root"), r"/: missing required key 'root'"),
        (lambda d: d.update(entries={}), r"/entries: expected array, got dict"),
        (lambda d: d["entries"][0].update(size="7"), r"/entries/0/size: expected integer, got str"),
        (lambda d: d["entries"][0].pop("sha256"), r"/entries/0: missing required key 'sha256'"),
        (lambda d: d.update(parent=[]), r"/parent: expected object or null, got list"),
        (lambda d: d.update(root=7), r"/root: expected string, got int"),
    ],
    ids=["no-root", "entries-dict", "size-str", "no-sha256", "parent-list", "root-int"],
)
def test_missing_keys_and_wrong_types_name_the_key(dataset: Path, change, message: str) -> None:
    manifest = write_doc(dataset / "v1.json", [file_entry("data/a.txt", b"alpha\n")])
    doc = json.loads(manifest.read_text())
    change(doc)
    manifest.write_text(json.dumps(doc))
    with pytest.raises(SchemaError, match=rf"^Manifest '.*v1\.json' does not match .*{message}"):
        verify_manifest(manifest, Measure())


@needs_fifo
def test_manifest_that_is_a_fifo_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "v1.json")
    with pytest.raises(FileVanished, match=r"^Manifest: '.*v1\.json' is a FIFO \(named pipe\)"):
        finishes(read_manifest, tmp_path / "v1.json")


def test_oversized_manifest_is_refused_unread(
    dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_doc(dataset / "v1.json", [])
    monkeypatch.setattr(manifest_mod, "MAX_MANIFEST_BYTES", 100)
    size = manifest.stat().st_size
    with pytest.raises(
        SchemaError, match=rf"^Manifest '.*v1\.json' is {size} bytes; manifests are read up to 100"
    ):
        read_manifest(manifest)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"garbage", r"incorrect header check\.$"),
        (gzip.compress(b"")[:-3], r"the gzip stream is truncated\.$"),
        (gzip.compress(b"fid\tx\n"), r"its first line is wrong\.$"),
        (gzip.compress(HEADER + b"1\tabc\tdef\t{}\n"), r"line 2 is bad\.$"),
        (gzip.compress(HEADER + b"x\t" + b"a" * 64 + b"\t" + b"b" * 64 + b"\t{}\n"), r"line 2"),
        (gzip.compress(HEADER + b"\xff\n"), r"can't decode byte 0xff"),
        (gzip.compress(b"") + b"junk", r"data follows the gzip stream\.$"),
    ],
    ids=["not-gzip", "truncated", "header", "short-row", "bad-fid", "not-utf8", "trailing"],
)
def test_garbage_feature_index_is_a_schema_error(data: bytes, message: str) -> None:
    with pytest.raises(
        SchemaError,
        match=rf"^Feature index of 'x' in v2 is not a LabelGuard feature index: .*{message}",
    ):
        read_feature_index(data, "Feature index of 'x' in v2")


def test_gzip_bomb_feature_index_is_refused() -> None:
    bomb = gzip.compress(HEADER + b"\0" * (65 << 20), compresslevel=1)
    with pytest.raises(SchemaError, match=r"it unpacks to more than 67108864 bytes\.$"):
        read_feature_index(bomb)


def test_index_attributes_that_are_not_json_are_a_schema_error() -> None:
    base = [(1, "a" * 64, "b" * 64, '{"id": 1}')]
    head = [(1, "a" * 64, "c" * 64, "[1, 2")]
    with pytest.raises(
        SchemaError, match=r"^The feature index of v2 holds attributes that are not a JSON object"
    ):
        diff_features(base, head, id_field="id", base_label="v1", head_label="v2")


# --- item 15: verify checks the feature indexes ---------------------------------------------


@pytest.fixture
def indexed(dataset: Path) -> Path:
    """v1.json with one entry whose feature index lives in v1.features/."""
    index = dataset / "v1.features" / "0000-data_a.txt.tsv.gz"
    index.parent.mkdir()
    index.write_bytes(gzip.compress(HEADER))
    ref = {"path": "v1.features/0000-data_a.txt.tsv.gz", "sha256": sha(index.read_bytes())}
    return write_doc(dataset / "v1.json", [file_entry("data/a.txt", b"alpha\n", feature_index=ref)])


def test_intact_feature_index_adds_no_row(indexed: Path) -> None:
    statuses, _ = verify_manifest(indexed, Measure())
    assert [(s.path, s.status) for s in statuses] == [("data/a.txt", "ok")]


def test_deleted_feature_index_folder_fails_verify(indexed: Path) -> None:
    shutil.rmtree(indexed.parent / "v1.features")
    statuses, _ = verify_manifest(indexed, Measure())
    assert [(s.path, s.status, s.message) for s in statuses] == [
        ("data/a.txt", "ok", "matches the manifest"),
        (
            "v1.features/0000-data_a.txt.tsv.gz",
            "missing",
            "feature index of 'data/a.txt' is missing",
        ),
    ]
    assert summarize(statuses)["missing"] == 1


def test_altered_feature_index_fails_verify(indexed: Path) -> None:
    index = indexed.parent / "v1.features" / "0000-data_a.txt.tsv.gz"
    index.write_bytes(gzip.compress(HEADER + b"1\t" + b"a" * 64 + b"\t" + b"b" * 64 + b"\t{}\n"))
    statuses, _ = verify_manifest(indexed, Measure())
    assert [(s.path, s.status, s.message, s.actual_sha256) for s in statuses[1:]] == [
        (
            "v1.features/0000-data_a.txt.tsv.gz",
            "modified",
            "feature index of 'data/a.txt' was changed after the manifest was built (SHA-256 "
            "differs)",
            sha(index.read_bytes()),
        )
    ]


@needs_fifo
def test_feature_index_replaced_by_a_fifo_is_not_read(indexed: Path) -> None:
    index = indexed.parent / "v1.features" / "0000-data_a.txt.tsv.gz"
    index.unlink()
    os.mkfifo(index)
    statuses, _ = finishes(verify_manifest, indexed, Measure())
    assert [(s.status, s.message) for s in statuses[1:]] == [
        (
            "missing",
            "Feature index 'v1.features/0000-data_a.txt.tsv.gz' of 'data/a.txt' is a FIFO (named "
            "pipe), not a regular file; not read.",
        )
    ]
