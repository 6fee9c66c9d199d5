"""Caffe ``Input``: declares a network input blob and its shape."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._util import shapes_of
from edge_dnn.layers.base import Array, Layer, Shape

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Input(Layer):
    """A network input (``input_param.shape``).

    The graph feeds Input nodes itself and never calls :meth:`forward` on them; the legacy
    ``input``/``input_dim``/``input_shape`` spellings of a NetParameter map to this layer too.

    Attributes:
        shape: The declared blob shape (NCHW for images), every dimension positive.
    """

    TYPE: ClassVar[str] = "Input"
    MIN_INPUTS: ClassVar[int] = 0
    MAX_INPUTS: ClassVar[int | None] = 0

    shape: Shape = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    @classmethod
    def from_proto(cls, lp: Any) -> Input:
        """Read ``input_param.shape`` (exactly one shape and one top are supported)."""
        layer = cls(name=lp.name)
        shapes = list(lp.input_param.shape)
        if len(lp.top) != 1:
            raise layer.unsupported(
                f"an Input layer with {len(lp.top)} tops is not supported; declare one Input "
                "layer per blob"
            )
        if len(shapes) != 1:
            raise layer.unsupported(
                f"input_param declares {len(shapes)} shapes; exactly one is required"
            )
        dims = tuple(int(d) for d in shapes[0].dim)
        if not dims or any(d <= 0 for d in dims):
            raise layer.unsupported(f"input shape {list(dims)} must have positive dimensions")
        return cls(name=lp.name, shape=dims)

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """The declared shape (an Input layer has no bottoms)."""
        shapes_of(self, in_shapes)
        if not self.shape:
            raise self.shape_error("input shape is not declared")
        return [self.shape]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Pass a fed array through (float32), checking it against the declared shape.

        Not used by the graph, which feeds inputs directly; given for completeness.
        """
        if len(inputs) != 1:
            raise self.shape_error(f"expects one fed array, got {len(inputs)}")
        x = np.asarray(inputs[0], dtype=np.float32)
        if tuple(x.shape) != self.shape:
            raise self.shape_error(f"fed array has shape {tuple(x.shape)}, declared {self.shape}")
        return [x]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Quantize a fed float array with the input tensor's parameters (``quantize_tensor``).

        Not used by the quantized graph, which quantizes its feeds itself.
        """
        if len(inputs) != 1:
            raise self.shape_error(f"expects one fed array, got {len(inputs)}")
        return [q.outputs[0].quantize(inputs[0], where=f"input '{self.name}'")]
