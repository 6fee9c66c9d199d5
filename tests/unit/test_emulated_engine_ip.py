"""The engine IP on the emulated board: registers through pynq's MMIO, a compiled engine step
driven through the overlay's AXI DMAs, the simulated clock, and fault injection.

pynq 4.0.0's scatter-gather driver (``_SGDMAChannel.transfer``) sends or receives one contiguous
buffer as one packet per call (split into at least two descriptors, SOF on the first, EOF on the
last; the channel must be halted, i.e. one transfer at a time, ``wait()`` in between), and
divides by zero for fewer than two data-width words (32 bytes on a 128-bit port). It cannot
express a gather / scatter packet (several DDR ranges), several packets in one chain, or the
8-byte ``act_out`` packets of the digits net. So these tests drive the channels the way the
runtime must: physical-address descriptor chains (the compiler's transfer lists, one chain per
stream) written into ``pynq.allocate`` buffers and started through the pynq DMA driver's
``mmio``; one variant sends the MM2S packets with pynq's own ``sendchannel.transfer``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import edge_dnn
from arm_scheduler.emulated.axi_dma import (
    CR_RESET,
    CR_RS,
    CTRL_EOF,
    CTRL_SOF,
    DESC_BYTES,
    REG_CURDESC,
    REG_CURDESC_MSB,
    REG_DMACR,
    REG_DMASR,
    REG_TAILDESC,
    REG_TAILDESC_MSB,
    S2MM_OFFSET,
    SR_DMA_DEC_ERR,
    SR_DMA_SLV_ERR,
    SR_ERR_IRQ,
    SR_HALTED,
    SR_IDLE,
    DmaFault,
)
from arm_scheduler.emulated.device import EmulatedDevice
from arm_scheduler.emulated.engine_ip import (
    EmulatedEngineIP,
    EmulatedOverlay,
    EngineIpFault,
    EngineIpState,
    EngineProgrammingError,
)
from arm_scheduler.emulated.errors import RegisterAccessError, UnmappedAddressError
from arm_scheduler.pynq_api import MMIO, PynqBuffer, allocate
from edge_dnn.compiler import compile_model
from edge_dnn.compiler.model import CompiledModel, EngineStep
from edge_dnn.emulator.engine import Engine, EngineCounters
from edge_dnn.emulator.run import DirectFeeder
from edge_dnn.isa import ErrorCode
from edge_dnn.isa.format import HEADER_WORDS
from edge_dnn.overlay.config import OverlayConfig, list_overlays, load_overlay
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from edge_dnn.zoo import model_files

M32 = 0xFFFF_FFFF
POLLS = 200
"""Register reads a driver spends waiting before the test calls a channel stuck."""

_MODELS: dict[str, CompiledModel] = {}


# ---------------------------------------------------------------------------- fixtures
def _digits(overlay: str) -> CompiledModel:
    """The bundled digits net, quantized once and compiled per overlay (cached)."""
    if overlay not in _MODELS:
        g = edge_dnn.load_caffe(*model_files("digits"))
        name, shape = next(iter(g.inputs.items()))
        x = np.random.default_rng(1).standard_normal((2, *shape[1:])).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuantizationWarning)
            qg = quantize(g, {name: x}, method="minmax", progress=False)
        _MODELS[overlay] = compile_model(qg, overlay)
    return _MODELS[overlay]


def _step_and_image(model: CompiledModel, seed: int) -> tuple[EngineStep, np.ndarray]:
    """The model's first engine step and its DDR image holding a random quantized input."""
    image = model.memory.image()
    rng = np.random.default_rng(seed)
    for name in model.inputs:
        info = model.tensors[name]
        lay = info.layout
        assert lay is not None
        x = rng.standard_normal(info.shape).astype(np.float32)
        q = info.quant.quantize(x, where=name)
        image[lay.offset : lay.end] = lay.pack(q.reshape(1, info.shape[1], lay.height, lay.width))
    step = next(s for s in model.steps if isinstance(s, EngineStep))
    return step, image


def _reference(cfg: OverlayConfig, step: EngineStep, image: np.ndarray) -> tuple[Any, Any]:
    """DDR bytes and counters after the step, from edge_dnn.emulator.run's DirectFeeder."""
    ref = image.copy()
    counters = DirectFeeder(Engine(cfg)).run(step, ref)
    return ref, counters


class Board:
    """An emulated board with an overlay loaded, active in pynq, plus driver-level helpers."""

    def __init__(self, overlay: str) -> None:
        self.cfg = load_overlay(overlay)
        self.dev = EmulatedDevice(ddr_bytes=16 << 20)
        self.ov: EmulatedOverlay = self.dev.add_overlay(self.cfg)
        self.ip: EmulatedEngineIP = self.ov.engine
        self._keep: list[PynqBuffer] = []
        self.irq_enable = False

    def start_pynq(self) -> None:
        """Create the pynq objects (call inside ``dev.activate()``)."""
        self.mmio = MMIO(self.cfg.engine.base_address, self.cfg.engine.address_range)
        self.drivers = {d.name: self.dev.pynq_dma(d.name) for d in self.cfg.dmas}

    # --------------------------------------------------------------------- engine registers
    def reg(self, name: str) -> int:
        return int(self.mmio.read(self.cfg.register(name).offset))

    def field(self, reg: str, name: str, word: int) -> int:
        f = self.cfg.register(reg).field(name)
        return (word >> f.lsb) & ((1 << f.width) - 1)

    def control(self, *bits: str) -> None:
        """Write CONTROL with ``bits`` set (plus IRQ_ENABLE when :attr:`irq_enable`)."""
        ctrl = self.cfg.register("CONTROL")
        names = {*bits, "IRQ_ENABLE"} if self.irq_enable else set(bits)
        self.mmio.write(ctrl.offset, sum(ctrl.field(b).mask for b in names))

    # --------------------------------------------------------------------- DMA channels
    def channel(self, stream: str) -> tuple[Any, int]:
        """pynq DMA driver and channel register offset (0 or 0x30) carrying ``stream``."""
        dma, direction = self.ov.channel_of_stream(stream)
        return self.drivers[dma.name], 0 if direction == "mm2s" else S2MM_OFFSET

    def dmasr(self, stream: str) -> int:
        drv, off = self.channel(stream)
        return int(drv.mmio.read(off + REG_DMASR))

    def start_chain(self, stream: str, rows: list[tuple[int, int, bool]], base: int) -> None:
        """Write a descriptor chain for ``rows`` (offset from ``base``, length, TLAST) into a
        pynq buffer and start the stream's channel on it through the driver's MMIO."""
        drv, off = self.channel(stream)
        n = len(rows)
        desc = allocate((n, DESC_BYTES // 4), np.uint32)
        self._keep.append(desc)  # freed (and zeroed) memory would corrupt the chain
        pa = int(desc.physical_address)
        mm2s = off == 0
        for i, (o, length, last) in enumerate(rows):
            nxt = pa + DESC_BYTES * ((i + 1) % n)
            addr = base + o
            flags = 0
            if mm2s:
                flags = (CTRL_SOF if i == 0 or rows[i - 1][2] else 0) | (CTRL_EOF if last else 0)
            desc[i, :4] = [nxt & M32, nxt >> 32, addr & M32, addr >> 32]
            desc[i, 6] = length | flags
        tail = pa + DESC_BYTES * (n - 1)
        drv.mmio.write(off + REG_CURDESC, pa & M32)
        drv.mmio.write(off + REG_CURDESC_MSB, pa >> 32)
        drv.mmio.write(off + REG_DMACR, CR_RS)
        drv.mmio.write(off + REG_TAILDESC, tail & M32)
        drv.mmio.write(off + REG_TAILDESC_MSB, tail >> 32)

    def wait_idle(self, stream: str) -> bool:
        """Poll the channel's DMASR like a driver; True once Idle, False if it never gets there
        (halted on an error, or stuck) within :data:`POLLS` reads."""
        for _ in range(POLLS):
            sr = self.dmasr(stream)
            if sr & SR_IDLE:
                return True
            if sr & SR_HALTED:
                return False
        return False

    def reset_all(self) -> None:
        """What a runtime does after a fault: engine SOFT_RESET, then DMACR.Reset of every DMA."""
        self.control("SOFT_RESET")
        for drv in self.drivers.values():
            drv.mmio.write(REG_DMACR, CR_RESET)

    # --------------------------------------------------------------------- one engine step
    def load(self, step: EngineStep, image: np.ndarray) -> tuple[PynqBuffer, PynqBuffer]:
        """The DDR image and the command stream in pynq buffers."""
        img = allocate((image.size,), np.uint8)
        img[:] = image
        cmd = allocate((step.cmd.size,), np.uint32)
        cmd[:] = step.cmd
        return img, cmd

    def start_outputs(self, step: EngineStep, img: PynqBuffer) -> list[str]:
        outs = [
            s.name for s in self.cfg.streams_with_role("act_out") if len(step.transfers[s.name])
        ]
        for s in outs:
            self.start_chain(s, _rows(step, s), int(img.physical_address))
        return outs

    def start_inputs(self, step: EngineStep, img: PynqBuffer, cmd: PynqBuffer) -> None:
        cmd_stream = self.cfg.streams_with_role("cmd")[0].name
        self.start_chain(cmd_stream, [(0, cmd.nbytes, True)], int(cmd.physical_address))
        for s in self.cfg.streams:
            if s.role in ("weights", "act_in") and len(step.transfers[s.name]):
                self.start_chain(s.name, _rows(step, s.name), int(img.physical_address))

    def run_step(self, step: EngineStep, image: np.ndarray) -> tuple[PynqBuffer, list[str]]:
        """Chains on every channel, then START (the order of ``docs/engine.md`` section 2)."""
        img, cmd = self.load(step, image)
        self._keep.append(cmd)
        outs = self.start_outputs(step, img)
        self.start_inputs(step, img, cmd)
        self.control("START")
        return img, outs


def _rows(step: EngineStep, stream: str) -> list[tuple[int, int, bool]]:
    return [(t.offset, t.length, t.last) for t in step.transfer_list(stream)]


@pytest.fixture
def zcu104() -> Iterator[Board]:
    b = Board("zcu104")
    with b.dev.activate(), warnings.catch_warnings():
        # pynq's SG wait() calls the deprecated PynqBuffer.close() on its descriptors.
        warnings.simplefilter("ignore", DeprecationWarning)
        b.start_pynq()
        yield b


# ---------------------------------------------------------------------------- identity
def _expected_identity(cfg: OverlayConfig, value: str) -> int:
    """Identity word computed here from the config fields (docs/overlay.md encodings)."""
    major, minor, patch = (int(v) for v in cfg.version.split("."))
    pe, clk = cfg.pe, cfg.clocks
    words = {
        "magic": 0x45444E4E,
        "version": major << 16 | minor << 8 | patch,
        "schema": 1,
        "config_hash0": int(cfg.config_hash[0:8], 16),
        "config_hash1": int(cfg.config_hash[8:16], 16),
        "pe_dims": pe.out_channels
        | pe.in_channels << 8
        | pe.pixels << 16
        | round(clk.dsp_mhz / clk.fabric_mhz) << 24,
        "clocks_mhz": round(clk.fabric_mhz) | round(clk.dsp_mhz) << 16,
        "precisions": int("int8" in pe.precisions) | int("int16" in pe.precisions) << 1,
        "lanes": pe.requant_lanes | pe.vector_lanes << 16,
    }
    for b in ("input", "weight", "output", "params"):
        buf = cfg.buffer(b)
        words[f"{b}_bytes"] = buf.banks * buf.depth * buf.width_bits // 8
    return words[value]


@pytest.mark.parametrize("overlay", list_overlays())
def test_identity_block_through_pynq_mmio(overlay: str) -> None:
    cfg = load_overlay(overlay)
    dev = EmulatedDevice(ddr_bytes=1 << 20)
    dev.add_overlay(cfg)
    with dev.activate():
        mmio = MMIO(cfg.engine.base_address, cfg.engine.address_range)
        ids = [r for r in cfg.registers if r.group == "identity"]
        assert {r.value for r in ids} >= {"magic", "version", "config_hash0", "config_hash1"}
        for r in ids:
            assert r.value is not None
            assert mmio.read(r.offset) == _expected_identity(cfg, r.value), r.name
        status = cfg.register("STATUS")
        assert mmio.read(status.offset) == status.field("IDLE").mask


def test_add_overlay_is_idempotent_and_replaces() -> None:
    dev = EmulatedDevice(ddr_bytes=1 << 20)
    a = dev.add_overlay(load_overlay("zcu104"))
    assert dev.add_overlay(load_overlay("zcu104")) is a and dev.overlay is a
    b = dev.add_overlay(load_overlay("ultra96"))
    assert dev.overlay is b and dev.model("engine") is b.engine
    assert {m.name for m in dev.bus.mappings} == {"engine", *b.dmas}
    # every DMA channel of the overlay is wired to the engine port of its stream
    for d in b.cfg.dmas:
        dma = b.dmas[d.name]
        if d.mm2s:
            assert dma.channel("mm2s").sink is b.engine.sink(d.mm2s)
        if d.s2mm:
            assert dma.channel("s2mm").source is b.engine.source(d.s2mm)


# ---------------------------------------------------------------------------- registers
def test_register_access_rules(zcu104: Board) -> None:
    b, cfg = zcu104, zcu104.cfg
    base = cfg.engine.base_address
    for r in cfg.registers:
        if r.access == "ro":
            with pytest.raises(RegisterAccessError, match=r.name):
                b.mmio.write(r.offset, 1)
    used = {r.offset for r in cfg.registers}
    hole = next(o for o in range(0, cfg.engine.address_range, 4) if o not in used)
    with pytest.raises(UnmappedAddressError, match=f"0x{base + hole:x}"):
        b.mmio.read(hole)
    with pytest.raises(UnmappedAddressError, match=f"0x{base + hole:x}"):
        b.mmio.write(hole, 0)

    scratch = cfg.register("SCRATCH").offset
    b.mmio.write(scratch, 0xDEADBEEF)
    assert b.mmio.read(scratch) == 0xDEADBEEF

    b.control("IRQ_ENABLE")  # stored; START / SOFT_RESET / CLEAR_COUNTERS self-clear
    assert b.reg("CONTROL") == cfg.register("CONTROL").field("IRQ_ENABLE").mask
    b.control("IRQ_ENABLE", "START")  # no command stream queued: BUSY, fetching
    assert b.reg("CONTROL") == cfg.register("CONTROL").field("IRQ_ENABLE").mask
    st = b.reg("STATUS")
    assert b.field("STATUS", "BUSY", st) and not b.field("STATUS", "IDLE", st)
    assert b.ip.stalled_on == "cmd" and b.ip.state == EngineIpState.FETCH
    with pytest.raises(EngineProgrammingError, match="START"):
        b.control("START")
    b.control("SOFT_RESET")
    assert b.reg("STATUS") == cfg.register("STATUS").field("IDLE").mask
    assert b.ip.runs[-1].outcome == "reset"


def test_irq_status_is_write_one_to_clear(zcu104: Board) -> None:
    b = zcu104
    step, image = _step_and_image(_digits("zcu104"), 3)
    b.irq_enable = True
    b.run_step(step, image)
    irq = b.cfg.register("IRQ_STATUS")
    done, err = irq.field("DONE").mask, irq.field("ERROR").mask
    assert b.reg("IRQ_STATUS") == done and b.ip.interrupt
    b.mmio.write(irq.offset, err)  # writing 1 to another cause clears nothing
    assert b.reg("IRQ_STATUS") == done
    b.mmio.write(irq.offset, done)
    assert b.reg("IRQ_STATUS") == 0 and not b.ip.interrupt
    assert b.field("STATUS", "DONE", b.reg("STATUS"))  # STATUS.DONE stays until START/reset


# ---------------------------------------------------------------------------- a full step
def _check_step(b: Board, step: EngineStep, image: np.ndarray, outs: list[str], img: Any) -> None:
    ref, counters = _reference(b.cfg, step, image)
    assert not np.array_equal(ref, image)  # the step writes results
    for s in outs:
        assert b.wait_idle(s), f"{s}: DMASR 0x{b.dmasr(s):08x}"
    st = b.reg("STATUS")
    assert b.field("STATUS", "DONE", st) and not b.field("STATUS", "ERROR", st)
    assert np.array_equal(np.asarray(img), ref)
    _check_counters(b, counters)


def _check_counters(b: Board, counters: EngineCounters) -> None:
    lo = b.reg("CNT_CYCLES_LO")
    assert (b.reg("CNT_CYCLES_HI") << 32 | lo) == counters.cycles > 0
    assert b.reg("CNT_COMMANDS") == counters.instructions
    assert b.reg("CNT_BUSY_LO") == counters.unit_busy["CMP"] > 0
    run = b.ip.runs[-1]
    assert run.outcome == "done" and run.cycles == counters.cycles
    ns = round(counters.cycles * 1000 / b.cfg.clocks.fabric_mhz)
    assert run.end_ns - run.start_ns == ns


@pytest.mark.parametrize("overlay", ["zcu104", "ultra96"])
def test_engine_step_through_descriptor_chains_matches_direct_feeder(overlay: str) -> None:
    b = Board(overlay)
    step, image = _step_and_image(_digits(overlay), 5)
    with b.dev.activate():
        b.start_pynq()
        t0 = b.dev.now_ns
        img, outs = b.run_step(step, image)
        _check_step(b, step, image, outs, img)
        # the board's clock moved by the modelled latency
        assert b.dev.now_ns - t0 == b.ip.runs[-1].end_ns - b.ip.runs[-1].start_ns
        s2mm = [r for d in b.ov.dmas.values() for r in d.transfers if r.channel == "s2mm"]
        # the last STORE completes before END: S2MM completions sit inside the run
        assert s2mm and all(t0 < r.end_ns <= b.dev.now_ns and r.error is None for r in s2mm)
        assert b.dev.pump() == 0  # nothing left to do


def test_engine_step_with_pynq_sendchannel_and_start_first(zcu104: Board) -> None:
    """START before any data; MM2S packets through pynq's own transfer()/wait(), one at a time
    (each packet here is one contiguous, aligned range of >= 32 bytes, which pynq can send)."""
    b = zcu104
    step, image = _step_and_image(_digits("zcu104"), 7)
    img, cmd = b.load(step, image)
    outs = b.start_outputs(step, img)
    b.control("START")
    assert b.ip.stalled_on == "cmd"
    cmd_drv, _ = b.channel("cmd")
    cmd_drv.sendchannel.transfer(cmd)
    cmd_drv.sendchannel.wait()
    assert b.ip.state == EngineIpState.RUN and b.ip.stalled_on is not None
    for s in b.cfg.streams:
        if s.role not in ("weights", "act_in"):
            continue
        drv, _ = b.channel(s.name)
        for pkt in step.packets(s.name):
            assert len(pkt) == 1 and pkt[0].offset % 16 == 0 and pkt[0].length >= 32
            drv.sendchannel.transfer(img, start=pkt[0].offset, nbytes=pkt[0].length)
            drv.sendchannel.wait()
    _check_step(b, step, image, outs, img)


# ---------------------------------------------------------------------------- faults
def _rerun_ok(b: Board, step: EngineStep, image: np.ndarray) -> None:
    img, outs = b.run_step(step, image)
    _check_step(b, step, image, outs, img)


def test_hang_until_soft_reset(zcu104: Board) -> None:
    b = zcu104
    step, image = _step_and_image(_digits("zcu104"), 11)
    b.ip.inject_fault(EngineIpFault.HANG)
    t0 = b.dev.now_ns
    _, outs = b.run_step(step, image)
    assert not b.wait_idle(outs[0])  # the S2MM channel waits forever
    st = b.reg("STATUS")
    assert b.field("STATUS", "BUSY", st) and not b.field("STATUS", "DONE", st)
    assert b.ip.state == EngineIpState.HUNG and b.reg("CNT_COMMANDS") == 0
    assert b.dev.now_ns == t0 and not b.ip.pending_faults
    b.reset_all()
    assert b.reg("STATUS") == b.cfg.register("STATUS").field("IDLE").mask
    assert b.dmasr(outs[0]) & SR_HALTED
    _rerun_ok(b, step, image)


@pytest.mark.parametrize(
    "word, code",
    [
        (0, ErrorCode.BAD_MAGIC),
        (2, ErrorCode.HEADER_CRC),
        (HEADER_WORDS + 8 * 2 + 3, ErrorCode.INSTR_CRC),
    ],
)
def test_corrupt_command_sets_error_code(zcu104: Board, word: int, code: ErrorCode) -> None:
    b = zcu104
    step, image = _step_and_image(_digits("zcu104"), 13)
    b.ip.inject_fault(EngineIpFault.CORRUPT_COMMAND, word=word, bit=word % 32)
    _, outs = b.run_step(step, image)
    st = b.reg("STATUS")
    assert b.field("STATUS", "ERROR", st) and not b.field("STATUS", "BUSY", st)
    assert b.field("STATUS", "ERROR_CODE", st) == code
    assert b.field("IRQ_STATUS", "ERROR", b.reg("IRQ_STATUS"))
    fault = b.ip.last_fault
    assert fault is not None and fault.code == code and fault.word_index == word
    if code == ErrorCode.INSTR_CRC:
        assert fault.instruction_index == 2 and b.reg("CNT_COMMANDS") == 2
    assert not b.wait_idle(outs[0])
    b.reset_all()
    _rerun_ok(b, step, image)  # one shot: the next run is clean


@pytest.mark.parametrize(
    "stream, fault, bit",
    [
        ("act_in0", DmaFault.SLAVE_ERROR, SR_DMA_SLV_ERR),
        ("act_out0", DmaFault.DECODE_ERROR, SR_DMA_DEC_ERR),
    ],
)
def test_dma_fault_then_reset_recovers(
    zcu104: Board, stream: str, fault: DmaFault, bit: int
) -> None:
    b = zcu104
    step, image = _step_and_image(_digits("zcu104"), 17)
    b.ov.inject_dma_fault(stream, fault)
    _, outs = b.run_step(step, image)
    sr = b.dmasr(stream)
    assert sr & bit and sr & SR_HALTED and sr & SR_ERR_IRQ
    st = b.reg("STATUS")
    if stream == "act_in0":  # the engine waits for the data that never comes
        assert b.field("STATUS", "BUSY", st) and b.ip.stalled_on == "act_in0"
    else:  # the engine finished; its packet is stuck in the act_out0 FIFO
        assert b.field("STATUS", "DONE", st) and len(b.ip.source("act_out0")) == 1
    assert not b.wait_idle(outs[0])
    b.reset_all()
    assert len(b.ip.source("act_out0")) == 0 and b.dmasr(stream) & bit == 0
    _rerun_ok(b, step, image)


def test_fault_arguments_and_disarm() -> None:
    ip = EmulatedEngineIP(load_overlay("ultra96"))
    with pytest.raises(Exception, match=r"bit in 0\.\.31"):
        ip.inject_fault(EngineIpFault.CORRUPT_COMMAND, bit=32)
    ip.inject_fault(EngineIpFault.HANG)
    ip.inject_fault(EngineIpFault.CORRUPT_COMMAND, word=1)
    assert set(ip.pending_faults) == {EngineIpFault.HANG, EngineIpFault.CORRUPT_COMMAND}
    ip.soft_reset()  # armed faults survive a reset
    assert len(ip.pending_faults) == 2
    ip.clear_faults()
    assert ip.pending_faults == ()
