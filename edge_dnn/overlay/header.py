"""The C header the engine's HLS source includes, generated from an overlay's ``overlay.toml``.

``overlays/<name>/generated/edge_dnn_config.h`` holds every sizing constant, address and register
offset of the overlay as ``#define EDNN_...`` macros plus a C++ ``constexpr`` mirror in namespace
``edge_dnn_config``. Its first lines name the source file and its configuration hash. The file is
generated (``python tools/gen_overlay_headers.py``) and committed; :func:`check_generated` (run by
CI through ``tools/gen_overlay_headers.py --check``) fails when it no longer matches the TOML.

:func:`register_constants` is the Python view of the same register data for the runtime and
the emulator.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from edge_dnn.overlay.config import (
    GENERATED_DIR,
    MEMORY_TYPES,
    PACKED_INT8_MACS_PER_DSP,
    PARAM_BITS_PER_CHANNEL,
    PRECISIONS,
    SCHEMA_VERSION,
    STREAM_ROLES,
    OverlayConfig,
    load_overlay,
    version_word,
)
from edge_dnn.overlay.errors import OverlayConfigError, StaleGeneratedFileError
from edge_dnn.quant.arith import DSP_A_SHIFT

HEADER_NAME = "edge_dnn_config.h"
PREFIX = "EDNN_"
GENERATOR = "tools/gen_overlay_headers.py"


@dataclasses.dataclass(frozen=True)
class HeaderConstant:
    """One constant of the generated header.

    Attributes:
        name: Macro name (with the ``EDNN_`` prefix).
        value: Integer or string value.
        comment: Short explanation (units).
        hex: Print an integer in hexadecimal.
        wide: The value needs 64 bits (addresses).
        digits: Minimum number of hex digits (zero-padded), for 32-bit data words.
    """

    name: str
    value: int | str
    comment: str = ""
    hex: bool = False
    wide: bool = False
    digits: int = 0


def _c_ident(name: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", name.upper())


def header_constants(cfg: OverlayConfig) -> tuple[HeaderConstant | str, ...]:
    """Every constant of the header, in order; plain strings are section titles."""
    d, pe, clk = cfg.derived, cfg.pe, cfg.clocks
    C = HeaderConstant
    out: list[HeaderConstant | str] = ["overlay identity"]
    out += [
        C("EDNN_OVERLAY_NAME", cfg.name),
        C("EDNN_OVERLAY_VERSION", cfg.version),
        C(
            "EDNN_OVERLAY_VERSION_WORD",
            version_word(cfg.version),
            "major<<16|minor<<8|patch",
            hex=True,
            digits=8,
        ),
        C("EDNN_PART", cfg.part),
        C("EDNN_SCHEMA_VERSION", SCHEMA_VERSION, "overlay.toml schema"),
        C("EDNN_CONFIG_HASH", d.config_hash, "sha256 of the semantic configuration"),
        C("EDNN_CONFIG_HASH0", int(d.config_hash[0:8], 16), "hash bytes 0-3", hex=True, digits=8),
        C("EDNN_CONFIG_HASH1", int(d.config_hash[8:16], 16), "hash bytes 4-7", hex=True, digits=8),
    ]
    out.append("clocks")
    out += [
        C("EDNN_FABRIC_KHZ", round(clk.fabric_mhz * 1000), "engine clock, kHz"),
        C("EDNN_DSP_KHZ", round(clk.dsp_mhz * 1000), "DSP48E2 clock, kHz"),
        C("EDNN_DSP_PUMP", d.pump, "DSP cycles per engine cycle"),
    ]
    out.append("PE array")
    out += [
        C("EDNN_PE_OUT_CHANNELS", pe.out_channels, "output channels in parallel (int8)"),
        C("EDNN_PE_IN_CHANNELS", pe.in_channels, "input channels reduced per cycle"),
        C("EDNN_PE_PIXELS", pe.pixels, "output pixels in parallel"),
        C("EDNN_REQUANT_LANES", pe.requant_lanes, "accumulators requantized per cycle"),
        C("EDNN_VECTOR_LANES", pe.vector_lanes, "vector-unit elements per cycle"),
        C(
            "EDNN_LINE_BUFFER_WORDS",
            cfg.derived.line_buffer_words,
            "window-unit line buffer, 64-bit words (partial rows of pooling windows)",
        ),
        C("EDNN_ACC_BITS", pe.acc_bits, "accumulator width, bits"),
        C("EDNN_DSP_PACK_SHIFT", DSP_A_SHIFT, "distance of the two packed int8 weights, bits"),
        C("EDNN_MACS_PER_DSP_INT8", PACKED_INT8_MACS_PER_DSP, "int8 MACs per DSP cycle"),
        C("EDNN_MACS_PER_CYCLE", d.macs_per_cycle, "int8 MACs per engine cycle"),
        C("EDNN_MACS_PER_CYCLE_INT16", d.macs_per_cycle_int16, "int16 MACs per engine cycle"),
        C("EDNN_COMPUTE_DSPS", d.compute_dsps, "DSP48E2 of the PE array"),
        C("EDNN_ACCUMULATORS", d.accumulators, "out_channels x pixels"),
        C("EDNN_PARAM_BITS_PER_CHANNEL", PARAM_BITS_PER_CHANNEL, "bias, M, S slot (int8 mode)"),
    ]
    out += [
        C(f"EDNN_SUPPORTS_{p.upper()}", int(p in pe.precisions), f"{p} mode available")
        for p in PRECISIONS
    ]
    out.append("memory kinds, stream roles")
    out += [C(f"EDNN_MEM_{m.upper()}", i) for i, m in enumerate(MEMORY_TYPES)]
    out += [C(f"EDNN_ROLE_{r.upper()}", i) for i, r in enumerate(STREAM_ROLES)]
    out.append("on-chip buffers (banks x depth words x width bits)")
    for b in cfg.buffers:
        n = f"EDNN_BUF_{_c_ident(b.name)}"
        out += [
            C(f"{n}_MEMORY", MEMORY_TYPES.index(b.memory), f"EDNN_MEM_{b.memory.upper()}"),
            C(f"{n}_BANKS", b.banks),
            C(f"{n}_DEPTH", b.depth, "words per bank"),
            C(f"{n}_WIDTH_BITS", b.width_bits, "bits per word"),
            C(f"{n}_ADDR_BITS", b.addr_bits, "word-address bits"),
            C(f"{n}_BYTES", b.capacity_bytes, "capacity"),
        ]
    out.append("AXI-Stream interfaces")
    out.append(C("EDNN_NUM_STREAMS", len(cfg.streams)))
    out += [
        C(f"EDNN_NUM_{_c_ident(r)}_STREAMS", len(cfg.streams_with_role(r))) for r in STREAM_ROLES
    ]
    for s in cfg.streams:
        n = f"EDNN_STREAM_{_c_ident(s.name)}"
        out += [
            C(f"{n}_ROLE", STREAM_ROLES.index(s.role), f"EDNN_ROLE_{s.role.upper()}"),
            C(f"{n}_WIDTH_BITS", s.width_bits, "TDATA bits"),
            C(f"{n}_BYTES_PER_BEAT", s.bytes_per_beat),
        ]
    out.append("external memory")
    out += [
        C("EDNN_DDR_BUS_BITS", cfg.memory.ddr_bus_bits),
        C("EDNN_DDR_MTS", round(cfg.memory.ddr_mts), "MT/s"),
        C("EDNN_DDR_SIZE_MIB", cfg.memory.ddr_size_mib),
        C("EDNN_HP_PORT_BITS", cfg.memory.hp_port_bits),
    ]
    out.append("PS address map and interrupts")
    out += [
        C("EDNN_ENGINE_BASE_ADDR", cfg.engine.base_address, "AXI-Lite base", hex=True, wide=True),
        C("EDNN_ENGINE_ADDR_RANGE", cfg.engine.address_range, hex=True),
        C("EDNN_ENGINE_IRQ", cfg.engine.irq, "interrupt-controller input"),
        C("EDNN_INTC_BASE_ADDR", cfg.interrupts.controller_base, hex=True, wide=True),
        C("EDNN_INTC_ADDR_RANGE", cfg.interrupts.controller_range, hex=True),
        C("EDNN_INTC_INPUTS", cfg.interrupts.controller_inputs),
        C("EDNN_PS_IRQ", cfg.interrupts.ps_irq, "GIC ID of the PL-to-PS line"),
        C("EDNN_NUM_DMAS", len(cfg.dmas)),
    ]
    for dm in cfg.dmas:
        # "dma_act0" -> EDNN_DMA_ACT0 rather than EDNN_DMA_DMA_ACT0
        n = f"EDNN_DMA_{_c_ident(dm.name.removeprefix('dma_'))}"
        out += [
            C(f"{n}_BASE_ADDR", dm.base_address, f"{dm.hp_port}", hex=True, wide=True),
            C(f"{n}_ADDR_RANGE", dm.address_range, hex=True),
            C(f"{n}_SG_LENGTH_WIDTH", dm.sg_length_width),
        ]
        if dm.mm2s is not None and dm.mm2s_irq is not None:
            out.append(C(f"{n}_MM2S_IRQ", dm.mm2s_irq, f"MM2S -> stream {dm.mm2s}"))
        if dm.s2mm is not None and dm.s2mm_irq is not None:
            out.append(C(f"{n}_S2MM_IRQ", dm.s2mm_irq, f"S2MM <- stream {dm.s2mm}"))
    out.append("AXI-Lite registers (byte offsets from EDNN_ENGINE_BASE_ADDR)")
    for r in cfg.registers:
        n = f"EDNN_REG_{r.name}"
        out.append(
            C(f"{n}_OFFSET", r.offset, f"{r.access} {r.group}: {r.doc}".rstrip(": "), hex=True)
        )
        for f in r.bits:
            out += [
                C(f"{n}_{f.name}_SHIFT", f.lsb),
                C(f"{n}_{f.name}_WIDTH", f.width),
                C(f"{n}_{f.name}_MASK", f.mask, hex=True),
            ]
        if r.name in d.identity_words:
            out.append(
                C(
                    f"{n}_VALUE",
                    d.identity_words[r.name],
                    f"identity: {r.value}",
                    hex=True,
                    digits=8,
                )
            )
    seen: set[str] = set()
    for c in out:
        if isinstance(c, HeaderConstant):
            if c.name in seen:
                raise OverlayConfigError(
                    f"two header constants are both named {c.name}; rename a stream, DMA or "
                    "register",
                    cfg.source,
                )
            seen.add(c.name)
    return tuple(out)


def _literal(c: HeaderConstant) -> str:
    if isinstance(c.value, str):
        return '"' + c.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    suffix = "ULL" if c.wide else "U"
    if c.value < 0:
        raise OverlayConfigError(f"header constant {c.name} is negative ({c.value})")
    return (f"0x{c.value:0{c.digits}X}" if c.hex else str(c.value)) + suffix


def _source_label(cfg: OverlayConfig) -> str:
    if cfg.source is None:
        return "<in-memory configuration>"
    return f"{cfg.source.parent.name}/{cfg.source.name}"


def generate_header(cfg: OverlayConfig) -> str:
    """The text of ``edge_dnn_config.h`` for ``cfg`` (deterministic: no dates, no host paths)."""
    items = header_constants(cfg)
    consts = [c for c in items if isinstance(c, HeaderConstant)]
    width = max(len(c.name) for c in consts) + 1
    lines = [
        "/*",
        f" * {HEADER_NAME}: GENERATED FILE, DO NOT EDIT.",
        f" * Source: {_source_label(cfg)} (overlay '{cfg.name}' v{cfg.version}, {cfg.part})",
        f" * Configuration hash (sha256): {cfg.config_hash}",
        f" * Regenerate with `python {GENERATOR}`; CI runs it with --check.",
        " */",
        "#ifndef EDGE_DNN_CONFIG_H",
        "#define EDGE_DNN_CONFIG_H",
    ]
    for c in items:
        if isinstance(c, str):
            lines += ["", f"/* ---- {c} */"]
            continue
        line = f"#define {c.name:<{width}}{_literal(c)}"
        if c.comment:
            line += f"  /* {c.comment.replace('*/', '* /')} */"
        lines.append(line)
    lines += ["", "#ifdef __cplusplus", "namespace edge_dnn_config {"]
    for c in consts:
        short = c.name[len(PREFIX) :]
        if isinstance(c.value, str):
            lines.append(f"constexpr const char {short}[] = {c.name};")
        else:
            ctype = "unsigned long long" if c.wide else "unsigned int"
            lines.append(f"constexpr {ctype} {short} = {c.name};")
    lines += [
        "}  // namespace edge_dnn_config",
        "#endif",
        "",
        "#endif  /* EDGE_DNN_CONFIG_H */",
        "",
    ]
    return "\n".join(lines)


def header_path(cfg: OverlayConfig) -> Path:
    """Where the generated header of ``cfg`` lives: ``<overlay dir>/generated/edge_dnn_config.h``.

    Raises:
        OverlayConfigError: ``cfg`` was not read from a file.
    """
    if cfg.source is None:
        raise OverlayConfigError("configuration built in memory has no header location")
    return cfg.source.parent / GENERATED_DIR / HEADER_NAME


def write_header(cfg: OverlayConfig) -> Path:
    """Generate and write the header of ``cfg``; returns its path."""
    p = header_path(cfg)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(generate_header(cfg), encoding="utf-8", newline="\n")
    return p


def check_generated(overlay: str | os.PathLike[str] | OverlayConfig) -> Path:
    """Check that an overlay's committed header matches its ``overlay.toml``.

    Args:
        overlay: An overlay name, a path to an ``overlay.toml`` (or its folder), or a config.

    Returns:
        The path of the (up-to-date) header.

    Raises:
        StaleGeneratedFileError: the header is missing or differs; the message names the header
            and the TOML it must be regenerated from.
    """
    cfg = overlay if isinstance(overlay, OverlayConfig) else load_overlay(overlay)
    p = header_path(cfg)
    fresh = generate_header(cfg)
    how = f"regenerate with `python {GENERATOR}`"
    try:
        current = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StaleGeneratedFileError(f"{p} is missing; {how}", p, cfg.source) from None
    except OSError as e:
        raise StaleGeneratedFileError(f"{p} cannot be read ({e}); {how}", p, cfg.source) from None
    if current != fresh:
        raise StaleGeneratedFileError(
            f"{p} is stale: it does not match {cfg.source} (hash {cfg.config_hash[:16]}); {how}",
            p,
            cfg.source,
        )
    return p


# ---------------------------------------------------------------------------- Python view
@dataclasses.dataclass(frozen=True)
class RegisterConstants:
    """The engine's register map as Python constants (same data as the ``EDNN_REG_*`` macros).

    Attributes:
        base_address: Engine AXI-Lite base address.
        offsets: Register name -> byte offset.
        access: Register name -> ``rw``/``ro``/``wo``/``w1c``.
        fields: ``(register, field)`` -> ``(lsb, width)``.
        identity: Identity register name -> the value the hardware must return.
    """

    base_address: int
    offsets: Mapping[str, int]
    access: Mapping[str, str]
    fields: Mapping[tuple[str, str], tuple[int, int]]
    identity: Mapping[str, int]

    def offset(self, register: str) -> int:
        """Byte offset of ``register``.

        Raises:
            OverlayConfigError: unknown register.
        """
        try:
            return self.offsets[register]
        except KeyError:
            raise OverlayConfigError(
                f"unknown register '{register}' (known: {', '.join(self.offsets)})"
            ) from None

    def mask(self, register: str, field: str) -> int:
        """In-place mask of ``register.field``."""
        lsb, width = self._field(register, field)
        return ((1 << width) - 1) << lsb

    def shift(self, register: str, field: str) -> int:
        """Bit position of ``register.field``."""
        return self._field(register, field)[0]

    def get(self, register: str, field: str, word: int) -> int:
        """Value of ``register.field`` in a register word."""
        lsb, width = self._field(register, field)
        return (word >> lsb) & ((1 << width) - 1)

    def _field(self, register: str, field: str) -> tuple[int, int]:
        try:
            return self.fields[(register, field)]
        except KeyError:
            raise OverlayConfigError(f"register {register} has no field '{field}'") from None


def register_constants(cfg: OverlayConfig) -> RegisterConstants:
    """The register map of ``cfg`` as a :class:`RegisterConstants` view."""
    return RegisterConstants(
        base_address=cfg.engine.base_address,
        offsets=MappingProxyType({r.name: r.offset for r in cfg.registers}),
        access=MappingProxyType({r.name: r.access for r in cfg.registers}),
        fields=MappingProxyType(
            {(r.name, f.name): (f.lsb, f.width) for r in cfg.registers for f in r.bits}
        ),
        identity=MappingProxyType(dict(cfg.derived.identity_words)),
    )


def parse_header_defines(text: str) -> dict[str, int | str]:
    """The ``#define`` constants of a generated header (for tests and tools).

    Returns:
        Macro name -> integer or string value (the include guard is skipped).
    """
    out: dict[str, int | str] = {}
    for m in re.finditer(
        r'^#define\s+(\w+)\s+("(?:[^"\\]|\\.)*"|0x[0-9A-F]+|\d+)(?:U|ULL)?(?=\s|$)',
        text,
        re.MULTILINE,
    ):
        name, lit = m.group(1), m.group(2)
        if lit.startswith('"'):
            out[name] = lit[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        else:
            out[name] = int(lit, 16) if lit.startswith("0x") else int(lit)
    return out


__all__ = [
    "HEADER_NAME",
    "HeaderConstant",
    "RegisterConstants",
    "check_generated",
    "generate_header",
    "header_constants",
    "header_path",
    "parse_header_defines",
    "register_constants",
    "write_header",
]
