"""The contract every layer file implements.

One file per Caffe layer type holds a frozen dataclass subclass of :class:`Layer` with:

* its attributes (dataclass fields, parsed from the Caffe ``LayerParameter`` by ``from_proto``),
* shape inference (``output_shapes``) and the shapes of its parameter blobs (``param_shapes``),
* the float reference (``forward``: numpy, NCHW, float32),
* MAC count (``macs``) for the summary and the performance model,
* (added by the quantizer issue) the bit-exact integer reference.

The explicit registry lives in :mod:`edge_dnn.layers` (``LAYERS``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

from edge_dnn.errors import ShapeError, UnsupportedParameterError

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant

Shape = tuple[int, ...]
"""A tensor shape, NCHW order for 4-D activations."""

Array = np.ndarray

L = TypeVar("L", bound="Layer")


@dataclasses.dataclass(frozen=True)
class Layer:
    """Base class of all layer definitions.

    Attributes:
        name: The Caffe layer name (used in every error message).
    """

    TYPE: ClassVar[str] = ""
    """Caffe ``type`` string of this layer (current, V2 spelling)."""

    MIN_INPUTS: ClassVar[int] = 1
    MAX_INPUTS: ClassVar[int | None] = 1
    """How many bottoms the layer accepts (None: unbounded)."""

    name: str

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_proto(cls: type[L], lp: Any) -> L:
        """Build the layer from a ``caffe_pb2.LayerParameter`` (already upgraded to V2).

        Raises:
            UnsupportedParameterError: a parameter value edge-dnn does not support.
        """
        return cls(name=lp.name)

    # ------------------------------------------------------------------ shapes
    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """Shapes of the outputs (tops) given the input shapes. Default: same as the first input."""
        return [tuple(in_shapes[0])]

    def num_outputs(self, num_inputs: int) -> int | None:
        """How many tops the layer produces; None: as many as the prototxt declares."""
        return 1

    def param_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """Shapes of the parameter blobs, in Caffe's blob order. Default: none."""
        return []

    def macs(self, in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]) -> int:
        """Multiply-accumulate count of one forward pass (0 for layers without MACs)."""
        return 0

    # ------------------------------------------------------------------ float reference
    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference (float32, NCHW). Must be implemented by every layer."""
        raise NotImplementedError(f"{type(self).__name__}.forward")

    # ------------------------------------------------------------------ integer reference
    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Bit-exact integer reference (``docs/arithmetic.md``), NCHW integer arrays.

        Inputs and outputs are in the storage dtypes of ``q.inputs`` / ``q.outputs``
        (int8/uint8/int16, or float32 for blobs of ARM float regions). This default is the
        contract's ARM float path: dequantize -> :meth:`forward` -> ``quantize_tensor``; layers
        with an integer kernel override it.
        """
        from edge_dnn.layers._int_ops import float_path

        return float_path(self, inputs, q)

    # ------------------------------------------------------------------ weights
    def init_params(self, in_shapes: Sequence[Shape], rng: np.random.Generator) -> list[Array]:
        """Deterministic, well-scaled random parameters (used by ``--random-weights``).

        The default draws He-normal weights for the first blob (fan-in = product of all but the
        first dimension) and small normal values for the rest; layers with statistics
        (BatchNorm) override it.
        """
        out: list[Array] = []
        for i, shp in enumerate(self.param_shapes(in_shapes)):
            if i == 0 and len(shp) >= 2:
                fan_in = int(np.prod(shp[1:]))
                std = np.sqrt(2.0 / max(fan_in, 1))
                out.append((rng.standard_normal(shp) * std).astype(np.float32))
            else:
                out.append((rng.standard_normal(shp) * 0.1).astype(np.float32))
        return out

    # ------------------------------------------------------------------ helpers for subclasses
    def shape_error(self, message: str) -> ShapeError:
        """A :class:`ShapeError` naming this layer."""
        return ShapeError(self.name, message)

    def unsupported(self, message: str) -> UnsupportedParameterError:
        """An :class:`UnsupportedParameterError` naming this layer."""
        return UnsupportedParameterError(self.name, message)


def canonical_axis(layer: Layer, axis: int, ndim: int) -> int:
    """Caffe's ``CanonicalAxisIndex``: negative axes count from the end; range-checked."""
    if not -ndim <= axis < ndim:
        raise layer.shape_error(f"axis {axis} out of range for a {ndim}-D blob")
    return axis % ndim


def spatial_pair(
    layer: Layer,
    what: str,
    repeated: Sequence[int],
    h: int | None,
    w: int | None,
    default: int,
) -> tuple[int, int]:
    """Resolve Caffe's ``kernel_size``/``kernel_h``/``kernel_w`` style parameters to (h, w).

    ``repeated`` is the repeated field (0, 1 or 2 values); ``h``/``w`` are the explicit fields
    (None when unset). Setting both forms is an error, as in Caffe.
    """
    if h is not None or w is not None:
        if len(repeated):
            raise layer.unsupported(f"{what} given both as {what}_size/{what} and {what}_h/_w")
        if h is None or w is None:
            raise layer.unsupported(f"both {what}_h and {what}_w are required")
        return int(h), int(w)
    if len(repeated) == 0:
        return default, default
    if len(repeated) == 1:
        return int(repeated[0]), int(repeated[0])
    if len(repeated) == 2:
        return int(repeated[0]), int(repeated[1])
    raise layer.unsupported(f"{what} has {len(repeated)} values; only 2-D is supported")


def opt(msg: Any, field: str) -> Any:
    """The value of an optional proto2 field, or None when it is unset."""
    return getattr(msg, field) if msg.HasField(field) else None
