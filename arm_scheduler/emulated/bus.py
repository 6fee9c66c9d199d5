"""The emulated board's AXI-Lite bus: register models, the address map, the simulated clock.

pynq-free on purpose: register models (the AXI DMA, later the engine) depend only on this module
and on :mod:`arm_scheduler.emulated.ddr`, so they can be tested without pynq.

**Register model protocol** (:class:`RegisterModel`): a block of 32-bit registers at byte
offsets from its base address.

* ``read(offset) -> int`` returns the 32-bit word at a 4-byte aligned ``offset``; reading may
  have side effects (e.g. let a stalled transfer progress), exactly like reading hardware.
* ``write(offset, value)`` stores a 32-bit word and performs its side effects synchronously.
* ``service() -> bool`` (optional): make progress on work that was waiting for a peer (a stream
  that was not ready); returns whether anything progressed. :meth:`AddressMap.pump` calls it.

The :class:`AddressMap` dispatches physical addresses to models; an access that hits no model
raises :class:`UnmappedAddressError` naming the address, where real hardware would raise a bus
error (SError) or hang.

**Simulated clock** (:class:`SimulatedClock`): nanoseconds since the board was created. Nothing
advances it implicitly: whoever models time (an engine model, a test) calls ``advance``; models
read ``now_ns`` to timestamp events such as DMA completions.
"""

from __future__ import annotations

import bisect
import dataclasses
from typing import Protocol, runtime_checkable

import numpy as np

from arm_scheduler.emulated.errors import (
    EmulationConfigError,
    RegisterAccessError,
    UnmappedAddressError,
)

WORD_BYTES = 4
_MAX_PUMP_ROUNDS = 1000


@runtime_checkable
class RegisterModel(Protocol):
    """A block of 32-bit registers (see the module docstring for the contract)."""

    def read(self, offset: int) -> int:
        """32-bit word at the 4-byte aligned byte ``offset``."""
        ...

    def write(self, offset: int, value: int) -> None:
        """Store the 32-bit ``value`` at the 4-byte aligned byte ``offset``."""
        ...


class SimulatedClock:
    """Simulated time of the emulated board, integer nanoseconds, starting at 0."""

    def __init__(self) -> None:
        self._now = 0

    @property
    def now_ns(self) -> int:
        """Current simulated time, ns."""
        return self._now

    def advance(self, ns: int) -> int:
        """Move time forward by ``ns`` (>= 0) nanoseconds; returns the new time.

        Raises:
            EmulationConfigError: ``ns`` is negative (time never runs backwards).
        """
        if ns < 0:
            raise EmulationConfigError(f"simulated clock cannot go backwards (advance({ns}))")
        self._now += int(ns)
        return self._now


@dataclasses.dataclass(frozen=True)
class Mapping:
    """One register window of the address map.

    Attributes:
        name: Instance name (e.g. ``dma_act0``), used in error messages.
        base: Physical base address.
        size: Window size, bytes.
        model: The register model serving the window.
    """

    name: str
    base: int
    size: int
    model: RegisterModel

    @property
    def end(self) -> int:
        """One past the last address of the window."""
        return self.base + self.size


class AddressMap:
    """Physical address -> register model dispatch (non-overlapping windows)."""

    def __init__(self) -> None:
        self._bases: list[int] = []
        self._maps: list[Mapping] = []

    def add(self, name: str, base: int, size: int, model: RegisterModel) -> Mapping:
        """Map ``model`` at ``[base, base + size)``.

        Raises:
            EmulationConfigError: Misaligned or empty window, duplicate name, or overlap with an
                existing window (both named).
        """
        if base < 0 or base % WORD_BYTES or size <= 0 or size % WORD_BYTES:
            raise EmulationConfigError(
                f"register window '{name}': base 0x{base:x} and size {size} must be positive "
                f"multiples of {WORD_BYTES}"
            )
        if any(m.name == name for m in self._maps):
            raise EmulationConfigError(f"register window '{name}' is already mapped")
        new = Mapping(name, base, size, model)
        for m in self._maps:
            if new.base < m.end and m.base < new.end:
                raise EmulationConfigError(
                    f"register window '{name}' [0x{new.base:x}, 0x{new.end:x}) overlaps "
                    f"'{m.name}' [0x{m.base:x}, 0x{m.end:x})"
                )
        i = bisect.bisect_left(self._bases, base)
        self._bases.insert(i, base)
        self._maps.insert(i, new)
        return new

    def remove(self, name: str) -> None:
        """Unmap the window called ``name``.

        Raises:
            EmulationConfigError: No such window.
        """
        for i, m in enumerate(self._maps):
            if m.name == name:
                del self._bases[i], self._maps[i]
                return
        raise EmulationConfigError(f"no register window named '{name}' is mapped")

    @property
    def mappings(self) -> tuple[Mapping, ...]:
        """All windows, by base address."""
        return tuple(self._maps)

    def get(self, name: str) -> Mapping:
        """The window called ``name``.

        Raises:
            EmulationConfigError: No such window.
        """
        for m in self._maps:
            if m.name == name:
                return m
        raise EmulationConfigError(f"no register window named '{name}' is mapped")

    def find(self, address: int, nbytes: int = WORD_BYTES) -> Mapping:
        """The window containing ``[address, address + nbytes)``.

        Raises:
            UnmappedAddressError: No window contains ``address``.
            RegisterAccessError: The access starts in a window but runs past its end.
        """
        i = bisect.bisect_right(self._bases, address) - 1
        if i < 0 or address >= self._maps[i].end:
            raise UnmappedAddressError(address, nbytes, self.describe())
        m = self._maps[i]
        if address + nbytes > m.end:
            raise RegisterAccessError(
                f"register access at 0x{address:x} ({nbytes} bytes) runs past the end of "
                f"window '{m.name}' [0x{m.base:x}, 0x{m.end:x})"
            )
        return m

    def read_words(self, address: int, nbytes: int) -> bytes:
        """Read ``nbytes`` (whole 32-bit words) starting at the aligned ``address``."""
        self._check(address, nbytes)
        m = self.find(address, nbytes)
        words = [m.model.read(address - m.base + k) & 0xFFFF_FFFF for k in range(0, nbytes, 4)]
        return np.asarray(words, dtype="<u4").tobytes()

    def write_words(self, address: int, data: bytes) -> None:
        """Write ``data`` (whole 32-bit little-endian words) starting at the aligned ``address``."""
        self._check(address, len(data))
        m = self.find(address, len(data))
        for k, w in enumerate(np.frombuffer(data, dtype="<u4")):
            m.model.write(address - m.base + 4 * k, int(w))

    def pump(self) -> int:
        """Let every model with a ``service()`` method progress until none does.

        Returns:
            The number of rounds in which something progressed.
        """
        rounds = 0
        while rounds < _MAX_PUMP_ROUNDS:
            progressed = False
            for m in self._maps:
                service = getattr(m.model, "service", None)
                if service is not None and service():
                    progressed = True
            if not progressed:
                break
            rounds += 1
        return rounds

    def describe(self) -> str:
        """``name [base, end)`` of every window, for messages."""
        return ", ".join(f"{m.name} [0x{m.base:x}, 0x{m.end:x})" for m in self._maps)

    @staticmethod
    def _check(address: int, nbytes: int) -> None:
        if address % WORD_BYTES or nbytes <= 0 or nbytes % WORD_BYTES:
            raise RegisterAccessError(
                f"register access at 0x{address:x} ({nbytes} bytes): registers are accessed as "
                f"whole, aligned 32-bit words"
            )


class RegisterFile:
    """A plain block of read/write 32-bit registers without side effects.

    Useful as a stand-in for IP that the runtime only pokes (e.g. a scratch register, an
    interrupt controller whose interrupts are not modelled) and for bus tests.

    Args:
        size_bytes: Size of the block, bytes (a positive multiple of 4).
    """

    def __init__(self, size_bytes: int) -> None:
        if size_bytes <= 0 or size_bytes % WORD_BYTES:
            raise EmulationConfigError(
                f"register file size must be a positive multiple of 4, got {size_bytes}"
            )
        self.words = np.zeros(size_bytes // WORD_BYTES, dtype=np.uint32)
        """The register contents, one ``uint32`` per register."""

    def read(self, offset: int) -> int:
        """32-bit word at ``offset``."""
        return int(self.words[offset // WORD_BYTES])

    def write(self, offset: int, value: int) -> None:
        """Store a 32-bit word at ``offset``."""
        self.words[offset // WORD_BYTES] = value & 0xFFFF_FFFF
