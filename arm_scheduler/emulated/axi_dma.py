"""Register model of the Xilinx AXI DMA (PG021 v7.1), the IP that ``pynq.lib.dma.DMA`` drives.

The model serves the AXI DMA's AXI-Lite registers on the emulated bus, moves bytes between the
emulated DDR and stream endpoints, and sets the status bits PG021 specifies, so that pynq's
unmodified driver (and the runtime's own descriptor chains) run against it.

Register map (byte offsets; MM2S channel at 0x00, S2MM channel at 0x30, same layout)::

    +0x00 DMACR     RS (bit 0), reserved (bit 1, reads 1), Reset (bit 2), Keyhole (3),
                    Cyclic BD (4), IOC_IrqEn (12), Dly_IrqEn (13), Err_IrqEn (14),
                    IRQThreshold (23:16, reset 1), IRQDelay (31:24)
    +0x04 DMASR     Halted (0), Idle (1), SGIncld (3), DMAIntErr (4), DMASlvErr (5),
                    DMADecErr (6), SGIntErr (8), SGSlvErr (9), SGDecErr (10),
                    IOC_Irq (12), Dly_Irq (13), Err_Irq (14) (the three irq bits are
                    write-1-to-clear), IRQThresholdSts (23:16), IRQDelaySts (31:24)
    +0x08/0x0C CURDESC / _MSB    scatter-gather only; writable while halted
    +0x10/0x14 TAILDESC / _MSB   scatter-gather only; the write that completes the pointer
                                 (the MSB word with a 64-bit address space, else the LSB word)
                                 starts or resumes descriptor processing
    +0x18/0x1C SA (MM2S) / DA (S2MM) and _MSB   direct mode only
    +0x28 LENGTH    direct mode only: writing a non-zero length starts the transfer; on S2MM
                    completion it holds the number of bytes actually received

Scatter-gather descriptors (16-word / 64-byte aligned, in DDR)::

    +0x00 NXTDESC (bits 5:0 ignored)   +0x04 NXTDESC_MSB
    +0x08 BUFFER_ADDRESS               +0x0C BUFFER_ADDRESS_MSB
    +0x18 CONTROL  buffer length (bits sg_length_width-1:0), TXEOF (26), TXSOF (27) (MM2S)
    +0x1C STATUS   transferred bytes (25:0), RXEOF (26), RXSOF (27) (S2MM),
                   DMAIntErr (28), DMASlvErr (29), DMADecErr (30), Cmplt (31)

**Behaviour.** Setting DMACR.RS clears Halted at once (pynq spins on it). A transfer runs
synchronously inside the register write that starts it, unless its stream endpoint is not ready;
the channel then stays busy (Idle = 0) and progresses whenever it is serviced: on a read of one
of its registers (a driver polling DMASR), on :meth:`AxiDma.service`, on the device's ``pump()``,
or when its endpoint notifies that it has data or space (see :class:`StreamFifo`). MM2S sends
each direct transfer as one packet (TLAST on its last byte) and each descriptor as one chunk with
TLAST when TXEOF is set, so a packet may span descriptors. S2MM writes what it pulls to DDR: in
direct mode until TLAST (LENGTH then reports the bytes received; a packet longer than LENGTH sets
DMAIntErr, which PG021 lists for that case), in scatter-gather mode descriptor by descriptor
(RXSOF on the descriptor that starts a packet, RXEOF on the one that holds TLAST, the byte count
in STATUS). Completed descriptors get Cmplt; fetching a descriptor whose Cmplt is already set is
SGIntErr, a zero buffer length DMAIntErr, a descriptor or buffer outside DDR SGDecErr / DMADecErr.
On any error the channel halts (RS reads 0, Halted 1, Err_Irq set) and stays halted, even if RS
is written again, until a reset. IOC_Irq is set per completed direct transfer, and in
scatter-gather mode per completed packet (EOF descriptor) counted down from IRQThreshold. The
interrupt *output* (:attr:`DmaChannel.interrupt`) is IOC_Irq and Err_Irq gated by their enables;
the delay timer is not modelled (Dly_Irq never sets).

DMACR.Reset on either channel resets the whole DMA (both channels) instantly: registers return
to their reset values (Halted, RS = 0, IRQThreshold = 1), transfers in flight are abandoned,
a hung channel recovers. Stream endpoints are not flushed (they are outside the DMA).

Clearing RS halts the channel at once and abandons a transfer that was waiting for its stream
(hardware halts after outstanding bus transactions; the emulation has none). A channel made to
hang by fault injection ignores RS = 0, like a DMA stuck on a bus transaction: only a reset
recovers it.

Not modelled (writing the enabling bits raises :class:`UnsupportedFeatureError`): cyclic BD mode,
keyhole mode. Also not modelled: micro DMA, multichannel mode, the status/control streams (APP
words), data-realignment rules (pynq checks alignment itself).

**Stream port protocol** (what an engine model implements to be connected to a DMA):

* MM2S -> :class:`StreamSink`: ``push(packet, last) -> bool``. ``packet`` is a 1-D ``uint8``
  array the sink may keep (the DMA passes a copy), at least one byte long; ``last`` is True when
  its final byte carries TLAST. Return True when the whole chunk is accepted, False when the sink
  is not ready (nothing consumed; the DMA retries the same chunk later).
* S2MM <- :class:`StreamSource`: ``pull(max_bytes) -> (packet, last) | None``. Return ``None``
  when no data is available yet, else a 1-D ``uint8`` array of 1..``max_bytes`` bytes and whether
  its final byte carries TLAST. A source must not return bytes beyond a TLAST in the same chunk.
* Optional ``subscribe(callback)``: the endpoint calls ``callback()`` whenever it gained data or
  space, so that the DMA channel waiting on it progresses without being polled.

**Fault injection** (:meth:`AxiDma.inject_fault`): the next transfer of a channel (direct mode:
the next LENGTH write; scatter-gather: the next descriptor) fails with a slave / decode / internal
error (the DMASR and descriptor status bits are set and the channel halts, nothing is moved), or
the SG engine reports a descriptor-fetch slave / decode error, or the channel hangs (stays busy
forever, ignores RS = 0) until reset. Injected faults that have not fired survive a reset.

Every completed or failed transfer (direct transfer or descriptor) is appended to
:attr:`AxiDma.transfers` with simulated-clock timestamps.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from arm_scheduler.emulated.bus import SimulatedClock
from arm_scheduler.emulated.ddr import EmulatedDdr
from arm_scheduler.emulated.errors import (
    DmaProgrammingError,
    EmulationConfigError,
    StreamProtocolError,
    UnsupportedFeatureError,
)
from arm_scheduler.pg021 import (  # noqa: F401  (re-exported: tests and tools use them)
    CHANNEL_SPAN,
    CHANNELS,
    CR_CYCLIC_BD,
    CR_DELAY_SHIFT,
    CR_DLY_IRQ_EN,
    CR_ERR_IRQ_EN,
    CR_IOC_IRQ_EN,
    CR_KEYHOLE,
    CR_RESERVED_ONE,
    CR_RESET,
    CR_RS,
    CR_THRESHOLD_SHIFT,
    CTRL_EOF,
    CTRL_SOF,
    DEFAULT_ADDRESS_RANGE,
    DESC_BUFFER_ADDRESS,
    DESC_BUFFER_ADDRESS_MSB,
    DESC_BYTES,
    DESC_CONTROL,
    DESC_NXTDESC,
    DESC_NXTDESC_MSB,
    DESC_STATUS,
    MM2S,
    MM2S_OFFSET,
    REG_ADDR,
    REG_ADDR_MSB,
    REG_CURDESC,
    REG_CURDESC_MSB,
    REG_DMACR,
    REG_DMASR,
    REG_LENGTH,
    REG_SG_CTL,
    REG_TAILDESC,
    REG_TAILDESC_MSB,
    S2MM,
    S2MM_OFFSET,
    SR_DLY_IRQ,
    SR_DMA_DEC_ERR,
    SR_DMA_INT_ERR,
    SR_DMA_SLV_ERR,
    SR_ERR_IRQ,
    SR_ERRORS,
    SR_HALTED,
    SR_IDLE,
    SR_IOC_IRQ,
    SR_IRQS,
    SR_SG_DEC_ERR,
    SR_SG_INCLD,
    SR_SG_INT_ERR,
    SR_SG_SLV_ERR,
    ST_CMPLT,
    ST_DEC_ERR,
    ST_INT_ERR,
    ST_LENGTH_MASK,
    ST_RXEOF,
    ST_RXSOF,
    ST_SLV_ERR,
)
from edge_dnn.overlay.config import OverlayConfig

_CR_STORED = CR_RS | CR_IOC_IRQ_EN | CR_DLY_IRQ_EN | CR_ERR_IRQ_EN | (0xFF << CR_DELAY_SHIFT)


# ---------------------------------------------------------------------------- stream ports
@runtime_checkable
class StreamSink(Protocol):
    """What an MM2S channel pushes into (see the module docstring)."""

    def push(self, packet: np.ndarray, last: bool) -> bool:
        """Accept a whole chunk (True) or refuse it because not ready (False)."""
        ...


@runtime_checkable
class StreamSource(Protocol):
    """What an S2MM channel pulls from (see the module docstring)."""

    def pull(self, max_bytes: int) -> tuple[np.ndarray, bool] | None:
        """Up to ``max_bytes`` bytes and their TLAST flag, or None when no data is ready."""
        ...


class StreamFifo:
    """An AXI-Stream FIFO between a producer (``push``) and a consumer (``pull``).

    Keeps packet boundaries: :meth:`pull` never returns bytes from two packets in one chunk.
    Used for DMA loopback (MM2S -> S2MM of the same or another DMA) and, later, as the stream
    buffers of an engine model.

    Args:
        capacity_bytes: Most bytes held at once (None: unbounded). A push that would exceed it is
            refused (not ready), except into an empty FIFO, so a chunk larger than the capacity
            can still pass (one at a time).
    """

    def __init__(self, capacity_bytes: int | None = None) -> None:
        if capacity_bytes is not None and capacity_bytes <= 0:
            raise EmulationConfigError(f"stream FIFO capacity must be > 0, got {capacity_bytes}")
        self.capacity_bytes = capacity_bytes
        self._chunks: collections.deque[tuple[np.ndarray, bool]] = collections.deque()
        self._head_pos = 0
        self._bytes = 0
        self._listeners: list[Callable[[], None]] = []
        self.packets_in = 0
        """Packets (TLAST) pushed so far."""
        self.bytes_in = 0
        """Bytes pushed so far."""

    @property
    def level(self) -> int:
        """Bytes currently held."""
        return self._bytes

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every push and pull (data or space appeared)."""
        self._listeners.append(callback)

    def push(self, packet: np.ndarray, last: bool) -> bool:
        """Append a chunk; False (nothing stored) if the FIFO is too full."""
        data = _as_chunk(packet, "StreamFifo.push")
        if (
            self.capacity_bytes is not None
            and self._bytes
            and self._bytes + data.size > self.capacity_bytes
        ):
            return False
        self._chunks.append((data, bool(last)))
        self._bytes += data.size
        self.bytes_in += data.size
        self.packets_in += bool(last)
        self._notify()
        return True

    def pull(self, max_bytes: int) -> tuple[np.ndarray, bool] | None:
        """Up to ``max_bytes`` bytes of the current packet and whether they end it."""
        if not self._chunks or max_bytes <= 0:
            return None
        parts: list[np.ndarray] = []
        want = max_bytes
        last = False
        while self._chunks and want:
            data, is_last = self._chunks[0]
            avail = data.size - self._head_pos
            take = min(avail, want)
            parts.append(data[self._head_pos : self._head_pos + take])
            want -= take
            if take == avail:
                self._chunks.popleft()
                self._head_pos = 0
                if is_last:
                    last = True
                    break
            else:
                self._head_pos += take
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        self._bytes -= out.size
        self._notify()
        return out, last

    def packets(self) -> list[tuple[np.ndarray, bool]]:
        """Drain everything: list of (bytes, ends-with-TLAST) per packet (the last one may be
        incomplete)."""
        out: list[tuple[np.ndarray, bool]] = []
        while True:
            r = self.pull(max(self._bytes, 1))
            if r is None:
                return out
            out.append(r)

    def _notify(self) -> None:
        for cb in list(self._listeners):
            cb()


def _as_chunk(packet: object, who: str) -> np.ndarray:
    if not isinstance(packet, np.ndarray) or packet.dtype != np.uint8 or packet.ndim != 1:
        raise StreamProtocolError(
            f"{who}: a stream chunk must be a 1-D uint8 array, got {packet!r:.80}"
        )
    if packet.size == 0:
        raise StreamProtocolError(f"{who}: a stream chunk must hold at least one byte")
    return packet


# ---------------------------------------------------------------------------- faults and records
class DmaFault(enum.Enum):
    """Faults :meth:`AxiDma.inject_fault` can arm for the next transfer of a channel."""

    SLAVE_ERROR = "slave_error"
    """DMASlvErr: the memory-map slave answered SLVERR on the data transfer."""
    DECODE_ERROR = "decode_error"
    """DMADecErr: the data address decoded to no slave."""
    INTERNAL_ERROR = "internal_error"
    """DMAIntErr."""
    SG_SLAVE_ERROR = "sg_slave_error"
    """SGSlvErr: the descriptor fetch got SLVERR (scatter-gather mode only)."""
    SG_DECODE_ERROR = "sg_decode_error"
    """SGDecErr: the descriptor address decoded to no slave (scatter-gather mode only)."""
    HANG = "hang"
    """The transfer never completes and the channel ignores RS = 0 until reset."""


_FAULT_BITS = {
    DmaFault.SLAVE_ERROR: (SR_DMA_SLV_ERR, ST_SLV_ERR),
    DmaFault.DECODE_ERROR: (SR_DMA_DEC_ERR, ST_DEC_ERR),
    DmaFault.INTERNAL_ERROR: (SR_DMA_INT_ERR, ST_INT_ERR),
    DmaFault.SG_SLAVE_ERROR: (SR_SG_SLV_ERR, 0),
    DmaFault.SG_DECODE_ERROR: (SR_SG_DEC_ERR, 0),
}
_SR_ERROR_NAMES = {
    SR_DMA_INT_ERR: "DMAIntErr",
    SR_DMA_SLV_ERR: "DMASlvErr",
    SR_DMA_DEC_ERR: "DMADecErr",
    SR_SG_INT_ERR: "SGIntErr",
    SR_SG_SLV_ERR: "SGSlvErr",
    SR_SG_DEC_ERR: "SGDecErr",
}


@dataclasses.dataclass(frozen=True)
class TransferRecord:
    """One direct-mode transfer or one scatter-gather descriptor, completed or failed.

    Attributes:
        dma: DMA instance name.
        channel: ``mm2s`` or ``s2mm``.
        descriptor: Physical address of the descriptor (None in direct mode).
        address: Physical address of the data buffer.
        nbytes: Bytes moved (0 on error).
        last: Whether TLAST was sent (MM2S) or received (S2MM) with the final byte.
        start_ns: Simulated time when the transfer started, ns.
        end_ns: Simulated time when it completed or failed, ns.
        error: Name of the DMASR error bit (``DMASlvErr``, ...), or None.
    """

    dma: str
    channel: str
    descriptor: int | None
    address: int
    nbytes: int
    last: bool
    start_ns: int
    end_ns: int
    error: str | None = None


@dataclasses.dataclass
class _Job:
    """Work in progress of a channel: a direct transfer or the current descriptor."""

    address: int
    length: int
    start_ns: int
    descriptor: int | None = None
    next_descriptor: int = 0
    eof: bool = False
    done: int = 0


class _Clock(Protocol):
    @property
    def now_ns(self) -> int: ...


# ---------------------------------------------------------------------------- one channel
class DmaChannel:
    """One channel (MM2S or S2MM) of an :class:`AxiDma`. Created by the DMA, not directly."""

    def __init__(self, dma: AxiDma, direction: str) -> None:
        self.dma = dma
        self.direction = direction
        self.sink: StreamSink | None = None
        """Where an MM2S channel pushes (None until connected)."""
        self.source: StreamSource | None = None
        """Where an S2MM channel pulls from (None until connected)."""
        self._pending_faults: list[DmaFault] = []
        self._in_service = False
        self._again = False
        self.bytes_moved = 0
        """Bytes moved by completed transfers since creation (not cleared by reset)."""
        self._reset_state()

    # ------------------------------------------------------------------------ state
    def _reset_state(self) -> None:
        self._cr = 0
        self._threshold = 1
        self._threshold_count = 1
        self._halted = True
        self._idle = False
        self._errors = 0
        self._irqs = 0
        self._hung = False
        self._curdesc = 0
        self._taildesc = 0
        self._addr = 0
        self._length = 0
        self._job: _Job | None = None
        self._sg_active = False
        self._sg_next: int | None = None
        self._in_packet = False

    @property
    def halted(self) -> bool:
        """DMASR.Halted."""
        return self._halted

    @property
    def idle(self) -> bool:
        """DMASR.Idle."""
        return self._idle

    @property
    def busy(self) -> bool:
        """Running with work in progress (not halted, not idle, a transfer started)."""
        return self._hung or self._job is not None or self._sg_active

    @property
    def hung(self) -> bool:
        """Whether an injected HANG fault holds the channel."""
        return self._hung

    @property
    def error_bits(self) -> int:
        """The DMASR error bits (mask 0x770)."""
        return self._errors

    @property
    def errors(self) -> tuple[str, ...]:
        """Names of the set DMASR error bits, e.g. ``("DMASlvErr",)``."""
        return tuple(n for b, n in _SR_ERROR_NAMES.items() if self._errors & b)

    @property
    def interrupt(self) -> bool:
        """Level of the channel's interrupt output (IOC / Err irq bits gated by the enables)."""
        return bool(
            (self._irqs & SR_IOC_IRQ and self._cr & CR_IOC_IRQ_EN)
            or (self._irqs & SR_ERR_IRQ and self._cr & CR_ERR_IRQ_EN)
        )

    @property
    def dmacr(self) -> int:
        """DMACR as read by software."""
        return self._cr | CR_RESERVED_ONE | (self._threshold << CR_THRESHOLD_SHIFT)

    @property
    def dmasr(self) -> int:
        """DMASR as read by software."""
        v = self._errors | self._irqs | (self._threshold_count << CR_THRESHOLD_SHIFT)
        if self._halted:
            v |= SR_HALTED
        if self._idle:
            v |= SR_IDLE
        if self.dma.scatter_gather:
            v |= SR_SG_INCLD
        return v

    def inject_fault(self, fault: DmaFault) -> None:
        """Arm ``fault`` for the next transfer of this channel (queued, one per transfer)."""
        if fault in (DmaFault.SG_SLAVE_ERROR, DmaFault.SG_DECODE_ERROR) and not (
            self.dma.scatter_gather
        ):
            raise EmulationConfigError(
                f"{self._name}: {fault.value} needs scatter-gather mode; this DMA is direct mode"
            )
        self._pending_faults.append(fault)

    def clear_faults(self) -> None:
        """Disarm faults that have not fired yet."""
        self._pending_faults.clear()

    @property
    def pending_faults(self) -> tuple[DmaFault, ...]:
        """Armed faults, in firing order."""
        return tuple(self._pending_faults)

    @property
    def _name(self) -> str:
        return f"AXI DMA '{self.dma.name}' {self.direction.upper()}"

    # ------------------------------------------------------------------------ registers
    def read(self, reg: int) -> int:
        """Read the channel register at ``reg`` (offset within the channel)."""
        if reg == REG_DMASR:
            # A driver polling the status lets a transfer waiting on its stream progress.
            self.service()
            return self.dmasr
        if reg == REG_DMACR:
            return self.dmacr
        if reg == REG_CURDESC:
            return self._curdesc & 0xFFFF_FFC0
        if reg == REG_CURDESC_MSB:
            return (self._curdesc >> 32) & 0xFFFF_FFFF
        if reg == REG_TAILDESC:
            return self._taildesc & 0xFFFF_FFC0
        if reg == REG_TAILDESC_MSB:
            return (self._taildesc >> 32) & 0xFFFF_FFFF
        if reg == REG_ADDR:
            return self._addr & 0xFFFF_FFFF
        if reg == REG_ADDR_MSB:
            return (self._addr >> 32) & 0xFFFF_FFFF
        if reg == REG_LENGTH:
            self.service()
            return self._length
        return 0

    def write(self, reg: int, value: int) -> None:
        """Write the channel register at ``reg`` (offset within the channel)."""
        if reg == REG_DMACR:
            self._write_dmacr(value)
        elif reg == REG_DMASR:
            self._irqs &= ~(value & SR_IRQS)
        elif reg in (REG_CURDESC, REG_CURDESC_MSB):
            if self.dma.scatter_gather and self._halted and not self._cr & CR_RS:
                self._curdesc = self._set_word(self._curdesc, reg == REG_CURDESC_MSB, value)
                self._curdesc &= ~(DESC_BYTES - 1)
                self._sg_next = None
                self._in_packet = False
        elif reg in (REG_TAILDESC, REG_TAILDESC_MSB):
            if self.dma.scatter_gather:
                msb = reg == REG_TAILDESC_MSB
                self._taildesc = self._set_word(self._taildesc, msb, value) & ~(DESC_BYTES - 1)
                if msb == (self.dma.addr_width > 32):
                    self._start_sg()
        elif reg in (REG_ADDR, REG_ADDR_MSB):
            if not self.dma.scatter_gather:
                self._addr = self._set_word(self._addr, reg == REG_ADDR_MSB, value)
        elif reg == REG_LENGTH and not self.dma.scatter_gather:
            self._start_direct(value & self.dma.length_mask)

    def _set_word(self, current: int, msb: bool, value: int) -> int:
        if msb:
            if self.dma.addr_width <= 32:
                return current
            return (current & 0xFFFF_FFFF) | ((value & 0xFFFF_FFFF) << 32)
        return (current & ~0xFFFF_FFFF) | (value & 0xFFFF_FFFF)

    def _write_dmacr(self, value: int) -> None:
        if value & CR_RESET:
            self.dma.reset()
            return
        for bit, what in ((CR_CYCLIC_BD, "cyclic BD mode"), (CR_KEYHOLE, "keyhole mode")):
            if value & bit:
                raise UnsupportedFeatureError(
                    f"{self._name}: DMACR 0x{value:08x} enables {what}, which the emulated AXI DMA "
                    f"does not model"
                )
        was_running = bool(self._cr & CR_RS)
        self._cr = value & _CR_STORED
        threshold = (value >> CR_THRESHOLD_SHIFT) & 0xFF
        if threshold:  # PG021: writing 0 to IRQThreshold has no effect
            self._threshold = threshold
            self._threshold_count = threshold
        if value & CR_RS and not was_running:
            if self._errors:
                # An errored channel halts until reset, whatever software writes.
                self._cr &= ~CR_RS
                return
            self._halted = False
            self._idle = False
        elif not value & CR_RS and was_running:
            if self._hung:
                return  # stuck on the bus: RS = 0 cannot halt it
            self._abandon()
            self._halted = True
            self._idle = False

    def _abandon(self) -> None:
        self._job = None
        self._sg_active = False

    # ------------------------------------------------------------------------ starting work
    def _start_direct(self, length: int) -> None:
        self._length = length
        if self._halted or self._hung or length == 0:
            return  # PG021: no effect while halted; a zero length starts nothing
        if self._job is not None:
            raise DmaProgrammingError(
                f"{self._name}: LENGTH written while a direct-mode transfer is still running "
                f"({self._job.done}/{self._job.length} bytes); wait for DMASR.Idle first"
            )
        self._require_endpoint()
        self._idle = False
        job = _Job(address=self._addr, length=length, start_ns=self.dma.clock.now_ns)
        if self._apply_fault(job) or self._check_buffer(job):
            return
        self._job = job
        self.service()

    def _start_sg(self) -> None:
        if self._halted or self._hung:
            return
        if self._sg_active:
            return  # the new tail only moves the pause point
        self._require_endpoint()
        self._sg_active = True
        self._idle = False
        self.service()

    @property
    def endpoint(self) -> StreamSink | StreamSource | None:
        """The connected stream endpoint (sink for MM2S, source for S2MM), or None."""
        return self.sink if self.direction == MM2S else self.source

    def _require_endpoint(self) -> None:
        if self.endpoint is None:
            raise DmaProgrammingError(
                f"{self._name}: transfer started but no stream is connected to the channel "
                f"(connect one with AxiDma.connect_{self.direction})"
            )

    def _apply_fault(self, job: _Job) -> bool:
        """Fire the next armed fault on ``job``; True if the job must not run."""
        if not self._pending_faults:
            return False
        fault = self._pending_faults.pop(0)
        if fault is DmaFault.HANG:
            self._hung = True
            self._job = None
            self._sg_active = False
            return True
        sr, st = _FAULT_BITS[fault]
        self._fail(sr, job, st)
        return True

    def _check_buffer(self, job: _Job) -> bool:
        """Decode error if the data buffer is outside DDR; True if the job must not run."""
        if self.dma.ddr.contains(job.address, job.length):
            return False
        self._fail(SR_DMA_DEC_ERR, job, ST_DEC_ERR)
        return True

    def _fail(self, sr_bits: int, job: _Job | None, st_bits: int = 0) -> None:
        """Record an error: status bits, descriptor status, halt, log."""
        self._errors |= sr_bits
        self._irqs |= SR_ERR_IRQ
        self._cr &= ~CR_RS
        self._halted = True
        self._idle = False
        self._job = None
        self._sg_active = False
        if job is not None:
            if job.descriptor is not None and st_bits:
                self.dma.ddr.write_u32(job.descriptor + DESC_STATUS, st_bits)
            self.dma.log(
                TransferRecord(
                    dma=self.dma.name,
                    channel=self.direction,
                    descriptor=job.descriptor,
                    address=job.address,
                    nbytes=0,
                    last=False,
                    start_ns=job.start_ns,
                    end_ns=self.dma.clock.now_ns,
                    error=_SR_ERROR_NAMES[sr_bits & -sr_bits],
                )
            )

    # ------------------------------------------------------------------------ progress
    def service(self) -> bool:
        """Make as much progress as the stream endpoint allows; True if anything moved."""
        if self._in_service:
            # Re-entered through an endpoint notification: let the outer loop run once more.
            self._again = True
            return False
        self._in_service = True
        progressed = False
        try:
            while True:
                self._again = False
                if self.dma.scatter_gather:
                    progressed |= self._run_sg()
                else:
                    progressed |= self._run_direct()
                if not self._again:
                    break
        finally:
            self._in_service = False
        return progressed

    def _run_direct(self) -> bool:
        job = self._job
        if job is None or self._hung:
            return False
        moved, finished = self._move(job, packet_end=True)
        if finished is None:
            return moved
        if not finished:  # S2MM buffer full before TLAST
            self._fail(SR_DMA_INT_ERR, job)
            return True
        self._job = None
        self._idle = True
        if self.direction == S2MM:
            self._length = job.done
        self._irqs |= SR_IOC_IRQ
        self._complete(job, last=True)
        return True

    def _run_sg(self) -> bool:
        progressed = False
        while self._sg_active and not self._hung:
            if self._job is None:
                progressed = True
                if not self._fetch_descriptor():
                    return True
            job = self._job
            assert job is not None and job.descriptor is not None
            moved, finished = self._move(job, packet_end=job.eof)
            progressed |= moved
            if finished is None:
                return progressed
            status = ST_CMPLT | (job.done & ST_LENGTH_MASK)
            if self.direction == S2MM:
                if not self._in_packet:
                    status |= ST_RXSOF
                self._in_packet = not finished
                if finished:
                    status |= ST_RXEOF
                packet_done = finished
            else:
                packet_done = job.eof
            self.dma.ddr.write_u32(job.descriptor + DESC_STATUS, status)
            if packet_done:
                self._count_ioc()
            self._complete(job, last=packet_done)
            self._job = None
            self._sg_next = job.next_descriptor
            if job.descriptor == self._taildesc:
                self._sg_active = False
                self._idle = True
        return progressed

    def _fetch_descriptor(self) -> bool:
        """Load the next descriptor into ``self._job``; False (channel failed) on an error."""
        ddr = self.dma.ddr
        addr = self._curdesc if self._sg_next is None else self._sg_next
        self._curdesc = addr
        now = self.dma.clock.now_ns
        probe = _Job(address=0, length=0, start_ns=now, descriptor=addr)
        if self._pending_faults and self._pending_faults[0] in (
            DmaFault.SG_SLAVE_ERROR,
            DmaFault.SG_DECODE_ERROR,
        ):
            self._apply_fault(probe)
            return False
        if addr % DESC_BYTES or not ddr.contains(addr, DESC_BYTES):
            self._fail(SR_SG_DEC_ERR, probe)
            return False
        words = np.frombuffer(ddr.view(addr, DESC_BYTES).tobytes(), dtype="<u4")
        hi = self.dma.addr_width > 32
        status = int(words[DESC_STATUS // 4])
        control = int(words[DESC_CONTROL // 4])
        job = _Job(
            address=int(words[2]) | (int(words[3]) << 32 if hi else 0),
            length=control & self.dma.length_mask,
            start_ns=now,
            descriptor=addr,
            next_descriptor=(int(words[0]) & ~(DESC_BYTES - 1))
            | (int(words[1]) << 32 if hi else 0),
            eof=bool(control & CTRL_EOF),
        )
        if status & ST_CMPLT:
            # PG021: fetching a descriptor that software has not recycled is an SG internal error.
            self._fail(SR_SG_INT_ERR, job)
            return False
        if job.length == 0:
            self._fail(SR_DMA_INT_ERR, job, ST_INT_ERR)
            return False
        if self._apply_fault(job) or self._check_buffer(job):
            return False
        self._job = job
        return True

    def _move(self, job: _Job, packet_end: bool) -> tuple[bool, bool | None]:
        """Move data of ``job``: (anything moved, finished) where finished is None while the
        job waits for its endpoint, True when done with TLAST, False when an S2MM buffer filled
        up without TLAST."""
        ddr = self.dma.ddr
        if self.direction == MM2S:
            sink = self.sink
            assert sink is not None
            data = ddr.read(job.address, job.length)
            if not sink.push(data, packet_end):
                return False, None
            job.done = job.length
            self.bytes_moved += job.length
            return True, True
        source = self.source
        assert source is not None
        moved = False
        while job.done < job.length:
            got = source.pull(job.length - job.done)
            if got is None:
                return moved, None
            chunk, last = self._check_pulled(got, job.length - job.done)
            ddr.view(job.address + job.done, chunk.size)[:] = chunk
            job.done += chunk.size
            self.bytes_moved += chunk.size
            moved = True
            if last:
                return True, True
        return moved, False

    def _check_pulled(self, got: object, max_bytes: int) -> tuple[np.ndarray, bool]:
        if not isinstance(got, tuple) or len(got) != 2:
            raise StreamProtocolError(
                f"{self._name}: pull() must return (packet, last) or None, got {got!r:.80}"
            )
        chunk = _as_chunk(got[0], f"{self._name} pull()")
        if chunk.size > max_bytes:
            raise StreamProtocolError(
                f"{self._name}: pull({max_bytes}) returned {chunk.size} bytes"
            )
        return chunk, bool(got[1])

    def _count_ioc(self) -> None:
        self._threshold_count -= 1
        if self._threshold_count <= 0:
            self._irqs |= SR_IOC_IRQ
            self._threshold_count = self._threshold

    def _complete(self, job: _Job, last: bool) -> None:
        self.dma.log(
            TransferRecord(
                dma=self.dma.name,
                channel=self.direction,
                descriptor=job.descriptor,
                address=job.address,
                nbytes=job.done,
                last=last,
                start_ns=job.start_ns,
                end_ns=self.dma.clock.now_ns,
            )
        )


# ---------------------------------------------------------------------------- the DMA
class AxiDma:
    """Register model of one AXI DMA instance (both channels).

    Args:
        ddr: The emulated DDR the DMA reads and writes.
        clock: Source of simulated time (``now_ns``) for transfer records; default: a private
            :class:`SimulatedClock` that stays at 0.
        name: Instance name, used in messages and records.
        scatter_gather: ``c_include_sg``: scatter-gather mode (else direct register mode).
        sg_length_width: ``c_sg_length_width`` (8..26): width of LENGTH and of the descriptor
            buffer-length field; the largest transfer is ``2**width - 1`` bytes.
        addr_width: ``c_addr_width`` (32 or 64): with 64 the ``_MSB`` address registers and
            descriptor words are used.
        include_mm2s: ``c_include_mm2s``.
        include_s2mm: ``c_include_s2mm``.
        mm2s_data_width: ``c_m_axi_mm2s_data_width``, bits (the driver aligns buffers to it).
        s2mm_data_width: ``c_m_axi_s2mm_data_width``, bits.
        mm2s_stream_width: ``c_m_axis_mm2s_tdata_width``, bits.
        s2mm_stream_width: ``c_s_axis_s2mm_tdata_width``, bits.
        max_records: Most :class:`TransferRecord` kept in :attr:`transfers` (oldest dropped).
    """

    def __init__(
        self,
        ddr: EmulatedDdr,
        clock: _Clock | None = None,
        *,
        name: str = "axi_dma",
        scatter_gather: bool = True,
        sg_length_width: int = 26,
        addr_width: int = 64,
        include_mm2s: bool = True,
        include_s2mm: bool = True,
        mm2s_data_width: int = 128,
        s2mm_data_width: int = 128,
        mm2s_stream_width: int = 128,
        s2mm_stream_width: int = 128,
        max_records: int = 10_000,
    ) -> None:
        if not 8 <= sg_length_width <= 26:
            raise EmulationConfigError(
                f"AXI DMA '{name}': sg_length_width must be 8..26, got {sg_length_width}"
            )
        if addr_width not in (32, 64):
            raise EmulationConfigError(
                f"AXI DMA '{name}': addr_width must be 32 or 64, got {addr_width}"
            )
        if not (include_mm2s or include_s2mm):
            raise EmulationConfigError(f"AXI DMA '{name}': needs at least one channel")
        self.ddr = ddr
        self.clock: _Clock = clock if clock is not None else SimulatedClock()
        self.name = name
        self.scatter_gather = scatter_gather
        self.sg_length_width = sg_length_width
        self.addr_width = addr_width
        self.length_mask = (1 << sg_length_width) - 1
        self.data_widths = {MM2S: mm2s_data_width, S2MM: s2mm_data_width}
        self.stream_widths = {MM2S: mm2s_stream_width, S2MM: s2mm_stream_width}
        self.mm2s: DmaChannel | None = DmaChannel(self, MM2S) if include_mm2s else None
        """The MM2S channel (None if not included)."""
        self.s2mm: DmaChannel | None = DmaChannel(self, S2MM) if include_s2mm else None
        """The S2MM channel (None if not included)."""
        self.transfers: collections.deque[TransferRecord] = collections.deque(maxlen=max_records)
        """Completed and failed transfers, oldest first."""
        self.sg_ctl = 0

    @classmethod
    def from_overlay(
        cls, cfg: OverlayConfig, dma_name: str, ddr: EmulatedDdr, clock: _Clock | None = None
    ) -> AxiDma:
        """Build the DMA ``dma_name`` of an overlay configuration.

        Args:
            cfg: An :class:`edge_dnn.overlay.config.OverlayConfig`.
            dma_name: Name of a ``[dma.*]`` table.
            ddr: The emulated DDR.
            clock: Simulated clock.

        The memory-map data width is the overlay's HP port width (``memory.hp_port_bits``), the
        stream widths those of the connected streams.
        """
        d = cfg.dma(dma_name)
        port = cfg.memory.hp_port_bits
        return cls(
            ddr,
            clock,
            name=d.name,
            scatter_gather=d.scatter_gather,
            sg_length_width=d.sg_length_width,
            addr_width=d.addr_width,
            include_mm2s=d.mm2s is not None,
            include_s2mm=d.s2mm is not None,
            mm2s_data_width=port,
            s2mm_data_width=port,
            mm2s_stream_width=cfg.stream(d.mm2s).width_bits if d.mm2s else port,
            s2mm_stream_width=cfg.stream(d.s2mm).width_bits if d.s2mm else port,
        )

    # ------------------------------------------------------------------------ wiring
    def channel(self, direction: str) -> DmaChannel:
        """The ``mm2s`` or ``s2mm`` channel.

        Raises:
            EmulationConfigError: Unknown direction or channel not included.
        """
        ch = self.mm2s if direction == MM2S else self.s2mm if direction == S2MM else None
        if ch is None:
            raise EmulationConfigError(
                f"AXI DMA '{self.name}' has no '{direction}' channel "
                f"(channels: {', '.join(c.direction for c in self._channels())})"
            )
        return ch

    def connect_mm2s(self, sink: StreamSink) -> None:
        """Connect the stream the MM2S channel pushes into (replaces any previous one)."""
        ch = self.channel(MM2S)
        if not isinstance(sink, StreamSink):
            raise EmulationConfigError(
                f"AXI DMA '{self.name}' MM2S: {sink!r:.60} has no push(packet, last) method"
            )
        ch.sink = sink
        self._subscribe(ch, sink)

    def connect_s2mm(self, source: StreamSource) -> None:
        """Connect the stream the S2MM channel pulls from (replaces any previous one)."""
        ch = self.channel(S2MM)
        if not isinstance(source, StreamSource):
            raise EmulationConfigError(
                f"AXI DMA '{self.name}' S2MM: {source!r:.60} has no pull(max_bytes) method"
            )
        ch.source = source
        self._subscribe(ch, source)

    @staticmethod
    def _subscribe(ch: DmaChannel, endpoint: object) -> None:
        # A replaced endpoint's notifications are ignored (the lambda checks identity).
        subscribe = getattr(endpoint, "subscribe", None)
        if callable(subscribe):
            subscribe(lambda: ch.service() if ch.endpoint is endpoint else None)

    def inject_fault(self, direction: str, fault: DmaFault) -> None:
        """Arm ``fault`` for the next transfer of channel ``direction`` (``mm2s``/``s2mm``)."""
        self.channel(direction).inject_fault(fault)

    def pynq_parameters(self) -> dict[str, str]:
        """The ``parameters`` entry of a pynq IP description (strings, as a .hwh gives them)."""
        return {
            "c_include_sg": str(int(self.scatter_gather)),
            "c_sg_length_width": str(self.sg_length_width),
            "c_addr_width": str(self.addr_width),
            "c_micro_dma": "0",
            "c_include_mm2s": str(int(self.mm2s is not None)),
            "c_include_s2mm": str(int(self.s2mm is not None)),
            "c_include_mm2s_dre": "0",
            "c_include_s2mm_dre": "0",
            "c_m_axi_mm2s_data_width": str(self.data_widths[MM2S]),
            "c_m_axi_s2mm_data_width": str(self.data_widths[S2MM]),
            "c_m_axis_mm2s_tdata_width": str(self.stream_widths[MM2S]),
            "c_s_axis_s2mm_tdata_width": str(self.stream_widths[S2MM]),
        }

    PYNQ_VLNV = "xilinx.com:ip:axi_dma:7.1"
    """The IP type string pynq binds :class:`pynq.lib.dma.DMA` to."""

    # ------------------------------------------------------------------------ register model
    def read(self, offset: int) -> int:
        """32-bit register at ``offset`` (RegisterModel protocol)."""
        if offset == REG_SG_CTL:
            return self.sg_ctl
        ch = self._channel_at(offset)
        return 0 if ch is None else ch.read(offset % CHANNEL_SPAN)

    def write(self, offset: int, value: int) -> None:
        """Store the 32-bit register at ``offset`` with its side effects (RegisterModel)."""
        if offset == REG_SG_CTL:
            self.sg_ctl = value & 0xFFFF_FFFF
            return
        ch = self._channel_at(offset)
        if ch is not None:
            ch.write(offset % CHANNEL_SPAN, value & 0xFFFF_FFFF)

    def service(self) -> bool:
        """Let both channels progress (RegisterModel ``service``); True if anything moved."""
        progressed = False
        for ch in self._channels():
            progressed |= ch.service()
        return progressed

    def reset(self) -> None:
        """DMACR.Reset: both channels to their reset state; transfers in flight abandoned."""
        for ch in self._channels():
            ch._reset_state()

    def log(self, record: TransferRecord) -> None:
        """Append a transfer record (called by the channels)."""
        self.transfers.append(record)

    def _channels(self) -> list[DmaChannel]:
        return [c for c in (self.mm2s, self.s2mm) if c is not None]

    def _channel_at(self, offset: int) -> DmaChannel | None:
        if offset < S2MM_OFFSET:
            return self.mm2s
        if offset < S2MM_OFFSET + CHANNEL_SPAN:
            return self.s2mm
        return None

    def __repr__(self) -> str:
        mode = "sg" if self.scatter_gather else "direct"
        chans = "+".join(c.direction for c in self._channels())
        return f"AxiDma('{self.name}', {mode}, {chans})"


def connect_loopback(dma: AxiDma, capacity_bytes: int | None = None) -> StreamFifo:
    """Connect a DMA's MM2S output to its own S2MM input through a :class:`StreamFifo`.

    Returns:
        The FIFO (inspect ``level``, ``packets_in``; a test may also push/pull it directly).
    """
    fifo = StreamFifo(capacity_bytes)
    dma.connect_mm2s(fifo)
    dma.connect_s2mm(fifo)
    return fifo
