"""Graph passes: small named rewrites of a :class:`~edge_dnn.graph.Graph` (FINN style).

A pass never mutates the graph it is given: :meth:`GraphPass.apply` copies every node (and
every parameter blob) into a :class:`WorkGraph`, rewrites the copy and builds a new
:class:`~edge_dnn.graph.Graph`, which re-runs topological sorting, shape inference and the
parameter checks, so a pass cannot silently produce an inconsistent network.

Tensor names. Graph tensors are SSA (see :mod:`edge_dnn.graph`): the last writer of a Caffe blob
keeps the blob's name. When a pass removes a one-in/one-out node ``x -> N -> y`` whose output is
value-equivalent to a rewritten producer (an identity, or an affine layer folded into the
producer), the surviving tensor takes the *later* name ``y``: the producer's output ``x`` is
renamed ``y`` everywhere. So every tensor name that exists both before and after a pass holds the
same values, and the network output names never change. Only when ``x`` cannot be renamed (it is
a network output or a network input) is ``y`` replaced by ``x`` in its consumers instead; if ``y``
is a network output as well, the node is kept.

The default pipeline (:data:`DEFAULT_PASSES`, what the quantizer runs; see :func:`run_passes`):

1. ``remove_dropout`` (:class:`~edge_dnn.passes.identity.RemoveDropout`): drop inference-time
   identities (Dropout, one-top Split, ``Power(1, 1, 0)``).
2. ``fold_batch_norm`` (:class:`~edge_dnn.passes.fold.FoldBatchNorm`): BatchNorm into the
   preceding Convolution / InnerProduct / Deconvolution.
3. ``fold_scale`` (:class:`~edge_dnn.passes.fold.FoldScale`): one-bottom per-channel Scale and
   Bias into the same producers (after 2, ResNet's BatchNorm+Scale pairs are gone).
4. ``fold_power`` (:class:`~edge_dnn.passes.fold.FoldPower`): ``Power`` with ``power == 1`` and a
   test-time scaling Dropout (``scale_train: false``) into the same producers.
5. ``standalone_affine_to_scale``
   (:class:`~edge_dnn.passes.fold.StandaloneAffineToScale`): every BatchNorm left becomes an
   equivalent ``Scale`` with bias (one per-channel affine op for the engine).
6. ``fold_affine`` (:class:`~edge_dnn.passes.fold.FoldAffine`): whatever affine layers are left
   are folded into a preceding weight layer or merged into a preceding one-bottom Scale/Bias
   (catches unusual orders such as Scale before BatchNorm, and BatchNorm+Scale after an
   Eltwise or Concat).
7. ``fuse_relu`` (:class:`~edge_dnn.passes.fuse.FuseReLU`): plain ReLUs into the
   ``relu`` flag of Convolution, InnerProduct and Eltwise SUM. Last, so that folding (which must
   happen before the non-linearity) is never blocked by a fused ReLU.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from edge_dnn.errors import GraphError
from edge_dnn.graph import Graph, Node
from edge_dnn.layers.base import Shape
from edge_dnn.layers.input import Input


class WorkGraph:
    """A mutable, private copy of a graph's nodes that passes rewrite in place.

    Node objects and parameter arrays are copies, so rewriting them never touches the source
    graph. Tensor -> producer/consumer indices are rebuilt lazily after structural changes.

    Attributes:
        name: Network name.
        nodes: Copied nodes (topological order until the first structural change).
        outputs: Network output tensor names (passes never change them).
        shapes: Tensor name -> shape (NCHW), as inferred on the source graph.
    """

    def __init__(self, graph: Graph) -> None:
        self.name = graph.name
        self.nodes: list[Node] = [
            Node(n.name, n.layer, list(n.inputs), list(n.outputs), [p.copy() for p in n.params])
            for n in graph.nodes
        ]
        self.outputs: list[str] = list(graph.outputs)
        self.shapes: dict[str, Shape] = dict(graph.shapes)
        self._producer: dict[str, Node] | None = None
        self._uses: dict[str, list[Node]] | None = None

    # ------------------------------------------------------------------ queries
    def _index(self) -> tuple[dict[str, Node], dict[str, list[Node]]]:
        if self._producer is None or self._uses is None:
            producer: dict[str, Node] = {}
            uses: dict[str, list[Node]] = {}
            for n in self.nodes:
                for t in n.outputs:
                    producer[t] = n
                for t in n.inputs:
                    uses.setdefault(t, []).append(n)
            self._producer, self._uses = producer, uses
        return self._producer, self._uses

    def producer(self, tensor: str) -> Node:
        """The node producing ``tensor``."""
        return self._index()[0][tensor]

    def uses(self, tensor: str) -> list[Node]:
        """The readers of ``tensor``, one entry per use (a node reading it twice: twice)."""
        return list(self._index()[1].get(tensor, []))

    def sole_consumer(self, tensor: str) -> Node | None:
        """The node that is the only reader of ``tensor``, or None.

        A network output counts as an extra reader: its value must survive the rewrite.
        """
        uses = self.uses(tensor)
        if len(uses) != 1 or tensor in self.outputs:
            return None
        return uses[0]

    def is_pinned(self, tensor: str) -> bool:
        """Whether ``tensor``'s name must not change (a network input or output)."""
        return tensor in self.outputs or isinstance(self.producer(tensor).layer, Input)

    def contains(self, node: Node) -> bool:
        """Whether ``node`` (this very object) is still part of the graph."""
        return any(n is node for n in self.nodes)

    # ------------------------------------------------------------------ rewrites
    def bypass(self, node: Node) -> bool:
        """Remove a one-input, one-output node whose output equals (now) its input.

        The caller guarantees the equivalence (an identity layer, or an affine layer that was
        just folded into the producer of its input). ``x -> node -> y`` becomes ``y``: the
        input ``x`` is renamed ``y`` everywhere (its producer writes ``y``), which keeps the
        SSA convention that a name means the value of the blob's last writer. If ``x`` is
        pinned (network input or output), ``y``'s readers read ``x`` instead; if ``y`` is a
        network output too, the node cannot be removed.

        Returns:
            Whether the node was removed.
        """
        if len(node.inputs) != 1 or len(node.outputs) != 1:
            return False
        x, y = node.inputs[0], node.outputs[0]
        if not self.is_pinned(x):
            self._drop(node)
            self._rename(x, y)
            return True
        if y not in self.outputs:
            self._drop(node)
            self._rename(y, x)
            return True
        return False

    def _drop(self, node: Node) -> None:
        self.nodes = [n for n in self.nodes if n is not node]
        self._producer = self._uses = None

    def _rename(self, old: str, new: str) -> None:
        for n in self.nodes:
            n.inputs = [new if t == old else t for t in n.inputs]
            n.outputs = [new if t == old else t for t in n.outputs]
        self.shapes[new] = self.shapes.pop(old)
        self._producer = self._uses = None

    def to_graph(self, pass_name: str = "") -> Graph:
        """Build the resulting :class:`Graph` (re-sorted, shapes and blobs re-checked).

        Raises:
            GraphError: the rewritten graph is inconsistent (names the pass).
        """
        try:
            return Graph(self.name, self.nodes, self.outputs)
        except GraphError as exc:
            raise GraphError(f"graph pass '{pass_name}' produced an invalid graph: {exc}") from exc


class GraphPass:
    """A named graph rewrite.

    Subclasses set :attr:`name` and implement either :meth:`rewrite` (whole-graph) or
    :meth:`rewrite_node` (local pattern; the default :meth:`rewrite` sweeps the nodes in order and
    repeats until nothing changes).
    """

    name: ClassVar[str] = ""
    """Short snake_case identifier of the pass (used in logs and error messages)."""

    def apply(self, graph: Graph) -> Graph:
        """Run the pass.

        Args:
            graph: The input graph; never modified.

        Returns:
            A new graph (new nodes, copied parameter blobs) computing the same function, with
            the same network input and output names.

        Raises:
            GraphError: the rewrite produced an invalid graph (a bug in the pass).
        """
        work = WorkGraph(graph)
        self.rewrite(work)
        return work.to_graph(self.name)

    def rewrite(self, work: WorkGraph) -> int:
        """Rewrite ``work`` in place; returns the number of local rewrites."""
        total = 0
        changed = True
        while changed:
            changed = False
            for node in list(work.nodes):
                if work.contains(node) and self.rewrite_node(work, node):
                    total += 1
                    changed = True
        return total

    def rewrite_node(self, work: WorkGraph, node: Node) -> bool:
        """Try to rewrite around ``node``; returns whether anything changed."""
        raise NotImplementedError(f"{type(self).__name__}.rewrite_node")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def copy_graph(graph: Graph) -> Graph:
    """An independent copy of ``graph`` (new nodes, copied parameter blobs)."""
    return WorkGraph(graph).to_graph("copy")


def run_passes(graph: Graph, passes: Iterable[GraphPass] | None = None) -> Graph:
    """Apply graph passes in order.

    Args:
        graph: The input graph; never modified.
        passes: The passes to run; default :data:`DEFAULT_PASSES` (the quantizer's pipeline:
            remove identities, fold BatchNorm/Scale/Bias/Power into the preceding weights,
            turn the remaining BatchNorms into Scale, merge affine chains, fuse ReLUs; see the
            module docstring for the order and why).

    Returns:
        A new graph computing the same float function (up to float32 rounding of the folded
        weights) with the same network input and output names. An empty pass list returns a
        copy.
    """
    todo: Sequence[GraphPass] = DEFAULT_PASSES if passes is None else list(passes)
    out = copy_graph(graph) if not todo else graph
    for p in todo:
        out = p.apply(out)
    return out


# The concrete passes subclass GraphPass, so they can only be imported once it is defined; the
# package __init__ imports this module first, which makes the cycle safe.
from edge_dnn.passes.fold import (  # noqa: E402
    FoldAffine,
    FoldBatchNorm,
    FoldPower,
    FoldScale,
    StandaloneAffineToScale,
)
from edge_dnn.passes.fuse import FuseReLU  # noqa: E402
from edge_dnn.passes.identity import RemoveDropout  # noqa: E402

DEFAULT_PASSES: tuple[GraphPass, ...] = (
    RemoveDropout(),
    FoldBatchNorm(),
    FoldScale(),
    FoldPower(),
    StandaloneAffineToScale(),
    FoldAffine(),
    FuseReLU(),
)
"""The quantizer's pipeline, in order (see the module docstring)."""
