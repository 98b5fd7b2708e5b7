"""QGIS layers to core inputs: the file behind a layer, and a layer's geometries as WKB batches
(read in bulk through the data layer when OGR gives the same features, else through QGIS)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np
from qgis.core import (
    QgsFeatureRequest,
    QgsMapLayer,
    QgsProcessingException,
    QgsProcessingFeatureSource,
    QgsProviderRegistry,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QCoreApplication

from ..core.errors import Cancelled
from ..core.wkb import WkbArray
from ..gdalio.vector import open_vector, read_ogr

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


# OGR drivers whose OGR FIDs are the feature ids QGIS shows, so "selected features only" can be
# applied to OGR's output. Others (GeoJSON, CSV, ...) may number features differently.
_FID_SAFE_STORAGE = ("GPKG", "ESRI Shapefile", "FlatGeobuf")


def _ogr_fast_path(layer) -> Optional[tuple]:
    """(path, layer name or index, where) when ``layer`` can be read straight through OGR with
    the same features and ids QGIS gives; None when QGIS's own iterator must be used."""
    if not isinstance(layer, QgsVectorLayer) or not layer.isValid():
        return None
    if layer.providerType() != "ogr" or layer.isModified():  # unsaved edits live in QGIS only
        return None
    if layer.dataProvider().storageType() not in _FID_SAFE_STORAGE:
        return None
    if QgsWkbTypes.isCurvedType(layer.wkbType()):  # GEOS/shapely read no curves
        return None
    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    path = parts.get("path")
    if not path or parts.get("geometryType") or parts.get("subset"):
        return None
    where = (layer.subsetString() or "").strip()
    if where.lower().startswith("select"):  # a full SQL statement, not an attribute filter
        return None
    name = parts.get("layerName") or None
    if name is None and parts.get("layerId") not in (None, ""):
        name = int(parts["layerId"])
    return str(path), name, where or None


def _ogr_layer_name(path: str, name) -> Optional[str]:
    if isinstance(name, int):
        ds, lyr = open_vector(path)
        lyr = ds.GetLayer(name)
        found = lyr.GetName() if lyr is not None else None
        del lyr, ds
        return found
    return name


def ogr_source(layer) -> Optional[Tuple[str, Optional[str], Optional[str]]]:
    """(path, layer name inside the file or None, OGR attribute filter or None) when OGR reads
    the same features with the same ids as QGIS from ``layer``'s file (what a process without
    QGIS can open), else None."""
    fast = _ogr_fast_path(layer)
    if fast is None:
        return None
    path, name, where = fast
    return path, _ogr_layer_name(path, name), where


def iter_layer_wkb(
    layer,
    *,
    selected_only: bool = False,
    feature_source=None,
    should_stop: Optional[Callable[[], bool]] = None,
    use_ogr: Optional[bool] = None,
) -> Iterator[Tuple[np.ndarray, WkbArray]]:
    """Batches of (feature ids, their WKB packed in a ``WkbArray``, empty for a null geometry)
    of a vector layer, honouring its subset string and, with ``selected_only``, its selection.

    GeoPackage, Shapefile and FlatGeobuf layers without unsaved edits are streamed in bulk
    through OGR, batch by batch, so the consumer can work while the next batch is read;
    everything else (memory, PostGIS, WFS, curved geometries) goes through QGIS's feature
    iterator (``feature_source`` when given, e.g. a Processing source, else ``layer``), with
    geometry validity checks off: the caller wants the invalid ones. Both give the same ids
    and geometries, though not necessarily in id order. ``use_ogr=False`` forces the iterator.
    """
    fast = _ogr_fast_path(layer) if use_ogr is not False and layer is not None else None
    if fast is not None:
        path, name, where = fast
        selected = None
        if selected_only:
            selected = np.fromiter(layer.selectedFeatureIds(), dtype=np.int64)
        batches = read_ogr(
            path, _ogr_layer_name(path, name), where=where, should_stop=should_stop, packed_wkb=True
        )
        for batch in batches:
            if selected is None:
                yield batch.fids, batch.wkb
            else:
                keep = np.flatnonzero(np.isin(batch.fids, selected))
                if keep.size:
                    yield batch.fids[keep], batch.wkb.take(keep)
        return
    fids, objects = read_features_wkb(
        feature_source if feature_source is not None else layer,
        selected_only=selected_only and feature_source is None,
        should_stop=should_stop,
    )
    yield fids, WkbArray.from_objects(objects)


def read_features_wkb(
    source,
    *,
    selected_only: bool = False,
    crs=None,
    transform_context=None,
    should_stop: Optional[Callable[[], bool]] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """(feature ids, WKB or None) through QGIS's feature iterator, sorted by id; geometries
    reprojected to ``crs`` when given. Curves are segmentized (GEOS reads no curves)."""
    request = QgsFeatureRequest()
    request.setNoAttributes()
    request.setInvalidGeometryCheck(QgsFeatureRequest.InvalidGeometryCheck.GeometryNoCheck)
    if crs is not None and crs.isValid():
        request.setDestinationCrs(crs, transform_context)
    if selected_only and isinstance(source, QgsVectorLayer):
        request.setFilterFids(source.selectedFeatureIds())
    if isinstance(source, QgsProcessingFeatureSource):
        it = source.getFeatures(
            request, QgsProcessingFeatureSource.Flag.FlagSkipGeometryValidityChecks
        )
    else:
        it = source.getFeatures(request)
    fids: List[int] = []
    wkbs: List[Optional[bytes]] = []
    for n, feat in enumerate(it):  # the slow path: providers OGR cannot open
        if n % 10000 == 0 and should_stop is not None and should_stop():
            raise Cancelled()
        fids.append(feat.id())
        geom = feat.geometry()
        if geom is None or geom.isNull():
            wkbs.append(None)
            continue
        if QgsWkbTypes.isCurvedType(geom.wkbType()):
            geom = geom.__class__(geom.constGet().segmentize())
        wkbs.append(bytes(geom.asWkb()))
    fid_arr = np.array(fids, dtype=np.int64)
    wkb_arr = np.array(wkbs + [None], dtype=object)[:-1]
    order = np.argsort(fid_arr, kind="stable")
    return fid_arr[order], wkb_arr[order]
