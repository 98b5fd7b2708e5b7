"""Runs every LabelGuard algorithm headless through qgis_process.bin on the bundled sample.

The demo owns its output folder: it deletes it, generates the sample dataset into
``OUT/data`` (tools/make_sample.py), enables the plugin in a throwaway QGIS profile and
walks the pipeline in ``STEPS``: check CRS, validate topology, sidecars, manifest v1, verify,
an edit (the v2 annotations replace v1, the orthophoto is recompressed), verify again,
manifest v2 in one step (stale sidecars refreshed, parent and label by default), diff v1 -> v2
without an ID field, the history of one changed label, training export, predictions back onto
the map. An algorithm that
is not in this build is reported as "not available yet"; one that exists and fails makes the
demo exit non-zero.

Usage: python tools/demo.py [--out out/demo] [--qgis-process /usr/bin/qgis_process.bin]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import make_sample  # noqa: E402  (a sibling script, not a package)

PROVIDER = "labelguard"
TIMEOUT = 900  # seconds per qgis_process run
ALGORITHM_IDS = (  # PRODUCT.md's contract, in its order
    "validatetopology",
    "checkcrs",
    "exportsidecars",
    "buildmanifest",
    "verifymanifest",
    "diffversions",
    "exporttraining",
    "importpredictions",
    "featurehistory",
    "restoremetadata",
)


@dataclass(frozen=True)
class Step:
    """One row of the pipeline: a LabelGuard algorithm run, or a plain action on the data.

    ``params`` are (name, value) pairs, repeated for list parameters; values are templates
    filled from the demo's paths (``{raster}``, ``{out}``, ...). ``expect_failure`` marks a
    CI-gate run whose non-zero exit is the point. ``needs`` names earlier steps whose outputs
    this one reads; if any did not run, this one is skipped.
    """

    name: str
    alg: str | None = None
    params: Tuple[Tuple[str, str], ...] = ()
    counts: Tuple[str, ...] = ()
    output: str = "OUTPUT"  # result key (or a path template) shown in the summary
    expect_failure: bool = False
    needs: Tuple[str, ...] = ()
    action: Callable[[Demo], str] | None = None
    note: str = ""
    breakdown: bool = False  # also show the non-zero per-status counts of the JSON report


LAYERS = (("LAYERS", "{raster}"), ("LAYERS", "{gpkg}"), ("LAYERS", "{geojson}"))
TOPOLOGY = (
    ("INPUT", "{gpkg}"),
    ("MIN_AREA", "5"),  # square metres: catches the 4 m2 sliver
    ("OUTPUT", "{out}/validation/topology_errors.gpkg"),
    ("REPORT", "{out}/validation/topology_report.json"),
)


def _edit_dataset(demo: Demo) -> str:
    """The annotators' review lands (v2 replaces v1); someone recompresses the orthophoto."""
    for name in (make_sample.GPKG_NAME, make_sample.GEOJSON_NAME):
        shutil.copyfile(demo.v2 / name, demo.data / name)
    from osgeo import gdal

    gdal.UseExceptions()
    raster = demo.data / make_sample.RASTER_NAME
    tmp = raster.with_suffix(".lzw.tif")
    options = ["TILED=YES", "COMPRESS=LZW", "PREDICTOR=2", "PHOTOMETRIC=RGB", "ALPHA=NO"]
    gdal.Translate(str(tmp), str(raster), creationOptions=options)
    os.replace(tmp, raster)
    return "v2 annotations in place; orthophoto recompressed (same pixels)"


def _pick_changed_label(demo: Demo) -> str:
    """The first label of the GeoPackage that v2 changed, from the diff report."""
    report = json.loads((demo.out / "diff" / "v1_v2.json").read_text(encoding="utf-8"))
    per_layer = report.get("per_layer", {})
    for f in report["findings"]:
        if f["path"] == make_sample.GPKG_NAME and f["status"].endswith("_changed"):
            demo.paths["changed_fid"] = str(f["head_fid"])
            layer = per_layer.get(f"{f['path']}|{f['layer']}", {}) if f["layer"] else {}
            how = layer.get("matching") or next(iter(per_layer.values()), {}).get("matching")
            return f"fid {f['head_fid']}: {f['status']} (matched by {how}) - {f['message']}"
    raise RuntimeError("the diff found no changed label in the GeoPackage")


def _convert_orthophoto(demo: Demo) -> str:
    """A format conversion that loses what GDAL keeps outside the pixels: a baseline TIFF
    copy without CRS, geotransform, time tag or band descriptions (PAM off, so nothing is
    kept in an .aux.xml either)."""
    from osgeo import gdal

    gdal.UseExceptions()
    target = demo.out / "converted" / make_sample.RASTER_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    previous = gdal.GetConfigOption("GDAL_PAM_ENABLED")
    gdal.SetConfigOption("GDAL_PAM_ENABLED", "NO")
    try:
        gdal.Translate(
            str(target),
            str(demo.data / make_sample.RASTER_NAME),
            creationOptions=["PROFILE=BASELINE"],
        )
    finally:
        gdal.SetConfigOption("GDAL_PAM_ENABLED", previous)
    return "baseline TIFF copy: no CRS, transform, time tag or band descriptions"


def _fake_predictions(demo: Demo) -> str:
    """A stand-in for a model: COCO results from the exported ground truth, jittered."""
    export = demo.out / "training" / "coco"
    truth = None
    for path in sorted(export.rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and {"images", "annotations", "categories"} <= doc.keys():
            truth = doc
            break
    if truth is None:
        raise RuntimeError(f"no COCO annotation file found under {export}")
    rng = random.Random(7)
    results = []
    for ann in truth["annotations"]:
        x, y, w, h = ann["bbox"]
        dx, dy = rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5)
        row: Dict[str, Any] = {
            "image_id": ann["image_id"],
            "category_id": ann["category_id"],
            "bbox": [round(x + dx, 2), round(y + dy, 2), round(w, 2), round(h, 2)],
            "score": round(rng.uniform(0.3, 0.99), 3),
        }
        seg = ann.get("segmentation")
        if isinstance(seg, list) and seg:
            row["segmentation"] = [
                [round(v + (dx if i % 2 == 0 else dy), 2) for i, v in enumerate(poly)]
                for poly in seg
            ]
        results.append(row)
    target = demo.out / "predictions" / "coco_results.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results), encoding="utf-8")
    return f"{len(results)} detections from {len(truth['images'])} images"


# The pipeline, in order. Parameter names follow PRODUCT.md; add new ones here.
STEPS: Tuple[Step, ...] = (
    Step(
        "check CRS",
        "checkcrs",
        (
            *LAYERS,
            ("EXPECTED_CRS", "EPSG:32633"),
            ("REQUIRE_PROJECTED", "true"),
            ("OUTPUT", "{out}/validation/crs_issues.gpkg"),
            ("REPORT", "{out}/validation/crs_report.json"),
            ("FAIL_ON_ERROR", "false"),
        ),
        counts=("ISSUE_COUNT",),
        output="REPORT",
        breakdown=True,
    ),
    Step(
        "validate topology",
        "validatetopology",
        (*TOPOLOGY, ("FAIL_ON_ERROR", "false")),
        counts=("ERROR_COUNT", "CHECKED_COUNT"),
        output="REPORT",
        breakdown=True,
        note="the sample has 4 deliberate defects",
    ),
    Step(
        "CI gate: topology",
        "validatetopology",
        (*TOPOLOGY, ("FAIL_ON_ERROR", "true")),
        expect_failure=True,
        output="",
        needs=("validate topology",),
        note="FAIL_ON_ERROR=true on broken labels",
    ),
    Step(
        "sidecars v1",
        "exportsidecars",
        LAYERS,
        counts=("COUNT",),
        output="{data}",
    ),
    Step(
        "manifest v1",
        "buildmanifest",
        (
            *LAYERS,
            ("VERSION", "v1"),
            ("DATASET_ROOT", "{data}"),
            ("OUTPUT", "{manifests}/v1.json"),
        ),
        counts=("ENTRY_COUNT",),
        needs=("sidecars v1",),
    ),
    Step(
        "verify v1",
        "verifymanifest",
        (
            ("MANIFEST", "{manifests}/v1.json"),
            ("OUTPUT", "{out}/verify/v1_clean.csv"),
            ("REPORT", "{out}/verify/v1_clean.json"),
            ("FAIL_ON_ERROR", "false"),
        ),
        counts=("OK_COUNT", "MISMATCH_COUNT"),
        output="REPORT",
        breakdown=True,
        needs=("manifest v1",),
        note="untouched data: all ok",
    ),
    Step("edit data", action=_edit_dataset, output="{data}"),
    Step(
        "verify v1 again",
        "verifymanifest",
        (
            ("MANIFEST", "{manifests}/v1.json"),
            ("OUTPUT", "{out}/verify/v1_after_edit.csv"),
            ("REPORT", "{out}/verify/v1_after_edit.json"),
            ("FAIL_ON_ERROR", "false"),
        ),
        counts=("OK_COUNT", "MISMATCH_COUNT"),
        output="REPORT",
        breakdown=True,
        needs=("manifest v1",),
        note="drift since v1",
    ),
    Step(
        "CI gate: verify",
        "verifymanifest",
        (
            ("MANIFEST", "{manifests}/v1.json"),
            ("REPORT", "{out}/verify/v1_gate.json"),
            ("FAIL_ON_ERROR", "true"),
        ),
        expect_failure=True,
        output="",
        needs=("verify v1 again",),
        note="FAIL_ON_ERROR=true on drift",
    ),
    Step(
        "manifest v2",
        "buildmanifest",
        (
            # One step: the stale sidecars are exported again, the parent is the newest
            # manifest in the folder (v1.json) and the label the next in sequence (v2).
            *LAYERS,
            ("DATASET_ROOT", "{data}"),
            ("OUTPUT", "{manifests}/v2.json"),
        ),
        counts=("ENTRY_COUNT",),
        needs=("manifest v1",),
        note="refreshes stale sidecars; parent and label by default",
    ),
    Step(
        "verify v2",
        "verifymanifest",
        (
            ("MANIFEST", "{manifests}/v2.json"),
            ("OUTPUT", "{out}/verify/v2.csv"),
            ("REPORT", "{out}/verify/v2.json"),
            ("FAIL_ON_ERROR", "false"),
        ),
        counts=("OK_COUNT", "MISMATCH_COUNT"),
        output="REPORT",
        breakdown=True,
        needs=("manifest v2",),
    ),
    Step(
        "diff v1 -> v2",
        "diffversions",
        (
            ("BASE", "{manifests}/v1.json"),
            ("HEAD", "{manifests}/v2.json"),
            ("OUTPUT", "{out}/diff/v1_v2_features.gpkg"),
            ("REPORT", "{out}/diff/v1_v2.json"),
        ),
        counts=("ADDED", "REMOVED", "MODIFIED", "UNCHANGED"),
        output="REPORT",
        needs=("manifest v1", "manifest v2"),
        note="no ID field: a checked stable key, else geometry",
    ),
    Step("pick a changed label", action=_pick_changed_label, needs=("diff v1 -> v2",)),
    Step(
        "history of that label",
        "featurehistory",
        (
            ("MANIFEST", "{manifests}/v2.json"),
            ("INPUT", "{gpkg}"),
            ("FEATURE_ID", "{changed_fid}"),
            ("OUTPUT", "{out}/history/label.gpkg"),
            ("REPORT", "{out}/history/label.json"),
        ),
        counts=("VERSION_COUNT", "PRESENT_COUNT", "CHANGE_COUNT"),
        output="REPORT",
        needs=("pick a changed label",),
    ),
    Step(
        "convert orthophoto",
        action=_convert_orthophoto,
        output="{out}/converted/" + make_sample.RASTER_NAME,
        needs=("manifest v2",),
    ),
    Step(
        "restore metadata",
        "restoremetadata",
        (
            ("INPUT", "{out}/converted/" + make_sample.RASTER_NAME),
            ("SIDECAR", "{raster}.labelguard.yaml"),
            ("OUTPUT", "{out}/converted/restored_fields.gpkg"),
            ("REPORT", "{out}/converted/restore.json"),
        ),
        counts=("CHANGED_COUNT", "NOT_HELD_COUNT"),
        output="REPORT",
        needs=("convert orthophoto",),
    ),
    Step(
        "training export",
        "exporttraining",
        (
            ("RASTER", "{raster}"),
            ("ANNOTATIONS", "{gpkg}"),
            ("CLASS_FIELD", "class"),
            ("FORMAT", "0"),  # COCO
            ("TILE_SIZE", "256"),
            ("OVERLAP", "32"),
            ("OUTPUT_FOLDER", "{out}/training/coco"),
            ("VAL_FRACTION", "0.2"),
            ("SEED", "42"),
        ),
        counts=("TILE_COUNT", "ANNOTATION_COUNT"),
        output="OUTPUT_FOLDER",
    ),
    Step(
        "model predictions",
        action=_fake_predictions,
        output="{out}/predictions/coco_results.json",
        needs=("training export",),
    ),
    Step(
        "import predictions",
        "importpredictions",
        (
            ("INPUT", "{out}/predictions/coco_results.json"),
            ("DATASET", "{out}/training/coco"),
            ("MIN_SCORE", "0.5"),
            ("OUTPUT", "{out}/predictions/predictions.gpkg"),
        ),
        counts=("FEATURE_COUNT",),
        needs=("model predictions",),
    ),
)


@dataclass
class Outcome:
    step: Step
    status: str  # ok | expected failure | not available yet | skipped | FAILED
    counts: str = ""
    output: str = ""
    seconds: float = 0.0
    detail: str = ""
    results: Dict[str, Any] = field(default_factory=dict)


class QgisProcess:
    """qgis_process.bin with LabelGuard enabled in a throwaway profile (HOME)."""

    def __init__(self, executable: str, scratch: Path) -> None:
        self.executable = executable
        plugins = scratch / "plugins"
        plugins.mkdir(parents=True)
        (plugins / "labelguard").symlink_to(ROOT, target_is_directory=True)
        home = scratch / "home"
        home.mkdir(mode=0o700)  # also XDG_RUNTIME_DIR, which Qt wants private
        self.env = dict(os.environ)
        self.env.update(
            QGIS_PLUGINPATH=str(plugins),
            HOME=str(home),
            XDG_RUNTIME_DIR=str(home),
            QT_QPA_PLATFORM="offscreen",
            PROJ_DATA=os.environ.get("PROJ_DATA", "/usr/share/proj"),
            PYTHONDONTWRITEBYTECODE="1",
            # The venv's packages (shapely 2) for QGIS's embedded Python.
            PYTHONPATH=os.pathsep.join(p for p in sys.path if p.endswith("site-packages")),
        )

    def call(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.executable, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def enable_plugin(self) -> None:
        proc = self.call("plugins", "enable", "labelguard")
        if proc.returncode != 0:
            raise RuntimeError(
                f"qgis_process could not enable labelguard:\n{proc.stdout}\n{proc.stderr}"
            )

    def algorithms(self) -> Dict[str, Dict[str, Any]]:
        """LabelGuard algorithm id -> help document (parameters, outputs)."""
        proc = self.call("--json", "list")
        if proc.returncode != 0:
            raise RuntimeError(f"qgis_process list failed:\n{proc.stderr}")
        providers = json.loads(proc.stdout).get("providers", {})
        if PROVIDER not in providers:
            raise RuntimeError(
                "The LabelGuard provider is not registered in qgis_process: the plugin did not "
                "load, or its Python dependencies (shapely>=2, pyproj, PyYAML) are missing from "
                f"the Python QGIS runs.\n{proc.stderr}"
            )
        found = {}
        for full_id in providers[PROVIDER].get("algorithms", {}):
            help_proc = self.call("--json", "help", full_id)
            if help_proc.returncode != 0:
                raise RuntimeError(f"qgis_process help {full_id} failed:\n{help_proc.stderr}")
            found[full_id.split(":", 1)[1]] = json.loads(help_proc.stdout)
        return found

    def run(self, alg: str, params: Sequence[Tuple[str, str]]) -> subprocess.CompletedProcess:
        args = [f"{name}={value}" for name, value in params]
        return self.call("--json", "run", f"{PROVIDER}:{alg}", "--", *args)


class Demo:
    def __init__(self, out: Path, qgis: QgisProcess) -> None:
        self.out = out
        self.data = out / "data"
        self.v2 = out / "incoming_v2"
        self.manifests = out / "manifests"
        self.qgis = qgis
        self.paths = {
            "out": str(out),
            "data": str(self.data),
            "manifests": str(self.manifests),
            "raster": str(self.data / make_sample.RASTER_NAME),
            "gpkg": str(self.data / make_sample.GPKG_NAME),
            "geojson": str(self.data / make_sample.GEOJSON_NAME),
        }

    def fill(self, template: str) -> str:
        return template.format(**self.paths)

    def params_for(self, step: Step, known: Dict[str, Any]) -> List[Tuple[str, str]]:
        """The step's parameters, minus those this build of the algorithm does not define."""
        defined = set(known.get("parameters", {}))
        params = []
        for name, value in step.params:
            if name not in defined:
                print(f"    note: labelguard:{step.alg} has no parameter {name}; not passed")
                continue
            value = self.fill(value)
            if name in ("OUTPUT", "REPORT", "OUTPUT_FOLDER"):
                Path(value if name == "OUTPUT_FOLDER" else os.path.dirname(value)).mkdir(
                    parents=True, exist_ok=True
                )
            params.append((name, value))
        return params


def _shorten(text: str, base: Path) -> str:
    try:
        return os.path.relpath(text, base) if os.path.isabs(text) else text
    except ValueError:
        return text


def _error_lines(proc: subprocess.CompletedProcess) -> str:
    lines = [
        line
        for line in (proc.stderr or "").splitlines()
        if line.strip() and "DeprecationWarning: setapi" not in line
    ]
    return "\n".join(lines[-25:]) or (proc.stdout or "")[-2000:]


def run_step(demo: Demo, step: Step, available: Dict[str, Dict[str, Any]], done: set) -> Outcome:
    missing = [n for n in step.needs if n not in done]
    if step.alg is not None and step.alg not in available:
        return Outcome(step, "not available yet")
    if missing:
        return Outcome(step, "skipped", detail=f"needs {', '.join(missing)}")
    start = time.monotonic()
    if step.action is not None:
        detail = step.action(demo)
        return Outcome(
            step,
            "ok",
            output=demo.fill(step.output),
            seconds=time.monotonic() - start,
            detail=detail,
        )
    assert step.alg is not None
    params = demo.params_for(step, available[step.alg])
    shown = " ".join(f"{k}={_shorten(v, Path.cwd())}" for k, v in params)
    print(f"    qgis_process.bin run {PROVIDER}:{step.alg} -- {shown}")
    proc = demo.qgis.run(step.alg, params)
    seconds = time.monotonic() - start
    if step.expect_failure:
        if proc.returncode != 0 and "Traceback" not in proc.stderr:
            last = _error_lines(proc).splitlines()[-1:] or [""]
            return Outcome(
                step,
                "expected failure",
                counts=f"exit code {proc.returncode}: {last[0].strip()}",
                seconds=seconds,
            )
        if proc.returncode != 0:
            return Outcome(
                step,
                "FAILED",
                counts=f"exit code {proc.returncode}",
                seconds=seconds,
                detail="crashed instead of failing the gate:\n" + _error_lines(proc),
            )
        return Outcome(
            step,
            "FAILED",
            counts="exit code 0",
            seconds=seconds,
            detail="FAIL_ON_ERROR=true should have made qgis_process exit non-zero",
        )
    if proc.returncode != 0:
        return Outcome(
            step,
            "FAILED",
            counts=f"exit code {proc.returncode}",
            seconds=seconds,
            detail=_error_lines(proc),
        )
    try:
        results = json.loads(proc.stdout).get("results", {})
    except ValueError:
        return Outcome(step, "FAILED", seconds=seconds, detail="no JSON on stdout:\n" + proc.stdout)
    counts = ", ".join(f"{k}={_fmt(results.get(k))}" for k in step.counts)
    if step.breakdown and results.get("REPORT"):
        counts += _report_breakdown(Path(results["REPORT"]))
    if step.output in results:
        output = results[step.output]
    else:  # a path template, or a result this build does not return
        output = "" if step.output.isupper() else demo.fill(step.output)
    return Outcome(
        step,
        "ok",
        counts=counts,
        output=str(output or ""),
        seconds=seconds,
        results=results,
    )


def _report_breakdown(path: Path) -> str:
    """`` (modified 2, rewritten 1)`` from a LabelGuard JSON report's ``counts``."""
    try:
        counts = json.loads(path.read_text(encoding="utf-8")).get("counts", {})
    except (OSError, ValueError, AttributeError):
        return ""
    if not isinstance(counts, dict):
        return ""
    parts = [f"{k} {_fmt(v)}" for k, v in sorted(counts.items()) if v and k != "ok"]
    return f" ({', '.join(parts)})" if parts else ""


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "missing" if value is None else str(value)


def print_summary(outcomes: Sequence[Outcome], base: Path) -> None:
    rows = [("step", "algorithm", "status", "key counts", "output", "time")]
    for o in outcomes:
        alg = f"{PROVIDER}:{o.step.alg}" if o.step.alg else "(script)"
        counts = o.counts or o.detail if o.status != "FAILED" else o.counts
        rows.append(
            (
                o.step.name,
                alg,
                o.status,
                counts.splitlines()[0] if counts else "",
                _shorten(o.output, base) if o.output else "",
                f"{o.seconds:.1f}s" if o.seconds else "",
            )
        )
    limits = (20, 30, 18, 64, 40, 8)
    widths = [min(max(len(r[i]) for r in rows), limits[i]) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        cells = (cell[: limits[i]].ljust(widths[i]) for i, cell in enumerate(row))
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--qgis-process", default="/usr/bin/qgis_process.bin")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if not shutil.which(args.qgis_process):
        print(f"{args.qgis_process} not found; run tools/bootstrap.sh", file=sys.stderr)
        return 2

    if out.exists():
        shutil.rmtree(out)
    print(f"== LabelGuard demo -> {_shorten(str(out), Path.cwd())}")
    print("-- sample dataset (tools/make_sample.py)")
    info = make_sample.generate(out / "data", out / "incoming_v2")
    print("   " + make_sample.describe(info).replace("\n", "\n   "))

    scratch = Path(tempfile.mkdtemp(prefix="labelguard-demo-"))
    try:
        qgis = QgisProcess(args.qgis_process, scratch)
        try:
            qgis.enable_plugin()
            available = qgis.algorithms()
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        print(f"-- LabelGuard algorithms in this build: {', '.join(sorted(available)) or 'none'}")
        demo = Demo(out, qgis)
        outcomes: List[Outcome] = []
        done: set = set()
        for step in STEPS:
            print(f"-- {step.name}" + (f" ({step.note})" if step.note else ""))
            outcome = run_step(demo, step, available, done)
            outcomes.append(outcome)
            if outcome.status == "ok":
                done.add(step.name)
            line = outcome.counts or outcome.detail
            label = outcome.status.upper() if outcome.status == "FAILED" else outcome.status
            print(f"   {label}" + (f": {line}" if line and outcome.status != "FAILED" else ""))
            if outcome.status == "FAILED":
                print("   " + outcome.detail.replace("\n", "\n   "), file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print("\n== Summary (paths relative to " + _shorten(str(out), Path.cwd()) + ")")
    print_summary(outcomes, out)
    failed = [o.step.name for o in outcomes if o.status == "FAILED"]
    expected = [o.step.name for o in outcomes if o.status == "expected failure"]
    if expected:
        print(f"\nExpected non-zero exits (CI gates doing their job): {', '.join(expected)}")
    if failed:
        print(f"\nFAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    ran = sorted({o.step.alg for o in outcomes if o.step.alg and o.status != "not available yet"})
    print(f"\nDemo finished: {len(ran)} of {len(ALGORITHM_IDS)} LabelGuard algorithms ran.")
    later = [a for a in ALGORITHM_IDS if a not in ran]
    if later:
        print(f"Not available yet: {', '.join(later)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
