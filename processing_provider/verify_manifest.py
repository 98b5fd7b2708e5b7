"""labelguard:verifymanifest: re-hash a dataset and report drift per manifest entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core import status
from ..core.versioning import VERIFY_FIELDS as FIELDS
from ..core.versioning import verify_outcome
from ..gdalio.versioning import run_verify
from .base import LabelGuardAlgorithm


class VerifyManifestAlgorithm(LabelGuardAlgorithm):
    GROUP_ID = "versioning"
    NAME = "verifymanifest"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("VerifyManifestAlgorithm", "Verify version manifest")
    HELP = QT_TRANSLATE_NOOP(
        "VerifyManifestAlgorithm",
        "Re-hashes every file a manifest lists and reports one status per entry:\n"
        "ok: bytes and content as recorded.\n"
        "rewritten: only the bytes changed (e.g. QGIS opened a GeoPackage): the content and "
        "everything its sidecar records are the same.\n"
        "modified: the content (features, pixels, georeferencing) changed.\n"
        "missing: the file is gone.\n"
        "sidecar_mismatch: the sidecar is missing, was edited, or describes other content.\n"
        "crs_drift: the CRS differs from the recorded one.\n"
        "metadata_drift: something the sidecar records changed (acquisition time, band "
        "colour interpretation or description, recorded metadata, fields).\n"
        "unreadable: the file is there but cannot be read (GDAL read errors, metadata that is "
        "not UTF-8, a CRS PROJ cannot interpret), or a GeoJSON is no longer valid JSON.\n"
        "untracked: a data file under the dataset root that the manifest does not list.\n"
        "A per-feature index the manifest records that is gone or altered gets a row of its "
        "own (missing / modified): diffversions needs it.\n"
        "The parent chain is checked too (CHAIN_OK is 1 when every ancestor manifest is "
        "intact).\n\n"
        "OK_COUNT counts ok and rewritten entries, MISMATCH_COUNT all others "
        "(OK_COUNT + MISMATCH_COUNT = rows). With FAIL_ON_ERROR, any mismatch or a broken "
        "chain makes the algorithm fail, so qgis_process exits non-zero (a CI gate). A "
        "GeoPackage locked by another program's transaction stops the run with a message "
        "(after a wait of a few seconds).",
    )
    MANIFEST = "MANIFEST"
    OUTPUT = "OUTPUT"
    SCAN_UNTRACKED = "SCAN_UNTRACKED"
    OK_COUNT = "OK_COUNT"
    MISMATCH_COUNT = "MISMATCH_COUNT"
    REWRITTEN_COUNT = "REWRITTEN_COUNT"
    CHAIN_OK = "CHAIN_OK"

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        self.add(
            QgsProcessingParameterFile(self.MANIFEST, self.tr("Manifest"), extension="json"),
            self.tr("The version manifest (JSON) to verify the files against."),
        )
        self.add(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT, self.tr("Verification status"), optional=True, createByDefault=True
            ),
            self.tr(
                "Table with one row per entry: path, status, message, details, "
                "expected and actual SHA-256."
            ),
        )
        self.add_report(
            self.tr(
                "Optional JSON report (labelguard.report/1) with the same rows and "
                "counts per status."
            )
        )
        self.add_fail_on_error(
            self.tr(
                "Fail (non-zero exit in qgis_process) when any entry is not ok or "
                "rewritten, or when the manifest chain is broken."
            ),
            self.tr("Fail on mismatch"),
        )
        self.add(
            QgsProcessingParameterBoolean(
                self.SCAN_UNTRACKED, self.tr("Report untracked data files"), True
            ),
            self.tr("Walk the dataset root for data files the manifest does not list."),
            advanced=True,
        )
        self.add_scheduler(
            self.tr("Every entry is measured (hashes, content) on the workers in parallel.")
        )
        self.add_counts(
            (self.OK_COUNT, self.tr("Entries that match")),
            (self.MISMATCH_COUNT, self.tr("Entries that do not match")),
            (self.REWRITTEN_COUNT, self.tr("Entries rewritten, content same")),
            (self.CHAIN_OK, self.tr("Manifest chain intact (1/0)")),
        )

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> Dict[str, Any]:
        manifest = Path(self.parameterAsFile(parameters, self.MANIFEST, context))
        scan = self.parameterAsBoolean(parameters, self.SCAN_UNTRACKED, context)
        feedback.pushInfo(self.tr("Verifying {}").format(manifest))
        with self.dask_client(parameters, context, feedback) as client:
            if client is None:
                statuses, chain = self.run_core(feedback, run_verify, manifest, scan)
            else:
                from ..cluster.hashing import dask_verify

                statuses, chain = self.run_core(feedback, dask_verify, client, manifest, scan)
        outcome = verify_outcome(manifest, statuses, chain)
        counts = outcome.counts
        written: Dict[str, Any] = {
            self.OUTPUT: self.write_sink(
                parameters,
                context,
                self.OUTPUT,
                FIELDS,
                (([r[name] for name, _ in FIELDS], None) for r in outcome.rows),
            )
        }
        written[self.REPORT] = self.write_report(
            parameters, context, outcome.findings, counts, outcome.extra
        )
        for name in status.VERIFY_STATUSES:
            if counts[name] and name != status.OK:
                feedback.pushInfo(self.tr("{}: {}").format(name, counts[name]))
        if not chain.ok:
            feedback.reportError(self.tr("Manifest chain broken: {}").format(chain.message), False)
        results = {
            self.OK_COUNT: outcome.ok,
            self.MISMATCH_COUNT: outcome.mismatch,
            self.REWRITTEN_COUNT: counts[status.REWRITTEN],
            self.CHAIN_OK: 1 if chain.ok else 0,
        }
        return self.finish(
            parameters,
            context,
            results,
            optional=written,
            failures=outcome.failures,
            failure_message=self.tr("Dataset does not match manifest {}: {}.").format(
                manifest.name, ", ".join(outcome.problems)
            ),
        )
