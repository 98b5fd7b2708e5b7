"""Every dock and panel test runs with the layer tree view desktop QGIS has (tests/conftest.py):
QGIS 3.40+ loads toolbox results through iface.layerTreeView()."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _layer_tree_view(layer_tree_view):
    return layer_tree_view
