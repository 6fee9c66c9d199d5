"""pynq's own, unmodified MMIO / allocate / DMA code against the emulated board.

Every test that touches pynq's device registry or active device does so inside
``EmulatedDevice.activate()`` or ``saved_device_state()``, which restore pynq's state on exit.
Driver waits always have a deadline (:func:`wait_with_deadline`): pynq's ``wait()`` spins forever
on a channel that never completes.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from arm_scheduler.emulated import device as device_mod
from arm_scheduler.emulated.axi_dma import (
    SR_DMA_DEC_ERR,
    SR_DMA_SLV_ERR,
    SR_ERR_IRQ,
    SR_HALTED,
    SR_SG_INCLD,
    AxiDma,
    DmaFault,
    StreamFifo,
    connect_loopback,
)
from arm_scheduler.emulated.bus import RegisterFile
from arm_scheduler.emulated.device import ENV_EMULATE, EmulatedDevice
from arm_scheduler.emulated.errors import (
    ContiguousMemoryError,
    DdrAddressError,
    EmulationConfigError,
    UnmappedAddressError,
)
from arm_scheduler.pynq_api import (
    MMIO,
    Device,
    PynqBuffer,
    allocate,
    forget_probed_devices,
    saved_device_state,
)
from edge_dnn.overlay.config import load_overlay

DIRECT_BASE = 0xA000_0000
SG_BASE = 0xA001_0000


def wait_with_deadline(channel: Any, timeout_s: float = 2.0) -> None:
    """pynq ``channel.wait()`` once the channel is idle, halted or in error, else TimeoutError."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if channel.idle or channel.error or getattr(channel, "halted", False):
            channel.wait()  # returns (or raises the driver's error) without spinning
            return
    raise TimeoutError(f"DMA channel not done after {timeout_s} s")


@pytest.fixture
def board() -> Iterator[EmulatedDevice]:
    """A small emulated board (16 MiB DDR) active in pynq, with one direct and one SG DMA."""
    dev = EmulatedDevice(ddr_bytes=16 << 20)
    dev.add_axi_dma("dma_direct", DIRECT_BASE, scatter_gather=False, addr_width=32)
    dev.add_axi_dma("dma_sg", SG_BASE, scatter_gather=True, addr_width=64)
    with dev.activate():
        yield dev


def _dma(dev: EmulatedDevice, name: str) -> AxiDma:
    m = dev.model(name)
    assert isinstance(m, AxiDma)
    return m


def _random(rng: np.random.Generator, n: int, dtype: Any) -> PynqBuffer:
    buf = allocate((n,), dtype)
    buf[:] = rng.integers(0, 200, size=n).astype(dtype)
    return buf


# ---------------------------------------------------------------------------- DMA data paths
@pytest.mark.parametrize("n, dtype", [(16, np.uint8), (1000, np.uint32), (65_536, np.int16)])
@pytest.mark.parametrize("recv_first", [False, True])
def test_direct_loopback(board: EmulatedDevice, n: int, dtype: Any, recv_first: bool) -> None:
    rng = np.random.default_rng(1)
    connect_loopback(_dma(board, "dma_direct"))
    drv = board.pynq_dma("dma_direct")
    src = _random(rng, n, dtype)
    dst = allocate((n,), dtype)
    if recv_first:
        drv.recvchannel.transfer(dst)
        drv.sendchannel.transfer(src)
    else:
        drv.sendchannel.transfer(src)
        drv.recvchannel.transfer(dst)
    wait_with_deadline(drv.sendchannel)
    wait_with_deadline(drv.recvchannel)
    assert np.array_equal(src, dst)
    assert drv.recvchannel.transferred == src.nbytes
    assert drv.sendchannel.transferred == src.nbytes


def test_direct_receive_shorter_packet_reports_length(board: EmulatedDevice) -> None:
    connect_loopback(_dma(board, "dma_direct"))
    drv = board.pynq_dma("dma_direct")
    src = allocate((100,), np.uint8)
    src[:] = np.arange(100, dtype=np.uint8)
    dst = allocate((4096,), np.uint8)
    drv.recvchannel.transfer(dst)
    drv.sendchannel.transfer(src)
    wait_with_deadline(drv.recvchannel)
    assert drv.recvchannel.transferred == 100
    assert np.array_equal(dst[:100], src) and not dst[100:].any()


@pytest.mark.parametrize("nbytes", [100, 4096, 1 << 20])
@pytest.mark.parametrize("recv_first", [False, True])
def test_sg_loopback(board: EmulatedDevice, nbytes: int, recv_first: bool) -> None:
    rng = np.random.default_rng(2)
    dma = _dma(board, "dma_sg")
    connect_loopback(dma)
    drv = board.pynq_dma("dma_sg")
    src = _random(rng, nbytes, np.uint8)
    dst = allocate((nbytes,), np.uint8)
    with warnings.catch_warnings():
        # pynq's SG wait() calls the deprecated PynqBuffer.close() on its descriptors.
        warnings.simplefilter("ignore", DeprecationWarning)
        if recv_first:
            drv.recvchannel.transfer(dst)
            drv.sendchannel.transfer(src)
        else:
            drv.sendchannel.transfer(src)
            drv.recvchannel.transfer(dst)
        wait_with_deadline(drv.sendchannel)
        wait_with_deadline(drv.recvchannel)
    assert np.array_equal(src, dst)
    assert drv.recvchannel.transferred == nbytes
    # pynq splits a transfer into >= 2 descriptors; TLAST only with the last MM2S one.
    mm2s = [r for r in dma.transfers if r.channel == "mm2s"]
    assert len(mm2s) >= 2 and sum(r.nbytes for r in mm2s) == nbytes
    assert [r.last for r in mm2s] == [False] * (len(mm2s) - 1) + [True]


def test_sg_tiny_transfer_is_a_pynq_quirk(board: EmulatedDevice) -> None:
    """pynq 4.0.0's SG driver always builds two descriptors of a multiple of the data width:
    fewer than 2 x (data width) bytes divide by zero inside pynq, before any register access."""
    connect_loopback(_dma(board, "dma_sg"))
    drv = board.pynq_dma("dma_sg")
    buf = allocate((16,), np.uint8)  # data width 128 bit = 16 bytes
    with pytest.raises(ZeroDivisionError):
        drv.sendchannel.transfer(buf)


def test_overlay_dmas_with_pynq_driver() -> None:
    """The zcu104 overlay's five DMAs, mapped at their addresses, driven by pynq."""
    cfg = load_overlay("zcu104")
    dev = EmulatedDevice(ddr_bytes=16 << 20)
    dmas = dev.add_overlay_dmas(cfg)
    assert set(dmas) == {d.name for d in cfg.dmas}
    with dev.activate():
        act0 = dmas["dma_act0"]
        assert act0.scatter_gather and act0.addr_width == 64
        connect_loopback(act0)
        drv = dev.pynq_dma("dma_act0")
        assert drv.mmio.base_addr == cfg.dma("dma_act0").base_address
        assert dev.pynq_dma("dma_cmd").recvchannel is None  # MM2S only
        src = allocate((8192,), np.uint8)
        src[:] = np.arange(8192) % 253
        dst = allocate((8192,), np.uint8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            drv.sendchannel.transfer(src)
            drv.recvchannel.transfer(dst)
            wait_with_deadline(drv.sendchannel)
            wait_with_deadline(drv.recvchannel)
        assert np.array_equal(src, dst)


# ---------------------------------------------------------------------------- faults
def test_injected_slave_error_then_reset_recovers(board: EmulatedDevice) -> None:
    dma = _dma(board, "dma_direct")
    connect_loopback(dma)
    drv = board.pynq_dma("dma_direct")
    src = allocate((256,), np.uint32)
    src[:] = np.arange(256)
    dma.inject_fault("mm2s", DmaFault.SLAVE_ERROR)
    drv.sendchannel.transfer(src)
    assert drv.sendchannel.error and not drv.sendchannel.running
    status = drv.mmio.read(0x04)
    assert status & SR_DMA_SLV_ERR and status & SR_HALTED and status & SR_ERR_IRQ
    # pynq quirk: the direct-mode wait() checks `running` before the error bits, and PG021
    # halts a channel on error, so it reports "not started" rather than the slave error.
    with pytest.raises(RuntimeError, match="DMA channel not started"):
        wait_with_deadline(drv.sendchannel)
    assert dma.channel("mm2s").errors == ("DMASlvErr",)
    assert dma.transfers[-1].error == "DMASlvErr"

    drv.mmio.write(0x00, 0x4)  # DMACR.Reset: resets the whole DMA
    assert not drv.sendchannel.error and drv.mmio.read(0x04) & SR_HALTED
    assert drv.mmio.read(0x34) & SR_HALTED  # the S2MM channel was reset too
    drv.sendchannel.start()
    drv.recvchannel.start()
    dst = allocate((256,), np.uint32)
    drv.sendchannel.transfer(src)
    drv.recvchannel.transfer(dst)
    wait_with_deadline(drv.recvchannel)
    assert np.array_equal(src, dst)


def test_injected_decode_error_sg_then_reset(board: EmulatedDevice) -> None:
    dma = _dma(board, "dma_sg")
    fifo = connect_loopback(dma)
    drv = board.pynq_dma("dma_sg")
    src = allocate((4096,), np.uint8)
    src[:] = 7
    dst = allocate((4096,), np.uint8)
    dma.inject_fault("s2mm", DmaFault.DECODE_ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        drv.sendchannel.transfer(src)
        drv.recvchannel.transfer(dst)
        wait_with_deadline(drv.sendchannel)
        assert drv.recvchannel.error
        assert drv.mmio.read(0x34) & SR_DMA_DEC_ERR
        with pytest.raises(RuntimeError, match="Decode Error"):
            wait_with_deadline(drv.recvchannel)
        assert not dst.any()
        drv.mmio.write(0x30, 0x4)
        assert not drv.recvchannel.error and drv.recvchannel.halted
        # A DMA reset does not flush the stream: the packet sent before is still queued.
        assert fifo.level == 4096
        drv.recvchannel.transfer(dst)
        wait_with_deadline(drv.recvchannel)
    assert np.array_equal(src, dst)


def test_injected_sg_descriptor_decode_error(board: EmulatedDevice) -> None:
    dma = _dma(board, "dma_sg")
    connect_loopback(dma)
    drv = board.pynq_dma("dma_sg")
    src = allocate((256,), np.uint8)
    dma.inject_fault("mm2s", DmaFault.SG_DECODE_ERROR)
    drv.sendchannel.transfer(src)
    assert drv.sendchannel.error
    with pytest.raises(RuntimeError, match="Scatter-Gather Decode Error"):
        wait_with_deadline(drv.sendchannel)


def test_hung_channel_times_out_and_reset_recovers(board: EmulatedDevice) -> None:
    dma = _dma(board, "dma_direct")
    connect_loopback(dma)
    drv = board.pynq_dma("dma_direct")
    src = allocate((64,), np.uint8)
    src[:] = 3
    dma.inject_fault("mm2s", DmaFault.HANG)
    drv.sendchannel.transfer(src)
    with pytest.raises(TimeoutError):
        wait_with_deadline(drv.sendchannel, timeout_s=0.05)
    assert drv.sendchannel.running and not drv.sendchannel.idle
    drv.mmio.write(0x00, 0x0)  # RS = 0 cannot stop a channel stuck on the bus
    assert drv.sendchannel.running
    drv.mmio.write(0x00, 0x4)
    assert not drv.sendchannel.running
    drv.sendchannel.start()
    drv.recvchannel.start()
    dst = allocate((64,), np.uint8)
    drv.sendchannel.transfer(src)
    drv.recvchannel.transfer(dst)
    wait_with_deadline(drv.recvchannel)
    assert np.array_equal(src, dst)


# ---------------------------------------------------------------------------- MMIO and memory
def test_mmio_reads_and_writes_reach_register_models(board: EmulatedDevice) -> None:
    regs = RegisterFile(0x100)
    board.map("scratch", 0xA007_0000, 0x100, regs)
    mmio = MMIO(0xA007_0000, 0x100)
    mmio.write(0x10, 0xDEADBEEF)
    assert regs.words[4] == 0xDEADBEEF and mmio.read(0x10) == 0xDEADBEEF
    mmio.write(0x20, np.arange(1, 5, dtype="<u4").tobytes())
    assert list(regs.words[8:12]) == [1, 2, 3, 4]
    assert mmio.read(0x20, 8) == (2 << 32) | 1
    dma_regs = MMIO(SG_BASE, 0x100)
    assert dma_regs.read(0x04) & (SR_HALTED | SR_SG_INCLD) == SR_HALTED | SR_SG_INCLD


def test_unmapped_register_access_names_the_address(board: EmulatedDevice) -> None:
    mmio = MMIO(0xB000_0000, 0x10)
    with pytest.raises(UnmappedAddressError, match="0xb0000000"):
        mmio.read(0)
    with pytest.raises(UnmappedAddressError, match="0xb0000004"):
        mmio.write(4, 1)


def test_allocate_returns_pynq_buffers_backed_by_ddr(board: EmulatedDevice) -> None:
    ddr = board.ddr
    before = board.memory_stats().in_use
    buf = allocate((3, 5), np.int16)
    assert isinstance(buf, PynqBuffer) and buf.coherent and not hasattr(buf, "memory")
    assert buf.physical_address % 4096 == 0 and ddr.contains(buf.physical_address, buf.nbytes)
    buf[1, 2] = -2
    raw = ddr.read(buf.physical_address, buf.nbytes).view(np.int16).reshape(3, 5)
    assert raw[1, 2] == -2
    assert buf[1:].physical_address == buf.physical_address + 10
    assert board.owns(buf) and board.owns(buf[1:])
    assert not board.owns(buf + 1) and not board.owns(buf.copy())  # pynq quirk: bogus address
    buf.flush()  # coherent: no-ops, must not fail
    buf.invalidate()
    assert board.memory_stats().in_use == before + 4096
    view = buf[2]
    del buf
    assert board.memory_stats().in_use == before + 4096  # a view keeps it alive
    del view
    assert board.memory_stats().in_use == before


def test_explicit_free_and_errors(board: EmulatedDevice) -> None:
    buf = allocate((10,), np.uint8)
    addr = buf.physical_address
    board.free(buf)
    assert board.ddr.allocation_size(addr) is None
    with pytest.raises(DdrAddressError):
        board.free(buf)
    with pytest.raises(EmulationConfigError, match="shape"):
        allocate((-1,), np.uint8)


def test_contiguous_memory_budget() -> None:
    dev = EmulatedDevice(ddr_bytes=1 << 20, cma_bytes=64 << 10)
    keep = dev.allocate((40_000,), np.uint8)
    with pytest.raises(ContiguousMemoryError) as exc:
        dev.allocate((30_000,), np.uint8)
    e = exc.value
    assert (e.needed, e.available, e.capacity) == (32768, 65536 - 40960, 65536)
    assert "32768 bytes needed" in str(e) and "24576 bytes available" in str(e)
    assert keep.nbytes == 40_000
    assert dev.memory_stats().peak == 40960


# ---------------------------------------------------------------------------- the gate
def test_gate_follows_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_EMULATE, "0")
    assert EmulatedDevice._probe_() == []
    monkeypatch.setenv(ENV_EMULATE, "1")
    devs = EmulatedDevice._probe_()
    assert len(devs) == 1 and isinstance(devs[0], EmulatedDevice)
    monkeypatch.setenv(ENV_EMULATE, "maybe")
    with pytest.raises(EmulationConfigError, match=ENV_EMULATE):
        EmulatedDevice._probe_()


def test_gate_unset_depends_on_real_board(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_EMULATE, raising=False)
    monkeypatch.setattr(device_mod, "real_board_present", lambda: True)
    assert EmulatedDevice._probe_() == []
    monkeypatch.setattr(device_mod, "real_board_present", lambda: False)
    assert len(EmulatedDevice._probe_()) == 1


def test_registry_lists_emulated_device_only_when_gated_in(monkeypatch: pytest.MonkeyPatch) -> None:
    assert EmulatedDevice._probe_priority_ > 200  # after every pynq device class
    with saved_device_state():
        monkeypatch.setenv(ENV_EMULATE, "1")
        forget_probed_devices()
        assert isinstance(Device.devices[-1], EmulatedDevice)
        assert isinstance(Device.active_device, EmulatedDevice)  # no board on a test host
        monkeypatch.setenv(ENV_EMULATE, "0")
        forget_probed_devices()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pynq: "No devices found"
            assert not any(isinstance(d, EmulatedDevice) for d in Device.devices)


def test_activate_restores_pynq_state() -> None:
    had = {a: a in Device.__dict__ for a in ("_devices", "_active_device")}
    prior = Device.__dict__.get("_active_device")
    dev = EmulatedDevice(ddr_bytes=1 << 20)
    with dev.activate():
        assert Device.active_device is dev
        assert allocate((4,), np.uint8).device is dev
    assert {a: a in Device.__dict__ for a in had} == had
    assert Device.__dict__.get("_active_device") is prior


def test_stream_fifo_between_two_dmas(board: EmulatedDevice) -> None:
    """MM2S of one DMA feeding S2MM of another through a bounded FIFO (not-ready path)."""
    fifo = StreamFifo(capacity_bytes=1024)
    _dma(board, "dma_sg").connect_mm2s(fifo)
    _dma(board, "dma_direct").connect_s2mm(fifo)
    tx = board.pynq_dma("dma_sg")
    rx = board.pynq_dma("dma_direct")
    src = allocate((4096,), np.uint8)
    src[:] = np.arange(4096) % 199
    dst = allocate((4096,), np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        tx.sendchannel.transfer(src)  # 2 descriptors of 2048 > capacity: the second waits
        assert not tx.sendchannel.idle and fifo.level == 2048
        rx.recvchannel.transfer(dst)  # draining the FIFO lets the MM2S side finish
        wait_with_deadline(tx.sendchannel)
        wait_with_deadline(rx.recvchannel)
    assert np.array_equal(src, dst)
