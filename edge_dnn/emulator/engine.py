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

Compute is vectorised: a COMPUTE_TILE is an im2col and one float64 GEMM (exact: every partial
sum is an integer below 2**53, checked per tile, else an int64 GEMM is used), a depthwise tile
one multiply-add per kernel tap, pooling one max / add per tap, LRN a cumulative sum of squares
over the channels of every pixel.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from edge_dnn.emulator.errors import EngineFault
from edge_dnn.emulator.ports import Bytes, InPort, OutPort
from edge_dnn.emulator.races import BufferRaceError, Index, RaceChecker
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
# float64 elements of one im2col block: the block stays in the last-level cache.
_COLS_BUDGET = 1 << 21
# A pooling sentinel below every int16 value: padding never wins a MAX.
_NEG = np.int64(-(1 << 40))


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
        w = self._words[base : base + INSTR_WORDS]
        try:
            ins = decode(w, base, i)
        except IsaError as e:
            self._fail(EngineFault.from_isa(e))
        self._crc = zlib.crc32(w.astype("<u4").tobytes(), self._crc)
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
        for t in Token:
            if ins.wait & int(t) and self._tokens[t] == 0:
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
        for t in Token:
            if ins.wait & int(t):
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
        for t in Token:
            if ins.signal & int(t):
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
        cycles = self.timing.instruction_cycles(
            ins, self._conv, self._pool, self._elt, norm=self._norm
        )
        self._timeline.issue(
            unit, cycles, ins.wait, ins.signal, barrier=isinstance(ins, Sync | End)
        )
        c = self.counters
        c.instructions += 1
        c.by_opcode[ins.OPCODE.name] += 1
        c.macs += macs
        c.serial_cycles += cycles
        c.cycles = self._timeline.total
        if unit != Unit.DEC:
            c.unit_busy[unit.name] += cycles
            c.tag_cycles[ins.tag] += cycles

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
        top = int(idx.max()) if idx.size else 0
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
        if precision == Precision.INT16:
            v = (y & 0xFFFF).astype("<u2")
        else:
            v = (y & 0xFF).astype(np.uint8)
        v = np.ascontiguousarray(v)
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
    def _store(self, i: int, ins: StoreTile) -> None:
        blk = np.arange(ins.n_blocks, dtype=np.int64)[:, None]
        j = np.arange(ins.block_words, dtype=np.int64)[None, :]
        src = (ins.src_base + blk * ins.src_pitch + j).reshape(-1)
        self._check_index(i, ins, self.output, "output", src, "src_base")
        self._read("output", src)
        words = self.output[src]
        if ins.loopback:
            dst = (ins.dst_base + blk * ins.dst_pitch + j).reshape(-1)
            self._check_index(i, ins, self.input, "input", dst, "dst_base")
            self._write("input", dst)
            self.input[dst] = words
            return
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
    def _resident_map(
        self,
        i: int,
        ins: Instruction,
        in_base: int,
        n_cb: int,
        ih0: int,
        in_rows: int,
        in_w: int,
        dtype: np.dtype[Any],
    ) -> I64:
        """The resident band as int64 ``[n_cb * CBC, in_rows, IW]``."""
        rng = self._range(i, ins, self.input, "input", in_base, n_cb * in_rows * in_w, "in_base")
        self._read("input", rng)
        x = self._elements(self.input[rng], dtype)
        cbc = x.shape[1]
        x = x.reshape(n_cb, in_rows, in_w, cbc).transpose(0, 3, 1, 2)
        return x.reshape(n_cb * cbc, in_rows, in_w)

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

    @staticmethod
    def _local_window(
        x: I64,
        ih0: int,
        in_h: int,
        r0: int,
        n_r: int,
        c0: int,
        n_c: int,
        fill: int,
        dtype: npt.DTypeLike,
    ) -> np.ndarray:
        """Rows ``[r0, r0 + n_r)`` x columns ``[c0, c0 + n_c)`` of the map (``fill`` outside
        the map or the resident rows), from the resident band ``x`` starting at row ``ih0``."""
        in_rows, in_w = x.shape[1], x.shape[2]
        out = np.full((x.shape[0], n_r, n_c), fill, dtype=dtype)
        lo = max(r0, 0, ih0)
        hi = min(r0 + n_r, in_h, ih0 + in_rows)
        clo = max(c0, 0)
        chi = min(c0 + n_c, in_w)
        if lo < hi and clo < chi:
            out[:, lo - r0 : hi - r0, clo - c0 : chi - c0] = x[:, lo - ih0 : hi - ih0, clo:chi]
        return out

    @staticmethod
    def _tile_index(
        out_base: int, n_cb: int, oh0: int, n_oh: int, oh_total: int, ow: int, out_map: bool
    ) -> I64:
        ob = np.arange(n_cb, dtype=np.int64)[:, None]
        first = ob * (oh_total * ow) + oh0 * ow if out_map else ob * (n_oh * ow)
        return out_base + first + np.arange(n_oh * ow, dtype=np.int64)[None, :]

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
        sub = sub_steps(cfg, prec)
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

        # input band, residency of every tapped row
        x = self._resident_map(
            i,
            ins,
            ins.in_base,
            ins.in_cb,
            ins.ih0,
            ins.in_rows,
            conv.in_w,
            _elem_dtype(prec, conv.in_signed),
        )
        oh = np.arange(ins.oh0, ins.oh0 + ins.n_oh, dtype=np.int64)
        rows = (oh[:, None] * conv.stride_h - conv.pad_h + np.arange(kh) * conv.dilation_h).ravel()
        self._check_resident(i, ins, rows, conv.in_h, ins.ih0, ins.in_rows)

        # weights (docs/engine.md 6.2) and params (6.3) of the tile's PE groups
        n_groups = -(-n_out // g)
        wg = conv_weight_words(cfg, prec, ins.in_cb, kh, kw, conv.depthwise)
        wr = self._range(i, ins, self.weight, "weight", ins.w_base, n_groups * wg, "w_base")
        wdt = np.dtype("<i2") if prec == Precision.INT16 else np.dtype(np.int8)
        welems = np.ascontiguousarray(self.weight[wr]).view(wdt).reshape(n_groups, wg, g, ic)
        pr = self._range(i, ins, self.params, "params", ins.p_base, n_groups, "p_base")
        self._read("weight", wr)
        self._read("params", pr)
        bias, m, s = self._conv_params(self.params[pr], prec, n_out)

        # the exact integer sums
        r0 = ins.oh0 * conv.stride_h - conv.pad_h
        n_r = (ins.n_oh - 1) * conv.stride_h + (kh - 1) * conv.dilation_h + 1
        c0 = -conv.pad_w
        n_c = (ow - 1) * conv.stride_w + (kw - 1) * conv.dilation_w + 1
        xp = self._local_window(x, ins.ih0, conv.in_h, r0, n_r, c0, n_c, 0, np.float64)
        if conv.depthwise:
            taps = welems.transpose(0, 2, 1, 3).reshape(n_groups * g, wg * ic)[:n_out, : kh * kw]
            acc = self._depthwise_sum(xp, taps.reshape(n_out, kh, kw), conv, ins.n_oh)
        else:
            w = welems.reshape(n_groups, ins.in_cb, kh, kw, sub, g, ic)
            w = w.transpose(0, 5, 1, 4, 6, 2, 3).reshape(n_groups * g, ins.in_cb * cbc, kh, kw)
            acc = self._dense_sum(xp, w[:n_out], conv, ins.n_oh)

        # kept is None exactly when acc_first (checked above)
        acc = acc + (bias[:, None, None] if kept is None else kept.acc)
        big = np.abs(acc) >= ACC_LIMIT
        if big.any():
            c, r, col = (int(v[0]) for v in np.nonzero(big))
            raise self._fault(
                i,
                ins,
                ErrorCode.ACC_OVERFLOW,
                f"|acc| = {abs(int(acc[c, r, col]))} >= 2**47 at channel {c}, output row "
                f"{ins.oh0 + r}, column {col} (the hardware wraps at 48 bits)",
            )
        macs = self.timing.compute_macs(conv, ins)
        if not ins.acc_last:
            self._kept = _Kept(i, ins.oh0, ins.n_oh, ins.out_cb, acc)
            return macs
        self._kept = None
        bad = np.flatnonzero((s < 1) | (s > 63))
        if bad.size:
            c = int(bad[0])
            raise self._fault(
                i,
                ins,
                ErrorCode.FIELD_RANGE,
                f"params slot of output channel {c} (params word {ins.p_base + c // g}) has "
                f"S = {int(s[c])}, outside 1..63",
                "p_base",
            )
        y = arith.round_shift(acc * m[:, None, None], s[:, None, None])
        y = np.clip(y, conv.qmin, conv.qmax)

        idx = self._tile_index(
            ins.out_base, ins.out_cb, ins.oh0, ins.n_oh, oh_total, ow, ins.out_map
        )
        self._check_index(i, ins, self.output, "output", idx, "out_base")
        # [out_cb, CBC, n_oh * OW] -> [out_cb, n_oh * OW, CBC]
        y = y.reshape(ins.out_cb, cbc, ins.n_oh * ow).transpose(0, 2, 1)
        if ins.fuse_eltwise:
            y = self._fused_eltwise(i, ins, y, idx - ins.out_base + ins.res_base, prec)
        self._write("output", idx.reshape(-1))
        self.output[idx.reshape(-1)] = self._store_elements(y, prec).reshape(-1, self.cb)
        return macs

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

    @staticmethod
    def _dense_sum(xp: F64, w: np.ndarray, conv: ConfigConv, n_oh: int) -> I64:
        """Exact ``sum_{ci, kh, kw} x * w`` for every channel and pixel, int64 ``[O, n_oh, OW]``.

        float64 GEMM over im2col columns when every partial sum is provably below 2**53
        (``max|x| * max_c sum|w[c]|``), int64 GEMM otherwise.
        """
        c = xp.shape[0]
        o, _, kh, kw = w.shape
        ow = conv.out_w
        sh, sw, dh, dw = conv.stride_h, conv.stride_w, conv.dilation_h, conv.dilation_w
        wm = w.reshape(o, c * kh * kw)
        # float64 before abs: abs(-128) wraps in int8
        bound = float(np.abs(xp).max(initial=0.0)) * float(
            np.abs(wm.astype(np.float64)).sum(axis=1).max(initial=0.0)
        )
        exact = bound < _EXACT_F64
        wmat = wm.astype(np.float64) if exact else wm.astype(np.int64)
        src = xp if exact else xp.astype(np.int64)
        out = np.empty((o, n_oh * ow), dtype=wmat.dtype)
        rows = max(1, min(n_oh, _COLS_BUDGET // max(1, c * kh * kw * ow)))
        for r0 in range(0, n_oh, rows):
            r = min(rows, n_oh - r0)
            cols = np.empty((c, kh, kw, r, ow), dtype=wmat.dtype)
            for a in range(kh):
                rs = _taps(r0 * sh + a * dh, r, sh)
                for b in range(kw):
                    cols[:, a, b] = src[:, rs, _taps(b * dw, ow, sw)]
            out[:, r0 * ow : (r0 + r) * ow] = wmat @ cols.reshape(c * kh * kw, r * ow)
        return out.astype(np.int64).reshape(o, n_oh, ow)

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
        self, i: int, ins: ComputeTile, y: I64, res_idx: I64, prec: Precision
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
        self._check_index(i, ins, self.input, "input", res_idx, "res_base")
        self._read("input", res_idx.reshape(-1))
        b = self._elements(self.input[res_idx.reshape(-1)], _elem_dtype(prec, elt.b_signed))
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
        x = self._resident_map(
            i,
            ins,
            ins.in_base,
            ins.n_cb,
            ins.ih0,
            ins.in_rows,
            iw,
            _elem_dtype(prec, pool.in_signed),
        )
        is_max = pool.kind == PoolKind.MAX
        r0, c0 = int(hs[0]), int(ws[0])
        n_r = (ins.n_oh - 1) * sh + kh
        n_c = (ow - 1) * sw + kw
        fill = int(_NEG) if is_max else 0
        # taps outside [rlo, rhi) are padding / overhang (or rows between windows): the fill
        # value never wins a max and adds nothing to a sum
        xp = self._local_window(x, ins.ih0, ih, r0, n_r, c0, n_c, fill, np.int64)
        red = np.maximum if is_max else np.add
        cols = xp[:, :, _taps(0, ow, sw)].copy()
        for b in range(1, kw):
            red(cols, xp[:, :, _taps(b, ow, sw)], out=cols)
        v = cols[:, _taps(0, ins.n_oh, sh)].copy()
        for a in range(1, kh):
            red(v, cols[:, _taps(a, ins.n_oh, sh)], out=v)
        if is_max:
            y = np.clip(v, pool.qmin, pool.qmax)
        else:
            areas = (he - hs)[:, None] * (we - ws)[None, :]
            m, s = self._pool_divisors(i, ins, pool, areas)
            y = np.clip(arith.round_shift(v * m[None], s[None]), pool.qmin, pool.qmax)
        idx = self._tile_index(ins.out_base, ins.n_cb, ins.oh0, ins.n_oh, oh_total, ow, ins.out_map)
        self._check_index(i, ins, self.output, "output", idx, "out_base")
        y = y.reshape(ins.n_cb, cbc, ins.n_oh * ow).transpose(0, 2, 1)
        self._write("output", idx.reshape(-1))
        self.output[idx.reshape(-1)] = self._store_elements(y, prec).reshape(-1, self.cb)

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
        x = self._resident_map(
            i,
            ins,
            ins.in_base,
            ins.n_cb,
            ins.ih0,
            ins.in_rows,
            w,
            _elem_dtype(prec, norm.in_signed),
        )
        x = x[:, ins.oh0 - ins.ih0 : ins.oh0 - ins.ih0 + ins.n_oh]
        # the factor table: NORM_LUT_ENTRIES little-endian uint16 over consecutive params words
        pwb = self.params.shape[1]
        n_words = -(-2 * NORM_LUT_ENTRIES // pwb)
        pr = self._range(i, ins, self.params, "params", ins.p_base, n_words, "p_base")
        self._read("params", pr)
        raw = np.ascontiguousarray(self.params[pr]).reshape(-1)[: 2 * NORM_LUT_ENTRIES]
        lut = raw.view("<u2").astype(np.int64)
        y = arith.lrn_int(
            x[None],
            lut,
            norm.lut_shift,
            norm.frac_bits,
            norm.local_size,
            norm.qmin,
            norm.qmax,
        )[0]
        idx = self._tile_index(ins.out_base, ins.n_cb, ins.oh0, ins.n_oh, h, w, ins.out_map)
        self._check_index(i, ins, self.output, "output", idx, "out_base")
        y = y.reshape(ins.n_cb, cbc, ins.n_oh * w).transpose(0, 2, 1)
        self._write("output", idx.reshape(-1))
        self.output[idx.reshape(-1)] = self._store_elements(y, prec).reshape(-1, self.cb)


__all__ = ["ACC_LIMIT", "Engine", "EngineCounters", "EngineStatus"]
