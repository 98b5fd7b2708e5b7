"""Installing a missing dependency into LabelGuard's own folder with pip, in a QgsTask.

Imports nothing from core but what needs no third-party package: it runs when shapely is
missing, which is the reason it exists.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import List, Optional, Sequence

from qgis.core import QgsTask
from qgis.PyQt.QtCore import QCoreApplication


class PipInstallTask(QgsTask):
    """Runs one pip command line (core.deps.pip_install_command); touches no widget.

    ``output`` holds pip's combined stdout and stderr, ``returncode`` its exit code (None when
    pip could not be started or the task was cancelled)."""

    def __init__(self, command: Sequence[str], folder: Path) -> None:
        super().__init__(
            QCoreApplication.translate("LabelGuardPlugin", "LabelGuard: installing shapely 2"),
            QgsTask.Flag.CanCancel,
        )
        self.command: List[str] = list(command)
        self.folder = Path(folder)
        self.output = ""
        self.returncode: Optional[int] = None

    def run(self) -> bool:
        env = dict(os.environ)
        # A user-wide pip configuration must not turn the install into --user or refuse it.
        for name in ("PIP_USER", "PIP_REQUIRE_VIRTUALENV", "PIP_TARGET", "PIP_PREFIX"):
            env.pop(name, None)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            proc = subprocess.Popen(  # noqa: S603 (the command line is built by core.deps)
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
            )
        except OSError as exc:
            self.output = f"{' '.join(self.command)}: {exc}"
            return False
        while True:
            try:
                out, _ = proc.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if self.isCanceled():
                    proc.kill()
                    out, _ = proc.communicate()
                    self.output = out or ""
                    return False
        self.output = out or ""
        self.returncode = proc.returncode
        return proc.returncode == 0
