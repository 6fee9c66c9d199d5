"""Check that every conflicting on-chip buffer access between two units is ordered by tokens.

The emulator executes a command stream in stream order, which always gives the results of a
valid sequential execution. The hardware runs its four units concurrently, so it gives the same
results only if every pair of accesses to the same buffer word by two different units, at
least one of them a write, is ordered by a chain of dependency tokens (``docs/isa.md``
section 3: "the compiler's job; the emulator may check it"). This module checks exactly that
with vector clocks:

* each unit's instructions are numbered 1, 2, ... in execution order; an instruction's clock
  holds, per unit, the number of that unit's instructions that happen before it: its unit's
  previous instruction, the instructions whose signals it consumed (token queues are FIFOs, so
  the k-th wait on a queue consumes the k-th signal) and everything before a SYNC;
* per buffer word it remembers the last writer and, per unit, the last reader; an access whose
  conflicting predecessor does not happen before it is a race (:class:`BufferRaceError`).

The per-word state is kept as address ranges, not word arrays: a frame makes a few hundred
accesses of thousands of contiguous words each, so one interval map per buffer and role (the
writer, each unit's reader) holds a handful of runs, and an access costs a few bisections
instead of a dozen passes over its words. Per buffer and unit the clock of the latest write and
of the latest read are also kept: a unit's numbers only grow, so when the current instruction's
clock has reached them no word can conflict and the per-range check is skipped (the common
case: a correct stream orders whole tiles, not single words).
"""

from __future__ import annotations

import bisect
import collections
import operator
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from edge_dnn.emulator.errors import EmulatorError
from edge_dnn.isa import Instruction, Token, Unit

UNITS = (Unit.LDW, Unit.LDA, Unit.CMP, Unit.ST, Unit.VEC)
_COL = {u: k for k, u in enumerate(UNITS)}
_N = len(UNITS)
_TOKENS = tuple((t, int(t)) for t in Token)
_BITS: dict[int, tuple[int, ...]] = {}
_OPNAMES: dict[type, str] = {}


def _bits(mask: int) -> tuple[int, ...]:
    """The token bits set in a wait / signal mask, in :class:`Token` order (memoised)."""
    hit = _BITS.get(mask)
    if hit is None:
        hit = _BITS[mask] = tuple(bit for _, bit in _TOKENS if mask & bit)
    return hit


class Blocks(NamedTuple):
    """``blocks`` runs of ``width`` consecutive words, run ``j`` starting at word
    ``base + j * pitch`` (``pitch >= width``: the runs do not overlap)."""

    base: int
    blocks: int
    pitch: int
    width: int


Index = slice | npt.NDArray[np.int64] | Blocks
Clock = tuple[int, ...]
"""A vector clock: per unit (in :data:`UNITS` order) a count of its instructions."""

# an access as contiguous runs ``(start, stop)`` of word addresses, in index order
_Runs = list[tuple[int, int]]


class BufferRaceError(EmulatorError):
    """Two units access one buffer word without a token chain ordering them.

    Attributes:
        buffer: ``input``, ``output``, ``weight`` or ``params``.
        word: The word address.
        first: ``(instruction index, opcode name)`` of the earlier access.
        second: ``(instruction index, opcode name)`` of the later access.
    """

    def __init__(
        self,
        buffer: str,
        word: int,
        first: tuple[int, str],
        second: tuple[int, str],
        what: str,
    ) -> None:
        self.buffer = buffer
        self.word = word
        self.first = first
        self.second = second
        super().__init__(
            f"{buffer} buffer word {word}: {second[1]} (instruction {second[0]}) {what} "
            f"{first[1]} (instruction {first[0]}) with no chain of tokens between them: the "
            "concurrent units may run them in either order"
        )


class _RangeMap:
    """A value per word of ``[0, n)`` stored as runs: run ``k`` covers
    ``[starts[k], starts[k + 1])`` (the last one up to ``n``) and holds ``values[k]``.

    A value is ``(unit column, sequence number, instruction index)`` of an access, or ``None``
    for words nobody accessed since the last reset.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.starts: list[int] = [0]
        self.values: list[tuple[int, int, int] | None] = [None]

    def clear(self) -> None:
        self.starts = [0]
        self.values = [None]

    def first_late(self, runs: _Runs, clock: Clock) -> tuple[int, tuple[int, int, int]] | None:
        """The first word (in ``runs`` order) whose access does not happen before ``clock``,
        with that access, or ``None``."""
        starts, values = self.starts, self.values
        for a, b in runs:
            k = bisect.bisect_right(starts, a) - 1
            while k < len(starts) and starts[k] < b:
                v = values[k]
                if v is not None and clock[v[0]] < v[1]:
                    return max(a, starts[k]), v
                k += 1
        return None

    def assign(self, a: int, b: int, value: tuple[int, int, int]) -> None:
        """Set words ``[a, b)`` (``0 <= a < b <= n``) to ``value``."""
        starts, values = self.starts, self.values
        k = bisect.bisect_right(starts, a) - 1
        if starts[k] == a and (starts[k + 1] == b if k + 1 < len(starts) else b == self.n):
            # exactly one existing run (a tile's region accessed again): what the general
            # case below does, without the list surgery
            values[k] = value
            return
        # the run holding word b keeps its value from b on
        j = bisect.bisect_right(starts, b) - 1
        if b < self.n and starts[j] != b:
            j += 1
            starts.insert(j, b)
            values.insert(j, values[j - 1])
        elif b == self.n:
            j = len(starts)
        i = bisect.bisect_right(starts, a) - 1
        if starts[i] != a:
            i += 1
        # runs i .. j-1 lie inside [a, b) after cutting the one that holds word a
        starts[i:j] = [a]
        values[i:j] = [value]


def _runs(idx: Index, n: int) -> _Runs:
    """Contiguous ascending runs of the words ``idx`` of an ``n``-word buffer, in index order.

    A slice is clipped to the buffer as numpy does; an index array holds addresses in
    ``[0, n)`` (the engine checks them before it accesses the buffer).
    """
    if type(idx) is slice:
        lo, hi = idx.start, idx.stop
        if idx.step is None and type(lo) is int and type(hi) is int and 0 <= lo <= hi <= n:
            # the common case (a contiguous range inside the buffer), without slice.indices
            return [(lo, hi)] if hi > lo else []
    if isinstance(idx, Blocks):
        if idx.width <= 0:
            return []
        stop = idx.base + idx.blocks * idx.pitch
        return [(a, a + idx.width) for a in range(idx.base, stop, idx.pitch)]
    if isinstance(idx, slice):
        start, stop, step = idx.indices(n)
        if step == 1:
            return [(start, stop)] if stop > start else []
        idx = np.arange(start, stop, step, dtype=np.int64)
    a = np.asarray(idx, dtype=np.int64).reshape(-1)
    if a.size == 0:
        return []
    # a run ends where the next address is not the successor (the engine's tiles: a few blocks)
    ends = np.flatnonzero(a[1:] - a[:-1] != 1).tolist()
    ends.append(a.size - 1)
    firsts = [0, *(e + 1 for e in ends[:-1])]
    lo = a[firsts].tolist()
    hi = a[ends].tolist()
    return [(s, e + 1) for s, e in zip(lo, hi, strict=True)]


class _Buffer:
    """Last writer and last readers of every word of one buffer, as range maps."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.writer = _RangeMap(n)
        self.readers = [_RangeMap(n) for _ in UNITS]
        # per unit column: sequence number of its latest write / read of this buffer (0: none)
        self.last_write = [0] * _N
        self.last_read = [0] * _N

    def clear(self) -> None:
        self.writer.clear()
        for r in self.readers:
            r.clear()
        self.last_write = [0] * _N
        self.last_read = [0] * _N


class RaceChecker:
    """Vector-clock race detection over the four buffers.

    Args:
        sizes: Words of each buffer, by name.
    """

    def __init__(self, sizes: dict[str, int]) -> None:
        self._buffers = {name: _Buffer(n) for name, n in sizes.items()}
        self._opcodes: dict[int, str] = {}
        self.reset()

    def reset(self) -> None:
        """Forget the clocks (``CONTROL.START``); earlier runs ended with every unit idle."""
        self._seq = [0] * _N
        self._unit_vc: list[Clock] = [(0,) * _N for _ in UNITS]
        self._barrier: Clock = (0,) * _N
        self._tokens: dict[int, collections.deque[Clock]] = {
            bit: collections.deque() for _, bit in _TOKENS
        }
        self._vc: Clock = (0,) * _N
        self._col = -1
        self._index = -1
        self._opcodes.clear()
        # accesses of earlier runs happened before START: forget their writers / readers
        for b in self._buffers.values():
            b.clear()

    def begin(self, index: int, ins: Instruction) -> None:
        """Start instruction ``index`` (after its waits were checked)."""
        unit = ins.unit
        if unit == Unit.DEC:
            if ins.OPCODE.name in ("SYNC", "END"):
                self._barrier = tuple(map(max, *self._unit_vc))
            self._col = -1
            return
        col = _COL[unit]
        vc = list(map(max, self._unit_vc[col], self._barrier))
        for bit in _bits(ins.wait):
            q = self._tokens[bit]
            if q:
                vc = list(map(max, vc, q.popleft()))
        self._seq[col] += 1
        vc[col] = self._seq[col]
        self._vc, self._col, self._index = tuple(vc), col, index
        name = _OPNAMES.get(type(ins))
        if name is None:
            name = _OPNAMES[type(ins)] = ins.OPCODE.name
        self._opcodes[index] = name

    def end(self, ins: Instruction) -> None:
        """Complete the instruction begun last: publish its clock to the queues it signals."""
        if self._col < 0:
            return
        self._unit_vc[self._col] = self._vc
        for bit in _bits(ins.signal):
            self._tokens[bit].append(self._vc)

    def _op(self, index: int) -> tuple[int, str]:
        return index, self._opcodes.get(index, "?")

    def _race(self, buffer: str, hit: tuple[int, tuple[int, int, int]], what: str) -> None:
        word, (_, _, index) = hit
        raise BufferRaceError(buffer, word, self._op(index), self._op(self._index), what)

    def _written_after(self, b: _Buffer) -> bool:
        """Whether some unit wrote ``b`` after what the current instruction's clock covers."""
        return any(map(operator.gt, b.last_write, self._vc))

    def read(self, buffer: str, idx: Index) -> None:
        """The current instruction reads words ``idx`` of ``buffer``."""
        b = self._buffers[buffer]
        runs = _runs(idx, b.n)
        if not runs:
            return
        if self._written_after(b):
            hit = b.writer.first_late(runs, self._vc)
            if hit is not None:
                self._race(buffer, hit, "reads a word written by")
        col = self._col
        seq = self._vc[col]
        value = (col, seq, self._index)
        for lo, hi in runs:
            b.readers[col].assign(lo, hi, value)
        b.last_read[col] = seq

    def write(self, buffer: str, idx: Index) -> None:
        """The current instruction writes words ``idx`` of ``buffer``."""
        b = self._buffers[buffer]
        runs = _runs(idx, b.n)
        if not runs:
            return
        vc, col = self._vc, self._col
        if self._written_after(b):
            hit = b.writer.first_late(runs, vc)
            if hit is not None:
                self._race(buffer, hit, "overwrites a word written by")
        if any(map(operator.gt, b.last_read, vc)):
            for other in range(_N):
                if other != col and b.last_read[other] > vc[other]:
                    hit = b.readers[other].first_late(runs, vc)
                    if hit is not None:
                        self._race(buffer, hit, "overwrites a word still read by")
        seq = vc[col]
        value = (col, seq, self._index)
        for lo, hi in runs:
            b.writer.assign(lo, hi, value)
        b.last_write[col] = seq
