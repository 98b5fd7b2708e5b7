"""LabelGuardAlgorithm: the one template every LabelGuard Processing algorithm follows.

An algorithm module declares its parameters with ``add`` (and ``add_report`` /
``add_fail_on_error`` / ``add_counts``), makes one ``run_core`` call into core or the data
layer, writes its outputs with ``write_sink`` / ``write_report`` and returns through
``finish``, which fills every declared count and applies FAIL_ON_ERROR. Error and cancel
translation happen in ``run_core`` and nowhere else.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsFields,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterVectorLayer,
    QgsProperty,
    QgsProviderRegistry,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..core.errors import Cancelled, LabelGuardError
from ..core.manifest import protected_files
from ..core.report import tool_id
from ..core.report import write_report as _write_report
from ..core.version import plugin_version
from ..gdalio.provenance import creator_versions
from ..gdalio.vector import feature_count
from ..render.styles import PLAIN, RuleStylePostProcessor
from .compat import FLAG_ADVANCED, make_field
from .layers import layer_file

ICON_PATH = Path(__file__).resolve().parents[1] / "ui" / "icons" / "labelguard.svg"

__all__ = ["ICON_PATH", "LabelGuardAlgorithm", "plugin_version"]

T = TypeVar("T")
LAYER_INPUTS = (
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorLayer,
    QgsProcessingParameterMapLayer,
)
FILE_OUTPUTS = (QgsProcessingParameterFileDestination, QgsProcessingParameterFolderDestination)
LAYER_OUTPUTS = (
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterRasterDestination,
)
FieldSpec = Sequence[Tuple[str, str]]  # (name, kind) with kind in compat.FIELD_TYPES
Row = Tuple[Sequence[Any], Optional[QgsGeometry]]  # attribute values in field order, geometry


def _layer_path(layer: Any) -> str:
    """The file behind a layer, or "" (memory, database and web layers have none)."""
    if layer is None:
        return ""
    parts = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source())
    return parts.get("path") or ""


def _looks_like_manifest(path: str) -> bool:
    """A JSON file that starts like a LabelGuard manifest (its first key is the schema), so a
    large COCO file is not parsed twice."""
    if not path.lower().endswith(".json") or not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return False
    return b'"labelguard.manifest/' in head


def _group_names() -> Dict[str, str]:
    # Literal strings in translate() calls, so translation tools find them.
    return {
        "validation": QCoreApplication.translate("LabelGuardProvider", "Validation"),
        "versioning": QCoreApplication.translate("LabelGuardProvider", "Versioning"),
        "trainingdata": QCoreApplication.translate("LabelGuardProvider", "Training data"),
    }


class LabelGuardAlgorithm(QgsProcessingAlgorithm):
    """Common plumbing: instance, translation, group, icon; parameter helpers; core calls with
    error and cancel translation; sinks, reports and results."""

    GROUP_ID = ""
    # Identity, as class attributes: NAME is the stable id from PRODUCT.md; the texts are
    # marked with QT_TRANSLATE_NOOP(<class name>, ...) so translation tools find them.
    NAME = ""
    DISPLAY_NAME = ""
    HELP = ""
    TAGS = ""  # comma-separated

    REPORT = "REPORT"
    FAIL_ON_ERROR = "FAIL_ON_ERROR"
    SCHEDULER = "SCHEDULER"
    CANCELLED = QT_TRANSLATE_NOOP("LabelGuardAlgorithm", "Cancelled; nothing was written.")

    def createInstance(self):  # noqa: N802 (QGIS API)
        return type(self)()

    def tr(self, text: str) -> str:
        return QCoreApplication.translate(type(self).__name__, text)

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr(self.DISPLAY_NAME)

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr(self.HELP)

    def tags(self) -> List[str]:
        return self.tr(self.TAGS).split(",") if self.TAGS else []

    def group(self) -> str:
        return _group_names()[self.GROUP_ID]

    def groupId(self) -> str:  # noqa: N802 (QGIS API)
        return self.GROUP_ID

    def icon(self) -> QIcon:
        return QIcon(str(ICON_PATH))

    # --- parameters and outputs ------------------------------------------------------------

    def add(
        self, param: QgsProcessingParameterDefinition, help_text: str, advanced: bool = False
    ) -> QgsProcessingParameterDefinition:
        """Add a parameter with its (translated) help; ``advanced`` puts it under Advanced."""
        param.setHelp(help_text)
        if advanced:
            param.setFlags(param.flags() | FLAG_ADVANCED)
        self.addParameter(param)
        return param

    def add_number(
        self,
        name: str,
        label: str,
        default: float,
        minimum: Optional[float],
        maximum: Optional[float],
        help_text: str,
        advanced: bool = False,
    ) -> None:
        """A decimal number parameter within [minimum, maximum] (None: unbounded)."""
        param = QgsProcessingParameterNumber(
            name, label, QgsProcessingParameterNumber.Type.Double, default, False
        )
        if minimum is not None:
            param.setMinimum(minimum)
        if maximum is not None:
            param.setMaximum(maximum)
        self.add(param, help_text, advanced)

    def add_report(self, help_text: str) -> None:
        """The optional REPORT parameter: a labelguard.report/1 JSON file."""
        self.add(
            QgsProcessingParameterFileDestination(
                self.REPORT,
                self.tr("JSON report"),
                self.tr("JSON files (*.json)"),
                optional=True,
                createByDefault=False,
            ),
            help_text,
        )

    def add_fail_on_error(self, help_text: str, label: Optional[str] = None) -> None:
        """The FAIL_ON_ERROR parameter (default off); ``finish`` applies it."""
        self.add(
            QgsProcessingParameterBoolean(
                self.FAIL_ON_ERROR, label or self.tr("Fail on error"), defaultValue=False
            ),
            help_text,
        )

    def add_scheduler(self, work: str) -> None:
        """The optional, advanced SCHEDULER parameter: a Dask scheduler address; ``work`` says
        what the workers do. ``dask_client`` connects to it."""
        self.add(
            QgsProcessingParameterString(
                self.SCHEDULER, self.tr("Dask scheduler address"), "", optional=True
            ),
            self.tr(
                "Run on a Dask cluster instead of in this QGIS: the address of its scheduler, "
                "e.g. tcp://host:8786. {} The results are the same as without it. The workers "
                "need LabelGuard's command line installed (pip install 'labelguard[dask]') and "
                "must see the data files at the same paths (shared storage); QGIS's Python "
                "needs dask.distributed. Progress and Cancel work as usual. Empty: run in this "
                "process."
            ).format(work),
            advanced=True,
        )

    @contextlib.contextmanager
    def dask_client(
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> Iterator[Any]:
        """A dask.distributed client on the SCHEDULER address, closed afterwards; None when
        SCHEDULER is empty. A missing dask.distributed or an unreachable scheduler is one
        line naming the fix."""
        address = ""
        if self.parameterDefinition(self.SCHEDULER) is not None:
            address = (self.parameterAsString(parameters, self.SCHEDULER, context) or "").strip()
        if not address:
            yield None
            return
        try:
            import distributed  # noqa: F401 (only to know it is there)

            from ..cluster.client import connect, n_workers
        except ImportError as exc:
            raise QgsProcessingException(
                self.tr(
                    "SCHEDULER is set to {} but dask.distributed cannot be imported in QGIS's "
                    "Python ({}). Install it into QGIS's Python (python -m pip install "
                    "distributed, with the python QGIS runs), or leave SCHEDULER empty to run "
                    "in this process."
                ).format(address, exc)
            ) from exc
        feedback.pushInfo(self.tr("Connecting to the Dask scheduler at {}").format(address))
        client = self.call(connect, scheduler=address, option=self.SCHEDULER)
        try:
            feedback.pushInfo(self.tr("Dask cluster: {} worker(s)").format(n_workers(client)))
            yield client
        finally:
            client.close()

    def add_counts(self, *counts: Tuple[str, str]) -> None:
        """Declare count outputs as (name, translated label); ``finish`` fills them, 0 if unset."""
        for name, label in counts:
            self.addOutput(QgsProcessingOutputNumber(name, label))

    def output_target(
        self, parameters: Dict[str, Any], name: str, context: QgsProcessingContext
    ) -> str:
        """The destination the user gave for the output layer ``name`` (a sink or vector
        destination) as text; "" when none or a temporary output.

        Never ``parameterAsOutputLayer()`` for this: with outputs loaded on completion it
        registers a second layer to load, which is never created, and QGIS ends the run with
        "The following layers were not correctly generated" (QGIS 3.22 to 3.40 at least).
        """
        value = parameters.get(name)
        if isinstance(value, QgsProcessingOutputLayerDefinition):
            value = value.sink
        if isinstance(value, QgsProperty):
            value = value.valueAsString(context.expressionContext(), "")[0]
        text = "" if value is None else str(value)
        return "" if text == QgsProcessing.TEMPORARY_OUTPUT else text

    # --- outputs never overwrite inputs ---------------------------------------------------

    def checkParameterValues(  # noqa: N802 (QGIS API)
        self, parameters: Dict[str, Any], context: QgsProcessingContext
    ) -> Tuple[bool, str]:
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        problem = self.overwritten_input(parameters, context)
        return (False, problem) if problem else (True, "")

    def prepareAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> bool:
        # The same check again: a model runs its child algorithms without checkParameterValues.
        problem = self.overwritten_input(parameters, context)
        if problem:
            raise QgsProcessingException(problem)
        return True

    def protected_inputs(
        self, parameters: Dict[str, Any], context: QgsProcessingContext
    ) -> Dict[str, str]:
        """Real paths no output of this run may be: every input file and layer, and for an
        input that is a manifest, the files it tracks and the manifests of its chain (with
        theirs). Path -> what it is, for the message."""
        out: Dict[str, str] = {}
        for param in self.parameterDefinitions():
            name = param.name()
            if parameters.get(name) in (None, ""):
                continue
            paths: List[str] = []
            if isinstance(param, QgsProcessingParameterFile):
                paths = [self.parameterAsFile(parameters, name, context)]
            elif isinstance(param, QgsProcessingParameterMultipleLayers):
                layers = self.parameterAsLayerList(parameters, name, context)
                paths = [_layer_path(layer) for layer in layers]
            elif isinstance(param, LAYER_INPUTS):
                paths = [_layer_path(self.parameterAsLayer(parameters, name, context))]
            for path in (p for p in paths if p):
                out.setdefault(
                    os.path.realpath(path), self.tr("one of the inputs ({})").format(name)
                )
                if _looks_like_manifest(path):
                    for real, what in protected_files(Path(path)).items():
                        out.setdefault(real, what)
        return out

    def overwritten_input(
        self, parameters: Dict[str, Any], context: QgsProcessingContext
    ) -> Optional[str]:
        """The message refusing an output that is one of this run's inputs, a file a manifest
        it reads tracks, or a manifest of such a chain; None when every output is new."""
        outputs: List[Tuple[str, str]] = []
        for param in self.destinationParameterDefinitions():
            name = param.name()
            if parameters.get(name) in (None, ""):
                continue
            if isinstance(param, FILE_OUTPUTS):
                target = self.parameterAsFileOutput(parameters, name, context)
            elif isinstance(param, LAYER_OUTPUTS):
                target = self.output_target(parameters, name, context).split("|")[0]
            else:
                continue
            if target and not target.startswith("memory:"):
                outputs.append((name, target))
        if not outputs:
            return None
        protected = self.protected_inputs(parameters, context)
        for name, target in outputs:
            what = protected.get(os.path.realpath(target))
            if what is not None:
                return self.tr(
                    "{} {} is {}; writing there would overwrite it. Choose another file."
                ).format(name, target, what)
        return None

    # --- calls into core and the data layer ------------------------------------------------

    def run_core(
        self,
        feedback: Optional[QgsProcessingFeedback],
        func: Callable[..., T],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """Call a core or data-layer function; with ``feedback``, it also gets progress and
        cancel callbacks. LabelGuard errors and OS errors become ``QgsProcessingException``
        with a message for users; a cancelled run says nothing was written."""
        if feedback is not None:
            kwargs.setdefault("progress", lambda f: feedback.setProgress(100.0 * f))
            kwargs.setdefault("should_stop", feedback.isCanceled)
        try:
            return func(*args, **kwargs)
        except Cancelled as exc:
            raise QgsProcessingException(
                QCoreApplication.translate("LabelGuardAlgorithm", self.CANCELLED)
            ) from exc
        except LabelGuardError as exc:
            raise QgsProcessingException(str(exc)) from exc
        except OSError as exc:
            raise QgsProcessingException(self.os_error_message(exc)) from exc

    def os_error_message(self, exc: OSError) -> str:
        """One line for users: the folder that cannot be written to (read-only, no permission,
        full), else the file that could not be read or written."""
        where = exc.filename if exc.filename is not None else ""
        reason = exc.strerror or str(exc)
        creating = exc.errno in (errno.EACCES, errno.EPERM) and where and not os.path.exists(where)
        if where and (exc.errno in (errno.EROFS, errno.ENOSPC, errno.EDQUOT) or creating):
            folder = Path(where).parent
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                return self.tr(
                    "Cannot write to folder {}: {}. Nothing was replaced; free some space or "
                    "choose another folder."
                ).format(folder, reason)
            return self.tr(
                "Cannot write to folder {}: {}. Choose a folder you can write to."
            ).format(folder, reason)
        return self.tr("Cannot read or write {}: {}").format(where, reason).strip()

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``run_core`` without progress: for quick calls that only need error translation."""
        return self.run_core(None, func, *args, **kwargs)

    def check_canceled(self, feedback: QgsProcessingFeedback) -> None:
        if feedback.isCanceled():
            raise QgsProcessingException(
                QCoreApplication.translate("LabelGuardAlgorithm", self.CANCELLED)
            )

    def creator(self) -> Dict[str, str]:
        """The ``creator`` of manifests written here: plugin, QGIS, GDAL and PROJ versions."""
        return creator_versions(Qgis.QGIS_VERSION)

    # --- inputs ----------------------------------------------------------------------------

    def layer_files(
        self, parameters: Dict[str, Any], name: str, context: QgsProcessingContext
    ) -> List[Tuple[Path, Optional[str]]]:
        """(file, layer name) behind each layer of a multiple-layer parameter, without
        repeats; an error naming the fix when there is none or one has no file."""
        layers = self.parameterAsLayerList(parameters, name, context)
        if not layers:
            raise QgsProcessingException(
                self.tr("No layers given in {}: choose at least one layer.").format(name)
            )
        sources: List[Tuple[Path, Optional[str]]] = []
        for layer in layers:
            source = layer_file(layer)
            if source not in sources:
                sources.append(source)
        return sources

    # --- outputs ---------------------------------------------------------------------------

    def write_sink(
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        name: str,
        fields: FieldSpec,
        rows: Iterable[Row],
        *,
        wkb_type: Any = QgsWkbTypes.Type.NoGeometry,
        crs: Optional[QgsCoordinateReferenceSystem] = None,
        layer_options: Optional[List[str]] = None,
        feedback: Optional[QgsProcessingFeedback] = None,
        style: str = PLAIN,
        properties: Optional[Dict[str, str]] = None,
    ) -> Optional[str]:
        """Write rows to the sink parameter ``name``; its id, or None when the optional sink
        was not requested. A failed write or a cancel raises; nothing is reported written.
        When the layer is loaded on completion it is marked as a LabelGuard result, styled
        with ``style`` and given the custom ``properties`` (``render.styles``)."""
        qfields = QgsFields()
        for field_name, kind in fields:
            qfields.append(make_field(field_name, kind))
        sink, dest = self.parameterAsSink(
            parameters,
            name,
            context,
            qfields,
            wkb_type,
            crs or QgsCoordinateReferenceSystem(),
            layerOptions=layer_options or [],
        )
        if sink is None:
            if parameters.get(name) is None:  # an optional sink the user switched off
                return None
            raise QgsProcessingException(self.invalidSinkError(parameters, name))
        written = 0
        for n, (values, geometry) in enumerate(rows):
            if feedback is not None and n % 10000 == 0:
                self.check_canceled(feedback)
            feature = QgsFeature(qfields)
            feature.setAttributes(list(values))
            if geometry is not None:
                feature.setGeometry(geometry)
            if not sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert):
                raise QgsProcessingException(self.writeFeatureError(sink, parameters, name))
            written += 1
        del sink  # flushes and closes the output before it is loaded or post-processed
        self._check_written(dest, written)
        if context.willLoadLayerOnCompletion(dest):
            details = context.layerToLoadOnCompletionDetails(dest)
            details.setPostProcessor(RuleStylePostProcessor.create(style, properties))
        return dest

    def _check_written(self, dest: str, expected: int) -> None:
        """Raise unless a file output holds every feature written to it. QGIS's file writer
        accepts features into a buffer and fails silently when the final commit does not fit
        on the disk, so a full disk would otherwise look like success."""
        parts = QgsProviderRegistry.instance().decodeUri("ogr", dest)
        path = parts.get("path") or ""
        if not path or not os.path.isfile(path):
            return  # a memory layer or a database: nothing to re-read
        try:
            found: Optional[int] = feature_count(path, parts.get("layerName") or None)
        except (LabelGuardError, RuntimeError):
            found = None
        if found != expected:
            raise QgsProcessingException(
                self.tr(
                    "Only {} of {} features reached {}: the disk may be full or the file cannot "
                    "be written. The output is incomplete; free some space or choose another "
                    "folder, then run again."
                ).format(found or 0, expected, path)
            )

    def write_report(
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        findings: Sequence[Dict[str, Any]],
        counts: Dict[str, int],
        extra: Optional[Dict[str, Any]] = None,
    ) -> Optional[str]:
        """Write the REPORT file (labelguard.report/1, tool = this algorithm's id) when one was
        asked for; its path, or None."""
        path = self.parameterAsFileOutput(parameters, self.REPORT, context)
        if not path:
            return None
        self.call(_write_report, path, tool_id(self.name()), list(findings), counts, extra)
        return path

    def finish(
        self,
        parameters: Dict[str, Any],
        context: QgsProcessingContext,
        results: Dict[str, Any],
        *,
        optional: Optional[Dict[str, Any]] = None,
        failures: int = 0,
        failure_message: str = "",
    ) -> Dict[str, Any]:
        """The results with every declared count present (0, never missing); raises
        ``failure_message`` when FAIL_ON_ERROR is set and ``failures`` > 0 (call it after every
        output was written). Optional outputs that were not written are left out by passing
        them in ``optional`` rather than ``results``."""
        out = dict(results)
        out.update({k: v for k, v in (optional or {}).items() if v is not None})
        for output in self.outputDefinitions():
            if isinstance(output, QgsProcessingOutputNumber):
                out.setdefault(output.name(), 0)
        fail = self.parameterDefinition(self.FAIL_ON_ERROR) is not None and (
            self.parameterAsBoolean(parameters, self.FAIL_ON_ERROR, context)
        )
        if failures and fail:
            raise QgsProcessingException(failure_message)
        return out
