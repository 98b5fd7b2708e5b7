"""Progress and cancel callbacks shared by long-running core functions."""

from __future__ import annotations

from typing import Callable, Optional

from .errors import Cancelled

ProgressFn = Optional[Callable[[float], None]]
StopFn = Optional[Callable[[], bool]]


class Ticker:
    """Reports progress of ``total`` units of work in a sub-range [start, end] of 0-1.

    Polls ``should_stop`` on every ``advance`` and raises ``Cancelled`` when it returns true.
    """

    def __init__(
        self,
        total: float,
        progress: ProgressFn = None,
        should_stop: StopFn = None,
        start: float = 0.0,
        end: float = 1.0,
    ) -> None:
        self.total = float(total) if total else 1.0
        self.done = 0.0
        self._progress = progress
        self._should_stop = should_stop
        self._start = start
        self._span = end - start

    def check(self) -> None:
        if self._should_stop is not None and self._should_stop():
            raise Cancelled()

    def advance(self, amount: float = 1.0) -> None:
        self.done += amount
        self.check()
        if self._progress is not None:
            frac = min(1.0, self.done / self.total)
            self._progress(self._start + self._span * frac)

    def sub(self, total: float, start: float, end: float) -> Ticker:
        """A ticker for a stage that covers fractions [start, end] of this ticker's range."""
        return Ticker(
            total,
            self._progress,
            self._should_stop,
            self._start + self._span * start,
            self._start + self._span * end,
        )


def check_stop(should_stop: StopFn) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled()
