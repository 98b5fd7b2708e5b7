"""Import model predictions: COCO results / YOLO txt on exported tiles -> georeferenced layer."""

from __future__ import annotations

from typing import Any, Dict

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.geos import shapely
from ..core.training.geo import polygonal_parts
from ..core.training.predictions import BAD_ROW_MODES, import_predictions
from .base import LabelGuardAlgorithm

FIELDS = (
    ("class", "str"),
    ("score", "float"),
    ("kind", "str"),
    ("merged", "int32"),
    ("tile", "str"),
)


class ImportPredictionsAlgorithm(LabelGuardAlgorithm):
    GROUP_ID = "trainingdata"
    NAME = "importpredictions"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("ImportPredictionsAlgorithm", "Import model predictions")
    HELP = QT_TRANSLATE_NOOP(
        "ImportPredictionsAlgorithm",
        "Brings a model's predictions on the tiles of a LabelGuard training export back "
        "onto the map, in the image's CRS.\n\n"
        "INPUT is a COCO results JSON (image_id, category_id, score and segmentation as "
        "polygons or RLE, or bbox) or a folder of YOLO label files named after the tiles "
        "(class cx cy w h [conf] or class x1 y1 ... [conf]); DATASET is the export folder, "
        "whose labelguard_dataset.json gives every tile's georeferencing and the class "
        "names.\n\n"
        "Predictions below MIN_SCORE are dropped. The same object predicted on several "
        "overlapping tiles is one feature (same class, IoU inside the pixels both tiles saw "
        "at least IOU_THRESHOLD) with the shape and score of its best detection; detections "
        "of one tile are never merged, and matches never chain. An object cut by the border "
        "of tiles that only touch is joined. Rows that cannot be read (wrong types, NaN or "
        "huge coordinates, unknown image or category) are skipped and counted, or refused "
        "with BAD_ROWS. No predictions give an empty layer.\n\n"
        "OUTPUT holds one polygon per object with class, score, kind (polygon or box), "
        "merged (detections merged into it) and tile. FEATURE_COUNT is the number of "
        "features, MERGED_COUNT the number of duplicate detections merged away.",
    )

    INPUT = "INPUT"
    DATASET = "DATASET"
    MIN_SCORE = "MIN_SCORE"
    IOU_THRESHOLD = "IOU_THRESHOLD"
    BAD_ROWS = "BAD_ROWS"
    OUTPUT = "OUTPUT"
    FEATURE_COUNT = "FEATURE_COUNT"
    MERGED_COUNT = "MERGED_COUNT"

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        self.add(
            QgsProcessingParameterFile(
                self.INPUT,
                self.tr("Predictions (COCO results JSON or YOLO labels)"),
                # "(*)" rather than the default "(*.*)", which rejects a folder path
                fileFilter="COCO results (*.json);;YOLO labels (*.txt);;All files (*)",
            ),
            self.tr(
                "A COCO results .json, or a YOLO labels folder (pick any .txt in it, or type the "
                "folder path)."
            ),
        )
        self.add(
            QgsProcessingParameterFile(
                self.DATASET,
                self.tr("Export folder"),
                behavior=QgsProcessingParameterFile.Behavior.Folder,
            ),
            self.tr("The folder written by Export training dataset for the tiles the model saw."),
        )
        self.add_number(
            self.MIN_SCORE,
            self.tr("Minimum score"),
            0.0,
            0.0,
            1.0,
            self.tr(
                "Predictions with a lower confidence (0-1) are ignored. Predictions without a "
                "score count as 1."
            ),
        )
        self.add_number(
            self.IOU_THRESHOLD,
            self.tr("Duplicate IoU threshold"),
            0.5,
            0.0,
            1.0,
            self.tr(
                "Two same-class predictions from overlapping tiles are one object when their IoU "
                "inside the shared pixels is at least this value."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterEnum(
                self.BAD_ROWS,
                self.tr("Rows that cannot be read"),
                options=[self.tr("Skip and count them"), self.tr("Refuse the input")],
                defaultValue=0,
            ),
            self.tr(
                "What to do with a prediction that cannot be read (a bbox without 4 numbers, a "
                "text score, NaN or huge coordinates, an unknown image_id or category): skip it, "
                "with a summary naming the first ones, or fail naming the first bad row."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterFeatureSink(self.OUTPUT, self.tr("Predictions")),
            self.tr("Polygon layer of the predictions in the image CRS."),
        )
        self.add_counts(
            (self.FEATURE_COUNT, self.tr("Features")),
            (self.MERGED_COUNT, self.tr("Merged duplicates")),
        )

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
        bad_rows = BAD_ROW_MODES[self.parameterAsEnum(parameters, self.BAD_ROWS, context)]
        feedback.pushInfo(self.tr("Reading predictions from '{}'").format(input_path))
        result = self.run_core(
            feedback, import_predictions, input_path, dataset, min_score, iou, bad_rows
        )
        skipped = {k: v for k, v in sorted(result.skipped.items()) if v}
        if skipped:
            feedback.pushWarning(
                self.tr("Skipped predictions: {}").format(
                    ", ".join(f"{k} {v}" for k, v in skipped.items())
                )
            )
        if result.problems:
            feedback.pushWarning(
                self.tr("Rows skipped, first ones: {}").format("; ".join(result.problems))
            )
        merged_away = int(result.merged_from.sum()) - len(result)
        feedback.pushInfo(
            self.tr("{} predictions read, {} features after merging {} duplicates").format(
                result.read, len(result), merged_away
            )
        )

        crs = QgsCoordinateReferenceSystem.fromWkt(result.crs_wkt)
        wkbs = shapely.to_wkb(polygonal_parts(result.geoms)).tolist() if len(result) else []
        sink_id = self.write_sink(
            parameters,
            context,
            self.OUTPUT,
            FIELDS,
            (
                (
                    [
                        str(result.classes[i]),
                        float(result.scores[i]),
                        str(result.kind[i]),
                        int(result.merged_from[i]),
                        result.tile_names[i],
                    ],
                    _geometry(wkb),
                )
                for i, wkb in enumerate(wkbs)  # the sink takes features one by one
            ),
            wkb_type=QgsWkbTypes.Type.MultiPolygon,
            crs=crs,
            feedback=feedback,
            style="predictions",
        )
        results = {
            self.OUTPUT: sink_id,
            self.FEATURE_COUNT: len(wkbs),
            self.MERGED_COUNT: merged_away,
        }
        return self.finish(parameters, context, results)


def _geometry(wkb: bytes) -> QgsGeometry:
    geom = QgsGeometry()
    geom.fromWkb(wkb)
    return geom
