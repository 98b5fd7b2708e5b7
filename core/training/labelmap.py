"""Stable category ids: from sorted class values, or from a label-map file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Sequence, Tuple

from ..errors import InputError


@dataclass(frozen=True)
class LabelMap:
    """Class names with their category ids (COCO/mask value, >= 1; 0 is background) and their
    YOLO index (0..n-1 in id order)."""

    names: Tuple[str, ...]
    ids: Tuple[int, ...]
    source: str = field(default="", compare=False)  # the label-map file; "" when numbered

    def id_of(self) -> Dict[str, int]:
        return dict(zip(self.names, self.ids))

    def yolo_index(self) -> Dict[str, int]:
        order = sorted(range(len(self.ids)), key=lambda i: self.ids[i])
        return {self.names[i]: rank for rank, i in enumerate(order)}

    def to_json(self) -> List[Dict[str, Any]]:
        yolo = self.yolo_index()
        rows = sorted(zip(self.ids, self.names))
        return [{"id": i, "name": n, "yolo_index": yolo[n]} for i, n in rows]


def class_name(value: Any) -> str | None:
    """Class field value -> class name; None for NULL (None, NaN) or blank. 3.0 and 3 both
    give "3"; the text "null" is a class name like any other."""
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer():
            value = int(value)
    text = str(value).strip()
    if not text:
        return None
    return text


def _sort_key(name: str) -> Tuple[int, Any]:
    try:
        return (0, float(name))
    except ValueError:
        return (1, name)


def labelmap_from_values(names: Iterable[str]) -> LabelMap:
    """Ids 1..n over the sorted distinct class names (numerically when all are numbers), so
    the same set of classes always gets the same ids."""
    distinct = sorted(set(names), key=_sort_key)
    if any(k[0] == 1 for k in map(_sort_key, distinct)):
        distinct = sorted(distinct)
    return LabelMap(names=tuple(distinct), ids=tuple(range(1, len(distinct) + 1)))


def _pairs_from_document(doc: Any, path: str) -> List[Tuple[str, Any]]:
    if isinstance(doc, dict) and "categories" in doc:
        doc = doc["categories"]
    if isinstance(doc, dict) and "names" in doc and isinstance(doc["names"], (dict, list)):
        names = doc["names"]  # a YOLO data.yaml: index -> name; ids are index + 1
        items = names.items() if isinstance(names, dict) else enumerate(names)
        return [(str(n), int(i) + 1) for i, n in items]
    if isinstance(doc, dict):
        return [(str(k), v) for k, v in doc.items()]
    if isinstance(doc, list) and all(isinstance(r, dict) for r in doc):
        try:
            return [(str(r["name"]), r["id"]) for r in doc]
        except KeyError as exc:
            raise InputError(
                f"Label map '{path}': every entry needs 'id' and 'name' (missing {exc})."
            ) from exc
    raise InputError(
        f"Label map '{path}' is not understood: use {{\"class name\": id, ...}}, a list of "
        '{"id", "name"} (COCO categories), or a YOLO data.yaml with names.'
    )


def read_labelmap(path: str) -> LabelMap:
    """Read a label map (JSON or YAML): a name -> id mapping, COCO ``categories``, a previous
    export's ``labelmap.json`` or a YOLO ``data.yaml``.

    Raises:
        InputError: unreadable file, ids that are not unique positive integers.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"Label map '{path}' cannot be read: {exc.strerror}.") from exc
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            doc = yaml.safe_load(text)
        else:
            doc = json.loads(text)
    except Exception as exc:
        raise InputError(f"Label map '{path}' is not valid JSON/YAML: {exc}") from exc
    pairs = _pairs_from_document(doc, path)
    ids = []
    for name, raw in pairs:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            raise InputError(
                f"Label map '{path}': class '{name}' has id {raw!r}; ids must be integers >= 1 "
                "(0 is the background in masks)."
            )
        ids.append(raw)
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(f"Label map '{path}': ids {dupes} are used by more than one class.")
    rows = sorted(zip(ids, (n for n, _ in pairs)))
    return LabelMap(names=tuple(n for _, n in rows), ids=tuple(i for i, _ in rows), source=path)


MASK_IGNORE = 255  # the "ignore" pixel value of semantic trainers (ultralytics, mmsegmentation)


def check_mask_ids(labelmap: LabelMap, numbered_from: str = "") -> None:
    """Refuse category ids that 8-bit masks cannot hold apart from the trainers' "ignore"
    value: mask pixels are category ids, so ids must be 1-254. ``numbered_from`` names the
    class field when the ids were numbered automatically ("" for a label map).

    Raises:
        InputError: naming the label map (its file when known) or the class field, and the
            first classes whose id is 255 or more.
    """
    high = sorted((i, n) for i, n in zip(labelmap.ids, labelmap.names) if i >= MASK_IGNORE)
    if not high:
        return
    why = (
        "mask pixels are 8-bit class ids and 255 is the 'ignore' value of semantic trainers "
        "(ultralytics, mmsegmentation), so the masks format takes ids 1-254"
    )
    if numbered_from:
        raise InputError(
            f"{numbered_from} has {len(labelmap.ids)} classes, numbered 1-{max(labelmap.ids)}; "
            f"{why}. Merge classes with a LABEL_MAP file, or export as COCO or YOLO."
        )
    shown = ", ".join(f"{n!r} id {i}" for i, n in high[:5])
    more = f" and {len(high) - 5} more" if len(high) > 5 else ""
    where = f"Label map '{labelmap.source}'" if labelmap.source else "The label map"
    raise InputError(f"{where} gives {shown}{more}; {why}. Renumber these classes in LABEL_MAP.")


def check_classes(labelmap: LabelMap, present: Sequence[str], source: str) -> None:
    """Raise InputError naming the classes in the data that the label map lacks."""
    missing = sorted(set(present) - set(labelmap.names))
    if missing:
        shown = ", ".join(repr(m) for m in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise InputError(
            f"Classes {shown}{more} in {source} are not in the label map; add them to the "
            "LABEL_MAP file or leave LABEL_MAP empty to number the classes automatically."
        )
