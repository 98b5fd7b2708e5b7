"""``labelguard``: argument parsing, one line per error, exit codes for CI.

Exit codes: 0 done (findings are fine without --fail-on-error), 1 findings with
--fail-on-error, 2 usage error (a wrong option), 3 input error (a file missing or unreadable, a
bad value), 130 cancelled (Ctrl-C or SIGTERM; nothing was written).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Dict, List, Optional

from ..core.diff import DEFAULT_IOU
from ..core.errors import Cancelled, LabelGuardError
from ..core.topology import (
    DEFAULT_RULES,
    NEAR_DUPLICATE_IOU,
    RULES,
    SLIVER_COMPACTNESS,
    SNAP_TOLERANCE,
)
from ..core.version import plugin_version
from .terminal import Terminal

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_CANCELLED = 130

EPILOG = (
    "Exit codes: 0 done, 1 findings with --fail-on-error, 2 usage error, 3 input error, "
    "130 cancelled. Results are printed to stdout as JSON; progress goes to stderr when it is "
    "a terminal."
)


def _common() -> argparse.ArgumentParser:
    """Options every command takes."""
    p = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's default must not undo a -q given before it.
    p.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no messages"
    )
    return p


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        if kwargs.get("prog", "labelguard") != "labelguard":  # every subcommand takes -q
            kwargs.setdefault("parents", [_common()])
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # one line, then exit 2 (argparse's own code)
        self.exit(EXIT_USAGE, f"labelguard: error: {message} (see {self.prog} --help)\n")


def _report_and_fail(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--report", metavar="FILE", help=f"write a labelguard.report/1 JSON report of {what}"
    )
    p.add_argument(
        "--fail-on-error",
        action="store_true",
        help="exit with code 1 when there are findings (after writing the report): a CI gate",
    )


def _cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Dask cluster (needs dask.distributed)")
    g.add_argument("--workers", type=int, metavar="N", help="run on a local cluster of N workers")
    g.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask scheduler at ADDRESS")


def _add_validate(sub) -> None:
    p = sub.add_parser(
        "validate",
        help="topology and geometry rules on one annotation layer (validatetopology)",
        description="Topology and geometry rules on one vector layer, as "
        "labelguard:validatetopology: " + ", ".join(RULES) + ". Areas are in layer units "
        "squared, or square metres for a geographic layer.",
        epilog=EPILOG,
    )
    p.add_argument("input", metavar="INPUT", help="vector file, or 'file|layername=NAME'")
    p.add_argument("--layer", help="layer inside INPUT (default: the first)")
    p.add_argument(
        "--rules",
        action="append",
        metavar="RULE[,RULE]",
        help="rules to check, repeated or comma-separated (default: "
        + ",".join(DEFAULT_RULES)
        + ")",
    )
    number = [
        ("--tolerance", 0.0, "overlaps up to this area are accepted"),
        ("--min-area", 0.0, "polygons smaller than this are min_area findings (0: off)"),
        ("--max-gap-area", 0.0, "only gaps up to this area are reported (0: any size)"),
        ("--near-duplicate-iou", NEAR_DUPLICATE_IOU, "IoU from which an overlap is a near dup."),
        ("--sliver-compactness", SLIVER_COMPACTNESS, "compactness below which it is a sliver"),
        ("--snap-tolerance", SNAP_TOLERANCE, "a line end this close to a line touches it"),
    ]
    for flag, default, text in number:
        p.add_argument(flag, type=float, default=default, help=f"{text} (default {default})")
    p.add_argument("--overlay", metavar="FILE", help="polygons for must_be_inside/_not_overlap")
    p.add_argument(
        "--exceptions",
        metavar="FILE",
        help="accepted exceptions (report, CSV, layer); default: "
        "<INPUT>.labelguard-exceptions.json when it exists",
    )
    p.add_argument(
        "--partitions",
        type=int,
        metavar="N",
        help="with a cluster: number of spatial partitions (default: 4 per worker)",
    )
    p.add_argument(
        "--errors",
        metavar="FILE.gpkg",
        help="write the findings as a GeoPackage error layer (layers errors, errors_points, "
        "errors_lines: the location geometry with rule, severity, fid, other_fid, message, "
        "is_exception, key, as validatetopology's error layers); replaced atomically, never "
        "an input",
    )
    _report_and_fail(p, "every finding")
    _cluster_options(p)
    p.set_defaults(func="validate")


def _add_checkcrs(sub) -> None:
    p = sub.add_parser(
        "checkcrs",
        help="CRS rules across raster and vector layers (checkcrs)",
        description="CRS rules across the raster and vector files of a dataset, as "
        "labelguard:checkcrs. The CRS is read from each file, never assumed.",
        epilog=EPILOG,
    )
    p.add_argument("layers", nargs="+", metavar="LAYER", help="raster or vector files")
    p.add_argument("--expected-crs", metavar="CRS", help="e.g. EPSG:32633 (default: all agree)")
    p.add_argument("--require-projected", action="store_true", help="report layers in degrees")
    _report_and_fail(p, "every finding")
    p.set_defaults(func="checkcrs")


def _add_sidecars(sub) -> None:
    p = sub.add_parser(
        "sidecars",
        help="one deterministic YAML sidecar per data file (exportsidecars)",
        description="Write <file>.labelguard.yaml per data file, as labelguard:exportsidecars.",
        epilog=EPILOG,
    )
    p.add_argument("layers", nargs="+", metavar="LAYER", help="raster or vector files")
    p.add_argument("--output-folder", metavar="DIR", help="default: next to each data file")
    p.add_argument("--class-field", metavar="FIELD", help="field for per-class counts")
    p.set_defaults(func="sidecars")


def _add_manifest(sub) -> None:
    m = sub.add_parser(
        "manifest",
        help="version manifests: build, verify, diff",
        description="Version manifests (buildmanifest, verifymanifest, diffversions).",
        epilog=EPILOG,
    )
    msub = m.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    b = msub.add_parser(
        "build",
        help="a manifest over data files",
        description="As labelguard:buildmanifest.",
        epilog=EPILOG,
    )
    b.add_argument("layers", nargs="+", metavar="LAYER", help="data files of this version")
    b.add_argument("--output", required=True, metavar="FILE", help="the manifest to write")
    b.add_argument("--version", help="version label (default: the next after the parent's)")
    b.add_argument(
        "--parent",
        metavar="FILE",
        help="manifest of the previous version (default: the newest in the output folder)",
    )
    b.add_argument(
        "--new-history", action="store_true", help="no parent, even if a manifest is there"
    )
    b.add_argument(
        "--no-refresh-sidecars",
        dest="refresh_sidecars",
        action="store_false",
        help="refuse stale sidecars instead of exporting them again",
    )
    b.add_argument("--dataset-root", metavar="DIR", help="default: the manifest's folder")
    b.add_argument(
        "--no-feature-index",
        dest="feature_index",
        action="store_false",
        help="do not store per-feature hashes (diff then cannot name features)",
    )
    _cluster_options(b)
    b.set_defaults(func="manifest_build")
    v = msub.add_parser(
        "verify",
        help="re-hash and compare",
        description="As labelguard:verifymanifest.",
        epilog=EPILOG,
    )
    v.add_argument("manifest", metavar="MANIFEST")
    v.add_argument(
        "--no-scan-untracked",
        dest="scan_untracked",
        action="store_false",
        help="do not report data files the manifest does not list",
    )
    _report_and_fail(v, "every entry's status")
    _cluster_options(v)
    v.set_defaults(func="manifest_verify")
    d = msub.add_parser(
        "diff",
        help="what changed between two manifests",
        description="As labelguard:diffversions.",
        epilog=EPILOG,
    )
    d.add_argument("base", metavar="BASE", help="manifest of the older version")
    d.add_argument("head", metavar="HEAD", help="manifest of the newer version")
    d.add_argument("--id-field", metavar="FIELD", help="attribute that identifies a feature")
    d.add_argument(
        "--iou-threshold",
        type=float,
        default=DEFAULT_IOU,
        help=f"without an ID field: IoU from which two geometries match (default {DEFAULT_IOU})",
    )
    d.add_argument("--report", metavar="FILE", help="write a labelguard.report/1 JSON report")
    d.set_defaults(func="manifest_diff")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="labelguard",
        description="LabelGuard's checks without QGIS: the same rules, reports and manifests "
        "as the QGIS Processing algorithms.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"labelguard {plugin_version()}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no messages on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub._parser_class = _Parser  # subcommands report usage errors on one line too
    for add in (_add_validate, _add_checkcrs, _add_sidecars, _add_manifest):
        add(sub)
    return parser


def run(argv: Optional[List[str]] = None, term: Optional[Terminal] = None) -> int:
    args = build_parser().parse_args(argv)
    term = term or Terminal(quiet=args.quiet)
    term.install_signals()
    try:
        # Imported here: without GDAL's Python bindings this is a one-line error, not a trace.
        from . import commands

        func: Callable[..., commands.Outcome] = getattr(commands, args.func)
        outcome = func(args, term)
    except Cancelled:
        return _fail(EXIT_CANCELLED, "Cancelled; nothing was written.")
    except KeyboardInterrupt:
        return _fail(EXIT_CANCELLED, "Cancelled; nothing was written.")
    except LabelGuardError as exc:
        return _fail(EXIT_INPUT, str(exc))
    except OSError as exc:
        where = exc.filename if exc.filename is not None else ""
        return _fail(EXIT_INPUT, f"Cannot read or write {where}: {exc.strerror or exc}")
    except ImportError as exc:
        return _fail(EXIT_INPUT, _missing(exc))
    sys.stdout.write(json.dumps(_printable(outcome.results), indent=2) + "\n")
    if outcome.failures and getattr(args, "fail_on_error", False):
        return _fail(EXIT_FINDINGS, outcome.failure_message)
    return EXIT_OK


def _missing(exc: ImportError) -> str:
    """What to install for a missing module."""
    name = (exc.name or "").split(".")[0]
    hint = {
        "osgeo": "GDAL's Python bindings: apt install python3-gdal, or "
        "pip install GDAL==$(gdal-config --version)",
        "distributed": "dask.distributed: pip install 'labelguard[dask]'",
        "dask": "dask.distributed: pip install 'labelguard[dask]'",
    }.get(name, f"the Python package '{name}'")
    return f"{exc}; install {hint}"


def _printable(results: Dict[str, object]) -> Dict[str, object]:
    return {k: v for k, v in results.items() if v is not None}


def _fail(code: int, message: str) -> int:
    sys.stderr.write(f"labelguard: {message}\n")
    return code


def main() -> int:
    """Console-script entry point."""
    return run()
