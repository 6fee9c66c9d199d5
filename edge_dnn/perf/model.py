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
from edge_dnn.emulator.timing import Timeline, TimingModel
from edge_dnn.isa import (
    ComputeTile,
    ConfigConv,
    ConfigEltwise,
    ConfigNorm,
    ConfigPool,
    End,
    LoadInput,
    LoadParams,
    LoadWeights,
    StoreTile,
    Sync,
    Unit,
    decode_stream,
)
from edge_dnn.isa.format import OPCODES
from edge_dnn.isa.layout import block_bytes
from edge_dnn.overlay.config import OverlayConfig, load_overlay

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
    tm = TimingModel(cfg)
    hz = cfg.clocks.fabric_mhz * 1e6
    peak = cfg.derived.macs_per_cycle
    rows_by_tag = _layer_index(model)
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
        conv: ConfigConv | None = None
        pool: ConfigPool | None = None
        elt: ConfigEltwise | None = None
        norm: ConfigNorm | None = None
        per_tag: dict[int, LayerProfile] = {}
        last_end: dict[int, int] = {}
        run_bytes = 0
        for ins in stream.instructions:
            if isinstance(ins, ConfigConv):
                conv = ins
            elif isinstance(ins, ConfigPool):
                pool = ins
            elif isinstance(ins, ConfigEltwise):
                elt = ins
            elif isinstance(ins, ConfigNorm):
                norm = ins
            unit = OPCODES[ins.OPCODE].unit
            cycles = tm.instruction_cycles(ins, conv, pool, elt, norm=norm)
            _, end = timeline.issue(
                unit, cycles, ins.wait, ins.signal, barrier=isinstance(ins, Sync | End)
            )
            if unit == Unit.DEC:
                continue
            tag = int(ins.tag)
            row = per_tag.get(tag)
            if row is None:
                info = rows_by_tag.get(tag, {})
                row = LayerProfile(
                    str(info.get("name", f"tag {tag}")), str(info.get("type", "?")), "engine", si
                )
                per_tag[tag] = row
            row.instructions += 1
            nbytes = _instruction_bytes(cfg, tm, ins)
            run_bytes += nbytes
            if unit in _ROLE_OF_UNIT and nbytes:
                role = _ROLE_OF_UNIT[unit]
                row.bytes[role] = row.bytes.get(role, 0) + nbytes
            if unit == Unit.CMP:
                row.compute_cycles += cycles
                if isinstance(ins, ComputeTile) and conv is not None:
                    row.macs += tm.compute_macs(conv, ins)
            elif unit == Unit.ST:
                row.store_cycles += cycles
            else:
                row.load_cycles += cycles
            last_end[tag] = max(last_end.get(tag, 0), end)
        timeline_cycles = timeline.total
        ddr_cycles = math.ceil(run_bytes / cfg.derived.ddr_bytes_per_cycle)
        run_cycles = max(timeline_cycles, ddr_cycles)
        # Incremental cycles in completion order; a DDR-limited run is stretched uniformly and
        # the run's tail (END, the last store's drain) belongs to its last layer.
        stretch = run_cycles / timeline_cycles if timeline_cycles else 1.0
        order = sorted(last_end, key=lambda t: last_end[t])
        prev = 0
        for k, tag in enumerate(order):
            row = per_tag[tag]
            done = run_cycles if k == len(order) - 1 else round(last_end[tag] * stretch)
            row.cycles = done - prev
            prev = done
            row.ddr_cycles = math.ceil(sum(row.bytes.values()) / cfg.derived.ddr_bytes_per_cycle)
            row.seconds = row.cycles / hz
            mem = max(row.load_cycles, row.store_cycles, row.ddr_cycles)
            row.bound = "compute" if row.compute_cycles >= mem else "memory"
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
        peak_gops=cfg.derived.peak_gops,
        layers=layers,
        runs=runs,
        engine_s=engine_s,
        overhead_s=overhead_s,
        arm_s=arm_s,
        macs=total_macs,
        arm_workers=arm.workers,
        assumptions={
            k: (dict(v) if isinstance(v, Mapping) else v)
            for k, v in dataclasses.asdict(arm).items()
        },
    )
