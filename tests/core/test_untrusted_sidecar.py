"""Sidecars and layer names from elsewhere: no path escapes, no YAML bombs (issue 16)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from labelguard.core.crs_checks import read_sidecar_crs
from labelguard.core.errors import FileVanished, SchemaError
from labelguard.core.io import atomic_write_bytes
from labelguard.core.schema import validate
from labelguard.core.sidecar import MAX_SIDECAR_BYTES, read_sidecar, sidecar_path

# --- item 3: a layer name never becomes a path ---------------------------------------------


@pytest.mark.parametrize(
    ("layer", "name"),
    [
        ("../../etc/cron.d/x", "labels.gpkg._.._etc_cron.d_x-ea88c59c.labelguard.yaml"),
        ("/abs", "labels.gpkg._abs-e802dcc0.labelguard.yaml"),
        ("a/b", "labels.gpkg.a_b-c14cddc0.labelguard.yaml"),
        ("a:b", "labels.gpkg.a_b-6783a31e.labelguard.yaml"),
        ("C:\\evil", "labels.gpkg.C_evil-a54598a4.labelguard.yaml"),
        ("..", "labels.gpkg._-5ec1f7e7.labelguard.yaml"),
        ("tab\tname", "labels.gpkg.tab_name-db31d5fe.labelguard.yaml"),
    ],
    ids=["dotdot", "absolute", "slash", "colon", "backslash", "only-dots", "control"],
)
def test_layer_name_is_one_safe_component(tmp_path: Path, layer: str, name: str) -> None:
    data = tmp_path / "data"
    target = sidecar_path(data / "labels.gpkg", layer=layer, multi_layer=True)
    assert target == data / name
    atomic_write_bytes(target, b"schema: labelguard.sidecar/1\n")
    assert [p.name for p in tmp_path.rglob("*")] == ["data", name]


@pytest.mark.parametrize(
    "layer", ["roads", "Straßen 2024", "labels.v2", "my-layer_1", "a b (c)"], ids=str
)
def test_ordinary_layer_names_are_kept(layer: str) -> None:
    assert sidecar_path(Path("data/labels.gpkg"), layer=layer, multi_layer=True) == Path(
        f"data/labels.gpkg.{layer}.labelguard.yaml"
    )


def test_long_layer_name_fits_a_file_name() -> None:
    a = sidecar_path(Path("data/labels.gpkg"), layer="é" * 300, multi_layer=True)
    b = sidecar_path(Path("data/labels.gpkg"), layer="é" * 301, multi_layer=True)
    assert len(a.name.encode()) <= 255
    assert a.parent == Path("data")
    assert a != b
    assert a.name.startswith("labels.gpkg.éé")
    assert a.name.endswith(".labelguard.yaml")


# --- item 4: sidecars cannot make the reader expand, recurse or print huge values ------------

BILLION_LAUGHS = (
    "schema: labelguard.sidecar/1\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
    )
    + "file: {name: *i, format: GPKG, components: []}\n"
)


def test_billion_laughs_is_refused_before_it_expands(tmp_path: Path) -> None:
    p = tmp_path / "bomb.tif.labelguard.yaml"
    p.write_text(BILLION_LAUGHS, encoding="utf-8")
    assert len(BILLION_LAUGHS.encode()) < 1000
    with pytest.raises(
        SchemaError,
        match=r"^Sidecar '.*bomb\.tif\.labelguard\.yaml' uses YAML anchors or aliases \(line 2\); "
        r"LabelGuard sidecars never contain them, so it is refused\. Export the sidecar again\.$",
    ):
        read_sidecar(p)


def test_checkcrs_sidecar_reader_reports_the_bomb(tmp_path: Path) -> None:
    p = tmp_path / "bomb.tif.labelguard.yaml"
    p.write_text(BILLION_LAUGHS, encoding="utf-8")
    found = read_sidecar_crs(str(p))
    assert found is not None
    assert found.crs is None
    assert "uses YAML anchors or aliases" in (found.problem or "")


def test_oversized_sidecar_is_refused_unread(tmp_path: Path) -> None:
    p = tmp_path / "big.tif.labelguard.yaml"
    p.write_bytes(b"schema: labelguard.sidecar/1\n" + b"#" * MAX_SIDECAR_BYTES)
    with pytest.raises(
        SchemaError,
        match=rf"^Sidecar '.*big\.tif\.labelguard\.yaml' is {MAX_SIDECAR_BYTES + 29} bytes; "
        rf"sidecars are at most {MAX_SIDECAR_BYTES} bytes, so it is refused\.",
    ):
        read_sidecar(p)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "deep.tif.labelguard.yaml"
    p.write_text("schema: labelguard.sidecar/1\nfile: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(SchemaError, match=r"nests deeper than 32 levels \(line 2\); refused\."):
        read_sidecar(p)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_sidecar_is_not_read(tmp_path: Path) -> None:
    p = tmp_path / "pipe.tif.labelguard.yaml"
    os.mkfifo(p)
    with pytest.raises(
        FileVanished, match=r"^Sidecar: '.*pipe\.tif\.labelguard\.yaml' is a FIFO \(named pipe\)"
    ):
        read_sidecar(p)


def test_schema_message_never_formats_a_huge_value(tmp_path: Path) -> None:
    p = tmp_path / "huge.tif.labelguard.yaml"
    p.write_text(
        "schema: labelguard.sidecar/1\n"
        "file: {name: a.tif, format: GTiff, components: []}\n"
        f"content: {{method: m, sha256: '{'0' * 64}'}}\n"
        "acquisition_time: null\nprovenance: {generator: g}\n"
        f"kind: {'x' * 500_000}\n"
        f"? {'k' * 300_000}\n: 1\n"
        f"crs: [{', '.join(['1'] * 50_000)}]\n",
        encoding="utf-8",
    )
    with pytest.raises(SchemaError) as info:
        read_sidecar(p)
    message = str(info.value)
    assert len(message) < 1200
    assert (
        f"/kind: '{'x' * 79}... (500002 characters) is not one of ['raster', 'vector']" in message
    )
    assert f"unexpected key '{'k' * 40}... (300000 characters)'" in message
    assert "/crs: expected object or null, got list" in message


def test_schema_value_of_a_big_structure_is_summarised() -> None:
    doc = {"schema": "labelguard.report/1", "tool": "t", "counts": {}, "findings": []}
    doc["findings"] = [{"rule": "r", "message": "m", "severity": ["x"] * 10**6}]
    with pytest.raises(SchemaError, match=r"/findings/0/severity: \['x', 'x', 'x', 'x', \.\.\.\]"):
        validate(doc, "labelguard.report", "report")
