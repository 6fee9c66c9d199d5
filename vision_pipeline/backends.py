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
  *runner*: the board runtime (:class:`arm_scheduler.Runtime`, on the overlay or on the
  emulated board), the engine emulator (:class:`edge_dnn.emulator.run.ModelRunner`, the
  default) or any object with the same ``run(feeds, raw=False)`` method.

With a runner that offers prepared runs (:class:`PreparedRunnerLike`: the board runtime), the
input buffer of :class:`CompiledBackend` *is* the runtime's DMA buffer (a view at the input's
DDR layout): preprocessing quantizes straight into it and nothing is copied between the
preprocessor and the engine. Other runners get the exact dequantized values ``q * scale``.
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
    "PreparedRunnerLike",
    "QuantizedBackend",
]


@runtime_checkable
class InferenceBackend(Protocol):
    """What the pipeline needs from an inference engine.

    ``input_buffer(name)`` returns the same array on every call (NCHW, batch 1; float32 or the
    input tensor's integer type; not necessarily C-contiguous: a view of a DMA buffer may be
    strided); preprocessing fills it in place. ``run`` reads the given
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


@runtime_checkable
class PreparedRunnerLike(Protocol):
    """A runner whose input buffers the caller fills in place (zero-copy inputs):
    :class:`arm_scheduler.Runtime` implements it.

    ``acquire_slot`` reserves an in-flight slot; ``input_buffer(name, slot)`` is that slot's
    input array (same object every call; the input's storage dtype, ``[1, C, H, W]``, possibly
    strided); ``run_prepared(slot, raw)`` runs on what was written and returns fresh output
    arrays; ``release_slot`` gives the slot back.
    """

    def acquire_slot(self, timeout: float = 60.0) -> int:
        """Reserve a slot."""
        ...

    def release_slot(self, slot: int) -> None:
        """Give a slot back."""
        ...

    def input_buffer(self, name: str, slot: int) -> np.ndarray:
        """The slot's array of input ``name``."""
        ...

    def run_prepared(
        self, slot: int, raw: bool = False, timeout: float = 60.0
    ) -> dict[str, np.ndarray]:
        """Run the slot on its prepared inputs."""
        ...


class CompiledBackend:
    """A compiled model (``.edm``) as a backend, on the board runtime or an emulator.

    The input buffers hold the quantized integers of the input tensors (their storage dtype,
    NCHW, batch 1), as the board's input DMA buffers do: preprocessing quantizes straight into
    them.

    * With a :class:`PreparedRunnerLike` runner (:class:`arm_scheduler.Runtime`) the backend
      reserves one of its in-flight slots and the input buffers *are* that slot's arrays
      (:meth:`arm_scheduler.Runtime.input_buffer`: a view of the DMA buffer at the input's DDR
      layout); ``run`` is ``run_prepared``: no copy of the input. Several backends may share
      one runtime (one slot each: ``max_in_flight`` >= the number of backends).
    * Otherwise the buffers are host arrays and ``run`` hands the runner the exact float
      values ``q * scale`` (which it re-quantizes to ``q`` bit for bit): one dequantized copy
      per input and run (counted in :attr:`copies`).

    Args:
        model: The compiled model.
        runner: Executes the model (see :class:`ModelRunnerLike` / :class:`PreparedRunnerLike`);
            default: the engine emulator, ``edge_dnn.emulator.run.ModelRunner(model)``.
        outputs: Output tensors to return (default: every network output).
        raw_outputs: Return the raw integers instead of dequantized float32.
        close_runner: Whether :meth:`close` closes the runner (default: only the runner the
            backend made itself).
        slot_timeout: Seconds to wait for a free slot of a prepared runner.

    Attributes:
        zero_copy: The input buffers are the runner's (prepared runs).
        copies: Input-size copies ``run`` made so far (a dequantized feed for a plain runner,
            or inputs that were not the backend's own buffers); 0 on the zero-copy path.

    Raises:
        InputError: an unknown output name, or a float input the runner cannot be fed with
            integers (float inputs get float32 buffers instead).
        TimeoutError: a prepared runner had no free slot within ``slot_timeout``.
    """

    def __init__(
        self,
        model: CompiledModel,
        runner: ModelRunnerLike | PreparedRunnerLike | None = None,
        outputs: Iterable[str] | None = None,
        raw_outputs: bool = False,
        close_runner: bool | None = None,
        slot_timeout: float = 10.0,
    ) -> None:
        self.model = model
        self._owns_runner = runner is None if close_runner is None else bool(close_runner)
        if runner is None:
            from edge_dnn.emulator.run import ModelRunner

            runner = ModelRunner(model)
        self.runner: Any = runner
        self.outputs = list(model.outputs if outputs is None else outputs)
        unknown = [o for o in self.outputs if o not in model.outputs]
        if unknown:
            raise InputError(
                f"model '{model.name}' has no output(s) {unknown}; outputs: {list(model.outputs)}"
            )
        self.raw_outputs = bool(raw_outputs)
        self.copies = 0
        self._closed = False
        self._slot: int | None = None
        self.zero_copy = isinstance(runner, PreparedRunnerLike)
        if isinstance(runner, PreparedRunnerLike):
            self._slot = runner.acquire_slot(timeout=slot_timeout)
            try:
                self._buffers = {k: runner.input_buffer(k, self._slot) for k in model.inputs}
            except BaseException:
                runner.release_slot(self._slot)
                raise
            return
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
        """The ``[1, C, H, W]`` input buffer (the input tensor's integer dtype; float32 for
        float inputs). With a prepared runner it is the runner's array of this backend's slot:
        for the board runtime usually a strided view of the DMA buffer (see
        :meth:`arm_scheduler.Runtime.input_buffer`), read-only while a run is in flight."""
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
        """Give back the runtime slot and release the runner (if it has a ``close``: a board
        runtime owns threads and DMA buffers, a
        :class:`~vision_pipeline.process_runner.ProcessRunner` a process) when this backend
        owns it (see ``close_runner``). Idempotent."""
        if self._closed:
            return
        self._closed = True
        slot, self._slot = self._slot, None
        if slot is not None:
            self.runner.release_slot(slot)
        close = getattr(self.runner, "close", None)
        if self._owns_runner and callable(close):
            close()

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model (dequantized float32 outputs unless ``raw_outputs``).

        Args:
            inputs: Input name -> array, normally the backend's own :meth:`input_buffer`
                (then nothing is copied on the zero-copy path); other arrays of the storage
                dtype, or float32 values, are copied into the buffer first.

        Raises:
            InputError: unknown inputs, a missing input (zero-copy path), or integers for a
                float input. PipelineError: the backend was closed.
        """
        if self._closed:
            from vision_pipeline.errors import PipelineError

            raise PipelineError(f"the backend of model '{self.model.name}' is closed")
        if self._slot is not None:
            return self._run_prepared(inputs, self._slot)
        feeds: dict[str, np.ndarray] = {}
        for k, v in inputs.items():
            a = np.asarray(v)
            if a.dtype.kind in "iu":
                info = self.model.tensors.get(k)
                if info is None or info.quant.is_float:
                    raise InputError(f"input '{k}' is not quantized; pass float32 values")
                feeds[k] = info.quant.dequantize(a, where=f"input '{k}'")
                self.copies += 1
            else:
                feeds[k] = a
        out = self.runner.run(feeds, raw=self.raw_outputs)
        return self._pick(out)

    def _run_prepared(self, inputs: Mapping[str, np.ndarray], slot: int) -> dict[str, np.ndarray]:
        unknown = sorted(set(inputs) - set(self._buffers))
        missing = sorted(set(self._buffers) - set(inputs))
        if unknown or missing:
            raise InputError(
                f"model '{self.model.name}' inputs are {list(self._buffers)}; unknown {unknown}, "
                f"missing {missing}"
            )
        for k, v in inputs.items():
            buf = self._buffers[k]
            if v is buf:
                continue  # preprocessed in place: the hot path
            a = np.asarray(v)
            if a.shape != buf.shape and a.shape != buf.shape[1:]:
                raise InputError(
                    f"input '{k}': expected shape {list(buf.shape)}, got {list(a.shape)}"
                )
            tq = self.model.tensors[k].quant
            if a.dtype.kind in "iu":
                if tq.is_float or a.dtype != buf.dtype:
                    raise InputError(
                        f"input '{k}': integers must be of the input's storage dtype "
                        f"{buf.dtype}, got {a.dtype}; or pass float32 values"
                    )
                np.copyto(buf, a.reshape(buf.shape))
            else:
                np.copyto(buf, tq.quantize(a.reshape(buf.shape), where=f"input '{k}'"))
            self.copies += 1
        return self._pick(self.runner.run_prepared(slot, raw=self.raw_outputs))

    def _pick(self, out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [o for o in self.outputs if o not in out]
        if missing:
            raise InputError(f"the runner returned no output(s) {missing}")
        return {o: out[o] for o in self.outputs}
