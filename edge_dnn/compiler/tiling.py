"""Engine layer specifications and the tiling search (``docs/engine.md`` section 7).

A layer is described by a spec (:class:`ConvSpec` for Convolution / InnerProduct / affine,
:class:`PoolSpec`, :class:`EltSpec`); :func:`plan_layer` chooses its tiling for the on-chip
space available, minimising DDR traffic:

* **Convolution** (per task: the whole layer, or one channel group): the weights of
  ``chunk`` PE groups are resident (all of them if they fit the weight and params buffers,
  else chunks double-buffered in two halves). The input is either resident (looped back by
  the previous layer: no DDR input traffic), loaded whole, or streamed in row bands of
  ``n_oh_band`` output rows (double-buffered, halo rows reloaded). The search enumerates every
  band height from ``OH`` down to 1; for each, the input region must fit the free input
  buffer, and the DDR traffic is ``I + W`` for one band or one chunk, else the smaller of
  ``I_bands + n_bands x W`` (band-outer: weights reloaded per band) and
  ``n_chunks x I_bands + W`` (chunk-outer: input reloaded per chunk). The smallest traffic wins,
  ties going to taller bands (fewer instructions). Compute tiles then take as many PE groups
  and rows as half the output buffer holds (ping-pong). A reduction larger than the weight
  buffer (InnerProduct only: ``VGG fc6``) is split over input blocks (K-split, single-pass
  tiles). With a fused eltwise (``ConvSpec.fuse``) the operand ``b`` is read in place when
  resident (whole-height tiles only: the map's ``[block][H][W]`` planes are then the tile's
  layout), else loaded per tile into two residual regions after the input bands (tile rows
  shrink until they fit).
* **Pooling**: row bands of as many channel blocks as fit (traffic only depends on the halo, so
  the tallest band wins), tiles of blocks x rows in half the output buffer.
* **Eltwise**: flat word ranges (both operands have the same layout), chunks in half the output
  buffer and, per DDR operand, half of the free input space.
* **LRN** (across channels): the channel window spans channel blocks, so a band holds *all*
  channel blocks of its rows; the resident map, or the tallest band (double-buffered when there
  are several) that fits the free input buffer (no halo: the traffic is the map once); tiles of
  all blocks x about 1/8 of the map's rows (at most what half the output buffer holds), so that
  the store (or loop-back) of a tile overlaps the next tile's compute.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edge_dnn.isa.format import BLOCK_COUNT_BITS, Precision
from edge_dnn.isa.layout import (
    block_bytes,
    block_channels,
    conv_weight_words,
    group_channels,
    sub_steps,
)
from edge_dnn.overlay.config import OverlayConfig
from edge_dnn.quant.qgraph import NodeQuant

__all__ = [
    "ConvPlan",
    "ConvSpec",
    "ConvTask",
    "EltPlan",
    "EltSpec",
    "NormPlan",
    "NormSpec",
    "PlanContext",
    "PoolPlan",
    "PoolSpec",
    "plan_layer",
]

_MAX_BLOCKS = (1 << BLOCK_COUNT_BITS) - 1
_NORM_TILES = 8
"""Tiles an LRN map is cut into (at least): the store of one overlaps the next one's compute."""
_MAX_WORDS = (1 << 20) - 1


# ---------------------------------------------------------------------------- specs
@dataclasses.dataclass(frozen=True)
class Geometry:
    """Caffe geometry of a convolution or pooling layer (pixels)."""

    ih: int
    iw: int
    oh: int
    ow: int
    kh: int = 1
    kw: int = 1
    sh: int = 1
    sw: int = 1
    ph: int = 0
    pw: int = 0
    dh: int = 1
    dw: int = 1

    def in_rows(self, oh0: int, n: int) -> tuple[int, int]:
        """``(first input row, rows)`` that output rows ``[oh0, oh0 + n)`` read (clipped)."""
        lo = oh0 * self.sh - self.ph
        hi = (oh0 + n - 1) * self.sh - self.ph + (self.kh - 1) * self.dh + 1
        lo, hi = max(lo, 0), min(hi, self.ih)
        if hi <= lo:
            lo = min(max(lo, 0), self.ih - 1)
            hi = lo + 1
        return lo, hi - lo


@dataclasses.dataclass(frozen=True)
class ConvTask:
    """A set of COMPUTE_TILEs sharing input blocks: the whole layer or one channel group.

    Attributes:
        in_b0: First input block (relative to the input tensor).
        in_nb: Input blocks reduced.
        oc0: First output channel (a multiple of the block channels).
        n_oc: Output channels.
    """

    in_b0: int
    in_nb: int
    oc0: int
    n_oc: int


@dataclasses.dataclass(eq=False)
class ConvSpec:
    """A Convolution, InnerProduct or per-channel affine layer for the engine.

    Weights are ``weights[O, K, KH, KW]`` (logical); physical input channel ``p`` (block
    ``p // cbc`` of the input tensor) reads column ``cols[p]`` of the output channels of group
    ``col_group[p]`` (``og`` output channels per group), zero elsewhere.

    ``fuse``: an Eltwise fused behind the requantizer (COMPUTE_TILE ``fuse_eltwise``), with the
    convolution as operand ``a``; the layer's second input is then operand ``b`` (same shape
    and dense layout as the output), read in the layout of each output tile.
    """

    kind: str
    prec: Precision
    geo: Geometry
    depthwise: bool
    in_blocks: int
    out_channels: int
    tasks: tuple[ConvTask, ...]
    weights: np.ndarray
    cols: np.ndarray
    col_group: np.ndarray
    og: int
    bias: np.ndarray
    M: np.ndarray
    S: np.ndarray
    in_signed: bool
    qmin: int
    qmax: int
    fuse: EltSpec | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def convolution(
        cls,
        cfg: OverlayConfig,
        prec: Precision,
        in_shape: Sequence[int],
        out_shape: Sequence[int],
        kernel: Sequence[int],
        stride: Sequence[int],
        pad: Sequence[int],
        dilation: Sequence[int],
        group: int,
        nq: NodeQuant,
        qmin: int,
        qmax: int,
        cmap: np.ndarray | None = None,
    ) -> ConvSpec:
        """A convolution over an input with physical channel map ``cmap`` (default: dense)."""
        cbc = block_channels(cfg, prec)
        c_in, o = int(in_shape[1]), int(out_shape[1])
        cmap = _std_map(c_in, cbc) if cmap is None else cmap
        geo = Geometry(
            int(in_shape[2]), int(in_shape[3]), int(out_shape[2]), int(out_shape[3]),
            *kernel, *stride, *pad, *dilation,
        )  # fmt: skip
        ig, og = c_in // group, o // group
        w = np.asarray(nq.weights)
        standard = bool(np.array_equal(cmap, _std_map(c_in, cbc)))
        depthwise = group == c_in == o and group > 1 and standard
        used = cmap >= 0
        cols = np.where(used, cmap % max(ig, 1), -1)
        col_group = np.where(used, cmap // max(ig, 1), -1)
        in_blocks = len(cmap) // cbc
        tasks: tuple[ConvTask, ...]
        if depthwise:
            tasks = (ConvTask(0, in_blocks, 0, o),)
        elif group > 1 and standard and ig % cbc == 0 and og % cbc == 0:
            tasks = tuple(ConvTask(k * ig // cbc, ig // cbc, k * og, og) for k in range(group))
        else:
            tasks = (ConvTask(0, in_blocks, 0, o),)
        return cls(
            "conv", prec, geo, depthwise, in_blocks, o, tasks, w, cols, col_group, og,
            *_params(nq, o), in_signed=nq.inputs[0].dtype != "uint8", qmin=qmin, qmax=qmax,
        )  # fmt: skip

    @classmethod
    def inner_product(
        cls,
        cfg: OverlayConfig,
        prec: Precision,
        in_shape: Sequence[int],
        out_shape: Sequence[int],
        transpose: bool,
        nq: NodeQuant,
        qmin: int,
        qmax: int,
        cmap: np.ndarray | None = None,
    ) -> ConvSpec:
        """An InnerProduct as a 1x1 convolution over the blocked input (engine.md 6.4)."""
        cbc = block_channels(cfg, prec)
        s = [int(d) for d in in_shape]
        c = s[1] if len(s) > 1 else 1
        h = s[2] if len(s) > 2 else 1
        wd = int(np.prod(s[3:])) if len(s) > 3 else 1
        cmap = _std_map(c, cbc) if cmap is None else cmap
        nb = len(cmap) // cbc
        w = np.asarray(nq.weights)
        w = w.T if transpose else w
        o = int(out_shape[-1])
        # physical channel j = ((b * H + y) * W + x) * cbc + k holds x[cmap[b cbc + k], y, x]
        m = cmap.reshape(nb, 1, 1, cbc)
        hh = np.arange(h).reshape(1, h, 1, 1)
        ww = np.arange(wd).reshape(1, 1, wd, 1)
        cols = np.where(m >= 0, (m * h + hh) * wd + ww, -1).reshape(-1)
        col_group = np.where(cols >= 0, 0, -1)
        in_blocks = nb * h * wd
        return cls(
            "ip", prec, Geometry(1, 1, 1, 1), False, in_blocks, o,
            (ConvTask(0, in_blocks, 0, o),), w.reshape(o, -1, 1, 1), cols, col_group, o,
            *_params(nq, o), in_signed=nq.inputs[0].dtype != "uint8", qmin=qmin, qmax=qmax,
        )  # fmt: skip

    @classmethod
    def affine(
        cls,
        cfg: OverlayConfig,
        prec: Precision,
        in_shape: Sequence[int],
        nq: NodeQuant,
        qmin: int,
        qmax: int,
        cmap: np.ndarray | None = None,
    ) -> ConvSpec:
        """A per-channel ``gamma x + beta`` as a depthwise 1x1 convolution."""
        s = [int(d) for d in in_shape]
        c = s[1]
        h = s[2] if len(s) > 2 else 1
        wd = int(np.prod(s[3:])) if len(s) > 3 else 1
        spec = cls.convolution(
            cfg, prec, (1, c, h, wd), (1, c, h, wd), (1, 1), (1, 1), (0, 0), (1, 1), c,
            dataclasses.replace(nq, weights=np.asarray(nq.weights).reshape(c, 1, 1, 1)),
            qmin, qmax, cmap,
        )  # fmt: skip
        spec.kind = "affine"
        return spec

    # ------------------------------------------------------------------ weights
    def out_blocks(self, cfg: OverlayConfig) -> int:
        """Output channel blocks."""
        return -(-self.out_channels // block_channels(cfg, self.prec))

    def chunk_weights(
        self, cfg: OverlayConfig, task: ConvTask, g0: int, ng: int, kb0: int = 0, kb: int = -1
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Physical weights and parameters of PE groups ``[g0, g0 + ng)`` of ``task``.

        Returns:
            ``(w, bias, M, S)``: ``w`` is ``[ng G, kb cbc, KH, KW]`` (dense; input blocks
            ``[kb0, kb0 + kb)`` of the task) or ``[ng G, KH, KW]`` taps (depthwise); padding
            channels have zero weights, bias 0, ``M`` 0 and ``S`` 1.
        """
        G, cbc = group_channels(cfg, self.prec), block_channels(cfg, self.prec)
        kb = task.in_nb if kb < 0 else kb
        rows = task.oc0 + g0 * G + np.arange(ng * G)
        valid = rows < task.oc0 + task.n_oc
        rv = rows[valid]
        kh, kw = self.geo.kh, self.geo.kw
        bias = np.zeros(ng * G, np.int64)
        m = np.zeros(ng * G, np.int64)
        s = np.ones(ng * G, np.int64)
        bias[valid], m[valid], s[valid] = self.bias[rv], self.M[rv], self.S[rv]
        if self.depthwise:
            taps = np.zeros((ng * G, kh, kw), np.int64)
            taps[valid] = self.weights[rv, 0]
            return taps, bias, m, s
        p0 = (task.in_b0 + kb0) * cbc
        cols = self.cols[p0 : p0 + kb * cbc]
        grp = self.col_group[p0 : p0 + kb * cbc]
        w = np.zeros((ng * G, kb * cbc, kh, kw), np.int64)
        sub = self.weights[rv][:, np.maximum(cols, 0)].astype(np.int64)
        ok = (cols[None, :] >= 0) & (grp[None, :] == (rv // self.og)[:, None])
        w[valid] = np.where(ok[:, :, None, None], sub, 0)
        return w, bias, m, s


def _std_map(c: int, cbc: int) -> np.ndarray:
    m = np.full(-(-c // cbc) * cbc, -1, dtype=np.int64)
    m[:c] = np.arange(c)
    return m


def _params(nq: NodeQuant, o: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bias = np.zeros(o, np.int64) if nq.bias is None else np.asarray(nq.bias, np.int64)
    assert nq.M is not None and nq.S is not None
    m = np.broadcast_to(np.asarray(nq.M, np.int64), (o,)).copy()
    s = np.broadcast_to(np.asarray(nq.S, np.int64), (o,)).copy()
    return bias.reshape(-1), m, s


@dataclasses.dataclass(eq=False)
class PoolSpec:
    """A MAX / AVE pooling layer for the engine (vector unit)."""

    prec: Precision
    geo: Geometry
    blocks: int
    average: bool
    areas: dict[int, tuple[int, int]]
    in_signed: bool
    qmin: int
    qmax: int

    @classmethod
    def make(
        cls,
        cfg: OverlayConfig,
        prec: Precision,
        in_shape: Sequence[int],
        out_hw: tuple[int, int],
        kernel: Sequence[int],
        stride: Sequence[int],
        pad: Sequence[int],
        average: bool,
        areas: dict[int, tuple[int, int]],
        in_signed: bool,
        qmin: int,
        qmax: int,
        blocks: int | None = None,
    ) -> PoolSpec:
        """The spec of a pooling layer; ``blocks`` defaults to the dense channel blocks."""
        cbc = block_channels(cfg, prec)
        geo = Geometry(
            int(in_shape[2]), int(in_shape[3]), out_hw[0], out_hw[1],
            kernel[0], kernel[1], stride[0], stride[1], pad[0], pad[1],
        )  # fmt: skip
        nb = -(-int(in_shape[1]) // cbc) if blocks is None else blocks
        return cls(prec, geo, nb, average, areas, in_signed, qmin, qmax)


@dataclasses.dataclass(eq=False)
class EltSpec:
    """An Eltwise SUM / MAX of two operands of the same layout."""

    prec: Precision
    is_max: bool
    m_a: int
    m_b: int
    shift: int
    a_signed: bool
    b_signed: bool
    qmin: int
    qmax: int
    chw: tuple[int, int, int]
    blocks: int


@dataclasses.dataclass(eq=False)
class NormSpec:
    """An ACROSS_CHANNELS LRN for the engine (vector unit, ``docs/arithmetic.md`` 5.1).

    Attributes:
        prec: Precision (int8 only in ISA 1.1).
        geo: The map (input and output: ``ih = oh``, ``iw = ow``).
        blocks: Channel blocks of the (dense) input layout; all of them form one tile.
        in_signed: int8 (True) or uint8 input.
        local_size: Caffe ``local_size``.
        lut: Factor table, ``uint16[256]``.
        shift: ``lut_shift``.
        frac: Fraction bits ``F``.
        qmin: Output lower bound.
        qmax: Output upper bound.
    """

    prec: Precision
    geo: Geometry
    blocks: int
    in_signed: bool
    local_size: int
    lut: np.ndarray
    shift: int
    frac: int
    qmin: int
    qmax: int

    @classmethod
    def make(
        cls,
        cfg: OverlayConfig,
        prec: Precision,
        in_shape: Sequence[int],
        local_size: int,
        table: Mapping[str, Any],
        in_signed: bool,
        qmin: int,
        qmax: int,
    ) -> NormSpec:
        """The spec of an LRN layer over a dense input of shape ``in_shape`` (NCHW)."""
        h, w = int(in_shape[2]), int(in_shape[3])
        nb = -(-int(in_shape[1]) // block_channels(cfg, prec))
        return cls(
            prec, Geometry(h, w, h, w), nb, in_signed, int(local_size),
            np.asarray(table["lut"], dtype=np.uint16), int(table["shift"]), int(table["frac"]),
            qmin, qmax,
        )  # fmt: skip


# ---------------------------------------------------------------------------- plans
@dataclasses.dataclass(frozen=True)
class PlanContext:
    """On-chip situation a layer is planned in.

    Attributes:
        in_free: Largest contiguous free range of the input buffer, words.
        resident: Per input: whether it is resident in the input buffer (looped back).
    """

    in_free: int
    resident: tuple[bool, ...]


@dataclasses.dataclass(frozen=True)
class ConvPlan:
    """Tiling of a :class:`ConvSpec` (per task; all tasks have the same sizes).

    With a fused eltwise whose operand ``b`` comes from DDR, ``in_words`` ends with two
    residual regions of ``res_words`` words (one output tile each, alternating per tile);
    ``res_words`` is 0 without a fused eltwise or when ``b`` is resident (read in place).
    """

    resident: bool
    n_oh_band: int
    chunk_groups: int
    wt_regions: int
    ksplit: int
    tile_groups: int
    n_oh_tile: int
    band_outer: bool
    in_words: int
    traffic: int
    out_region: int
    fused: bool = False
    res_words: int = 0


@dataclasses.dataclass(frozen=True)
class PoolPlan:
    """Tiling of a :class:`PoolSpec`."""

    resident: bool
    n_oh_band: int
    band_blocks: int
    tile_blocks: int
    n_oh_tile: int
    in_words: int
    traffic: int
    out_region: int


@dataclasses.dataclass(frozen=True)
class EltPlan:
    """Tiling of an :class:`EltSpec`: flat chunks of ``chunk`` words."""

    resident: tuple[bool, bool]
    chunk: int
    in_words: int
    traffic: int
    out_region: int


@dataclasses.dataclass(frozen=True)
class NormPlan:
    """Tiling of a :class:`NormSpec`: bands and tiles always hold all ``band_blocks`` blocks."""

    resident: bool
    n_oh_band: int
    band_blocks: int
    tile_blocks: int
    n_oh_tile: int
    in_words: int
    traffic: int
    out_region: int


Plan = ConvPlan | PoolPlan | EltPlan | NormPlan
Spec = ConvSpec | PoolSpec | EltSpec | NormSpec


def plan_layer(cfg: OverlayConfig, spec: Spec, ctx: PlanContext | None) -> Plan | str:
    """The tiling of ``spec`` in ``ctx`` (``None``: empty buffers, input from DDR), or the
    reason no tiling fits."""
    if isinstance(spec, ConvSpec):
        return _plan_conv(cfg, spec, ctx)
    if isinstance(spec, PoolSpec):
        return _plan_pool(cfg, spec, ctx)
    if isinstance(spec, NormSpec):
        return _plan_norm(cfg, spec, ctx)
    return _plan_elt(cfg, spec, ctx)


def _capacities(cfg: OverlayConfig) -> tuple[int, int, int, int]:
    inp, out = cfg.buffer("input"), cfg.buffer("output")
    return (
        inp.banks * inp.depth,
        out.banks * out.depth,
        cfg.buffer("weight").depth,
        cfg.buffer("params").depth,
    )


def band_list(geo: Geometry, n: int, pool: bool = False) -> list[tuple[int, int, int, int]]:
    """Bands of ``n`` output rows: ``(oh0, n_oh, first input row, input rows)``."""
    out = []
    for oh0 in range(0, geo.oh, n):
        k = min(n, geo.oh - oh0)
        out.append((oh0, k, *_rows(geo, oh0, k, pool)))
    return out


def _rows(geo: Geometry, oh0: int, n: int, pool: bool) -> tuple[int, int]:
    if not pool:
        return geo.in_rows(oh0, n)
    lo = max(oh0 * geo.sh - geo.ph, 0)
    hi = min((oh0 + n - 1) * geo.sh - geo.ph + geo.kh, geo.ih)
    return lo, max(hi - lo, 1)


def _band_stats(geo: Geometry, n: int, pool: bool) -> tuple[int, int, int]:
    """``(bands, max rows, summed rows)`` for bands of ``n`` output rows."""
    bands = band_list(geo, n, pool)
    rows = [b[3] for b in bands]
    return len(bands), max(rows), sum(rows)


def _plan_conv(cfg: OverlayConfig, spec: ConvSpec, ctx: PlanContext | None) -> ConvPlan | str:
    in_cap, out_cap, wt_cap, par_cap = _capacities(cfg)
    in_free = in_cap if ctx is None else ctx.in_free
    resident = bool(ctx is not None and ctx.resident[0])
    fused = spec.fuse is not None
    # operand b of a fused eltwise: read in place when resident, else loaded per output tile
    res_resident = bool(fused and ctx is not None and len(ctx.resident) > 1 and ctx.resident[1])
    res_ddr = fused and not res_resident
    geo = spec.geo
    prec = spec.prec
    G, cbc = group_channels(cfg, prec), block_channels(cfg, prec)
    bpg = G // cbc
    cb = block_bytes(cfg)
    wb = cfg.buffer("weight").banks * cfg.buffer("weight").width_bits // 8
    task = spec.tasks[0]
    in_nb = task.in_nb
    if in_nb > _MAX_BLOCKS and spec.kind != "ip":
        return f"{in_nb} input channel blocks exceed the ISA's {_MAX_BLOCKS}"
    wg = conv_weight_words(cfg, prec, in_nb, geo.kh, geo.kw, spec.depthwise)
    ng = -(-task.n_oc // G)
    n_tasks = len(spec.tasks)
    out_region = out_cap // 2
    w_bytes = n_tasks * ng * wg * wb
    # operand b is read once whatever the tiling (each output word has one residual word)
    r_bytes = spec.out_blocks(cfg) * geo.oh * geo.ow * cb if res_ddr else 0
    task_blocks = -(-task.n_oc // cbc)
    if wg > wt_cap or in_nb > _MAX_BLOCKS:
        # K-split: single-pass tiles over ranges of input blocks (InnerProduct only)
        if spec.kind != "ip":
            return (
                f"the reduction of one PE group ({wg} weight words) exceeds the weight "
                f"buffer ({wt_cap} words)"
            )
        kb = min(in_nb, (wt_cap // 2) // sub_steps(cfg, prec), _MAX_BLOCKS)
        res = min(bpg, task_blocks) * geo.oh * geo.ow if res_ddr else 0
        words = (0 if resident else in_nb) + 2 * res
        if words > in_free:
            return f"InnerProduct input ({words} words) exceeds the free input buffer"
        return ConvPlan(
            resident, 1, 1, 2, kb, 1, 1, False, words,
            (0 if resident else in_nb * cb) + w_bytes + r_bytes, out_region, fused, res,
        )  # fmt: skip
    if ng * wg <= wt_cap and ng <= par_cap:
        cg, regions = ng, 1
    elif 2 * wg <= wt_cap:
        cg, regions = min(ng, (wt_cap // 2) // wg, par_cap // 2), 2
    else:
        cg, regions = min(ng, wt_cap // wg, par_cap), 1
    n_chunks = -(-ng // cg)
    if min(bpg, task_blocks) * geo.ow > out_region:
        return (
            f"one output row of a PE group ({min(bpg, task_blocks) * geo.ow} words) exceeds "
            "half the output buffer"
        )
    tg = max(1, min(cg, out_region // (bpg * geo.ow)))
    if res_resident:
        # the residual map is [block][OH][OW]: it has the layout of an output tile only when
        # the tile holds whole columns of rows (all OH rows of its blocks)
        if min(bpg, task_blocks) * geo.oh * geo.ow > out_region:
            return (
                f"fused eltwise over an on-chip operand needs whole-height tiles; "
                f"{geo.oh} rows of a PE group exceed half the output buffer"
            )
        tg = max(1, min(tg, out_region // (bpg * geo.oh * geo.ow)))

    def tile(rows: int, avail: int) -> tuple[int, int] | None:
        """``(tile groups, tile rows)`` within bands of ``rows`` output rows, the residual
        regions (DDR operand b) in ``avail`` free input words."""
        for g in dict.fromkeys((tg, 1)):
            blocks = min(g * bpg, task_blocks)
            n_t = min(rows, out_region // (blocks * geo.ow))
            if res_ddr:
                n_t = min(n_t, avail // (2 * blocks * geo.ow))
            if res_resident and n_t < geo.oh:
                return None
            if n_t >= 1:
                return g, n_t
        return None

    def res_words(t: tuple[int, int]) -> int:
        return min(t[0] * bpg, task_blocks) * t[1] * geo.ow if res_ddr else 0

    if resident:
        t_res = tile(geo.oh, in_free)
        if t_res is None:
            return "no room for the fused eltwise's operand tiles in the input buffer"
        rw = res_words(t_res)
        return ConvPlan(
            True, geo.oh, cg, regions, 0, t_res[0], t_res[1], False, 2 * rw, w_bytes + r_bytes,
            out_region, fused, rw,
        )  # fmt: skip
    best: tuple[int, int, bool, int, tuple[int, int]] | None = None
    for n in range(geo.oh, 0, -1):
        n_bands, rmax, rsum = _band_stats(geo, n, False)
        words = in_nb * rmax * geo.iw * (1 if n_bands == 1 else 2)
        if words > in_free:
            continue
        t_n = tile(n, in_free - words)
        if t_n is None:
            continue
        i_b = n_tasks * in_nb * rsum * geo.iw * cb
        if n_bands == 1 or n_chunks == 1:
            t, bo = i_b + w_bytes, n_chunks == 1
        else:
            bo_t, co_t = i_b + n_bands * w_bytes, n_chunks * i_b + w_bytes
            t, bo = (bo_t, True) if bo_t <= co_t else (co_t, False)
        if best is None or t < best[0]:
            best = (t, n, bo, words, t_n)
        if n_bands > 64 and best is not None and n < geo.oh // 8:
            break
    if best is None:
        rows = geo.in_rows(0, 1)[1]
        if fused:
            return (
                f"one band of {rows} input rows x {in_nb} blocks and the fused eltwise's "
                f"operand tiles exceed the free input buffer ({in_free} words)"
            )
        return (
            f"one band of {rows} input rows x {in_nb} blocks ({in_nb * rows * geo.iw} words) "
            f"exceeds the free input buffer ({in_free} words)"
        )
    t, n, bo, words, t_n = best
    rw = res_words(t_n)
    return ConvPlan(
        False, n, cg, regions, 0, t_n[0], t_n[1], bo, words + 2 * rw, t + r_bytes, out_region,
        fused, rw,
    )  # fmt: skip


def _plan_pool(cfg: OverlayConfig, spec: PoolSpec, ctx: PlanContext | None) -> PoolPlan | str:
    in_cap, out_cap, _, _ = _capacities(cfg)
    in_free = in_cap if ctx is None else ctx.in_free
    resident = bool(ctx is not None and ctx.resident[0])
    geo, nb = spec.geo, spec.blocks
    cb = block_bytes(cfg)
    out_region = out_cap // 2
    if geo.ow > out_region:
        return f"one output row ({geo.ow} words) exceeds half the output buffer"
    tb = max(1, min(nb, out_region // geo.ow, _MAX_BLOCKS))
    if resident:
        n_oh_t = max(1, min(geo.oh, out_region // (tb * geo.ow)))
        return PoolPlan(True, geo.oh, nb, tb, n_oh_t, 0, 0, out_region)
    for n in range(geo.oh, 0, -1):
        n_bands, rmax, rsum = _band_stats(geo, n, True)
        band_words = rmax * geo.iw
        copies = 1 if n_bands == 1 and nb * band_words <= in_free else 2
        bb = min(nb, (in_free // copies) // band_words, _MAX_BLOCKS)
        if bb < 1:
            continue
        t = rsum * geo.iw * nb * cb
        tbb = min(tb, bb)
        n_oh_t = max(1, min(n, out_region // (tbb * geo.ow)))
        return PoolPlan(False, n, bb, tbb, n_oh_t, bb * band_words * copies, t, out_region)
    return f"one input row band does not fit the free input buffer ({in_free} words)"


def _plan_elt(cfg: OverlayConfig, spec: EltSpec, ctx: PlanContext | None) -> EltPlan | str:
    in_cap, out_cap, _, _ = _capacities(cfg)
    in_free = in_cap if ctx is None else ctx.in_free
    res = (False, False) if ctx is None else (ctx.resident[0], ctx.resident[1])
    _, h, w = spec.chw
    total = spec.blocks * h * w
    cb = block_bytes(cfg)
    n_ddr = sum(1 for r in res if not r)
    out_region = out_cap // 2
    chunk = min(total, out_region, _MAX_WORDS)
    if n_ddr and (chunk < total or total * n_ddr > in_free):
        chunk = min(chunk, in_free // (2 * n_ddr))
    if chunk < 1:
        return "no room for an eltwise chunk in the input buffer"
    copies = 1 if chunk >= total else 2
    return EltPlan(res, chunk, chunk * n_ddr * copies, (n_ddr + 1) * total * cb, out_region)


def _plan_norm(cfg: OverlayConfig, spec: NormSpec, ctx: PlanContext | None) -> NormPlan | str:
    in_cap, out_cap, _, par_cap = _capacities(cfg)
    par = cfg.buffer("params")
    table_words = -(-2 * len(spec.lut) // (par.banks * par.width_bits // 8))
    if table_words > par_cap // 2:
        return f"the LRN table ({table_words} params words) exceeds half the params buffer"
    in_free = in_cap if ctx is None else ctx.in_free
    resident = bool(ctx is not None and ctx.resident[0])
    geo, nb = spec.geo, spec.blocks
    out_region = out_cap // 2
    if nb > _MAX_BLOCKS:
        return f"{nb} channel blocks exceed the ISA's {_MAX_BLOCKS} (one LRN tile holds them all)"
    row = nb * geo.iw
    if row > out_region:
        return (
            f"one row of all {nb} channel blocks ({row} words) exceeds half the output buffer "
            f"({out_region} words)"
        )
    tile_rows = max(1, min(out_region // row, -(-geo.oh // _NORM_TILES)))
    if resident:
        return NormPlan(True, geo.oh, nb, nb, min(geo.oh, tile_rows), 0, 0, out_region)
    traffic = nb * geo.ih * geo.iw * block_bytes(cfg)
    if row * geo.ih <= in_free:
        n = geo.ih
        words = row * n
    else:
        n = min(geo.ih, in_free // (2 * row))
        words = 2 * row * n
    if n < 1:
        return (
            f"one row of all {nb} channel blocks ({row} words, double-buffered) does not fit the "
            f"free input buffer ({in_free} words)"
        )
    return NormPlan(False, n, nb, nb, min(n, tile_rows), words, traffic, out_region)
