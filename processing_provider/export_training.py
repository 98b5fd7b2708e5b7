"""Export training dataset: imagery + annotation layer -> tiled COCO / YOLO / masks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeatureRequest,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProviderRegistry,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.geos import shapely
from ..core.training.encode import HOLE_MODES
from ..core.training.export import (
    AnnotationSource,
    ExportOptions,
    ImageSource,
    export_training,
)
from ..core.training.labelmap import read_labelmap
from ..core.training.labels import REFUSE, REPAIR
from ..core.training.stretch import STRETCHES, parse_bands
from ..gdalio.facts import vector_facts
from ..gdalio.provenance import TILE_INDEX, source_record, write_export_provenance
from ..gdalio.tiles import GdalTileWriter, raster_facts
from ..render.styles import RuleStylePostProcessor
from .base import LabelGuardAlgorithm
from .compat import TYPE_VECTOR_POLYGON


def _layer_name_of(layer) -> Optional[str]:
    if layer is None or layer.providerType() != "ogr":
        return None
    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    return parts.get("layerName") or None


def _file_of(source: str) -> str:
    """Data file behind a layer source ('path|layername=x' -> 'path'), or '' for none."""
    path = source.split("|")[0]
    return path if os.path.isfile(path) else ""


class ExportTrainingAlgorithm(LabelGuardAlgorithm):
    GROUP_ID = "trainingdata"
    NAME = "exporttraining"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("ExportTrainingAlgorithm", "Export training dataset")
    HELP = QT_TRANSLATE_NOOP(
        "ExportTrainingAlgorithm",
        "Cuts an image and a polygon annotation layer into overlapping tiles and writes a "
        "dataset ready to train on: COCO instance segmentation (polygons, bbox, area; "
        "holes bridged into the outer ring, or RLE with COCO_HOLES), YOLO boxes, YOLO "
        "segmentation (images/ and labels/ per split, data.yaml) or semantic masks "
        "(class-id images and classes.json).\n\n"
        "Every tile keeps its georeferencing: GeoTIFF tiles, or PNG/JPEG with a world file "
        "and .aux.xml; COCO image entries carry the tile geotransform and CRS; tiles.gpkg "
        "(TILE_INDEX) holds the tile footprints with their split and is loaded styled by "
        "split when the run ends; labelguard_dataset.json records the "
        "tiles, parameters, label fixes and the SHA-256 of the source image, annotations "
        "and every written file. Import model predictions uses it to map predictions "
        "back.\n\n"
        "Annotations are reprojected to the image CRS, checked (invalid geometries are "
        "repaired with make_valid and counted, or refused) and clipped at tile edges. A "
        "piece with less than MIN_VISIBLE of its feature inside a tile is not dropped: COCO "
        "marks it iscrowd 1 (an ignore region), YOLO writes it (YOLO has no ignore marker) "
        "and masks show every labelled pixel. Train and val never share a pixel: they are "
        "assigned per block of tiles or, when blocks cannot meet VAL_FRACTION, tiles that "
        "share pixels with a val tile are left out (a guard band; the count is logged and "
        "recorded).\n\n"
        "The dataset is built in a hidden folder next to OUTPUT_FOLDER and renamed at the "
        "end: a cancelled or failed run leaves nothing behind. A non-empty OUTPUT_FOLDER "
        "is refused unless OVERWRITE is set and it holds a previous LabelGuard export.\n\n"
        "Results: OUTPUT_FOLDER, TILE_INDEX (tiles.gpkg), TILE_COUNT (tiles written), "
        "ANNOTATION_COUNT (clipped annotations written), TRAIN_TILE_COUNT, VAL_TILE_COUNT, "
        "REPAIRED_COUNT.",
    )

    RASTER = "RASTER"
    ANNOTATIONS = "ANNOTATIONS"
    CLASS_FIELD = "CLASS_FIELD"
    FORMAT = "FORMAT"
    TILE_SIZE = "TILE_SIZE"
    OVERLAP = "OVERLAP"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    VAL_FRACTION = "VAL_FRACTION"
    SEED = "SEED"
    MIN_VISIBLE = "MIN_VISIBLE"
    INCLUDE_EMPTY = "INCLUDE_EMPTY"
    IMAGE_FORMAT = "IMAGE_FORMAT"
    BANDS = "BANDS"
    STRETCH = "STRETCH"
    LABEL_MAP = "LABEL_MAP"
    INVALID_LABELS = "INVALID_LABELS"
    SPLIT_BLOCK_TILES = "SPLIT_BLOCK_TILES"
    OVERWRITE = "OVERWRITE"
    COCO_HOLES = "COCO_HOLES"

    TILE_INDEX = "TILE_INDEX"
    TILE_COUNT = "TILE_COUNT"
    ANNOTATION_COUNT = "ANNOTATION_COUNT"
    TRAIN_TILE_COUNT = "TRAIN_TILE_COUNT"
    VAL_TILE_COUNT = "VAL_TILE_COUNT"
    REPAIRED_COUNT = "REPAIRED_COUNT"

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        self.add(
            QgsProcessingParameterRasterLayer(self.RASTER, self.tr("Image")),
            self.tr("The image to tile; it must have a CRS and be readable by GDAL."),
        )
        self.add(
            QgsProcessingParameterFeatureSource(
                self.ANNOTATIONS, self.tr("Annotations"), [TYPE_VECTOR_POLYGON]
            ),
            self.tr("Polygon annotation layer; reprojected to the image CRS when it differs."),
        )
        self.add(
            QgsProcessingParameterField(
                self.CLASS_FIELD,
                self.tr("Class field"),
                parentLayerParameterName=self.ANNOTATIONS,
                optional=True,
            ),
            self.tr(
                "Field holding each annotation's class. Features with an empty class are skipped "
                "with a warning."
            ),
        )
        self.add(
            QgsProcessingParameterEnum(
                self.FORMAT,
                self.tr("Format"),
                options=[
                    self.tr("COCO instance segmentation"),
                    self.tr("YOLO boxes"),
                    self.tr("YOLO segmentation"),
                    self.tr("Semantic masks"),
                ],
                defaultValue=0,
            ),
            self.tr(
                "0 COCO (annotations/instances_<split>.json), 1 YOLO boxes, 2 YOLO "
                "segmentation (labels/<split>/*.txt + data.yaml), 3 semantic masks "
                "(masks/<split>/, classes.json)."
            ),
        )
        self.add(
            QgsProcessingParameterNumber(
                self.TILE_SIZE, self.tr("Tile size (pixels)"), defaultValue=512, minValue=16
            ),
            self.tr("Width and height of each tile in image pixels."),
        )
        self.add(
            QgsProcessingParameterNumber(
                self.OVERLAP, self.tr("Overlap (pixels)"), defaultValue=64, minValue=0
            ),
            self.tr("Pixels shared by neighbouring tiles; must be smaller than the tile size."),
        )
        self._add_output_and_split()
        self._add_advanced()
        self._add_label_options()
        self._add_outputs()

    def _add_output_and_split(self) -> None:
        """The output folder, the validation split and its seed."""
        self.add(
            QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, self.tr("Output folder")),
            self.tr("New or empty folder for the dataset."),
        )
        self.add_number(
            self.VAL_FRACTION,
            self.tr("Validation fraction"),
            0.2,
            0.0,
            0.95,
            self.tr(
                "Share of tiles (0-0.95) put in the validation split, assigned by whole blocks of "
                "tiles (or with a guard band of left-out tiles around val) and met as closely as "
                "the tiles allow (the achieved share is logged and recorded). An image too small "
                "to give val tiles that share no pixels with train is refused. 0 puts everything "
                "in train."
            ),
        )
        self.add(
            QgsProcessingParameterNumber(self.SEED, self.tr("Random seed"), defaultValue=42),
            self.tr("Seed of the split; the same seed and inputs give the same split."),
        )

    def _add_outputs(self) -> None:
        """The tile index output and the counts."""
        # OUTPUT_FOLDER, a destination parameter, is an output of its own.
        self.addOutput(
            QgsProcessingOutputVectorLayer(
                self.TILE_INDEX, self.tr("Tile index"), TYPE_VECTOR_POLYGON
            )
        )
        self.add_counts(
            (self.TILE_COUNT, self.tr("Tiles written")),
            (self.ANNOTATION_COUNT, self.tr("Annotations written")),
            (self.TRAIN_TILE_COUNT, self.tr("Train tiles")),
            (self.VAL_TILE_COUNT, self.tr("Validation tiles")),
            (self.REPAIRED_COUNT, self.tr("Repaired geometries")),
        )

    def _add_advanced(self) -> None:
        """The tuning parameters, under Advanced."""
        self.add_number(
            self.MIN_VISIBLE,
            self.tr("Minimum visible fraction"),
            0.2,
            0.0,
            1.0,
            self.tr(
                "A clipped piece with less than this fraction (0-1) of its feature inside the tile "
                "is not a full object: COCO writes it as iscrowd 1 (ignored in training and "
                "evaluation), YOLO writes it like any other; masks always show it."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterBoolean(
                self.INCLUDE_EMPTY, self.tr("Include tiles without annotations"), defaultValue=False
            ),
            self.tr("Also write tiles that hold no annotation (background examples)."),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterEnum(
                self.IMAGE_FORMAT,
                self.tr("Tile image format"),
                options=["GeoTIFF", "PNG", "JPEG"],
                defaultValue=0,
            ),
            self.tr(
                "GeoTIFF keeps the original data type and bands; PNG/JPEG are 8-bit and get a "
                "world file and .aux.xml with the CRS."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterString(
                self.BANDS, self.tr("Bands"), defaultValue="", optional=True
            ),
            self.tr(
                "Comma-separated band numbers to write, in order (e.g. 3,2,1). Empty: all bands."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterEnum(
                self.STRETCH,
                self.tr("8-bit stretch"),
                options=[
                    self.tr("None (keep values)"),
                    self.tr("Min-max"),
                    self.tr("Percent clip 2-98 %"),
                ],
                defaultValue=0,
            ),
            self.tr(
                "How values are scaled to 0-255 per band. None keeps the data; PNG/JPEG of a "
                "non-8-bit image is refused unless a stretch is chosen. The limits are recorded."
            ),
            advanced=True,
        )

    def _add_label_options(self) -> None:
        """Advanced: label map, invalid geometries, split blocks, overwrite."""
        self.add(
            QgsProcessingParameterFile(
                self.LABEL_MAP,
                self.tr("Label map"),
                optional=True,
                fileFilter="JSON/YAML (*.json *.yaml *.yml)",
            ),
            self.tr(
                'Optional file fixing the category ids: {"name": id}, COCO categories, a previous '
                "export's labelmap.json or a YOLO data.yaml. Empty: ids 1..n over sorted classes."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterEnum(
                self.INVALID_LABELS,
                self.tr("Invalid geometries"),
                options=[self.tr("Repair (make valid) and count"), self.tr("Refuse")],
                defaultValue=0,
            ),
            self.tr(
                "Repair invalid annotation geometries with make_valid (the count is reported and "
                "recorded) or refuse to export, listing their feature ids."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterNumber(
                self.SPLIT_BLOCK_TILES,
                self.tr("Split block size (tiles)"),
                defaultValue=4,
                minValue=1,
            ),
            self.tr(
                "Largest number of tiles per side of the blocks that are assigned to train or val "
                "as a whole; tiles overlap within a block, never across blocks. Smaller blocks "
                "are used when the image is too small to meet VAL_FRACTION with these."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterEnum(
                self.COCO_HOLES,
                self.tr("COCO polygons with holes"),
                options=[self.tr("Polygon, holes bridged into the ring"), self.tr("RLE mask")],
                defaultValue=0,
            ),
            self.tr(
                "How COCO writes an annotation with holes: one polygon ring with zero-width cuts "
                "to each hole (read by pycocotools, torchvision and ultralytics with the holes "
                "open), or compressed RLE over the tile (torchvision's detection reference "
                "refuses RLE with iscrowd 0). The choice is recorded in each COCO file."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterBoolean(
                self.OVERWRITE, self.tr("Replace a previous export"), defaultValue=False
            ),
            self.tr(
                "Replace OUTPUT_FOLDER when it holds a previous LabelGuard export. Other non-empty "
                "folders are always refused."
            ),
            advanced=True,
        )

    def _read_annotations(
        self,
        source: Any,
        class_field: str,
        target_crs: QgsCoordinateReferenceSystem,
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> Tuple[np.ndarray, np.ndarray, List[Any]]:
        request = QgsFeatureRequest().setSubsetOfAttributes([class_field], source.fields())
        if source.sourceCrs() != target_crs:
            request.setDestinationCrs(target_crs, context.transformContext())
        fids: List[int] = []
        wkbs: List[Any] = []
        values: List[Any] = []
        total = source.featureCount() or 1
        for i, feat in enumerate(source.getFeatures(request)):  # QGIS hands features one by one
            if i % 4096 == 0:
                self.check_canceled(feedback)
                feedback.setProgress(5.0 * i / total)
            geom = feat.geometry()
            if not geom.isNull() and QgsWkbTypes.isCurvedType(geom.wkbType()):
                geom = QgsGeometry(geom.constGet().segmentize())
            fids.append(feat.id())
            wkbs.append(None if geom.isNull() else bytes(geom.asWkb()))
            value = feat[class_field]
            values.append(
                None if value is None or (hasattr(value, "isNull") and value.isNull()) else value
            )
        geoms = shapely.force_2d(shapely.from_wkb(np.array(wkbs + [None], dtype=object)[:-1]))
        return np.asarray(fids, dtype=np.int64), geoms, values

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> Dict[str, Any]:
        raster, source, ann_layer, ann_name, class_field = self._inputs(parameters, context)
        crs = raster.crs()
        raster_path = _file_of(raster.source())
        facts = self.call(raster_facts, raster_path)
        crs_wkt = crs.toWkt(QgsCoordinateReferenceSystem.WktVariant.WKT2_2019)
        writer = self._tile_writer(parameters, context, facts, crs_wkt)
        target = self.parameterAsString(parameters, self.OUTPUT_FOLDER, context)
        options = self._options(parameters, context)

        feedback.pushInfo(
            self.tr("Reading {} annotations from '{}'").format(source.featureCount(), ann_name)
        )
        fids, geoms, values = self._read_annotations(source, class_field, crs, context, feedback)
        if source.sourceCrs() != crs:
            feedback.pushInfo(
                self.tr("Reprojected annotations from {} to {}").format(
                    source.sourceCrs().authid() or "custom CRS", crs.authid() or "the image CRS"
                )
            )
        image = ImageSource(
            path=raster_path,
            name=os.path.splitext(os.path.basename(raster_path))[0],
            width=facts.width,
            height=facts.height,
            geotransform=facts.pixel_geotransform,
            crs_wkt=crs_wkt,
            crs_authid=crs.authid(),
        )
        annotations = AnnotationSource(
            fids=fids,
            geoms=geoms,
            classes=values,
            name=ann_name,
            path=_file_of(ann_layer.source()) if ann_layer is not None else "",
            class_field=class_field,
            source_crs=source.sourceCrs().authid(),
            layer=self._layer_in_file(ann_layer),
        )
        sources = self._source_records(feedback, raster_path, annotations.path, ann_layer)
        version = f"export-{Path(target).name}"
        result = self.run_core(
            feedback,
            export_training,
            image,
            annotations,
            options,
            writer,
            target,
            log=feedback.pushInfo,
            finalize=lambda root: write_export_provenance(
                root, sources, version, self.creator(), should_stop=feedback.isCanceled
            ),
        )
        for warning in result.warnings:
            feedback.pushWarning(warning)
        feedback.pushInfo(
            self.tr("Wrote {} tiles ({} train, {} val: {:.1%}) with {} annotations").format(
                result.tile_count,
                result.split_tiles["train"],
                result.split_tiles["val"],
                result.val_share,
                result.annotation_count,
            )
        )
        results = {
            self.OUTPUT_FOLDER: target,
            self.TILE_INDEX: self._load_tile_index(target, context),
            self.TILE_COUNT: result.tile_count,
            self.ANNOTATION_COUNT: result.annotation_count,
            self.TRAIN_TILE_COUNT: result.split_tiles["train"],
            self.VAL_TILE_COUNT: result.split_tiles["val"],
            self.REPAIRED_COUNT: result.repaired,
        }
        return self.finish(parameters, context, results)

    def _load_tile_index(self, target: str, context: QgsProcessingContext) -> str:
        """The tile index of the export, loaded styled by split when the run ends (from the
        toolbox; headless runs load nothing)."""
        uri = f"{Path(target) / TILE_INDEX}|layername=tiles"
        details = QgsProcessingContext.LayerDetails(
            self.tr("Tiles {}").format(Path(target).name), context.project(), self.TILE_INDEX
        )
        details.setPostProcessor(RuleStylePostProcessor.create("splits"))
        context.addLayerToLoadOnCompletion(uri, details)
        return uri

    def _layer_in_file(self, ann_layer) -> str:
        """The layer name inside the annotation file (a GeoPackage opened by path alone shows
        the file name in QGIS; GDAL knows the table)."""
        if ann_layer is None:
            return ""
        named = _layer_name_of(ann_layer)
        path = _file_of(ann_layer.source())
        if named or not path or ann_layer.providerType() != "ogr":
            return named or ""
        return self.call(vector_facts, path).layer

    def _inputs(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> tuple:
        """(raster layer, annotation source, annotation layer or None, its name, class field),
        refused with the fix named when the export could not place or label the tiles."""
        raster = self.parameterAsRasterLayer(parameters, self.RASTER, context)
        if raster is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.RASTER))
        source = self.parameterAsSource(parameters, self.ANNOTATIONS, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.ANNOTATIONS))
        ann_layer = self.parameterAsVectorLayer(parameters, self.ANNOTATIONS, context)
        ann_name = ann_layer.name() if ann_layer is not None else source.sourceName()
        class_field = self.parameterAsString(parameters, self.CLASS_FIELD, context)
        if not class_field:
            raise QgsProcessingException(
                self.tr(
                    "CLASS_FIELD is not set: choose the field of '{}' that holds each annotation's "
                    "class."
                ).format(ann_name)
            )
        if source.fields().indexOf(class_field) < 0:
            raise QgsProcessingException(
                self.tr("CLASS_FIELD '{}' does not exist in '{}'; its fields are: {}.").format(
                    class_field, ann_name, ", ".join(source.fields().names())
                )
            )
        if not raster.crs().isValid():
            raise QgsProcessingException(
                self.tr(
                    "Image '{}' has no CRS, so its tiles cannot be georeferenced; set one in Layer "
                    "Properties > Source (or with gdal_edit.py -a_srs) and run again."
                ).format(raster.name())
            )
        if not source.sourceCrs().isValid():
            raise QgsProcessingException(
                self.tr(
                    "Annotation layer '{}' has no CRS, so it cannot be placed on the image; "
                    "set one in Layer Properties > Source."
                ).format(ann_name)
            )
        if raster.providerType() != "gdal" or not _file_of(raster.source()):
            raise QgsProcessingException(
                self.tr(
                    "Image '{}' is not a file GDAL can read ({}); save it as GeoTIFF first."
                ).format(raster.name(), raster.providerType())
            )
        return raster, source, ann_layer, ann_name, class_field

    def _tile_writer(
        self, parameters: Dict[str, Any], context: QgsProcessingContext, facts, crs_wkt: str
    ) -> GdalTileWriter:
        band_text = self.parameterAsString(parameters, self.BANDS, context)
        return self.call(
            GdalTileWriter,
            facts,
            crs_wkt,
            self.parameterAsEnum(parameters, self.IMAGE_FORMAT, context),
            self.call(parse_bands, band_text, facts.band_count),
            STRETCHES[self.parameterAsEnum(parameters, self.STRETCH, context)],
            bool(band_text.strip()),
        )

    def _options(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> ExportOptions:
        label_map_path = self.parameterAsFile(parameters, self.LABEL_MAP, context)
        invalid = self.parameterAsEnum(parameters, self.INVALID_LABELS, context)
        return ExportOptions(
            fmt=self.parameterAsEnum(parameters, self.FORMAT, context),
            tile_size=self.parameterAsInt(parameters, self.TILE_SIZE, context),
            overlap=self.parameterAsInt(parameters, self.OVERLAP, context),
            min_visible=self.parameterAsDouble(parameters, self.MIN_VISIBLE, context),
            include_empty=self.parameterAsBoolean(parameters, self.INCLUDE_EMPTY, context),
            val_fraction=self.parameterAsDouble(parameters, self.VAL_FRACTION, context),
            seed=self.parameterAsInt(parameters, self.SEED, context),
            block_tiles=self.parameterAsInt(parameters, self.SPLIT_BLOCK_TILES, context),
            labelmap=self.call(read_labelmap, label_map_path) if label_map_path else None,
            invalid_mode=REFUSE if invalid else REPAIR,
            overwrite=self.parameterAsBoolean(parameters, self.OVERWRITE, context),
            coco_holes=HOLE_MODES[self.parameterAsEnum(parameters, self.COCO_HOLES, context)],
        )

    def _source_records(
        self, feedback: QgsProcessingFeedback, raster_path: str, ann_path: str, ann_layer
    ) -> Dict[str, Dict[str, Any]]:
        """Hashes of the image and annotations and the manifest versions that list them."""
        feedback.pushInfo(self.tr("Hashing the source image and annotations"))
        stop = feedback.isCanceled
        sources = {
            "image": self.call(source_record, "image", raster_path, should_stop=stop),
            "annotations": self.call(
                source_record, "annotations", ann_path, _layer_name_of(ann_layer), should_stop=stop
            ),
        }
        for src in sources.values():
            if src["manifest"] is not None:
                feedback.pushInfo(
                    self.tr("{}: version {} ({})").format(
                        src["role"], src["manifest"]["version"], src["manifest"]["status"]
                    )
                )
            elif src["path"]:
                feedback.pushWarning(
                    self.tr(
                        "{} is not in any version manifest; the export records its hashes, but "
                        "build a manifest of the dataset to trace models to a named version."
                    ).format(src["path"])
                )
        return sources
