"""Bad input gives the project's own typed errors, naming the place; never a bare traceback."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edge_dnn
from edge_dnn.errors import (
    CorruptModelError,
    EdgeDnnError,
    GraphCycleError,
    InputError,
    PrototxtSyntaxError,
    ShapeError,
    UnknownBlobError,
    UnknownLayerTypeError,
    UnsupportedParameterError,
    WeightsMismatchError,
)
from edge_dnn.graph import Graph, Node
from edge_dnn.layers.relu import ReLU

SMALL = """name: "small"
input: "data"
input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool1" top: "fc"
  inner_product_param { num_output: 5 } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""


def write(tmp_path: Path, text: str, name: str = "net.prototxt") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.fixture()
def small_model(tmp_path: Path) -> tuple[Path, Path]:
    proto = write(tmp_path, SMALL)
    g = edge_dnn.load_caffe(proto)
    g.init_random_weights(3)
    w = tmp_path / "small.caffemodel"
    edge_dnn.save_caffemodel(g, w)
    return proto, w


def test_small_net_runs_and_names_inplace_blobs(small_model: tuple[Path, Path]) -> None:
    g = edge_dnn.load_caffe(*small_model)
    assert g.inputs == {"data": (1, 3, 8, 8)}
    assert g.outputs == ["prob"]
    x = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32)
    out = g.run({"data": x}, outputs=["conv1@conv1", "conv1", "prob"])
    assert np.array_equal(out["conv1"], np.maximum(out["conv1@conv1"], 0))
    assert out["prob"].shape == (1, 5)
    np.testing.assert_allclose(out["prob"].sum(), 1.0, rtol=1e-5)
    # A different batch size than declared is re-inferred.
    out2 = g.run(np.concatenate([x, x]))
    np.testing.assert_allclose(out2["prob"][1], out["prob"][0], rtol=1e-5)
    rows = g.summary()
    assert [r.type for r in rows] == [
        "Input",
        "Convolution",
        "ReLU",
        "Pooling",
        "InnerProduct",
        "Softmax",
    ]
    assert rows[1].macs == 4 * 8 * 8 * 3 * 9
    assert rows[1].params == 4 * 3 * 9 + 4
    assert "MACs" in g.format_summary()


def test_syntax_error_names_file_line_column(tmp_path: Path) -> None:
    p = write(tmp_path, SMALL.replace('top: "pool1"\n', 'top: "pool1"\n  bogus {{ \n'))
    with pytest.raises(PrototxtSyntaxError) as ei:
        edge_dnn.load_caffe(p)
    assert str(p) in str(ei.value)
    assert ei.value.line == 8


def test_unknown_layer_type_lists_supported(tmp_path: Path) -> None:
    p = write(tmp_path, SMALL.replace('type: "Softmax"', 'type: "Frobnicate"'))
    with pytest.raises(UnknownLayerTypeError) as ei:
        edge_dnn.load_caffe(p)
    msg = str(ei.value)
    assert "prob" in msg and "Frobnicate" in msg and "Convolution" in msg


def test_unknown_bottom_blob(tmp_path: Path) -> None:
    p = write(tmp_path, SMALL.replace('bottom: "pool1"', 'bottom: "nope"'))
    with pytest.raises(UnknownBlobError, match=r"fc.*nope"):
        edge_dnn.load_caffe(p)


def test_cycle_detected() -> None:
    a = Node("a", ReLU(name="a"), ["y"], ["x"])
    b = Node("b", ReLU(name="b"), ["x"], ["y"])
    with pytest.raises(GraphCycleError, match="a"):
        Graph("cyc", [a, b])


def test_unsupported_parameter(tmp_path: Path) -> None:
    p = write(tmp_path, SMALL.replace("pool: MAX", "pool: STOCHASTIC"))
    with pytest.raises(UnsupportedParameterError, match="pool1"):
        edge_dnn.load_caffe(p)


def test_shape_error_names_layer(tmp_path: Path) -> None:
    p = write(tmp_path, SMALL.replace("kernel_size: 3 pad: 1", "kernel_size: 11"))
    with pytest.raises(ShapeError, match="conv1"):
        edge_dnn.load_caffe(p)


def test_missing_blobs_in_caffemodel(tmp_path: Path, small_model: tuple[Path, Path]) -> None:
    _proto, w = small_model
    p2 = write(tmp_path, SMALL.replace('name: "fc"', 'name: "fc_renamed"'), "renamed.prototxt")
    with pytest.raises(WeightsMismatchError) as ei:
        edge_dnn.load_caffe(p2, w)
    assert "fc_renamed" in str(ei.value) and str(w) in str(ei.value)


def test_mismatched_blob_shapes(tmp_path: Path, small_model: tuple[Path, Path]) -> None:
    _proto, w = small_model
    p2 = write(tmp_path, SMALL.replace("num_output: 5", "num_output: 6"), "wide.prototxt")
    with pytest.raises(WeightsMismatchError) as ei:
        edge_dnn.load_caffe(p2, w)
    assert "fc" in str(ei.value) and "[6" in str(ei.value) and "[5" in str(ei.value)


def test_truncated_caffemodel(tmp_path: Path, small_model: tuple[Path, Path]) -> None:
    proto, w = small_model
    data = w.read_bytes()
    bad = tmp_path / "cut.caffemodel"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises((CorruptModelError, WeightsMismatchError)) as ei:
        edge_dnn.load_caffe(proto, bad)
    assert str(bad) in str(ei.value)


def test_run_input_errors(small_model: tuple[Path, Path]) -> None:
    g = edge_dnn.load_caffe(*small_model)
    with pytest.raises(InputError, match="missing"):
        g.run({})
    with pytest.raises(InputError, match="unknown input"):
        g.run({"data": np.zeros((1, 3, 8, 8)), "other": np.zeros(1)})
    with pytest.raises(InputError, match="unknown output"):
        g.run({"data": np.zeros((1, 3, 8, 8))}, outputs=["zzz"])
    with pytest.raises(InputError):
        g.run({"data": np.zeros((1, 3, 8))})
    with pytest.raises(InputError, match="do not fit"):
        g.run({"data": np.zeros((1, 4, 8, 8))})


def test_run_without_weights_is_clear(tmp_path: Path) -> None:
    g = edge_dnn.load_caffe(write(tmp_path, SMALL))
    with pytest.raises(InputError, match="no weights"):
        g.run({"data": np.zeros((1, 3, 8, 8))})


# --------------------------------------------------------------------- property-based robustness
_ALPHABET = st.sampled_from(list('{}:"\n #abcdeilmnoprstuyz0123456789._-'))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pos=st.integers(min_value=0, max_value=len(SMALL) - 1),
    length=st.integers(min_value=0, max_value=12),
    junk=st.text(alphabet=_ALPHABET, max_size=12),
)
def test_mutated_prototxt_raises_only_our_errors(
    tmp_path: Path, pos: int, length: int, junk: str
) -> None:
    text = SMALL[:pos] + junk + SMALL[pos + length :]
    p = tmp_path / "mut.prototxt"
    p.write_text(text)
    try:
        g = edge_dnn.load_caffe(p)
        sizes = [
            int(np.prod(s))
            for n in g.nodes
            for s in n.layer.param_shapes([g.shapes[t] for t in n.inputs])
        ]
        activations = sum(int(np.prod(s)) for s in g.shapes.values())
        if sum(sizes) < 1_000_000 and activations < 1_000_000 and len(g.inputs) == 1:
            g.init_random_weights(0)
            g.run({next(iter(g.inputs)): np.zeros(next(iter(g.inputs.values())), np.float32)})
    except EdgeDnnError:
        pass


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.floats(min_value=0.0, max_value=1.0), flip=st.integers(min_value=-1, max_value=4000))
def test_damaged_caffemodel_raises_only_our_errors(
    small_model: tuple[Path, Path], tmp_path: Path, cut: float, flip: int
) -> None:
    proto, w = small_model
    data = bytearray(w.read_bytes())
    data = data[: int(len(data) * cut)]
    if 0 <= flip < len(data):
        data[flip] ^= 0x5A
    bad = tmp_path / "bad.caffemodel"
    bad.write_bytes(bytes(data))
    with contextlib.suppress(EdgeDnnError):
        edge_dnn.load_caffe(proto, bad)
