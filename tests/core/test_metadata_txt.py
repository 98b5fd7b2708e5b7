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
    # QGIS 4 treats a maximum of 3.99 as incompatible and the plugin site lists only plugins
    # with a maximum >= 4.0 as QGIS 4-ready (qgis/QGIS#65146).
    assert meta["qgisMaximumVersion"] == "4.99"
    assert (ROOT / meta["icon"]).is_file()
    assert re.match(r"https?://", meta["tracker"])
    assert re.match(r"https?://", meta["repository"])


def test_changelog_mentions_current_version():
    version = _meta()["version"]
    assert f"[{version}]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_category_is_one_the_plugin_site_accepts():
    # qgis/QGIS-Plugins-Website's validator rejects any other category (e.g. "Analysis").
    assert _meta()["category"] in ("Raster", "Vector", "Database", "Mesh", "Web")


def _runtime_modules():
    """The plugin's own modules as packed into the zip (tests, tools and benchmarks are not)."""
    skip = {"tests", "tools", "benchmarks", ".venv", "out", "dist", ".git"}
    return sorted(p for p in ROOT.rglob("*.py") if not skip.intersection(p.relative_to(ROOT).parts))


def test_no_assert_in_runtime_code():
    # The plugin site's Bandit scan (B101) blocks uploads with asserts; -O strips them anyway.
    import ast

    found = [
        f"{p.relative_to(ROOT)}:{node.lineno}"
        for p in _runtime_modules()
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert found == []


def test_weak_hashes_say_they_are_not_for_security():
    # Bandit B324 blocks sha1/md5 unless called with usedforsecurity=False.
    import ast

    found = []
    for p in _runtime_modules():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("sha1", "md5")
                and not any(
                    k.arg == "usedforsecurity"
                    and isinstance(k.value, ast.Constant)
                    and k.value.value is False
                    for k in node.keywords
                )
            ):
                found.append(f"{p.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_resources_qrc_lists_existing_files_and_compiles():
    # pyrcc5 reads "No resources" from a .qrc with an XML comment before <qresource>.
    import xml.etree.ElementTree as ET

    text = (ROOT / "resources.qrc").read_text(encoding="utf-8")
    assert "<!--" not in text
    files = [f.text for f in ET.fromstring(text).iter("file")]
    assert files == ["ui/icons/labelguard.svg"]
    assert all((ROOT / f).is_file() for f in files)


def test_message_levels_are_scoped():
    # Qgis.Warning and friends are the unscoped forms QGIS 4 (Qt6) drops; Qgis.MessageLevel.*
    # exists on 3.22 too (STYLE.md §3).
    pattern = re.compile(r"\bQgis\.(Info|Warning|Critical|Success|NoLevel)\b")
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _runtime_modules()
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
