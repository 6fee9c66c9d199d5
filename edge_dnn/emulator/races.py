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
"""

from __future__ import annotations

import collections

import numpy as np
import numpy.typing as npt

from edge_dnn.emulator.errors import EmulatorError
from edge_dnn.isa import Instruction, Token, Unit

UNITS = (Unit.LDW, Unit.LDA, Unit.CMP, Unit.ST)
_COL = {u: k for k, u in enumerate(UNITS)}

Index = slice | npt.NDArray[np.int64]


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


class _Words:
    """Last writer and last readers of every word of one buffer."""

    def __init__(self, n: int) -> None:
        self.w_unit = np.full(n, -1, dtype=np.int8)
        self.w_seq = np.zeros(n, dtype=np.int64)
        self.w_idx = np.full(n, -1, dtype=np.int64)
        self.r_seq = np.zeros((len(UNITS), n), dtype=np.int64)
        self.r_idx = np.full((len(UNITS), n), -1, dtype=np.int64)


class RaceChecker:
    """Vector-clock race detection over the four buffers.

    Args:
        sizes: Words of each buffer, by name.
    """

    def __init__(self, sizes: dict[str, int]) -> None:
        self._words = {name: _Words(n) for name, n in sizes.items()}
        self._opcodes: dict[int, str] = {}
        self.reset()

    def reset(self) -> None:
        """Forget the clocks (``CONTROL.START``); earlier runs ended with every unit idle."""
        self._seq = np.zeros(len(UNITS), dtype=np.int64)
        self._unit_vc = np.zeros((len(UNITS), len(UNITS)), dtype=np.int64)
        self._barrier = np.zeros(len(UNITS), dtype=np.int64)
        self._tokens: dict[Token, collections.deque[npt.NDArray[np.int64]]] = {
            t: collections.deque() for t in Token
        }
        self._vc = np.zeros(len(UNITS), dtype=np.int64)
        self._col = -1
        self._index = -1
        self._opcodes.clear()
        # accesses of earlier runs happened before START: clear their writers / readers
        for w in self._words.values():
            w.w_unit[:] = -1
            w.r_seq[:] = 0

    def begin(self, index: int, ins: Instruction) -> None:
        """Start instruction ``index`` (after its waits were checked)."""
        unit = ins.unit
        if unit == Unit.DEC:
            if ins.OPCODE.name in ("SYNC", "END"):
                self._barrier = self._unit_vc.max(axis=0)
            self._col = -1
            return
        col = _COL[unit]
        vc = np.maximum(self._unit_vc[col], self._barrier)
        for t in Token:
            if ins.wait & int(t) and self._tokens[t]:
                vc = np.maximum(vc, self._tokens[t].popleft())
        self._seq[col] += 1
        vc[col] = self._seq[col]
        self._vc, self._col, self._index = vc, col, index
        self._opcodes[index] = ins.OPCODE.name

    def end(self, ins: Instruction) -> None:
        """Complete the instruction begun last: publish its clock to the queues it signals."""
        if self._col < 0:
            return
        self._unit_vc[self._col] = self._vc
        for t in Token:
            if ins.signal & int(t):
                self._tokens[t].append(self._vc.copy())

    def _op(self, index: int) -> tuple[int, str]:
        return index, self._opcodes.get(index, "?")

    def read(self, buffer: str, idx: Index) -> None:
        """The current instruction reads words ``idx`` of ``buffer``."""
        w = self._words[buffer]
        wu = w.w_unit[idx]
        known = wu >= 0
        if known.any():
            ok = ~known | (self._vc[np.maximum(wu, 0)] >= w.w_seq[idx])
            if not ok.all():
                k = int(np.flatnonzero(~ok)[0])
                word = int(np.arange(len(w.w_unit))[idx][k])
                raise BufferRaceError(
                    buffer,
                    word,
                    self._op(int(w.w_idx[word])),
                    self._op(self._index),
                    "reads a word written by",
                )
        w.r_seq[self._col, idx] = self._vc[self._col]
        w.r_idx[self._col, idx] = self._index

    def write(self, buffer: str, idx: Index) -> None:
        """The current instruction writes words ``idx`` of ``buffer``."""
        w = self._words[buffer]
        wu = w.w_unit[idx]
        known = wu >= 0
        if known.any():
            ok = ~known | (self._vc[np.maximum(wu, 0)] >= w.w_seq[idx])
            if not ok.all():
                k = int(np.flatnonzero(~ok)[0])
                word = int(np.arange(len(w.w_unit))[idx][k])
                raise BufferRaceError(
                    buffer,
                    word,
                    self._op(int(w.w_idx[word])),
                    self._op(self._index),
                    "overwrites a word written by",
                )
        for col in range(len(UNITS)):
            if col == self._col:
                continue
            bad = w.r_seq[col, idx] > self._vc[col]
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                word = int(np.arange(len(w.w_unit))[idx][k])
                raise BufferRaceError(
                    buffer,
                    word,
                    self._op(int(w.r_idx[col, word])),
                    self._op(self._index),
                    "overwrites a word still read by",
                )
        w.w_unit[idx] = self._col
        w.w_seq[idx] = self._vc[self._col]
        w.w_idx[idx] = self._index
