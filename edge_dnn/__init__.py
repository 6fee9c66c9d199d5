"""edge-dnn: Caffe networks on Zynq UltraScale+ DNN overlays, bit-exact between host and board.

Typical use::

    import edge_dnn
    g = edge_dnn.load_caffe("deploy.prototxt", "weights.caffemodel")
    out = g.run({"data": x})          # float golden model, NCHW float32
    qg = edge_dnn.quantize(g, calibration_batches)   # int8 QuantizedGraph
    qout = qg.run({"data": x})        # bit-exact integer reference, dequantized
    model = edge_dnn.compile_model(qg, "zcu104")     # CompiledModel for an overlay
    model.save("net.edm")
"""

from __future__ import annotations

from edge_dnn.caffe.importer import load_caffe, load_weights, save_caffemodel
from edge_dnn.compiler import CompiledModel, compile_model, load_model
from edge_dnn.errors import EdgeDnnError
from edge_dnn.graph import Graph, Node
from edge_dnn.quant.qgraph import QuantizedGraph
from edge_dnn.quant.quantizer import quantize

__version__ = "0.1.0"

__all__ = [
    "CompiledModel",
    "EdgeDnnError",
    "Graph",
    "Node",
    "QuantizedGraph",
    "__version__",
    "compile_model",
    "load_caffe",
    "load_model",
    "load_weights",
    "quantize",
    "save_caffemodel",
]
