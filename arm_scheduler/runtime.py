"""The board runtime: runs a compiled model (``.edm``) on the overlay through pynq.

On a ZCU board the overlay is the real engine and AXI DMAs (``EdgeDnnOverlay``); on a host it is
the emulated board (:class:`~arm_scheduler.emulated.device.EmulatedDevice`), behind the same pynq
``MMIO`` / ``allocate`` / ``DMA`` objects, so this module runs unmodified on both.

What happens when (``docs/scheduler.md``):

* **Load** (:class:`Runtime` constructor): read the ``.edm``; attach to the overlay; read the
  engine's identity block and refuse a model compiled for another configuration
  (:class:`ModelMismatchError` names both); check the contiguous-memory budget and allocate
  every buffer once: the weights, one activation area per in-flight slot, one command buffer
  per engine run, and for every (slot, engine run, stream) the scatter-gather descriptor chain
  of that run's transfer list (PG021 descriptors with physical addresses).
* **Inference**: per engine run, a few register writes per DMA channel (CURDESC, DMACR,
  TAILDESC), START, then a poll of STATUS and the DMA status registers with a deadline; per ARM
  step, the layer's integer reference (``forward_int``) on the tensors read from DDR.
* **Pipelining**: :meth:`Runtime.submit` queues a frame (bounded by ``max_in_flight`` slots);
  a dispatcher thread runs engine steps, an ARM worker thread runs ARM steps, so the ARM work of
  frame N overlaps the engine work of frame N+1. Several runtimes share one overlay through a
  fair (first come, first served) :class:`OverlayArbiter`.
* **Zero-copy inputs**: :meth:`Runtime.acquire_slot` reserves a slot;
  :meth:`Runtime.input_buffer` is a writable NCHW view of that slot's DMA buffer at the input's
  DDR layout (``input_mode`` ``"ddr"``), so preprocessing writes the quantized integers where
  the MM2S channel reads them; :meth:`Runtime.run_prepared` / :meth:`Runtime.submit_prepared`
  run on what was written. The view is read-only while its run is in flight.
* **Faults**: DMA error bits or an engine that does not finish by the deadline reset the DMA
  channels and the engine, and raise :class:`DmaTransferError` / :class:`EngineTimeoutError` /
  :class:`EngineStatusError` naming the step's layers and the status registers. The runtime
  stays usable; every submitted frame gets exactly one result or one exception.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from arm_scheduler import pg021
from arm_scheduler.errors import BoardError
from edge_dnn.compiler.model import ArmStep, CompiledModel, EngineStep, load_model
from edge_dnn.errors import InputError
from edge_dnn.overlay.config import OverlayConfig, load_overlay

__all__ = [
    "ContiguousMemoryBudgetError",
    "DmaTransferError",
    "EngineStatusError",
    "EngineTimeoutError",
    "ModelMismatchError",
    "OverlayArbiter",
    "Runtime",
    "RuntimeClosedError",
    "SchedulerError",
    "StepProfile",
]

_M32 = 0xFFFF_FFFF


# ---------------------------------------------------------------------------- errors
class SchedulerError(BoardError):
    """Base class of the runtime's errors."""


class ModelMismatchError(SchedulerError):
    """The loaded overlay is not the configuration the model was compiled for."""


class ContiguousMemoryBudgetError(SchedulerError):
    """The model's buffers do not fit in the free contiguous memory (CMA).

    Attributes:
        needed: Bytes the runtime would allocate.
        available: Free contiguous bytes.
    """

    def __init__(self, message: str, needed: int, available: int) -> None:
        super().__init__(message)
        self.needed = needed
        self.available = available


class _StepError(SchedulerError):
    def __init__(self, message: str, step: int, layers: tuple[str, ...], registers: dict[str, int]):
        regs = ", ".join(f"{k}=0x{v:08X}" for k, v in registers.items())
        super().__init__(f"engine run {step} (layers {', '.join(layers)}): {message}; {regs}")
        self.step = step
        self.layers = layers
        self.registers = registers


class DmaTransferError(_StepError):
    """A DMA channel stopped with error bits (slave / decode / internal error) during a run."""


class EngineTimeoutError(_StepError):
    """The engine (or a DMA channel) did not finish the run before the deadline."""


class EngineStatusError(_StepError):
    """The engine stopped with STATUS.ERROR (e.g. a corrupted command word)."""


class RuntimeClosedError(SchedulerError):
    """The runtime was closed; no more frames are accepted."""


# ---------------------------------------------------------------------------- arbiter
class OverlayArbiter:
    """Fair mutual exclusion on one overlay: engine runs are granted in request order."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0
        self._serving = 0
        self.positions: dict[int, int] = {}
        """DMA channel (physical register address) -> ``NXTDESC`` of the descriptor it idles
        on. Shared by every runtime of the device: the channels are; guarded by :meth:`hold`."""

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the overlay for one engine run (first come, first served)."""
        with self._cond:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._serving += 1
                self._cond.notify_all()


_ARBITERS: weakref.WeakKeyDictionary[Any, OverlayArbiter] = weakref.WeakKeyDictionary()
_ARBITERS_LOCK = threading.Lock()


def arbiter_of(device: Any) -> OverlayArbiter:
    """The arbiter shared by every runtime on ``device``."""
    with _ARBITERS_LOCK:
        arb = _ARBITERS.get(device)
        if arb is None:
            arb = _ARBITERS[device] = OverlayArbiter()
        return arb


# ---------------------------------------------------------------------------- profile
@dataclasses.dataclass
class StepProfile:
    """Accumulated figures of one step over the runs since the last reset.

    Attributes:
        index: Step index in the model.
        kind: ``engine`` or ``arm``.
        layers: Layers of the step.
        calls: Times it ran.
        board_s: Modeled board time of the engine run (simulated clock of the emulated board;
            0 on a real board, where ``wall_s`` is the measurement).
        wall_s: Host wall time of the step.
        overhead_s: Host time the scheduler itself spent (register programming, polling,
            descriptor bookkeeping), excluding the time the emulated hardware took inside
            register accesses.
        register_accesses: Register reads and writes of the scheduler.
    """

    index: int
    kind: str
    layers: tuple[str, ...]
    calls: int = 0
    board_s: float = 0.0
    wall_s: float = 0.0
    overhead_s: float = 0.0
    register_accesses: int = 0

    def per_call(self) -> dict[str, Any]:
        """Mean figures per call (JSON-ready)."""
        n = max(1, self.calls)
        return {
            "index": self.index,
            "kind": self.kind,
            "layers": list(self.layers),
            "calls": self.calls,
            "board_ms": self.board_s / n * 1e3,
            "wall_ms": self.wall_s / n * 1e3,
            "overhead_us": self.overhead_s / n * 1e6,
            "register_accesses": self.register_accesses // n,
        }


# ---------------------------------------------------------------------------- board access
class _Regs:
    """Register access through pynq MMIO objects, timed and optionally traced."""

    def __init__(self, trace: bool) -> None:
        self.trace_on = trace
        self.trace: list[tuple[str, str, int, int]] = []
        self.count = 0
        self.seconds = 0.0

    def write(self, mmio: Any, who: str, offset: int, value: int) -> None:
        t0 = time.perf_counter()
        mmio.write(offset, value)
        self.seconds += time.perf_counter() - t0
        self.count += 1
        if self.trace_on:
            self.trace.append(("W", who, offset, value))

    def read(self, mmio: Any, who: str, offset: int) -> int:
        t0 = time.perf_counter()
        v = int(mmio.read(offset))
        self.seconds += time.perf_counter() - t0
        self.count += 1
        if self.trace_on:
            self.trace.append(("R", who, offset, v))
        return v


@dataclasses.dataclass
class _Channel:
    dma: str
    offset: int  # 0 (MM2S) or 0x30 (S2MM)
    mmio: Any
    stream: str

    @property
    def who(self) -> str:
        return f"{self.dma}.{'MM2S' if self.offset == 0 else 'S2MM'}"

    @property
    def key(self) -> int:
        """The channel's identity on the bus: its register block's physical address."""
        return int(getattr(self.mmio, "base_addr", 0)) + self.offset


@dataclasses.dataclass
class _Chain:
    """One engine run's segment of a channel's descriptor ring."""

    channel: _Channel
    desc: Any  # view (n, 16) uint32 of the ring's PynqBuffer
    head: int
    tail: int
    next_head: int  # NXTDESC of the tail: the head of the channel's next segment in the ring


@dataclasses.dataclass
class _Slot:
    index: int
    acts: Any  # PynqBuffer uint8: the activation area
    chains: dict[int, list[_Chain]]  # engine step -> chains
    arm: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    # Prepared runs (zero-copy inputs): network input -> the writable NCHW array the caller
    # fills (a view of ``acts`` or a host array, see Runtime.input_mode).
    inputs: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    reserved: bool = False  # held by acquire_slot: never taken by submit()
    busy: bool = False  # a prepared run of this slot is queued or running


@dataclasses.dataclass(frozen=True)
class _InputPlan:
    """How a network input reaches the engine on the zero-copy (prepared) path."""

    mode: str  # "ddr", "staging" or "arm" (see Runtime.input_mode)
    lanes: tuple[int, int] = (0, 0)  # ddr: physical channels [p0, p0 + C) of the only block
    shared: bool = False  # ddr: other tensors' layouts overlap its bytes (reused buffer)
    arm_read: bool = False  # an ARM step reads the input


@dataclasses.dataclass
class _Job:
    feeds: dict[str, np.ndarray]
    raw: bool
    future: concurrent.futures.Future[dict[str, np.ndarray]]
    slot: _Slot | None = None
    step: int = 0
    prepared: bool = False  # the inputs are already in the slot (submit_prepared)
    loaded: bool = False


def _board_overlay(cfg: OverlayConfig) -> Any:
    """The process-wide :class:`EdgeDnnOverlay` of ``cfg`` on a board, downloaded once.

    Several runtimes (e.g. one per camera) share the overlay: a second download would
    reprogram the PL under the first runtime's feet. A runtime for another overlay replaces it
    (the PL holds one bitstream), which the identity check of the older runtimes then refuses.
    """
    from arm_scheduler.board_overlay import EdgeDnnOverlay

    with _ARBITERS_LOCK:
        ol = _DEFAULT.get("board_overlay")
        if ol is None or ol.config.config_hash != cfg.config_hash:
            ol = EdgeDnnOverlay(cfg.name)
            _DEFAULT["board_overlay"] = ol
        return ol


def _emulated_device(cfg: OverlayConfig) -> Any:
    """The process-wide emulated board (pynq's active device when it is one), overlay loaded."""
    from arm_scheduler import pynq_api
    from arm_scheduler.emulated.device import EmulatedDevice

    with _ARBITERS_LOCK:
        dev = _DEFAULT.get("device")
        if dev is None:
            try:
                active = pynq_api.Device.active_device
            except Exception:  # pynq found no device at all
                active = None
            dev = active if isinstance(active, EmulatedDevice) else EmulatedDevice()
            _DEFAULT["device"] = dev
    if dev.overlay is None:
        dev.add_overlay(cfg)
    return dev


_DEFAULT: dict[str, Any] = {}


class Runtime:
    """A compiled model attached to an overlay, ready to run frames.

    Args:
        model: A :class:`CompiledModel` or the path of its ``.edm``.
        device: The board: an :class:`~arm_scheduler.emulated.device.EmulatedDevice` (its
            overlay is loaded when it has none), or ``None``: on a ZCU board the overlay
            ``edge_dnn_<overlay>.bit`` is loaded with :class:`EdgeDnnOverlay`; on a host the
            process-wide emulated board is used.
        max_in_flight: Frames in flight (activation slots) for :meth:`submit`.
        arm_thread: Run ARM steps on a worker thread (overlapping the next frame's engine work).
        timeout: Deadline of one engine run, seconds (wall clock).
        trace: Record every register access (:attr:`trace`).

    Raises:
        ModelMismatchError: the overlay's identity block is not the model's configuration.
        ContiguousMemoryBudgetError: the buffers do not fit in the free contiguous memory.
    """

    def __init__(
        self,
        model: CompiledModel | str | os.PathLike[str],
        device: Any = None,
        *,
        max_in_flight: int = 2,
        arm_thread: bool = True,
        timeout: float = 10.0,
        trace: bool = False,
    ) -> None:
        from arm_scheduler import pynq_api

        self.model = model if isinstance(model, CompiledModel) else load_model(Path(model))
        self.cfg = load_overlay(self.model.overlay)
        self.model.check_overlay(self.cfg)
        if max_in_flight < 1:
            raise InputError(f"max_in_flight must be >= 1, got {max_in_flight}")
        self.timeout = float(timeout)
        self._regs = _Regs(trace)
        self._closed = False
        self._lock = threading.RLock()
        if device is None and pynq_api.real_board_present():
            self._overlay = _board_overlay(self.cfg)
            self.device = self._overlay.device
            self._engine_mmio = self._overlay.engine.mmio
            dmas = {d.name: getattr(self._overlay, d.name) for d in self.cfg.dmas}
            self.emulated = False
        else:
            if device is None:
                self.device = _emulated_device(self.cfg)
            else:
                self.device = device
                if getattr(device, "overlay", None) is None:
                    device.add_overlay(self.cfg)
            self._engine_mmio = pynq_api.MMIO(
                self.cfg.engine.base_address, self.cfg.engine.address_range, device=self.device
            )
            dmas = {d.name: self.device.pynq_dma(d.name) for d in self.cfg.dmas}
            self.emulated = True
        self._check_identity()
        # Register offsets and bit masks of the per-run path, looked up once.
        ctrl, status = self.cfg.register("CONTROL"), self.cfg.register("STATUS")
        code = status.field("ERROR_CODE")
        self._ctrl = ctrl.offset
        self._start = ctrl.field("START").mask
        self._soft_reset = ctrl.field("SOFT_RESET").mask
        self._status = status.offset
        self._done = status.field("DONE").mask
        self._error = status.field("ERROR").mask
        self._code = (code.mask, code.lsb)
        self._channels: dict[str, _Channel] = {}
        for d in self.cfg.dmas:
            for direction, stream in (("mm2s", d.mm2s), ("s2mm", d.s2mm)):
                if stream:
                    off = pg021.MM2S_OFFSET if direction == "mm2s" else pg021.S2MM_OFFSET
                    self._channels[stream] = _Channel(d.name, off, dmas[d.name].mmio, stream)
        self._arbiter = arbiter_of(self.device)
        self._pos = self._arbiter.positions
        self._allocate(max_in_flight)
        self.input_copies = 0
        """Copies of network-input size the runtime made of input data (quantizing a float
        input, packing into the DDR layout, a staging pack or an ARM snapshot); prepared runs of
        ``ddr`` / ``arm`` inputs add none."""
        self._input_plans = {name: self._plan_input(name) for name in self.model.inputs}
        for slot in self._slots:
            slot.inputs = {name: self._input_array(name, slot) for name in self.model.inputs}
        # New rings may sit where a closed runtime's rings were: a channel idling on a freed
        # descriptor must be restarted with CURDESC, never continued by TAILDESC alone.
        with self._arbiter.hold():
            self._pos.clear()
        self._inflight = threading.BoundedSemaphore(len(self._slots))
        self.profile_reset()
        self._free_slots: queue.Queue[_Slot] = queue.Queue()
        for s in self._slots:
            self._free_slots.put(s)
        self._ready: queue.Queue[_Job | None] = queue.Queue()
        self._arm_pool = (
            concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="edge-dnn-arm")
            if arm_thread
            else None
        )
        self._dispatcher = threading.Thread(
            target=self._dispatch, name="edge-dnn-dispatch", daemon=True
        )
        self._dispatcher.start()

    # ------------------------------------------------------------------ attach
    def _reg(self, name: str) -> int:
        return self._regs.read(self._engine_mmio, "engine", self.cfg.register(name).offset)

    def identity(self) -> dict[str, int]:
        """The engine's identity block as read from its registers (name -> 32-bit word)."""
        return {r.name: self._reg(r.name) for r in self.cfg.registers if r.group == "identity"}

    def _check_identity(self) -> None:
        got = self.identity()
        want = dict(self.cfg.derived.identity_words)
        if got != want:
            diff = [f"{k}: board 0x{got.get(k, 0):08X}, model 0x{v:08X}" for k, v in want.items()
                    if got.get(k) != v]  # fmt: skip
            loaded = getattr(getattr(self.device, "overlay", None), "cfg", None)
            board = (
                f"'{loaded.name}' (config {loaded.config_hash[:16]})"
                if loaded is not None
                else f"config hash {got.get('ID_CONFIG_HASH0', 0):08x}"
                f"{got.get('ID_CONFIG_HASH1', 0):08x}"
            )
            raise ModelMismatchError(
                f"model '{self.model.name}' was compiled for overlay '{self.model.overlay}' "
                f"(config {self.model.config_hash[:16]}), but the board runs overlay {board}: "
                + "; ".join(diff)
            )

    # ------------------------------------------------------------------ memory
    def _allocate(self, slots: int) -> None:
        from arm_scheduler import pynq_api

        mem = self.model.memory
        w_lo, w_hi = mem.weights_offset, mem.weights_offset + int(mem.weights.size)
        self._weights_range = (w_lo, w_hi)
        engine_steps = [i for i, s in enumerate(self.model.steps) if isinstance(s, EngineStep)]
        n_desc = cmd_bytes = 0
        for i in engine_steps:
            step = self.model.steps[i]
            assert isinstance(step, EngineStep)
            n_desc += sum(len(step.transfer_list(s)) for s in step.transfers)
            cmd_bytes += int(step.cmd.nbytes)
        needed = (w_hi - w_lo) + slots * (mem.size + n_desc * pg021.DESC_BYTES) + cmd_bytes
        needed += len(engine_steps) * pg021.DESC_BYTES
        # The emulated board reports its allocator; on the board the kernel's CmaFree is read.
        from arm_scheduler import cma

        avail = cma.free_contiguous_memory(self.device, on_board=not self.emulated)
        if avail is not None and needed > avail.free:
            raise ContiguousMemoryBudgetError(
                f"model '{self.model.name}' needs {needed:,} bytes of contiguous memory "
                f"({slots} slot(s) of {mem.size:,} bytes, weights {w_hi - w_lo:,}, "
                f"descriptors and commands); only {avail.free:,} are free ({avail.source})",
                needed,
                avail.free,
            )

        def alloc(shape: Any, dtype: Any) -> Any:
            return pynq_api.allocate(shape, dtype, target=self.device)

        self._weights = alloc((max(1, w_hi - w_lo),), np.uint8)
        self._weights[: w_hi - w_lo] = mem.weights
        self._rings: list[Any] = []
        self._cmds: dict[int, tuple[Any, _Chain]] = {}
        cmd_channel = self._channels[self.cfg.streams_with_role("cmd")[0].name]
        cmd_segments: list[tuple[int, list[tuple[int, int, bool]]]] = []
        cmd_bufs = {}
        for i in engine_steps:
            step = self.model.steps[i]
            assert isinstance(step, EngineStep)
            buf = alloc((step.cmd.size,), np.uint32)
            buf[:] = step.cmd
            cmd_bufs[i] = buf
            cmd_segments.append((i, [(int(buf.physical_address), int(buf.nbytes), True)]))
        for i, chain in self._build_ring(cmd_channel, cmd_segments, alloc).items():
            self._cmds[i] = (cmd_bufs[i], chain)
        self._slots: list[_Slot] = []
        for k in range(slots):
            acts = alloc((mem.size,), np.uint8)
            acts[:] = 0
            chains: dict[int, list[_Chain]] = {i: [] for i in engine_steps}
            for s in self.cfg.streams:
                if s.role == "cmd":
                    continue
                segments = []
                for i in engine_steps:
                    step = self.model.steps[i]
                    assert isinstance(step, EngineStep)
                    rows = step.transfer_list(s.name) if s.name in step.transfers else []
                    if rows:
                        segments.append((i, [
                            (self._address(acts, t.offset, t.length, i, s.name), t.length, t.last)
                            for t in rows
                        ]))  # fmt: skip
                if segments:
                    ring = self._build_ring(self._channels[s.name], segments, alloc)
                    for i, chain in ring.items():
                        chains[i].append(chain)
            self._slots.append(_Slot(k, acts, chains))

    def _address(self, acts: Any, offset: int, length: int, step: int, stream: str) -> int:
        """Physical address of a transfer: in the shared weights or in the slot's area."""
        w_lo, w_hi = self._weights_range
        if w_lo <= offset and offset + length <= w_hi:
            return int(self._weights.physical_address) + offset - w_lo
        if offset + length <= w_lo or offset >= w_hi:
            return int(acts.physical_address) + offset
        raise SchedulerError(
            f"engine run {step}, stream '{stream}': transfer [0x{offset:X}, "
            f"0x{offset + length:X}) straddles the weights region"
        )

    def _build_ring(
        self,
        channel: _Channel,
        segments: list[tuple[int, list[tuple[int, int, bool]]]],
        alloc: Callable[..., Any],
    ) -> dict[int, _Chain]:
        """One channel's descriptor ring: the segments of consecutive engine runs, linked in
        order, the last back to the first. After a run the channel idles on the tail of its
        segment, whose NXTDESC is the next segment's head: the next run only moves TAILDESC."""
        n = sum(len(rows) for _, rows in segments)
        desc = alloc((n, pg021.DESC_BYTES // 4), np.uint32)
        desc[:] = 0
        self._rings.append(desc)
        pa = int(desc.physical_address)
        mm2s = channel.offset == pg021.MM2S_OFFSET
        out: dict[int, _Chain] = {}
        pos = 0
        for step, rows in segments:
            first = pos
            for j, (addr, length, last) in enumerate(rows):
                nxt = pa + pg021.DESC_BYTES * ((pos + 1) % n)
                flags = 0
                if mm2s:
                    sof = j == 0 or rows[j - 1][2]
                    flags = (pg021.CTRL_SOF if sof else 0) | (pg021.CTRL_EOF if last else 0)
                desc[pos, 0] = nxt & _M32
                desc[pos, 1] = nxt >> 32
                desc[pos, 2] = addr & _M32
                desc[pos, 3] = addr >> 32
                desc[pos, 6] = length | flags
                pos += 1
            head = pa + pg021.DESC_BYTES * first
            tail = pa + pg021.DESC_BYTES * (pos - 1)
            out[step] = _Chain(
                channel, desc[first:pos], head, tail, pa + pg021.DESC_BYTES * (pos % n)
            )
        return out

    # ------------------------------------------------------------------ engine runs
    def _start_chain(self, ch: _Chain) -> None:
        ch.desc[:, pg021.DESC_STATUS // 4] = 0  # Cmplt of the previous pass over the ring
        c, r = ch.channel, self._regs
        if self._pos.get(c.key) == ch.head:
            # The channel idles on the previous segment's tail, whose NXTDESC is this head:
            # moving TAILDESC restarts it (PG021 tail-pointer mode).
            r.write(c.mmio, c.who, c.offset + pg021.REG_TAILDESC, ch.tail & _M32)
            r.write(c.mmio, c.who, c.offset + pg021.REG_TAILDESC_MSB, ch.tail >> 32)
            self._pos[c.key] = ch.next_head
            return
        # PG021: CURDESC may only be written while the channel is halted; a channel left
        # running (idle) by a run of another slot is stopped first (RS = 0 halts it).
        if not r.read(c.mmio, c.who, c.offset + pg021.REG_DMASR) & pg021.SR_HALTED:
            r.write(c.mmio, c.who, c.offset + pg021.REG_DMACR, 0)
            deadline = time.monotonic() + self.timeout
            while not r.read(c.mmio, c.who, c.offset + pg021.REG_DMASR) & pg021.SR_HALTED:
                if time.monotonic() > deadline:
                    raise SchedulerError(f"{c.who} did not halt (stream {c.stream})")
        r.write(c.mmio, c.who, c.offset + pg021.REG_CURDESC, ch.head & _M32)
        r.write(c.mmio, c.who, c.offset + pg021.REG_CURDESC_MSB, ch.head >> 32)
        r.write(c.mmio, c.who, c.offset + pg021.REG_DMACR, pg021.CR_RS)
        r.write(c.mmio, c.who, c.offset + pg021.REG_TAILDESC, ch.tail & _M32)
        r.write(c.mmio, c.who, c.offset + pg021.REG_TAILDESC_MSB, ch.tail >> 32)
        self._pos[c.key] = ch.next_head

    def _status_regs(self) -> dict[str, int]:
        regs = {"STATUS": self._reg("STATUS")}
        for c in self._channels.values():
            regs[f"{c.who}_DMASR"] = self._regs.read(c.mmio, c.who, c.offset + pg021.REG_DMASR)
        return regs

    def reset(self) -> None:
        """Reset the engine (SOFT_RESET) and every DMA (DMACR.Reset)."""
        self._pos.clear()
        self._regs.write(self._engine_mmio, "engine", self._ctrl, self._soft_reset)
        for dma in {c.dma: c for c in self._channels.values()}.values():
            self._regs.write(dma.mmio, dma.dma, pg021.REG_DMACR, pg021.CR_RESET)
        for c in self._channels.values():
            deadline = time.monotonic() + 1.0
            while self._regs.read(c.mmio, c.who, c.offset + pg021.REG_DMACR) & pg021.CR_RESET:
                if time.monotonic() > deadline:
                    break

    def _engine_step(self, index: int, slot: _Slot) -> None:
        step = self.model.steps[index]
        assert isinstance(step, EngineStep)
        prof = self._profile[index]
        t0 = time.perf_counter()
        r0, n0 = self._regs.seconds, self._regs.count
        clock0 = self._now_ns()
        done, error = self._done, self._error
        with self._arbiter.hold():
            # S2MM first (ready to receive), then the engine, then what feeds it.
            chains = slot.chains[index]
            for ch in chains:
                if ch.channel.offset == pg021.S2MM_OFFSET:
                    self._start_chain(ch)
            self._regs.write(self._engine_mmio, "engine", self._ctrl, self._start)
            self._start_chain(self._cmds[index][1])
            for ch in chains:
                if ch.channel.offset == pg021.MM2S_OFFSET:
                    self._start_chain(ch)
            deadline = time.monotonic() + self.timeout
            s2mm = [ch.channel for ch in chains if ch.channel.offset == pg021.S2MM_OFFSET]
            while True:
                st = self._regs.read(self._engine_mmio, "engine", self._status)
                if st & error:
                    regs = self._status_regs()
                    self.reset()
                    mask, lsb = self._code
                    raise EngineStatusError(
                        f"the engine stopped with error code {(st & mask) >> lsb}",
                        index,
                        step.layers,
                        regs,
                    )
                if st & done:
                    # Finished: only the S2MM channels may still be draining or have failed.
                    srs = [self._sr(c) for c in s2mm]
                    if not any(sr & pg021.SR_ERRORS for sr in srs):
                        if all(sr & pg021.SR_IDLE for sr in srs):
                            break
                        if time.monotonic() <= deadline:
                            continue
                dma_err = self._dma_errors()
                if dma_err:
                    regs = self._status_regs()
                    self.reset()
                    raise DmaTransferError(
                        "DMA error on " + ", ".join(dma_err), index, step.layers, regs
                    )
                if time.monotonic() > deadline:
                    regs = self._status_regs()
                    self.reset()
                    raise EngineTimeoutError(
                        f"not finished after {self.timeout:g} s", index, step.layers, regs
                    )
        wall = time.perf_counter() - t0
        prof.calls += 1
        prof.wall_s += wall
        prof.register_accesses += self._regs.count - n0
        hw = self._regs.seconds - r0
        prof.overhead_s += max(0.0, wall - hw) + (self._regs.count - n0) * self._access_s
        prof.board_s += (self._now_ns() - clock0) / 1e9

    def _sr(self, c: _Channel) -> int:
        return self._regs.read(c.mmio, c.who, c.offset + pg021.REG_DMASR)

    def _dma_errors(self) -> list[str]:
        out = []
        for c in self._channels.values():
            sr = self._regs.read(c.mmio, c.who, c.offset + pg021.REG_DMASR)
            if sr & pg021.SR_ERRORS:
                out.append(f"{c.who} (stream {c.stream}, DMASR 0x{sr:08X})")
        return out

    def _now_ns(self) -> int:
        now = getattr(self.device, "now_ns", None)
        return int(now) if isinstance(now, int) else 0

    # ------------------------------------------------------------------ zero-copy inputs
    def _plan_input(self, name: str) -> _InputPlan:
        """Where the prepared path keeps input ``name`` (see :meth:`input_mode`)."""
        info = self.model.tensors[name]
        arm_read = any(name in s.inputs for s in self.model.steps if isinstance(s, ArmStep))
        lay = info.layout
        if lay is None or info.quant.is_float:
            return _InputPlan("arm", arm_read=arm_read)
        C = int(info.shape[1]) if len(info.shape) > 1 else 1
        cmap = lay.channel_map
        used = [p for p, c in enumerate(cmap) if c >= 0]
        p0 = used[0] if used else 0
        # One channel block holding the logical channels in order on consecutive lanes: the
        # NCHW tensor is then a strided view of the blocked bytes ([H][W][cbc] interleaved).
        if (
            len(info.shape) != 4
            or int(info.shape[0]) != 1
            or (lay.height, lay.width) != (int(info.shape[2]), int(info.shape[3]))
            or lay.blocks != 1
            or used != list(range(p0, p0 + C))
            or [cmap[p] for p in used] != list(range(C))
        ):
            return _InputPlan("staging", arm_read=arm_read)
        shared = any(
            t.layout is not None
            and t.name != name
            and t.layout.offset < lay.end
            and lay.offset < t.layout.end
            for t in self.model.tensors.values()
        )
        return _InputPlan("ddr", (p0, p0 + C), shared, arm_read)

    def _input_array(self, name: str, slot: _Slot) -> np.ndarray:
        """The array prepared runs of ``slot`` read input ``name`` from."""
        info = self.model.tensors[name]
        plan = self._input_plans[name]
        dtype = np.dtype(np.float32 if info.quant.is_float else info.quant.np_dtype)
        if plan.mode != "ddr":
            return np.zeros(tuple(int(d) for d in info.shape), dtype)
        lay = info.layout
        assert lay is not None
        lo, hi = plan.lanes
        region = self._region(slot, name)
        # [1][C][H][W] indexing of the lanes [lo, hi) of the [H][W][cbc] words: no copy
        return region[:, :, lo:hi].transpose(2, 0, 1)[None]

    def _region(self, slot: _Slot, name: str) -> np.ndarray:
        """The blocked bytes of DDR tensor ``name`` in ``slot`` as ``[H][W][cbc]`` elements."""
        info = self.model.tensors[name]
        lay = info.layout
        assert lay is not None
        dt = np.dtype(info.quant.np_dtype).newbyteorder("<")
        raw = np.asarray(slot.acts)[lay.offset : lay.end]
        return raw.view(dt).reshape(lay.height, lay.width, lay.block_channels)

    def _load_prepared(self, job: _Job) -> None:
        """Make a prepared slot's inputs visible to the run: nothing to copy for ``ddr`` and
        ``arm`` inputs, one pack for ``staging`` ones."""
        slot = job.slot
        assert slot is not None
        slot.arm = {}
        for name, a in slot.inputs.items():
            plan = self._input_plans[name]
            info = self.model.tensors[name]
            if plan.mode == "ddr":
                if plan.shared:
                    # Another tensor reused these bytes in the previous run: the padding lanes
                    # must read as zeros again (the caller writes only the logical channels).
                    lo, hi = plan.lanes
                    region = self._region(slot, name)
                    region[:, :, :lo] = 0
                    region[:, :, hi:] = 0
                    if plan.arm_read:
                        # The plan may reuse the bytes before an ARM reader runs: snapshot.
                        slot.arm[name] = np.array(a)
                        self.input_copies += 1
                        continue
                slot.arm[name] = a
            elif plan.mode == "staging":
                info.write(slot.acts, a)
                self.input_copies += 1
                slot.arm[name] = a
            else:
                slot.arm[name] = a

    # ------------------------------------------------------------------ frames
    def _load_inputs(self, job: _Job) -> None:
        slot = job.slot
        assert slot is not None
        slot.arm = {}
        for name, x in job.feeds.items():
            info = self.model.tensors[name]
            q = x
            if x.dtype != info.quant.np_dtype:
                q = info.quant.quantize(x, where=name)
                self.input_copies += 1
            slot.arm[name] = q
            if info.layout is not None:
                info.write(slot.acts, q)
                self.input_copies += 1

    def _arm_step(self, index: int, slot: _Slot) -> None:
        step = self.model.steps[index]
        assert isinstance(step, ArmStep)
        t0 = time.perf_counter()
        step.execute(slot.arm, slot.acts, self.model.tensors)
        prof = self._profile[index]
        prof.calls += 1
        prof.wall_s += time.perf_counter() - t0

    def _outputs(self, job: _Job) -> dict[str, np.ndarray]:
        slot = job.slot
        assert slot is not None
        out = {}
        for t in self.model.outputs:
            info = self.model.tensors[t]
            q = slot.arm[t] if t in slot.arm else info.read(slot.acts)
            out[t] = np.array(q) if job.raw else info.quant.to_float(q, where=f"output '{t}'")
        return out

    def _finish(self, job: _Job, result: Any = None, exc: BaseException | None = None) -> None:
        slot, job.slot = job.slot, None
        if slot is not None:
            if job.prepared:
                # Back to its holder, writable again, before the caller sees the result.
                for a in slot.inputs.values():
                    a.flags.writeable = True
                slot.busy = False
            else:
                self._free_slots.put(slot)
        if job.future.done():  # pragma: no cover - every job finishes once by construction
            return
        if exc is not None:
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)

    def _dispatch(self) -> None:
        while True:
            job = self._ready.get()
            if job is None:
                return
            try:
                if job.prepared:
                    if not job.loaded:
                        job.loaded = True
                        self._load_prepared(job)
                elif job.slot is None:
                    job.slot = self._free_slots.get()
                    self._load_inputs(job)
                assert job.slot is not None
                while job.step < len(self.model.steps):
                    idx = job.step
                    step = self.model.steps[idx]
                    if isinstance(step, ArmStep):
                        if self._arm_pool is not None:
                            self._arm_pool.submit(self._arm_then_requeue, job)
                            break
                        self._arm_step(idx, job.slot)
                    else:
                        self._engine_step(idx, job.slot)
                    job.step += 1
                else:
                    self._finish(job, self._outputs(job))
            except BaseException as exc:
                self._finish(job, exc=exc)

    def _arm_then_requeue(self, job: _Job) -> None:
        try:
            assert job.slot is not None
            self._arm_step(job.step, job.slot)
            job.step += 1
            if job.step == len(self.model.steps):
                self._finish(job, self._outputs(job))
            else:
                self._ready.put(job)
        except BaseException as exc:
            self._finish(job, exc=exc)

    # ------------------------------------------------------------------ public API
    def submit(
        self, x: Mapping[str, np.ndarray] | np.ndarray, raw: bool = False, timeout: float = 60.0
    ) -> concurrent.futures.Future[dict[str, np.ndarray]]:
        """Queue one frame; returns a future of its outputs.

        Args:
            x: Input name -> float32 array (dequantized values, quantized here) or an array of
                the input's storage dtype (already quantized, used as is), shape as compiled
                (batch 1, NCHW); a bare array for a single-input model.
            raw: Outputs as the integers of their storage dtype instead of float32.
            timeout: Seconds to wait for a free in-flight slot.

        Raises:
            InputError: bad inputs. RuntimeClosedError: after :meth:`close`.
            TimeoutError: no slot became free in time.
        """
        if self._closed:
            raise RuntimeClosedError(f"runtime of '{self.model.name}' is closed")
        feeds = self.model.check_feeds(x, batch=1)
        if not self._inflight.acquire(timeout=timeout):
            raise TimeoutError(f"no in-flight slot free after {timeout:g} s")
        fut: concurrent.futures.Future[dict[str, np.ndarray]] = concurrent.futures.Future()
        fut.add_done_callback(lambda _f: self._inflight.release())
        self._ready.put(_Job(feeds, raw, fut))
        return fut

    def run(
        self, x: Mapping[str, np.ndarray] | np.ndarray, raw: bool = False, timeout: float = 60.0
    ) -> dict[str, np.ndarray]:
        """Run one frame and return its outputs (see :meth:`submit`)."""
        return self.submit(x, raw=raw).result(timeout=timeout)

    # ------------------------------------------------------------------ zero-copy API
    def acquire_slot(self, timeout: float = 60.0) -> int:
        """Reserve an in-flight slot for prepared runs (zero-copy inputs).

        The slot stays with the caller until :meth:`release_slot`: :meth:`submit` never uses
        it, and its input arrays (:meth:`input_buffer`) are the caller's to fill between runs.
        Hold one slot per frame you want in flight.

        Args:
            timeout: Seconds to wait for a free slot.

        Returns:
            The slot index.

        Raises:
            RuntimeClosedError: after :meth:`close`. TimeoutError: no slot became free in time
                (every slot is reserved or busy; see ``max_in_flight``).
        """
        self._check_open()
        if not self._inflight.acquire(timeout=timeout):
            raise TimeoutError(
                f"runtime of '{self.model.name}': no free in-flight slot after {timeout:g} s "
                f"({len(self._slots)} slot(s); create the Runtime with a larger max_in_flight)"
            )
        # The semaphore counts slots not claimed by queued frames: one is free or being freed.
        slot = self._free_slots.get(timeout=max(1.0, timeout))
        slot.reserved = True
        return slot.index

    def release_slot(self, slot: int) -> None:
        """Give a reserved slot back to the pool (after its last prepared run finished).

        Raises:
            SchedulerError: not a reserved slot, or its run is still in flight.
        """
        if self._closed:
            return  # close() released everything
        s = self._reserved_slot(slot)
        if s.busy:
            raise SchedulerError(
                f"slot {slot} of '{self.model.name}' has a run in flight; wait for its result "
                "before releasing it"
            )
        s.reserved = False
        self._free_slots.put(s)
        self._inflight.release()

    def input_mode(self, name: str) -> str:
        """How prepared runs take input ``name``:

        * ``"ddr"``: :meth:`input_buffer` is a view of the slot's DMA buffer (the input's
          blocked DDR layout, indexed NCHW): what the caller writes is what the engine's MM2S
          channel reads, with no copy;
        * ``"staging"``: a host NCHW array packed once into the DMA buffer per run (a layout
          with several channel blocks or a channel map that is not a lane range);
        * ``"arm"``: a host NCHW array read by the ARM steps directly (no DDR layout).

        Raises:
            InputError: not a network input.
        """
        if name not in self._input_plans:
            raise InputError(
                f"model '{self.model.name}' has no input '{name}'; "
                f"inputs: {list(self.model.inputs)}"
            )
        return self._input_plans[name].mode

    def input_buffer(self, name: str, slot: int) -> np.ndarray:
        """The array a prepared run of ``slot`` reads input ``name`` from.

        Shape ``[1, C, H, W]`` (the compiled input shape, batch 1), the input's storage dtype
        (int8 / uint8 / int16 quantized integers ``q = round(x / scale)``; float32 for a float
        input); the same array object on every call. In ``ddr`` mode (:meth:`input_mode`) it is
        a strided, writable view of the slot's DMA buffer (not C-contiguous: channels are
        interleaved in the engine's ``[H][W][cbc]`` words). While a prepared run of the slot is
        in flight the array is read-only (``flags.writeable`` is False): writes raise. After a
        run its contents are undefined (the memory plan may reuse the bytes): write every
        element before each run.

        Raises:
            InputError: not a network input. SchedulerError: ``slot`` is not reserved
                (:meth:`acquire_slot`). RuntimeClosedError: after :meth:`close`.
        """
        self._check_open()
        self.input_mode(name)
        return self._reserved_slot(slot).inputs[name]

    def submit_prepared(
        self, slot: int, raw: bool = False
    ) -> concurrent.futures.Future[dict[str, np.ndarray]]:
        """Queue a run of ``slot`` on the inputs already written into its :meth:`input_buffer`
        arrays; returns a future of its outputs (as :meth:`submit`). The slot stays reserved;
        its input arrays are read-only until the future is done.

        Raises:
            SchedulerError: ``slot`` is not reserved or already has a run in flight.
            RuntimeClosedError: after :meth:`close`.
        """
        self._check_open()
        s = self._reserved_slot(slot)
        with self._lock:
            if s.busy:
                raise SchedulerError(
                    f"slot {slot} of '{self.model.name}' already has a run in flight; wait for "
                    "its result before writing and submitting it again"
                )
            s.busy = True
        for a in s.inputs.values():
            a.flags.writeable = False
        fut: concurrent.futures.Future[dict[str, np.ndarray]] = concurrent.futures.Future()
        self._ready.put(_Job({}, raw, fut, slot=s, prepared=True))
        return fut

    def run_prepared(
        self, slot: int, raw: bool = False, timeout: float = 60.0
    ) -> dict[str, np.ndarray]:
        """Run ``slot`` on its prepared inputs and return the outputs (see
        :meth:`submit_prepared`)."""
        return self.submit_prepared(slot, raw=raw).result(timeout=timeout)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeClosedError(f"runtime of '{self.model.name}' is closed")

    def _reserved_slot(self, slot: int) -> _Slot:
        if not (isinstance(slot, int) and 0 <= slot < len(self._slots)) or not (
            self._slots[slot].reserved
        ):
            raise SchedulerError(
                f"slot {slot!r} of '{self.model.name}' is not reserved; call acquire_slot() first"
            )
        return self._slots[slot]

    def profile_reset(self) -> None:
        """Clear the accumulated profile (and measure one bare register access)."""
        self._profile = [
            StepProfile(
                i,
                "arm" if isinstance(s, ArmStep) else "engine",
                tuple([s.name] if isinstance(s, ArmStep) else s.layers),
            )
            for i, s in enumerate(self.model.steps)
        ]
        scratch = self.cfg.register("SCRATCH").offset
        t0 = time.perf_counter()
        for _ in range(20):
            self._engine_mmio.read(scratch)
        self._access_s = (time.perf_counter() - t0) / 20

    def profile(self) -> list[dict[str, Any]]:
        """Per step: calls, modeled board time, host wall time, scheduler overhead (means)."""
        return [p.per_call() for p in self._profile]

    @property
    def trace(self) -> list[tuple[str, str, int, int]]:
        """Register accesses recorded with ``trace=True``: (R/W, block, offset, value)."""
        return self._regs.trace

    def close(self, timeout: float = 10.0) -> None:
        """Stop the threads (after the queued frames) and release every buffer."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._ready.put(None)
        self._dispatcher.join(timeout)
        with self._arbiter.hold():
            self._pos.clear()  # the channels idle on descriptors about to be freed
        if self._arm_pool is not None:
            self._arm_pool.shutdown(wait=True)
        bufs = [self._weights, *self._rings]
        bufs += [slot.acts for slot in self._slots]
        bufs += [buf for buf, _ in self._cmds.values()]
        self._slots, self._cmds, self._rings = [], {}, []
        for b in bufs:
            # the emulated board frees explicitly; pynq's freebuffer does it on a board
            free = getattr(self.device, "free", None) if self.emulated else None
            if callable(free):
                free(b)
            else:
                b.freebuffer()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "emulated board" if self.emulated else "board"
        return f"Runtime('{self.model.name}' on {self.cfg.name}, {where})"
