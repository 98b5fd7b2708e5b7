"""core.deps: what is missing, and how to install it on the user's platform."""

from __future__ import annotations

import pytest
from labelguard.core.deps import install_hint, missing_dependencies


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
