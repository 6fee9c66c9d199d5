"""Synchronising several sources by timestamp.

A :class:`Synchronizer` reads one *primary* source and any number of *secondary* sources and
emits :class:`FrameSet` records: the primary frame plus, for every secondary, the frame closest
in time.

Pairing and drop policy (deterministic, pull-based: everything runs in the caller's thread):

* For a primary frame at time ``t``, each secondary is read ahead until it has delivered a frame
  later than ``t + tolerance`` (or ended), so every candidate in the window is known.
* Secondary frames older than ``t - tolerance`` can never match this or any later primary frame
  (primary timestamps increase): they are *stale* and dropped (counted in ``dropped``).
* Among the frames with ``|ts - t| <= tolerance`` the nearest is paired (ties: the earlier one).
  It is consumed, and the unpaired frames before it are dropped (counted); each secondary frame
  is used at most once. Frames after it stay for the next primary frame.
* A primary frame without a partner within tolerance for some secondary is dropped (counted in
  ``dropped_primary``) when ``require_all``; otherwise it is emitted without that sensor
  (counted in ``missing``).
* The synchronised stream ends when the primary ends, or, with ``require_all``, when a
  secondary has ended and holds no frame that could still match.
* At most ``max_pending`` read-ahead frames are kept per secondary (a secondary running far
  ahead in time loses its oldest frames, counted as dropped).
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType

from vision_pipeline.errors import SyncError
from vision_pipeline.sources import Frame, Source

__all__ = ["FrameSet", "SyncStats", "Synchronizer"]


@dataclasses.dataclass(frozen=True, eq=False)
class FrameSet:
    """Frames of several sensors taken at (about) the same time.

    Attributes:
        primary: The primary sensor's name.
        frames: Sensor name -> frame (the primary always; secondaries when paired).
    """

    primary: str
    frames: Mapping[str, Frame]

    @property
    def main(self) -> Frame:
        """The primary frame."""
        return self.frames[self.primary]

    @property
    def timestamp_ns(self) -> int:
        """The primary frame's timestamp."""
        return self.main.timestamp_ns

    @property
    def index(self) -> int:
        """The primary frame's index."""
        return self.main.index

    @classmethod
    def single(cls, frame: Frame) -> FrameSet:
        """A set of one frame."""
        return cls(frame.sensor, {frame.sensor: frame})


@dataclasses.dataclass
class SyncStats:
    """Counters of a :class:`Synchronizer`.

    Attributes:
        primary_frames: Primary frames read.
        emitted: Frame sets emitted.
        dropped_primary: Primary frames dropped for lack of a partner (``require_all``).
        matched: Per secondary: frames paired.
        dropped: Per secondary: frames never paired (stale, skipped or over ``max_pending``).
        missing: Per secondary: frame sets emitted without it (not ``require_all``).
    """

    primary_frames: int = 0
    emitted: int = 0
    dropped_primary: int = 0
    matched: dict[str, int] = dataclasses.field(default_factory=dict)
    dropped: dict[str, int] = dataclasses.field(default_factory=dict)
    missing: dict[str, int] = dataclasses.field(default_factory=dict)


class Synchronizer:
    """Pairs a primary source with secondary sources by timestamp (see the module docstring).

    Args:
        primary: The primary source (its frames drive the output).
        secondaries: The other sources (distinct sensor names).
        tolerance_ms: Largest accepted time difference, milliseconds.
        require_all: Drop primary frames lacking any secondary (else emit partial sets).
        max_pending: Read-ahead frames kept per secondary.

    Raises:
        SyncError: a negative tolerance or duplicate sensor names.
    """

    def __init__(
        self,
        primary: Source,
        secondaries: Sequence[Source],
        tolerance_ms: float,
        require_all: bool = True,
        max_pending: int = 64,
    ) -> None:
        if not tolerance_ms >= 0:
            raise SyncError(f"tolerance_ms must be >= 0, got {tolerance_ms}")
        if max_pending < 1:
            raise SyncError(f"max_pending must be >= 1, got {max_pending}")
        names = [primary.name, *(s.name for s in secondaries)]
        if len(set(names)) != len(names):
            raise SyncError(f"sources need distinct sensor names, got {names}")
        self.primary = primary
        self.secondaries = list(secondaries)
        self.tolerance_ns = round(float(tolerance_ms) * 1e6)
        self.require_all = bool(require_all)
        self.max_pending = int(max_pending)
        self.name = primary.name
        self.live = primary.live
        self.stats = SyncStats(
            matched={s.name: 0 for s in self.secondaries},
            dropped={s.name: 0 for s in self.secondaries},
            missing={s.name: 0 for s in self.secondaries},
        )
        self._pending: dict[str, collections.deque[Frame]] = {
            s.name: collections.deque() for s in self.secondaries
        }
        self._ended: dict[str, bool] = {s.name: False for s in self.secondaries}

    @property
    def sensors(self) -> list[str]:
        """All sensor names, primary first."""
        return [self.primary.name, *(s.name for s in self.secondaries)]

    def _fill(self, src: Source, until_ns: int) -> None:
        q = self._pending[src.name]
        while not self._ended[src.name] and (not q or q[-1].timestamp_ns <= until_ns):
            f = src.read()
            if f is None:
                self._ended[src.name] = True
                return
            q.append(f)
            if len(q) > self.max_pending:
                q.popleft()
                self.stats.dropped[src.name] += 1

    def _match(self, src: Source, t: int) -> Frame | None:
        name = src.name
        tol = self.tolerance_ns
        self._fill(src, t + tol)
        q = self._pending[name]
        while q and q[0].timestamp_ns < t - tol:
            q.popleft()
            self.stats.dropped[name] += 1
        best, best_dt = -1, tol + 1
        for i, f in enumerate(q):
            dt = abs(f.timestamp_ns - t)
            if f.timestamp_ns > t + tol:
                break
            if dt < best_dt:
                best, best_dt = i, dt
        if best < 0:
            return None
        for _ in range(best):
            q.popleft()
            self.stats.dropped[name] += 1
        self.stats.matched[name] += 1
        return q.popleft()

    def _exhausted(self) -> bool:
        return any(self._ended[s.name] and not self._pending[s.name] for s in self.secondaries)

    def read(self) -> FrameSet | None:
        """The next synchronised frame set, or None at the end (see the module docstring)."""
        while True:
            if self.require_all and self._exhausted():
                return None
            p = self.primary.read()
            if p is None:
                return None
            self.stats.primary_frames += 1
            frames = {p.sensor: p}
            complete = True
            for src in self.secondaries:
                m = self._match(src, p.timestamp_ns)
                if m is None:
                    complete = False
                    if self.require_all:
                        break
                    self.stats.missing[src.name] += 1
                else:
                    frames[src.name] = m
            if not complete and self.require_all:
                self.stats.dropped_primary += 1
                continue
            self.stats.emitted += 1
            return FrameSet(p.sensor, frames)

    def close(self) -> None:
        """Close every source."""
        for s in (self.primary, *self.secondaries):
            s.close()

    def __enter__(self) -> Synchronizer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[FrameSet]:
        while True:
            fs = self.read()
            if fs is None:
                return
            yield fs
