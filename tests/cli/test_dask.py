"""The Dask backend on a local cluster of 2 workers: partitioned validation finds what one
process finds, with defects on the partition borders; manifests hash the same."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_fixtures import border_layer, defects, sq, write_layer  # noqa: E402


@pytest.fixture(scope="module")
def client(cli_env):
    from distributed import Client

    # Worker processes import labelguard by name, and multiprocessing hands them this
    # process's sys.path: put the folder holding the checkout as "labelguard" on it.
    paths = cli_env["PYTHONPATH"].split(os.pathsep)
    sys.path[:0] = paths
    c = Client(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    )
    yield c
    c.close()
    for entry in paths:
        sys.path.remove(entry)


def borders(path: Path, partitions: int):
    """(inner x edges, inner y edges) of the partition plan of the layer at ``path``."""
    from labelguard.core.geos import shapely
    from labelguard.core.topology.partition import feature_bounds, plan_partitions
    from labelguard.gdalio.topology_inputs import read_layer

    _, wkb = read_layer(str(path)).batches[0]
    bounds = feature_bounds(shapely.from_wkb(wkb.to_objects(), on_invalid="ignore"))
    cells = np.array([p.cell for p in plan_partitions(bounds, partitions)])
    return set(cells[:, 2]) - {cells[:, 2].max()}, set(cells[:, 3]) - {cells[:, 3].max()}


def _single_and_partitioned(client, path, rules, partitions, **options):
    """(single-process result, partitioned result); the partitioned result is the same
    whether the driver ships the geometries or the workers read their partitions."""
    from labelguard.cluster.topology import check_topology_file, check_topology_partitioned
    from labelguard.core.topology import check_topology_batches
    from labelguard.gdalio.topology_inputs import read_layer

    inp = read_layer(str(path))
    single = check_topology_batches(iter(inp.batches), rules, total=inp.count, **options)
    spread = check_topology_partitioned(
        client, inp.batches, rules, partitions=partitions, **options
    )
    on_file = check_topology_file(client, str(path), None, rules, partitions=partitions, **options)
    assert on_file == spread
    return single, spread


class SpyClient:
    """A client that records the pickled size of every task's arguments."""

    def __init__(self, client) -> None:
        self.client = client
        self.sizes: list = []

    def submit(self, func, *args, **kwargs):
        import pickle

        self.sizes.append(len(pickle.dumps(args)))
        return self.client.submit(func, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


def _ring(x: float, y: float, n: int = 40) -> str:
    """A polygon of ``n`` vertices (about 650 bytes of WKB) around (x, y)."""
    import math

    pts = [
        (x + 4 * math.cos(2 * math.pi * k / n), y + 4 * math.sin(2 * math.pi * k / n))
        for k in range(n)
    ]
    pts.append(pts[0])
    return "POLYGON((" + ",".join(f"{a} {b}" for a, b in pts) + "))"


def test_workers_read_their_partitions_and_the_driver_ships_no_geometry(client, tmp_path):
    from labelguard.cluster.topology import check_topology_file, check_topology_partitioned
    from labelguard.core.topology import RULES, check_topology_batches
    from labelguard.gdalio.topology_inputs import read_layer

    rows = [_ring(10.0 * i, 10.0 * j) for i in range(30) for j in range(30)]
    rows += [_ring(55.0, 55.0), _ring(57.0, 55.0), None]  # a copy-ish overlap, a null
    path = write_layer(tmp_path / "rings.gpkg", rows)
    inp = read_layer(str(path))
    wkb_bytes = sum(int(w.lengths.sum()) for _, w in inp.batches)
    assert wkb_bytes > 500_000
    single = check_topology_batches(iter(inp.batches), list(RULES), total=inp.count)
    shipped, reading = SpyClient(client), SpyClient(client)
    via_driver = check_topology_partitioned(shipped, inp.batches, list(RULES), partitions=9)
    on_file = check_topology_file(reading, str(path), None, list(RULES), partitions=9)
    assert on_file == via_driver == single
    assert {f.rule for f in single.findings} >= {"empty", "overlap"}
    assert len(reading.sizes) == len(shipped.sizes) == 9
    assert sum(shipped.sizes) > wkb_bytes  # every partition's WKB, halo included
    assert max(reading.sizes) < 4096  # a path, boxes and the cell edges
    assert sum(reading.sizes) < wkb_bytes / 50


def test_workers_apply_the_attribute_filter(client, tmp_path):
    from labelguard.cluster.topology import check_topology_file
    from labelguard.core.topology import RULES, check_topology_batches
    from labelguard.gdalio.vector import read_ogr

    path = write_layer(tmp_path / "b.gpkg", border_layer())
    where = "class = 'building'"
    batches = [(b.fids, b.wkb) for b in read_ogr(str(path), where=where, packed_wkb=True)]
    single = check_topology_batches(iter(batches), list(RULES), min_area=1.0)
    spread = check_topology_file(
        client, str(path), None, list(RULES), where=where, partitions=4, min_area=1.0
    )
    assert spread == single
    assert single.checked == sum(len(f) for f, _ in batches) < len(border_layer())


@pytest.mark.parametrize("partitions", [2, 4, 9], ids=["2", "4", "9"])
def test_partitioned_findings_equal_single_process(client, tmp_path, partitions):
    from labelguard.core.geos import shapely
    from labelguard.core.topology import RULES

    # Put the defects on the borders the plan draws for this layer.
    xs, ys = borders(write_layer(tmp_path / "a.gpkg", border_layer()), partitions)
    x = min(xs, default=100.0)
    y = min(ys, default=100.0)
    path = write_layer(tmp_path / "b.gpkg", border_layer(x, y))
    xs, ys = borders(path, partitions)
    single, spread = _single_and_partitioned(client, path, list(RULES), partitions, min_area=1.0)
    assert spread == single
    # contained turns up where the overlapping square covers a hole-side square whole.
    assert {f.rule for f in single.findings} - {"contained"} == {
        "empty",
        "invalid",
        "duplicate",
        "overlap",
        "gap",
        "sliver",
        "min_area",
        "dangle",
    }

    def crosses(f) -> bool:
        b = shapely.bounds(shapely.from_wkt(f.wkt))
        return any(b[0] < e < b[2] for e in xs) or any(b[1] < e < b[3] for e in ys)

    crossing = sorted({f.rule for f in single.findings if f.wkt and crosses(f)})
    assert [r for r in crossing if r != "contained"] == [
        "duplicate",
        "gap",
        "min_area",
        "overlap",
        "sliver",
    ]


def test_gap_wider_than_the_halo_is_found_once(client, tmp_path):
    ring = [
        sq(i * 10, j * 10)
        for i in range(20)
        for j in range(20)
        if not (6 <= i < 14 and 6 <= j < 14)
    ]
    path = write_layer(tmp_path / "ring.gpkg", ring)
    for partitions in (4, 16):
        single, spread = _single_and_partitioned(client, path, ["gap"], partitions)
        assert spread == single
        assert [(f.fid, f.other_fid) for f in single.findings] == [(107, 108)]


def test_options_and_exceptions_carry_over(client, tmp_path):
    from labelguard.core.topology import RULES

    path = write_layer(tmp_path / "d.gpkg", defects())
    single0, _ = _single_and_partitioned(client, path, list(RULES), 4)
    accepted = [single0.findings[0].to_dict()]
    accepted[0]["is_exception"] = True
    single, spread = _single_and_partitioned(
        client, path, list(RULES), 4, tolerance=1.5, max_gap_area=50.0, exceptions=accepted
    )
    assert spread == single
    assert single.exception_count == 1


def test_cli_workers_report_is_byte_equal(cli, tmp_path):
    write_layer(tmp_path / "b.gpkg", border_layer())
    one = cli("validate", "b.gpkg", "--report", "one.json", "--min-area", "1")
    two = cli(
        "validate",
        "b.gpkg",
        "--report",
        "two.json",
        "--min-area",
        "1",
        "--workers",
        "2",
        "--partitions",
        "6",
    )
    assert one.code == two.code == 0
    assert one.results["ERROR_COUNT"] == two.results["ERROR_COUNT"]
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()


def test_cancel_drops_the_tasks(client, tmp_path):
    from labelguard.cluster.topology import check_topology_partitioned
    from labelguard.core.errors import Cancelled
    from labelguard.core.topology import RULES
    from labelguard.gdalio.topology_inputs import read_layer

    inp = read_layer(str(write_layer(tmp_path / "b.gpkg", border_layer())))
    with pytest.raises(Cancelled):
        check_topology_partitioned(
            client, inp.batches, list(RULES), partitions=4, should_stop=lambda: True
        )


def test_progress_runs_up_to_one(client, tmp_path):
    from labelguard.cluster.topology import check_topology_partitioned
    from labelguard.core.topology import RULES
    from labelguard.gdalio.topology_inputs import read_layer

    inp = read_layer(str(write_layer(tmp_path / "b.gpkg", border_layer())))
    seen = []
    check_topology_partitioned(client, inp.batches, list(RULES), partitions=4, progress=seen.append)
    assert seen[-1] == 1.0
    assert seen == sorted(seen)


def test_manifest_hashes_equal_single_process(client, tmp_path, monkeypatch):
    from labelguard.cluster import hashing
    from labelguard.gdalio.provenance import creator_versions
    from labelguard.gdalio.versioning import make_manifest

    ds = tmp_path / "ds"
    ds.mkdir()
    write_layer(ds / "b.gpkg", border_layer())
    write_layer(ds / "d.geojson", defects())
    (ds / "notes.txt").write_text("not a dataset\n")
    sources = [(ds / "b.gpkg", None), (ds / "d.geojson", None), (ds / "notes.txt", None)]
    monkeypatch.setattr(hashing, "MIN_FEATURES_PER_PART", 50)  # several fid ranges per layer
    common = dict(root=ds, version="v1", parent=None, keep_index=True, creator=creator_versions())
    one, _, _ = make_manifest(sources, manifest_path=ds / "one.json", **common)
    two, _, _ = make_manifest(
        sources,
        manifest_path=ds / "two.json",
        hasher=hashing.dask_hasher(client),
        content=hashing.dask_vector_content(client, parts=5),
        **common,
    )
    for a, b in zip(one["entries"], two["entries"]):
        assert (a["path"], a["sha256"], a["content_sha256"], a["size"]) == (
            b["path"],
            b["sha256"],
            b["content_sha256"],
            b["size"],
        )
    index = [e for e in one["entries"] if e["path"] == "b.gpkg"][0]["feature_index"]
    index2 = [e for e in two["entries"] if e["path"] == "b.gpkg"][0]["feature_index"]
    assert (ds / index["path"]).read_bytes() == (ds / index2["path"]).read_bytes()
    column, ranges = hashing.fid_ranges(str(ds / "b.gpkg"), None, 5)
    assert column == "fid"
    assert len(ranges) == 5


def test_verify_on_workers_equals_single_process(client, tmp_path):
    from labelguard.cluster.hashing import dask_verify
    from labelguard.core.versioning import verify_outcome
    from labelguard.gdalio.provenance import creator_versions
    from labelguard.gdalio.versioning import make_manifest, run_verify

    ds = tmp_path / "ds"
    ds.mkdir()
    write_layer(ds / "a.gpkg", defects())
    write_layer(ds / "b.gpkg", [sq(0, 0)])
    write_layer(ds / "c.gpkg", [sq(0, 0)])
    sources = [(ds / n, None) for n in ("a.gpkg", "b.gpkg", "c.gpkg")]
    make_manifest(
        sources,
        root=ds,
        manifest_path=ds / "m.json",
        version="v1",
        parent=None,
        keep_index=False,
        creator=creator_versions(),
    )
    write_layer(ds / "b.gpkg", [sq(1, 0)])
    (ds / "c.gpkg").unlink()
    one = verify_outcome(ds / "m.json", *run_verify(ds / "m.json", True))
    two = verify_outcome(ds / "m.json", *dask_verify(client, ds / "m.json", True))
    assert two.rows == one.rows
    assert [r["status"] for r in one.rows] == ["ok", "modified", "missing"]
    assert json.dumps(two.findings) == json.dumps(one.findings)


def test_content_on_workers_counts_classes_as_one_process(client, tmp_path, monkeypatch):
    from labelguard.cluster import hashing
    from labelguard.gdalio.observe import vector_content

    path = write_layer(tmp_path / "b.gpkg", border_layer())
    monkeypatch.setattr(hashing, "MIN_FEATURES_PER_PART", 50)  # several fid ranges
    on_workers = hashing.dask_vector_content(client, parts=5)
    one, one_counts = vector_content(path, None, keep_index=True, class_field="class")
    two, two_counts = on_workers(path, None, keep_index=True, class_field="class")
    assert (two.sha256, two.feature_count, two.index) == (one.sha256, one.feature_count, one.index)
    assert two_counts == one_counts
    assert sum(one_counts.values()) == len(border_layer())
    assert set(one_counts) == {"building", "tree"}
    assert on_workers(path, None, keep_index=False)[1] is None  # no class field, no counts


def test_stale_sidecars_refreshed_on_workers_equal_one_process(client, tmp_path, monkeypatch):
    """A build refreshes a stale sidecar (class counts included) on the workers, with the
    same bytes and manifest entries as in one process."""
    import shutil

    from labelguard.cluster import hashing
    from labelguard.gdalio.provenance import creator_versions
    from labelguard.gdalio.sidecars import plan_sidecar, write_sidecar
    from labelguard.gdalio.versioning import make_manifest

    monkeypatch.setattr(hashing, "MIN_FEATURES_PER_PART", 50)
    first = tmp_path / "first"
    first.mkdir()
    write_layer(first / "b.gpkg", border_layer())
    target, data, _ = plan_sidecar(first / "b.gpkg", None, None, "class")
    write_sidecar(target, data)
    write_layer(first / "b.gpkg", border_layer(x=90.0) + [sq(900, 900)])  # the sidecar is stale
    on_workers = hashing.dask_vector_content(client, parts=5)
    asked = []

    def content(*args, **kwargs):
        asked.append(kwargs.get("class_field"))
        return on_workers(*args, **kwargs)

    docs, sidecars = [], []
    cluster = {"hasher": hashing.dask_hasher(client), "content": content}
    for tag, on_cluster in (("one", {}), ("two", cluster)):
        ds = tmp_path / tag
        shutil.copytree(first, ds)
        doc, _, refreshed = make_manifest(
            [(ds / "b.gpkg", None)],
            root=ds,
            manifest_path=ds / "m.json",
            version="v1",
            parent=None,
            keep_index=False,
            creator=creator_versions(),
            **on_cluster,
        )
        assert [p.name for p in refreshed] == ["b.gpkg.labelguard.yaml"]
        docs.append(doc["entries"])
        sidecars.append((ds / "b.gpkg.labelguard.yaml").read_bytes())
    assert asked == [None, "class"]  # the content, then the refreshed sidecar's class counts
    assert sidecars[0] == sidecars[1]
    assert b"class_counts:" in sidecars[0]
    assert b"building: " in sidecars[0]
    assert docs[0] == docs[1]


def test_a_worker_without_the_file_says_so(client, tmp_path):
    from labelguard.cluster.topology import check_partition_file
    from labelguard.core.errors import FileVanished
    from labelguard.core.topology.partition import plan_grid

    grid = plan_grid(np.array([[0.0, 0.0, 1.0, 1.0]]), 1)
    future = client.submit(
        check_partition_file,
        str(tmp_path / "not-on-this-worker.gpkg"),
        None,
        None,
        0,
        (0.0, 0.0, 1.0, 1.0),
        (0.0, 0.0, 1.0, 1.0),
        grid,
        None,
        ["overlap"],
        {},
    )
    with pytest.raises(FileVanished, match="at the same path on every worker"):
        future.result()
