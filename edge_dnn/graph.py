"""The graph IR: typed nodes over named tensors, in topological order, with shape inference.

Tensors are in SSA form: every tensor has exactly one producer. Caffe's in-place layers
(``bottom: "conv1" top: "conv1"``) therefore produce new tensors; the *last* writer of a Caffe
blob name keeps that name (so ``conv1`` means what Caffe's ``conv1`` blob holds after a forward
pass) and earlier versions are named ``"<blob>@<layer>"`` (``conv1@conv1`` is the convolution's
output before the in-place ReLU).
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from edge_dnn.errors import (
    GraphCycleError,
    GraphError,
    InputError,
    ShapeError,
    UnknownBlobError,
    WeightsMismatchError,
)
from edge_dnn.layers.base import Layer, Shape
from edge_dnn.layers.input import Input


@dataclasses.dataclass
class Node:
    """One layer instance in the graph.

    Attributes:
        name: Layer name (unique within a graph).
        layer: The layer definition with its attributes.
        inputs: Names of the consumed tensors, in bottom order.
        outputs: Names of the produced tensors, in top order.
        params: Parameter blobs (float32) in Caffe's blob order.
    """

    name: str
    layer: Layer
    inputs: list[str]
    outputs: list[str]
    params: list[np.ndarray] = dataclasses.field(default_factory=list)

    @property
    def type(self) -> str:
        """The Caffe layer type."""
        return self.layer.TYPE

    @property
    def num_params(self) -> int:
        """Number of scalar parameters in the blobs."""
        return int(sum(p.size for p in self.params))


@dataclasses.dataclass(frozen=True)
class LayerSummary:
    """One row of :meth:`Graph.summary`."""

    name: str
    type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    output_shapes: tuple[Shape, ...]
    params: int
    macs: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "name": self.name,
            "type": self.type,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "output_shapes": [list(s) for s in self.output_shapes],
            "params": self.params,
            "macs": self.macs,
        }


class Graph:
    """A network: nodes in topological order over SSA tensors.

    Args:
        name: Network name.
        nodes: The nodes; re-sorted topologically (stable: prototxt order is kept where
            possible). Net inputs are ``Input`` nodes.
        outputs: Network output tensors; default: every tensor no node consumes.

    Raises:
        GraphError: duplicate tensor producers or node names, unknown blobs, cycles, or shape
            inference failures (each error names the layer).
    """

    def __init__(
        self, name: str, nodes: Sequence[Node], outputs: Sequence[str] | None = None
    ) -> None:
        self.name = name
        self.nodes: list[Node] = _toposort(nodes)
        consumed = {t for n in self.nodes for t in n.inputs}
        produced = [t for n in self.nodes for t in n.outputs]
        if outputs is None:
            outputs = [t for t in produced if t not in consumed]
        for t in outputs:
            if t not in produced:
                raise GraphError(f"network output '{t}' is not produced by any layer")
        self.outputs: list[str] = list(outputs)
        self.shapes: dict[str, Shape] = {}
        self.infer_shapes()

    # ------------------------------------------------------------------ structure
    @property
    def inputs(self) -> dict[str, Shape]:
        """Network inputs: tensor name -> declared shape (NCHW)."""
        return {
            n.outputs[0]: self.shapes[n.outputs[0]]
            for n in self.nodes
            if isinstance(n.layer, Input)
        }

    def node(self, name: str) -> Node:
        """The node called ``name``."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no layer named '{name}' in network '{self.name}'")

    def producer(self, tensor: str) -> Node:
        """The node that produces ``tensor``."""
        for n in self.nodes:
            if tensor in n.outputs:
                return n
        raise KeyError(f"no tensor named '{tensor}' in network '{self.name}'")

    def consumers(self, tensor: str) -> list[Node]:
        """The nodes that read ``tensor``, in order."""
        return [n for n in self.nodes if tensor in n.inputs]

    @property
    def tensors(self) -> list[str]:
        """Every tensor name, in production order."""
        return [t for n in self.nodes for t in n.outputs]

    # ------------------------------------------------------------------ shapes
    def infer_shapes(self, input_shapes: Mapping[str, Shape] | None = None) -> dict[str, Shape]:
        """Run shape inference over the graph.

        Args:
            input_shapes: Overrides of the declared input shapes (e.g. another batch size). When
                given, the result is returned and the graph's own ``shapes`` are left unchanged.

        Returns:
            Tensor name -> shape.

        Raises:
            ShapeError: a layer rejects its input shapes (names the layer).
            WeightsMismatchError: a node's parameter blobs do not have the shapes it needs.
        """
        shapes: dict[str, Shape] = {}
        for n in self.nodes:
            if isinstance(n.layer, Input):
                shp = tuple(n.layer.shape)
                if input_shapes is not None and n.outputs[0] in input_shapes:
                    shp = tuple(int(d) for d in input_shapes[n.outputs[0]])
                shapes[n.outputs[0]] = shp
                continue
            in_shapes = [shapes[t] for t in n.inputs]
            try:
                outs = n.layer.output_shapes(in_shapes)
            except (ShapeError, GraphError):
                raise
            except (ValueError, IndexError, ZeroDivisionError, TypeError) as exc:
                raise ShapeError(n.name, f"shape inference failed: {exc}") from exc
            if len(outs) != len(n.outputs):
                raise ShapeError(
                    n.name, f"produces {len(outs)} outputs but the net declares {len(n.outputs)}"
                )
            for t, s in zip(n.outputs, outs):
                if any(int(d) < 0 for d in s):
                    raise ShapeError(n.name, f"negative output dimension {tuple(s)} for '{t}'")
                shapes[t] = tuple(int(d) for d in s)
            if n.params:
                if input_shapes is None:
                    _check_params(n, in_shapes)
                else:
                    need = n.layer.param_shapes(in_shapes)
                    have = [tuple(p.shape) for p in n.params]
                    if len(need) != len(have) or any(
                        _strip_ones(a) != _strip_ones(b) for a, b in zip(need, have)
                    ):
                        raise ShapeError(
                            n.name,
                            f"these input shapes need blobs {[list(x) for x in need]}, the layer "
                            f"has {[list(x) for x in have]}",
                        )
        if input_shapes is None:
            self.shapes = shapes
        return shapes

    # ------------------------------------------------------------------ execution
    def check_feeds(self, feeds: Mapping[str, np.ndarray] | np.ndarray) -> dict[str, np.ndarray]:
        """Validate network inputs: names, numeric dtype, rank, and shapes the network accepts.

        Args:
            feeds: Input tensor name -> array; a bare array for single-input networks.

        Returns:
            Input name -> the array as given (``np.asarray``, not copied or converted).

        Raises:
            InputError: missing or unknown inputs, non-numeric dtype, wrong rank, or shapes that
                shape inference rejects (e.g. a different channel count).
        """
        inputs = self.inputs
        if isinstance(feeds, np.ndarray):
            if len(inputs) != 1:
                raise InputError(
                    f"network '{self.name}' has {len(inputs)} inputs {sorted(inputs)}; "
                    "pass a dict {blob: array}"
                )
            feeds = {next(iter(inputs)): feeds}
        unknown = set(feeds) - set(inputs)
        if unknown:
            raise InputError(
                f"unknown input blob(s) {sorted(unknown)}; network inputs are {sorted(inputs)}"
            )
        missing = set(inputs) - set(feeds)
        if missing:
            raise InputError(f"missing input blob(s) {sorted(missing)}")
        out: dict[str, np.ndarray] = {}
        for k, v in feeds.items():
            a = np.asarray(v)
            if a.dtype.kind not in "fiu":
                raise InputError(f"input '{k}': dtype {a.dtype} is not numeric")
            if a.ndim != len(inputs[k]):
                raise InputError(
                    f"input '{k}': expected a {len(inputs[k])}-D array of shape {inputs[k]}, "
                    f"got shape {a.shape}"
                )
            out[k] = a
        shapes = {k: tuple(a.shape) for k, a in out.items()}
        if shapes != {k: inputs[k] for k in shapes}:
            try:
                self.infer_shapes(shapes)
            except ShapeError as exc:
                raise InputError(f"input shapes {shapes} do not fit the network: {exc}") from exc
        return out

    def run(
        self,
        feeds: Mapping[str, np.ndarray] | np.ndarray,
        outputs: Iterable[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Run the float golden model.

        Args:
            feeds: Input tensor name -> array (NCHW, converted to float32). A bare array is
                accepted for single-input networks.
            outputs: Tensor names to return; default: the network outputs.

        Returns:
            Tensor name -> float32 array.

        Raises:
            InputError: missing, unknown or mis-shaped inputs, or unknown requested outputs.
        """
        feeds = self.check_feeds(feeds)
        missing_w = self.missing_params()
        if missing_w:
            raise InputError(
                f"network '{self.name}' has no weights for layer(s) {missing_w[:5]}: load a "
                "caffemodel or call init_random_weights(seed)"
            )
        wanted = list(self.outputs if outputs is None else outputs)
        known = set(self.tensors)
        bad = [t for t in wanted if t not in known]
        if bad:
            raise InputError(f"unknown output blob(s) {bad} in network '{self.name}'")
        arrays = {k: np.ascontiguousarray(a, dtype=np.float32) for k, a in feeds.items()}
        # Free each intermediate as soon as its last consumer ran (peak memory = live set).
        remaining = {t: 0 for t in known}
        for n in self.nodes:
            for t in n.inputs:
                remaining[t] += 1
        keep = set(wanted)
        for n in self.nodes:
            if isinstance(n.layer, Input):
                continue
            ins = [arrays[t] for t in n.inputs]
            outs = n.layer.forward(ins, n.params)
            for t, a in zip(n.outputs, outs):
                arrays[t] = a
            for t in n.inputs:
                remaining[t] -= 1
                if remaining[t] == 0 and t not in keep:
                    del arrays[t]
        return {t: arrays[t] for t in wanted}

    # ------------------------------------------------------------------ reporting
    def summary(self) -> list[LayerSummary]:
        """Per layer: type, output shapes, parameter count and MACs."""
        rows = []
        for n in self.nodes:
            in_shapes = [self.shapes[t] for t in n.inputs]
            out_shapes = [self.shapes[t] for t in n.outputs]
            rows.append(
                LayerSummary(
                    name=n.name,
                    type=n.type,
                    inputs=tuple(n.inputs),
                    outputs=tuple(n.outputs),
                    output_shapes=tuple(out_shapes),
                    params=n.num_params,
                    macs=int(n.layer.macs(in_shapes, out_shapes)),
                )
            )
        return rows

    def format_summary(self) -> str:
        """The summary as a printable table with totals."""
        rows = self.summary()
        head = ("layer", "type", "output shape", "params", "MACs")
        table = [
            (
                r.name,
                r.type,
                " ".join("x".join(map(str, s)) for s in r.output_shapes),
                f"{r.params:,}",
                f"{r.macs:,}",
            )
            for r in rows
        ]
        widths = [max(len(head[i]), *(len(t[i]) for t in table)) for i in range(5)]
        fmt = "  ".join(f"{{:{'<' if i < 3 else '>'}{w}}}" for i, w in enumerate(widths))
        lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
        lines += [fmt.format(*t) for t in table]
        total_p = sum(r.params for r in rows)
        total_m = sum(r.macs for r in rows)
        lines.append(fmt.format(*("-" * w for w in widths)))
        lines.append(
            f"network '{self.name}': {len(rows)} layers, {total_p:,} parameters, "
            f"{total_m:,} MACs ({2 * total_m / 1e9:.3f} GOP)"
        )
        return "\n".join(lines)

    # ------------------------------------------------------------------ weights
    def init_random_weights(self, seed: int) -> None:
        """Replace every node's parameters with deterministic, well-scaled random values."""
        rng = np.random.default_rng(seed)
        for n in self.nodes:
            in_shapes = [self.shapes[t] for t in n.inputs]
            n.params = [
                np.ascontiguousarray(p, dtype=np.float32)
                for p in n.layer.init_params(in_shapes, rng)
            ]

    def missing_params(self) -> list[str]:
        """Names of the layers that need parameter blobs but have none."""
        out = []
        for n in self.nodes:
            need = n.layer.param_shapes([self.shapes[t] for t in n.inputs])
            if need and not n.params:
                out.append(n.name)
        return out


def _check_params(n: Node, in_shapes: Sequence[Shape]) -> None:
    """Check (and, for legacy 4-D padded blobs, reshape) a node's parameter blobs."""
    need = n.layer.param_shapes(in_shapes)
    if len(n.params) != len(need):
        raise WeightsMismatchError(
            n.name,
            f"expects {len(need)} blob(s) of shapes {[list(s) for s in need]}, "
            f"found {len(n.params)} of shapes {[list(p.shape) for p in n.params]}",
        )
    fixed = []
    for i, (p, s) in enumerate(zip(n.params, need)):
        if tuple(p.shape) != tuple(s):
            # Legacy num/channels/height/width blobs pad with leading 1s (1x1x64x1024 for an
            # InnerProduct weight); accept exactly that, never a different arrangement.
            if _strip_ones(p.shape) == _strip_ones(s):
                p = p.reshape(s)
            else:
                raise WeightsMismatchError(
                    n.name, f"blob {i}: expected shape {list(s)}, found {list(p.shape)}"
                )
        fixed.append(p)
    n.params = fixed


def _strip_ones(shape: Sequence[int]) -> tuple[int, ...]:
    s = list(shape)
    while s and s[0] == 1:
        s.pop(0)
    return tuple(s)


def _toposort(nodes: Sequence[Node]) -> list[Node]:
    """Kahn's algorithm, stable with respect to the given order."""
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        dup = sorted({x for x in names if names.count(x) > 1})
        raise GraphError(f"duplicate layer names {dup}")
    producer: dict[str, int] = {}
    for i, n in enumerate(nodes):
        for t in n.outputs:
            if t in producer:
                raise GraphError(
                    f"tensor '{t}' is produced by both '{nodes[producer[t]].name}' and '{n.name}'"
                )
            producer[t] = i
    deps: list[set[int]] = []
    for n in nodes:
        d = set()
        for t in n.inputs:
            if t not in producer:
                raise UnknownBlobError(n.name, t)
            d.add(producer[t])
        deps.append(d)
    users: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    indeg = [len(d) for d in deps]
    ready = [i for i, k in enumerate(indeg) if k == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in users[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                heapq.heappush(ready, j)
    if len(order) != len(nodes):
        stuck = [nodes[i].name for i in range(len(nodes)) if indeg[i] > 0]
        raise GraphCycleError(f"the graph has a cycle through layers {stuck}")
    return [nodes[i] for i in order]
