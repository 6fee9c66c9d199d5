"""Minimal numpy layers with forward and backward passes, and their Caffe export.

Conventions (shared with the rest of edge-dnn):

* Activations are NCHW arrays; a layer keeps the dtype of its input (float32 for training,
  float64 for gradient checks).
* Parameters are lists of blobs per layer in Caffe's blob order and shapes: convolution
  ``[weight (O, C, kh, kw), bias (O,)]``, inner product ``[weight (O, K), bias (O,)]``. A
  network's parameters are a :data:`Params` dict keyed by layer name, so exporting them to a
  caffemodel is a copy.
* Geometry follows Caffe: convolution output ``floor((H + 2p - k) / s) + 1``; max pooling
  output ``ceil((H + 2p - k) / s) + 1``, minus one when the last window would start in the
  padding; padded pooling cells never win; ties go to the first maximum in row-major window
  order; inner product flattens ``C, H, W`` in C order.

Every ``forward`` caches what its ``backward`` needs, so a module instance serves one
forward/backward pair at a time (the usual training loop).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from edge_dnn.caffe import caffe_pb2
from edge_dnn.errors import ShapeError

Array = np.ndarray
Shape = tuple[int, ...]
Params = dict[str, list[Array]]
"""Layer name -> parameter blobs in Caffe order."""


# =================================================================================== im2col
def conv_out_size(size: int, kernel: int, pad: int, stride: int) -> int:
    """Caffe's convolution output size along one axis (floor rounding)."""
    return (size + 2 * pad - kernel) // stride + 1


def im2col(x: Array, kh: int, kw: int, pad: int, stride: int) -> tuple[Array, int, int]:
    """Unfold the sliding windows of ``x`` into rows.

    Args:
        x: Input, shape (N, C, H, W), any float dtype.
        kh: Kernel height.
        kw: Kernel width.
        pad: Zero padding on every side.
        stride: Step between windows.

    Returns:
        ``(cols, oh, ow)``: ``cols`` has shape (N * oh * ow, C * kh * kw); rows are ordered
        (n, y, x) and columns (c, i, j), matching a Caffe weight ``(O, C, kh, kw)`` reshaped to
        ``(O, C * kh * kw)``.
    """
    n, c, h, w = x.shape
    oh = conv_out_size(h, kh, pad, stride)
    ow = conv_out_size(w, kw, pad, stride)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride]
    return cols.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, c * kh * kw), oh, ow


def col2im(cols: Array, x_shape: Shape, kh: int, kw: int, pad: int, stride: int) -> Array:
    """Adjoint of :func:`im2col`: scatter-add rows back into an (N, C, H, W) array."""
    n, c, h, w = x_shape
    oh = conv_out_size(h, kh, pad, stride)
    ow = conv_out_size(w, kw, pad, stride)
    c6 = cols.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    xp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            xp[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride] += c6[:, :, i, j]
    return xp[:, :, pad : pad + h, pad : pad + w] if pad else xp


# =================================================================================== modules
class Module:
    """One layer: forward, backward, parameter shapes and its Caffe ``LayerParameter``.

    Attributes:
        name: Layer name; also its Caffe layer name and (unless in place) its top blob.
    """

    CAFFE_TYPE: ClassVar[str] = ""
    IN_PLACE: ClassVar[bool] = False
    """Whether the exported Caffe layer writes its bottom blob (``top == bottom``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def output_shape(self, in_shape: Shape) -> Shape:
        """Shape of one sample's output, given one sample's input shape (no batch axis)."""
        return in_shape

    def param_shapes(self, in_shape: Shape) -> list[Shape]:
        """Shapes of the parameter blobs in Caffe order, for a per-sample input shape."""
        return []

    def init_params(self, in_shape: Shape, rng: np.random.Generator, dtype: type) -> list[Array]:
        """He-normal weights (fan-in = all but the first weight axis), zero biases."""
        out: list[Array] = []
        for k, shp in enumerate(self.param_shapes(in_shape)):
            if k == 0:
                std = math.sqrt(2.0 / max(1, int(np.prod(shp[1:]))))
                out.append((rng.standard_normal(shp) * std).astype(dtype))
            else:
                out.append(np.zeros(shp, dtype=dtype))
        return out

    def forward(self, x: Array, params: Sequence[Array]) -> Array:
        """Output for a batch ``x`` (N, ...); caches what :meth:`backward` needs."""
        raise NotImplementedError

    def backward(self, dy: Array, params: Sequence[Array]) -> tuple[Array, list[Array]]:
        """Gradients ``(dL/dx, [dL/dblob for each blob])`` from ``dy = dL/dy``."""
        raise NotImplementedError

    def fill_proto(self, lp: caffe_pb2.LayerParameter) -> None:
        """Set the layer-specific parameter message of the exported Caffe layer."""


class Conv2d(Module):
    """2-D convolution (square kernel, equal padding and stride on both axes), via im2col.

    Blobs: weight (out_channels, in_channels, k, k), bias (out_channels,).
    """

    CAFFE_TYPE = "Convolution"

    def __init__(
        self,
        name: str,
        in_channels: int,
        out_channels: int,
        kernel: int,
        pad: int = 0,
        stride: int = 1,
    ) -> None:
        super().__init__(name)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel = kernel
        self.pad = pad
        self.stride = stride
        self._cols: Array | None = None
        self._x_shape: Shape = ()

    def output_shape(self, in_shape: Shape) -> Shape:
        c, h, w = in_shape
        if c != self.in_channels:
            raise ShapeError(self.name, f"expects {self.in_channels} input channels, got {c}")
        oh = conv_out_size(h, self.kernel, self.pad, self.stride)
        ow = conv_out_size(w, self.kernel, self.pad, self.stride)
        if oh <= 0 or ow <= 0:
            raise ShapeError(self.name, f"input {h}x{w} is smaller than the kernel")
        return (self.out_channels, oh, ow)

    def param_shapes(self, in_shape: Shape) -> list[Shape]:
        k = self.kernel
        return [(self.out_channels, self.in_channels, k, k), (self.out_channels,)]

    def forward(self, x: Array, params: Sequence[Array]) -> Array:
        w, b = params
        cols, oh, ow = im2col(x, self.kernel, self.kernel, self.pad, self.stride)
        self._cols, self._x_shape = cols, tuple(x.shape)
        y = cols @ w.reshape(self.out_channels, -1).T + b
        return np.ascontiguousarray(y.reshape(x.shape[0], oh, ow, -1).transpose(0, 3, 1, 2))

    def backward(self, dy: Array, params: Sequence[Array]) -> tuple[Array, list[Array]]:
        w, _ = params
        if self._cols is None:
            raise RuntimeError(f"{self.name}: backward before forward")
        d2 = dy.transpose(0, 2, 3, 1).reshape(-1, self.out_channels)
        dw = (d2.T @ self._cols).reshape(w.shape)
        db = d2.sum(axis=0)
        dcols = d2 @ w.reshape(self.out_channels, -1)
        k = self.kernel
        dx = col2im(dcols, self._x_shape, k, k, self.pad, self.stride)
        return dx, [dw, db]

    def fill_proto(self, lp: caffe_pb2.LayerParameter) -> None:
        p = lp.convolution_param
        p.num_output = self.out_channels
        p.kernel_size.append(self.kernel)
        if self.pad:
            p.pad.append(self.pad)
        if self.stride != 1:
            p.stride.append(self.stride)


class ReLU(Module):
    """Rectified linear unit, ``max(x, 0)`` (exported in place, as Caffe nets do)."""

    CAFFE_TYPE = "ReLU"
    IN_PLACE = True

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._mask: Array | None = None

    def forward(self, x: Array, params: Sequence[Array]) -> Array:
        self._mask = x > 0
        return np.where(self._mask, x, np.zeros((), dtype=x.dtype))

    def backward(self, dy: Array, params: Sequence[Array]) -> tuple[Array, list[Array]]:
        if self._mask is None:
            raise RuntimeError(f"{self.name}: backward before forward")
        return np.where(self._mask, dy, np.zeros((), dtype=dy.dtype)), []


class MaxPool2d(Module):
    """Max pooling with Caffe's ceil-mode geometry (square window, equal stride and pad)."""

    CAFFE_TYPE = "Pooling"

    def __init__(self, name: str, kernel: int, stride: int | None = None, pad: int = 0) -> None:
        super().__init__(name)
        self.kernel = kernel
        self.stride = kernel if stride is None else stride
        self.pad = pad
        self._arg: Array | None = None
        self._x_shape: Shape = ()

    def _out(self, size: int) -> int:
        o = -(-(size + 2 * self.pad - self.kernel) // self.stride) + 1
        # Caffe drops a last window that would start inside the padding.
        if self.pad and (o - 1) * self.stride >= size + self.pad:
            o -= 1
        return o

    def output_shape(self, in_shape: Shape) -> Shape:
        c, h, w = in_shape
        if self.pad >= self.kernel:
            raise ShapeError(self.name, f"pad {self.pad} must be smaller than kernel {self.kernel}")
        return (c, self._out(h), self._out(w))

    def _padded_geometry(self, h: int, w: int) -> tuple[int, int, int, int]:
        oh, ow = self._out(h), self._out(w)
        hp = max(h + 2 * self.pad, (oh - 1) * self.stride + self.kernel)
        wp = max(w + 2 * self.pad, (ow - 1) * self.stride + self.kernel)
        return oh, ow, hp, wp

    def forward(self, x: Array, params: Sequence[Array]) -> Array:
        n, c, h, w = x.shape
        k, s, p = self.kernel, self.stride, self.pad
        oh, ow, hp, wp = self._padded_geometry(h, w)
        xp = np.full((n, c, hp, wp), -np.inf, dtype=x.dtype)
        xp[:, :, p : p + h, p : p + w] = x
        taps = np.stack(
            [xp[:, :, i : i + s * oh : s, j : j + s * ow : s] for i in range(k) for j in range(k)]
        )
        # argmax returns the first maximum: Caffe's tie rule in row-major window order.
        self._arg = taps.argmax(axis=0)
        self._x_shape = tuple(x.shape)
        return np.take_along_axis(taps, self._arg[None], axis=0)[0]

    def backward(self, dy: Array, params: Sequence[Array]) -> tuple[Array, list[Array]]:
        if self._arg is None:
            raise RuntimeError(f"{self.name}: backward before forward")
        n, c, h, w = self._x_shape
        k, s, p = self.kernel, self.stride, self.pad
        oh, ow, hp, wp = self._padded_geometry(h, w)
        dxp = np.zeros((n, c, hp, wp), dtype=dy.dtype)
        zero = np.zeros((), dtype=dy.dtype)
        for t in range(k * k):
            i, j = divmod(t, k)
            dxp[:, :, i : i + s * oh : s, j : j + s * ow : s] += np.where(self._arg == t, dy, zero)
        return dxp[:, :, p : p + h, p : p + w], []

    def fill_proto(self, lp: caffe_pb2.LayerParameter) -> None:
        p = lp.pooling_param
        p.pool = caffe_pb2.PoolingParameter.MAX
        p.kernel_size = self.kernel
        p.stride = self.stride
        if self.pad:
            p.pad = self.pad


class InnerProduct(Module):
    """Fully connected layer on the flattened (C, H, W) sample: ``y = x @ W.T + b``.

    Blobs: weight (out_features, in_features), bias (out_features,).
    """

    CAFFE_TYPE = "InnerProduct"

    def __init__(self, name: str, in_features: int, out_features: int) -> None:
        super().__init__(name)
        self.in_features = in_features
        self.out_features = out_features
        self._x: Array | None = None
        self._x_shape: Shape = ()

    def output_shape(self, in_shape: Shape) -> Shape:
        k = int(np.prod(in_shape))
        if k != self.in_features:
            raise ShapeError(self.name, f"expects {self.in_features} inputs, got {in_shape}")
        return (self.out_features,)

    def param_shapes(self, in_shape: Shape) -> list[Shape]:
        return [(self.out_features, self.in_features), (self.out_features,)]

    def forward(self, x: Array, params: Sequence[Array]) -> Array:
        w, b = params
        self._x_shape = tuple(x.shape)
        self._x = x.reshape(x.shape[0], -1)
        return self._x @ w.T + b

    def backward(self, dy: Array, params: Sequence[Array]) -> tuple[Array, list[Array]]:
        w, _ = params
        if self._x is None:
            raise RuntimeError(f"{self.name}: backward before forward")
        return (dy @ w).reshape(self._x_shape), [dy.T @ self._x, dy.sum(axis=0)]

    def fill_proto(self, lp: caffe_pb2.LayerParameter) -> None:
        lp.inner_product_param.num_output = self.out_features


class Softmax(Module):
    """Softmax over axis 1 (channels), as Caffe's ``Softmax`` layer with its default axis."""

    CAFFE_TYPE = "Softmax"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._y: Array | None = None

    def forward(self, x: Array, params: Sequence[Array]) -> Array:
        self._y = softmax(x)
        return self._y

    def backward(self, dy: Array, params: Sequence[Array]) -> tuple[Array, list[Array]]:
        if self._y is None:
            raise RuntimeError(f"{self.name}: backward before forward")
        y = self._y
        return y * (dy - (dy * y).sum(axis=1, keepdims=True)), []


def softmax(x: Array) -> Array:
    """Numerically stable softmax over axis 1, in the dtype of ``x``."""
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits: Array, labels: Array) -> tuple[float, Array]:
    """Mean cross-entropy of ``softmax(logits)`` against integer labels, and its gradient.

    Args:
        logits: Scores, shape (N, K).
        labels: Class indices, shape (N,), integers in ``[0, K)``.

    Returns:
        ``(loss, dL/dlogits)``; the gradient has the dtype and shape of ``logits``.
    """
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    loss = float(-logp[rows, labels].mean())
    grad = np.exp(logp)
    grad[rows, labels] -= 1.0
    return loss, grad / n


# =================================================================================== network
class Sequential:
    """A chain of modules with a fixed per-sample input shape.

    Args:
        modules: The layers, in order; names must be unique.
        input_shape: One sample's shape (C, H, W).

    Raises:
        ShapeError: a layer does not accept its input shape (names the layer).
    """

    def __init__(self, modules: Sequence[Module], input_shape: Shape) -> None:
        names = [m.name for m in modules]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate layer names in {names}")
        self.modules = list(modules)
        self.input_shape = tuple(input_shape)
        self.in_shapes: list[Shape] = []
        shp = self.input_shape
        for m in self.modules:
            self.in_shapes.append(shp)
            shp = m.output_shape(shp)
        self.output_shape: Shape = shp

    def init_params(self, rng: np.random.Generator, dtype: type = np.float32) -> Params:
        """Seeded initial parameters for every layer that has blobs."""
        out: Params = {}
        for m, s in zip(self.modules, self.in_shapes):
            blobs = m.init_params(s, rng, dtype)
            if blobs:
                out[m.name] = blobs
        return out

    def forward(self, x: Array, params: Params) -> Array:
        """Run the chain on a batch (N, C, H, W); keeps each layer's backward cache."""
        for m in self.modules:
            x = m.forward(x, params.get(m.name, []))
        return x

    def backward(self, dy: Array, params: Params) -> Params:
        """Back-propagate ``dL/doutput`` through the last :meth:`forward`; gradients by layer."""
        grads: Params = {}
        for m in reversed(self.modules):
            dy, g = m.backward(dy, params.get(m.name, []))
            if g:
                grads[m.name] = g
        return grads

    def to_net_parameter(
        self, net_name: str, input_blob: str = "data", batch: int = 1
    ) -> caffe_pb2.NetParameter:
        """The deploy network as a Caffe ``NetParameter`` (an ``Input`` layer, then the chain).

        Each layer's top is its own name, except in-place layers, which overwrite their bottom.
        """
        net = caffe_pb2.NetParameter()
        net.name = net_name
        inp = net.layer.add()
        inp.name, inp.type = input_blob, "Input"
        inp.top.append(input_blob)
        inp.input_param.shape.add().dim.extend([batch, *self.input_shape])
        blob = input_blob
        for m in self.modules:
            lp = net.layer.add()
            lp.name, lp.type = m.name, m.CAFFE_TYPE
            lp.bottom.append(blob)
            if not m.IN_PLACE:
                blob = m.name
            lp.top.append(blob)
            m.fill_proto(lp)
        return net


# =================================================================================== optimizers
class SGD:
    """Stochastic gradient descent with (heavy-ball) momentum and L2 weight decay.

    Weight decay applies to blobs of two or more dimensions (weights), never to biases.
    """

    def __init__(self, lr: float, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self._v: Params = {}

    def step(self, params: Params, grads: Params) -> None:
        """Update ``params`` in place from ``grads`` (same keys and blob shapes)."""
        for name, gs in grads.items():
            vs = self._v.setdefault(name, [np.zeros_like(g) for g in gs])
            for p, g, v in zip(params[name], gs, vs):
                if self.weight_decay and p.ndim >= 2:
                    g = g + self.weight_decay * p
                v *= self.momentum
                v -= self.lr * g
                p += v


class Adam:
    """Adam (Kingma & Ba) with bias correction and L2 weight decay on weights (not biases)."""

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.lr = lr
        self.b1, self.b2 = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.t = 0
        self._m: Params = {}
        self._v: Params = {}

    def step(self, params: Params, grads: Params) -> None:
        """Update ``params`` in place from ``grads`` (same keys and blob shapes)."""
        self.t += 1
        c1 = 1.0 - self.b1**self.t
        c2 = 1.0 - self.b2**self.t
        for name, gs in grads.items():
            ms = self._m.setdefault(name, [np.zeros_like(g) for g in gs])
            vs = self._v.setdefault(name, [np.zeros_like(g) for g in gs])
            for p, g, m, v in zip(params[name], gs, ms, vs):
                if self.weight_decay and p.ndim >= 2:
                    g = g + self.weight_decay * p
                m *= self.b1
                m += (1.0 - self.b1) * g
                v *= self.b2
                v += (1.0 - self.b2) * g * g
                p -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)
