"""core.manifest: build/write/read, parent chain, verify statuses, untracked files, atomicity."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest
from labelguard.core import manifest as manifest_mod
from labelguard.core.content import (
    VECTOR_METHOD,
    read_feature_index,
    vector_content,
    write_feature_index,
)
from labelguard.core.crs import describe_crs
from labelguard.core.errors import (
    Cancelled,
    FileVanished,
    InputError,
    ManifestChainError,
    OutputExists,
    PathOutsideRoot,
    SchemaError,
    UnknownSchemaVersion,
)
from labelguard.core.hashing import companion_files, hash_files
from labelguard.core.manifest import (
    EntryStatus,
    Observation,
    build_manifest,
    check_chain,
    compare_entry,
    find_untracked,
    load_feature_index,
    manifest_root,
    read_manifest,
    summarize,
    verify_manifest,
    write_manifest,
)
from labelguard.core.sidecar import DataDescription, build_sidecar, sidecar_path, write_sidecar
from labelguard.gdalio.vector import read_ogr
from osgeo import ogr, osr

ogr.UseExceptions()

CREATOR = {"plugin": "0.1.0", "gdal": "3.6.2", "proj": "9.1.1", "qgis": "3.22.16"}
CREATED = "2024-05-17T08:42:00Z"
FEATURES = [
    ("POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))", "building"),
    ("POLYGON ((20 0, 30 0, 30 10, 20 0))", "tree"),
    ("POLYGON ((40 0, 50 0, 50 10, 40 10, 40 0))", "pool"),
]
RASTER_METHOD = "test.raster-bytes"


def write_geojson(path: Path, features: Sequence[Tuple[str, str]], epsg: int = 32633) -> Path:
    if path.exists():
        path.unlink()
    ds = ogr.GetDriverByName("GeoJSON").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    lyr = ds.CreateLayer("labels", srs, ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    for wkt, cls in features:
        feat = ogr.Feature(lyr.GetLayerDefn())
        feat.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        feat.SetField("class", cls)
        lyr.CreateFeature(feat)
    ds = None
    return path


def _raster_content(path: Path) -> str:
    """Stand-in for raster content: the pixels (file bytes) and the world file."""
    digest = hashlib.sha256(path.read_bytes())
    tfw = path.with_suffix(".tfw")
    if tfw.exists():
        digest.update(tfw.read_bytes())
    return digest.hexdigest()


def measure(path: Path, entry: Optional[Dict[str, Any]] = None) -> Observation:
    """What an adapter would observe for one file now."""
    file_hash = hash_files([path])[0]
    comps = tuple((hash_files([c.path])[0], c.role) for c in companion_files(path))
    sc_path = sidecar_path(path)
    sidecar = hash_files([sc_path])[0] if sc_path.exists() else None
    sidecar_content = None
    if sidecar is not None:
        sidecar_content = _sidecar_content(sc_path)
    if path.suffix == ".geojson":
        vc = vector_content(read_ogr(str(path), all_fields=True))
        ds = ogr.Open(str(path))
        srs = ds.GetLayer(0).GetSpatialRef()
        crs = describe_crs(srs.ExportToWkt(["FORMAT=WKT2_2019"])) if srs is not None else None
        ds = None
        return Observation(
            path,
            "vector",
            file_hash,
            comps,
            None,
            vc.sha256,
            VECTOR_METHOD,
            vc.feature_count,
            crs,
            sidecar,
            sidecar_content,
            write_feature_index(vc.index),
        )
    if path.suffix == ".tif":
        return Observation(
            path,
            "raster",
            file_hash,
            comps,
            None,
            _raster_content(path),
            RASTER_METHOD,
            None,
            describe_crs("EPSG:32633"),
            sidecar,
            sidecar_content,
        )
    return Observation(path, "file", file_hash, comps, sidecar=sidecar)


def _sidecar_content(path: Path) -> str:
    from labelguard.core.sidecar import read_sidecar

    return read_sidecar(path)["content"]["sha256"]


def write_labels_sidecar(labels: Path) -> Path:
    obs = measure(labels)
    desc = DataDescription(
        name=labels.name,
        format="GeoJSON",
        kind="vector",
        crs=obs.crs,
        extent=(0.0, 0.0, 50.0, 10.0),
        content_method=VECTOR_METHOD,
        content_sha256=obs.content_sha256 or "",
        feature_count=3,
        geometry_type="Polygon",
    )
    return write_sidecar(sidecar_path(labels), build_sidecar(desc, "LabelGuard test"))


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """root/data: labels.geojson (+ sidecar), ortho.tif (+ .tfw, .aux.xml), notes.csv."""
    root = tmp_path / "dataset"
    data = root / "data"
    data.mkdir(parents=True)
    labels = write_geojson(data / "labels.geojson", FEATURES)
    write_labels_sidecar(labels)
    (data / "ortho.tif").write_bytes(bytes(range(256)) * 64)
    (data / "ortho.tfw").write_text("0.5\n0\n0\n-0.5\n500000.25\n4649999.75\n")
    (data / "ortho.tif.aux.xml").write_text("<PAMDataset></PAMDataset>\n")
    (data / "notes.csv").write_text("a,b\n")
    return root


def data_files(root: Path) -> List[Path]:
    return [root / "data" / "labels.geojson", root / "data" / "ortho.tif"]


def build_and_write(
    root: Path,
    name: str = "v1.manifest.json",
    version: str = "v1",
    parent: Optional[Path] = None,
    files: Optional[List[Path]] = None,
) -> Tuple[Path, Dict[str, Any], str]:
    path = root / name
    doc, extra = build_manifest(
        [measure(p) for p in (files or data_files(root))],
        root=root,
        manifest_path=path,
        version=version,
        creator=CREATOR,
        created_at=CREATED,
        parent_path=parent,
    )
    digest = write_manifest(path, doc, extra)
    return path, doc, digest


def statuses_by_path(statuses: List[EntryStatus]) -> Dict[str, EntryStatus]:
    return {s.path: s for s in statuses}


# --- build, write, read -------------------------------------------------------------------


def test_build_write_read_round_trip(dataset: Path) -> None:
    path, doc, digest = build_and_write(dataset)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert read_manifest(path) == doc
    assert list(doc) == [
        "schema",
        "version",
        "created_at",
        "creator",
        "root",
        "parent",
        "policy",
        "entries",
    ]
    assert path.read_text(encoding="utf-8").startswith(
        '{\n  "schema": "labelguard.manifest/1",\n  "version": "v1",\n'
    )
    assert doc["root"] == "."
    assert doc["parent"] is None
    assert doc["creator"] == {
        "gdal": "3.6.2",
        "plugin": "0.1.0",
        "proj": "9.1.1",
        "qgis": "3.22.16",
    }
    labels, ortho = doc["entries"]
    labels_obs = measure(dataset / "data" / "labels.geojson")
    assert labels == {
        "path": "data/labels.geojson",
        "layer": None,
        "kind": "vector",
        "size": (dataset / "data" / "labels.geojson").stat().st_size,
        "sha256": hashlib.sha256((dataset / "data" / "labels.geojson").read_bytes()).hexdigest(),
        "content_sha256": labels_obs.content_sha256,
        "content_method": "labelguard.vector-content/1",
        "feature_count": 3,
        "crs": {"epsg": 32633, "wkt2": describe_crs("EPSG:32633").wkt2},
        "components": [],
        "sidecar": {
            "path": "data/labels.geojson.labelguard.yaml",
            "sha256": hashlib.sha256(
                (dataset / "data" / "labels.geojson.labelguard.yaml").read_bytes()
            ).hexdigest(),
        },
        "feature_index": {
            "path": "v1.manifest.features/0000-data_labels.geojson-"
            f"{hashlib.sha256(labels_obs.feature_index or b'').hexdigest()[:12]}.idx.gz",
            "sha256": hashlib.sha256(labels_obs.feature_index or b"").hexdigest(),
        },
    }
    assert ortho["path"] == "data/ortho.tif"
    assert ortho["components"] == [
        {
            "path": "data/ortho.tfw",
            "size": 34,
            "sha256": hashlib.sha256((dataset / "data" / "ortho.tfw").read_bytes()).hexdigest(),
            "role": "required",
        },
        {
            "path": "data/ortho.tif.aux.xml",
            "size": 26,
            "sha256": hashlib.sha256(b"<PAMDataset></PAMDataset>\n").hexdigest(),
            "role": "auxiliary",
        },
    ]
    assert ortho["feature_index"] is None
    index = load_feature_index(path, labels)
    assert [row[3] for row in read_feature_index(index or b"")] == [
        '{"class":"building"}',
        '{"class":"tree"}',
        '{"class":"pool"}',
    ]


def test_same_input_same_manifest_bytes(dataset: Path, tmp_path: Path) -> None:
    first, _, d1 = build_and_write(dataset)
    b1 = first.read_bytes()
    first.unlink()
    _, _, d2 = build_and_write(dataset, files=list(reversed(data_files(dataset))))
    assert d1 == d2
    assert first.read_bytes() == b1


def test_policy_states_auxiliary_treatment(dataset: Path) -> None:
    _, doc, _ = build_and_write(dataset)
    assert "a change in them alone is not a mismatch" in doc["policy"]["auxiliary_files"]


def test_manifest_in_subfolder_records_root(dataset: Path) -> None:
    path = dataset / "versions" / "v1.json"
    doc, extra = build_manifest(
        [measure(p) for p in data_files(dataset)],
        root=dataset,
        manifest_path=path,
        version="v1",
        creator=CREATOR,
        created_at=CREATED,
    )
    write_manifest(path, doc, extra)
    assert doc["root"] == ".."
    assert manifest_root(path, doc) == dataset
    (index,) = (dataset / "versions" / "v1.features").glob("0000-data_labels.geojson-*.idx.gz")
    assert index.is_file()
    statuses, chain = verify_manifest(path, measure)
    assert [s.status for s in statuses] == ["ok", "ok"]
    assert chain.ok


def test_file_outside_root_is_refused(dataset: Path, tmp_path: Path) -> None:
    outside = write_geojson(tmp_path / "elsewhere.geojson", FEATURES)
    with pytest.raises(
        PathOutsideRoot,
        match=(
            r"^'.*elsewhere\.geojson' lies outside the dataset root '.*dataset'\. Choose a "
            r"dataset root that contains every layer"
        ),
    ):
        build_manifest(
            [measure(outside)],
            root=dataset,
            manifest_path=dataset / "v1.json",
            version="v1",
            creator=CREATOR,
            created_at=CREATED,
        )


def test_sibling_folder_with_common_prefix_is_outside(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    sneaky = tmp_path / "data-old" / "x.geojson"
    sneaky.parent.mkdir()
    write_geojson(sneaky, FEATURES)
    with pytest.raises(PathOutsideRoot, match=r"x\.geojson' lies outside"):
        build_manifest(
            [measure(sneaky)],
            root=root,
            manifest_path=root / "v1.json",
            version="v1",
            creator=CREATOR,
            created_at=CREATED,
        )


def test_duplicate_entry_and_empty_version(dataset: Path) -> None:
    obs = measure(dataset / "data" / "ortho.tif")
    with pytest.raises(InputError, match=r"^'data/ortho\.tif' \(layer None\) is listed twice\.$"):
        build_manifest(
            [obs, obs],
            root=dataset,
            manifest_path=dataset / "v1.json",
            version="v1",
            creator=CREATOR,
            created_at=CREATED,
        )
    with pytest.raises(InputError, match=r"^The version label is empty"):
        build_manifest(
            [obs],
            root=dataset,
            manifest_path=dataset / "v1.json",
            version="  ",
            creator=CREATOR,
            created_at=CREATED,
        )


def test_read_unknown_schema_version(dataset: Path) -> None:
    path, doc, _ = build_and_write(dataset)
    path.write_text(json.dumps(dict(doc, schema="labelguard.manifest/2")))
    with pytest.raises(
        UnknownSchemaVersion,
        match=(
            r"^Manifest '.*v1\.manifest\.json' uses schema 'labelguard\.manifest/2', which this "
            r"version of LabelGuard does not know"
        ),
    ):
        read_manifest(path)


def test_read_bad_json_and_missing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": ')
    with pytest.raises(SchemaError, match=r"^Manifest '.*bad\.json' is not valid JSON"):
        read_manifest(bad)
    with pytest.raises(FileVanished, match=r"^Manifest '.*nope\.json' does not exist\.$"):
        read_manifest(tmp_path / "nope.json")


def test_tampered_feature_index_is_detected(dataset: Path) -> None:
    path, doc, _ = build_and_write(dataset)
    index = dataset / doc["entries"][0]["feature_index"]["path"]
    index.write_bytes(index.read_bytes() + b"\x00")
    with pytest.raises(SchemaError, match=r"was changed after the manifest was built"):
        load_feature_index(path, doc["entries"][0])


# --- parent chain -------------------------------------------------------------------------


def test_parent_link_records_sha_and_version(dataset: Path) -> None:
    v1, _, d1 = build_and_write(dataset)
    v2, doc2, _ = build_and_write(dataset, "v2.manifest.json", "v2", parent=v1)
    assert doc2["parent"] == {"path": "v1.manifest.json", "sha256": d1, "version": "v1"}
    chain = check_chain(v2)
    assert chain.ok
    assert chain.versions == ("v2", "v1")
    assert chain.message == ""


def test_parent_link_relative_to_manifest_folder(dataset: Path) -> None:
    v1, _, d1 = build_and_write(dataset)
    path = dataset / "next" / "v2.json"
    doc, _ = build_manifest(
        [measure(p) for p in data_files(dataset)],
        root=dataset,
        manifest_path=path,
        version="v2",
        creator=CREATOR,
        created_at=CREATED,
        parent_path=v1,
    )
    assert doc["parent"] == {"path": "../v1.manifest.json", "sha256": d1, "version": "v1"}


def test_check_chain_detects_tampered_parent(dataset: Path) -> None:
    v1, _, d1 = build_and_write(dataset)
    v2, _, _ = build_and_write(dataset, "v2.manifest.json", "v2", parent=v1)
    text = v1.read_text()
    v1.write_text(text.replace('"version": "v1"', '"version": "v1b"'))
    actual = hashlib.sha256(v1.read_bytes()).hexdigest()
    chain = check_chain(v2)
    assert not chain.ok
    assert chain.versions == ("v2",)
    assert chain.message == (
        f"Parent manifest 'v1.manifest.json' of version 'v2' was changed after it was linked: "
        f"SHA-256 is {actual[:12]}..., the link records {d1[:12]}...."
    )


def test_check_chain_detects_missing_parent(dataset: Path) -> None:
    v1, _, _ = build_and_write(dataset)
    v2, _, _ = build_and_write(dataset, "v2.manifest.json", "v2", parent=v1)
    v3, _, _ = build_and_write(dataset, "v3.manifest.json", "v3", parent=v2)
    assert check_chain(v3).versions == ("v3", "v2", "v1")
    v1.unlink()
    chain = check_chain(v3)
    assert not chain.ok
    assert chain.versions == ("v3", "v2")
    assert chain.message == (
        "Version 'v2' links to parent manifest 'v1.manifest.json', which is missing."
    )


def test_building_on_a_broken_chain_raises(dataset: Path) -> None:
    v1, _, _ = build_and_write(dataset)
    v2, _, _ = build_and_write(dataset, "v2.manifest.json", "v2", parent=v1)
    v1.write_bytes(v1.read_bytes().replace(b'"v1"', b'"v0"'))
    with pytest.raises(
        ManifestChainError,
        match=(
            r"^The parent manifest's own history is broken: Parent manifest 'v1\.manifest\.json' "
            r"of version 'v2' was changed after it was linked"
        ),
    ):
        build_and_write(dataset, "v3.manifest.json", "v3", parent=v2)
    assert not (dataset / "v3.manifest.json").exists()


def test_building_on_a_missing_parent_raises(dataset: Path) -> None:
    with pytest.raises(
        ManifestChainError,
        match=(r"^Parent manifest: Manifest '.*v0\.manifest\.json' does not exist\.$"),
    ):
        build_and_write(dataset, parent=dataset / "v0.manifest.json")


def test_building_on_an_unknown_version_parent_raises(dataset: Path) -> None:
    v1, doc, _ = build_and_write(dataset)
    v1.write_text(json.dumps(dict(doc, schema="labelguard.manifest/9")))
    with pytest.raises(
        ManifestChainError,
        match=(
            r"^Parent manifest is unusable: Manifest '.*v1\.manifest\.json' uses schema "
            r"'labelguard\.manifest/9'"
        ),
    ):
        build_and_write(dataset, "v2.manifest.json", "v2", parent=v1)


def test_verify_reports_broken_chain(dataset: Path) -> None:
    v1, _, _ = build_and_write(dataset)
    v2, _, _ = build_and_write(dataset, "v2.manifest.json", "v2", parent=v1)
    v1.unlink()
    statuses, chain = verify_manifest(v2, measure)
    assert [s.status for s in statuses] == ["ok", "ok"]
    assert not chain.ok
    assert "which is missing" in chain.message


# --- verify statuses ----------------------------------------------------------------------


def verify(root: Path, path: Path, **kwargs) -> Dict[str, EntryStatus]:
    statuses, chain = verify_manifest(path, measure, **kwargs)
    assert chain.ok
    return statuses_by_path(statuses)


def test_verify_ok(dataset: Path) -> None:
    path, _, _ = build_and_write(dataset)
    seen: list = []
    result = verify(dataset, path, progress=seen.append)
    assert {p: (s.status, s.message, s.details) for p, s in result.items()} == {
        "data/labels.geojson": ("ok", "matches the manifest", []),
        "data/ortho.tif": ("ok", "matches the manifest", []),
    }
    assert seen == sorted(seen)
    assert seen[-1] == 1.0


def test_verify_rewritten(dataset: Path) -> None:
    """Same features written in another order: bytes change, content does not."""
    path, _, _ = build_and_write(dataset)
    labels = dataset / "data" / "labels.geojson"
    old = labels.read_bytes()
    write_geojson(labels, list(reversed(FEATURES)))
    assert labels.read_bytes() != old
    st = verify(dataset, path)["data/labels.geojson"]
    assert (st.status, st.message, st.details) == (
        "rewritten",
        "bytes changed, content identical",
        [],
    )
    assert st.expected_sha256 == hashlib.sha256(old).hexdigest()
    assert st.actual_sha256 == hashlib.sha256(labels.read_bytes()).hexdigest()


def test_verify_modified_attribute(dataset: Path) -> None:
    path, _, _ = build_and_write(dataset)
    write_geojson(
        dataset / "data" / "labels.geojson",
        FEATURES[:1] + [(FEATURES[1][0], "shrub")] + FEATURES[2:],
    )
    st = verify(dataset, path)["data/labels.geojson"]
    # the sidecar still describes the old content: reported as a detail of the modification
    assert (st.status, st.message, st.details) == (
        "modified",
        "content changed (3 -> 3 features)",
        ["sidecar describes different content than the data file holds"],
    )


def test_verify_modified_deleted_feature(dataset: Path) -> None:
    path, _, _ = build_and_write(dataset)
    write_geojson(dataset / "data" / "labels.geojson", FEATURES[:2])
    st = verify(dataset, path)["data/labels.geojson"]
    assert (st.status, st.message) == ("modified", "content changed (3 -> 2 features)")


def test_verify_missing(dataset: Path) -> None:
    path, _, _ = build_and_write(dataset)
    (dataset / "data" / "ortho.tif").unlink()
    st = verify(dataset, path)["data/ortho.tif"]
    assert (st.status, st.message, st.actual_sha256) == ("missing", "file is missing", None)


def test_verify_vanishing_during_measure_is_missing(dataset: Path) -> None:
    path, _, _ = build_and_write(dataset)

    def flaky(p: Path, entry: Dict[str, Any]) -> Observation:
        if p.name == "ortho.tif":
            raise FileVanished(f"File '{p}' does not exist (moved or deleted?).")
        return measure(p, entry)

    statuses, _ = verify_manifest(path, flaky)
    st = statuses_by_path(statuses)["data/ortho.tif"]
    assert st.status == "missing"
    assert st.message.endswith("ortho.tif' does not exist (moved or deleted?).")


def test_verify_sidecar_changed(dataset: Path) -> None:
    path, _, _ = build_and_write(dataset)
    sc = dataset / "data" / "labels.geojson.labelguard.yaml"
    sc.write_bytes(
        sc.read_bytes().replace(b"generator: LabelGuard test", b"generator: edited by hand")
    )
    st = verify(dataset, path)["data/labels.geojson"]
    assert (st.status, st.message, st.details) == (
        "sidecar_mismatch",
        "sidecar data/labels.geojson.labelguard.yaml changed since the manifest",
        ["sidecar data/labels.geojson.labelguard.yaml changed since the manifest"],
    )


def test_verify_sidecar_missing(dataset: Path) -> None:
    path, _, _ = build_and_write(dataset)
    (dataset / "data" / "labels.geojson.labelguard.yaml").unlink()
    st = verify(dataset, path)["data/labels.geojson"]
    assert (st.status, st.message) == (
        "sidecar_mismatch",
        "sidecar data/labels.geojson.labelguard.yaml is missing",
    )


def test_verify_crs_drift(dataset: Path) -> None:
    """Same coordinates, other CRS (a silent CRS override): content hash alone would miss it."""
    path, _, _ = build_and_write(dataset)
    write_geojson(dataset / "data" / "labels.geojson", FEATURES, epsg=32634)
    st = verify(dataset, path)["data/labels.geojson"]
    assert (st.status, st.message) == ("crs_drift", "CRS was EPSG:32633, is now EPSG:32634")
    assert st.details == ["CRS was EPSG:32633, is now EPSG:32634"]


def test_verify_auxiliary_only_change_stays_ok(dataset: Path) -> None:
    path, _, _ = build_and_write(dataset)
    (dataset / "data" / "ortho.tif.aux.xml").write_text(
        "<PAMDataset><Metadata>STATISTICS_MEAN=127.5</Metadata></PAMDataset>\n"
    )
    (dataset / "data" / "ortho.tif.ovr").write_bytes(b"overviews")
    st = verify(dataset, path)["data/ortho.tif"]
    assert (st.status, st.message, st.details) == (
        "ok",
        "matches the manifest",
        [
            "auxiliary file data/ortho.tif.aux.xml was rewritten (ignored)",
            "new companion file data/ortho.tif.ovr",
        ],
    )


def test_verify_auxiliary_removed_stays_ok(dataset: Path) -> None:
    path, _, _ = build_and_write(dataset)
    (dataset / "data" / "ortho.tif.aux.xml").unlink()
    st = verify(dataset, path)["data/ortho.tif"]
    assert (st.status, st.details) == (
        "ok",
        ["auxiliary file data/ortho.tif.aux.xml is gone (ignored)"],
    )


def test_verify_required_component_change(dataset: Path) -> None:
    path, _, _ = build_and_write(dataset)
    (dataset / "data" / "ortho.tfw").write_text("0.5\n0\n0\n-0.5\n500010.25\n4649999.75\n")
    st = verify(dataset, path)["data/ortho.tif"]
    assert (st.status, st.message, st.details) == (
        "modified",
        "content changed",
        ["component data/ortho.tfw changed"],
    )


def test_compare_entry_plain_file(dataset: Path) -> None:
    notes = dataset / "data" / "notes.csv"
    path, doc, _ = build_and_write(dataset, files=[notes])
    entry = doc["entries"][0]
    assert entry["content_sha256"] is None
    assert compare_entry(entry, measure(notes), dataset).status == "ok"
    notes.write_text("a,b\n1,2\n")
    st = compare_entry(entry, measure(notes), dataset)
    assert (st.status, st.message) == ("modified", "bytes changed")


def test_find_untracked(dataset: Path) -> None:
    path, doc, _ = build_and_write(dataset)
    write_geojson(dataset / "data" / "new.geojson", FEATURES)
    (dataset / "extra").mkdir()
    (dataset / "extra" / "tile_0001.TIF").write_bytes(b"x")
    (dataset / "data" / ".hidden.gpkg").write_bytes(b"x")  # hidden: ignored
    (dataset / ".git").mkdir()
    (dataset / ".git" / "x.gpkg").write_bytes(b"x")  # hidden folder: ignored
    (dataset / "data" / "readme.txt").write_text("not data")
    untracked = find_untracked(doc, dataset, path)
    assert [(s.path, s.status, s.kind, s.message) for s in untracked] == [
        ("data/new.geojson", "untracked", "file", "data file not in the manifest"),
        ("extra/tile_0001.TIF", "untracked", "file", "data file not in the manifest"),
    ]
    statuses, _ = verify_manifest(path, measure)
    assert summarize(statuses) == {
        "ok": 2,
        "modified": 0,
        "rewritten": 0,
        "missing": 0,
        "sidecar_mismatch": 0,
        "crs_drift": 0,
        "metadata_drift": 0,
        "unreadable": 0,
        "untracked": 2,
    }
    statuses, _ = verify_manifest(path, measure, scan_untracked=False)
    assert [s.status for s in statuses] == ["ok", "ok"]


def test_verify_cancel(dataset: Path) -> None:
    path, _, _ = build_and_write(dataset)
    with pytest.raises(Cancelled, match="Cancelled; nothing was written."):
        verify_manifest(path, measure, should_stop=lambda: True)


# --- atomicity ----------------------------------------------------------------------------


def test_cancel_during_write_leaves_nothing(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = dataset / "v1.manifest.json"
    doc, extra = build_manifest(
        [measure(p) for p in data_files(dataset)],
        root=dataset,
        manifest_path=path,
        version="v1",
        creator=CREATOR,
        created_at=CREATED,
    )
    before = sorted(p.relative_to(dataset) for p in dataset.rglob("*"))

    def cancelled_dump(_doc: Dict[str, Any]) -> bytes:
        raise Cancelled()

    monkeypatch.setattr(manifest_mod, "dump_manifest", cancelled_dump)
    with pytest.raises(Cancelled):
        write_manifest(path, doc, extra)
    assert sorted(p.relative_to(dataset) for p in dataset.rglob("*")) == before


def test_cancel_inside_atomic_open_leaves_no_manifest(
    dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = dataset / "v1.manifest.json"
    doc, extra = build_manifest(
        [measure(p) for p in data_files(dataset)],
        root=dataset,
        manifest_path=path,
        version="v1",
        creator=CREATOR,
        created_at=CREATED,
    )
    before = sorted(p.relative_to(dataset) for p in dataset.rglob("*"))
    from labelguard.core import io

    # The feature indexes are staged before the manifest: cancel while staging the manifest.
    real_mkstemp = io.tempfile.mkstemp

    def cancel_at_the_manifest(prefix: str = "", **kw: Any):
        if prefix.startswith(f".{path.name}."):
            raise Cancelled()
        return real_mkstemp(prefix=prefix, **kw)

    monkeypatch.setattr(io.tempfile, "mkstemp", cancel_at_the_manifest)
    with pytest.raises(Cancelled):
        write_manifest(path, doc, extra)
    assert sorted(p.relative_to(dataset) for p in dataset.rglob("*")) == before


def test_invalid_manifest_is_never_written(dataset: Path) -> None:
    path = dataset / "v1.manifest.json"
    doc, extra = build_manifest(
        [measure(p) for p in data_files(dataset)],
        root=dataset,
        manifest_path=path,
        version="v1",
        creator=CREATOR,
        created_at=CREATED,
    )
    doc["created_at"] = "yesterday"
    with pytest.raises(SchemaError, match=r"/created_at: 'yesterday' does not match"):
        write_manifest(path, doc, extra)
    assert not path.exists()
    assert not (dataset / "v1.manifest.features").exists()


def test_no_temp_files_after_success(dataset: Path) -> None:
    build_and_write(dataset)
    assert [p.name for p in dataset.rglob(".*.tmp")] == []
    (name,) = os.listdir(dataset / "v1.manifest.features")
    assert re.fullmatch(r"0000-data_labels\.geojson-[0-9a-f]{12}\.idx\.gz", name)


def test_paired_entries_match_a_plain_path_with_its_named_layer() -> None:
    from labelguard.core.manifest import paired_entries

    def doc(*keys):
        return {"entries": [{"path": p, "layer": lyr} for p, lyr in keys]}

    base = doc(("a.gpkg", None), ("b.gpkg", None), ("c.tif", None))
    head = doc(("a.gpkg", "labels"), ("b.gpkg", "x"), ("b.gpkg", "y"), ("c.tif", None))
    b, h, keys = paired_entries(base, head)
    assert keys == [
        ("a.gpkg", "labels"),
        ("b.gpkg", None),
        ("b.gpkg", "x"),
        ("b.gpkg", "y"),
        ("c.tif", None),
    ]
    assert b[("a.gpkg", "labels")] == {"path": "a.gpkg", "layer": None}
    assert ("b.gpkg", None) in b  # two named layers in head: which one is unknown, no match
    assert set(h) == {("a.gpkg", "labels"), ("b.gpkg", "x"), ("b.gpkg", "y"), ("c.tif", None)}


def test_a_rebuild_over_an_existing_manifest_is_refused_and_leaves_it_intact(
    dataset: Path,
) -> None:
    # Before: the feature indexes were replaced one by one, then the manifest failed, so the
    # untouched old manifest pointed at indexes of a version that was never written.
    path, doc, _ = build_and_write(dataset)
    index_dir = dataset / "v1.manifest.features"
    before = {p.name: p.read_bytes() for p in [path, *index_dir.iterdir()]}
    write_geojson(dataset / "data" / "labels.geojson", FEATURES[:1])
    with pytest.raises(OutputExists, match="exists; a version is never overwritten"):
        build_and_write(dataset)
    assert {p.name: p.read_bytes() for p in [path, *index_dir.iterdir()]} == before
    for entry in read_manifest(path)["entries"]:
        if entry["feature_index"]:
            assert load_feature_index(path, entry) is not None


def test_full_disk_while_writing_a_new_version_leaves_nothing_of_it(
    dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from labelguard.core import io

    v1, _, _ = build_and_write(dataset)
    before = sorted(p.relative_to(dataset) for p in dataset.rglob("*"))
    v2 = dataset / "v2.manifest.json"
    write_geojson(dataset / "data" / "labels.geojson", FEATURES[:1])
    doc, extra = build_manifest(
        [measure(p) for p in data_files(dataset)],
        root=dataset,
        manifest_path=v2,
        version="v2",
        creator=CREATOR,
        created_at=CREATED,
    )
    real_fsync = os.fsync

    def full_at_the_manifest(fd: int) -> None:
        if Path(os.readlink(f"/proc/self/fd/{fd}")).name.startswith(f".{v2.name}."):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(io.os, "fsync", full_at_the_manifest)
    with pytest.raises(OSError, match="No space left on device") as raised:
        write_manifest(v2, doc, extra)
    assert (raised.value.errno, raised.value.filename) == (errno.ENOSPC, str(v2))
    after = sorted(p.relative_to(dataset) for p in dataset.rglob("*"))
    assert after == before  # no v2 manifest, no orphaned v2 feature index, no temp file
    assert read_manifest(v1)["version"] == "v1"
