"""Cycle model of the engine, per instruction and for the concurrent units.

Two parts, both usable without the emulator (the performance model drives them from the
compiler's instruction lists):

* :class:`TimingModel`: fabric cycles of one instruction from the overlay configuration
  (``docs/engine.md``): PE passes and reduction length for COMPUTE_TILE (with input-bank
  conflicts of strided passes and the requantizer drain), vector-unit lanes for POOL_TILE /
  ELTWISE_TILE / NORM_TILE, stream widths (capped by the HP-port share) for loads and stores,
  the buffer ports for loop-back copies, the command-stream width for the decoder.
* :class:`Timeline`: the units' concurrent schedule. The decoder fetches instructions in order
  and dispatches them to the unit queues; each unit runs its queue in order; an instruction
  starts when its unit is free, it has been dispatched and every token it waits for has been
  signalled (by the completion of the producing instruction). ``SYNC`` / ``END`` wait for all
  units. This is the overlap of loads, compute and stores the hardware achieves with the
  compiler's tokens.

Model assumptions (not hardware facts): unit queues are deep enough never to stall the decoder;
the token capacity (8) never blocks a signal; DDR bandwidth shared by concurrent streams is not
modelled here (each stream runs at its own width / HP-port share; the performance model caps
the total with ``cfg.derived.ddr_bytes_per_cycle``); every instruction has a fixed issue
overhead of :data:`ISSUE_CYCLES`.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import math
from collections.abc import Sequence

from edge_dnn.isa import (
    ComputeTile,
    ConfigConv,
    ConfigEltwise,
    ConfigNorm,
    ConfigPool,
    EltwiseOp,
    EltwiseTile,
    End,
    Instruction,
    LoadInput,
    LoadParams,
    LoadWeights,
    NormTile,
    PoolKind,
    PoolTile,
    Precision,
    StoreTile,
    Sync,
    Token,
    Unit,
)
from edge_dnn.isa.format import INSTR_BYTES, OPCODES
from edge_dnn.isa.layout import (
    block_bytes,
    block_channels,
    conv_groups,
    group_channels,
    sub_steps,
)
from edge_dnn.overlay.config import OverlayConfig

ISSUE_CYCLES = 2
"""Fixed cost of starting any instruction in its unit (register setup, address generators)."""

_TOKENS = tuple(Token)

RES_READ = 1
"""Every read slot of the input-buffer banks (VEC reads in the slots a sharing CMP pass leaves)."""
RES_MULT = 2
"""The vector unit's multipliers (average-pooling divisor, LRN factor, eltwise rescale)."""
RES_LANES = 4
"""The vector unit's lane adders / comparators (VEC windows, CMP's ELTWISE_TILE)."""
RES_PORTS = 8
"""Every buffer port slot: held by each CMP tile, and by a VEC tile in burst mode."""


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def selected(mask: int) -> list[int]:
    """Indices of the set bits of a stream mask, ascending."""
    return [k for k in range(mask.bit_length()) if mask >> k & 1]


@dataclasses.dataclass(frozen=True)
class TimingModel:
    """Cycles of single instructions on one overlay (fabric clock cycles).

    Args:
        cfg: The overlay configuration.
    """

    cfg: OverlayConfig

    # ------------------------------------------------------------------ streams
    def stream_bytes_per_cycle(self, stream: str) -> float:
        """Bytes one stream moves per fabric cycle: its width, capped by its HP-port share."""
        cfg = self.cfg
        by_port = cfg.derived.stream_gbps[stream] * 1000.0 / cfg.clocks.fabric_mhz
        return min(float(cfg.stream(stream).bytes_per_beat), by_port)

    def transfer_cycles(self, role: str, mask: int, total_bytes: int) -> int:
        """Cycles of ``total_bytes`` split evenly over the selected streams of ``role``.

        The parts move concurrently; the slowest stream sets the time.
        """
        streams = self.cfg.streams_with_role(role)
        ks = [k for k in selected(mask) if k < len(streams)] or [0]
        part = total_bytes / len(ks)
        return max(math.ceil(part / self.stream_bytes_per_cycle(streams[k].name)) for k in ks)

    def word_bytes(self, buffer: str) -> int:
        """Bytes of one logical word of ``buffer`` (all banks for weight / params)."""
        b = self.cfg.buffer(buffer)
        if buffer in ("weight", "params"):
            return b.banks * b.width_bits // 8
        return block_bytes(self.cfg)

    # ------------------------------------------------------------------ units
    def decode_cycles(self) -> int:
        """Cycles the decoder needs to fetch one instruction from the command stream."""
        cmd = self.cfg.streams_with_role("cmd")
        width = cmd[0].bytes_per_beat if cmd else 4
        return _ceil(INSTR_BYTES, width)

    def load_cycles(self, instr: LoadInput | LoadWeights | LoadParams) -> int:
        """LOAD_*: the words' bytes over the selected streams."""
        if isinstance(instr, LoadInput):
            role, buf = "act_in", "input"
        else:
            role, buf = "weights", "weight" if isinstance(instr, LoadWeights) else "params"
        nbytes = instr.n_words * self.word_bytes(buf)
        return ISSUE_CYCLES + self.transfer_cycles(role, instr.streams, nbytes)

    def store_cycles(self, instr: StoreTile) -> int:
        """STORE_TILE: stream transfer, or a buffer-to-buffer copy over the banks (loop-back)."""
        words = instr.n_blocks * instr.block_words
        if instr.loopback:
            lanes = min(self.cfg.buffer("output").banks, self.cfg.buffer("input").banks)
            return ISSUE_CYCLES + _ceil(words, lanes)
        nbytes = words * block_bytes(self.cfg)
        return ISSUE_CYCLES + self.transfer_cycles("act_out", instr.streams, nbytes)

    def bank_conflict_factor(self, stride_w: int, precision: Precision) -> int:
        """Slow-down of a pass whose pixel lanes read input words ``stride_w`` apart.

        Lane ``l`` reads word ``w0 + l * stride``: bank ``(w0 + l * stride) mod banks``, so
        ``gcd(stride, banks)`` lanes share a bank; each bank serves one read per word period
        of ``sub_steps`` cycles (a word feeds that many cycles).
        """
        return max(1, _ceil(self.lanes_per_bank(stride_w), max(1, sub_steps(self.cfg, precision))))

    def lanes_per_bank(self, stride_w: int) -> int:
        """Pixel lanes of a pass that read the same input bank (lane ``l`` reads word
        ``w0 + l * stride_w``: ``gcd(stride_w, banks)`` lanes share a bank)."""
        banks = self.cfg.buffer("input").banks
        return _ceil(self.cfg.pe.pixels * math.gcd(stride_w, banks), banks)

    def compute_passes(self, conv: ConfigConv, tile: ComputeTile) -> int:
        """PE passes of a COMPUTE_TILE: groups x pixel groups of the band."""
        groups = conv_groups(self.cfg, conv.precision, tile.out_cb)
        return groups * _ceil(tile.n_oh * conv.out_w, self.cfg.pe.pixels)

    def compute_cycles(self, conv: ConfigConv, tile: ComputeTile) -> int:
        """COMPUTE_TILE: ``passes x max(reduction, drain) + drain`` (double-buffered accumulators).

        Reduction per pass: ``in_cb x KH x KW x SUB`` cycles dense (times the bank-conflict
        factor), ``KH x KW x G / CBC`` depthwise (input-bound); the requantizer drains a pass
        of ``G x P`` accumulators in ``G x P / requant_lanes`` cycles.
        """
        cfg = self.cfg
        prec = conv.precision
        g = group_channels(cfg, prec)
        if conv.depthwise:
            red = conv.kernel_h * conv.kernel_w * _ceil(g, block_channels(cfg, prec))
        else:
            red = tile.in_cb * conv.kernel_h * conv.kernel_w * sub_steps(cfg, prec)
            red *= self.bank_conflict_factor(conv.stride_w, prec)
        drain = _ceil(g * cfg.pe.pixels, cfg.pe.requant_lanes) if tile.acc_last else 0
        return ISSUE_CYCLES + self.compute_passes(conv, tile) * max(red, drain) + drain

    def compute_macs(self, conv: ConfigConv, tile: ComputeTile) -> int:
        """Multiply-accumulates of a COMPUTE_TILE (every computed channel, pixel and tap)."""
        cbc = block_channels(self.cfg, conv.precision)
        taps = conv.kernel_h * conv.kernel_w
        red = taps if conv.depthwise else tile.in_cb * cbc * taps
        return tile.out_cb * cbc * tile.n_oh * conv.out_w * red

    def _vec_port_cycles(self, reads: int, writes: int, burst: bool) -> int:
        """Cycles the window unit (VEC) needs for its input-buffer reads and output-buffer
        writes (``docs/engine.md`` 8.2): next to a PE-array pass it has every other read and
        write slot of each bank (half the banks' words per cycle); in burst mode, which it
        takes when the PE array is idle, every slot."""
        rb, wb = self.cfg.buffer("input").banks, self.cfg.buffer("output").banks
        k = 1 if burst else 2
        return max(_ceil(k * reads, rb), _ceil(k * writes, wb))

    def pool_line_buffered(self, pool: ConfigPool) -> bool:
        """Whether the line buffer holds ``kernel_h`` partial rows of one channel block
        (partial sums of average pooling take two words per word of input)."""
        width = 2 if pool.kind == PoolKind.AVE else 1
        return pool.kernel_h * pool.out_w * width <= self.cfg.derived.line_buffer_words

    def pool_cycles(self, pool: ConfigPool, tile: PoolTile, burst: bool = False) -> int:
        """POOL_TILE on the window unit: separable windows through the line buffer.

        Line-buffered (:meth:`pool_line_buffered`): each resident input row of a channel block
        is read once and reduced horizontally (``kernel_w - 1`` lane operations per output
        column), the partial rows go to the line buffer and each output reduces ``kernel_h``
        of them (``kernel_h - 1`` operations). Otherwise every window tap is read from the
        input buffer (``kernel_h x kernel_w - 1`` operations per output). The tile takes the
        largest of: lane operations over ``vector_lanes`` (max) or half of it (average: the
        adders share the lanes with the divisor product), and the buffer-port cycles of its
        input and output words (:meth:`_vec_port_cycles`, shared or ``burst`` mode).
        """
        cbc = block_channels(self.cfg, pool.precision)
        kh, kw, ow = pool.kernel_h, pool.kernel_w, pool.out_w
        outputs = tile.n_cb * tile.n_oh * ow
        if self.pool_line_buffered(pool):
            rows = min(tile.in_rows, (tile.n_oh - 1) * pool.stride_h + kh)
            ops = tile.n_cb * cbc * (rows * ow * (kw - 1) + tile.n_oh * ow * (kh - 1))
            reads = tile.n_cb * rows * pool.in_w
        else:
            ops = outputs * cbc * (kh * kw - 1)
            reads = outputs * kh * kw
        lanes = self.cfg.pe.vector_lanes
        if pool.kind == PoolKind.AVE:
            lanes = max(1, lanes // 2)
        body = max(
            _ceil(ops, lanes),
            _ceil(outputs * cbc, lanes),
            self._vec_port_cycles(reads, outputs, burst),
        )
        return ISSUE_CYCLES + body

    def eltwise_cycles(self, elt: ConfigEltwise, tile: EltwiseTile) -> int:
        """ELTWISE_TILE: elements over ``vector_lanes`` (max) or half of it (sum) per cycle."""
        n = tile.n_words * block_channels(self.cfg, elt.precision)
        lanes = self.cfg.pe.vector_lanes
        if elt.op == EltwiseOp.SUM:
            lanes = max(1, lanes // 2)
        return ISSUE_CYCLES + _ceil(n, lanes)

    def norm_cycles(self, norm: ConfigNorm, tile: NormTile, burst: bool = False) -> int:
        """NORM_TILE: two vector-lane reads per element over ``vector_lanes`` per cycle.

        The channel window slides along the channels of a pixel: each element enters the running
        sum of squares once and leaves it once, whatever ``local_size``; the centre value, the
        table lookup, the multiply and the round-shift are pipelined behind it.
        """
        words = tile.n_cb * tile.n_oh * norm.in_w
        n = words * block_channels(self.cfg, norm.precision)
        body = max(
            _ceil(2 * n, self.cfg.pe.vector_lanes), self._vec_port_cycles(words, words, burst)
        )
        return ISSUE_CYCLES + body

    def burst_cycles(
        self, instr: Instruction, pool: ConfigPool | None = None, norm: ConfigNorm | None = None
    ) -> int | None:
        """Cycles of a window-unit tile in burst mode (every buffer port slot), None for any
        other instruction."""
        if isinstance(instr, PoolTile) and pool is not None:
            return self.pool_cycles(pool, instr, burst=True)
        if isinstance(instr, NormTile) and norm is not None:
            return self.norm_cycles(norm, instr, burst=True)
        return None

    def cmp_full_read(self, conv: ConfigConv) -> bool:
        """Whether a COMPUTE_TILE pass may use every read slot of an input bank (and so
        excludes the window unit): depthwise passes, and dense passes whose lanes read their
        bank more often than every other cycle (``SUB = 1``, or strides that put several lanes
        on one bank)."""
        if conv.depthwise:
            return True
        return 2 * self.lanes_per_bank(conv.stride_w) > sub_steps(self.cfg, conv.precision)

    def shared_resources(
        self,
        instr: Instruction,
        conv: ConfigConv | None = None,
        pool: ConfigPool | None = None,
    ) -> int:
        """Datapath resources of CMP and VEC that ``instr`` cannot share with the other unit
        (bits :data:`RES_READ`, :data:`RES_MULT`, :data:`RES_LANES`); two instructions of CMP
        and VEC whose masks intersect never run at the same time (``docs/engine.md`` 8.2)."""
        if isinstance(instr, PoolTile):
            mult = RES_MULT if pool is not None and pool.kind == PoolKind.AVE else 0
            return RES_READ | RES_LANES | mult
        if isinstance(instr, NormTile):
            return RES_READ | RES_LANES | RES_MULT
        if isinstance(instr, EltwiseTile):
            return RES_PORTS | RES_LANES | RES_MULT
        if isinstance(instr, ComputeTile) and conv is not None:
            read = RES_READ if self.cmp_full_read(conv) else 0
            return RES_PORTS | read | (RES_MULT | RES_LANES if instr.fuse_eltwise else 0)
        return 0

    def instruction_cycles(
        self,
        instr: Instruction,
        conv: ConfigConv | None = None,
        pool: ConfigPool | None = None,
        elt: ConfigEltwise | None = None,
        norm: ConfigNorm | None = None,
    ) -> int:
        """Busy cycles of ``instr`` in its unit, given the configuration registers in force.

        Decoder instructions (NOP, SYNC, END) and CONFIG_* cost :data:`ISSUE_CYCLES`; a tile
        instruction without its configuration costs the same (the emulator faults on it).
        """
        if isinstance(instr, LoadInput | LoadWeights | LoadParams):
            return self.load_cycles(instr)
        if isinstance(instr, StoreTile):
            return self.store_cycles(instr)
        if isinstance(instr, ComputeTile) and conv is not None:
            return self.compute_cycles(conv, instr)
        if isinstance(instr, PoolTile) and pool is not None:
            return self.pool_cycles(pool, instr)
        if isinstance(instr, EltwiseTile) and elt is not None:
            return self.eltwise_cycles(elt, instr)
        if isinstance(instr, NormTile) and norm is not None:
            return self.norm_cycles(norm, instr)
        return ISSUE_CYCLES

    def seconds(self, cycles: int) -> float:
        """Fabric cycles as seconds."""
        return cycles / (self.cfg.clocks.fabric_mhz * 1e6)


@dataclasses.dataclass
class ConfigRegisters:
    """The CONFIG_* registers in force while a decoded stream is walked (what the engine
    latches), so that each tile instruction is timed with its layer's configuration."""

    conv: ConfigConv | None = None
    pool: ConfigPool | None = None
    elt: ConfigEltwise | None = None
    norm: ConfigNorm | None = None

    def cycles(self, tm: TimingModel, instr: Instruction) -> int:
        """Latch ``instr`` if it is a CONFIG_*, then its busy cycles (``instruction_cycles``)."""
        if isinstance(instr, ConfigConv):
            self.conv = instr
        elif isinstance(instr, ConfigPool):
            self.pool = instr
        elif isinstance(instr, ConfigEltwise):
            self.elt = instr
        elif isinstance(instr, ConfigNorm):
            self.norm = instr
        return tm.instruction_cycles(instr, self.conv, self.pool, self.elt, norm=self.norm)

    def burst_cycles(self, tm: TimingModel, instr: Instruction) -> int | None:
        """:meth:`TimingModel.burst_cycles` of ``instr`` under the registers in force."""
        return tm.burst_cycles(instr, self.pool, self.norm)

    def resources(self, tm: TimingModel, instr: Instruction) -> int:
        """:meth:`TimingModel.shared_resources` of ``instr`` under the registers in force
        (call after :meth:`cycles`, which latches a CONFIG_*)."""
        return tm.shared_resources(instr, self.conv, self.pool)

    def issue(
        self, tm: TimingModel, timeline: Timeline, instr: Instruction, cycles: int
    ) -> tuple[int, int]:
        """Place ``instr`` (``cycles`` busy cycles, from :meth:`cycles` or adjusted by the
        caller) on ``timeline`` with its unit, tokens, shared resources and burst length under
        the registers in force; returns its (start, end) cycle."""
        return timeline.issue(
            OPCODES[instr.OPCODE].unit,
            cycles,
            instr.wait,
            instr.signal,
            barrier=isinstance(instr, Sync | End),
            resources=self.resources(tm, instr),
            burst_cycles=self.burst_cycles(tm, instr),
        )


class Timeline:
    """Concurrent schedule of the decoder and the five units (fabric cycles from START).

    CMP and VEC share datapath resources (:meth:`TimingModel.shared_resources`): an
    instruction of one of them never overlaps an instruction of the other whose resource mask
    intersects its own; it starts after it (or fits entirely before it).

    Args:
        decode_cycles: Cycles the decoder spends per instruction (see
            :meth:`TimingModel.decode_cycles`).
    """

    UNITS: Sequence[Unit] = (Unit.LDW, Unit.LDA, Unit.CMP, Unit.ST, Unit.VEC)

    def __init__(self, decode_cycles: int = 1) -> None:
        self.decode_cycles = decode_cycles
        self.dispatch = 0
        self.free: dict[Unit, int] = dict.fromkeys(self.UNITS, 0)
        self.busy: dict[Unit, int] = dict.fromkeys(self.UNITS, 0)
        self._tokens: dict[Token, collections.deque[int]] = {
            t: collections.deque() for t in _TOKENS
        }
        self.end = 0
        # (start, end, resources) of CMP / VEC instructions with a non-empty resource mask,
        # in start order (each unit is in order).
        self._held: dict[Unit, list[tuple[int, int, int]]] = {Unit.CMP: [], Unit.VEC: []}

    def _clear_of(self, unit: Unit, start: int, cycles: int, resources: int) -> int:
        """Earliest start >= ``start`` at which ``cycles`` overlap no conflicting interval of
        the other unit of the CMP / VEC pair."""
        other = self._held[Unit.VEC if unit == Unit.CMP else Unit.CMP]
        k = bisect.bisect_left(other, (start,)) - 1
        k = max(k, 0)
        while k < len(other):
            s, e, r = other[k]
            k += 1
            if s >= start + cycles:
                break  # sorted by start: nothing later overlaps
            if e > start and r & resources:
                start = e
        return start

    def issue(
        self,
        unit: Unit,
        cycles: int,
        wait: int = 0,
        signal: int = 0,
        barrier: bool = False,
        resources: int = 0,
        burst_cycles: int | None = None,
    ) -> tuple[int, int]:
        """Schedule one instruction; returns its (start, end) cycle.

        Args:
            unit: The executing unit (``DEC`` for NOP / SYNC / END).
            cycles: Its busy cycles (:meth:`TimingModel.instruction_cycles`).
            wait: Token queues it waits on.
            signal: Token queues it signals on completion.
            barrier: SYNC / END: the decoder waits until every unit is idle.
            resources: CMP / VEC datapath resources it holds (:meth:`ConfigRegisters.resources`).
            burst_cycles: For a VEC tile, its cycles in burst mode: taken (holding
                :data:`RES_PORTS`) when no PE-array tile is in the way at the start it would
                have in shared mode; the returned interval then has this length.

        Tokens missing from the model's queues (a stream the emulator would reject) are treated
        as available at dispatch time.
        """
        self.dispatch += self.decode_cycles
        if unit == Unit.DEC:
            start = max(self.dispatch, *self.free.values()) if barrier else self.dispatch
            end = start + cycles
            self.dispatch = end
            self.end = max(self.end, end)
            return start, end
        start = max(self.dispatch, self.free[unit])
        for t in _TOKENS:
            if wait & int(t) and self._tokens[t]:
                start = max(start, self._tokens[t].popleft())
        if resources and unit in self._held:
            first = start
            start = self._clear_of(unit, first, cycles, resources)
            if burst_cycles is not None and unit == Unit.VEC:
                burst_res = resources | RES_PORTS
                if self._clear_of(unit, first, burst_cycles, burst_res) == start:
                    cycles, resources = burst_cycles, burst_res
            bisect.insort(self._held[unit], (start, start + cycles, resources))
        end = start + cycles
        self.free[unit] = end
        self.busy[unit] += cycles
        for t in _TOKENS:
            if signal & int(t):
                self._tokens[t].append(end)
        self.end = max(self.end, end)
        return start, end

    @property
    def total(self) -> int:
        """Cycle at which the last scheduled instruction completes."""
        return self.end


__all__ = ["ISSUE_CYCLES", "Timeline", "TimingModel", "selected"]
