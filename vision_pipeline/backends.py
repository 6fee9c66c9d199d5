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
* :class:`CompiledBackend`: a :class:`~edge_dnn.compiler.model.CompiledModel` run by a
  *runner*: the emulated board (:class:`edge_dnn.emulator.run.ModelRunner`, the default) or any
  object with the same ``run(feeds, raw=False)`` method, such as the board runtime.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from edge_dnn.compiler.model import CompiledModel
from edge_dnn.errors import InputError
from edge_dnn.graph import Graph
from edge_dnn.quant.qgraph import QuantizedGraph, TensorQuant

if TYPE_CHECKING:
    from vision_pipeline.preprocess import InputSpec

__all__ = [
    "CompiledBackend",
    "GraphBackend",
    "InferenceBackend",
    "ModelRunnerLike",
    "QuantizedBackend",
]


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


# ---------------------------------------------------------------------------- compiled models
@runtime_checkable
class ModelRunnerLike(Protocol):
    """What :class:`CompiledBackend` needs from whatever executes a compiled model.

    ``run`` takes float32 NCHW feeds (batch 1), quantizes them with the input tensors'
    parameters, runs the model and returns the network outputs: dequantized float32, or the
    stored integers with ``raw=True``. The returned arrays must be fresh (not reused by the
    next ``run``). :class:`edge_dnn.emulator.run.ModelRunner` (the emulated board) implements
    it; so does the board runtime.
    """

    def run(self, feeds: dict[str, np.ndarray], raw: bool = False) -> dict[str, np.ndarray]:
        """Run the model once; tensor name -> array."""
        ...


class CompiledBackend:
    """A compiled model (``.edm``) as a backend, on the emulated board or the real one.

    The input buffers hold the quantized integers of the input tensors (their storage dtype,
    NCHW, batch 1), as the board's input DMA buffers do: preprocessing quantizes straight into
    them. ``run`` hands the runner the exact float values ``q * scale`` (which the runner
    re-quantizes to ``q`` bit for bit).

    Args:
        model: The compiled model.
        runner: Executes the model (see :class:`ModelRunnerLike`); default: the emulated
            board, ``edge_dnn.emulator.run.ModelRunner(model)``.
        outputs: Output tensors to return (default: every network output).
        raw_outputs: Return the raw integers instead of dequantized float32.
        close_runner: Whether :meth:`close` closes the runner (default: only the runner the
            backend made itself).

    Raises:
        InputError: an unknown output name, or a float input the runner cannot be fed with
            integers (float inputs get float32 buffers instead).
    """

    def __init__(
        self,
        model: CompiledModel,
        runner: ModelRunnerLike | None = None,
        outputs: Iterable[str] | None = None,
        raw_outputs: bool = False,
        close_runner: bool | None = None,
    ) -> None:
        self.model = model
        self._owns_runner = runner is None if close_runner is None else bool(close_runner)
        if runner is None:
            from edge_dnn.emulator.run import ModelRunner

            runner = ModelRunner(model)
        self.runner = runner
        self.outputs = list(model.outputs if outputs is None else outputs)
        unknown = [o for o in self.outputs if o not in model.outputs]
        if unknown:
            raise InputError(
                f"model '{model.name}' has no output(s) {unknown}; outputs: {list(model.outputs)}"
            )
        self.raw_outputs = bool(raw_outputs)
        shapes: dict[str, tuple[int, ...]] = {}
        dtypes: dict[str, np.dtype[Any]] = {}
        for k in model.inputs:
            info = model.tensors[k]
            shapes[k] = (1, *info.shape[1:])
            dtypes[k] = np.dtype(np.float32 if info.quant.is_float else info.quant.np_dtype)
        self._buffers = _alloc(shapes, dtypes)

    def input_quant(self, name: str) -> TensorQuant:
        """Quantization parameters of input ``name``."""
        _buffer(self._buffers, name, self.model.name)
        return self.model.tensors[name].quant

    def input_buffer(self, name: str) -> np.ndarray:
        """The NCHW input buffer (the input tensor's integer dtype; float32 for float inputs)."""
        return _buffer(self._buffers, name, self.model.name)

    def input_spec(self, name: str | None = None, **kwargs: Any) -> InputSpec:
        """The input specification recorded in the model (preprocessing and quantization).

        Args:
            name: Input tensor (default: the only one).
            kwargs: Passed to :meth:`InputSpec.from_metadata` (``resize_mode``, ...).

        Raises:
            PreprocessError: several inputs and no name, or malformed metadata.
        """
        from vision_pipeline.errors import PreprocessError
        from vision_pipeline.preprocess import InputSpec

        if name is None:
            if len(self.model.inputs) != 1:
                raise PreprocessError(
                    f"model '{self.model.name}' has inputs {list(self.model.inputs)}; name one"
                )
            name = self.model.inputs[0]
        buf = self.input_buffer(name)
        tq = self.model.tensors[name].quant
        return InputSpec.from_metadata(
            name, tuple(buf.shape), self.model.preprocess, None if tq.is_float else tq, **kwargs
        )

    def close(self) -> None:
        """Release the runner (if it has a ``close``: a board runtime owns threads and DMA
        buffers, a :class:`~vision_pipeline.process_runner.ProcessRunner` a process) when this
        backend owns it (see ``close_runner``)."""
        close = getattr(self.runner, "close", None)
        if self._owns_runner and callable(close):
            close()

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model (dequantized float32 outputs unless ``raw_outputs``)."""
        feeds: dict[str, np.ndarray] = {}
        for k, v in inputs.items():
            a = np.asarray(v)
            if a.dtype.kind in "iu":
                info = self.model.tensors.get(k)
                if info is None or info.quant.is_float:
                    raise InputError(f"input '{k}' is not quantized; pass float32 values")
                feeds[k] = info.quant.dequantize(a, where=f"input '{k}'")
            else:
                feeds[k] = a
        out = self.runner.run(feeds, raw=self.raw_outputs)
        missing = [o for o in self.outputs if o not in out]
        if missing:
            raise InputError(f"the runner returned no output(s) {missing}")
        return {o: out[o] for o in self.outputs}
