"""The performance model: modeled board time of a compiled model, per layer and in total.

Everything here is *modeled*, never measured: the figures are what the overlay configuration,
the compiled command streams and the stated assumptions imply.

Engine steps. Each engine run's command stream is decoded (:func:`edge_dnn.isa.decode_stream`;
the model reads what the engine would read, not the compiler's internals) and scheduled on the
concurrent units with the emulator's cycle model (:class:`edge_dnn.emulator.timing.TimingModel`,
:class:`~edge_dnn.emulator.timing.Timeline`): PE passes with tiling edge effects, bank conflicts,
requantizer drain, stream widths capped by the HP-port shares, and the overlap of loads, compute
and stores that the compiler's tokens allow (double buffering). On top of that schedule:

* **DDR bandwidth**: the streams of one run share the DDR controller, so a run takes at least
  ``bytes / ddr_bytes_per_cycle`` (sustained bandwidth = peak x ``memory.ddr_efficiency``);
* **run overhead**: :attr:`ArmCostModel.engine_run_s` per engine run (the scheduler's register
  writes to start the DMA channels and the engine, and the completion interrupt).

Per layer (the compiler tags every instruction with its layer): MACs, bytes per stream role,
busy cycles of each unit, and the layer's *incremental* time: the cycles between the completion
of the previous layer of the run and its own (these add up to the run's total). A layer is
``compute``-bound when the PE/vector unit's busy cycles exceed every stream unit's and its DDR
time, else ``memory``-bound. Utilization = MACs / (cycles x MACs per cycle).

Design assumptions (``cfg.perf``, the optional ``[perf]`` table of ``overlay.toml``; neutral by
default, set only by mirrors of published designs). ``int8_macs_per_dsp`` and
``pass_overhead_cycles`` lengthen every int8 PE pass. With ``layer_at_a_time`` the compiled run's
schedule is replaced by one of a design that starts every layer as its own accelerator call from
DDR to DDR (:func:`_layer_at_a_time`): per call the input load, the first weight fetch, the
larger of compute, the other weight loads (re-loaded per pixel group when not resident) and the
input restaging of 1x1 layers, and the output store; the launch time per call counts as
scheduler overhead. Per-call costs are shared by the ``batch`` images of a call.

ARM steps. :class:`ArmCostModel` (assumptions for the numpy integer kernels on one Cortex-A53
core, see ``docs/performance.md``): a fixed cost per step, the conversion of DDR-layout tensors,
and a per-element or per-MAC cost by layer kind.

Totals. ``latency`` is one frame alone (engine runs, overheads and ARM steps in sequence);
``fps_batch1`` its inverse. ``fps_stream`` is frames streamed at batch 1 with the runtime's
in-flight queue: the engine works on frame N+1 while the ARM worker runs frame N's ARM steps, so
the period is the larger of the engine's and the ARM's time per frame.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from edge_dnn.compiler.model import ArmStep, CompiledModel, EngineStep
from edge_dnn.emulator.timing import ISSUE_CYCLES, ConfigRegisters, Timeline, TimingModel
from edge_dnn.isa import (
    ComputeTile,
    ConfigConv,
    EltwiseTile,
    LoadInput,
    LoadParams,
    LoadWeights,
    NormTile,
    PoolTile,
    Precision,
    StoreTile,
    Unit,
    decode_stream,
)
from edge_dnn.isa.format import OPCODES
from edge_dnn.isa.layout import block_bytes, element_bytes
from edge_dnn.overlay.config import PACKED_INT8_MACS_PER_DSP, OverlayConfig, load_overlay

__all__ = ["ArmCostModel", "LayerProfile", "Profile", "profile_model"]

# Stream roles of the load / store units (docs/engine.md section 2).
_ROLE_OF_UNIT = {Unit.LDW: "weights", Unit.LDA: "act_in", Unit.ST: "act_out"}


@dataclasses.dataclass(frozen=True)
class ArmCostModel:
    """Modeled cost of the ARM side (assumptions, not measurements).

    Defaults are for the runtime's numpy integer kernels on one Cortex-A53 core at 1.2 GHz
    (``shared/reference/boards.md``: 4 x A53 at 1.2-1.5 GHz); ``docs/performance.md`` gives
    their derivation. The benchmark ``benchmarks/bench_perf_model.py`` prints them with every
    table so that a reader can rescale.

    Attributes:
        engine_run_s: Scheduler time per engine run, seconds: programming the DMA channels'
            scatter-gather chains (a few MMIO writes each), START, the completion interrupt.
        step_s: Fixed cost of one ARM step, seconds (Python dispatch, numpy call overheads).
        layout_s_per_byte: Converting a tensor between the engine's blocked DDR layout and
            NCHW, seconds per byte (a strided numpy copy, ~1 GB/s on an A53).
        elem_s: Seconds per output element by layer type for element-wise / reduction
            kernels; types missing here use ``default_elem_s``.
        default_elem_s: Seconds per output element of any other layer type.
        mac_s: Seconds per multiply-accumulate of a layer the engine could not run (float64
            BLAS on one A53 core, ~0.5 GMAC/s).
        workers: ARM worker threads running ARM steps concurrently with the engine in a stream.
    """

    engine_run_s: float = 25e-6
    step_s: float = 40e-6
    layout_s_per_byte: float = 1e-9
    elem_s: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: {
            # dequantize, float32 LRN over a 5-channel window (square, window sum, power,
            # divide), requantize: ~12 numpy passes.
            "LRN": 40e-9,
            # dequantize, max, exp, sum, divide, requantize per element.
            "Softmax": 20e-9,
            # one LUT gather per element (docs/arithmetic.md section 7).
            "Sigmoid": 4e-9,
            "TanH": 4e-9,
            "ReLU": 2e-9,
            "Concat": 1e-9,
            "Flatten": 0.0,
            "Reshape": 0.0,
        }
    )
    default_elem_s: float = 10e-9
    mac_s: float = 2e-9
    workers: int = 1

    def step_seconds(self, step: ArmStep, model: CompiledModel, macs: int) -> float:
        """Modeled seconds of one ARM step."""
        t = self.step_s
        for name in (*step.inputs, *step.outputs):
            info = model.tensors.get(name)
            if info is not None and info.layout is not None:
                t += info.layout.size * self.layout_s_per_byte
        out = sum(math.prod(model.tensors[o].shape) for o in step.outputs if o in model.tensors)
        kind = type(step.layer).TYPE
        if macs > 0 and kind not in self.elem_s:
            return t + macs * self.mac_s
        return t + out * self.elem_s.get(kind, self.default_elem_s)


@dataclasses.dataclass
class LayerProfile:
    """Modeled figures of one layer.

    Attributes:
        name: Layer name.
        type: Caffe layer type.
        placement: ``engine`` or ``arm``.
        step: Index of its step in :attr:`CompiledModel.steps`.
        macs: Multiply-accumulates (engine: as executed, including padding channels).
        bytes: Bytes moved per stream role (``weights``, ``act_in``, ``act_out``).
        compute_cycles: Busy cycles of the compute unit (PE array / vector unit).
        load_cycles: Busy cycles of the weight and activation load units (sum).
        store_cycles: Busy cycles of the store unit.
        ddr_cycles: Cycles the layer's bytes need at the sustained DDR bandwidth.
        cycles: Incremental fabric cycles of the layer in its run's schedule.
        seconds: Modeled time of the layer (engine: ``cycles`` at the fabric clock; ARM: the
            :class:`ArmCostModel`).
        bound: ``compute``, ``memory`` or ``arm``.
        utilization: MACs / (cycles x peak MACs per cycle); 0 for layers without MACs.
        instructions: Instructions of the layer.
    """

    name: str
    type: str
    placement: str
    step: int
    macs: int = 0
    bytes: dict[str, int] = dataclasses.field(default_factory=dict)
    compute_cycles: int = 0
    load_cycles: int = 0
    store_cycles: int = 0
    ddr_cycles: int = 0
    cycles: int = 0
    seconds: float = 0.0
    bound: str = ""
    utilization: float = 0.0
    instructions: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Profile:
    """Modeled performance of a compiled model on its overlay (see the module docstring).

    Attributes:
        network: Network name.
        overlay: Overlay name.
        fabric_mhz: Engine clock, MHz.
        peak_gops: Peak int8 GOP/s of the overlay (2 ops per MAC).
        layers: Per-layer figures in execution order.
        runs: Per engine run: ``{"step", "cycles", "timeline_cycles", "ddr_cycles", "bytes"}``.
        engine_s: Engine time per frame, seconds (runs incl. DDR limits).
        overhead_s: Scheduler time per frame for starting engine runs, seconds.
        arm_s: ARM time per frame, seconds.
        macs: Engine MACs per frame.
        assumptions: The :class:`ArmCostModel` values used.
    """

    network: str
    overlay: str
    fabric_mhz: float
    peak_gops: float
    layers: list[LayerProfile]
    runs: list[dict[str, Any]]
    engine_s: float
    overhead_s: float
    arm_s: float
    macs: int
    arm_workers: int
    assumptions: dict[str, Any]

    @property
    def latency_s(self) -> float:
        """Modeled latency of one frame alone, seconds."""
        return self.engine_s + self.overhead_s + self.arm_s

    @property
    def fps_batch1(self) -> float:
        """Frames per second at batch 1, one frame at a time."""
        return 1.0 / self.latency_s

    @property
    def period_s(self) -> float:
        """Seconds between frames when frames stream with the ARM work overlapped."""
        return max(self.engine_s + self.overhead_s, self.arm_s / max(1, self.arm_workers))

    @property
    def fps_stream(self) -> float:
        """Frames per second streamed at batch 1 (in-flight queue, ARM overlapped)."""
        return 1.0 / self.period_s

    @property
    def effective_gops(self) -> float:
        """Engine GOP/s achieved over the streamed period."""
        return 2 * self.macs / self.period_s / 1e9

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (the ``--json`` form of ``edge-dnn profile``)."""
        return {
            "modeled": True,
            "network": self.network,
            "overlay": self.overlay,
            "fabric_mhz": self.fabric_mhz,
            "peak_gops": self.peak_gops,
            "totals": {
                "latency_ms": self.latency_s * 1e3,
                "fps_batch1": self.fps_batch1,
                "fps_stream": self.fps_stream,
                "engine_ms": self.engine_s * 1e3,
                "overhead_ms": self.overhead_s * 1e3,
                "arm_ms": self.arm_s * 1e3,
                "engine_gmacs": self.macs / 1e9,
                "effective_gops": self.effective_gops,
            },
            "runs": self.runs,
            "layers": [row.as_dict() for row in self.layers],
            "assumptions": self.assumptions,
        }

    def format(self) -> str:
        """The per-layer table and totals as text, labeled as modeled."""
        head = ("layer", "type", "where", "MMAC", "KB w/in/out", "cycles", "us", "bound", "util")
        rows = [head]
        for r in self.layers:
            kb = "/".join(
                f"{r.bytes.get(k, 0) / 1024:.0f}" for k in ("weights", "act_in", "act_out")
            )
            rows.append(
                (
                    r.name,
                    r.type,
                    r.placement,
                    f"{r.macs / 1e6:.1f}" if r.macs else "",
                    kb if r.placement == "engine" else "",
                    f"{r.cycles:,}" if r.placement == "engine" else "",
                    f"{r.seconds * 1e6:.1f}",
                    r.bound,
                    f"{r.utilization:.0%}" if r.macs else "",
                )
            )
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
        lines = [
            f"MODELED performance of '{self.network}' on overlay '{self.overlay}' "
            f"({self.fabric_mhz:g} MHz, peak {self.peak_gops:.0f} GOP/s int8); "
            "not a measurement"
        ]
        for k, row in enumerate(rows):
            lines.append(
                "  ".join(
                    str(c).rjust(w) if 3 <= i <= 6 or i == 8 else str(c).ljust(w)
                    for i, (c, w) in enumerate(zip(row, widths))
                ).rstrip()
            )
            if k == 0:
                lines.append("-" * len(lines[-1]))
        lines.append("")
        lines.append(
            f"modeled totals: latency {self.latency_s * 1e3:.3f} ms (engine "
            f"{self.engine_s * 1e3:.3f} ms in {len(self.runs)} runs, run overhead "
            f"{self.overhead_s * 1e3:.3f} ms, ARM {self.arm_s * 1e3:.3f} ms); "
            f"batch-1 {self.fps_batch1:.1f} fps; streamed {self.fps_stream:.1f} fps "
            f"({self.arm_workers} ARM worker); engine {self.macs / 1e9:.2f} GMAC/frame, "
            f"{self.effective_gops:.0f} GOP/s effective"
        )
        return "\n".join(lines)


def _layer_index(model: CompiledModel) -> dict[int, dict[str, Any]]:
    """Report rows by graph position (the instructions' ``tag``)."""
    return dict(enumerate(model.report.get("layers", [])))


def _instruction_bytes(cfg: OverlayConfig, tm: TimingModel, ins: Any) -> int:
    if isinstance(ins, LoadInput):
        return int(ins.n_words) * block_bytes(cfg)
    if isinstance(ins, LoadWeights):
        return int(ins.n_words) * tm.word_bytes("weight")
    if isinstance(ins, LoadParams):
        return int(ins.n_words) * tm.word_bytes("params")
    if isinstance(ins, StoreTile) and not ins.loopback:
        return int(ins.n_blocks) * int(ins.block_words) * block_bytes(cfg)
    return 0


@dataclasses.dataclass
class _LayerWork:
    """What one layer of a run does, gathered from its instructions (layer-at-a-time mode).

    Byte counts are per image, in the engine's blocked layout (padding channels included).
    """

    kind: str = ""
    out_bytes: int = 0
    in_bytes: int = 0
    out_pixels: int = 0
    out_channels: int = 0
    in_channels: int = 0
    kernel: tuple[int, int] = (0, 0)
    key: tuple[int, ...] | None = None
    residual: bool = False
    elem_bytes: int = 1


def _conv_io(work: _LayerWork, conv: ConfigConv, macs: int) -> None:
    """Input bytes and channel counts of a convolution from its output bytes and MACs."""
    e = element_bytes(conv.precision)
    work.elem_bytes = e
    pix = conv.out_h * conv.out_w
    out_elems = work.out_bytes // e
    work.out_pixels = pix
    work.out_channels = out_elems // max(1, pix)
    taps = conv.kernel_h * conv.kernel_w
    if conv.depthwise:
        work.in_channels = work.out_channels
    else:
        work.in_channels = macs // max(1, out_elems * taps)
    work.in_bytes = work.in_channels * conv.in_h * conv.in_w * e


def _int8_factor(cfg: OverlayConfig, conv: ConfigConv | None) -> float:
    """Slow-down of int8 PE passes when a DSP does fewer int8 MACs than edge-dnn's packing."""
    if conv is None or conv.precision != Precision.INT8:
        return 1.0
    return PACKED_INT8_MACS_PER_DSP / cfg.perf.int8_macs_per_dsp


def _layer_at_a_time(
    cfg: OverlayConfig,
    order: list[int],
    per_tag: dict[int, LayerProfile],
    work: dict[int, _LayerWork],
) -> tuple[dict[int, int], int, int]:
    """Cycles per layer when every layer is its own accelerator call (``perf.layer_at_a_time``).

    Per call (one layer, or several fused parallel convolutions), per image::

        act_in + first_weight_fetch + max(compute, other_weight_loads, input_restaging) + act_out

    (``act_in`` and ``act_out`` inside the ``max`` when ``perf.overlap_activations``).
    Weight loads and input restaging of a call are shared by the ``perf.batch`` images of the
    call. Weights that are not resident (larger than the weight buffer, or more output channels
    than ``perf.resident_max_out``) are loaded again for every pixel group of
    ``perf.group_pixels`` output pixels; the first fetch of every load (one half of the
    ping-pong weight buffer at most) precedes the compute. Restaging (1x1 convolutions only):
    ``rounds x ceil(C_in / feed_channels) x feed_round_cycles`` per pixel group, with two rounds
    (one per packed image half) when ``perf.int8_macs_per_dsp`` is 1.

    Returns:
        Cycles per layer tag, the number of calls and the DDR cycles of the run.
    """
    perf = cfg.perf
    batch = perf.batch
    ddr = cfg.derived.ddr_bytes_per_cycle
    act_rate = min(ddr, perf.act_bytes_per_cycle) if perf.act_bytes_per_cycle > 0 else ddr
    wbuf = cfg.buffer("weight").capacity_bytes
    rounds = PACKED_INT8_MACS_PER_DSP // perf.int8_macs_per_dsp

    calls: list[list[int]] = []
    by_key: dict[tuple[int, ...], list[int]] = {}
    for tag in order:
        key = work[tag].key
        if perf.fuse_parallel and key is not None and key in by_key:
            by_key[key].append(tag)
            continue
        calls.append([tag])
        if key is not None:
            by_key[key] = calls[-1]

    cycles: dict[int, int] = {}
    ddr_total = 0.0
    n_calls = len(calls)
    for call in calls:
        first = call[0]
        act_in = work[first].in_bytes / act_rate  # fused convolutions share their input
        act_out = 0.0
        compute = wt_first = wt_rest = 0.0
        feed = 0.0
        ddr_bytes = float(work[first].in_bytes)
        for tag in call:
            row, w = per_tag[tag], work[tag]
            compute += row.compute_cycles
            act_out += w.out_bytes / act_rate
            ddr_bytes += w.out_bytes
            weights = row.bytes.get("weights", 0)
            groups = -(-w.out_pixels // perf.group_pixels) if perf.group_pixels else 1
            resident = perf.group_pixels == 0 or (
                weights <= wbuf
                and (perf.resident_max_out == 0 or w.out_channels <= perf.resident_max_out)
            )
            loads = 1 if resident else groups
            wt_first += min(weights, wbuf / 2) * loads / batch / ddr
            wt_rest += max(0, weights - wbuf / 2) * loads / batch / ddr
            ddr_bytes += weights * loads / batch
        w0 = work[first]
        if perf.feed_channels and w0.kind == "conv" and w0.kernel == (1, 1):
            groups = -(-w0.out_pixels // perf.group_pixels) if perf.group_pixels else 1
            feed = (
                rounds
                * -(-w0.in_channels // perf.feed_channels)
                * perf.feed_round_cycles
                * groups
                / batch
            )
        if perf.overlap_activations:
            total = wt_first + max(compute, wt_rest + act_in + act_out, feed)
        else:
            total = act_in + wt_first + max(compute, wt_rest, feed) + act_out
        for tag in call:
            w = work[tag]
            if w.residual:
                # An element-wise add the compiler fused into the convolution: the modeled
                # design runs it as a call of its own that reads both operands from DDR.
                n_calls += 1
                adds = -(-w.out_bytes // w.elem_bytes // max(1, cfg.pe.vector_lanes // 2))
                moved = 3 * w.out_bytes / act_rate
                total += max(adds, moved) if perf.overlap_activations else adds + moved
                ddr_bytes += 3 * w.out_bytes
        ddr_total += ddr_bytes / ddr
        # A fused call's time is shared by its layers in proportion to their compute.
        weights_of = [max(1, per_tag[t].compute_cycles) for t in call]
        done = 0
        for k, tag in enumerate(call):
            share = round(total * sum(weights_of[: k + 1]) / sum(weights_of))
            cycles[tag] = share - done
            done = share
            row = per_tag[tag]
            mem = max(wt_rest, feed, act_in + act_out) if k == 0 else wt_rest
            row.bound = "compute" if compute >= mem else "memory"
    return cycles, n_calls, math.ceil(ddr_total)


def profile_model(
    model: CompiledModel,
    cfg: OverlayConfig | None = None,
    arm: ArmCostModel | None = None,
) -> Profile:
    """Model the performance of ``model`` on its overlay.

    Args:
        model: The compiled model.
        cfg: Its overlay configuration (loaded by name when omitted; must match the model).
        arm: The ARM cost assumptions (defaults: :class:`ArmCostModel`).

    Returns:
        The per-layer and total modeled figures.

    Raises:
        OverlayMismatchError: ``cfg`` is not the configuration the model was compiled for.
    """
    if cfg is None:
        cfg = load_overlay(model.overlay)
    model.check_overlay(cfg)
    arm = arm or ArmCostModel()
    perf = cfg.perf
    tm = TimingModel(cfg)
    hz = cfg.clocks.fabric_mhz * 1e6
    # The int8 peak of the modeled design: edge-dnn packs two int8 MACs per DSP cycle.
    peak = cfg.derived.macs_per_cycle * perf.int8_macs_per_dsp // PACKED_INT8_MACS_PER_DSP
    rows_by_tag = _layer_index(model)
    bb = block_bytes(cfg)
    layers: list[LayerProfile] = []
    runs: list[dict[str, Any]] = []
    engine_s = overhead_s = arm_s = 0.0
    total_macs = 0
    for si, step in enumerate(model.steps):
        if isinstance(step, ArmStep):
            layer = step.layer
            shapes_in = [model.tensors[t].shape for t in step.inputs if t in model.tensors]
            shapes_out = [model.tensors[t].shape for t in step.outputs if t in model.tensors]
            try:
                macs = int(layer.macs(shapes_in, shapes_out))
            except Exception:  # a layer's MAC count is informative only
                macs = 0
            sec = arm.step_seconds(step, model, macs)
            arm_s += sec
            layers.append(LayerProfile(step.name, layer.TYPE, "arm", si, seconds=sec, bound="arm"))
            continue
        assert isinstance(step, EngineStep)
        stream = decode_stream(step.cmd)
        timeline = Timeline(tm.decode_cycles())
        regs = ConfigRegisters()
        per_tag: dict[int, LayerProfile] = {}
        work: dict[int, _LayerWork] = {}
        conv_macs: dict[int, int] = {}
        residual: set[int] = set()
        conv_of: dict[int, ConfigConv] = {}
        last_end: dict[int, int] = {}
        run_bytes = 0
        for ins in stream.instructions:
            unit = OPCODES[ins.OPCODE].unit
            cycles = regs.cycles(tm, ins)
            conv, pool, norm = regs.conv, regs.pool, regs.norm
            if isinstance(ins, ComputeTile) and conv is not None:
                passes = tm.compute_passes(conv, ins)
                f = _int8_factor(cfg, conv)
                if f != 1.0 or perf.pass_overhead_cycles:
                    body = cycles - ISSUE_CYCLES + passes * perf.pass_overhead_cycles
                    cycles = ISSUE_CYCLES + math.ceil(f * body)
            start, end = regs.issue(tm, timeline, ins, cycles)
            if unit == Unit.DEC:
                continue
            cycles = end - start  # a window-unit tile may have run in burst mode
            tag = int(ins.tag)
            row = per_tag.get(tag)
            if row is None:
                info = rows_by_tag.get(tag, {})
                row = LayerProfile(
                    str(info.get("name", f"tag {tag}")), str(info.get("type", "?")), "engine", si
                )
                per_tag[tag] = row
                work[tag] = _LayerWork()
            w = work[tag]
            row.instructions += 1
            nbytes = _instruction_bytes(cfg, tm, ins)
            run_bytes += nbytes
            if unit in _ROLE_OF_UNIT and nbytes:
                role = _ROLE_OF_UNIT[unit]
                row.bytes[role] = row.bytes.get(role, 0) + nbytes
            if unit in (Unit.CMP, Unit.VEC):
                row.compute_cycles += cycles
                if isinstance(ins, ComputeTile) and conv is not None:
                    macs = tm.compute_macs(conv, ins)
                    row.macs += macs
                    conv_macs[tag] = conv_macs.get(tag, 0) + macs
                    w.kind = "conv"
                    w.kernel = (conv.kernel_h, conv.kernel_w)
                    if ins.acc_last:
                        w.out_bytes += int(ins.out_cb) * int(ins.n_oh) * conv.out_w * bb
                    if ins.fuse_eltwise:
                        residual.add(tag)
                    if w.key is None:
                        # Fusable when a later convolution reads the same input words with
                        # the same geometry (perf.fuse_parallel).
                        w.key = (
                            si, int(ins.in_base), int(ins.ih0), int(ins.in_cb), conv.in_h,
                            conv.in_w, conv.kernel_h, conv.kernel_w, conv.stride_h,
                            conv.stride_w, conv.pad_h, conv.pad_w, conv.dilation_h,
                            conv.dilation_w,
                        )  # fmt: skip
                elif isinstance(ins, PoolTile) and pool is not None:
                    w.kind = "pool"
                    out = int(ins.n_cb) * int(ins.n_oh) * pool.out_w * bb
                    w.out_bytes += out
                    w.in_bytes += out * pool.in_h * pool.in_w // (pool.out_h * pool.out_w)
                    w.out_pixels = pool.out_h * pool.out_w
                elif isinstance(ins, EltwiseTile):
                    w.kind = "eltwise"
                    w.out_bytes += int(ins.n_words) * bb
                    w.in_bytes += 2 * int(ins.n_words) * bb
                elif isinstance(ins, NormTile) and norm is not None:
                    w.kind = "norm"
                    n = int(ins.n_cb) * int(ins.n_oh) * norm.in_w * bb
                    w.out_bytes += n
                    w.in_bytes += n
            elif unit == Unit.ST:
                row.store_cycles += cycles
            else:
                row.load_cycles += cycles
            last_end[tag] = max(last_end.get(tag, 0), end)
            if isinstance(ins, ComputeTile) and conv is not None:
                conv_of[tag] = conv
        for tag, c in conv_of.items():
            _conv_io(work[tag], c, conv_macs.get(tag, 0))
            work[tag].residual = tag in residual
        timeline_cycles = timeline.total
        order = sorted(last_end, key=lambda t: last_end[t])
        for tag in order:
            row = per_tag[tag]
            row.ddr_cycles = math.ceil(sum(row.bytes.values()) / cfg.derived.ddr_bytes_per_cycle)
        if perf.layer_at_a_time:
            first_seen = list(per_tag)  # dict order = order of first instruction
            by_tag, n_calls, ddr_cycles = _layer_at_a_time(cfg, first_seen, per_tag, work)
            run_cycles = sum(by_tag.values())
            for tag in first_seen:
                row = per_tag[tag]
                row.cycles = by_tag[tag]
            order = first_seen
            overhead_s += n_calls * perf.layer_launch_us * 1e-6 / perf.batch
        else:
            ddr_cycles = math.ceil(run_bytes / cfg.derived.ddr_bytes_per_cycle)
            run_cycles = max(timeline_cycles, ddr_cycles)
            # Incremental cycles in completion order; a DDR-limited run is stretched uniformly
            # and the run's tail (END, the last store's drain) belongs to its last layer.
            stretch = run_cycles / timeline_cycles if timeline_cycles else 1.0
            prev = 0
            for k, tag in enumerate(order):
                row = per_tag[tag]
                done = run_cycles if k == len(order) - 1 else round(last_end[tag] * stretch)
                row.cycles = done - prev
                prev = done
                mem = max(row.load_cycles, row.store_cycles, row.ddr_cycles)
                row.bound = "compute" if row.compute_cycles >= mem else "memory"
        for tag in order:
            row = per_tag[tag]
            row.seconds = row.cycles / hz
            row.utilization = row.macs / (max(1, row.cycles) * peak) if row.macs else 0.0
            total_macs += row.macs
            layers.append(row)
        engine_s += run_cycles / hz
        overhead_s += arm.engine_run_s
        runs.append(
            {
                "step": si,
                "layers": len(per_tag),
                "cycles": run_cycles,
                "timeline_cycles": timeline_cycles,
                "ddr_cycles": ddr_cycles,
                "bytes": run_bytes,
            }
        )
    return Profile(
        network=model.name,
        overlay=model.overlay,
        fabric_mhz=cfg.clocks.fabric_mhz,
        peak_gops=cfg.derived.peak_gops * perf.int8_macs_per_dsp / PACKED_INT8_MACS_PER_DSP,
        layers=layers,
        runs=runs,
        engine_s=engine_s,
        overhead_s=overhead_s,
        arm_s=arm_s,
        macs=total_macs,
        arm_workers=arm.workers,
        assumptions={
            **{
                k: (dict(v) if isinstance(v, Mapping) else v)
                for k, v in dataclasses.asdict(arm).items()
            },
            "perf": dataclasses.asdict(perf),
        },
    )
