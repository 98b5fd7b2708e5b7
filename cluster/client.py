"""Connecting to a Dask cluster, and gathering futures with progress and cancel."""

from __future__ import annotations

import contextlib
from typing import Any, List, Optional, Sequence

from ..core.errors import Cancelled, InputError
from ..core.progress import ProgressFn, StopFn

# How often the driver polls for cancel while waiting on workers (seconds).
POLL = 0.2


def connect(
    workers: Optional[int] = None, scheduler: Optional[str] = None, option: str = "--scheduler"
):
    """A dask.distributed Client: on the scheduler at ``scheduler``, or on a new local cluster
    of ``workers`` single-threaded worker processes (GEOS work holds no GIL, but one thread
    per process keeps memory predictable). ``option`` names the setting in messages. Raises
    ImportError when dask.distributed is not installed, InputError when the scheduler cannot
    be reached."""
    from distributed import Client

    if scheduler:
        try:
            return Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(
                f"{option}: cannot reach a Dask scheduler at {scheduler}: {exc}. Give its "
                "address as tcp://host:8786."
            ) from exc
    if workers is not None and workers < 1:
        raise InputError(f"--workers: {workers} is not a number of workers; give 1 or more.")
    # A client that starts its own cluster also shuts it down when it is closed.
    return Client(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=40,
    )


def n_workers(client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


def gather(
    client,
    futures: Sequence[Any],
    progress: ProgressFn = None,
    should_stop: StopFn = None,
    weights: Optional[Sequence[float]] = None,
) -> List[Any]:
    """Results of ``futures`` in order. Progress is the (weighted) share of finished futures;
    when ``should_stop`` turns true, every future is cancelled and Cancelled is raised. A
    worker's exception is raised here as itself."""
    from distributed import wait

    weights = list(weights) if weights is not None else [1.0] * len(futures)
    total = float(sum(weights)) or 1.0
    pending = set(range(len(futures)))
    done_weight = 0.0
    try:
        while pending:
            if should_stop is not None and should_stop():
                raise Cancelled()
            # Nothing finished within POLL: look at should_stop again.
            with contextlib.suppress(TimeoutError):
                wait([futures[i] for i in pending], timeout=POLL, return_when="FIRST_COMPLETED")
            for i in sorted(pending):
                if futures[i].done():
                    if futures[i].status == "error":
                        futures[i].result()  # raises the worker's exception
                    pending.discard(i)
                    done_weight += weights[i]
            if progress is not None:
                progress(done_weight / total)
    except BaseException:
        client.cancel(list(futures))
        raise
    return client.gather(list(futures))
