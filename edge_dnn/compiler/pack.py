"""Weight and parameter packing in the engine's order (``docs/engine.md`` sections 6.2-6.4).

Every function returns the bytes of whole buffer words (``uint8[n_words * word_bytes]``) for one
LOAD_WEIGHTS / LOAD_PARAMS instruction: the PE groups of a tile, group ``g`` at word
``g * WG``. Weights arrive here already rearranged to *physical* channels: output channel ``c``
of the tile (``c < groups * G``) and input channel ``p`` = physical channel of the input layout
(block ``p // cbc``, element ``p % cbc``); missing channels are zero.
"""

from __future__ import annotations

import numpy as np

from edge_dnn.isa.format import NORM_LUT_ENTRIES, Precision
from edge_dnn.isa.layout import PARAM_SLOT_BITS, block_channels, group_channels, sub_steps
from edge_dnn.overlay.config import OverlayConfig

__all__ = [
    "avgpool_table_word",
    "dense_weight_words",
    "depthwise_weight_words",
    "lrn_table_words",
    "params_word_bytes",
    "params_words",
    "weight_word_bytes",
]


def weight_word_bytes(cfg: OverlayConfig) -> int:
    """Bytes of one weight-buffer word (all banks): ``OC x IC`` bytes."""
    wt = cfg.buffer("weight")
    return wt.banks * wt.width_bits // 8


def params_word_bytes(cfg: OverlayConfig) -> int:
    """Bytes of one params-buffer word: ``OC`` 64-bit slots."""
    par = cfg.buffer("params")
    return par.banks * par.width_bits // 8


def _elem_dtype(prec: Precision) -> np.dtype[np.signedinteger]:
    return np.dtype("<i1") if prec == Precision.INT8 else np.dtype("<i2")


def dense_weight_words(cfg: OverlayConfig, prec: Precision, wp: np.ndarray) -> np.ndarray:
    """Dense COMPUTE_TILE weight words of ``wp`` = ``[groups * G, in_cb * cbc, KH, KW]``.

    Word ``g * WG + ((b * KH + kh) * KW + kw) * SUB + s`` holds element ``(o, i)`` =
    ``wp[g G + o, b cbc + s IC + i, kh, kw]``.
    """
    G, IC = group_channels(cfg, prec), cfg.pe.in_channels
    cbc, sub = block_channels(cfg, prec), sub_steps(cfg, prec)
    n_out, n_in, kh, kw = wp.shape
    ng, in_cb = n_out // G, n_in // cbc
    a = wp.reshape(ng, G, in_cb, sub, IC, kh, kw).transpose(0, 2, 5, 6, 3, 1, 4)
    return _to_bytes(a, prec, cfg)


def depthwise_weight_words(
    cfg: OverlayConfig, prec: Precision, taps: np.ndarray, kernel: tuple[int, int]
) -> np.ndarray:
    """Depthwise COMPUTE_TILE weight words of ``taps`` = ``[groups * G, KH, KW]``.

    Word ``g * WG + t`` holds element ``(o, i)`` = tap ``t * IC + i`` (row-major over
    ``(kh, kw)``) of channel ``g G + o``; taps beyond ``KH x KW`` are zero.
    """
    G, IC = group_channels(cfg, prec), cfg.pe.in_channels
    n_out = taps.shape[0]
    ng = n_out // G
    k = kernel[0] * kernel[1]
    wg = -(-k // IC)
    flat = np.zeros((n_out, wg * IC), dtype=np.int64)
    flat[:, :k] = taps.reshape(n_out, k)
    a = flat.reshape(ng, G, wg, IC).transpose(0, 2, 1, 3)
    return _to_bytes(a, prec, cfg)


def _to_bytes(a: np.ndarray, prec: Precision, cfg: OverlayConfig) -> np.ndarray:
    """Elements in word order -> little-endian bytes; checks the word size."""
    raw = np.ascontiguousarray(a).astype(_elem_dtype(prec)).view(np.uint8).reshape(-1)
    wb = weight_word_bytes(cfg)
    if raw.size % wb:
        raise ValueError(f"packed weights ({raw.size} bytes) are not whole {wb}-byte words")
    return raw


def params_words(
    cfg: OverlayConfig,
    prec: Precision,
    bias: np.ndarray,
    m: np.ndarray,
    s: np.ndarray,
) -> np.ndarray:
    """Params words of ``groups * G`` channels (one word per PE group).

    int8: 64-bit slot per channel, bias int32 in bits 31:0, ``M`` in 47:32, ``S`` in 53:48;
    int16: 128-bit slot, bias int48 in 47:0, ``M`` in 63:48, ``S`` in 69:64. Padding channels
    must arrive with bias 0, ``M`` 0 and ``S`` 1.
    """
    b = np.asarray(bias, dtype=np.int64)
    mm = np.asarray(m, dtype=np.int64).astype(np.uint64)
    ss = np.asarray(s, dtype=np.int64).astype(np.uint64)
    if PARAM_SLOT_BITS[prec] == 64:
        lo = (b.astype(np.uint64) & np.uint64(0xFFFFFFFF)) | (mm << np.uint64(32))
        slots = (lo | (ss << np.uint64(48))).reshape(-1, 1)
    else:
        lo = (b.astype(np.uint64) & np.uint64((1 << 48) - 1)) | (mm << np.uint64(48))
        slots = np.stack([lo, ss], axis=1)
    raw = np.ascontiguousarray(slots.astype("<u8")).view(np.uint8).reshape(-1)
    pb = params_word_bytes(cfg)
    if raw.size % pb:
        raise ValueError(f"packed params ({raw.size} bytes) are not whole {pb}-byte words")
    return raw


def avgpool_table_word(cfg: OverlayConfig, areas: dict[int, tuple[int, int]]) -> np.ndarray:
    """One params word holding the average-pooling divisor table (int8 slot format).

    Slot ``k``: area ``A`` in bits 31:0, ``M_A`` in 47:32, ``S_A`` in 53:48; unused slots zero.
    """
    n_slots = params_word_bytes(cfg) // 8
    slots = np.zeros(n_slots, dtype=np.uint64)
    for k, (a, (mm, ss)) in enumerate(sorted(areas.items())):
        slots[k] = (
            np.uint64(a) | (np.uint64(mm) << np.uint64(32)) | (np.uint64(ss) << np.uint64(48))
        )
    return np.ascontiguousarray(slots.astype("<u8")).view(np.uint8).reshape(-1)


def lrn_table_words(cfg: OverlayConfig, lut: np.ndarray) -> np.ndarray:
    """The params words of an LRN factor table (``docs/engine.md`` 6.3).

    Entry ``j`` (uint16, little-endian) at bytes ``[2 j, 2 j + 2)`` of consecutive params words;
    the last word is zero-padded.
    """
    t = np.asarray(lut)
    if t.shape != (NORM_LUT_ENTRIES,) or t.min(initial=0) < 0 or t.max(initial=0) > 0xFFFF:
        raise ValueError(f"an LRN table is {NORM_LUT_ENTRIES} uint16 entries, got {t.shape}")
    raw = np.ascontiguousarray(t.astype("<u2")).view(np.uint8).reshape(-1)
    pb = params_word_bytes(cfg)
    out = np.zeros(-(-raw.size // pb) * pb, dtype=np.uint8)
    out[: raw.size] = raw
    return out
