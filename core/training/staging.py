"""Build a dataset folder in a hidden sibling folder and rename it into place at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Iterator, List

from ..errors import OutputExists
from ..io import apply_default_mode

INDEX_NAME = "labelguard_dataset.json"
OWNER_SUFFIX = ".owner"  # beside a staging folder: "<pid> <host>" of the export building it
UNOWNED_STALE_SECONDS = 24 * 3600  # staging folders of older versions carry no owner file


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _is_stale(staging: Path) -> bool:
    owner = Path(str(staging) + OWNER_SUFFIX)
    try:
        pid_text, host = owner.read_text(encoding="utf-8").split()
        pid = int(pid_text)
    except FileNotFoundError:
        return time.time() - staging.stat().st_mtime > UNOWNED_STALE_SECONDS
    except (OSError, ValueError):
        return False  # unreadable: not ours to judge
    return host == socket.gethostname() and not _alive(pid)


def remove_stale_staging(target: Path) -> List[Path]:
    """Delete the staging folders that killed exports to ``target`` left behind (their owner
    process is gone, or they are unowned and older than a day); returns the folders removed.
    Folders of exports still running, or run from another host, are left alone."""
    removed = []
    for staging in sorted(target.parent.glob(f".{target.name}.*.staging")):
        if staging.is_dir() and _is_stale(staging):
            shutil.rmtree(staging, ignore_errors=True)
            Path(str(staging) + OWNER_SUFFIX).unlink(missing_ok=True)
            removed.append(staging)
    return removed


def check_target(target: Path, overwrite: bool) -> None:
    """Refuse a target that is a file or a non-empty folder; with ``overwrite``, accept only a
    folder holding a previous LabelGuard export (never an arbitrary folder)."""
    if not target.exists():
        return
    if not target.is_dir():
        raise OutputExists(f"OUTPUT_FOLDER '{target}' is a file; choose a folder.")
    if not any(target.iterdir()):
        return
    if not overwrite:
        raise OutputExists(
            f"OUTPUT_FOLDER '{target}' is not empty; choose an empty or new folder, or set "
            "OVERWRITE to replace a previous LabelGuard export (two exports are never mixed)."
        )
    if not (target / INDEX_NAME).is_file():
        raise OutputExists(
            f"OUTPUT_FOLDER '{target}' is not empty and holds no LabelGuard export "
            f"({INDEX_NAME}); OVERWRITE only replaces a previous export. Choose another folder."
        )


@contextlib.contextmanager
def staged_folder(target: Path, overwrite: bool) -> Iterator[Path]:
    """Yield an empty hidden folder next to ``target``; on clean exit it replaces ``target``.

    On any exception (including ``Cancelled``) the staging folder is deleted and ``target`` is
    left exactly as it was. A killed run cannot clean up: the next run removes its leftovers
    (:func:`remove_stale_staging`).
    """
    target = Path(target)
    check_target(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".staging", dir=target.parent)
    )
    owner = Path(str(staging) + OWNER_SUFFIX)
    owner.write_text(f"{os.getpid()} {socket.gethostname()}\n", encoding="utf-8")
    try:
        apply_default_mode(staging, directory=True)
        yield staging
        check_target(target, overwrite)  # it may have changed while we worked
        old = None
        if target.exists():
            if any(target.iterdir()):
                old = Path(
                    tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
                )
                os.rmdir(old)
                os.replace(target, old)
            else:
                os.rmdir(target)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        owner.unlink(missing_ok=True)
