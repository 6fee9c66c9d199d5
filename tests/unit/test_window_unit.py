"""The window unit (VEC, ISA 2.0): pooling / LRN tiles on their own queue, their cycle model
(line buffer, shared and burst buffer ports) and the resources CMP and VEC never share.

References are written out here from docs/engine.md section 8.2, not taken from the model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import edge_dnn
from edge_dnn.compiler import compile_model
from edge_dnn.emulator.timing import (
    ISSUE_CYCLES,
    RES_LANES,
    RES_MULT,
    RES_PORTS,
    RES_READ,
    Timeline,
    TimingModel,
)
from edge_dnn.isa import (
    ComputeTile,
    ConfigConv,
    ConfigPool,
    NormTile,
    PoolKind,
    PoolTile,
    Precision,
    Token,
    Unit,
    decode_stream,
)
from edge_dnn.isa.format import OPCODES
from edge_dnn.overlay.config import LINE_BUFFER_DEPTH, load_overlay
from edge_dnn.overlay.resources import estimate_resources
from edge_dnn.perf.schedule import run_schedule
from edge_dnn.quant.quantizer import quantize


def _pool(kind: PoolKind, h: int, w: int, k: int, s: int) -> ConfigPool:
    o = (h - k) // s + 1
    return ConfigPool(
        kind=kind,
        in_h=h,
        in_w=w,
        out_h=o,
        out_w=(w - k) // s + 1,
        kernel_h=k,
        kernel_w=k,
        stride_h=s,
        stride_w=s,
        n_area=1 if kind == PoolKind.AVE else 0,
        qmin=-128,
        qmax=127,
    )


def _tile(**kw: int) -> ComputeTile:
    f = dict.fromkeys((f.name for f in OPCODES[ComputeTile.OPCODE].value_fields), 0)
    f.update(in_cb=1, out_cb=1, n_oh=1, in_rows=1)
    f.update(kw)
    return ComputeTile(**f)


def _ptile() -> PoolTile:
    return PoolTile(in_base=0, n_cb=1, ih0=0, in_rows=1, oh0=0, n_oh=1, out_base=0)


def _ntile() -> NormTile:
    return NormTile(in_base=0, n_cb=1, ih0=0, in_rows=1, oh0=0, n_oh=1, out_base=0)


def test_window_opcodes_run_on_vec_and_eltwise_stays_on_cmp() -> None:
    for name in ("CONFIG_POOL", "POOL_TILE", "CONFIG_NORM", "NORM_TILE"):
        assert next(s for s in OPCODES.values() if s.name == name).unit == Unit.VEC
    for name in ("CONFIG_CONV", "COMPUTE_TILE", "CONFIG_ELTWISE", "ELTWISE_TILE"):
        assert next(s for s in OPCODES.values() if s.name == name).unit == Unit.CMP


def test_line_buffer_is_derived_once_from_the_lanes() -> None:
    for name in ("zcu104", "zcu102", "ultra96"):
        cfg = load_overlay(name)
        word = cfg.buffer("input").width_bits // 8
        blocks = math.ceil(cfg.pe.vector_lanes / (2 * word))
        assert cfg.derived.line_buffer_blocks == blocks
        assert cfg.derived.line_buffer_words == blocks * LINE_BUFFER_DEPTH
        # the resource estimate counts it: one RAMB36 (512 x 72) per block
        est = estimate_resources(cfg)
        (line,) = [ln for ln in est.lines if "line buffer" in ln.component]
        assert line.bram36 == blocks


@pytest.mark.parametrize("kind", [PoolKind.MAX, PoolKind.AVE])
@pytest.mark.parametrize("k, s", [(3, 1), (3, 2), (2, 2), (1, 2)])
def test_pool_cycles_line_buffered(kind: PoolKind, k: int, s: int) -> None:
    cfg = load_overlay("zcu104")
    tm = TimingModel(cfg)
    pool = _pool(kind, 28, 28, k, s)
    tile = PoolTile(in_base=0, n_cb=4, ih0=0, in_rows=28, oh0=0, n_oh=pool.out_h, out_base=0)
    assert tm.pool_line_buffered(pool)
    cbc = 8
    rows = min(28, (pool.out_h - 1) * s + k)
    ops = 4 * cbc * (rows * pool.out_w * (k - 1) + pool.out_h * pool.out_w * (k - 1))
    outputs = 4 * pool.out_h * pool.out_w
    reads = 4 * rows * 28
    lanes = 128 if kind == PoolKind.MAX else 64
    for burst, slots in ((False, 2), (True, 1)):
        ports = max(-(-slots * reads // 14), -(-slots * outputs // 7))
        body = max(-(-ops // lanes), -(-outputs * cbc // lanes), ports)
        assert tm.pool_cycles(pool, tile, burst=burst) == ISSUE_CYCLES + body
    assert tm.burst_cycles(tile, pool=pool) == tm.pool_cycles(pool, tile, burst=True)
    assert tm.burst_cycles(_tile()) is None


def test_pool_without_line_buffer_reads_every_tap() -> None:
    cfg = load_overlay("ultra96")
    tm = TimingModel(cfg)
    wide = cfg.derived.line_buffer_words  # kernel_h x out_w partial words exceed the buffer
    pool = _pool(PoolKind.MAX, 3, wide + 2, 3, 1)
    assert not tm.pool_line_buffered(pool)
    tile = PoolTile(in_base=0, n_cb=1, ih0=0, in_rows=3, oh0=0, n_oh=1, out_base=0)
    outputs = pool.out_w
    banks_in, banks_out = cfg.buffer("input").banks, cfg.buffer("output").banks
    ports = max(-(-2 * outputs * 9 // banks_in), -(-2 * outputs // banks_out))
    body = max(-(-outputs * 8 * 8 // cfg.pe.vector_lanes), -(-outputs * 8 // cfg.pe.vector_lanes))
    assert tm.pool_cycles(pool, tile) == ISSUE_CYCLES + max(body, ports)


def test_shared_resources() -> None:
    cfg = load_overlay("zcu104")
    tm = TimingModel(cfg)
    geo = {"in_h": 8, "in_w": 8, "out_h": 8, "out_w": 8, "qmin": -128, "qmax": 127}
    dense = ConfigConv(kernel_h=3, kernel_w=3, pad_h=1, pad_w=1, **geo)
    strided = ConfigConv(kernel_h=3, kernel_w=3, stride_h=2, stride_w=2, **geo)
    i16 = ConfigConv(kernel_h=1, kernel_w=1, precision=Precision.INT16, in_signed=True, **geo)
    # int8 stride 1 reads each bank every other cycle (SUB = 2); stride 2 puts two lanes on a
    # bank and int16 (SUB = 1) reads every cycle: those passes hold every read slot
    assert not tm.cmp_full_read(dense)
    assert tm.cmp_full_read(strided) and tm.cmp_full_read(i16)
    assert tm.shared_resources(_tile(), dense) == RES_PORTS
    assert tm.shared_resources(_tile(), strided) == RES_PORTS | RES_READ
    fused = _tile(fuse_eltwise=True, res_base=1)
    assert tm.shared_resources(fused, dense) == RES_PORTS | RES_MULT | RES_LANES
    mx, av = _pool(PoolKind.MAX, 8, 8, 3, 1), _pool(PoolKind.AVE, 8, 8, 3, 1)
    assert tm.shared_resources(_ptile(), pool=mx) == RES_READ | RES_LANES
    assert tm.shared_resources(_ptile(), pool=av) == RES_READ | RES_LANES | RES_MULT
    assert tm.shared_resources(_ntile()) == RES_READ | RES_LANES | RES_MULT


def test_timeline_overlaps_vec_with_a_sharing_pass_and_serialises_conflicts() -> None:
    # a sharing CMP pass and a max-pool tile run side by side
    tl = Timeline(decode_cycles=1)
    c0, c1 = tl.issue(Unit.CMP, 100, resources=RES_PORTS)
    v0, v1 = tl.issue(Unit.VEC, 50, resources=RES_READ | RES_LANES, burst_cycles=30)
    assert (c0, c1) == (1, 101) and (v0, v1) == (2, 52)  # shared mode: CMP is busy
    # a full-read pass scheduled next must not overlap the pool tile
    f0, f1 = tl.issue(Unit.CMP, 10, resources=RES_PORTS | RES_READ)
    assert f0 >= v1 and f1 == f0 + 10
    # with CMP idle, a VEC tile takes burst mode (its shorter length) and then holds every
    # port: a CMP tile issued later waits for it
    tl = Timeline(decode_cycles=1)
    v0, v1 = tl.issue(Unit.VEC, 50, resources=RES_READ | RES_LANES, burst_cycles=30)
    assert v1 - v0 == 30
    c0, _ = tl.issue(Unit.CMP, 100, resources=RES_PORTS)
    assert c0 == v1
    # the eltwise stage's multipliers: an average pool never overlaps a fused conv
    tl = Timeline(decode_cycles=1)
    _, e1 = tl.issue(Unit.CMP, 100, resources=RES_PORTS | RES_MULT | RES_LANES)
    a0, _ = tl.issue(Unit.VEC, 20, resources=RES_READ | RES_LANES | RES_MULT, burst_cycles=10)
    assert a0 == e1


@pytest.fixture(scope="module")
def googlenet_zcu104(nets_dir: Path) -> edge_dnn.compiler.CompiledModel:
    g = edge_dnn.load_caffe(nets_dir / "bvlc_googlenet" / "deploy.prototxt")
    g.init_random_weights(0)
    name, shape = next(iter(g.inputs.items()))
    x = np.random.default_rng(1).standard_normal((1, *shape[1:])).astype(np.float32)
    qg = quantize(g, {name: x}, method="minmax", progress=False)
    return compile_model(qg, "zcu104")


def test_inception_pool_runs_beside_the_convolutions(googlenet_zcu104: object) -> None:
    """The compiler's token chains let the window unit pool an inception block's input while
    the PE array computes the block's convolutions (docs/compiler.md 3.2)."""
    model = googlenet_zcu104
    sched = run_schedule(model)  # type: ignore[arg-type]
    pool = [iv for iv in sched.intervals if iv.layer == "inception_4a/pool" and iv.unit == "VEC"]
    tiles = [iv for iv in pool if iv.opcode == "POOL_TILE"]
    assert tiles
    convs = [
        iv
        for iv in sched.intervals
        if iv.unit == "CMP"
        and iv.opcode == "COMPUTE_TILE"
        and iv.layer.startswith("inception_4a/")
        and iv.layer != "inception_4a/pool_proj"
    ]
    t0, t1 = min(t.start for t in tiles), max(t.end for t in tiles)
    overlap = sum(max(0, min(t1, c.end) - max(t0, c.start)) for c in convs)
    assert overlap > 0.5 * (t1 - t0)
    # and the stream's pool tiles wait only on VEC queues
    for step in model.steps:  # type: ignore[attr-defined]
        if hasattr(step, "cmd"):
            for ins in decode_stream(step.cmd).instructions:
                if isinstance(ins, PoolTile):
                    assert not ins.wait & (Token.LDA_CMP | Token.ST_CMP | Token.LDW_CMP)
