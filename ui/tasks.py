"""Background work of the dock: verifying loaded layers against their manifests (QgsTask)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from qgis.core import (
    NULL,
    QgsApplication,
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProviderRegistry,
    QgsTask,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication

from ..core import status
from ..core.errors import LabelGuardError
from ..core.lineage import latest_manifest_for, lineage
from .models import HistoryRow, LayerStatus

VERIFY_ALG = "labelguard:verifymanifest"


@dataclass(frozen=True)
class LayerRef:
    """What the task needs from a layer, read on the main thread."""

    layer_id: str
    name: str
    path: Optional[str]
    sublayer: Optional[str]
    modified: bool


def layer_ref(layer: QgsMapLayer) -> LayerRef:
    path = sub = None
    if layer.providerType() in ("ogr", "gdal"):
        parts = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source())
        path, sub = parts.get("path") or None, parts.get("layerName") or None
    modified = bool(getattr(layer, "isModified", lambda: False)())
    return LayerRef(layer.id(), layer.name(), path, sub, modified)


def verify_with_algorithm(
    manifest: Path, feedback: QgsProcessingFeedback
) -> Dict[Tuple[str, Optional[str]], Tuple[str, str]]:
    """Runs labelguard:verifymanifest by id; {(path, layer): (status, message)}."""
    alg = QgsApplication.processingRegistry().createAlgorithmById(VERIFY_ALG)
    if alg is None:
        raise LabelGuardError("The LabelGuard Processing provider is not loaded.")
    with tempfile.TemporaryDirectory(prefix="labelguard-dock-") as tmp:
        report = os.path.join(tmp, "report.json")
        context = QgsProcessingContext()
        context.setFeedback(feedback)
        params = {
            "MANIFEST": str(manifest),
            "REPORT": report,
            "SCAN_UNTRACKED": False,
            "OUTPUT": "TEMPORARY_OUTPUT",
        }
        _results, ok = alg.run(params, context, feedback)
        if not ok:
            raise LabelGuardError(f"Verification of {manifest.name} failed; see the log.")
        with open(report, encoding="utf-8") as fh:
            doc = json.load(fh)
    return {(f["path"], f.get("layer")): (f["status"], f["message"]) for f in doc["findings"]}


def compute_statuses(
    refs: List[LayerRef], feedback: QgsProcessingFeedback, extra: Sequence[Path] = ()
) -> List[LayerStatus]:
    """Status of each layer; one verification run per manifest involved. ``extra`` are the
    manifests or folders the project is bound to."""
    tr = lambda t: QCoreApplication.translate("LabelGuardDock", t)  # noqa: E731
    out: Dict[str, LayerStatus] = {}
    by_manifest: Dict[Path, List[Tuple[LayerRef, dict]]] = {}
    for ref in refs:
        if ref.path is None:
            out[ref.layer_id] = LayerStatus(
                ref.layer_id, ref.name, status.NO_FILE, message=tr("memory, database or web layer")
            )
            continue
        found = latest_manifest_for(Path(ref.path), ref.sublayer, extra=extra)
        if found is None:
            out[ref.layer_id] = LayerStatus(
                ref.layer_id,
                ref.name,
                status.UNTRACKED,
                message=tr("no manifest lists this file"),
                path=ref.path,
                sublayer=ref.sublayer or "",
            )
            continue
        by_manifest.setdefault(found[0], []).append((ref, found[1]))
    n = max(len(by_manifest), 1)
    for i, (manifest, items) in enumerate(sorted(by_manifest.items())):
        if feedback.isCanceled():
            break
        try:
            results = verify_with_algorithm(manifest, feedback)
            lin = lineage(manifest)
        except LabelGuardError as exc:
            for ref, _ in items:
                out[ref.layer_id] = LayerStatus(
                    ref.layer_id,
                    ref.name,
                    status.ERROR,
                    message=str(exc),
                    manifest=str(manifest),
                    path=ref.path or "",
                    sublayer=ref.sublayer or "",
                )
            continue
        version = lin.versions[0].version if lin.versions else ""
        for ref, entry in items:
            state, message = results.get(
                (entry["path"], entry.get("layer")), (status.ERROR, tr("entry not verified"))
            )
            if ref.modified:
                state, message = status.UNSAVED, tr("layer has unsaved edits; save to verify them")
            out[ref.layer_id] = LayerStatus(
                ref.layer_id,
                ref.name,
                state,
                version,
                message,
                str(manifest),
                lin,
                ref.path or "",
                ref.sublayer or "",
            )
        feedback.setProgress(100.0 * (i + 1) / n)
    return [out[r.layer_id] for r in refs if r.layer_id in out]


class _FeedbackTask(QgsTask):
    """A cancellable task whose work runs with a QgsProcessingFeedback it cancels; an
    exception becomes ``error``, reported by the dock, never raised into the task manager."""

    def __init__(self, description: str) -> None:
        super().__init__(description, QgsTask.Flag.CanCancel)
        self.error: Optional[str] = None
        # Not logged: a run the dock cancels (closing, unloading) is no news for the log.
        self._feedback = QgsProcessingFeedback(False)

    def work(self) -> None:
        raise NotImplementedError

    def run(self) -> bool:
        try:
            self.work()
        except Exception as exc:  # any failure is reported (see the docstring)
            self.error = str(exc)
            return False
        return not self.isCanceled()

    def cancel(self) -> None:
        self._feedback.cancel()
        super().cancel()


class LayerStatusTask(_FeedbackTask):
    """Computes LayerStatus records in the background; touches no widget or layer."""

    def __init__(self, refs: List[LayerRef], extra: Sequence[Path] = ()) -> None:
        super().__init__(
            QCoreApplication.translate("LabelGuardDock", "LabelGuard: verifying layers")
        )
        self.refs = refs
        self.extra = tuple(extra)
        self.statuses: List[LayerStatus] = []

    def work(self) -> None:
        self._feedback.progressChanged.connect(self.setProgress)
        self.statuses = compute_statuses(self.refs, self._feedback, self.extra)


@dataclass(frozen=True)
class AlgorithmStep:
    """One algorithm run by id: its parameters, and a line for the progress text."""

    algorithm: str
    parameters: Dict[str, Any]


def run_steps(steps: Sequence[AlgorithmStep], feedback: QgsProcessingFeedback) -> List[Dict]:
    """Runs each step by id in order with its own context; their results. Outputs must be
    files (no memory layers: they would belong to this thread). Raises LabelGuardError with
    the algorithm's last error when a step fails."""
    results: List[Dict] = []
    for step in steps:
        if feedback.isCanceled():
            raise LabelGuardError("Cancelled; nothing more was run.")
        alg = QgsApplication.processingRegistry().createAlgorithmById(step.algorithm)
        if alg is None:
            raise LabelGuardError(f"Algorithm {step.algorithm} is not available.")
        context = QgsProcessingContext()
        step_feedback = _ErrorCollector(feedback)
        context.setFeedback(step_feedback)
        out, ok = alg.run(step.parameters, context, step_feedback)
        if not ok:
            detail = step_feedback.last_error or "see the log"
            raise LabelGuardError(f"{alg.displayName()} failed: {detail}")
        results.append(out)
    return results


class _ErrorCollector(QgsProcessingFeedback):
    """Keeps the last error an algorithm reports and forwards cancel from the task."""

    def __init__(self, outer: QgsProcessingFeedback) -> None:
        super().__init__(False)
        self.last_error = ""
        self._outer = outer
        outer.canceled.connect(self.cancel)

    def reportError(self, error: str, fatalError: bool = False) -> None:  # noqa: N802, N803
        self.last_error = error


class AlgorithmsTask(_FeedbackTask):
    """Runs a few algorithms by id one after the other in the background."""

    def __init__(self, description: str, steps: Sequence[AlgorithmStep]) -> None:
        super().__init__(description)
        self.steps = list(steps)
        self.results: List[Dict] = []

    def work(self) -> None:
        self.results = run_steps(self.steps, self._feedback)


HISTORY_ALG = "labelguard:featurehistory"


class FeatureHistoryTask(AlgorithmsTask):
    """Runs featurehistory by id for one feature (its fid) of a layer and reads the rows of
    its output file, so the dock gets plain rows."""

    def __init__(self, manifest: str, source: str, fid: int, output: Path) -> None:
        step = AlgorithmStep(
            HISTORY_ALG,
            {"MANIFEST": manifest, "INPUT": source, "FEATURE_ID": str(fid), "OUTPUT": str(output)},
        )
        super().__init__(
            QCoreApplication.translate("FeatureHistoryTask", "LabelGuard: feature history"),
            [step],
        )
        self.output = output
        self.rows: List[HistoryRow] = []

    def run(self) -> bool:
        if not super().run():
            return False
        layer = QgsVectorLayer(str(self.output), "history", "ogr")  # only read, in this thread
        if not layer.isValid():
            self.error = f"The feature history {self.output} cannot be read."
            return False
        self.rows = [
            HistoryRow(
                f["version"],
                bool(f["present"]),
                f["status"] or "",
                None if f["feature_fid"] in (None, NULL) else int(f["feature_fid"]),
                f["changed_fields"] or "",
                None if f["iou"] in (None, NULL) else float(f["iou"]),
            )
            for f in layer.getFeatures()
        ]
        return True
