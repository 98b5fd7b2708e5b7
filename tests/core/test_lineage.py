"""core.lineage: where the manifests of a data file are found, and the next version label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labelguard.core.lineage import find_manifests, manifest_folders, next_version_label


def _manifest(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema": "labelguard.manifest/1", "version": path.stem}))
    return path


def test_sibling_manifests_folder_of_the_data_folder(tmp_path: Path) -> None:
    """make demo's layout: out/demo/data/ and out/demo/manifests/."""
    data = tmp_path / "demo" / "data"
    data.mkdir(parents=True)
    v1 = _manifest(tmp_path / "demo" / "manifests" / "v1.json")
    v2 = _manifest(tmp_path / "demo" / "versions" / "v2.json")
    (tmp_path / "demo" / "manifests" / "notes.json").write_text("{}")
    assert find_manifests(data) == [v1, v2]


def test_marker_file_at_the_dataset_root(tmp_path: Path) -> None:
    root = tmp_path / "project"
    deep = root / "a" / "b" / "c" / "tiles"
    deep.mkdir(parents=True)
    (root / ".labelguard").write_text("# LabelGuard dataset root\nhistory\n")
    hist = _manifest(root / "history" / "v7.json")
    assert find_manifests(deep) == [hist]
    folders = manifest_folders(deep)
    assert folders[-1] == root / "history"
    assert root.parent not in folders  # climbing stops at the marker


def test_bound_manifest_and_folder_come_first(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    elsewhere = _manifest(tmp_path / "store" / "x" / "v1.json")
    _manifest(tmp_path / "store" / "x" / "v2.json")
    assert find_manifests(data, extra=[elsewhere]) == [
        elsewhere,
        tmp_path / "store" / "x" / "v2.json",
    ]
    assert manifest_folders(data, extra=[tmp_path / "store"])[0] == tmp_path / "store"


@pytest.mark.parametrize(
    ("current", "proposed"),
    [
        ("v1", "v2"),
        ("v3-review", "v4"),
        ("v09", "v10"),
        ("2024-05", "2024-06"),
        ("final", "final-2"),
    ],
    ids=["v1", "suffix", "width", "date", "no-number"],
)
def test_next_version_label(current: str, proposed: str) -> None:
    assert next_version_label(current) == proposed
