"""The next version in one safe step: labels in sequence, writes that never replace a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from labelguard.core.errors import OutputExists
from labelguard.core.io import atomic_write_new
from labelguard.core.lineage import newest_manifest, next_version_label


@pytest.mark.parametrize(
    ("previous", "expected"),
    [("", "v1"), ("v1", "v2"), ("v9", "v10"), ("v007", "v008"), ("final", "final-2")],
    ids=["first", "plain", "carry", "padding", "no number"],
)
def test_next_version_label(previous, expected) -> None:
    assert next_version_label(previous) == expected


def test_atomic_write_new_never_replaces(tmp_path: Path) -> None:
    target = tmp_path / "m.json"
    atomic_write_new(target, b"first")
    with pytest.raises(OutputExists, match=r"m\.json' exists; it is never overwritten"):
        atomic_write_new(target, b"second")
    assert target.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]  # no temp file left


def test_newest_manifest_of_an_empty_folder_is_none(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text('{"a": 1}')
    assert newest_manifest(tmp_path) is None
