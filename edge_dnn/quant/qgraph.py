"""The quantized graph: integer parameters of every tensor and node, and the bit-exact runner.

A :class:`QuantizedGraph` is the float graph after the default passes plus

* a :class:`TensorQuant` per tensor: the float32 scale and integer type of its values
  (``real = scale * q``, zero point 0), or ``float32`` for the blobs of ARM float regions
  (``docs/arithmetic.md`` section 8.1);
* a :class:`NodeQuant` per node: precision, placement, integer weights, bias, per-channel
  requantization multipliers ``(M, S)`` and per-layer tables.

:meth:`QuantizedGraph.run` quantizes the float inputs, executes every layer's ``forward_int``
(the integer reference of the contract) and returns dequantized float32 outputs, or the raw
integers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from edge_dnn.errors import InputError
from edge_dnn.graph import Graph
from edge_dnn.layers.input import Input
from edge_dnn.quant import arith

__all__ = ["NodeQuant", "QuantizedGraph", "TensorQuant"]

Precision = Literal["int8", "int16"]
Placement = Literal["engine", "arm", "none"]

_NP_DTYPES: dict[str, type[np.generic]] = {
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "float32": np.float32,
}


@dataclasses.dataclass(frozen=True)
class TensorQuant:
    """Quantization parameters of one tensor.

    Attributes:
        scale: float32 scale (a Python float holding a float32 value, > 0): ``real = scale * q``.
            1.0 for float32 tensors.
        dtype: Storage type: ``int8``, ``uint8``, ``int16``, or ``float32`` (a blob of an ARM
            float region, not quantized).
        qmin: Smallest value the producer writes (0 for non-negative producers such as a fused
            ReLU, even in an int8 tensor); 0 for float32 tensors.
        qmax: Largest value (the type's maximum); 0 for float32 tensors.
    """

    scale: float
    dtype: str
    qmin: int
    qmax: int

    def __post_init__(self) -> None:
        if self.dtype not in _NP_DTYPES:
            raise arith.QuantizationError(
                f"unknown tensor dtype '{self.dtype}' (int8, uint8, int16, float32)"
            )
        s = float(self.scale)
        if not np.isfinite(s) or s <= 0.0 or float(np.float32(s)) != s:
            raise arith.QuantizationError(f"tensor scale {s!r} is not a positive float32 value")
        if not self.is_float:
            lo, hi = arith.qrange(self.dtype)
            if not lo <= self.qmin <= self.qmax <= hi:
                raise arith.QuantizationError(
                    f"range [{self.qmin}, {self.qmax}] is not inside {self.dtype} [{lo}, {hi}]"
                )

    @classmethod
    def float32(cls) -> TensorQuant:
        """The parameters of an unquantized float32 blob."""
        return cls(1.0, "float32", 0, 0)

    @classmethod
    def of(cls, scale: float, dtype: str, nonnegative: bool = False) -> TensorQuant:
        """An integer tensor of ``dtype`` with the float32 rounding of ``scale``.

        Args:
            scale: Real scale (rounded to float32 here).
            dtype: ``int8``, ``uint8`` or ``int16``.
            nonnegative: The producer writes values >= 0 only (``qmin = 0``).
        """
        lo, hi = arith.qrange(dtype)
        return cls(float(np.float32(scale)), dtype, 0 if nonnegative else lo, hi)

    @property
    def is_float(self) -> bool:
        """Whether the tensor is a float32 blob (not quantized)."""
        return self.dtype == "float32"

    @property
    def np_dtype(self) -> type[np.generic]:
        """The numpy storage dtype."""
        return _NP_DTYPES[self.dtype]

    @property
    def precision(self) -> Precision:
        """``int16`` for int16 tensors, else ``int8``."""
        return "int16" if self.dtype == "int16" else "int8"

    def same_grid(self, other: TensorQuant) -> bool:
        """Same scale and storage type: values can be copied without arithmetic."""
        return self.scale == other.scale and self.dtype == other.dtype

    def quantize(self, x: npt.ArrayLike, where: str = "") -> np.ndarray:
        """``clamp(rha(x / scale), qmin, qmax)`` in the storage dtype (float32: a float32 copy)."""
        if self.is_float:
            return np.asarray(x, dtype=np.float32)
        q = arith.quantize_tensor(x, self.scale, self.dtype, where=where)
        if self.qmin > arith.qrange(self.dtype)[0]:
            q = np.maximum(q, q.dtype.type(self.qmin))
        return q

    def dequantize(self, q: npt.ArrayLike, where: str = "") -> np.ndarray:
        """``f32(q) * f32(scale)`` as float32 (float32 tensors are returned as float32)."""
        if self.is_float:
            return np.asarray(q, dtype=np.float32)
        return arith.dequantize(q, self.scale, where=where)

    def to_float(self, x: npt.ArrayLike, where: str = "") -> np.ndarray:
        """A value of this tensor as float32: float arrays as they are, integers dequantized."""
        a = np.asarray(x)
        if a.dtype.kind == "f":
            return a.astype(np.float32, copy=False)
        return self.dequantize(a, where=where)

    def from_float(self, y: npt.ArrayLike, where: str = "") -> np.ndarray:
        """A float32 result stored in this tensor (quantized unless the tensor is float32)."""
        return self.quantize(y, where=where)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"scale": self.scale, "dtype": self.dtype, "qmin": self.qmin, "qmax": self.qmax}


@dataclasses.dataclass
class NodeQuant:
    """Integer parameters of one node.

    Attributes:
        name: The layer name.
        type: The Caffe layer type.
        precision: ``int8`` or ``int16``: the MAC mode (weights, bias width) of a MAC layer;
            for other layers, ``int16`` when any of its tensors is int16.
        placement: ``engine`` (fabric), ``arm`` (ARM integer or float kernel) or ``none``
            (metadata only: Flatten, Reshape, Split), per ``docs/arithmetic.md`` section 8.
        inputs: Parameters of the input tensors, in bottom order.
        outputs: Parameters of the output tensors, in top order.
        float_path: The layer runs on the ARM float path (dequantize -> float32 reference ->
            quantize): float-only layer types, and integer layers rejected by the accumulator
            bound or by an unencodable multiplier.
        weights: Quantized weights in the layer's blob layout (np.int8 / np.int16), or None.
        weight_scales: float32 scale per output channel of ``weights``, or None.
        bias: Quantized bias per output channel (int64 holding int32 / int48), or None.
        M: Requantization multiplier per output channel (int64), or None.
        S: Shift per output channel (int64), or None.
        tables: Extra per-layer integer tables: ``avgpool`` (ratio and (M, S) per window
            area), ``eltwise`` (multipliers and shared shift), ``prod`` ((M, S) per step),
            ``rescale`` ((M, S) or None per input of Concat / Eltwise MAX), ``prelu``
            (Mp, Sp, Mn, Sn), ``lut`` (the table), ``lrn`` (``lut`` uint16[256], ``shift``,
            ``frac``: ``docs/arithmetic.md`` section 5.1).
        params: The float parameter blobs (used by the float path).
        notes: Warnings and decisions of the quantizer about this node.
    """

    name: str
    type: str
    precision: Precision
    placement: Placement
    inputs: list[TensorQuant]
    outputs: list[TensorQuant]
    float_path: bool = False
    weights: np.ndarray | None = None
    weight_scales: np.ndarray | None = None
    bias: np.ndarray | None = None
    M: np.ndarray | None = None
    S: np.ndarray | None = None
    tables: dict[str, Any] = dataclasses.field(default_factory=dict)
    params: list[np.ndarray] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def kernel(self) -> str:
        """Short description of how the node runs: ``engine``, ``arm-int``, ``arm-float``..."""
        if self.placement == "none":
            return "none"
        if self.float_path:
            return "arm-float"
        return "engine" if self.placement == "engine" else "arm-int"


class QuantizedGraph:
    """A quantized network and its bit-exact integer reference.

    Args:
        graph: The float graph after the default passes (the node names and tensors the
            quantization refers to).
        tensors: Tensor name -> :class:`TensorQuant`, for every tensor of ``graph``.
        nodes: Node name -> :class:`NodeQuant`, for every node of ``graph``.
        precision: The requested precision (``int8``, ``int16`` or ``mixed``).
        method: The calibration method used.
        warnings: Messages about fallbacks (ARM float placement, saturated biases, ...).
        ranges: The calibrated ranges (``TensorRange`` per tensor), kept for reports.
    """

    def __init__(
        self,
        graph: Graph,
        tensors: Mapping[str, TensorQuant],
        nodes: Mapping[str, NodeQuant],
        precision: str,
        method: str,
        warnings: Iterable[str] = (),
        ranges: Mapping[str, Any] | None = None,
    ) -> None:
        self.graph = graph
        self.tensors: dict[str, TensorQuant] = dict(tensors)
        self.nodes: dict[str, NodeQuant] = dict(nodes)
        self.precision = precision
        self.method = method
        self.warnings: list[str] = list(warnings)
        self.ranges: dict[str, Any] = dict(ranges or {})
        missing_t = [t for t in graph.tensors if t not in self.tensors]
        missing_n = [n.name for n in graph.nodes if n.name not in self.nodes]
        if missing_t or missing_n:
            raise arith.QuantizationError(
                f"quantized graph '{graph.name}' lacks parameters for tensors {missing_t[:5]} "
                f"/ nodes {missing_n[:5]}"
            )

    @property
    def name(self) -> str:
        """The network name."""
        return self.graph.name

    @property
    def inputs(self) -> dict[str, tuple[int, ...]]:
        """Network inputs: tensor name -> declared shape (NCHW)."""
        return self.graph.inputs

    @property
    def outputs(self) -> list[str]:
        """Network output tensors."""
        return list(self.graph.outputs)

    def layer_precisions(self) -> dict[str, str]:
        """Node name -> ``int8`` / ``int16`` (MAC mode or tensor width)."""
        return {k: v.precision for k, v in self.nodes.items()}

    # ------------------------------------------------------------------ execution
    def _feeds(self, feeds: Mapping[str, np.ndarray] | np.ndarray) -> dict[str, np.ndarray]:
        out = self.graph.check_feeds(feeds)
        for k, a in out.items():
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise InputError(f"input '{k}' contains NaN or infinite values")
        return out

    def run(
        self,
        feeds: Mapping[str, np.ndarray] | np.ndarray,
        outputs: Iterable[str] | None = None,
        raw: bool = False,
    ) -> dict[str, np.ndarray]:
        """Run the integer reference.

        The float inputs are quantized with their tensors' parameters (``quantize_tensor``),
        every node runs its ``forward_int``, intermediates are freed after their last reader.

        Args:
            feeds: Input tensor name -> float array (NCHW); a bare array for single-input
                networks.
            outputs: Tensor names to return; default: the network outputs.
            raw: Return the integer arrays (int8/uint8/int16; float32 for the blobs of ARM
                float regions) instead of dequantized float32.

        Returns:
            Tensor name -> array.

        Raises:
            InputError: missing, unknown or mis-shaped inputs, or unknown requested outputs.
        """
        arrays = self.quantize_inputs(feeds)
        wanted = list(self.graph.outputs if outputs is None else outputs)
        known = set(self.graph.tensors)
        bad = [t for t in wanted if t not in known]
        if bad:
            raise InputError(f"unknown output blob(s) {bad} in network '{self.name}'")
        remaining = dict.fromkeys(known, 0)
        for n in self.graph.nodes:
            for t in n.inputs:
                remaining[t] += 1
        keep = set(wanted)
        for n in self.graph.nodes:
            if isinstance(n.layer, Input):
                continue
            nq = self.nodes[n.name]
            outs = n.layer.forward_int([arrays[t] for t in n.inputs], nq)
            for t, a in zip(n.outputs, outs):
                arrays[t] = a
            for t in n.inputs:
                remaining[t] -= 1
                if remaining[t] == 0 and t not in keep:
                    del arrays[t]
        if raw:
            return {t: arrays[t] for t in wanted}
        return {t: self.tensors[t].to_float(arrays[t], where=f"tensor '{t}'") for t in wanted}

    def quantize_inputs(self, feeds: Mapping[str, np.ndarray] | np.ndarray) -> dict[str, Any]:
        """The network inputs quantized with their tensors' parameters (validated)."""
        return {
            k: self.tensors[k].quantize(v, where=f"input '{k}'")
            for k, v in self._feeds(feeds).items()
        }

    def run_float(
        self,
        feeds: Mapping[str, np.ndarray] | np.ndarray,
        outputs: Iterable[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Run the float golden model of the same (post-pass) graph."""
        return self.graph.run(feeds, outputs=outputs)

    def summary(self) -> list[dict[str, Any]]:
        """Per node: type, kernel, precision and its output tensors' parameters."""
        rows = []
        for n in self.graph.nodes:
            nq = self.nodes[n.name]
            rows.append(
                {
                    "name": n.name,
                    "type": n.type,
                    "placement": nq.placement,
                    "kernel": nq.kernel,
                    "precision": nq.precision,
                    "outputs": {t: self.tensors[t].to_dict() for t in n.outputs},
                    "notes": list(nq.notes),
                }
            )
        return rows

    def __repr__(self) -> str:
        return (
            f"QuantizedGraph('{self.name}', precision={self.precision}, method={self.method}, "
            f"{len(self.nodes)} nodes)"
        )
