"""Small helpers to write plain records into Processing feature sinks."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsProcessingException,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

TYPES = {
    "str": QVariant.String,
    "int": QVariant.LongLong,
    "float": QVariant.Double,
    "bool": QVariant.Bool,
}


def make_fields(spec: Sequence[Tuple[str, str]]) -> QgsFields:
    fields = QgsFields()
    for name, kind in spec:
        fields.append(QgsField(name, TYPES[kind]))
    return fields


def write_records(
    alg,
    parameters,
    context,
    name: str,
    spec: Sequence[Tuple[str, str]],
    records: Iterable[Dict[str, Any]],
    *,
    wkb_type=QgsWkbTypes.Type.NoGeometry,
    crs: Optional[QgsCoordinateReferenceSystem] = None,
    geometries: Optional[List[Optional[QgsGeometry]]] = None,
) -> Optional[str]:
    """Write records (dicts keyed by field name) to the sink parameter ``name``.

    Returns the sink id, or None when the optional sink was not requested.
    """
    fields = make_fields(spec)
    sink, dest = alg.parameterAsSink(
        parameters, name, context, fields, wkb_type, crs or QgsCoordinateReferenceSystem()
    )
    if sink is None:
        if parameters.get(name) is None:
            return None
        raise QgsProcessingException(alg.invalidSinkError(parameters, name))
    for i, rec in enumerate(records):
        feat = QgsFeature(fields)
        feat.setAttributes([rec.get(n) for n, _ in spec])
        if geometries is not None and geometries[i] is not None:
            feat.setGeometry(geometries[i])
        if not sink.addFeature(feat, QgsFeatureSink.Flag.FastInsert):
            raise QgsProcessingException(alg.writeFeatureError(sink, parameters, name))
    return dest
