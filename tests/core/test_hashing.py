"""core.hashing: digests, progress, cancel, unreadable files, order, companion files."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from labelguard.core import hashing
from labelguard.core.errors import Cancelled, FileVanished
from labelguard.core.hashing import Component, FileHash, companion_files, hash_files, sha256_file

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _pattern(size: int) -> bytes:
    """Deterministic bytes that differ from chunk to chunk."""
    block = bytes(range(256)) * 4096  # 1 MiB
    out = bytearray()
    i = 0
    while len(out) < size:
        out += bytes([i % 251]) + block[1:]
        i += 1
    return bytes(out[:size])


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    """2.5 chunks, so the last read is partial."""
    p = tmp_path / "big.bin"
    p.write_bytes(_pattern(2 * hashing.CHUNK + hashing.CHUNK // 2))
    return p


def test_known_digest_of_abc(tmp_path: Path) -> None:
    p = tmp_path / "abc.txt"
    p.write_bytes(b"abc")
    assert sha256_file(p) == ABC_SHA256  # FIPS 180-2 test vector


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.bin"
    p.write_bytes(b"")
    seen = []
    assert sha256_file(p, progress=seen.append) == EMPTY_SHA256
    assert seen == [1.0]
    assert hash_files([p]) == [FileHash(p, 0, EMPTY_SHA256)]


def test_file_larger_than_chunk_matches_hashlib(big_file: Path) -> None:
    assert sha256_file(big_file) == hashlib.sha256(big_file.read_bytes()).hexdigest()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_matches_openssl(big_file: Path) -> None:
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", str(big_file)], check=True, capture_output=True, text=True
    ).stdout
    assert sha256_file(big_file) == out.rsplit("=", 1)[1].strip()


def test_str_path_accepted(big_file: Path) -> None:
    assert sha256_file(str(big_file)) == sha256_file(big_file)


def test_progress_is_monotonic_and_reaches_one(big_file: Path) -> None:
    seen: list = []
    sha256_file(big_file, progress=seen.append)
    assert seen == [0.4, 0.8, 1.0]  # 1 MiB, 2 MiB, 2.5 MiB of 2.5 MiB


def test_cancel_midway_raises_cancelled(big_file: Path) -> None:
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 2  # after two chunks

    seen: list = []
    with pytest.raises(Cancelled, match=r"^Cancelled; nothing was written\.$"):
        sha256_file(big_file, progress=seen.append, should_stop=stop)
    assert seen == [0.4, 0.8]


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    p = tmp_path / "gone.tif"
    with pytest.raises(
        FileVanished, match=r"File '.*gone\.tif' does not exist \(moved or deleted\?\)\."
    ):
        sha256_file(p)


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(FileVanished, match=r"is a folder, not a file"):
        sha256_file(tmp_path)


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="root reads files regardless of permissions"
)
def test_unreadable_file_names_the_path(tmp_path: Path) -> None:
    p = tmp_path / "secret.gpkg"
    p.write_bytes(b"x")
    p.chmod(0)
    try:
        with pytest.raises(FileVanished, match=r"File '.*secret\.gpkg' is not readable"):
            sha256_file(p)
    finally:
        p.chmod(0o600)


def test_permission_denied_names_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same as above, for a root test run (root ignores file modes)."""
    p = tmp_path / "secret.gpkg"
    p.write_bytes(b"x")
    real_open = open

    def fake_open(*args, **kwargs):
        if args[0] == p:
            raise PermissionError(13, "Permission denied", str(p))
        return real_open(*args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    with pytest.raises(
        FileVanished, match=r"File '.*secret\.gpkg' is not readable: permission denied\."
    ):
        sha256_file(p)
    with pytest.raises(FileVanished, match=r"File '.*secret\.gpkg' is not readable"):
        hash_files([p, p], threads=2)


def test_read_error_names_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An I/O error while reading (bad sector, network share gone) is a FileVanished."""
    p = tmp_path / "flaky.tif"
    p.write_bytes(b"x" * 10)
    real_open = open

    class Broken:
        def __init__(self, fh) -> None:
            self._fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self._fh.close()

        def fileno(self) -> int:
            return self._fh.fileno()

        def readinto(self, buf) -> int:
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(
        "builtins.open",
        lambda *a, **k: Broken(real_open(*a, **k)) if a[0] == p else real_open(*a, **k),
    )
    with pytest.raises(
        FileVanished, match=r"File '.*flaky\.tif' cannot be read: Input/output error\."
    ):
        sha256_file(p)


def test_hash_files_keeps_input_order_with_threads(tmp_path: Path) -> None:
    paths = []
    for i in range(40):
        p = tmp_path / f"f{i:02d}.bin"
        p.write_bytes(_pattern(1000 + 7919 * i))
        paths.append(p)
    order = list(reversed(paths))  # not sorted: the result must follow the input
    result = hash_files(order, threads=4)
    assert [r.path for r in result] == order
    assert [r.sha256 for r in result] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in order]
    assert [r.size for r in result] == [p.stat().st_size for p in order]
    assert hash_files(order, threads=1) == result


def test_hash_files_empty_list() -> None:
    assert hash_files([]) == []


def test_hash_files_progress_monotonic_with_threads(tmp_path: Path) -> None:
    paths = []
    for i in range(6):
        p = tmp_path / f"f{i}.bin"
        p.write_bytes(_pattern(hashing.CHUNK + 1000 * i))
        paths.append(p)
    seen: list = []
    lock = threading.Lock()

    def progress(value: float) -> None:
        with lock:
            seen.append(value)

    hash_files(paths, threads=3, progress=progress)
    assert seen == sorted(seen)
    assert seen[-1] == 1.0
    # f0 is exactly one chunk (one read); f1..f5 are a full chunk plus a partial one
    assert len(seen) == 11


def test_hash_files_missing_file_raises_with_path(tmp_path: Path) -> None:
    good = tmp_path / "a.bin"
    good.write_bytes(b"a")
    with pytest.raises(FileVanished, match=r"'.*b_missing\.bin' does not exist"):
        hash_files([good, tmp_path / "b_missing.bin", good], threads=2)
    with pytest.raises(FileVanished, match=r"'.*b_missing\.bin' does not exist"):
        hash_files([good, tmp_path / "b_missing.bin"], threads=1)


def test_hash_files_cancel_raises_cancelled(tmp_path: Path) -> None:
    paths = []
    for i in range(8):
        p = tmp_path / f"f{i}.bin"
        p.write_bytes(_pattern(hashing.CHUNK * 2))
        paths.append(p)
    calls = []
    lock = threading.Lock()

    def stop() -> bool:
        with lock:
            calls.append(1)
            return len(calls) > 3

    with pytest.raises(Cancelled, match="Cancelled; nothing was written."):
        hash_files(paths, threads=2, should_stop=stop)


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_bytes(name.encode())


def test_companion_files_shapefile(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "roads.shp",
        "roads.shx",
        "roads.dbf",
        "roads.prj",
        "roads.cpg",
        "roads.qix",
        "roads.shp.xml",
        "rivers.shp",
        "rivers.dbf",
        "roads.txt",
    )
    assert companion_files(tmp_path / "roads.shp") == [
        Component(tmp_path / "roads.cpg", "required"),
        Component(tmp_path / "roads.dbf", "required"),
        Component(tmp_path / "roads.prj", "required"),
        Component(tmp_path / "roads.qix", "auxiliary"),
        Component(tmp_path / "roads.shp.xml", "auxiliary"),
        Component(tmp_path / "roads.shx", "required"),
    ]


def test_companion_files_shapefile_upper_case_parts(tmp_path: Path) -> None:
    _touch(tmp_path, "ROADS.SHP", "ROADS.SHX", "ROADS.DBF")
    assert companion_files(tmp_path / "ROADS.SHP") == [
        Component(tmp_path / "ROADS.DBF", "required"),
        Component(tmp_path / "ROADS.SHX", "required"),
    ]


def test_companion_files_geotiff(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "ortho.tif",
        "ortho.tfw",
        "ortho.tif.aux.xml",
        "ortho.tif.ovr",
        "ortho.tif.msk",
        "other.tfw",
        "ortho.prj",
    )
    assert companion_files(tmp_path / "ortho.tif") == [
        Component(tmp_path / "ortho.tfw", "required"),
        Component(tmp_path / "ortho.tif.aux.xml", "auxiliary"),
        Component(tmp_path / "ortho.tif.msk", "auxiliary"),
        Component(tmp_path / "ortho.tif.ovr", "auxiliary"),
    ]


def test_companion_files_none_for_geopackage(tmp_path: Path) -> None:
    _touch(tmp_path, "labels.gpkg", "labels.gpkg-wal", "labels.shx")
    assert companion_files(tmp_path / "labels.gpkg") == []
