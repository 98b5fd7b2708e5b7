"""One function per command: the same calls into core and gdalio as the matching algorithm,
then the same report. Each returns an ``Outcome``; ``main`` prints it and picks the exit code."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..core.crs import area_unit_of, ellipsoid_of
from ..core.crs_checks import RASTER, VECTOR, check_crs, write_crs_report
from ..core.errors import InputError
from ..core.lineage import newest_manifest, next_version_label
from ..core.manifest import read_manifest
from ..core.report import tool_id, write_report
from ..core.topology import DEFAULT_RULES, RULES, check_topology_batches
from ..core.topology.exceptions import exceptions_path_for
from ..core.topology.findings import report_extra
from ..core.topology.rules import OVERLAY_RULES
from ..core.versioning import diff_outcome, verify_outcome
from ..gdalio.crs_records import file_record
from ..gdalio.error_layers import write_error_layers
from ..gdalio.facts import detect_kind
from ..gdalio.provenance import creator_versions
from ..gdalio.sidecars import plan_sidecar, write_sidecar
from ..gdalio.topology_inputs import layer_facts, read_exceptions, read_layer, read_overlay
from ..gdalio.versioning import make_manifest, run_diff, run_verify
from .terminal import Terminal

Source = Tuple[Path, Optional[str]]
MAX_LINES = 20  # findings listed on stderr; the report holds all


@dataclass
class Outcome:
    """The results (as the algorithm returns them), how many findings FAIL_ON_ERROR counts,
    and the one line printed when it fails."""

    results: Dict[str, Any]
    failures: int = 0
    failure_message: str = ""
    warnings: List[str] = field(default_factory=list)


def parse_source(text: str) -> Source:
    """``path`` or ``path|layername=NAME`` (the qgis_process spelling) as (path, layer)."""
    path, _, rest = text.partition("|")
    layer = None
    for part in rest.split("|") if rest else []:
        key, _, value = part.partition("=")
        if key.strip().lower() != "layername":
            raise InputError(f"'{text}': only '|layername=NAME' may follow the path.")
        layer = value.strip() or None
    return Path(path), layer


def parse_rules(values: Optional[List[str]]) -> List[str]:
    """Rule names from repeated or comma-separated --rules; the algorithm's default rules
    when none is given."""
    if not values:
        return list(DEFAULT_RULES)
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise InputError(
            f"--rules: unknown rule(s) {', '.join(unknown)}; choose from {', '.join(RULES)}."
        )
    return names


def _sources(values: List[str]) -> List[Source]:
    out: List[Source] = []
    for text in values:
        source = parse_source(text)
        if not source[0].exists():
            raise InputError(f"LAYERS: the file '{source[0]}' does not exist.")
        if source not in out:
            out.append(source)
    return out


def _errors_target(args: argparse.Namespace, path: Path) -> Optional[Path]:
    """The --errors GeoPackage, refused when it is one of the inputs or the report."""
    if not args.errors:
        return None
    target = Path(args.errors)
    if target.suffix.lower() != ".gpkg":
        raise InputError(f"--errors: {target} is not a .gpkg file name; give e.g. errors.gpkg.")
    inputs = {"INPUT": str(path), "--report": args.report}
    if args.overlay:
        inputs["--overlay"] = str(parse_source(args.overlay)[0])
    if args.exceptions:
        inputs["--exceptions"] = args.exceptions
    for what, other in inputs.items():
        if other and os.path.realpath(other) == os.path.realpath(target):
            raise InputError(
                f"--errors {target} is the {what} file; writing there would overwrite it. "
                "Choose another file."
            )
    if target.is_dir():
        raise InputError(f"--errors: {target} is a folder; give a .gpkg file name.")
    return target


def validate(args: argparse.Namespace, term: Terminal) -> Outcome:
    path, layer = parse_source(args.input)
    rules = parse_rules(args.rules)
    errors_target = _errors_target(args, path)
    number = {
        "tolerance": args.tolerance,
        "min_area": args.min_area,
        "max_gap_area": args.max_gap_area,
        "near_duplicate_iou": args.near_duplicate_iou,
        "sliver_compactness": args.sliver_compactness,
        "snap_tolerance": args.snap_tolerance,
    }
    if _wants_cluster(args):  # the workers read the features; here only name, CRS and count
        inp = layer_facts(str(path), layer or args.layer)
    else:
        inp = read_layer(str(path), layer or args.layer, should_stop=term.should_stop)
    overlay = overlay_fids = None
    asked = [r for r in RULES if r in OVERLAY_RULES and r in rules]
    if args.overlay and not asked:
        raise InputError(
            "--overlay is given but no overlay rule is chosen in --rules: choose "
            "must_be_inside and/or must_not_overlap_with, or leave --overlay out."
        )
    if asked and not args.overlay:
        term.info(f"warning: no --overlay: {', '.join(asked)} skipped.")
    if args.overlay:
        o_path, o_layer = parse_source(args.overlay)
        overlay, overlay_fids = read_overlay(
            str(o_path), o_layer, inp.crs_wkt, should_stop=term.should_stop
        )
    exceptions_file = args.exceptions
    if not exceptions_file and exceptions_path_for(path).is_file():  # as the algorithm does
        exceptions_file = str(exceptions_path_for(path))
        term.info(f"Accepted exceptions from {exceptions_file}")
    exceptions = read_exceptions(exceptions_file) if exceptions_file else []
    ellipsoid = ellipsoid_of(inp.crs_wkt) if inp.crs_wkt else None
    options = dict(
        area_unit=area_unit_of(inp.crs_wkt) if inp.crs_wkt else "",
        overlay=overlay,
        overlay_fids=overlay_fids,
        exceptions=exceptions,
        ellipsoid=ellipsoid,
        **number,
    )
    client = _cluster(args)
    progress = term.stage(f"Checking {inp.count} features")
    if client is None:
        result = check_topology_batches(
            iter(inp.batches),
            rules,
            total=inp.count,
            progress=progress,
            should_stop=term.should_stop,
            **options,
        )
    else:
        from ..cluster.topology import check_topology_file

        result = check_topology_file(
            client,
            str(path),
            inp.name,
            rules,
            partitions=args.partitions,
            progress=progress,
            should_stop=term.should_stop,
            **options,
        )
    term.progress(1.0)
    if args.report:
        # Named as QGIS names a layer loaded from a file: the file name without extension.
        extra = report_extra(
            path.stem, inp.crs, result, rules, number, ellipsoid is not None, options["area_unit"]
        )
        findings = [f.to_dict() for f in result.findings]
        write_report(args.report, tool_id("validatetopology"), findings, result.counts, extra)
    if errors_target is not None:
        written = write_error_layers(errors_target, result.findings, inp.crs_wkt)
        term.info(
            f"Error layers in {errors_target}: "
            + ", ".join(f"{name} ({n})" for name, n in written.items())
        )
    results = {
        "ERROR_COUNT": result.error_count,
        "CHECKED_COUNT": result.checked,
        "EXCEPTION_COUNT": result.exception_count,
        "REPORT": args.report or None,
        "ERRORS": str(errors_target) if errors_target is not None else None,
    }
    return Outcome(
        results,
        result.error_count,
        f"{result.error_count} topology error(s) found (--fail-on-error is set).",
    )


def checkcrs(args: argparse.Namespace, term: Terminal) -> Outcome:
    records = []
    for path, layer in _sources(args.layers):
        kind = detect_kind(path)
        if kind not in (RASTER, VECTOR):
            raise InputError(f"LAYERS: '{path}' is neither a raster nor a vector dataset.")
        name = path.stem if layer is None else f"{path.stem} {layer}"
        records.append(file_record(name, str(path), kind, layer))
    expected = args.expected_crs
    if expected and expected.upper().startswith("EPSG:"):
        expected = expected.upper()
    result = check_crs(
        records,
        expected=expected,
        require_projected=args.require_projected,
        progress=term.stage("Checking CRS rules"),
        should_stop=term.should_stop,
    )
    if args.report:
        write_crs_report(args.report, result, records, expected, args.require_projected)
    for f in result.findings[:MAX_LINES]:
        term.info(f"{f.severity}: {f.rule}: {f.message}")
    rules = sorted({f.rule for f in result.findings if f.severity == "error"})
    results = {
        "ISSUE_COUNT": len(result.findings),
        "ERROR_COUNT": result.error_count,
        "CHECKED_COUNT": result.checked,
        "REPORT": args.report or None,
    }
    return Outcome(
        results, result.error_count, f"{result.error_count} CRS errors ({', '.join(rules)})"
    )


def sidecars(args: argparse.Namespace, term: Terminal) -> Outcome:
    sources = _sources(args.layers)
    folder = Path(args.output_folder) if args.output_folder else None
    planned = []
    progress = term.stage(f"Describing {len(sources)} files")
    for i, (path, layer) in enumerate(sources):
        target, data, desc = plan_sidecar(
            path, layer, folder, args.class_field, should_stop=term.should_stop
        )
        if desc.crs is None:
            term.info(f"warning: {path.name} has no CRS; the sidecar records crs: null.")
        planned.append((target, data))
        progress((i + 1) / len(sources))
    written = []
    for target, data in planned:
        state = "written" if write_sidecar(target, data) else "unchanged"
        term.info(f"{state}: {target}")
        written.append(str(target))
    return Outcome({"SIDECARS": written, "COUNT": len(written)})


def manifest_build(args: argparse.Namespace, term: Terminal) -> Outcome:
    out = Path(args.output)
    root = Path(args.dataset_root) if args.dataset_root else out.parent
    parent = Path(args.parent) if args.parent else None
    if parent is None and not args.new_history:  # as buildmanifest: one step to the next
        parent = newest_manifest(out.parent)
        if parent is not None:
            term.info(f"Parent: the newest manifest there, {parent}")
    if parent is not None and os.path.abspath(parent) == os.path.abspath(out):
        raise InputError(
            f"The output manifest is the parent manifest {out}; choose a new file name so the "
            "parent version is kept."
        )
    version = (args.version or "").strip()
    if not version:
        previous = None if parent is None else read_manifest(parent)["version"]
        version = next_version_label(previous or "")
        term.info(f"Version label: {version}")
    sources = _sources(args.layers)
    client = _cluster(args)
    hasher = content = None
    if client is not None:
        from ..cluster.hashing import dask_hasher, dask_vector_content

        hasher, content = dask_hasher(client), dask_vector_content(client)
    doc, digest, refreshed = make_manifest(
        sources,
        root=root,
        manifest_path=out,
        version=version,
        parent=parent,
        keep_index=args.feature_index,
        creator=creator_versions(),
        refresh_sidecars=args.refresh_sidecars,
        progress=term.stage(f"Hashing {len(sources)} data files"),
        should_stop=term.should_stop,
        hasher=hasher,
        content=content,
    )
    for side in refreshed:
        term.info(f"sidecar exported again: {side}")
    for entry in doc["entries"]:
        if entry["sidecar"] is None and entry["kind"] != "file":
            term.info(f"warning: {entry['path']} has no sidecar next to it.")
    return Outcome(
        {"OUTPUT": str(out), "MANIFEST_SHA256": digest, "ENTRY_COUNT": len(doc["entries"])}
    )


def manifest_verify(args: argparse.Namespace, term: Terminal) -> Outcome:
    manifest = Path(args.manifest)
    verify = run_verify
    client = _cluster(args)
    if client is not None:
        from ..cluster.hashing import dask_verify

        def verify(*a, **k):
            return dask_verify(client, *a, **k)

    statuses, chain = verify(
        manifest,
        args.scan_untracked,
        progress=term.stage(f"Verifying {manifest.name}"),
        should_stop=term.should_stop,
    )
    outcome = verify_outcome(manifest, statuses, chain)
    if args.report:
        write_report(
            args.report, tool_id("verifymanifest"), outcome.findings, outcome.counts, outcome.extra
        )
    shown = [r for r in outcome.rows if r["status"] != "ok"]
    for row in shown[:MAX_LINES]:
        term.info(f"{row['status']}: {row['path']}: {row['message']}")
    if len(shown) > MAX_LINES:
        term.info(f"... and {len(shown) - MAX_LINES} more (see --report)")
    results = {
        "OK_COUNT": outcome.ok,
        "MISMATCH_COUNT": outcome.mismatch,
        "REWRITTEN_COUNT": outcome.counts["rewritten"],
        "CHAIN_OK": 1 if outcome.chain_ok else 0,
        "REPORT": args.report or None,
    }
    return Outcome(
        results,
        outcome.failures,
        f"Dataset does not match manifest {manifest.name}: {', '.join(outcome.problems)}.",
    )


def manifest_diff(args: argparse.Namespace, term: Terminal) -> Outcome:
    base, head = Path(args.base), Path(args.head)
    id_field = (args.id_field or "").strip() or None
    rows, _wkbs, _crs, per_entry, versions = run_diff(
        base,
        head,
        id_field,
        args.iou_threshold,
        progress=term.stage("Comparing versions"),
        should_stop=term.should_stop,
    )
    outcome = diff_outcome(base, head, id_field, rows, per_entry, versions, args.iou_threshold)
    if args.report:
        write_report(
            args.report, tool_id("diffversions"), outcome.findings, outcome.counts, outcome.extra
        )
    return Outcome({**outcome.results, "REPORT": args.report or None})


def _wants_cluster(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "workers", None) or getattr(args, "scheduler", None))


def _cluster(args: argparse.Namespace):
    """A dask.distributed client for --workers / --scheduler, else None."""
    if not _wants_cluster(args):
        return None
    from ..cluster.client import connect

    return connect(workers=args.workers, scheduler=args.scheduler)
