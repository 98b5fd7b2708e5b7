"""Import model predictions: COCO results / YOLO txt on exported tiles -> georeferenced layer."""

from __future__ import annotations

from typing import Any, Dict

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from ..core.geos import shapely
from ..core.training.geo import polygonal_parts
from ..core.training.predictions import import_predictions
from .base import LabelGuardAlgorithm
from .compat import FLAG_ADVANCED


class ImportPredictionsAlgorithm(LabelGuardAlgorithm):
    GROUP_ID = "trainingdata"

    INPUT = "INPUT"
    DATASET = "DATASET"
    MIN_SCORE = "MIN_SCORE"
    IOU_THRESHOLD = "IOU_THRESHOLD"
    OUTPUT = "OUTPUT"
    FEATURE_COUNT = "FEATURE_COUNT"
    MERGED_COUNT = "MERGED_COUNT"

    def name(self) -> str:
        return "importpredictions"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Import model predictions")

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr(
            "Brings a model's predictions on the tiles of a LabelGuard training export back "
            "onto the map, in the image's CRS.\n\n"
            "INPUT is a COCO results JSON (image_id, category_id, score and segmentation as "
            "polygons or RLE, or bbox) or a folder of YOLO label files named after the tiles "
            "(class cx cy w h [conf] or class x1 y1 ... [conf]); DATASET is the export folder, "
            "whose labelguard_dataset.json gives every tile's georeferencing and the class "
            "names.\n\n"
            "Predictions below MIN_SCORE are dropped. The same object predicted on several "
            "overlapping tiles is merged into one feature (IoU measured inside the pixels both "
            "tiles saw, at least IOU_THRESHOLD), keeping the highest score.\n\n"
            "OUTPUT holds one polygon per object with class, score, kind (polygon or box), "
            "merged (detections merged into it) and tile. FEATURE_COUNT is the number of "
            "features, MERGED_COUNT the number of duplicate detections merged away."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        def add(param, help_text, advanced=False):
            param.setHelp(self.tr(help_text))
            if advanced:
                param.setFlags(param.flags() | FLAG_ADVANCED)
            self.addParameter(param)

        add(
            QgsProcessingParameterFile(
                self.INPUT,
                self.tr("Predictions (COCO results JSON or YOLO labels)"),
                # "(*)" rather than the default "(*.*)", which rejects a folder path
                fileFilter="COCO results (*.json);;YOLO labels (*.txt);;All files (*)",
            ),
            "A COCO results .json, or a YOLO labels folder (pick any .txt in it, or type the "
            "folder path).",
        )
        add(
            QgsProcessingParameterFile(
                self.DATASET,
                self.tr("Export folder"),
                behavior=QgsProcessingParameterFile.Behavior.Folder,
            ),
            "The folder written by Export training dataset for the tiles the model saw.",
        )
        add(
            QgsProcessingParameterNumber(
                self.MIN_SCORE,
                self.tr("Minimum score"),
                QgsProcessingParameterNumber.Type.Double,
                defaultValue=0.0,
                minValue=0.0,
                maxValue=1.0,
            ),
            "Predictions with a lower confidence (0-1) are ignored. Predictions without a "
            "score count as 1.",
        )
        add(
            QgsProcessingParameterNumber(
                self.IOU_THRESHOLD,
                self.tr("Duplicate IoU threshold"),
                QgsProcessingParameterNumber.Type.Double,
                defaultValue=0.5,
                minValue=0.0,
                maxValue=1.0,
            ),
            "Two same-class predictions from overlapping tiles are one object when their IoU "
            "inside the shared pixels is at least this value.",
            advanced=True,
        )
        add(
            QgsProcessingParameterFeatureSink(self.OUTPUT, self.tr("Predictions")),
            "Polygon layer of the predictions in the image CRS.",
        )
        self.addOutput(QgsProcessingOutputNumber(self.FEATURE_COUNT, self.tr("Features")))
        self.addOutput(QgsProcessingOutputNumber(self.MERGED_COUNT, self.tr("Merged duplicates")))

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> Dict[str, Any]:
        input_path = self.parameterAsFile(parameters, self.INPUT, context)
        dataset = self.parameterAsFile(parameters, self.DATASET, context)
        min_score = self.parameterAsDouble(parameters, self.MIN_SCORE, context)
        iou = self.parameterAsDouble(parameters, self.IOU_THRESHOLD, context)
        feedback.pushInfo(self.tr("Reading predictions from '{}'").format(input_path))
        result = self.run_core(feedback, import_predictions, input_path, dataset, min_score, iou)
        skipped = {k: v for k, v in sorted(result.skipped.items()) if v}
        if skipped:
            feedback.pushWarning(
                self.tr("Skipped predictions: {}").format(
                    ", ".join(f"{k} {v}" for k, v in skipped.items())
                )
            )
        merged_away = int(result.merged_from.sum()) - len(result)
        feedback.pushInfo(
            self.tr("{} predictions read, {} features after merging {} duplicates").format(
                result.read, len(result), merged_away
            )
        )

        fields = QgsFields()
        fields.append(QgsField("class", QVariant.String))
        fields.append(QgsField("score", QVariant.Double))
        fields.append(QgsField("kind", QVariant.String))
        fields.append(QgsField("merged", QVariant.Int))
        fields.append(QgsField("tile", QVariant.String))
        crs = QgsCoordinateReferenceSystem.fromWkt(result.crs_wkt)
        sink, sink_id = self.parameterAsSink(
            parameters, self.OUTPUT, context, fields, QgsWkbTypes.Type.MultiPolygon, crs
        )
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        wkbs = shapely.to_wkb(polygonal_parts(result.geoms)).tolist() if len(result) else []
        for i, wkb in enumerate(wkbs):  # the sink takes features one by one
            if feedback.isCanceled():
                raise QgsProcessingException(self.tr("Cancelled; nothing was written."))
            feat = QgsFeature(fields)
            geom = QgsGeometry()
            geom.fromWkb(wkb)
            feat.setGeometry(geom)
            feat.setAttributes(
                [
                    str(result.classes[i]),
                    float(result.scores[i]),
                    str(result.kind[i]),
                    int(result.merged_from[i]),
                    result.tile_names[i],
                ]
            )
            sink.addFeature(feat, QgsFeatureSink.Flag.FastInsert)
        return {self.OUTPUT: sink_id, self.FEATURE_COUNT: len(wkbs), self.MERGED_COUNT: merged_away}
