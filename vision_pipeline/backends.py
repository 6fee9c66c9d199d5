"""Inference backends: what the pipeline runs a preprocessed frame on.

A backend implements :class:`InferenceBackend`: it owns one preallocated input buffer per
network input, which preprocessing writes into directly (no intermediate frame copies), and
``run`` executes the network on those buffers. The buffer's dtype says what the backend wants:
float32 for the float golden model, or the input tensor's integer type (int8/uint8/int16) when
the backend consumes quantized integers (``real = scale * q``).

Backends here:

* :class:`GraphBackend`: the float golden model (:meth:`edge_dnn.graph.Graph.run`).
* :class:`QuantizedBackend`: the bit-exact integer reference
  (:meth:`edge_dnn.quant.qgraph.QuantizedGraph.run`), fed integers or floats.

The emulated board and the PYNQ runtime plug in later behind the same protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

import numpy as np

from edge_dnn.errors import InputError
from edge_dnn.graph import Graph
from edge_dnn.quant.qgraph import QuantizedGraph, TensorQuant

__all__ = ["GraphBackend", "InferenceBackend", "QuantizedBackend"]


@runtime_checkable
class InferenceBackend(Protocol):
    """What the pipeline needs from an inference engine.

    ``input_buffer(name)`` returns the same array on every call (NCHW, batch 1; float32 or the
    input tensor's integer type); preprocessing fills it in place. ``run`` reads the given
    arrays (normally those buffers) and returns the outputs as arrays the caller owns (not
    overwritten by the next ``run``), float32 unless the backend documents otherwise.
    """

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the network; tensor name -> output array."""
        ...

    def input_buffer(self, name: str) -> np.ndarray:
        """The preallocated input buffer of input ``name``."""
        ...


def _alloc(
    inputs: Mapping[str, tuple[int, ...]], dtypes: Mapping[str, np.dtype]
) -> dict[str, np.ndarray]:
    out = {}
    for name, shape in inputs.items():
        out[name] = np.zeros(tuple(int(d) for d in shape), dtype=dtypes[name])
    return out


def _buffer(buffers: Mapping[str, np.ndarray], name: str, net: str) -> np.ndarray:
    try:
        return buffers[name]
    except KeyError:
        raise InputError(
            f"network '{net}' has no input '{name}'; inputs: {sorted(buffers)}"
        ) from None


class GraphBackend:
    """The float golden model as a backend (float32 input buffers).

    Args:
        graph: The network with weights.
        outputs: Tensors to return (default: the network outputs), e.g. the SSD ``loc``/``conf``
            heads and the prior boxes of a graph cut before its DetectionOutput.
    """

    def __init__(self, graph: Graph, outputs: Iterable[str] | None = None) -> None:
        self.graph = graph
        self.outputs = list(graph.outputs if outputs is None else outputs)
        self._buffers = _alloc(graph.inputs, {k: np.dtype(np.float32) for k in graph.inputs})

    def input_buffer(self, name: str) -> np.ndarray:
        """The float32 NCHW buffer of input ``name``."""
        return _buffer(self._buffers, name, self.graph.name)

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the float golden model (fresh output arrays)."""
        return self.graph.run(dict(inputs), outputs=self.outputs)


class QuantizedBackend:
    """The integer reference of a :class:`QuantizedGraph` as a backend.

    With ``integer_inputs`` the input buffers hold the quantized integers (the input tensor's
    dtype), as the board's DMA buffers will; they are dequantized exactly before the reference
    runs (``q * scale`` re-quantizes to ``q`` bit for bit). Otherwise the buffers are float32 and
    quantized by :meth:`QuantizedGraph.run`.

    Args:
        qgraph: The quantized network.
        outputs: Tensors to return (default: the network outputs).
        integer_inputs: Integer input buffers (the default) or float32 ones.
        raw_outputs: Return the raw integer outputs instead of dequantized float32.
    """

    def __init__(
        self,
        qgraph: QuantizedGraph,
        outputs: Iterable[str] | None = None,
        integer_inputs: bool = True,
        raw_outputs: bool = False,
    ) -> None:
        self.qgraph = qgraph
        self.outputs = list(qgraph.outputs if outputs is None else outputs)
        self.integer_inputs = bool(integer_inputs)
        self.raw_outputs = bool(raw_outputs)
        dtypes = {}
        for k in qgraph.inputs:
            tq = qgraph.tensors[k]
            dtypes[k] = np.dtype(
                tq.np_dtype if self.integer_inputs and not tq.is_float else np.float32
            )
        self._buffers = _alloc(qgraph.inputs, dtypes)

    def input_quant(self, name: str) -> TensorQuant:
        """Quantization parameters of input ``name``."""
        _buffer(self._buffers, name, self.qgraph.name)
        return self.qgraph.tensors[name]

    def input_buffer(self, name: str) -> np.ndarray:
        """The NCHW input buffer (integer dtype with ``integer_inputs``, else float32)."""
        return _buffer(self._buffers, name, self.qgraph.name)

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the integer reference (dequantized float32 outputs unless ``raw_outputs``)."""
        feeds = {}
        for k, v in inputs.items():
            a = np.asarray(v)
            if a.dtype.kind in "iu":
                tq = self.qgraph.tensors.get(k)
                if tq is None or tq.is_float:
                    raise InputError(f"input '{k}' is not quantized; pass float32 values")
                feeds[k] = tq.dequantize(a, where=f"input '{k}'")
            else:
                feeds[k] = a
        return self.qgraph.run(feeds, outputs=self.outputs, raw=self.raw_outputs)
