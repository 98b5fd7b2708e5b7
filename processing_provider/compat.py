"""The one place that resolves QGIS API differences between 3.22 and newer releases."""

from __future__ import annotations

from qgis.core import QgsField, QgsProcessing, QgsProcessingParameterDefinition
from qgis.PyQt.QtCore import QMetaType, QVariant

try:  # QGIS >= 3.36 moved these to Qgis.*; the class-scoped forms remain as aliases.
    FLAG_ADVANCED = QgsProcessingParameterDefinition.Flag.FlagAdvanced
except AttributeError:  # pragma: no cover - depends on the QGIS build
    from qgis.core import Qgis

    FLAG_ADVANCED = Qgis.ProcessingParameterFlag.Advanced

try:
    TYPE_VECTOR_ANY = QgsProcessing.SourceType.TypeVectorAnyGeometry
    TYPE_VECTOR_POLYGON = QgsProcessing.SourceType.TypeVectorPolygon
    TYPE_VECTOR_LINE = QgsProcessing.SourceType.TypeVectorLine
    TYPE_RASTER = QgsProcessing.SourceType.TypeRaster
    TYPE_MAPLAYER = QgsProcessing.SourceType.TypeMapLayer
    TYPE_FILE = QgsProcessing.SourceType.TypeFile
except AttributeError:  # pragma: no cover
    from qgis.core import Qgis

    TYPE_VECTOR_ANY = Qgis.ProcessingSourceType.VectorAnyGeometry
    TYPE_VECTOR_POLYGON = Qgis.ProcessingSourceType.VectorPolygon
    TYPE_VECTOR_LINE = Qgis.ProcessingSourceType.VectorLine
    TYPE_RASTER = Qgis.ProcessingSourceType.Raster
    TYPE_MAPLAYER = Qgis.ProcessingSourceType.MapLayer
    TYPE_FILE = Qgis.ProcessingSourceType.File

# Sink field kinds by name. QGIS 3.38 added QgsField(name, QMetaType.Type) and deprecated the
# QVariant.Type constructor (a DeprecationWarning per field on 3.40+); 3.22 has only the latter.
try:
    QgsField("probe", QMetaType.Type.QString)
except TypeError:  # QGIS < 3.38
    FIELD_TYPES = {
        "str": QVariant.String,
        "int": QVariant.LongLong,
        "int32": QVariant.Int,
        "float": QVariant.Double,
        "bool": QVariant.Bool,
    }
else:
    FIELD_TYPES = {
        "str": QMetaType.Type.QString,
        "int": QMetaType.Type.LongLong,
        "int32": QMetaType.Type.Int,
        "float": QMetaType.Type.Double,
        "bool": QMetaType.Type.Bool,
    }


def make_field(name: str, kind: str) -> QgsField:
    """A QgsField of one of FIELD_TYPES' kinds."""
    return QgsField(name, FIELD_TYPES[kind])
