"""A data file's CRS as checkcrs's core record, read from the file itself through GDAL/OGR."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, TypeVar, Union

from ..core.crs_checks import RASTER, LayerRecord, crs_problem, read_sidecar_crs, require_source
from ..core.errors import FileVanished, InputError
from ..core.georef import east_first, extent_from_geotransform
from ..core.sidecar import sidecar_path
from . import facts

T = TypeVar("T")


def file_record(
    name: str, path: str, kind: str, layer: Union[str, int, None] = None
) -> LayerRecord:
    """The record of layer ``layer`` (name, index or None: the first) of the ``kind`` (RASTER
    or VECTOR) data file ``path``, shown to users as ``name``. The CRS comes from the file, so
    a file without one has none.

    Raises FileVanished when the file is gone, InputError when GDAL cannot open it.
    """
    require_source(name, path, exists=facts.exists)
    if kind == RASTER:
        found = _facts(name, lambda: facts.raster_facts(path))
        extent = extent_from_geotransform(found.geotransform, found.width, found.height)
        # A geotransform's x is the column direction, whatever the CRS's axis order says.
        sublayer, multi = None, False
    else:
        vfound = _facts(name, lambda: facts.vector_facts(path, layer))
        found = vfound
        extent = vfound.extent
        if extent is not None and vfound.crs_wkt is not None:
            extent = east_first(extent, vfound.north_first)
        sublayer, multi = vfound.layer, vfound.layer_count > 1
    prj = facts.prj_text(path)
    prj_name = os.path.basename(os.path.splitext(path)[0] + ".prj")
    problem = crs_problem(found.crs_messages, prj_name, prj)
    sidecar = None
    if not path.startswith("/vsi"):
        sidecar = read_sidecar_crs(str(sidecar_path(Path(path), layer=sublayer, multi_layer=multi)))
    return LayerRecord(
        name=name,
        source=path,
        kind=kind,
        crs=found.crs_wkt,
        extent=extent,
        crs_problem=problem,
        sidecar=sidecar,
    )


def _facts(name: str, read: Callable[[], T]) -> T:
    """Facts read by the data layer, with GDAL's failure prefixed by the layer's name."""
    try:
        return read()
    except FileVanished as exc:
        raise FileVanished(f"Layer '{name}': {exc}") from exc
    except InputError as exc:
        raise InputError(f"Layer '{name}': {exc}") from exc
