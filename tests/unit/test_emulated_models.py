"""Emulated board models at register level: DDR allocator, bus, clock, AXI DMA (PG021).

These tests program the AXI DMA model the way a driver does (register writes, descriptors written
into DDR by hand), without pynq, to pin down the PG021 behaviour pynq's driver never exercises.
"""

from __future__ import annotations

import numpy as np
import pytest

from arm_scheduler.emulated.axi_dma import (
    CR_CYCLIC_BD,
    CR_ERR_IRQ_EN,
    CR_IOC_IRQ_EN,
    CR_RESET,
    CR_RS,
    CTRL_EOF,
    CTRL_SOF,
    DESC_BYTES,
    MM2S,
    REG_ADDR,
    REG_CURDESC,
    REG_DMACR,
    REG_DMASR,
    REG_LENGTH,
    REG_TAILDESC,
    REG_TAILDESC_MSB,
    S2MM,
    S2MM_OFFSET,
    SR_DMA_DEC_ERR,
    SR_DMA_INT_ERR,
    SR_ERR_IRQ,
    SR_HALTED,
    SR_IDLE,
    SR_IOC_IRQ,
    SR_SG_DEC_ERR,
    SR_SG_INT_ERR,
    ST_CMPLT,
    ST_DEC_ERR,
    ST_INT_ERR,
    ST_RXEOF,
    ST_RXSOF,
    AxiDma,
    DmaFault,
    StreamFifo,
    connect_loopback,
)
from arm_scheduler.emulated.bus import AddressMap, RegisterFile, SimulatedClock
from arm_scheduler.emulated.ddr import PAGE_BYTES, EmulatedDdr
from arm_scheduler.emulated.errors import (
    ContiguousMemoryError,
    DdrAddressError,
    DmaProgrammingError,
    EmulationConfigError,
    RegisterAccessError,
    StreamProtocolError,
    UnmappedAddressError,
    UnsupportedFeatureError,
)

MIB = 1 << 20


# ---------------------------------------------------------------------------- helpers
def _ddr() -> EmulatedDdr:
    return EmulatedDdr(4 * MIB)


def _chain(
    ddr: EmulatedDdr, buffers: list[tuple[int, int]], flags: list[int] | None = None
) -> list[int]:
    """Write a descriptor chain (buffer address, length) into fresh DDR; returns addresses."""
    base = ddr.alloc(DESC_BYTES * len(buffers))
    addrs = [base + DESC_BYTES * i for i in range(len(buffers))]
    for i, (buf, length) in enumerate(buffers):
        d = addrs[i]
        nxt = addrs[(i + 1) % len(addrs)]
        ddr.write_u32(d + 0x00, nxt & 0xFFFF_FFFF)
        ddr.write_u32(d + 0x04, nxt >> 32)
        ddr.write_u32(d + 0x08, buf & 0xFFFF_FFFF)
        ddr.write_u32(d + 0x0C, buf >> 32)
        ddr.write_u32(d + 0x18, length | (flags[i] if flags else 0))
        ddr.write_u32(d + 0x1C, 0)
    return addrs


def _start_sg(dma: AxiDma, ch: int, first: int, tail: int, cr: int = CR_RS) -> None:
    dma.write(ch + REG_CURDESC, first & 0xFFFF_FFFF)
    dma.write(ch + REG_CURDESC + 4, first >> 32)
    dma.write(ch + REG_DMACR, cr)
    dma.write(ch + REG_TAILDESC, tail & 0xFFFF_FFFF)
    dma.write(ch + REG_TAILDESC_MSB, tail >> 32)


def _status(ddr: EmulatedDdr, desc: int) -> int:
    return ddr.read_u32(desc + 0x1C)


def _filled(ddr: EmulatedDdr, n: int, seed: int) -> tuple[int, np.ndarray]:
    addr = ddr.alloc(n)
    data = np.random.default_rng(seed).integers(0, 256, n).astype(np.uint8)
    ddr.write(addr, data)
    return addr, data


# ---------------------------------------------------------------------------- DDR
def test_ddr_allocator_alignment_coalescing_and_stats() -> None:
    ddr = EmulatedDdr(1 * MIB, cma_bytes=256 << 10)
    a = ddr.alloc(1)
    b = ddr.alloc(5000)
    c = ddr.alloc(100, alignment=64 << 10)
    assert a % PAGE_BYTES == 0 and b == a + PAGE_BYTES and c % (64 << 10) == 0
    assert ddr.stats().in_use == 4 * PAGE_BYTES and ddr.stats().allocations == 3
    ddr.view(b, 8)[:] = 9
    ddr.free(b)
    ddr.free(a)
    assert not ddr.view(b, 8).any()  # freed memory is zeroed
    s = ddr.stats()
    assert s.in_use == PAGE_BYTES and s.peak == 4 * PAGE_BYTES and s.total_allocations == 3
    assert ddr.alloc(3 * PAGE_BYTES) == a  # merged free block reused first-fit
    with pytest.raises(DdrAddressError, match="double free"):
        ddr.free(c + PAGE_BYTES)


def test_ddr_reports_fragmentation() -> None:
    ddr = EmulatedDdr(64 << 10)
    blocks = [ddr.alloc(PAGE_BYTES) for _ in range(16)]
    for blk in blocks[::2]:
        ddr.free(blk)
    with pytest.raises(ContiguousMemoryError, match="fragmented") as exc:
        ddr.alloc(2 * PAGE_BYTES)
    assert exc.value.available == 8 * PAGE_BYTES and exc.value.largest_free == PAGE_BYTES


def test_ddr_address_checks_and_config() -> None:
    ddr = EmulatedDdr(64 << 10, base_address=0x1000_0000)
    with pytest.raises(DdrAddressError, match="0xfff"):
        ddr.view(0xFFF, 4)
    with pytest.raises(DdrAddressError):
        ddr.view(0x1000_0000 + (64 << 10) - 2, 4)
    ddr.write_u32(0x1000_0010, 0x11223344)
    assert ddr.read(0x1000_0010, 4).tolist() == [0x44, 0x33, 0x22, 0x11]
    with pytest.raises(EmulationConfigError):
        EmulatedDdr(1000)
    with pytest.raises(EmulationConfigError):
        EmulatedDdr(64 << 10, cma_bytes=128 << 10)


def test_ddr_deferred_release() -> None:
    ddr = _ddr()
    a = ddr.alloc(10)
    ddr.release(a)
    assert ddr.stats().in_use == 0 and ddr.allocation_size(a) is None


# ---------------------------------------------------------------------------- bus and clock
def test_address_map_dispatch_and_errors() -> None:
    bus = AddressMap()
    regs = RegisterFile(0x20)
    bus.add("a", 0x1000, 0x20, regs)
    bus.add("b", 0x2000, 0x10, RegisterFile(0x10))
    with pytest.raises(EmulationConfigError, match=r"overlaps 'a'"):
        bus.add("c", 0x1010, 0x100, RegisterFile(0x100))
    bus.write_words(0x1008, (5).to_bytes(4, "little") + (6).to_bytes(4, "little"))
    assert regs.words[2:4].tolist() == [5, 6]
    assert bus.read_words(0x100C, 4) == (6).to_bytes(4, "little")
    with pytest.raises(UnmappedAddressError, match="0x3000"):
        bus.read_words(0x3000, 4)
    with pytest.raises(RegisterAccessError, match="aligned"):
        bus.read_words(0x1002, 4)
    with pytest.raises(RegisterAccessError, match="past the end"):
        bus.read_words(0x101C, 8)
    bus.remove("a")
    with pytest.raises(UnmappedAddressError):
        bus.read_words(0x1000, 4)


def test_clock() -> None:
    clk = SimulatedClock()
    assert clk.advance(10) == 10 and clk.now_ns == 10
    with pytest.raises(EmulationConfigError):
        clk.advance(-1)


# ---------------------------------------------------------------------------- AXI DMA direct
def test_direct_mode_status_sequence_and_timestamps() -> None:
    ddr, clk = _ddr(), SimulatedClock()
    dma = AxiDma(ddr, clk, name="d", scatter_gather=False)
    fifo = StreamFifo()
    dma.connect_s2mm(fifo)
    assert dma.read(S2MM_OFFSET + REG_DMASR) & (SR_HALTED | SR_IDLE) == SR_HALTED
    assert dma.read(S2MM_OFFSET + REG_DMACR) == 0x0001_0002  # reserved bit 1, threshold 1
    dma.write(S2MM_OFFSET + REG_DMACR, CR_RS | CR_IOC_IRQ_EN)
    assert dma.read(S2MM_OFFSET + REG_DMASR) & (SR_HALTED | SR_IDLE) == 0  # running, not idle
    dst = ddr.alloc(256)
    dma.write(S2MM_OFFSET + REG_ADDR, dst)
    dma.write(S2MM_OFFSET + REG_LENGTH, 256)
    clk.advance(500)
    assert fifo.push(np.arange(10, dtype=np.uint8), False)
    assert fifo.push(np.arange(20, dtype=np.uint8), True)  # the channel completes on notify
    sr = dma.read(S2MM_OFFSET + REG_DMASR)
    assert sr & SR_IDLE and sr & SR_IOC_IRQ and dma.channel(S2MM).interrupt
    assert dma.read(S2MM_OFFSET + REG_LENGTH) == 30
    assert ddr.read(dst, 30).tolist() == list(range(10)) + list(range(20))
    rec = dma.transfers[-1]
    assert (rec.start_ns, rec.end_ns, rec.nbytes, rec.last) == (0, 500, 30, True)
    dma.write(S2MM_OFFSET + REG_DMASR, SR_IOC_IRQ)  # write 1 to clear
    assert not dma.read(S2MM_OFFSET + REG_DMASR) & SR_IOC_IRQ


def test_direct_s2mm_packet_longer_than_length_is_internal_error() -> None:
    ddr = _ddr()
    dma = AxiDma(ddr, name="d", scatter_gather=False)
    fifo = connect_loopback(dma)
    fifo.push(np.ones(100, dtype=np.uint8), True)
    dma.write(S2MM_OFFSET + REG_DMACR, CR_RS | CR_ERR_IRQ_EN)
    dma.write(S2MM_OFFSET + REG_ADDR, ddr.alloc(64))
    dma.write(S2MM_OFFSET + REG_LENGTH, 64)
    ch = dma.channel(S2MM)
    assert ch.errors == ("DMAIntErr",) and ch.halted and ch.interrupt
    assert dma.read(S2MM_OFFSET + REG_DMACR) & CR_RS == 0  # hardware cleared RS
    dma.write(S2MM_OFFSET + REG_DMACR, CR_RS)
    assert dma.read(S2MM_OFFSET + REG_DMASR) & SR_HALTED  # stays halted until reset
    dma.write(REG_DMACR, CR_RESET)  # MM2S DMACR.Reset resets the S2MM channel too
    assert ch.error_bits == 0 and ch.halted and fifo.level == 36


def test_direct_mode_programming_errors() -> None:
    ddr = _ddr()
    dma = AxiDma(ddr, name="d", scatter_gather=False)
    dma.write(REG_DMACR, CR_RS)
    with pytest.raises(DmaProgrammingError, match="no stream is connected"):
        dma.write(REG_LENGTH, 16)
    fifo = StreamFifo()
    dma.connect_s2mm(fifo)
    dma.write(S2MM_OFFSET + REG_DMACR, CR_RS)
    dma.write(S2MM_OFFSET + REG_ADDR, ddr.alloc(16))
    dma.write(S2MM_OFFSET + REG_LENGTH, 16)  # waits for data
    with pytest.raises(DmaProgrammingError, match="still running"):
        dma.write(S2MM_OFFSET + REG_LENGTH, 16)
    dma.write(S2MM_OFFSET + REG_DMACR, 0)  # RS = 0 abandons the waiting transfer
    assert dma.channel(S2MM).halted and not dma.channel(S2MM).busy
    with pytest.raises(UnsupportedFeatureError, match="cyclic"):
        dma.write(REG_DMACR, CR_RS | CR_CYCLIC_BD)


def test_direct_decode_error_outside_ddr() -> None:
    ddr = _ddr()
    dma = AxiDma(ddr, name="d", scatter_gather=False)
    connect_loopback(dma)
    dma.write(REG_DMACR, CR_RS)
    dma.write(REG_ADDR, ddr.end_address)
    dma.write(REG_LENGTH, 16)
    assert dma.read(REG_DMASR) & (SR_DMA_DEC_ERR | SR_ERR_IRQ | SR_HALTED) == (
        SR_DMA_DEC_ERR | SR_ERR_IRQ | SR_HALTED
    )


class _Gate:
    """A sink that refuses data until opened (an engine that is not ready)."""

    def __init__(self) -> None:
        self.open = False
        self.got: list[tuple[bytes, bool]] = []

    def push(self, packet: np.ndarray, last: bool) -> bool:
        if not self.open:
            return False
        self.got.append((packet.tobytes(), last))
        return True


def test_not_ready_sink_progresses_when_serviced() -> None:
    ddr = _ddr()
    dma = AxiDma(ddr, name="d", scatter_gather=False, include_s2mm=False)
    gate = _Gate()
    dma.connect_mm2s(gate)
    src, data = _filled(ddr, 64, seed=3)
    dma.write(REG_DMACR, CR_RS)
    dma.write(REG_ADDR, src)
    dma.write(REG_LENGTH, 64)
    assert not dma.read(REG_DMASR) & SR_IDLE and dma.channel(MM2S).busy
    gate.open = True
    assert dma.service()
    assert dma.read(REG_DMASR) & SR_IDLE
    assert gate.got == [(data.tobytes(), True)]


def test_source_breaking_protocol_is_reported() -> None:
    class Greedy:
        def pull(self, max_bytes: int) -> tuple[np.ndarray, bool]:
            return np.zeros(max_bytes + 1, dtype=np.uint8), True

    ddr = _ddr()
    dma = AxiDma(ddr, name="d", scatter_gather=False, include_mm2s=False)
    dma.connect_s2mm(Greedy())
    dma.write(S2MM_OFFSET + REG_DMACR, CR_RS)
    dma.write(S2MM_OFFSET + REG_ADDR, ddr.alloc(16))
    with pytest.raises(StreamProtocolError, match="returned 17 bytes"):
        dma.write(S2MM_OFFSET + REG_LENGTH, 16)


# ---------------------------------------------------------------------------- AXI DMA SG
def test_sg_packet_spanning_descriptors_and_rx_flags() -> None:
    ddr = _ddr()
    dma = AxiDma(ddr, name="sg")
    fifo = connect_loopback(dma)
    src, data = _filled(ddr, 300, seed=4)
    # MM2S: one 300-byte packet over three descriptors (SOF ... EOF).
    tx = _chain(ddr, [(src, 100), (src + 100, 100), (src + 200, 100)], [CTRL_SOF, 0, CTRL_EOF])
    # S2MM: buffers of 128 + 256 + 64 bytes; the packet fills the first and part of the second.
    dst = ddr.alloc(448)
    rx = _chain(ddr, [(dst, 128), (dst + 128, 256), (dst + 384, 64)])
    _start_sg(dma, S2MM_OFFSET, rx[0], rx[2])
    _start_sg(dma, 0, tx[0], tx[2])
    assert all(_status(ddr, d) == ST_CMPLT | 100 for d in tx)
    assert dma.read(REG_DMASR) & SR_IDLE and dma.read(REG_DMASR) & SR_IOC_IRQ
    assert _status(ddr, rx[0]) == ST_CMPLT | ST_RXSOF | 128
    assert _status(ddr, rx[1]) == ST_CMPLT | ST_RXEOF | 172
    assert _status(ddr, rx[2]) == 0  # waits for the next packet
    assert not dma.read(S2MM_OFFSET + REG_DMASR) & SR_IDLE
    assert np.array_equal(ddr.read(dst, 128), data[:128])
    assert np.array_equal(ddr.read(dst + 128, 172), data[128:])
    fifo.push(np.full(8, 5, np.uint8), True)
    assert _status(ddr, rx[2]) == ST_CMPLT | ST_RXSOF | ST_RXEOF | 8
    assert dma.read(S2MM_OFFSET + REG_DMASR) & SR_IDLE
    assert dma.read(S2MM_OFFSET + REG_CURDESC) == rx[2] & 0xFFFF_FFFF


def test_sg_descriptor_errors() -> None:
    ddr = _ddr()
    dma = AxiDma(ddr, name="sg")
    connect_loopback(dma)
    src, _ = _filled(ddr, 64, seed=5)
    # A completed descriptor that software did not recycle: SGIntErr.
    tx = _chain(ddr, [(src, 32), (src + 32, 32)], [CTRL_SOF, CTRL_EOF])
    _start_sg(dma, 0, tx[0], tx[1])
    assert dma.channel(MM2S).idle
    dma.write(REG_TAILDESC_MSB, 0)  # resumes after the tail: wraps to the completed tx[0]
    assert dma.read(REG_DMASR) & SR_SG_INT_ERR and dma.read(REG_CURDESC) == tx[0] & 0xFFFF_FFFF
    # Zero buffer length: DMAIntErr, and the descriptor status says so.
    dma.write(REG_DMACR, CR_RESET)
    bad = _chain(ddr, [(src, 0)], [CTRL_SOF | CTRL_EOF])
    _start_sg(dma, 0, bad[0], bad[0])
    assert dma.read(REG_DMASR) & SR_DMA_INT_ERR and _status(ddr, bad[0]) == ST_INT_ERR
    # Buffer outside DDR: DMADecErr in DMASR and in the descriptor.
    dma.write(REG_DMACR, CR_RESET)
    far = _chain(ddr, [(ddr.end_address, 16)], [CTRL_SOF | CTRL_EOF])
    _start_sg(dma, 0, far[0], far[0])
    assert dma.read(REG_DMASR) & SR_DMA_DEC_ERR and _status(ddr, far[0]) == ST_DEC_ERR
    # Descriptor outside DDR: SGDecErr.
    dma.write(REG_DMACR, CR_RESET)
    _start_sg(dma, 0, ddr.end_address, ddr.end_address)
    assert dma.read(REG_DMASR) & SR_SG_DEC_ERR


def test_sg_irq_threshold_counts_packets() -> None:
    ddr = _ddr()
    dma = AxiDma(ddr, name="sg", include_s2mm=False)
    fifo = StreamFifo()
    dma.connect_mm2s(fifo)
    src, _ = _filled(ddr, 64, seed=6)
    tx = _chain(ddr, [(src + 16 * i, 16) for i in range(4)], [CTRL_SOF | CTRL_EOF] * 4)
    cr = CR_RS | CR_IOC_IRQ_EN | (2 << 16)
    _start_sg(dma, 0, tx[0], tx[0], cr)
    sr = dma.read(REG_DMASR)
    assert not sr & SR_IOC_IRQ and (sr >> 16) & 0xFF == 1  # one more packet to go
    dma.write(REG_TAILDESC, tx[1] & 0xFFFF_FFFF)  # resume after tx[0], up to tx[1]
    dma.write(REG_TAILDESC_MSB, tx[1] >> 32)
    assert dma.read(REG_DMASR) & SR_IOC_IRQ and dma.channel(MM2S).interrupt
    assert fifo.packets_in == 2


def test_sg_32bit_address_lsb_tail_write_starts() -> None:
    ddr = EmulatedDdr(1 * MIB, base_address=0x1000_0000)
    dma = AxiDma(ddr, name="sg32", addr_width=32)
    fifo = connect_loopback(dma)
    src, data = _filled(ddr, 48, seed=7)
    tx = _chain(ddr, [(src, 48)], [CTRL_SOF | CTRL_EOF])
    dma.write(REG_CURDESC, tx[0])
    dma.write(REG_DMACR, CR_RS)
    dma.write(REG_TAILDESC_MSB, 0)  # reserved with a 32-bit address space: starts nothing
    assert fifo.level == 0
    dma.write(REG_TAILDESC, tx[0])
    packets = fifo.packets()
    assert len(packets) == 1 and np.array_equal(packets[0][0], data) and packets[0][1]


def test_sg_hang_and_fault_queue() -> None:
    ddr = _ddr()
    dma = AxiDma(ddr, name="sg")
    connect_loopback(dma)
    src, _ = _filled(ddr, 32, seed=8)
    dma.inject_fault(MM2S, DmaFault.HANG)
    dma.inject_fault(MM2S, DmaFault.SLAVE_ERROR)
    tx = _chain(ddr, [(src, 32)], [CTRL_SOF | CTRL_EOF])
    _start_sg(dma, 0, tx[0], tx[0])
    ch = dma.channel(MM2S)
    assert ch.hung and not ch.idle and not ch.halted
    dma.write(REG_DMACR, 0)
    assert not ch.halted  # RS = 0 does not stop a hung channel
    dma.write(S2MM_OFFSET + REG_DMACR, CR_RESET)  # a reset of either channel resets both
    assert not ch.hung and ch.halted
    assert ch.pending_faults == (DmaFault.SLAVE_ERROR,)  # armed faults survive the reset
    _start_sg(dma, 0, tx[0], tx[0])
    assert ch.errors == ("DMASlvErr",)
    with pytest.raises(EmulationConfigError, match="scatter-gather"):
        AxiDma(ddr, scatter_gather=False).inject_fault(MM2S, DmaFault.SG_DECODE_ERROR)


def test_fifo_keeps_packet_boundaries_and_capacity() -> None:
    fifo = StreamFifo(capacity_bytes=10)
    assert fifo.push(np.arange(4, dtype=np.uint8), False)
    assert fifo.push(np.arange(4, 8, dtype=np.uint8), True)
    assert not fifo.push(np.arange(4, dtype=np.uint8), True)  # would exceed 10 bytes
    chunk, last = fifo.pull(100) or (None, None)
    assert chunk is not None and chunk.tolist() == list(range(8)) and last
    assert fifo.push(np.zeros(50, dtype=np.uint8), True)  # larger than capacity, FIFO empty
    assert fifo.pull(20) is not None and fifo.level == 30
    with pytest.raises(StreamProtocolError):
        fifo.push(np.zeros(3, dtype=np.int16), True)
