"""The LabelGuard dock panel: hash status and version lineage of loaded layers."""

from __future__ import annotations
