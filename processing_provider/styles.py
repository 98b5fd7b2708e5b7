"""Styles for LabelGuard result layers: validation findings categorized by rule."""

from __future__ import annotations

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsRendererCategory,
    QgsSymbol,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtGui import QColor

from ..core.topology import RULES

# One colour per rule, fixed so a rule looks the same in every run and project.
RULE_COLORS: dict[str, str] = {
    "invalid": "#d7191c",
    "empty": "#7b3294",
    "duplicate": "#e66101",
    "near_duplicate": "#fdb863",
    "overlap": "#e31a1c",
    "gap": "#2c7bb6",
    "sliver": "#c2a5cf",
    "min_area": "#a6611a",
    "multipart": "#008837",
    "dangle": "#f1b6da",
    "must_be_inside": "#404040",
    "must_not_overlap_with": "#b2182b",
}


def rule_renderer(geometry_type: int) -> QgsCategorizedSymbolRenderer:
    """A categorized renderer on the ``rule`` field with one category per rule."""
    categories = []
    for rule in RULES:
        symbol = QgsSymbol.defaultSymbol(geometry_type)
        color = QColor(RULE_COLORS.get(rule, "#ff00ff"))
        symbol.setColor(color)
        if geometry_type == QgsWkbTypes.GeometryType.PolygonGeometry:
            color.setAlpha(110)
            symbol.setColor(color)
            symbol.symbolLayer(0).setStrokeColor(QColor(RULE_COLORS.get(rule, "#ff00ff")))
            symbol.symbolLayer(0).setStrokeWidth(0.6)
        elif geometry_type == QgsWkbTypes.GeometryType.PointGeometry:
            symbol.setSize(3.0)
        else:
            symbol.setWidth(0.8)
        categories.append(QgsRendererCategory(rule, symbol, rule))
    return QgsCategorizedSymbolRenderer("rule", categories)


class RuleStylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Applies ``rule_renderer`` to a result layer once Processing has loaded it."""

    _alive: set[RuleStylePostProcessor] = set()

    @classmethod
    def create(cls) -> RuleStylePostProcessor:
        """A new post-processor, kept referenced until it has run: QGIS holds only a raw
        pointer, and a collected Python object would crash it."""
        instance = cls()
        cls._alive.add(instance)
        return instance

    def postProcessLayer(  # noqa: N802 (QGIS API)
        self, layer, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        try:
            if isinstance(layer, QgsVectorLayer) and layer.isSpatial():
                layer.setRenderer(rule_renderer(layer.geometryType()))
                layer.triggerRepaint()
        finally:
            type(self)._alive.discard(self)
