"""QGIS entry point: classFactory only; the plugin module is imported lazily."""

from __future__ import annotations


def classFactory(iface):  # noqa: N802 (QGIS API)
    from .plugin import LabelGuardPlugin

    return LabelGuardPlugin(iface)
