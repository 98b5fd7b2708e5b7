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
