"""Streaming SHA-256 of files at the hardware limit, with progress, cancel and companion files.

hashlib releases the GIL while it digests a buffer, so several files hash in parallel threads.
One reusable buffer per file and ``readinto`` avoid allocating a bytes object per chunk.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .errors import Cancelled, FileVanished
from .paths import file_type, nonblocking_opener
from .progress import ProgressFn, StopFn

CHUNK = 1 << 20  # 1 MiB: large enough for full SHA-NI speed, small enough to cancel promptly
SMALL_CHUNK = 1 << 16  # smallest buffer, so a file that grows while hashed still reads fast

# Components that belong to a data file: hashed with it and listed in the manifest.
# "required": part of the data (a change is a change of bytes of the dataset).
# "auxiliary": caches GDAL rewrites by itself (statistics in .aux.xml, overviews); hashed
# for information, a change alone is not a mismatch when the content hash is unchanged.
SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg", ".qpj")
SHAPEFILE_INDEXES = (".sbn", ".sbx", ".qix", ".fix")
WORLD_FILES = {
    ".tif": (".tfw", ".tifw", ".wld"),
    ".tiff": (".tfw", ".tiffw", ".wld"),
    ".png": (".pgw", ".pngw", ".wld"),
    ".jpg": (".jgw", ".jpgw", ".wld"),
    ".jpeg": (".jgw", ".jpegw", ".wld"),
    ".jp2": (".j2w", ".jp2w", ".wld"),
    ".gif": (".gfw", ".gifw", ".wld"),
    ".bmp": (".bpw", ".bmpw", ".wld"),
}


@dataclass(frozen=True)
class Component:
    """A file that belongs to a data file; ``role`` is "required" or "auxiliary"."""

    path: Path
    role: str


def _case_variants(path: Path, suffix: str) -> List[Path]:
    stem = path.with_suffix("")
    return [Path(f"{stem}{suffix}"), Path(f"{stem}{suffix.upper()}")]


def companion_candidates(path: os.PathLike) -> List[Path]:
    """Every file name a reader of ``path`` may open besides it: the companions
    ``companion_files`` looks for (all spellings) and SQLite's journals (GeoPackage).

    Whether they exist is not checked; verify refuses an entry when one is a FIFO or a device.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    exts: List[str] = []
    if suffix == ".shp":
        exts += list(SHAPEFILE_PARTS) + list(SHAPEFILE_INDEXES)
    exts += list(WORLD_FILES.get(suffix, ()))
    out = [c for ext in exts for c in _case_variants(p, ext)]
    out += [Path(f"{p}{extra}") for extra in (".xml", ".aux.xml", ".ovr", ".msk")]
    out += [Path(f"{p}{extra}") for extra in ("-wal", "-shm", "-journal")]
    return sorted({c for c in out if c != p})


def companion_files(path: os.PathLike) -> List[Component]:
    """Existing companion files of a data file, sorted by path (the data file itself excluded).

    Shapefile parts (.shx .dbf .prj .cpg) and world files are required; ``.aux.xml``, ``.ovr``,
    ``.msk`` and spatial indexes are auxiliary.
    """
    p = Path(path)
    found: Dict[Path, str] = {}
    suffix = p.suffix.lower()

    def add(candidate: Path, role: str) -> bool:
        if candidate != p and candidate.is_file() and candidate not in found:
            found[candidate] = role
            return True
        return False

    def add_first(ext: str, role: str) -> None:
        # The first existing spelling only: on a case-insensitive file system (macOS, Windows)
        # "a.dbf" and "a.DBF" are the same file and must not be listed (and hashed) twice.
        for c in _case_variants(p, ext):
            if add(c, role):
                return

    if suffix == ".shp":
        for ext in SHAPEFILE_PARTS:
            add_first(ext, "required")
        for ext in SHAPEFILE_INDEXES:
            add_first(ext, "auxiliary")
        add(Path(f"{p}.xml"), "auxiliary")
    for ext in WORLD_FILES.get(suffix, ()):
        add_first(ext, "required")
    for extra in (".aux.xml", ".ovr", ".msk"):
        add(Path(f"{p}{extra}"), "auxiliary")
    return [Component(c, found[c]) for c in sorted(found)]


def required_companions(path: os.PathLike) -> Tuple[str, ...]:
    """Names of the companion files a data file cannot be read without. Only those describe
    the data: GDAL and QGIS create auxiliary files (.aux.xml) on their own, and a sidecar must
    not change because a layer was opened."""
    return tuple(c.path.name for c in companion_files(path) if c.role == "required")


def _hash_one(
    path: Path,
    on_bytes: Optional[Callable[[int], None]],
    should_stop: StopFn,
    chunk: int = CHUNK,
) -> Tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb", buffering=0, opener=nonblocking_opener) as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                # A FIFO blocks, a device (/dev/zero) never ends: only regular files are data.
                raise FileVanished(
                    f"'{path}' is {file_type(st.st_mode)}, not a regular file; not read."
                )
            # A buffer sized to the file: zero-filling 1 MiB for a 4 KiB file would double the
            # cost of hashing it (measured in benchmarks/bench_hashing.py, 5,000 small files).
            expected = st.st_size
            buf = bytearray(min(chunk, max(expected + 1, SMALL_CHUNK)))
            view = memoryview(buf)
            while True:
                if should_stop is not None and should_stop():
                    raise Cancelled()
                n = fh.readinto(buf)
                if not n:
                    break
                digest.update(view[:n])
                size += n
                if on_bytes is not None:
                    on_bytes(n)
    except FileNotFoundError as exc:
        raise FileVanished(f"File '{path}' does not exist (moved or deleted?).") from exc
    except IsADirectoryError as exc:
        raise FileVanished(f"'{path}' is a folder, not a file.") from exc
    except PermissionError as exc:
        raise FileVanished(f"File '{path}' is not readable: permission denied.") from exc
    except OSError as exc:
        raise FileVanished(f"File '{path}' cannot be read: {exc.strerror or exc}.") from exc
    return digest.hexdigest(), size


def sha256_file(path: os.PathLike, progress: ProgressFn = None, should_stop: StopFn = None) -> str:
    """Hex SHA-256 of one file. Raises FileVanished if it cannot be read, Cancelled on stop."""
    p = Path(path)
    try:
        total = p.stat().st_size
    except OSError:
        total = 0  # _hash_one raises the user-facing error
    done = [0]

    def on_bytes(n: int) -> None:
        done[0] += n
        if progress is not None and total:
            progress(min(1.0, done[0] / total))

    digest, size = _hash_one(p, on_bytes, should_stop)
    if progress is not None and (not total or size < total):
        progress(1.0)  # an empty file (or one that shrank) still ends at 1.0
    return digest


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FileHash:
    path: Path
    size: int
    sha256: str


def hash_files(
    paths: Sequence[os.PathLike],
    *,
    threads: Optional[int] = None,
    progress: ProgressFn = None,
    should_stop: StopFn = None,
) -> List[FileHash]:
    """SHA-256 of many files, in input order, hashed in parallel threads.

    Progress is reported by bytes over the total size and never goes backwards. Raises
    FileVanished for a file that cannot be read (the first in input order among those that
    failed; the other threads then stop) and Cancelled on stop (remaining work is abandoned).
    """
    files = [p if isinstance(p, Path) else Path(p) for p in paths]
    if not files:
        return []
    sizes = []
    for f in files:
        try:
            sizes.append(f.stat().st_size)
        except OSError:
            sizes.append(0)  # _hash_one raises the user-facing error
    total = float(sum(sizes)) or 1.0
    lock = threading.Lock()
    done = [0]
    stop_flag = threading.Event()

    def stopped() -> bool:
        if stop_flag.is_set():
            return True
        if should_stop is not None and should_stop():
            stop_flag.set()
            return True
        return False

    def on_bytes(n: int) -> None:
        # Report under the lock: two threads reporting outside it could go backwards.
        with lock:
            done[0] += n
            if progress is not None:
                progress(min(1.0, done[0] / total))

    def work(i: int) -> FileHash:
        digest, size = _hash_one(files[i], on_bytes, stopped)
        return FileHash(files[i], size, digest)

    n_threads = min(threads or min(os.cpu_count() or 1, 8), len(files))
    if n_threads <= 1:
        results = [work(i) for i in range(len(files))]
    else:
        results = _parallel(work, len(files), n_threads, stop_flag)
    if progress is not None and not done[0]:
        progress(1.0)  # only empty files: nothing was reported on the way
    return results


def _parallel(
    work: Callable[[int], FileHash], n: int, n_threads: int, stop_flag: threading.Event
) -> List[FileHash]:
    """``work(i)`` for i in range(n) on ``n_threads`` threads that each take the next index.

    One task per thread, not per file: a future per file costs more than hashing a 4 KiB file.
    On the first failure the others stop; the error of the lowest index is raised, a real
    error (FileVanished) before the Cancelled it caused in the other threads.
    """
    results: List[Optional[FileHash]] = [None] * n
    errors: List[Tuple[int, BaseException]] = []
    counter = itertools.count()  # next() on it is atomic under the GIL
    err_lock = threading.Lock()

    def worker() -> None:
        while not stop_flag.is_set():
            i = next(counter)
            if i >= n:
                return
            try:
                results[i] = work(i)
            except BaseException as exc:
                with err_lock:
                    errors.append((i, exc))
                stop_flag.set()
                return

    with ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="lg-hash") as pool:
        for f in [pool.submit(worker) for _ in range(n_threads)]:
            f.result()
    if errors:
        errors.sort(key=lambda e: (isinstance(e[1], Cancelled), e[0]))
        raise errors[0][1]
    if stop_flag.is_set():  # stopped between two files: some results are missing
        raise Cancelled()
    return results  # type: ignore[return-value]
