"""plugin.py: with shapely 2 missing, the message bar offers to install it into LabelGuard's
folder, asks first, and installs nothing when the user declines."""

from __future__ import annotations

import pytest


@pytest.fixture
def shapely_missing(qgis_iface, monkeypatch, tmp_path):
    """A plugin whose dependency check reports an old shapely, a real message bar, a profile in
    tmp_path and a task runner that records instead of running pip."""
    from labelguard import plugin as plugin_module
    from labelguard.core import deps
    from qgis.core import QgsApplication
    from qgis.gui import QgsMessageBar

    bar = QgsMessageBar(qgis_iface.mainWindow())
    monkeypatch.setattr(qgis_iface, "messageBar", lambda: bar)
    monkeypatch.setattr(deps, "missing_dependencies", lambda: ["shapely 2.0 or newer (found 1.8)"])
    monkeypatch.setattr(QgsApplication, "qgisSettingsDirPath", lambda: str(tmp_path))
    submitted = []
    monkeypatch.setattr(
        plugin_module.LabelGuardPlugin, "_submit", lambda self, t: submitted.append(t)
    )
    plugin = plugin_module.LabelGuardPlugin(qgis_iface)
    plugin.initGui()
    yield plugin, bar, submitted, tmp_path / "python" / "labelguard_deps"
    plugin.unload()
    bar.deleteLater()
    from qgis.PyQt.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _answer(monkeypatch, button):
    from qgis.PyQt.QtWidgets import QMessageBox

    asked = []

    def question(parent, title, text, buttons, default):
        asked.append(text)
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def test_missing_shapely_offers_the_install_button(shapely_missing):
    plugin, bar, submitted, _folder = shapely_missing
    assert plugin.dock is None
    assert plugin.provider is None
    assert bar.currentItem() is plugin.deps_item
    assert plugin.deps_item.text().startswith(
        "LabelGuard needs these Python packages: shapely 2.0 or newer (found 1.8)."
    )
    assert plugin.deps_button.text() == "Install into LabelGuard's folder…"
    assert plugin.deps_button.parent() is plugin.deps_item


def test_declining_installs_nothing(shapely_missing, monkeypatch):
    from qgis.PyQt.QtWidgets import QMessageBox

    plugin, _bar, submitted, folder = shapely_missing
    asked = _answer(monkeypatch, QMessageBox.StandardButton.No)
    plugin.deps_button.click()
    assert len(asked) == 1
    assert str(folder) in asked[0]
    assert submitted == []
    assert plugin.install_task is None
    assert not folder.exists()
    assert plugin.deps_button.isEnabled()


def test_accepting_submits_pip_into_the_folder(shapely_missing, monkeypatch):
    from qgis.PyQt.QtWidgets import QMessageBox

    plugin, _bar, submitted, folder = shapely_missing
    _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    plugin.deps_button.click()
    assert [t.command[1:7] for t in submitted] == [
        ["-m", "pip", "install", "--target", str(folder), "--upgrade"]
    ]
    assert submitted[0].command[-1] == "shapely>=2,<3"
    assert plugin.install_task is submitted[0]
    assert not plugin.deps_button.isEnabled()
    assert not folder.exists()  # created by the task's run(), which never ran
