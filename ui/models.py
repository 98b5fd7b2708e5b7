"""Item models for the dock, fed with plain status records; they never touch disk."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
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
    FINDING = Qt.ItemDataRole.UserRole + 4


@dataclass(frozen=True)
class LayerStatus:
    layer_id: str
    name: str
    status: str
    version: str = ""
    message: str = ""
    manifest: Optional[str] = None
    lineage: Optional[Lineage] = None
    path: str = ""  # the data file, "" for a layer without one
    sublayer: str = ""

    @property
    def file_label(self) -> str:
        """The file name as the dock shows it, with the layer inside it when there is one."""
        if not self.path:
            return ""
        name = Path(self.path).name
        return f"{name} › {self.sublayer}" if self.sublayer else name

    @property
    def next_step(self) -> str:
        return _tr(status.next_step(self.status)) if status.next_step(self.status) else ""


def _tr(text: str) -> str:
    return QCoreApplication.translate("LabelGuardDock", text)


class Column(IntEnum):
    LAYER = 0
    FILE = 1
    STATUS = 2
    VERSION = 3
    DETAIL = 4


class LayerStatusModel(QStandardItemModel):
    """One row per layer: name, file, status, version, detail."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setHorizontalHeaderLabels(
            [_tr("Layer"), _tr("File"), _tr("Status"), _tr("Version"), _tr("Detail")]
        )

    def set_statuses(self, statuses: Iterable[LayerStatus]) -> None:
        self.removeRows(0, self.rowCount())
        for st in statuses:
            label, colour = STATUS_STYLE.get(st.status, (st.status, "#4a5568"))
            items = [
                QStandardItem(st.name),
                QStandardItem(st.file_label),
                QStandardItem(_tr(label)),
                QStandardItem(st.version),
                QStandardItem(st.message),
            ]
            items[Column.STATUS].setForeground(QBrush(QColor(colour)))
            font = items[Column.STATUS].font()
            font.setBold(True)
            items[Column.STATUS].setFont(font)
            tip = "\n".join(t for t in (st.path, st.message, st.next_step) if t)
            for item in items:
                item.setEditable(False)
                item.setData(st.layer_id, Role.LAYER_ID)
                item.setData(st.status, Role.STATUS)
                item.setData(st.manifest, Role.MANIFEST)
                item.setToolTip(tip)
            self.appendRow(items)

    def row_of(self, layer_id: str) -> int:
        """The row showing ``layer_id``, or -1."""
        for r in range(self.rowCount()):
            if self.item(r, 0).data(Role.LAYER_ID) == layer_id:
                return r
        return -1

    def rows(self) -> list:
        """[(layer name, file, status)] as shown, for tests."""
        return [
            (
                self.item(r, Column.LAYER).text(),
                self.item(r, Column.FILE).text(),
                self.item(r, 0).data(Role.STATUS),
            )
            for r in range(self.rowCount())
        ]

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


# Review state of a finding in the findings panel.
OPEN = "open"
FIXED = "fixed"
ACCEPTED = "accepted"
REVIEW_STYLE = {
    OPEN: ("open", "#c53030"),
    FIXED: ("fixed", "#2f855a"),
    ACCEPTED: ("accepted", "#718096"),
}


class FindingsModel(QStandardItemModel):
    """One row per topology finding (core ``Finding``) whatever its geometry: rule, feature,
    message, review state."""

    COLUMNS = ("Rule", "Feature", "Message", "Status")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setHorizontalHeaderLabels([_tr(c) for c in self.COLUMNS])
        self.findings: list = []
        self.states: list = []

    def set_findings(self, findings: Sequence, states: Sequence[str]) -> None:
        self.removeRows(0, self.rowCount())
        self.findings, self.states = list(findings), list(states)
        for i, (f, state) in enumerate(zip(self.findings, self.states)):
            feature = str(f.fid) if f.other_fid is None else f"{f.fid} ↔ {f.other_fid}"
            items = [
                QStandardItem(f.rule),
                QStandardItem(feature),
                QStandardItem(f.message),
                QStandardItem(""),
            ]
            items[2].setToolTip(f.message)
            for item in items:
                item.setEditable(False)
                item.setData(i, Role.FINDING)
            self.appendRow(items)
            self.set_state(i, state)

    def set_state(self, row: int, state: str) -> None:
        self.states[row] = state
        label, colour = REVIEW_STYLE[state]
        item = self.item(row, 3)
        item.setText(_tr(label))
        item.setForeground(QBrush(QColor(colour)))

    def rows(self) -> list:
        """[(rule, feature, status)] as shown, for tests."""
        return [
            (self.item(r, 0).text(), self.item(r, 1).text(), self.states[r])
            for r in range(self.rowCount())
        ]

    def counts_text(self) -> str:
        n = {s: self.states.count(s) for s in REVIEW_STYLE}
        errors = _tr("1 error") if n[OPEN] == 1 else _tr("{} errors").format(n[OPEN])
        return _tr("{}, {} fixed, {} accepted").format(errors, n[FIXED], n[ACCEPTED])
