"""Paths read from manifests and data, confined to the folder they may name (symlinks resolved).

A manifest is untrusted input: its ``root``, entry, component, sidecar, feature-index and
parent paths decide which files verify reads. Every such path goes through ``confine`` before
anything opens it.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Optional

from .errors import FileVanished, PathOutsideRoot

# How far a manifest's root (or parent link) may climb above the manifest's folder: one level
# covers a manifest in a subfolder of its dataset ("versions/v2.json", root "..") and one saved
# beside it ("manifests/v2.json", root "../dataset"). More would let a downloaded manifest name
# the user's home folder as its dataset.
MAX_LEVELS_UP = 1
SHOWN_CHARS = 120


def shorten(text: object, limit: int = SHOWN_CHARS) -> str:
    """``text`` as str, cut to ``limit`` characters with the total length said (for messages)."""
    s = text if isinstance(text, str) else repr(text)
    if len(s) <= limit:
        return s
    return f"{s[:limit]}... ({len(s)} characters)"


def _segments(rel: str) -> list:
    text = posixpath.normpath(rel.replace("\\", "/") if os.name == "nt" else rel)
    return [] if text == "." else text.split("/")


def _is_absolute(rel: str) -> bool:
    return (
        PurePosixPath(rel).is_absolute()
        or bool(PureWindowsPath(rel).drive)
        or rel.startswith(("\\", "/"))
    )


def _inside(path: str, folder: str) -> bool:
    p, f = os.path.normcase(path), os.path.normcase(folder)
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)


def confine(
    base: Path, rel: object, *, what: str, of: Optional[str] = None, levels_up: int = 0
) -> Path:
    """The path ``rel`` (POSIX, relative, from a document) names under folder ``base``.

    ``rel`` may climb at most ``levels_up`` folders above ``base`` (leading ``..``); once
    symbolic links are resolved it must still lie inside the folder it climbed to, and that
    folder must not be a file-system root. Returns the lexical absolute path (links kept, so
    paths relative to it stay what the manifest records). Raises PathOutsideRoot otherwise,
    with a message that reads "<what> '<rel>' of '<of>' ...".
    """
    owner = "" if of is None else f" of '{shorten(of)}'"
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise PathOutsideRoot(
            f"{what} {shorten(rel)!r}{owner} is not a usable relative path; refused."
        )
    shown = f"{shorten(rel)}'{owner}"
    if _is_absolute(rel):
        raise PathOutsideRoot(
            f"{what} '{shown} is an absolute path; a manifest may only name paths relative "
            "to its own folder. Refused, nothing was read."
        )
    parts = _segments(rel)
    ups = 0
    while ups < len(parts) and parts[ups] == "..":
        ups += 1
    if ups > levels_up:
        allowed = "no folder" if levels_up == 0 else f"at most {levels_up} folder"
        raise PathOutsideRoot(
            f"{what} '{shown} climbs {ups} folder(s) above '{shorten(str(base))}' ({allowed} "
            "above is allowed). Refused, nothing was read."
        )
    real_base = os.path.realpath(base)
    boundary = real_base
    for _ in range(ups):
        boundary = os.path.dirname(boundary)
    if os.path.dirname(boundary) == boundary:
        raise PathOutsideRoot(
            f"{what} '{shown} names the file-system root '{boundary}' as a dataset folder. "
            "Refused, nothing was read."
        )
    lexical = os.path.normpath(os.path.join(os.path.abspath(base), *parts))
    try:
        real = os.path.realpath(lexical)
    except (OSError, ValueError) as exc:
        raise PathOutsideRoot(f"{what} '{shown} cannot be resolved: {exc}. Refused.") from exc
    if not _inside(real, boundary):
        raise PathOutsideRoot(
            f"{what} '{shown} resolves to '{shorten(real)}', outside '{shorten(boundary)}' "
            "(through a symbolic link). Refused, nothing was read."
        )
    return Path(lexical)


def regular_file_problem(path: Path) -> str:
    """Why ``path`` cannot be hashed as data ("" when it is a regular file or does not exist).

    Follows symbolic links (their targets are confined by ``confine``). Nothing is opened:
    a FIFO or device would block or never end.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if stat.S_ISREG(st.st_mode):
        return ""
    return f"is {file_type(st.st_mode)}, not a regular file; not read"


def nonblocking_opener(path: str, flags: int) -> int:
    """``open(..., opener=)`` that does not wait on a FIFO (O_NONBLOCK; regular files ignore
    it), so the caller can fstat the descriptor and refuse what is not a regular file."""
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


def require_regular_file(path: Path, what: str) -> None:
    """FileVanished with a message naming ``what`` unless ``path`` is an existing regular file."""
    problem = regular_file_problem(path)
    if problem:
        raise FileVanished(f"{what} {problem}.")
    if not os.path.lexists(path):
        raise FileVanished(f"{what} does not exist.")


# Characters that separate, escape or are reserved in file names on Linux, macOS or Windows
# (":" would write an NTFS alternate data stream), plus control characters.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]+')
MAX_COMPONENT_BYTES = 255  # the file-name limit of ext4, APFS and NTFS


def safe_component(text: str, max_bytes: int = MAX_COMPONENT_BYTES) -> str:
    """``text`` as one file-name component, unchanged when it is already safe and short.

    Otherwise unsafe characters become "_", the result is cut to ``max_bytes`` (UTF-8) and a
    short hash of the original is appended, so different names stay different and the same
    name always gives the same component.
    """
    safe = text and text not in (".", "..") and not _UNSAFE.search(text)
    if safe and len(text.encode("utf-8")) <= max_bytes:
        return text
    tag = "-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    cleaned = _UNSAFE.sub("_", text).strip(".") or "_"
    room = max(max_bytes - len(tag), 1)
    cut = cleaned.encode("utf-8")[:room].decode("utf-8", "ignore")
    return cut + tag
