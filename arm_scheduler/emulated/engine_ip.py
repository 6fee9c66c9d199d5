"""The edge-dnn engine as an IP on the emulated board: AXI-Lite registers and AXI-Stream ports.

:class:`EmulatedEngineIP` is the register model of the engine's AXI-Lite slave (mapped at
``cfg.engine.base_address``) wrapped around the bit-exact port-level
:class:`edge_dnn.emulator.Engine`. :func:`connect_overlay` plugs every stream of the overlay into
its AXI DMA channel (``[dma.*]`` ``mm2s`` / ``s2mm``), so that software drives a whole engine
step exactly as on the board: descriptor chains on the DMA channels, ``CONTROL.START``, then
polling of ``STATUS`` or of the DMA status registers. pynq-free, like the DMA model.

**Registers** are the overlay's ``[registers]`` table (``docs/overlay.md``), with the access
each entry declares:

* ``CONTROL`` (rw): ``START`` (self-clearing) takes the next command-stream packet from the
  ``cmd`` stream and runs it; ``SOFT_RESET`` (self-clearing) returns to idle, flushes every
  stream FIFO (command stream included) and ends an injected hang; ``IRQ_ENABLE`` is stored;
  ``CLEAR_COUNTERS`` (self-clearing) zeroes the counters. With both START and SOFT_RESET in one
  write the reset happens first.
* ``STATUS`` (ro): ``IDLE`` (no run in progress), ``BUSY`` (START accepted: waiting for the
  command packet, running, stalled on an input stream, or hung), ``DONE``, ``ERROR`` and
  ``ERROR_CODE`` (:class:`edge_dnn.isa.ErrorCode`); DONE / ERROR stay set until the next START
  or SOFT_RESET.
* ``IRQ_STATUS`` (w1c): pending ``DONE`` / ``ERROR`` causes, set at the end of a run whatever
  ``IRQ_ENABLE`` says; the interrupt line (:attr:`EmulatedEngineIP.interrupt`) is their OR gated
  by ``IRQ_ENABLE``. SOFT_RESET clears them.
* identity registers (ro): ``cfg.derived.identity_words`` (the values the generated header
  publishes as ``EDNN_REG_*_VALUE``; computed once by :mod:`edge_dnn.overlay.config`).
* counters (ro, ``_LO`` / ``_HI`` pairs are 64-bit, reading ``_LO`` latches ``_HI``), since
  START or the last CLEAR_COUNTERS: ``CNT_CYCLES`` = the engine's modelled fabric cycles
  (:class:`edge_dnn.emulator.Timeline`), ``CNT_BUSY`` = busy cycles of the CMP unit (PE array
  and vector unit), ``CNT_COMMANDS`` = completed instructions. ``CNT_STALL_IN`` /
  ``CNT_STALL_OUT`` read 0: the timing model has no DMA / DDR back-pressure.
* ``ERROR_INDEX`` (the register ``docs/engine.md`` proposes), if the table has it: the index of
  the faulting instruction, ``0xFFFFFFFF`` when there is none.
* any other ``rw`` register (``SCRATCH``) is plain storage; ``wo`` registers read 0.

Reading or writing an offset that holds no register raises :class:`UnmappedAddressError` (the
bus error of :mod:`arm_scheduler.emulated.bus`); writing a ``ro`` register raises
:class:`RegisterAccessError`. Writing START while a run is in progress raises
:class:`EngineProgrammingError` (the hardware ignores it, and software then waits forever).

**Progress.** The engine runs eagerly, like the DMA model: START executes as much of the
command stream as the data already queued allows, and every chunk an MM2S channel pushes into
a stream port resumes a stalled engine inside that push; results go out through the S2MM
channels as they are produced. Reading a control or counter register, :meth:`service` and the
device's ``pump()`` also let it progress. Stream FIFOs are unbounded, so MM2S transfers always
complete. Runtime checks that the hardware does not have (the buffer race checker) raise their
exception out of the register access or DMA transfer that made the engine run.

**Time.** After every instruction the board's :class:`SimulatedClock` is moved to
``START time + EngineCounters.cycles`` (the concurrent schedule of
:class:`edge_dnn.emulator.Timeline`) at ``cfg.clocks.fabric_mhz``; only then are the S2MM
channels told about the packets that instruction produced (:class:`OutputPort`). So DMA
completion timestamps and ``now_ns`` read after a run include the modelled latency, and
:attr:`EmulatedEngineIP.runs` records each run's ``start_ns`` / ``end_ns`` / cycles. The IP owns
``engine.on_complete`` for this. DMA transfers themselves take no simulated time.

**Faults** (:meth:`EmulatedEngineIP.inject_fault`, one shot each, armed faults survive
SOFT_RESET, their effect does not):

* :attr:`EngineIpFault.HANG`: the next START never completes: STATUS stays BUSY, nothing is
  consumed or produced, until SOFT_RESET.
* :attr:`EngineIpFault.CORRUPT_COMMAND`: flips one bit of a command word received after the
  fault is armed (default: bit 0 of the very next word, the header magic, ``BAD_MAGIC``; a
  header word gives ``HEADER_CRC``, an instruction word ``INSTR_CRC``).
* DMA faults: :meth:`EmulatedOverlay.inject_dma_fault` arms an
  :class:`~arm_scheduler.emulated.axi_dma.DmaFault` on the channel of a stream.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
from collections.abc import Callable

import numpy as np

from arm_scheduler.emulated.axi_dma import MM2S, S2MM, AxiDma, DmaFault
from arm_scheduler.emulated.bus import SimulatedClock
from arm_scheduler.emulated.errors import (
    EmulationConfigError,
    EmulationError,
    RegisterAccessError,
    UnmappedAddressError,
)
from edge_dnn.emulator.engine import Engine, EngineCounters, EngineStatus
from edge_dnn.emulator.errors import EngineFault
from edge_dnn.emulator.ports import InPort, OutPort, as_bytes
from edge_dnn.isa import ErrorCode
from edge_dnn.overlay.config import OverlayConfig, Register

__all__ = [
    "ENGINE_WINDOW",
    "EmulatedEngineIP",
    "EmulatedOverlay",
    "EngineIpFault",
    "EngineIpState",
    "EngineProgrammingError",
    "EngineRun",
    "OutputPort",
    "connect_overlay",
]

ENGINE_WINDOW = "engine"
"""Name of the engine's register window on the emulated bus."""
_MASK32 = 0xFFFF_FFFF
_NO_INDEX = 0xFFFF_FFFF


class EngineProgrammingError(EmulationError):
    """Software drove the emulated engine in a way the hardware would turn into a hang (START
    while a run is in progress)."""


class EngineIpFault(enum.Enum):
    """Faults :meth:`EmulatedEngineIP.inject_fault` can arm (the DMA ones are
    :class:`~arm_scheduler.emulated.axi_dma.DmaFault`)."""

    HANG = "hang"
    """The next START never signals DONE (STATUS stays BUSY) until SOFT_RESET."""
    CORRUPT_COMMAND = "corrupt_command"
    """One bit of a command word received later is flipped (the decoder's CRC checks catch it)."""


class EngineIpState(enum.Enum):
    """Where the engine IP is (what ``STATUS`` summarises)."""

    IDLE = "idle"
    """Reset state: nothing started since the last SOFT_RESET."""
    FETCH = "fetch"
    """START accepted, the command packet (TLAST) has not fully arrived yet."""
    RUN = "run"
    """Executing, or stalled waiting for an input stream (:attr:`EmulatedEngineIP.stalled_on`)."""
    HUNG = "hung"
    """An injected HANG holds the engine until SOFT_RESET."""
    DONE = "done"
    ERROR = "error"


_BUSY_STATES = (EngineIpState.FETCH, EngineIpState.RUN, EngineIpState.HUNG)


@dataclasses.dataclass(frozen=True)
class EngineRun:
    """One engine run (START to DONE, ERROR or a SOFT_RESET that abandoned it).

    Attributes:
        index: Run number since the IP was created (0 first).
        outcome: ``done``, ``error`` or ``reset``.
        start_ns: Simulated time of the START write, ns.
        end_ns: Simulated time when it ended, ns.
        cycles: Modelled fabric cycles of the run (``CNT_CYCLES``).
        instructions: Completed instructions (``CNT_COMMANDS``).
        error_code: ``STATUS.ERROR_CODE`` (``ErrorCode.NONE`` unless ``outcome == "error"``).
        fault: The emulator's exception with the full diagnosis (instruction, opcode, field,
            tag), for ``outcome == "error"``.
    """

    index: int
    outcome: str
    start_ns: int
    end_ns: int
    cycles: int
    instructions: int
    error_code: ErrorCode = ErrorCode.NONE
    fault: EngineFault | None = None


@dataclasses.dataclass(frozen=True)
class _Corruption:
    byte: int
    """Absolute index (in the command port's ``bytes_in``) of the byte to corrupt."""
    mask: int


class _CommandPort(InPort):
    """The engine's ``cmd`` stream FIFO: an :class:`InPort` that can corrupt a received bit."""

    def __init__(self, name: str, width_bytes: int) -> None:
        super().__init__(name, "cmd", width_bytes)
        self.corruptions: list[_Corruption] = []

    def push(self, data: object, last: bool = True) -> bool:
        """``StreamSink`` protocol; applies armed corruptions that fall inside this chunk."""
        b = as_bytes(data)
        lo, hi = self.bytes_in, self.bytes_in + int(b.size)
        hits = [c for c in self.corruptions if lo <= c.byte < hi]
        if hits:
            b = b.copy()
            for c in hits:
                b[c.byte - lo] ^= np.uint8(c.mask)
                self.corruptions.remove(c)
        return super().push(b, last)

    def take_packet(self) -> np.ndarray | None:
        """The oldest complete packet (up to its TLAST), or None if no TLAST has arrived."""
        if not self.queued_bytes:
            return None
        r = self.peek_packet(self.queued_bytes + 1)
        if r.status != "early":
            return None
        return self.take(r.available)


class OutputPort:
    """The S2MM side of an engine output stream (``StreamSource`` protocol).

    Reads the engine's :class:`~edge_dnn.emulator.ports.OutPort`; its subscribers (the S2MM
    channel) are notified when the instruction that produced data has completed and the
    simulated clock has reached its modelled end, so DMA completion timestamps carry the
    engine's latency.
    """

    def __init__(self, port: OutPort) -> None:
        self.port = port
        self.name = port.name
        self._listeners: list[Callable[[], None]] = []
        self._seen = 0

    def pull(self, max_bytes: int) -> tuple[np.ndarray, bool] | None:
        """Up to ``max_bytes`` bytes of the oldest packet and whether they end it, or None."""
        return self.port.pull(max_bytes)

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever a completed instruction has produced a packet."""
        self._listeners.append(callback)

    def notify_new(self) -> None:
        """Notify the subscribers if packets were emitted since the last call."""
        if self.port.packets_out != self._seen:
            self._seen = self.port.packets_out
            for cb in list(self._listeners):
                cb()

    def __len__(self) -> int:
        """Packets queued (the rest of a partly pulled one counts)."""
        return len(self.port)


_COUNTER_SOURCES: dict[str, Callable[[EngineCounters], int]] = {
    "CNT_CYCLES": lambda c: c.cycles,
    "CNT_BUSY": lambda c: c.unit_busy.get("CMP", 0),
    "CNT_STALL_IN": lambda c: 0,
    "CNT_STALL_OUT": lambda c: 0,
    "CNT_COMMANDS": lambda c: c.instructions,
}


class EmulatedEngineIP:
    """Register model of the engine IP (see the module docstring for the behaviour).

    Args:
        cfg: The overlay configuration (register table, engine geometry, streams, clock).
        clock: The board's simulated clock, advanced by the engine's modelled cycles (default:
            a private clock).
        check_races: Let the engine check buffer races between units (``Engine(check_races)``).

    Attributes:
        cfg: The overlay configuration.
        engine: The port-level :class:`edge_dnn.emulator.Engine` (its buffers and counters may
            be inspected; drive it through the registers and ports, not directly).
        registers: Register name -> :class:`edge_dnn.overlay.config.Register` (offset, access,
            group, bit fields, doc), in table order.
        runs: :class:`EngineRun` of every finished run, oldest first (the last 1000).
        last_fault: The emulator's exception for the last ERROR (None after a success/reset).
    """

    def __init__(
        self, cfg: OverlayConfig, clock: SimulatedClock | None = None, *, check_races: bool = True
    ) -> None:
        self.cfg = cfg
        self.clock = clock if clock is not None else SimulatedClock()
        self.engine = Engine(cfg, check_races=check_races)
        self.registers: dict[str, Register] = {r.name: r for r in cfg.registers}
        self._by_offset: dict[int, Register] = {r.offset: r for r in cfg.registers}
        self._identity = dict(cfg.derived.identity_words)
        cmd = cfg.streams_with_role("cmd")
        if len(cmd) != 1:
            raise EmulationConfigError(
                f"overlay '{cfg.name}': the engine IP needs exactly one 'cmd' stream, found "
                f"{len(cmd)}"
            )
        self.cmd_port = _CommandPort(cmd[0].name, cmd[0].bytes_per_beat)
        """The ``cmd`` stream's input FIFO (the engine itself has no port for it)."""
        for port in (self.cmd_port, *(self.engine.port(n) for n in self.engine.input_streams)):
            port.subscribe(self._on_stream_data)
        self._outputs = {
            n: OutputPort(self.engine.output_port(n)) for n in self.engine.output_streams
        }
        # owned by the IP: it moves the clock and releases outputs per completed instruction
        self.engine.on_complete = self._on_instruction
        self._ctrl = self.registers["CONTROL"]
        self._status = self.registers["STATUS"]
        self._irq = self.registers.get("IRQ_STATUS")
        self._stored: dict[int, int] = {
            r.offset: 0 for r in cfg.registers if r.access == "rw" and r.group != "identity"
        }
        self._latched: dict[str, int] = {}
        self._baseline: dict[str, int] = {}
        self.state = EngineIpState.IDLE
        self._irq_pending = 0
        self._pending: list[EngineIpFault] = []
        self._in_service = False
        self._again = False
        self._run_index = 0
        self._run_start_ns = 0
        self._run_ns = 0
        self.runs: collections.deque[EngineRun] = collections.deque(maxlen=1000)
        self.last_fault: EngineFault | None = None

    # ------------------------------------------------------------------------ stream ports
    def sink(self, stream: str) -> InPort:
        """The input port (``StreamSink``) of MM2S stream ``stream`` (``cmd`` included).

        Raises:
            EmulationConfigError: not an input stream of the overlay.
        """
        if stream == self.cmd_port.name:
            return self.cmd_port
        if stream in self.engine.input_streams:
            return self.engine.port(stream)
        raise EmulationConfigError(
            f"'{stream}' is not an input stream of overlay '{self.cfg.name}' (input streams: "
            f"{', '.join([self.cmd_port.name, *self.engine.input_streams])})"
        )

    def source(self, stream: str) -> OutputPort:
        """The output port (``StreamSource``) of S2MM stream ``stream``.

        Raises:
            EmulationConfigError: not an output stream of the overlay.
        """
        if stream in self._outputs:
            return self._outputs[stream]
        raise EmulationConfigError(
            f"'{stream}' is not an output stream of overlay '{self.cfg.name}' (output streams: "
            f"{', '.join(self.engine.output_streams)})"
        )

    # ------------------------------------------------------------------------ observation
    @property
    def busy(self) -> bool:
        """STATUS.BUSY: a START is in progress (fetching, running, stalled or hung)."""
        return self.state in _BUSY_STATES

    @property
    def error_code(self) -> ErrorCode:
        """STATUS.ERROR_CODE."""
        return self.engine.error_code if self.state == EngineIpState.ERROR else ErrorCode.NONE

    @property
    def stalled_on(self) -> str | None:
        """The input stream a running engine waits for (``cmd`` while fetching), or None."""
        if self.state == EngineIpState.FETCH:
            return self.cmd_port.name
        if self.state == EngineIpState.RUN:
            return self.engine.stalled_on
        return None

    @property
    def irq_enabled(self) -> bool:
        """CONTROL.IRQ_ENABLE."""
        return bool(self._stored[self._ctrl.offset] & self._bit(self._ctrl, "IRQ_ENABLE"))

    @property
    def interrupt(self) -> bool:
        """Level of the engine's interrupt output: pending causes gated by IRQ_ENABLE."""
        return bool(self._irq_pending) and self.irq_enabled

    @property
    def counters(self) -> dict[str, int]:
        """The counter values the ``CNT_*`` registers show (base name -> value)."""
        c = self.engine.counters
        return {k: max(0, f(c) - self._baseline.get(k, 0)) for k, f in _COUNTER_SOURCES.items()}

    def cycles_to_ns(self, cycles: int) -> int:
        """Fabric cycles as nanoseconds at ``cfg.clocks.fabric_mhz`` (rounded)."""
        return round(cycles * 1000.0 / self.cfg.clocks.fabric_mhz)

    def register_offset(self, name: str) -> int:
        """Byte offset of register ``name``.

        Raises:
            EmulationConfigError: no such register in the overlay's table.
        """
        try:
            return self.registers[name].offset
        except KeyError:
            raise EmulationConfigError(
                f"overlay '{self.cfg.name}' has no register '{name}' "
                f"(registers: {', '.join(self.registers)})"
            ) from None

    # ------------------------------------------------------------------------ faults
    def inject_fault(self, fault: EngineIpFault, *, word: int = 0, bit: int = 0) -> None:
        """Arm a one-shot fault.

        Args:
            fault: :attr:`EngineIpFault.HANG` (fires at the next START) or
                :attr:`EngineIpFault.CORRUPT_COMMAND`.
            word: CORRUPT_COMMAND: which command word, counted from the next word the ``cmd``
                stream receives (0 = that word: the header magic of the next command stream).
            bit: CORRUPT_COMMAND: the bit of that word to flip (0..31).

        Raises:
            EmulationConfigError: ``word`` < 0 or ``bit`` outside 0..31.
        """
        if fault is EngineIpFault.CORRUPT_COMMAND:
            if word < 0 or not 0 <= bit < 32:
                raise EmulationConfigError(
                    f"CORRUPT_COMMAND needs word >= 0 and bit in 0..31, got word={word} bit={bit}"
                )
            self.cmd_port.corruptions.append(
                _Corruption(self.cmd_port.bytes_in + 4 * word + bit // 8, 1 << (bit % 8))
            )
        else:
            self._pending.append(fault)

    @property
    def pending_faults(self) -> tuple[EngineIpFault, ...]:
        """Armed faults that have not fired yet."""
        return (
            *self._pending,
            *(EngineIpFault.CORRUPT_COMMAND for _ in self.cmd_port.corruptions),
        )

    def clear_faults(self) -> None:
        """Disarm every fault that has not fired yet."""
        self._pending.clear()
        self.cmd_port.corruptions.clear()

    # ------------------------------------------------------------------------ register model
    def read(self, offset: int) -> int:
        """32-bit register at ``offset`` (RegisterModel protocol).

        Raises:
            UnmappedAddressError: no register at ``offset``.
        """
        reg = self._register_at(offset, "read")
        if reg.group != "identity":
            self.service()
        if reg.group == "identity":
            return self._identity.get(reg.name, 0) & _MASK32
        if reg.group == "counter":
            return self._read_counter(reg.name)
        if reg is self._status:
            return self._status_word()
        if reg is self._irq:
            return self._irq_pending
        if reg.name == "ERROR_INDEX":
            idx = self.engine.error_index if self.state == EngineIpState.ERROR else None
            return _NO_INDEX if idx is None else idx & _MASK32
        if reg.access == "wo":
            return 0
        return self._stored.get(offset, 0)

    def write(self, offset: int, value: int) -> None:
        """Store the 32-bit register at ``offset`` with its side effects (RegisterModel).

        Raises:
            UnmappedAddressError: no register at ``offset``.
            RegisterAccessError: the register is read-only.
            EngineProgrammingError: START while a run is in progress.
        """
        reg = self._register_at(offset, "write")
        value &= _MASK32
        if reg.access == "ro":
            raise RegisterAccessError(
                f"write of 0x{value:08x} to read-only engine register {reg.name} "
                f"(0x{self._address(offset):x}, offset 0x{offset:03x}): {reg.doc}"
            )
        if reg is self._ctrl:
            self._write_control(value)
        elif reg.access == "w1c":
            if reg is self._irq:
                self._irq_pending &= ~value
        else:
            self._stored[offset] = value

    def service(self) -> bool:
        """Let the engine progress on data that arrived (RegisterModel ``service``).

        Returns:
            Whether any instruction completed or the run state changed.
        """
        if self._in_service:
            # Re-entered from a stream notification inside the engine's own run: loop again.
            self._again = True
            return False
        self._in_service = True
        progressed = False
        try:
            while True:
                self._again = False
                progressed |= self._step()
                if not self._again:
                    break
        finally:
            self._in_service = False
        return progressed

    def soft_reset(self) -> None:
        """``CONTROL.SOFT_RESET``: idle, stream FIFOs flushed, hang ended (buffers kept)."""
        if self.busy:
            self._finish("reset", None)
        self.engine.soft_reset()
        self.cmd_port.flush()
        self.state = EngineIpState.IDLE
        self._irq_pending = 0
        self.last_fault = None

    # ------------------------------------------------------------------------ internals
    def _address(self, offset: int) -> int:
        return self.cfg.engine.base_address + offset

    def _register_at(self, offset: int, what: str) -> Register:
        reg = self._by_offset.get(offset)
        if reg is None:
            base = self.cfg.engine.base_address
            raise UnmappedAddressError(
                self._address(offset),
                4,
                f"engine '{self.cfg.name}' window [0x{base:x}, "
                f"0x{base + self.cfg.engine.address_range:x}) has no register at offset "
                f"0x{offset:03x} ({what}; registers: "
                + ", ".join(f"{r.name}@0x{r.offset:03x}" for r in self.cfg.registers)
                + ")",
            )
        return reg

    @staticmethod
    def _bit(reg: Register, name: str) -> int:
        for f in reg.bits:
            if f.name == name:
                return f.mask
        return 0

    def _status_word(self) -> int:
        st = self._status
        v = 0
        if self.busy:
            v |= self._bit(st, "BUSY")
        else:
            v |= self._bit(st, "IDLE")
        if self.state == EngineIpState.DONE:
            v |= self._bit(st, "DONE")
        if self.state == EngineIpState.ERROR:
            v |= self._bit(st, "ERROR")
            for f in st.bits:
                if f.name == "ERROR_CODE":
                    v |= (int(self.error_code) << f.lsb) & f.mask
        return v

    def _read_counter(self, name: str) -> int:
        base, half = name, ""
        if name.endswith(("_LO", "_HI")):
            base, half = name[:-3], name[-2:]
        src = _COUNTER_SOURCES.get(base)
        if half == "HI":
            return self._latched.get(base, 0)
        value = 0 if src is None else self.counters[base]
        if half == "LO":
            self._latched[base] = (value >> 32) & _MASK32
        return value & _MASK32

    def _write_control(self, value: int) -> None:
        ctrl = self._ctrl
        actions = {n: bool(value & self._bit(ctrl, n)) for n in ("START", "SOFT_RESET")}
        clear = bool(value & self._bit(ctrl, "CLEAR_COUNTERS"))
        defined = 0
        for f in ctrl.bits:
            if f.name not in ("START", "SOFT_RESET", "CLEAR_COUNTERS"):
                defined |= f.mask
        self._stored[ctrl.offset] = value & defined
        if actions["SOFT_RESET"]:
            self.soft_reset()
        if clear:
            c = self.engine.counters
            self._baseline = {k: f(c) for k, f in _COUNTER_SOURCES.items()}
        if actions["START"]:
            self._start()

    def _start(self) -> None:
        if self.busy:
            raise EngineProgrammingError(
                f"CONTROL.START written to engine '{self.cfg.name}' while a run is in progress "
                f"(state {self.state.value}, waiting for {self.stalled_on or 'nothing'}); the "
                "hardware ignores it: wait for STATUS.DONE/ERROR or write SOFT_RESET first"
            )
        self._run_start_ns = self.clock.now_ns
        self._run_ns = 0
        self._baseline = {}
        self.last_fault = None
        # counters run from START: a run still fetching (or hung) shows zeros, not the last run
        self.engine.counters = EngineCounters()
        if EngineIpFault.HANG in self._pending:
            self._pending.remove(EngineIpFault.HANG)
            self.state = EngineIpState.HUNG
            return
        self.state = EngineIpState.FETCH
        self.service()

    def _on_stream_data(self) -> None:
        if self.state in (EngineIpState.FETCH, EngineIpState.RUN):
            self.service()

    def _step(self) -> bool:
        eng = self.engine
        progressed = False
        if self.state == EngineIpState.FETCH:
            words = self.cmd_port.take_packet()
            if words is None:
                return False
            progressed = True
            self.state = EngineIpState.RUN
            try:
                eng.start(words.tobytes())
            except EngineFault as f:
                self._account_time()
                self._finish("error", f)
                return True
        if self.state != EngineIpState.RUN:
            return progressed
        before = (eng.counters.instructions, eng.status)
        try:
            status = eng.advance()
        except EngineFault as f:
            self._account_time()
            self._finish("error", f)
            return True
        except Exception:
            # an emulator check (buffer race) or a bug: the engine is stopped; report it
            self.state = EngineIpState.ERROR
            raise
        self._account_time()
        if status == EngineStatus.DONE:
            self._finish("done", None)
            return True
        return progressed or (eng.counters.instructions, eng.status) != before

    def _on_instruction(self, index: int, instruction: object) -> None:
        del index, instruction
        self._account_time()
        for out in self._outputs.values():
            out.notify_new()

    def _account_time(self) -> None:
        ns = self.cycles_to_ns(self.engine.counters.cycles)
        if ns > self._run_ns:
            self.clock.advance(ns - self._run_ns)
            self._run_ns = ns

    def _finish(self, outcome: str, fault: EngineFault | None) -> None:
        c = self.engine.counters
        irq = self.registers.get("IRQ_STATUS")
        if outcome == "done":
            self.state = EngineIpState.DONE
            if irq is not None:
                self._irq_pending |= self._bit(irq, "DONE")
        elif outcome == "error":
            self.state = EngineIpState.ERROR
            self.last_fault = fault
            if irq is not None:
                self._irq_pending |= self._bit(irq, "ERROR")
        self.runs.append(
            EngineRun(
                index=self._run_index,
                outcome=outcome,
                start_ns=self._run_start_ns,
                end_ns=self.clock.now_ns,
                cycles=c.cycles,
                instructions=c.instructions,
                error_code=fault.code if fault is not None else ErrorCode.NONE,
                fault=fault,
            )
        )
        self._run_index += 1

    def __repr__(self) -> str:
        return f"EmulatedEngineIP('{self.cfg.name}', {self.state.value})"


# ---------------------------------------------------------------------------- wiring
@dataclasses.dataclass
class EmulatedOverlay:
    """An overlay's models on the emulated board: the engine IP and its AXI DMAs, connected.

    Attributes:
        cfg: The overlay configuration.
        engine: The engine IP (register model at ``cfg.engine.base_address``).
        dmas: The AXI DMA models by instance name (``[dma.*]``).
    """

    cfg: OverlayConfig
    engine: EmulatedEngineIP
    dmas: dict[str, AxiDma]

    def channel_of_stream(self, stream: str) -> tuple[AxiDma, str]:
        """The DMA and direction (``mm2s`` / ``s2mm``) that carries ``stream``.

        Raises:
            EmulationConfigError: no DMA channel carries ``stream``.
        """
        for d in self.cfg.dmas:
            if stream in (d.mm2s, d.s2mm):
                return self.dmas[d.name], MM2S if d.mm2s == stream else S2MM
        raise EmulationConfigError(
            f"no DMA channel of overlay '{self.cfg.name}' carries stream '{stream}'"
        )

    def inject_dma_fault(self, stream: str, fault: DmaFault) -> None:
        """Arm ``fault`` on the DMA channel of ``stream`` (its next transfer / descriptor)."""
        dma, direction = self.channel_of_stream(stream)
        dma.inject_fault(direction, fault)

    def reset(self) -> None:
        """SOFT_RESET the engine and reset every DMA (what a runtime does after a fault)."""
        self.engine.soft_reset()
        for dma in self.dmas.values():
            dma.reset()


def connect_overlay(
    cfg: OverlayConfig, engine: EmulatedEngineIP, dmas: dict[str, AxiDma]
) -> EmulatedOverlay:
    """Connect every DMA channel named in ``[dma.*]`` to the engine's port of that stream.

    Args:
        cfg: The overlay configuration.
        engine: The engine IP of ``cfg``.
        dmas: The overlay's DMA models by name (``EmulatedDevice.add_overlay_dmas``).

    Returns:
        The connected :class:`EmulatedOverlay`.

    Raises:
        EmulationConfigError: a ``[dma.*]`` has no model in ``dmas``, or a stream is not an
            engine port of the matching direction.
    """
    for d in cfg.dmas:
        dma = dmas.get(d.name)
        if dma is None:
            raise EmulationConfigError(
                f"overlay '{cfg.name}': no model for DMA '{d.name}' (have: {', '.join(dmas)})"
            )
        if d.mm2s is not None:
            dma.connect_mm2s(engine.sink(d.mm2s))
        if d.s2mm is not None:
            dma.connect_s2mm(engine.source(d.s2mm))
    return EmulatedOverlay(cfg, engine, dict(dmas))
