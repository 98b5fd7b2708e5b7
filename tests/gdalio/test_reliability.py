"""The data layer on files that break GDAL's fast paths: reading falls back, never crashes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from labelguard.gdalio import facts, vector

# One byte of the property name "class" replaced by 0x80: not valid UTF-8.
BAD_NAME_GEOJSON = (
    b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
    b'{"cl\x80ss":"tree","id":1},"geometry":{"type":"Point","coordinates":[1,2]}}]}'
)


def test_non_utf8_field_name_is_read_by_the_feature_reader(tmp_path):
    # GDAL 3.6's Arrow reader kills the process (SIGSEGV) on such a name: run in a child, so
    # a regression is a failed assertion rather than a crashed test run.
    path = tmp_path / "bad.geojson"
    path.write_bytes(BAD_NAME_GEOJSON)
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        import conftest
        from labelguard.gdalio.vector import read_ogr
        for batch in read_ogr({str(path)!r}, all_fields=True):
            print(sorted(batch.columns.items()), batch.fids.tolist())
        """
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    assert child.stdout == "[('cl\ufffdss', ['tree']), ('id', [1])] [1]\n"


def test_non_utf8_field_name_is_detected_and_reported_as_text(tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_bytes(BAD_NAME_GEOJSON)
    ds, lyr = vector.open_vector(str(path))
    assert vector.arrow_safe(lyr) is False
    assert [f.name for f in facts.vector_facts(path).fields] == ["cl\ufffdss", "id"]
    good = tmp_path / "good.geojson"
    good.write_bytes(BAD_NAME_GEOJSON.replace(b"\x80", b"a"))
    ds, lyr = vector.open_vector(str(good))
    assert vector.arrow_safe(lyr) is True


# --- verify: metadata drift and unreadable files (issue 16, items 14 and 16) ---------------


def _sidecar(path: Path) -> None:
    from labelguard.core.sidecar import build_sidecar, sidecar_path, write_sidecar
    from labelguard.gdalio.observe import describe

    write_sidecar(sidecar_path(path), build_sidecar(describe(path), "test"))


def _manifest(root: Path, *paths: Path) -> Path:
    from labelguard.core.manifest import build_manifest, write_manifest
    from labelguard.gdalio.observe import observe

    manifest = root / "v1.json"
    doc, extra = build_manifest(
        [observe(p, keep_index=True) for p in paths],
        root=root,
        manifest_path=manifest,
        version="v1",
        creator={"plugin": "test"},
        created_at="2024-01-01T00:00:00Z",
    )
    write_manifest(manifest, doc, extra)
    return manifest


def _verify(manifest: Path):
    from labelguard.core.manifest import verify_manifest
    from labelguard.gdalio.observe import observe

    root = manifest.parent

    def measure(path, entry):
        side = root / entry["sidecar"]["path"] if entry["sidecar"] else None
        return observe(path, entry["layer"], kind=entry["kind"], sidecar=side)

    statuses, _ = verify_manifest(manifest, measure, scan_untracked=False)
    return [(s.path, s.status, s.message) for s in statuses]


def test_changed_acquisition_time_is_metadata_drift_not_rewritten(tmp_path, gis):
    from labelguard.core import status

    tif = gis.write_raster(tmp_path / "ortho.tif")
    _sidecar(tif)
    manifest = _manifest(tmp_path, tif)
    assert _verify(manifest) == [("ortho.tif", "ok", "matches the manifest")]
    gis.write_raster(tif, when="2025:01:01 00:00:00")  # same pixels, new time tag
    assert _verify(manifest) == [
        (
            "ortho.tif",
            "metadata_drift",
            "metadata differs from its sidecar: acquisition_time/value was "
            "'2024-05-17T10:42:00', is now '2025-01-01T00:00:00' (and 1 more)",
        )
    ]
    assert not status.is_verified(status.METADATA_DRIFT)
    assert status.severity(status.METADATA_DRIFT) == "error"


def test_colour_interpretation_and_band_description_are_metadata_drift(tmp_path, gis):
    from osgeo import gdal

    tif = gis.write_raster(tmp_path / "ortho.tif")
    _sidecar(tif)
    manifest = _manifest(tmp_path, tif)
    ds = gdal.Open(str(tif), gdal.GA_Update)
    ds.GetRasterBand(1).SetColorInterpretation(gdal.GCI_GrayIndex)
    ds.GetRasterBand(2).SetDescription("near infrared")
    ds = None
    [(path, state, message)] = _verify(manifest)
    assert (path, state) == ("ortho.tif", "metadata_drift")
    assert message == (
        "metadata differs from its sidecar: raster/bands/1/color was 'Red', is now 'Gray' "
        "(and 1 more)"
    )


def test_geojson_strict_readers_cannot_parse_is_unreadable_not_rewritten(tmp_path):
    doc = (
        b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        b'{"class":"tree","id":1},"geometry":{"type":"Point","coordinates":[1,2]}}]}'
    )
    path = tmp_path / "labels.geojson"
    path.write_bytes(doc)
    manifest = _manifest(tmp_path, path)
    path.write_bytes(doc.replace(b'"id":1}', b'"id":1,}'))  # GDAL reads it, json.loads does not
    [(name, state, message)] = _verify(manifest)
    assert (name, state) == ("labels.geojson", "unreadable")
    # The parenthesis is Python's json error, worded differently since 3.13 ("Illegal trailing
    # comma ..." instead of "Expecting property name ..."); the rest is ours on every release.
    assert message.startswith("bytes changed and the file is no longer valid JSON (")
    assert message.endswith("); GDAL still reads it, strict JSON readers do not")
    assert "comma" in message or "Expecting property name" in message
    path.write_bytes(doc.replace(b'"id":1}', b'"id": 1}'))  # strict JSON, other bytes
    assert _verify(manifest) == [
        ("labels.geojson", "rewritten", "bytes changed, content identical")
    ]


def test_truncated_raster_is_unreadable_not_a_traceback(tmp_path, gis):
    tif = gis.write_raster(tmp_path / "ortho.tif")
    manifest = _manifest(tmp_path, tif)
    data = tif.read_bytes()
    tif.write_bytes(data[: len(data) // 2])
    [(name, state, message)] = _verify(manifest)
    assert (name, state) == ("ortho.tif", "unreadable")
    assert message.startswith(f"GDAL cannot read '{tif}': ")


def test_non_utf8_tiff_metadata_is_unreadable(tmp_path, gis):
    tif = gis.write_raster(tmp_path / "ortho.tif")
    manifest = _manifest(tmp_path, tif)
    data = tif.read_bytes()
    at = data.index(b"2024:05:17")
    tif.write_bytes(data[:at] + b"\xff\xfe" + data[at + 2 :])
    assert _verify(manifest) == [
        (
            "ortho.tif",
            "unreadable",
            f"'{tif}' cannot be read: its metadata item TIFFTAG_DATETIME is not UTF-8 text (a "
            "damaged file, or one written in another encoding).",
        )
    ]


def test_a_crs_proj_cannot_interpret_is_unreadable(tmp_path, gis, monkeypatch):
    from labelguard.gdalio import facts as facts_mod

    tif = gis.write_raster(tmp_path / "ortho.tif")
    manifest = _manifest(tmp_path, tif)
    monkeypatch.setattr(facts_mod, "_crs_info", lambda wkt: None)  # as when PROJ rejects it
    assert _verify(manifest) == [
        (
            "ortho.tif",
            "unreadable",
            f"'{tif}' has a CRS that PROJ cannot interpret; the file cannot be checked.",
        )
    ]


# --- a GeoPackage locked by another writer (issue 16, item 12) ------------------------------


def test_locked_geopackage_is_said_locked_never_a_plain_file(tmp_path, gis, monkeypatch):
    import sqlite3

    import pytest
    from labelguard.core.errors import FileLocked
    from labelguard.gdalio import opening
    from labelguard.gdalio.observe import observe

    gpkg = gis.write_vector(tmp_path / "labels.gpkg")
    manifest = _manifest(tmp_path, gpkg)
    monkeypatch.setattr(opening, "LOCK_WAIT_SECONDS", 0.2)
    writer = sqlite3.connect(str(gpkg), isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")  # another program's write transaction
    message = (
        f"'{gpkg}' is locked by another program's open transaction (SQLite: database is "
        "locked; waited 0.2 s). Finish the edit there (in QGIS: save or roll back the "
        "layer's edits, or close the program), then run again."
    )
    with pytest.raises(FileLocked) as raised:
        facts.detect_kind(gpkg)
    assert str(raised.value) == message
    with pytest.raises(FileLocked, match="is locked by another program's open transaction"):
        observe(gpkg, keep_index=True)
    with pytest.raises(FileLocked, match="is locked by another program's open transaction"):
        _verify(manifest)
    writer.execute("ROLLBACK")
    writer.close()
    assert facts.detect_kind(gpkg) == "vector"
    assert _verify(manifest) == [("labels.gpkg", "ok", "matches the manifest")]
