"""metadata.txt carries what the official plugin repository's upload validator requires."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = (
    "name",
    "description",
    "about",
    "version",
    "qgisMinimumVersion",
    "author",
    "email",
    "tracker",
    "repository",
)


def _meta():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "metadata.txt", encoding="utf-8")
    return parser["general"]


def test_required_keys_present_and_non_empty():
    meta = _meta()
    assert [k for k in REQUIRED if not meta.get(k, "").strip()] == []


def test_versions_and_flags():
    meta = _meta()
    assert re.fullmatch(r"\d+\.\d+\.\d+", meta["version"])
    assert meta["qgisMinimumVersion"] == "3.22"
    assert meta["hasProcessingProvider"] == "yes"
    assert meta.get("supportsQt6", "False") in ("False", "false", "no") or meta[
        "qgisMaximumVersion"
    ].startswith("4")
    assert (ROOT / meta["icon"]).is_file()
    assert re.match(r"https?://", meta["tracker"])
    assert re.match(r"https?://", meta["repository"])


def test_changelog_mentions_current_version():
    version = _meta()["version"]
    assert f"[{version}]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
