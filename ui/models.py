"""Item models for the dock, fed with plain status records; they never touch disk."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Iterable, Optional, Sequence

from qgis.PyQt.QtCore import QCoreApplication, Qt
from qgis.PyQt.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel

from ..core import status
from ..core.lineage import Lineage

# Status -> (label, colour). Colours follow traffic-light semantics, readable on light themes.
STATUS_STYLE = {
    status.OK: ("verified", "#2f855a"),
    status.REWRITTEN: ("verified (rewritten)", "#2f855a"),
    status.MODIFIED: ("modified", "#c53030"),
    status.MISSING: ("missing", "#c53030"),
    status.CRS_DRIFT: ("CRS drift", "#c53030"),
    status.METADATA_DRIFT: ("metadata drift", "#c53030"),
    status.UNREADABLE: ("unreadable", "#c53030"),
    status.SIDECAR_MISMATCH: ("sidecar mismatch", "#c05621"),
    status.UNTRACKED: ("untracked", "#718096"),
    status.UNSAVED: ("unsaved edits", "#c05621"),
    status.NO_FILE: ("no data file", "#718096"),
    "checking": ("checking…", "#718096"),
    status.ERROR: ("error", "#c53030"),
}


class Role(IntEnum):
    LAYER_ID = Qt.ItemDataRole.UserRole + 1
    STATUS = Qt.ItemDataRole.UserRole + 2
    MANIFEST = Qt.ItemDataRole.UserRole + 3


@dataclass(frozen=True)
class LayerStatus:
    layer_id: str
    name: str
    status: str
    version: str = ""
    message: str = ""
    manifest: Optional[str] = None
    lineage: Optional[Lineage] = None


def _tr(text: str) -> str:
    return QCoreApplication.translate("LabelGuardDock", text)


class LayerStatusModel(QStandardItemModel):
    """One row per layer: name, status, version, detail."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setHorizontalHeaderLabels([_tr("Layer"), _tr("Status"), _tr("Version"), _tr("Detail")])

    def set_statuses(self, statuses: Iterable[LayerStatus]) -> None:
        self.removeRows(0, self.rowCount())
        for st in statuses:
            label, colour = STATUS_STYLE.get(st.status, (st.status, "#4a5568"))
            items = [
                QStandardItem(st.name),
                QStandardItem(_tr(label)),
                QStandardItem(st.version),
                QStandardItem(st.message),
            ]
            items[1].setForeground(QBrush(QColor(colour)))
            font = items[1].font()
            font.setBold(True)
            items[1].setFont(font)
            for item in items:
                item.setEditable(False)
                item.setData(st.layer_id, Role.LAYER_ID)
                item.setData(st.status, Role.STATUS)
                item.setData(st.manifest, Role.MANIFEST)
                item.setToolTip(st.message)
            self.appendRow(items)

    def statuses(self) -> dict:
        """{layer name: status} as shown, for tests and summaries."""
        return {
            self.item(r, 0).text(): self.item(r, 0).data(Role.STATUS)
            for r in range(self.rowCount())
        }


class LineageModel(QStandardItemModel):
    """Versions of one dataset, newest first."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setHorizontalHeaderLabels(
            [_tr("Version"), _tr("Created (UTC)"), _tr("Entries"), _tr("Manifest")]
        )

    def set_lineage(self, lineage: Optional[Lineage], current: Optional[str] = None) -> None:
        self.removeRows(0, self.rowCount())
        if lineage is None:
            return
        for v in lineage.versions:
            items = [
                QStandardItem(v.version),
                QStandardItem(v.created_at.replace("T", " ")),
                QStandardItem(str(v.entry_count)),
                QStandardItem(v.path.name),
            ]
            if current and str(v.path) == current:
                f = items[0].font()
                f.setBold(True)
                items[0].setFont(f)
            for item in items:
                item.setEditable(False)
                item.setToolTip(str(v.path))
            self.appendRow(items)
        if not lineage.intact:
            item = QStandardItem(_tr("chain broken"))
            item.setForeground(QBrush(QColor(STATUS_STYLE[status.ERROR][1])))
            detail = QStandardItem(lineage.message)
            detail.setToolTip(lineage.message)
            self.appendRow([item, QStandardItem(""), QStandardItem(""), detail])

    def versions(self) -> Sequence[str]:
        return [self.item(r, 0).text() for r in range(self.rowCount())]
