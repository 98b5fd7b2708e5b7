"""Map styles for LabelGuard's result layers, shared by the Processing algorithms (applied on
load through a post-processor) and the dock (applied to layers it loads itself). QGIS rendering
only: imports qgis.core and qgis.PyQt, never the algorithms, the dock or qgis.gui."""

from __future__ import annotations
