"""The emulated board as a pynq device: pynq's own MMIO, allocate and DMA code run unmodified.

:class:`EmulatedDevice` subclasses ``pynq.Device`` and plugs into pynq where a real board's
device would:

* ``capabilities = {"REGISTER_RW": True}``: ``pynq.MMIO`` then sends every 32-bit access to
  :meth:`EmulatedDevice.read_registers` / :meth:`EmulatedDevice.write_registers`, which dispatch
  to the register models mapped on the emulated bus (:class:`arm_scheduler.emulated.bus.AddressMap`;
  an access that hits no model raises :class:`UnmappedAddressError` naming the address).
* :meth:`EmulatedDevice.allocate` (what ``pynq.allocate`` calls) returns genuine
  ``pynq.buffer.PynqBuffer`` objects that are views of the emulated DDR array, coherent, with
  ``physical_address`` pointing back into it, so DMA models see exactly the bytes software wrote.
  The buffers carry no ``memory`` attribute (pynq would otherwise ``munmap`` them on free).
* A simulated clock (:attr:`now_ns`, :meth:`advance`) for models to timestamp events.
* :meth:`EmulatedDevice.add_overlay` loads an overlay: its AXI DMAs and the engine IP
  (:mod:`arm_scheduler.emulated.engine_ip`), mapped at the overlay's addresses, every DMA
  channel connected to the engine's stream port.

**Releasing buffers.** pynq's ``PynqBuffer.freebuffer`` does nothing for such buffers, so the
device frees a block when the last reference to the buffer (and to every view of it) disappears:
in CPython that is immediate when the last name goes away. The release is queued by a
``weakref.finalize`` callback and performed by the allocator at its next call, because a garbage
collector may run a finalizer in the middle of an allocation. :meth:`EmulatedDevice.free` frees a
buffer explicitly (the buffer must not be used afterwards, as on the board).

**The gate** (when pynq's device registry sees the emulated device): pynq enumerates every
``Device`` subclass that defines ``_probe_``; :meth:`EmulatedDevice._probe_` returns one device,
or none, according to ``$EDGE_DNN_EMULATE``:

* ``1`` / ``true`` / ``yes`` / ``on``: always probed (explicit request);
* ``0`` / ``false`` / ``no`` / ``off``: never probed;
* unset or empty: probed only when no real board is present
  (:func:`arm_scheduler.pynq_api.real_board_present`: not on a PYNQ board, no FPGA manager, no
  ``$PYNQ_REMOTE_DEVICES``);
* anything else raises :class:`EmulationConfigError`.

It never shadows real hardware: its probe priority (:data:`PROBE_PRIORITY`, 1000) sorts after
every pynq device class (40 Versal, 50 embedded, 100 remote, 200 XRT), and pynq's default device
is the first one probed, so with a board present even ``EDGE_DNN_EMULATE=1`` only *adds* the
emulated device to ``Device.devices``. Constructing ``EmulatedDevice()`` explicitly always works,
independently of the gate; :meth:`EmulatedDevice.activate` makes it pynq's active device for the
duration of a ``with`` block and restores pynq's device state afterwards.
"""

from __future__ import annotations

import math
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from arm_scheduler.emulated.axi_dma import DEFAULT_ADDRESS_RANGE, AxiDma
from arm_scheduler.emulated.bus import AddressMap, Mapping, RegisterModel, SimulatedClock
from arm_scheduler.emulated.ddr import (
    DEFAULT_BASE_ADDRESS,
    DEFAULT_DDR_BYTES,
    DdrStats,
    EmulatedDdr,
)
from arm_scheduler.emulated.engine_ip import (
    ENGINE_WINDOW,
    EmulatedEngineIP,
    EmulatedOverlay,
    connect_overlay,
)
from arm_scheduler.emulated.errors import DdrAddressError, EmulationConfigError
from arm_scheduler.pynq_api import (
    DMA,
    Device,
    PynqBuffer,
    real_board_present,
    saved_device_state,
)
from edge_dnn.overlay.config import OverlayConfig

ENV_EMULATE = "EDGE_DNN_EMULATE"
"""Environment variable gating the emulated device in pynq's registry (see the module doc)."""
PROBE_PRIORITY = 1000
"""``_probe_priority_`` of :class:`EmulatedDevice`: after every real pynq device class."""
DEFAULT_TAG = "edge_dnn_emulated"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def emulation_requested() -> bool | None:
    """``$EDGE_DNN_EMULATE`` as True (force on), False (force off) or None (unset / empty).

    Raises:
        EmulationConfigError: Any other value (the message lists the accepted ones).
    """
    raw = os.environ.get(ENV_EMULATE, "").strip().lower()
    if not raw:
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise EmulationConfigError(
        f"${ENV_EMULATE}={os.environ[ENV_EMULATE]!r}: expected one of "
        f"{', '.join(_TRUE + _FALSE)}, or unset (emulate only when no board is present)"
    )


def emulation_enabled() -> bool:
    """Whether pynq's registry should list the emulated device (the gate of the module doc)."""
    requested = emulation_requested()
    if requested is not None:
        return requested
    return not real_board_present()


class EmulatedDevice(Device):
    """The emulated Zynq UltraScale+ board, as a pynq device.

    Args:
        ddr: The emulated DDR to use (default: a new one from the next three arguments).
        tag: pynq device tag (also its ``name``).
        ddr_bytes: Size of a new DDR window, bytes.
        base_address: Physical base address of a new DDR window.
        cma_bytes: Contiguous-memory pool of a new DDR (default: the whole window).
    """

    _probe_priority_ = PROBE_PRIORITY

    @classmethod
    def _probe_(cls) -> list[EmulatedDevice]:
        """pynq's plug-in point: one device when the gate is open, else none."""
        return [cls()] if emulation_enabled() else []

    def __init__(
        self,
        ddr: EmulatedDdr | None = None,
        *,
        tag: str = DEFAULT_TAG,
        ddr_bytes: int = DEFAULT_DDR_BYTES,
        base_address: int = DEFAULT_BASE_ADDRESS,
        cma_bytes: int | None = None,
    ) -> None:
        super().__init__(tag)
        self.name = tag
        self.capabilities = {"REGISTER_RW": True}
        self.ddr = ddr if ddr is not None else EmulatedDdr(ddr_bytes, base_address, cma_bytes)
        """The emulated DDR behind every buffer of this device."""
        self.clock = SimulatedClock()
        """Simulated time shared by the models of this board."""
        self.bus = AddressMap()
        """The AXI-Lite register windows of this board."""
        self.lock = threading.RLock()
        """Serialises register accesses; models are not thread-safe, so code that drives them
        from another thread (an engine model pushing into a stream) holds it too."""
        self._finalizers: dict[int, Callable[[], object]] = {}
        self._overlay: EmulatedOverlay | None = None

    # ------------------------------------------------------------------------ pynq hooks
    def read_registers(self, address: int, length: int) -> bytes:
        """pynq ``REGISTER_RW`` hook: ``length`` bytes (whole 32-bit words) at ``address``.

        Raises:
            UnmappedAddressError: No register model is mapped at ``address``.
            RegisterAccessError: Unaligned or partial-word access, or one that leaves its window.
        """
        with self.lock:
            return self.bus.read_words(address, length)

    def write_registers(self, address: int, data: bytes) -> None:
        """pynq ``REGISTER_RW`` hook: write whole little-endian 32-bit words at ``address``.

        Raises:
            UnmappedAddressError: No register model is mapped at ``address``.
            RegisterAccessError: Unaligned or partial-word access, or one that leaves its window.
        """
        with self.lock:
            self.bus.write_words(address, bytes(data))

    def allocate(self, shape: Any, dtype: Any = "u4", cacheable: bool = False) -> PynqBuffer:
        """pynq ``allocate`` hook: a contiguous buffer in the emulated DDR.

        Args:
            shape: Array shape (an int or a tuple of ints >= 0).
            dtype: numpy dtype of the elements.
            cacheable: Accepted for pynq compatibility; emulated buffers are always coherent,
                so ``flush``/``invalidate`` are no-ops.

        Returns:
            A ``PynqBuffer`` view of the DDR (C order, zero-filled, 4 KiB aligned) whose
            ``physical_address`` is its emulated physical address.

        Raises:
            EmulationConfigError: Bad shape or dtype.
            ContiguousMemoryError: The contiguous-memory pool cannot hold it.
        """
        del cacheable
        try:
            dt = np.dtype(dtype)
        except TypeError as e:
            raise EmulationConfigError(f"allocate: invalid dtype {dtype!r}: {e}") from None
        try:
            dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        except TypeError:
            dims = (shape,)
        if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in dims):
            raise EmulationConfigError(f"allocate: shape must be non-negative ints, got {shape!r}")
        nbytes = math.prod(int(d) for d in dims) * dt.itemsize
        addr = self.ddr.alloc(nbytes)
        buf = PynqBuffer(
            tuple(int(d) for d in dims),
            dt,
            buffer=self.ddr.memory,
            offset=addr - self.ddr.base_address,
            device=self,
            device_address=addr,
            bo=0,
            coherent=True,
        )
        with self.lock:
            self._finalizers[addr] = weakref.finalize(buf, self._release, addr)
        return buf

    def flush(self, bo: Any, offset: int, ptr: int, size: int) -> None:
        """pynq cache hook; a no-op (emulated buffers are coherent)."""

    def invalidate(self, bo: Any, offset: int, ptr: int, size: int) -> None:
        """pynq cache hook; a no-op (emulated buffers are coherent)."""

    # ------------------------------------------------------------------------ memory
    def free(self, buffer: PynqBuffer) -> None:
        """Free a buffer from :meth:`allocate` now (do not use it afterwards).

        Raises:
            DdrAddressError: ``buffer`` does not start an allocation of this device (already
                freed, a slice, or another device's buffer).
        """
        addr = int(getattr(buffer, "device_address", -1) or -1)
        with self.lock:
            fin = self._finalizers.get(addr)
        if fin is None or getattr(buffer, "device", None) is not self:
            raise DdrAddressError(
                addr,
                int(getattr(buffer, "nbytes", 0)),
                "not a live buffer allocated by this device",
            )
        fin()

    def owns(self, array: Any) -> bool:
        """Whether ``array`` is (a view of) DDR memory whose ``physical_address`` is right.

        pynq quirk: numpy results computed from a ``PynqBuffer`` (``buf + 1``, ``buf.copy()``)
        are ``PynqBuffer`` objects too, with a meaningless ``physical_address``; handing one to
        a DMA would read or write unrelated memory. This check catches that.
        """
        if getattr(array, "device", None) is not self or not isinstance(array, np.ndarray):
            return False
        phys = getattr(array, "physical_address", None)
        if not isinstance(phys, (int, np.integer)) or not self.ddr.contains(
            int(phys), array.nbytes
        ):
            return False
        virt = int(array.__array_interface__["data"][0])
        return virt - int(self.ddr.memory.ctypes.data) == int(phys) - self.ddr.base_address

    def memory_stats(self) -> DdrStats:
        """Allocator statistics of the emulated DDR (bytes in use, peak, ...)."""
        return self.ddr.stats()

    def _release(self, addr: int) -> None:
        # Runs from weakref.finalize (possibly inside the garbage collector): defer the work.
        self._finalizers.pop(addr, None)
        self.ddr.release(addr)

    # ------------------------------------------------------------------------ register models
    def map(self, name: str, base: int, size: int, model: RegisterModel) -> Mapping:
        """Map a register model at ``[base, base + size)`` on the bus (see ``AddressMap.add``)."""
        with self.lock:
            return self.bus.add(name, base, size, model)

    def unmap(self, name: str) -> None:
        """Remove the register window ``name``."""
        with self.lock:
            self.bus.remove(name)

    def model(self, name: str) -> RegisterModel:
        """The register model mapped as ``name``."""
        return self.bus.get(name).model

    def add_axi_dma(
        self, name: str, base: int, size: int = DEFAULT_ADDRESS_RANGE, **params: Any
    ) -> AxiDma:
        """Create an :class:`AxiDma` (``params`` as its constructor takes) and map it."""
        dma = AxiDma(self.ddr, self.clock, name=name, **params)
        self.map(name, base, size, dma)
        return dma

    def add_overlay_dmas(self, cfg: OverlayConfig) -> dict[str, AxiDma]:
        """Create and map every ``[dma.*]`` of an overlay at its ``base_address``.

        Returns:
            The DMA models by instance name (streams still to be connected).
        """
        out: dict[str, AxiDma] = {}
        for d in cfg.dmas:
            dma = AxiDma.from_overlay(cfg, d.name, self.ddr, self.clock)
            self.map(d.name, d.base_address, d.address_range, dma)
            out[d.name] = dma
        return out

    def add_overlay(self, cfg: OverlayConfig, *, check_races: bool = True) -> EmulatedOverlay:
        """Load an overlay: its AXI DMAs and engine IP, mapped and connected stream by stream.

        Every ``[dma.*]`` is mapped at its ``base_address`` (as :meth:`add_overlay_dmas`), the
        :class:`~arm_scheduler.emulated.engine_ip.EmulatedEngineIP` at ``cfg.engine.base_address``
        as window ``"engine"``, and each DMA channel's ``mm2s`` / ``s2mm`` stream is connected to
        the engine's port of that stream. The engine advances this device's simulated clock.

        Loading the overlay that is already loaded (same configuration hash) returns it
        unchanged; loading another one replaces it (its windows are unmapped first), as
        downloading a new bitstream does.

        Args:
            cfg: The overlay configuration.
            check_races: Let the engine check buffer races between its units.

        Returns:
            The :class:`~arm_scheduler.emulated.engine_ip.EmulatedOverlay` (engine IP, DMAs).

        Raises:
            EmulationConfigError: a window overlaps one already mapped.
        """
        with self.lock:
            old = self._overlay
            if old is not None:
                if old.cfg.config_hash == cfg.config_hash:
                    return old
                for name in (ENGINE_WINDOW, *old.dmas):
                    self.unmap(name)
                self._overlay = None
            before = {m.name for m in self.bus.mappings}
            try:
                dmas = self.add_overlay_dmas(cfg)
                engine = EmulatedEngineIP(cfg, self.clock, check_races=check_races)
                self.map(ENGINE_WINDOW, cfg.engine.base_address, cfg.engine.address_range, engine)
                self._overlay = connect_overlay(cfg, engine, dmas)
            except BaseException:
                for m in self.bus.mappings:  # leave the bus as it was
                    if m.name not in before:
                        self.unmap(m.name)
                raise
            return self._overlay

    @property
    def overlay(self) -> EmulatedOverlay | None:
        """The overlay loaded by :meth:`add_overlay`, or None."""
        return self._overlay

    def ip_description(self, name: str) -> dict[str, Any]:
        """A pynq IP-dictionary entry for the window ``name``, as an overlay's ``ip_dict`` gives.

        Enough for pynq drivers built from a description (``pynq.lib.dma.DMA(desc)``): physical
        address and range, ``parameters`` (from the model's ``pynq_parameters()`` if it has one),
        an empty interrupt and GPIO table (interrupts need Linux UIO; drivers then poll), and
        ``device`` = this device.
        """
        m = self.bus.get(name)
        params = getattr(m.model, "pynq_parameters", None)
        return {
            "fullpath": name,
            "type": getattr(m.model, "PYNQ_VLNV", "edge-dnn:emulated:register_model:1.0"),
            "phys_addr": m.base,
            "addr_range": m.size,
            "parameters": dict(params()) if callable(params) else {},
            "interrupts": {},
            "gpio": {},
            "device": self,
        }

    def pynq_dma(self, name: str) -> Any:
        """pynq's unmodified ``pynq.lib.dma.DMA`` driver for the emulated DMA ``name``."""
        return DMA(self.ip_description(name))

    def pump(self) -> int:
        """Let every model progress on work waiting for a peer; returns the rounds that did."""
        with self.lock:
            return self.bus.pump()

    # ------------------------------------------------------------------------ time
    @property
    def now_ns(self) -> int:
        """Simulated time, ns."""
        return self.clock.now_ns

    def advance(self, ns: int) -> int:
        """Advance simulated time by ``ns`` nanoseconds; returns the new time."""
        return self.clock.advance(ns)

    # ------------------------------------------------------------------------ pynq state
    @contextmanager
    def activate(self) -> Iterator[EmulatedDevice]:
        """Make this device pynq's ``Device.active_device`` inside a ``with`` block.

        On exit pynq's device list and active device are restored to what they were.
        """
        with saved_device_state():
            Device.active_device = self
            yield self

    def __repr__(self) -> str:
        return (
            f"EmulatedDevice(tag={self.tag!r}, ddr=0x{self.ddr.base_address:x}+{self.ddr.size}, "
            f"windows=[{self.bus.describe()}])"
        )
