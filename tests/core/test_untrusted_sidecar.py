"""Sidecars and layer names from elsewhere: no path escapes, no YAML bombs (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest
from labelguard.core.io import atomic_write_bytes
from labelguard.core.sidecar import sidecar_path

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
