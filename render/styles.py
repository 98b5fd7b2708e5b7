"""Styles for LabelGuard result layers: findings by rule (readable on any basemap), feature
changes by change type, predictions by class with the score as opacity, training tiles by
split; and the mark that tells a LabelGuard result layer from the user's data."""

from __future__ import annotations

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsCentroidFillSymbolLayer,
    QgsFillSymbol,
    QgsLineSymbol,
    QgsMarkerSymbol,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProperty,
    QgsRendererCategory,
    QgsSimpleFillSymbolLayer,
    QgsSimpleLineSymbolLayer,
    QgsSimpleMarkerSymbolLayer,
    QgsSymbolLayer,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import Qt
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
    "self_crossing": "#ff7f00",
    "duplicate_vertex": "#6a3d9a",
    "spike": "#b15928",
    "hole": "#1f78b4",
    "contained": "#fb9a99",
}


HALO = QColor(255, 255, 255, 230)  # under every outline, so it reads on imagery and on maps
# Feature changes between two versions: (fill, outline, dashed outline).
CHANGE_STYLE: dict[str, tuple[str, str, bool]] = {
    "added": ("#1a9641", "#1a9641", False),
    "removed": ("#d7191c", "#d7191c", True),
    "geometry_changed": ("#fdae61", "#e66101", False),
    "attributes_changed": ("#2c7bb6", "#2c7bb6", False),
    "both_changed": ("#7b3294", "#7b3294", False),
    "unchanged": ("#bababa", "#969696", False),
}
# Training tile footprints by split: (fill, outline).
SPLIT_STYLE: dict[str, tuple[str, str]] = {
    "train": ("#2c7bb6", "#2c7bb6"),
    "val": ("#fdae61", "#e66101"),
}
# Set on every layer LabelGuard styles or loads as a result; the value is the style kind.
RESULT_PROPERTY = "labelguard/result"
PLAIN = "plain"  # a result layer LabelGuard marks but does not style (tables, CRS issues)
PREDICTION_COLORS = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf")


def _symbol(kind, layers):
    """A symbol of ``kind`` made of ``layers``, bottom first. Built by appending: the symbol
    then owns each layer (the list constructor leaves Python owning them, and a collected
    layer crashes QGIS)."""
    symbol = kind()
    symbol.deleteSymbolLayer(0)
    for layer in layers:
        symbol.appendSymbolLayer(layer)
    return symbol


def _outlined_fill(color: QColor, fill_alpha: int, width: float, dashed: bool = False):
    """A translucent fill with a strong outline over a white halo."""
    halo = QgsSimpleLineSymbolLayer(HALO, width + 0.8)
    fill = QgsSimpleFillSymbolLayer()
    fill_color = QColor(color)
    fill_color.setAlpha(fill_alpha)
    fill.setFillColor(fill_color)
    fill.setStrokeColor(color)
    fill.setStrokeWidth(width)
    if dashed:
        fill.setStrokeStyle(Qt.PenStyle.DashLine)
    return _symbol(QgsFillSymbol, [halo, fill])


def finding_symbol(rule: str, geometry_type: int):
    """The symbol of one rule's findings: strong colour over a white halo; slivers, which
    vanish at small scales, also get a marker at their centre."""
    color = QColor(RULE_COLORS.get(rule, "#ff00ff"))
    if geometry_type == QgsWkbTypes.GeometryType.PolygonGeometry:
        symbol = _outlined_fill(color, 90, 0.8)
        if rule in ("sliver", "gap", "min_area"):
            marker = _symbol(QgsMarkerSymbol, [_marker_layer(color, 3.2)])
            centre = QgsCentroidFillSymbolLayer()
            centre.setSubSymbol(marker)
            centre.setPointOnSurface(True)
            symbol.appendSymbolLayer(centre)
        return symbol
    if geometry_type == QgsWkbTypes.GeometryType.PointGeometry:
        return _symbol(QgsMarkerSymbol, [_marker_layer(color, 4.0)])
    return _symbol(
        QgsLineSymbol,
        [QgsSimpleLineSymbolLayer(HALO, 1.8), QgsSimpleLineSymbolLayer(color, 1.0)],
    )


def _marker_layer(color: QColor, size: float) -> QgsSimpleMarkerSymbolLayer:
    marker = QgsSimpleMarkerSymbolLayer()
    marker.setSize(size)
    marker.setColor(color)
    marker.setStrokeColor(HALO)
    marker.setStrokeWidth(0.5)
    return marker


def rule_renderer(geometry_type: int) -> QgsCategorizedSymbolRenderer:
    """A categorized renderer on the ``rule`` field with one category per rule."""
    categories = [
        QgsRendererCategory(rule, finding_symbol(rule, geometry_type), rule) for rule in RULES
    ]
    return QgsCategorizedSymbolRenderer("rule", categories)


def diff_renderer() -> QgsCategorizedSymbolRenderer:
    """Feature changes by ``status``: added green, removed red dashed (its old geometry),
    geometry changed orange, attributes changed blue, both purple, unchanged faint grey."""
    categories = []
    for name, (fill, outline, dashed) in CHANGE_STYLE.items():
        faint = name == "unchanged"
        symbol = _outlined_fill(
            QColor(outline), 20 if faint else 110, 0.3 if faint else 0.8, dashed
        )
        color = QColor(fill)
        color.setAlpha(20 if faint else 110)
        if not faint:
            symbol.symbolLayer(1).setFillColor(color)
        if faint:
            symbol.deleteSymbolLayer(0)  # no halo: unchanged features stay in the background
            symbol.symbolLayer(0).setFillColor(color)
        categories.append(QgsRendererCategory(name, symbol, name.replace("_", " ")))
    return QgsCategorizedSymbolRenderer("status", categories)


def prediction_renderer(classes: list[str]) -> QgsCategorizedSymbolRenderer:
    """Predictions by ``class``; the fill is more opaque the higher the ``score``."""
    categories = []
    for i, name in enumerate(sorted(classes)):
        color = QColor(PREDICTION_COLORS[i % len(PREDICTION_COLORS)])
        symbol = _outlined_fill(color, 120, 0.6)
        symbol.symbolLayer(1).setDataDefinedProperty(
            QgsSymbolLayer.Property.PropertyFillColor,
            QgsProperty.fromExpression(
                "set_color_part(@symbol_color, 'alpha', 30 + 170 * coalesce(\"score\", 1))"
            ),
        )
        categories.append(QgsRendererCategory(name, symbol, name))
    return QgsCategorizedSymbolRenderer("class", categories)


def split_renderer() -> QgsCategorizedSymbolRenderer:
    """Training tiles by ``split``: train blue, val orange; faint fills so overlapping tiles
    and the image below stay readable."""
    categories = []
    for name, (fill, outline) in SPLIT_STYLE.items():
        symbol = _outlined_fill(QColor(outline), 40, 0.6)
        color = QColor(fill)
        color.setAlpha(40)
        symbol.symbolLayer(1).setFillColor(color)
        categories.append(QgsRendererCategory(name, symbol, name))
    return QgsCategorizedSymbolRenderer("split", categories)


def mark_result(layer, kind: str) -> None:
    """Mark ``layer`` as a LabelGuard result (error layer, changes, predictions, tiles)."""
    layer.setCustomProperty(RESULT_PROPERTY, kind)


def is_result_layer(layer) -> bool:
    """True for a layer LabelGuard made (marked by ``mark_result``; kept in the project)."""
    return layer is not None and bool(layer.customProperty(RESULT_PROPERTY))


class RuleStylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Marks a result layer and applies its style once Processing has loaded it:
    ``rule_renderer`` by default, the renderer of ``kind`` ("diff", "predictions",
    "splits"), or none for ``PLAIN``. ``properties`` are set as custom properties of the
    layer (the findings panel finds its run by them)."""

    _alive: set[RuleStylePostProcessor] = set()

    def __init__(self, kind: str = "rules", properties: dict[str, str] | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.properties = dict(properties or {})

    @classmethod
    def create(
        cls, kind: str = "rules", properties: dict[str, str] | None = None
    ) -> RuleStylePostProcessor:
        """A new post-processor, kept referenced until it has run: QGIS holds only a raw
        pointer, and a collected Python object would crash it."""
        instance = cls(kind, properties)
        cls._alive.add(instance)
        return instance

    def postProcessLayer(  # noqa: N802 (QGIS API)
        self, layer, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        try:
            if isinstance(layer, QgsVectorLayer):
                mark_result(layer, self.kind)
                for key, value in self.properties.items():
                    layer.setCustomProperty(key, value)
                if layer.isSpatial() and self.kind != PLAIN:
                    apply_style(layer, self.kind)
        finally:
            type(self)._alive.discard(self)


def apply_style(layer: QgsVectorLayer, kind: str = "rules") -> None:
    """Style a loaded LabelGuard result layer and mark it as one: "rules" (findings), "diff",
    "predictions" or "splits" (training tiles)."""
    mark_result(layer, kind)
    if kind == "diff":
        layer.setRenderer(diff_renderer())
    elif kind == "splits":
        layer.setRenderer(split_renderer())
    elif kind == "predictions":
        idx = layer.fields().indexOf("class")
        classes = [str(v) for v in layer.uniqueValues(idx)] if idx >= 0 else []
        layer.setRenderer(prediction_renderer(classes))
    else:
        layer.setRenderer(rule_renderer(layer.geometryType()))
    layer.triggerRepaint()
