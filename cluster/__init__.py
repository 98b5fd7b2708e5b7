"""The Dask backend: the same core checks spread over a dask.distributed cluster."""

from __future__ import annotations
