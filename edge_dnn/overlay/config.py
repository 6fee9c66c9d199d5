"""Overlay configuration: ``overlays/<name>/overlay.toml`` as a typed, validated, frozen object.

Each overlay (one build of the DNN engine for one board) is described by exactly one TOML file,
the single source of truth for every sizing constant, clock, buffer, stream, DMA channel, address
and register offset that the compiler, the emulator, the runtime and the HLS source use. The HLS
source sees it through a generated C header (:mod:`edge_dnn.overlay.header`); Python code sees it
through :class:`OverlayConfig`, obtained with :func:`load_overlay`. ``docs/overlay.md`` documents
every key.

Derived quantities (MACs per cycle, peak GOPS, buffer bytes, stream bandwidths, identity-block
words, the configuration hash) are computed once, when the object is built, and stored in
:attr:`OverlayConfig.derived`. Nothing is read or cached at import time.

Units: clocks in MHz, bandwidths in GB/s (10**9 bytes per second), sizes in bytes unless a name
says ``bits``; addresses are byte addresses in the Zynq UltraScale+ PS address map.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from edge_dnn.overlay.errors import OverlayConfigError, OverlayNotFoundError
from edge_dnn.overlay.parts import PARTS, device_of
from edge_dnn.quant.arith import ACC_BITS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

# ---------------------------------------------------------------------------- vocabulary
SCHEMA_VERSION = 1
"""Version of the overlay.toml format this module reads (top-level key ``schema``)."""
CONFIG_FILE = "overlay.toml"
GENERATED_DIR = "generated"
ENV_OVERLAY_PATH = "EDGE_DNN_OVERLAYS"
"""Environment variable: extra overlay folders (``os.pathsep``-separated), searched first."""

PRECISIONS = ("int8", "int16")
MEMORY_TYPES = ("bram", "uram", "lutram")
BUFFER_NAMES = ("input", "weight", "output", "params")
STREAM_ROLES = ("cmd", "weights", "act_in", "act_out")
STREAM_DIRECTION = MappingProxyType(
    {"cmd": "in", "weights": "in", "act_in": "in", "act_out": "out"}
)
"""Direction of a stream as seen from the engine: ``in`` = MM2S (DDR -> engine)."""
HP_PORTS = ("HP0", "HP1", "HP2", "HP3", "HPC0", "HPC1")
REGISTER_ACCESS = ("rw", "ro", "wo", "w1c")
REGISTER_GROUPS = ("control", "identity", "counter")
PARAM_BITS_PER_CHANNEL = 64
LINE_BUFFER_DEPTH = 512
"""Words per block of the window unit's line buffer: a RAMB36 in its 512 x 72 shape holds one
64-bit buffer word per address (UG573, RAMB36E2 port widths)."""
"""Per-output-channel parameter slot in int8 mode: bias int32 + M uint16 + S (6 bits), padded.
In int16 mode a channel (bias int48) takes two slots, but the array then computes half as many
channels per pass, so a params word of ``out_channels * 64`` bits serves both modes."""
IDENTITY_MAGIC = 0x45444E4E
"""``"EDNN"`` in ASCII: the first identity word of every edge-dnn engine."""
PACKED_INT8_MACS_PER_DSP = 2
"""Two int8 weights of two output channels packed 18 bits apart share one activation (WP486)."""

# PL slave windows of the PS address map (M_AXI_HPM0_FPD, M_AXI_HPM1_FPD, M_AXI_HPM0_LPD), UG1085.
PL_ADDRESS_WINDOWS: tuple[tuple[int, int, str], ...] = (
    (0x0080000000, 0x009FFFFFFF, "M_AXI_HPM0_LPD"),
    (0x00A0000000, 0x00AFFFFFFF, "M_AXI_HPM0_FPD"),
    (0x00B0000000, 0x00BFFFFFFF, "M_AXI_HPM1_FPD"),
    (0x0400000000, 0x04FFFFFFFF, "M_AXI_HPM0_FPD (high)"),
    (0x0500000000, 0x05FFFFFFFF, "M_AXI_HPM1_FPD (high)"),
)
# PL-to-PS interrupt lines pl_ps_irq0[0..7] and pl_ps_irq1[0..7] as GIC interrupt IDs.
PL_PS_IRQ_IDS = (*range(121, 129), *range(136, 144))

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_C_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_PART_RE = re.compile(r"^xczu\d+[a-z]{2}-[a-z]+\d+-\d[a-z]*-[a-z]$")


# ---------------------------------------------------------------------------- the typed config
@dataclasses.dataclass(frozen=True)
class Clocks:
    """Clocks of the engine.

    Attributes:
        fabric_mhz: Engine clock (PE array control, buffers, AXI-Stream interfaces), MHz.
        dsp_mhz: DSP48E2 clock, MHz: equal to ``fabric_mhz``, or twice it for a double-pumped
            array (each DSP then does two multiply-accumulates per fabric cycle).
    """

    fabric_mhz: float
    dsp_mhz: float

    @property
    def pump(self) -> int:
        """DSP cycles per fabric cycle (1, or 2 when double-pumped)."""
        return round(self.dsp_mhz / self.fabric_mhz)


@dataclasses.dataclass(frozen=True)
class PEArray:
    """The processing-element array and its output path.

    Attributes:
        out_channels: Output channels computed in parallel (int8 mode; even: packed in pairs).
        in_channels: Input channels reduced per cycle (the DSP cascade length).
        pixels: Output pixels computed in parallel (consecutive pixels in raster order).
        requant_lanes: Accumulators requantized per cycle (y = clamp((acc*M + 2^(S-1)) >> S)).
        vector_lanes: Elements per cycle of the vector unit (pooling, element-wise add).
        acc_bits: Accumulator width (the arithmetic contract fixes 48).
        precisions: Supported precision modes, ``int8`` first (``int16`` optional).
    """

    out_channels: int
    in_channels: int
    pixels: int
    requant_lanes: int
    vector_lanes: int
    acc_bits: int
    precisions: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Buffer:
    """One on-chip buffer: ``banks`` independent memories of ``depth`` words x ``width_bits``.

    Attributes:
        name: ``input`` (activations), ``weight``, ``output`` (accumulator/output tiles) or
            ``params`` (per-channel bias and requantization parameters).
        memory: ``bram``, ``uram`` or ``lutram``.
        banks: Independent memories read in the same cycle.
        depth: Words per bank.
        width_bits: Bits per word.
    """

    name: str
    memory: str
    banks: int
    depth: int
    width_bits: int

    @property
    def port_bits(self) -> int:
        """Bits the buffer delivers per cycle (all banks, one word each)."""
        return self.banks * self.width_bits

    @property
    def capacity_bits(self) -> int:
        """Total capacity in bits."""
        return self.banks * self.depth * self.width_bits

    @property
    def capacity_bytes(self) -> int:
        """Total capacity in bytes."""
        return self.capacity_bits // 8

    @property
    def addr_bits(self) -> int:
        """Bits of a word address within one bank."""
        return max(1, math.ceil(math.log2(self.depth)))


@dataclasses.dataclass(frozen=True)
class Stream:
    """One AXI-Stream interface of the engine.

    Attributes:
        name: Stream name (a C identifier in lower case, e.g. ``weights0``).
        role: ``cmd``, ``weights``, ``act_in`` (engine inputs) or ``act_out`` (engine output).
        width_bits: TDATA width in bits.
    """

    name: str
    role: str
    width_bits: int

    @property
    def direction(self) -> str:
        """``in`` (MM2S, DDR to engine) or ``out`` (S2MM, engine to DDR)."""
        return STREAM_DIRECTION[self.role]

    @property
    def bytes_per_beat(self) -> int:
        """Bytes per stream beat (one beat per fabric cycle at full rate)."""
        return self.width_bits // 8


@dataclasses.dataclass(frozen=True)
class Dma:
    """One AXI DMA (PG021) IP instance driving engine streams.

    Attributes:
        name: Instance name.
        base_address: AXI-Lite base address of its registers.
        address_range: Size of its register window, bytes.
        hp_port: PS slave port its memory-mapped side uses (``HP0``..``HP3``, ``HPC0``, ``HPC1``).
        mm2s: Stream fed by the MM2S channel (DDR -> engine), or ``None``.
        s2mm: Stream drained by the S2MM channel (engine -> DDR), or ``None``.
        mm2s_irq: Interrupt-controller input of the MM2S channel, or ``None``.
        s2mm_irq: Interrupt-controller input of the S2MM channel, or ``None``.
        scatter_gather: Whether the scatter-gather engine is included.
        sg_length_width: Width of the buffer-length field (max transfer 2**w - 1 bytes).
        addr_width: Memory-map address width, bits (32 or 64).
    """

    name: str
    base_address: int
    address_range: int
    hp_port: str
    mm2s: str | None
    s2mm: str | None
    mm2s_irq: int | None
    s2mm_irq: int | None
    scatter_gather: bool
    sg_length_width: int
    addr_width: int

    @property
    def max_transfer_bytes(self) -> int:
        """Largest transfer one descriptor (or one direct-mode LENGTH write) can move."""
        return (1 << self.sg_length_width) - 1


@dataclasses.dataclass(frozen=True)
class Memory:
    """External memory and the PS ports.

    Attributes:
        ddr_type: ``DDR4``, ``LPDDR4``, ...
        ddr_bus_bits: PS DDR data-bus width, bits.
        ddr_mts: Transfer rate, MT/s.
        ddr_size_mib: Capacity, MiB.
        ddr_efficiency: Fraction of the peak a streaming access pattern sustains (a modelling
            assumption used by the performance model).
        hp_port_bits: Data width of a PS slave (HP/HPC) port, bits.
    """

    ddr_type: str
    ddr_bus_bits: int
    ddr_mts: float
    ddr_size_mib: int
    ddr_efficiency: float
    hp_port_bits: int

    @property
    def ddr_peak_gbps(self) -> float:
        """Theoretical DDR bandwidth, GB/s."""
        return self.ddr_bus_bits / 8 * self.ddr_mts / 1000.0


@dataclasses.dataclass(frozen=True)
class Engine:
    """The engine's AXI-Lite slave and interrupt.

    Attributes:
        base_address: AXI-Lite base address.
        address_range: Register window size, bytes.
        irq: Interrupt-controller input of the engine's done/error interrupt.
    """

    base_address: int
    address_range: int
    irq: int


@dataclasses.dataclass(frozen=True)
class Interrupts:
    """The AXI interrupt controller (``axi_intc``) that PYNQ needs on Zynq UltraScale+.

    Attributes:
        controller_base: AXI-Lite base address of the controller.
        controller_range: Its register window, bytes.
        controller_inputs: Number of interrupt inputs.
        ps_irq: GIC interrupt ID of the PL-to-PS line the controller drives (121..128 for
            ``pl_ps_irq0[0..7]``, 136..143 for ``pl_ps_irq1[0..7]``).
    """

    controller_base: int
    controller_range: int
    controller_inputs: int
    ps_irq: int


@dataclasses.dataclass(frozen=True)
class PerfModel:
    """Performance-model assumptions of one overlay (the optional ``[perf]`` table).

    They describe how a design *executes* (software scheduling, pipeline overheads, DMA
    behaviour) where that differs from edge-dnn's own engine, so that mirrors of published
    designs can be modeled (``docs/performance.md``). They do not define hardware: they are not
    part of :meth:`OverlayConfig.semantic_dict` (nor of the configuration hash or the generated
    header). Every default is neutral: an overlay without ``[perf]`` is modeled exactly as
    edge-dnn's engine (command streams scheduled with the emulator's cycle model).

    Attributes:
        int8_macs_per_dsp: int8 multiply-accumulates a compute DSP does per DSP cycle: 2 with
            the WP486 packing of edge-dnn's engines; 1 for designs that pack two products per
            DSP only for narrower operands (the PE passes of an int8 convolution then take
            twice as long).
        pass_overhead_cycles: Fabric cycles added to every PE pass (pipeline fill and
            accumulator read-out that the design does not overlap with the next pass).
        layer_at_a_time: Each engine layer is a separate accelerator call started by the ARM:
            it reads its inputs from DDR, writes its output to DDR and does not overlap the
            layers before and after it (the compiled run's on-chip residency and inter-layer
            overlap are ignored). The remaining fields apply only in this mode.
        batch: Images processed by one layer call (``>= 1``); per-call costs (launch, weight
            loads, input restaging) are shared by them, the modeled figures stay per image.
        layer_launch_us: Microseconds per layer call of ARM scheduling and accelerator set-up,
            during which the accelerator idles.
        overlap_activations: Whether a layer's activation loads and stores overlap its compute.
        act_bytes_per_cycle: Activation transfer rate, bytes per fabric cycle (the design's
            activation ports); ``0`` = the sustained DDR bandwidth. Never above the DDR figure.
        group_pixels: Output pixels (per image) of one pixel group; a layer whose weights are
            not resident re-loads all of its weights for every group. ``0`` = weights are
            loaded once per call.
        resident_max_out: Weights stay resident across pixel groups only if they fit the
            weight buffer and the layer has at most this many output channels (``0`` = no
            channel limit).
        feed_channels: Input channels restaged per round when a 1x1 convolution's input patch
            is copied into the PE feeding buffer for each pixel group (overlapped with the
            previous group's compute); ``0`` = no restaging cost.
        feed_round_cycles: Fabric cycles of one restaging round of one pixel group.
        fuse_parallel: Convolutions of a run that read the same input with the same geometry
            run as one call (one launch, one input read, one restaging).
    """

    int8_macs_per_dsp: int = 2
    pass_overhead_cycles: int = 0
    layer_at_a_time: bool = False
    batch: int = 1
    layer_launch_us: float = 0.0
    overlap_activations: bool = True
    act_bytes_per_cycle: float = 0.0
    group_pixels: int = 0
    resident_max_out: int = 0
    feed_channels: int = 0
    feed_round_cycles: int = 0
    fuse_parallel: bool = False


@dataclasses.dataclass(frozen=True)
class BitField:
    """A named bit field of a register: bits ``lsb .. lsb + width - 1``."""

    name: str
    lsb: int
    width: int

    @property
    def mask(self) -> int:
        """Mask of the field in register position."""
        return ((1 << self.width) - 1) << self.lsb


@dataclasses.dataclass(frozen=True)
class Register:
    """One 32-bit AXI-Lite register of the engine.

    Attributes:
        name: Register name (upper-case C identifier).
        offset: Byte offset from the engine's base address (multiple of 4).
        access: ``rw``, ``ro``, ``wo`` or ``w1c`` (write 1 to clear).
        group: ``control``, ``identity`` (read-only configuration words) or ``counter``.
        bits: Named bit fields.
        value: For identity registers, the quantity the word holds (see ``IDENTITY_SOURCES``).
        doc: One-line description (not part of the configuration hash).
    """

    name: str
    offset: int
    access: str
    group: str
    bits: tuple[BitField, ...] = ()
    value: str | None = None
    doc: str = ""

    def field(self, name: str) -> BitField:
        """The bit field ``name``.

        Raises:
            OverlayConfigError: no such field.
        """
        for f in self.bits:
            if f.name == name:
                return f
        raise OverlayConfigError(
            f"register {self.name} has no bit field '{name}' "
            f"(fields: {', '.join(f.name for f in self.bits) or 'none'})"
        )


@dataclasses.dataclass(frozen=True)
class Derived:
    """Quantities derived from an :class:`OverlayConfig`, computed once at construction.

    Attributes:
        pump: DSP cycles per fabric cycle.
        macs_per_cycle: int8 multiply-accumulates per fabric cycle (out x in x pixels).
        macs_per_cycle_int16: int16 MACs per fabric cycle (one per DSP cycle), 0 if unsupported.
        compute_dsps: DSP48E2 slices of the PE array.
        accumulators: Accumulators of the PE array (out_channels x pixels).
        peak_gmacs: int8 peak, 10**9 MAC/s.
        peak_gops: int8 peak, 10**9 operations/s (2 operations per MAC).
        peak_gops_int16: int16 peak, 10**9 operations/s (0 if unsupported).
        input_bits_per_cycle: Activation bits the PE array consumes per cycle.
        weight_bits_per_cycle: Weight bits the PE array consumes per cycle.
        output_bits_per_cycle: Requantized output bits produced per cycle (int8).
        line_buffer_blocks: RAMB36 blocks of the window unit's line buffer (partial rows of
            pooling windows): one true-dual-port block per two buffer words the vector lanes
            consume per cycle (``ceil(vector_lanes / CB / 2)``, ``CB`` = input word bytes).
        line_buffer_words: Capacity of the line buffer in 64-bit words
            (``line_buffer_blocks x LINE_BUFFER_DEPTH``).
        buffer_bytes: Capacity of every buffer, bytes.
        on_chip_bytes: Sum of the buffer capacities.
        stream_bytes_per_cycle: Bytes per fabric cycle of every stream.
        stream_gbps: Bandwidth of every stream, GB/s, capped by its HP port's share.
        role_gbps: Summed bandwidth per stream role, GB/s.
        hp_ports: PS ports in use.
        ddr_peak_gbps: Theoretical DDR bandwidth, GB/s.
        ddr_sustained_gbps: ``ddr_peak_gbps * ddr_efficiency``.
        ddr_bytes_per_cycle: Sustained DDR bytes per fabric cycle.
        identity_words: Value of every identity register, by register name.
        config_hash: sha256 (hex) of the canonical serialisation of the semantic fields.
    """

    pump: int
    macs_per_cycle: int
    macs_per_cycle_int16: int
    compute_dsps: int
    accumulators: int
    peak_gmacs: float
    peak_gops: float
    peak_gops_int16: float
    input_bits_per_cycle: int
    weight_bits_per_cycle: int
    output_bits_per_cycle: int
    line_buffer_blocks: int
    line_buffer_words: int
    buffer_bytes: Mapping[str, int]
    on_chip_bytes: int
    stream_bytes_per_cycle: Mapping[str, int]
    stream_gbps: Mapping[str, float]
    role_gbps: Mapping[str, float]
    hp_ports: tuple[str, ...]
    ddr_peak_gbps: float
    ddr_sustained_gbps: float
    ddr_bytes_per_cycle: float
    identity_words: Mapping[str, int]
    config_hash: str


@dataclasses.dataclass(frozen=True)
class OverlayConfig:
    """One overlay: the engine build for one board, as described by its ``overlay.toml``.

    Construction validates every cross-field rule (an invalid combination raises
    :class:`OverlayConfigError` naming the file and key) and computes :attr:`derived`.
    Use :func:`load_overlay` rather than the constructor.

    Attributes:
        name: Overlay name (the folder name under ``overlays/``).
        version: Engine version ``MAJOR.MINOR.PATCH``.
        board: Board name (informational).
        part: Vivado part string (``xczu7ev-ffvc1156-2-e``).
        description: Free text (informational).
        clocks, pe, memory, engine, interrupts: See the section classes.
        perf: Performance-model assumptions (optional ``[perf]`` table, not hashed).
        buffers: The four buffers, in ``BUFFER_NAMES`` order.
        streams: AXI-Stream interfaces, in file order.
        dmas: AXI DMA instances, in file order.
        registers: AXI-Lite registers, sorted by offset.
        source: The file the configuration was read from (``None`` if built in memory).
        derived: Derived quantities (not an init argument).
    """

    name: str
    version: str
    board: str
    part: str
    description: str
    clocks: Clocks
    pe: PEArray
    buffers: tuple[Buffer, ...]
    memory: Memory
    streams: tuple[Stream, ...]
    engine: Engine
    dmas: tuple[Dma, ...]
    interrupts: Interrupts
    registers: tuple[Register, ...]
    perf: PerfModel = dataclasses.field(default_factory=PerfModel)
    source: Path | None = dataclasses.field(default=None, compare=False)
    derived: Derived = dataclasses.field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _validate(self)
        object.__setattr__(self, "registers", tuple(sorted(self.registers, key=lambda r: r.offset)))
        object.__setattr__(self, "derived", _derive(self))

    # -- lookups
    @property
    def device(self) -> str:
        """Device name (``xczu7ev``)."""
        return device_of(self.part)

    @property
    def config_hash(self) -> str:
        """sha256 hex digest of the semantic fields (see :meth:`semantic_dict`)."""
        return self.derived.config_hash

    def buffer(self, name: str) -> Buffer:
        """The buffer ``name`` (``input``, ``weight``, ``output``, ``params``)."""
        return _lookup(self.buffers, name, "buffer", self.source)

    def stream(self, name: str) -> Stream:
        """The stream ``name``."""
        return _lookup(self.streams, name, "stream", self.source)

    def streams_with_role(self, role: str) -> tuple[Stream, ...]:
        """Streams of one role, in file order."""
        return tuple(s for s in self.streams if s.role == role)

    def dma(self, name: str) -> Dma:
        """The DMA instance ``name``."""
        return _lookup(self.dmas, name, "dma", self.source)

    def dma_of_stream(self, stream: str) -> tuple[Dma, str]:
        """The DMA and channel (``mm2s`` / ``s2mm``) bound to ``stream``."""
        for d in self.dmas:
            if d.mm2s == stream:
                return d, "mm2s"
            if d.s2mm == stream:
                return d, "s2mm"
        raise OverlayConfigError(f"no DMA channel drives stream '{stream}'", self.source)

    def register(self, name: str) -> Register:
        """The register ``name``."""
        return _lookup(self.registers, name, "register", self.source)

    def semantic_dict(self) -> dict[str, Any]:
        """The fields that define the hardware, as plain JSON-ready data.

        Excluded (informational only): ``name``, ``board``, ``description``, register ``doc``
        strings, the ``[perf]`` model assumptions and the source path. Two configurations with
        equal semantic dicts describe the same engine build and have the same
        :attr:`config_hash`.
        """
        return {
            "schema": SCHEMA_VERSION,
            "version": self.version,
            "part": self.part,
            "clocks": dataclasses.asdict(self.clocks),
            "pe": {**dataclasses.asdict(self.pe), "precisions": list(self.pe.precisions)},
            "buffers": {
                b.name: {
                    "memory": b.memory,
                    "banks": b.banks,
                    "depth": b.depth,
                    "width_bits": b.width_bits,
                }
                for b in self.buffers
            },
            "memory": dataclasses.asdict(self.memory),
            "streams": {s.name: {"role": s.role, "width_bits": s.width_bits} for s in self.streams},
            "engine": dataclasses.asdict(self.engine),
            "dma": {
                d.name: {k: v for k, v in dataclasses.asdict(d).items() if k != "name"}
                for d in self.dmas
            },
            "interrupts": dataclasses.asdict(self.interrupts),
            "registers": {
                r.name: {
                    "offset": r.offset,
                    "access": r.access,
                    "group": r.group,
                    "bits": {f.name: [f.lsb, f.width] for f in r.bits},
                    "value": r.value,
                }
                for r in self.registers
            },
        }

    def summary(self) -> str:
        """One line: name, part, PE dims, clocks, peak GOPS."""
        d = self.derived
        clock = f"{self.clocks.fabric_mhz:g} MHz"
        if d.pump > 1:
            clock += f" (DSP {self.clocks.dsp_mhz:g} MHz)"
        return (
            f"{self.name} v{self.version} on {self.part}: PE {self.pe.out_channels}x"
            f"{self.pe.in_channels}x{self.pe.pixels} (out x in x pixels), {clock}, "
            f"{d.macs_per_cycle} MAC/cycle, {d.peak_gops:.0f} GOPS int8, "
            f"{d.on_chip_bytes / 1024:.0f} KiB buffers, hash {self.config_hash[:16]}"
        )


def _lookup(items: Sequence[Any], name: str, what: str, source: Path | None) -> Any:
    for it in items:
        if it.name == name:
            return it
    known = ", ".join(it.name for it in items)
    raise OverlayConfigError(f"no {what} named '{name}' (known: {known})", source)


# ---------------------------------------------------------------------------- identity words
def version_word(version: str) -> int:
    """``MAJOR.MINOR.PATCH`` packed as ``major<<16 | minor<<8 | patch`` (the ID_VERSION word)."""
    m = _VERSION_RE.match(version)
    if m is None:
        raise OverlayConfigError(f"version must be MAJOR.MINOR.PATCH, got '{version}'")
    major, minor, patch = (int(g) for g in m.groups())
    return (major << 16) | (minor << 8) | patch


def _identity_sources(cfg: OverlayConfig, digest: bytes) -> dict[str, int]:
    pe = cfg.pe
    return {
        "magic": IDENTITY_MAGIC,
        "version": version_word(cfg.version),
        "schema": SCHEMA_VERSION,
        "config_hash0": int.from_bytes(digest[0:4], "big"),
        "config_hash1": int.from_bytes(digest[4:8], "big"),
        "pe_dims": pe.out_channels
        | (pe.in_channels << 8)
        | (pe.pixels << 16)
        | (cfg.clocks.pump << 24),
        "clocks_mhz": round(cfg.clocks.fabric_mhz) | (round(cfg.clocks.dsp_mhz) << 16),
        "precisions": sum(1 << PRECISIONS.index(p) for p in pe.precisions),
        "lanes": pe.requant_lanes | (pe.vector_lanes << 16),
        **{f"{b.name}_bytes": b.capacity_bytes for b in cfg.buffers},
    }


IDENTITY_SOURCES: tuple[str, ...] = (
    "magic",
    "version",
    "schema",
    "config_hash0",
    "config_hash1",
    "pe_dims",
    "clocks_mhz",
    "precisions",
    "lanes",
    "input_bytes",
    "weight_bytes",
    "output_bytes",
    "params_bytes",
)
"""Quantities an identity register can hold (its ``value`` key). Encodings:
``magic`` = 0x45444E4E ("EDNN"); ``version`` = major<<16 | minor<<8 | patch;
``config_hash0``/``config_hash1`` = bytes 0-3 / 4-7 of the sha256 digest, big-endian;
``pe_dims`` = out | in<<8 | pixels<<16 | pump<<24; ``clocks_mhz`` = fabric | dsp<<16 (rounded);
``precisions`` = bit 0 int8, bit 1 int16; ``lanes`` = requant | vector<<16;
``<buffer>_bytes`` = capacity in bytes."""
REQUIRED_IDENTITY = ("magic", "version", "config_hash0", "config_hash1")
REQUIRED_BITS = MappingProxyType({"CONTROL": ("START",), "STATUS": ("DONE", "ERROR")})


# ---------------------------------------------------------------------------- derivation
def _canonical_json(data: Any) -> str:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _derive(cfg: OverlayConfig) -> Derived:
    pe, clk = cfg.pe, cfg.clocks
    pump = clk.pump
    macs = pe.out_channels * pe.in_channels * pe.pixels
    compute_dsps = macs // (PACKED_INT8_MACS_PER_DSP * pump)
    macs16 = compute_dsps * pump if "int16" in pe.precisions else 0
    f = clk.fabric_mhz
    # Each PS port carries at most hp_port_bits per cycle in each direction; streams sharing a
    # port direction split it in proportion to their widths.
    port_bits = cfg.memory.hp_port_bits
    demand: dict[tuple[str, str], int] = {}
    for s in cfg.streams:
        d, _ = cfg.dma_of_stream(s.name)
        key = (d.hp_port, s.direction)
        demand[key] = demand.get(key, 0) + s.width_bits
    stream_gbps: dict[str, float] = {}
    for s in cfg.streams:
        d, _ = cfg.dma_of_stream(s.name)
        total = demand[(d.hp_port, s.direction)]
        share = s.width_bits * min(1.0, port_bits / total)
        stream_gbps[s.name] = share / 8 * f / 1000.0
    role_gbps = {
        r: sum(stream_gbps[s.name] for s in cfg.streams_with_role(r)) for r in STREAM_ROLES
    }
    digest = hashlib.sha256(_canonical_json(cfg.semantic_dict()).encode("ascii")).digest()
    sources = _identity_sources(cfg, digest)
    identity = {
        r.name: sources[r.value] for r in cfg.registers if r.group == "identity" and r.value
    }
    for rname, v in identity.items():
        if not 0 <= v < (1 << 32):
            raise OverlayConfigError(
                f"identity word value {v} does not fit in 32 bits", cfg.source, f"registers.{rname}"
            )
    sustained = cfg.memory.ddr_peak_gbps * cfg.memory.ddr_efficiency
    word_bytes = max(1, cfg.buffer("input").width_bits // 8)
    line_blocks = max(1, -(-pe.vector_lanes // (2 * word_bytes)))
    return Derived(
        pump=pump,
        macs_per_cycle=macs,
        macs_per_cycle_int16=macs16,
        compute_dsps=compute_dsps,
        accumulators=pe.out_channels * pe.pixels,
        peak_gmacs=macs * f / 1000.0,
        peak_gops=2 * macs * f / 1000.0,
        peak_gops_int16=2 * macs16 * f / 1000.0,
        input_bits_per_cycle=pe.in_channels * pe.pixels * 8,
        weight_bits_per_cycle=pe.out_channels * pe.in_channels * 8,
        output_bits_per_cycle=pe.requant_lanes * 8,
        line_buffer_blocks=line_blocks,
        line_buffer_words=line_blocks * LINE_BUFFER_DEPTH,
        buffer_bytes=MappingProxyType({b.name: b.capacity_bytes for b in cfg.buffers}),
        on_chip_bytes=sum(b.capacity_bytes for b in cfg.buffers),
        stream_bytes_per_cycle=MappingProxyType({s.name: s.bytes_per_beat for s in cfg.streams}),
        stream_gbps=MappingProxyType(stream_gbps),
        role_gbps=MappingProxyType(role_gbps),
        hp_ports=tuple(sorted({d.hp_port for d in cfg.dmas}, key=HP_PORTS.index)),
        ddr_peak_gbps=cfg.memory.ddr_peak_gbps,
        ddr_sustained_gbps=sustained,
        ddr_bytes_per_cycle=sustained * 1000.0 / f,
        identity_words=MappingProxyType(identity),
        config_hash=digest.hex(),
    )


# ---------------------------------------------------------------------------- validation
def _validate(cfg: OverlayConfig) -> None:
    """Cross-field rules; per-key type and range checks happen while parsing."""
    src = cfg.source

    def fail(key: str, msg: str) -> NoReturn:
        raise OverlayConfigError(msg, src, key)

    if not _NAME_RE.match(cfg.name):
        fail("overlay.name", f"must match [a-z][a-z0-9_]*, got '{cfg.name}'")
    vm = _VERSION_RE.match(cfg.version)
    if vm is None:
        fail("overlay.version", f"must be MAJOR.MINOR.PATCH, got '{cfg.version}'")
    else:
        major, minor, patch = (int(g) for g in vm.groups())
        if major > 0xFFFF or minor > 0xFF or patch > 0xFF:
            fail(
                "overlay.version",
                "major must be <= 65535 and minor, patch <= 255 "
                "(they are packed into one identity word)",
            )
    if not _PART_RE.match(cfg.part):
        fail(
            "overlay.part",
            f"'{cfg.part}' is not a Zynq UltraScale+ part string like 'xczu7ev-ffvc1156-2-e'",
        )
    if cfg.device not in PARTS:
        fail("overlay.part", f"unknown device '{cfg.device}'; known: {', '.join(PARTS)}")
    part = PARTS[cfg.device]

    clk = cfg.clocks
    if not 50.0 <= clk.fabric_mhz <= 500.0:
        fail("clocks.fabric_mhz", f"must be in [50, 500] MHz, got {clk.fabric_mhz:g}")
    ratio = clk.dsp_mhz / clk.fabric_mhz
    if not (math.isclose(ratio, 1.0) or math.isclose(ratio, 2.0)):
        fail(
            "clocks.dsp_mhz",
            f"must equal fabric_mhz or twice it (double-pumped), got "
            f"{clk.dsp_mhz:g} with fabric_mhz {clk.fabric_mhz:g}",
        )

    pe = cfg.pe
    for key in ("out_channels", "in_channels", "pixels"):
        v = getattr(pe, key)
        if not 1 <= v <= 255:
            fail(f"pe.{key}", f"must be in [1, 255] (one byte of the identity word), got {v}")
    if pe.out_channels % 2:
        fail(
            "pe.out_channels",
            f"must be even: two int8 weights of two output channels share "
            f"one DSP48E2, got {pe.out_channels}",
        )
    macs = pe.out_channels * pe.in_channels * pe.pixels
    if macs % (PACKED_INT8_MACS_PER_DSP * clk.pump):
        fail(
            "pe.in_channels",
            f"a double-pumped array needs out x in x pixels divisible by "
            f"{PACKED_INT8_MACS_PER_DSP * clk.pump}, got {macs}",
        )
    for key in ("requant_lanes", "vector_lanes"):
        v = getattr(pe, key)
        if not 1 <= v <= 0xFFFF:
            fail(f"pe.{key}", f"must be in [1, 65535], got {v}")
    if pe.requant_lanes > pe.out_channels * pe.pixels:
        fail(
            "pe.requant_lanes",
            f"more lanes ({pe.requant_lanes}) than accumulators "
            f"({pe.out_channels * pe.pixels}) is pointless",
        )
    if pe.acc_bits != ACC_BITS:
        fail(
            "pe.acc_bits",
            f"the arithmetic contract fixes {ACC_BITS}-bit accumulators, got {pe.acc_bits}",
        )
    if not pe.precisions or pe.precisions[0] != "int8":
        fail("pe.precisions", f"must start with 'int8', got {list(pe.precisions)}")
    if len(set(pe.precisions)) != len(pe.precisions):
        fail("pe.precisions", f"duplicate entries in {list(pe.precisions)}")

    names = tuple(b.name for b in cfg.buffers)
    if names != BUFFER_NAMES:
        fail(
            "buffers",
            f"must define exactly {', '.join(BUFFER_NAMES)} (in that order), "
            f"got {', '.join(names)}",
        )
    need = {
        "input": (pe.in_channels * pe.pixels * 8, "in_channels x pixels x 8"),
        "weight": (pe.out_channels * pe.in_channels * 8, "out_channels x in_channels x 8"),
        "output": (pe.requant_lanes * 8, "requant_lanes x 8"),
        "params": (
            pe.out_channels * PARAM_BITS_PER_CHANNEL,
            f"out_channels x {PARAM_BITS_PER_CHANNEL}",
        ),
    }
    for b in cfg.buffers:
        if b.memory == "uram" and part.uram == 0:
            fail(f"buffers.{b.name}.memory", f"'uram' but {cfg.device} has no UltraRAM")
        if b.width_bits % 8:
            fail(f"buffers.{b.name}.width_bits", f"must be a multiple of 8, got {b.width_bits}")
        bits, formula = need[b.name]
        if b.port_bits < bits:
            fail(
                f"buffers.{b.name}.width_bits",
                f"banks x width_bits = {b.port_bits} bits is "
                f"narrower than the PE array needs per cycle ({formula} = {bits} bits)",
            )

    roles = [s.role for s in cfg.streams]
    snames = [s.name for s in cfg.streams]
    for s in cfg.streams:
        if not _NAME_RE.match(s.name):
            fail(f"streams.{s.name}", "stream names must match [a-z][a-z0-9_]*")
        if s.width_bits not in (32, 64, 128, 256, 512, 1024):
            fail(
                f"streams.{s.name}.width_bits",
                f"must be a power of two in [32, 1024], got {s.width_bits}",
            )
    if roles.count("cmd") != 1:
        fail("streams", f"exactly one stream must have role 'cmd', found {roles.count('cmd')}")
    for r in ("weights", "act_in", "act_out"):
        if r not in roles:
            fail("streams", f"no stream has role '{r}'")

    bound: dict[str, str] = {}
    irqs: dict[int, str] = {cfg.engine.irq: "engine.irq"}
    # (base, size, key of the base, key of the size)
    windows: list[tuple[int, int, str, str]] = [
        (
            cfg.engine.base_address,
            cfg.engine.address_range,
            "engine.base_address",
            "engine.address_range",
        ),
        (
            cfg.interrupts.controller_base,
            cfg.interrupts.controller_range,
            "interrupts.controller_base",
            "interrupts.controller_range",
        ),
    ]
    for d in cfg.dmas:
        k = f"dma.{d.name}"
        if not _NAME_RE.match(d.name):
            fail(k, "DMA names must match [a-z][a-z0-9_]*")
        if d.mm2s is None and d.s2mm is None:
            fail(k, "a DMA needs an mm2s or an s2mm stream")
        for ch, sname, irq in (("mm2s", d.mm2s, d.mm2s_irq), ("s2mm", d.s2mm, d.s2mm_irq)):
            if sname is None:
                if irq is not None:
                    fail(f"{k}.{ch}_irq", f"given but the DMA has no {ch} stream")
                continue
            if sname not in snames:
                fail(f"{k}.{ch}", f"unknown stream '{sname}' (streams: {', '.join(snames)})")
            want = "in" if ch == "mm2s" else "out"
            if cfg.stream(sname).direction != want:
                fail(
                    f"{k}.{ch}",
                    f"stream '{sname}' has role '{cfg.stream(sname).role}', "
                    f"which flows {cfg.stream(sname).direction}, not {want}",
                )
            if sname in bound:
                fail(f"{k}.{ch}", f"stream '{sname}' is already driven by {bound[sname]}")
            bound[sname] = f"{k}.{ch}"
            if irq is None:
                fail(f"{k}.{ch}_irq", f"missing interrupt input of the {ch} channel")
            else:
                if irq in irqs:
                    fail(f"{k}.{ch}_irq", f"interrupt input {irq} already used by {irqs[irq]}")
                irqs[irq] = f"{k}.{ch}_irq"
        windows.append((d.base_address, d.address_range, f"{k}.base_address", f"{k}.address_range"))
    for sname in snames:
        if sname not in bound:
            fail(f"streams.{sname}", "no DMA channel drives this stream")
    for irq, where in irqs.items():
        if not 0 <= irq < cfg.interrupts.controller_inputs:
            fail(
                where,
                f"interrupt input {irq} outside the controller's "
                f"{cfg.interrupts.controller_inputs} inputs",
            )
    if cfg.interrupts.ps_irq not in PL_PS_IRQ_IDS:
        fail(
            "interrupts.ps_irq",
            f"{cfg.interrupts.ps_irq} is not a PL-to-PS interrupt ID (121..128 or 136..143)",
        )
    if not 1 <= cfg.interrupts.controller_inputs <= 32:
        fail("interrupts.controller_inputs", "axi_intc has 1..32 inputs")

    for base, size, key, size_key in windows:
        if size < 4096 or size & (size - 1):
            fail(size_key, f"must be a power of two >= 4096, got {size:#x}")
        if base % size:
            fail(key, f"{base:#x} is not aligned to its range {size:#x}")
        if not any(lo <= base and base + size - 1 <= hi for lo, hi, _ in PL_ADDRESS_WINDOWS):
            fail(
                key,
                f"{base:#x}..{base + size - 1:#x} is outside the PS's PL slave windows ("
                + ", ".join(f"{n} {lo:#x}-{hi:#x}" for lo, hi, n in PL_ADDRESS_WINDOWS)
                + ")",
            )
    ws = sorted(windows)
    for (b0, s0, k0, _), (b1, _s1, k1, _) in itertools.pairwise(ws):
        if b0 + s0 > b1:
            fail(k1, f"address window {b1:#x} overlaps {k0} ({b0:#x} + {s0:#x})")

    _validate_registers(cfg, fail)


def _validate_registers(cfg: OverlayConfig, fail: Callable[[str, str], NoReturn]) -> None:
    offsets: dict[int, str] = {}
    values: dict[str, str] = {}
    names = {r.name for r in cfg.registers}
    for r in cfg.registers:
        k = f"registers.{r.name}"
        if not _C_NAME_RE.match(r.name):
            fail(k, "register names must be upper-case C identifiers")
        if r.offset % 4:
            fail(f"{k}.offset", f"must be a multiple of 4, got {r.offset:#x}")
        if r.offset + 4 > cfg.engine.address_range:
            fail(
                f"{k}.offset",
                f"{r.offset:#x} is beyond engine.address_range {cfg.engine.address_range:#x}",
            )
        if r.offset in offsets:
            fail(f"{k}.offset", f"{r.offset:#x} is also the offset of {offsets[r.offset]}")
        offsets[r.offset] = r.name
        used = 0
        for f in r.bits:
            if not _C_NAME_RE.match(f.name):
                fail(f"{k}.bits.{f.name}", "field names must be upper-case C identifiers")
            if f.width < 1 or f.lsb < 0 or f.lsb + f.width > 32:
                fail(
                    f"{k}.bits.{f.name}",
                    f"bits {f.lsb}..{f.lsb + f.width - 1} are outside a 32-bit register",
                )
            if used & f.mask:
                fail(f"{k}.bits.{f.name}", "overlaps another field of the register")
            used |= f.mask
        if r.group == "identity":
            if r.access != "ro":
                fail(f"{k}.access", "identity registers are read-only ('ro')")
            if r.value is None:
                fail(
                    f"{k}.value",
                    f"identity registers need a 'value' (one of {', '.join(IDENTITY_SOURCES)})",
                )
            elif r.value in values:
                fail(f"{k}.value", f"'{r.value}' is already held by {values[r.value]}")
            else:
                values[r.value] = r.name
        elif r.value is not None:
            fail(f"{k}.value", "only identity registers have a 'value'")
        if r.group == "counter" and r.access != "ro":
            fail(f"{k}.access", "counters are read-only ('ro'); clear them with a control bit")
    for v in REQUIRED_IDENTITY:
        if v not in values:
            fail(
                "registers",
                f"no identity register holds '{v}' (required: {', '.join(REQUIRED_IDENTITY)})",
            )
    for reg, fields in REQUIRED_BITS.items():
        if reg not in names:
            fail("registers", f"required register {reg} is missing")
        have = {f.name for f in cfg.register(reg).bits}
        for fname in fields:
            if fname not in have:
                fail(f"registers.{reg}.bits", f"required bit field {fname} is missing")


# ---------------------------------------------------------------------------- TOML parsing
class _Table:
    """A TOML table being parsed: typed getters that name the file and dotted key on error."""

    def __init__(self, data: Any, prefix: str, path: Path | None) -> None:
        self.prefix = prefix
        self.path = path
        if not isinstance(data, dict):
            raise OverlayConfigError(f"must be a table, got {_tname(data)}", path, prefix or None)
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def key(self, k: str) -> str:
        return f"{self.prefix}.{k}" if self.prefix else k

    def fail(self, k: str, msg: str) -> OverlayConfigError:
        return OverlayConfigError(msg, self.path, self.key(k))

    def has(self, k: str) -> bool:
        return k in self.data

    def raw(self, k: str) -> Any:
        self.used.add(k)
        if k not in self.data:
            raise self.fail(k, "missing required key")
        return self.data[k]

    def get_int(self, k: str, lo: int | None = None, hi: int | None = None) -> int:
        v = self.raw(k)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(k, f"must be an integer, got {_tname(v)} {v!r}")
        if lo is not None and v < lo:
            raise self.fail(k, f"must be >= {lo}, got {v}")
        if hi is not None and v > hi:
            raise self.fail(k, f"must be <= {hi}, got {v}")
        return v

    def opt_int(self, k: str, lo: int | None = None, hi: int | None = None) -> int | None:
        return self.get_int(k, lo, hi) if k in self.data else None

    def get_float(self, k: str, lo: float, hi: float) -> float:
        v = self.raw(k)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(k, f"must be a number, got {_tname(v)} {v!r}")
        if not lo <= v <= hi:
            raise self.fail(k, f"must be in [{lo:g}, {hi:g}], got {v:g}")
        return float(v)

    def get_str(self, k: str, choices: Sequence[str] | None = None) -> str:
        v = self.raw(k)
        if not isinstance(v, str):
            raise self.fail(k, f"must be a string, got {_tname(v)} {v!r}")
        if choices is not None and v not in choices:
            raise self.fail(k, f"must be one of {', '.join(choices)}, got '{v}'")
        return v

    def opt_str(self, k: str, default: str | None = None) -> str | None:
        return self.get_str(k) if k in self.data else default

    def get_bool(self, k: str) -> bool:
        v = self.raw(k)
        if not isinstance(v, bool):
            raise self.fail(k, f"must be true or false, got {_tname(v)} {v!r}")
        return v

    def str_list(self, k: str, choices: Sequence[str]) -> tuple[str, ...]:
        v = self.raw(k)
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.fail(k, f"must be a list of strings, got {v!r}")
        for x in v:
            if x not in choices:
                raise self.fail(k, f"unknown entry '{x}'; allowed: {', '.join(choices)}")
        return tuple(v)

    def table(self, k: str) -> _Table:
        return _Table(self.raw(k), self.key(k), self.path)

    def subtables(self) -> Iterator[tuple[str, _Table]]:
        for k in self.data:
            yield k, self.table(k)

    def done(self) -> None:
        extra = [k for k in self.data if k not in self.used]
        if extra:
            k = extra[0]
            close = difflib.get_close_matches(k, list(self.used), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise self.fail(k, f"unknown key{hint}")


def _tname(v: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        list: "array",
        dict: "table",
    }.get(type(v), type(v).__name__)


_ADDR_MAX = (1 << 40) - 1  # the PS address map is 40 bits wide


def parse_overlay(data: Mapping[str, Any], source: str | Path | None = None) -> OverlayConfig:
    """Build an :class:`OverlayConfig` from parsed TOML data.

    Args:
        data: The document as returned by ``tomllib.loads``.
        source: The file it came from, used in error messages.

    Returns:
        The validated configuration.

    Raises:
        OverlayConfigError: A key is missing, unknown, of the wrong type or out of range, or a
            cross-field rule is violated; the message names the file and the dotted key.
    """
    path = Path(source) if source is not None else None
    top = _Table(dict(data), "", path)
    schema = top.get_int("schema")
    if schema != SCHEMA_VERSION:
        raise top.fail("schema", f"this edge-dnn reads schema {SCHEMA_VERSION}, got {schema}")

    ov = top.table("overlay")
    name, version = ov.get_str("name"), ov.get_str("version")
    board, part = ov.get_str("board"), ov.get_str("part")
    description = ov.opt_str("description", "") or ""
    ov.done()

    ck = top.table("clocks")
    clocks = Clocks(ck.get_float("fabric_mhz", 1.0, 2000.0), ck.get_float("dsp_mhz", 1.0, 2000.0))
    ck.done()

    pt = top.table("pe")
    pe = PEArray(
        out_channels=pt.get_int("out_channels", 1),
        in_channels=pt.get_int("in_channels", 1),
        pixels=pt.get_int("pixels", 1),
        requant_lanes=pt.get_int("requant_lanes", 1),
        vector_lanes=pt.get_int("vector_lanes", 1),
        acc_bits=pt.get_int("acc_bits", 1),
        precisions=pt.str_list("precisions", PRECISIONS),
    )
    pt.done()

    bt = top.table("buffers")
    for k in bt.data:
        if k not in BUFFER_NAMES:
            close = difflib.get_close_matches(k, BUFFER_NAMES, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise bt.fail(k, f"unknown buffer (buffers are {', '.join(BUFFER_NAMES)}){hint}")
    buffers = []
    for bname in BUFFER_NAMES:
        b = bt.table(bname)
        buffers.append(
            Buffer(
                name=bname,
                memory=b.get_str("memory", MEMORY_TYPES),
                banks=b.get_int("banks", 1, 4096),
                depth=b.get_int("depth", 1, 1 << 24),
                width_bits=b.get_int("width_bits", 8, 1 << 16),
            )
        )
        b.done()
    bt.done()

    mt = top.table("memory")
    memory = Memory(
        ddr_type=mt.get_str("ddr_type"),
        ddr_bus_bits=mt.get_int("ddr_bus_bits", 8, 256),
        ddr_mts=mt.get_float("ddr_mts", 100.0, 10000.0),
        ddr_size_mib=mt.get_int("ddr_size_mib", 1),
        ddr_efficiency=mt.get_float("ddr_efficiency", 0.01, 1.0),
        hp_port_bits=mt.get_int("hp_port_bits", 32, 128),
    )
    if memory.hp_port_bits not in (32, 64, 128):
        raise mt.fail("hp_port_bits", f"must be 32, 64 or 128, got {memory.hp_port_bits}")
    mt.done()

    st = top.table("streams")
    streams = []
    for sname, s in st.subtables():
        streams.append(Stream(sname, s.get_str("role", STREAM_ROLES), s.get_int("width_bits", 8)))
        s.done()
    st.done()

    et = top.table("engine")
    engine = Engine(
        base_address=et.get_int("base_address", 0, _ADDR_MAX),
        address_range=et.get_int("address_range", 1, _ADDR_MAX),
        irq=et.get_int("irq", 0),
    )
    et.done()

    dt = top.table("dma")
    dmas = []
    for dname, d in dt.subtables():
        dmas.append(
            Dma(
                name=dname,
                base_address=d.get_int("base_address", 0, _ADDR_MAX),
                address_range=d.get_int("address_range", 1, _ADDR_MAX),
                hp_port=d.get_str("hp_port", HP_PORTS),
                mm2s=d.opt_str("mm2s"),
                s2mm=d.opt_str("s2mm"),
                mm2s_irq=d.opt_int("mm2s_irq", 0),
                s2mm_irq=d.opt_int("s2mm_irq", 0),
                scatter_gather=d.get_bool("scatter_gather"),
                sg_length_width=d.get_int("sg_length_width", 8, 26),
                addr_width=d.get_int("addr_width", 32, 64),
            )
        )
        if dmas[-1].addr_width not in (32, 64):
            raise d.fail("addr_width", f"must be 32 or 64, got {dmas[-1].addr_width}")
        d.done()
    dt.done()

    it = top.table("interrupts")
    interrupts = Interrupts(
        controller_base=it.get_int("controller_base", 0, _ADDR_MAX),
        controller_range=it.get_int("controller_range", 1, _ADDR_MAX),
        controller_inputs=it.get_int("controller_inputs", 1),
        ps_irq=it.get_int("ps_irq", 0),
    )
    it.done()

    rt = top.table("registers")
    registers = []
    for rname, r in rt.subtables():
        bits: list[BitField] = []
        if r.has("bits"):
            bt2 = r.table("bits")
            for fname in bt2.data:
                v = bt2.raw(fname)
                if isinstance(v, int) and not isinstance(v, bool):
                    bits.append(BitField(fname, v, 1))
                elif (
                    isinstance(v, list)
                    and len(v) == 2
                    and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
                    and v[0] <= v[1]
                ):
                    bits.append(BitField(fname, v[0], v[1] - v[0] + 1))
                else:
                    raise bt2.fail(fname, f"must be a bit number or [lsb, msb], got {v!r}")
        value = r.opt_str("value")
        if value is not None and value not in IDENTITY_SOURCES:
            raise r.fail(
                "value", f"unknown identity value '{value}'; allowed: {', '.join(IDENTITY_SOURCES)}"
            )
        registers.append(
            Register(
                name=rname,
                offset=r.get_int("offset", 0),
                access=r.get_str("access", REGISTER_ACCESS),
                group=r.get_str("group", REGISTER_GROUPS),
                bits=tuple(bits),
                value=value,
                doc=r.opt_str("doc", "") or "",
            )
        )
        r.done()
    rt.done()

    perf = PerfModel()
    if top.has("perf"):
        pf = top.table("perf")
        perf = PerfModel(
            int8_macs_per_dsp=_opt(
                pf, pf.get_int, "int8_macs_per_dsp", perf.int8_macs_per_dsp, 1, 2
            ),
            pass_overhead_cycles=_opt(
                pf, pf.get_int, "pass_overhead_cycles", perf.pass_overhead_cycles, 0, 1 << 16
            ),
            layer_at_a_time=_opt(pf, pf.get_bool, "layer_at_a_time", perf.layer_at_a_time),
            batch=_opt(pf, pf.get_int, "batch", perf.batch, 1, 64),
            layer_launch_us=_opt(
                pf, pf.get_float, "layer_launch_us", perf.layer_launch_us, 0.0, 1e6
            ),
            overlap_activations=_opt(
                pf, pf.get_bool, "overlap_activations", perf.overlap_activations
            ),
            act_bytes_per_cycle=_opt(
                pf, pf.get_float, "act_bytes_per_cycle", perf.act_bytes_per_cycle, 0.0, 1e6
            ),
            group_pixels=_opt(pf, pf.get_int, "group_pixels", perf.group_pixels, 0, 1 << 20),
            resident_max_out=_opt(
                pf, pf.get_int, "resident_max_out", perf.resident_max_out, 0, 1 << 20
            ),
            feed_channels=_opt(pf, pf.get_int, "feed_channels", perf.feed_channels, 0, 1 << 16),
            feed_round_cycles=_opt(
                pf, pf.get_int, "feed_round_cycles", perf.feed_round_cycles, 0, 1 << 20
            ),
            fuse_parallel=_opt(pf, pf.get_bool, "fuse_parallel", perf.fuse_parallel),
        )
        pf.done()
    top.done()

    return OverlayConfig(
        name=name,
        version=version,
        board=board,
        part=part,
        description=description,
        clocks=clocks,
        pe=pe,
        buffers=tuple(buffers),
        memory=memory,
        streams=tuple(streams),
        engine=engine,
        dmas=tuple(dmas),
        interrupts=interrupts,
        registers=tuple(registers),
        perf=perf,
        source=path,
    )


def _opt(table: _Table, getter: Callable[..., Any], key: str, default: Any, *limits: Any) -> Any:
    """``getter(key, *limits)`` when ``key`` is present in ``table``, else ``default``."""
    return getter(key, *limits) if table.has(key) else default


def read_overlay_file(path: str | Path) -> OverlayConfig:
    """Read and validate one ``overlay.toml``.

    Raises:
        OverlayConfigError: The file cannot be read, is not valid TOML, or is invalid.
    """
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as e:
        raise OverlayConfigError(f"cannot read: {e.strerror or e}", p) from None
    except UnicodeDecodeError as e:
        raise OverlayConfigError(f"not UTF-8 text: {e}", p) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise OverlayConfigError(f"invalid TOML: {e}", p) from None
    return parse_overlay(data, p)


# ---------------------------------------------------------------------------- finding overlays
def repo_overlays_dir() -> Path:
    """``overlays/`` of the source checkout this package lives in (may not exist when installed)."""
    return Path(__file__).resolve().parents[2] / "overlays"


def packaged_overlays_dir() -> Path:
    """``edge_dnn/overlay/_data``: the copy of ``overlays/`` shipped inside the package.

    In a checkout it is a symlink to ``../../overlays``; wheels and sdists contain real files.
    """
    return Path(__file__).resolve().parent / "_data"


def overlay_search_path() -> list[Path]:
    """Folders searched for ``<name>/overlay.toml``, in order, duplicates removed.

    ``$EDGE_DNN_OVERLAYS`` entries first, then the packaged copy, then the checkout's
    ``overlays/``. Only existing folders are returned.
    """
    env = os.environ.get(ENV_OVERLAY_PATH, "")
    cands = [Path(p) for p in env.split(os.pathsep) if p]
    cands += [packaged_overlays_dir(), repo_overlays_dir()]
    out: list[Path] = []
    seen: set[Path] = set()
    for c in cands:
        try:
            r = c.resolve()
        except OSError:
            continue
        if r.is_dir() and r not in seen:
            seen.add(r)
            out.append(c)
    return out


def list_overlays() -> list[str]:
    """Names of all overlays on the search path, sorted (first occurrence of a name wins)."""
    names: set[str] = set()
    for d in overlay_search_path():
        names.update(p.parent.name for p in d.glob(f"*/{CONFIG_FILE}"))
    return sorted(names)


def find_overlay(name: str) -> Path:
    """Path of ``<name>/overlay.toml`` on the search path.

    Raises:
        OverlayNotFoundError: no such overlay; the message lists the known ones.
    """
    for d in overlay_search_path():
        p = d / name / CONFIG_FILE
        if p.is_file():
            return p
    dirs = ", ".join(str(d) for d in overlay_search_path()) or "(none exist)"
    raise OverlayNotFoundError(
        f"no overlay named '{name}'; known: {', '.join(list_overlays()) or 'none'}; "
        f"searched {dirs} (add folders with ${ENV_OVERLAY_PATH})"
    )


def load_overlay(name_or_path: str | os.PathLike[str]) -> OverlayConfig:
    """Load an overlay configuration by name or by path.

    Args:
        name_or_path: An overlay name (``"zcu104"``, looked up on :func:`overlay_search_path`),
            a path to an ``overlay.toml``, or a path to the folder that contains one.

    Returns:
        The validated, frozen configuration with its derived values.

    Raises:
        OverlayNotFoundError: unknown name or missing file.
        OverlayConfigError: invalid file (message names the file and key).
    """
    s = os.fspath(name_or_path)
    looks_like_path = (
        isinstance(name_or_path, os.PathLike) or os.sep in s or "/" in s or s.endswith(".toml")
    )
    if looks_like_path or not _NAME_RE.match(s):
        p = Path(s)
        if p.is_dir():
            p = p / CONFIG_FILE
        if not p.is_file():
            raise OverlayNotFoundError(f"no overlay configuration at {p}", p)
        return read_overlay_file(p)
    path = find_overlay(s)
    cfg = read_overlay_file(path)
    if cfg.name != s:
        raise OverlayConfigError(
            f"overlay.name is '{cfg.name}' but the file is in folder '{s}'; they must agree",
            path,
            "overlay.name",
        )
    return cfg
