"""Resource estimate of an overlay (DSP48E2, BRAM36, URAM, LUT, FF) and the fit check.

The estimate is an analytical model of the engine's structure, derived from the configuration
alone, so that an oversized configuration is rejected before anyone spends hours in Vivado. DSP
and memory-block counts follow directly from the architecture and are expected within ~10% of an
implementation; LUT/FF counts are rough (per-unit constants, +-30%). ``docs/overlay.md`` derives
every term.

DSP48E2:
    * PE array: ``out x in x pixels / (2 * pump)`` -- two int8 MACs per DSP (WP486 packing of two
      output channels' weights sharing one activation), ``pump`` = 2 when double-pumped.
    * requantization: 2 per lane -- ``acc * M`` is a 48 x 16-bit product; a 27 x 18 multiplier
      takes the accumulator in two 24-bit halves.
    * vector unit: 1 per lane -- max pooling needs none; element-wise add (two rescale products)
      and average pooling (a 48 x 16-bit product) take two DSP passes, so they run at half the
      lane rate.
    * address generation: :data:`ADDRESS_DSPS` (row x stride products of the buffer address
      generators and the command decoder).

Memory blocks, per bank of ``depth x width`` bits:
    * ``bram``: the cheapest tiling over the RAMB36 shapes (1 block each) and RAMB18 shapes
      (half a block each) of :data:`edge_dnn.overlay.parts.BRAM36_SHAPES` / ``BRAM18_SHAPES``:
      ``ceil(width / W) * ceil(depth / D)``.
    * ``uram``: ``ceil(width / 72) * ceil(depth / 4096)`` (URAM has a single 4096 x 72 shape).
    * ``lutram``: RAM64M8 primitives, 7 bits x 64 words of simple dual-port RAM per 8 LUTs.
    * the window unit's line buffer: ``derived.line_buffer_blocks`` memories of
      ``LINE_BUFFER_DEPTH x 64`` bits (partial rows of pooling windows).
    * plus per stream a 512-deep FIFO in the DMA and one in the engine (``2 x 512 x width``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from types import MappingProxyType

from edge_dnn.overlay.config import LINE_BUFFER_DEPTH, Buffer, OverlayConfig
from edge_dnn.overlay.errors import OverlayResourceError
from edge_dnn.overlay.parts import (
    BRAM18_SHAPES,
    BRAM36_SHAPES,
    PARTS,
    URAM_DEPTH,
    URAM_WIDTH,
    PartResources,
)

RESOURCES = ("dsp", "bram36", "uram", "lut", "ff")
"""Resource names, in table order."""

DEFAULT_LIMITS: Mapping[str, float] = MappingProxyType(
    {"dsp": 0.85, "bram36": 0.85, "uram": 0.90, "lut": 0.75, "ff": 0.75}
)
"""Maximum utilization per resource that still closes timing at 250-300 MHz with margin.
(Shipping ZU+ DNN engines run at 80-85% of the DSPs: 2 x DPU B4096 on XCZU7EV uses ~82%.)"""

# ---------------------------------------------------------------------------- model constants
REQUANT_DSPS_PER_LANE = 2
VECTOR_DSPS_PER_LANE = 1
ADDRESS_DSPS = 12
"""Two per buffer (read and write address multiply-add) plus four in the command decoder."""
FIFO_DEPTH = 512
"""Depth of the stream FIFOs (one in the DMA's data path, one at the engine's port)."""
PACK_SAFE_PRODUCTS = 4
"""Packed products one DSP cascade may sum before the lower 18-bit field must be extracted:
4 x 127 x 255 < 2**17 for uint8 activations (WP486's correction stays exact)."""

LUT_PER_COMPUTE_DSP = 12  # operand formatting for packing, int8/int16 mode muxes
FF_PER_COMPUTE_DSP = 36  # systolic activation/weight broadcast registers
LUT_PER_ACCUMULATOR = 72  # field extraction + sign correction (24) + 48-bit accumulate (48)
FF_PER_ACCUMULATOR = 96  # 48-bit accumulator, double-buffered so draining overlaps compute
LUT_PER_SEGMENT_ADD = 24  # extra fabric adder per additional cascade segment or pump phase
FF_PER_SEGMENT_ADD = 24
LUT_PER_REQUANT_LANE = 260  # partial-product add, rounding, 64-bit shifter, clamp, ReLU
FF_PER_REQUANT_LANE = 320
LUT_PER_VECTOR_LANE = 160  # max/add/compare, rescale adders, clamp
FF_PER_VECTOR_LANE = 200
LUT_CONTROL, FF_CONTROL = 3500, 4500  # registers, identity block, command decoder, sequencers
LUT_DMA_IP, FF_DMA_IP = 1200, 1800  # AXI DMA (PG021) common logic per instance
LUT_DMA_CHANNEL, FF_DMA_CHANNEL = 900, 1400  # per MM2S/S2MM channel
LUT_DMA_SG, FF_DMA_SG = 600, 900  # scatter-gather engine, per channel
LUT_HP_PORT, FF_HP_PORT = 1800, 2600  # SmartConnect path to one PS slave port
LUT_AXI_LITE, FF_AXI_LITE = 600, 900  # AXI-Lite interconnect + axi_intc base
LUT_AXI_LITE_SLAVE, FF_AXI_LITE_SLAVE = 150, 200


# ---------------------------------------------------------------------------- block mapping
def bram36_blocks(depth: int, width: int) -> float:
    """BRAM36 blocks (in steps of 0.5 for RAMB18 halves) for one ``depth x width`` memory."""
    best = math.inf
    for shapes, cost in ((BRAM36_SHAPES, 1.0), (BRAM18_SHAPES, 0.5)):
        for d, w in shapes:
            best = min(best, math.ceil(width / w) * math.ceil(depth / d) * cost)
    return float(best)


def uram_blocks(depth: int, width: int) -> int:
    """URAM288 blocks for one ``depth x width`` memory."""
    return math.ceil(width / URAM_WIDTH) * math.ceil(depth / URAM_DEPTH)


def lutram_luts(depth: int, width: int) -> int:
    """LUTs for one ``depth x width`` simple dual-port LUTRAM (RAM64M8: 7 bits x 64 per 8 LUTs)."""
    return math.ceil(width / 7) * 8 * math.ceil(depth / 64)


def buffer_blocks(buf: Buffer) -> tuple[float, int, int]:
    """``(bram36, uram, lut)`` of one buffer (all banks)."""
    if buf.memory == "bram":
        return buf.banks * bram36_blocks(buf.depth, buf.width_bits), 0, 0
    if buf.memory == "uram":
        return 0.0, buf.banks * uram_blocks(buf.depth, buf.width_bits), 0
    return 0.0, 0, buf.banks * lutram_luts(buf.depth, buf.width_bits)


# ---------------------------------------------------------------------------- the estimate
@dataclasses.dataclass(frozen=True)
class ResourceLine:
    """Resources of one component of the overlay."""

    component: str
    dsp: int = 0
    bram36: float = 0.0
    uram: int = 0
    lut: int = 0
    ff: int = 0


@dataclasses.dataclass(frozen=True)
class ResourceEstimate:
    """Estimated resources of an overlay, per component and in total.

    Attributes:
        overlay: Overlay name.
        part: The device's resources.
        lines: One line per component.
    """

    overlay: str
    part: PartResources
    lines: tuple[ResourceLine, ...]

    def total(self, resource: str) -> float:
        """Total of ``resource`` over all components (BRAM36 may end in .5)."""
        return float(sum(getattr(line, resource) for line in self.lines))

    @property
    def dsp(self) -> int:
        """Total DSP48E2 slices."""
        return int(self.total("dsp"))

    @property
    def bram36(self) -> float:
        """Total BRAM36 blocks (RAMB18 halves count 0.5)."""
        return self.total("bram36")

    @property
    def uram(self) -> int:
        """Total URAM blocks."""
        return int(self.total("uram"))

    @property
    def lut(self) -> int:
        """Total LUTs (rough)."""
        return int(self.total("lut"))

    @property
    def ff(self) -> int:
        """Total flip-flops (rough)."""
        return int(self.total("ff"))

    def utilization(self, resource: str) -> float:
        """Fraction of the part's ``resource`` used (``inf`` if the part has none but some is
        needed, 0 if neither)."""
        avail = self.part.available(resource)
        used = self.total(resource)
        if avail == 0:
            return math.inf if used > 0 else 0.0
        return used / avail


def estimate_resources(cfg: OverlayConfig) -> ResourceEstimate:
    """Estimate the resources of an overlay from its configuration.

    Args:
        cfg: The overlay.

    Returns:
        The per-component estimate (see the module docstring for the model).
    """
    pe, d = cfg.pe, cfg.derived
    lines: list[ResourceLine] = []

    segments = math.ceil(pe.in_channels / PACK_SAFE_PRODUCTS) * d.pump
    acc = d.accumulators
    lines.append(
        ResourceLine(
            f"PE array {pe.out_channels}x{pe.in_channels}x{pe.pixels}"
            + (" (double-pumped)" if d.pump > 1 else ""),
            dsp=d.compute_dsps,
            lut=d.compute_dsps * LUT_PER_COMPUTE_DSP,
            ff=d.compute_dsps * FF_PER_COMPUTE_DSP,
        )
    )
    lines.append(
        ResourceLine(
            f"accumulators ({acc} x {pe.acc_bits} bit)",
            lut=acc * (LUT_PER_ACCUMULATOR + (segments - 1) * LUT_PER_SEGMENT_ADD),
            ff=acc * (FF_PER_ACCUMULATOR + (segments - 1) * FF_PER_SEGMENT_ADD),
        )
    )
    lines.append(
        ResourceLine(
            f"requantization ({pe.requant_lanes} lanes)",
            dsp=pe.requant_lanes * REQUANT_DSPS_PER_LANE,
            lut=pe.requant_lanes * LUT_PER_REQUANT_LANE,
            ff=pe.requant_lanes * FF_PER_REQUANT_LANE,
        )
    )
    lines.append(
        ResourceLine(
            f"vector unit ({pe.vector_lanes} lanes)",
            dsp=pe.vector_lanes * VECTOR_DSPS_PER_LANE,
            lut=pe.vector_lanes * LUT_PER_VECTOR_LANE,
            ff=pe.vector_lanes * FF_PER_VECTOR_LANE,
        )
    )
    lines.append(
        ResourceLine(
            f"window-unit line buffer ({d.line_buffer_blocks} x {LINE_BUFFER_DEPTH} x 64b bram)",
            bram36=d.line_buffer_blocks * bram36_blocks(LINE_BUFFER_DEPTH, 64),
        )
    )
    # Each pixel lane picks its activation word from any of the input banks: a pixels:1 mux per
    # bit (a LUT6 is a 4:1 mux).
    xbar_bits = pe.pixels * pe.in_channels * 8
    lines.append(
        ResourceLine(
            "input crossbar",
            lut=xbar_bits * math.ceil(pe.pixels / 4) if pe.pixels > 1 else 0,
            ff=xbar_bits,
        )
    )
    lines.append(
        ResourceLine(
            "control, identity, address generators",
            dsp=ADDRESS_DSPS,
            lut=LUT_CONTROL,
            ff=FF_CONTROL,
        )
    )
    for b in cfg.buffers:
        bram, uram, lut = buffer_blocks(b)
        lines.append(
            ResourceLine(
                f"{b.name} buffer ({b.banks} x {b.depth} x {b.width_bits}b {b.memory})",
                bram36=bram,
                uram=uram,
                lut=lut,
            )
        )
    fifo = sum(2 * bram36_blocks(FIFO_DEPTH, s.width_bits) for s in cfg.streams)
    lines.append(ResourceLine(f"stream FIFOs ({len(cfg.streams)} streams)", bram36=fifo))
    channels = sum((dm.mm2s is not None) + (dm.s2mm is not None) for dm in cfg.dmas)
    sg_channels = sum(
        ((dm.mm2s is not None) + (dm.s2mm is not None)) * dm.scatter_gather for dm in cfg.dmas
    )
    lines.append(
        ResourceLine(
            f"AXI DMA ({len(cfg.dmas)} IPs, {channels} channels)",
            lut=len(cfg.dmas) * LUT_DMA_IP + channels * LUT_DMA_CHANNEL + sg_channels * LUT_DMA_SG,
            ff=len(cfg.dmas) * FF_DMA_IP + channels * FF_DMA_CHANNEL + sg_channels * FF_DMA_SG,
        )
    )
    slaves = 2 + len(cfg.dmas)  # engine, interrupt controller, DMAs
    lines.append(
        ResourceLine(
            f"interconnect ({len(d.hp_ports)} PS ports, {slaves} AXI-Lite slaves)",
            lut=len(d.hp_ports) * LUT_HP_PORT + LUT_AXI_LITE + slaves * LUT_AXI_LITE_SLAVE,
            ff=len(d.hp_ports) * FF_HP_PORT + FF_AXI_LITE + slaves * FF_AXI_LITE_SLAVE,
        )
    )
    return ResourceEstimate(cfg.name, PARTS[cfg.device], tuple(lines))


def check_fits(cfg: OverlayConfig, limits: Mapping[str, float] | None = None) -> ResourceEstimate:
    """Check that an overlay fits its part with utilization margin.

    Args:
        cfg: The overlay.
        limits: Maximum utilization per resource (fraction); missing keys use
            :data:`DEFAULT_LIMITS`.

    Returns:
        The estimate, when every resource is within its limit.

    Raises:
        OverlayResourceError: a resource exceeds its limit; the message names the overlay file,
            the resource, the estimate, the limit and what the part has.
    """
    lim = {**DEFAULT_LIMITS, **(limits or {})}
    est = estimate_resources(cfg)
    over: list[tuple[str, float, float, int]] = []
    for r in RESOURCES:
        avail = est.part.available(r)
        allowed = avail * lim[r]
        used = est.total(r)
        if used > allowed:
            over.append((r, used, allowed, avail))
    if over:
        parts = [
            f"{r} estimate {_num(used)} exceeds the limit {_num(allowed)} "
            f"({lim[r]:.0%} of the {avail} the {cfg.device} has)"
            for r, used, allowed, avail in over
        ]
        raise OverlayResourceError(
            f"overlay '{cfg.name}' does not fit {cfg.part}: " + "; ".join(parts),
            cfg.source,
            over,
        )
    return est


def _num(x: float) -> str:
    return f"{x:.1f}" if x != int(x) else f"{int(x)}"


def format_estimate(est: ResourceEstimate, limits: Mapping[str, float] | None = None) -> str:
    """The estimate as a fixed-width text table (components, total, part, utilization, limit)."""
    lim = {**DEFAULT_LIMITS, **(limits or {})}
    names = ("DSP", "BRAM36", "URAM", "LUT", "FF")
    width = max(44, *(len(line.component) for line in est.lines))

    def row(label: str, cells: list[str]) -> str:
        return f"{label:<{width}}" + "".join(f"{c:>9}" for c in cells)

    out = [
        f"Resource estimate: {est.overlay} on {est.part.device} ({est.part.board})",
        row("component", list(names)),
        "-" * (width + 9 * len(names)),
    ]
    for line in est.lines:
        out.append(row(line.component, [_num(getattr(line, r)) for r in RESOURCES]))
    out.append("-" * (width + 9 * len(names)))
    out.append(row("total", [_num(est.total(r)) for r in RESOURCES]))
    out.append(row("available", [str(est.part.available(r)) for r in RESOURCES]))
    out.append(
        row(
            "utilization",
            [
                "n/a"
                if est.part.available(r) == 0 and est.total(r) == 0
                else f"{est.utilization(r):.1%}"
                for r in RESOURCES
            ],
        )
    )
    out.append(row("limit", [f"{lim[r]:.0%}" for r in RESOURCES]))
    return "\n".join(out)
