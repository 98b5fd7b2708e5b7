"""core.bulk.paused_gc restores the collector's previous state, also after an error."""

from __future__ import annotations

import gc

import pytest
from labelguard.core.bulk import paused_gc


def test_paused_gc_restores_state():
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():  # nested: the inner one must not switch it back on
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_paused_gc_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_topology_check_switches_the_collector_back_on():
    from labelguard.core.geos import shapely
    from labelguard.core.topology import check_topology

    check_topology([1], [shapely.to_wkb(shapely.box(0, 0, 1, 1))], ["invalid"])
    assert gc.isenabled()
