"""Partition: which layers run on the engine, which on the ARM, and where every tensor lives.

The rules are those of ``docs/engine.md`` section 9 and the ISA v1 limits, applied to the
quantized graph (batch 1):

* Convolution (dense, grouped, depthwise, dilated), InnerProduct, per-channel affine layers
  (depthwise 1x1), Pooling MAX / AVE, Eltwise SUM / MAX of two inputs, LRN across channels
  (8-bit, over a dense channel layout) run on the engine when
  their tensors are integers of one precision the overlay supports, their geometry fits the ISA
  fields, and a tiling exists for the overlay's buffers (:mod:`edge_dnn.compiler.tiling`);
* Concat along channels is addressing: its inputs are *views* into its buffer (no code), when
  no input needs a requantize step and some input comes from the engine;
* Split, Dropout (and Flatten / a flattening Reshape in front of an InnerProduct) are aliases
  for engine readers: they cost nothing; they become ARM steps only for ARM readers or network
  outputs;
* everything else runs on the ARM with its ``forward_int``, with the reason recorded;
* an engine Eltwise (SUM / MAX) is *fused* into the Convolution / InnerProduct producing one of
  its operands when that output has no other use (:func:`_fuse_eltwise`): the convolution then
  reads the other operand as a second input and writes the eltwise's output; its own output is
  never materialised.

Storage: every tensor the engine touches has a *root* (itself, or the concat whose buffer
holds it) and a block offset in that root; the root's physical channel map concatenates its
parts' maps (:func:`channel_map`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from edge_dnn.compiler.tiling import ConvSpec, EltSpec, NormSpec, PoolSpec, plan_layer
from edge_dnn.graph import Node
from edge_dnn.isa.format import DIM_BITS, KERNEL_BITS, MAX_AREA_CLASSES, Precision
from edge_dnn.isa.layout import block_channels, channel_blocks
from edge_dnn.layers.batch_norm import BatchNorm
from edge_dnn.layers.bias import Bias
from edge_dnn.layers.concat import Concat
from edge_dnn.layers.convolution import Convolution
from edge_dnn.layers.dropout import Dropout
from edge_dnn.layers.eltwise import Eltwise
from edge_dnn.layers.flatten import Flatten
from edge_dnn.layers.inner_product import InnerProduct
from edge_dnn.layers.input import Input
from edge_dnn.layers.lrn import LRN
from edge_dnn.layers.pooling import Pooling
from edge_dnn.layers.reshape import Reshape
from edge_dnn.layers.scale import Scale
from edge_dnn.layers.split import Split
from edge_dnn.overlay.config import OverlayConfig
from edge_dnn.quant import arith
from edge_dnn.quant.qgraph import NodeQuant, QuantizedGraph, TensorQuant

__all__ = ["Analysis", "EngineOp", "analyse", "tensor_chw"]

_ALIAS_ALL = (Split, Dropout)
"""Metadata layers every engine reader sees through."""
_ALIAS_IP = (Flatten, Reshape)
"""Metadata layers an InnerProduct reader sees through when they flatten from axis 1."""
_FUSABLE = (Convolution, InnerProduct)
"""Producers an Eltwise can be fused into (COMPUTE_TILE ``fuse_eltwise``)."""


def tensor_chw(shape: Sequence[int]) -> tuple[int, int, int]:
    """``(C, H, W)`` of a batch-1 tensor as the engine stores it (trailing axes folded into W)."""
    s = [int(d) for d in shape]
    c = s[1] if len(s) > 1 else 1
    h = s[2] if len(s) > 2 else 1
    w = int(np.prod(s[3:])) if len(s) > 3 else 1
    return c, h, w


def _prec(tq: TensorQuant) -> Precision:
    return Precision.INT16 if tq.dtype == "int16" else Precision.INT8


@dataclasses.dataclass
class EngineOp:
    """One layer that runs on the engine.

    Attributes:
        node: The graph node.
        nq: Its quantization.
        kind: ``conv`` (Convolution, InnerProduct, affine), ``pool``, ``eltwise`` or ``norm``
            (LRN).
        inputs: Source tensors after alias resolution (``Split`` / ``Flatten`` seen through).
        output: The output tensor.
        spec: The geometry / parameters the tiling and code generation use.
        index: Position in the graph (the command ``tag``).
        fused: The Eltwise fused behind this convolution's requantizer, or None. Then
            ``inputs`` is ``(convolution input, eltwise operand b)`` and ``output`` is the
            eltwise's output.
    """

    node: Node
    nq: NodeQuant
    kind: str
    inputs: tuple[str, ...]
    output: str
    spec: ConvSpec | PoolSpec | EltSpec | NormSpec
    index: int
    fused: str | None = None

    @property
    def name(self) -> str:
        """The layer name."""
        return self.node.name


@dataclasses.dataclass
class Analysis:
    """The result of :func:`analyse`.

    Attributes:
        shapes: Tensor shapes with batch 1.
        ops: Engine layers by name.
        arm: Layers that run on the ARM (name -> reason), including emitted metadata layers.
        absorbed: Metadata layers with no step of their own (name -> why).
        concats: Engine concats (name -> node).
        parent: Tensor -> (containing tensor, block offset) for concat parts.
        producer: Tensor -> producing node.
        consumers: Tensor -> consuming nodes.
        parts: Concat output -> its input tensors (after alias resolution), in order.
        maps: Physical channel map of every tensor (filled once the concats are known).
        fused: Eltwise fused into a convolution: eltwise name -> convolution name.
    """

    qg: QuantizedGraph
    cfg: OverlayConfig
    shapes: dict[str, tuple[int, ...]]
    ops: dict[str, EngineOp]
    arm: dict[str, str]
    absorbed: dict[str, str]
    concats: dict[str, Node]
    parent: dict[str, tuple[str, int]]
    producer: dict[str, Node]
    consumers: dict[str, list[Node]]
    parts: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    maps: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    fused: dict[str, str] = dataclasses.field(default_factory=dict)

    def writer(self, t: str) -> str | None:
        """The engine layer writing tensor ``t`` (a fused eltwise's convolution), or None."""
        p = self.producer.get(t)
        if p is None:
            return None
        name = self.fused.get(p.name, p.name)
        return name if name in self.ops else None

    # ------------------------------------------------------------------ storage
    def root(self, t: str) -> tuple[str, int]:
        """``(storage root, block offset)`` of tensor ``t``."""
        off = 0
        while t in self.parent:
            t, o = self.parent[t]
            off += o
        return t, off

    def blocks(self, t: str) -> int:
        """Physical channel blocks of ``t`` (its own part of a root)."""
        return len(self.channel_map(t)) // self.cbc(t)

    def cbc(self, t: str) -> int:
        """Channels per block of ``t``'s precision."""
        return block_channels(self.cfg, _prec(self.qg.tensors[t]))

    def chw(self, t: str) -> tuple[int, int, int]:
        """``(C, H, W)`` of ``t``."""
        return tensor_chw(self.shapes[t])

    def channel_map(self, t: str) -> np.ndarray:
        """Logical channel of every physical channel of ``t`` (``-1``: zero)."""
        hit = self.maps.get(t)
        if hit is not None:
            return hit
        parts = self.parts.get(t)
        if not parts:
            c = self.chw(t)[0]
            cbc = self.cbc(t)
            m = np.full(channel_blocks(c, self.cfg, _prec(self.qg.tensors[t])) * cbc, -1)
            m[:c] = np.arange(c)
            return m
        maps = []
        off = 0
        for i in parts:
            m = self.channel_map(i).copy()
            m[m >= 0] += off
            off += self.chw(i)[0]
            maps.append(m)
        return np.concatenate(maps)

    def standard(self, t: str) -> bool:
        """Whether ``t``'s channels are dense (channel ``c`` at physical ``c``)."""
        m = self.channel_map(t)
        c = self.chw(t)[0]
        return bool(np.array_equal(m[:c], np.arange(c)) and np.all(m[c:] < 0))

    def leaves(self, t: str) -> list[str]:
        """The tensors whose producers write root ``t`` (itself when not a concat)."""
        parts = self.parts.get(t)
        if not parts:
            return [t]
        return [x for p in parts for x in self.leaves(p)]


# ---------------------------------------------------------------------------- analysis
def analyse(qg: QuantizedGraph, cfg: OverlayConfig) -> Analysis:
    """Decide the placement of every layer and the storage of every engine tensor."""
    g = qg.graph
    shapes = g.infer_shapes({k: (1, *v[1:]) for k, v in g.inputs.items()})
    producer = {t: n for n in g.nodes for t in n.outputs}
    consumers: dict[str, list[Node]] = {t: [] for t in producer}
    for n in g.nodes:
        for t in n.inputs:
            if n not in consumers[t]:
                consumers[t].append(n)
    an = Analysis(qg, cfg, shapes, {}, {}, {}, {}, {}, producer, consumers)
    index = {n.name: i for i, n in enumerate(g.nodes)}

    # 1. compute layers
    for n in g.nodes:
        nq = qg.nodes[n.name]
        if isinstance(n.layer, (Input, Concat)):
            continue
        if nq.placement == "none" and not nq.float_path:
            continue
        why = _static_reason(an, n, nq)
        if why is not None:
            an.arm[n.name] = why
            continue
        op = _make_op(an, n, nq, index[n.name])
        if isinstance(op, str):
            an.arm[n.name] = op
            continue
        plan = plan_layer(cfg, op.spec, None)
        if isinstance(plan, str):
            an.arm[n.name] = f"no tiling fits the buffers: {plan}"
            continue
        an.ops[n.name] = op

    # 2. concats (addressing) and their views
    used_in_concat: set[str] = set()
    for n in g.nodes:
        if not isinstance(n.layer, Concat):
            continue
        why = _concat_reason(an, n, used_in_concat)
        if why is not None:
            an.arm[n.name] = why
            continue
        an.concats[n.name] = n
        c_off = 0
        out_t = n.outputs[0]
        srcs = [_source(an, t, "all") for t in n.inputs]
        an.parts[out_t] = srcs
        for src in srcs:
            used_in_concat.add(src)
            an.parent[src] = (out_t, c_off)
            c_off += len(an.channel_map(src)) // an.cbc(src)
    for t in an.producer:
        an.maps[t] = an.channel_map(t)

    # 3. specs over the real physical layouts (concat gaps), re-planned
    for name, op in list(an.ops.items()):
        why = _rebind(an, op)
        if why is None:
            plan = plan_layer(cfg, op.spec, None)
            why = f"no tiling fits the buffers: {plan}" if isinstance(plan, str) else None
        if why is not None:
            del an.ops[name]
            an.arm[name] = why

    # 4. metadata layers: absorbed for engine readers, ARM steps for the others
    outs = set(g.outputs)
    for n in g.nodes:
        nq = qg.nodes[n.name]
        if not (nq.placement == "none" and not nq.float_path) or n.name in an.arm:
            continue
        needed = any(t in outs for t in n.outputs) or any(
            not _reads_through(an, c, n) for t in n.outputs for c in consumers[t]
        )
        if needed:
            an.arm[n.name] = f"{n.type}: data movement for ARM readers (NCHW)"
        else:
            an.absorbed[n.name] = f"{n.type}: alias for engine readers"

    # 5. eltwise fused into the convolution producing one of its operands
    for op in list(an.ops.values()):
        if op.kind == "eltwise":
            _fuse_eltwise(an, op)
    return an


def _fuse_eltwise(an: Analysis, elt: EngineOp) -> None:
    """Fuse ``elt`` into the convolution producing one of its operands, when legal.

    The operand ``t`` must be the direct output of an engine Convolution / InnerProduct
    without a fused ReLU (a ReLU before the sum would change the result) whose only use is
    this eltwise (not a network output, no other reader, not part of a concat: a fused output
    is never materialised), of the eltwise's precision; the other operand ``b`` has the same
    shape and dense layout (checked for the eltwise already) and a tiling exists with ``b``
    loaded from DDR. When both operands qualify, the later convolution in graph order is fused
    (the earlier one's output is then ready when the fused layer runs).
    """
    assert isinstance(elt.spec, EltSpec)
    espec = elt.spec
    outs = set(an.qg.graph.outputs)
    ins = elt.node.inputs
    best: tuple[EngineOp, ConvSpec, str] | None = None
    for i, t in enumerate(ins):
        p = an.producer.get(t)
        conv = an.ops.get(p.name) if p is not None else None
        if conv is None or conv.kind != "conv" or conv.fused is not None:
            continue
        spec = conv.spec
        if not isinstance(spec, ConvSpec) or not isinstance(conv.node.layer, _FUSABLE):
            continue
        other = ins[1 - i]
        if (
            conv.output != t
            or other == t
            or t in outs
            or [c.name for c in an.consumers.get(t, [])] != [elt.name]
            or t in an.parent
            or t in an.parts
            or bool(getattr(conv.node.layer, "relu", False))
            or spec.prec != espec.prec
            or not an.standard(t)
        ):
            continue
        b = elt.inputs[1 - i]
        # the convolution is operand a: swap the operands' parameters when it is bottom 1
        fuse = espec if i == 0 else dataclasses.replace(
            espec, m_a=espec.m_b, m_b=espec.m_a, a_signed=espec.b_signed, b_signed=espec.a_signed
        )  # fmt: skip
        fspec = dataclasses.replace(spec, fuse=fuse)
        if isinstance(plan_layer(an.cfg, fspec, None), str):
            continue
        if best is None or conv.index > best[0].index:
            best = (conv, fspec, b)
    if best is None:
        return
    conv, fspec, b = best
    conv.spec = fspec
    conv.inputs = (conv.inputs[0], b)
    conv.output = elt.output
    conv.fused = elt.name
    an.fused[elt.name] = conv.name
    del an.ops[elt.name]


def _rebind(an: Analysis, op: EngineOp) -> str | None:
    """Rebuild ``op.spec`` over its inputs' physical channel maps; a reason if impossible."""
    n, nq, spec = op.node, op.nq, op.spec
    src = op.inputs[0]
    cmap = an.channel_map(src)
    if isinstance(spec, ConvSpec):
        layer = n.layer
        in_shape = an.shapes[src]
        if isinstance(layer, Convolution):
            op.spec = ConvSpec.convolution(
                an.cfg, spec.prec, in_shape, an.shapes[op.output], layer.kernel, layer.stride,
                layer.pad, layer.dilation, layer.group, nq, spec.qmin, spec.qmax, cmap,
            )  # fmt: skip
        elif isinstance(layer, InnerProduct):
            op.spec = ConvSpec.inner_product(
                an.cfg, spec.prec, in_shape, an.shapes[op.output], layer.transpose, nq,
                spec.qmin, spec.qmax, cmap,
            )  # fmt: skip
        else:
            op.spec = ConvSpec.affine(an.cfg, spec.prec, in_shape, nq, spec.qmin, spec.qmax, cmap)
        return None
    if not all(an.standard(t) for t in op.inputs):
        if isinstance(spec, NormSpec):
            return "LRN over a concat with channel gaps (its channel window needs dense channels)"
        return f"{n.type} over a concat with channel gaps (the output would need the same gaps)"
    if isinstance(spec, (PoolSpec, NormSpec)):
        spec.blocks = an.blocks(src)
    else:
        spec.blocks = an.blocks(src)
        if an.blocks(op.inputs[1]) != spec.blocks:
            return "eltwise operands of different layouts"
    return None


def _reads_through(an: Analysis, reader: Node, meta: Node) -> bool:
    """Whether ``reader`` sees through metadata layer ``meta`` (an engine alias)."""
    if reader.name in an.ops:
        kind = "ip" if isinstance(reader.layer, InnerProduct) else "all"
        return _alias_ok(an, meta, kind)
    if reader.name in an.concats:
        return _alias_ok(an, meta, "all")
    nq = an.qg.nodes[reader.name]
    if nq.placement == "none" and not nq.float_path and reader.name not in an.arm:
        return all(_reads_through(an, c, reader) for t in reader.outputs for c in an.consumers[t])
    return False


def _alias_ok(an: Analysis, meta: Node, kind: str) -> bool:
    if isinstance(meta.layer, _ALIAS_ALL):
        return True
    if kind == "ip" and isinstance(meta.layer, _ALIAS_IP):
        s_in, s_out = an.shapes[meta.inputs[0]], an.shapes[meta.outputs[0]]
        return len(s_out) == 2 and s_out[1] == int(np.prod(s_in[1:]))
    return False


def _source(an: Analysis, t: str, kind: str) -> str:
    """The tensor an engine reader of ``kind`` (``all`` / ``ip``) actually reads for ``t``."""
    while True:
        p = an.producer.get(t)
        if p is None or len(p.inputs) != 1:
            return t
        nq = an.qg.nodes[p.name]
        if nq.placement != "none" or nq.float_path or not _alias_ok(an, p, kind):
            return t
        t = p.inputs[0]


def _ints_of_one_precision(an: Analysis, nq: NodeQuant) -> str | None:
    tqs = [*nq.inputs, *nq.outputs]
    if any(t.is_float for t in tqs):
        return "float32 tensors"
    precs = {_prec(t) for t in tqs}
    if len(precs) != 1:
        return "mixes int8 and int16 tensors (the engine runs one precision per layer)"
    if Precision.INT16 in precs and "int16" not in an.cfg.pe.precisions:
        return f"int16 layer; overlay '{an.cfg.name}' supports int8 only"
    return None


def _static_reason(an: Analysis, n: Node, nq: NodeQuant) -> str | None:
    """Why ``n`` cannot run on the engine regardless of tiling, or None."""
    if nq.float_path:
        note = f" ({nq.notes[-1]})" if nq.notes and nq.placement == "arm" else ""
        return f"{n.type}: ARM float path{note}"
    if nq.placement != "engine":
        return f"{n.type}: ARM integer kernel"
    why = _ints_of_one_precision(an, nq)
    if why is not None:
        return why
    shapes = [an.shapes[t] for t in (*n.inputs, *n.outputs)]
    for s in shapes:
        _, h, w = tensor_chw(s)
        if h >= 1 << DIM_BITS or w >= 1 << DIM_BITS:
            return f"map {h}x{w} exceeds the ISA's 16-bit dimensions"
    return None


def _geometry_reason(
    kernel: Sequence[int], stride: Sequence[int], pad: Sequence[int], dil: Sequence[int]
) -> str | None:
    lim = (1 << KERNEL_BITS) - 1
    for what, v in (("kernel", kernel), ("stride", stride), ("pad", pad), ("dilation", dil)):
        if max(v) > lim:
            return f"{what} {tuple(v)} exceeds the ISA limit {lim}"
    return None


def _make_op(an: Analysis, n: Node, nq: NodeQuant, index: int) -> EngineOp | str:
    """The engine op of ``n`` or the reason it cannot be one."""
    layer = n.layer
    cfg = an.cfg
    prec = _prec(nq.inputs[0])
    out_tq = nq.outputs[0]
    if isinstance(layer, (Convolution, InnerProduct, Scale, Bias, BatchNorm)):
        kind = "ip" if isinstance(layer, InnerProduct) else "all"
        src = _source(an, n.inputs[0], kind)
        in_shape = an.shapes[src]
        out_shape = an.shapes[n.outputs[0]]
        relu = bool(getattr(layer, "relu", False))
        qmin = max(out_tq.qmin, 0) if relu else out_tq.qmin
        if isinstance(layer, Convolution):
            if len(in_shape) != 4:
                return "convolution input is not 4-D"
            why = _geometry_reason(layer.kernel, layer.stride, layer.pad, layer.dilation)
            if why:
                return why
            assert nq.weights is not None
            spec = ConvSpec.convolution(
                cfg,
                prec,
                in_shape,
                out_shape,
                layer.kernel,
                layer.stride,
                layer.pad,
                layer.dilation,
                layer.group,
                nq,
                qmin,
                out_tq.qmax,
            )
        elif isinstance(layer, InnerProduct):
            if canonical(layer.axis, len(an.shapes[n.inputs[0]])) != 1:
                return f"InnerProduct axis {layer.axis} (the engine flattens from axis 1)"
            spec = ConvSpec.inner_product(
                cfg, prec, in_shape, out_shape, layer.transpose, nq, qmin, out_tq.qmax
            )
        else:
            if len(in_shape) < 2:
                return "per-channel affine over a 1-D tensor"
            spec = ConvSpec.affine(cfg, prec, in_shape, nq, qmin, out_tq.qmax)
        return EngineOp(n, nq, "conv", (src,), n.outputs[0], spec, index)
    if isinstance(layer, Pooling):
        src = _source(an, n.inputs[0], "all")
        s = an.shapes[src]
        if len(s) != 4:
            return "pooling input is not 4-D"
        if layer.method not in ("MAX", "AVE"):
            return f"{layer.method} pooling"
        kernel, (oh, ow) = layer._geometry(s)
        stride, pad = ((1, 1), (0, 0)) if layer.global_pooling else (layer.stride, layer.pad)
        why = _geometry_reason(kernel, stride, pad, (1, 1))
        if why:
            return why
        if pad[0] >= kernel[0] or pad[1] >= kernel[1]:
            return f"pad {tuple(pad)} >= kernel {tuple(kernel)} (ISA v1 pooling)"
        for ax in (0, 1):
            lo, hi, _ = arith.caffe_pool_extents(
                s[2 + ax], kernel[ax], stride[ax], pad[ax], (oh, ow)[ax]
            )
            if np.any(hi <= lo):
                return "a pooling window lies wholly outside the input"
        areas: dict[int, tuple[int, int]] = {}
        if layer.method == "AVE":
            areas = {
                int(a): (int(m), int(s_)) for a, (m, s_) in nq.tables["avgpool"]["areas"].items()
            }
            if len(areas) > MAX_AREA_CLASSES:
                return (
                    f"{len(areas)} distinct average-pooling divisors (ISA limit {MAX_AREA_CLASSES})"
                )
        pspec = PoolSpec.make(
            cfg,
            prec,
            s,
            (oh, ow),
            kernel,
            stride,
            pad,
            layer.method == "AVE",
            areas,
            nq.inputs[0].dtype != "uint8",
            out_tq.qmin,
            out_tq.qmax,
        )
        return EngineOp(n, nq, "pool", (src,), n.outputs[0], pspec, index)
    if isinstance(layer, Eltwise):
        if len(n.inputs) != 2:
            return f"Eltwise with {len(n.inputs)} inputs (the engine adds two)"
        if layer.operation not in ("SUM", "MAX"):
            return f"Eltwise {layer.operation}"
        srcs = tuple(_source(an, t, "all") for t in n.inputs)
        if len({tensor_chw(an.shapes[t]) for t in srcs}) != 1:
            return "Eltwise operands of different shapes"
        qmin = max(out_tq.qmin, 0) if layer.relu else out_tq.qmin
        if layer.operation == "SUM":
            t = nq.tables["eltwise"]
            m = [int(v) for v in np.asarray(t["M"]).reshape(-1)]
            shift = int(t["S"])
        else:
            if any(r is not None for r in nq.tables.get("rescale", [])):
                return "Eltwise MAX with a requantize step"
            m, shift = [0, 0], 1
        espec = EltSpec(
            prec,
            layer.operation == "MAX",
            m[0],
            m[1],
            shift,
            nq.inputs[0].dtype != "uint8",
            nq.inputs[1].dtype != "uint8",
            qmin,
            out_tq.qmax,
            tensor_chw(an.shapes[srcs[0]]),
            an.blocks(srcs[0]),
        )
        return EngineOp(n, nq, "eltwise", srcs, n.outputs[0], espec, index)
    if isinstance(layer, LRN):
        table = nq.tables.get("lrn")
        if layer.norm_region != "ACROSS_CHANNELS" or table is None:
            return f"LRN {layer.norm_region}: no engine kernel"
        if prec != Precision.INT8:
            return "int16 LRN (the engine's LRN is 8-bit)"
        src = _source(an, n.inputs[0], "all")
        s = an.shapes[src]
        if len(s) != 4:
            return "LRN input is not 4-D"
        if layer.local_size >= 1 << KERNEL_BITS:
            return f"local_size {layer.local_size} exceeds the ISA limit {(1 << KERNEL_BITS) - 1}"
        nspec = NormSpec.make(
            cfg,
            prec,
            s,
            layer.local_size,
            table,
            nq.inputs[0].dtype != "uint8",
            out_tq.qmin,
            out_tq.qmax,
        )
        return EngineOp(n, nq, "norm", (src,), n.outputs[0], nspec, index)
    return f"{n.type}: no engine kernel"


def canonical(axis: int, ndim: int) -> int:
    """Caffe's canonical axis index."""
    return axis % ndim if -ndim <= axis < ndim else -1


def _concat_reason(an: Analysis, n: Node, used: set[str]) -> str | None:
    nq = an.qg.nodes[n.name]
    layer = n.layer
    assert isinstance(layer, Concat)
    out = nq.outputs[0]
    if out.is_float or nq.float_path:
        return "Concat of float32 blobs (ARM float region)"
    if canonical(layer.axis, len(an.shapes[n.outputs[0]])) != 1:
        return f"Concat along axis {layer.axis} (the engine concatenates channels)"
    if any(r is not None for r in nq.tables.get("rescale", [])):
        return "Concat input needs a requantize step"
    why = _ints_of_one_precision(an, nq)
    if why is not None:
        return why
    srcs = [_source(an, t, "all") for t in n.inputs]
    hw = {an.chw(t)[1:] for t in srcs}
    if len(hw) != 1:
        return "Concat inputs of different spatial sizes"
    if len(set(srcs)) != len(srcs) or any(s in used or s in an.parent for s in srcs):
        return "a Concat input is already part of another concat"
    engine_side = any(
        an.producer[s].name in an.ops or an.producer[s].name in an.concats for s in srcs
    ) or any(c.name in an.ops for c in an.consumers[n.outputs[0]])
    if not engine_side:
        return "Concat between ARM layers"
    return None


def describe(an: Analysis) -> dict[str, Any]:
    """Placement of every layer: ``engine``, ``fused``, ``concat``, ``arm``, ``absorbed`` or
    ``input``."""
    out: dict[str, Any] = {}
    for n in an.qg.graph.nodes:
        if n.name in an.ops:
            out[n.name] = "engine"
        elif n.name in an.fused:
            out[n.name] = "fused"
        elif n.name in an.concats:
            out[n.name] = "concat"
        elif n.name in an.arm:
            out[n.name] = "arm"
        elif n.name in an.absorbed:
            out[n.name] = "absorbed"
        else:
            out[n.name] = "input"
    return out
