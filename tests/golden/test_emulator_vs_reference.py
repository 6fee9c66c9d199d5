"""The emulated board (compiler + engine emulator + ARM steps) against the integer reference.

For the digits net and every shared network (seeded random weights, random calibration,
minmax), compiled for every overlay, ``run_compiled`` must reproduce
``QuantizedGraph.run(raw=True)`` bit for bit on the network outputs. For digits, LeNet and
SqueezeNet the network is also compiled with *every* tensor declared a network output (so the
compiler materialises each one in DDR or ARM memory) and every intermediate tensor must match.

Quantized graphs, references and compiled models are built once per session.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

import edge_dnn
from edge_dnn.compiler import CompiledModel, compile_model
from edge_dnn.emulator.run import ModelRunner, run_compiled
from edge_dnn.graph import Graph
from edge_dnn.overlay.config import list_overlays
from edge_dnn.quant.qgraph import QuantizedGraph
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from edge_dnn.zoo import model_files

pytestmark = pytest.mark.golden

NETS = {
    "digits": "",
    "lenet": "lenet/lenet.prototxt",
    "bvlc_alexnet": "bvlc_alexnet/deploy.prototxt",
    "caffenet": "bvlc_reference_caffenet/deploy.prototxt",
    "googlenet": "bvlc_googlenet/deploy.prototxt",
    "squeezenet_v1.1": "squeezenet_v1.1/deploy.prototxt",
    "vgg16": "vgg16/VGG_ILSVRC_16_layers_deploy.prototxt",
    "resnet50": "resnet50/ResNet-50-deploy.prototxt",
    "mobilenet_v1": "mobilenet_v1/mobilenet_deploy.prototxt",
    "mobilenet_ssd": "mobilenet_ssd/MobileNetSSD_deploy.prototxt",
    "yufacedetectnet_v1": "yufacedetectnet_v1/yufacedetectnet-open-v1.prototxt",
}
EVERY_TENSOR = ("digits", "lenet", "squeezenet_v1.1")
OVERLAYS = list_overlays()


@dataclasses.dataclass
class _Net:
    qg: QuantizedGraph
    feeds: dict[str, np.ndarray]
    ref: dict[str, np.ndarray]


_NETS: dict[str, _Net] = {}
_MODELS: dict[tuple[str, str, bool], CompiledModel] = {}


def net(key: str, nets_dir: Path) -> _Net:
    """The quantized network, a batch-1 input and the reference for every tensor."""
    if key not in _NETS:
        if key == "digits":
            g = edge_dnn.load_caffe(*model_files("digits"))
        else:
            g = edge_dnn.load_caffe(nets_dir / NETS[key])
            g.init_random_weights(0)
        rng = np.random.default_rng(1)
        name, shape = next(iter(g.inputs.items()))
        calib = rng.standard_normal((1, *shape[1:])).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuantizationWarning)
            qg = quantize(g, {name: calib}, method="minmax", progress=False)
        feeds = {name: rng.standard_normal((1, *shape[1:])).astype(np.float32)}
        wanted = list(qg.graph.tensors) if key in EVERY_TENSOR else qg.outputs
        _NETS[key] = _Net(qg, feeds, qg.run(feeds, outputs=wanted, raw=True))
    return _NETS[key]


def every_tensor_graph(qg: QuantizedGraph) -> QuantizedGraph:
    """The same quantized network with every non-input tensor declared a network output."""
    g = qg.graph
    outs = [t for t in g.tensors if t not in g.inputs]
    g2 = Graph(g.name, g.nodes, outputs=outs)
    return QuantizedGraph(g2, qg.tensors, qg.nodes, qg.precision, qg.method, qg.warnings)


def compiled(key: str, overlay: str, nets_dir: Path, every: bool = False) -> CompiledModel:
    if (key, overlay, every) not in _MODELS:
        qg = net(key, nets_dir).qg
        _MODELS[key, overlay, every] = compile_model(
            every_tensor_graph(qg) if every else qg, overlay
        )
    return _MODELS[key, overlay, every]


def assert_same(got: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert got.dtype == ref.dtype, f"{what}: dtype {got.dtype}, reference {ref.dtype}"
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, reference {ref.shape}"
    if not np.array_equal(got, ref, equal_nan=got.dtype.kind == "f"):
        diff = int(np.count_nonzero(got != ref))
        raise AssertionError(f"{what}: {diff} of {ref.size} values differ from the reference")


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("key", list(NETS))
def test_network_outputs_bit_exact(key: str, overlay: str, nets_dir: Path) -> None:
    n = net(key, nets_dir)
    model = compiled(key, overlay, nets_dir)
    out = run_compiled(model, n.feeds, raw=True)
    assert set(out) == set(n.qg.outputs)
    for t in n.qg.outputs:
        assert_same(out[t], n.ref[t], f"{key} on {overlay}, output '{t}'")


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("key", EVERY_TENSOR)
def test_every_tensor_bit_exact(key: str, overlay: str, nets_dir: Path) -> None:
    n = net(key, nets_dir)
    model = compiled(key, overlay, nets_dir, every=True)
    runner = ModelRunner(model)
    out = runner.run(n.feeds, raw=True, debug=True)
    missing = [t for t in n.qg.graph.tensors if t not in out]
    assert not missing, f"tensors not materialised: {missing}"
    for t in n.qg.graph.tensors:
        assert_same(out[t], n.ref[t], f"{key} on {overlay}, tensor '{t}'")
    assert sum(s.counters.macs for s in runner.stats) > 0


@pytest.mark.parametrize("key", EVERY_TENSOR)
def test_debug_run_of_the_plain_model(key: str, nets_dir: Path) -> None:
    """debug=True on the normally compiled model: every tensor it returns is the reference's,
    and the dequantized outputs equal the reference's dequantized outputs."""
    n = net(key, nets_dir)
    model = compiled(key, "zcu104", nets_dir)
    out = run_compiled(model, n.feeds, raw=True, debug=True)
    assert set(n.qg.outputs) <= set(out)
    for t, v in out.items():
        assert_same(v, n.ref[t], f"{key}, tensor '{t}'")
    floats = run_compiled(model, n.feeds)
    ref = n.qg.run(n.feeds)
    for t in n.qg.outputs:
        assert_same(floats[t], ref[t], f"{key}, dequantized output '{t}'")
