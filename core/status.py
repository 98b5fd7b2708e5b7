"""The status vocabulary of verification, shared by core, the reports, the algorithms and the
dock: which statuses exist, which of them mean "verified", and what severity each reports."""

from __future__ import annotations

from typing import Tuple

# Per manifest entry, as verify reports them.
OK = "ok"
MODIFIED = "modified"
REWRITTEN = "rewritten"
MISSING = "missing"
SIDECAR_MISMATCH = "sidecar_mismatch"
CRS_DRIFT = "crs_drift"
METADATA_DRIFT = "metadata_drift"  # something the sidecar records (time, bands, ...) changed
UNREADABLE = "unreadable"  # the file is there but cannot be read (or strictly parsed)
UNTRACKED = "untracked"
VERIFY_STATUSES: Tuple[str, ...] = (
    OK,
    MODIFIED,
    REWRITTEN,
    MISSING,
    SIDECAR_MISMATCH,
    CRS_DRIFT,
    METADATA_DRIFT,
    UNREADABLE,
    UNTRACKED,
)
# Content verified: the labels and pixels are what the manifest recorded.
VERIFIED = frozenset({OK, REWRITTEN})

# Per loaded layer, as the dock shows them, besides the verify statuses.
UNSAVED = "unsaved"  # the layer has edits not saved to its file
NO_FILE = "no_file"  # memory, database or web layer: nothing to hash
ERROR = "error"  # the check itself failed
NEEDS_ATTENTION = frozenset(
    {MODIFIED, MISSING, CRS_DRIFT, METADATA_DRIFT, UNREADABLE, SIDECAR_MISMATCH, ERROR, UNSAVED}
)


def is_verified(status: str) -> bool:
    return status in VERIFIED


def severity(status: str) -> str:
    """Report severity of a verify status: "info" when verified, else "error"."""
    return "info" if is_verified(status) else "error"
