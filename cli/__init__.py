"""The ``labelguard`` command line: the Processing algorithms' checks over core and gdalio,
without QGIS."""

from __future__ import annotations
