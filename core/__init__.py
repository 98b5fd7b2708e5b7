"""LabelGuard's domain logic: pure Python, never imports QGIS or Qt."""

from __future__ import annotations
