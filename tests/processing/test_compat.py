"""processing_provider.compat: one field constructor for QGIS 3.22 and 3.38+, without warnings."""

from __future__ import annotations

import warnings

import pytest
from labelguard.processing_provider.compat import FIELD_TYPES, make_field


# Qt's type ids, the same numbers in QVariant.Type and QMetaType.Type.
@pytest.mark.parametrize(
    ("kind", "type_id"),
    [("str", 10), ("int", 4), ("int32", 2), ("float", 6), ("bool", 1)],
    ids=["str", "int", "int32", "float", "bool"],
)
def test_make_field_kinds(kind, type_id):
    with warnings.catch_warnings():
        # QGIS 3.38+ deprecates the QVariant.Type constructor: the shim must not call it there.
        warnings.simplefilter("error")
        field = make_field("name", kind)
    assert (field.name(), field.type()) == ("name", type_id)


def test_field_types_are_exactly_the_kinds():
    assert sorted(FIELD_TYPES) == ["bool", "float", "int", "int32", "str"]
