"""plugin.py: both panels and their Plugins menu entries come and go with initGui/unload."""

from __future__ import annotations


def test_init_gui_and_unload_twice(qgis_iface, qgis_new_project, labelguard_provider, monkeypatch):
    from labelguard.plugin import LabelGuardPlugin
    from qgis.PyQt import sip
    from qgis.PyQt.QtCore import QCoreApplication, QEvent

    # pytest-qgis's interface stub lacks the remove* half of these calls.
    window = qgis_iface.mainWindow()
    menu = []
    monkeypatch.setattr(qgis_iface, "removeDockWidget", window.removeDockWidget, raising=False)
    monkeypatch.setattr(qgis_iface, "addPluginToMenu", lambda m, a: menu.append(a.text()))
    monkeypatch.setattr(
        qgis_iface, "removePluginMenu", lambda m, a: menu.remove(a.text()), raising=False
    )
    monkeypatch.setattr(qgis_iface, "addToolBarIcon", lambda a: None, raising=False)
    monkeypatch.setattr(qgis_iface, "removeToolBarIcon", lambda a: None, raising=False)

    for _ in range(2):
        plugin = LabelGuardPlugin(qgis_iface)
        plugin.initGui()
        docks = [plugin.dock, plugin.findings]
        assert [d.objectName() for d in docks] == ["LabelGuardDock", "LabelGuardFindingsDock"]
        assert all(d.parent() is window for d in docks)
        assert plugin.dock.canvas is qgis_iface.mapCanvas()
        assert menu == ["LabelGuard: versions and status", "LabelGuard: findings"]
        plugin.unload()
        assert (plugin.dock, plugin.findings, plugin.findings_action) == (None, None, None)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        assert [sip.isdeleted(d) for d in docks] == [True, True]
        assert menu == []
