"""Atomic file writes: a temp file in the target folder, then os.replace, with the
permissions the user's umask gives a new file."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator, List, Sequence, Tuple, Union

from .errors import FileVanished, InputError, OutputExists
from .paths import file_type, nonblocking_opener

PathLike = Union[str, "os.PathLike[str]"]


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux), else by
    setting and restoring it at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # Not atomic: another thread creating a file in this instant would get umask 0o022.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode(directory: bool = False) -> int:
    """The permission bits ``open()``/``mkdir()`` would give a new file or folder."""
    return (0o777 if directory else 0o666) & ~current_umask()


def apply_default_mode(path: PathLike, directory: bool = False) -> None:
    """Give ``path`` the user's normal permissions: ``mkstemp``/``mkdtemp`` create 0600/0700,
    which teammates on a shared drive cannot read."""
    os.chmod(path, default_mode(directory))


class TooLarge(InputError):
    """A document is larger than LabelGuard ever writes one; callers say which document."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes, more than the {limit} bytes allowed")
        self.size, self.limit = size, limit


def read_regular_file(path: PathLike, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Never blocks on a FIFO or reads a device. Raises FileNotFoundError when it does not
    exist, FileVanished when it is not a regular file or cannot be read, TooLarge when it
    holds more than ``limit`` bytes (checked before reading, and while reading, in case it
    grows).
    """
    try:
        with open(path, "rb", buffering=0, opener=nonblocking_opener) as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise FileVanished(
                    f"'{path}' is {file_type(st.st_mode)}, not a regular file; not read."
                )
            if st.st_size > limit:
                raise TooLarge(st.st_size, limit)
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise
    except IsADirectoryError as exc:
        raise FileVanished(f"'{path}' is a folder, not a file.") from exc
    except OSError as exc:
        raise FileVanished(f"'{path}' cannot be read: {exc.strerror or exc}.") from exc
    if len(data) > limit:
        raise TooLarge(len(data), limit)
    return data


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half."""
    with atomic_open(path) as fh:
        fh.write(data)


def atomic_write_text(path: PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_open(path: PathLike) -> Iterator:
    """Binary file handle on a temp file next to ``path``; renamed over it on clean exit.

    On any exception (including ``Cancelled``) the temp file is removed and ``path`` is
    untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        apply_default_mode(tmp)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _named(exc, target) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _named(exc: OSError, target: Path) -> OSError:
    """``exc`` with the file it was about (a failed write() names none, e.g. a full disk)."""
    if exc.filename is not None:
        return exc
    return OSError(exc.errno, exc.strerror or str(exc), str(target))


def _staged(target: Path, data: bytes) -> str:
    """A synced temp file next to ``target`` holding ``data``, with the user's default mode;
    its path. On failure nothing is left behind, and an OSError names ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        apply_default_mode(tmp)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _named(exc, target) from exc
        raise
    return tmp


def atomic_write_all(items: Sequence[Tuple[PathLike, bytes]]) -> None:
    """Write several files, each atomically, replacing none of them unless all were written.

    Every file is written to a temp file next to its target and synced first; only then are
    they renamed into place, in the order given (a manifest last, after the files it names).
    On any failure (a full disk, a cancel) the temp files are removed and every target is as
    it was.
    """
    staged: List[Tuple[str, Path]] = []
    try:
        for path, data in items:
            target = Path(path)
            staged.append((_staged(target, data), target))
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    for tmp, target in staged:
        os.replace(tmp, target)


def atomic_write_new(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, never replacing a file that is there.

    The temp file is hard-linked into place, which fails when ``path`` exists even if another
    process creates it meanwhile; OutputExists then, and nothing changed. Where the file system
    has no hard links, the check and the rename are two steps.
    """
    target = Path(path)
    tmp = _staged(target, data)
    try:
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise OutputExists(f"'{target}' exists; it is never overwritten.") from None
        except OSError:  # no hard links here (some network and FAT file systems)
            if os.path.lexists(target):
                raise OutputExists(f"'{target}' exists; it is never overwritten.") from None
            os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
