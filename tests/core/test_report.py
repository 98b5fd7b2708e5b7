"""core.report: deterministic labelguard.report/1 documents, atomic writes."""

from __future__ import annotations

import json

import pytest
from labelguard.core.errors import SchemaError
from labelguard.core.report import build_report, read_report, tool_id, write_report


def test_report_layout_and_determinism(tmp_path):
    findings = [
        {
            "rule": "overlap",
            "severity": "error",
            "fid": 1,
            "other_fid": 2,
            "message": "m",
            "location": "POINT (1 2)",
            "score": float("nan"),
        }
    ]
    path = tmp_path / "r.json"
    doc = write_report(
        path,
        "validatetopology",
        findings,
        {"overlap": 1, "gap": 0},
        extra={"crs": "EPSG:3857", "checked": 5},
    )
    text = path.read_text(encoding="utf-8")
    assert list(doc) == ["schema", "tool", "checked", "crs", "counts", "total", "findings"]
    assert json.loads(text)["counts"] == {"gap": 0, "overlap": 1}
    assert doc["total"] == 1
    assert doc["findings"][0]["score"] is None
    write_report(
        tmp_path / "s.json",
        "validatetopology",
        findings,
        {"gap": 0, "overlap": 1},
        extra={"checked": 5, "crs": "EPSG:3857"},
    )
    assert (tmp_path / "s.json").read_bytes() == path.read_bytes()
    assert read_report(path) == doc
    assert [p.name for p in tmp_path.iterdir()] != []  # no temp files left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "s.json"]


def test_reserved_extra_key_and_foreign_schema(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        write_report(tmp_path / "r.json", "t", [], {}, extra={"counts": 1})
    (tmp_path / "x.json").write_text('{"schema": "other/1"}', encoding="utf-8")
    with pytest.raises(SchemaError, match="not a labelguard.report/1"):
        read_report(tmp_path / "x.json")


def test_tool_is_the_algorithm_id():
    assert tool_id("verifymanifest") == "labelguard:verifymanifest"


@pytest.mark.parametrize(
    ("finding", "match"),
    [
        ({"rule": "gap", "severity": "error", "message": "m"}, "lacks location"),
        ({"rule": "gap", "severity": "error", "message": "m", "wkt": "POINT (0 0)"}, "location"),
        ({"rule": "gap", "severity": "fatal", "message": "m", "location": None}, "severity"),
    ],
    ids=["no-location", "legacy-wkt-key", "unknown-severity"],
)
def test_a_finding_outside_the_contract_is_refused(finding, match):
    with pytest.raises(ValueError, match=match):
        build_report("labelguard:validatetopology", [finding], {"gap": 1})


def test_status_vocabulary_decides_verified_and_severity():
    from labelguard.core import status

    assert [s for s in status.VERIFY_STATUSES if status.is_verified(s)] == ["ok", "rewritten"]
    assert status.severity("rewritten") == "info"
    assert status.severity("crs_drift") == "error"
    assert status.NEEDS_ATTENTION.isdisjoint(status.VERIFIED)


def test_every_dock_status_says_what_to_do_next():
    from labelguard.core import status

    shown = set(status.VERIFY_STATUSES) | {status.UNSAVED, status.NO_FILE, status.ERROR}
    assert sorted(s for s in shown if not status.next_step(s)) == []
    assert status.next_step("sidecar_mismatch") == (
        "Refresh the sidecars and build the next version (Build next version)."
    )
    assert status.next_step("checking") == ""
