"""No algorithm overwrites its own inputs, a file a manifest it reads tracks, or a manifest of
that chain (issue 16, item 5): the run is refused before anything is written."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def ds(tmp_path, gis, run_alg):
    root = tmp_path / "ds"
    root.mkdir()
    tif, gpkg = gis.write_raster(root / "ortho.tif"), gis.write_vector(root / "labels.gpkg")
    geojson = gis.write_vector(root / "labels.geojson", driver="GeoJSON")
    v1 = root / "v1.json"
    run_alg("labelguard:buildmanifest", {"LAYERS": [str(tif), str(gpkg)], "OUTPUT": str(v1)})
    return {"root": root, "tif": tif, "gpkg": gpkg, "geojson": geojson, "v1": v1}


def _refused(run_alg, alg, params, message, *kept):
    from qgis.core import QgsProcessingException

    before = [p.read_bytes() for p in kept]
    with pytest.raises(QgsProcessingException) as raised:
        run_alg(alg, params)
    assert str(raised.value).splitlines()[-1] == message  # after "Unable to execute algorithm"
    assert [p.read_bytes() for p in kept] == before


def test_buildmanifest_output_that_is_one_of_its_layers(run_alg, ds):
    tif, gpkg = ds["tif"], ds["gpkg"]
    _refused(
        run_alg,
        "labelguard:buildmanifest",
        {"LAYERS": [str(tif), str(gpkg)], "OUTPUT": str(tif)},
        f"OUTPUT {tif} is one of the inputs (LAYERS); writing there would overwrite it. "
        "Choose another file.",
        tif,
    )


def test_verify_output_or_report_on_what_the_manifest_tracks(run_alg, ds):
    gpkg, v1 = ds["gpkg"], ds["v1"]
    _refused(
        run_alg,
        "labelguard:verifymanifest",
        {"MANIFEST": str(v1), "OUTPUT": str(gpkg)},
        f"OUTPUT {gpkg} is a file manifest v1 tracks; writing there would overwrite it. "
        "Choose another file.",
        gpkg,
    )
    _refused(
        run_alg,
        "labelguard:verifymanifest",
        {"MANIFEST": str(v1), "OUTPUT": "memory:", "REPORT": str(v1)},
        f"REPORT {v1} is one of the inputs (MANIFEST); writing there would overwrite "
        "it. Choose another file.",
        v1,
    )


def test_reports_on_an_input_layer(run_alg, ds):
    geojson = ds["geojson"]
    for alg, params in (
        ("labelguard:validatetopology", {"INPUT": str(geojson), "OUTPUT": "memory:"}),
        ("labelguard:checkcrs", {"LAYERS": [str(geojson)], "OUTPUT": "memory:"}),
    ):
        name = "INPUT" if "INPUT" in params else "LAYERS"
        _refused(
            run_alg,
            alg,
            {**params, "REPORT": str(geojson)},
            f"REPORT {geojson} is one of the inputs ({name}); writing there would overwrite "
            "it. Choose another file.",
            geojson,
        )


def test_buildmanifest_output_in_the_parent_chain(run_alg, ds):
    # OUTPUT=v1.json PARENT=v2.json (whose parent is v1) rewrote history into a loop.
    root, v1 = ds["root"], ds["v1"]
    v2 = root / "v2.json"
    layers = [str(ds["tif"]), str(ds["gpkg"])]
    run_alg(
        "labelguard:buildmanifest",
        {"LAYERS": layers, "VERSION": "v2", "PARENT": str(v1), "OUTPUT": str(v2)},
    )
    index = sorted((root / "v1.features").iterdir())
    _refused(
        run_alg,
        "labelguard:buildmanifest",
        {"LAYERS": layers, "VERSION": "v3", "PARENT": str(v2), "OUTPUT": str(v1)},
        f"OUTPUT {v1} is manifest v1 ('v1.json'); writing there would overwrite it. Choose "
        "another file.",
        v1,
        *index,
    )
    # A rebuild under a new name, or of a manifest outside the chain, is still fine.
    shutil.copy(v2, root / "v2-copy.json")
    res = run_alg(
        "labelguard:buildmanifest",
        {"LAYERS": layers, "VERSION": "v3", "PARENT": str(v2), "OUTPUT": str(root / "v3.json")},
    )
    assert res["ENTRY_COUNT"] == 2
