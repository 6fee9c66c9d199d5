"""edge-dnn: Caffe networks on Zynq UltraScale+ DNN overlays, bit-exact between host and board.

Typical use::

    import edge_dnn
    g = edge_dnn.load_caffe("deploy.prototxt", "weights.caffemodel")
    out = g.run({"data": x})          # float golden model, NCHW float32
"""

from __future__ import annotations

from edge_dnn.caffe.importer import load_caffe, load_weights, save_caffemodel
from edge_dnn.errors import EdgeDnnError
from edge_dnn.graph import Graph, Node

__version__ = "0.1.0"

__all__ = [
    "EdgeDnnError",
    "Graph",
    "Node",
    "__version__",
    "load_caffe",
    "load_weights",
    "save_caffemodel",
]
