"""LabelGuard's QGIS-free data layer: reads and writes data files with GDAL/OGR only.

It opens a file once and returns typed facts (``facts``), streams vector layers in Arrow
batches (``vector``), measures files into core inputs (``observe``), writes training tiles
(``tiles``) and an export's provenance (``provenance``). GDAL failures become LabelGuard's
errors here. What a fact means is policy and lives in ``core``; QGIS lives above, in
``processing_provider`` and ``ui``. The command line and cluster workers use core + this layer.
"""

from __future__ import annotations
