"""Checks that the Python packages core needs are importable, naming the version needed."""

from __future__ import annotations

import importlib

# shapely is imported through core.geos, the one place that decides how (RTLD_DEEPBIND inside
# QGIS); a plain import here would bind it to QGIS's older GEOS for the whole session.
REQUIRED = (
    (".geos", "2.0", "shapely 2.0 or newer"),
    ("pyproj", "3.0", "pyproj 3.0 or newer"),
    ("yaml", "5.1", "PyYAML 5.1 or newer"),
    ("numpy", "1.21", "numpy 1.21 or newer"),
)
# What pip installs for each label of REQUIRED.
_PIP = {
    "shapely 2.0 or newer": '"shapely>=2"',
    "pyproj 3.0 or newer": '"pyproj>=3"',
    "PyYAML 5.1 or newer": '"pyyaml>=5.1"',
    "numpy 1.21 or newer": '"numpy>=1.21"',
}


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def missing_dependencies() -> list[str]:
    """Human-readable list of what is missing or too old; empty when all is well."""
    problems = []
    for module, minimum, label in REQUIRED:
        try:
            mod = importlib.import_module(module, __package__)
            if module == ".geos":
                mod = mod.shapely  # type: ignore[attr-defined]
        except Exception as exc:  # an ImportError, or a broken binary wheel
            problems.append(f"{label} (not importable: {exc})")
            continue
        version = getattr(mod, "__version__", "0")
        if _version_tuple(version) < _version_tuple(minimum):
            problems.append(f"{label} (found {version})")
    return problems


def install_hint(problems: list[str], system: str) -> str:
    """How to install what ``missing_dependencies()`` reported on ``system`` (platform.system():
    "Windows", "Darwin", "Linux"), as one sentence with the command to paste; "" when nothing
    is missing."""
    specs = [spec for label, spec in _PIP.items() if any(p.startswith(label) for p in problems)]
    if not specs:
        return ""
    packages = " ".join(specs)
    if system == "Windows":
        return (
            "Close QGIS, open the OSGeo4W Shell from the Start menu and run: "
            f"python -m pip install --upgrade {packages}"
        )
    if system == "Darwin":
        return (
            "Close QGIS and run in Terminal: /Applications/QGIS.app/Contents/MacOS/bin/python3 "
            f"-m pip install --user --upgrade {packages}"
        )
    return (
        "Close QGIS and run in a terminal: python3 -m pip install --user "
        f"--break-system-packages --upgrade {packages} (on Debian 13, Ubuntu 24.04 or newer, "
        "the distribution's python3-shapely is new enough instead)"
    )
