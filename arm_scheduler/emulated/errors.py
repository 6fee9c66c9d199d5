"""Typed errors of the emulated board (:mod:`arm_scheduler.emulated`).

They live here rather than in :mod:`edge_dnn.errors` because the emulated board belongs to the
runtime side (``arm_scheduler``), which may import ``edge_dnn`` but never the reverse; all of them
derive from :class:`edge_dnn.errors.EdgeDnnError`. Every message names the address, register,
DMA channel or environment variable concerned.

Hardware faults that the real board reports through status bits (AXI DMA slave/decode errors,
...) are *not* exceptions: the register models set the bits, exactly as the hardware does, and
the driver reading them decides. The exceptions below are raised for programming errors that
real hardware would turn into silent corruption or a hang, and for emulator misuse.
"""

from __future__ import annotations

from edge_dnn.errors import EdgeDnnError


class EmulationError(EdgeDnnError):
    """Base class of the errors of the emulated board."""


class EmulationConfigError(EmulationError):
    """The emulated board is configured inconsistently (bad size, overlapping register windows,
    bad value of ``EDGE_DNN_EMULATE``, ...)."""


class ContiguousMemoryError(EmulationError):
    """An allocation does not fit in the emulated contiguous-memory (CMA) pool.

    Attributes:
        needed: Bytes requested, rounded up to the allocation granule (4 KiB).
        available: Free bytes in the pool (possibly fragmented).
        largest_free: The largest free contiguous block, bytes.
        capacity: Size of the pool, bytes.
    """

    def __init__(self, needed: int, available: int, largest_free: int, capacity: int) -> None:
        self.needed = needed
        self.available = available
        self.largest_free = largest_free
        self.capacity = capacity
        why = (
            "not enough free memory"
            if available < needed
            else "free memory is fragmented (no contiguous block large enough)"
        )
        super().__init__(
            f"contiguous memory exhausted: {needed} bytes needed, {available} bytes available "
            f"(largest contiguous block {largest_free} bytes, pool {capacity} bytes): {why}"
        )


class DdrAddressError(EmulationError):
    """A physical address range does not lie inside the emulated DDR, or is not an allocation."""

    def __init__(self, address: int, nbytes: int, message: str) -> None:
        self.address = address
        self.nbytes = nbytes
        super().__init__(f"DDR address 0x{address:x} (+{nbytes} bytes): {message}")


class UnmappedAddressError(EmulationError):
    """A register access hits no register model of the emulated board.

    Attributes:
        address: The physical address accessed.
    """

    def __init__(self, address: int, nbytes: int, known: str) -> None:
        self.address = address
        self.nbytes = nbytes
        super().__init__(
            f"register access at 0x{address:x} ({nbytes} bytes) hits no mapped register model; "
            f"mapped windows: {known or 'none'}"
        )


class RegisterAccessError(EmulationError):
    """A register access is malformed (unaligned, not whole 32-bit words, crosses a window)."""


class UnsupportedFeatureError(EmulationError):
    """A hardware feature the register model does not emulate was enabled (e.g. AXI DMA cyclic
    buffer-descriptor mode or keyhole mode)."""


class DmaProgrammingError(EmulationError):
    """Software programmed an emulated AXI DMA in a way PG021 leaves undefined and real hardware
    would turn into corruption or a hang (e.g. a new direct-mode transfer while one is running,
    or a transfer on a channel with no stream connected)."""


class StreamProtocolError(EmulationError):
    """A stream endpoint attached to an emulated DMA broke the port protocol (for example, it
    returned more bytes than asked, or a packet that is not one-dimensional uint8)."""
