"""Atomic file writes: a temp file in the target folder, then os.replace, with the
permissions the user's umask gives a new file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Union

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
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
