"""The findings panel: one table of a validatetopology run, zoom and highlight, accept as an
exception the next run picks up, mark fixed, fixes as undoable edits, re-check."""

from __future__ import annotations

import json

import pytest

BOWTIE = "POLYGON((500100 5000000,500110 5000010,500110 5000000,500100 5000010,500100 5000000))"
SQUARE = "POLYGON((500000 5000000,500010 5000000,500010 5000010,500000 5000010,500000 5000000))"
FAR = "POLYGON((500200 5000200,500210 5000200,500210 5000210,500200 5000210,500200 5000200))"


@pytest.fixture
def labels_file(tmp_path, gis):
    """Feature 1 a bowtie (invalid, a point error), 2 and 3 exact duplicates, 4 fine."""
    rows = [(1, "building", BOWTIE), (2, "tree", SQUARE), (3, "tree", SQUARE), (4, "field", FAR)]
    return gis.write_vector(tmp_path / "labels.gpkg", rows)


def _panel(qgis_iface, canvas=None):
    from labelguard.ui.findings import LabelGuardFindingsDock
    from qgis.core import QgsProject

    messages = []
    panel = LabelGuardFindingsDock(
        qgis_iface.mainWindow(), QgsProject.instance(), lambda t, lvl: messages.append(t), canvas
    )
    return panel, messages


def _canvas():
    from qgis.core import QgsCoordinateReferenceSystem, QgsRectangle
    from qgis.gui import QgsMapCanvas

    canvas = QgsMapCanvas()
    canvas.resize(400, 300)
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:32633"))
    canvas.setExtent(QgsRectangle(0, 0, 10, 10))
    return canvas


def _validate_from_toolbox(layer):
    """What the toolbox does: run, then load the error layers with their post-processors."""
    import processing
    from qgis.core import QgsApplication

    outputs = {k: "TEMPORARY_OUTPUT" for k in ("OUTPUT", "OUTPUT_POINTS", "OUTPUT_LINES")}
    processing.runAndLoadResults("labelguard:validatetopology", {"INPUT": layer.id(), **outputs})
    QgsApplication.processEvents()  # the panel gathers the run after the layers are styled
    QgsApplication.processEvents()


def _wait(task):
    from qgis.PyQt.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    task.executed.connect(lambda *_: QTimer.singleShot(0, loop.quit))
    QTimer.singleShot(60000, loop.quit)  # bound
    loop.exec()


@pytest.fixture
def reviewed(qgis_iface, qgis_new_project, labelguard_provider, labels_file, layer_tree_view):
    from qgis.core import QgsProject, QgsVectorLayer

    canvas = _canvas()
    panel, messages = _panel(qgis_iface, canvas)
    layer = QgsVectorLayer(str(labels_file), "labels", "ogr")
    QgsProject.instance().addMapLayer(layer)
    _validate_from_toolbox(layer)
    yield panel, layer, canvas, messages
    if layer.isEditable():
        layer.rollBack()
    panel.unload()


def test_one_table_of_all_findings_of_the_run(reviewed):
    panel, layer, _canvas, _ = reviewed
    assert panel.target is layer
    assert panel.model.rows() == [
        ("duplicate", "2 ↔ 3", "open"),
        ("invalid", "1", "open"),  # its location is a point: from the point error layer
    ]
    assert panel.ui.countsLabel.text() == "2 errors, 0 fixed, 0 accepted — labels"
    layers = panel.run_layers(panel.run_id)
    assert sorted(lyr.geometryType() for lyr in layers) == [0, 2]  # points and areas


def test_selecting_zooms_to_the_error_or_the_feature_and_highlights_both(reviewed):
    from qgis.core import QgsPointXY

    panel, layer, canvas, _ = reviewed
    panel.select_row(1)  # the bowtie's self-intersection at 500105 5000005
    assert canvas.extent().contains(QgsPointXY(500105, 5000005))
    assert canvas.extent().width() < 60
    assert len(panel.highlights) == 2  # the feature and the error
    panel.ui.zoomCombo.setCurrentIndex(1)  # zoom to the feature
    feature_box = next(layer.getFeatures("id = 1")).geometry().boundingBox()
    assert canvas.extent().contains(feature_box)
    panel.ui.zoomCombo.setCurrentIndex(0)


def test_accepting_writes_where_the_next_run_picks_it_up(reviewed, labels_file):
    import processing

    panel, layer, _canvas, _ = reviewed
    panel.select_row(0)
    written = panel.accept_selected()
    assert written == labels_file.with_name("labels.gpkg.labelguard-exceptions.json")
    rows = json.loads(written.read_text())["exceptions"]
    assert [(r["rule"], r["fid"], r["other_fid"]) for r in rows] == [("duplicate", 2, 3)]
    assert panel.model.rows()[0] == ("duplicate", "2 ↔ 3", "accepted")
    assert panel.ui.countsLabel.text() == "1 error, 0 fixed, 1 accepted — labels"
    again = processing.run("labelguard:validatetopology", {"INPUT": str(labels_file)})
    assert (again["ERROR_COUNT"], again["EXCEPTION_COUNT"]) == (1, 1)


def test_mark_fixed_counts(reviewed):
    panel, *_ = reviewed
    panel.select_row(1)
    panel.mark_fixed()
    assert panel.model.rows()[1] == ("invalid", "1", "fixed")
    assert not panel.ui.fixedButton.isEnabled()
    assert panel.ui.countsLabel.text() == "1 error, 1 fixed, 0 accepted — labels"


def test_fixes_are_undoable_edits(reviewed):
    panel, layer, _canvas, _ = reviewed
    panel.select_row(0)
    assert panel.ui.fixButton.text() == "Delete duplicate"
    assert panel.fix_selected()
    assert layer.isEditable()
    assert sorted(f.id() for f in layer.getFeatures()) == [1, 2, 4]
    panel.select_row(1)
    assert panel.ui.fixButton.text() == "Make valid"
    assert panel.fix_selected()
    assert layer.getFeature(1).geometry().isGeosValid()
    assert panel.ui.countsLabel.text() == "0 errors, 2 fixed, 0 accepted — labels"
    stack = layer.undoStack()
    assert [stack.text(i) for i in range(stack.count())] == [
        "LabelGuard: delete duplicate feature 3",
        "LabelGuard: make feature 1 valid",
    ]
    stack.undo()
    stack.undo()
    assert sorted(f.id() for f in layer.getFeatures()) == [1, 2, 3, 4]
    assert not layer.getFeature(1).geometry().isGeosValid()


def test_recheck_after_an_edit_shows_what_was_fixed(reviewed):
    panel, layer, _canvas, _ = reviewed
    layer.startEditing()
    layer.deleteFeature(3)  # fixed by hand, not saved
    task = panel.recheck()
    assert task is not None
    assert not panel.ui.recheckButton.isEnabled()
    _wait(task)
    assert panel.task is None
    assert panel.model.rows() == [("invalid", "1", "open"), ("duplicate", "2 ↔ 3", "fixed")]
    assert panel.ui.countsLabel.text() == "1 error, 1 fixed, 0 accepted — labels"


def test_error_layers_are_styled_readably(reviewed):
    panel, *_ = reviewed
    layers = {lyr.geometryType(): lyr for lyr in panel.run_layers(panel.run_id)}
    renderer = layers[2].renderer()
    assert renderer.classAttribute() == "rule"
    categories = renderer.categories()  # the symbols belong to these copies: keep them
    sliver = next(c for c in categories if c.value() == "sliver").symbol()
    assert [sl.layerType() for sl in sliver.symbolLayers()] == [
        "SimpleLine",
        "SimpleFill",
        "CentroidFill",
    ]  # halo, outlined fill, a marker so thin slivers show at any scale


def test_empty_panel_says_how_to_start(qgis_iface, qgis_new_project):
    panel, _ = _panel(qgis_iface)
    assert panel.ui.countsLabel.text().startswith("No findings yet. Run Validate annotation")
    assert panel.model.rowCount() == 0
    panel.unload()


DUP_VERTEX = (
    "POLYGON((500300 5000000,500310 5000000,500310 5000000,500310 5000010,500300 5000010,"
    "500300 5000000))"
)


@pytest.fixture
def vertex_review(qgis_iface, qgis_new_project, labelguard_provider, tmp_path, gis):
    """One feature repeating its vertex 500310 5000000, validated with the duplicate_vertex rule."""
    import processing
    from qgis.core import QgsApplication, QgsProject, QgsVectorLayer

    path = gis.write_vector(tmp_path / "vertices.gpkg", [(5, "roof", DUP_VERTEX)])
    canvas = _canvas()  # referenced until the end: the panel holds only a raw pointer
    panel, _messages = _panel(qgis_iface, canvas)
    layer = QgsVectorLayer(str(path), "vertices", "ogr")
    QgsProject.instance().addMapLayer(layer)
    outputs = {k: "TEMPORARY_OUTPUT" for k in ("OUTPUT", "OUTPUT_POINTS", "OUTPUT_LINES")}
    processing.runAndLoadResults(
        "labelguard:validatetopology", {"INPUT": layer.id(), "RULES": [13], **outputs}
    )
    QgsApplication.processEvents()
    QgsApplication.processEvents()
    yield panel, layer, canvas
    if layer.isEditable():
        layer.rollBack()
    panel.unload()


def test_remove_duplicate_vertex_is_an_undoable_edit(vertex_review):
    panel, layer, _canvas = vertex_review
    assert panel.model.rows() == [("duplicate_vertex", "1", "open")]
    panel.select_row(0)
    assert panel.ui.fixButton.isEnabled()
    assert panel.ui.fixButton.text() == "Remove duplicate vertex"
    assert panel.fix_selected()
    assert layer.isEditable()
    assert layer.isModified()
    assert layer.getFeature(1).geometry().asWkt() == (
        "Polygon ((500300 5000000, 500310 5000000, 500310 5000010, 500300 5000010, 500300 5000000))"
    )
    assert panel.model.rows() == [("duplicate_vertex", "1", "fixed")]
    assert panel.ui.countsLabel.text() == "0 errors, 1 fixed, 0 accepted — vertices"
    stack = layer.undoStack()
    assert [stack.text(i) for i in range(stack.count())] == [
        "LabelGuard: remove duplicate vertex of feature 1"
    ]
    stack.undo()
    assert layer.getFeature(1).geometry().asWkt() == (
        "Polygon ((500300 5000000, 500310 5000000, 500310 5000000, 500310 5000010, "
        "500300 5000010, 500300 5000000))"
    )
    assert not panel.ui.fixButton.isEnabled()  # the row stays fixed until a re-check


@pytest.mark.parametrize(
    ("wkt", "at", "expected"),
    [
        (
            "LineString (0 0, 1 1, 1 1, 1 1, 2 0)",
            "Point (1 1)",
            "LineString (0 0, 1 1, 2 0)",
        ),
        (
            "Polygon ((0 0, 10 0, 10 10, 0 10, 0 0, 0 0))",
            "Point (0 0)",
            "Polygon ((0 0, 10 0, 10 10, 0 10, 0 0))",
        ),
        (
            "MultiPolygonZ (((0 0 1, 10 0 2, 10 0 2, 10 10 3, 0 0 1)),"
            "((20 20 0, 30 20 0, 30 30 0, 20 20 0)))",
            "Point (10 0)",
            "MultiPolygonZ (((0 0 1, 10 0 2, 10 10 3, 0 0 1)),"
            "((20 20 0, 30 20 0, 30 30 0, 20 20 0)))",
        ),
        ("Polygon ((0 0, 10 0, 10 10, 0 0))", "Point (10 0)", None),
        ("Polygon ((0 0, 1 0, 1 0, 0 0))", "Point (1 0)", None),
    ],
    ids=["run-of-three", "closing-vertex", "multipart-z", "no-duplicate", "ring-would-collapse"],
)
def test_without_duplicate_vertex(qgis_app, wkt, at, expected):
    from labelguard.ui.findings import without_duplicate_vertex
    from qgis.core import QgsGeometry

    fixed = without_duplicate_vertex(QgsGeometry.fromWkt(wkt), at)
    # Compared as this QGIS writes WKT: 3.40 writes "MultiPolygon Z", 3.22 "MultiPolygonZ".
    want = QgsGeometry.fromWkt(expected).asWkt() if expected is not None else None
    assert (fixed.asWkt() if fixed is not None else None) == want


def test_every_rule_has_its_own_colour():
    from labelguard.core.topology import RULES
    from labelguard.render.styles import RULE_COLORS

    assert sorted(RULE_COLORS) == sorted(RULES)
    assert len(set(RULE_COLORS.values())) == len(RULES)
