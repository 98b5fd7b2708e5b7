"""core.deps: what is missing, and how to install it on the user's platform."""

from __future__ import annotations

from pathlib import Path

import pytest
from labelguard.core.deps import (
    add_to_path,
    can_install,
    deps_folder,
    install_hint,
    missing_dependencies,
    pip_install_command,
    qgis_python,
)


def test_nothing_missing_in_the_test_environment():
    assert missing_dependencies() == []
    assert install_hint([], "Linux") == ""


@pytest.mark.parametrize(
    ("system", "hint"),
    [
        (
            "Windows",
            "Close QGIS, open the OSGeo4W Shell from the Start menu and run: "
            'python -m pip install --upgrade "shapely>=2"',
        ),
        (
            "Darwin",
            "Close QGIS and run in Terminal: /Applications/QGIS.app/Contents/MacOS/bin/python3 "
            '-m pip install --user --upgrade "shapely>=2"',
        ),
        (
            "Linux",
            "Close QGIS and run in a terminal: python3 -m pip install --user "
            '--break-system-packages --upgrade "shapely>=2" (on Debian 13, Ubuntu 24.04 or '
            "newer, the distribution's python3-shapely is new enough instead)",
        ),
    ],
    ids=["windows", "macos", "linux"],
)
def test_install_hint_for_an_old_shapely(system, hint):
    assert install_hint(["shapely 2.0 or newer (found 1.8.5)"], system) == hint


def test_install_hint_names_every_missing_package():
    problems = [
        "shapely 2.0 or newer (not importable: No module named 'shapely')",
        "PyYAML 5.1 or newer (found 3.13)",
    ]
    assert install_hint(problems, "Windows").endswith(
        'python -m pip install --upgrade "shapely>=2" "pyyaml>=5.1"'
    )


OLD_SHAPELY = ["shapely 2.0 or newer (found 1.8.5)"]
PIP_FLAGS = [
    "--upgrade",
    "--no-deps",
    "--only-binary=:all:",
    "--no-cache-dir",
    "--disable-pip-version-check",
    "--no-input",
]


@pytest.mark.parametrize(
    ("settings_dir", "folder"),
    [
        (
            "/home/ana/.local/share/QGIS/QGIS3/profiles/default/",
            "/home/ana/.local/share/QGIS/QGIS3/profiles/default/python/labelguard_deps",
        ),
        ("/tmp/profile", "/tmp/profile/python/labelguard_deps"),
    ],
    ids=["trailing-slash", "plain"],
)
def test_deps_folder_is_in_the_profile(settings_dir, folder):
    assert deps_folder(settings_dir) == Path(folder)


def test_add_to_path_puts_the_folder_first_once(tmp_path):
    folder = tmp_path / "python" / "labelguard_deps"
    path = ["/usr/lib/python3/dist-packages"]
    assert add_to_path(folder, path) is False  # not installed yet: sys.path stays as it is
    assert path == ["/usr/lib/python3/dist-packages"]
    folder.mkdir(parents=True)
    assert add_to_path(folder, path) is True
    assert add_to_path(folder, path) is False
    assert path == [str(folder), "/usr/lib/python3/dist-packages"]


@pytest.mark.parametrize(
    ("executable", "exec_prefix", "system", "files", "python"),
    [
        (
            r"C:\OSGeo4W\bin\qgis-bin.exe",
            r"C:\OSGeo4W\apps\Python312",
            "Windows",
            {r"C:\OSGeo4W\apps\Python312\python.exe", r"C:\OSGeo4W\bin\python.exe"},
            r"C:\OSGeo4W\apps\Python312\python.exe",
        ),
        (
            r"C:\Program Files\QGIS 3.40\bin\qgis-ltr-bin.exe",
            r"C:\Program Files\QGIS 3.40\apps\Python312",
            "Windows",
            {r"C:\Program Files\QGIS 3.40\bin\python3.exe"},
            r"C:\Program Files\QGIS 3.40\bin\python3.exe",
        ),
        (
            "/Applications/QGIS.app/Contents/MacOS/QGIS",
            "/Applications/QGIS.app/Contents/Frameworks",
            "Darwin",
            {"/Applications/QGIS.app/Contents/MacOS/bin/python3"},
            "/Applications/QGIS.app/Contents/MacOS/bin/python3",
        ),
        (
            "/usr/bin/qgis",
            "/usr",
            "Linux",
            {"/usr/bin/python3.12", "/usr/bin/python3"},
            "/usr/bin/python3.12",
        ),
        ("/usr/bin/python3", "/usr", "Linux", {"/usr/bin/python3"}, "/usr/bin/python3"),
        ("/opt/qgis/bin/qgis", "/opt/qgis", "Linux", set(), None),
    ],
    ids=["osgeo4w", "standalone-windows", "macos", "linux-qgis", "linux-python", "not-found"],
)
def test_qgis_python_beside_qgis(executable, exec_prefix, system, files, python):
    assert qgis_python(executable, exec_prefix, system, (3, 12), files.__contains__) == python


@pytest.mark.parametrize(
    ("python", "folder"),
    [
        (
            r"C:\OSGeo4W\apps\Python312\python.exe",
            r"C:\Users\ana\AppData\Roaming\QGIS\QGIS3\profiles\default\python\labelguard_deps",
        ),
        (
            "/Applications/QGIS.app/Contents/MacOS/bin/python3",
            "/Users/ana/Library/Application Support/QGIS/QGIS3/profiles/default/python/"
            "labelguard_deps",
        ),
        ("/usr/bin/python3.12", "/home/ana/.local/share/QGIS/QGIS3/profiles/default/python/x"),
    ],
    ids=["windows", "macos", "linux"],
)
def test_pip_command_installs_into_the_folder_only(python, folder):
    assert pip_install_command(python, folder, OLD_SHAPELY) == [
        python,
        "-m",
        "pip",
        "install",
        "--target",
        folder,
        *PIP_FLAGS,
        "shapely>=2,<3",
    ]


def test_pip_command_adds_numpy_only_when_it_is_missing():
    problems = [*OLD_SHAPELY, "numpy 1.21 or newer (found 1.19.5)"]
    command = pip_install_command("python3", "/p", problems)
    assert command[-2:] == ["shapely>=2,<3", "numpy>=1.21"]


@pytest.mark.parametrize(
    ("problems", "ok"),
    [
        (OLD_SHAPELY, True),
        ([*OLD_SHAPELY, "numpy 1.21 or newer (found 1.19.5)"], True),
        ([*OLD_SHAPELY, "pyproj 3.0 or newer (found 2.6.1)"], False),
        (["PyYAML 5.1 or newer (found 3.13)"], False),
        ([], False),
    ],
    ids=["shapely", "shapely-numpy", "shapely-pyproj", "yaml-only", "nothing"],
)
def test_can_install_only_what_pip_fixes_in_the_folder(problems, ok):
    assert can_install(problems) is ok
