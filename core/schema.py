"""Validation against the JSON Schemas shipped in core/schemas.

QGIS installs do not reliably ship ``jsonschema``, so this implements the subset of JSON Schema
(draft 2020-12) our schemas use: type, enum, const, required, properties,
additionalProperties, items, pattern, minimum, minLength, $ref to $defs. The test suite checks
that it agrees with the jsonschema package on valid and invalid documents.
"""

from __future__ import annotations

import json
import re
import reprlib
from functools import cache
from pathlib import Path
from typing import Any, Dict, List

from .errors import SchemaError, UnknownSchemaVersion
from .paths import shorten

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
KNOWN = {
    "labelguard.sidecar": ("labelguard.sidecar/1", "sidecar.schema.json"),
    "labelguard.manifest": ("labelguard.manifest/1", "manifest.schema.json"),
    "labelguard.report": ("labelguard.report/1", "report.schema.json"),
}

VALUE_CHARS = 80  # how much of a bad value an error message shows
KEY_CHARS = 40
_REPR = reprlib.Repr()  # bounded: never walks a whole huge value
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring = 2, 4, 4, VALUE_CHARS

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


@cache
def load_schema(filename: str) -> Dict[str, Any]:
    return json.loads((SCHEMA_DIR / filename).read_text(encoding="utf-8"))


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":  # JSON Schema: 3.0 is an integer (a number with no fraction)
        if isinstance(value, float):
            return value.is_integer()
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def _shown(value: Any, repr_: bool = True) -> str:
    """A value for a message, cut short: data can be huge (an expanded YAML alias bomb)."""
    if isinstance(value, str):
        return shorten(repr(value) if repr_ else value, VALUE_CHARS)
    return shorten(_REPR.repr(value), VALUE_CHARS)


def _errors(
    value: Any, schema: Dict[str, Any], root: Dict[str, Any], where: str, out: List[str]
) -> None:
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref}")
        schema = root["$defs"][ref.split("/")[-1]]
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            out.append(f"{where or '/'}: expected {' or '.join(types)}, got {type(value).__name__}")
            return
    if "const" in schema and value != schema["const"]:
        out.append(f"{where or '/'}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where or '/'}: {_shown(value)} is not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{where or '/'}: {_shown(value)} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            out.append(f"{where or '/'}: shorter than {schema['minLength']}")
    if _is_type(value, "number") and "minimum" in schema and value < schema["minimum"]:
        shown = _shown(value, repr_=False)
        out.append(f"{where or '/'}: {shown} is below {schema['minimum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                out.append(f"{where or '/'}: missing required key '{key}'")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            name = shorten(str(key), KEY_CHARS)
            if key in props:
                _errors(item, props[key], root, f"{where}/{name}", out)
            elif extra is False:
                out.append(f"{where or '/'}: unexpected key '{name}'")
            elif isinstance(extra, dict):
                _errors(item, extra, root, f"{where}/{name}", out)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _errors(item, schema["items"], root, f"{where}/{i}", out)


def schema_errors(document: Any, filename: str) -> List[str]:
    """All violations of ``document`` against schema ``filename`` (empty list when valid)."""
    schema = load_schema(filename)
    out: List[str] = []
    _errors(document, schema, schema, "", out)
    return out


def validate(document: Any, family: str, what: str = "document") -> None:
    """Check the ``schema`` key and the document against the shipped schema of ``family``.

    Raises UnknownSchemaVersion for a schema id LabelGuard does not know, SchemaError listing
    the first violations otherwise.
    """
    expected, filename = KNOWN[family]
    if not isinstance(document, dict):
        raise SchemaError(f"{what} is not a {family} document (not a mapping).")
    declared = document.get("schema")
    if declared != expected:
        if isinstance(declared, str) and declared.startswith(family + "/"):
            raise UnknownSchemaVersion(
                f"{what} uses schema '{shorten(declared)}', which this version of LabelGuard "
                f"does not know (it reads '{expected}'). Upgrade LabelGuard to read it."
            )
        raise SchemaError(
            f"{what} is not a {family} document (schema is {_shown(declared)}, expected "
            f"'{expected}')."
        )
    problems = schema_errors(document, filename)
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise SchemaError(f"{what} does not match {expected}: {shown}{more}")
