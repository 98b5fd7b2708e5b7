"""The one place that imports shapely and decides which GEOS functions are available.

Inside QGIS desktop and qgis_process on Linux, the GEOS symbols shapely's extension needs are
already loaded from QGIS's own libgeos (3.11 on QGIS 3.22). A plain ``import shapely`` >= 2.1
then binds to that older library and fails ("WKT output dimension must be 2 or 3"). Loading the
extension with RTLD_DEEPBIND makes it resolve symbols in its own bundled GEOS first. Every other
module does ``from .geos import shapely``.
"""

from __future__ import annotations

import os
import sys


def _import_shapely():  # type: ignore[no-untyped-def]
    if "shapely" in sys.modules or not hasattr(sys, "setdlopenflags"):
        import shapely

        return shapely
    deepbind = getattr(os, "RTLD_DEEPBIND", 0)
    old = sys.getdlopenflags()
    try:
        if deepbind:
            sys.setdlopenflags(os.RTLD_NOW | deepbind)
        import shapely
        import shapely.geometry  # noqa: F401  (loads the remaining extension modules now)
        import shapely.ops  # noqa: F401
        import shapely.strtree  # noqa: F401
    finally:
        sys.setdlopenflags(old)
    return shapely


shapely = _import_shapely()

GEOS_VERSION: tuple[int, int, int] = tuple(shapely.geos_version)  # type: ignore[assignment]
SHAPELY_VERSION: str = shapely.__version__
# coverage_invalid_edges / coverage_is_valid need GEOS >= 3.12 and shapely >= 2.1.
HAS_COVERAGE: bool = GEOS_VERSION >= (3, 12, 0) and hasattr(shapely, "coverage_invalid_edges")
