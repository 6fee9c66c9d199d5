"""Helpers shared by the simple layers (activations, shape ops, Scale/Bias broadcasting).

Everything here validates and raises the project's typed errors naming the layer, so that a layer's
``output_shapes``/``forward`` never lets a bare numpy exception escape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from edge_dnn.errors import WeightsMismatchError
from edge_dnn.layers.base import Array, Layer, Shape, canonical_axis


def check_count(layer: Layer, n: int) -> None:
    """Check a bottom count against the layer's ``MIN_INPUTS``/``MAX_INPUTS``."""
    lo, hi = type(layer).MIN_INPUTS, type(layer).MAX_INPUTS
    if n < lo or (hi is not None and n > hi):
        want = str(lo) if lo == hi else f"{lo}..{hi if hi is not None else 'n'}"
        raise layer.shape_error(f"{layer.TYPE} takes {want} bottom(s), got {n}")


def shapes_of(layer: Layer, in_shapes: Sequence[Shape]) -> list[Shape]:
    """Check the bottom count and normalise the shapes to tuples of ints."""
    check_count(layer, len(in_shapes))
    out: list[Shape] = []
    for s in in_shapes:
        t = tuple(int(d) for d in s)
        if any(d < 0 for d in t):
            raise layer.shape_error(f"negative dimension in input shape {t}")
        out.append(t)
    return out


def f32_inputs(layer: Layer, inputs: Sequence[Array]) -> list[Array]:
    """Check the bottom count and view the inputs as float32 arrays."""
    check_count(layer, len(inputs))
    return [np.asarray(x, dtype=np.float32) for x in inputs]


def param_blob(layer: Layer, params: Sequence[Array], index: int, shape: Shape) -> Array:
    """Parameter blob ``index`` as float32 of ``shape`` (legacy 1-padded blobs are reshaped).

    Raises:
        WeightsMismatchError: the blob is missing or its element count differs.
    """
    if index >= len(params):
        raise WeightsMismatchError(
            layer.name, f"needs blob {index} of shape {list(shape)} but has {len(params)} blob(s)"
        )
    p = np.asarray(params[index], dtype=np.float32)
    if p.size != int(np.prod(shape, dtype=np.int64)):
        raise WeightsMismatchError(
            layer.name, f"blob {index}: expected shape {list(shape)}, found {list(p.shape)}"
        )
    return p.reshape(shape)


def count(shape: Shape) -> int:
    """Number of elements of a shape (1 for a scalar)."""
    return int(np.prod(shape, dtype=np.int64))


def span_shape(
    layer: Layer, shape: Shape, axis: int, num_axes: int, what: str
) -> tuple[int, Shape]:
    """Caffe's Scale/Bias parameter shape: ``shape[axis:axis+num_axes]`` (``-1``: to the end).

    Returns:
        (canonical axis, parameter shape).
    """
    nd = len(shape)
    a = canonical_axis(layer, axis, nd)
    if num_axes < -1:
        raise layer.unsupported(f"{what} num_axes must be >= -1, got {num_axes}")
    if num_axes == -1:
        return a, tuple(shape[a:])
    if a + num_axes > nd:
        raise layer.shape_error(
            f"{what} blob spans axes {a}..{a + num_axes - 1} but the input {shape} has {nd} axes"
        )
    return a, tuple(shape[a : a + num_axes])


def second_bottom_axis(layer: Layer, shape: Shape, other: Shape, axis: int, what: str) -> int:
    """Check that bottom 1 (the Scale/Bias operand) matches ``shape`` from ``axis`` on.

    Returns the axis the operand is applied at (0 for a scalar operand, as in Caffe).
    """
    a = canonical_axis(layer, axis, len(shape))
    if len(other) == 0:
        return 0
    if a + len(other) > len(shape) or tuple(shape[a : a + len(other)]) != tuple(other):
        raise layer.shape_error(
            f"{what} bottom of shape {other} does not match input {shape} from axis {a}"
        )
    return a


def broadcast_to_axis(p: Array, ndim: int, axis: int) -> Array:
    """Reshape a parameter so that it broadcasts against an ``ndim``-D tensor from ``axis``."""
    return p.reshape((1,) * axis + p.shape + (1,) * (ndim - axis - p.ndim))


def top_count(layer: Layer, tops: Sequence[str]) -> int:
    """Number of tops declared in the prototxt (layers with a variable number of tops)."""
    n = len(tops)
    if n < 1:
        raise layer.unsupported(f"{layer.TYPE} needs at least one top")
    return n


@dataclasses.dataclass(frozen=True)
class Elementwise(Layer):
    """Base of one-bottom, one-top, shape-preserving layers without parameters.

    Subclasses implement ``forward`` themselves (float32 in, float32 out, same shape).
    """

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """The input shape (one bottom)."""
        return [shapes_of(self, in_shapes)[0]]


def operand_shape(
    layer: Layer, in_shapes: Sequence[Shape], axis: int, num_axes: int, what: str
) -> tuple[Shape, int, Shape]:
    """Scale/Bias broadcasting: (input shape, axis the operand applies at, operand shape).

    The operand is the second bottom when there are two (its shape fixes ``num_axes``), else a
    parameter blob spanning ``num_axes`` axes from ``axis`` (Caffe's ScaleLayer/BiasLayer rules).
    """
    shapes = shapes_of(layer, in_shapes)
    x = shapes[0]
    if len(shapes) == 2:
        return x, second_bottom_axis(layer, x, shapes[1], axis, what), shapes[1]
    a, oshape = span_shape(layer, x, axis, num_axes, what)
    return x, (0 if not oshape else a), oshape
