"""Progress on a terminal (stderr, only when it is a TTY) and a stop flag set by SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Callable, Optional, TextIO


class Terminal:
    """What a command reports while it runs: ``progress(fraction)`` redraws one stderr line
    when stderr is a terminal (never in a CI log), ``info`` writes a line there, and
    ``should_stop`` turns true once SIGTERM arrived (Ctrl-C raises KeyboardInterrupt)."""

    def __init__(self, stream: Optional[TextIO] = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._stage = ""
        self._shown = -1
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def install_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self._stop.set())

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    def stage(self, text: str) -> Callable[[float], None]:
        """Start a stage; returns its progress callback (fraction 0-1)."""
        self._end_line()
        self._stage, self._shown = text, -1
        return self.progress

    def progress(self, fraction: float) -> None:
        if not self.tty or self.quiet:
            return
        percent = int(100 * min(max(fraction, 0.0), 1.0))
        with self._lock:  # hashing threads report concurrently
            if percent == self._shown:
                return
            self._shown = percent
            self.stream.write(f"\r{self._stage} {percent:3d}%")
            self.stream.flush()

    def info(self, text: str) -> None:
        if self.quiet:
            return
        self._end_line()
        self.stream.write(text + "\n")
        self.stream.flush()

    def _end_line(self) -> None:
        if self.tty and self._shown >= 0:
            self.stream.write("\n")
            self._shown = -1
