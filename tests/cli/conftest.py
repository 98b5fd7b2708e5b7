"""Runs the ``labelguard`` command line in a subprocess that cannot import QGIS, with the
checkout importable as ``labelguard`` (for the command and for Dask worker processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli_env")
    (base / "pkg").mkdir()
    (base / "pkg" / "labelguard").symlink_to(ROOT, target_is_directory=True)
    blocked = base / "blocked" / "qgis"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text(
        'raise ImportError("qgis is blocked: the command line must not import it")\n'
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(base / "blocked"), str(base / "pkg")])
    env.setdefault("PROJ_DATA", "/usr/share/proj")
    return env


class Run:
    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def results(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def cli(cli_env, tmp_path):
    """cli(*args) runs ``python -m labelguard.cli args`` in tmp_path; returns a Run."""

    def _run(*args: str, cwd: Path | None = None) -> Run:
        proc = subprocess.run(
            [sys.executable, "-m", "labelguard.cli", *map(str, args)],
            cwd=str(cwd or tmp_path),
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return Run(proc)

    return _run
