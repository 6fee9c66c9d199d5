"""Eltwise fused into the convolution producing one of its operands (COMPUTE_TILE
``fuse_eltwise``, ``docs/compiler.md`` section 3).

Small seeded networks, compiled for the three board overlays and run on the engine emulator:

* every legal case is fused: the command stream has COMPUTE_TILEs with ``fuse_eltwise`` and no
  ELTWISE_TILE, the report names the convolution, and the outputs equal the integer reference
  bit for bit (operand ``b`` on chip, from DDR written by the runtime or by an ARM step, the
  convolution as bottom 0 or 1 with unequal coefficients, MAX, grouped and depthwise
  convolutions, InnerProduct, K-split InnerProduct, int16, a tile too tall for an on-chip
  operand);
* the illegal cases (a ReLU fused into the convolution, its output read by another layer or
  being a network output) stay standalone ELTWISE_TILEs and exact.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from edge_dnn.compiler import CompiledModel, compile_model, format_report
from edge_dnn.emulator.run import run_compiled
from edge_dnn.graph import Graph, Node
from edge_dnn.isa import decode_stream
from edge_dnn.isa.format import ComputeTile, EltwiseTile, LoadInput
from edge_dnn.layers.registry import LAYERS
from edge_dnn.overlay.config import load_overlay
from edge_dnn.quant.qgraph import QuantizedGraph
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from tests.unit.test_compiler import check_memory, check_report, check_streams

OVERLAYS = ("zcu104", "zcu102", "ultra96")
L = LAYERS


def _conv(name: str, bottom: str, n: int, k: int = 1, relu: bool = False, group: int = 1) -> Node:
    layer = L["Convolution"](
        name, num_output=n, kernel=(k, k), pad=(k // 2, k // 2), relu=relu, group=group
    )
    return Node(name, layer, [bottom], [name])


def _elt(name: str, a: str, b: str, **kw: object) -> Node:
    return Node(name, L["Eltwise"](name, **kw), [a, b], [name])


def _fused_net() -> Graph:
    """Every eltwise here is fusable (the expected convolution in ``FUSED``)."""
    return Graph(
        "fused",
        [
            Node("data", L["Input"]("data", shape=(1, 8, 9, 11)), [], ["data"]),
            _conv("c0", "data", 16, 3, relu=True),
            _conv("sc", "data", 16),  # projection shortcut: earlier than c2
            _conv("c2", "c0", 16, 3),
            # both operands are convolutions: the later (c2, bottom 1) is fused; the
            # coefficients differ, so swapping the operands' parameters matters
            _elt("s1", "sc", "c2", coeff=(1.0, -0.75), relu=True),
            _conv("c3", "s1", 16),
            _elt("s2", "c3", "s1"),  # identity shortcut: b = s1, on chip
            _conv("c4", "s2", 16, 3),
            _conv("c4b", "s2", 16),
            # MAX of two convolutions (one output scale, no requantize step)
            _elt("m1", "c4", "c4b", operation="MAX"),
            _conv("c5", "data", 8),
            _elt("s0", "c5", "data"),  # b = the network input, from DDR
            Node("pr", L["PReLU"]("pr"), ["data"], ["pr"]),
            _conv("c6", "data", 8),
            _elt("s4", "pr", "c6", relu=True),  # b written to DDR by an ARM step
            _conv("gc", "s2", 16, 3, group=2),  # one task per group
            _elt("s5", "gc", "s2"),
            _conv("dw", "s5", 16, 3, group=16),  # depthwise
            _elt("s6", "s5", "dw", relu=True),
            Node("ip1", L["InnerProduct"]("ip1", num_output=7), ["m1"], ["ip1"]),
            Node("ip2", L["InnerProduct"]("ip2", num_output=7), ["m1"], ["ip2"]),
            _elt("s3", "ip1", "ip2"),
        ],
    )


FUSED = {
    "s1": "c2", "s2": "c3", "m1": "c4b", "s0": "c5", "s4": "c6", "s5": "gc", "s6": "dw",
    "s3": "ip2",
}  # fmt: skip


def _unfused_net() -> Graph:
    """No eltwise here may be fused."""
    return Graph(
        "unfused",
        [
            Node("data", L["Input"]("data", shape=(1, 8, 9, 11)), [], ["data"]),
            _conv("r", "data", 16, 3, relu=True),  # ReLU before the sum
            _conv("u", "data", 16, 3, relu=True),
            Node("q", L["Pooling"]("q", method="MAX", kernel=(3, 3), pad=(1, 1)), ["u"], ["q"]),
            _elt("e1", "r", "q"),
            _conv("r1", "data", 16, relu=True),
            _conv("r2", "data", 16, 3, relu=True),
            _elt("e2", "r1", "r2", operation="MAX"),  # both operands with a ReLU
            _conv("v", "data", 16),  # also read by the pooling w
            Node("w", L["Pooling"]("w", method="MAX", kernel=(2, 2), stride=(2, 2)), ["v"], ["w"]),
            _elt("e4", "v", "e1"),
            _conv("z", "data", 16),  # a network output
            _elt("e3", "z", "e4", relu=True),
        ],
        outputs=["e2", "e3", "w", "z"],
    )


def _ksplit_net() -> Graph:
    """InnerProducts whose reduction (17408 inputs) exceeds every weight buffer: K-split."""
    return Graph(
        "ksplit",
        [
            Node("data", L["Input"]("data", shape=(1, 64, 16, 17)), [], ["data"]),
            Node("ip1", L["InnerProduct"]("ip1", num_output=16), ["data"], ["ip1"]),
            Node("ip2", L["InnerProduct"]("ip2", num_output=16), ["data"], ["ip2"]),
            _elt("s", "ip1", "ip2", coeff=(0.5, 1.0)),
        ],
    )


def _tall_net() -> Graph:
    """40 x 40 maps: on ultra96 a whole-height tile of one PE group (2 x 1600 words) exceeds
    half the output buffer (2048), so the on-chip operand cannot be read in place."""
    return Graph(
        "tall",
        [
            Node("data", L["Input"]("data", shape=(1, 16, 40, 40)), [], ["data"]),
            _conv("a", "data", 16, 3, relu=True),
            _conv("b", "a", 16),
            _elt("s", "b", "a"),
        ],
    )


_QG: dict[tuple[str, str], QuantizedGraph] = {}


def quantized(key: str, precision: str = "int8") -> QuantizedGraph:
    """The network ``key`` with seeded weights, quantized once per session (minmax)."""
    if (key, precision) not in _QG:
        g = {"fused": _fused_net, "unfused": _unfused_net, "ksplit": _ksplit_net}.get(
            key, _tall_net
        )()
        g.init_random_weights(3)
        name, shape = next(iter(g.inputs.items()))
        x = np.random.default_rng(7).standard_normal((2, *shape[1:])).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuantizationWarning)
            _QG[key, precision] = quantize(
                g, {name: x}, method="minmax", precision=precision, progress=False
            )
    return _QG[key, precision]


def compile_and_run(qg: QuantizedGraph, overlay: str) -> CompiledModel:
    """Compile, validate the structure, run on the emulator and compare with the reference."""
    cfg = load_overlay(overlay)
    m = compile_model(qg, cfg)
    check_report(m, qg)
    check_streams(m, cfg)
    check_memory(m)
    name, shape = next(iter(qg.inputs.items()))
    x = np.random.default_rng(11).standard_normal((1, *shape[1:])).astype(np.float32)
    got = run_compiled(m, {name: x}, raw=True)
    want = qg.run({name: x}, raw=True)
    assert set(want) == set(got)
    for t, a in want.items():
        assert np.array_equal(got[t], a), f"{qg.name} on {overlay}: output '{t}' differs"
    return m


def instructions(m: CompiledModel) -> list[Any]:
    """Every instruction of every engine run."""
    return [ins for s in m.engine_steps for ins in decode_stream(s.cmd).instructions]


def fused_tiles(m: CompiledModel) -> list[ComputeTile]:
    return [i for i in instructions(m) if isinstance(i, ComputeTile) and i.fuse_eltwise]


def rows(m: CompiledModel) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in m.report["layers"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_legal_eltwise_is_fused_and_exact(overlay: str) -> None:
    qg = quantized("fused")
    m = compile_and_run(qg, overlay)
    assert m.report["fused_eltwise"] == FUSED
    assert not any(isinstance(i, EltwiseTile) for i in instructions(m))
    r = rows(m)
    for elt, conv in FUSED.items():
        assert r[elt]["placement"] == "fused" and conv in str(r[elt]["reason"])
        assert r[conv]["fused_eltwise"] == elt
        # the convolution's own output is never materialised
        assert m.tensors[conv].layout is None
    # every COMPUTE_TILE of a fused layer carries the eltwise
    tags = {i: n.name for i, n in enumerate(qg.graph.nodes)}
    fused_conv_tiles = [
        i for i in instructions(m) if isinstance(i, ComputeTile) and tags[i.tag] in FUSED.values()
    ]
    assert fused_conv_tiles and all(i.fuse_eltwise for i in fused_conv_tiles)
    assert {tags[i.tag] for i in fused_tiles(m)} == set(FUSED.values())
    # operand b: on chip for s2 (s1 looped back), from DDR for s0 and s4
    assert r["c3"]["input"] == ["on-chip", "on-chip"]
    assert r["c5"]["input"][1] == r["c6"]["input"][1] == "ddr"
    text = format_report(m.report)
    assert "+ eltwise 's1' fused" in text and "8 eltwise fused" in text


def test_int16_fusion_is_exact() -> None:
    m = compile_and_run(quantized("fused", "int16"), "zcu104")
    assert m.report["fused_eltwise"] == FUSED
    assert not any(isinstance(i, EltwiseTile) for i in instructions(m))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_illegal_eltwise_stays_unfused_and_exact(overlay: str) -> None:
    m = compile_and_run(quantized("unfused"), overlay)
    assert m.report["fused_eltwise"] == {}
    assert not fused_tiles(m)
    r = rows(m)
    for elt in ("e1", "e2", "e3", "e4"):
        assert r[elt]["placement"] == "engine", elt
    assert len({i.tag for i in instructions(m) if isinstance(i, EltwiseTile)}) == 4


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ksplit_inner_product_fusion(overlay: str) -> None:
    m = compile_and_run(quantized("ksplit"), overlay)
    r = rows(m)
    assert r["ip2"]["tiling"]["ksplit"] > 0 and m.report["fused_eltwise"] == {"s": "ip2"}
    tiles = [i for i in instructions(m) if isinstance(i, ComputeTile) and i.tag == 2]
    # only the last K-split tile of each group requantizes, and so fuses
    assert all(i.fuse_eltwise == i.acc_last for i in tiles)
    assert sum(i.fuse_eltwise for i in tiles) >= 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_on_chip_operand_needing_short_tiles(overlay: str) -> None:
    m = compile_and_run(quantized("tall"), overlay)
    r = rows(m)
    assert m.report["fused_eltwise"] == {"s": "b"}
    if overlay == "ultra96":
        # no whole-height tile: b runs in a new run reading both operands from DDR,
        # the operand tiles loaded before each COMPUTE_TILE
        assert r["b"]["input"] == ["ddr", "ddr"]
        assert m.report["engine_runs"] == 2
        loads = [i for i in instructions(m) if isinstance(i, LoadInput) and i.tag == 2]
        assert len(loads) > 1
    else:
        assert r["b"]["input"] == ["on-chip", "on-chip"] and m.report["engine_runs"] == 1
