"""Tiny networks and helpers shared by the vision pipeline tests (not a test module)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from edge_dnn.caffe.importer import graph_from_net
from edge_dnn.caffe.prototxt import parse_net_text
from edge_dnn.graph import Graph

NUM_CLASSES = 4  # background + the synthetic scene's 3 classes

TINY_SSD = """
name: "tiny_ssd"
input: "data"
input_shape { dim: 1 dim: 3 dim: 32 dim: 32 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 8 kernel_size: 3 pad: 1 stride: 2 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "conv2" type: "Convolution" bottom: "conv1" top: "conv2"
  convolution_param { num_output: 8 kernel_size: 3 pad: 1 stride: 2 } }
layer { name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }
layer { name: "pool" type: "Pooling" bottom: "conv2" top: "feat"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "loc" type: "Convolution" bottom: "feat" top: "loc"
  convolution_param { num_output: 12 kernel_size: 3 pad: 1 } }
layer { name: "loc_perm" type: "Permute" bottom: "loc" top: "loc_perm"
  permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "mbox_loc" type: "Flatten" bottom: "loc_perm" top: "mbox_loc"
  flatten_param { axis: 1 } }
layer { name: "conf" type: "Convolution" bottom: "feat" top: "conf"
  convolution_param { num_output: 12 kernel_size: 3 pad: 1 } }
layer { name: "conf_perm" type: "Permute" bottom: "conf" top: "conf_perm"
  permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "conf_flat" type: "Flatten" bottom: "conf_perm" top: "conf_flat"
  flatten_param { axis: 1 } }
layer { name: "conf_reshape" type: "Reshape" bottom: "conf_flat" top: "conf_reshape"
  reshape_param { shape { dim: 0 dim: -1 dim: 4 } } }
layer { name: "conf_softmax" type: "Softmax" bottom: "conf_reshape" top: "conf_softmax"
  softmax_param { axis: 2 } }
layer { name: "mbox_conf" type: "Flatten" bottom: "conf_softmax" top: "mbox_conf"
  flatten_param { axis: 1 } }
layer { name: "mbox_priorbox" type: "PriorBox" bottom: "feat" bottom: "data" top: "mbox_priorbox"
  prior_box_param { min_size: 8 max_size: 16 aspect_ratio: 2 flip: false clip: false
    variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 } }
layer { name: "detection_out" type: "DetectionOutput"
  bottom: "mbox_loc" bottom: "mbox_conf" bottom: "mbox_priorbox" top: "detection_out"
  detection_output_param { num_classes: 4 share_location: true background_label_id: 0
    nms_param { nms_threshold: 0.45 top_k: 20 } code_type: CENTER_SIZE keep_top_k: 10
    confidence_threshold: 0.2 } }
"""
"""A 4x4 feature map with 3 priors per cell (48 priors), 4 classes, ending in DetectionOutput."""

TINY_CLASSIFIER = """
name: "tiny_cls"
input: "data"
input_shape { dim: 1 dim: 1 dim: 16 dim: 16 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 4 kernel_size: 3 stride: 2 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "ip" type: "InnerProduct" bottom: "conv1" top: "ip"
  inner_product_param { num_output: 5 } }
layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }
"""


def tiny_graph(text: str, seed: int = 0) -> Graph:
    """A graph from prototxt text with seeded random weights."""
    g = graph_from_net(parse_net_text(text))
    g.init_random_weights(seed)
    return g


def vision_threads() -> list[str]:
    """Names of live threads started by the vision pipeline or its sinks."""
    return [
        t.name
        for t in threading.enumerate()
        if t.name.startswith(("vision-", "mjpeg-")) or "process_request" in t.name
    ]


class FakeCapture:
    """A cv2.VideoCapture stand-in: a script of read results, then failures."""

    def __init__(self, script: list[Any], opened: bool = True) -> None:
        self.script = list(script)
        self.opened = opened
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802
        return self.opened

    def read(self) -> tuple[bool, Any]:
        if not self.script:
            return False, None
        item = self.script.pop(0)
        return (item is not False), (None if item is False else item)

    def release(self) -> None:
        self.released = True

    def get(self, prop: int) -> float:
        return 0.0


def solid_image(v: int) -> np.ndarray:
    """A 6x8 BGR frame of one grey level."""
    return np.full((6, 8, 3), v, np.uint8)
