"""pip installs the command line from the checkout (the package maps to the repository root),
and the installed ``labelguard`` runs with QGIS made unimportable."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".git", ".venv", "tests", "benchmarks", "build", "dist", "out", "__pycache__"}


def test_pip_install_and_run_without_qgis(tmp_path, cli_env):
    src = tmp_path / "src"
    # A copy: an in-tree build would leave build/ and *.egg-info in the checkout.
    shutil.copytree(ROOT, src, ignore=lambda d, names: [n for n in names if n in SKIP])
    target = tmp_path / "site"
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--no-index",
            "--target",
            str(target),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stderr
    installed = target / "labelguard"
    assert (installed / "cli" / "main.py").is_file()
    assert (installed / "core" / "schemas" / "manifest.schema.json").is_file()
    assert (installed / "metadata.txt").is_file()
    assert not (installed / "processing_provider").exists()
    assert not (installed / "ui").exists()
    blocked = cli_env["PYTHONPATH"].split(":")[0]  # the folder whose qgis raises on import
    env = dict(cli_env, PYTHONPATH=f"{blocked}:{target}")
    version = subprocess.run(
        [sys.executable, str(target / "bin" / "labelguard"), "--version"],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.returncode == 0, version.stderr
    meta = (ROOT / "metadata.txt").read_text().split("version=")[1].split()[0]
    assert version.stdout == f"labelguard {meta}\n"
    layer = tmp_path / "l.geojson"
    layer.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        '"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}}]}'
    )
    run = subprocess.run(
        [
            sys.executable,
            str(target / "bin" / "labelguard"),
            "validate",
            str(layer),
            "--fail-on-error",
        ],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert '"ERROR_COUNT": 1' in run.stdout
    assert run.stderr == "labelguard: 1 topology error(s) found (--fail-on-error is set).\n"
