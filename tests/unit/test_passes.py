"""Graph passes (edge_dnn.passes): each rewrite must leave the float function unchanged.

Reference: the graph before the pass, run by the float golden model (whose layers are tested
against OpenCV and naive loops elsewhere). Passes keep the SSA naming convention (a name always
means the value of the Caffe blob's last writer), so every tensor name present in both graphs is
compared, not only the network outputs. Bar: max abs error <= 1e-5 * max(1, max|ref|).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from edge_dnn.caffe.importer import graph_from_net, load_caffe
from edge_dnn.caffe.prototxt import parse_net_text
from edge_dnn.graph import Graph
from edge_dnn.layers.convolution import Convolution
from edge_dnn.layers.eltwise import Eltwise
from edge_dnn.layers.inner_product import InnerProduct
from edge_dnn.passes import (
    DEFAULT_PASSES,
    FoldAffine,
    FoldBatchNorm,
    FoldPower,
    FoldScale,
    FuseReLU,
    GraphPass,
    RemoveDropout,
    StandaloneAffineToScale,
    run_passes,
)

NETS = Path("/work/shared/caffe/nets")
ZOO = Path(__file__).resolve().parents[2] / "edge_dnn" / "zoo"


# ---------------------------------------------------------------------------- helpers
def _net(body: str, shape: tuple[int, ...] = (2, 3, 8, 8), seed: int = 0) -> Graph:
    dims = " ".join(f"dim: {d}" for d in shape)
    text = f'name: "t"\ninput: "data"\ninput_shape {{ {dims} }}\n{body}'
    g = graph_from_net(parse_net_text(text))
    g.init_random_weights(seed)
    return g


def _conv(name: str, bottom: str, top: str, n: int = 4, extra: str = "") -> str:
    return (
        f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{top}" '
        f"convolution_param {{ num_output: {n} kernel_size: 3 pad: 1 {extra} }} }}\n"
    )


def _layer(name: str, typ: str, bottom: str, top: str, param: str = "") -> str:
    return f'layer {{ name: "{name}" type: "{typ}" bottom: "{bottom}" top: "{top}" {param} }}\n'


def _types(g: Graph) -> Counter[str]:
    return Counter(n.type for n in g.nodes)


def _assert_same(g: Graph, h: Graph, seed: int = 1, batch: int | None = None) -> None:
    """Same inputs/outputs and the same values on every tensor name both graphs have."""
    assert h.outputs == g.outputs
    assert h.inputs == g.inputs
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, shp in g.inputs.items():
        s = shp if batch is None else (batch, *shp[1:])
        feeds[name] = rng.standard_normal(s).astype(np.float32)
    common = [t for t in h.tensors if t in set(g.tensors)]
    assert set(g.outputs) <= set(common)
    ref = g.run(feeds, common)
    got = h.run(feeds, common)
    for t in common:
        assert got[t].shape == ref[t].shape, t
        tol = 1e-5 * max(1.0, float(np.abs(ref[t]).max()))
        err = float(np.abs(got[t] - ref[t]).max())
        assert err <= tol, f"tensor '{t}': max abs err {err} > {tol}"


def _snapshot(g: Graph) -> list[tuple[object, ...]]:
    return [
        (n.name, n.layer, tuple(n.inputs), tuple(n.outputs), [p.copy() for p in n.params])
        for n in g.nodes
    ]


def _assert_unchanged(g: Graph, snap: list[tuple[object, ...]]) -> None:
    now = _snapshot(g)
    assert len(now) == len(snap)
    for a, b in zip(now, snap):
        assert a[:4] == b[:4]
        pa, pb = a[4], b[4]
        assert isinstance(pa, list) and isinstance(pb, list)
        assert len(pa) == len(pb)
        assert all(np.array_equal(x, y) for x, y in zip(pa, pb))


def _set_bn_stats(g: Graph, name: str, factor: float, seed: int = 3) -> None:
    """Give a BatchNorm Caffe-style running sums scaled by ``factor`` (the scale_factor)."""
    rng = np.random.default_rng(seed)
    n = g.node(name)
    c = n.params[0].shape[0]
    mean = rng.standard_normal(c) * 0.5
    var = rng.uniform(0.2, 2.0, c)
    n.params = [
        (mean * factor).astype(np.float32),
        (var * factor).astype(np.float32),
        np.array([factor], dtype=np.float32),
    ]


CONV_BN_SCALE_RELU = (
    _conv("conv1", "data", "conv1")
    + _layer("bn1", "BatchNorm", "conv1", "conv1")
    + _layer("sc1", "Scale", "conv1", "conv1", "scale_param { bias_term: true }")
    + _layer("relu1", "ReLU", "conv1", "conv1")
    + _conv("conv2", "conv1", "conv2", extra="bias_term: false")
)


# ---------------------------------------------------------------------------- layer relu field
def test_relu_field_defaults_off_and_rectifies() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 5, 5)).astype(np.float32)
    conv = Convolution(name="c", num_output=4, kernel=(3, 3))
    assert conv.relu is False
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    (y,) = conv.forward([x], [w, b])
    (yr,) = Convolution(name="c", num_output=4, kernel=(3, 3), relu=True).forward([x], [w, b])
    assert np.array_equal(yr, np.maximum(y, 0)) and (y < 0).any()
    ip = InnerProduct(name="f", num_output=6)
    wf = rng.standard_normal((6, 75)).astype(np.float32)
    (z,) = ip.forward([x], [wf, b[:1].repeat(6)])
    (zr,) = InnerProduct(name="f", num_output=6, relu=True).forward([x], [wf, b[:1].repeat(6)])
    assert np.array_equal(zr, np.maximum(z, 0))
    for op in ("SUM", "PROD", "MAX"):
        (e,) = Eltwise(name="e", operation=op).forward([x, -x * 0.5], [])
        (er,) = Eltwise(name="e", operation=op, relu=True).forward([x, -x * 0.5], [])
        assert np.array_equal(er, np.maximum(e, 0))
    # MACs and summaries do not depend on the flag.
    shp = [(1, 3, 5, 5)]
    out = conv.output_shapes(shp)
    assert conv.macs(shp, out) == Convolution(
        name="c", num_output=4, kernel=(3, 3), relu=True
    ).macs(shp, out)


# ---------------------------------------------------------------------------- folding
def test_conv_bn_scale_relu_default_pipeline() -> None:
    g = _net(CONV_BN_SCALE_RELU)
    _set_bn_stats(g, "bn1", 999.98)
    snap = _snapshot(g)
    h = run_passes(g)
    _assert_unchanged(g, snap)
    assert _types(h) == Counter({"Input": 1, "Convolution": 2})
    c1 = h.node("conv1")
    assert isinstance(c1.layer, Convolution)
    assert c1.layer.relu and c1.layer.bias_term
    assert c1.outputs == ["conv1"] and h.node("conv2").inputs == ["conv1"]
    _assert_same(g, h)


def test_fold_batch_norm_creates_bias() -> None:
    body = _conv("conv1", "data", "c1", extra="bias_term: false") + _layer(
        "bn1", "BatchNorm", "c1", "bn1", "batch_norm_param { eps: 0.001 }"
    )
    g = _net(body)
    _set_bn_stats(g, "bn1", 0.5)
    h = FoldBatchNorm().apply(g)
    assert _types(h) == Counter({"Input": 1, "Convolution": 1})
    conv = h.node("conv1")
    assert isinstance(conv.layer, Convolution) and conv.layer.bias_term
    assert [p.shape for p in conv.params] == [(4, 3, 3, 3), (4,)]
    assert conv.outputs == ["bn1"] and h.outputs == ["bn1"]
    assert all(p.dtype == np.float32 for p in conv.params)
    _assert_same(g, h)


def test_fold_batch_norm_zero_scale_factor() -> None:
    body = _conv("conv1", "data", "c1") + _layer("bn1", "BatchNorm", "c1", "out")
    g = _net(body)
    _set_bn_stats(g, "bn1", 1.0)
    g.node("bn1").params[2] = np.zeros(1, dtype=np.float32)  # Caffe: mean = var = 0
    h = FoldBatchNorm().apply(g)
    assert "BatchNorm" not in _types(h)
    _assert_same(g, h)


def test_fold_batch_norm_into_depthwise_and_deconvolution() -> None:
    body = (
        _conv("dw", "data", "dw", n=4, extra="group: 4")
        + _layer("bn1", "BatchNorm", "dw", "dw")
        + 'layer { name: "up" type: "Deconvolution" bottom: "dw" top: "up" convolution_param '
        "{ num_output: 6 kernel_size: 2 stride: 2 group: 2 bias_term: false } }\n"
        + _layer("bn2", "BatchNorm", "up", "up")
        + _layer("sc2", "Scale", "up", "up", "scale_param { bias_term: true }")
    )
    g = _net(body, shape=(1, 4, 6, 6))
    h = run_passes(g)
    assert _types(h) == Counter({"Input": 1, "Convolution": 1, "Deconvolution": 1})
    assert h.node("up").layer.bias_term  # type: ignore[attr-defined]
    _assert_same(g, h)


def test_fold_scale_into_inner_product() -> None:
    body = (
        _layer("fc", "InnerProduct", "data", "fc", "inner_product_param { num_output: 7 }")
        + _layer("sc", "Scale", "fc", "fc", "scale_param { bias_term: true }")
        + _layer(
            "fct",
            "InnerProduct",
            "fc",
            "fct",
            "inner_product_param { num_output: 5 transpose: true bias_term: false }",
        )
        + _layer("sct", "Scale", "fct", "fct")
        + _layer("bt", "Bias", "fct", "out")
    )
    g = _net(body)
    h = FoldScale().apply(g)
    assert _types(h) == Counter({"Input": 1, "InnerProduct": 2})
    fct = h.node("fct")
    assert isinstance(fct.layer, InnerProduct) and fct.layer.bias_term and fct.layer.transpose
    assert h.outputs == ["out"] == fct.outputs
    _assert_same(g, h)


def test_fold_scale_respects_the_channel_axis() -> None:
    body = (
        # A scalar Scale (num_axes 0) folds; a Scale over (C, H) is not per-channel: kept.
        _conv("c1", "data", "c1")
        + _layer("s0", "Scale", "c1", "c1", "scale_param { num_axes: 0 bias_term: true }")
        + _conv("c2", "c1", "c2")
        + _layer("s2", "Scale", "c2", "c2", "scale_param { num_axes: 2 }")
        # InnerProduct with axis 2: output (N, C, O); a Scale on axis 1 is not per-feature.
        + _layer("fa", "InnerProduct", "c2", "fa", "inner_product_param { num_output: 3 axis: 2 }")
        + _layer("sa", "Scale", "fa", "fa")
        + _layer("fb", "InnerProduct", "c2", "fb", "inner_product_param { num_output: 3 axis: 2 }")
        + _layer("sb", "Scale", "fb", "fb", "scale_param { axis: 2 }")
    )
    g = _net(body)
    h = FoldScale().apply(g)
    assert {n.name for n in h.nodes if n.type == "Scale"} == {"s2", "sa"}
    _assert_same(g, h)


def test_fold_needs_a_sole_reader() -> None:
    # conv1's output feeds both the BatchNorm and conv2: the BatchNorm becomes a Scale instead.
    body = (
        _conv("conv1", "data", "c1")
        + _layer("bn", "BatchNorm", "c1", "bn")
        + _conv("conv2", "c1", "c2")
        + 'layer { name: "sum" type: "Eltwise" bottom: "bn" bottom: "c2" top: "sum" }\n'
    )
    g = _net(body)
    assert "BatchNorm" in _types(FoldBatchNorm().apply(g))
    h = run_passes(g)
    assert _types(h)["Scale"] == 1 and "BatchNorm" not in _types(h)
    sc = h.node("bn")
    assert sc.inputs == ["c1"] and sc.outputs == ["bn"]
    _assert_same(g, h)


def test_no_fold_into_a_net_output_or_after_fused_relu() -> None:
    body = _conv("conv1", "data", "c1") + _layer("sc", "Scale", "c1", "s")
    g0 = _net(body)
    g = Graph(g0.name, g0.nodes, outputs=["c1", "s"])
    h = FoldScale().apply(g)
    assert _types(h)["Scale"] == 1
    _assert_same(g, h)
    body = (
        _conv("conv1", "data", "c1")
        + _layer("r", "ReLU", "c1", "c1")
        + _layer("sc", "Scale", "c1", "c1")
    )
    g = _net(body)
    h = FoldScale().apply(FuseReLU().apply(g))
    assert _types(h) == Counter({"Input": 1, "Convolution": 1, "Scale": 1})
    _assert_same(g, h)


def test_standalone_batch_norm() -> None:
    body = (
        _layer("pool", "Pooling", "data", "pool", "pooling_param { pool: MAX kernel_size: 2 }")
        + _layer("bn", "BatchNorm", "pool", "pool")
        + _layer("sc", "Scale", "pool", "pool", "scale_param { bias_term: true }")
        + _layer("relu", "ReLU", "pool", "pool")
        + _layer("bn_in", "BatchNorm", "data", "nd")
    )
    g = _net(body)
    _set_bn_stats(g, "bn", 3.0)
    h1 = StandaloneAffineToScale().apply(g)
    assert "BatchNorm" not in _types(h1) and _types(h1)["Scale"] == 3
    _assert_same(g, h1)
    h = run_passes(g)
    assert _types(h) == Counter({"Input": 1, "Pooling": 1, "Scale": 2, "ReLU": 1})
    merged = h.node("bn")
    assert merged.type == "Scale" and merged.outputs == ["pool@sc"]
    assert h.node("bn_in").inputs == ["data"]
    _assert_same(g, h)


def test_fold_affine_handles_any_order() -> None:
    # Scale before BatchNorm after a convolution; Bias -> Scale -> Power after an Eltwise.
    body = (
        _conv("conv1", "data", "c1")
        + _layer("sc", "Scale", "c1", "c1")
        + _layer("bn", "BatchNorm", "c1", "c1")
        + 'layer { name: "e" type: "Eltwise" bottom: "c1" bottom: "c1" top: "e" }\n'
        + _layer("b", "Bias", "e", "e")
        + _layer("s", "Scale", "e", "e", "scale_param { bias_term: true }")
        + _layer("p", "Power", "e", "e", "power_param { scale: -0.5 shift: 2 }")
    )
    g = _net(body)
    h = FoldAffine().apply(g)
    assert _types(h) == Counter({"Input": 1, "Convolution": 1, "Eltwise": 1, "Scale": 1})
    _assert_same(g, h)
    h = run_passes(g)
    assert _types(h) == Counter({"Input": 1, "Convolution": 1, "Eltwise": 1, "Scale": 1})
    _assert_same(g, h)


def test_fold_power() -> None:
    body = (
        _conv("conv1", "data", "c1")
        + _layer("p1", "Power", "c1", "c1", "power_param { scale: 2.5 shift: -0.25 }")
        + _layer("fc", "InnerProduct", "c1", "fc", "inner_product_param { num_output: 6 }")
        + _layer("drop", "Dropout", "fc", "fc", "dropout_param { scale_train: false }")
        + _conv("conv2", "c1", "c2")
        + _layer("p2", "Power", "c2", "c2", "power_param { power: 2 scale: 2 }")
    )
    g = _net(body)
    h = FoldPower().apply(g)
    assert _types(h) == Counter({"Input": 1, "Convolution": 2, "InnerProduct": 1, "Power": 1})
    assert h.node("p2").layer.power == 2.0  # type: ignore[attr-defined]
    _assert_same(g, h)


# ---------------------------------------------------------------------------- identities
def test_remove_dropout_middle_and_end() -> None:
    body = (
        _conv("conv1", "data", "c1")
        + _layer("drop1", "Dropout", "c1", "c1")
        + _layer("fc", "InnerProduct", "c1", "fc", "inner_product_param { num_output: 5 }")
        + _layer("drop2", "Dropout", "fc", "out")
        + _layer("split", "Split", "fc", "fc_s")
        + _layer("id", "Power", "fc_s", "fc_id")
    )
    g = _net(body)
    assert g.outputs == ["out", "fc_id"]
    snap = _snapshot(g)
    h = RemoveDropout().apply(g)
    _assert_unchanged(g, snap)
    # The InnerProduct now writes "out"; the Split goes and its reader reads "out"; the identity
    # Power stays: its input and output are both network outputs, two names for one value.
    assert _types(h) == Counter({"Input": 1, "Convolution": 1, "InnerProduct": 1, "Power": 1})
    assert h.outputs == ["out", "fc_id"]
    assert h.node("fc").outputs == ["out"] and h.node("conv1").outputs == ["c1"]
    assert h.node("id").inputs == ["out"]
    assert h.node("fc").inputs == ["c1"]
    _assert_same(g, h)


def test_remove_dropout_pinned_names() -> None:
    body = (
        _layer("d_in", "Dropout", "data", "d")  # x is the net input: readers use "data"
        + _conv("conv1", "d", "c1")
        + _layer("d_out", "Dropout", "c1", "o1")  # c1 and o1 are both net outputs: kept
    )
    g0 = _net(body)
    g = Graph(g0.name, g0.nodes, outputs=["c1", "o1"])
    h = RemoveDropout().apply(g)
    assert [n.name for n in h.nodes if n.type == "Dropout"] == ["d_out"]
    assert h.node("conv1").inputs == ["data"]
    _assert_same(g, h)
    # A Dropout from the net input straight to the output cannot go either.
    h = RemoveDropout().apply(_net(_layer("d", "Dropout", "data", "out")))
    assert _types(h)["Dropout"] == 1


# ---------------------------------------------------------------------------- ReLU fusion
def test_fuse_relu_eltwise_and_limits() -> None:
    body = (
        _conv("a", "data", "a")
        + _conv("b", "data", "b")
        + 'layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" top: "sum" }\n'
        + _layer("r_sum", "ReLU", "sum", "sum")
        + 'layer { name: "prod" type: "Eltwise" bottom: "a" bottom: "b" top: "prod" '
        "eltwise_param { operation: PROD } }\n"
        + _layer("r_prod", "ReLU", "prod", "prod")
        + _conv("c", "sum", "c")
        + _layer("leaky", "ReLU", "c", "c", "relu_param { negative_slope: 0.1 }")
        + _layer("fc", "InnerProduct", "c", "fc", "inner_product_param { num_output: 4 }")
        + _layer("r_fc", "ReLU", "fc", "fc")
    )
    g = _net(body)
    h = FuseReLU().apply(g)
    assert [n.name for n in h.nodes if n.type == "ReLU"] == ["r_prod", "leaky"]
    fused = {n.name for n in h.nodes if getattr(n.layer, "relu", False)}
    assert fused == {"sum", "fc"}
    assert h.node("sum").outputs == ["sum"] and h.node("c").inputs == ["sum"]
    _assert_same(g, h)


def test_fuse_relu_needs_a_sole_reader() -> None:
    # "a" (pre-ReLU) feeds the ReLU and the Eltwise: not fused.
    body = (
        _conv("a", "data", "a")
        + _layer("r", "ReLU", "a", "ar")
        + 'layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "ar" top: "sum" }\n'
    )
    g = _net(body)
    h = FuseReLU().apply(g)
    assert _types(h)["ReLU"] == 1
    _assert_same(g, h)


# ---------------------------------------------------------------------------- pipeline
def test_run_passes_contract() -> None:
    g = _net(CONV_BN_SCALE_RELU)
    c = run_passes(g, [])
    assert c is not g and [n.name for n in c.nodes] == [n.name for n in g.nodes]
    assert all(a is not b for a, b in zip(c.nodes, g.nodes))
    assert all(pa is not pb for a, b in zip(c.nodes, g.nodes) for pa, pb in zip(a.params, b.params))
    names = [p.name for p in DEFAULT_PASSES]
    assert names == [
        "remove_dropout",
        "fold_batch_norm",
        "fold_scale",
        "fold_power",
        "standalone_affine_to_scale",
        "fold_affine",
        "fuse_relu",
    ]
    assert all(isinstance(p, GraphPass) for p in DEFAULT_PASSES)
    h = run_passes(g, [FoldBatchNorm(), FoldScale()])
    assert _types(h) == Counter({"Input": 1, "Convolution": 2, "ReLU": 1})
    _assert_same(g, h)


def test_passes_without_weights_leave_folds_alone() -> None:
    text = 'name: "t"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
    g = graph_from_net(parse_net_text(text + CONV_BN_SCALE_RELU))
    h = run_passes(g)
    # Without blobs nothing can be folded; the BatchNorm cannot be converted either.
    assert _types(h) == Counter(
        {"Input": 1, "Convolution": 2, "BatchNorm": 1, "Scale": 1, "ReLU": 1}
    )


# ---------------------------------------------------------------------------- real networks
@pytest.fixture(scope="module")
def resnet50() -> tuple[Graph, Graph]:
    g = load_caffe(NETS / "resnet50" / "ResNet-50-deploy.prototxt")
    g.init_random_weights(0)
    return g, run_passes(g)


@pytest.mark.slow
def test_resnet50_structure(resnet50: tuple[Graph, Graph]) -> None:
    g, h = resnet50
    t = _types(h)
    assert not {"BatchNorm", "Scale", "ReLU"} & set(t)
    assert t["Convolution"] == 53 and t["Eltwise"] == 16
    assert h.outputs == g.outputs == ["prob"]
    relus = sum(1 for n in h.nodes if getattr(n.layer, "relu", False))
    assert relus == _types(g)["ReLU"] == 49
    assert all(getattr(n.layer, "relu", False) for n in h.nodes if n.type == "Eltwise")
    assert all(n.layer.bias_term for n in h.nodes if n.type == "Convolution")  # type: ignore[attr-defined]


@pytest.mark.slow
def test_resnet50_same_function(resnet50: tuple[Graph, Graph]) -> None:
    g, h = resnet50
    _assert_same(g, h, batch=1)


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        NETS / "mobilenet_v1" / "mobilenet_deploy.prototxt",
        NETS / "bvlc_googlenet" / "deploy.prototxt",
        ZOO / "digits" / "digits.prototxt",
    ],
    ids=["mobilenet_v1", "googlenet", "digits"],
)
def test_shared_nets_same_function(path: Path) -> None:
    g = load_caffe(path)
    g.init_random_weights(0)
    snap = _snapshot(g)
    h = run_passes(g)
    _assert_unchanged(g, snap)
    t = _types(h)
    assert not {"BatchNorm", "Scale", "Dropout"} & set(t)
    assert t["ReLU"] == 0
    _assert_same(g, h, batch=1)
