"""Processing adapters: QGIS layers in, core calls, QGIS outputs back."""

from __future__ import annotations
