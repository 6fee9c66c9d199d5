"""Overlay-dependent layout quantities of the engine, shared by the compiler and the emulator.

``docs/engine.md`` defines the layouts; this module only computes the few numbers they depend
on, from the overlay configuration's own fields (nothing is cached or duplicated):

* channel block ``CB``: the bytes of one input-buffer (= output-buffer) word. An activation
  tensor is stored, in DDR and in the buffers, as ``[ceil(C / cbc)][H][W][cbc]`` with
  ``cbc = CB / element bytes`` channels per block (8 int8 or 4 int16 channels on the zcu104).
* PE group: the output channels one PE pass computes, ``pe.out_channels`` in int8 mode and half
  of it in int16 mode; one weight word holds ``group x pe.in_channels`` weights.
* sub-steps: a buffer word holds ``cbc / pe.in_channels`` cycles' worth of input channels.

:func:`check_overlay` verifies that an overlay satisfies the assumptions ISA v1 makes.
"""

from __future__ import annotations

from edge_dnn.isa.format import (
    ACT_ADDR_BITS,
    MAX_AREA_CLASSES,
    PARAMS_ADDR_BITS,
    STREAM_MASK_BITS,
    WEIGHT_ADDR_BITS,
    Precision,
)
from edge_dnn.overlay.config import STREAM_ROLES, OverlayConfig
from edge_dnn.overlay.errors import OverlayConfigError

PARAM_SLOT_BITS = {Precision.INT8: 64, Precision.INT16: 128}
"""Bits of one output channel's (bias, M, S) slot in a params word."""


def element_bytes(precision: Precision) -> int:
    """Bytes of one activation or weight element: 1 (int8/uint8) or 2 (int16, little-endian)."""
    return 1 if precision == Precision.INT8 else 2


def block_bytes(cfg: OverlayConfig) -> int:
    """``CB``: bytes of one channel block of one pixel = one input/output-buffer word."""
    return cfg.buffer("input").width_bits // 8


def block_channels(cfg: OverlayConfig, precision: Precision) -> int:
    """Channels per channel block (8 int8 / 4 int16 channels on the zcu104)."""
    return block_bytes(cfg) // element_bytes(precision)


def channel_blocks(channels: int, cfg: OverlayConfig, precision: Precision) -> int:
    """Channel blocks a tensor of ``channels`` channels occupies (the last one zero-padded)."""
    cbc = block_channels(cfg, precision)
    return -(-channels // cbc)


def group_channels(cfg: OverlayConfig, precision: Precision) -> int:
    """Output channels per PE pass (and per weight word / params word)."""
    oc = cfg.pe.out_channels
    return oc if precision == Precision.INT8 else oc // 2


def sub_steps(cfg: OverlayConfig, precision: Precision) -> int:
    """Cycles one input-buffer word feeds (``block_channels / pe.in_channels``)."""
    return block_channels(cfg, precision) // cfg.pe.in_channels


def conv_groups(cfg: OverlayConfig, precision: Precision, out_cb: int) -> int:
    """PE groups (weight / params word groups) covering ``out_cb`` output channel blocks."""
    g = group_channels(cfg, precision)
    return -(-out_cb * block_channels(cfg, precision) // g)


def conv_weight_words(
    cfg: OverlayConfig,
    precision: Precision,
    in_cb: int,
    kernel_h: int,
    kernel_w: int,
    depthwise: bool = False,
) -> int:
    """Weight-buffer words of one PE group of a COMPUTE_TILE (``docs/engine.md``, weights).

    Dense: ``in_cb * kernel_h * kernel_w * sub_steps``; depthwise:
    ``ceil(kernel_h * kernel_w / pe.in_channels)`` (the cascade reduces over taps).
    """
    if depthwise:
        return -(-kernel_h * kernel_w // cfg.pe.in_channels)
    return in_cb * kernel_h * kernel_w * sub_steps(cfg, precision)


def check_overlay(cfg: OverlayConfig) -> None:
    """Check that ``cfg`` describes an engine ISA v1 can drive.

    Rules: input and output buffer words have the same width (the channel block) and hold a
    whole number of PE input-channel steps in every supported precision; a weight-buffer word
    (all banks) is exactly ``out_channels x in_channels`` bytes and a params word
    ``out_channels`` 64-bit slots; buffer depths fit the address fields; at most 4 streams per
    role; a params word holds a full average-pooling divisor table.

    Raises:
        OverlayConfigError: naming the overlay file and the key at fault.
    """
    src = cfg.source
    pe = cfg.pe
    inp, out, wt, par = (cfg.buffer(n) for n in ("input", "output", "weight", "params"))
    if inp.width_bits != out.width_bits:
        raise OverlayConfigError(
            f"ISA v1 needs input and output buffer words of the same width (one channel block "
            f"of one pixel); got {inp.width_bits} and {out.width_bits} bits",
            src,
            "buffers.output.width_bits",
        )
    for prec_name in pe.precisions:
        prec = Precision.INT8 if prec_name == "int8" else Precision.INT16
        cbc = block_channels(cfg, prec)
        if cbc == 0 or cbc % pe.in_channels:
            raise OverlayConfigError(
                f"a {inp.width_bits}-bit input word holds {cbc} {prec_name} channels, not a "
                f"multiple of pe.in_channels = {pe.in_channels}",
                src,
                "buffers.input.width_bits",
            )
    if wt.banks * wt.width_bits != pe.out_channels * pe.in_channels * 8:
        raise OverlayConfigError(
            f"ISA v1 needs a weight word (banks x width_bits = {wt.banks * wt.width_bits}) of "
            f"exactly out_channels x in_channels x 8 = {pe.out_channels * pe.in_channels * 8} "
            "bits",
            src,
            "buffers.weight.width_bits",
        )
    if par.banks * par.width_bits != pe.out_channels * PARAM_SLOT_BITS[Precision.INT8]:
        raise OverlayConfigError(
            f"ISA v1 needs a params word (banks x width_bits = {par.banks * par.width_bits}) "
            f"of exactly out_channels x 64 = {pe.out_channels * 64} bits",
            src,
            "buffers.params.width_bits",
        )
    if pe.out_channels < MAX_AREA_CLASSES:
        raise OverlayConfigError(
            f"a params word must hold the {MAX_AREA_CLASSES}-entry average-pooling divisor "
            f"table: pe.out_channels must be >= {MAX_AREA_CLASSES}",
            src,
            "pe.out_channels",
        )
    limits = (
        (inp, inp.banks * inp.depth, ACT_ADDR_BITS),
        (out, out.banks * out.depth, ACT_ADDR_BITS),
        (wt, wt.depth, WEIGHT_ADDR_BITS),
        (par, par.depth, PARAMS_ADDR_BITS),
    )
    for buf, words, bits in limits:
        if words > 1 << bits:
            raise OverlayConfigError(
                f"the {buf.name} buffer has {words} words; ISA v1 addresses at most 2^{bits}",
                src,
                f"buffers.{buf.name}.depth",
            )
    for role in STREAM_ROLES:
        n = len(cfg.streams_with_role(role))
        if role != "cmd" and n > STREAM_MASK_BITS:
            raise OverlayConfigError(
                f"{n} '{role}' streams; ISA v1 selects at most {STREAM_MASK_BITS} per role",
                src,
                "streams",
            )


__all__ = [
    "PARAM_SLOT_BITS",
    "block_bytes",
    "block_channels",
    "channel_blocks",
    "check_overlay",
    "conv_groups",
    "conv_weight_words",
    "element_bytes",
    "group_channels",
    "sub_steps",
]
