"""The bit-exact engine emulator: decodes a command stream and executes it like the hardware.

:class:`Engine` holds the four on-chip buffers of an overlay (sized from its configuration),
the units of ``docs/engine.md`` (decoder, LDW, LDA, CMP, ST) with their token queues, the
configuration registers, the kept K-split accumulators and the AXI-Stream ports. It executes
the instructions in stream order, which ``docs/isa.md`` section 3 makes a valid sequential
execution of the concurrent units, with the integer arithmetic of ``docs/arithmetic.md``
(:mod:`edge_dnn.quant.arith` primitives). It uses nothing of the compiler: instructions come
from :mod:`edge_dnn.isa`'s decoder, weight / params / activation words are interpreted per
``docs/engine.md`` section 6.

Port-level API (what an emulated AXI DMA drives)::

    eng = Engine(cfg)
    eng.start(cmd_words)                    # CONTROL.START with the command stream
    eng.port("weights0").push(pkt)          # MM2S: bytes, TLAST on the last byte (last=True)
    status = eng.advance()                  # run until DONE, or until a load lacks data
    while status is EngineStatus.STALLED:   # eng.stalled_on names the stream it waits for
        eng.port(eng.stalled_on).push(next_packet(eng.stalled_on))
        status = eng.advance()
    eng.output_port("act_out0").pop()       # S2MM: one packet per STORE part, in order

:meth:`Engine.run` does all of it for packet lists given up front. Every run-time rule of the
contract is checked and raises :class:`~edge_dnn.emulator.errors.EngineFault` with the code the
hardware reports (``STATUS.ERROR_CODE``), the instruction index, opcode, field and tag.

Compute is vectorised and exact: a dense COMPUTE_TILE is an im2col and one GEMM per block of
output rows, in float32 when every partial sum is provably an integer below 2**24 (per chunk of
the reduction, from the tile's largest input and the weights' absolute sums), else float64
(below 2**53) or int64, requantized in float64 / int32 under a bound that makes it exact (else
on int64 with :func:`edge_dnn.quant.arith.round_shift`); a depthwise tile is one multiply-add
per kernel tap, pooling one max / add per tap, LRN a cumulative sum of squares over the
channels of every pixel. Decoded instructions, weight matrices and params are cached, keyed by
the exact words they were decoded from (a changed word decodes afresh); so are the timing
model's costs of an instruction, keyed by the identity of the (immutable) decoded objects.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import functools
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from edge_dnn.emulator.errors import EngineFault
from edge_dnn.emulator.ports import Bytes, InPort, OutPort
from edge_dnn.emulator.races import Blocks, BufferRaceError, Index, RaceChecker
from edge_dnn.emulator.timing import Timeline, TimingModel, selected
from edge_dnn.isa import (
    ComputeTile,
    ConfigConv,
    ConfigEltwise,
    ConfigNorm,
    ConfigPool,
    EltwiseOp,
    EltwiseTile,
    End,
    ErrorCode,
    Instruction,
    IsaError,
    LoadInput,
    LoadParams,
    LoadWeights,
    Nop,
    NormTile,
    PoolKind,
    PoolTile,
    Precision,
    StoreTile,
    Sync,
    Token,
    Unit,
)
from edge_dnn.isa.format import (
    HEADER_WORDS,
    INSTR_WORDS,
    NORM_LUT_ENTRIES,
    TOKEN_CAPACITY,
    as_words,
    config_hash_words,
    decode,
    decode_header,
    instruction_word_index,
)
from edge_dnn.isa.layout import (
    block_bytes,
    block_channels,
    check_overlay,
    conv_weight_words,
    group_channels,
    sub_steps,
)
from edge_dnn.overlay.config import OverlayConfig
from edge_dnn.quant import arith

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

ACC_LIMIT = 1 << 47
"""``|acc|`` must stay below this (48-bit accumulators, ``docs/arithmetic.md`` 3.4)."""
_EXACT_F64 = float(1 << 53)
_EXACT_F32 = float(1 << 24)
# elements of one im2col block: the block stays in the last-level cache.
_COLS_BUDGET = 1 << 19
# float32 GEMM chunks along K (granularity _KBLOCK rows) worth it against one float64 GEMM
_F32_MAX_CHUNKS = 4
# im2col runs (channels per pixel) shorter than this are gathered before the conversion
_SHORT_RUN = 16
_KBLOCK = 32
# elements of one slice of the requantization epilogue (its float64 and int32 temporaries,
# 768 KiB, stay in L2)
_EPILOGUE_ELEMS = 1 << 16
# decoded dense weight matrices kept per engine (bytes), decoded instructions (entries)
_WCACHE_BYTES = 256 << 20
_DECODE_CACHE = 1 << 16
_TOKENS = tuple((t, int(t)) for t in Token)
_TOKEN_LISTS: dict[int, tuple[Token, ...]] = {}


def _token_list(mask: int) -> tuple[Token, ...]:
    """The token queues of a wait / signal mask, in :class:`Token` order (memoised)."""
    hit = _TOKEN_LISTS.get(mask)
    if hit is None:
        hit = _TOKEN_LISTS[mask] = tuple(t for t, bit in _TOKENS if mask & bit)
    return hit


class EngineStatus(enum.Enum):
    """The engine's state (the ``STATUS`` register, plus STALLED for the port-level API)."""

    IDLE = "idle"
    BUSY = "busy"
    STALLED = "stalled"
    """Waiting for MM2S data on :attr:`Engine.stalled_on` (push it, then :meth:`advance`)."""
    DONE = "done"
    ERROR = "error"


@dataclasses.dataclass
class EngineCounters:
    """Counters of one run (START .. DONE), the emulated ``CNT_*`` registers and more.

    Attributes:
        instructions: Completed instructions (``CNT_COMMANDS``).
        by_opcode: Completed instructions per opcode name.
        macs: Multiply-accumulates of the COMPUTE_TILEs (every computed channel, pixel, tap).
        stream_bytes: Bytes moved per stream (in for MM2S streams, out for act_out; cmd: the
            command stream's bytes).
        cycles: Fabric cycles from START to DONE of the concurrent schedule (:class:`Timeline`,
            ``CNT_CYCLES``).
        serial_cycles: Sum of every instruction's cycles (no overlap).
        unit_busy: Busy cycles per unit (``LDW``, ``LDA``, ``CMP``, ``ST``).
        tag_cycles: Busy cycles per instruction tag (the compiler's layer index).
    """

    instructions: int = 0
    by_opcode: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    macs: int = 0
    stream_bytes: dict[str, int] = dataclasses.field(default_factory=dict)
    cycles: int = 0
    serial_cycles: int = 0
    unit_busy: dict[str, int] = dataclasses.field(default_factory=dict)
    tag_cycles: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)


@dataclasses.dataclass(frozen=True)
class _Kept:
    """K-split accumulators kept in the array between COMPUTE_TILEs."""

    index: int
    oh0: int
    n_oh: int
    out_cb: int
    acc: I64


class _DenseWeights:
    """A dense tile's decoded weights and what the exactness argument of a GEMM needs.

    Attributes:
        raw: Copy of the weight words it was decoded from (``uint8``).
        mat: float32 ``[K, n_out]`` (int8 / int16 values, exact in float32), ``K`` in
            window order: tap row, tap column, input channel (of ``channels``).
        channels: The input channels (``block * CBC + channel in block``) with a nonzero
            weight, or ``None`` for all: a channel whose weights are all zero adds exactly
            nothing, so the GEMM skips it (the zero-padded channels of a 3-channel image).
        bounds: Row boundaries ``0, _KBLOCK, 2 _KBLOCK, ..., K`` of the K blocks.
        prefix: float64 ``[len(bounds), n_out]``: per channel, ``sum |w|`` over rows
            ``[0, bounds[j])`` (exact integers).
        max_abs_sum: ``max_c sum_k |w[k, c]|``.
    """

    def __init__(self, raw: Bytes, mat: npt.NDArray[np.float32], channels: I64 | None) -> None:
        self.raw = raw
        self.mat = mat
        self.channels = channels
        k, n = mat.shape
        self.bounds = [*range(0, k, _KBLOCK), k]
        self.prefix = np.zeros((len(self.bounds), n), dtype=np.float64)
        if k:
            blocks = np.add.reduceat(np.abs(mat).astype(np.float64), self.bounds[:-1], axis=0)
            np.cumsum(blocks, axis=0, out=self.prefix[1:])
        self.max_abs_sum = int(self.prefix[-1].max(initial=0.0))
        self.nbytes = raw.nbytes + mat.nbytes + self.prefix.nbytes
        self._plans: dict[int, list[tuple[int, int]] | None] = {}

    def chunks(self, maxx: int) -> list[tuple[int, int]] | None:
        """Row ranges ``[k0, k1)`` covering K, each with ``maxx * max_c sum |w| < 2**24``
        (greedy, whole K blocks), or ``None`` when a single K block exceeds it."""
        if maxx in self._plans:
            return self._plans[maxx]
        plan: list[tuple[int, int]] | None = []
        nb = len(self.bounds) - 1
        j0 = 0
        while plan is not None and j0 < nb:
            # nondecreasing in the block count: the blocks that fit are a prefix
            reach = (self.prefix[j0 + 1 :] - self.prefix[j0]).max(axis=1) * float(maxx)
            n = int(np.count_nonzero(reach < _EXACT_F32))
            if n == 0:
                plan = None
            else:
                plan.append((self.bounds[j0], self.bounds[j0 + n]))
                j0 += n
        self._plans[maxx] = plan
        return plan


class _ConvParams:
    """A tile's decoded params, ``(bias, M, S)`` per output channel (read-only int64
    arrays), and what the compute path derives from them, computed once per params words."""

    def __init__(self, bias: I64, m: I64, s: I64) -> None:
        for a in (bias, m, s):
            a.flags.writeable = False
        self.bias, self.m, self.s = bias, m, s

    @functools.cached_property
    def s_ok(self) -> bool:
        """Every ``S`` in ``1..63``."""
        return bool(((self.s >= 1) & (self.s <= 63)).all())

    @functools.cached_property
    def bias_max(self) -> int:
        return int(np.abs(self.bias).max())

    @functools.cached_property
    def m_max(self) -> int:
        return int(self.m.max())

    @functools.cached_property
    def s_max(self) -> int:
        return int(self.s.max())

    @functools.cached_property
    def s_min(self) -> int:
        return int(self.s.min())

    @functools.cached_property
    def scale(self) -> F64:
        """``M 2**-S`` (exact in float64)."""
        v = np.ldexp(self.m.astype(np.float64), -self.s)
        v.flags.writeable = False
        return v

    @functools.cached_property
    def offset(self) -> F64:
        """``bias M 2**-S + 1/2`` (exact when the caller's bound holds)."""
        v = self.bias * self.scale + 0.5
        v.flags.writeable = False
        return v


class _Stall(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Internal: a load needs MM2S data that has not been pushed yet."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        super().__init__(stream)


def _elem_dtype(precision: Precision, signed: bool) -> np.dtype[Any]:
    if precision == Precision.INT16:
        return np.dtype("<i2")
    return np.dtype(np.int8) if signed else np.dtype(np.uint8)


def _taps(start: int, count: int, step: int) -> slice:
    return slice(start, start + step * (count - 1) + 1, step)


def _transpose_words(x: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """A contiguous copy of ``x`` with its leading axes permuted by ``axes``, the last axis
    (one buffer word: CBC elements) kept whole.

    The copy moves words as single unsigned integers, not element by element: several times
    faster than numpy's element-wise transposed copy of short runs.
    """
    nbytes = x.shape[-1] * x.itemsize
    unit = next(u for u in (8, 4, 2, 1) if nbytes % u == 0)
    w = x.view(f"<u{unit}")
    out = np.empty([w.shape[a] for a in axes] + [w.shape[-1]], dtype=w.dtype)
    out[...] = w.transpose(*axes, w.ndim - 1)
    return out.view(x.dtype)


def _word_taps(x: np.ndarray, axis: int, start: int, count: int, step: int) -> np.ndarray:
    """A contiguous copy of ``x[..., start : start + step * (count - 1) + 1 : step, ...]``
    along ``axis`` (not the last one: the last axis is one buffer word, copied whole)."""
    nbytes = x.shape[-1] * x.itemsize
    unit = next(u for u in (8, 4, 2, 1) if nbytes % u == 0)
    w = x.view(f"<u{unit}")
    sel = (slice(None),) * axis + (_taps(start, count, step),)
    out = np.empty((*w.shape[:axis], count, *w.shape[axis + 1 :]), dtype=w.dtype)
    out[...] = w[sel]
    return out.view(x.dtype)


def _same_bytes(a: Bytes, b: Bytes) -> bool:
    """Whether two ``uint8`` word arrays hold the same bytes (compared 8 bytes at a time)."""
    if a.shape != b.shape:
        return False
    x, y = np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1)
    if x.size % 8 == 0:
        x, y = x.view(np.uint64), y.view(np.uint64)
    return bool((x == y).all())


def _sign_extend(v: npt.NDArray[np.uint64], bits: int) -> I64:
    x = (v & np.uint64((1 << bits) - 1)).astype(np.int64)
    return x - ((x >> (bits - 1)) & 1) * np.int64(1 << bits)


class Engine:
    """One emulated engine of an overlay.

    Args:
        cfg: The overlay configuration (buffers, PE array, streams, clocks); must pass
            :func:`edge_dnn.isa.layout.check_overlay`.
        check_config_hash: Compare the command-stream header's hash words with the overlay's
            (``CONFIG_MISMATCH``), as the engine does with ``ID_CONFIG_HASH0/1``.
        check_races: Check that every pair of conflicting buffer accesses by two units is
            ordered by tokens (:mod:`edge_dnn.emulator.races`; raises
            :class:`~edge_dnn.emulator.races.BufferRaceError`).

    Attributes:
        input, output: Activation buffers, ``uint8[banks * depth, CB]`` (word-addressed).
        weight: ``uint8[depth, OC * IC]``; params: ``uint8[depth, OC * 8]``.
        status: :class:`EngineStatus`.
        error_code: ``STATUS.ERROR_CODE`` after a fault (``ErrorCode.NONE`` otherwise).
        error_index: Index of the faulting instruction (``ERROR_INDEX``), or ``None``.
        stalled_on: The stream a stalled load waits for, or ``None``.
        counters: :class:`EngineCounters` of the current / last run.
        on_complete: Optional callback ``(index, instruction)`` after every instruction (a
            debugger may read the buffers there).
    """

    def __init__(
        self, cfg: OverlayConfig, *, check_config_hash: bool = True, check_races: bool = True
    ) -> None:
        check_overlay(cfg)
        self.cfg = cfg
        self.check_config_hash = check_config_hash
        self.timing = TimingModel(cfg)
        self.cb = block_bytes(cfg)
        inp, out = cfg.buffer("input"), cfg.buffer("output")
        wt, par = cfg.buffer("weight"), cfg.buffer("params")
        self.input = np.zeros((inp.banks * inp.depth, self.cb), dtype=np.uint8)
        self.output = np.zeros((out.banks * out.depth, self.cb), dtype=np.uint8)
        self.weight = np.zeros((wt.depth, wt.banks * wt.width_bits // 8), dtype=np.uint8)
        self.params = np.zeros((par.depth, par.banks * par.width_bits // 8), dtype=np.uint8)
        self._in_ports: dict[str, InPort] = {}
        self._out_ports: dict[str, OutPort] = {}
        self._role_streams: dict[str, list[str]] = {}
        for s in cfg.streams:
            self._role_streams.setdefault(s.role, []).append(s.name)
            if s.role == "act_out":
                self._out_ports[s.name] = OutPort(s.name, s.bytes_per_beat)
            elif s.role != "cmd":
                self._in_ports[s.name] = InPort(s.name, s.role, s.bytes_per_beat)
        self.on_complete: Callable[[int, Instruction], None] | None = None
        self._races = (
            RaceChecker(
                {
                    "input": self.input.shape[0],
                    "output": self.output.shape[0],
                    "weight": self.weight.shape[0],
                    "params": self.params.shape[0],
                }
            )
            if check_races
            else None
        )
        self.status = EngineStatus.IDLE
        self.error_code = ErrorCode.NONE
        self.error_index: int | None = None
        self.stalled_on: str | None = None
        self.counters = EngineCounters()
        self._words: npt.NDArray[np.uint32] = np.zeros(0, dtype=np.uint32)
        self._word_bytes = b""
        self._n_instr = 0
        self._body_crc = 0
        self._crc = 0
        self._pc = 0
        self._next: Instruction | None = None
        self._tokens: dict[Token, int] = dict.fromkeys(Token, 0)
        self._conv: ConfigConv | None = None
        self._pool: ConfigPool | None = None
        self._elt: ConfigEltwise | None = None
        self._norm: ConfigNorm | None = None
        self._kept: _Kept | None = None
        self._timeline = Timeline(self.timing.decode_cycles())
        self._wcache: collections.OrderedDict[tuple[int, ...], _DenseWeights] = (
            collections.OrderedDict()
        )
        self._wcache_bytes = 0
        self._decoded: dict[bytes, Instruction] = {}
        self._lrn_tables: dict[bytes, npt.NDArray[np.int32]] = {}
        # decoded (bias, M, S) by params words (read-only arrays)
        self._pcache: dict[tuple[bytes, int, int], _ConvParams] = {}
        self._tcache: dict[tuple[int, ...], tuple[tuple[object, ...], tuple[int, int, int | None]]]
        self._tcache = {}

    # ------------------------------------------------------------------ ports
    @property
    def input_streams(self) -> list[str]:
        """Names of the MM2S-fed streams (weights, act_in), in ``overlay.toml`` order."""
        return list(self._in_ports)

    @property
    def output_streams(self) -> list[str]:
        """Names of the S2MM-drained streams (act_out), in ``overlay.toml`` order."""
        return list(self._out_ports)

    def port(self, stream: str) -> InPort:
        """The input port of MM2S stream ``stream`` (``weights0``, ``act_in0``, ...).

        Raises:
            KeyError: not an input stream of this overlay.
        """
        try:
            return self._in_ports[stream]
        except KeyError:
            raise KeyError(
                f"'{stream}' is not an input stream of overlay '{self.cfg.name}' "
                f"(input streams: {', '.join(self._in_ports)})"
            ) from None

    def output_port(self, stream: str) -> OutPort:
        """The output port of S2MM stream ``stream`` (``act_out0``, ...).

        Raises:
            KeyError: not an output stream of this overlay.
        """
        try:
            return self._out_ports[stream]
        except KeyError:
            raise KeyError(
                f"'{stream}' is not an output stream of overlay '{self.cfg.name}' "
                f"(output streams: {', '.join(self._out_ports)})"
            ) from None

    # ------------------------------------------------------------------ control
    def soft_reset(self) -> None:
        """``CONTROL.SOFT_RESET``: back to idle, every stream FIFO flushed (buffers kept)."""
        for p in self._in_ports.values():
            p.flush()
        for q in self._out_ports.values():
            q.flush()
        self.status = EngineStatus.IDLE
        self.error_code = ErrorCode.NONE
        self.error_index = None
        self.stalled_on = None
        self._next = None

    def start(self, cmd: npt.ArrayLike | bytes) -> None:
        """``CONTROL.START`` with command stream ``cmd`` (``uint32`` words or their bytes).

        Resets the token queues, the configuration registers, the kept accumulators, the
        running body CRC and the counters (the buffers keep their contents), then checks the
        header. Instructions are decoded one by one as :meth:`advance` reaches them, as the
        hardware's decoder does.

        Raises:
            EngineFault: a header fault (``BAD_MAGIC``, ``HEADER_CRC``, ``BAD_VERSION``,
                ``STREAM_STRUCTURE``, ``CONFIG_MISMATCH``).
        """
        self.status = EngineStatus.BUSY
        self.error_code = ErrorCode.NONE
        self.error_index = None
        self.stalled_on = None
        self._tokens = dict.fromkeys(Token, 0)
        self._conv = self._pool = self._elt = None
        self._norm = None
        self._kept = None
        self._crc = 0
        self._pc = 0
        self._next = None
        self._timeline = Timeline(self.timing.decode_cycles())
        if self._races is not None:
            self._races.reset()
        self.counters = EngineCounters(
            stream_bytes=dict.fromkeys([s.name for s in self.cfg.streams], 0),
            unit_busy=dict.fromkeys([u.name for u in Timeline.UNITS], 0),
        )
        try:
            words = as_words(cmd)
            _, n, h0, h1, body_crc = decode_header(words)
            expected = HEADER_WORDS + INSTR_WORDS * n
            if words.size != expected:
                raise IsaError(
                    f"the header announces {n} instructions ({expected} words) but the command "
                    f"stream has {words.size} words",
                    word_index=2,
                    opcode="HEADER",
                    field="n_instr",
                    code=ErrorCode.STREAM_STRUCTURE,
                )
            if self.check_config_hash:
                mine = config_hash_words(self.cfg.config_hash)
                if (h0, h1) != mine:
                    k = 3 if h0 != mine[0] else 4
                    raise IsaError(
                        f"stream compiled for configuration 0x{h0:08X}{h1:08X}, this engine is "
                        f"'{self.cfg.name}' 0x{mine[0]:08X}{mine[1]:08X} (ID_CONFIG_HASH0/1)",
                        word_index=k,
                        opcode="HEADER",
                        field=f"config_hash{k - 3}",
                        code=ErrorCode.CONFIG_MISMATCH,
                    )
        except IsaError as e:
            self._fail(EngineFault.from_isa(e))
        self._words = words
        self._word_bytes = words.astype("<u4").tobytes()
        self._n_instr = n
        self._body_crc = body_crc
        self.counters.stream_bytes[self._role_streams["cmd"][0]] = int(words.size) * 4

    def advance(self) -> EngineStatus:
        """Execute instructions until END (``DONE``) or a load without its data (``STALLED``).

        Returns:
            The new status.

        Raises:
            EngineFault: the engine stopped with ``STATUS.ERROR`` (the fault names the
                instruction); the status is ``ERROR`` afterwards.
        """
        if self.status == EngineStatus.STALLED:
            self.status = EngineStatus.BUSY
            self.stalled_on = None
        if self.status != EngineStatus.BUSY:
            return self.status
        while self.status == EngineStatus.BUSY:
            if self._next is None:
                self._next = self._fetch()
            ins = self._next
            try:
                self._execute(self._pc, ins)
            except _Stall as s:
                self.status = EngineStatus.STALLED
                self.stalled_on = s.stream
                return self.status
            except EngineFault as f:
                self._fail(f)
            except BufferRaceError:
                self.status = EngineStatus.ERROR
                self.error_index = self._pc
                raise
            self._next = None
            if self.on_complete is not None:
                self.on_complete(self._pc, ins)
            self._pc += 1
        return self.status

    def run(
        self, cmd: npt.ArrayLike | bytes, streams: Mapping[str, Sequence[object]] | None = None
    ) -> dict[str, list[Bytes]]:
        """Run a whole command stream with every MM2S packet given up front.

        Args:
            cmd: The command stream (``uint32`` words or bytes).
            streams: Stream name (or role, when the role has a single stream) -> packets in
                order (bytes-like or numpy arrays; each is one DMA packet, TLAST on its last
                byte).

        Returns:
            Every ``act_out`` stream name -> its packets (``uint8`` arrays), in order.

        Raises:
            EngineFault: any engine fault; ``STREAM_LENGTH`` also when a load finds its stream
                empty (the DMA has no more data: the hardware would wait forever) or when
                packets are left unconsumed at DONE.
        """
        for name in self._in_ports:
            self._in_ports[name].flush()
        for q in self._out_ports.values():
            q.flush()
        self.start(cmd)
        for key, packets in (streams or {}).items():
            port = self.port(self._stream_name(key))
            for pkt in packets:
                port.push(pkt, last=True)
        status = self.advance()
        if status == EngineStatus.STALLED:
            assert self.stalled_on is not None
            port = self.port(self.stalled_on)
            self._fail(
                self._fault(
                    self._pc,
                    self._next,
                    ErrorCode.STREAM_LENGTH,
                    f"stream '{port.name}' ran dry: the load needs more bytes than the "
                    f"{port.queued_bytes} queued and no TLAST came (the DMA has no more "
                    "packets; the hardware would wait forever)",
                    "streams",
                )
            )
        left = {n: p.queued_packets() for n, p in self._in_ports.items() if p.queued_bytes}
        if left:
            desc = ", ".join(f"'{n}': {k} packet(s)" for n, k in left.items())
            self._fail(
                EngineFault(
                    f"unconsumed MM2S data at DONE ({desc}): the transfer lists do not match the "
                    "command stream",
                    code=ErrorCode.STREAM_LENGTH,
                    instruction_index=self._pc - 1,
                    opcode="END",
                )
            )
        return {n: q.pop_all() for n, q in self._out_ports.items()}

    def _stream_name(self, key: str) -> str:
        if key in self._in_ports:
            return key
        names = self._role_streams.get(key, [])
        if len(names) == 1 and names[0] in self._in_ports:
            return names[0]
        raise KeyError(
            f"'{key}' is neither an input stream nor a single-stream role of overlay "
            f"'{self.cfg.name}' (input streams: {', '.join(self._in_ports)})"
        )

    # ------------------------------------------------------------------ faults
    def _fail(self, fault: EngineFault) -> NoReturn:
        self.status = EngineStatus.ERROR
        self.error_code = fault.code
        self.error_index = fault.instruction_index
        raise fault

    @staticmethod
    def _fault(
        index: int | None,
        ins: Instruction | None,
        code: ErrorCode,
        reason: str,
        field: str | None = None,
    ) -> EngineFault:
        return EngineFault(
            reason,
            code=code,
            instruction_index=index,
            opcode=ins.OPCODE.name if ins is not None else None,
            field=field,
            tag=ins.tag if ins is not None else None,
        )

    # ------------------------------------------------------------------ decoder
    def _fetch(self) -> Instruction:
        i = self._pc
        base = instruction_word_index(i)
        raw = self._word_bytes[4 * base : 4 * (base + INSTR_WORDS)]
        # decoding is a pure function of the 8 words (the offset and index only name the
        # place of a fault), so a stream run again decodes from the cache
        ins = self._decoded.get(raw)
        if ins is None:
            try:
                ins = decode(raw, base, i)
            except IsaError as e:
                self._fail(EngineFault.from_isa(e))
            if len(self._decoded) >= _DECODE_CACHE:
                self._decoded.clear()
            self._decoded[raw] = ins
        self._crc = zlib.crc32(raw, self._crc)
        last = i == self._n_instr - 1
        if isinstance(ins, End) != last:
            self._fail(
                EngineFault(
                    "END before the last instruction"
                    if isinstance(ins, End)
                    else "the last instruction is not END",
                    code=ErrorCode.STREAM_STRUCTURE,
                    instruction_index=i,
                    opcode=ins.OPCODE.name,
                    field="opcode",
                    tag=ins.tag,
                    word_index=base,
                )
            )
        return ins

    # ------------------------------------------------------------------ dispatch
    def _execute(self, i: int, ins: Instruction) -> None:
        unit = ins.unit
        waits, signals = _token_list(ins.wait), _token_list(ins.signal)
        for t in waits:
            if self._tokens[t] == 0:
                raise self._fault(
                    i,
                    ins,
                    ErrorCode.TOKEN_UNDERFLOW,
                    f"waits on token queue {t.name}, which is empty in sequential order "
                    "(the hardware would hang)",
                    "wait",
                )
        if isinstance(ins, LoadInput | LoadWeights | LoadParams):
            self._load(i, ins, dry_run=True)
        for t in waits:
            self._tokens[t] -= 1
        if self._races is not None:
            self._races.begin(i, ins)
        macs = 0
        if isinstance(ins, LoadInput | LoadWeights | LoadParams):
            self._load(i, ins, dry_run=False)
        elif isinstance(ins, ConfigConv):
            self._check_precision(i, ins, ins.precision)
            self._conv = ins
        elif isinstance(ins, ConfigPool):
            self._check_precision(i, ins, ins.precision)
            self._pool = ins
        elif isinstance(ins, ConfigEltwise):
            self._check_precision(i, ins, ins.precision)
            self._elt = ins
        elif isinstance(ins, ConfigNorm):
            self._check_precision(i, ins, ins.precision)
            self._norm = ins
        elif isinstance(ins, ComputeTile):
            macs = self._compute(i, ins)
        elif isinstance(ins, PoolTile):
            self._pool_tile(i, ins)
        elif isinstance(ins, EltwiseTile):
            self._eltwise_tile(i, ins)
        elif isinstance(ins, NormTile):
            self._norm_tile(i, ins)
        elif isinstance(ins, StoreTile):
            self._store(i, ins)
        elif isinstance(ins, End):
            self._end(i, ins)
        elif not isinstance(ins, Nop | Sync):  # pragma: no cover - every opcode is handled
            raise self._fault(i, ins, ErrorCode.BAD_OPCODE, "no unit executes this opcode")
        for t in signals:
            self._tokens[t] += 1
            if self._tokens[t] > TOKEN_CAPACITY:
                raise self._fault(
                    i,
                    ins,
                    ErrorCode.TOKEN_OVERFLOW,
                    f"signals token queue {t.name}, which already holds {TOKEN_CAPACITY} "
                    "tokens in sequential order",
                    "signal",
                )
        if self._races is not None:
            self._races.end(ins)
        cycles, resources, burst = self._costs(ins)
        start, end = self._timeline.issue(
            unit,
            cycles,
            ins.wait,
            ins.signal,
            barrier=isinstance(ins, Sync | End),
            resources=resources,
            burst_cycles=burst,
        )
        if unit != Unit.DEC:
            cycles = end - start  # a window-unit tile may have run in burst mode
        c = self.counters
        c.instructions += 1
        c.by_opcode[ins.OPCODE.name] += 1
        c.macs += macs
        c.serial_cycles += cycles
        c.cycles = self._timeline.total
        if unit != Unit.DEC:
            c.unit_busy[unit.name] += cycles
            c.tag_cycles[ins.tag] += cycles

    def _costs(self, ins: Instruction) -> tuple[int, int, int | None]:
        """The timing model's cycles, shared resources and burst cycles of ``ins`` under the
        configuration registers in force.

        They are functions of these (immutable) objects only, so they are memoised by
        identity: decoded instructions are cached, so a stream run again hits.
        """
        conv, pool, elt, norm = self._conv, self._pool, self._elt, self._norm
        key = (id(ins), id(conv), id(pool), id(elt), id(norm))
        hit = self._tcache.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], (ins, conv, pool, elt, norm))):
            return hit[1]
        tm = self.timing
        costs = (
            tm.instruction_cycles(ins, conv, pool, elt, norm=norm),
            tm.shared_resources(ins, conv, pool),
            tm.burst_cycles(ins, pool, norm),
        )
        if len(self._tcache) >= _DECODE_CACHE:
            self._tcache.clear()
        # the objects are kept with their costs: their ids cannot be reused while cached
        self._tcache[key] = ((ins, conv, pool, elt, norm), costs)
        return costs

    def _check_precision(self, i: int, ins: Instruction, precision: Precision) -> None:
        name = "int8" if precision == Precision.INT8 else "int16"
        if name not in self.cfg.pe.precisions:
            raise self._fault(
                i,
                ins,
                ErrorCode.FIELD_RANGE,
                f"overlay '{self.cfg.name}' supports {', '.join(self.cfg.pe.precisions)} only",
                "precision",
            )

    def _end(self, i: int, ins: End) -> None:
        busy = {t.name: n for t, n in self._tokens.items() if n}
        if busy:
            raise self._fault(
                i,
                ins,
                ErrorCode.TOKENS_LEFT,
                "token queues not empty at END: "
                + ", ".join(f"{k} holds {v}" for k, v in busy.items()),
            )
        if self._kept is not None:
            raise self._fault(
                i,
                ins,
                ErrorCode.ACC_STATE,
                f"accumulators kept by the K-split COMPUTE_TILE {self._kept.index} were never "
                "finished (acc_last)",
            )
        if self._crc != self._body_crc:
            raise EngineFault(
                f"body CRC-32 mismatch (header 0x{self._body_crc:08X}, instructions "
                f"0x{self._crc:08X}): instructions were reordered, duplicated or replaced",
                code=ErrorCode.BODY_CRC,
                instruction_index=i,
                opcode="HEADER",
                field="body_crc32",
                word_index=5,
            )
        self.status = EngineStatus.DONE

    # ------------------------------------------------------------------ buffer access
    def _read(self, buffer: str, idx: Index) -> None:
        if self._races is not None:
            self._races.read(buffer, idx)

    def _write(self, buffer: str, idx: Index) -> None:
        if self._races is not None:
            self._races.write(buffer, idx)

    def _range(
        self,
        i: int,
        ins: Instruction,
        buf: np.ndarray,
        name: str,
        base: int,
        n: int,
        field: str,
    ) -> slice:
        cap = buf.shape[0]
        if base + n > cap:
            raise self._fault(
                i,
                ins,
                ErrorCode.BUFFER_RANGE,
                f"{name} buffer words [{base}, {base + n}) outside the buffer's {cap} words",
                field,
            )
        return slice(base, base + n)

    def _check_index(
        self, i: int, ins: Instruction, buf: np.ndarray, name: str, idx: I64, field: str
    ) -> None:
        self._check_top(i, ins, buf, name, int(idx.max()) if idx.size else 0, field)

    def _check_top(
        self, i: int, ins: Instruction, buf: np.ndarray, name: str, top: int, field: str
    ) -> None:
        if top >= buf.shape[0]:
            raise self._fault(
                i,
                ins,
                ErrorCode.BUFFER_RANGE,
                f"{name} buffer word {top} outside the buffer's {buf.shape[0]} words",
                field,
            )

    @staticmethod
    def _elements(words: np.ndarray, dtype: np.dtype[Any]) -> I64:
        """``uint8[n, CB]`` words as int64 ``[n, CBC]`` elements of ``dtype``."""
        w = np.ascontiguousarray(words)
        return w.view(dtype).reshape(w.shape[0], -1).astype(np.int64)

    def _store_elements(self, y: I64, precision: Precision) -> Bytes:
        """int64 ``[..., CBC]`` saturated values as the low ``8 e`` bits, ``uint8[..., CB]``."""
        v = np.empty(y.shape, dtype="<u2" if precision == Precision.INT16 else np.uint8)
        # integer -> unsigned conversion keeps the low bits (modulo 2**(8 e)), in one pass
        # that also makes a transposed ``y`` contiguous
        np.copyto(v, y, casting="unsafe")
        return v.view(np.uint8).reshape(*y.shape[:-1], self.cb)

    # ------------------------------------------------------------------ LDA / LDW
    def _load(self, i: int, ins: LoadInput | LoadWeights | LoadParams, dry_run: bool) -> None:
        if isinstance(ins, LoadInput):
            role, buf, bname = "act_in", self.input, "input"
        elif isinstance(ins, LoadWeights):
            role, buf, bname = "weights", self.weight, "weight"
        else:
            role, buf, bname = "weights", self.params, "params"
        names = self._role_streams.get(role, [])
        ks = selected(ins.streams)
        for k in ks:
            if k >= len(names):
                raise self._fault(
                    i,
                    ins,
                    ErrorCode.FIELD_RANGE,
                    f"stream mask 0x{ins.streams:X} selects {role} stream {k}, but overlay "
                    f"'{self.cfg.name}' has {len(names)} ({', '.join(names)})",
                    "streams",
                )
        rng = self._range(i, ins, buf, bname, ins.dst_base, ins.n_words, "n_words")
        part = ins.n_words // len(ks)
        wb = buf.shape[1]
        if dry_run:
            for k in ks:
                port = self._in_ports[names[k]]
                r = port.peek_packet(part * wb)
                if r.status == "short":
                    raise _Stall(port.name)
                if r.status != "ok":
                    where = (
                        f"TLAST after {r.available} bytes"
                        if r.status == "early"
                        else f"no TLAST on byte {part * wb}"
                    )
                    raise self._fault(
                        i,
                        ins,
                        ErrorCode.STREAM_LENGTH,
                        f"stream '{port.name}': {where}, but the load's part is {part} words "
                        f"x {wb} bytes = {part * wb} bytes",
                        "n_words",
                    )
            return
        self._write(bname, rng)
        for j, k in enumerate(ks):
            port = self._in_ports[names[k]]
            data = port.take(part * wb)
            start = rng.start + j * part
            buf[start : start + part] = data.reshape(part, wb)
            self.counters.stream_bytes[port.name] += part * wb

    # ------------------------------------------------------------------ ST
    @staticmethod
    def _blocks(base: int, n_blocks: int, pitch: int, block_words: int) -> Index:
        """Word addresses of ``n_blocks`` blocks of ``block_words`` words every ``pitch`` words:
        a slice when they are one contiguous run, :class:`Blocks` when they are disjoint runs
        (accessed through a strided view), else (overlapping blocks) an int64 index array."""
        if n_blocks <= 1 or pitch == block_words or block_words == 0:
            return slice(base, base + n_blocks * block_words)
        if pitch > block_words:
            return Blocks(base, n_blocks, pitch, block_words)
        blk = np.arange(n_blocks, dtype=np.int64)[:, None] * pitch
        return (base + blk + np.arange(block_words, dtype=np.int64)[None, :]).reshape(-1)

    def _check_words(
        self, i: int, ins: Instruction, buf: np.ndarray, name: str, idx: Index, field: str
    ) -> None:
        if isinstance(idx, slice):
            top = idx.stop - 1 if idx.stop > idx.start else 0
        elif isinstance(idx, Blocks):
            top = idx.base + (idx.blocks - 1) * idx.pitch + idx.width - 1
            if idx.base < 0:
                top = buf.shape[0]  # cannot happen: addresses are unsigned fields
        else:
            top = int(idx.max()) if idx.size else 0
        self._check_top(i, ins, buf, name, top, field)

    @staticmethod
    def _block_view(buf: np.ndarray, b: Blocks) -> np.ndarray:
        """Words ``b`` of ``buf`` (checked inside it) as a ``[blocks, width, CB]`` view."""
        span = (b.blocks - 1) * b.pitch + b.width
        flat = buf[b.base : b.base + span]
        s0, s1 = flat.strides
        return np.lib.stride_tricks.as_strided(
            flat, shape=(b.blocks, b.width, flat.shape[1]), strides=(b.pitch * s0, s0, s1)
        )

    def _get(self, buf: np.ndarray, idx: Index) -> np.ndarray:
        """Words ``idx`` of ``buf`` as ``[n, CB]`` (a view for a slice, else a copy)."""
        if isinstance(idx, Blocks):
            return self._block_view(buf, idx).reshape(-1, buf.shape[1])
        return buf[idx]

    def _set(self, buf: np.ndarray, idx: Index, words: np.ndarray) -> None:
        """Write ``[n, CB]`` words (or anything of that size) to words ``idx`` of ``buf``."""
        if isinstance(idx, Blocks):
            view = self._block_view(buf, idx)
            view[...] = words.reshape(view.shape)
        else:
            buf[idx] = words.reshape(-1, buf.shape[1])

    def _store(self, i: int, ins: StoreTile) -> None:
        src = self._blocks(ins.src_base, ins.n_blocks, ins.src_pitch, ins.block_words)
        self._check_words(i, ins, self.output, "output", src, "src_base")
        self._read("output", src)
        if ins.loopback:
            dst = self._blocks(ins.dst_base, ins.n_blocks, ins.dst_pitch, ins.block_words)
            self._check_words(i, ins, self.input, "input", dst, "dst_base")
            self._write("input", dst)
            self._set(self.input, dst, self._get(self.output, src))
            return
        # a copy: the packet must not change when the buffer is written later
        words = self.output[src].copy() if isinstance(src, slice) else self._get(self.output, src)
        names = self._role_streams.get("act_out", [])
        ks = selected(ins.streams)
        for k in ks:
            if k >= len(names):
                raise self._fault(
                    i,
                    ins,
                    ErrorCode.FIELD_RANGE,
                    f"stream mask 0x{ins.streams:X} selects act_out stream {k}, but overlay "
                    f"'{self.cfg.name}' has {len(names)} ({', '.join(names)})",
                    "streams",
                )
        part = words.shape[0] // len(ks)
        for j2, k in enumerate(ks):
            pkt = np.ascontiguousarray(words[j2 * part : (j2 + 1) * part]).reshape(-1)
            self._out_ports[names[k]].emit(pkt)
            self.counters.stream_bytes[names[k]] += int(pkt.size)

    # ------------------------------------------------------------------ shared tile helpers
    def _resident_band(
        self,
        i: int,
        ins: Instruction,
        in_base: int,
        n_cb: int,
        in_rows: int,
        in_w: int,
        dtype: np.dtype[Any],
    ) -> np.ndarray:
        """The resident band as stored, ``[n_cb, in_rows, IW, CBC]`` of ``dtype`` (a view of
        the input buffer)."""
        rng = self._range(i, ins, self.input, "input", in_base, n_cb * in_rows * in_w, "in_base")
        self._read("input", rng)
        return self.input[rng].view(dtype).reshape(n_cb, in_rows, in_w, -1)

    @staticmethod
    def _band_window(
        band: np.ndarray,
        ih0: int,
        in_h: int,
        r0: int,
        n_r: int,
        c0: int,
        n_c: int,
        fill: int = 0,
        dtype: np.dtype[Any] | None = None,
    ) -> np.ndarray:
        """Rows ``[r0, r0 + n_r)`` x columns ``[c0, c0 + n_c)`` of the map, ``[n_cb, n_r, n_c,
        CBC]`` (``fill`` outside the map or the resident rows), from the band starting at row
        ``ih0``: a view of the band when the window lies inside it, else a new array of
        ``dtype`` (default: the band's)."""
        n_cb, in_rows, in_w, cbc = band.shape
        lo = max(r0, 0, ih0)
        hi = min(r0 + n_r, in_h, ih0 + in_rows)
        clo = max(c0, 0)
        chi = min(c0 + n_c, in_w)
        if (lo, hi, clo, chi) == (r0, r0 + n_r, c0, c0 + n_c):
            return band[:, r0 - ih0 : r0 - ih0 + n_r, c0 : c0 + n_c]
        out = np.full((n_cb, n_r, n_c, cbc), fill, dtype=band.dtype if dtype is None else dtype)
        if lo < hi and clo < chi:
            out[:, lo - r0 : hi - r0, clo - c0 : chi - c0] = band[:, lo - ih0 : hi - ih0, clo:chi]
        return out

    def _check_resident(
        self, i: int, ins: Instruction, rows: I64, in_h: int, ih0: int, in_rows: int
    ) -> None:
        """Every tapped row inside the map must be among the resident rows."""
        inside = rows[(rows >= 0) & (rows < in_h)]
        bad = inside[(inside < ih0) | (inside >= ih0 + in_rows)]
        if bad.size:
            raise self._fault(
                i,
                ins,
                ErrorCode.INPUT_NOT_RESIDENT,
                f"input row {int(bad[0])} is tapped but only rows [{ih0}, {ih0 + in_rows}) are "
                "resident",
                "ih0",
            )

    def _tile_words(
        self,
        out_base: int,
        n_cb: int,
        oh0: int,
        n_oh: int,
        oh_total: int,
        ow: int,
        out_map: bool,
    ) -> Index:
        """Output words of a tile, block-major: ``n_cb`` runs of ``n_oh * OW`` words, at the
        tile's rows of each block's full map (``out_map``) or packed."""
        n = n_oh * ow
        if out_map:
            return self._blocks(out_base + oh0 * ow, n_cb, oh_total * ow, n)
        return slice(out_base, out_base + n_cb * n)

    @staticmethod
    def _moved(idx: Index, delta: int) -> Index:
        if isinstance(idx, slice):
            return slice(idx.start + delta, idx.stop + delta)
        if isinstance(idx, Blocks):
            return idx._replace(base=idx.base + delta)
        return idx + delta

    # ------------------------------------------------------------------ CMP: PE array
    def _compute(self, i: int, ins: ComputeTile) -> int:
        conv = self._conv
        if conv is None:
            raise self._fault(
                i, ins, ErrorCode.NOT_CONFIGURED, "COMPUTE_TILE before any CONFIG_CONV in this run"
            )
        cfg = self.cfg
        prec = conv.precision
        cbc = block_channels(cfg, prec)
        g = group_channels(cfg, prec)
        ic = cfg.pe.in_channels
        kh, kw = conv.kernel_h, conv.kernel_w
        oh_total, ow = conv.out_h, conv.out_w
        if ins.oh0 + ins.n_oh > oh_total:
            raise self._fault(
                i,
                ins,
                ErrorCode.FIELD_RANGE,
                f"output rows [{ins.oh0}, {ins.oh0 + ins.n_oh}) beyond the map's {oh_total} rows",
                "n_oh",
            )
        if conv.depthwise and ins.in_cb != ins.out_cb:
            raise self._fault(
                i,
                ins,
                ErrorCode.FIELD_RANGE,
                f"a depthwise tile needs in_cb == out_cb (got {ins.in_cb} and {ins.out_cb})",
                "in_cb",
            )
        n_out = ins.out_cb * cbc
        if not ins.acc_last and (n_out > g or ins.n_oh * ow > cfg.pe.pixels):
            raise self._fault(
                i,
                ins,
                ErrorCode.FIELD_RANGE,
                f"a K-split tile (acc_last = 0) must be one PE pass: {n_out} channels (at most "
                f"{g}) x {ins.n_oh * ow} pixels (at most {cfg.pe.pixels})",
                "acc_last",
            )
        kept = self._kept
        if kept is not None:
            if ins.acc_first:
                raise self._fault(
                    i,
                    ins,
                    ErrorCode.ACC_STATE,
                    f"acc_first = 1 while COMPUTE_TILE {kept.index} kept accumulators "
                    "(K-split not finished)",
                    "acc_first",
                )
            for name, mine, theirs in (
                ("oh0", ins.oh0, kept.oh0),
                ("n_oh", ins.n_oh, kept.n_oh),
                ("out_cb", ins.out_cb, kept.out_cb),
            ):
                if mine != theirs:
                    raise self._fault(
                        i,
                        ins,
                        ErrorCode.ACC_STATE,
                        f"K-split continuation with {name} = {mine}, but COMPUTE_TILE "
                        f"{kept.index} kept accumulators for {name} = {theirs}",
                        name,
                    )
        elif not ins.acc_first:
            raise self._fault(
                i,
                ins,
                ErrorCode.ACC_STATE,
                "acc_first = 0 but no accumulators are kept (no K-split in progress)",
                "acc_first",
            )

        # input band as stored ([in_cb, in_rows, IW, CBC]), residency of every tapped row
        band = self._resident_band(
            i,
            ins,
            ins.in_base,
            ins.in_cb,
            ins.in_rows,
            conv.in_w,
            _elem_dtype(prec, conv.in_signed),
        )
        # every tapped row inside the map lies in [max(first, 0), min(last, in_h - 1)]: when
        # that interval is resident, no row needs checking one by one
        first = ins.oh0 * conv.stride_h - conv.pad_h
        last = first + (ins.n_oh - 1) * conv.stride_h + (kh - 1) * conv.dilation_h
        if max(first, 0) < ins.ih0 or min(last, conv.in_h - 1) >= ins.ih0 + ins.in_rows:
            oh = np.arange(ins.oh0, ins.oh0 + ins.n_oh, dtype=np.int64)
            rows = oh[:, None] * conv.stride_h - conv.pad_h + np.arange(kh) * conv.dilation_h
            self._check_resident(i, ins, rows.ravel(), conv.in_h, ins.ih0, ins.in_rows)

        # weights (docs/engine.md 6.2) and params (6.3) of the tile's PE groups
        n_groups = -(-n_out // g)
        wg = conv_weight_words(cfg, prec, ins.in_cb, kh, kw, conv.depthwise)
        wr = self._range(i, ins, self.weight, "weight", ins.w_base, n_groups * wg, "w_base")
        pr = self._range(i, ins, self.params, "params", ins.p_base, n_groups, "p_base")
        self._read("weight", wr)
        self._read("params", pr)
        pkey = (self.params[pr].tobytes(), int(prec), n_out)
        cp = self._pcache.get(pkey)
        if cp is None:
            if len(self._pcache) >= _DECODE_CACHE:
                self._pcache.clear()
            cp = self._pcache[pkey] = _ConvParams(*self._conv_params(self.params[pr], prec, n_out))
        bias, m, s = cp.bias, cp.m, cp.s

        # the exact integer sums, int64 [n_oh * OW, n_out] (pixel-major, like the stored words)
        r0 = ins.oh0 * conv.stride_h - conv.pad_h
        n_r = (ins.n_oh - 1) * conv.stride_h + (kh - 1) * conv.dilation_h + 1
        c0 = -conv.pad_w
        n_c = (ow - 1) * conv.stride_w + (kw - 1) * conv.dilation_w + 1
        win = self._band_window(band, ins.ih0, conv.in_h, r0, n_r, c0, n_c)
        macs = self.timing.compute_macs(conv, ins)
        s_ok = cp.s_ok
        n_pix = ins.n_oh * ow
        if conv.depthwise:
            wdt = np.dtype("<i2") if prec == Precision.INT16 else np.dtype(np.int8)
            welems = np.ascontiguousarray(self.weight[wr]).view(wdt).reshape(n_groups, wg, g, ic)
            taps = welems.transpose(0, 2, 1, 3).reshape(n_groups * g, wg * ic)[:n_out, : kh * kw]
            xp = win.transpose(0, 3, 1, 2).reshape(n_out, n_r, n_c).astype(np.float64)
            dw = self._depthwise_sum(xp, taps.reshape(n_out, kh, kw), conv, ins.n_oh)
            acc: npt.NDArray[Any] = np.ascontiguousarray(dw.reshape(n_out, -1).T)
        else:
            wts = self._dense_weights(wr, prec, ins.in_cb, kh, kw, n_groups, n_out, ins.tag)
            # Python ints: -min of int8 -128 must not wrap (unsigned: the min is >= 0)
            maxx = int(win.max(initial=0))
            if win.dtype.kind == "i":
                maxx = max(maxx, -int(win.min(initial=0)))
            # kept is None exactly when acc_first (checked above); |acc| <= top, so the 48-bit
            # limit needs checking only when top reaches it
            top = maxx * wts.max_abs_sum + cp.bias_max if kept is None else None
            if (
                top is not None
                and top < ACC_LIMIT
                and ins.acc_last
                and s_ok
                and top * cp.m_max + (1 << (cp.s_max - 1)) < _EXACT_F64
            ):
                self._kept = None
                y = self._dense_requantized(win, wts, conv, ins, maxx, top, cp, n_pix)
                if y.dtype == np.float64:  # integral values the element type cannot hold
                    self._put_tile(i, ins, y, prec, oh_total, ow)
                else:
                    pixel_major = y.view(np.uint8).reshape(n_pix, ins.out_cb, self.cb)
                    self._put_words(i, ins, pixel_major, oh_total, ow)
                return macs
            acc = self._dense_sum(win, wts, conv, ins.n_oh, maxx)

        acc = acc.astype(np.int64, copy=False)
        acc += bias if kept is None else kept.acc
        if int(acc.max()) >= ACC_LIMIT or int(acc.min()) <= -ACC_LIMIT:
            c, p = (int(v[0]) for v in np.nonzero((np.abs(acc) >= ACC_LIMIT).T))
            raise self._fault(
                i,
                ins,
                ErrorCode.ACC_OVERFLOW,
                f"|acc| = {abs(int(acc[p, c]))} >= 2**47 at channel {c}, output row "
                f"{ins.oh0 + p // ow}, column {p % ow} (the hardware wraps at 48 bits)",
            )
        if not ins.acc_last:
            self._kept = _Kept(i, ins.oh0, ins.n_oh, ins.out_cb, acc)
            return macs
        self._kept = None
        if not s_ok:
            c = int(np.flatnonzero((s < 1) | (s > 63))[0])
            raise self._fault(
                i,
                ins,
                ErrorCode.FIELD_RANGE,
                f"params slot of output channel {c} (params word {ins.p_base + c // g}) has "
                f"S = {int(s[c])}, outside 1..63",
                "p_base",
            )
        acc *= m
        yi = arith.round_shift(acc, s)
        np.clip(yi, conv.qmin, conv.qmax, out=yi)
        self._put_tile(i, ins, yi, prec, oh_total, ow)
        return macs

    def _dense_requantized(
        self,
        win: np.ndarray,
        wts: _DenseWeights,
        conv: ConfigConv,
        ins: ComputeTile,
        maxx: int,
        top: int,
        cp: _ConvParams,
        n_pix: int,
    ) -> np.ndarray:
        """A complete dense tile (acc_first, acc_last) requantized in float64 block by block
        while the GEMM output is in cache: ``[n_pix, n_out]`` of the stored element type
        (uint8 / int8 / uint16 / int16 values), or integral float64 when ``qmin..qmax`` does
        not fit it.

        Exact when (checked by the caller) every ``|acc + bias| <= top`` with ``top * M +
        2**(S-1) < 2**53``: ``acc * (M 2**-S)`` and ``bias * (M 2**-S) + 1/2`` are exact (a
        power-of-two scaling of integers below 2**53), so is their sum
        ``((acc + bias) M + 2**(S-1)) 2**-S``, and its floor is docs/arithmetic.md's
        ``round_shift((acc + bias) M, S)``.
        """
        prec = conv.precision
        qmin, qmax = conv.qmin, conv.qmax
        lo, hi = min(qmin, qmax), max(qmin, qmax)
        store = None if ins.fuse_eltwise else self._direct_type(prec, lo, hi)
        scale, offset = cp.scale, cp.offset
        y = np.empty((n_pix, scale.size), dtype=np.float64 if store is None else store)
        # |t| <= top * M / 2**S + 1/2: below 2**31, the rounding and saturation run on int32
        # (the float -> int32 cast truncates toward zero, which is the floor for t >= 0 and,
        # for t < 0, saturates to the same value when qmin >= 0)
        on_int32 = store is not None and top * cp.m_max * 2.0**-cp.s_min + 1 < 2**31
        floor = lo < 0 or not on_int32
        # in slices of rows small enough for the float64 temporaries to stay in L1/L2
        step = max(1, _EPILOGUE_ELEMS // scale.size)
        t_buf = np.empty((step, scale.size), dtype=np.float64)
        i_buf = np.empty((step, scale.size), dtype=np.int32)

        def requantize(blk: npt.NDArray[Any], p0: int) -> None:
            for a in range(0, blk.shape[0], step):
                part = blk[a : a + step]
                n = part.shape[0]
                t, ti = t_buf[:n], i_buf[:n]
                # converted first: a float32 x float64 multiply would cast in small buffers
                np.copyto(t, part)
                t *= scale
                t += offset
                if floor:
                    np.floor(t, out=t)
                dst = y[p0 + a : p0 + a + n]
                if on_int32:
                    np.copyto(ti, t, casting="unsafe")
                    np.clip(ti, qmin, qmax, out=ti)
                    np.copyto(dst, ti, casting="unsafe")
                else:
                    np.clip(t, qmin, qmax, out=t)
                    np.copyto(dst, t, casting="unsafe")

        self._dense_sum(win, wts, conv, ins.n_oh, maxx, requantize)
        return y

    def _direct_type(self, prec: Precision, lo: int, hi: int) -> np.dtype[Any] | None:
        """The element type (unsigned or signed) holding every integer of ``[lo, hi]``: its
        values' low bits are the stored bits (:meth:`_store_elements`)."""
        bits = 16 if prec == Precision.INT16 else 8
        if lo >= 0 and hi < 1 << bits:
            return np.dtype(f"<u{bits // 8}")
        if -(1 << (bits - 1)) <= lo and hi < 1 << (bits - 1):
            return np.dtype(f"<i{bits // 8}")
        return None

    def _put_words(
        self, i: int, ins: ComputeTile, pixel_major: Bytes, oh_total: int, ow: int
    ) -> None:
        """Write a tile's output words given pixel-major, ``uint8[n_oh * OW, out_cb, CB]``."""
        idx = self._tile_words(
            ins.out_base, ins.out_cb, ins.oh0, ins.n_oh, oh_total, ow, ins.out_map
        )
        self._check_words(i, ins, self.output, "output", idx, "out_base")
        self._write("output", idx)
        if isinstance(idx, slice | Blocks):
            # block-major words straight from the pixel-major ones (no intermediate copy)
            n_pix, n_cb, cb = pixel_major.shape
            dst = self.output[idx] if isinstance(idx, slice) else self._block_view(self.output, idx)
            unit = next(u for u in (8, 4, 2, 1) if cb % u == 0)
            d = dst.view(f"<u{unit}").reshape(n_cb, n_pix, cb // unit)
            d[...] = pixel_major.view(f"<u{unit}").transpose(1, 0, 2)
        else:
            self._set(self.output, idx, _transpose_words(pixel_major, (1, 0)))

    def _put_tile(
        self,
        i: int,
        ins: ComputeTile,
        y: np.ndarray,
        prec: Precision,
        oh_total: int,
        ow: int,
    ) -> None:
        """Write a COMPUTE_TILE's saturated results ``[n_oh * OW, out_cb * CBC]`` (integers,
        int64 or integral float64) to its output words, through the fused eltwise if any."""
        cbc = block_channels(self.cfg, prec)
        y = y.reshape(ins.n_oh * ow, ins.out_cb, cbc).astype(np.int64, copy=False)
        if not ins.fuse_eltwise:
            self._put_words(i, ins, self._store_elements(y, prec), oh_total, ow)
            return
        idx = self._tile_words(
            ins.out_base, ins.out_cb, ins.oh0, ins.n_oh, oh_total, ow, ins.out_map
        )
        self._check_words(i, ins, self.output, "output", idx, "out_base")
        res = self._moved(idx, ins.res_base - ins.out_base)
        # [out_cb, n_oh * OW, CBC], the words' order
        z = self._fused_eltwise(i, ins, y.transpose(1, 0, 2), res, prec)
        self._write("output", idx)
        self._set(self.output, idx, self._store_elements(z, prec))

    @staticmethod
    def _conv_params(words: np.ndarray, precision: Precision, n: int) -> tuple[I64, I64, I64]:
        """(bias, M, S) of the first ``n`` channels of params words (``docs/engine.md`` 6.3)."""
        v = np.ascontiguousarray(words).view("<u8")
        if precision == Precision.INT16:
            slots = v.reshape(-1, 2)[:n]
            lo, hi = slots[:, 0], slots[:, 1]
            bias = _sign_extend(lo, 48)
            m = ((lo >> np.uint64(48)) & np.uint64(0xFFFF)).astype(np.int64)
            s = (hi & np.uint64(0x3F)).astype(np.int64)
        else:
            slots = v.reshape(-1)[:n]
            bias = _sign_extend(slots, 32)
            m = ((slots >> np.uint64(32)) & np.uint64(0xFFFF)).astype(np.int64)
            s = ((slots >> np.uint64(48)) & np.uint64(0x3F)).astype(np.int64)
        return bias, m, s

    def _dense_weights(
        self,
        wr: slice,
        precision: Precision,
        in_cb: int,
        kh: int,
        kw: int,
        n_groups: int,
        n_out: int,
        tag: int,
    ) -> _DenseWeights:
        """The weight words ``wr`` of a dense tile as a ``[K, n_out]`` matrix (docs/engine.md
        6.2), ``K`` in window order (tap row, tap column, input channel), without the input
        channels whose weights are all zero.

        Decoded matrices are cached by tile geometry and tag, and a cached one is used only if
        the weight words are byte-identical to the ones it was decoded from (a LOAD_WEIGHTS of
        the same layer's weights in the next run hits; anything else decodes afresh).
        """
        words = self.weight[wr]
        key = (wr.start, wr.stop, int(precision), in_cb, kh, kw, n_out, tag)
        hit = self._wcache.get(key)
        if hit is not None and _same_bytes(hit.raw, words):
            self._wcache.move_to_end(key)
            return hit
        cfg = self.cfg
        g, ic = group_channels(cfg, precision), cfg.pe.in_channels
        sub = sub_steps(cfg, precision)
        wdt = np.dtype("<i2") if precision == Precision.INT16 else np.dtype(np.int8)
        raw = words.copy()
        w = raw.view(wdt).reshape(n_groups, in_cb, kh, kw, sub, g, ic)
        # [KH, KW, input channel, output channel]; channel in block = sub step * IC + lane
        t = w.transpose(2, 3, 1, 4, 6, 0, 5).reshape(kh, kw, -1, n_groups * g)[..., :n_out]
        live = np.flatnonzero(t.any(axis=(0, 1, 3)))
        channels: I64 | None = None
        if live.size < t.shape[2]:
            # all zero: one (zero) channel keeps the shapes non-empty
            channels = live if live.size else np.zeros(1, dtype=np.int64)
            t = t[:, :, channels]
        mat = np.ascontiguousarray(t.reshape(-1, n_out), dtype=np.float32)
        entry = _DenseWeights(raw, mat, channels)
        if hit is not None:
            self._wcache_bytes -= hit.nbytes
        self._wcache[key] = entry
        self._wcache_bytes += entry.nbytes
        while self._wcache_bytes > _WCACHE_BYTES and len(self._wcache) > 1:
            _, old = self._wcache.popitem(last=False)
            self._wcache_bytes -= old.nbytes
        return entry

    @staticmethod
    def _dense_sum(
        win: np.ndarray,
        wts: _DenseWeights,
        conv: ConfigConv,
        n_oh: int,
        maxx: int,
        epilogue: Callable[[npt.NDArray[Any], int], None] | None = None,
    ) -> npt.NDArray[Any]:
        """Exact ``sum_{ci, kh, kw} x * w`` of every pixel and channel, ``[n_oh * OW, n_out]``
        (float32, float64 or int64, integers in every case).

        ``win`` is the zero-padded window ``[in_cb, rows, columns, CBC]`` (storage dtype),
        ``maxx`` its largest magnitude. The window is made channels-last once, then one GEMM
        per block of output rows over its im2col columns ``[pixels, K]`` (a strided view,
        converted as it is gathered per block, or gathered in the storage type first when a
        pixel has only a few channels; the converted window itself for a 1x1 stride-1 tile), in
        the cheapest exact arithmetic:

        * float32, split along K into chunks with ``maxx * max_c sum_{k in chunk}|w[c, k]|
          < 2**24``: every partial sum the BLAS forms inside a chunk (in any order, fused or
          not) is an integer of at most that magnitude, so exactly representable, so exact;
          chunk results are added in float64, exact because the whole bound is below 2**53
          (int8: ``K * 255 * 128 < 2**53`` for any ``K < 2**38``);
        * float64 when the whole bound is below 2**53 but float32 would need too many chunks
          (int16 data);
        * int64 otherwise (int16 extremes).

        With ``epilogue``, each block's sums go to ``epilogue(block, first pixel)`` while they
        are in cache, and the returned array is empty.
        """
        in_cb, n_r, n_c, cbc = win.shape
        kh, kw, ow = conv.kernel_h, conv.kernel_w, conv.out_w
        sh, sw, dh, dw = conv.stride_h, conv.stride_w, conv.dilation_h, conv.dilation_w
        k, n_out = wts.mat.shape
        plan = wts.chunks(maxx)
        dt: type[np.generic]
        if plan is not None and len(plan) <= _F32_MAX_CHUNKS:
            dt, wmat = np.float32, wts.mat
        else:
            dt = np.float64 if maxx * wts.max_abs_sum < _EXACT_F64 else np.int64
            wmat, plan = wts.mat.astype(dt), [(0, k)]
        # the window channels-last [rows, columns, channels], still in the storage type
        hwc = _transpose_words(win, (1, 2, 0)).reshape(n_r, n_c, in_cb * cbc)
        if wts.channels is not None:
            hwc = np.ascontiguousarray(hwc[:, :, wts.channels])
        single = len(plan) == 1
        acc_dt = dt if single else np.float64
        direct = kh == kw == sh == sw == 1  # 1x1, stride 1: the window is the column matrix
        xw: npt.NDArray[Any] = hwc.astype(dt) if direct else hwc
        s0, s1, s2 = hwc.strides
        # im2col as a strided view, gathered block by block into the GEMM's type
        full = np.lib.stride_tricks.as_strided(
            hwc,
            shape=(n_oh, ow, kh, kw, hwc.shape[2]),
            strides=(sh * s0, sw * s1, dh * s0, dw * s1, s2),
            writeable=False,
        )
        rows = max(1, min(n_oh, _COLS_BUDGET // max(1, max(k, n_out) * ow)))
        n_buf = 0 if direct else rows * ow * k
        buf: npt.NDArray[Any] = np.empty(n_buf, dtype=dt)
        # runs of a few channels (the first layer's image) are gathered in the storage type
        # first, then converted in one contiguous pass; longer runs are converted as gathered
        short = hwc.shape[2] < _SHORT_RUN
        gather: npt.NDArray[Any] = np.empty(n_buf if short else 0, dtype=hwc.dtype)
        if epilogue is None:
            out: npt.NDArray[Any] = np.empty((n_oh * ow, n_out), dtype=acc_dt)
        else:
            out = np.empty((0, n_out), dtype=acc_dt)
            blk_buf: npt.NDArray[Any] = np.empty((rows * ow, n_out), dtype=acc_dt)
        for r0 in range(0, n_oh, rows):
            r = min(rows, n_oh - r0)
            if direct:
                c2 = xw[r0 : r0 + r].reshape(r * ow, k)
            elif gather.size:
                g = gather[: r * ow * k]
                g.reshape(r, ow, kh, kw, -1)[...] = full[r0 : r0 + r]
                c2 = buf[: r * ow * k].reshape(r * ow, k)
                np.copyto(c2, g.reshape(r * ow, k))
            else:
                c2 = buf[: r * ow * k].reshape(r * ow, k)
                c2.reshape(r, ow, kh, kw, -1)[...] = full[r0 : r0 + r]
            blk = out[r0 * ow : (r0 + r) * ow] if epilogue is None else blk_buf[: r * ow]
            if single:
                np.matmul(c2, wmat, out=blk)
            else:
                for j, (k0, k1) in enumerate(plan):
                    part = c2[:, k0:k1] @ wmat[k0:k1]
                    if j:
                        blk += part
                    else:
                        blk[...] = part
            if epilogue is not None:
                epilogue(blk, r0 * ow)
        return out

    @staticmethod
    def _depthwise_sum(xp: F64, w: np.ndarray, conv: ConfigConv, n_oh: int) -> I64:
        """Exact per-channel tap sums (at most 255 x 255 products of magnitude <= 2**30)."""
        c, kh, kw = w.shape
        ow = conv.out_w
        sh, sw, dh, dw = conv.stride_h, conv.stride_w, conv.dilation_h, conv.dilation_w
        wf = w.astype(np.float64)
        acc = np.zeros((c, n_oh, ow), dtype=np.float64)
        for a in range(kh):
            rs = _taps(a * dh, n_oh, sh)
            for b in range(kw):
                acc += xp[:, rs, _taps(b * dw, ow, sw)] * wf[:, a, b, None, None]
        return acc.astype(np.int64)

    def _fused_eltwise(
        self, i: int, ins: ComputeTile, y: I64, res_idx: Index, prec: Precision
    ) -> I64:
        elt = self._elt
        if elt is None:
            raise self._fault(
                i,
                ins,
                ErrorCode.NOT_CONFIGURED,
                "fuse_eltwise before any CONFIG_ELTWISE in this run",
                "fuse_eltwise",
            )
        if elt.precision != prec:
            raise self._fault(
                i,
                ins,
                ErrorCode.FIELD_RANGE,
                f"fused eltwise in {elt.precision.name} mode on an {prec.name} convolution",
                "fuse_eltwise",
            )
        self._check_words(i, ins, self.input, "input", res_idx, "res_base")
        self._read("input", res_idx)
        b = self._elements(self._get(self.input, res_idx), _elem_dtype(prec, elt.b_signed))
        return self._eltwise(elt, y, b.reshape(y.shape))

    @staticmethod
    def _eltwise(elt: ConfigEltwise, a: I64, b: I64) -> I64:
        if elt.op == EltwiseOp.SUM:
            t = a * np.int64(elt.m_a) + b * np.int64(elt.m_b)
            return np.clip(arith.round_shift(t, elt.shift), elt.qmin, elt.qmax)
        return np.clip(np.maximum(a, b), elt.qmin, elt.qmax)

    # ------------------------------------------------------------------ CMP: vector unit
    def _pool_tile(self, i: int, ins: PoolTile) -> None:
        pool = self._pool
        if pool is None:
            raise self._fault(
                i, ins, ErrorCode.NOT_CONFIGURED, "POOL_TILE before any CONFIG_POOL in this run"
            )
        prec = pool.precision
        cbc = block_channels(self.cfg, prec)
        oh_total, ow = pool.out_h, pool.out_w
        kh, kw, sh, sw = pool.kernel_h, pool.kernel_w, pool.stride_h, pool.stride_w
        ph, pw, ih, iw = pool.pad_h, pool.pad_w, pool.in_h, pool.in_w
        if ins.oh0 + ins.n_oh > oh_total:
            raise self._fault(
                i,
                ins,
                ErrorCode.FIELD_RANGE,
                f"output rows [{ins.oh0}, {ins.oh0 + ins.n_oh}) beyond the map's {oh_total} rows",
                "n_oh",
            )
        # Caffe's windows: [hs, he) clipped to [-pad, H + pad) for the divisor, to [0, H) for
        # the values (docs/arithmetic.md section 5)
        hs = np.arange(ins.oh0, ins.oh0 + ins.n_oh, dtype=np.int64) * sh - ph
        he = np.minimum(hs + kh, ih + ph)
        ws = np.arange(ow, dtype=np.int64) * sw - pw
        we = np.minimum(ws + kw, iw + pw)
        rlo, rhi = np.maximum(hs, 0), np.minimum(he, ih)
        clo, chi = np.maximum(ws, 0), np.minimum(we, iw)
        if np.any(rlo >= rhi) or np.any(clo >= chi):
            which = "row" if np.any(rlo >= rhi) else "column"
            raise self._fault(
                i,
                ins,
                ErrorCode.FIELD_RANGE,
                f"a pooling window has no input {which} inside the map (CONFIG_POOL geometry)",
                "oh0" if which == "row" else None,
            )
        if int(rlo.min()) < ins.ih0 or int(rhi.max()) > ins.ih0 + ins.in_rows:
            bad = int(rlo.min()) if int(rlo.min()) < ins.ih0 else int(rhi.max()) - 1
            raise self._fault(
                i,
                ins,
                ErrorCode.INPUT_NOT_RESIDENT,
                f"input row {bad} is pooled but only rows [{ins.ih0}, {ins.ih0 + ins.in_rows}) "
                "are resident",
                "ih0",
            )
        band = self._resident_band(
            i, ins, ins.in_base, ins.n_cb, ins.in_rows, iw, _elem_dtype(prec, pool.in_signed)
        )
        is_max = pool.kind == PoolKind.MAX
        r0, c0 = int(hs[0]), int(ws[0])
        n_r = (ins.n_oh - 1) * sh + kh
        n_c = (ow - 1) * sw + kw
        # taps outside [rlo, rhi) are padding / overhang (or rows between windows): every
        # window holds at least one element (checked above), so a fill at the element type's
        # minimum never changes a max, and 0 adds nothing to a sum
        work: np.dtype[Any]
        if is_max:
            bits = 8 * band.dtype.itemsize
            work, fill = band.dtype, (-(1 << (bits - 1)) if band.dtype.kind == "i" else 0)
        else:
            work, fill = np.dtype(np.int64), 0
        xp = self._band_window(band, ins.ih0, ih, r0, n_r, c0, n_c, fill, work)
        # [n_cb, rows, columns, CBC]: reduce the columns, then the rows, of every window
        red = np.maximum if is_max else np.add

        def column_taps(b: int) -> np.ndarray:
            # a strided tap moves whole words (one integer each) into a contiguous copy: an
            # element-wise reduction over 8-element runs would be several times slower
            if sw == 1:
                return xp[:, :, b : b + ow]
            return _word_taps(xp, 2, b, ow, sw)

        cols: npt.NDArray[Any] = column_taps(0).astype(work)
        for b in range(1, kw):
            red(cols, column_taps(b), out=cols)
        v = cols[:, _taps(0, ins.n_oh, sh)].copy()
        for a in range(1, kh):
            red(v, cols[:, _taps(a, ins.n_oh, sh)], out=v)
        if is_max:
            y = np.clip(v, pool.qmin, pool.qmax)
        else:
            areas = (he - hs)[:, None] * (we - ws)[None, :]
            m, s = self._pool_divisors(i, ins, pool, areas)
            y = np.clip(
                arith.round_shift(v * m[None, :, :, None], s[None, :, :, None]),
                pool.qmin,
                pool.qmax,
            )
        idx = self._tile_words(ins.out_base, ins.n_cb, ins.oh0, ins.n_oh, oh_total, ow, ins.out_map)
        self._check_words(i, ins, self.output, "output", idx, "out_base")
        y = y.reshape(ins.n_cb, ins.n_oh * ow, cbc)
        self._write("output", idx)
        self._set(self.output, idx, self._store_elements(y, prec))

    def _pool_divisors(
        self, i: int, ins: PoolTile, pool: ConfigPool, areas: I64
    ) -> tuple[I64, I64]:
        """Per output pixel ``(M_A, S_A)`` from the divisor table at ``PAR[p_base]``."""
        pr = self._range(i, ins, self.params, "params", ins.p_base, 1, "p_base")
        self._read("params", pr)
        slots = np.ascontiguousarray(self.params[pr]).view("<u8").reshape(-1)[: pool.n_area]
        keys = (slots & np.uint64(0xFFFFFFFF)).astype(np.int64)
        ms = ((slots >> np.uint64(32)) & np.uint64(0xFFFF)).astype(np.int64)
        ss = ((slots >> np.uint64(48)) & np.uint64(0x3F)).astype(np.int64)
        uniq, inv = np.unique(areas, return_inverse=True)
        m_u = np.empty(uniq.size, dtype=np.int64)
        s_u = np.empty(uniq.size, dtype=np.int64)
        for j, a in enumerate(uniq.tolist()):
            hit = np.flatnonzero(keys == a)
            if not hit.size:
                raise self._fault(
                    i,
                    ins,
                    ErrorCode.AREA_NOT_FOUND,
                    f"window area {a} is not among the {pool.n_area} divisor-table keys "
                    f"{keys.tolist()} at params word {ins.p_base}",
                    "p_base",
                )
            k = int(hit[0])
            if not 1 <= ss[k] <= 63:
                raise self._fault(
                    i,
                    ins,
                    ErrorCode.FIELD_RANGE,
                    f"divisor-table slot {k} (area {a}) has S = {int(ss[k])}, outside 1..63",
                    "p_base",
                )
            m_u[j], s_u[j] = ms[k], ss[k]
        return m_u[inv].reshape(areas.shape), s_u[inv].reshape(areas.shape)

    def _eltwise_tile(self, i: int, ins: EltwiseTile) -> None:
        elt = self._elt
        if elt is None:
            raise self._fault(
                i,
                ins,
                ErrorCode.NOT_CONFIGURED,
                "ELTWISE_TILE before any CONFIG_ELTWISE in this run",
            )
        ra = self._range(i, ins, self.input, "input", ins.a_base, ins.n_words, "a_base")
        rb = self._range(i, ins, self.input, "input", ins.b_base, ins.n_words, "b_base")
        ro = self._range(i, ins, self.output, "output", ins.out_base, ins.n_words, "out_base")
        self._read("input", ra)
        self._read("input", rb)
        self._write("output", ro)
        a = self._elements(self.input[ra], _elem_dtype(elt.precision, elt.a_signed))
        b = self._elements(self.input[rb], _elem_dtype(elt.precision, elt.b_signed))
        self.output[ro] = self._store_elements(self._eltwise(elt, a, b), elt.precision)

    def _norm_tile(self, i: int, ins: NormTile) -> None:
        """LRN across channels (``docs/isa.md`` NORM_TILE, ``docs/arithmetic.md`` 5.1)."""
        norm = self._norm
        if norm is None:
            raise self._fault(
                i, ins, ErrorCode.NOT_CONFIGURED, "NORM_TILE before any CONFIG_NORM in this run"
            )
        prec = norm.precision
        cbc = block_channels(self.cfg, prec)
        h, w = norm.in_h, norm.in_w
        if ins.oh0 + ins.n_oh > h:
            raise self._fault(
                i,
                ins,
                ErrorCode.FIELD_RANGE,
                f"rows [{ins.oh0}, {ins.oh0 + ins.n_oh}) beyond the map's {h} rows",
                "n_oh",
            )
        if ins.oh0 < ins.ih0 or ins.oh0 + ins.n_oh > ins.ih0 + ins.in_rows:
            bad = ins.oh0 if ins.oh0 < ins.ih0 else ins.oh0 + ins.n_oh - 1
            raise self._fault(
                i,
                ins,
                ErrorCode.INPUT_NOT_RESIDENT,
                f"row {bad} is normalised but only rows [{ins.ih0}, {ins.ih0 + ins.in_rows}) are "
                "resident",
                "ih0",
            )
        band = self._resident_band(
            i, ins, ins.in_base, ins.n_cb, ins.in_rows, w, _elem_dtype(prec, norm.in_signed)
        )
        band = band[:, ins.oh0 - ins.ih0 : ins.oh0 - ins.ih0 + ins.n_oh]
        # pixel-major [n_oh * W, channels]: the channel window runs along the contiguous axis
        x = _transpose_words(band, (1, 2, 0)).reshape(ins.n_oh * w, -1)
        # the factor table: NORM_LUT_ENTRIES little-endian uint16 over consecutive params words
        pwb = self.params.shape[1]
        n_words = -(-2 * NORM_LUT_ENTRIES // pwb)
        pr = self._range(i, ins, self.params, "params", ins.p_base, n_words, "p_base")
        self._read("params", pr)
        raw = np.ascontiguousarray(self.params[pr]).reshape(-1)[: 2 * NORM_LUT_ENTRIES]
        y = self._lrn(
            x,
            raw.view("<u2"),
            norm.lut_shift,
            norm.frac_bits,
            norm.local_size,
            norm.qmin,
            norm.qmax,
        )
        idx = self._tile_words(ins.out_base, ins.n_cb, ins.oh0, ins.n_oh, h, w, ins.out_map)
        self._check_words(i, ins, self.output, "output", idx, "out_base")
        words = self._store_elements(y.reshape(ins.n_oh * w, ins.n_cb, cbc), prec)
        self._write("output", idx)
        self._set(self.output, idx, _transpose_words(words, (1, 0)))

    def _lrn(
        self,
        x: np.ndarray,
        lut: npt.NDArray[np.uint16],
        shift: int,
        frac: int,
        local_size: int,
        qmin: int,
        qmax: int,
    ) -> np.ndarray:
        """:func:`edge_dnn.quant.arith.lrn_int` over the channels (axis 1) of pixel-major
        ``[pixels, channels]`` 8-bit elements, on int32 (int64 for 16-bit data or parameters
        outside the fast path's range: then ``lrn_int`` itself, which also rejects them).

        Same steps: window sums of squares from a cumulative sum (``|x| <= 255``: every sum
        of at most ``channels + 1`` squares stays below 2**31 when checked so), the table
        index ``lrn_index(ss >> shift)`` through a table of ``lrn_index`` over ``[0, 2**19)``
        (it saturates at 255 from ``2**19 - 1`` on, and it is monotone), the factor, the
        round-shift ``(p >> F) + ((p >> (F - 1)) & 1)`` of ``p = x * f < 2**24``, the clamp.
        """
        p, c = x.shape
        if (
            x.itemsize != 1
            or not arith.LRN_FRAC_MIN <= frac <= arith.LRN_FRAC_MAX
            or not 0 <= shift <= 30
            or qmin > qmax
            or (c + 1) * 255 * 255 >= 1 << 31
        ):
            return arith.lrn_int(x, lut.astype(np.int64), shift, frac, local_size, qmin, qmax)
        half = (local_size - 1) // 2
        x32 = x.astype(np.int32)
        # ext[:, half + j] = sum of the squares of channels [0, j), j in [0, c]; zeros before,
        # the total after: the window [j - half, j + half] is ext[j + 2 half + 1] - ext[j]
        ext = np.empty((p, c + 2 * half + 1), dtype=np.int32)
        ext[:, : half + 1] = 0
        np.cumsum(x32 * x32, axis=1, dtype=np.int32, out=ext[:, half + 1 : half + 1 + c])
        ext[:, half + 1 + c :] = ext[:, half + c : half + c + 1]
        ss = ext[:, 2 * half + 1 : 2 * half + 1 + c] - ext[:, :c]
        ss >>= shift
        np.minimum(ss, _LRN_CODES - 1, out=ss)
        key = lut.tobytes()
        factors = self._lrn_tables.get(key)
        if factors is None:
            factors = lut.astype(np.int32)[_lrn_codes()]
            self._lrn_tables[key] = factors
        prod = np.take(factors, ss)
        prod *= x32
        # (p >> F) + ((p >> (F - 1)) & 1), as r = p >> (F - 1), then (r >> 1) + (r & 1)
        np.right_shift(prod, frac - 1, out=prod)
        odd = prod & 1
        prod >>= 1
        prod += odd
        return np.clip(prod, qmin, qmax, out=prod)


_LRN_CODES = 1 << 19
_LRN_CODE_TABLE: list[I64] = []


def _lrn_codes() -> I64:
    """``arith.lrn_index`` of every value in ``[0, 2**19)`` (built once)."""
    if not _LRN_CODE_TABLE:
        _LRN_CODE_TABLE.append(arith.lrn_index(np.arange(_LRN_CODES, dtype=np.int64)))
    return _LRN_CODE_TABLE[0]


__all__ = ["ACC_LIMIT", "Engine", "EngineCounters", "EngineStatus"]
