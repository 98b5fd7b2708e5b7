"""Build a dataset folder in a hidden sibling folder and rename it into place at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from ..errors import OutputExists
from ..io import apply_default_mode

INDEX_NAME = "labelguard_dataset.json"


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
    left exactly as it was.
    """
    target = Path(target)
    check_target(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".staging", dir=target.parent)
    )
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
