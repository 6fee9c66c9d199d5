"""Low-level Caffe file I/O: schema, prototxt parsing/normalisation, caffemodel/binaryproto."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_dnn.caffe import caffe_pb2
from edge_dnn.caffe.caffemodel import (
    array_to_blob,
    blob_to_array,
    read_binaryproto,
    read_caffemodel,
    write_caffemodel,
)
from edge_dnn.caffe.prototxt import filter_phase, parse_net_text, read_prototxt
from edge_dnn.errors import CorruptModelError, ModelFormatError, PrototxtSyntaxError

NETS = Path("/work/shared/caffe/nets")
REPO = Path(__file__).resolve().parents[2]
LENET_MODEL = NETS / "lenet" / "lenet_iter_10000.caffemodel"
ALL_PROTOTXTS = sorted(NETS.glob("**/*.prototxt"))

needs_nets = pytest.mark.skipif(not NETS.is_dir(), reason="shared Caffe nets not available")


# ------------------------------------------------------------------------------ wire helpers
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _f32(field: int, value: float) -> bytes:
    return _varint(field << 3 | 5) + struct.pack("<f", value)


def _top_level_boundaries(data: bytes) -> set[int]:
    """Offsets at which a NetParameter's top-level fields start or end."""
    bounds = {0}
    pos = 0
    while pos < len(data):
        tag = 0
        shift = 0
        while True:
            b = data[pos]
            pos += 1
            tag |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        assert tag & 7 == 2
        ln = 0
        shift = 0
        while True:
            b = data[pos]
            pos += 1
            ln |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        pos += ln
        bounds.add(pos)
    return bounds


def _types(net: caffe_pb2.NetParameter) -> list[str]:
    return [lp.type for lp in net.layer]


# ------------------------------------------------------------------------------ schema / codegen
def test_generated_code_is_current() -> None:
    r = subprocess.run(
        [sys.executable, str(REPO / "tools" / "gen_proto.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr


def test_schema_field_numbers_of_collisions() -> None:
    lp = caffe_pb2.LayerParameter.DESCRIPTOR.fields_by_name
    assert lp["detection_output_param"].number == 147
    assert lp["permute_param"].number == 148
    assert lp["norm_param"].number == 149
    assert lp["prior_box_param"].number == 150
    assert lp["roi_pooling_param"].number == 8266711
    bp = caffe_pb2.BlobProto.DESCRIPTOR.fields_by_name
    assert (bp["raw_data"].number, bp["raw_data_type"].number) == (12, 10)
    assert caffe_pb2.PoolingParameter.DESCRIPTOR.fields_by_name["round_mode"].number == 13
    assert caffe_pb2.DESCRIPTOR.package == "edgednn.caffe"


def test_pooling_round_mode_and_ceil_mode_both_parse() -> None:
    text = """
    input: "x" input_dim: 1 input_dim: 1 input_dim: 4 input_dim: 4
    layer { name: "p1" type: "Pooling" bottom: "x" top: "p1"
            pooling_param { pool: AVE kernel_size: 2 round_mode: FLOOR } }
    layer { name: "p2" type: "Pooling" bottom: "x" top: "p2"
            pooling_param { pool: MAX kernel_size: 2 ceil_mode: false } }
    """
    net = parse_net_text(text)
    assert net.layer[1].pooling_param.round_mode == caffe_pb2.PoolingParameter.FLOOR
    assert net.layer[2].pooling_param.HasField("ceil_mode")
    assert net.layer[2].pooling_param.ceil_mode is False


# ------------------------------------------------------------------------------ prototxt
@needs_nets
@pytest.mark.parametrize("path", ALL_PROTOTXTS, ids=lambda p: str(p.relative_to(NETS)))
def test_shared_prototxts_parse(path: Path) -> None:
    net = read_prototxt(path)
    assert len(net.layer) > 0
    assert not len(net.layers) and not len(net.input) and not len(net.input_dim)
    assert net.layer[0].type == "Input"
    assert len(net.layer[0].input_param.shape[0].dim) == 4
    assert all(lp.type for lp in net.layer)


def _strip_training(net: caffe_pb2.NetParameter) -> list[caffe_pb2.LayerParameter]:
    out = []
    for lp in net.layer:
        c = caffe_pb2.LayerParameter()
        c.CopyFrom(lp)
        c.ClearField("param")
        for pname in ("convolution_param", "inner_product_param"):
            if c.HasField(pname):
                getattr(c, pname).ClearField("weight_filler")
                getattr(c, pname).ClearField("bias_filler")
        out.append(c)
    return out


@needs_nets
@pytest.mark.parametrize(
    ("current", "legacy"),
    [
        ("bvlc_alexnet/deploy.prototxt", "bvlc_alexnet/legacy/deploy.v1_layers_enum.prototxt"),
        (
            "bvlc_reference_caffenet/deploy.prototxt",
            "bvlc_reference_caffenet/legacy/imagenet_deploy.v0.prototxt",
        ),
    ],
)
def test_legacy_nets_upgrade_to_current_deploy(current: str, legacy: str) -> None:
    cur = read_prototxt(NETS / current)
    old = read_prototxt(NETS / legacy)
    assert _types(old) == _types(cur)
    assert [lp.name for lp in old.layer[1:]] == [lp.name for lp in cur.layer[1:]]
    assert _strip_training(old)[1:] == _strip_training(cur)[1:]
    assert list(old.layer[0].top) == list(cur.layer[0].top)
    assert old.layer[0].input_param == cur.layer[0].input_param


def test_syntax_error_line_and_column() -> None:
    text = 'name: "n"\nlayer {\n  name: "a"\n  type: "ReLU"\n  bottom "x"\n}\n'
    with pytest.raises(PrototxtSyntaxError) as ei:
        parse_net_text(text, "net.prototxt")
    err = ei.value
    assert (err.line, err.column) == (5, 10)  # the token after `bottom`
    assert err.path == "net.prototxt"
    assert str(err).startswith("net.prototxt:5:10: ")
    assert "Expected" in err.raw_message


def test_unknown_field_error() -> None:
    text = (
        'layer {\n  name: "a"\n  type: "Convolution"\n'
        "  convolution_param {\n    kernal_size: 3\n  }\n}\n"
    )
    with pytest.raises(PrototxtSyntaxError) as ei:
        parse_net_text(text)
    assert (ei.value.line, ei.value.column) == (5, 5)
    assert 'no field named "kernal_size"' in str(ei.value)
    assert "caffe.ConvolutionParameter" in str(ei.value)
    assert "edgednn" not in str(ei.value)


def test_read_prototxt_rejects_binary_and_missing(tmp_path: Path) -> None:
    p = tmp_path / "w.caffemodel"
    write_caffemodel([("c", "Convolution", [np.ones((2, 1, 1, 1), np.float32)])], p)
    with pytest.raises(ModelFormatError, match="binary"):
        read_prototxt(p)
    with pytest.raises(ModelFormatError, match="cannot read"):
        read_prototxt(tmp_path / "missing.prototxt")
    bom = tmp_path / "bom.prototxt"
    bom.write_bytes(b'\xef\xbb\xbfinput: "x"\n')
    assert _types(read_prototxt(bom)) == ["Input"]


def test_v1_upgrade_details() -> None:
    text = """
    name: "v1"
    input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8
    layers {
      name: "conv" type: CONVOLUTION bottom: "data" top: "conv"
      blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
      param: "shared_w" param: "shared_b" blob_share_mode: PERMISSIVE
      convolution_param { num_output: 4 kernel_size: 3 pad: 1 group: 1 }
    }
    layers { name: "relu" type: RELU bottom: "conv" top: "conv" relu_param { negative_slope: 0.1 } }
    layers { name: "pool" type: POOLING bottom: "conv" top: "pool"
             pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
    layers { name: "ip" type: INNER_PRODUCT bottom: "pool" top: "ip"
             inner_product_param { num_output: 10 } }
    layers { name: "loss" type: SOFTMAX_LOSS bottom: "ip" top: "loss" loss_weight: 2
             include { phase: TRAIN } }
    layers { name: "prob" type: SOFTMAX bottom: "ip" top: "prob" exclude { phase: TRAIN } }
    """
    net = parse_net_text(text, phase=None)
    assert _types(net) == ["Input", "Convolution", "ReLU", "Pooling", "InnerProduct",
                           "SoftmaxWithLoss", "Softmax"]  # fmt: skip
    conv = net.layer[1]
    assert [(p.name, p.lr_mult, p.decay_mult) for p in conv.param] == [
        ("shared_w", 1.0, 1.0),
        ("shared_b", 2.0, 0.0),
    ]
    assert conv.param[0].share_mode == caffe_pb2.ParamSpec.PERMISSIVE
    assert not conv.param[1].HasField("share_mode")
    assert list(conv.convolution_param.kernel_size) == [3]
    assert list(conv.convolution_param.pad) == [1]
    assert net.layer[2].relu_param.negative_slope == pytest.approx(0.1)
    assert net.layer[3].pooling_param.pool == caffe_pb2.PoolingParameter.AVE
    assert net.layer[5].loss_weight[0] == 2.0
    assert net.layer[5].include[0].phase == caffe_pb2.TRAIN
    assert net.layer[6].exclude[0].phase == caffe_pb2.TRAIN
    assert _types(filter_phase(net, "TEST"))[-1] == "Softmax"
    assert "SoftmaxWithLoss" not in _types(filter_phase(net, "TEST"))
    assert "Softmax" not in _types(filter_phase(net, "TRAIN"))


def test_v1_and_v2_layers_mixed_is_an_error() -> None:
    text = 'layers { name: "a" type: RELU } layer { name: "b" type: "ReLU" }'
    with pytest.raises(ModelFormatError, match="both"):
        parse_net_text(text)


V0_TEXT = """
name: "v0"
input: "data" input_dim: 1 input_dim: 3 input_dim: 16 input_dim: 16
layers { layer { name: "pad1" type: "padding" pad: 2 } bottom: "data" top: "pad1" }
layers { layer { name: "conv1" type: "conv" num_output: 8 kernelsize: 5 stride: 2 group: 1
                 biasterm: false blobs_lr: 1 weight_decay: 1 } bottom: "pad1" top: "conv1" }
layers { layer { name: "relu1" type: "relu" } bottom: "conv1" top: "conv1" }
layers { layer { name: "pool1" type: "pool" pool: AVE kernelsize: 3 stride: 2 pad: 1 }
         bottom: "conv1" top: "pool1" }
layers { layer { name: "norm1" type: "lrn" local_size: 3 alpha: 0.001 beta: 0.5 k: 2 }
         bottom: "pool1" top: "norm1" }
layers { layer { name: "fc" type: "innerproduct" num_output: 10 } bottom: "norm1" top: "fc" }
layers { layer { name: "drop" type: "dropout" dropout_ratio: 0.3 } bottom: "fc" top: "fc" }
layers { layer { name: "cat" type: "concat" concat_dim: 1 } bottom: "fc" bottom: "fc" top: "cat" }
layers { layer { name: "prob" type: "softmax" } bottom: "cat" top: "prob" }
"""


def test_v0_upgrade_details() -> None:
    net = parse_net_text(V0_TEXT)
    assert _types(net) == ["Input", "Convolution", "ReLU", "Pooling", "LRN", "InnerProduct",
                           "Dropout", "Concat", "Softmax"]  # fmt: skip
    conv = net.layer[1]
    assert conv.name == "conv1"
    assert list(conv.bottom) == ["data"]  # the padding layer is folded away
    cp = conv.convolution_param
    assert (cp.num_output, cp.kernel_size, cp.stride, cp.pad) == (8, [5], [2], [2])
    assert cp.group == 1 and cp.HasField("bias_term") and cp.bias_term is False
    assert [(p.lr_mult, p.decay_mult) for p in conv.param] == [(1.0, 1.0)]
    pp = net.layer[3].pooling_param
    assert (pp.pool, pp.kernel_size, pp.stride, pp.pad) == (caffe_pb2.PoolingParameter.AVE, 3, 2, 1)
    lrn = net.layer[4].lrn_param
    assert (lrn.local_size, lrn.alpha, lrn.beta, lrn.k) == pytest.approx((3, 0.001, 0.5, 2))
    assert net.layer[5].inner_product_param.num_output == 10
    assert net.layer[6].dropout_param.dropout_ratio == pytest.approx(0.3)
    assert net.layer[7].concat_param.concat_dim == 1
    assert list(net.layer[0].input_param.shape[0].dim) == [1, 3, 16, 16]


def test_v0_data_layer_fields_move_to_transform_param() -> None:
    text = """
    layers { layer { name: "d" type: "data" source: "db" batchsize: 32 meanfile: "m.binaryproto"
                     cropsize: 227 mirror: true scale: 0.5 rand_skip: 7 }
             top: "data" top: "label" }
    """
    lp = parse_net_text(text).layer[0]
    assert lp.type == "Data"
    assert (lp.data_param.source, lp.data_param.batch_size, lp.data_param.rand_skip) == (
        "db",
        32,
        7,
    )
    tp = lp.transform_param
    assert (tp.mean_file, tp.crop_size, tp.mirror, tp.scale) == ("m.binaryproto", 227, True, 0.5)
    assert not lp.data_param.HasField("mean_file")


def test_v0_errors() -> None:
    bad_pad = """
    layers { layer { name: "p" type: "padding" pad: 1 } bottom: "x" top: "px" }
    layers { layer { name: "r" type: "relu" } bottom: "px" top: "r" }
    """
    with pytest.raises(ModelFormatError, match="only conv and pool"):
        parse_net_text(bad_pad)
    with pytest.raises(ModelFormatError, match="unknown V0 layer type 'blur'"):
        parse_net_text('layers { layer { name: "b" type: "blur" } bottom: "x" top: "y" }')


# ------------------------------------------------------------------------------ inputs
RELU = 'layer { name: "r" type: "ReLU" bottom: "%s" top: "r%s" }\n'


def _input_shapes(net: caffe_pb2.NetParameter) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for lp in net.layer:
        if lp.type == "Input":
            for i, t in enumerate(lp.top):
                shapes = lp.input_param.shape
                out[t] = list(shapes[i if len(shapes) > 1 else 0].dim) if len(shapes) else []
    return out


@pytest.mark.parametrize(
    "header",
    [
        'input: "data" input_dim: 2 input_dim: 3 input_dim: 5 input_dim: 7\n',
        'input: "data" input_shape { dim: 2 dim: 3 dim: 5 dim: 7 }\n',
        'layer { name: "data" type: "Input" top: "data"'
        " input_param { shape { dim: 2 dim: 3 dim: 5 dim: 7 } } }\n",
    ],
    ids=["input_dim", "input_shape", "Input_layer"],
)
def test_single_input_spellings(header: str) -> None:
    net = parse_net_text(header + RELU % ("data", "1"))
    assert _types(net) == ["Input", "ReLU"]
    assert net.layer[0].name == "data"
    assert _input_shapes(net) == {"data": [2, 3, 5, 7]}
    assert not len(net.input) and not len(net.input_dim) and not len(net.input_shape)


def test_multiple_and_mixed_input_spellings() -> None:
    text = (
        'input: "a" input_dim: 1 input_dim: 1 input_dim: 2 input_dim: 2\n'
        'input: "b" input_dim: 1 input_dim: 3 input_dim: 4 input_dim: 4\n'
        + (RELU % ("a", "a"))
        + 'layer { name: "c_in" type: "Input" top: "c"'
        " input_param { shape { dim: 1 dim: 5 } } }\n" + (RELU % ("c", "c"))
    )
    net = parse_net_text(text)
    assert _types(net) == ["Input", "Input", "Input", "ReLU", "ReLU"]
    assert [lp.name for lp in net.layer[:3]] == ["a", "b", "c_in"]
    assert _input_shapes(net) == {"a": [1, 1, 2, 2], "b": [1, 3, 4, 4], "c": [1, 5]}
    mixed = (
        'input: "a" input_shape { dim: 1 dim: 2 }\n'
        'input: "b" input_dim: 1 input_dim: 3 input_dim: 4 input_dim: 4\n'
    )
    assert _input_shapes(parse_net_text(mixed)) == {"a": [1, 2], "b": [1, 3, 4, 4]}


def test_input_errors_and_name_collision() -> None:
    with pytest.raises(ModelFormatError, match="four"):
        parse_net_text('input: "a" input_dim: 1 input_dim: 3')
    with pytest.raises(ModelFormatError, match="one input_shape per input"):
        parse_net_text('input: "a" input: "b" input_shape { dim: 1 }')
    net = parse_net_text(
        'input: "data" input_dim: 1 input_dim: 1 input_dim: 1 input_dim: 1\n'
        'layer { name: "data" type: "ReLU" bottom: "data" top: "y" }'
    )
    assert [lp.name for lp in net.layer] == ["input_data", "data"]
    net = parse_net_text('input: "x"')  # no shape at all: Input layer without a shape
    assert _types(net) == ["Input"] and not len(net.layer[0].input_param.shape)


# ------------------------------------------------------------------------------ phase filtering
PHASE_TEXT = """
state { stage: "deploy" }
layer { name: "always" type: "ReLU" }
layer { name: "train_only" type: "ReLU" include { phase: TRAIN } }
layer { name: "test_only" type: "ReLU" include { phase: TEST } }
layer { name: "not_test" type: "ReLU" exclude { phase: TEST } }
layer { name: "deploy_stage" type: "ReLU" include { stage: "deploy" } }
layer { name: "not_deploy" type: "ReLU" include { not_stage: "deploy" } }
layer { name: "two_stages" type: "ReLU" include { stage: "deploy" stage: "extra" } }
layer { name: "either" type: "ReLU" include { stage: "extra" } include { phase: TEST } }
layer { name: "level_ge_2" type: "ReLU" include { min_level: 2 } }
layer { name: "level_le_1" type: "ReLU" include { max_level: 1 } }
layer { name: "layer_phase_train" type: "ReLU" phase: TRAIN }
layer { name: "excl_extra" type: "ReLU" exclude { stage: "extra" } }
"""


def _names(net: caffe_pb2.NetParameter) -> list[str]:
    return [lp.name for lp in net.layer]


def test_phase_filtering_rules() -> None:
    raw = parse_net_text(PHASE_TEXT, phase=None)
    assert len(raw.layer) == 12
    test = filter_phase(raw, "TEST")
    assert _names(test) == ["always", "test_only", "deploy_stage", "either", "level_le_1",
                            "excl_extra"]  # fmt: skip
    assert test.state.phase == caffe_pb2.TEST
    train = filter_phase(raw, "TRAIN", stages=["extra"], level=2)
    assert _names(train) == ["always", "train_only", "not_test", "not_deploy", "either",
                             "level_ge_2", "layer_phase_train"]  # fmt: skip
    both = filter_phase(raw, "TEST", stages=["deploy", "extra"])
    assert "two_stages" in _names(both) and "excl_extra" not in _names(both)
    assert len(raw.layer) == 12  # the input net is not modified
    assert _names(parse_net_text(PHASE_TEXT)) == _names(test)  # default filter is TEST


def test_phase_filter_errors() -> None:
    text = 'layer { name: "x" type: "ReLU" include { phase: TEST } exclude { phase: TRAIN } }'
    with pytest.raises(ModelFormatError, match="layer 'x'"):
        parse_net_text(text)
    with pytest.raises(ValueError, match="phase"):
        filter_phase(caffe_pb2.NetParameter(), "VALIDATE")


@needs_nets
def test_yufacedetect_test_phase_layer_kept() -> None:
    net = read_prototxt(NETS / "yufacedetectnet_v1" / "yufacedetectnet-open-v1.prototxt")
    assert net.layer[-1].type == "DetectionOutput"
    dp = net.layer[-1].detection_output_param
    assert dp.num_classes == 2 and dp.nms_param.top_k == 100 and dp.visualize is False
    train = read_prototxt(
        NETS / "yufacedetectnet_v1" / "yufacedetectnet-open-v1.prototxt", phase="TRAIN"
    )
    assert "DetectionOutput" not in _types(train)


# ------------------------------------------------------------------------------ blobs
def test_blob_shape_precedence_and_legacy_dims() -> None:
    b = caffe_pb2.BlobProto(num=9, channels=9, height=9, width=9)
    b.shape.dim.extend([2, 3])
    b.data.extend(range(6))
    a = blob_to_array(b)
    assert a.shape == (2, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a.ravel(), np.arange(6, dtype=np.float32))
    legacy = caffe_pb2.BlobProto(num=1, channels=1, height=2, width=3)
    legacy.data.extend(range(6))
    assert blob_to_array(legacy).shape == (1, 1, 2, 3)
    # As in Caffe, unset legacy dims count as 0 once any of them is set.
    partial = caffe_pb2.BlobProto(height=2, width=3)
    partial.data.extend(range(6))
    with pytest.raises(CorruptModelError, match=r"\[0, 0, 2, 3\] needs 0"):
        blob_to_array(partial)
    noshape = caffe_pb2.BlobProto()
    noshape.data.extend([1.0, 2.0])
    assert blob_to_array(noshape).shape == (2,)


def test_blob_double_data_and_precedence() -> None:
    rng = np.random.default_rng(1)
    vals = rng.standard_normal(12)
    b = caffe_pb2.BlobProto()
    b.shape.dim.extend([3, 4])
    b.double_data.extend(vals.tolist())
    np.testing.assert_array_equal(blob_to_array(b), vals.astype(np.float32).reshape(3, 4))
    b.data.extend([0.0] * 12)  # Caffe reads double_data when it is present
    np.testing.assert_array_equal(blob_to_array(b), vals.astype(np.float32).reshape(3, 4))


def test_blob_fp16_raw_data() -> None:
    rng = np.random.default_rng(2)
    vals = rng.standard_normal((2, 3, 2)).astype(np.float16)
    b = caffe_pb2.BlobProto(raw_data=vals.astype("<f2").tobytes(), raw_data_type=caffe_pb2.FLOAT16)
    b.shape.dim.extend(vals.shape)
    out = blob_to_array(b)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, vals.astype(np.float32))
    raw32 = np.arange(4, dtype="<f4").tobytes()
    b32 = caffe_pb2.BlobProto(raw_data=raw32, raw_data_type=caffe_pb2.FLOAT)
    np.testing.assert_array_equal(blob_to_array(b32), np.arange(4, dtype=np.float32))
    with pytest.raises(ModelFormatError, match="raw_data_type"):
        blob_to_array(caffe_pb2.BlobProto(raw_data=b"\0\0"))
    with pytest.raises(ModelFormatError, match="INT"):
        blob_to_array(caffe_pb2.BlobProto(raw_data=b"\0" * 4, raw_data_type=caffe_pb2.INT))
    with pytest.raises(CorruptModelError, match="multiple"):
        blob_to_array(caffe_pb2.BlobProto(raw_data=b"\0" * 3, raw_data_type=caffe_pb2.FLOAT16))


def test_blob_size_mismatch() -> None:
    b = caffe_pb2.BlobProto()
    b.shape.dim.extend([2, 2])
    b.data.extend([1.0, 2.0, 3.0])
    with pytest.raises(CorruptModelError, match=r"x.caffemodel: layer 'c'.*\[2, 2\] needs 4"):
        blob_to_array(b, where="x.caffemodel: layer 'c'")
    empty = caffe_pb2.BlobProto()
    empty.shape.dim.extend([3])
    with pytest.raises(CorruptModelError, match="holds 0"):
        blob_to_array(empty)


def test_blob_unpacked_data_is_accepted() -> None:
    # Some writers emit repeated floats unpacked (one tag per value).
    raw = _ld(7, _ld(1, _varint(2) + _varint(2)))
    raw += b"".join(_f32(5, v) for v in (1.0, 2.0, 3.0, 4.0))
    b = caffe_pb2.BlobProto()
    b.ParseFromString(raw)
    np.testing.assert_array_equal(blob_to_array(b), [[1, 2], [3, 4]])


@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (4, 3, 2, 1), (1, 2, 3, 4, 5)])
def test_array_blob_round_trip(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal(shape)  # float64 in, float32 out
    b = array_to_blob(a)
    assert list(b.shape.dim) == list(shape)
    out = blob_to_array(b)
    assert out.shape == shape and out.dtype == np.float32 and out.flags.writeable
    np.testing.assert_array_equal(out, a.astype(np.float32))


# ------------------------------------------------------------------------------ caffemodel
def test_write_read_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    layers: list[tuple[str, str, list[np.ndarray]]] = [
        ("conv1", "Convolution", [rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)]),
        ("relu1", "ReLU", []),
        ("conv1", "Convolution", [rng.standard_normal((2, 4, 1, 1)).astype(np.float32)]),
        ("bn", "BatchNorm", [rng.random(2), rng.random(2), np.array([1.0])]),
    ]
    p = tmp_path / "m.caffemodel"
    write_caffemodel(layers, p, name="rt")
    net = read_caffemodel(p)
    assert net.name == "rt"
    assert [(lp.name, lp.type, len(lp.blobs)) for lp in net.layer] == [
        (n, t, len(b)) for n, t, b in layers
    ]
    for (_, _, arrays), lp in zip(layers, net.layer):
        for a, blob in zip(arrays, lp.blobs):
            np.testing.assert_array_equal(blob_to_array(blob), np.asarray(a, np.float32))
    p2 = tmp_path / "m2.caffemodel"
    write_caffemodel(net, p2)  # NetParameter form
    assert p2.read_bytes() == net.SerializeToString()
    assert read_caffemodel(p2) == net
    assert not (tmp_path / "m2.caffemodel.tmp").exists()


def test_write_net_with_incomplete_required_fields(tmp_path: Path) -> None:
    # ClipParameter.min/max are `required`; a half-filled one must still be writable.
    net = parse_net_text('layer { name: "c" type: "Clip" clip_param { min: 0 } }', phase=None)
    p = tmp_path / "c.caffemodel"
    write_caffemodel(net, p)
    assert read_caffemodel(p).layer[0].clip_param.min == 0.0


def test_write_error_names_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="cannot write"):
        write_caffemodel([], tmp_path / "no_such_dir" / "m.caffemodel")


@needs_nets
def test_lenet_caffemodel_blob_shapes() -> None:
    net = read_caffemodel(LENET_MODEL)
    shapes = {lp.name: [blob_to_array(b).shape for b in lp.blobs] for lp in net.layer}
    assert shapes["conv1"] == [(20, 1, 5, 5), (20,)]
    assert shapes["conv2"] == [(50, 20, 5, 5), (50,)]
    assert shapes["ip1"] == [(500, 800), (500,)]
    assert shapes["ip2"] == [(10, 500), (10,)]
    assert shapes["pool1"] == [] and shapes["loss"] == []
    w = blob_to_array(net.layer[1].blobs[0])
    assert np.isfinite(w).all() and 0.01 < float(np.abs(w).mean()) < 1.0


@needs_nets
def test_yufacedetect_caffemodel_reads() -> None:
    net = read_caffemodel(NETS / "yufacedetectnet_v1" / "yufacedetectnet-open-v1.caffemodel")
    types = _types(net)
    # A training snapshot: AnnotatedData/MultiBoxLoss carry params our schema does not know.
    assert {"PriorBox", "Permute", "Normalize", "MultiBoxLoss"} <= set(types)
    for lp in net.layer:
        for b in lp.blobs:
            assert blob_to_array(b).size > 0


def test_v1_binary_is_upgraded(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    w = rng.standard_normal((32, 64)).astype(np.float32)
    v1 = caffe_pb2.NetParameter(name="cifar_like")
    lay = v1.layers.add(name="ip1", type=caffe_pb2.V1LayerParameter.INNER_PRODUCT)
    lay.bottom.append("pool3")
    lay.top.append("ip1")
    lay.blobs_lr.extend([1, 2])
    blob = lay.blobs.add(num=1, channels=1, height=32, width=64)
    blob.data.extend(w.ravel().tolist())
    lay.blobs.add(num=1, channels=1, height=1, width=32).data.extend([0.5] * 32)
    v1.layers.add(name="loss", type=caffe_pb2.V1LayerParameter.SOFTMAX_LOSS)
    p = tmp_path / "v1.caffemodel"
    p.write_bytes(v1.SerializeToString())
    net = read_caffemodel(p)
    assert not len(net.layers)
    assert _types(net) == ["InnerProduct", "SoftmaxWithLoss"]
    assert [p.lr_mult for p in net.layer[0].param] == [1.0, 2.0]
    np.testing.assert_array_equal(blob_to_array(net.layer[0].blobs[0]), w.reshape(1, 1, 32, 64))
    assert blob_to_array(net.layer[0].blobs[1]).shape == (1, 1, 1, 32)


def test_bvlc_clip_and_swish_at_147_148_are_recovered(tmp_path: Path) -> None:
    clip = _ld(1, b"clip1") + _ld(2, b"Clip") + _ld(3, b"x") + _ld(4, b"y")
    clip += _ld(148, _f32(1, -1.5) + _f32(2, 6.0))
    swish = _ld(1, b"sw") + _ld(2, b"Swish") + _ld(3, b"y") + _ld(4, b"z")
    swish += _ld(147, _f32(1, 2.0))
    permute = _ld(1, b"perm") + _ld(2, b"Permute") + _ld(148, _ld(1, bytes([0, 2, 3, 1])))
    p = tmp_path / "bvlc.caffemodel"
    p.write_bytes(_ld(100, clip) + _ld(100, swish) + _ld(100, permute))
    net = read_caffemodel(p)
    c, s, pm = net.layer
    assert (c.clip_param.min, c.clip_param.max) == (-1.5, 6.0)
    assert not c.HasField("permute_param")
    assert s.swish_param.beta == 2.0 and not s.HasField("detection_output_param")
    assert list(pm.permute_param.order) == [0, 2, 3, 1]  # SSD numbering untouched


@needs_nets
def test_truncated_caffemodel_raises(tmp_path: Path) -> None:
    data = LENET_MODEL.read_bytes()
    bounds = _top_level_boundaries(data)
    rng = np.random.default_rng(6)
    cuts = set(rng.integers(1, len(data), 150).tolist()) | {1, 2, 3, 5, 100, len(data) - 1}
    p = tmp_path / "cut.caffemodel"
    for cut in sorted(cuts - bounds):
        p.write_bytes(data[:cut])
        with pytest.raises(CorruptModelError) as ei:
            read_caffemodel(p)
        assert str(p) in str(ei.value)
    # A cut exactly between layers is valid protobuf: it reads as a net with fewer layers.
    inner = sorted(b for b in bounds if 0 < b < len(data))
    p.write_bytes(data[: inner[len(inner) // 2]])
    assert 0 < len(read_caffemodel(p).layer) < len(read_caffemodel(LENET_MODEL).layer)


def test_caffemodel_other_errors(tmp_path: Path) -> None:
    p = tmp_path / "x.caffemodel"
    p.write_bytes(b"")
    with pytest.raises(CorruptModelError, match="empty"):
        read_caffemodel(p)
    p.write_text('name: "net"\nlayer { name: "a" type: "ReLU" }\n')
    with pytest.raises(CorruptModelError, match=r"text file.*prototxt"):
        read_caffemodel(p)
    p.write_bytes(b"\x08\x01")  # valid protobuf, no layers
    with pytest.raises(CorruptModelError, match="no layers"):
        read_caffemodel(p)
    with pytest.raises(ModelFormatError, match="cannot read"):
        read_caffemodel(tmp_path / "missing.caffemodel")


# ------------------------------------------------------------------------------ binaryproto
def test_read_binaryproto(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    mean = (rng.random((1, 3, 4, 5)) * 255).astype(np.float32)
    legacy = caffe_pb2.BlobProto(num=1, channels=3, height=4, width=5)
    legacy.data.extend(mean.ravel().tolist())
    p = tmp_path / "mean.binaryproto"
    p.write_bytes(legacy.SerializeToString())
    np.testing.assert_array_equal(read_binaryproto(p), mean)
    p.write_bytes(array_to_blob(mean).SerializeToString())
    np.testing.assert_array_equal(read_binaryproto(p), mean)
    bad = caffe_pb2.BlobProto(num=1, channels=3, height=4, width=4)
    bad.data.extend(mean.ravel().tolist())
    p.write_bytes(bad.SerializeToString())
    with pytest.raises(CorruptModelError, match=r"mean\.binaryproto"):
        read_binaryproto(p)
    p.write_bytes(caffe_pb2.BlobProto(num=1).SerializeToString())
    with pytest.raises(CorruptModelError, match="no blob data"):
        read_binaryproto(p)
    p.write_bytes(legacy.SerializeToString()[:-7])
    with pytest.raises(CorruptModelError, match="truncated"):
        read_binaryproto(p)
    p.write_text("mean_value: 104\n")
    with pytest.raises(CorruptModelError, match="text"):
        read_binaryproto(p)


# ------------------------------------------------------------------------------ OpenCV oracle
def _naive_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int) -> np.ndarray:
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, o, h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i : i + out.shape[2], j : j + out.shape[3]]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return (out + b[None, :, None, None]).astype(np.float32)


def test_written_caffemodel_loads_in_opencv(tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(8)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    proto = tmp_path / "net.prototxt"
    proto.write_text(
        'name: "t"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 6 dim: 7 }\n'
        'layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"\n'
        "  convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }\n"
    )
    model = tmp_path / "net.caffemodel"
    write_caffemodel([("conv", "Convolution", [w, b])], model)
    net = cv2.dnn.readNetFromCaffe(str(proto), str(model))
    x = rng.standard_normal((1, 3, 6, 7)).astype(np.float32)
    net.setInput(x)
    got = net.forward()
    np.testing.assert_allclose(got, _naive_conv(x, w, b, 1), rtol=1e-5, atol=1e-5)
