"""The Vivado / Vitis HLS build of an overlay, generated from its ``overlay.toml``.

``overlays/<name>/build/`` holds, for every product overlay (not the two mirrors of published
designs, :data:`MIRROR_OVERLAYS`), a ``Makefile`` and three Tcl scripts:

* ``hls.tcl`` (Vitis HLS): synthesizes the engine's HLS source (``overlays/_common/hls/*.cpp``,
  including ``overlays/<name>/generated/edge_dnn_config.h``) for the overlay's part and fabric
  clock, and exports it as the IP :data:`ENGINE_VLNV`.
* ``bd.tcl`` (Vivado IP integrator): the block design: Zynq UltraScale+ PS with the board
  preset, the PS ports named by ``[dma.*].hp_port``, one AXI DMA (PG021) per ``[dma.*]`` with its
  widths, scatter-gather and length settings, the engine, the ``axi_intc`` PYNQ needs, the fabric
  and DSP clocks of ``[clocks]`` and the address map of ``base_address`` / ``address_range``.
* ``build.tcl`` (Vivado, batch): project, board part, block design, synthesis, implementation,
  bitstream; copies the results to ``build/out/`` as :func:`bitstream_name` / :func:`hwh_name`.
* ``Makefile``: runs the two tools in order, then writes :func:`checksum_name` beside the
  bitstream (``sha256sum`` of the ``.bit`` and the ``.hwh``), which ``board_setup.sh`` checks
  before it installs the pair on a board.

Every number in them comes from the :class:`~edge_dnn.overlay.config.OverlayConfig`, so the
hardware cannot disagree with the configuration the compiler and the emulator use. The files are
generated (``python tools/gen_overlay_build.py``) and committed; :func:`check_build_generated`
(CI runs ``tools/gen_overlay_build.py --check``) fails naming each file that no longer matches.
The output is deterministic: no dates, no host paths.

The names the board runtime needs (bitstream, ``.hwh`` and checksum file names, instance names of
the engine and of the interrupt controller, the engine's IP type) are defined here and nowhere
else.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from edge_dnn.overlay.config import (
    PL_ADDRESS_WINDOWS,
    PL_PS_IRQ_IDS,
    Dma,
    OverlayConfig,
    load_overlay,
)
from edge_dnn.overlay.errors import OverlayConfigError, StaleGeneratedFileError

# ---------------------------------------------------------------------------- names and tools
BUILD_DIR = "build"
"""Folder of the generated build files, inside the overlay folder."""
OUTPUT_DIR = "out"
"""Folder (inside :data:`BUILD_DIR`) where ``build.tcl`` puts the bitstream and ``.hwh``."""
GENERATOR = "tools/gen_overlay_build.py"
TOOL_VERSION = "2025.2"
"""Vivado / Vitis HLS release the scripts are written for: the one the PYNQ 4.0.0 images (the
pynq release the runtime pins) were built with. Other releases work (no IP version is pinned);
``build.tcl`` prints a critical warning when the running Vivado differs."""
MIRROR_OVERLAYS = ("chaidnn_zu7_512", "dpu_b4096_zu7")
"""Overlays that mirror published designs for the performance model; never built."""

ENGINE_TOP = "edge_dnn_engine"
"""Top function of the HLS source, and the IP name it is exported as."""
ENGINE_VENDOR = "edge-dnn.org"
ENGINE_LIBRARY = "hls"
ENGINE_IP_VERSION = "1.0"
"""IP version of the exported engine. Fixed: the engine version is in its identity registers."""
ENGINE_VLNV = f"{ENGINE_VENDOR}:{ENGINE_LIBRARY}:{ENGINE_TOP}:{ENGINE_IP_VERSION}"
"""IP type of the engine in the ``.hwh`` (what pynq drivers bind to)."""
AXI_DMA_VLNV_PREFIX = "xilinx.com:ip:axi_dma:"
"""IP type of an AXI DMA without its version."""
AXI_INTC_VLNV_PREFIX = "xilinx.com:ip:axi_intc:"
ENGINE_INSTANCE = "engine"
"""Block-design instance name of the engine = its key in pynq's ``ip_dict``."""
INTC_INSTANCE = "axi_intc"
"""Block-design instance name of the interrupt controller."""
PS_INSTANCE = "ps"


@dataclasses.dataclass(frozen=True)
class EnginePorts:
    """Port names of the exported engine IP (set by the HLS source's top function and pragmas).

    Stream ports: the engine takes each role as an array of streams (``weights[N]`` ...), which
    Vitis HLS exports as ``weights_0``, ``weights_1``, ...; see :func:`engine_stream_port`.

    Attributes:
        clock: Engine (fabric) clock input.
        reset: Active-low reset input.
        control: AXI-Lite slave interface (the ``s_axilite`` bundle ``control``).
        interrupt: Level interrupt output (``engine.irq``).
        dsp_clock: DSP clock input of a double-pumped engine (``dsp_mhz = 2 x fabric_mhz``).
    """

    clock: str = "ap_clk"
    reset: str = "ap_rst_n"
    control: str = "s_axi_control"
    interrupt: str = "irq"
    dsp_clock: str = "ap_clk_2x"


ENGINE_PORTS = EnginePorts()

BOARD_PARTS: dict[str, tuple[str, ...]] = {
    "zcu104": ("xilinx.com:zcu104:part0:*",),
    "zcu102": ("xilinx.com:zcu102:part0:*",),
    "ultra96": (
        "avnet.com:ultra96v2:part0:*",
        "em.avnet.com:ultra96v2:part0:*",
        "em.avnet.com:ultra96v1:part0:*",
        "*:ultra96*:part0:*",
    ),
}
"""Vivado board-part patterns per ``overlay.board`` (lower case), in order of preference; the
latest file version of the first pattern installed wins (``$EDNN_BOARD_PART`` overrides)."""

PS_REF_CLOCK_MHZ = 100.0
"""PS clock ``pl_clk0`` that feeds the clocking wizard (the PYNQ default)."""
DMA_BURST_BEATS = 64
"""AXI DMA burst length (``c_mm2s_burst_size`` / ``c_s2mm_burst_size``), beats."""

# S_AXI_GPn of the zynq_ultra_ps_e IP per PS slave port: (n, interface, clock pin).
_PS_SLAVE_PORTS: dict[str, tuple[int, str, str]] = {
    "HPC0": (0, "S_AXI_HPC0_FPD", "saxihpc0_fpd_aclk"),
    "HPC1": (1, "S_AXI_HPC1_FPD", "saxihpc1_fpd_aclk"),
    "HP0": (2, "S_AXI_HP0_FPD", "saxihp0_fpd_aclk"),
    "HP1": (3, "S_AXI_HP1_FPD", "saxihp1_fpd_aclk"),
    "HP2": (4, "S_AXI_HP2_FPD", "saxihp2_fpd_aclk"),
    "HP3": (5, "S_AXI_HP3_FPD", "saxihp3_fpd_aclk"),
}
# M_AXI_GPn per PS master port: (n, clock pin).
_PS_MASTER_PORTS: dict[str, tuple[int, str]] = {
    "M_AXI_HPM0_FPD": (0, "maxihpm0_fpd_aclk"),
    "M_AXI_HPM1_FPD": (1, "maxihpm1_fpd_aclk"),
    "M_AXI_HPM0_LPD": (2, "maxihpm0_lpd_aclk"),
}

BUILD_FILES = ("Makefile", "hls.tcl", "bd.tcl", "build.tcl", ".gitignore")
"""The generated files of ``overlays/<name>/build/``, in generation order."""


# ---------------------------------------------------------------------------- naming
def _name_of(overlay: str | OverlayConfig) -> str:
    return overlay.name if isinstance(overlay, OverlayConfig) else overlay


def design_name(overlay: str | OverlayConfig) -> str:
    """Block-design (and output file) base name of an overlay: ``edge_dnn_<name>``."""
    return f"edge_dnn_{_name_of(overlay)}"


def bitstream_name(overlay: str | OverlayConfig) -> str:
    """File name of an overlay's bitstream: ``edge_dnn_<name>.bit`` (e.g. ``edge_dnn_zcu104.bit``).

    pynq finds the hardware description next to it under :func:`hwh_name`.
    """
    return design_name(overlay) + ".bit"


def hwh_name(overlay: str | OverlayConfig) -> str:
    """File name of an overlay's hardware handoff: ``edge_dnn_<name>.hwh``."""
    return design_name(overlay) + ".hwh"


def checksum_name(overlay: str | OverlayConfig) -> str:
    """File name of the checksums of an overlay's build output: ``edge_dnn_<name>.sha256``.

    ``sha256sum`` format (``<64 hex digits>  <file name>`` per line), one line for the
    :func:`bitstream_name` and one for the :func:`hwh_name` file, names relative to the folder.
    """
    return design_name(overlay) + ".sha256"


def is_product_overlay(name: str) -> bool:
    """Whether ``name`` is built (every overlay except :data:`MIRROR_OVERLAYS`)."""
    return name not in MIRROR_OVERLAYS


def build_dir(cfg: OverlayConfig) -> Path:
    """``<overlay folder>/build``.

    Raises:
        OverlayConfigError: ``cfg`` was not read from a file.
    """
    if cfg.source is None:
        raise OverlayConfigError("configuration built in memory has no build folder")
    return cfg.source.parent / BUILD_DIR


def output_dir(cfg: OverlayConfig) -> Path:
    """``<overlay folder>/build/out``: where a finished build leaves the ``.bit``, the ``.hwh`` and
    their :func:`checksum_name` file."""
    return build_dir(cfg) / OUTPUT_DIR


def engine_stream_port(cfg: OverlayConfig, stream: str) -> str:
    """Engine IP port of ``stream``: ``cmd``, or ``<role>_<k>`` for the k-th stream of its role.

    The k-th stream of a role in ``overlay.toml`` order is element k of the top function's stream
    array of that role, which Vitis HLS exports as port ``<role>_<k>``.
    """
    s = cfg.stream(stream)
    if s.role == "cmd":
        return "cmd"
    k = [x.name for x in cfg.streams_with_role(s.role)].index(s.name)
    return f"{s.role}_{k}"


def board_part_patterns(cfg: OverlayConfig) -> tuple[str, ...]:
    """Vivado board-part patterns of the overlay's board.

    Raises:
        OverlayConfigError: the board has no known Vivado board files (names ``overlay.board``).
    """
    try:
        return BOARD_PARTS[cfg.board.lower()]
    except KeyError:
        raise OverlayConfigError(
            f"no Vivado board part known for board '{cfg.board}' (known: "
            f"{', '.join(sorted(BOARD_PARTS))}); add it to BOARD_PARTS in {__name__}",
            cfg.source,
            "overlay.board",
        ) from None


# ---------------------------------------------------------------------------- AXI DMA settings
VERIFIED_DMA_PARAMETERS = (
    "c_include_sg",
    "c_sg_length_width",
    "c_addr_width",
    "c_micro_dma",
    "c_include_mm2s",
    "c_include_s2mm",
    "c_include_mm2s_dre",
    "c_include_s2mm_dre",
    "c_m_axi_mm2s_data_width",
    "c_m_axis_mm2s_tdata_width",
    "c_m_axi_s2mm_data_width",
    "c_s_axis_s2mm_tdata_width",
)
"""PG021 parameters that change what software sees (checked against a loaded overlay's ``.hwh``);
burst sizes only change performance."""


def dma_parameters(cfg: OverlayConfig, dma: Dma) -> dict[str, int]:
    """PG021 configuration of one ``[dma.*]``, as ``.hwh`` parameter name -> value.

    Channel parameters appear only for included channels. The memory-mapped side is as wide as
    the PS port (``memory.hp_port_bits``), the stream side as the stream; data-realignment engines
    are off (buffers are aligned), so is the scatter-gather status/control stream.

    Raises:
        OverlayConfigError: a stream is wider than the PS port (PG021 needs the memory-mapped
            side at least as wide as the stream).
    """
    port = cfg.memory.hp_port_bits
    p: dict[str, int] = {
        "c_include_sg": int(dma.scatter_gather),
        "c_sg_length_width": dma.sg_length_width,
        "c_addr_width": dma.addr_width,
        "c_micro_dma": 0,
        "c_include_mm2s": int(dma.mm2s is not None),
        "c_include_s2mm": int(dma.s2mm is not None),
    }
    if dma.scatter_gather:
        p["c_sg_include_stscntrl_strm"] = 0
    for ch, sname in (("mm2s", dma.mm2s), ("s2mm", dma.s2mm)):
        if sname is None:
            continue
        width = cfg.stream(sname).width_bits
        if width > port:
            raise OverlayConfigError(
                f"stream '{sname}' ({width} bits) is wider than the {port}-bit PS port of "
                f"{dma.name}; an AXI DMA's memory-mapped side must be at least as wide",
                cfg.source,
                f"streams.{sname}.width_bits",
            )
        stream_key = "c_m_axis_mm2s_tdata_width" if ch == "mm2s" else "c_s_axis_s2mm_tdata_width"
        p[f"c_include_{ch}_dre"] = 0
        p[f"c_m_axi_{ch}_data_width"] = port
        p[stream_key] = width
        p[f"c_{ch}_burst_size"] = DMA_BURST_BEATS
    return p


# ---------------------------------------------------------------------------- block design model
@dataclasses.dataclass(frozen=True)
class _Slave:
    """An AXI-Lite slave of the PS address map."""

    cell: str
    intf: str
    base: int
    size: int
    master: str  # PS master interface (M_AXI_HPM0_FPD, ...)


def _master_port(cfg: OverlayConfig, base: int, key: str) -> str:
    for lo, hi, name in PL_ADDRESS_WINDOWS:
        if lo <= base <= hi:
            return name.split(" ")[0]
    raise OverlayConfigError(f"{base:#x} is in no PL slave window of the PS", cfg.source, key)


def _slaves(cfg: OverlayConfig) -> list[_Slave]:
    e, ic = cfg.engine, cfg.interrupts
    out = [
        _Slave(
            ENGINE_INSTANCE,
            ENGINE_PORTS.control,
            e.base_address,
            e.address_range,
            _master_port(cfg, e.base_address, "engine.base_address"),
        )
    ]
    out += [
        _Slave(
            d.name,
            "S_AXI_LITE",
            d.base_address,
            d.address_range,
            _master_port(cfg, d.base_address, f"dma.{d.name}.base_address"),
        )
        for d in cfg.dmas
    ]
    out.append(
        _Slave(
            INTC_INSTANCE,
            "s_axi",
            ic.controller_base,
            ic.controller_range,
            _master_port(cfg, ic.controller_base, "interrupts.controller_base"),
        )
    )
    return out


def _dma_masters(d: Dma) -> list[str]:
    """Memory-mapped master interfaces of a DMA, in the order they take interconnect inputs."""
    out = []
    if d.scatter_gather:
        out.append("M_AXI_SG")
    if d.mm2s is not None:
        out.append("M_AXI_MM2S")
    if d.s2mm is not None:
        out.append("M_AXI_S2MM")
    return out


def _dma_clock_pins(d: Dma) -> list[str]:
    out = ["s_axi_lite_aclk"]
    if d.scatter_gather:
        out.append("m_axi_sg_aclk")
    if d.mm2s is not None:
        out.append("m_axi_mm2s_aclk")
    if d.s2mm is not None:
        out.append("m_axi_s2mm_aclk")
    return out


def _ps_irq_line(cfg: OverlayConfig) -> tuple[int, int]:
    """``(group, bit)`` of ``interrupts.ps_irq``: ``pl_ps_irq<group>[bit]``."""
    irq = cfg.interrupts.ps_irq
    if irq not in PL_PS_IRQ_IDS:  # pragma: no cover - the loader rejects it
        raise OverlayConfigError(f"{irq} is not a PL-to-PS interrupt", cfg.source)
    return (0, irq - 121) if irq <= 128 else (1, irq - 136)


def _hex(v: int, digits: int) -> str:
    return f"0x{v:0{digits}X}"


def _mhz(v: float) -> str:
    return f"{v:.3f}"


def _dict_cmd(props: list[tuple[str, object]], target: str) -> list[str]:
    """``set_property -dict [list CONFIG.k {v} ...] target`` over several lines."""
    lines = ["set_property -dict [list \\"]
    lines += [f"    CONFIG.{k} {{{v}}} \\" for k, v in props]
    lines.append(f"] {target}")
    return lines


def _header(cfg: OverlayConfig, what: str, comment: str = "#") -> list[str]:
    src = (
        "<in-memory configuration>"
        if cfg.source is None
        else f"{cfg.source.parent.name}/{cfg.source.name}"
    )
    return [
        f"{comment} {what}: GENERATED FILE, DO NOT EDIT.",
        f"{comment} Source: {src} (overlay '{cfg.name}' v{cfg.version}, {cfg.part}, "
        f"board {cfg.board})",
        f"{comment} Configuration hash (sha256): {cfg.config_hash}",
        f"{comment} Regenerate with `python {GENERATOR}`; CI runs it with --check.",
        f"{comment} Written for Vivado / Vitis HLS {TOOL_VERSION}; see overlays/README.md.",
    ]


# ---------------------------------------------------------------------------- hls.tcl
_TB_PATTERNS = ("*_tb.cpp", "tb_*.cpp", "test_*.cpp", "*_test.cpp")


def generate_hls_tcl(cfg: OverlayConfig) -> str:
    """Text of ``hls.tcl``: C synthesis of the engine and export to the IP catalog."""
    period_ns = 1000.0 / cfg.clocks.fabric_mhz
    tb = " ".join(_TB_PATTERNS)
    lines = [
        *_header(cfg, "hls.tcl (Vitis HLS: engine C synthesis and IP export)"),
        "# Run from anywhere: vitis_hls -f hls.tcl (or vitis-run --mode hls --tcl hls.tcl);",
        f"# the IP lands in hls/{ENGINE_TOP}/sol/impl/ip as {ENGINE_VLNV}.",
        "",
        "set here [file normalize [file dirname [info script]]]",
        "set common [file normalize [file join $here .. .. _common]]",
        "set hls_src [file join $common hls]",
        "set includes [list [file normalize [file join $here .. generated]] "
        "[file join $common generated] $hls_src]",
        'set cflags ""',
        "foreach dir $includes {",
        '    append cflags " -I$dir"',
        "}",
        "",
        "# Engine sources: every .cpp of overlays/_common/hls except testbenches.",
        f"set tb_patterns [list {tb}]",
        "set design_sources [list]",
        "set tb_sources [list]",
        "foreach f [lsort [glob -nocomplain -directory $hls_src *.cpp]] {",
        "    set is_tb 0",
        "    foreach pattern $tb_patterns {",
        "        if {[string match $pattern [file tail $f]]} {",
        "            set is_tb 1",
        "        }",
        "    }",
        "    if {$is_tb} {",
        "        lappend tb_sources $f",
        "    } else {",
        "        lappend design_sources $f",
        "    }",
        "}",
        "if {[llength $design_sources] == 0} {",
        '    error "edge-dnn: no HLS source (*.cpp) in $hls_src"',
        "}",
        "",
        "file mkdir [file join $here hls]",
        "cd [file join $here hls]",
        f"open_project -reset {ENGINE_TOP}",
        f"set_top {ENGINE_TOP}",
        "foreach f $design_sources {",
        "    add_files $f -cflags $cflags",
        "}",
        "foreach f $tb_sources {",
        "    add_files -tb $f -cflags $cflags",
        "}",
        "open_solution -reset -flow_target vivado sol",
        f"set_part {{{cfg.part}}}",
        f"# Engine clock = clocks.fabric_mhz ({cfg.clocks.fabric_mhz:g} MHz).",
        f"create_clock -period {period_ns:.3f} -name default",
        f"config_export -format ip_catalog -rtl verilog -vendor {ENGINE_VENDOR} "
        f"-library {ENGINE_LIBRARY} -ipname {ENGINE_TOP} -version {ENGINE_IP_VERSION} "
        f"-display_name {{edge-dnn engine}}",
        "csynth_design",
        "export_design -format ip_catalog",
        "exit",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- bd.tcl
_BD_PROCS = [
    "proc ednn_pin {path} {",
    "    set pin [get_bd_pins -quiet $path]",
    "    if {[llength $pin] != 1} {",
    '        error "edge-dnn: block-design pin $path does not exist"',
    "    }",
    "    return $pin",
    "}",
    "proc ednn_intf {path} {",
    "    set intf [get_bd_intf_pins -quiet $path]",
    "    if {[llength $intf] != 1} {",
    '        error "edge-dnn: block-design interface $path does not exist"',
    "    }",
    "    return $intf",
    "}",
    "# A generated clock must be the overlay's to within 0.1%.",
    "proc ednn_check_freq {path mhz} {",
    "    set hz [get_property CONFIG.FREQ_HZ [ednn_pin $path]]",
    "    if {abs($hz - $mhz * 1e6) > $mhz * 1e3} {",
    '        error "edge-dnn: $path runs at $hz Hz, overlay.toml asks for $mhz MHz"',
    "    }",
    "}",
    "# The engine's stream ports must be as wide as overlay.toml's [streams.*].",
    "proc ednn_check_stream {path bytes} {",
    "    set got [get_property CONFIG.TDATA_NUM_BYTES [ednn_intf $path]]",
    "    if {$got != $bytes} {",
    '        error "edge-dnn: $path carries $got bytes per beat, overlay.toml says $bytes"',
    "    }",
    "}",
    "proc ednn_check_cell {cell property expected} {",
    "    set got [get_property $property [get_bd_cells $cell]]",
    "    if {$got != $expected} {",
    '        error "edge-dnn: $cell $property is $got, expected $expected"',
    "    }",
    "}",
]


def generate_bd_tcl(cfg: OverlayConfig) -> str:
    """Text of ``bd.tcl``: the block design (sourced by ``build.tcl`` in an open project)."""
    P = ENGINE_PORTS
    pump = cfg.clocks.pump
    design = design_name(cfg)
    slaves = _slaves(cfg)
    masters = sorted({s.master for s in slaves}, key=list(_PS_MASTER_PORTS).index)
    ports = cfg.derived.hp_ports
    irq_group, irq_bit = _ps_irq_line(cfg)
    n_in = cfg.interrupts.controller_inputs
    for d in cfg.dmas:
        dma_parameters(cfg, d)  # validates stream widths before anything is written

    L: list[str] = [
        *_header(cfg, "bd.tcl (Vivado IP integrator block design)"),
        "# Sourced by build.tcl inside an open project whose IP repository holds the engine.",
        "",
        *_BD_PROCS,
        "",
        f"create_bd_design {design}",
        "",
        f"# ---- Zynq UltraScale+ PS with the {cfg.board} board preset",
        f"create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e {PS_INSTANCE}",
        "apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e "
        f'-config {{apply_board_preset "1"}} [get_bd_cells {PS_INSTANCE}]',
        "# Master ports carry the AXI-Lite windows; slave ports are [dma.*].hp_port "
        f"({', '.join(ports)}), {cfg.memory.hp_port_bits} bits (memory.hp_port_bits).",
    ]
    props: list[tuple[str, object]] = [
        (f"PSU__USE__M_AXI_GP{n}", int(name in masters))
        for name, (n, _) in _PS_MASTER_PORTS.items()
    ]
    for port, (n, _, _) in _PS_SLAVE_PORTS.items():
        used = port in ports
        props.append((f"PSU__USE__S_AXI_GP{n}", int(used)))
        if used:
            props.append((f"PSU__SAXIGP{n}__DATA_WIDTH", cfg.memory.hp_port_bits))
    props += [
        (f"PSU__USE__IRQ{irq_group}", 1),
        ("PSU__FPGA_PL0_ENABLE", 1),
        ("PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ", f"{PS_REF_CLOCK_MHZ:g}"),
    ]
    L += _dict_cmd(props, f"[get_bd_cells {PS_INSTANCE}]")

    # ---- clocks
    fabric, dsp = cfg.clocks.fabric_mhz, cfg.clocks.dsp_mhz
    L += [
        "",
        f"# ---- Clocks: one MMCM from pl_clk0 ({PS_REF_CLOCK_MHZ:g} MHz): fabric_clk = "
        f"clocks.fabric_mhz ({fabric:g} MHz)"
        + (
            f", dsp_clk = clocks.dsp_mhz ({dsp:g} MHz), phase-aligned with fabric_clk"
            if pump > 1
            else " (single-pumped: the DSPs run on it too)"
        ),
        "create_bd_cell -type ip -vlnv xilinx.com:ip:clk_wiz clocks",
    ]
    clk_props: list[tuple[str, object]] = [
        ("PRIM_SOURCE", "No_buffer"),
        ("USE_RESET", "true"),
        ("RESET_TYPE", "ACTIVE_LOW"),
        ("RESET_PORT", "resetn"),
        ("USE_LOCKED", "true"),
        ("CLK_OUT1_PORT", "fabric_clk"),
        ("CLKOUT1_REQUESTED_OUT_FREQ", _mhz(fabric)),
    ]
    if pump > 1:
        clk_props += [
            ("CLKOUT2_USED", "true"),
            ("CLK_OUT2_PORT", "dsp_clk"),
            ("CLKOUT2_REQUESTED_OUT_FREQ", _mhz(dsp)),
            ("NUM_OUT_CLKS", 2),
        ]
    else:
        clk_props.append(("NUM_OUT_CLKS", 1))
    L += _dict_cmd(clk_props, "[get_bd_cells clocks]")
    L += [
        "create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset fabric_reset",
        "",
        f"# ---- The engine ({ENGINE_VLNV}, from hls.tcl)",
        f"create_bd_cell -type ip -vlnv {ENGINE_VLNV} {ENGINE_INSTANCE}",
    ]
    for s in cfg.streams:
        L.append(
            f"ednn_check_stream {ENGINE_INSTANCE}/{engine_stream_port(cfg, s.name)} "
            f"{s.bytes_per_beat}"
        )

    # ---- DMAs
    L += ["", "# ---- AXI DMA (PG021), one per [dma.*]"]
    for d in cfg.dmas:
        chans = ", ".join(
            f"{ch} {s} ({cfg.stream(s).width_bits} bit)"
            for ch, s in (("MM2S", d.mm2s), ("S2MM", d.s2mm))
            if s is not None
        )
        L.append(f"# {d.name}: {chans}; PS port {d.hp_port}")
        L.append(f"create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma {d.name}")
        L += _dict_cmd(list(dma_parameters(cfg, d).items()), f"[get_bd_cells {d.name}]")

    # ---- interrupts
    used_irqs: dict[int, str] = {cfg.engine.irq: f"{ENGINE_INSTANCE}/{P.interrupt}"}
    for d in cfg.dmas:
        if d.mm2s_irq is not None:
            used_irqs[d.mm2s_irq] = f"{d.name}/mm2s_introut"
        if d.s2mm_irq is not None:
            used_irqs[d.s2mm_irq] = f"{d.name}/s2mm_introut"
    unused = [i for i in range(n_in) if i not in used_irqs]
    L += [
        "",
        f"# ---- Interrupts: axi_intc with interrupts.controller_inputs ({n_in}) inputs, "
        f"driving pl_ps_irq{irq_group}[{irq_bit}] (GIC {cfg.interrupts.ps_irq}); unused "
        "inputs tied low",
        f"create_bd_cell -type ip -vlnv xilinx.com:ip:axi_intc {INTC_INSTANCE}",
    ]
    # A single irq output (not a bus) is what PYNQ expects; input sensitivity propagates.
    L += _dict_cmd([("C_IRQ_CONNECTION", 1)], f"[get_bd_cells {INTC_INSTANCE}]")
    L.append("create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat irq_concat")
    L += _dict_cmd([("NUM_PORTS", n_in)], "[get_bd_cells irq_concat]")
    if unused or irq_bit:
        L.append("create_bd_cell -type ip -vlnv xilinx.com:ip:xlconstant irq_zero")
        L += _dict_cmd([("CONST_VAL", 0), ("CONST_WIDTH", 1)], "[get_bd_cells irq_zero]")
    if irq_bit:
        L.append("create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat ps_irq_concat")
        L += _dict_cmd([("NUM_PORTS", irq_bit + 1)], "[get_bd_cells ps_irq_concat]")

    # ---- interconnects
    L += ["", "# ---- Interconnects: AXI-Lite control per PS master port, memory per PS slave port"]
    ctrl: dict[str, list[_Slave]] = {m: [s for s in slaves if s.master == m] for m in masters}
    ctrl_cell = {m: "ctrl_" + m.removeprefix("M_AXI_").lower() for m in masters}
    for m in masters:
        L.append(f"create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect {ctrl_cell[m]}")
        L += _dict_cmd([("NUM_SI", 1), ("NUM_MI", len(ctrl[m]))], f"[get_bd_cells {ctrl_cell[m]}]")
    mem: dict[str, list[tuple[str, str]]] = {
        p: [(d.name, i) for d in cfg.dmas if d.hp_port == p for i in _dma_masters(d)] for p in ports
    }
    mem_cell = {p: f"mem_{p.lower()}" for p in ports}
    for p in ports:
        L.append(f"create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect {mem_cell[p]}")
        L += _dict_cmd([("NUM_SI", len(mem[p])), ("NUM_MI", 1)], f"[get_bd_cells {mem_cell[p]}]")

    # ---- nets
    clk_sinks = [
        "fabric_reset/slowest_sync_clk",
        f"{ENGINE_INSTANCE}/{P.clock}",
        *(f"{PS_INSTANCE}/{_PS_MASTER_PORTS[m][1]}" for m in masters),
        *(f"{PS_INSTANCE}/{_PS_SLAVE_PORTS[p][2]}" for p in ports),
        *(f"{d.name}/{pin}" for d in cfg.dmas for pin in _dma_clock_pins(d)),
        f"{INTC_INSTANCE}/s_axi_aclk",
        *(f"{c}/aclk" for c in [*ctrl_cell.values(), *mem_cell.values()]),
    ]
    rst_sinks = [
        f"{ENGINE_INSTANCE}/{P.reset}",
        *(f"{d.name}/axi_resetn" for d in cfg.dmas),
        f"{INTC_INSTANCE}/s_axi_aresetn",
    ]
    nets: list[tuple[str, str, list[str]]] = [
        ("pl_clk0", f"{PS_INSTANCE}/pl_clk0", ["clocks/clk_in1"]),
        ("pl_resetn0", f"{PS_INSTANCE}/pl_resetn0", ["clocks/resetn", "fabric_reset/ext_reset_in"]),
        ("clk_locked", "clocks/locked", ["fabric_reset/dcm_locked"]),
        ("fabric_clk", "clocks/fabric_clk", clk_sinks),
        ("fabric_resetn", "fabric_reset/peripheral_aresetn", rst_sinks),
        (
            "interconnect_resetn",
            "fabric_reset/interconnect_aresetn",
            [f"{c}/aresetn" for c in [*ctrl_cell.values(), *mem_cell.values()]],
        ),
    ]
    nets += [(f"irq{i}", src, [f"irq_concat/In{i}"]) for i, src in sorted(used_irqs.items())]
    zero_sinks = [f"irq_concat/In{i}" for i in unused]
    zero_sinks += [f"ps_irq_concat/In{i}" for i in range(irq_bit)]
    if zero_sinks:
        nets.append(("irq_unused", "irq_zero/dout", zero_sinks))
    nets.append(("intc_inputs", "irq_concat/dout", [f"{INTC_INSTANCE}/intr"]))
    if irq_bit:
        nets.append(("intc_irq", f"{INTC_INSTANCE}/irq", [f"ps_irq_concat/In{irq_bit}"]))
        nets.append(("ps_irq", "ps_irq_concat/dout", [f"{PS_INSTANCE}/pl_ps_irq{irq_group}"]))
    else:
        nets.append(("intc_irq", f"{INTC_INSTANCE}/irq", [f"{PS_INSTANCE}/pl_ps_irq{irq_group}"]))
    L += ["", "# ---- Nets"]
    for name, src, sinks in nets:
        L.append(f"connect_bd_net -net {name} [ednn_pin {src}] \\")
        L += [f"    [ednn_pin {s}] \\" for s in sinks[:-1]]
        L.append(f"    [ednn_pin {sinks[-1]}]")
    if pump > 1:
        L += [
            "# Double-pumped PE array: the engine takes dsp_clk on its DSP clock port.",
            f"if {{[llength [get_bd_pins -quiet {ENGINE_INSTANCE}/{P.dsp_clock}]] == 1}} {{",
            f"    connect_bd_net -net dsp_clk [ednn_pin clocks/dsp_clk] "
            f"[ednn_pin {ENGINE_INSTANCE}/{P.dsp_clock}]",
            "} elseif {[info exists ::env(EDNN_SINGLE_CLOCK_ENGINE)]} {",
            f'    puts "CRITICAL WARNING: edge-dnn: the engine IP has no {P.dsp_clock} port; '
            f'its DSPs run at {fabric:g} MHz, not clocks.dsp_mhz = {dsp:g} MHz"',
            "} else {",
            f'    error "edge-dnn: overlay {cfg.name} is double-pumped (clocks.dsp_mhz = '
            f"{dsp:g}) but the engine IP has no {P.dsp_clock} port; set "
            'EDNN_SINGLE_CLOCK_ENGINE=1 to build it single-clocked anyway"',
            "}",
        ]

    # ---- interface nets
    L += ["", "# ---- Interface nets: control"]
    for m in masters:
        L.append(
            f"connect_bd_intf_net [ednn_intf {PS_INSTANCE}/{m}] [ednn_intf {ctrl_cell[m]}/S00_AXI]"
        )
        for i, sl in enumerate(ctrl[m]):
            L.append(
                f"connect_bd_intf_net [ednn_intf {ctrl_cell[m]}/M{i:02d}_AXI] "
                f"[ednn_intf {sl.cell}/{sl.intf}]"
            )
    L.append("# ---- Interface nets: streams (DMA MM2S -> engine, engine -> DMA S2MM)")
    for s in cfg.streams:
        d, ch = cfg.dma_of_stream(s.name)
        port = f"{ENGINE_INSTANCE}/{engine_stream_port(cfg, s.name)}"
        if ch == "mm2s":
            L.append(f"connect_bd_intf_net [ednn_intf {d.name}/M_AXIS_MM2S] [ednn_intf {port}]")
        else:
            L.append(f"connect_bd_intf_net [ednn_intf {port}] [ednn_intf {d.name}/S_AXIS_S2MM]")
    L.append("# ---- Interface nets: DMA memory masters -> PS slave ports")
    for p in ports:
        for i, (dname, intf) in enumerate(mem[p]):
            L.append(
                f"connect_bd_intf_net [ednn_intf {dname}/{intf}] "
                f"[ednn_intf {mem_cell[p]}/S{i:02d}_AXI]"
            )
        L.append(
            f"connect_bd_intf_net [ednn_intf {mem_cell[p]}/M00_AXI] "
            f"[ednn_intf {PS_INSTANCE}/{_PS_SLAVE_PORTS[p][1]}]"
        )

    # ---- addresses
    L += [
        "",
        "# ---- Address map: [engine], [dma.*], [interrupts] windows; DMA masters see all DDR",
    ]
    for sl in slaves:
        L.append(
            f"assign_bd_address -offset {_hex(sl.base, 10)} -range {_hex(sl.size, 8)} "
            f"-target_address_space [get_bd_addr_spaces {PS_INSTANCE}/Data] "
            f"[get_bd_addr_segs {sl.cell}/{sl.intf}/*] -force"
        )
    L.append("assign_bd_address")

    # ---- checks (after validation: clock frequencies and intc inputs propagate then)
    L += ["", "validate_bd_design", "", "# ---- Checks against overlay.toml"]
    L.append(f"ednn_check_freq clocks/fabric_clk {fabric:g}")
    if pump > 1:
        L.append(f"ednn_check_freq clocks/dsp_clk {dsp:g}")
    L += [
        f"ednn_check_cell {INTC_INSTANCE} CONFIG.C_NUM_INTR_INPUTS {n_in}",
        "",
        "regenerate_bd_layout",
        "save_bd_design",
        "",
    ]
    return "\n".join(L)


# ---------------------------------------------------------------------------- build.tcl
def generate_build_tcl(cfg: OverlayConfig) -> str:
    """Text of ``build.tcl``: Vivado project, block design, bitstream, outputs in ``out/``."""
    design = design_name(cfg)
    patterns = " ".join(board_part_patterns(cfg))
    L = [
        *_header(cfg, "build.tcl (Vivado batch build: block design to bitstream)"),
        f"# vivado -mode batch -source build.tcl [-tclargs JOBS]; needs hls/{ENGINE_TOP} "
        "from hls.tcl.",
        f"# Results: {OUTPUT_DIR}/{bitstream_name(cfg)} and {OUTPUT_DIR}/{hwh_name(cfg)} "
        "(the names the runtime loads).",
        "",
        f"set tool_version {TOOL_VERSION}",
        "if {[version -short] ne $tool_version} {",
        '    puts "CRITICAL WARNING: edge-dnn: scripts written for Vivado $tool_version, '
        'running [version -short]"',
        "}",
        "set here [file normalize [file dirname [info script]]]",
        "set jobs 4",
        "if {$argc > 0} {",
        "    set jobs [lindex $argv 0]",
        "}",
        f"set design {design}",
        f"set part {{{cfg.part}}}",
        f"set engine_ip_dir [file join $here hls {ENGINE_TOP} sol impl ip]",
        f"set out_dir [file join $here {OUTPUT_DIR}]",
        "",
        "create_project -force $design [file join $here vivado] -part $part",
        f"# Board part of the {cfg.board} (its PS preset: DDR, MIO, clocks); "
        "$EDNN_BOARD_PART overrides.",
        'set board_part ""',
        "if {[info exists ::env(EDNN_BOARD_PART)]} {",
        "    set board_part $::env(EDNN_BOARD_PART)",
        "} else {",
        f"    foreach pattern [list {patterns}] {{",
        "        set found [get_board_parts -quiet -latest_file_version $pattern]",
        "        if {[llength $found] > 0} {",
        "            set board_part [lindex $found end]",
        "            break",
        "        }",
        "    }",
        "}",
        'if {$board_part eq ""} {',
        f'    error "edge-dnn: no Vivado board files for the {cfg.board} ({patterns}); '
        'install them or set EDNN_BOARD_PART"',
        "}",
        "set_property board_part $board_part [current_project]",
        "",
        "set_property ip_repo_paths [list $engine_ip_dir] [current_project]",
        "update_ip_catalog",
        f"if {{[llength [get_ipdefs -quiet {ENGINE_VLNV}]] == 0}} {{",
        f'    error "edge-dnn: IP {ENGINE_VLNV} not found in $engine_ip_dir; run hls.tcl '
        '(make hls) first"',
        "}",
        "",
        "source [file join $here bd.tcl]",
        "set bd_file [get_files $design.bd]",
        "generate_target all $bd_file",
        "add_files -norecurse [make_wrapper -files $bd_file -top]",
        "set_property top ${design}_wrapper [current_fileset]",
        "",
        "launch_runs impl_1 -to_step write_bitstream -jobs $jobs",
        "wait_on_run impl_1",
        'if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {',
        '    error "edge-dnn: implementation of $design failed"',
        "}",
        "open_run impl_1",
        "set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]",
        "if {$wns < 0} {",
        '    error "edge-dnn: $design misses timing (WNS $wns ns)"',
        "}",
        "",
        "file mkdir $out_dir",
        "set bit [glob -directory [get_property DIRECTORY [get_runs impl_1]] *.bit]",
        f"file copy -force [lindex $bit 0] [file join $out_dir {bitstream_name(cfg)}]",
        "set hwh [glob -nocomplain -directory [file join $here vivado] "
        "-types f */sources_1/bd/$design/hw_handoff/$design.hwh]",
        "if {[llength $hwh] == 0} {",
        '    error "edge-dnn: no hardware handoff $design.hwh was written"',
        "}",
        f"file copy -force [lindex $hwh 0] [file join $out_dir {hwh_name(cfg)}]",
        f'puts "edge-dnn: wrote $out_dir/{bitstream_name(cfg)} and $out_dir/{hwh_name(cfg)}"',
        "",
    ]
    return "\n".join(L)


# ---------------------------------------------------------------------------- Makefile
def generate_makefile(cfg: OverlayConfig) -> str:
    """Text of the overlay's ``Makefile`` (``make -C overlays/<name>/build``)."""
    out = f"{OUTPUT_DIR}/{design_name(cfg)}"
    L = [
        *_header(cfg, "Makefile of the overlay build"),
        "#",
        f"#   make        engine IP (hls.tcl), then bitstream (build.tcl): {out}.bit/.hwh,",
        f"#               then their checksums {out}.sha256 (sha256sum format: board_setup.sh",
        "#               checks them before installing the pair on a board)",
        "#   make hls    only the engine IP",
        "#   make clean  remove every build product",
        "# VIVADO, HLS (default: vitis_hls -f, else vitis-run --mode hls --tcl) and JOBS can be",
        "# set on the command line.",
        "",
        "VIVADO ?= vivado",
        "HLS ?= $(if $(shell command -v vitis_hls 2>/dev/null),vitis_hls -f,"
        "vitis-run --mode hls --tcl)",
        "JOBS ?= 4",
        "",
        f"BIT := {out}.bit",
        f"HWH := {out}.hwh",
        f"SUMS := {OUTPUT_DIR}/{checksum_name(cfg)}",
        f"ENGINE_IP := hls/{ENGINE_TOP}/sol/impl/ip/component.xml",
        "HLS_SOURCES := $(wildcard ../../_common/hls/*.cpp ../../_common/hls/*.h "
        "../../_common/hls/*.hpp) \\",
        "\t../generated/edge_dnn_config.h ../../_common/generated/edge_dnn_isa.h",
        "",
        ".PHONY: all hls clean",
        "",
        "all: $(BIT) $(HWH) $(SUMS)",
        "",
        "hls: $(ENGINE_IP)",
        "",
        "$(ENGINE_IP): hls.tcl $(HLS_SOURCES)",
        "\t$(HLS) hls.tcl",
        "",
        "$(BIT): $(ENGINE_IP) bd.tcl build.tcl",
        "\t$(VIVADO) -mode batch -nojournal -nolog -notrace -source build.tcl -tclargs $(JOBS)",
        "",
        "$(HWH): $(BIT)",
        "\t@test -f $@",
        "",
        "# Written last, from the finished pair, into a temporary file first: an interrupted run",
        "# leaves no checksum file that a board copy could be wrongly verified against.",
        "$(SUMS): $(BIT) $(HWH)",
        f"\tcd {OUTPUT_DIR} && sha256sum $(notdir $(BIT)) $(notdir $(HWH)) > $(notdir $@).tmp "
        "&& mv $(notdir $@).tmp $(notdir $@)",
        "",
        "clean:",
        f"\trm -rf hls vivado {OUTPUT_DIR} .Xil *.log *.jou",
        "",
    ]
    return "\n".join(L)


def generate_gitignore(cfg: OverlayConfig) -> str:
    """``.gitignore`` of the build folder: every build product."""
    return "\n".join(
        [
            *_header(cfg, ".gitignore of the overlay build"),
            "hls/",
            "vivado/",
            f"{OUTPUT_DIR}/",
            ".Xil/",
            "*.log",
            "*.jou",
            "",
        ]
    )


# ---------------------------------------------------------------------------- files
def generate_build_files(cfg: OverlayConfig) -> dict[str, str]:
    """Every generated file of the overlay's build folder: file name -> text.

    Raises:
        OverlayConfigError: the board has no known board part, or a stream is wider than the
            PS port.
    """
    board_part_patterns(cfg)
    texts = {
        "Makefile": generate_makefile(cfg),
        "hls.tcl": generate_hls_tcl(cfg),
        "bd.tcl": generate_bd_tcl(cfg),
        "build.tcl": generate_build_tcl(cfg),
        ".gitignore": generate_gitignore(cfg),
    }
    return {name: texts[name] for name in BUILD_FILES}


def write_build_files(cfg: OverlayConfig) -> list[Path]:
    """Generate and write the build folder of ``cfg``; returns the paths written."""
    d = build_dir(cfg)
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in generate_build_files(cfg).items():
        p = d / name
        p.write_text(text, encoding="utf-8", newline="\n")
        out.append(p)
    return out


def check_build_generated(overlay: str | os.PathLike[str] | OverlayConfig) -> list[Path]:
    """Check that an overlay's committed build files match its ``overlay.toml``.

    Args:
        overlay: An overlay name, a path to an ``overlay.toml`` (or its folder), or a config.

    Returns:
        The paths of the (up-to-date) files.

    Raises:
        StaleGeneratedFileError: a file is missing or differs; the message names every such file
            and the TOML to regenerate them from; ``generated`` is the first of them.
    """
    cfg = overlay if isinstance(overlay, OverlayConfig) else load_overlay(overlay)
    d = build_dir(cfg)
    stale: list[tuple[Path, str]] = []
    paths = []
    for name, fresh in generate_build_files(cfg).items():
        p = d / name
        paths.append(p)
        try:
            current = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            stale.append((p, "missing"))
            continue
        except OSError as e:
            stale.append((p, f"unreadable ({e})"))
            continue
        if current != fresh:
            stale.append((p, "stale"))
    if stale:
        listing = "; ".join(f"{p} is {why}" for p, why in stale)
        raise StaleGeneratedFileError(
            f"{listing}: they do not match {cfg.source} (hash {cfg.config_hash[:16]}); "
            f"regenerate with `python {GENERATOR}`",
            stale[0][0],
            cfg.source,
        )
    return paths


__all__ = [
    "AXI_DMA_VLNV_PREFIX",
    "AXI_INTC_VLNV_PREFIX",
    "BOARD_PARTS",
    "BUILD_DIR",
    "BUILD_FILES",
    "ENGINE_INSTANCE",
    "ENGINE_PORTS",
    "ENGINE_TOP",
    "ENGINE_VLNV",
    "INTC_INSTANCE",
    "MIRROR_OVERLAYS",
    "OUTPUT_DIR",
    "TOOL_VERSION",
    "VERIFIED_DMA_PARAMETERS",
    "EnginePorts",
    "bitstream_name",
    "board_part_patterns",
    "build_dir",
    "check_build_generated",
    "checksum_name",
    "design_name",
    "dma_parameters",
    "engine_stream_port",
    "generate_bd_tcl",
    "generate_build_files",
    "generate_build_tcl",
    "generate_hls_tcl",
    "generate_makefile",
    "hwh_name",
    "is_product_overlay",
    "output_dir",
    "write_build_files",
]
