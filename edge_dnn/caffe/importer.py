"""Caffe network (prototxt + optional caffemodel) -> :class:`edge_dnn.graph.Graph`."""

from __future__ import annotations

import dataclasses
import os
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from edge_dnn.caffe.caffemodel import blob_to_array, read_caffemodel, write_caffemodel
from edge_dnn.caffe.prototxt import read_prototxt
from edge_dnn.errors import (
    EdgeDnnError,
    GraphError,
    UnknownBlobError,
    UnknownLayerTypeError,
    UnsupportedParameterError,
    WeightsMismatchError,
)
from edge_dnn.graph import Graph, Node
from edge_dnn.layers.base import Layer
from edge_dnn.layers.registry import LAYERS

_DUP_SEP = "#"
"""Separator of the suffix that makes repeated Caffe layer names unique (``conv#1``)."""


def load_caffe(
    prototxt: str | os.PathLike[str],
    caffemodel: str | os.PathLike[str] | None = None,
) -> Graph:
    """Import a Caffe network.

    Args:
        prototxt: Path of the text network definition (current, V1 or V0 format).
        caffemodel: Optional binary weights (V2 or V1 layers); matched to layers by name, so a
            train-time binary with data and loss layers is fine.

    Returns:
        The graph, in TEST phase, with parameters bound when ``caffemodel`` is given.

    Raises:
        PrototxtSyntaxError: the text is not valid (names file, line, column).
        UnknownLayerTypeError: a layer type edge-dnn does not implement.
        UnknownBlobError, GraphCycleError, ShapeError: structural errors (name the layer).
        CorruptModelError: the caffemodel is truncated or corrupt.
        WeightsMismatchError: caffemodel blobs missing or of the wrong shape (names the layer).
    """
    ppath = os.fspath(prototxt)
    net = read_prototxt(ppath)
    graph = graph_from_net(net, path=ppath)
    if caffemodel is not None:
        load_weights(graph, caffemodel)
    return graph


def graph_from_net(net: Any, path: str | None = None) -> Graph:
    """Build a graph from a V2, phase-filtered ``NetParameter`` (see :mod:`.prototxt`)."""
    layers = list(net.layer)
    # SSA: the last writer of each Caffe blob keeps its name (Caffe's post-forward meaning).
    last_writer: dict[str, int] = {}
    for i, lp in enumerate(layers):
        for t in lp.top:
            last_writer[t] = i
    current: dict[str, str] = {}
    seen_names: dict[str, int] = defaultdict(int)
    nodes: list[Node] = []
    for i, lp in enumerate(layers):
        cls = LAYERS.get(lp.type)
        if cls is None:
            raise UnknownLayerTypeError(lp.name or f"#{i}", lp.type, list(LAYERS))
        name = lp.name or f"{lp.type.lower()}{i}"
        k = seen_names[name]
        seen_names[name] += 1
        node_name = name if k == 0 else f"{name}{_DUP_SEP}{k}"
        layer = _make_layer(cls, lp, node_name)
        inputs = []
        for b in lp.bottom:
            if b not in current:
                raise UnknownBlobError(node_name, b)
            inputs.append(current[b])
        outputs = []
        for t in lp.top:
            tname = t if last_writer[t] == i else f"{t}@{node_name}"
            current[t] = tname
            outputs.append(tname)
        n_in = len(inputs)
        if n_in < cls.MIN_INPUTS or (cls.MAX_INPUTS is not None and n_in > cls.MAX_INPUTS):
            want = (
                f"{cls.MIN_INPUTS}"
                if cls.MIN_INPUTS == cls.MAX_INPUTS
                else f"{cls.MIN_INPUTS}..{cls.MAX_INPUTS if cls.MAX_INPUTS is not None else 'n'}"
            )
            raise GraphError(f"layer '{node_name}' ({lp.type}) takes {want} bottom(s), got {n_in}")
        params = [blob_to_array(b) for b in lp.blobs]
        nodes.append(Node(node_name, layer, inputs, outputs, params))
    if not nodes:
        raise GraphError(f"{path or 'network'}: no layers")
    return Graph(net.name or (os.path.basename(path) if path else "net"), nodes)


def _make_layer(cls: type[Layer], lp: Any, node_name: str) -> Layer:
    try:
        layer = cls.from_proto(lp)
    except EdgeDnnError:
        raise
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise UnsupportedParameterError(node_name, f"cannot read parameters: {exc}") from exc
    if layer.name != node_name:
        layer = dataclasses.replace(layer, name=node_name)
    return layer


def load_weights(graph: Graph, caffemodel: str | os.PathLike[str]) -> None:
    """Bind the blobs of a binary caffemodel to the graph's layers, matched by name.

    The k-th layer called ``name`` in the prototxt takes the k-th layer of that name in the
    caffemodel. Layers the caffemodel has but the graph lacks (data, loss) are ignored.

    Raises:
        CorruptModelError: unreadable file.
        WeightsMismatchError: a layer that needs blobs has none, or blobs of the wrong shape.
    """
    wpath = os.fspath(caffemodel)
    wnet = read_caffemodel(wpath)
    by_name: dict[str, list[Any]] = defaultdict(list)
    for lp in wnet.layer:
        by_name[lp.name].append(lp)
    for n in graph.nodes:
        base, _, k = n.name.partition(_DUP_SEP)
        cands = by_name.get(base, [])
        idx = int(k) if k else 0
        need = n.layer.param_shapes([graph.shapes[t] for t in n.inputs])
        if not cands or not cands[min(idx, len(cands) - 1)].blobs:
            if need:
                raise WeightsMismatchError(
                    n.name,
                    f"needs {len(need)} blob(s) of shapes {[list(s) for s in need]} but the "
                    "caffemodel has none for it",
                    path=wpath,
                )
            continue
        src = cands[min(idx, len(cands) - 1)]
        try:
            n.params = [blob_to_array(b) for b in src.blobs]
        except EdgeDnnError as exc:
            raise WeightsMismatchError(n.name, str(exc), path=wpath) from exc
    try:
        graph.infer_shapes()
    except WeightsMismatchError as exc:
        raise WeightsMismatchError(exc.layer, str(exc).split(": ", 1)[-1], path=wpath) from exc


def save_caffemodel(graph: Graph, path: str | os.PathLike[str]) -> None:
    """Write the graph's parameters as a binary caffemodel (V2 ``layer`` with ``BlobShape``)."""
    missing = graph.missing_params()
    if missing:
        raise WeightsMismatchError(missing[0], "has no parameters to write")
    entries: list[tuple[str, str, Sequence[np.ndarray]]] = []
    for n in graph.nodes:
        base = n.name.partition(_DUP_SEP)[0]
        entries.append((base, n.type, n.params))
    write_caffemodel(entries, os.fspath(path))
