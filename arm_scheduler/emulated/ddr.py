"""Emulated DDR: one flat byte array standing for physical memory, and a contiguous allocator.

The emulated board keeps all memory that the ARM and the DMA engines share in one numpy
``uint8`` array. Physical address ``base_address + i`` is byte ``i`` of :attr:`EmulatedDdr.memory`,
so a buffer handed to pynq is a view of that array and a DMA model reads and writes the very same
bytes through the physical addresses the driver programs.

The array is created with ``np.zeros``, which the OS commits lazily: a 512 MiB DDR costs only the
pages actually touched. Freed blocks are zeroed again (pynq's scatter-gather driver relies on
freshly allocated descriptor memory being zero, as the kernel's CMA allocator provides), which
keeps every never-used or freed page equal to zero.

Allocation models the Linux contiguous memory allocator (CMA) pool that ``pynq.allocate`` draws
from: a first-fit allocator over the pool ``[base_address, base_address + cma_bytes)`` with a
4 KiB granule and alignment, coalescing on free, and a typed :class:`ContiguousMemoryError`
reporting bytes needed versus available when the pool is exhausted or fragmented. Addresses in
the DDR window above the pool are valid DMA targets but are never handed out.

Units: bytes and byte addresses. Thread-safe (one lock around the allocator).
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import threading

import numpy as np

from arm_scheduler.emulated.errors import (
    ContiguousMemoryError,
    DdrAddressError,
    EmulationConfigError,
)

PAGE_BYTES = 4096
"""Allocation granule and minimum alignment (the Linux page size on the ARM side)."""
MIB = 1 << 20
DEFAULT_DDR_BYTES = 512 * MIB
"""Default size of the emulated DDR window (and of the CMA pool inside it)."""
DEFAULT_BASE_ADDRESS = 0x4000_0000
"""Default physical base address: inside the Zynq UltraScale+ low-DDR window (0..0x7FFF_FFFF)
and non-zero, so that address 0 (a classic uninitialised-pointer value) is never valid."""


@dataclasses.dataclass(frozen=True)
class DdrStats:
    """Allocator statistics, bytes.

    Attributes:
        capacity: Size of the CMA pool.
        in_use: Bytes currently allocated (rounded up to the 4 KiB granule).
        peak: Largest ``in_use`` seen since creation (or the last :meth:`EmulatedDdr.reset_peak`).
        free: ``capacity - in_use``.
        largest_free: Largest free contiguous block.
        allocations: Number of live allocations.
        total_allocations: Number of allocations made since creation.
    """

    capacity: int
    in_use: int
    peak: int
    free: int
    largest_free: int
    allocations: int
    total_allocations: int


class EmulatedDdr:
    """Physical memory of the emulated board and its contiguous-memory pool.

    Args:
        size_bytes: Size of the DDR window, bytes (a multiple of 4 KiB).
        base_address: Physical address of the first byte (a multiple of 4 KiB).
        cma_bytes: Size of the allocation pool at the start of the window (default: all of it;
            a multiple of 4 KiB, at most ``size_bytes``).

    Raises:
        EmulationConfigError: Sizes or base address are not positive multiples of 4 KiB.
    """

    def __init__(
        self,
        size_bytes: int = DEFAULT_DDR_BYTES,
        base_address: int = DEFAULT_BASE_ADDRESS,
        cma_bytes: int | None = None,
    ) -> None:
        cma = size_bytes if cma_bytes is None else cma_bytes
        for what, v in (("size_bytes", size_bytes), ("cma_bytes", cma)):
            if v <= 0 or v % PAGE_BYTES:
                raise EmulationConfigError(
                    f"emulated DDR: {what} must be a positive multiple of {PAGE_BYTES}, got {v}"
                )
        if base_address < 0 or base_address % PAGE_BYTES:
            raise EmulationConfigError(
                f"emulated DDR: base_address must be a non-negative multiple of {PAGE_BYTES}, "
                f"got 0x{base_address:x}"
            )
        if cma > size_bytes:
            raise EmulationConfigError(
                f"emulated DDR: cma_bytes ({cma}) exceeds size_bytes ({size_bytes})"
            )
        self.base_address = base_address
        self.size = size_bytes
        self.cma_bytes = cma
        self.memory: np.ndarray = np.zeros(size_bytes, dtype=np.uint8)
        """The DDR contents, ``uint8``; byte ``i`` is physical address ``base_address + i``."""
        self._lock = threading.Lock()
        # Free blocks as parallel sorted lists of offsets and sizes (offsets from base_address).
        self._free_off: list[int] = [0]
        self._free_len: list[int] = [cma]
        self._used: dict[int, int] = {}
        self._in_use = 0
        self._peak = 0
        self._total = 0
        # Blocks released from finalizers, freed at the next allocator call (see release()).
        self._deferred: collections.deque[int] = collections.deque()

    # ------------------------------------------------------------------------ address space
    @property
    def end_address(self) -> int:
        """One past the last physical address of the window."""
        return self.base_address + self.size

    def contains(self, address: int, nbytes: int) -> bool:
        """Whether ``[address, address + nbytes)`` lies inside the DDR window."""
        return nbytes >= 0 and self.base_address <= address and address + nbytes <= self.end_address

    def offset_of(self, address: int, nbytes: int = 1) -> int:
        """Offset into :attr:`memory` of a physical range.

        Raises:
            DdrAddressError: The range is not inside the DDR window.
        """
        if not self.contains(address, nbytes):
            raise DdrAddressError(
                address,
                nbytes,
                f"outside the emulated DDR window "
                f"[0x{self.base_address:x}, 0x{self.end_address:x})",
            )
        return address - self.base_address

    def view(self, address: int, nbytes: int) -> np.ndarray:
        """Writable ``uint8`` view of a physical range (no copy).

        Raises:
            DdrAddressError: The range is not inside the DDR window.
        """
        off = self.offset_of(address, nbytes)
        return self.memory[off : off + nbytes]

    def read(self, address: int, nbytes: int) -> np.ndarray:
        """Copy of a physical range, ``uint8``."""
        return self.view(address, nbytes).copy()

    def write(self, address: int, data: np.ndarray | bytes) -> None:
        """Store bytes at a physical address.

        Args:
            address: Physical byte address.
            data: ``bytes`` or an array (its raw bytes are stored, C order).
        """
        raw = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
        flat = np.ascontiguousarray(raw).reshape(-1).view(np.uint8)
        self.view(address, flat.size)[:] = flat

    def read_u32(self, address: int) -> int:
        """Little-endian 32-bit word at ``address`` (4-byte aligned not required)."""
        return int.from_bytes(self.view(address, 4).tobytes(), "little")

    def write_u32(self, address: int, value: int) -> None:
        """Store a little-endian 32-bit word at ``address``."""
        self.view(address, 4)[:] = np.frombuffer(
            (value & 0xFFFF_FFFF).to_bytes(4, "little"), np.uint8
        )

    # ------------------------------------------------------------------------ allocator
    def alloc(self, nbytes: int, alignment: int = PAGE_BYTES) -> int:
        """Allocate a physically contiguous block from the CMA pool.

        Args:
            nbytes: Bytes needed (0 allocates one granule, like a real allocator would).
            alignment: Power of two, at least 4 KiB.

        Returns:
            The physical address of the block (its contents are zero).

        Raises:
            ContiguousMemoryError: No free contiguous block is large enough.
            EmulationConfigError: Bad size or alignment.
        """
        if nbytes < 0:
            raise EmulationConfigError(f"emulated DDR: cannot allocate {nbytes} bytes")
        if alignment < PAGE_BYTES or alignment & (alignment - 1):
            raise EmulationConfigError(
                f"emulated DDR: alignment must be a power of two >= {PAGE_BYTES}, got {alignment}"
            )
        size = max(PAGE_BYTES, -(-nbytes // PAGE_BYTES) * PAGE_BYTES)
        # Alignment is relative to physical addresses, not offsets.
        with self._lock:
            self._drain()
            for i, (off, length) in enumerate(zip(self._free_off, self._free_len)):
                addr = self.base_address + off
                pad = (-addr) % alignment
                if length < pad + size:
                    continue
                del self._free_off[i], self._free_len[i]
                if pad:
                    self._insert_free(off, pad)
                rest = length - pad - size
                if rest:
                    self._insert_free(off + pad + size, rest)
                self._used[off + pad] = size
                self._in_use += size
                self._total += 1
                self._peak = max(self._peak, self._in_use)
                return addr + pad
            raise ContiguousMemoryError(
                size,
                self.cma_bytes - self._in_use,
                max(self._free_len, default=0),
                self.cma_bytes,
            )

    def free(self, address: int) -> None:
        """Return a block obtained from :meth:`alloc`; its bytes are zeroed.

        Raises:
            DdrAddressError: ``address`` is not the start of a live allocation (double free).
        """
        with self._lock:
            self._drain()
            self._free_locked(address)

    def release(self, address: int) -> None:
        """Free a block later, at the allocator's next call; safe from any context.

        For ``weakref.finalize`` callbacks, which the garbage collector may run in the middle of
        an allocation (while the allocator's lock is held): this only queues the address.
        """
        self._deferred.append(address)

    def _drain(self) -> None:
        """Perform queued releases (caller holds the lock)."""
        while self._deferred:
            self._free_locked(self._deferred.popleft())

    def _free_locked(self, address: int) -> None:
        off = address - self.base_address
        size = self._used.pop(off, None)
        if size is None:
            raise DdrAddressError(address, 0, "not the start of a live allocation (double free?)")
        self.memory[off : off + size] = 0
        self._in_use -= size
        self._insert_free(off, size)

    def allocation_size(self, address: int) -> int | None:
        """Size of the live allocation starting at ``address``, or None."""
        with self._lock:
            self._drain()
            return self._used.get(address - self.base_address)

    def stats(self) -> DdrStats:
        """Current allocator statistics."""
        with self._lock:
            self._drain()
            return DdrStats(
                capacity=self.cma_bytes,
                in_use=self._in_use,
                peak=self._peak,
                free=self.cma_bytes - self._in_use,
                largest_free=max(self._free_len, default=0),
                allocations=len(self._used),
                total_allocations=self._total,
            )

    def reset_peak(self) -> None:
        """Restart peak tracking from the current usage."""
        with self._lock:
            self._peak = self._in_use

    def _insert_free(self, off: int, length: int) -> None:
        """Insert a free block, merging with its neighbours (caller holds the lock)."""
        i = bisect.bisect_left(self._free_off, off)
        if i > 0 and self._free_off[i - 1] + self._free_len[i - 1] == off:
            i -= 1
            self._free_len[i] += length
        else:
            self._free_off.insert(i, off)
            self._free_len.insert(i, length)
        if (
            i + 1 < len(self._free_off)
            and self._free_off[i] + self._free_len[i] == self._free_off[i + 1]
        ):
            self._free_len[i] += self._free_len[i + 1]
            del self._free_off[i + 1], self._free_len[i + 1]

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"EmulatedDdr(base=0x{self.base_address:x}, size={self.size}, "
            f"cma={self.cma_bytes}, in_use={s.in_use}, peak={s.peak})"
        )
