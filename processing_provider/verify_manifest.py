"""labelguard:verifymanifest: re-hash a dataset and report drift per manifest entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
)

from ..core.manifest import summarize, verify_manifest
from ..core.report import write_report
from .base import LabelGuardAlgorithm
from .compat import FLAG_ADVANCED
from .measure import observe
from .sinks import write_records

FIELDS = (
    ("path", "str"),
    ("layer", "str"),
    ("kind", "str"),
    ("status", "str"),
    ("message", "str"),
    ("details", "str"),
    ("expected_sha256", "str"),
    ("actual_sha256", "str"),
)
# Content verified: the labels and pixels are what the manifest recorded.
OK_STATUSES = ("ok", "rewritten")


def _measure(abs_path: Path, entry: Dict[str, Any], root: Path, should_stop):
    side = root / entry["sidecar"]["path"] if entry.get("sidecar") else None
    return observe(
        abs_path, entry.get("layer"), kind=entry["kind"], sidecar=side, should_stop=should_stop
    )


def run_verify(manifest: Path, scan_untracked: bool, progress=None, should_stop=None):
    from ..core.manifest import manifest_root, read_manifest

    root = manifest_root(manifest, read_manifest(manifest))
    return verify_manifest(
        manifest,
        lambda p, e: _measure(p, e, root, should_stop),
        scan_untracked=scan_untracked,
        progress=progress,
        should_stop=should_stop,
    )


class VerifyManifestAlgorithm(LabelGuardAlgorithm):
    GROUP_ID = "versioning"
    MANIFEST = "MANIFEST"
    OUTPUT = "OUTPUT"
    REPORT = "REPORT"
    FAIL_ON_ERROR = "FAIL_ON_ERROR"
    SCAN_UNTRACKED = "SCAN_UNTRACKED"
    OK_COUNT = "OK_COUNT"
    MISMATCH_COUNT = "MISMATCH_COUNT"
    REWRITTEN_COUNT = "REWRITTEN_COUNT"
    CHAIN_OK = "CHAIN_OK"

    def name(self) -> str:
        return "verifymanifest"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Verify version manifest")

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr(
            "Re-hashes every file a manifest lists and reports one status per entry:\n"
            "ok: bytes and content as recorded.\n"
            "rewritten: the bytes changed but the content did not (e.g. QGIS opened a "
            "GeoPackage) - the labels did not change.\n"
            "modified: the content (features, pixels, georeferencing) changed.\n"
            "missing: the file is gone.\n"
            "sidecar_mismatch: the sidecar is missing, was edited, or describes other content.\n"
            "crs_drift: the CRS differs from the recorded one.\n"
            "untracked: a data file under the dataset root that the manifest does not list.\n"
            "A per-feature index the manifest records that is gone or altered gets a row of its "
            "own (missing / modified): diffversions needs it.\n"
            "The parent chain is checked too (CHAIN_OK is 1 when every ancestor manifest is "
            "intact).\n\n"
            "OK_COUNT counts ok and rewritten entries, MISMATCH_COUNT all others "
            "(OK_COUNT + MISMATCH_COUNT = rows). With FAIL_ON_ERROR, any mismatch or a broken "
            "chain makes the algorithm fail, so qgis_process exits non-zero (a CI gate)."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        p = QgsProcessingParameterFile(self.MANIFEST, self.tr("Manifest"), extension="json")
        p.setHelp(self.tr("The version manifest (JSON) to verify the files against."))
        self.addParameter(p)
        p = QgsProcessingParameterFeatureSink(
            self.OUTPUT, self.tr("Verification status"), optional=True, createByDefault=True
        )
        p.setHelp(
            self.tr(
                "Table with one row per entry: path, status, message, details, "
                "expected and actual SHA-256."
            )
        )
        self.addParameter(p)
        p = QgsProcessingParameterFileDestination(
            self.REPORT,
            self.tr("JSON report"),
            self.tr("JSON files (*.json)"),
            optional=True,
            createByDefault=False,
        )
        p.setHelp(
            self.tr(
                "Optional JSON report (labelguard.report/1) with the same rows and "
                "counts per status."
            )
        )
        self.addParameter(p)
        p = QgsProcessingParameterBoolean(self.FAIL_ON_ERROR, self.tr("Fail on mismatch"), False)
        p.setHelp(
            self.tr(
                "Fail (non-zero exit in qgis_process) when any entry is not ok or "
                "rewritten, or when the manifest chain is broken."
            )
        )
        self.addParameter(p)
        p = QgsProcessingParameterBoolean(
            self.SCAN_UNTRACKED, self.tr("Report untracked data files"), True
        )
        p.setHelp(self.tr("Walk the dataset root for data files the manifest does not list."))
        p.setFlags(p.flags() | FLAG_ADVANCED)
        self.addParameter(p)
        for name, label in (
            (self.OK_COUNT, self.tr("Entries that match")),
            (self.MISMATCH_COUNT, self.tr("Entries that do not match")),
            (self.REWRITTEN_COUNT, self.tr("Entries rewritten, content same")),
            (self.CHAIN_OK, self.tr("Manifest chain intact (1/0)")),
        ):
            self.addOutput(QgsProcessingOutputNumber(name, label))

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> Dict[str, Any]:
        manifest = Path(self.parameterAsFile(parameters, self.MANIFEST, context))
        scan = self.parameterAsBoolean(parameters, self.SCAN_UNTRACKED, context)
        feedback.pushInfo(self.tr("Verifying {}").format(manifest))
        statuses, chain = self.run_core(feedback, run_verify, manifest, scan)
        rows = [
            {
                "path": s.path,
                "layer": s.layer,
                "kind": s.kind,
                "status": s.status,
                "message": s.message,
                "details": "; ".join(s.details),
                "expected_sha256": s.expected_sha256,
                "actual_sha256": s.actual_sha256,
            }
            for s in statuses
        ]
        results: Dict[str, Any] = {}
        dest = write_records(self, parameters, context, self.OUTPUT, FIELDS, rows)
        if dest is not None:
            results[self.OUTPUT] = dest
        counts = summarize(statuses)
        ok = sum(counts[s] for s in OK_STATUSES)
        mismatch = len(statuses) - ok
        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        if report:
            findings = [
                dict(
                    rule=r["status"],
                    severity="info" if r["status"] in OK_STATUSES else "error",
                    message=r["message"],
                    location=None,
                    **{
                        k: r[k]
                        for k in (
                            "path",
                            "layer",
                            "kind",
                            "details",
                            "expected_sha256",
                            "actual_sha256",
                        )
                    },
                )
                for r in rows
            ]
            self.run_core(
                None,
                write_report,
                report,
                "labelguard:verifymanifest",
                findings,
                counts,
                {
                    "manifest": str(manifest),
                    "chain_ok": chain.ok,
                    "chain": list(chain.versions),
                    "chain_message": chain.message,
                },
            )
            results[self.REPORT] = report
        for status in (
            "missing",
            "modified",
            "crs_drift",
            "sidecar_mismatch",
            "untracked",
            "rewritten",
        ):
            if counts[status]:
                feedback.pushInfo(self.tr("{}: {}").format(status, counts[status]))
        if not chain.ok:
            feedback.reportError(self.tr("Manifest chain broken: {}").format(chain.message), False)
        results.update(
            {
                self.OK_COUNT: ok,
                self.MISMATCH_COUNT: mismatch,
                self.REWRITTEN_COUNT: counts["rewritten"],
                self.CHAIN_OK: 1 if chain.ok else 0,
            }
        )
        if self.parameterAsBoolean(parameters, self.FAIL_ON_ERROR, context) and (
            mismatch or not chain.ok
        ):
            problems = ", ".join(
                f"{counts[s]} {s}" for s in counts if counts[s] and s not in OK_STATUSES
            )
            if not chain.ok:
                problems = ", ".join(filter(None, [problems, "broken manifest chain"]))
            raise QgsProcessingException(
                self.tr("Dataset does not match manifest {}: {}.").format(manifest.name, problems)
            )
        return results
