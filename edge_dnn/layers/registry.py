"""The explicit registry of layer types: Caffe ``type`` string -> layer class.

Adding a layer: write ``edge_dnn/layers/<snake_name>.py`` (see :mod:`edge_dnn.layers.base`), add
it here, and add its tests. ``tests/unit/test_registry.py`` checks every layer file is listed.
"""

from __future__ import annotations

from edge_dnn.layers.abs_val import AbsVal
from edge_dnn.layers.arg_max import ArgMax
from edge_dnn.layers.base import Layer
from edge_dnn.layers.batch_norm import BatchNorm
from edge_dnn.layers.bias import Bias
from edge_dnn.layers.bnll import BNLL
from edge_dnn.layers.clip import Clip
from edge_dnn.layers.concat import Concat
from edge_dnn.layers.convolution import Convolution
from edge_dnn.layers.crop import Crop
from edge_dnn.layers.deconvolution import Deconvolution
from edge_dnn.layers.detection_output import DetectionOutput
from edge_dnn.layers.dropout import Dropout
from edge_dnn.layers.eltwise import Eltwise
from edge_dnn.layers.elu import ELU
from edge_dnn.layers.exp import Exp
from edge_dnn.layers.flatten import Flatten
from edge_dnn.layers.inner_product import InnerProduct
from edge_dnn.layers.input import Input
from edge_dnn.layers.log import Log
from edge_dnn.layers.lrn import LRN
from edge_dnn.layers.mvn import MVN
from edge_dnn.layers.normalize import Normalize
from edge_dnn.layers.permute import Permute
from edge_dnn.layers.pooling import Pooling
from edge_dnn.layers.power import Power
from edge_dnn.layers.prelu import PReLU
from edge_dnn.layers.prior_box import PriorBox
from edge_dnn.layers.relu import ReLU
from edge_dnn.layers.reshape import Reshape
from edge_dnn.layers.scale import Scale
from edge_dnn.layers.sigmoid import Sigmoid
from edge_dnn.layers.slice import Slice
from edge_dnn.layers.softmax import Softmax
from edge_dnn.layers.split import Split
from edge_dnn.layers.tanh import TanH
from edge_dnn.layers.threshold import Threshold

_CLASSES: tuple[type[Layer], ...] = (
    AbsVal, ArgMax, BatchNorm, Bias, BNLL, Clip, Concat, Convolution, Crop, Deconvolution,
    DetectionOutput, Dropout, Eltwise, ELU, Exp, Flatten, InnerProduct, Input, Log, LRN, MVN,
    Normalize, Permute, Pooling, Power, PReLU, PriorBox, ReLU, Reshape, Scale, Sigmoid, Slice,
    Softmax, Split, TanH, Threshold,
)  # fmt: skip

LAYERS: dict[str, type[Layer]] = {cls.TYPE: cls for cls in _CLASSES}
"""Caffe type string -> layer class (every layer edge-dnn implements)."""
