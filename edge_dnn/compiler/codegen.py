"""Instruction generation of one engine layer from its spec and tiling.

Every layer reads its inputs either from a resident map in the input buffer (looped back by an
earlier layer of the same run, layout ``[block][H][W]``) or from DDR (row bands loaded with
LOAD_INPUT, one descriptor per channel block), and writes each output tile to DDR (STORE_TILE,
one descriptor per block and band) and/or back into a resident map (STORE_TILE loopback).
Buffer regions: the layer's input working area (bands, double-buffered), two output regions
(ping-pong per tile), two weight and params regions when weights come in several chunks.
Dependency tokens are added by :class:`~edge_dnn.compiler.emit.RunEmitter`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np

from edge_dnn.compiler.emit import RunEmitter, Segment
from edge_dnn.compiler.errors import CompileError
from edge_dnn.compiler.pack import (
    avgpool_table_word,
    dense_weight_words,
    depthwise_weight_words,
    lrn_table_words,
    params_word_bytes,
    params_words,
)
from edge_dnn.compiler.tiling import (
    ConvPlan,
    ConvSpec,
    ConvTask,
    EltPlan,
    EltSpec,
    Geometry,
    NormPlan,
    NormSpec,
    PoolPlan,
    PoolSpec,
    band_list,
)
from edge_dnn.isa.format import (
    ComputeTile,
    ConfigConv,
    ConfigEltwise,
    ConfigNorm,
    ConfigPool,
    EltwiseOp,
    EltwiseTile,
    LoadInput,
    LoadParams,
    LoadWeights,
    NormTile,
    PoolKind,
    PoolTile,
)
from edge_dnn.isa.layout import (
    block_bytes,
    block_channels,
    conv_weight_words,
    group_channels,
    sub_steps,
)
from edge_dnn.overlay.config import OverlayConfig

__all__ = ["Dst", "Src", "WeightsBlob", "gen_conv", "gen_eltwise", "gen_norm", "gen_pool"]

WEIGHTS_KEY = "@weights"
"""Region key of the weights/params blob in transfer segments."""


@dataclasses.dataclass(frozen=True)
class Src:
    """Where an input tensor (view) of a layer lives.

    Attributes:
        resident: In the input buffer (``base``: word of its first block, ``[block][H][W]``).
        base: Input-buffer word (resident only).
        key: DDR region key (the storage root) when read from DDR.
        byte0: Byte offset of the view's first block inside the region.
    """

    resident: bool
    base: int
    key: str
    byte0: int


@dataclasses.dataclass(frozen=True)
class Dst:
    """Where a layer's output (view) goes: a resident map and/or DDR.

    Attributes:
        loop_base: Input-buffer word of the view's first block in the resident map, or None.
        key: DDR region key, or None when not stored.
        byte0: Byte offset of the view's first block inside the region.
    """

    loop_base: int | None
    key: str | None
    byte0: int


class WeightsBlob:
    """The weights/params region: packed words appended in consumption order."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.size = 0
        self.cache: dict[tuple[object, ...], tuple[int, int]] = {}

    def add(self, key: tuple[object, ...], data: np.ndarray) -> tuple[int, int]:
        """``(offset, bytes)`` of ``data`` in the blob (appended unless ``key`` was added)."""
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        off = self.size
        self.chunks.append(np.ascontiguousarray(data, dtype=np.uint8))
        self.size += data.size
        self.cache[key] = (off, int(data.size))
        return off, int(data.size)

    def cached(self, key: tuple[object, ...]) -> tuple[int, int] | None:
        """The blob range of ``key`` if already added."""
        return self.cache.get(key)

    def bytes(self) -> np.ndarray:
        """The whole blob."""
        if not self.chunks:
            return np.zeros(0, np.uint8)
        return np.concatenate(self.chunks)


def _merge(segs: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for k, o, n in segs:
        if n <= 0:
            continue
        if out and out[-1][0] == k and out[-1][1] + out[-1][2] == o:
            out[-1] = (k, out[-1][1], out[-1][2] + n)
        else:
            out.append((k, o, n))
    return out


class _Ctx:
    """Per-layer buffer regions and helpers."""

    def __init__(
        self,
        em: RunEmitter,
        cfg: OverlayConfig,
        work_base: int,
        tag: int,
        blob: WeightsBlob,
        vec: bool = False,
    ) -> None:
        self.em, self.cfg, self.work_base, self.tag, self.blob = em, cfg, work_base, tag, blob
        self.cb = block_bytes(cfg)
        out = cfg.buffer("output")
        self.out_region = out.banks * out.depth // 2
        # Output tiles alternate between the two halves of the output buffer. A layer on the
        # window unit (VEC) starts in the upper half, a PE-array layer in the lower one: a
        # pooling layer's first tile then does not wait for the store of the PE array's
        # previous tile, so the two units overlap (docs/compiler.md 3.2).
        self.n_tiles = 1 if vec else 0

    def out_base(self) -> int:
        base = (self.n_tiles % 2) * self.out_region
        self.n_tiles += 1
        return base

    def load_band(
        self, src: Src, dst: int, b0: int, nb: int, h: int, w: int, r0: int, rows: int
    ) -> None:
        segs = [
            (src.key, src.byte0 + ((b0 + b) * h * w + r0 * w) * self.cb, rows * w * self.cb)
            for b in range(nb)
        ]
        self.em.load(LoadInput, dst, nb * rows * w, _merge(segs), self.tag)

    def window_tile(
        self,
        kind: type[PoolTile] | type[NormTile],
        dst: Dst,
        geo: Geometry,
        in_base: int,
        b0: int,
        n_cb: int,
        ih0: int,
        in_rows: int,
        oh0: int,
        n: int,
        p_base: int,
        par_reads: Sequence[tuple[str, int, int]],
    ) -> None:
        """A window-unit tile (POOL_TILE / NORM_TILE) of blocks ``[b0, b0 + n_cb)``, output
        rows ``[oh0, oh0 + n)``, into the next output region, then its store / loop-back."""
        out_base = self.out_base()
        self.em.emit(
            kind,
            reads=[("input", in_base, in_base + n_cb * in_rows * geo.iw), *par_reads],
            writes=[("output", out_base, out_base + n_cb * n * geo.ow)],
            in_base=in_base,
            n_cb=n_cb,
            ih0=ih0,
            in_rows=in_rows,
            oh0=oh0,
            n_oh=n,
            out_base=out_base,
            p_base=p_base,
            tag=self.tag,
        )
        self.emit_out(dst, out_base, b0, n_cb, geo.oh, geo.ow, oh0, n)

    def emit_out(
        self, dst: Dst, out_base: int, ob0: int, nb: int, oh: int, ow: int, oh0: int, n: int
    ) -> None:
        """Store and/or loop back output rows ``[oh0, oh0 + n)`` of blocks ``[ob0, ob0 + nb)``
        held tile-dense at ``out_base``."""
        bw = n * ow
        if dst.key is not None:
            segs = [
                (dst.key, dst.byte0 + ((ob0 + b) * oh * ow + oh0 * ow) * self.cb, bw * self.cb)
                for b in range(nb)
            ]
            self.em.store(out_base, nb, bw, bw, _merge(segs), self.tag)
        if dst.loop_base is not None:
            self.em.loopback(
                out_base, nb, bw, bw, dst.loop_base + ob0 * oh * ow + oh0 * ow, oh * ow, self.tag
            )


# ---------------------------------------------------------------------------- convolution
def gen_conv(
    em: RunEmitter,
    cfg: OverlayConfig,
    spec: ConvSpec,
    plan: ConvPlan,
    src: Src,
    dst: Dst,
    work_base: int,
    blob: WeightsBlob,
    tag: int,
    layer_key: str,
    slot: int = 0,
    res: Src | None = None,
) -> None:
    """Instructions of a Convolution / InnerProduct / affine layer.

    ``slot`` (0 / 1) selects the half of the weight and params buffers a layer whose weights
    fit in one half uses: consecutive layers alternate, so a layer's weights load while the
    previous layer still computes.

    With a fused eltwise (``spec.fuse``), ``res`` is its operand ``b``: CONFIG_ELTWISE follows
    CONFIG_CONV and every COMPUTE_TILE sets ``fuse_eltwise`` with ``res_base`` at the tile's
    residual words, read in place from a resident map (whole-height tiles: a tile's blocks
    are then consecutive ``[OH][OW]`` planes of the map) or loaded from DDR before the tile
    into one of two alternating residual regions at the end of the work area.
    """
    if (spec.fuse is None) != (res is None):
        raise CompileError("internal: a fused eltwise needs its operand b and vice versa")
    gen = _ConvGen(_Ctx(em, cfg, work_base, tag, blob), spec, plan, src, dst, layer_key, res)
    gen.use_slot(slot)
    gen.config()
    for ti, task in enumerate(spec.tasks):
        if plan.ksplit:
            gen.ksplit(ti, task)
        else:
            gen.task(ti, task)


class _ConvGen:
    """State of one convolution's code generation (weight regions, loaded band / chunk)."""

    def __init__(
        self,
        cx: _Ctx,
        spec: ConvSpec,
        plan: ConvPlan,
        src: Src,
        dst: Dst,
        layer_key: str,
        res: Src | None = None,
    ) -> None:
        self.cx, self.spec, self.plan, self.src, self.dst = cx, spec, plan, src, dst
        self.key = layer_key
        self.res = res
        r0 = cx.work_base + plan.in_words - 2 * plan.res_words
        self.res_regions = (r0, r0 + plan.res_words)
        self.n_res_loads = 0
        cfg = cx.cfg
        self.G = group_channels(cfg, spec.prec)
        self.cbc = block_channels(cfg, spec.prec)
        self.bpg = self.G // self.cbc
        wt, par = cfg.buffer("weight"), cfg.buffer("params")
        self.wt_half = wt.depth // plan.wt_regions
        self.par_half = par.depth // plan.wt_regions
        self.wb = wt.banks * wt.width_bits // 8
        self.pb = par.banks * par.width_bits // 8
        self.n_weight_loads = 0
        self.n_band_loads = 0
        self.w_off = self.p_off = 0

    def use_slot(self, slot: int) -> None:
        """Place single-region weights in half ``slot`` of the buffers when they fit there."""
        plan, spec, cfg = self.plan, self.spec, self.cx.cfg
        if plan.wt_regions != 1 or plan.ksplit:
            return
        wt, par = cfg.buffer("weight").depth, cfg.buffer("params").depth
        wg = conv_weight_words(
            cfg, spec.prec, spec.tasks[0].in_nb, spec.geo.kh, spec.geo.kw, spec.depthwise
        )
        if plan.chunk_groups * wg <= wt // 2 and plan.chunk_groups <= par // 2:
            self.w_off, self.p_off = slot * (wt // 2), slot * (par // 2)

    def config(self) -> None:
        geo, spec = self.spec.geo, self.spec
        self.cx.em.emit(
            ConfigConv,
            precision=spec.prec,
            in_signed=spec.in_signed,
            depthwise=spec.depthwise,
            in_h=geo.ih,
            in_w=geo.iw,
            out_h=geo.oh,
            out_w=geo.ow,
            kernel_h=geo.kh,
            kernel_w=geo.kw,
            stride_h=geo.sh,
            stride_w=geo.sw,
            pad_h=geo.ph,
            pad_w=geo.pw,
            dilation_h=geo.dh,
            dilation_w=geo.dw,
            qmin=spec.qmin,
            qmax=spec.qmax,
            tag=self.cx.tag,
        )
        elt = spec.fuse
        if elt is not None:
            _config_eltwise(self.cx.em, elt, self.cx.tag)

    def residual(self, ob: int, nb: int, oh0: int, n: int) -> int:
        """Input-buffer word of the fused eltwise's operand b for output blocks
        ``[ob, ob + nb)`` x rows ``[oh0, oh0 + n)``, in the tile layout ``[nb][n][OW]``."""
        res, geo = self.res, self.spec.geo
        assert res is not None
        if res.resident:
            if n != geo.oh and nb != 1:
                raise CompileError(
                    "internal: on-chip fused-eltwise operand needs whole-height tiles"
                )
            return res.base + ob * geo.oh * geo.ow + oh0 * geo.ow
        base = self.res_regions[self.n_res_loads % 2]
        self.n_res_loads += 1
        self.cx.load_band(res, base, ob, nb, geo.oh, geo.ow, oh0, n)
        return base

    def fused_fields(
        self, reads: list[tuple[str, int, int]], ob: int, nb: int, oh0: int, n: int
    ) -> dict[str, object]:
        """COMPUTE_TILE fields (and input reads) of the fused eltwise of one output tile."""
        if self.res is None:
            return {}
        base = self.residual(ob, nb, oh0, n)
        reads.append(("input", base, base + nb * n * self.spec.geo.ow))
        return {"fuse_eltwise": True, "res_base": base}

    def load_weights(
        self, ti: int, task: ConvTask, g0: int, ng: int, kb0: int = 0, kb: int = -1
    ) -> tuple[int, int]:
        """Load params (not for a K-split continuation) and weights of PE groups
        ``[g0, g0 + ng)``; returns ``(w_base, p_base)``."""
        cx, spec = self.cx, self.spec
        region = self.n_weight_loads % self.plan.wt_regions
        self.n_weight_loads += 1
        w_base = self.w_off + region * self.wt_half
        p_base = self.p_off + region * self.par_half
        kbn = task.in_nb if kb < 0 else kb
        key_w = (self.key, "w", ti, g0, ng, kb0, kbn)
        key_p = (self.key, "p", ti, g0, ng)
        hit_w, hit_p = cx.blob.cached(key_w), cx.blob.cached(key_p)
        if hit_w is None or hit_p is None:
            w, b, m, s = spec.chunk_weights(cx.cfg, task, g0, ng, kb0, kbn)
            if hit_p is None:
                hit_p = cx.blob.add(key_p, params_words(cx.cfg, spec.prec, b, m, s))
            if hit_w is None:
                if spec.depthwise:
                    data = depthwise_weight_words(cx.cfg, spec.prec, w, (spec.geo.kh, spec.geo.kw))
                else:
                    data = dense_weight_words(cx.cfg, spec.prec, w)
                hit_w = cx.blob.add(key_w, data)
        if kb0 == 0:
            cx.em.load(LoadParams, p_base, hit_p[1] // self.pb, [(WEIGHTS_KEY, *hit_p)], cx.tag)
        cx.em.load(LoadWeights, w_base, hit_w[1] // self.wb, [(WEIGHTS_KEY, *hit_w)], cx.tag)
        return w_base, p_base

    def task(self, ti: int, task: ConvTask) -> None:
        """The COMPUTE_TILEs of one task: chunks of PE groups x bands of rows x tiles."""
        plan, geo = self.plan, self.spec.geo
        ng_total = -(-task.n_oc // self.G)
        chunks = [
            (g0, min(plan.chunk_groups, ng_total - g0))
            for g0 in range(0, ng_total, plan.chunk_groups)
        ]
        bands = [(0, geo.oh, 0, geo.ih)] if plan.resident else band_list(geo, plan.n_oh_band)
        band_words = plan.in_words - 2 * plan.res_words
        half = 0 if plan.resident else band_words // (1 if len(bands) == 1 else 2)
        regions = (self.cx.work_base, self.cx.work_base + half)
        band_cache: dict[int, int] = {}
        chunk_cache: dict[int, tuple[int, int]] = {}

        def band_input(band: tuple[int, int, int, int]) -> tuple[int, int, int]:
            if plan.resident:
                return self.src.base + task.in_b0 * geo.ih * geo.iw, 0, geo.ih
            oh0, _, r0, rows = band
            if oh0 not in band_cache:
                band_cache.clear()
                base = regions[self.n_band_loads % 2]
                self.n_band_loads += 1
                self.cx.load_band(self.src, base, task.in_b0, task.in_nb, geo.ih, geo.iw, r0, rows)
                band_cache[oh0] = base
            return band_cache[oh0], r0, rows

        def weights(g0: int, ng: int) -> tuple[int, int]:
            if g0 not in chunk_cache or len(chunks) > 1:
                chunk_cache[g0] = self.load_weights(ti, task, g0, ng)
            return chunk_cache[g0]

        if plan.band_outer:
            for band in bands:
                in_t = band_input(band)
                for g0, ng in chunks:
                    self.tiles(task, band, g0, ng, in_t, weights(g0, ng))
        else:
            for g0, ng in chunks:
                wp = weights(g0, ng)
                for band in bands:
                    self.tiles(task, band, g0, ng, band_input(band), wp)

    def tiles(
        self,
        task: ConvTask,
        band: tuple[int, int, int, int],
        g0: int,
        ng: int,
        in_t: tuple[int, int, int],
        wp: tuple[int, int],
    ) -> None:
        """COMPUTE_TILEs (and their stores) of PE groups ``[g0, g0 + ng)`` over one band."""
        cx, spec, plan, geo = self.cx, self.spec, self.plan, self.spec.geo
        in_base, ih0, in_rows = in_t
        oh0b, nb_rows = band[0], band[1]
        wg = conv_weight_words(cx.cfg, spec.prec, task.in_nb, geo.kh, geo.kw, spec.depthwise)
        task_blocks = -(-task.n_oc // self.cbc)
        ob0 = task.oc0 // self.cbc
        tg = max(1, min(plan.tile_groups, ng))
        for gt0 in range(g0, g0 + ng, tg):
            ngt = min(tg, g0 + ng - gt0)
            tb0 = gt0 * self.bpg
            tb = min(ngt * self.bpg, task_blocks - tb0)
            w_base = wp[0] + (gt0 - g0) * wg
            p_base = wp[1] + (gt0 - g0)
            if spec.depthwise:
                t_in_base, t_in_cb = in_base + tb0 * in_rows * geo.iw, tb
            else:
                t_in_base, t_in_cb = in_base, task.in_nb
            for oh0 in range(oh0b, oh0b + nb_rows, plan.n_oh_tile):
                n = min(plan.n_oh_tile, oh0b + nb_rows - oh0)
                reads = [
                    ("input", t_in_base, t_in_base + t_in_cb * in_rows * geo.iw),
                    ("weight", w_base, w_base + ngt * wg),
                    ("params", p_base, p_base + ngt),
                ]
                fused = self.fused_fields(reads, ob0 + tb0, tb, oh0, n)
                out_base = cx.out_base()
                cx.em.emit(
                    ComputeTile,
                    reads=reads,
                    writes=[("output", out_base, out_base + tb * n * geo.ow)],
                    in_base=t_in_base,
                    in_cb=t_in_cb,
                    ih0=ih0,
                    in_rows=in_rows,
                    oh0=oh0,
                    n_oh=n,
                    out_base=out_base,
                    out_cb=tb,
                    w_base=w_base,
                    p_base=p_base,
                    tag=cx.tag,
                    **fused,
                )
                cx.emit_out(self.dst, out_base, ob0 + tb0, tb, geo.oh, geo.ow, oh0, n)

    def ksplit(self, ti: int, task: ConvTask) -> None:
        """InnerProduct whose reduction exceeds the weight buffer: single-pass K-split tiles
        over ranges of input blocks, accumulators kept in the array in between."""
        cx, spec, plan = self.cx, self.spec, self.plan
        sub = sub_steps(cx.cfg, spec.prec)
        if self.src.resident:
            in_base = self.src.base + task.in_b0
        else:
            in_base = cx.work_base
            cx.load_band(self.src, in_base, task.in_b0, task.in_nb, 1, 1, 0, 1)
        ng_total = -(-task.n_oc // self.G)
        task_blocks = -(-task.n_oc // self.cbc)
        ob0 = task.oc0 // self.cbc
        ks = [(k0, min(plan.ksplit, task.in_nb - k0)) for k0 in range(0, task.in_nb, plan.ksplit)]
        for g in range(ng_total):
            tb0 = g * self.bpg
            tb = min(self.bpg, task_blocks - tb0)
            out_base = cx.out_base()
            p_first = 0
            for i, (k0, kn) in enumerate(ks):
                w_base, p_base = self.load_weights(ti, task, g, 1, k0, kn)
                if i == 0:
                    p_first = p_base
                reads = [
                    ("input", in_base + k0, in_base + k0 + kn),
                    ("weight", w_base, w_base + kn * sub),
                    ("params", p_first, p_first + 1),
                ]
                last = i == len(ks) - 1
                fused = self.fused_fields(reads, ob0 + tb0, tb, 0, 1) if last else {}
                cx.em.emit(
                    ComputeTile,
                    reads=reads,
                    writes=[("output", out_base, out_base + tb)],
                    acc_first=i == 0,
                    acc_last=last,
                    in_base=in_base + k0,
                    in_cb=kn,
                    ih0=0,
                    in_rows=1,
                    oh0=0,
                    n_oh=1,
                    out_base=out_base,
                    out_cb=tb,
                    w_base=w_base,
                    p_base=p_first,
                    tag=cx.tag,
                    **fused,
                )
            cx.emit_out(self.dst, out_base, ob0 + tb0, tb, 1, 1, 0, 1)


# ---------------------------------------------------------------------------- pooling
def gen_pool(
    em: RunEmitter,
    cfg: OverlayConfig,
    spec: PoolSpec,
    plan: PoolPlan,
    src: Src,
    dst: Dst,
    work_base: int,
    blob: WeightsBlob,
    tag: int,
    layer_key: str,
    slot: int = 0,
) -> None:
    """Instructions of a MAX / AVE pooling layer (``slot``: half of the params buffer holding
    the divisor table, as for :func:`gen_conv`)."""
    cx = _Ctx(em, cfg, work_base, tag, blob, vec=True)
    geo = spec.geo
    em.emit(
        ConfigPool,
        precision=spec.prec,
        in_signed=spec.in_signed,
        kind=PoolKind.AVE if spec.average else PoolKind.MAX,
        in_h=geo.ih,
        in_w=geo.iw,
        out_h=geo.oh,
        out_w=geo.ow,
        kernel_h=geo.kh,
        kernel_w=geo.kw,
        stride_h=geo.sh,
        stride_w=geo.sw,
        pad_h=geo.ph,
        pad_w=geo.pw,
        n_area=len(spec.areas) if spec.average else 0,
        qmin=spec.qmin,
        qmax=spec.qmax,
        tag=tag,
    )
    p_base = slot * (cfg.buffer("params").depth // 2)
    if spec.average:
        off, n = blob.add((layer_key, "areas"), avgpool_table_word(cfg, spec.areas))
        pb = cfg.buffer("params").banks * cfg.buffer("params").width_bits // 8
        em.load(LoadParams, p_base, n // pb, [(WEIGHTS_KEY, off, n)], tag)
    par_reads = [("params", p_base, p_base + 1)] if spec.average else []
    if plan.resident:
        units: list[tuple[int, int, int, int, int, int, int]] = [
            (0, geo.oh, 0, geo.ih, b0, min(plan.band_blocks, spec.blocks - b0), -1)
            for b0 in range(0, spec.blocks, plan.band_blocks)
        ]
    else:
        units = [
            (oh0, n, r0, rows, b0, min(plan.band_blocks, spec.blocks - b0), 0)
            for oh0, n, r0, rows in band_list(geo, plan.n_oh_band, pool=True)
            for b0 in range(0, spec.blocks, plan.band_blocks)
        ]
    half = plan.in_words // 2 if len(units) > 1 else plan.in_words
    for k, (oh0b, nrows, r0, rows, b0, nb, _) in enumerate(units):
        if plan.resident:
            base, ih0, in_rows = src.base, 0, geo.ih
            blk_base = base + b0 * geo.ih * geo.iw
        else:
            blk_base = work_base + (k % 2) * half
            cx.load_band(src, blk_base, b0, nb, geo.ih, geo.iw, r0, rows)
            ih0, in_rows = r0, rows
        for tb0 in range(b0, b0 + nb, plan.tile_blocks):
            tb = min(plan.tile_blocks, b0 + nb - tb0)
            t_in = blk_base + (tb0 - b0) * in_rows * geo.iw
            for oh0 in range(oh0b, oh0b + nrows, plan.n_oh_tile):
                n = min(plan.n_oh_tile, oh0b + nrows - oh0)
                cx.window_tile(
                    PoolTile, dst, geo, t_in, tb0, tb, ih0, in_rows, oh0, n, p_base, par_reads
                )


# ---------------------------------------------------------------------------- LRN
def gen_norm(
    em: RunEmitter,
    cfg: OverlayConfig,
    spec: NormSpec,
    plan: NormPlan,
    src: Src,
    dst: Dst,
    work_base: int,
    blob: WeightsBlob,
    tag: int,
    layer_key: str,
    slot: int = 0,
) -> None:
    """Instructions of an ACROSS_CHANNELS LRN: its factor table into half ``slot`` of the params
    buffer, then NORM_TILEs of all channel blocks x rows over the resident map or row bands."""
    cx = _Ctx(em, cfg, work_base, tag, blob, vec=True)
    geo, nb = spec.geo, spec.blocks
    em.emit(
        ConfigNorm,
        precision=spec.prec,
        in_signed=spec.in_signed,
        in_h=geo.ih,
        in_w=geo.iw,
        local_size=spec.local_size,
        lut_shift=spec.shift,
        frac_bits=spec.frac,
        qmin=spec.qmin,
        qmax=spec.qmax,
        tag=tag,
    )
    p_base = slot * (cfg.buffer("params").depth // 2)
    off, n_bytes = blob.add((layer_key, "lrn"), lrn_table_words(cfg, spec.lut))
    n_pw = n_bytes // params_word_bytes(cfg)
    em.load(LoadParams, p_base, n_pw, [(WEIGHTS_KEY, off, n_bytes)], tag)
    par_reads = [("params", p_base, p_base + n_pw)]
    if plan.resident:
        bands = [(0, geo.ih)]
    else:
        bands = [(r0, min(plan.n_oh_band, geo.ih - r0)) for r0 in range(0, geo.ih, plan.n_oh_band)]
    half = plan.in_words // 2 if len(bands) > 1 else plan.in_words
    for k, (r0, rows) in enumerate(bands):
        if plan.resident:
            base, ih0, in_rows = src.base, 0, geo.ih
        else:
            base = work_base + (k % 2) * half
            cx.load_band(src, base, 0, nb, geo.ih, geo.iw, r0, rows)
            ih0, in_rows = r0, rows
        for oh0 in range(r0, r0 + rows, plan.n_oh_tile):
            n = min(plan.n_oh_tile, r0 + rows - oh0)
            cx.window_tile(NormTile, dst, geo, base, 0, nb, ih0, in_rows, oh0, n, p_base, par_reads)


# ---------------------------------------------------------------------------- eltwise
def gen_eltwise(
    em: RunEmitter,
    cfg: OverlayConfig,
    spec: EltSpec,
    plan: EltPlan,
    srcs: tuple[Src, Src],
    dst: Dst,
    work_base: int,
    tag: int,
) -> None:
    """Instructions of an Eltwise SUM / MAX over flat word ranges."""
    cx = _Ctx(em, cfg, work_base, tag, WeightsBlob())
    _config_eltwise(em, spec, tag)
    _, h, w = spec.chw
    total = spec.blocks * h * w
    chunks = list(_ranges(total, plan.chunk))
    copies = 1 if len(chunks) == 1 else 2
    n_ddr = sum(1 for s in srcs if not s.resident)
    same = srcs[0] == srcs[1]
    for k, (w0, n) in enumerate(chunks):
        bases = []
        slot = 0
        for i, s in enumerate(srcs):
            if s.resident:
                bases.append(s.base + w0)
                continue
            if same and i == 1:
                bases.append(bases[0])
                continue
            base = work_base + ((k % copies) * max(n_ddr, 1) + slot) * plan.chunk
            slot += 1
            segs = [(s.key, s.byte0 + w0 * cx.cb, n * cx.cb)]
            em.load(LoadInput, base, n, segs, tag)
            bases.append(base)
        out_base = cx.out_base()
        em.emit(
            EltwiseTile,
            reads=[("input", bases[0], bases[0] + n), ("input", bases[1], bases[1] + n)],
            writes=[("output", out_base, out_base + n)],
            a_base=bases[0],
            b_base=bases[1],
            out_base=out_base,
            n_words=n,
            tag=tag,
        )
        if dst.key is not None:
            em.store(out_base, 1, n, n, [(dst.key, dst.byte0 + w0 * cx.cb, n * cx.cb)], tag)
        if dst.loop_base is not None:
            em.loopback(out_base, 1, n, n, dst.loop_base + w0, n, tag)


def _config_eltwise(em: RunEmitter, spec: EltSpec, tag: int) -> None:
    em.emit(
        ConfigEltwise,
        precision=spec.prec,
        a_signed=spec.a_signed,
        b_signed=spec.b_signed,
        op=EltwiseOp.MAX if spec.is_max else EltwiseOp.SUM,
        m_a=spec.m_a,
        m_b=spec.m_b,
        shift=spec.shift,
        qmin=spec.qmin,
        qmax=spec.qmax,
        tag=tag,
    )


def _ranges(total: int, step: int) -> Iterator[tuple[int, int]]:
    for s in range(0, total, step):
        yield s, min(step, total - s)
