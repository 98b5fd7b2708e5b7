"""Checks that the Python packages core needs are importable, naming the version needed."""

from __future__ import annotations

import importlib
import os
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Callable, Sequence

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


# The folder LabelGuard owns for packages it installs itself, inside the QGIS profile.
DEPS_FOLDER_NAME = "labelguard_deps"
SHAPELY_LABEL = "shapely 2.0 or newer"
# What pip installs into that folder, capped below the next major release LabelGuard never ran
# with. numpy is named only when it is missing too: the install runs with --no-deps, so a numpy
# in the folder never shadows the one QGIS's GDAL bindings were built against.
_TARGET_PIP = {
    SHAPELY_LABEL: "shapely>=2,<3",
    "numpy 1.21 or newer": "numpy>=1.21",
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


def deps_folder(settings_dir: str) -> Path:
    """The folder LabelGuard installs packages into: ``<QGIS profile>/python/labelguard_deps``,
    ``settings_dir`` being QgsApplication.qgisSettingsDirPath()."""
    return Path(settings_dir) / "python" / DEPS_FOLDER_NAME


def add_to_path(folder: Path, path: list[str]) -> bool:
    """Puts ``folder`` first on ``path`` (sys.path), so what LabelGuard installed there wins over
    an older copy elsewhere; only if the folder exists and is not on ``path`` yet. True when it
    was added."""
    entry = str(folder)
    if entry in path or not os.path.isdir(entry):
        return False
    path.insert(0, entry)
    return True


def can_install(problems: list[str]) -> bool:
    """Whether installing into LabelGuard's folder fixes what ``missing_dependencies()`` found:
    shapely is missing or too old, and nothing else is but packages pip installs with it."""
    if not any(p.startswith(SHAPELY_LABEL) for p in problems):
        return False
    return all(any(p.startswith(label) for label in _TARGET_PIP) for p in problems)


def qgis_python(
    executable: str,
    exec_prefix: str,
    system: str,
    version: Sequence[int],
    exists: Callable[[str], bool] = os.path.isfile,
) -> str | None:
    """The Python interpreter of the running QGIS, or None when none is found.

    ``executable``, ``exec_prefix`` and ``version`` are sys.executable, sys.exec_prefix and
    sys.version_info; ``system`` is platform.system(). Inside QGIS on Windows and macOS
    sys.executable is QGIS itself, so the interpreter is looked for beside it and in
    exec_prefix (OSGeo4W: ``apps\\Python312\\python.exe``; macOS: ``Contents/MacOS/bin/python3``).
    """
    pure = PureWindowsPath if system == "Windows" else PurePosixPath
    exe = pure(executable) if executable else None
    prefix = pure(exec_prefix)
    exact = "python{}.{}".format(*version[:2])
    candidates = [exe] if exe is not None and exe.name.lower().startswith("python") else []
    if system == "Windows":
        candidates += [prefix / "python.exe"]
        if exe is not None:
            candidates += [exe.parent / "python.exe", exe.parent / "python3.exe"]
    elif system == "Darwin":
        if exe is not None:
            candidates += [exe.parent / "bin" / exact, exe.parent / "bin" / "python3"]
        candidates += [prefix / "bin" / exact, prefix / "bin" / "python3"]
    else:
        if exe is not None:
            candidates += [exe.parent / exact]
        candidates += [prefix / "bin" / exact]
    for candidate in candidates:
        if exists(str(candidate)):
            return str(candidate)
    return None


def pip_install_command(python: str, folder: Path, problems: list[str]) -> list[str]:
    """The command line that installs into ``folder`` what ``problems`` names (see
    ``can_install``). Wheels only, no cache, no dependencies beyond those named: pip writes
    nothing outside ``folder``, and compiles nothing."""
    specs = [
        spec for label, spec in _TARGET_PIP.items() if any(p.startswith(label) for p in problems)
    ]
    return [
        python,
        "-m",
        "pip",
        "install",
        "--target",
        str(folder),
        "--upgrade",
        "--no-deps",
        "--only-binary=:all:",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--no-input",
        *specs,
    ]
