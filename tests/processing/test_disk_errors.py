"""Full and read-only disks: a failed write never reports success, never damages what was there,
and says in one line which folder could not be written (issue 16, items 6 and 7).

The real-disk tests mount a tiny tmpfs or a read-only bind mount, which needs root (root
ignores chmod, so a chmod'ed folder proves nothing); the monkeypatched ones run anywhere.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_import_predictions as predictions  # noqa: E402

IMPORT = predictions.IMPORT
scene = predictions.scene  # fixtures, shared
training_algs = predictions.training_algs


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture
def mounts():
    """mount(kind, folder): a 128 KiB tmpfs ("tiny") or a read-only bind mount ("ro")."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs or a read-only bind mount needs root")
    done = []

    def _make(kind: str, folder: Path) -> Path:
        folder.mkdir()
        if kind == "tiny":
            _mount("-t", "tmpfs", "-o", "size=128k", "tmpfs", str(folder))
        else:
            source = folder.with_name(folder.name + "-source")
            source.mkdir()
            _mount("--bind", str(source), str(folder))
            _mount("-o", "remount,bind,ro", str(folder))
        done.append(folder)
        return folder

    yield _make
    for folder in reversed(done):
        subprocess.run(["umount", "--lazy", str(folder)], check=False)  # even if a file is open


def _predictions(tmp_path, scene, run_alg) -> tuple:
    out = tmp_path / "ds"
    predictions._export(run_alg, scene, out, 0)
    results = []
    for split in ("train", "val"):
        doc = json.loads((out / "annotations" / f"instances_{split}.json").read_text())
        results += [
            {
                "image_id": a["image_id"],
                "category_id": a["category_id"],
                "segmentation": a["segmentation"],
                "score": 0.9,
            }
            for a in doc["annotations"]
        ]
    pred = tmp_path / "results.json"
    pred.write_text(json.dumps(results))
    return pred, out


def test_importpredictions_onto_a_full_disk_fails(tmp_path, scene, training_algs, run_alg, mounts):
    # Before: exit 0 and FEATURE_COUNT 24, with no feature in the file.
    from qgis.core import QgsProcessingException

    pred, dataset = _predictions(tmp_path, scene, run_alg)
    full = mounts("tiny", tmp_path / "full")  # room for an empty GeoPackage, not for 24 polygons
    target = full / "predictions.gpkg"
    with pytest.raises(QgsProcessingException) as raised:
        run_alg(IMPORT, {"INPUT": str(pred), "DATASET": str(dataset), "OUTPUT": str(target)})
    assert str(raised.value) == (
        f"Only 0 of 24 features reached {target}: the disk may be full or the file cannot be "
        "written. The output is incomplete; free some space or choose another folder, then "
        "run again."
    )
    ok = tmp_path / "predictions.gpkg"
    res = run_alg(IMPORT, {"INPUT": str(pred), "DATASET": str(dataset), "OUTPUT": str(ok)})
    assert res["FEATURE_COUNT"] == 24


def test_read_only_folder_is_one_line_naming_it(run_alg, tmp_path, gis, mounts):
    from qgis.core import QgsProcessingException

    root = tmp_path / "ds"
    root.mkdir()
    gpkg, tif = gis.write_vector(root / "labels.gpkg"), gis.write_raster(root / "ortho.tif")
    ro = mounts("ro", tmp_path / "ro")
    cases = [
        (
            "labelguard:validatetopology",
            {"INPUT": str(gpkg), "OUTPUT": "memory:", "REPORT": str(ro / "report.json")},
        ),
        (
            "labelguard:buildmanifest",
            {
                "LAYERS": [str(gpkg)],
                "OUTPUT": str(ro / "v1.json"),
                "DATASET_ROOT": str(tmp_path),
            },
        ),
        (
            "labelguard:exporttraining",
            {
                "RASTER": str(tif),
                "ANNOTATIONS": str(gpkg),
                "CLASS_FIELD": "class",
                "TILE_SIZE": 32,
                "OVERLAP": 0,
                "OUTPUT_FOLDER": str(ro / "export"),
            },
        ),
    ]
    for alg, params in cases:
        with pytest.raises(QgsProcessingException) as raised:
            run_alg(alg, params)
        assert str(raised.value) == (
            f"Cannot write to folder {ro}: Read-only file system. Choose a folder you can write to."
        ), alg
    assert os.listdir(ro) == []


def test_write_errors_name_the_folder_without_a_mount(run_alg, tmp_path, gis, monkeypatch):
    from labelguard.core import io
    from qgis.core import QgsProcessingException

    gpkg = gis.write_vector(tmp_path / "labels.gpkg")
    out = tmp_path / "out"
    real_mkstemp = io.tempfile.mkstemp

    def refused(*args, dir=None, prefix="", **kw):  # noqa: A002 (tempfile's name)
        if Path(dir) == out:
            raise OSError(errno.EACCES, "Permission denied", str(out / f"{prefix}x.tmp"))
        return real_mkstemp(*args, dir=dir, prefix=prefix, **kw)

    out.mkdir()
    monkeypatch.setattr(io.tempfile, "mkstemp", refused)
    with pytest.raises(QgsProcessingException) as raised:
        run_alg(
            "labelguard:validatetopology",
            {"INPUT": str(gpkg), "OUTPUT": "memory:", "REPORT": str(out / "report.json")},
        )
    assert str(raised.value) == (
        f"Cannot write to folder {out}: Permission denied. Choose a folder you can write to."
    )

    def full(*args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.tempfile, "mkstemp", real_mkstemp)
    monkeypatch.setattr(io.os, "fsync", full)
    with pytest.raises(QgsProcessingException) as raised:
        run_alg(
            "labelguard:validatetopology",
            {"INPUT": str(gpkg), "OUTPUT": "memory:", "REPORT": str(out / "report.json")},
        )
    assert str(raised.value) == (
        f"Cannot write to folder {out}: No space left on device. Nothing was replaced; free "
        "some space or choose another folder."
    )
    assert os.listdir(out) == []
