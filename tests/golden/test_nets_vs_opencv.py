"""Every shared network: import, shapes and float outputs against OpenCV's Caffe importer.

The float golden model must match ``cv2.dnn.readNetFromCaffe`` on the same prototxt, the same
seeded random weights written by edge-dnn as a real caffemodel, and the same input: max abs error
<= 1e-4 * max(1, max|reference|) for every network output and, for the nets named in
``INTERMEDIATE``, for every layer's output.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import edge_dnn
from edge_dnn.graph import Graph
from edge_dnn.layers.detection_output import to_opencv_layout

NETS = {
    "bvlc_alexnet": "bvlc_alexnet/deploy.prototxt",
    "bvlc_alexnet_v1": "bvlc_alexnet/legacy/deploy.v1_layers_enum.prototxt",
    "caffenet": "bvlc_reference_caffenet/deploy.prototxt",
    "caffenet_v0": "bvlc_reference_caffenet/legacy/imagenet_deploy.v0.prototxt",
    "googlenet": "bvlc_googlenet/deploy.prototxt",
    "squeezenet_v1.1": "squeezenet_v1.1/deploy.prototxt",
    "vgg16": "vgg16/VGG_ILSVRC_16_layers_deploy.prototxt",
    "resnet50": "resnet50/ResNet-50-deploy.prototxt",
    "mobilenet_v1": "mobilenet_v1/mobilenet_deploy.prototxt",
    "mobilenet_ssd": "mobilenet_ssd/MobileNetSSD_deploy.prototxt",
    "lenet": "lenet/lenet.prototxt",
    "yufacedetectnet_v1": "yufacedetectnet_v1/yufacedetectnet-open-v1.prototxt",
}
INTERMEDIATE = {"bvlc_alexnet", "googlenet", "resnet50", "mobilenet_ssd"}
# Layers whose output size depends on the data (detections), not only on shapes.
DYNAMIC = {"DetectionOutput"}


_WEIGHTS: dict[str, Path] = {}


def random_caffemodel(key: str, nets_dir: Path, factory: pytest.TempPathFactory) -> Path:
    """Seeded random weights for a shared net, written once per test session as a caffemodel."""
    if key not in _WEIGHTS:
        graph = edge_dnn.load_caffe(nets_dir / NETS[key])
        graph.init_random_weights(seed=1234)
        path = factory.mktemp(key) / "w.caffemodel"
        edge_dnn.save_caffemodel(graph, path)
        _WEIGHTS[key] = path
    return _WEIGHTS[key]


def bar(ref: np.ndarray) -> float:
    """The comparison bar: 1e-4 relative to the reference's magnitude (at least absolute)."""
    return 1e-4 * max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)


def batch1(graph: Graph) -> dict[str, tuple[int, ...]]:
    return {k: (1, *v[1:]) for k, v in graph.inputs.items()}


def opencv_net(prototxt: Path, weights: Path) -> cv2.dnn.Net:
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(weights))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    # Without fusion every layer's own output is observable (no BN/Scale/ReLU merged into conv).
    net.enableFusion(False)
    return net


@pytest.mark.parametrize("key", sorted(NETS))
def test_shapes_equal_opencv(
    key: str, nets_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Inferred shapes of every blob equal OpenCV's (at the declared input shapes)."""
    path = nets_dir / NETS[key]
    graph = edge_dnn.load_caffe(path)
    net = cv2.dnn.readNetFromCaffe(
        str(path), str(random_caffemodel(key, nets_dir, tmp_path_factory))
    )
    in_shape = next(iter(graph.inputs.values()))
    ids, _, out_shapes = net.getLayersShapes([list(in_shape)])
    names = net.getLayerNames()
    by_name = {names[i - 1]: s for i, s in zip(ids, out_shapes) if i > 0}
    compared = 0
    for node in graph.nodes:
        if node.type in DYNAMIC or node.name not in by_name:
            continue
        ours = [graph.shapes[t] for t in node.outputs]
        theirs = [tuple(int(d) for d in s) for s in by_name[node.name]]
        # OpenCV reports 2-D shapes for some layers as [N, C]; compare after trimming trailing 1s
        # only when the element counts agree.
        for a, b in zip(ours, theirs):
            assert a == b or (int(np.prod(a)) == int(np.prod(b)) and _trim(a) == _trim(b)), (
                f"{key}/{node.name}: ours {a} vs OpenCV {b}"
            )
        compared += 1
    assert compared >= len(graph.nodes) // 2, f"only {compared} layers matched by name"


def _trim(s: tuple[int, ...]) -> tuple[int, ...]:
    t = list(s)
    while len(t) > 1 and t[-1] == 1:
        t.pop()
    return tuple(t)


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(NETS))
def test_random_weights_match_opencv(
    key: str, nets_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = nets_dir / NETS[key]
    graph = edge_dnn.load_caffe(path)
    graph.init_random_weights(seed=1234)
    weights = random_caffemodel(key, nets_dir, tmp_path_factory)
    # The weights must survive the round trip through a real caffemodel.
    reloaded = edge_dnn.load_caffe(path, weights)
    for a, b in zip(graph.nodes, reloaded.nodes):
        for p, q in zip(a.params, b.params):
            assert np.array_equal(p, q), a.name

    rng = np.random.default_rng(7)
    shapes = batch1(graph)
    feeds = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    if key == "yufacedetectnet_v1" or key == "mobilenet_ssd":
        # Image-like input so that the detector produces a handful of boxes.
        feeds = {k: rng.uniform(-1, 1, s).astype(np.float32) for k, s in shapes.items()}
    net = opencv_net(path, weights)
    for k, v in feeds.items():
        net.setInput(v, k)

    check_all = key in INTERMEDIATE
    ours_names: dict[str, str] = {}
    if check_all:
        cv_layers = set(net.getLayerNames())
        for node in reloaded.nodes:
            if node.name in cv_layers and node.type != "Input":
                ours_names[node.name] = node.outputs[0]
    out_nodes = {reloaded.producer(t).name: t for t in reloaded.outputs}
    ours_names.update(out_nodes)
    if check_all:
        # Nearly every layer is compared (OpenCV names layers as the prototxt does).
        assert len(ours_names) >= 0.9 * (len(reloaded.nodes) - 1), (len(ours_names), key)
    layer_names = list(ours_names)
    ref = dict(zip(layer_names, net.forward(layer_names)))
    got = reloaded.run(feeds, outputs=list(ours_names.values()))
    failures: list[str] = []
    for lname, tname in ours_names.items():
        r, g = ref[lname], got[tname]
        if reloaded.node(lname).type in DYNAMIC:
            _compare_detections(g, r, failures, lname)
            continue
        r = r.reshape(g.shape) if r.size == g.size else r
        if r.shape != g.shape:
            failures.append(f"{lname}: shape {g.shape} vs OpenCV {r.shape}")
            continue
        err = float(np.abs(r - g).max()) if r.size else 0.0
        if err > bar(r):
            failures.append(f"{lname}: max abs err {err:.3g} > {bar(r):.3g}")
    assert not failures, "\n".join(failures)


def _compare_detections(got: np.ndarray, ref: np.ndarray, failures: list[str], name: str) -> None:
    # OpenCV pads to N*keep_top_k rows and sorts by score across labels; Caffe-SSD does not.
    g = to_opencv_layout(got, ref.reshape(-1, 7).shape[0]).reshape(-1, 7)
    r = ref.reshape(-1, 7)
    if g.shape != r.shape:
        failures.append(f"{name}: {g.shape[0]} detections vs OpenCV {r.shape[0]}")
        return
    err = float(np.abs(g - r).max()) if g.size else 0.0
    if err > bar(r):
        failures.append(f"{name}: detections differ by {err:.3g}")


@pytest.mark.parametrize(
    ("folder", "prototxt", "weights", "outputs"),
    [
        ("lenet", "lenet.prototxt", "lenet_iter_10000.caffemodel", ["ip2", "prob"]),
        (
            "yufacedetectnet_v1",
            "yufacedetectnet-open-v1.prototxt",
            "yufacedetectnet-open-v1.caffemodel",
            ["mbox_loc", "mbox_conf_flatten", "mbox_priorbox", "detection_out"],
        ),
    ],
)
def test_real_weights_reproduce_peer(
    folder: str, prototxt: str, weights: str, outputs: list[str], nets_dir: Path
) -> None:
    d = nets_dir / folder
    graph = edge_dnn.load_caffe(d / prototxt, d / weights)
    x = np.load(d / "peer_opencv412" / "input_data.npy")
    got = graph.run({"data": x}, outputs=outputs)
    for name in outputs:
        ref = np.load(d / "peer_opencv412" / f"{name}.npy")
        g = got[name]
        if name == "detection_out":
            g = to_opencv_layout(g, ref.reshape(-1, 7).shape[0])
            assert np.count_nonzero(ref.reshape(-1, 7)[:, 2]) > 0
        g = g.reshape(ref.shape)
        err = float(np.abs(g - ref).max())
        assert err <= bar(ref), f"{folder}/{name}: max abs err {err:.3g} > {bar(ref):.3g}"
    if folder == "lenet":
        assert int(got["prob"].reshape(-1).argmax()) == 7
