"""The quantizer, the QuantizedGraph runner and the report, on the bundled digits CNN and on
small synthetic graphs (concat/eltwise scale unification, float regions, accumulator fallback).

Digits: calibrated on the training split, evaluated on the held-out split of ``split.json``
(preprocessing ``pixel / 16``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edge_dnn
from edge_dnn.cli import main
from edge_dnn.graph import Graph, Node
from edge_dnn.layers.concat import Concat
from edge_dnn.layers.convolution import Convolution
from edge_dnn.layers.eltwise import Eltwise
from edge_dnn.layers.inner_product import InnerProduct
from edge_dnn.layers.input import Input
from edge_dnn.layers.pooling import Pooling
from edge_dnn.layers.relu import ReLU
from edge_dnn.layers.softmax import Softmax
from edge_dnn.quant.arith import AccumulatorOverflowError, QuantizationError, qrange
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from edge_dnn.quant.report import make_report
from edge_dnn.train import digits
from edge_dnn.zoo import model_files, zoo_path

METHOD = "minmax"
"""Calibration of most tests (exact ranges make error bounds predictable; KL is checked below)."""


@pytest.fixture(scope="module")
def digits_graph() -> Graph:
    return edge_dnn.load_caffe(*model_files("digits"))


@pytest.fixture(scope="module")
def train_x() -> np.ndarray:
    x, y = digits.load_dataset()
    tr, _ = digits.split_indices(y)
    return x[tr]


@pytest.fixture(scope="module")
def heldout() -> tuple[np.ndarray, np.ndarray]:
    return digits.heldout_set(zoo_path("digits"))


@pytest.fixture(scope="module")
def q8(digits_graph: Graph, train_x: np.ndarray) -> edge_dnn.QuantizedGraph:
    return quantize(digits_graph, train_x, method=METHOD, precision="int8", progress=False)


@pytest.fixture(scope="module")
def q16(digits_graph: Graph, train_x: np.ndarray) -> edge_dnn.QuantizedGraph:
    return quantize(digits_graph, train_x, method=METHOD, precision="int16", progress=False)


def top1(out: np.ndarray) -> np.ndarray:
    return out.reshape(out.shape[0], -1).argmax(axis=1)


# ---------------------------------------------------------------------------- digits
def test_raw_outputs_are_integers_within_ranges(
    q8: edge_dnn.QuantizedGraph, q16: edge_dnn.QuantizedGraph, heldout: Any
) -> None:
    x = heldout[0][:64]
    for qg, width in ((q8, {"int8", "uint8"}), (q16, {"int16"})):
        raw = qg.run(x, outputs=qg.graph.tensors, raw=True)
        for t, a in raw.items():
            tq = qg.tensors[t]
            if tq.is_float:
                assert a.dtype == np.float32, t
                continue
            assert tq.dtype in width, t
            assert a.dtype == np.dtype(tq.dtype), t
            assert int(a.min()) >= tq.qmin and int(a.max()) <= tq.qmax, t
            lo, hi = qrange(tq.dtype)
            assert lo <= tq.qmin <= tq.qmax == hi


def test_fused_relu_outputs_are_unsigned(q8: edge_dnn.QuantizedGraph) -> None:
    conv1 = q8.graph.node("conv1")
    assert conv1.layer.relu  # type: ignore[attr-defined]
    assert q8.tensors[conv1.outputs[0]].dtype == "uint8"
    assert q8.tensors["data"].dtype == "uint8"  # images are non-negative
    assert q8.tensors["ip2"].dtype == "int8"  # logits are signed
    assert q8.tensors["prob"].is_float  # Softmax output: ARM float region (section 8.1)
    assert q8.nodes["prob"].float_path and q8.nodes["conv1"].placement == "engine"
    assert q8.tensors["pool1"] == q8.tensors[conv1.outputs[0]]  # MAX pooling keeps the scale


def test_weights_bias_multipliers_follow_the_contract(
    q8: edge_dnn.QuantizedGraph, q16: edge_dnn.QuantizedGraph
) -> None:
    for qg, wdt, wmax, bmax in ((q8, np.int8, 127, 2**31), (q16, np.int16, 32767, 2**47)):
        for name in ("conv1", "conv2", "ip1", "ip2"):
            nq = qg.nodes[name]
            assert nq.weights is not None and nq.weights.dtype == wdt
            assert int(np.abs(nq.weights.astype(np.int64)).max()) == wmax  # scale from max|w|
            assert nq.bias is not None and int(np.abs(nq.bias).max()) < bmax
            assert nq.M is not None and nq.S is not None
            assert np.all((nq.M >= 0) & (nq.M < 2**16)) and np.all((nq.S >= 1) & (nq.S <= 63))
            # Normalised M except for ratios below 2**-48 (S = 63; e.g. a dead channel of ip1).
            assert np.all((nq.M >= 2**15) | (nq.S == 63))
            assert nq.precision == ("int8" if wdt == np.int8 else "int16")


def test_dequantized_outputs_close_to_float(
    q8: edge_dnn.QuantizedGraph, q16: edge_dnn.QuantizedGraph, heldout: Any
) -> None:
    x = heldout[0][:128]
    for qg, rel in ((q8, 0.05), (q16, 5e-4)):
        f = qg.run_float(x, outputs=["ip2", "prob"])
        q = qg.run(x, outputs=["ip2", "prob"])
        assert q["ip2"].dtype == np.float32
        assert np.abs(q["ip2"] - f["ip2"]).max() <= rel * np.abs(f["ip2"]).max()
        assert np.abs(q["prob"] - f["prob"]).max() <= 2 * rel


def test_top1_accuracy_int8_and_int16(
    q8: edge_dnn.QuantizedGraph, q16: edge_dnn.QuantizedGraph, heldout: Any
) -> None:
    x, y = heldout
    acc_f = float(np.mean(top1(q8.run_float(x)["prob"]) == y))
    acc8 = float(np.mean(top1(q8.run(x)["prob"]) == y))
    acc16 = float(np.mean(top1(q16.run(x)["prob"]) == y))
    assert acc_f > 0.97
    assert acc8 >= acc_f - 0.010
    assert acc16 >= acc_f - 0.002


def test_run_matches_chained_forward_int(q8: edge_dnn.QuantizedGraph, heldout: Any) -> None:
    """run() is exactly the chain of forward_int calls on the quantized input."""
    x = heldout[0][:16]
    raw = q8.run(x, outputs=q8.graph.tensors, raw=True)
    arrays = dict(q8.quantize_inputs(x))
    for n in q8.graph.nodes[1:]:
        for t, a in zip(
            n.outputs, n.layer.forward_int([arrays[t] for t in n.inputs], q8.nodes[n.name])
        ):
            arrays[t] = a
    for t in q8.graph.tensors:
        assert np.array_equal(raw[t], arrays[t]), t


def test_batch_size_independence(q8: edge_dnn.QuantizedGraph, heldout: Any) -> None:
    x = heldout[0][:20]
    both = q8.run(x, outputs=["ip2"], raw=True)["ip2"]
    ones = [q8.run(x[i : i + 1], outputs=["ip2"], raw=True)["ip2"] for i in range(20)]
    assert np.array_equal(both, np.concatenate(ones))


def test_run_rejects_bad_inputs(q8: edge_dnn.QuantizedGraph) -> None:
    with pytest.raises(edge_dnn.EdgeDnnError, match="missing input"):
        q8.run({})
    with pytest.raises(edge_dnn.EdgeDnnError, match="expected a 4-D"):
        q8.run(np.zeros((8, 8), np.float32))
    with pytest.raises(edge_dnn.EdgeDnnError, match="unknown output"):
        q8.run(np.zeros((1, 1, 8, 8), np.float32), outputs=["nope"])


def test_overrides_and_mixed(digits_graph: Graph, train_x: np.ndarray) -> None:
    calib = train_x[:256]
    qg = quantize(digits_graph, calib, method=METHOD, overrides={"conv2": "int16"}, progress=False)
    # conv2 int16: its input (pool1 = conv1's group) and its output are int16, its weights too;
    # conv1 keeps int8 weights (uint8 input) but writes int16.
    assert qg.nodes["conv2"].precision == "int16" and qg.nodes["conv1"].precision == "int8"
    assert qg.tensors["pool1"].dtype == "int16" and qg.tensors["conv2"].dtype == "int16"
    assert qg.nodes["conv1"].weights is not None and qg.nodes["conv1"].weights.dtype == np.int8
    assert qg.tensors["ip1"].dtype == "uint8"
    # mixed: a threshold above every layer's int8 SQNR promotes; 0 dB promotes nothing.
    hi = quantize(
        digits_graph, calib, method=METHOD, precision="mixed", sqnr_threshold_db=60, progress=False
    )
    lo = quantize(
        digits_graph, calib, method=METHOD, precision="mixed", sqnr_threshold_db=0, progress=False
    )
    assert hi.precision == lo.precision == "mixed"
    assert all(p == "int16" for n, p in hi.layer_precisions().items() if n != "data")
    assert all(p == "int8" for p in lo.layer_precisions().values())


def test_bad_overrides_raise(digits_graph: Graph, train_x: np.ndarray) -> None:
    with pytest.raises(QuantizationError, match="fused or removed"):
        quantize(digits_graph, train_x[:32], overrides={"relu1": "int16"}, progress=False)
    with pytest.raises(QuantizationError, match="unknown layer"):
        quantize(digits_graph, train_x[:32], overrides={"nope": "int16"}, progress=False)
    with pytest.raises(QuantizationError, match="int8 or int16"):
        quantize(digits_graph, train_x[:32], overrides={"conv1": "int4"}, progress=False)
    with pytest.raises(QuantizationError, match="unknown precision"):
        quantize(digits_graph, train_x[:32], precision="int4", progress=False)


def test_report(q8: edge_dnn.QuantizedGraph, heldout: Any) -> None:
    x, y = heldout
    rep = make_report(q8, [x[:200], x[200:]], labels=y, progress=False)
    assert rep.samples == len(y)
    assert [r.name for r in rep.rows] == [n.name for n in q8.graph.nodes[1:]]
    assert all(r.sqnr_db > 25 and r.cosine > 0.99 for r in rep.rows)
    # The first layer reads the net input: its own SQNR is its end-to-end SQNR.
    assert rep.rows[0].layer_sqnr_db == pytest.approx(rep.rows[0].sqnr_db)
    (out,) = rep.outputs
    assert out.classifier and out.top1_agreement is not None and out.top1_agreement > 0.98
    assert out.float_top1 == pytest.approx(float(np.mean(top1(q8.run_float(x)["prob"]) == y)))
    doc = json.loads(rep.to_json())
    assert doc["layers"][0]["name"] == "conv1" and doc["outputs"][0]["quant_top1"] is not None
    table = rep.format_table()
    assert "conv1" in table and "top-1 accuracy" in table


def test_kl_calibration_accuracy_is_reported(
    digits_graph: Graph, train_x: np.ndarray, heldout: Any
) -> None:
    """Every calibration method keeps int8 within 1.0 point of float on digits."""
    x, y = heldout
    ref = float(np.mean(top1(digits_graph.run(x)["prob"]) == y))
    for method in ("minmax", "percentile", "kl"):
        qg = quantize(digits_graph, train_x[:512], method=method, progress=False)
        acc = float(np.mean(top1(qg.run(x)["prob"]) == y))
        assert qg.method == method and acc >= ref - 0.010, (method, acc, ref)


def test_cli_quantize(tmp_path: Path, train_x: np.ndarray, capsys: Any) -> None:
    calib = tmp_path / "calib.npy"
    np.save(calib, train_x[:64])
    proto, weights = model_files("digits")
    out = tmp_path / "report.json"
    rc = main(
        [
            "quantize",
            str(proto),
            "--weights",
            str(weights),
            "--calib",
            str(calib),
            "--method",
            "minmax",
            "--override",
            "ip2=int16",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "conv1" in text and "SQNR" in text
    doc = json.loads(out.read_text())
    assert {r["name"]: r["precision"] for r in doc["layers"]}["ip2"] == "int16"
    assert (
        main(
            [
                "quantize",
                str(proto),
                "--weights",
                str(weights),
                "--calib",
                str(calib),
                "--override",
                "ip2",
            ]
        )
        == 2
    )


# ---------------------------------------------------------------------------- synthetic graphs
def _inception(rng: np.random.Generator) -> Graph:
    nodes = [
        Node("data", Input("data", shape=(2, 3, 6, 6)), [], ["data"]),
        Node("a", Convolution("a", num_output=4, kernel=(1, 1), relu=True), ["data"], ["a"]),
        Node("b", Convolution("b", num_output=3, kernel=(3, 3), pad=(1, 1)), ["data"], ["b"]),
        Node("p", Pooling("p", method="MAX", kernel=(3, 3), pad=(1, 1)), ["data"], ["p"]),
        Node("cat", Concat("cat"), ["a", "b", "p"], ["cat"]),
        Node("c", Convolution("c", num_output=10, kernel=(1, 1)), ["cat"], ["c"]),
        Node("d", Convolution("d", num_output=10, kernel=(1, 1), relu=True), ["cat"], ["d"]),
        Node("sum", Eltwise("sum", coeff=(1.0, -0.5), relu=True), ["c", "d"], ["sum"]),
        Node("gap", Pooling("gap", method="AVE", global_pooling=True), ["sum"], ["gap"]),
        Node("ip", InnerProduct("ip", num_output=5), ["gap"], ["ip"]),
        Node("sm", Softmax("sm"), ["ip"], ["sm"]),
    ]
    g = Graph("incep", nodes)
    g.init_random_weights(int(rng.integers(1 << 30)))
    return g


def test_concat_unification_and_float_region() -> None:
    rng = np.random.default_rng(3)
    g = _inception(rng)
    x = rng.random((16, 3, 6, 6), dtype=np.float32) * 2 - 0.5
    qg = quantize(g, x, method=METHOD, progress=False, batch_size=8)
    cat = qg.tensors["cat"]
    assert cat.dtype == "int8"  # b is signed
    # Convolution producers are retargeted to the concat grid (pure addressing); the ReLU one
    # writes int8 [0, 127]; MAX pooling of the net input cannot retarget: requantize step.
    assert qg.tensors["a"].same_grid(cat) and qg.tensors["a"].qmin == 0
    assert qg.tensors["b"].same_grid(cat) and qg.tensors["b"].qmin == -128
    assert not qg.tensors["p"].same_grid(cat)
    rs = qg.nodes["cat"].tables["rescale"]
    assert rs[0] is None and rs[1] is None and rs[2] is not None
    assert qg.tensors["sum"].dtype == "uint8"  # fused ReLU on the eltwise SUM
    assert qg.tensors["sm"].is_float
    f = qg.run_float(x[:4], outputs=["cat", "sum", "ip"])
    q = qg.run(x[:4], outputs=["cat", "sum", "ip"])
    for t in f:
        err = np.abs(q[t] - f[t]).max()
        assert err <= 0.05 * np.abs(f[t]).max(), t


def test_accumulator_overflow_falls_back_to_arm_float() -> None:
    """int16 mode: an InnerProduct with K = 140000 can overflow 2**47 (section 3.4)."""
    k = 140_000
    nodes = [
        Node("data", Input("data", shape=(1, k)), [], ["data"]),
        Node("ip", InnerProduct("ip", num_output=2, bias_term=False), ["data"], ["ip"]),
        Node("r", ReLU("r", negative_slope=0.1), ["ip"], ["r"]),
    ]
    g = Graph("wide", nodes)
    rng = np.random.default_rng(5)
    # Weights of equal magnitude: every |w_q| is 32767, so sum |w_q| * 32768 > 2**47.
    g.nodes[1].params = [rng.choice([-0.01, 0.01], size=(2, k)).astype(np.float32)]
    x = rng.standard_normal((4, k)).astype(np.float32)
    with pytest.warns(QuantizationWarning, match="2\\*\\*47"):
        qg = quantize(g, x, method=METHOD, precision="int16", progress=False, batch_size=4)
    nq = qg.nodes["ip"]
    assert nq.float_path and nq.placement == "arm" and nq.weights is None
    assert any("2**47" in w for w in qg.warnings)
    f, q = qg.run_float(x)["r"], qg.run(x)["r"]
    assert np.abs(q - f).max() <= 1e-3 * np.abs(f).max()
    with pytest.raises(AccumulatorOverflowError):
        quantize(g, x, method=METHOD, precision="int16", progress=False, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q8 = quantize(g, x, method=METHOD, precision="int8", progress=False)  # int8: no overflow
    assert not q8.nodes["ip"].float_path
