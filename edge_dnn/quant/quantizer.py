"""Post-training quantization: float graph + calibration data -> :class:`QuantizedGraph`.

Pipeline (``docs/arithmetic.md`` is the contract every number here follows):

1. the default graph passes (:func:`edge_dnn.passes.run_passes`: BatchNorm/Scale folding,
   ReLU fusion, Dropout removal);
2. calibration (:func:`edge_dnn.quant.calibration.collect_ranges`): a threshold per tensor;
3. tensor parameters: ``scale = f32(threshold / qmax)``, zero point 0. Types: uint8 for
   non-negative tensors in int8 mode (fused-ReLU outputs, images, ...), int8 otherwise, int16 in
   int16 mode (``qmin = 0`` for non-negative producers). Data-movement layers, MAX pooling and
   plain ReLU keep their input's scale and type; the inputs of a Concat / Eltwise MAX are
   retargeted to the output's scale and type when their producer requantizes anyway and has no
   other reader (otherwise an explicit requantize step converts them). Blobs of ARM float regions
   (e.g. Softmax outputs, prior boxes) stay float32 (section 8.1);
4. node parameters: per-output-channel symmetric weights ([-127, 127] / [-32767, 32767]),
   biases in the accumulator scale, ``(M, S)`` per channel, pooling / eltwise / LUT tables,
   the factor table of an ACROSS_CHANNELS LRN (8-bit tensors; int16 LRN is a float layer);
5. placement: a layer whose 48-bit accumulator could overflow (section 3.4), or whose
   multiplier cannot be encoded, runs on the ARM float path (warning), or raises in ``strict``
   mode.

Precision: ``int8``, ``int16``, or ``mixed``: int8 first, then every layer whose *own* int8
SQNR (its output computed from float-exact inputs quantized to its input parameters, see
:func:`edge_dnn.quant.report.layer_sqnr`) falls below ``sqnr_threshold_db`` is promoted to int16
(its input and output tensors become int16, and its weights if it has any), a bounded number of
times. ``overrides`` force a layer's precision by name.

A tensor is int16 when any layer next to it (its producer or a reader) has precision int16; a
MAC layer (Convolution, InnerProduct, Deconvolution, per-channel affine) runs in int16 mode
(int16 weights, int48 bias) exactly when its input is int16.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterable, Mapping, Sized
from typing import Any, cast

import numpy as np

from edge_dnn.graph import Graph, Node
from edge_dnn.layers._int_ops import deconv_from_out_channel_view, deconv_out_channel_view
from edge_dnn.layers.arg_max import ArgMax
from edge_dnn.layers.batch_norm import BatchNorm
from edge_dnn.layers.bias import Bias
from edge_dnn.layers.concat import Concat
from edge_dnn.layers.convolution import Convolution
from edge_dnn.layers.crop import Crop
from edge_dnn.layers.deconvolution import Deconvolution
from edge_dnn.layers.detection_output import DetectionOutput
from edge_dnn.layers.dropout import Dropout
from edge_dnn.layers.eltwise import Eltwise
from edge_dnn.layers.flatten import Flatten
from edge_dnn.layers.inner_product import InnerProduct
from edge_dnn.layers.input import Input
from edge_dnn.layers.lrn import LRN
from edge_dnn.layers.permute import Permute
from edge_dnn.layers.pooling import Pooling
from edge_dnn.layers.prelu import PReLU
from edge_dnn.layers.relu import ReLU
from edge_dnn.layers.reshape import Reshape
from edge_dnn.layers.scale import Scale
from edge_dnn.layers.slice import Slice
from edge_dnn.layers.softmax import Softmax
from edge_dnn.layers.split import Split
from edge_dnn.layers.threshold import Threshold
from edge_dnn.quant import arith
from edge_dnn.quant.arith import AccumulatorOverflowError, QuantizationError
from edge_dnn.quant.calibration import METHODS, TensorRange, collect_ranges
from edge_dnn.quant.qgraph import NodeQuant, QuantizedGraph, TensorQuant

__all__ = [
    "DEFAULT_SQNR_DB",
    "PRECISIONS",
    "QuantizationWarning",
    "build_quantized_graph",
    "quantize",
]

PRECISIONS = ("int8", "int16", "mixed")
"""Accepted ``precision`` arguments of :func:`quantize`."""

DEFAULT_SQNR_DB = 30.0
"""Default promotion threshold of ``mixed`` precision: a layer whose own int8 SQNR is below it
becomes int16 (int8 layers typically reach 35-45 dB; below 30 dB a layer is a visible noise
source)."""

MAX_PROMOTION_ROUNDS = 3
"""Measure / promote rounds of ``mixed`` precision."""


class QuantizationWarning(UserWarning):
    """A layer falls back to the ARM float path, a bias saturates, a scale is a fallback..."""


# ---------------------------------------------------------------------------- layer kinds
_MAC = "mac"
_AFFINE = "affine"
_POOL_MAX = "pool_max"
_POOL_AVE = "pool_ave"
_SUM = "sum"
_MAX = "max"
_PROD = "prod"
_CONCAT = "concat"
_RELU = "relu"
_PIECEWISE = "piecewise"
_LUT = "lut"
_NORM = "norm"
_MOVE = "move"
_FLOAT = "float"
_INPUT = "input"

_INHERIT = {_MOVE, _POOL_MAX, _RELU}
"""Kinds whose output keeps the input's scale and type (the output joins the input's group)."""
_UNIFY = {_CONCAT, _MAX}
"""Kinds that bring their inputs to the output's scale and type."""
_RETARGETABLE = {_MAC, _AFFINE, _POOL_AVE, _SUM, _PROD, _PIECEWISE, _LUT, _NORM, _FLOAT}
"""Producers that requantize (or quantize) their output anyway, to any scale."""
_METADATA = (Flatten, Reshape, Split, Dropout)
"""Data movement that is only metadata (placement 'none')."""
_DECIDERS = (Softmax, ArgMax, DetectionOutput)
"""Readers whose result hinges on the largest values of their inputs (the winning logit, the
offsets of a large box): their inputs are calibrated to ``max|x|`` whatever the method."""


def _affine_vectors(node: Node, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-channel (axis 1) ``(gamma, beta)`` float64 vectors of a one-bottom affine layer."""
    from edge_dnn.passes.affine import affine_of, along

    if len(shape) < 2 or len(node.inputs) != 1:
        return None
    ab = affine_of(node, shape)
    if ab is None:
        return None
    a, b = along(ab[0], 1, shape[1]), along(ab[1], 1, shape[1])
    if a is None or b is None:
        return None
    return a, b


def _kind(node: Node, g: Graph) -> str:
    layer = node.layer
    if isinstance(layer, Input):
        return _INPUT
    if isinstance(layer, (Convolution, InnerProduct, Deconvolution)):
        return _MAC
    if isinstance(layer, (Scale, Bias, BatchNorm)):
        shape = g.shapes[node.inputs[0]]
        return _AFFINE if _affine_vectors(node, shape) is not None else _FLOAT
    if isinstance(layer, Pooling):
        return _POOL_MAX if layer.method == "MAX" else _POOL_AVE
    if isinstance(layer, Eltwise):
        return {"SUM": _SUM, "MAX": _MAX, "PROD": _PROD}[layer.operation]
    if isinstance(layer, Concat):
        return _CONCAT
    if isinstance(layer, ReLU):
        return _RELU if layer.negative_slope == 0.0 else _PIECEWISE
    if isinstance(layer, PReLU):
        return _PIECEWISE
    if hasattr(layer, "lut_function"):
        return _LUT
    if isinstance(layer, LRN) and layer.norm_region == "ACROSS_CHANNELS":
        return _NORM
    if isinstance(layer, (Flatten, Reshape, Permute, Slice, Split, Crop)):
        return _MOVE
    if isinstance(layer, Dropout) and layer.scale_train:
        return _MOVE
    return _FLOAT


# ---------------------------------------------------------------------------- the plan
@dataclasses.dataclass
class _Plan:
    """Structure of the graph the parameter assignment works on."""

    g: Graph
    kinds: dict[str, str]
    producer: dict[str, Node]
    consumers: dict[str, list[Node]]
    float_tensors: set[str]
    parent: dict[str, str]
    source: dict[str, str]

    def find(self, t: str) -> str:
        """Root of ``t``'s group (union-find with path compression)."""
        root = t
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[t] != root:
            self.parent[t], t = root, self.parent[t]
        return root


def _plan(g: Graph) -> _Plan:
    kinds = {n.name: _kind(n, g) for n in g.nodes}
    producer = {t: n for n in g.nodes for t in n.outputs}
    consumers: dict[str, list[Node]] = {t: [] for t in producer}
    for n in g.nodes:
        for t in n.inputs:
            if n not in consumers[t]:
                consumers[t].append(n)
    floats = _float_tensors(g, kinds, producer, consumers)
    parent = {t: t for t in producer if t not in floats}
    plan = _Plan(g, kinds, producer, consumers, floats, parent, {t: t for t in parent})
    for n in g.nodes:
        k = kinds[n.name]
        if any(t in floats for t in n.outputs):
            continue
        if k in _INHERIT:
            root = plan.find(n.inputs[0])
            for t in n.outputs:
                plan.parent[t] = root
                plan.source.pop(t, None)
        elif k in _UNIFY:
            out = n.outputs[0]
            for t in dict.fromkeys(n.inputs):
                p = producer[t]
                if (
                    kinds[p.name] in _RETARGETABLE
                    and not isinstance(p.layer, Threshold)
                    and len(consumers[t]) == 1
                    and plan.source.get(t) == t
                ):
                    plan.parent[t] = out
                    plan.source.pop(t)
    return plan


def _float_tensors(
    g: Graph,
    kinds: Mapping[str, str],
    producer: Mapping[str, Node],
    consumers: Mapping[str, list[Node]],
) -> set[str]:
    """Tensors of ARM float regions: produced and read only by float layers (section 8.1).

    Data movement and Concat pass float32 blobs through when all their inputs and outputs are
    float (prior boxes, flattened softmax scores of SSD). Net inputs are always quantized.
    """
    moves = {_MOVE, _CONCAT}
    f = {
        t
        for t, n in producer.items()
        if kinds[n.name] == _FLOAT or (kinds[n.name] in moves and n.inputs)
    }
    changed = True
    while changed:
        changed = False
        for t in list(f):
            p = producer[t]
            ok = kinds[p.name] == _FLOAT or all(i in f for i in p.inputs)
            for c in consumers[t]:
                kc = kinds[c.name]
                if kc == _FLOAT:
                    continue
                if kc in moves and all(o in f for o in c.outputs):
                    continue
                ok = False
            if not ok:
                f.discard(t)
                changed = True
    return f


# ---------------------------------------------------------------------------- builder
class _Builder:
    """Assigns tensor and node parameters for one precision assignment."""

    def __init__(
        self,
        g: Graph,
        plan: _Plan,
        ranges: Mapping[str, TensorRange],
        prec: Mapping[str, str],
        strict: bool,
    ) -> None:
        self.g = g
        self.plan = plan
        self.ranges = ranges
        self.prec = prec
        self.strict = strict
        self.warnings: list[str] = []
        self.notes: dict[str, list[str]] = {n.name: [] for n in g.nodes}
        self.nonneg: dict[str, bool] = {}
        self.group_params: dict[str, tuple[float, str]] = {}
        self.wide = self._widths()
        self.noclip = self._noclip_roots()

    def warn(self, node: str, msg: str) -> None:
        text = f"layer '{node}': {msg}"
        self.warnings.append(text)
        self.notes[node].append(msg)

    # ------------------------------------------------------------------ widths
    def _widths(self) -> set[str]:
        """Roots of the groups that are int16."""
        wide: set[str] = set()
        for t in self.plan.parent:
            p = self.plan.producer[t]
            if self.prec[p.name] == "int16" or any(
                self.prec[c.name] == "int16" for c in self.plan.consumers[t]
            ):
                wide.add(self.plan.find(t))
        return wide

    def _noclip_roots(self) -> set[str]:
        """Roots of the groups whose scale comes from ``max|x|`` rather than the method.

        Inputs of :data:`_DECIDERS` and integer network outputs, traced back through data
        movement and Concat. A clipping method (KL, percentile) saturates the few largest values
        of such a tensor, and those are the decision: clipped logits tie at the clip value and
        the top-1 becomes arbitrary (AlexNet with random weights: four classes tied at 16.8,
        max 19.9).
        """
        plan = self.plan
        todo = [t for n in self.g.nodes if isinstance(n.layer, _DECIDERS) for t in n.inputs]
        todo += list(self.g.outputs)
        seen: set[str] = set()
        while todo:
            t = todo.pop()
            if t in seen or t not in plan.parent:
                continue
            seen.add(t)
            p = plan.producer[t]
            if plan.kinds[p.name] in (_MOVE, _POOL_MAX, _CONCAT, _MAX):
                todo.extend(p.inputs)
        return {plan.find(t) for t in seen}

    # ------------------------------------------------------------------ tensors
    def tq(self, t: str) -> TensorQuant:
        """Parameters of tensor ``t`` (its group's scale/type, its own qmin)."""
        if t in self.plan.float_tensors:
            return TensorQuant.float32()
        scale, dtype = self.group_params[self.plan.find(t)]
        lo, hi = arith.qrange(dtype)
        return TensorQuant(scale, dtype, 0 if self.nonneg[t] else lo, hi)

    def _nonneg(self, n: Node, t: str) -> bool:
        k = self.plan.kinds[n.name]
        layer = n.layer
        ins = [self.nonneg.get(i, False) for i in n.inputs]
        relu = bool(getattr(layer, "relu", False))
        if k == _INPUT:
            return bool(self.ranges[t].nonnegative)
        if k in (_MAC, _AFFINE):
            return relu
        if k in (_POOL_MAX, _POOL_AVE, _MOVE, _PIECEWISE, _NORM):
            return ins[0]
        if k == _RELU:
            return True
        if k == _CONCAT:
            return all(ins)
        if k == _MAX:
            return relu or any(ins)
        if k == _SUM:
            coeff = cast(Eltwise, layer).coeff or (1.0,) * len(ins)
            return relu or (all(ins) and all(c >= 0 for c in coeff))
        if k == _PROD:
            return relu or all(ins)
        if k == _LUT:
            if isinstance(layer, Threshold):
                return True
            return self._lut_nonneg(n)
        if isinstance(layer, Softmax):
            return True
        return bool(self.ranges[t].nonnegative)

    def _lut_nonneg(self, n: Node) -> bool:
        """Whether the layer's function is >= 0 on every value its integer input can hold."""
        tin = self.tq(n.inputs[0])
        q = np.arange(tin.qmin, tin.qmax + 1, dtype=np.float64)
        fn = n.layer.lut_function()  # type: ignore[attr-defined]
        with np.errstate(all="ignore"):
            y = np.asarray(fn(q * np.float64(tin.scale)), dtype=np.float64)
        return bool(np.all(y[~np.isnan(y)] >= 0)) and not np.any(np.isnan(y))

    def _assign_group(self, n: Node, t: str) -> None:
        root = self.plan.find(t)
        dtype = "int16" if root in self.wide else ("uint8" if self.nonneg[t] else "int8")
        if isinstance(n.layer, Threshold):
            self.group_params[root] = (1.0, dtype)
            return
        _, qmax = arith.qrange(dtype)
        r = self.ranges[t]
        if root in self.noclip and r.method != "minmax":
            thr = float(r.abs_max)
            self.notes[n.name].append(
                f"tensor '{t}' calibrated to max|x| (feeds Softmax/ArgMax/DetectionOutput or is "
                "a network output: its largest values are the result)"
            )
        elif self.plan.kinds[n.name] in _UNIFY:
            # The output is the union of its inputs. On the mixture a clipping method takes the
            # branch with the widest range for the tail and saturates it (GoogLeNet, random
            # weights: inception_3b/pool_proj clipped at 0.63 max|x| inside its concat, SQNR
            # 16 dB, against 0.96 max|x| on its own); no branch is clipped below its own
            # threshold.
            thr = max(float(self.ranges[i].threshold_for(qmax)) for i in (t, *n.inputs))
        else:
            thr = float(r.threshold_for(qmax))
        if not math.isfinite(thr) or thr <= 0.0:
            fallback = r.abs_max if math.isfinite(r.abs_max) and r.abs_max > 0 else 1.0
            self.warn(
                n.name,
                f"tensor '{t}' has calibration threshold {thr!r} (all values 0?); using "
                f"{fallback:g}",
            )
            thr = float(fallback)
        scale = float(np.float32(thr / qmax))
        if not (math.isfinite(scale) and scale >= float(np.finfo(np.float32).tiny)):
            self.warn(n.name, f"tensor '{t}' threshold {thr:g} gives no usable scale; using 1/qmax")
            scale = float(np.float32(1.0 / qmax))
        self.group_params[root] = (scale, dtype)

    def assign_tensors(self) -> dict[str, TensorQuant]:
        for n in self.g.nodes:
            for t in n.outputs:
                self.nonneg[t] = self._nonneg(n, t)
                if t not in self.plan.float_tensors and self.plan.source.get(t) == t:
                    self._assign_group(n, t)
        return {t: self.tq(t) for t in self.g.tensors}

    # ------------------------------------------------------------------ nodes
    def build(self) -> tuple[dict[str, TensorQuant], dict[str, NodeQuant]]:
        tensors = self.assign_tensors()
        nodes = {}
        for n in self.g.nodes:
            nodes[n.name] = self._node(n, tensors)
        return tensors, nodes

    def _node(self, n: Node, tensors: Mapping[str, TensorQuant]) -> NodeQuant:
        k = self.plan.kinds[n.name]
        ins = [tensors[t] for t in n.inputs]
        outs = [tensors[t] for t in n.outputs]
        wide = any(x.dtype == "int16" for x in (*ins, *outs))
        nq = NodeQuant(
            name=n.name,
            type=n.type,
            precision="int16" if wide else "int8",
            placement="arm",
            inputs=ins,
            outputs=outs,
            params=list(n.params),
            notes=self.notes[n.name],
        )
        if any(o.is_float for o in outs):
            nq.float_path = True
            nq.placement = "none" if isinstance(n.layer, _METADATA) else "arm"
            return nq
        try:
            self._fill(n, k, nq)
        except AccumulatorOverflowError as exc:
            if self.strict:
                raise
            self._to_float(nq, f"{exc}; runs on the ARM float path")
        except QuantizationError as exc:
            if self.strict:
                raise
            self._to_float(nq, f"{exc}; runs on the ARM float path")
        return nq

    def _to_float(self, nq: NodeQuant, msg: str) -> None:
        prefix = f"layer '{nq.name}': "
        self.warn(nq.name, msg[len(prefix) :] if msg.startswith(prefix) else msg)
        nq.float_path = True
        nq.placement = "arm"
        nq.weights = nq.weight_scales = nq.bias = nq.M = nq.S = None
        nq.tables = {}

    def _fill(self, n: Node, k: str, nq: NodeQuant) -> None:
        where = f"layer '{n.name}'"
        layer = n.layer
        ins, out = nq.inputs, nq.outputs[0] if nq.outputs else None
        if k == _INPUT:
            return
        if k == _FLOAT:
            nq.float_path = True
            return
        assert out is not None
        if k == _MAC:
            nq.placement = "arm" if isinstance(layer, Deconvolution) else "engine"
            self._mac(n, nq)
        elif k == _AFFINE:
            nq.placement = "engine"
            self._affine(n, nq)
        elif k == _POOL_MAX:
            nq.placement = "engine"
        elif k == _POOL_AVE:
            nq.placement = "engine"
            ratio = float(np.float64(ins[0].scale) / np.float64(out.scale))
            in_shape = self.g.shapes[n.inputs[0]]
            pool = cast(Pooling, layer)
            kernel, out_hw = pool._geometry(in_shape)
            stride, pad = ((1, 1), (0, 0)) if pool.global_pooling else (pool.stride, pool.pad)
            areas = arith.caffe_avgpool_areas(
                (in_shape[2], in_shape[3]), kernel, stride, pad, out_hw
            )
            uniq = np.unique(np.maximum(areas, 1))
            am, ash = arith.avgpool_multiplier(uniq, ratio, where)
            nq.tables["avgpool"] = {
                "ratio": ratio,
                "areas": {int(a): (int(m), int(s)) for a, m, s in zip(uniq, am, ash)},
            }
        elif k == _SUM:
            nq.placement = "engine"
            coeff = cast(Eltwise, layer).coeff or None
            ms, shift = arith.eltwise_multipliers([x.scale for x in ins], out.scale, coeff, where)
            nq.tables["eltwise"] = {"M": ms, "S": shift}
        elif k in (_MAX, _CONCAT):
            rs = [
                None if x.same_grid(out) else arith.rescale_multiplier(x.scale, out.scale, where)
                for x in ins
            ]
            nq.tables["rescale"] = rs
            nq.placement = "engine"
            if k == _CONCAT and any(r is not None for r in rs):
                nq.notes.append("inputs at another scale go through a requantize step (ARM)")
        elif k == _PROD:
            steps = []
            s_out = np.float64(out.scale)
            for i in range(1, len(ins)):
                first = np.float64(ins[0].scale) if i == 1 else s_out
                real = float(first * np.float64(ins[i].scale) / s_out)
                steps.append(arith.quantize_multiplier(real, where))
            nq.tables["prod"] = steps
        elif k == _RELU:
            nq.placement = "arm"
        elif k == _PIECEWISE:
            if isinstance(layer, PReLU):
                slopes: Any = np.asarray(n.params[0], dtype=np.float32).reshape(-1)
                if layer.channel_shared:
                    slopes = float(slopes[0])
            else:
                slopes = float(np.float32(cast(ReLU, layer).negative_slope))
            Mp, Sp, Mn, Sn = arith.prelu_multipliers(ins[0].scale, out.scale, slopes, where)
            nq.tables["prelu"] = (Mp, Sp, Mn, Sn)
        elif k == _LUT:
            fn = layer.lut_function()  # type: ignore[attr-defined]
            nq.tables["lut"] = arith.build_lut(
                fn, ins[0].dtype, ins[0].scale, out.dtype, out.scale, where
            )
        elif k == _NORM:
            lrn = cast(LRN, layer)
            if ins[0].dtype == "int16" or out.dtype == "int16":
                nq.float_path = True
                nq.notes.append("int16 LRN runs on the ARM float path (the engine's is 8-bit)")
                return
            lut, shift, frac = arith.build_lrn_table(
                ins[0].scale,
                out.scale,
                lrn.local_size,
                lrn.alpha,
                lrn.beta,
                lrn.k,
                (ins[0].qmin, ins[0].qmax),
                where,
            )
            nq.tables["lrn"] = {"lut": lut, "shift": shift, "frac": frac}
            nq.placement = "engine"
        elif k == _MOVE:
            nq.placement = "none" if isinstance(layer, _METADATA) else "arm"

    # ------------------------------------------------------------------ weights
    def _weights(
        self, n: Node, view: np.ndarray, bias: np.ndarray | None, nq: NodeQuant
    ) -> tuple[np.ndarray, np.ndarray, arith.Mode]:
        """Per-output-channel symmetric quantization of an (O, K) view; returns (w_q, s_w, mode).

        ``s_w[c] = f32(max|w[c]| / qmax_w)``. An all-zero channel gets the smallest non-zero
        scale of the layer (1.0 if the layer is all zero), as the contract says. A scale so
        small that the channel's bias would not fit its type with 2x headroom (int32: 2**30,
        int48: 2**46 in the accumulator scale) is raised to the smallest that fits: such a
        channel's output is dominated by its bias, and a saturated bias would be wrong.
        """
        where = f"layer '{n.name}'"
        tin = nq.inputs[0]
        mode: arith.Mode = "int16" if tin.dtype == "int16" else "int8"
        nq.precision = mode
        wt = arith.weight_qtype(mode)
        v = np.asarray(view, dtype=np.float64)
        amax = np.abs(v).max(axis=1) if v.shape[1] else np.zeros(v.shape[0])
        if not np.all(np.isfinite(amax)):
            raise QuantizationError("weights contain NaN or infinite values", where)
        s_w = (amax / wt.qmax).astype(np.float32)
        good = s_w > 0
        if not np.all(good):
            s_w[~good] = s_w[good].min() if np.any(good) else np.float32(1.0)
        if bias is not None:
            b = np.abs(np.asarray(bias, dtype=np.float64))
            if not np.all(np.isfinite(b)):
                raise QuantizationError("bias contains NaN or infinite values", where)
            headroom = float(2**30 if mode == "int8" else 2**46)
            floor = b / (np.float64(tin.scale) * headroom)
            low = np.flatnonzero(s_w.astype(np.float64) < floor)
            if low.size:
                s_w[low] = np.nextafter(floor[low].astype(np.float32), np.float32(np.inf))
                nq.notes.append(
                    f"weight scale of output channel(s) {low[:8].tolist()} raised so that "
                    f"the bias fits {arith.bias_qtype(mode).name}"
                )
        wq = arith.quantize_tensor(v, s_w, wt, axis=0, where=where)
        return wq, s_w, mode

    def _bias(self, n: Node, b: np.ndarray | None, nq: NodeQuant, mode: arith.Mode) -> None:
        if b is None:
            nq.bias = None
            return
        assert nq.weight_scales is not None
        s_in = nq.inputs[0].scale
        nq.bias = arith.quantize_bias(b, s_in, nq.weight_scales, mode, f"layer '{n.name}'")
        bt = arith.bias_qtype(mode)
        exact = np.asarray(b, np.float64) / (np.float64(s_in) * nq.weight_scales.astype(np.float64))
        sat = np.flatnonzero((exact > bt.qmax) | (exact < bt.qmin))
        if sat.size:
            self.warn(
                n.name,
                f"bias of output channel(s) {sat[:8].tolist()} saturates the {bt.name} range",
            )

    def _multipliers(self, n: Node, nq: NodeQuant) -> None:
        assert nq.weight_scales is not None
        nq.M, nq.S = arith.conv_multipliers(
            nq.inputs[0].scale, nq.weight_scales, nq.outputs[0].scale, f"layer '{n.name}'"
        )

    def _mac(self, n: Node, nq: NodeQuant) -> None:
        layer = n.layer
        w = np.asarray(n.params[0], dtype=np.float32)
        has_bias = bool(getattr(layer, "bias_term", False))
        b = np.asarray(n.params[1], dtype=np.float32).reshape(-1) if has_bias else None
        if isinstance(layer, Deconvolution):
            view = deconv_out_channel_view(w, layer.group)
        elif isinstance(layer, InnerProduct) and layer.transpose:
            view = w.T
        else:
            view = w.reshape(w.shape[0], -1)
        wq_view, s_w, mode = self._weights(n, view, b, nq)
        nq.weight_scales = s_w
        self._bias(n, b, nq, mode)
        arith.check_accumulator_bound(wq_view, nq.bias, nq.inputs[0].dtype, layer=n.name)
        if isinstance(layer, Deconvolution):
            nq.weights = deconv_from_out_channel_view(wq_view, layer.group, w.shape)
        elif isinstance(layer, InnerProduct) and layer.transpose:
            nq.weights = np.ascontiguousarray(wq_view.T)
        else:
            nq.weights = wq_view.reshape(w.shape)
        self._multipliers(n, nq)

    def _affine(self, n: Node, nq: NodeQuant) -> None:
        ab = _affine_vectors(n, self.g.shapes[n.inputs[0]])
        assert ab is not None
        gamma, beta = ab
        wq, s_w, mode = self._weights(n, gamma.reshape(-1, 1), beta, nq)
        nq.weight_scales = s_w
        self._bias(n, beta, nq, mode)
        arith.check_accumulator_bound(wq, nq.bias, nq.inputs[0].dtype, layer=n.name)
        nq.weights = wq.reshape(-1)
        self._multipliers(n, nq)


def build_quantized_graph(
    g: Graph,
    ranges: Mapping[str, TensorRange],
    precisions: Mapping[str, str],
    *,
    method: str = "kl",
    label: str | None = None,
    strict: bool = False,
) -> QuantizedGraph:
    """Assign every tensor's and node's integer parameters from calibrated ranges.

    Args:
        g: The float graph, already through the passes (with weights).
        ranges: A :class:`TensorRange` for every tensor of ``g`` (with its observer, so that
            thresholds for other levels can be derived).
        precisions: Node name -> ``int8`` / ``int16``.
        method: Calibration method (recorded).
        label: Precision label recorded in the result (default: ``int16`` if every node is
            int16, ``int8`` if none, else ``mixed``).
        strict: Propagate :class:`AccumulatorOverflowError` / :class:`QuantizationError`
            instead of falling back to the ARM float path.

    Returns:
        The :class:`QuantizedGraph`.
    """
    missing = [t for t in g.tensors if t not in ranges]
    if missing:
        raise QuantizationError(f"no calibration range for tensor(s) {missing[:5]}")
    plan = _plan(g)
    b = _Builder(g, plan, ranges, precisions, strict)
    tensors, nodes = b.build()
    if label is None:
        vals = {precisions[n.name] for n in g.nodes}
        label = vals.pop() if len(vals) == 1 else "mixed"
    return QuantizedGraph(g, tensors, nodes, label, method, b.warnings, ranges)


# ---------------------------------------------------------------------------- entry point
def _batches(calibration: Any, graph: Graph, batch_size: int) -> Iterable[Any]:
    from edge_dnn.quant.calib_data import load_calibration

    if isinstance(calibration, (np.ndarray, Mapping)):
        return load_calibration(calibration, graph, batch_size=batch_size)
    if isinstance(calibration, Sized):
        return cast(Iterable[Any], calibration)
    if isinstance(calibration, Iterable):
        return list(calibration)
    raise QuantizationError(
        f"calibration data must be feed dicts, a CalibrationSet or an array, got "
        f"{type(calibration).__name__}"
    )


def _check_overrides(
    overrides: Mapping[str, str] | None, original: Graph, g: Graph
) -> dict[str, str]:
    out: dict[str, str] = {}
    names = {n.name for n in g.nodes}
    before = {n.name for n in original.nodes}
    for name, p in (overrides or {}).items():
        if p not in ("int8", "int16"):
            raise QuantizationError(f"precision override '{name}={p}': use int8 or int16")
        if name not in names:
            if name in before:
                raise QuantizationError(
                    f"precision override for layer '{name}': the graph passes fused or removed "
                    "it; override the layer it was merged into"
                )
            raise QuantizationError(
                f"precision override for unknown layer '{name}' in network '{g.name}'"
            )
        out[name] = p
    return out


def quantize(
    graph: Graph,
    calibration: Any,
    method: str = "kl",
    precision: str = "int8",
    overrides: Mapping[str, str] | None = None,
    sqnr_threshold_db: float = DEFAULT_SQNR_DB,
    progress: bool = True,
    *,
    strict: bool = False,
    batch_size: int = 32,
    max_rounds: int = MAX_PROMOTION_ROUNDS,
) -> QuantizedGraph:
    """Quantize a float network with calibration data.

    Args:
        graph: The float network with weights (not modified; the default passes run on a copy).
        calibration: Feed dicts ``{input blob: float32 NCHW batch}`` (any iterable, e.g. a
            :class:`~edge_dnn.quant.calib_data.CalibrationSet` from ``load_calibration``), or
            an array / ``{blob: array}`` of samples (batched by ``batch_size``).
        method: Calibration method: ``minmax``, ``percentile`` or ``kl``.
        precision: ``int8``, ``int16`` or ``mixed`` (see the module docstring).
        overrides: Layer name -> ``int8`` / ``int16``, applied on top of ``precision`` (names of
            the graph after the passes; fused ReLUs have no node of their own).
        sqnr_threshold_db: ``mixed``: promote layers whose own int8 SQNR (dB) is below this.
        progress: Progress bars on stderr (only on a terminal).
        strict: No ARM float fallback: layers that cannot run in integers raise.
        batch_size: Batch size when ``calibration`` is an array.
        max_rounds: ``mixed``: measure/promote rounds.

    Returns:
        The :class:`QuantizedGraph`.

    Raises:
        QuantizationError: bad arguments or (``strict``) a layer the contract rejects.
        CalibrationError: unusable calibration data.
    """
    from edge_dnn.passes import run_passes
    from edge_dnn.quant.report import layer_sqnr

    if precision not in PRECISIONS:
        raise QuantizationError(f"unknown precision '{precision}'; choose {', '.join(PRECISIONS)}")
    if method not in METHODS:
        raise QuantizationError(f"unknown calibration method '{method}'; choose {METHODS}")
    g = run_passes(graph)
    over = _check_overrides(overrides, graph, g)
    batches = _batches(calibration, g, batch_size)
    if precision == "mixed" and not isinstance(batches, Sized):
        batches = list(batches)
    ranges = collect_ranges(g, batches, method, progress=progress)
    base = "int16" if precision == "int16" else "int8"
    prec = {n.name: over.get(n.name, base) for n in g.nodes}
    qg = build_quantized_graph(g, ranges, prec, method=method, strict=strict)
    if precision == "mixed":
        for _ in range(max(0, int(max_rounds))):
            sq = layer_sqnr(qg, batches)
            promote = [
                name
                for name, db in sq.items()
                if db < sqnr_threshold_db and prec[name] == "int8" and name not in over
            ]
            if not promote:
                break
            for name in promote:
                prec[name] = "int16"
            qg = build_quantized_graph(g, ranges, prec, method=method, strict=strict)
        qg.precision = "mixed"
    else:
        qg.precision = precision
    for w in qg.warnings:
        warnings.warn(w, QuantizationWarning, stacklevel=2)
    return qg
