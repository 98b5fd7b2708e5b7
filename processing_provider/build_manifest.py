"""labelguard:buildmanifest: a version manifest over layers/files, linked to its parent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.lineage import newest_manifest, next_version_label
from ..core.manifest import read_manifest
from ..gdalio.facts import detect_kind
from ..gdalio.versioning import make_manifest
from .base import LabelGuardAlgorithm
from .compat import TYPE_MAPLAYER


class BuildManifestAlgorithm(LabelGuardAlgorithm):
    GROUP_ID = "versioning"
    NAME = "buildmanifest"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("BuildManifestAlgorithm", "Build version manifest")
    HELP = QT_TRANSLATE_NOOP(
        "BuildManifestAlgorithm",
        "Records a dataset version: for every input layer's data file, its size and "
        "SHA-256, the SHA-256 of each companion file (.shx/.dbf/.prj, world files; "
        ".aux.xml and overviews as auxiliary), a format-independent content hash (the same "
        "features in GeoPackage and GeoJSON hash the same; a GeoPackage that QGIS merely "
        "opened keeps its content hash), its CRS, and the SHA-256 of its sidecar if one "
        "sits next to it. For vector layers, per-feature hashes are stored next to the "
        "manifest so Compare dataset versions can name the features that changed.\n\n"
        "With a parent manifest, the new manifest records the parent's SHA-256: history "
        "becomes a hash chain, and editing an old manifest breaks it visibly. Building the "
        "next version is one step: without a parent, the newest manifest in the output "
        "folder is the parent (unless Start a new history is on), and without a version "
        "label the next one in sequence is used (v3 after v2; v1 for the first).\n\n"
        "Sidecars that no longer describe their data file (the next verify would say "
        "sidecar_mismatch) are exported again before the manifest records them; with "
        "Refresh stale sidecars off, the build refuses and names them instead.\n\n"
        "An existing manifest is never overwritten: choose a new file name for each "
        "version. Feature indexes are named after their SHA-256, so no build touches the "
        "indexes an older manifest points at.\n\n"
        "Paths are stored relative to the dataset root (by default the manifest's folder); "
        "every layer must lie inside it. The manifest is written atomically.\n\n"
        "Outputs: OUTPUT (manifest path), MANIFEST_SHA256, ENTRY_COUNT.",
    )
    LAYERS = "LAYERS"
    VERSION = "VERSION"
    PARENT = "PARENT"
    OUTPUT = "OUTPUT"
    DATASET_ROOT = "DATASET_ROOT"
    FEATURE_INDEX = "FEATURE_INDEX"
    REFRESH_SIDECARS = "REFRESH_SIDECARS"
    NEW_HISTORY = "NEW_HISTORY"
    MANIFEST_SHA256 = "MANIFEST_SHA256"
    ENTRY_COUNT = "ENTRY_COUNT"

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        self.add(
            QgsProcessingParameterMultipleLayers(self.LAYERS, self.tr("Layers"), TYPE_MAPLAYER),
            self.tr("File-based raster and vector layers that make up this version."),
        )
        self.add(
            QgsProcessingParameterString(self.VERSION, self.tr("Version label"), "", optional=True),
            self.tr(
                "Name of this version, e.g. v3 or 2024-05-labels. Empty: the next in "
                "sequence after the parent's label (v1 without a parent)."
            ),
        )
        self.add(
            QgsProcessingParameterFile(
                self.PARENT, self.tr("Parent manifest"), extension="json", optional=True
            ),
            self.tr(
                "Manifest of the previous version. Its SHA-256 is recorded; it must "
                "be intact (its own parent chain is checked). Empty: the newest manifest "
                "in the output manifest's folder, if there is one."
            ),
        )
        self.add(
            QgsProcessingParameterFileDestination(
                self.OUTPUT, self.tr("Manifest"), self.tr("LabelGuard manifest (*.json)")
            ),
            self.tr(
                "Where to write the manifest (JSON). Per-feature hashes go into a "
                "<name>.features folder next to it."
            ),
        )
        self.add(
            QgsProcessingParameterFile(
                self.DATASET_ROOT,
                self.tr("Dataset root folder"),
                behavior=QgsProcessingParameterFile.Behavior.Folder,
                optional=True,
            ),
            self.tr(
                "Folder that paths in the manifest are relative to. Empty: the manifest's folder."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterBoolean(
                self.FEATURE_INDEX, self.tr("Store per-feature hashes"), True
            ),
            self.tr(
                "Needed by Compare dataset versions to tell which features changed. "
                "Turn off only for very large layers you never diff."
            ),
            advanced=True,
        )
        self.add(
            QgsProcessingParameterBoolean(
                self.REFRESH_SIDECARS, self.tr("Refresh stale sidecars"), True
            ),
            self.tr(
                "Export again, before hashing, every sidecar that describes other content "
                "than its data file. Off: refuse to build and name them."
            ),
        )
        self.add(
            QgsProcessingParameterBoolean(
                self.NEW_HISTORY, self.tr("Start a new history (no parent)"), False
            ),
            self.tr(
                "Build a first version even when the output folder holds manifests: no "
                "parent is looked for when Parent manifest is empty."
            ),
            advanced=True,
        )
        self.add_scheduler(
            self.tr(
                "The files are hashed on the workers in parallel, and the content of large "
                "vector layers in parts that are combined."
            )
        )
        self.addOutput(QgsProcessingOutputString(self.MANIFEST_SHA256, self.tr("Manifest SHA-256")))
        self.add_counts((self.ENTRY_COUNT, self.tr("Entries")))

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> Dict[str, Any]:
        version = self.parameterAsString(parameters, self.VERSION, context).strip()
        parent_text = self.parameterAsFile(parameters, self.PARENT, context)
        out = Path(self.parameterAsFileOutput(parameters, self.OUTPUT, context))
        root_text = self.parameterAsFile(parameters, self.DATASET_ROOT, context)
        root = Path(root_text) if root_text else out.parent
        parent = Path(parent_text) if parent_text else None
        if parent is None and not self.parameterAsBoolean(parameters, self.NEW_HISTORY, context):
            parent = self.call(newest_manifest, out.parent)
            if parent is not None:
                feedback.pushInfo(self.tr("Parent: the newest manifest there, {}").format(parent))
        if parent is not None and os.path.abspath(parent) == os.path.abspath(out):
            raise QgsProcessingException(
                self.tr(
                    "The output manifest is the parent manifest {}; choose a new file name so the "
                    "parent version is kept."
                ).format(out)
            )
        if not version:
            previous = None if parent is None else self.call(read_manifest, parent)["version"]
            version = next_version_label(previous or "")
            feedback.pushInfo(self.tr("Version label: {}").format(version))
        sources = self.layer_files(parameters, self.LAYERS, context)
        for path, _ in sources:
            if self.call(detect_kind, path) == "file":
                feedback.pushWarning(
                    self.tr(
                        "{} is not a raster or vector dataset; only its bytes are tracked."
                    ).format(path.name)
                )
        feedback.pushInfo(self.tr("Hashing {} data files").format(len(sources)))
        keep_index = self.parameterAsBoolean(parameters, self.FEATURE_INDEX, context)
        with self.dask_client(parameters, context, feedback) as client:
            on_cluster = {}
            if client is not None:
                from ..cluster.hashing import dask_hasher, dask_vector_content

                on_cluster = {
                    "hasher": dask_hasher(client),
                    "content": dask_vector_content(client),
                }
            doc, digest, refreshed = self.run_core(
                feedback,
                make_manifest,
                sources,
                root=root,
                manifest_path=out,
                version=version,
                parent=parent,
                keep_index=keep_index,
                creator=self.creator(),
                refresh_sidecars=self.parameterAsBoolean(
                    parameters, self.REFRESH_SIDECARS, context
                ),
                **on_cluster,
            )
        for side in refreshed:
            feedback.pushInfo(self.tr("Stale sidecar exported again: {}").format(side))
        for entry in doc["entries"]:
            if entry["sidecar"] is None and entry["kind"] != "file":
                feedback.pushWarning(
                    self.tr(
                        "{} has no sidecar next to it; run Export metadata sidecars to record its "
                        "metadata."
                    ).format(entry["path"])
                )
        feedback.pushInfo(
            self.tr("Manifest {} ({} entries), SHA-256 {}").format(out, len(doc["entries"]), digest)
        )
        results = {
            self.OUTPUT: str(out),
            self.MANIFEST_SHA256: digest,
            self.ENTRY_COUNT: len(doc["entries"]),
        }
        return self.finish(parameters, context, results)
