"""LabelGuardAlgorithm: the one template every LabelGuard Processing algorithm follows.

An algorithm module declares its parameters with ``add`` (and ``add_report`` /
``add_fail_on_error`` / ``add_counts``), makes one ``run_core`` call into core or the data
layer, writes its outputs with ``write_sink`` / ``write_report`` and returns through
``finish``, which fills every declared count and applies FAIL_ON_ERROR. Error and cancel
translation happen in ``run_core`` and nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsFields,
    QgsGeometry,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProperty,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..core.errors import Cancelled, LabelGuardError
from ..core.report import tool_id
from ..core.report import write_report as _write_report
from ..core.version import plugin_version
from ..gdalio.provenance import creator_versions
from .compat import FLAG_ADVANCED, make_field
from .layers import layer_file

ICON_PATH = Path(__file__).resolve().parents[1] / "ui" / "icons" / "labelguard.svg"

__all__ = ["ICON_PATH", "LabelGuardAlgorithm", "plugin_version"]

T = TypeVar("T")
FieldSpec = Sequence[Tuple[str, str]]  # (name, kind) with kind in compat.FIELD_TYPES
Row = Tuple[Sequence[Any], Optional[QgsGeometry]]  # attribute values in field order, geometry


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

    def add_counts(self, *counts: Tuple[str, str]) -> None:
        """Declare count outputs as (name, translated label); ``finish`` fills them, 0 if unset."""
        for name, label in counts:
            self.addOutput(QgsProcessingOutputNumber(name, label))

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
            where = exc.filename if exc.filename is not None else ""
            raise QgsProcessingException(
                self.tr("Cannot read or write {}: {}").format(where, exc.strerror or exc).strip()
            ) from exc

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

    def sink_target(
        self, parameters: Dict[str, Any], name: str, context: QgsProcessingContext
    ) -> str:
        """The destination the user gave for sink ``name`` ("" if none), as text, e.g. to pick
        layer options by file type before ``write_sink``.

        Never ``parameterAsOutputLayer()`` for this: with outputs loaded on completion it
        registers a second layer to load, which is never created, and QGIS ends the run with
        "The following layers were not correctly generated" (QGIS 3.22 to 3.40 at least).
        """
        value = parameters.get(name)
        if isinstance(value, QgsProcessingOutputLayerDefinition):
            value = value.sink
        if isinstance(value, QgsProperty):
            value = value.valueAsString(context.expressionContext(), "")[0]
        return "" if value is None else str(value)

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
    ) -> Optional[str]:
        """Write rows to the sink parameter ``name``; its id, or None when the optional sink
        was not requested. A failed write or a cancel raises; nothing is reported written."""
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
        for n, (values, geometry) in enumerate(rows):
            if feedback is not None and n % 10000 == 0:
                self.check_canceled(feedback)
            feature = QgsFeature(qfields)
            feature.setAttributes(list(values))
            if geometry is not None:
                feature.setGeometry(geometry)
            if not sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert):
                raise QgsProcessingException(self.writeFeatureError(sink, parameters, name))
        del sink  # flushes and closes the output before it is loaded or post-processed
        return dest

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
