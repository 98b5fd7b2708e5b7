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


# What the user does next, per status the dock shows. English source strings: the dock
# translates them (context "LabelGuardDock"); reports do not use them.
NEXT_STEP = {
    OK: "Nothing to do: the file matches this version.",
    REWRITTEN: "Nothing to do: the bytes changed but the content is the same (re-saved).",
    MODIFIED: (
        "If the change is intended, build the next version (right-click › Build next "
        "version); otherwise restore the file from this version."
    ),
    MISSING: "Restore the file, or build the next version without it.",
    SIDECAR_MISMATCH: "Refresh the sidecars and build the next version (Build next version).",
    CRS_DRIFT: (
        "The CRS differs from the one recorded: check Layer Properties › Source, or build "
        "the next version if the reprojection is intended."
    ),
    METADATA_DRIFT: (
        "Something the sidecar records changed (time, bands, metadata): restore the file, or "
        "refresh its sidecar and build the next version if the change is intended."
    ),
    UNREADABLE: (
        "The file cannot be read (damaged, or not valid JSON): restore it from this version; "
        "the entry's message says what failed."
    ),
    UNTRACKED: (
        "No manifest lists this file: open a manifest (Open manifest…) or build a first "
        "version (Build next version)."
    ),
    UNSAVED: "Save the layer's edits (or roll them back); it is verified again on save.",
    NO_FILE: "Memory, database and web layers have no file to hash; save it to a file first.",
    ERROR: "The check failed; see the LabelGuard log (View › Panels › Log Messages).",
}


def next_step(status: str) -> str:
    """The English advice for ``status``, or "" for a status without one."""
    return NEXT_STEP.get(status, "")
