"""Command-stream builder: instructions, dependency tokens and DMA transfer lists of one run.

:class:`RunEmitter` appends instructions in program order. Every instruction declares the
buffer word ranges it reads and writes; the emitter finds the earlier instructions of *other*
units it conflicts with (read-after-write, write-after-read, write-after-write on overlapping
ranges) and orders them with dependency tokens (``docs/isa.md`` section 3):

* each unit keeps a vector clock: for every other unit, the latest of its instructions known to
  have completed before the unit's next instruction starts (directly through a wait, or
  transitively through the clock of the instruction waited for);
* a conflict with instruction ``j`` of unit ``P`` that the clock does not already cover adds
  ``signal`` on ``j`` and ``wait`` on the new instruction, for the token queue ``P -> U``.
  Signals on one queue are placed on increasing instructions of ``P`` and consumed by waits on
  increasing instructions of ``U``, so the k-th wait pairs with the k-th signal, every wait
  finds its token in program order, and END finds every queue empty;
* units without a queue between them (LDA and ST both write the input buffer) are ordered
  through CMP: their conflicts are always covered transitively (a region is read by CMP between
  two writes), which the emitter checks.

Data-stream words are described as segments ``(region key, byte offset, bytes)``; the emitter
splits each load or store into one packet per selected stream (equal parts, ``last`` on the
final descriptor of each part) and appends the descriptors to the stream's transfer list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from edge_dnn.compiler.errors import CompileError
from edge_dnn.isa.format import (
    TOKEN_ENDPOINTS,
    End,
    Instruction,
    LoadInput,
    LoadParams,
    LoadWeights,
    StoreTile,
    Token,
    Unit,
)
from edge_dnn.overlay.config import OverlayConfig

__all__ = ["Access", "RunEmitter", "Segment", "StreamDesc"]

Segment = tuple[str, int, int]
"""A contiguous DDR range of a data stream: ``(region key, byte offset in the region, bytes)``."""

_QUEUE: dict[tuple[Unit, Unit], Token] = {ends: tok for tok, ends in TOKEN_ENDPOINTS.items()}
_UNITS = (Unit.LDW, Unit.LDA, Unit.CMP, Unit.ST, Unit.VEC)


@dataclasses.dataclass(frozen=True)
class StreamDesc:
    """One descriptor of a data stream before DDR addresses are known."""

    key: str
    offset: int
    length: int
    last: bool


@dataclasses.dataclass
class Access:
    """A buffer word range ``[lo, hi)`` accessed by instruction ``index`` of ``unit``."""

    lo: int
    hi: int
    unit: Unit
    index: int
    write: bool


class RunEmitter:
    """Builds the instructions and transfer lists of one engine run.

    Args:
        cfg: The overlay.
    """

    def __init__(self, cfg: OverlayConfig) -> None:
        self.cfg = cfg
        self.kinds: list[type[Instruction]] = []
        self.fields: list[dict[str, Any]] = []
        self.units: list[Unit] = []
        self.snap: list[dict[Unit, int]] = []
        self.clock: dict[Unit, dict[Unit, int]] = {u: dict.fromkeys(_UNITS, -1) for u in _UNITS}
        self.last_of: dict[Unit, int] = dict.fromkeys(_UNITS, -1)
        self.acc: dict[str, list[Access]] = {b: [] for b in ("input", "output", "weight", "params")}
        self.streams: dict[str, list[StreamDesc]] = {
            s.name: [] for s in cfg.streams if s.role != "cmd"
        }
        self.stream_bytes: dict[str, int] = dict.fromkeys(self.streams, 0)
        self.max_len = min(
            (d.max_transfer_bytes for d in cfg.dmas if d.mm2s or d.s2mm), default=1 << 23
        )

    # ------------------------------------------------------------------ instructions
    def __len__(self) -> int:
        return len(self.kinds)

    def emit(
        self,
        kind: type[Instruction],
        /,
        *,
        reads: Sequence[tuple[str, int, int]] = (),
        writes: Sequence[tuple[str, int, int]] = (),
        **fields: Any,
    ) -> int:
        """Append an instruction; ``reads`` / ``writes`` are ``(buffer, lo, hi)`` word ranges."""
        unit = _unit_of(kind)
        i = len(self.kinds)
        self.kinds.append(kind)
        self.fields.append(dict(fields, wait=0, signal=0))
        self.units.append(unit)
        deps: dict[Unit, int] = {}
        for buf, lo, hi, w in [(*r, False) for r in reads] + [(*r, True) for r in writes]:
            if hi <= lo:
                continue
            for a in self.acc[buf]:
                if a.unit != unit and (w or a.write) and a.lo < hi and lo < a.hi:
                    deps[a.unit] = max(deps.get(a.unit, -1), a.index)
        self._order(i, unit, deps)
        self.snap.append(dict(self.clock[unit]))
        self.last_of[unit] = i
        for buf, lo, hi, w in [(*r, False) for r in reads] + [(*r, True) for r in writes]:
            if hi <= lo:
                continue
            lst = self.acc[buf]
            if w:
                lst[:] = [a for a in lst if not (lo <= a.lo and a.hi <= hi)]
            else:
                lst[:] = [
                    a
                    for a in lst
                    if not (a.unit == unit and not a.write and lo <= a.lo and a.hi <= hi)
                ]
            lst.append(Access(lo, hi, unit, i, w))
        return i

    def _order(self, i: int, unit: Unit, deps: dict[Unit, int]) -> None:
        clock = self.clock[unit]
        pending = sorted(deps.items(), key=lambda kv: -kv[1])
        for _ in range(2):
            rest = []
            for p, j in pending:
                if clock[p] >= j:
                    continue
                tok = _QUEUE.get((p, unit))
                if tok is None:
                    rest.append((p, j))
                    continue
                self.fields[j]["signal"] |= int(tok)
                self.fields[i]["wait"] |= int(tok)
                for u, v in self.snap[j].items():
                    clock[u] = max(clock[u], v)
                clock[p] = max(clock[p], j)
            pending = rest
        if pending:
            p, j = pending[0]
            raise CompileError(
                f"internal: instruction {i} ({unit.name}) conflicts with instruction {j} "
                f"({p.name}) and no token chain orders them"
            )

    # ------------------------------------------------------------------ data streams
    def _split(self, role: str, n_words: int, word_bytes: int, segs: Sequence[Segment]) -> int:
        """Append the descriptors of one load/store; returns the ``streams`` mask."""
        names = [s.name for s in self.cfg.streams_with_role(role)]
        total = sum(n for _, _, n in segs)
        if total != n_words * word_bytes:
            raise CompileError(
                f"internal: {role} transfer of {total} bytes for {n_words} words of {word_bytes}"
            )
        k = max(m for m in range(1, len(names) + 1) if n_words % m == 0)
        part = total // k
        queue: list[Segment] = list(segs)
        for s in range(k):
            need = part
            out = self.streams[names[s]]
            while need:
                key, off, n = queue[0]
                take = min(n, need, self.max_len)
                need -= take
                out.append(StreamDesc(key, off, take, need == 0))
                if take == n:
                    queue.pop(0)
                else:
                    queue[0] = (key, off + take, n - take)
            self.stream_bytes[names[s]] += part
        return (1 << k) - 1

    def load(
        self,
        kind: type[LoadInput] | type[LoadWeights] | type[LoadParams],
        dst_base: int,
        n_words: int,
        segs: Sequence[Segment],
        tag: int,
    ) -> int:
        """A LOAD_* instruction of ``n_words`` buffer words fed by ``segs``."""
        if kind is LoadInput:
            role, buf, wb = "act_in", "input", self.cfg.buffer("input").width_bits // 8
        else:
            role = "weights"
            buf = "weight" if kind is LoadWeights else "params"
            b = self.cfg.buffer(buf)
            wb = b.banks * b.width_bits // 8
        mask = self._split(role, n_words, wb, segs)
        return self.emit(
            kind,
            writes=[(buf, dst_base, dst_base + n_words)],
            streams=mask,
            dst_base=dst_base,
            n_words=n_words,
            tag=tag,
        )

    def store(
        self,
        src_base: int,
        n_blocks: int,
        block_words: int,
        src_pitch: int,
        segs: Sequence[Segment],
        tag: int,
    ) -> int:
        """A STORE_TILE to the act_out streams; ``segs`` in word order."""
        wb = self.cfg.buffer("output").width_bits // 8
        mask = self._split("act_out", n_blocks * block_words, wb, segs)
        span = (n_blocks - 1) * src_pitch + block_words
        return self.emit(
            StoreTile,
            reads=[("output", src_base, src_base + span)],
            streams=mask,
            src_base=src_base,
            n_blocks=n_blocks,
            block_words=block_words,
            src_pitch=src_pitch,
            tag=tag,
        )

    def loopback(
        self,
        src_base: int,
        n_blocks: int,
        block_words: int,
        src_pitch: int,
        dst_base: int,
        dst_pitch: int,
        tag: int,
    ) -> int:
        """A STORE_TILE copying output-buffer words into the input buffer."""
        span = (n_blocks - 1) * src_pitch + block_words
        dspan = (n_blocks - 1) * dst_pitch + block_words
        return self.emit(
            StoreTile,
            reads=[("output", src_base, src_base + span)],
            writes=[("input", dst_base, dst_base + dspan)],
            streams=0,
            loopback=True,
            src_base=src_base,
            n_blocks=n_blocks,
            block_words=block_words,
            src_pitch=src_pitch,
            dst_base=dst_base,
            dst_pitch=dst_pitch,
            tag=tag,
        )

    # ------------------------------------------------------------------ result
    def instructions(self) -> list[Instruction]:
        """The typed instructions, END appended."""
        out = [k(**f) for k, f in zip(self.kinds, self.fields)]
        out.append(End())
        return out


def _unit_of(kind: type[Instruction]) -> Unit:
    from edge_dnn.isa.format import OPCODES

    return OPCODES[kind.OPCODE].unit
