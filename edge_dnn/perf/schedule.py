"""Data behind the performance plots: the units' schedule of an engine run, and a roofline.

Both are *modeled*, from the same sources as :func:`edge_dnn.perf.model.profile_model`:

* :func:`run_schedule`: one engine run's command stream decoded (:func:`edge_dnn.isa.decode_stream`)
  and placed on the decoder and the five units (weight load ``LDW``, activation load ``LDA``,
  compute ``CMP``, window unit ``VEC``, store ``ST``) by the emulator's cycle model
  (:class:`~edge_dnn.emulator.timing.TimingModel`, :class:`~edge_dnn.emulator.timing.Timeline`).
  Every instruction becomes an :class:`Interval` in fabric cycles from START; the overlap of the
  DMA-fed units with the compute unit is what double buffering buys. The DDR bandwidth cap that
  the profile applies on top of a run (``Profile.runs[i]["ddr_cycles"]``) is not drawn here.
* :func:`roofline`: the overlay's two ceilings (peak int8 GOP/s, sustained DDR GB/s) and one point
  per engine layer of a :class:`~edge_dnn.perf.model.Profile` (operations per DDR byte, achieved
  GOP/s).

This module returns numbers only; plotting (matplotlib) is left to the caller, so that
``edge_dnn`` stays numpy-only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from edge_dnn.compiler.model import CompiledModel, EngineStep
from edge_dnn.emulator.timing import ConfigRegisters, Timeline, TimingModel
from edge_dnn.errors import InputError
from edge_dnn.isa import (
    decode_stream,
)
from edge_dnn.isa.format import OPCODES
from edge_dnn.overlay.config import OverlayConfig, load_overlay
from edge_dnn.perf.model import Profile

__all__ = [
    "COMPUTE_UNITS",
    "LOAD_STORE_UNITS",
    "Interval",
    "Roofline",
    "RooflinePoint",
    "RunSchedule",
    "roofline",
    "run_schedule",
]

LOAD_STORE_UNITS: tuple[str, ...] = ("LDW", "LDA", "ST")
"""The units fed or drained by the AXI DMA streams (weights, activations in, activations out)."""
COMPUTE_UNITS: tuple[str, ...] = ("CMP", "VEC")
"""The units that compute: the PE array (with requantizer and eltwise stage) and the window
unit (pooling, LRN)."""


@dataclasses.dataclass(frozen=True)
class Interval:
    """One instruction on its unit.

    Attributes:
        unit: ``DEC`` (NOP / SYNC / END), ``LDW``, ``LDA``, ``CMP``, ``VEC`` or ``ST``.
        start: First busy fabric cycle, counted from START.
        end: Cycle at which it completes (``end - start`` busy cycles).
        opcode: Instruction name, e.g. ``COMPUTE_TILE``.
        layer: Name of the layer the compiler tagged it with (``tag N`` when unknown).
    """

    unit: str
    start: int
    end: int
    opcode: str
    layer: str

    @property
    def cycles(self) -> int:
        """Busy cycles."""
        return self.end - self.start


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of half-open cycle spans as sorted, disjoint spans."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(x for x in spans if x[1] > x[0]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _intersection(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> int:
    """Cycles covered by both of two sorted disjoint span lists."""
    i = j = total = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        total += max(0, hi - lo)
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


@dataclasses.dataclass(frozen=True)
class RunSchedule:
    """The modeled schedule of one engine run.

    Attributes:
        network: Network name.
        overlay: Overlay name.
        step: Index of the run in :attr:`CompiledModel.steps`.
        fabric_mhz: Engine clock, MHz (cycles / fabric_mhz = microseconds).
        intervals: Every instruction, in stream order.
        total_cycles: Cycle at which the last instruction completes.
    """

    network: str
    overlay: str
    step: int
    fabric_mhz: float
    intervals: tuple[Interval, ...]
    total_cycles: int

    def of_unit(self, unit: str) -> list[Interval]:
        """The instructions of one unit, in execution order."""
        return [iv for iv in self.intervals if iv.unit == unit]

    def busy_cycles(self, unit: str) -> int:
        """Busy cycles of one unit."""
        return sum(iv.cycles for iv in self.intervals if iv.unit == unit)

    def _spans(self, units: Iterable[str]) -> list[tuple[int, int]]:
        keep = set(units)
        return _merge((iv.start, iv.end) for iv in self.intervals if iv.unit in keep)

    @property
    def compute_cycles(self) -> int:
        """Cycles in which a compute unit (PE array ``CMP`` or window unit ``VEC``) is busy."""
        return sum(e - s for s, e in self._spans(COMPUTE_UNITS))

    @property
    def transfer_cycles(self) -> int:
        """Cycles in which at least one DMA-fed unit (``LDW``, ``LDA``, ``ST``) is busy."""
        return sum(e - s for s, e in self._spans(LOAD_STORE_UNITS))

    @property
    def overlap_cycles(self) -> int:
        """Cycles in which a compute unit and at least one DMA-fed unit are both busy."""
        return _intersection(self._spans(COMPUTE_UNITS), self._spans(LOAD_STORE_UNITS))

    @property
    def overlap_fraction(self) -> float:
        """Share of the data-transfer cycles hidden behind compute (0 when nothing moves)."""
        t = self.transfer_cycles
        return self.overlap_cycles / t if t else 0.0

    @property
    def serial_cycles(self) -> int:
        """The run's length if no two units ever worked at the same time."""
        return sum(iv.cycles for iv in self.intervals)

    def microseconds(self, cycles: int) -> float:
        """Fabric cycles as microseconds."""
        return cycles / self.fabric_mhz


def run_schedule(
    model: CompiledModel, step: int | None = None, cfg: OverlayConfig | None = None
) -> RunSchedule:
    """Place one engine run's instructions on the units with the emulator's cycle model.

    Args:
        model: The compiled model.
        step: Index in :attr:`CompiledModel.steps` of an engine run (default: the first one).
        cfg: Its overlay configuration (loaded by name when omitted; must match the model).

    Returns:
        The run's :class:`RunSchedule` (modeled, fabric cycles from START).

    Raises:
        InputError: the model has no engine run, or ``step`` is not one.
        OverlayMismatchError: ``cfg`` is not the configuration the model was compiled for.
    """
    engine = [i for i, s in enumerate(model.steps) if isinstance(s, EngineStep)]
    if not engine:
        raise InputError(f"model '{model.name}' has no engine run (every layer runs on the ARM)")
    index = engine[0] if step is None else int(step)
    run = model.steps[index] if 0 <= index < len(model.steps) else None
    if not isinstance(run, EngineStep):
        raise InputError(
            f"model '{model.name}': step {step} is not an engine run; engine runs: {engine}"
        )
    if cfg is None:
        cfg = load_overlay(model.overlay)
    model.check_overlay(cfg)
    tm = TimingModel(cfg)
    names = {
        k: str(row.get("name", f"tag {k}")) for k, row in enumerate(model.report.get("layers", []))
    }
    timeline = Timeline(tm.decode_cycles())
    regs = ConfigRegisters()
    out: list[Interval] = []
    for ins in decode_stream(run.cmd).instructions:
        spec = OPCODES[ins.OPCODE]
        start, end = regs.issue(tm, timeline, ins, regs.cycles(tm, ins))
        tag = int(ins.tag)
        out.append(Interval(spec.unit.name, start, end, spec.name, names.get(tag, f"tag {tag}")))
    return RunSchedule(
        network=model.name,
        overlay=model.overlay,
        step=index,
        fabric_mhz=cfg.clocks.fabric_mhz,
        intervals=tuple(out),
        total_cycles=timeline.total,
    )


# ---------------------------------------------------------------------------- roofline
@dataclasses.dataclass(frozen=True)
class RooflinePoint:
    """One engine layer on the roofline.

    Attributes:
        name: Layer name.
        type: Caffe layer type.
        intensity: Operations (2 per MAC) per byte the layer moves through DDR.
        gops: Achieved 10**9 operations per second (modeled: MACs over the layer's time).
        bound: ``compute`` or ``memory`` (the profile's verdict).
    """

    name: str
    type: str
    intensity: float
    gops: float
    bound: str


@dataclasses.dataclass(frozen=True)
class Roofline:
    """The overlay's roofline and the layers of one profile on it.

    Attributes:
        overlay: Overlay name.
        peak_gops: Peak int8 10**9 operations per second (compute ceiling).
        ddr_gbps: Sustained DDR bandwidth, 10**9 bytes per second (memory ceiling slope).
        points: One point per engine layer with MACs and DDR traffic.
    """

    overlay: str
    peak_gops: float
    ddr_gbps: float
    points: tuple[RooflinePoint, ...]

    @property
    def ridge(self) -> float:
        """Operations per byte where the memory ceiling meets the compute ceiling."""
        return self.peak_gops / self.ddr_gbps

    def attainable(self, intensity: float) -> float:
        """Attainable GOP/s at an operational intensity (ops per DDR byte)."""
        return min(self.peak_gops, self.ddr_gbps * intensity)


def roofline(profile: Profile, cfg: OverlayConfig | None = None) -> Roofline:
    """The roofline of the profile's overlay with one point per engine layer.

    Layers without MACs (pooling) or without DDR traffic (everything kept on chip) have no
    finite intensity and are left out.

    Args:
        profile: A modeled profile (:func:`edge_dnn.perf.model.profile_model`).
        cfg: Its overlay configuration (loaded by name when omitted).

    Raises:
        InputError: ``cfg`` is not the profile's overlay.
    """
    if cfg is None:
        cfg = load_overlay(profile.overlay)
    if cfg.name != profile.overlay:
        raise InputError(f"profile of overlay '{profile.overlay}' with configuration '{cfg.name}'")
    points = []
    for row in profile.layers:
        nbytes = sum(row.bytes.values())
        if row.placement != "engine" or row.macs <= 0 or nbytes <= 0 or row.seconds <= 0:
            continue
        ops = 2.0 * row.macs
        points.append(
            RooflinePoint(row.name, row.type, ops / nbytes, ops / row.seconds / 1e9, row.bound)
        )
    return Roofline(
        overlay=cfg.name,
        peak_gops=float(cfg.derived.peak_gops),
        ddr_gbps=float(cfg.derived.ddr_sustained_gbps),
        points=tuple(points),
    )
