"""LabelGuardAlgorithm: the base every LabelGuard Processing algorithm derives from."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any, Callable, TypeVar

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingFeedback,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..core.errors import Cancelled, LabelGuardError

ICON_PATH = Path(__file__).resolve().parents[1] / "ui" / "icons" / "labelguard.svg"

GROUPS = {
    "validation": "Validation",
    "versioning": "Versioning",
    "trainingdata": "Training data",
}

T = TypeVar("T")


def plugin_version() -> str:
    """``version`` from metadata.txt, the single source of the version."""
    parser = configparser.ConfigParser()
    parser.read(Path(__file__).resolve().parents[1] / "metadata.txt", encoding="utf-8")
    return parser.get("general", "version", fallback="0")


class LabelGuardAlgorithm(QgsProcessingAlgorithm):
    """Common plumbing: instance creation, translation, groups, icon, core calls."""

    GROUP_ID = ""

    def createInstance(self):  # noqa: N802 (QGIS API)
        return type(self)()

    def tr(self, text: str) -> str:
        return QCoreApplication.translate(type(self).__name__, text)

    def group(self) -> str:
        return QCoreApplication.translate("LabelGuardProvider", GROUPS[self.GROUP_ID])

    def groupId(self) -> str:  # noqa: N802 (QGIS API)
        return self.GROUP_ID

    def icon(self) -> QIcon:
        return QIcon(str(ICON_PATH))

    def run_core(
        self,
        feedback: QgsProcessingFeedback | None,
        func: Callable[..., T],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """Call a core function with progress/cancel callbacks; core errors become
        ``QgsProcessingException`` with the core's user-facing message."""
        if feedback is not None:
            kwargs.setdefault("progress", lambda f: feedback.setProgress(100.0 * f))
            kwargs.setdefault("should_stop", feedback.isCanceled)
        try:
            return func(*args, **kwargs)
        except Cancelled as exc:
            raise QgsProcessingException(self.tr("Cancelled; nothing was written.")) from exc
        except LabelGuardError as exc:
            raise QgsProcessingException(str(exc)) from exc
