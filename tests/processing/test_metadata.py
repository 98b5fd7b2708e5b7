"""Contract tests: algorithm ids, parameter and output names from PRODUCT.md, help everywhere."""

from __future__ import annotations

import pytest

# The public contract (PRODUCT.md): id -> (minimum parameters, minimum outputs).
CONTRACT = {
    "validatetopology": (
        {
            "INPUT",
            "RULES",
            "TOLERANCE",
            "MIN_AREA",
            "MAX_GAP_AREA",
            "OVERLAY",
            "EXCEPTIONS",
            "OUTPUT",
            "REPORT",
            "FAIL_ON_ERROR",
        },
        {"OUTPUT", "REPORT", "ERROR_COUNT", "CHECKED_COUNT"},
    ),
    "checkcrs": (
        {"LAYERS", "EXPECTED_CRS", "REQUIRE_PROJECTED", "OUTPUT", "REPORT", "FAIL_ON_ERROR"},
        {"OUTPUT", "REPORT", "ISSUE_COUNT"},
    ),
    "exportsidecars": ({"LAYERS", "OUTPUT_FOLDER"}, {"SIDECARS", "COUNT"}),
    "buildmanifest": (
        {"LAYERS", "VERSION", "PARENT", "OUTPUT"},
        {"OUTPUT", "MANIFEST_SHA256", "ENTRY_COUNT"},
    ),
    "verifymanifest": (
        {"MANIFEST", "OUTPUT", "REPORT", "FAIL_ON_ERROR"},
        {"OK_COUNT", "MISMATCH_COUNT"},
    ),
    "diffversions": (
        {"BASE", "HEAD", "ID_FIELD", "OUTPUT", "REPORT"},
        {"ADDED", "REMOVED", "MODIFIED", "UNCHANGED"},
    ),
    "exporttraining": (
        {
            "RASTER",
            "ANNOTATIONS",
            "CLASS_FIELD",
            "FORMAT",
            "TILE_SIZE",
            "OVERLAP",
            "OUTPUT_FOLDER",
            "VAL_FRACTION",
            "SEED",
        },
        {"OUTPUT_FOLDER", "TILE_COUNT", "ANNOTATION_COUNT"},
    ),
    "importpredictions": (
        {"INPUT", "DATASET", "MIN_SCORE", "OUTPUT"},
        {"OUTPUT", "FEATURE_COUNT"},
    ),
    "featurehistory": (
        {"MANIFEST", "INPUT", "FEATURE_ID", "POINT", "OUTPUT", "REPORT"},
        {"OUTPUT", "REPORT", "VERSION_COUNT", "PRESENT_COUNT", "CHANGE_COUNT"},
    ),
    "restoremetadata": (
        {"INPUT", "SIDECAR", "DRY_RUN", "OUTPUT", "REPORT"},
        {"OUTPUT", "REPORT", "CHANGED_COUNT", "NOT_HELD_COUNT"},
    ),
}
ORDER = list(CONTRACT)
GROUPS = {
    "validatetopology": "validation",
    "checkcrs": "validation",
    "exportsidecars": "versioning",
    "buildmanifest": "versioning",
    "verifymanifest": "versioning",
    "diffversions": "versioning",
    "exporttraining": "trainingdata",
    "importpredictions": "trainingdata",
    "featurehistory": "versioning",
    "restoremetadata": "versioning",
}


def _algorithms(provider):
    return {alg.name(): alg for alg in provider.algorithms()}


def test_provider_identity(labelguard_provider):
    from labelguard.processing_provider.base import plugin_version

    assert labelguard_provider.id() == "labelguard"
    assert labelguard_provider.name() == "LabelGuard"
    assert labelguard_provider.versionInfo() == plugin_version() != "0"


def test_only_contract_ids_in_contract_order(labelguard_provider):
    from labelguard.processing_provider.provider import ALGORITHMS

    names = [cls().name() for cls in ALGORITHMS]
    assert names, "no algorithms registered"
    assert set(names) <= set(CONTRACT)
    assert names == [n for n in ORDER if n in names]


@pytest.mark.parametrize("alg_id", ORDER)
def test_contract_parameters_outputs_and_help(labelguard_provider, alg_id):
    algs = _algorithms(labelguard_provider)
    if alg_id not in algs:
        pytest.xfail(f"{alg_id} has not landed yet")
    alg = algs[alg_id]
    params, outputs = CONTRACT[alg_id]
    names = {p.name() for p in alg.parameterDefinitions()}
    assert params <= names, f"missing parameters: {params - names}"
    out_names = {o.name() for o in alg.outputDefinitions()}
    assert outputs <= out_names, f"missing outputs: {outputs - out_names}"
    assert alg.groupId() == GROUPS[alg_id]
    assert alg.displayName().strip()
    assert len(alg.shortHelpString().strip()) > 80
    no_help = [p.name() for p in alg.parameterDefinitions() if not (p.help() or "").strip()]
    assert no_help == [], f"parameters without help: {no_help}"


def _interface(alg) -> str:
    """Everything a saved model, batch file or CI script sees of an algorithm, as text."""
    lines = [f"{alg.name()} | {alg.displayName()} | {alg.groupId()} | {alg.tags()}"]
    lines.append(f"help: {alg.shortHelpString()}")
    for p in alg.parameterDefinitions():
        number = ""
        if p.type() == "number":
            number = f" | {int(p.dataType())} {p.defaultValue()} {p.minimum()} {p.maximum()}"
        default = "" if p.type() == "number" else f" | default {p.defaultValue()!r}"
        lines.append(
            f"  {p.name()} | {p.type()} | {p.description()} | flags {int(p.flags())}"
            f"{default}{number} | {p.help()}"
        )
    for o in sorted(alg.outputDefinitions(), key=lambda o: o.name()):
        lines.append(f"  output {o.name()} | {o.type()} | {o.description()}")
    return "\n".join(lines) + "\n"


def test_algorithm_interfaces_match_the_golden_copy(labelguard_provider):
    """Ids, parameter names, types, defaults, flags, help and outputs are the public contract:
    any change shows up here as a diff, to be made on purpose (regenerate with
    LABELGUARD_WRITE_GOLDEN=1) and noted in the CHANGELOG."""
    import os
    from pathlib import Path

    from labelguard.processing_provider.provider import ALGORITHMS

    text = ""
    for cls in ALGORITHMS:
        alg = cls()
        alg.initAlgorithm()
        text += _interface(alg)
    golden = Path(__file__).resolve().parents[1] / "data" / "expected" / "algorithms.txt"
    if os.environ.get("LABELGUARD_WRITE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
