"""core.io: atomic writes leave the old file or the new one, never half, never a temp file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from labelguard.core.errors import Cancelled
from labelguard.core.io import atomic_open, atomic_write_bytes, atomic_write_text
from labelguard.core.training.staging import staged_folder


def test_write_bytes_creates_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.bin"
    atomic_write_bytes(target, b"\x00\x01data")
    assert target.read_bytes() == b"\x00\x01data"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.bin"]


def test_write_text_is_utf8(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "Ärger ✓\n")
    assert target.read_bytes() == "Ärger ✓\n".encode()


def test_replaces_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    atomic_write_bytes(str(target), b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_temp_file_is_hidden_in_the_target_folder(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with atomic_open(target) as fh:
        fh.write(b"partial")
        temps = [p.name for p in tmp_path.iterdir()]
        assert len(temps) == 1
        assert temps[0].startswith(".out.json.")
        assert temps[0].endswith(".tmp")
        assert not target.exists()  # readers never see the half-written file
    assert target.read_bytes() == b"partial"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


@pytest.mark.parametrize(
    "error",
    [Cancelled(), OSError(28, "No space left on device"), KeyboardInterrupt()],
    ids=["cancelled", "disk-full", "keyboard-interrupt"],
)
def test_failure_keeps_old_file_and_removes_temp(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "manifest.json"
    target.write_bytes(b"old complete manifest")

    def write_then_fail() -> None:
        with atomic_open(target) as fh:
            fh.write(b"half of the new")
            raise error

    with pytest.raises(type(error)):
        write_then_fail()
    assert target.read_bytes() == b"old complete manifest"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_failure_without_old_file_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new.yaml"

    def write_then_cancel() -> None:
        with atomic_open(target) as fh:
            fh.write(b"half")
            raise Cancelled()

    with pytest.raises(Cancelled, match="Cancelled; nothing was written."):
        write_then_cancel()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077], ids=["022", "002", "077"])
def test_written_file_follows_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "manifest.json", "{}")
        with staged_folder(tmp_path / "export", overwrite=False) as staging:
            (staging / "labelguard_dataset.json").write_text("{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "manifest.json").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "export").stat().st_mode) == 0o777 & ~umask
