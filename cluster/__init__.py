"""The Dask backend: the same core checks spread over a dask.distributed cluster."""
