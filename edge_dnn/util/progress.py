"""A minimal text progress bar for long host-side loops (calibration, compilation).

Written to stderr with carriage returns, so it never mixes with a tool's stdout; switched off
automatically when the stream is not a terminal (logs, CI, pytest's captured output).
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a non-negative duration; ``?`` when unknown."""
    if seconds != seconds or seconds < 0 or seconds == float("inf"):  # NaN or unknown
        return "?"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Count/total, rate and ETA on one self-overwriting line of a terminal.

    Use as a context manager (the line is finished on exit)::

        with Progress(total=len(batches), desc="calibrating", unit="batch") as bar:
            for b in batches:
                ...
                bar.update()

    Args:
        total: Expected number of steps, or None when unknown (no bar and no ETA then).
        desc: Label printed before the counts.
        unit: Name of one step (``batch``, ``image``).
        enabled: Force on/off; None (default) = on only when ``stream`` is a TTY.
        stream: Where to draw; default ``sys.stderr``.
        min_interval: Minimum seconds between redraws (the final state is always drawn).
        width: Characters of the bar itself.
    """

    def __init__(
        self,
        total: int | None,
        desc: str = "",
        unit: str = "it",
        enabled: bool | None = None,
        stream: TextIO | None = None,
        min_interval: float = 0.1,
        width: int = 24,
    ) -> None:
        self.total = None if total is None else max(int(total), 0)
        self.desc = desc
        self.unit = unit
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty()) if callable(isatty) else False
        self.enabled = enabled
        self.min_interval = min_interval
        self.width = width
        self.count = 0
        self._start = time.perf_counter()
        self._last_draw = -float("inf")
        self._last_len = 0
        self._closed = False

    # ------------------------------------------------------------------ state
    @property
    def elapsed(self) -> float:
        """Seconds since the bar was created."""
        return time.perf_counter() - self._start

    @property
    def rate(self) -> float:
        """Steps per second so far (0 before the first step)."""
        el = self.elapsed
        return self.count / el if el > 0 and self.count else 0.0

    @property
    def eta(self) -> float:
        """Estimated seconds left (NaN when the total or the rate is unknown)."""
        if self.total is None or self.rate == 0.0:
            return float("nan")
        return max(self.total - self.count, 0) / self.rate

    def line(self) -> str:
        """The current status line (without carriage return)."""
        rate = self.rate
        rate_s = f"{rate:.2f} {self.unit}/s" if rate < 10 else f"{rate:.0f} {self.unit}/s"
        head = f"{self.desc}: " if self.desc else ""
        if self.total:
            frac = min(self.count / self.total, 1.0)
            fill = int(frac * self.width)
            bar = "#" * fill + "-" * (self.width - fill)
            return (
                f"{head}[{bar}] {self.count}/{self.total} {self.unit} {100 * frac:3.0f}% "
                f"{rate_s} elapsed {format_duration(self.elapsed)} "
                f"ETA {format_duration(self.eta)}"
            )
        return f"{head}{self.count} {self.unit} {rate_s} elapsed {format_duration(self.elapsed)}"

    # ------------------------------------------------------------------ drawing
    def update(self, n: int = 1) -> None:
        """Advance by ``n`` steps and redraw if enough time passed."""
        self.count += n
        if not self.enabled or self._closed:
            return
        now = time.perf_counter()
        done = self.total is not None and self.count >= self.total
        if done or now - self._last_draw >= self.min_interval:
            self._draw()
            self._last_draw = now

    def _draw(self) -> None:
        text = self.line()
        pad = " " * max(self._last_len - len(text), 0)  # erase leftovers of a longer line
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._last_len = len(text)

    def close(self) -> None:
        """Draw the final state and end the line (idempotent)."""
        if self._closed:
            return
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
        self._closed = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
