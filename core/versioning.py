"""What verify and diff report: status rows, counts and labelguard.report/1 findings, shared
by the Processing algorithms and the command line so both write the same reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import status
from .diff import FEATURE_STATUSES
from .manifest import ChainStatus, EntryStatus, summarize

# Columns of the verify status table, with their field kinds.
VERIFY_FIELDS = (
    ("path", "str"),
    ("layer", "str"),
    ("kind", "str"),
    ("status", "str"),
    ("message", "str"),
    ("details", "str"),
    ("expected_sha256", "str"),
    ("actual_sha256", "str"),
)
# Columns of the diff feature-change table.
DIFF_FIELDS = (
    ("status", "str"),
    ("path", "str"),
    ("layer", "str"),
    ("feature_id", "str"),
    ("base_fid", "int"),
    ("head_fid", "int"),
    ("changed_fields", "str"),
    ("geometry_from", "str"),
    ("iou", "float"),
    ("matched_by", "str"),
)


@dataclass(frozen=True)
class VerifyOutcome:
    """A verify run in report form: ``rows`` (one dict per entry, VERIFY_FIELDS keys), counts
    per status, report findings and extra keys, and the OK / mismatch split."""

    rows: List[Dict[str, Any]]
    counts: Dict[str, int]
    findings: List[Dict[str, Any]]
    extra: Dict[str, Any]
    ok: int
    mismatch: int
    chain_ok: bool
    problems: List[str]

    @property
    def failures(self) -> int:
        """What FAIL_ON_ERROR counts: mismatches, plus one for a broken chain."""
        return self.mismatch + (0 if self.chain_ok else 1)


def verify_outcome(
    manifest: Path, statuses: Sequence[EntryStatus], chain: ChainStatus
) -> VerifyOutcome:
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
    counts = summarize(statuses)
    ok = sum(counts[s] for s in status.VERIFIED)
    findings = [
        dict(
            rule=r["status"],
            severity=status.severity(r["status"]),
            message=r["message"],
            location=None,
            **{k: r[k] for k, _ in VERIFY_FIELDS if k not in ("message",)},
        )
        for r in rows
    ]
    extra = {
        "manifest": str(manifest),
        "chain_ok": chain.ok,
        "chain": list(chain.versions),
        "chain_message": chain.message,
    }
    problems = [f"{counts[s]} {s}" for s in counts if counts[s] and not status.is_verified(s)]
    if not chain.ok:
        problems.append("broken manifest chain")
    return VerifyOutcome(rows, counts, findings, extra, ok, len(statuses) - ok, chain.ok, problems)


@dataclass(frozen=True)
class DiffOutcome:
    """A diff run in report form: counts per feature status, findings (changed features
    only), extra keys, and the result counts by output name."""

    counts: Dict[str, int]
    findings: List[Dict[str, Any]]
    extra: Dict[str, Any]
    results: Dict[str, int]


def diff_outcome(
    base: Path,
    head: Path,
    id_field: Optional[str],
    rows: Sequence[Dict[str, Any]],
    per_entry: Dict[str, Dict[str, Any]],
    versions: Tuple[str, str],
    iou: float,
) -> DiffOutcome:
    counts = {s: 0 for s in FEATURE_STATUSES}
    for r in rows:
        counts[r["status"]] += 1
    findings = [
        dict(rule=r["status"], severity="info", message=change_message(r), location=None, **r)
        for r in rows
        if r["status"] != "unchanged"
    ]
    extra = {
        "base": str(base),
        "head": str(head),
        "versions": list(versions),
        "id_field": id_field,
        "iou_threshold": iou,
        "matching": sorted({info["matching"] for info in per_entry.values()}),
        "per_layer": per_entry,
    }
    modified = counts["geometry_changed"] + counts["attributes_changed"] + counts["both_changed"]
    results = {
        "ADDED": counts["added"],
        "REMOVED": counts["removed"],
        "MODIFIED": modified,
        "UNCHANGED": counts["unchanged"],
        "GEOMETRY_CHANGED": counts["geometry_changed"],
        "ATTRIBUTES_CHANGED": counts["attributes_changed"],
        "BOTH_CHANGED": counts["both_changed"],
    }
    return DiffOutcome(counts, findings, extra, results)


def change_message(row: Dict[str, Any]) -> str:
    """One line for a changed feature: its path, id (or fid), status and changed fields."""
    who = (
        f"feature {row['feature_id']}"
        if row["feature_id"] is not None
        else (f"feature fid {row['head_fid'] if row['head_fid'] is not None else row['base_fid']}")
    )
    text = f"{row['path']}: {who} {row['status'].replace('_', ' ')}"
    if row["changed_fields"]:
        text += f" ({row['changed_fields']})"
    if row["iou"] is not None and row["status"] != "unchanged":
        text += f", IoU {row['iou']:.3f}"
    return text
