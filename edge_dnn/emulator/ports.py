"""AXI-Stream ports of the emulated engine: byte FIFOs with TLAST, fed and drained by DMA models.

An MM2S channel pushes bytes into an :class:`InPort` (one call per descriptor, or per packet,
or per beat: the engine only sees a byte stream in which some bytes carry TLAST). The engine's
loaders take one *packet* per LOAD part and check that TLAST arrives exactly with its last byte
(``STREAM_LENGTH`` otherwise, ``docs/engine.md`` section 2). An S2MM channel pops whole packets
(the STORE parts, TLAST on the last byte) from an :class:`OutPort`.

Both sides count bytes and packets (the profiler's per-stream traffic). The ports follow the
stream-port protocol of the emulated AXI DMA (``arm_scheduler.emulated.axi_dma``): an
:class:`InPort` is a ``StreamSink`` (``push(packet, last) -> bool``), an :class:`OutPort` a
``StreamSource`` (``pull(max_bytes) -> (chunk, last) | None``), and both accept
``subscribe(callback)``, called whenever data or space appears.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt

Bytes = npt.NDArray[np.uint8]


def as_bytes(data: object) -> Bytes:
    """A bytes-like object or integer array as a flat ``uint8`` array (arrays: their raw bytes).

    Raises:
        TypeError: ``data`` is neither bytes-like nor a numpy array.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        return np.frombuffer(bytes(data), dtype=np.uint8)
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    raise TypeError(f"a stream packet must be bytes-like or a numpy array, got {type(data)}")


@dataclasses.dataclass
class TakeResult:
    """Outcome of :meth:`InPort.peek_packet`.

    Attributes:
        status: ``ok`` (the packet is there, TLAST on its last byte), ``early`` (TLAST came
            before ``nbytes``), ``late`` (``nbytes`` arrived without TLAST on the last one) or
            ``short`` (fewer than ``nbytes`` bytes queued and no TLAST yet: wait for the DMA).
        available: Bytes up to and including the first TLAST, or all queued bytes.
    """

    status: Literal["ok", "early", "late", "short"]
    available: int


class InPort:
    """An engine input stream (MM2S side): a FIFO of byte chunks, each possibly ending in TLAST.

    Args:
        name: Stream name (``act_in0``).
        role: Stream role (``cmd``, ``weights``, ``act_in``).
        width_bytes: TDATA bytes per beat.
    """

    def __init__(self, name: str, role: str, width_bytes: int) -> None:
        self.name = name
        self.role = role
        self.width_bytes = width_bytes
        self._chunks: collections.deque[tuple[Bytes, bool]] = collections.deque()
        self._head = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.packets_in = 0
        self.packets_out = 0
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every push (data appeared) and take (space appeared)."""
        self._listeners.append(callback)

    def _notify(self) -> None:
        for cb in list(self._listeners):
            cb()

    def push(self, data: object, last: bool = True) -> bool:
        """Queue bytes (an MM2S descriptor's data); ``last`` marks TLAST on the final byte.

        The FIFO is unbounded, so a chunk is always accepted (returns True, the ``StreamSink``
        protocol). An empty chunk is ignored (a packet needs at least one byte).
        """
        b = as_bytes(data)
        if b.size == 0:
            return True
        self._chunks.append((b, bool(last)))
        self.bytes_in += int(b.size)
        if last:
            self.packets_in += 1
        self._notify()
        return True

    @property
    def queued_bytes(self) -> int:
        """Bytes pushed and not yet consumed."""
        return self.bytes_in - self.bytes_out

    def queued_packets(self) -> int:
        """Complete packets (ending in TLAST) queued, plus one for a trailing partial packet."""
        n = sum(1 for _, last in self._chunks if last)
        if self._chunks and not self._chunks[-1][1]:
            n += 1
        return n

    def peek_packet(self, nbytes: int) -> TakeResult:
        """Whether the next ``nbytes`` bytes form exactly one packet, without consuming them."""
        seen = -self._head
        for chunk, last in self._chunks:
            seen += int(chunk.size)
            if seen >= nbytes:
                if seen == nbytes and last:
                    return TakeResult("ok", seen)
                if last and seen > nbytes:
                    return TakeResult("late", seen)
                return TakeResult("late", nbytes)
            if last:
                return TakeResult("early", seen)
        return TakeResult("short", max(seen, 0))

    def take(self, nbytes: int) -> Bytes:
        """Consume ``nbytes`` bytes (the caller has checked the packet with :meth:`peek_packet`)."""
        parts: list[Bytes] = []
        need = nbytes
        while need:
            chunk, last = self._chunks[0]
            avail = int(chunk.size) - self._head
            n = min(avail, need)
            parts.append(chunk[self._head : self._head + n])
            need -= n
            if n == avail:
                self._chunks.popleft()
                self._head = 0
                if last:
                    self.packets_out += 1
            else:
                self._head += n
        self.bytes_out += nbytes
        self._notify()
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def flush(self) -> None:
        """Drop everything queued (``CONTROL.SOFT_RESET`` flushes the stream FIFOs)."""
        self.bytes_out = self.bytes_in
        self._chunks.clear()
        self._head = 0


class OutPort:
    """An engine output stream (S2MM side): the packets the store unit produced, in order.

    Args:
        name: Stream name (``act_out0``).
        width_bytes: TDATA bytes per beat.
    """

    role = "act_out"

    def __init__(self, name: str, width_bytes: int) -> None:
        self.name = name
        self.width_bytes = width_bytes
        self._packets: collections.deque[Bytes] = collections.deque()
        self._head = 0
        self.bytes_out = 0
        self.packets_out = 0
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever the engine emits a packet."""
        self._listeners.append(callback)

    def emit(self, packet: Bytes) -> None:
        """Engine side: queue one packet (TLAST on its last byte)."""
        self._packets.append(packet)
        self.bytes_out += int(packet.size)
        self.packets_out += 1
        for cb in list(self._listeners):
            cb()

    def pull(self, max_bytes: int) -> tuple[Bytes, bool] | None:
        """DMA side, ``StreamSource`` protocol: up to ``max_bytes`` bytes of the current packet
        and whether they end it (TLAST), or ``None`` when nothing is queued."""
        if not self._packets or max_bytes <= 0:
            return None
        pkt = self._packets[0]
        n = min(max_bytes, int(pkt.size) - self._head)
        chunk = pkt[self._head : self._head + n]
        self._head += n
        if self._head == pkt.size:
            self._packets.popleft()
            self._head = 0
            return chunk, True
        return chunk, False

    def pop(self) -> Bytes | None:
        """DMA side: the rest of the oldest packet not yet taken, or ``None``."""
        if not self._packets:
            return None
        pkt = self._packets.popleft()[self._head :]
        self._head = 0
        return pkt

    def pop_all(self) -> list[Bytes]:
        """DMA side: every queued packet (the rest of a partly pulled one first), oldest first."""
        out: list[Bytes] = []
        while (p := self.pop()) is not None:
            out.append(p)
        return out

    def __len__(self) -> int:
        return len(self._packets)

    def flush(self) -> None:
        """Drop every queued packet."""
        self._packets.clear()
        self._head = 0


__all__ = ["InPort", "OutPort", "TakeResult", "as_bytes"]
