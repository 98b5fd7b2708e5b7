"""Turns QGIS map layers into the file paths core works on, with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

from qgis.core import QgsMapLayer, QgsProcessingException, QgsProviderRegistry
from qgis.PyQt.QtCore import QCoreApplication

FILE_PROVIDERS = ("ogr", "gdal")


def _tr(text: str) -> str:
    return QCoreApplication.translate("LabelGuardLayers", text)


def layer_file(layer: QgsMapLayer) -> Tuple[Path, Optional[str]]:
    """(file path, layer name inside the file or None) of a file-backed layer.

    Raises QgsProcessingException naming the layer for memory, database and web layers, and
    for files that have vanished since the layer was loaded.
    """
    provider = layer.providerType()
    if provider not in FILE_PROVIDERS:
        kind = {
            "memory": _tr("a temporary (memory) layer"),
            "postgres": _tr("a PostGIS layer"),
            "wfs": _tr("a WFS layer"),
            "wms": _tr("a web map layer"),
        }.get(provider, _tr("a '{}' layer").format(provider))
        raise QgsProcessingException(
            _tr(
                "Layer '{name}' is {kind} and has no data file to hash or describe. Save it "
                "to a file first (right-click › Export › Save Features As…)."
            ).format(name=layer.name(), kind=kind)
        )
    parts = QgsProviderRegistry.instance().decodeUri(provider, layer.source())
    path = parts.get("path") or ""
    if not path:
        raise QgsProcessingException(
            _tr("Layer '{}' has no data file (source: {}).").format(layer.name(), layer.source())
        )
    p = Path(path)
    if not p.exists():
        raise QgsProcessingException(
            _tr("The file of layer '{}' no longer exists: {}").format(layer.name(), path)
        )
    return p, (parts.get("layerName") or None)
