"""Upgrade of deprecated Caffe net formats (V0, V1) to the current ``layer {}`` form.

Shared by the text reader (:mod:`edge_dnn.caffe.prototxt`) and the binary reader
(:mod:`edge_dnn.caffe.caffemodel`). The rules follow Caffe's own upgrade path
(``upgrade_proto.cpp``): V0 -> V1 (padding layers folded into the next conv/pool, V0 flat fields
moved into the ``*_param`` messages), V1 -> V2 (enum type -> type string, ``blobs_lr`` /
``weight_decay`` / shared-param names -> ``ParamSpec``), and data-layer transformation fields
moved into ``transform_param``.
"""

from __future__ import annotations

import warnings
from typing import Any

from edge_dnn.caffe import caffe_pb2
from edge_dnn.errors import ModelFormatError

__all__ = ["V0_TYPES", "V1_TYPE_NAMES", "upgrade_data_transformation", "upgrade_net"]

# V1 enum name -> current type string.
_V1_NAME_TO_TYPE: dict[str, str] = {
    "NONE": "",
    "ABSVAL": "AbsVal",
    "ACCURACY": "Accuracy",
    "ARGMAX": "ArgMax",
    "BNLL": "BNLL",
    "CONCAT": "Concat",
    "CONTRASTIVE_LOSS": "ContrastiveLoss",
    "CONVOLUTION": "Convolution",
    "DECONVOLUTION": "Deconvolution",
    "DATA": "Data",
    "DROPOUT": "Dropout",
    "DUMMY_DATA": "DummyData",
    "EUCLIDEAN_LOSS": "EuclideanLoss",
    "ELTWISE": "Eltwise",
    "EXP": "Exp",
    "FLATTEN": "Flatten",
    "HDF5_DATA": "HDF5Data",
    "HDF5_OUTPUT": "HDF5Output",
    "HINGE_LOSS": "HingeLoss",
    "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData",
    "INFOGAIN_LOSS": "InfogainLoss",
    "INNER_PRODUCT": "InnerProduct",
    "LRN": "LRN",
    "MEMORY_DATA": "MemoryData",
    "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss",
    "MVN": "MVN",
    "POOLING": "Pooling",
    "POWER": "Power",
    "RELU": "ReLU",
    "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss",
    "SILENCE": "Silence",
    "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss",
    "SPLIT": "Split",
    "SLICE": "Slice",
    "TANH": "TanH",
    "WINDOW_DATA": "WindowData",
    "THRESHOLD": "Threshold",
}

#: V1 ``LayerType`` enum value -> current type string.
V1_TYPE_NAMES: dict[int, str] = {
    caffe_pb2.V1LayerParameter.LayerType.Value(k): v for k, v in _V1_NAME_TO_TYPE.items()
}

#: V0 type string -> V1 ``LayerType`` enum value.
V0_TYPES: dict[str, int] = {
    k: caffe_pb2.V1LayerParameter.LayerType.Value(v)
    for k, v in {
        "accuracy": "ACCURACY",
        "bnll": "BNLL",
        "concat": "CONCAT",
        "conv": "CONVOLUTION",
        "data": "DATA",
        "dropout": "DROPOUT",
        "euclidean_loss": "EUCLIDEAN_LOSS",
        "flatten": "FLATTEN",
        "hdf5_data": "HDF5_DATA",
        "hdf5_output": "HDF5_OUTPUT",
        "im2col": "IM2COL",
        "images": "IMAGE_DATA",
        "infogain_loss": "INFOGAIN_LOSS",
        "innerproduct": "INNER_PRODUCT",
        "lrn": "LRN",
        "multinomial_logistic_loss": "MULTINOMIAL_LOGISTIC_LOSS",
        "pool": "POOLING",
        "relu": "RELU",
        "sigmoid": "SIGMOID",
        "softmax": "SOFTMAX",
        "softmax_loss": "SOFTMAX_LOSS",
        "split": "SPLIT",
        "tanh": "TANH",
        "window_data": "WINDOW_DATA",
    }.items()
}

# V0 flat field -> {V0 type: (V1 *_param field, field inside it)}. A repeated target field is
# appended to, a singular one assigned. "" as the param field means V1LayerParameter itself.
_V0_FIELD_MAP: dict[str, dict[str, tuple[str, str]]] = {
    "num_output": {
        "conv": ("convolution_param", "num_output"),
        "innerproduct": ("inner_product_param", "num_output"),
    },
    "biasterm": {
        "conv": ("convolution_param", "bias_term"),
        "innerproduct": ("inner_product_param", "bias_term"),
    },
    "weight_filler": {
        "conv": ("convolution_param", "weight_filler"),
        "innerproduct": ("inner_product_param", "weight_filler"),
    },
    "bias_filler": {
        "conv": ("convolution_param", "bias_filler"),
        "innerproduct": ("inner_product_param", "bias_filler"),
    },
    "pad": {"conv": ("convolution_param", "pad"), "pool": ("pooling_param", "pad")},
    "kernelsize": {
        "conv": ("convolution_param", "kernel_size"),
        "pool": ("pooling_param", "kernel_size"),
    },
    "group": {"conv": ("convolution_param", "group")},
    "stride": {"conv": ("convolution_param", "stride"), "pool": ("pooling_param", "stride")},
    "pool": {"pool": ("pooling_param", "pool")},
    "dropout_ratio": {"dropout": ("dropout_param", "dropout_ratio")},
    "local_size": {"lrn": ("lrn_param", "local_size")},
    "alpha": {"lrn": ("lrn_param", "alpha")},
    "beta": {"lrn": ("lrn_param", "beta")},
    "k": {"lrn": ("lrn_param", "k")},
    "source": {
        "data": ("data_param", "source"),
        "hdf5_data": ("hdf5_data_param", "source"),
        "images": ("image_data_param", "source"),
        "window_data": ("window_data_param", "source"),
        "infogain_loss": ("infogain_loss_param", "source"),
    },
    "scale": {
        "data": ("data_param", "scale"),
        "images": ("image_data_param", "scale"),
        "window_data": ("window_data_param", "scale"),
    },
    "meanfile": {
        "data": ("data_param", "mean_file"),
        "images": ("image_data_param", "mean_file"),
        "window_data": ("window_data_param", "mean_file"),
    },
    "batchsize": {
        "data": ("data_param", "batch_size"),
        "hdf5_data": ("hdf5_data_param", "batch_size"),
        "images": ("image_data_param", "batch_size"),
        "window_data": ("window_data_param", "batch_size"),
    },
    "cropsize": {
        "data": ("data_param", "crop_size"),
        "images": ("image_data_param", "crop_size"),
        "window_data": ("window_data_param", "crop_size"),
    },
    "mirror": {
        "data": ("data_param", "mirror"),
        "images": ("image_data_param", "mirror"),
        "window_data": ("window_data_param", "mirror"),
    },
    "rand_skip": {
        "data": ("data_param", "rand_skip"),
        "images": ("image_data_param", "rand_skip"),
    },
    "shuffle_images": {"images": ("image_data_param", "shuffle")},
    "new_height": {"images": ("image_data_param", "new_height")},
    "new_width": {"images": ("image_data_param", "new_width")},
    "concat_dim": {"concat": ("concat_param", "concat_dim")},
    "det_fg_threshold": {"window_data": ("window_data_param", "fg_threshold")},
    "det_bg_threshold": {"window_data": ("window_data_param", "bg_threshold")},
    "det_fg_fraction": {"window_data": ("window_data_param", "fg_fraction")},
    "det_context_pad": {"window_data": ("window_data_param", "context_pad")},
    "det_crop_mode": {"window_data": ("window_data_param", "crop_mode")},
    "hdf5_output_param": {"hdf5_output": ("", "hdf5_output_param")},
}

# Fields of V0LayerParameter that are not layer parameters but are handled by the upgrader.
_V0_STRUCTURAL = {"name", "type", "blobs", "blobs_lr", "weight_decay"}


def _where(path: str | None) -> str:
    return f"{path}: " if path else ""


def _set_field(msg: Any, field: str, value: Any) -> None:
    fd = msg.DESCRIPTOR.fields_by_name[field]
    if fd.message_type is not None:
        getattr(msg, field).CopyFrom(value)
    elif fd.label == fd.LABEL_REPEATED:
        getattr(msg, field).append(value)
    else:
        setattr(msg, field, value)


def _fold_padding_layers(layers: list[Any], path: str | None) -> list[Any]:
    """Drop V0 ``padding`` layers, giving their pad to the conv/pool layer that consumes them."""
    out: list[Any] = []
    producer: dict[str, Any] = {}  # blob name -> last V1LayerParameter that wrote it
    for conn in layers:
        is_padding = conn.HasField("layer") and conn.layer.type == "padding"
        if not is_padding:
            conn = _copy(conn)
            for j, blob in enumerate(conn.bottom):
                src = producer.get(blob)
                if src is None or src.layer.type != "padding":
                    continue
                lname = conn.layer.name or conn.name
                if conn.layer.type not in ("conv", "pool"):
                    raise ModelFormatError(
                        f"V0 layer '{lname}' (type '{conn.layer.type}') takes padded blob "
                        f"'{blob}'; only conv and pool layers may follow a padding layer",
                        path,
                    )
                if len(src.bottom) != 1 or len(src.top) != 1:
                    raise ModelFormatError(
                        f"V0 padding layer '{src.layer.name}' must have one bottom and one top",
                        path,
                    )
                conn.bottom[j] = src.bottom[0]
                conn.layer.pad = src.layer.pad
            out.append(conn)
        for t in conn.top:
            producer[t] = conn
    return out


def _copy(msg: Any) -> Any:
    new = type(msg)()
    new.CopyFrom(msg)
    return new


def _v0_to_v1(conn: Any, path: str | None) -> Any:
    """One V1 connection holding a V0 ``layer`` -> a plain V1LayerParameter."""
    v1 = _copy(conn)
    v1.ClearField("layer")
    v0 = conn.layer
    lname = v0.name or conn.name or "<unnamed>"
    if v0.HasField("name"):
        v1.name = v0.name
    vtype = v0.type
    if v0.HasField("type"):
        if vtype not in V0_TYPES:
            raise ModelFormatError(
                f"V0 layer '{lname}': unknown V0 layer type '{vtype}' (known: "
                + ", ".join(sorted(V0_TYPES))
                + ")",
                path,
            )
        v1.type = V0_TYPES[vtype]
    v1.blobs.extend(v0.blobs)
    v1.blobs_lr.extend(v0.blobs_lr)
    v1.weight_decay.extend(v0.weight_decay)
    for fd, value in v0.ListFields():
        if fd.name in _V0_STRUCTURAL:
            continue
        target = _V0_FIELD_MAP.get(fd.name, {}).get(vtype)
        if target is None:
            # Caffe logs these and carries on ("could not fully upgrade"); so do we, loudly.
            warnings.warn(
                f"{_where(path)}V0 layer '{lname}': field '{fd.name}' is not meaningful for "
                f"type '{vtype}' and is dropped",
                stacklevel=3,
            )
            continue
        param_name, field = target
        dest = getattr(v1, param_name) if param_name else v1
        _set_field(dest, field, value)
    return v1


def _v1_to_v2(v1: Any, path: str | None) -> Any:
    lp = caffe_pb2.LayerParameter()
    if v1.HasField("name"):
        lp.name = v1.name
    lp.bottom.extend(v1.bottom)
    lp.top.extend(v1.top)
    if v1.HasField("type"):
        tname = V1_TYPE_NAMES.get(v1.type)
        if tname is None:
            raise ModelFormatError(
                f"V1 layer '{v1.name}': unknown V1 layer type enum value {v1.type}", path
            )
        lp.type = tname
    lp.blobs.extend(v1.blobs)
    lp.include.extend(v1.include)
    lp.exclude.extend(v1.exclude)
    lp.loss_weight.extend(v1.loss_weight)
    n_param = max(len(v1.param), len(v1.blob_share_mode), len(v1.blobs_lr), len(v1.weight_decay))
    for i in range(n_param):
        ps = lp.param.add()
        if i < len(v1.param):
            ps.name = v1.param[i]
        if i < len(v1.blob_share_mode):
            ps.share_mode = v1.blob_share_mode[i]  # same numbering STRICT=0/PERMISSIVE=1
        if i < len(v1.blobs_lr):
            ps.lr_mult = v1.blobs_lr[i]
        if i < len(v1.weight_decay):
            ps.decay_mult = v1.weight_decay[i]
    for fd, value in v1.ListFields():
        # Every V1 *_param keeps its message type; only the field number differs.
        if fd.name.endswith("_param"):
            getattr(lp, fd.name).CopyFrom(value)
    return lp


def upgrade_data_transformation(net: caffe_pb2.NetParameter) -> None:
    """Move old data-layer ``scale/mean_file/crop_size/mirror`` into ``transform_param``."""
    for lp in net.layer:
        for pname in ("data_param", "image_data_param", "window_data_param"):
            if not lp.HasField(pname):
                continue
            p = getattr(lp, pname)
            for field in ("scale", "mean_file", "crop_size", "mirror"):
                if p.HasField(field):
                    setattr(lp.transform_param, field, getattr(p, field))
                    p.ClearField(field)


def upgrade_net(net: caffe_pb2.NetParameter, path: str | None = None) -> caffe_pb2.NetParameter:
    """Upgrade a ``NetParameter`` in place from V0/V1 ``layers`` to current ``layer`` entries.

    Args:
        net: ``caffe_pb2.NetParameter`` as parsed (text or binary).
        path: File name used in error messages.

    Returns:
        The same ``net`` object, now with only ``layer`` entries.

    Raises:
        ModelFormatError: both ``layer`` and ``layers`` are present, or a V0/V1 layer cannot be
            upgraded (unknown V0 type, padding layer feeding a non-conv/pool layer).
    """
    if len(net.layers):
        if len(net.layer):
            raise ModelFormatError(
                "the net has both 'layer' (current) and 'layers' (deprecated V1) entries; "
                "use only one",
                path,
            )
        v1_layers = list(net.layers)
        if any(c.HasField("layer") for c in v1_layers):
            v1_layers = [
                _v0_to_v1(c, path) if c.HasField("layer") else c
                for c in _fold_padding_layers(v1_layers, path)
            ]
        new_layers = [_v1_to_v2(c, path) for c in v1_layers]
        net.ClearField("layers")
        net.layer.extend(new_layers)
    upgrade_data_transformation(net)
    return net
