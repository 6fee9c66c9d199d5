"""The bit-exact engine emulator (edge_dnn.emulator) on hand-built command streams.

Every stream here is built with the ISA encoder and packs its data with helpers written in this
file from the layout text of docs/engine.md (section 6), independently of the compiler. Results
are compared with the layers' integer references (``forward_int``) with ``np.array_equal``.
"""

from __future__ import annotations

import binascii
import dataclasses
import itertools
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edge_dnn
import edge_dnn.emulator.engine as engine_module
from edge_dnn.compiler import compile_model
from edge_dnn.compiler.model import (
    ArmStep,
    CompiledModel,
    EngineStep,
    MemoryPlan,
    TensorInfo,
    TensorLayout,
)
from edge_dnn.emulator import DdrHazardError, Engine, EngineFault, EngineStatus
from edge_dnn.emulator.races import Blocks, BufferRaceError, RaceChecker
from edge_dnn.emulator.run import ModelRunner, run_compiled
from edge_dnn.emulator.timing import Timeline, TimingModel
from edge_dnn.isa import (
    ISA_MAJOR,
    ISA_MINOR,
    ComputeTile,
    ConfigConv,
    ConfigEltwise,
    ConfigPool,
    EltwiseOp,
    EltwiseTile,
    End,
    ErrorCode,
    Instruction,
    LoadInput,
    LoadParams,
    LoadWeights,
    PoolKind,
    PoolTile,
    Precision,
    StoreTile,
    Sync,
    Token,
    Unit,
    decode_stream,
    encode_stream,
)
from edge_dnn.isa.layout import (
    block_channels,
    conv_groups,
    conv_weight_words,
    group_channels,
    sub_steps,
)
from edge_dnn.layers.concat import Concat
from edge_dnn.layers.convolution import Convolution
from edge_dnn.layers.eltwise import Eltwise
from edge_dnn.layers.inner_product import InnerProduct
from edge_dnn.layers.pooling import Pooling
from edge_dnn.overlay.config import OverlayConfig, load_overlay
from edge_dnn.quant import arith
from edge_dnn.quant.qgraph import NodeQuant, TensorQuant
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from edge_dnn.zoo import model_files

RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
NP = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16}
W, A = Token.LDW_CMP, Token.LDA_CMP


@pytest.fixture(scope="module")
def cfgs() -> dict[str, OverlayConfig]:
    return {n: load_overlay(n) for n in ("zcu104", "ultra96", "dpu_b4096_zu7")}


# ---------------------------------------------------------------------------- data packing
def prec_of(dtype: str) -> Precision:
    return Precision.INT16 if dtype == "int16" else Precision.INT8


def blocked(x: np.ndarray, cbc: int) -> np.ndarray:
    """(C, H, W) integers -> the bytes of [ceil(C/cbc)][H][W][cbc] (zero channel padding)."""
    c, h, w = x.shape
    nb = -(-c // cbc)
    full = np.zeros((nb * cbc, h, w), dtype=x.dtype)
    full[:c] = x
    blk = full.reshape(nb, cbc, h, w).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(blk.astype(x.dtype.newbyteorder("<"))).view(np.uint8).reshape(-1)


def unblocked(data: np.ndarray, c: int, h: int, w: int, cbc: int, dtype: str) -> np.ndarray:
    """Inverse of :func:`blocked` (drops padding channels)."""
    nb = -(-c // cbc)
    vals = np.ascontiguousarray(data).view(np.dtype(NP[dtype]).newbyteorder("<"))
    blk = vals.reshape(nb, h, w, cbc).transpose(0, 3, 1, 2).reshape(nb * cbc, h, w)
    return blk[:c].astype(NP[dtype])


def dense_weight_words(cfg: OverlayConfig, w: np.ndarray, prec: Precision) -> np.ndarray:
    """OIHW weights of one tile -> weight-buffer words (docs/engine.md 6.2, dense)."""
    o, c, kh, kw = w.shape
    cbc, g, ic = block_channels(cfg, prec), group_channels(cfg, prec), cfg.pe.in_channels
    sub = sub_steps(cfg, prec)
    in_cb = -(-c // cbc)
    groups = conv_groups(cfg, prec, -(-o // cbc))
    full = np.zeros((groups * g, in_cb * cbc, kh, kw), dtype=np.int64)
    full[:o, :c] = w
    # word ((b*KH + kh)*KW + kw)*SUB + s of group gi holds element (o, i) = w[gi*G+o, b*CBC+s*IC+i]
    t = full.reshape(groups, g, in_cb, sub, ic, kh, kw).transpose(0, 2, 5, 6, 3, 1, 4)
    return _weight_bytes(t, prec)


def depthwise_weight_words(cfg: OverlayConfig, w: np.ndarray, prec: Precision) -> np.ndarray:
    """(C, 1, KH, KW) depthwise weights -> words (docs/engine.md 6.2, depthwise)."""
    c, _, kh, kw = w.shape
    cbc, g, ic = block_channels(cfg, prec), group_channels(cfg, prec), cfg.pe.in_channels
    groups = conv_groups(cfg, prec, -(-c // cbc))
    wg = conv_weight_words(cfg, prec, 1, kh, kw, depthwise=True)
    full = np.zeros((groups * g, wg * ic), dtype=np.int64)
    full[:c, : kh * kw] = w.reshape(c, kh * kw)
    t = full.reshape(groups, g, wg, ic).transpose(0, 2, 1, 3)
    return _weight_bytes(t, prec)


def _weight_bytes(t: np.ndarray, prec: Precision) -> np.ndarray:
    dt = "<i2" if prec == Precision.INT16 else "i1"
    return np.ascontiguousarray(t.astype(dt)).view(np.uint8).reshape(-1)


def params_words(
    cfg: OverlayConfig, bias: np.ndarray, m: np.ndarray, s: np.ndarray, prec: Precision
) -> np.ndarray:
    """Per-channel (bias, M, S) -> params words (docs/engine.md 6.3); padding S = 1."""
    g = group_channels(cfg, prec)
    n = len(bias)
    groups = -(-n // g)
    b = np.zeros(groups * g, dtype=np.int64)
    mm = np.zeros(groups * g, dtype=np.int64)
    ss = np.ones(groups * g, dtype=np.int64)
    b[:n], mm[:n], ss[:n] = bias, m, s
    if prec == Precision.INT16:
        lo = [(int(bi) & (2**48 - 1)) | (int(mi) << 48) for bi, mi in zip(b, mm)]
        slots = np.zeros((groups * g, 2), dtype=np.uint64)
        slots[:, 0] = np.array(lo, dtype=np.uint64)
        slots[:, 1] = ss.astype(np.uint64)
    else:
        v = [
            (int(bi) & (2**32 - 1)) | (int(mi) << 32) | (int(si) << 48)
            for bi, mi, si in zip(b, mm, ss)
        ]
        slots = np.array(v, dtype=np.uint64)
    return np.ascontiguousarray(slots.astype("<u8")).view(np.uint8).reshape(-1)


def divisor_table(cfg: OverlayConfig, areas: Sequence[int], ratio: float) -> np.ndarray:
    """One params word holding the average-pooling divisor table (slot k: A, M_A, S_A)."""
    word = np.zeros(cfg.pe.out_channels, dtype=np.uint64)
    for k, a in enumerate(areas):
        m, s = arith.avgpool_multiplier(a, ratio)
        word[k] = int(a) | (int(m) << 32) | (int(s) << 48)
    return np.ascontiguousarray(word.astype("<u8")).view(np.uint8).reshape(-1)


def tq(scale: float, dtype: str, nonneg: bool = False) -> TensorQuant:
    lo, hi = RANGES[dtype]
    return TensorQuant(float(np.float32(scale)), dtype, 0 if nonneg else lo, hi)


def rand_q(rng: np.random.Generator, shape: Sequence[int], dtype: str) -> np.ndarray:
    lo, hi = RANGES[dtype]
    return rng.integers(lo, hi + 1, size=tuple(shape)).astype(NP[dtype])


def mac_node(
    rng: np.random.Generator,
    o: int,
    wshape: tuple[int, ...],
    in_t: TensorQuant,
    out_t: TensorQuant,
    mode: str,
) -> NodeQuant:
    """Random weights, bias and (M, S) giving mostly unsaturated outputs."""
    wmax = 127 if mode == "int8" else 32767
    w = rng.integers(-wmax, wmax + 1, size=wshape)
    k = int(np.prod(wshape[1:]))
    typical = np.sqrt(k) * wmax * RANGES[in_t.dtype][1] / 2
    b = rng.integers(-int(typical), int(typical) + 1, size=o)
    M = rng.integers(1 << 15, 1 << 16, size=o)
    s0 = max(1, round(float(np.log2(typical * 2**15.5 / 60))))
    S = rng.integers(s0 - 1, s0 + 2, size=o)
    wt = w.astype(np.int8 if mode == "int8" else np.int16)
    return NodeQuant("n", "test", mode, "engine", [in_t], [out_t], weights=wt, bias=b, M=M, S=S)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- stream helpers
def patched(ins: Any, **changes: Any) -> Any:
    """A copy of an instruction with some fields changed."""
    return dataclasses.replace(ins, **changes)


@dataclasses.dataclass
class Program:
    """Instructions plus the packets of every input stream, in order."""

    cfg: OverlayConfig
    instrs: list[Instruction] = dataclasses.field(default_factory=list)
    packets: dict[str, list[np.ndarray]] = dataclasses.field(default_factory=dict)

    def add(self, ins: Instruction, **packets: np.ndarray) -> None:
        self.instrs.append(ins)
        for stream, data in packets.items():
            self.packets.setdefault(stream, []).append(data)

    def words(self) -> np.ndarray:
        return encode_stream([*self.instrs, End()], self.cfg.config_hash)

    def run(self, engine: Engine | None = None) -> tuple[Engine, dict[str, list[np.ndarray]]]:
        eng = engine or Engine(self.cfg)
        out = eng.run(self.words(), self.packets)
        assert eng.status is EngineStatus.DONE
        return eng, out


def in_stream(cfg: OverlayConfig, role: str, k: int = 0) -> str:
    return cfg.streams_with_role(role)[k].name


def conv_program(
    cfg: OverlayConfig,
    layer: Convolution,
    q: NodeQuant,
    x: np.ndarray,
    bands: int = 1,
) -> tuple[Program, tuple[int, int, int]]:
    """A convolution layer as LOAD_PARAMS / LOAD_WEIGHTS / CONFIG_CONV, then per group and row
    band LOAD_INPUT (the band with its halo) / COMPUTE_TILE into an out_map region, one STORE."""
    assert q.weights is not None and q.bias is not None and q.M is not None and q.S is not None
    in_t, out_t = q.inputs[0], q.outputs[0]
    prec = prec_of(in_t.dtype)
    cbc = block_channels(cfg, prec)
    _, c, h, wd = x.shape
    (shape,) = layer.output_shapes([x.shape])
    o, oh, ow = shape[1], shape[2], shape[3]
    kh, kw = layer.kernel
    depthwise = layer.group == c == o and layer.group > 1
    qmin = max(out_t.qmin, 0) if layer.relu else out_t.qmin
    prog = Program(cfg)
    wstream, astream = in_stream(cfg, "weights"), in_stream(cfg, "act_in")
    groups = 1 if depthwise else layer.group
    cg, og = c // groups, o // groups
    if not depthwise and groups > 1:
        assert cg % cbc == 0 and og % cbc == 0, "grouped test cases use whole channel blocks"
    in_cb_g = -(-cg // cbc) if not depthwise else -(-c // cbc)
    out_cb_g = -(-og // cbc) if not depthwise else -(-c // cbc)
    w_base = p_base = 0
    tiles = []
    for gi in range(groups):
        wq = q.weights[gi * og : (gi + 1) * og]
        wwords = (
            depthwise_weight_words(cfg, wq, prec)
            if depthwise
            else dense_weight_words(cfg, wq, prec)
        )
        sl = slice(gi * og, (gi + 1) * og)
        pwords = params_words(cfg, q.bias[sl], q.M[sl], q.S[sl], prec)
        n_w = wwords.size // (cfg.pe.out_channels * cfg.pe.in_channels)
        n_p = pwords.size // (cfg.pe.out_channels * 8)
        prog.add(LoadParams(dst_base=p_base, n_words=n_p), **{wstream: pwords})
        prog.add(LoadWeights(dst_base=w_base, n_words=n_w, signal=W), **{wstream: wwords})
        tiles.append((w_base, p_base))
        w_base += n_w
        p_base += n_p
    prog.add(
        ConfigConv(
            precision=prec,
            in_signed=in_t.dtype != "uint8",
            depthwise=depthwise,
            in_h=h,
            in_w=wd,
            out_h=oh,
            out_w=ow,
            kernel_h=kh,
            kernel_w=kw,
            stride_h=layer.stride[0],
            stride_w=layer.stride[1],
            pad_h=layer.pad[0],
            pad_w=layer.pad[1],
            dilation_h=layer.dilation[0],
            dilation_w=layer.dilation[1],
            qmin=qmin,
            qmax=out_t.qmax,
        )
    )
    xb = [blocked(x[0, gi * cg : (gi + 1) * cg], cbc) for gi in range(groups)]
    rows_per = -(-oh // bands)
    for gi, (wb, pb) in enumerate(tiles):
        for oh0 in range(0, oh, rows_per):
            n_oh = min(rows_per, oh - oh0)
            lo = max(0, oh0 * layer.stride[0] - layer.pad[0])
            hi = min(
                h,
                (oh0 + n_oh - 1) * layer.stride[0]
                - layer.pad[0]
                + (kh - 1) * layer.dilation[0]
                + 1,
            )
            band = xb[gi].reshape(in_cb_g, h, wd, -1)[:, lo:hi]
            # every band reuses input word 0: wait until the previous tile has read it
            reuse = Token.CMP_LDA if gi or oh0 else 0
            prog.add(
                LoadInput(dst_base=0, n_words=in_cb_g * (hi - lo) * wd, signal=A, wait=reuse),
                **{astream: np.ascontiguousarray(band).reshape(-1)},
            )
            wait = A | (W if oh0 == 0 else 0)
            prog.add(
                ComputeTile(
                    in_base=0,
                    in_cb=in_cb_g,
                    ih0=lo,
                    in_rows=hi - lo,
                    oh0=oh0,
                    n_oh=n_oh,
                    out_base=gi * out_cb_g * oh * ow,
                    out_cb=out_cb_g,
                    out_map=True,
                    w_base=wb,
                    p_base=pb,
                    wait=wait,
                    signal=Token.CMP_LDA,
                )
            )
    n_blocks = groups * out_cb_g
    prog.instrs[-1] = patched(prog.instrs[-1], signal=Token.CMP_ST)
    prog.add(StoreTile(src_base=0, n_blocks=1, block_words=n_blocks * oh * ow, wait=Token.CMP_ST))
    return prog, (o, oh, ow)


def run_conv(
    cfg: OverlayConfig, layer: Convolution, q: NodeQuant, x: np.ndarray, bands: int = 1
) -> tuple[np.ndarray, Engine]:
    prog, (o, oh, ow) = conv_program(cfg, layer, q, x, bands)
    eng, out = prog.run()
    (pkt,) = out[in_stream(cfg, "act_out")]
    out_t = q.outputs[0]
    cbc = block_channels(cfg, prec_of(out_t.dtype))
    groups = 1 if (layer.group == x.shape[1] == o and layer.group > 1) else layer.group
    og = o // groups
    per = -(-og // cbc) * cbc
    y = unblocked(pkt, groups * per, oh, ow, cbc, out_t.dtype)
    keep = np.concatenate([np.arange(gi * per, gi * per + og) for gi in range(groups)])
    return y[keep][None], eng


# ---------------------------------------------------------------------------- convolution
CONV_CASES = [
    # id, overlay, C, O, H, W, kernel, stride, pad, dilation, group, relu, in dtype, bands
    ("1x1", "zcu104", 13, 20, 5, 6, (1, 1), (1, 1), (0, 0), (1, 1), 1, False, "int8", 1),
    ("3x3pad", "zcu104", 8, 70, 9, 7, (3, 3), (1, 1), (1, 1), (1, 1), 1, False, "int8", 1),
    ("3x3bands", "zcu104", 8, 16, 11, 9, (3, 3), (1, 1), (1, 1), (1, 1), 1, True, "uint8", 3),
    ("stride2", "zcu104", 5, 9, 11, 10, (3, 3), (2, 2), (1, 1), (1, 1), 1, True, "uint8", 2),
    ("dilated", "ultra96", 6, 20, 10, 9, (3, 3), (1, 2), (2, 2), (2, 2), 1, False, "int8", 2),
    ("grouped", "ultra96", 16, 32, 6, 7, (3, 3), (1, 1), (1, 1), (1, 1), 2, True, "int8", 1),
    ("depthwise", "zcu104", 20, 20, 8, 9, (3, 3), (2, 1), (1, 1), (1, 1), 20, True, "uint8", 2),
    ("dw5x5", "ultra96", 9, 9, 9, 8, (5, 5), (1, 1), (2, 2), (1, 1), 9, False, "int8", 1),
    ("int16", "zcu104", 6, 40, 7, 6, (3, 3), (1, 1), (1, 1), (1, 1), 1, False, "int16", 2),
    ("int16relu", "ultra96", 5, 10, 6, 6, (3, 2), (2, 1), (1, 0), (1, 1), 1, True, "int16", 1),
    ("int16dw", "zcu104", 6, 6, 6, 7, (3, 3), (1, 1), (1, 1), (1, 1), 6, True, "int16", 1),
    ("dpu", "dpu_b4096_zu7", 20, 24, 7, 6, (3, 3), (1, 1), (1, 1), (1, 1), 1, True, "int8", 2),
    ("dpu_dw", "dpu_b4096_zu7", 18, 18, 6, 6, (3, 3), (1, 1), (1, 1), (1, 1), 18, False, "int8", 1),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_convolution_bit_exact(case: tuple[Any, ...], cfgs: dict[str, OverlayConfig]) -> None:
    _, ov, c, o, h, wd, kernel, stride, pad, dil, group, relu, in_dtype, bands = case
    cfg = cfgs[ov]
    rng = np.random.default_rng(CONV_CASES.index(case))
    layer = Convolution(
        "conv",
        num_output=o,
        kernel=kernel,
        stride=stride,
        pad=pad,
        dilation=dil,
        group=group,
        relu=relu,
    )
    mode = "int16" if in_dtype == "int16" else "int8"
    out_dtype = "int16" if mode == "int16" else ("uint8" if relu else "int8")
    x = rand_q(rng, (1, c, h, wd), in_dtype)
    q = mac_node(
        rng, o, (o, c // group, *kernel), tq(0.02, in_dtype), tq(0.05, out_dtype, relu), mode
    )
    (ref,) = layer.forward_int([x], q)
    y, eng = run_conv(cfg, layer, q, x, bands)
    assert y.shape == ref.shape
    assert np.array_equal(y, ref)
    assert len(np.unique(ref)) > 10
    assert eng.counters.macs >= layer.macs([x.shape], [ref.shape])
    assert eng.counters.cycles > 0


def test_fused_relu_int8_concat_range(cfgs: dict[str, OverlayConfig]) -> None:
    """A ReLU producer writing into an int8 concat saturates to [0, 127]."""
    cfg = cfgs["zcu104"]
    rng = np.random.default_rng(5)
    layer = Convolution("c", num_output=10, kernel=(1, 1), relu=True)
    x = rand_q(rng, (1, 8, 4, 4), "int8")
    q = mac_node(rng, 10, (10, 8, 1, 1), tq(0.02, "int8"), tq(0.01, "int8", True), "int8")
    assert q.S is not None
    q.S = q.S - 3  # make values saturate
    (ref,) = layer.forward_int([x], q)
    y, _ = run_conv(cfg, layer, q, x)
    assert np.array_equal(y, ref) and ref.max() == 127 and ref.min() == 0


# ---------------------------------------------------------------------------- inner product
@pytest.mark.parametrize("ksplit", [1, 3])
@pytest.mark.parametrize("in_dtype", ["uint8", "int16"])
def test_inner_product_blocked_and_ksplit(
    ksplit: int, in_dtype: str, cfgs: dict[str, OverlayConfig]
) -> None:
    """An InnerProduct over a (C, H, W) input: 1x1 convolution over the blocked physical
    channels (docs/engine.md 6.4), optionally K-split into successive COMPUTE_TILEs."""
    cfg = cfgs["zcu104"]
    prec = prec_of(in_dtype)
    mode = "int16" if in_dtype == "int16" else "int8"
    cbc = block_channels(cfg, prec)
    rng = np.random.default_rng(11 + ksplit)
    c, h, wd, o = 11, 3, 4, 10
    layer = InnerProduct("ip", num_output=o, relu=True)
    x = rand_q(rng, (1, c, h, wd), in_dtype)
    out_dtype = "int16" if mode == "int16" else "uint8"
    q = mac_node(rng, o, (o, c * h * wd), tq(0.02, in_dtype), tq(0.1, out_dtype, True), mode)
    assert q.weights is not None and q.bias is not None and q.M is not None and q.S is not None
    (ref,) = layer.forward_int([x], q)
    nb = -(-c // cbc)
    # physical channel j = ((b*H + h)*W + w)*CBC + k holds x[b*CBC + k, h, w]
    j = np.arange(nb * h * wd * cbc)
    k, pix = j % cbc, j // cbc
    b, hh, ww = pix // (h * wd), (pix // wd) % h, pix % wd
    ch = b * cbc + k
    wphys = np.zeros((o, j.size), dtype=np.int64)
    valid = ch < c
    wphys[:, valid] = q.weights.astype(np.int64)[:, (ch[valid] * h + hh[valid]) * wd + ww[valid]]
    in_cb = nb * h * wd
    assert in_cb % ksplit == 0
    part = in_cb // ksplit
    prog = Program(cfg)
    ws, acs = in_stream(cfg, "weights"), in_stream(cfg, "act_in")
    pw = params_words(cfg, q.bias, q.M, q.S, prec)
    prog.add(LoadParams(dst_base=0, n_words=1), **{ws: pw})
    w_base = 0
    bases = []
    for t in range(ksplit):
        sl = slice(t * part * cbc, (t + 1) * part * cbc)
        ww_ = dense_weight_words(cfg, wphys[:, sl].reshape(o, part * cbc, 1, 1), prec)
        n = ww_.size // (cfg.pe.out_channels * cfg.pe.in_channels)
        prog.add(LoadWeights(dst_base=w_base, n_words=n, signal=W), **{ws: ww_})
        bases.append(w_base)
        w_base += n
    prog.add(
        ConfigConv(
            precision=prec,
            in_signed=in_dtype != "uint8",
            in_h=1,
            in_w=1,
            out_h=1,
            out_w=1,
            kernel_h=1,
            kernel_w=1,
            qmin=0,
            qmax=RANGES[out_dtype][1],
        )
    )
    prog.add(LoadInput(dst_base=0, n_words=in_cb, signal=A), **{acs: blocked(x[0], cbc)})
    for t in range(ksplit):
        prog.add(
            ComputeTile(
                acc_first=t == 0,
                acc_last=t == ksplit - 1,
                in_base=t * part,
                in_cb=part,
                ih0=0,
                in_rows=1,
                oh0=0,
                n_oh=1,
                out_base=0,
                out_cb=-(-o // cbc),
                w_base=bases[t],
                p_base=0,
                wait=W | (A if t == 0 else 0),
                signal=Token.CMP_ST if t == ksplit - 1 else 0,
            )
        )
    prog.add(StoreTile(src_base=0, block_words=-(-o // cbc), wait=Token.CMP_ST))
    _, out = prog.run()
    (pkt,) = out[in_stream(cfg, "act_out")]
    y = unblocked(pkt, o, 1, 1, cbc, out_dtype).reshape(1, o)
    assert np.array_equal(y, ref)


# ---------------------------------------------------------------------------- pooling
POOL_CASES = [
    # kernel, stride, pad, H, W, dtype (ceil mode everywhere: overhanging last windows)
    ((3, 3), (2, 2), (0, 0), 8, 7, "int8"),
    ((3, 3), (2, 2), (1, 1), 7, 8, "uint8"),
    ((2, 3), (2, 3), (1, 0), 9, 10, "int16"),
    ((3, 3), (1, 1), (1, 1), 5, 6, "int8"),
]


@pytest.mark.parametrize("method", ["MAX", "AVE"])
@pytest.mark.parametrize("case", POOL_CASES)
def test_pooling_bit_exact(
    case: tuple[Any, ...], method: str, cfgs: dict[str, OverlayConfig]
) -> None:
    kernel, stride, pad, h, wd, dtype = case
    cfg = cfgs["zcu104"]
    rng = np.random.default_rng(20 + POOL_CASES.index(case))
    c = 11
    layer = Pooling("p", method=method, kernel=kernel, stride=stride, pad=pad)
    x = rand_q(rng, (1, c, h, wd), dtype)
    tin = tq(0.05, dtype)
    tout = tin if method == "MAX" else tq(0.04, dtype)
    (ref,) = layer.forward_int([x], NodeQuant("p", "Pooling", "int8", "engine", [tin], [tout]))
    oh, ow = ref.shape[2:]
    prec = prec_of(dtype)
    cbc = block_channels(cfg, prec)
    nb = -(-c // cbc)
    areas = arith.caffe_avgpool_areas((h, wd), kernel, stride, pad, (oh, ow))
    uniq = sorted({int(a) for a in areas.ravel()})
    prog = Program(cfg)
    ws, acs = in_stream(cfg, "weights"), in_stream(cfg, "act_in")
    ave = method == "AVE"
    if ave:
        ratio = float(np.float64(tin.scale) / np.float64(tout.scale))
        prog.add(
            LoadParams(dst_base=3, n_words=1, signal=Token.LDW_VEC),
            **{ws: divisor_table(cfg, uniq[::-1], ratio)},
        )
    prog.add(
        ConfigPool(
            precision=prec,
            in_signed=dtype != "uint8",
            kind=PoolKind.AVE if ave else PoolKind.MAX,
            in_h=h,
            in_w=wd,
            out_h=oh,
            out_w=ow,
            kernel_h=kernel[0],
            kernel_w=kernel[1],
            stride_h=stride[0],
            stride_w=stride[1],
            pad_h=pad[0],
            pad_w=pad[1],
            n_area=len(uniq) if ave else 0,
            qmin=tout.qmin,
            qmax=tout.qmax,
        )
    )
    prog.add(
        LoadInput(dst_base=5, n_words=nb * h * wd, signal=Token.LDA_VEC),
        **{acs: blocked(x[0], cbc)},
    )
    # two row bands, each with only its own input rows resident (tile-dense output)
    half = oh // 2
    for oh0, n_oh in ((0, half), (half, oh - half)):
        lo = max(0, oh0 * stride[0] - pad[0])
        hi = min(h, (oh0 + n_oh - 1) * stride[0] - pad[0] + kernel[0])
        prog.add(
            PoolTile(
                in_base=5 + lo * wd,
                n_cb=1,
                ih0=lo,
                in_rows=hi - lo,
                oh0=oh0,
                n_oh=n_oh,
                out_base=100 + oh0 * ow,
                p_base=3 if ave else 0,
                wait=(Token.LDA_VEC | (Token.LDW_VEC if ave else 0)) if oh0 == 0 else 0,
            )
        ) if nb == 1 else None
    if nb > 1:
        prog.add(
            PoolTile(
                in_base=5,
                n_cb=nb,
                ih0=0,
                in_rows=h,
                oh0=0,
                n_oh=oh,
                out_base=100,
                out_map=True,
                p_base=3 if ave else 0,
                wait=Token.LDA_VEC | (Token.LDW_VEC if ave else 0),
            )
        )
    prog.instrs[-1] = patched(prog.instrs[-1], signal=Token.VEC_ST)
    prog.add(StoreTile(src_base=100, block_words=nb * oh * ow, wait=Token.VEC_ST))
    _, out = prog.run()
    (pkt,) = out[in_stream(cfg, "act_out")]
    y = unblocked(pkt, c, oh, ow, cbc, dtype)[None]
    assert np.array_equal(y, ref)


def test_pooling_row_bands_partial_residency(cfgs: dict[str, OverlayConfig]) -> None:
    """MAX pooling in two bands, each band's input rows loaded separately (one block)."""
    cfg = cfgs["ultra96"]
    rng = np.random.default_rng(77)
    c, h, wd = 8, 9, 9
    layer = Pooling("p", method="MAX", kernel=(3, 3), stride=(2, 2))
    x = rand_q(rng, (1, c, h, wd), "int8")
    t = tq(0.05, "int8")
    (ref,) = layer.forward_int([x], NodeQuant("p", "Pooling", "int8", "engine", [t], [t]))
    oh, ow = ref.shape[2:]
    prog = Program(cfg)
    acs = in_stream(cfg, "act_in")
    prog.add(
        ConfigPool(
            kind=PoolKind.MAX,
            in_h=h,
            in_w=wd,
            out_h=oh,
            out_w=ow,
            kernel_h=3,
            kernel_w=3,
            stride_h=2,
            stride_w=2,
            qmin=-128,
            qmax=127,
        )
    )
    xb = blocked(x[0], 8).reshape(h, wd, 8)
    for oh0, n_oh in ((0, 2), (2, oh - 2)):
        lo, hi = oh0 * 2, min(h, (oh0 + n_oh - 1) * 2 + 3)
        prog.add(
            LoadInput(
                dst_base=0,
                n_words=(hi - lo) * wd,
                signal=Token.LDA_VEC,
                wait=0 if oh0 == 0 else Token.VEC_LDA,
            ),
            **{acs: np.ascontiguousarray(xb[lo:hi]).reshape(-1)},
        )
        prog.add(
            PoolTile(
                in_base=0,
                n_cb=1,
                ih0=lo,
                in_rows=hi - lo,
                oh0=oh0,
                n_oh=n_oh,
                out_base=0,
                out_map=True,
                wait=Token.LDA_VEC,
                signal=Token.VEC_LDA if oh0 == 0 else Token.VEC_ST,
            )
        )
    prog.add(StoreTile(src_base=0, block_words=oh * ow, wait=Token.VEC_ST))
    _, out = prog.run()
    y = unblocked(out["act_out"][0], c, oh, ow, 8, "int8")[None]
    assert np.array_equal(y, ref)


# ---------------------------------------------------------------------------- eltwise
@pytest.mark.parametrize("op", ["SUM", "MAX"])
def test_eltwise_tile_different_scales(op: str, cfgs: dict[str, OverlayConfig]) -> None:
    cfg = cfgs["zcu104"]
    rng = np.random.default_rng(50)
    c, h, wd = 13, 5, 4
    ins = [tq(0.05, "int8"), tq(0.2, "uint8")] if op == "SUM" else [tq(0.1, "int8")] * 2
    out = tq(0.1, "uint8", True) if op == "SUM" else tq(0.1, "int8")
    layer = Eltwise("e", operation=op, relu=op == "SUM")
    xs = [rand_q(rng, (1, c, h, wd), t.dtype) for t in ins]
    tables: dict[str, Any] = {}
    m_a = m_b = 0
    shift = 1
    if op == "SUM":
        ms, shift = arith.eltwise_multipliers([t.scale for t in ins], out.scale)
        m_a, m_b = ms
        tables["eltwise"] = {"M": ms, "S": shift}
    else:
        tables["rescale"] = [None, None]
    (ref,) = layer.forward_int(
        xs, NodeQuant("e", "Eltwise", "int8", "engine", ins, [out], tables=tables)
    )
    cbc = 8
    n = 2 * h * wd
    acs = in_stream(cfg, "act_in", 0), in_stream(cfg, "act_in", 1)
    prog = Program(cfg)
    # operand a split over both act_in streams (two packets), operand b on the second only;
    # LDA runs in order, so the second load's token also covers the first
    a_bytes = blocked(xs[0][0], cbc)
    prog.add(
        LoadInput(dst_base=0, n_words=n, streams=0b11),
        **{acs[0]: a_bytes[: a_bytes.size // 2], acs[1]: a_bytes[a_bytes.size // 2 :]},
    )
    prog.add(
        LoadInput(dst_base=n, n_words=n, streams=0b10, signal=A),
        **{acs[1]: blocked(xs[1][0], cbc)},
    )
    prog.add(
        ConfigEltwise(
            a_signed=True,
            b_signed=ins[1].dtype == "int8",
            op=EltwiseOp[op],
            m_a=m_a,
            m_b=m_b,
            shift=shift,
            qmin=0 if op == "SUM" else -128,
            qmax=255 if op == "SUM" else 127,
        )
    )
    prog.add(Sync())
    prog.add(EltwiseTile(a_base=0, b_base=n, out_base=7, n_words=n, wait=A, signal=Token.CMP_ST))
    prog.add(StoreTile(src_base=7, block_words=n, streams=0b11, wait=Token.CMP_ST))
    eng, outp = prog.run()
    o0, o1 = outp[in_stream(cfg, "act_out", 0)], outp[in_stream(cfg, "act_out", 1)]
    y = unblocked(np.concatenate([o0[0], o1[0]]), c, h, wd, cbc, out.dtype)[None]
    assert np.array_equal(y, ref)
    assert eng.counters.stream_bytes[acs[1]] == a_bytes.size // 2 + a_bytes.size


def test_fused_eltwise_residual(cfgs: dict[str, OverlayConfig]) -> None:
    """ResNet path: conv -> requantize -> + residual (COMPUTE_TILE fuse_eltwise), ReLU."""
    cfg = cfgs["zcu104"]
    rng = np.random.default_rng(60)
    c, o, h, wd = 8, 16, 6, 5
    conv = Convolution("c", num_output=o, kernel=(3, 3), pad=(1, 1))
    x = rand_q(rng, (1, c, h, wd), "uint8")
    t_conv = tq(0.05, "int8")
    q = mac_node(rng, o, (o, c, 3, 3), tq(0.02, "uint8"), t_conv, "int8")
    (y_conv,) = conv.forward_int([x], q)
    res_t = tq(0.07, "uint8")
    res = rand_q(rng, (1, o, h, wd), "uint8")
    out_t = tq(0.09, "uint8", True)
    ms, shift = arith.eltwise_multipliers([t_conv.scale, res_t.scale], out_t.scale)
    elt = Eltwise("e", operation="SUM", relu=True)
    nq = NodeQuant(
        "e",
        "Eltwise",
        "int8",
        "engine",
        [t_conv, res_t],
        [out_t],
        tables={"eltwise": {"M": ms, "S": shift}},
    )
    (ref,) = elt.forward_int([y_conv, res], nq)
    prog, (_, oh, ow) = conv_program(cfg, conv, q, x)
    lp, lw, cc, li, ct, st = prog.instrs
    assert isinstance(ct, ComputeTile)
    nres = 2 * h * wd
    acs = in_stream(cfg, "act_in")
    ce = ConfigEltwise(
        a_signed=True, b_signed=False, m_a=ms[0], m_b=ms[1], shift=shift, qmin=0, qmax=255
    )
    # the residual is loaded first, in the layout of the output tile (map region)
    lres = LoadInput(dst_base=5000, n_words=nres)
    ct2 = patched(ct, fuse_eltwise=True, res_base=5000)
    prog.instrs = [lp, lw, cc, ce, lres, li, ct2, st]
    prog.packets[acs].insert(0, blocked(res[0], 8))
    _, out = prog.run()
    y = unblocked(out[in_stream(cfg, "act_out")][0], o, oh, ow, 8, "uint8")[None]
    assert np.array_equal(y, ref)


# ---------------------------------------------------------------------------- concat, loop-back
def test_concat_by_output_addressing(cfgs: dict[str, OverlayConfig]) -> None:
    """Two convolutions write their blocks side by side in one output map region; one store
    sends the concatenation (channels 0..7 from the first, 8..23 from the second)."""
    cfg = cfgs["ultra96"]
    rng = np.random.default_rng(70)
    c, h, wd = 8, 5, 6
    x = rand_q(rng, (1, c, h, wd), "int8")
    out_t = tq(0.05, "int8")
    layers = [
        Convolution("a", num_output=8, kernel=(1, 1)),
        Convolution("b", num_output=16, kernel=(3, 3), pad=(1, 1)),
    ]
    qs = [
        mac_node(
            rng, lay.num_output, (lay.num_output, c, *lay.kernel), tq(0.02, "int8"), out_t, "int8"
        )
        for lay in layers
    ]
    ys = [lay.forward_int([x], q)[0] for lay, q in zip(layers, qs)]
    (ref,) = Concat("cat").forward_int(
        ys,
        NodeQuant(
            "cat",
            "Concat",
            "int8",
            "engine",
            [out_t] * 2,
            [out_t],
            tables={"rescale": [None, None]},
        ),
    )
    prog = Program(cfg)
    ws, acs = in_stream(cfg, "weights"), in_stream(cfg, "act_in")
    prog.add(LoadInput(dst_base=0, n_words=h * wd, signal=A), **{acs: blocked(x[0], 8)})
    w_base, p_base, blk = 0, 0, 0
    for k, (lay, q) in enumerate(zip(layers, qs)):
        assert q.weights is not None and q.bias is not None and q.M is not None and q.S is not None
        ww_ = dense_weight_words(cfg, q.weights, Precision.INT8)
        pw = params_words(cfg, q.bias, q.M, q.S, Precision.INT8)
        nw = ww_.size // 64
        prog.add(LoadParams(dst_base=p_base, n_words=pw.size // 128), **{ws: pw})
        prog.add(LoadWeights(dst_base=w_base, n_words=nw, signal=W), **{ws: ww_})
        kh = lay.kernel[0]
        prog.add(
            ConfigConv(
                in_h=h,
                in_w=wd,
                out_h=h,
                out_w=wd,
                kernel_h=kh,
                kernel_w=kh,
                pad_h=lay.pad[0],
                pad_w=lay.pad[1],
                qmin=-128,
                qmax=127,
            )
        )
        out_cb = lay.num_output // 8
        prog.add(
            ComputeTile(
                in_base=0,
                in_cb=1,
                ih0=0,
                in_rows=h,
                oh0=0,
                n_oh=h,
                out_base=blk * h * wd,
                out_cb=out_cb,
                out_map=True,
                w_base=w_base,
                p_base=p_base,
                wait=W | (A if k == 0 else 0),
                signal=Token.CMP_ST if k == 1 else 0,
            )
        )
        w_base += nw
        p_base += pw.size // 128
        blk += out_cb
    prog.add(
        StoreTile(src_base=0, n_blocks=3, block_words=h * wd, src_pitch=h * wd, wait=Token.CMP_ST)
    )
    _, out = prog.run()
    y = unblocked(out["act_out"][0], 24, h, wd, 8, "int8")[None]
    assert np.array_equal(y, ref)


def test_loopback_chains_two_layers(cfgs: dict[str, OverlayConfig]) -> None:
    """conv1 -> STORE_TILE loop-back into the input buffer -> conv2 -> DDR (no round trip)."""
    cfg = cfgs["zcu104"]
    rng = np.random.default_rng(80)
    c, h, wd = 8, 7, 6
    x = rand_q(rng, (1, c, h, wd), "int8")
    l1 = Convolution("c1", num_output=16, kernel=(3, 3), pad=(1, 1), relu=True)
    l2 = Convolution("c2", num_output=8, kernel=(3, 3), stride=(2, 2), pad=(1, 1))
    t1 = tq(0.04, "uint8", True)
    q1 = mac_node(rng, 16, (16, c, 3, 3), tq(0.02, "int8"), t1, "int8")
    q2 = mac_node(rng, 8, (8, 16, 3, 3), t1, tq(0.05, "int8"), "int8")
    (y1,) = l1.forward_int([x], q1)
    (ref,) = l2.forward_int([y1], q2)
    p1, _ = conv_program(cfg, l1, q1, x)
    p2, (_, oh, ow) = conv_program(cfg, l2, q2, y1)
    # p1's store becomes a loop-back of its 2 blocks to input word 1000 (block pitch h*wd)
    st1 = p1.instrs.pop()
    assert isinstance(st1, StoreTile)
    loop = StoreTile(
        streams=0,
        loopback=True,
        src_base=0,
        n_blocks=2,
        block_words=h * wd,
        src_pitch=h * wd,
        dst_base=1000,
        dst_pitch=h * wd,
        wait=Token.CMP_ST,
        signal=Token.ST_CMP,
    )
    # p2 without its LOAD_INPUT; its tile reads the looped-back map; its weights go elsewhere
    body2 = []
    for ins in p2.instrs:
        if isinstance(ins, LoadInput):
            continue
        if isinstance(ins, LoadWeights):
            ins = patched(ins, dst_base=ins.dst_base + 2000)
        if isinstance(ins, LoadParams):
            ins = patched(ins, dst_base=ins.dst_base + 10)
        if isinstance(ins, ComputeTile):
            ins = patched(
                ins,
                in_base=1000,
                w_base=ins.w_base + 2000,
                p_base=ins.p_base + 10,
                wait=Token.ST_CMP | W,
                out_base=3000,
            )
        if isinstance(ins, StoreTile):
            ins = patched(ins, src_base=3000)
        body2.append(ins)
    prog = Program(cfg, [*p1.instrs, loop, *body2], {k: list(v) for k, v in p1.packets.items()})
    prog.packets[in_stream(cfg, "weights")] += p2.packets[in_stream(cfg, "weights")]
    eng, out = prog.run()
    y = unblocked(out[in_stream(cfg, "act_out")][0], 8, oh, ow, 8, "int8")[None]
    assert np.array_equal(y, ref)
    assert eng.counters.stream_bytes[in_stream(cfg, "act_in")] == h * wd * 8


# ---------------------------------------------------------------------------- faults
def small_conv_program(cfg: OverlayConfig) -> Program:
    rng = np.random.default_rng(90)
    layer = Convolution("c", num_output=8, kernel=(3, 3), pad=(1, 1))
    x = rand_q(rng, (1, 8, 4, 4), "int8")
    q = mac_node(rng, 8, (8, 8, 3, 3), tq(0.02, "int8"), tq(0.05, "int8"), "int8")
    prog, _ = conv_program(cfg, layer, q, x)
    return prog


def expect_fault(
    prog: Program, code: ErrorCode, index: int | None, opcode: str | None, field: str | None
) -> EngineFault:
    eng = Engine(prog.cfg)
    with pytest.raises(EngineFault) as ei:
        eng.run(prog.words(), prog.packets)
    f = ei.value
    assert f.code == code, str(f)
    assert f.instruction_index == index, str(f)
    assert f.opcode == opcode, str(f)
    assert f.field == field, str(f)
    assert eng.status is EngineStatus.ERROR and eng.error_code == code
    return f


def test_fault_packet_too_short_and_too_long(cfgs: dict[str, OverlayConfig]) -> None:
    cfg = cfgs["zcu104"]
    for delta in (-8, 8):
        prog = small_conv_program(cfg)
        acs = in_stream(cfg, "act_in")
        pkt = prog.packets[acs][0]
        prog.packets[acs][0] = (
            pkt[: pkt.size + delta] if delta < 0 else np.concatenate([pkt, pkt[:delta]])
        )
        i = next(k for k, ins in enumerate(prog.instrs) if isinstance(ins, LoadInput))
        f = expect_fault(prog, ErrorCode.STREAM_LENGTH, i, "LOAD_INPUT", "n_words")
        assert "TLAST" in f.reason


def test_fault_stream_ran_dry_and_leftover(cfgs: dict[str, OverlayConfig]) -> None:
    cfg = cfgs["zcu104"]
    prog = small_conv_program(cfg)
    ws = in_stream(cfg, "weights")
    extra = prog.packets[ws].pop()
    expect_fault(prog, ErrorCode.STREAM_LENGTH, 1, "LOAD_WEIGHTS", "streams")
    prog.packets[ws] += [extra, extra]
    f = expect_fault(prog, ErrorCode.STREAM_LENGTH, len(prog.instrs), "END", None)
    assert "unconsumed" in f.reason


def test_fault_buffer_overflow(cfgs: dict[str, OverlayConfig]) -> None:
    cfg = cfgs["ultra96"]
    cap = cfg.buffer("input").banks * cfg.buffer("input").depth
    prog = small_conv_program(cfg)
    i = next(k for k, ins in enumerate(prog.instrs) if isinstance(ins, LoadInput))
    prog.instrs[i] = patched(prog.instrs[i], dst_base=cap - 3)
    expect_fault(prog, ErrorCode.BUFFER_RANGE, i, "LOAD_INPUT", "n_words")
    prog = small_conv_program(cfg)
    j = next(k for k, ins in enumerate(prog.instrs) if isinstance(ins, ComputeTile))
    cap_out = cfg.buffer("output").banks * cfg.buffer("output").depth
    prog.instrs[j] = patched(prog.instrs[j], out_base=cap_out - 5)
    expect_fault(prog, ErrorCode.BUFFER_RANGE, j, "COMPUTE_TILE", "out_base")


def _patch_word0(words: np.ndarray, index: int, set_bits: int) -> np.ndarray:
    """Set bits of an instruction's word 0 and fix its CRC-16 and the header's CRCs, so the
    stream is well-formed apart from the semantic problem."""
    w = words.copy()
    base = 8 + 8 * index
    w[base] |= np.uint32(set_bits)
    b = w[base : base + 8].astype("<u4").tobytes()
    crc = binascii.crc_hqx(b[:30], 0xFFFF)
    w[base + 7] = (int(w[base + 7]) & 0xFFFF) | (crc << 16)
    w[5] = zlib.crc32(w[8:].astype("<u4").tobytes()) & 0xFFFFFFFF
    w[7] = zlib.crc32(w[:7].astype("<u4").tobytes()) & 0xFFFFFFFF
    return w


def test_fault_token_misuse_and_underflow(cfgs: dict[str, OverlayConfig]) -> None:
    cfg = cfgs["zcu104"]
    prog = small_conv_program(cfg)
    i = next(k for k, ins in enumerate(prog.instrs) if isinstance(ins, LoadInput))
    # LDA may not wait on LDW_CMP (the decoder rejects the mask: TOKEN_MISUSE)
    bad = _patch_word0(prog.words(), i, int(Token.LDW_CMP) << 8)
    eng = Engine(cfg)
    with pytest.raises(EngineFault) as ei:
        eng.run(bad, prog.packets)
    f = ei.value
    assert (f.code, f.instruction_index, f.opcode, f.field) == (
        ErrorCode.TOKEN_MISUSE,
        i,
        "LOAD_INPUT",
        "wait",
    )
    # a wait nobody signalled
    j = next(k for k, ins in enumerate(prog.instrs) if isinstance(ins, ComputeTile))
    prog.instrs[j] = patched(prog.instrs[j], wait=prog.instrs[j].wait | Token.ST_CMP)
    expect_fault(prog, ErrorCode.TOKEN_UNDERFLOW, j, "COMPUTE_TILE", "wait")


def test_fault_tokens_left_and_overflow(cfgs: dict[str, OverlayConfig]) -> None:
    cfg = cfgs["zcu104"]
    prog = small_conv_program(cfg)
    prog.add(
        ConfigPool(
            kind=PoolKind.MAX,
            in_h=1,
            in_w=1,
            out_h=1,
            out_w=1,
            kernel_h=1,
            kernel_w=1,
            qmin=0,
            qmax=1,
            signal=Token.VEC_LDW,
        )
    )
    expect_fault(prog, ErrorCode.TOKENS_LEFT, len(prog.instrs), "END", None)
    prog = Program(
        cfg,
        [
            ConfigConv(
                in_h=1,
                in_w=1,
                out_h=1,
                out_w=1,
                kernel_h=1,
                kernel_w=1,
                qmin=0,
                qmax=1,
                signal=Token.CMP_ST,
            )
        ]
        * 9,
    )
    expect_fault(prog, ErrorCode.TOKEN_OVERFLOW, 8, "CONFIG_CONV", "signal")


def test_fault_not_configured_not_resident_area(cfgs: dict[str, OverlayConfig]) -> None:
    cfg = cfgs["zcu104"]
    prog = small_conv_program(cfg)
    k = next(k for k, ins in enumerate(prog.instrs) if isinstance(ins, ConfigConv))
    del prog.instrs[k]
    j = next(k for k, ins in enumerate(prog.instrs) if isinstance(ins, ComputeTile))
    expect_fault(prog, ErrorCode.NOT_CONFIGURED, j, "COMPUTE_TILE", None)
    prog = small_conv_program(cfg)
    j = next(k for k, ins in enumerate(prog.instrs) if isinstance(ins, ComputeTile))
    prog.instrs[j] = patched(prog.instrs[j], in_rows=3)
    expect_fault(prog, ErrorCode.INPUT_NOT_RESIDENT, j, "COMPUTE_TILE", "ih0")
    # average pooling whose divisor table misses the corner area 4
    x = np.zeros((8, 4, 4), np.int8)
    prog = Program(cfg)
    prog.add(
        LoadParams(dst_base=0, n_words=1, signal=Token.LDW_VEC),
        **{in_stream(cfg, "weights"): divisor_table(cfg, [9, 6], 1.0)},
    )
    prog.add(
        ConfigPool(
            kind=PoolKind.AVE,
            in_h=4,
            in_w=4,
            out_h=2,
            out_w=2,
            kernel_h=3,
            kernel_w=3,
            stride_h=2,
            stride_w=2,
            n_area=2,
            qmin=-128,
            qmax=127,
        )
    )
    prog.add(
        LoadInput(dst_base=0, n_words=16, signal=Token.LDA_VEC),
        **{in_stream(cfg, "act_in"): blocked(x, 8)},
    )
    prog.add(
        PoolTile(
            in_base=0,
            n_cb=1,
            ih0=0,
            in_rows=4,
            oh0=0,
            n_oh=2,
            out_base=0,
            wait=Token.LDW_VEC | Token.LDA_VEC,
        )
    )
    expect_fault(prog, ErrorCode.AREA_NOT_FOUND, 3, "POOL_TILE", "p_base")


def test_fault_ksplit_state_and_config_mismatch(cfgs: dict[str, OverlayConfig]) -> None:
    cfg = cfgs["zcu104"]
    prog = small_conv_program(cfg)
    j = next(k for k, ins in enumerate(prog.instrs) if isinstance(ins, ComputeTile))
    prog.instrs[j] = patched(prog.instrs[j], acc_first=False)
    expect_fault(prog, ErrorCode.ACC_STATE, j, "COMPUTE_TILE", "acc_first")
    # a stream compiled for another overlay
    prog = small_conv_program(cfg)
    words = encode_stream([*prog.instrs, End()], cfgs["ultra96"].config_hash)
    with pytest.raises(EngineFault) as ei:
        Engine(cfg).run(words, prog.packets)
    assert ei.value.code == ErrorCode.CONFIG_MISMATCH and ei.value.field == "config_hash0"
    # a precision the overlay lacks
    prog = Program(
        cfgs["dpu_b4096_zu7"],
        [
            ConfigConv(
                precision=Precision.INT16,
                in_h=1,
                in_w=1,
                out_h=1,
                out_w=1,
                kernel_h=1,
                kernel_w=1,
                qmin=0,
                qmax=1,
            )
        ],
    )
    expect_fault(prog, ErrorCode.FIELD_RANGE, 0, "CONFIG_CONV", "precision")


def test_fault_message_names_instruction_and_tag(cfgs: dict[str, OverlayConfig]) -> None:
    cfg = cfgs["zcu104"]
    prog = small_conv_program(cfg)
    j = next(k for k, ins in enumerate(prog.instrs) if isinstance(ins, ComputeTile))
    prog.instrs[j] = patched(prog.instrs[j], in_rows=2, tag=17)
    f = expect_fault(prog, ErrorCode.INPUT_NOT_RESIDENT, j, "COMPUTE_TILE", "ih0")
    assert f.tag == 17
    assert f"instruction {j} COMPUTE_TILE tag 17" in str(f)


# ---------------------------------------------------------------------------- port-level API
def test_port_level_api_packet_by_packet(cfgs: dict[str, OverlayConfig]) -> None:
    """A DMA model feeds the engine one descriptor at a time as it stalls."""
    cfg = cfgs["zcu104"]
    prog = small_conv_program(cfg)
    _, expected = Program(cfg, list(prog.instrs), prog.packets).run()
    eng = Engine(cfg)
    eng.start(prog.words())
    queues = {k: [p for p in v] for k, v in prog.packets.items()}
    stalls = 0
    while (st := eng.advance()) is EngineStatus.STALLED:
        stalls += 1
        assert eng.stalled_on is not None
        pkt = queues[eng.stalled_on].pop(0)
        # a packet gathered from two descriptors: TLAST only on the second
        eng.port(eng.stalled_on).push(pkt[:8], last=False)
        eng.port(eng.stalled_on).push(pkt[8:], last=True)
    assert st is EngineStatus.DONE and stalls == sum(len(v) for v in prog.packets.values())
    port = eng.output_port(in_stream(cfg, "act_out"))
    got = port.pop()
    assert got is not None and port.pop() is None
    assert np.array_equal(got, expected[in_stream(cfg, "act_out")][0])


# ---------------------------------------------------------------------------- timing model
def test_timing_model_compute_and_overlap(cfgs: dict[str, OverlayConfig]) -> None:
    cfg = cfgs["zcu104"]
    tm = TimingModel(cfg)
    conv = ConfigConv(
        in_h=56,
        in_w=56,
        out_h=56,
        out_w=56,
        kernel_h=3,
        kernel_w=3,
        pad_h=1,
        pad_w=1,
        qmin=-128,
        qmax=127,
    )
    tile = ComputeTile(
        in_base=0,
        in_cb=8,
        ih0=0,
        in_rows=56,
        oh0=0,
        n_oh=56,
        out_base=0,
        out_cb=8,
        w_base=0,
        p_base=0,
    )
    assert (cfg.pe.pixels, cfg.pe.requant_lanes, cfg.buffer("input").banks) == (14, 56, 14)
    passes = -(-56 * 56 // 14)
    red = 8 * 9 * 2
    assert tm.compute_cycles(conv, tile) == 2 + passes * red + 64 * 14 // 56
    # stride 2 on 14 banks with SUB = 2: 2 lanes per bank, conflict-free; stride 7: 7 lanes
    # per bank, each read every 2 cycles -> 4x slower
    assert tm.bank_conflict_factor(2, Precision.INT8) == 1
    assert tm.bank_conflict_factor(7, Precision.INT8) == 4
    # a 1 MiB load over both 128-bit weights streams: 32768 cycles
    assert (
        tm.load_cycles(LoadWeights(dst_base=0, n_words=4096, streams=0b11)) == 2 + 4096 * 256 // 32
    )
    tl = Timeline(decode_cycles=4)
    tl.issue(Unit.LDW, 100, 0, int(W))
    tl.issue(Unit.LDA, 50, 0, int(A))
    s, e = tl.issue(Unit.CMP, 10, int(W | A), 0)
    assert (s, e) == (104, 114)
    assert tl.total == 114
    # a barrier waits for every unit
    assert tl.issue(Unit.DEC, 2, barrier=True) == (114, 116)


# ---------------------------------------------------------------------------- run_compiled
def hand_model(
    cfg: OverlayConfig,
) -> tuple[CompiledModel, np.ndarray, np.ndarray, np.ndarray]:
    """data (1,8,5,5) -> engine conv 3x3 -> conv (1,16,5,5) in DDR -> ARM max pool -> pool."""
    rng = np.random.default_rng(3)
    t_in, t_conv = tq(0.02, "int8"), tq(0.05, "uint8", True)
    conv = Convolution("conv", num_output=16, kernel=(3, 3), pad=(1, 1), relu=True)
    q = mac_node(rng, 16, (16, 8, 3, 3), t_in, t_conv, "int8")
    x = rand_q(rng, (1, 8, 5, 5), "int8")
    prog, _ = conv_program(cfg, conv, q, x)
    ws = in_stream(cfg, "weights")
    p_bytes, w_bytes = prog.packets[ws]
    weights = np.concatenate([p_bytes, w_bytes])
    a_off, b_off = 8192, 12288
    transfers = {s.name: np.zeros((0, 3), np.int64) for s in cfg.streams if s.role != "cmd"}
    transfers[ws] = np.array([[0, p_bytes.size, 1], [p_bytes.size, w_bytes.size, 1]])
    transfers[in_stream(cfg, "act_in")] = np.array([[a_off, 200, 1]])
    transfers[in_stream(cfg, "act_out")] = np.array([[b_off, 200, 0], [b_off + 200, 200, 1]])
    pool = Pooling("pool", method="MAX", kernel=(2, 2), stride=(2, 2))
    pq = NodeQuant("pool", "Pooling", "int8", "arm", [t_conv], [t_conv])
    tensors = {
        "data": TensorInfo(
            "data", (1, 8, 5, 5), t_in, TensorLayout(a_off, 5, 5, 8, 1, tuple(range(8)))
        ),
        "conv": TensorInfo(
            "conv", (1, 16, 5, 5), t_conv, TensorLayout(b_off, 5, 5, 8, 1, tuple(range(16)))
        ),
        "pool": TensorInfo("pool", (1, 16, 3, 3), t_conv),
    }
    steps: list[EngineStep | ArmStep] = [
        EngineStep(("conv",), prog.words(), transfers, inputs=("data",), outputs=("conv",)),
        ArmStep(pool, pq, ("conv",), ("pool",)),
    ]
    model = CompiledModel(
        name="hand",
        overlay=cfg.name,
        config_hash=cfg.config_hash,
        overlay_version=cfg.version,
        isa_version=(ISA_MAJOR, ISA_MINOR),
        precision="int8",
        method="minmax",
        tensors=tensors,
        inputs=("data",),
        outputs=("pool",),
        steps=steps,
        memory=MemoryPlan(size=16384, weights_offset=0, weights=weights),
    )
    (y,) = conv.forward_int([x], q)
    (ref,) = pool.forward_int([y], pq)
    return model, x, ref, y


def test_run_compiled_hand_built_model() -> None:
    cfg = load_overlay("zcu104")
    model, x, ref, yconv = hand_model(cfg)
    xf = x.astype(np.float32) * np.float32(0.02)
    out = run_compiled(model, xf, raw=True, debug=True)
    assert np.array_equal(out["pool"], ref)
    assert np.array_equal(out["conv"], yconv)
    assert np.array_equal(out["data"], x)
    f = run_compiled(model, {"data": np.concatenate([xf, xf])})
    assert f["pool"].shape == (2, 16, 3, 3) and f["pool"].dtype == np.float32
    # round trip through the .edm container
    m2 = CompiledModel.from_bytes(model.to_bytes())
    r = ModelRunner(m2)
    assert np.array_equal(r.run(xf, raw=True)["pool"], ref)
    assert r.stats[0].counters.macs > 0
    # a second run reuses the decoded stream, weights and params; no race checker: same bits
    assert np.array_equal(r.run(xf, raw=True)["pool"], ref)
    fast = ModelRunner(m2, check_races=False)
    assert np.array_equal(fast.run(xf, raw=True)["pool"], ref)
    assert fast.stats[0].counters.cycles == r.stats[0].counters.cycles


def test_run_compiled_ddr_hazards() -> None:
    cfg = load_overlay("zcu104")
    model, x, _, _ = hand_model(cfg)
    step = model.steps[0]
    assert isinstance(step, EngineStep)
    step.transfers[in_stream(cfg, "act_out")] = np.array([[8192 + 8, 200, 0], [12488, 200, 1]])
    with pytest.raises(DdrHazardError, match=r"act_in0 descriptor 0.*act_out0 descriptor 0"):
        run_compiled(model, x.astype(np.float32))
    step.transfers[in_stream(cfg, "act_out")] = np.array([[12288, 200, 0], [12296, 200, 1]])
    with pytest.raises(DdrHazardError, match="written twice"):
        run_compiled(model, x.astype(np.float32))


def test_model_runner_keeps_a_fresh_ddr_image_per_frame() -> None:
    """The runner keeps one DDR image and restores what a frame wrote: before every frame it
    equals MemoryPlan.image() byte for byte, even after an S2MM scatter into the weights
    region; a changed transfer list is checked again (the checked plan is cached by rows)."""
    cfg = load_overlay("zcu104")
    model, x, ref, _ = hand_model(cfg)
    step = model.steps[0]
    assert isinstance(step, EngineStep)
    r = ModelRunner(model)
    rng = np.random.default_rng(11)
    for k in range(3):
        xf = (x + rng.integers(-3, 4, x.shape)).clip(-128, 127).astype(np.float32) * 0.02
        want = ModelRunner(model).run(xf, raw=True)["pool"]
        assert np.array_equal(r.run(xf, raw=True)["pool"], want), k
        assert np.array_equal(r._image(), model.memory.image())
    # a weights region with 256 bytes no MM2S reads, where the S2MM lists now scatter part of
    # the conv output
    w = model.memory.weights
    assert w.size + 256 <= 8192
    model.memory = MemoryPlan(16384, 0, np.concatenate([w, np.full(256, 7, np.uint8)]))
    out = in_stream(cfg, "act_out")
    step.transfers[out] = np.array([[w.size, 200, 0], [12488, 200, 1]])
    r.run(x.astype(np.float32) * 0.02, raw=True)
    assert r._ddr is not None and not np.array_equal(r._ddr, model.memory.image())
    assert np.array_equal(r._image(), model.memory.image())
    step.transfers[out] = np.array([[12288, 200, 0], [12296, 200, 1]])
    with pytest.raises(DdrHazardError, match="written twice"):
        r.run(x.astype(np.float32))
    assert np.array_equal(r._image(), model.memory.image())
    assert ref.shape == (1, 16, 3, 3)


def test_ports_follow_the_emulated_dma_stream_protocol(cfgs: dict[str, OverlayConfig]) -> None:
    """InPort is a StreamSink, OutPort a StreamSource of arm_scheduler's AXI DMA model."""
    from arm_scheduler.emulated.axi_dma import StreamSink, StreamSource

    cfg = cfgs["zcu104"]
    prog = small_conv_program(cfg)
    eng = Engine(cfg)
    events: list[str] = []
    for name in eng.input_streams:
        assert isinstance(eng.port(name), StreamSink)
    out = eng.output_port(in_stream(cfg, "act_out"))
    assert isinstance(out, StreamSource)
    out.subscribe(lambda: events.append("data"))
    eng.start(prog.words())
    for name, pkts in prog.packets.items():
        for p in pkts:
            assert eng.port(name).push(p, True) is True
    assert eng.advance() is EngineStatus.DONE and events == ["data"]
    chunks = []
    while (r := out.pull(48)) is not None:
        chunks.append(r)
    assert [last for _, last in chunks] == [False] * (len(chunks) - 1) + [True]
    assert sum(c.size for c, _ in chunks) == 4 * 4 * 8


def test_buffer_race_between_units_is_reported(cfgs: dict[str, OverlayConfig]) -> None:
    """A LOAD_INPUT that overwrites a band a COMPUTE_TILE still reads, with no CMP_LDA token
    ordering them: sequentially fine, a race on the concurrent hardware."""
    cfg = cfgs["zcu104"]
    rng = np.random.default_rng(91)
    layer = Convolution("c", num_output=8, kernel=(3, 3), pad=(1, 1))
    x = rand_q(rng, (1, 8, 8, 4), "int8")
    q = mac_node(rng, 8, (8, 8, 3, 3), tq(0.02, "int8"), tq(0.05, "int8"), "int8")
    prog, _ = conv_program(cfg, layer, q, x, bands=2)
    Program(cfg, list(prog.instrs), prog.packets).run()
    k = [j for j, ins in enumerate(prog.instrs) if isinstance(ins, LoadInput)][1]
    prog.instrs[k] = patched(prog.instrs[k], wait=0)
    prog.instrs[k - 1] = patched(prog.instrs[k - 1], signal=0)
    eng = Engine(cfg)
    with pytest.raises(BufferRaceError, match="input buffer word 0: LOAD_INPUT") as ei:
        eng.run(prog.words(), prog.packets)
    assert ei.value.first == (k - 1, "COMPUTE_TILE") and ei.value.second == (k, "LOAD_INPUT")
    assert eng.status is EngineStatus.ERROR
    # without the check the sequential result is still produced
    Engine(cfg, check_races=False).run(prog.words(), prog.packets)


def test_fault_accumulator_overflow(cfgs: dict[str, OverlayConfig]) -> None:
    """int16 mode: a 48-bit bias at its maximum plus a positive sum reaches 2**47."""
    cfg = cfgs["ultra96"]
    prec = Precision.INT16
    ws, acs = in_stream(cfg, "weights"), in_stream(cfg, "act_in")
    w = np.full((4, 4, 1, 1), 3, dtype=np.int64)
    x = np.full((4, 2, 2), 5, dtype=np.int16)
    big = np.full(4, 2**47 - 1, dtype=np.int64)
    prog = Program(cfg)
    prog.add(
        LoadParams(dst_base=0, n_words=1),
        **{ws: params_words(cfg, big, big * 0, big * 0 + 1, prec)},
    )
    prog.add(LoadWeights(dst_base=0, n_words=1, signal=W), **{ws: dense_weight_words(cfg, w, prec)})
    prog.add(
        ConfigConv(
            precision=prec,
            in_h=2,
            in_w=2,
            out_h=2,
            out_w=2,
            kernel_h=1,
            kernel_w=1,
            qmin=-32768,
            qmax=32767,
        )
    )
    prog.add(LoadInput(dst_base=0, n_words=4, signal=A), **{acs: blocked(x, 4)})
    prog.add(
        ComputeTile(
            in_base=0,
            in_cb=1,
            ih0=0,
            in_rows=2,
            oh0=0,
            n_oh=2,
            out_base=0,
            out_cb=1,
            w_base=0,
            p_base=0,
            wait=W | A,
        )
    )
    f = expect_fault(prog, ErrorCode.ACC_OVERFLOW, 4, "COMPUTE_TILE", None)
    assert "2**47" in f.reason


# ---------------------------------------------------------------------------- exact GEMM paths
GEMM_PATHS = {
    # path: input channels (K = 9 x channels); the float bounds forced to 1 for "int64"
    "f32_chunks": 120,
    "f64": 640,
    "int64": 24,
}


@pytest.mark.parametrize("path", list(GEMM_PATHS))
def test_convolution_gemm_paths_bit_exact(
    path: str, cfgs: dict[str, OverlayConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Long reductions of uint8 x int8 (|x| = 255 present): a float32 GEMM split along K into
    several chunks, each provably below 2**24; a float64 GEMM when that needs too many chunks;
    the int64 GEMM and int64 requantization when no float bound holds (forced here)."""
    from edge_dnn.emulator import engine as engine_mod

    if path == "int64":
        monkeypatch.setattr(engine_mod, "_EXACT_F32", 1.0)
        monkeypatch.setattr(engine_mod, "_EXACT_F64", 1.0)
    seen: list[tuple[np.dtype[Any], list[tuple[int, int]] | None]] = []
    dense_sum = engine_mod.Engine._dense_sum

    def spy(win: np.ndarray, wts: Any, conv: ConfigConv, n_oh: int, maxx: int, *a: Any) -> Any:
        acc = dense_sum(win, wts, conv, n_oh, maxx, *a)
        assert maxx == max(int(win.max()), -int(win.min()))
        plan = wts.chunks(maxx)
        if plan is not None:  # every chunk covers K in order and stays exact in float32
            assert plan[0][0] == 0 and plan[-1][1] == wts.mat.shape[0]
            assert all(a[1] == b[0] for a, b in itertools.pairwise(plan))
            for k0, k1 in plan:
                sums = np.abs(wts.mat[k0:k1].astype(np.int64)).sum(axis=0)
                assert int(sums.max()) * maxx < engine_mod._EXACT_F32
        seen.append((acc.dtype, plan))
        return acc

    monkeypatch.setattr(engine_mod.Engine, "_dense_sum", staticmethod(spy))
    cfg = cfgs["zcu104"]
    rng = np.random.default_rng(70 + list(GEMM_PATHS).index(path))
    c, o = GEMM_PATHS[path], 20
    layer = Convolution("conv", num_output=o, kernel=(3, 3), pad=(1, 1), relu=True)
    x = rand_q(rng, (1, c, 5, 6), "uint8")
    x[0, 0, 2, 3] = 255
    q = mac_node(rng, o, (o, c, 3, 3), tq(0.02, "uint8"), tq(0.05, "uint8", True), "int8")
    (ref,) = layer.forward_int([x], q)
    y, _ = run_conv(cfg, layer, q, x)
    assert np.array_equal(y, ref) and len(np.unique(ref)) > 10
    dtypes = {str(d) for d, _ in seen}
    n_chunks = {len(p) if p is not None else 0 for _, p in seen}
    if path == "f32_chunks":
        assert dtypes == {"float64"} and min(n_chunks) >= 2 and max(n_chunks) <= 4
    elif path == "f64":
        assert dtypes == {"float64"} and min(n_chunks) > 4
    else:
        assert dtypes == {"int64"} and n_chunks == {0}


def test_decoded_weights_follow_the_buffer_contents(cfgs: dict[str, OverlayConfig]) -> None:
    """One engine runs the same stream geometry with different weights (same tile, same tag):
    each run computes with the words it loaded, never with weights decoded in an earlier run."""
    cfg = cfgs["zcu104"]
    eng = Engine(cfg)
    layer = Convolution("conv", num_output=12, kernel=(3, 3), pad=(1, 1))
    for seed in (0, 1, 0):
        rng = np.random.default_rng(80 + seed)
        x = rand_q(rng, (1, 9, 6, 5), "int8")
        q = mac_node(rng, 12, (12, 9, 3, 3), tq(0.02, "int8"), tq(0.05, "int8"), "int8")
        (ref,) = layer.forward_int([x], q)
        prog, (o, oh, ow) = conv_program(cfg, layer, q, x, bands=2)
        _, out = prog.run(eng)
        (pkt,) = out[in_stream(cfg, "act_out")]
        y = unblocked(pkt, o, oh, ow, block_channels(cfg, Precision.INT8), "int8")
        assert np.array_equal(y[None], ref)


@pytest.mark.parametrize("shift", [1, 9, 17])
def test_requantization_saturates_like_the_reference(
    shift: int, cfgs: dict[str, OverlayConfig]
) -> None:
    """Small shifts: ``(acc + bias) M / 2**S`` far beyond 2**31 (float saturation path),
    around it, and inside int32, on int8 (signed, rounding of negatives) and uint8 outputs."""
    cfg = cfgs["zcu104"]
    for relu, out_dtype in ((False, "int8"), (True, "uint8")):
        rng = np.random.default_rng(100 + shift + relu)
        layer = Convolution("conv", num_output=11, kernel=(3, 3), pad=(1, 1), relu=relu)
        x = rand_q(rng, (1, 10, 5, 4), "uint8")
        q = mac_node(rng, 11, (11, 10, 3, 3), tq(0.02, "uint8"), tq(0.05, out_dtype, relu), "int8")
        q.S = np.full(11, shift)
        (ref,) = layer.forward_int([x], q)
        y, _ = run_conv(cfg, layer, q, x)
        assert np.array_equal(y, ref)
        lo, hi = RANGES[out_dtype]
        assert (ref == hi).any() and (ref < hi).any() and (ref > max(lo, 0)).any()


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16"])
def test_lrn_kernel_matches_the_integer_reference(dtype: str) -> None:
    """The NORM_TILE arithmetic against ``arith.lrn_int`` on random tables and data: windows
    wider than the channels, table indices beyond the last bucket (shift 0), both ends of the
    fraction bits, narrow saturation ranges (int16 data: through ``lrn_int`` itself)."""
    eng = Engine(load_overlay("zcu104"))
    rng = np.random.default_rng(len(dtype))
    lo, hi = RANGES[dtype]
    for k in range(12):
        c = int(rng.integers(1, 40))
        x = rng.integers(lo, hi + 1, (int(rng.integers(1, 30)), c)).astype(NP[dtype])
        lut = np.sort(rng.integers(0, 1 << 16, 256))[::-1].astype(np.uint16)
        n = int(rng.choice([1, 3, 5, 2 * c + 3]))
        shift = int(rng.choice([0, 3, 12]))
        frac = int(rng.choice([1, 7, 16, 31]))
        span = (hi - lo) // 4
        qmin, qmax = (lo, hi) if k % 3 else (lo + span, hi - span)
        want = arith.lrn_int(x, lut, shift, frac, n, qmin, qmax)
        got = eng._lrn(x, lut, shift, frac, n, qmin, qmax)
        assert np.array_equal(got, want), (k, c, n, shift, frac)


# ---------------------------------------------------------------------------- race checker
RACE_UNITS = (Unit.LDW, Unit.LDA, Unit.CMP, Unit.ST)


class NaiveRaces:
    """The race rule of ``docs/isa.md`` section 3 checked word by word with explicit
    happens-before sets (no vector clocks, no ranges): an instruction's ancestors are its
    unit's previous instruction, the instruction whose signal each of its waits consumed (the
    k-th wait on a queue takes the k-th signal), every instruction completed before a SYNC or
    END, and all of their ancestors. Per word the last writer and each unit's last reader are
    kept; an access conflicting with one that is not an ancestor is reported like
    :class:`RaceChecker` does (writers first, then readers unit by unit, the first word in
    access order)."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self.reset()

    def reset(self) -> None:
        self.anc: dict[int, set[int]] = {}
        self.names: dict[int, str] = {}
        self.last: dict[Unit, int] = {}
        self.done: list[int] = []
        self.before_sync: set[int] = set()
        self.queues: dict[Token, list[int]] = {t: [] for t in Token}
        self.writer: dict[tuple[str, int], int] = {}
        self.reader: dict[tuple[str, Unit, int], int] = {}
        self.cur = -1
        self.unit = Unit.DEC

    def begin(self, index: int, ins: Instruction) -> None:
        if ins.unit == Unit.DEC:
            if isinstance(ins, Sync | End):
                self.before_sync = set(self.done)
            return
        preds = set(self.before_sync)
        if ins.unit in self.last:
            preds.add(self.last[ins.unit])
        for t in Token:
            if ins.wait & t and self.queues[t]:
                preds.add(self.queues[t].pop(0))
        anc = set(preds)
        for p in preds:
            anc |= self.anc[p]
        self.anc[index], self.names[index] = anc, ins.OPCODE.name
        self.cur, self.unit = index, ins.unit

    def end(self, ins: Instruction) -> None:
        if ins.unit == Unit.DEC:
            return
        self.last[ins.unit] = self.cur
        self.done.append(self.cur)
        for t in Token:
            if ins.signal & t:
                self.queues[t].append(self.cur)

    def _check(self, buffer: str, words: list[int], who: dict[int, int | None], what: str) -> None:
        for w in words:
            other = who[w]
            if other is not None and other != self.cur and other not in self.anc[self.cur]:
                raise BufferRaceError(
                    buffer,
                    w,
                    (other, self.names[other]),
                    (self.cur, self.names[self.cur]),
                    what,
                )

    def _words(self, buffer: str, idx: Any) -> list[int]:
        if isinstance(idx, Blocks):
            return [
                idx.base + j * idx.pitch + w for j in range(idx.blocks) for w in range(idx.width)
            ]
        return [int(w) for w in np.arange(self.sizes[buffer])[idx]]

    def read(self, buffer: str, idx: Any) -> None:
        words = self._words(buffer, idx)
        wrote = {w: self.writer.get((buffer, w)) for w in words}
        self._check(buffer, words, wrote, "reads a word written by")
        for w in words:
            self.reader[buffer, self.unit, w] = self.cur

    def write(self, buffer: str, idx: Any) -> None:
        words = self._words(buffer, idx)
        wrote = {w: self.writer.get((buffer, w)) for w in words}
        self._check(buffer, words, wrote, "overwrites a word written by")
        for u in RACE_UNITS:
            if u != self.unit:
                read = {w: self.reader.get((buffer, u, w)) for w in words}
                self._check(buffer, words, read, "overwrites a word still read by")
        for w in words:
            self.writer[buffer, w] = self.cur


def race_outcome(fn: Any, *args: Any) -> tuple[Any, ...] | None:
    """``None``, or the attributes and message of the BufferRaceError ``fn(*args)`` raised."""
    try:
        fn(*args)
    except BufferRaceError as e:
        return e.buffer, e.word, e.first, e.second, str(e)
    return None


class CrossCheckedRaces(RaceChecker):
    """The engine's race checker, each access also checked by :class:`NaiveRaces`: both must
    give the same outcome (nothing, or the same error)."""

    accesses = 0

    def __init__(self, sizes: dict[str, int]) -> None:
        self.naive = NaiveRaces(sizes)
        super().__init__(sizes)

    def reset(self) -> None:
        super().reset()
        self.naive.reset()

    def begin(self, index: int, ins: Instruction) -> None:
        super().begin(index, ins)
        self.naive.begin(index, ins)

    def end(self, ins: Instruction) -> None:
        super().end(ins)
        self.naive.end(ins)

    def _both(self, op: str, buffer: str, idx: Any) -> None:
        CrossCheckedRaces.accesses += 1
        want = race_outcome(getattr(self.naive, op), buffer, idx)
        try:
            getattr(super(), op)(buffer, idx)
        except BufferRaceError as e:
            assert (e.buffer, e.word, e.first, e.second, str(e)) == want
            raise
        assert want is None, want

    def read(self, buffer: str, idx: Any) -> None:
        self._both("read", buffer, idx)

    def write(self, buffer: str, idx: Any) -> None:
        self._both("write", buffer, idx)


def _unit_instruction(unit: Unit, wait: int, signal: int) -> Instruction:
    if unit == Unit.LDW:
        return LoadWeights(dst_base=0, n_words=1, wait=wait, signal=signal)
    if unit == Unit.LDA:
        return LoadInput(dst_base=0, n_words=1, wait=wait, signal=signal)
    if unit == Unit.ST:
        return StoreTile(src_base=0, block_words=1, wait=wait, signal=signal)
    return ComputeTile(
        in_base=0,
        in_cb=1,
        ih0=0,
        in_rows=1,
        oh0=0,
        n_oh=1,
        out_base=0,
        out_cb=1,
        w_base=0,
        p_base=0,
        wait=wait,
        signal=signal,
    )


def _random_words(rng: np.random.Generator, n: int) -> Any:
    """A slice, :class:`Blocks`, or blocks of consecutive words as an index array (what
    ``Engine._blocks`` makes), possibly overlapping or shuffled."""
    if rng.random() < 0.5:
        a = int(rng.integers(0, n))
        return slice(a, int(rng.integers(a, n + 1)))
    nb, bw, pitch = (int(v) for v in rng.integers(1, [5, 7, 12]))
    if rng.random() < 0.3 and pitch > bw and (nb - 1) * pitch + bw <= n:
        return Blocks(int(rng.integers(0, n - (nb - 1) * pitch - bw + 1)), nb, pitch, bw)
    base = int(rng.integers(0, n))
    idx = (base + np.arange(nb)[:, None] * pitch + np.arange(bw)[None, :]).reshape(-1)
    idx = idx[idx < n]
    return rng.permutation(idx) if rng.random() < 0.15 else idx


def test_race_checker_matches_a_per_word_reference() -> None:
    """Random clocks (tokens, SYNCs, resets) and random accesses of the four buffers: the range
    checker with its shortcuts raises exactly when the per-word reference does, with the same
    word, instructions and message."""
    sizes = {"input": 97, "output": 64, "weight": 33, "params": 8}
    names = list(sizes)
    rng = np.random.default_rng(2024)
    seen: set[str] = set()
    clean = 0
    for _ in range(400):
        fast, naive = RaceChecker(sizes), NaiveRaces(sizes)
        raced = False
        for i in range(int(rng.integers(5, 40))):
            if rng.random() < 0.03:
                fast.reset()
                naive.reset()
            if rng.random() < 0.06:
                ins: Instruction = Sync()
            else:
                wait = int(rng.integers(0, 64)) if rng.random() < 0.7 else 0
                signal = int(rng.integers(0, 64)) if rng.random() < 0.7 else 0
                unit = RACE_UNITS[int(rng.integers(0, 4))]
                ins = _unit_instruction(unit, wait, signal)
            fast.begin(i, ins)
            naive.begin(i, ins)
            for _ in range(int(rng.integers(0, 4)) if ins.unit != Unit.DEC else 0):
                buf = names[int(rng.integers(0, 4))]
                idx = _random_words(rng, sizes[buf])
                op = "read" if rng.random() < 0.5 else "write"
                want = race_outcome(getattr(naive, op), buf, idx)
                got = race_outcome(getattr(fast, op), buf, idx)
                assert got == want, (i, op, buf, idx)
                if got is not None:
                    seen.add(got[4].split(") ")[1].split(" (")[0].rsplit(" ", 1)[0])
                    raced = True
                    break
            if raced:
                break
            fast.end(ins)
            naive.end(ins)
        clean += not raced
    assert seen == {
        "reads a word written by",
        "overwrites a word written by",
        "overwrites a word still read by",
    }
    assert 20 < clean < 380


def _race(prog: Program, buffer: str, word: int, first: int, second: int, what: str) -> None:
    """The program runs without the check; with it, it stops on the expected race."""
    Engine(prog.cfg, check_races=False).run(prog.words(), prog.packets)
    eng = Engine(prog.cfg)
    with pytest.raises(BufferRaceError) as ei:
        eng.run(prog.words(), prog.packets)
    e = ei.value
    names = {k: ins.OPCODE.name for k, ins in enumerate(prog.instrs)}
    assert (e.buffer, e.word) == (buffer, word), str(e)
    assert (e.first, e.second) == ((first, names[first]), (second, names[second])), str(e)
    assert what in str(e)
    assert eng.status is EngineStatus.ERROR and eng.error_index == second


def _race_free(prog: Program) -> None:
    eng, _ = prog.run()
    assert eng.status is EngineStatus.DONE


def test_planted_races_on_every_buffer(cfgs: dict[str, OverlayConfig]) -> None:
    """A two-band convolution (0 LOAD_PARAMS, 1 LOAD_WEIGHTS, 2 CONFIG_CONV, 3 LOAD_INPUT,
    4 COMPUTE_TILE, 5 LOAD_INPUT, 6 COMPUTE_TILE, 7 STORE_TILE) with one token chain cut or one
    unordered instruction added: reads before the producing write's token, writes after reads
    without the consumer's token, and two writers, on each buffer that allows them; each is
    race-free again with the missing token."""
    cfg = cfgs["zcu104"]
    rng = np.random.default_rng(92)
    layer = Convolution("c", num_output=8, kernel=(3, 3), pad=(1, 1))
    x = rand_q(rng, (1, 8, 8, 4), "int8")
    q = mac_node(rng, 8, (8, 8, 3, 3), tq(0.02, "int8"), tq(0.05, "int8"), "int8")
    base, _ = conv_program(cfg, layer, q, x, bands=2)
    ops = [type(ins).__name__ for ins in base.instrs]
    assert ops == [
        "LoadParams",
        "LoadWeights",
        "ConfigConv",
        "LoadInput",
        "ComputeTile",
        "LoadInput",
        "ComputeTile",
        "StoreTile",
    ]
    _race_free(base)
    ws = in_stream(cfg, "weights")
    wwords, pwords = base.packets[ws][1], base.packets[ws][0]
    ldw, ldp = base.instrs[1], base.instrs[0]
    assert isinstance(ldw, LoadWeights) and isinstance(ldp, LoadParams)

    def prog(changes: dict[int, dict[str, int]], extra: Sequence[Instruction] = ()) -> Program:
        p = Program(cfg, list(base.instrs), {k: list(v) for k, v in base.packets.items()})
        for k, ch in changes.items():
            p.instrs[k] = patched(p.instrs[k], **ch)
        for ins in extra:
            if isinstance(ins, LoadWeights):
                p.add(ins, **{ws: wwords})
            elif isinstance(ins, LoadParams):
                p.add(ins, **{ws: pwords})
            else:
                p.add(ins)
        return p

    # input, read before the producing write's token: the second band's LDA_CMP removed
    _race(prog({5: {"signal": 0}, 6: {"wait": 0}}), "input", 0, 5, 6, "reads a word written by")
    # input, write after read: the second band loaded before the first tile released word 0
    _race(
        prog({4: {"signal": 0}, 5: {"wait": 0}}),
        "input",
        0,
        4,
        5,
        "overwrites a word still read by",
    )
    # weight, read before the token: LOAD_WEIGHTS signals nothing, the first tile waits on A
    _race(prog({1: {"signal": 0}, 4: {"wait": A}}), "weight", 0, 1, 4, "reads a word written by")
    # params, read before the token: LOAD_PARAMS after the LOAD_WEIGHTS whose token CMP takes
    swapped = prog({})
    swapped.instrs[0], swapped.instrs[1] = ldw, ldp
    swapped.packets[ws][0], swapped.packets[ws][1] = wwords, pwords
    _race(swapped, "params", 0, 1, 4, "reads a word written by")
    # weight / params, write after read: reloaded after the last tile without its CMP_LDW
    again = {6: {"signal": int(Token.CMP_ST | Token.CMP_LDW)}}
    for ins, buf in ((ldw, "weight"), (ldp, "params")):
        late = patched(ins, signal=0)
        _race(prog({}, [late]), buf, 0, 6, 8, "overwrites a word still read by")
        _race_free(prog(again, [patched(late, wait=Token.CMP_LDW)]))
    # output, read before the token: the store does not wait for the second tile
    _race(prog({6: {"signal": 0}, 7: {"wait": 0}}), "output", 0, 4, 7, "reads a word written by")
    # output, write after read: the second tile (from word 4 rows x 4 columns) recomputed after
    # the store without ST_CMP
    tile = patched(base.instrs[6], wait=0, signal=0)
    _race(prog({}, [tile]), "output", 16, 7, 8, "overwrites a word still read by")
    _race_free(prog({7: {"signal": Token.ST_CMP}}, [patched(tile, wait=Token.ST_CMP)]))
    # input, two writers: a loop-back store into the words the last LOAD_INPUT wrote, and a
    # LOAD_INPUT into the words a loop-back store wrote, neither after a token chain
    loop = StoreTile(streams=0, loopback=True, src_base=0, n_blocks=1, block_words=4, dst_base=2)
    loaded = LoadInput(dst_base=1, n_words=8)
    packets = {in_stream(cfg, "act_in"): [np.arange(8 * Engine(cfg).cb, dtype=np.uint8)]}
    _race(Program(cfg, [loaded, loop], packets), "input", 2, 0, 1, "overwrites a word written by")
    _race(Program(cfg, [loop, loaded], packets), "input", 2, 0, 1, "overwrites a word written by")
    chain = patched(base.instrs[2], wait=A, signal=Token.CMP_ST)
    _race_free(
        Program(cfg, [patched(loaded, signal=A), chain, patched(loop, wait=Token.CMP_ST)], packets)
    )


_COMPILED: dict[str, tuple[CompiledModel, dict[str, np.ndarray]]] = {}


def compiled_net(key: str, nets_dir: Path) -> tuple[CompiledModel, dict[str, np.ndarray]]:
    """A real network (seeded random weights for LeNet) compiled for zcu104, and a feed."""
    if key not in _COMPILED:
        if key == "digits":
            g = edge_dnn.load_caffe(*model_files("digits"))
        else:
            g = edge_dnn.load_caffe(nets_dir / "lenet" / "lenet.prototxt")
            g.init_random_weights(0)
        name, shape = next(iter(g.inputs.items()))
        rng = np.random.default_rng(3)
        x = rng.standard_normal((1, *shape[1:])).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuantizationWarning)
            qg = quantize(g, {name: x}, method="minmax", progress=False)
        _COMPILED[key] = compile_model(qg, "zcu104"), {name: x}
    return _COMPILED[key]


@pytest.mark.parametrize("key", ["digits", "lenet"])
def test_race_checker_on_compiled_nets(
    key: str, nets_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compiled net gives the same bits and cycles with the race check on and off, and every
    one of its buffer accesses gets the per-word reference's verdict; with one LDA_CMP token
    pair of its stream removed the same race is reported by both."""
    model, feeds = compiled_net(key, nets_dir)
    monkeypatch.setattr(engine_module, "RaceChecker", CrossCheckedRaces)
    CrossCheckedRaces.accesses = 0
    on, off = ModelRunner(model), ModelRunner(model, check_races=False)
    a, b = on.run(feeds, raw=True), off.run(feeds, raw=True)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert [s.counters.cycles for s in on.stats] == [s.counters.cycles for s in off.stats]
    assert CrossCheckedRaces.accesses > 10
    # cut the first LOAD_INPUT -> COMPUTE_TILE token (k-th signal pairs with the k-th wait)
    cut = CompiledModel.from_bytes(model.to_bytes())
    k_step, step = next((k, s) for k, s in enumerate(cut.steps) if isinstance(s, EngineStep))
    stream = decode_stream(step.cmd)
    instrs = list(stream.instructions)
    sig = next(j for j, ins in enumerate(instrs) if ins.signal & A)
    wt = next(j for j, ins in enumerate(instrs) if ins.wait & A)
    instrs[sig] = patched(instrs[sig], signal=instrs[sig].signal & ~A)
    instrs[wt] = patched(instrs[wt], wait=instrs[wt].wait & ~A)
    cut.steps[k_step] = dataclasses.replace(
        step, cmd=encode_stream(instrs, (stream.config_hash0, stream.config_hash1))
    )
    with pytest.raises(BufferRaceError) as ei:
        ModelRunner(cut).run(feeds, raw=True)
    assert ei.value.buffer == "input"
    assert ei.value.first == (sig, "LOAD_INPUT") and ei.value.second[0] == wt
    off_cut = ModelRunner(cut, check_races=False).run(feeds, raw=True)
    assert all(np.array_equal(off_cut[k], b[k]) for k in b)
