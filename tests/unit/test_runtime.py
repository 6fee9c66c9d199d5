"""arm_scheduler.Runtime on the emulated board, through pynq's MMIO / allocate / DMA objects.

Reference: the integer reference (``QuantizedGraph.run(raw=True)``), bit for bit. Faults are
injected in the emulated DMA channels and engine IP; every frame must get exactly one outcome.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import arm_scheduler.runtime as runtime_module
import edge_dnn
from arm_scheduler import board_overlay, cma, pg021, pynq_api
from arm_scheduler.emulated.axi_dma import DmaFault
from arm_scheduler.emulated.device import EmulatedDevice
from arm_scheduler.emulated.engine_ip import EngineIpFault
from arm_scheduler.runtime import (
    ContiguousMemoryBudgetError,
    DmaTransferError,
    EngineStatusError,
    EngineTimeoutError,
    ModelMismatchError,
    Runtime,
    RuntimeClosedError,
    SchedulerError,
)
from edge_dnn.compiler import CompiledModel, compile_model
from edge_dnn.errors import InputError
from edge_dnn.overlay.config import load_overlay
from edge_dnn.quant.qgraph import QuantizedGraph
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from edge_dnn.zoo import model_files

_QG: dict[str, QuantizedGraph] = {}
_M: dict[tuple[str, str], CompiledModel] = {}


def digits_qg() -> QuantizedGraph:
    if "digits" not in _QG:
        g = edge_dnn.load_caffe(*model_files("digits"))
        name, shape = next(iter(g.inputs.items()))
        x = np.random.default_rng(0).standard_normal((4, *shape[1:])).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuantizationWarning)
            _QG["digits"] = quantize(g, {name: x}, method="minmax", progress=False)
    return _QG["digits"]


def digits(overlay: str = "zcu104") -> CompiledModel:
    if ("digits", overlay) not in _M:
        _M["digits", overlay] = compile_model(digits_qg(), overlay)
    return _M["digits", overlay]


def frames(n: int, seed: int = 1) -> list[np.ndarray]:
    qg = digits_qg()
    shape = next(iter(qg.graph.inputs.values()))
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((1, *shape[1:])).astype(np.float32) for _ in range(n)]


def reference(x: np.ndarray) -> np.ndarray:
    qg = digits_qg()
    name = next(iter(qg.graph.inputs))
    return qg.run({name: x}, raw=True)[qg.outputs[0]]


@pytest.fixture()
def device() -> EmulatedDevice:
    return EmulatedDevice(ddr_bytes=64 << 20)


def test_bit_exact_and_dequantized(device: EmulatedDevice) -> None:
    qg = digits_qg()
    out_name = qg.outputs[0]
    with Runtime(digits(), device) as rt:
        for x in frames(3):
            got = rt.run(x, raw=True)
            assert np.array_equal(got[out_name], reference(x))
            deq = rt.run(x)[out_name]
            name = next(iter(qg.graph.inputs))
            assert np.array_equal(deq, qg.run({name: x})[out_name])
        prof = rt.profile()
        engine = [p for p in prof if p["kind"] == "engine"]
        assert engine and all(p["calls"] == 6 and p["board_ms"] > 0 for p in engine)
        assert all(p["overhead_us"] > 0 for p in engine)
        # modeled board time = the engine's cycle counter at the fabric clock
        cfg = load_overlay("zcu104")
        cycles = rt._reg("CNT_CYCLES_LO")
        assert engine[-1]["board_ms"] == pytest.approx(cycles / cfg.clocks.fabric_mhz / 1e3)


def test_register_trace_of_one_run(device: EmulatedDevice) -> None:
    model = digits()
    cfg = load_overlay("zcu104")
    with Runtime(model, device, trace=True) as rt:
        rt.trace.clear()
        rt.run(frames(1)[0], raw=True)
        writes = [(who, off, v) for rw, who, off, v in rt.trace if rw == "W"]
        (step,) = [s for s in model.engine_steps]
        used = [s for s in step.transfers if len(step.transfer_list(s))]
        slot = rt._slots[0]
        idx = model.steps.index(step)
        chains = {ch.channel.stream: ch for ch in slot.chains[idx]}
        chains[cfg.streams_with_role("cmd")[0].name] = rt._cmds[idx][1]
        assert set(chains) == {*used, cfg.streams_with_role("cmd")[0].name}
        for stream, ch in chains.items():
            c = ch.channel
            seq = [(off - c.offset, v) for who, off, v in writes if who == c.who]
            # CURDESC, DMACR.RS, TAILDESC (the MSB write starts the channel)
            assert seq == [
                (pg021.REG_CURDESC, ch.head & 0xFFFFFFFF),
                (pg021.REG_CURDESC_MSB, ch.head >> 32),
                (pg021.REG_DMACR, pg021.CR_RS),
                (pg021.REG_TAILDESC, ch.tail & 0xFFFFFFFF),
                (pg021.REG_TAILDESC_MSB, ch.tail >> 32),
            ], stream
            # descriptors point at the physical addresses of the transfer list
            rows = step.transfer_list(stream) if stream in step.transfers else []
            for k, t in enumerate(rows):
                addr = int(ch.desc[k, 2]) | int(ch.desc[k, 3]) << 32
                assert addr == rt._address(slot.acts, t.offset, t.length, idx, stream)
                assert int(ch.desc[k, 6]) & pg021.ST_LENGTH_MASK == t.length
        start = cfg.register("CONTROL")
        engine_writes = [(off, v) for who, off, v in writes if who == "engine"]
        assert engine_writes == [(start.offset, start.field("START").mask)]
        reads = [v for rw, who, off, v in rt.trace if rw == "R" and who == "engine"]
        assert reads and reads[-1] & cfg.register("STATUS").field("DONE").mask


def _dma(stream: str, fault: DmaFault) -> object:
    return lambda ov: ov.inject_dma_fault(stream, fault)


def _eng(fault: EngineIpFault, **kw: int) -> object:
    return lambda ov: ov.engine.inject_fault(fault, **kw)


@pytest.mark.parametrize(
    ("arm", "error", "text"),
    [
        (_dma("act_in0", DmaFault.SLAVE_ERROR), DmaTransferError, "MM2S"),
        (_dma("act_out0", DmaFault.DECODE_ERROR), DmaTransferError, "S2MM"),
        (_dma("weights0", DmaFault.SG_DECODE_ERROR), DmaTransferError, "DMASR"),
        (_dma("act_in0", DmaFault.HANG), EngineTimeoutError, "not finished"),
        (_eng(EngineIpFault.HANG), EngineTimeoutError, "STATUS="),
        (_eng(EngineIpFault.CORRUPT_COMMAND, word=9, bit=3), EngineStatusError, "error code"),
    ],
)
def test_each_fault_is_reported_and_the_next_run_succeeds(
    device: EmulatedDevice, arm: object, error: type[Exception], text: str
) -> None:
    x = frames(1)[0]
    with Runtime(digits(), device, timeout=0.3) as rt:
        arm(device.overlay)  # type: ignore[operator]
        t0 = time.monotonic()
        with pytest.raises(error, match=text) as ei:
            rt.run(x, raw=True)
        assert time.monotonic() - t0 < 5.0
        assert "conv1" in str(ei.value)  # names the run's layers
        assert isinstance(ei.value, SchedulerError)
        got = rt.run(x, raw=True)
        assert np.array_equal(next(iter(got.values())), reference(x))


def test_thousand_frames_with_random_faults_lose_nothing(device: EmulatedDevice) -> None:
    xs = frames(8, seed=5)
    refs = [reference(x) for x in xs]
    rng = np.random.default_rng(11)
    faults = [
        lambda ov: ov.inject_dma_fault("act_in0", DmaFault.SLAVE_ERROR),
        lambda ov: ov.inject_dma_fault("weights0", DmaFault.DECODE_ERROR),
        lambda ov: ov.inject_dma_fault("act_out0", DmaFault.SLAVE_ERROR),
        lambda ov: ov.engine.inject_fault(EngineIpFault.HANG),
        lambda ov: ov.engine.inject_fault(EngineIpFault.CORRUPT_COMMAND, word=12, bit=7),
    ]
    with Runtime(digits(), device, timeout=0.05, max_in_flight=3) as rt:
        futures = []
        injected = 0
        for i in range(1000):
            if rng.random() < 0.03:
                faults[int(rng.integers(len(faults)))](device.overlay)
                injected += 1
            futures.append((i, rt.submit(xs[i % len(xs)], raw=True)))
        ok = failed = 0
        for i, fut in futures:
            try:
                got = fut.result(timeout=60)
            except SchedulerError:
                failed += 1
                continue
            assert np.array_equal(next(iter(got.values())), refs[i % len(xs)]), i
            ok += 1
        assert ok + failed == 1000
        assert 0 < failed <= injected
        assert all(f.done() for _, f in futures)


def test_submit_pipelines_and_results_come_back_in_order(device: EmulatedDevice) -> None:
    xs = frames(10, seed=2)
    with Runtime(digits(), device, max_in_flight=3) as rt:
        futs = [rt.submit(x, raw=True) for x in xs]
        for x, f in zip(xs, futs):
            assert np.array_equal(next(iter(f.result(timeout=30).values())), reference(x))
    with pytest.raises(RuntimeClosedError):
        rt.submit(xs[0])


# ============================================================================ zero-copy inputs
def _covered(rt: Runtime, slot: int, step: int, lo: int, hi: int) -> int:
    """Bytes of the physical range [lo, hi) the MM2S descriptors of ``step`` read."""
    n = 0
    for ch in rt._slots[slot].chains[step]:
        if ch.channel.offset != pg021.MM2S_OFFSET:
            continue
        for d in ch.desc:
            a = int(d[2]) | int(d[3]) << 32
            length = int(d[6]) & pg021.ST_LENGTH_MASK
            n += max(0, min(hi, a + length) - max(lo, a))
    return n


def test_prepared_input_is_the_dma_buffer_itself(device: EmulatedDevice) -> None:
    model = digits()
    name = model.inputs[0]
    info = model.tensors[name]
    lay = info.layout
    assert lay is not None
    with Runtime(model, device) as rt:
        assert rt.input_mode(name) == "ddr"
        s = rt.acquire_slot()
        buf = rt.input_buffer(name, s)
        assert buf is rt.input_buffer(name, s)
        assert buf.shape == (1, *info.shape[1:]) and buf.dtype == info.quant.np_dtype
        acts = rt._slots[s].acts
        assert np.shares_memory(buf, acts) and buf.flags.writeable
        # the view's first element is the layout's first byte, which the DMA reads from
        pa = int(acts.physical_address) + lay.offset
        host = buf.__array_interface__["data"][0] - np.asarray(acts).__array_interface__["data"][0]
        assert int(acts.physical_address) + host == pa
        step = next(i for i, st in enumerate(model.steps) if name in getattr(st, "inputs", ()))
        assert _covered(rt, s, step, pa, pa + lay.size) == lay.size
        for x in frames(3, seed=7):
            buf[...] = info.quant.quantize(x)
            got = rt.run_prepared(s, raw=True)
            assert np.array_equal(next(iter(got.values())), reference(x))
        assert rt.input_copies == 0  # nothing copied: the engine read what was written
        rt.release_slot(s)
        rt.run(frames(1)[0])
        assert rt.input_copies == 2  # the copying path: quantize, then pack into DDR


def test_in_flight_slots_are_read_only_and_accounted(device: EmulatedDevice) -> None:
    model = digits()
    name = model.inputs[0]
    tq = model.tensors[name].quant
    xs = frames(4, seed=8)
    with Runtime(model, device, max_in_flight=2) as rt:
        a, b = rt.acquire_slot(), rt.acquire_slot()
        with pytest.raises(TimeoutError, match="max_in_flight"):
            rt.acquire_slot(timeout=0.05)
        with pytest.raises(TimeoutError):
            rt.submit(xs[0], timeout=0.05)  # every slot is reserved
        bufs = {a: rt.input_buffer(name, a), b: rt.input_buffer(name, b)}
        bufs[a][...] = tq.quantize(xs[0])
        with rt._arbiter.hold():  # the engine cannot start: the run stays in flight
            fut = rt.submit_prepared(a, raw=True)
            assert not bufs[a].flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                bufs[a][...] = 0
            with pytest.raises(SchedulerError, match="in flight"):
                rt.submit_prepared(a)
            with pytest.raises(SchedulerError, match="in flight"):
                rt.release_slot(a)
        assert np.array_equal(next(iter(fut.result(timeout=30).values())), reference(xs[0]))
        assert bufs[a].flags.writeable
        # two frames in flight, one per slot, results in order
        futs: list[tuple[int, Any]] = []
        for i, x in enumerate(xs):
            s = (a, b)[i % 2]
            if len(futs) >= 2:
                j, f = futs[-2]
                assert np.array_equal(next(iter(f.result(30).values())), reference(xs[j]))
            bufs[s][...] = tq.quantize(x)
            futs.append((i, rt.submit_prepared(s, raw=True)))
        for j, f in futs[-2:]:
            assert np.array_equal(next(iter(f.result(30).values())), reference(xs[j]))
        rt.release_slot(a)
        with pytest.raises(SchedulerError, match="not reserved"):
            rt.input_buffer(name, a)
        with pytest.raises(SchedulerError, match="not reserved"):
            rt.submit_prepared(a)
        with pytest.raises(InputError, match="no input 'nope'"):
            rt.input_mode("nope")
        assert np.array_equal(next(iter(rt.run(xs[1], raw=True).values())), reference(xs[1]))
    with pytest.raises(RuntimeClosedError):
        rt.acquire_slot()
    rt.release_slot(b)  # after close: nothing to give back


_INPUT = 'layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ {} }} }} }}\n'


def _conv(name: str, bottom: str, n: int, pad: int = 0) -> str:
    return (
        f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{name}" '
        f"convolution_param {{ num_output: {n} kernel_size: 3 pad: {pad} }} }}\n"
    )


def _softmax(name: str, bottom: str) -> str:
    return f'layer {{ name: "{name}" type: "Softmax" bottom: "{bottom}" top: "{name}" }}\n'


def _dims(*d: int) -> str:
    return " ".join(f"dim: {v}" for v in d)


@pytest.mark.parametrize(
    ("text", "mode", "copies"),
    [
        # 16 channels: two channel blocks, not one lane range -> a host array packed per run
        (_INPUT.format(_dims(1, 16, 6, 6)) + _conv("conv1", "data", 4), "staging", 1),
        # read only by an ARM layer: no DDR layout, the ARM reads the host array
        (_INPUT.format(_dims(1, 3, 6, 6)) + _softmax("sm", "data") + _conv("c", "sm", 4), "arm", 0),
        # the input's bytes are reused by 'sm' and 'sm2' (their 8 lanes overwrite the padding),
        # and the ARM layer 'smd' reads the input after 'sm' overwrote it: one snapshot per run
        (
            _INPUT.format(_dims(1, 3, 8, 8))
            + _conv("conv1", "data", 8, 1)
            + _softmax("sm", "conv1")
            + _conv("conv2", "sm", 8, 1)
            + _softmax("sm2", "conv2")
            + _conv("conv3", "sm2", 8, 1)
            + _softmax("smd", "data"),
            "ddr",
            1,
        ),
    ],
)
def test_every_input_mode_runs_prepared_frames_bit_exactly(
    device: EmulatedDevice, tmp_path: Path, text: str, mode: str, copies: int
) -> None:
    proto = tmp_path / "net.prototxt"
    proto.write_text(text)
    g = edge_dnn.load_caffe(proto)
    g.init_random_weights(3)
    shape = g.inputs["data"]
    rng = np.random.default_rng(4)
    xs = rng.uniform(-1, 1, (3, *shape[1:])).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        qg = quantize(g, {"data": xs}, method="minmax", progress=False)
    model = compile_model(qg, "zcu104")
    tq = model.tensors["data"].quant
    with Runtime(model, device) as rt:
        assert rt.input_mode("data") == mode
        s = rt.acquire_slot()
        buf = rt.input_buffer("data", s)
        pads: list[bool] = []
        if mode == "ddr":
            engine_step = rt._engine_step
            reader = next(
                i for i, st in enumerate(model.steps) if "data" in getattr(st, "inputs", ())
            )

            def check_padding(index: int, slot: Any) -> None:
                if index == reader:  # the lanes after the 3 channels read as zeros
                    pads.append(bool((rt._region(slot, "data")[:, :, 3:] == 0).all()))
                engine_step(index, slot)

            rt._engine_step = check_padding  # type: ignore[method-assign]
        for x in xs:
            buf[...] = tq.quantize(x[None])
            got = rt.run_prepared(s, raw=True)
            want = qg.run({"data": x[None]}, raw=True)
            assert all(np.array_equal(got[k], want[k]) for k in model.outputs)
        assert rt.input_copies == copies * len(xs)
        if mode == "ddr":
            assert pads == [True] * len(xs)


def test_mismatched_overlay_is_refused(device: EmulatedDevice) -> None:
    device.add_overlay(load_overlay("zcu102"))
    with pytest.raises(ModelMismatchError, match=r"zcu104.*zcu102"):
        Runtime(digits("zcu104"), device)


def test_contiguous_memory_budget_is_checked_first() -> None:
    small = EmulatedDevice(ddr_bytes=64 << 20, cma_bytes=64 << 10)
    with pytest.raises(ContiguousMemoryBudgetError) as ei:
        Runtime(digits(), small)
    assert ei.value.needed > ei.value.available
    assert small.memory_stats().in_use == 0


def test_close_releases_every_buffer(device: EmulatedDevice) -> None:
    device.add_overlay(load_overlay("zcu104"))
    before = device.memory_stats().in_use
    rt = Runtime(digits(), device)
    assert device.memory_stats().in_use > before
    rt.run(frames(1)[0])
    rt.close()
    assert device.memory_stats().in_use == before
    assert not [t for t in threading.enumerate() if t.name.startswith("edge-dnn-dispatch")
                and t.is_alive() and getattr(t, "_target", None) is None]  # fmt: skip


def test_bad_inputs(device: EmulatedDevice) -> None:
    with Runtime(digits(), device) as rt:
        with pytest.raises(InputError, match="expected shape"):
            rt.run(np.zeros((2, 1, 8, 8), np.float32))
        with pytest.raises(InputError, match="NaN"):
            rt.run(np.full((1, 1, 8, 8), np.nan, np.float32))
        with pytest.raises(InputError, match="inputs are"):
            rt.run({"nope": np.zeros((1, 1, 8, 8), np.float32)})


def test_two_runtimes_share_one_overlay_from_two_threads(device: EmulatedDevice) -> None:
    a = Runtime(digits(), device)
    b = Runtime(digits(), device, arm_thread=False)
    xs = frames(6, seed=9)
    errors: list[str] = []

    def worker(rt: Runtime) -> None:
        try:
            for x in xs:
                got = next(iter(rt.run(x, raw=True).values()))
                if not np.array_equal(got, reference(x)):
                    errors.append("mismatch")
        except Exception as exc:  # reported by the assertion below
            errors.append(repr(exc))

    ts = [threading.Thread(target=worker, args=(rt,)) for rt in (a, b, a)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    a.close()
    b.close()
    assert not errors


def test_a_new_runtime_restarts_channels_left_on_freed_descriptors(
    device: EmulatedDevice,
) -> None:
    """A closed runtime's rings are freed; the next runtime (whose rings may land at the same
    addresses) must restart every channel with CURDESC instead of moving TAILDESC only."""
    x = frames(1)[0]
    with Runtime(digits(), device) as rt:
        rt.run(x, raw=True)
    with Runtime(digits(), device, trace=True, timeout=5.0) as rt2:
        got = rt2.run(x, raw=True, timeout=30)
        assert np.array_equal(next(iter(got.values())), reference(x))
        starts = {who for rw, who, off, _ in rt2.trace
                  if rw == "W" and who != "engine" and off % 0x30 == pg021.REG_CURDESC}  # fmt: skip
        assert starts, "the first run of a new runtime writes CURDESC"


# ------------------------------------------------------------ contiguous memory on the board
class _BoardDevice:
    """Stands in for pynq's board device: allocates (in an emulated DDR) but, like pynq's
    ``EmbeddedDevice``, reports no ``memory_stats()``."""

    def __init__(self, emulated: EmulatedDevice) -> None:
        self._emulated = emulated

    def allocate(self, shape: Any, dtype: Any, **kwargs: Any) -> Any:
        return self._emulated.allocate(shape, dtype, **kwargs)


class _FakeBoardOverlay:
    """Stands in for ``EdgeDnnOverlay`` on a board: the engine and DMAs of an emulated board."""

    constructed = 0

    def __init__(self, name: str) -> None:
        cfg = load_overlay(name)
        type(self).constructed += 1
        self.config = cfg
        emu = EmulatedDevice(ddr_bytes=64 << 20)
        emu.add_overlay(cfg)
        self.device = _BoardDevice(emu)
        mmio = pynq_api.MMIO(cfg.engine.base_address, cfg.engine.address_range, device=emu)
        self.engine = SimpleNamespace(mmio=mmio)
        for d in cfg.dmas:
            setattr(self, d.name, emu.pynq_dma(d.name))


@pytest.fixture()
def board(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Make ``Runtime(model)`` take its board path; returns the meminfo file it will read."""
    monkeypatch.setattr(pynq_api, "real_board_present", lambda: True)
    monkeypatch.setattr(board_overlay, "EdgeDnnOverlay", _FakeBoardOverlay)
    monkeypatch.delitem(runtime_module._DEFAULT, "board_overlay", raising=False)
    meminfo = tmp_path / "meminfo"
    monkeypatch.setattr(cma, "MEMINFO", meminfo)
    return meminfo


def _meminfo(cma_free_kb: int | None) -> str:
    text = "MemTotal:        2020680 kB\nMemFree:         1441628 kB\n"
    if cma_free_kb is not None:
        text += f"CmaTotal:         262144 kB\nCmaFree:         {cma_free_kb:7d} kB\n"
    return text


def test_board_overlay_is_downloaded_once_for_several_runtimes(board: Path) -> None:
    """Two runtimes (e.g. one per camera) share the board's overlay: a second download would
    reprogram the PL under the first."""
    board.write_text(_meminfo(200_000))
    before = _FakeBoardOverlay.constructed
    with Runtime(digits()) as a, Runtime(digits()) as b:
        x = frames(1, seed=5)[0]
        assert np.array_equal(next(iter(a.run(x, raw=True).values())), reference(x))
        assert np.array_equal(next(iter(b.run(x, raw=True).values())), reference(x))
    assert _FakeBoardOverlay.constructed == before + 1


def test_board_budget_comes_from_proc_meminfo(board: Path) -> None:
    board.write_text(_meminfo(64))  # 64 KiB of free CMA: far too little
    with pytest.raises(ContiguousMemoryBudgetError) as ei:
        Runtime(digits())
    assert ei.value.available == 64 * 1024 and ei.value.needed > ei.value.available
    assert f"CmaFree in {board}" in str(ei.value)

    board.write_text(_meminfo(200_000))
    with Runtime(digits()) as rt:
        assert not rt.emulated
        x = frames(1, seed=4)[0]
        assert np.array_equal(next(iter(rt.run(x, raw=True).values())), reference(x))


def test_board_without_cma_figures_skips_the_check_with_a_warning(
    board: Path, caplog: pytest.LogCaptureFixture
) -> None:
    board.write_text(_meminfo(None))  # a kernel without CMA lines
    with caplog.at_level(logging.WARNING, logger="arm_scheduler.cma"), Runtime(digits()) as rt:
        assert not rt.emulated
    assert [r.getMessage() for r in caplog.records] == [
        f"contiguous-memory budget not checked: {board} has no CmaTotal/CmaFree lines "
        "(or cannot be read)"
    ]
