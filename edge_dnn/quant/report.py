"""Accuracy report of a quantized graph against its float model.

For every node output tensor, over a set of input batches (the calibration set or an
evaluation set), the quantized graph is run with ``raw=False`` (dequantized float32) and
compared with :meth:`QuantizedGraph.run_float` on the same inputs:

* ``sqnr_db``: end-to-end signal-to-quantization-noise ratio
  ``10 log10(sum f^2 / sum (f - q)^2)`` (errors of every upstream layer included);
* ``cosine``: cosine similarity of the float and dequantized values;
* ``layer_sqnr_db``: the layer's *own* SQNR: its integer reference fed with the float
  reference's inputs quantized to its input parameters (what ``mixed`` precision looks at);
* output agreement: for classifier outputs (``(N, C)`` or ``(N, C, 1, 1)``), the fraction of
  samples whose top-1 class (argmax over axis 1) agrees, and the top-1 accuracies when labels
  are given.

All sums are float64. SQNRs are +inf for exact tensors (``null`` in JSON).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sized
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_dnn.errors import InputError
from edge_dnn.layers.input import Input
from edge_dnn.quant.qgraph import QuantizedGraph
from edge_dnn.util.progress import Progress

__all__ = [
    "LayerRow",
    "OutputAgreement",
    "QuantReport",
    "TensorStats",
    "layer_sqnr",
    "make_report",
]


# ---------------------------------------------------------------------------- statistics
@dataclasses.dataclass
class TensorStats:
    """Running sums comparing a float tensor ``f`` with its quantized version ``q``."""

    sum_ff: float = 0.0
    sum_ee: float = 0.0
    sum_fq: float = 0.0
    sum_qq: float = 0.0
    count: int = 0
    max_abs_error: float = 0.0

    comparable: bool = True

    def update(self, f: npt.ArrayLike, q: npt.ArrayLike) -> None:
        """Fold one batch in (float64 sums).

        Tensors whose shapes differ (e.g. DetectionOutput's variable number of detections) are
        not comparable element by element: the statistics become NaN.
        """
        fa, qa = np.asarray(f), np.asarray(q)
        if fa.shape != qa.shape:
            self.comparable = False
            return
        a = fa.astype(np.float64).ravel()
        b = qa.astype(np.float64).ravel()
        e = a - b
        self.sum_ff += float(a @ a)
        self.sum_ee += float(e @ e)
        self.sum_fq += float(a @ b)
        self.sum_qq += float(b @ b)
        self.count += a.size
        if e.size:
            self.max_abs_error = max(self.max_abs_error, float(np.abs(e).max()))

    @property
    def sqnr_db(self) -> float:
        """``10 log10(sum f^2 / sum e^2)`` (+inf when exact, -inf for a zero signal with error,
        NaN when the shapes differed)."""
        if not self.comparable:
            return math.nan
        if self.sum_ee == 0.0:
            return math.inf
        if self.sum_ff == 0.0:
            return -math.inf
        return 10.0 * math.log10(self.sum_ff / self.sum_ee)

    @property
    def cosine(self) -> float:
        """Cosine similarity (1.0 when both are all zero, NaN when the shapes differed)."""
        if not self.comparable:
            return math.nan
        den = math.sqrt(self.sum_ff * self.sum_qq)
        if den == 0.0:
            return 1.0 if self.sum_ff == self.sum_qq else 0.0
        return self.sum_fq / den


def _db(v: float) -> float | None:
    return None if math.isinf(v) or math.isnan(v) else round(v, 3)


def _is_classifier(shape: tuple[int, ...]) -> bool:
    return len(shape) >= 2 and shape[1] > 1 and int(np.prod(shape[2:], dtype=np.int64)) == 1


def _top1(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).reshape(a.shape[0], a.shape[1]).argmax(axis=1)


# ---------------------------------------------------------------------------- report rows
@dataclasses.dataclass(frozen=True)
class LayerRow:
    """One row of the report: one output tensor of one node.

    Attributes:
        name: Node (layer) name.
        type: Caffe layer type.
        tensor: The output tensor.
        kernel: ``engine``, ``arm-int``, ``arm-float`` or ``none`` (metadata).
        precision: ``int8`` / ``int16``.
        dtype: The tensor's type (``int8``, ``uint8``, ``int16``, ``float32``).
        scale: The tensor's scale (1.0 for float32 tensors).
        sqnr_db: End-to-end SQNR in dB (+inf: exact).
        cosine: End-to-end cosine similarity.
        layer_sqnr_db: The layer's own SQNR in dB (NaN when not measured).
        max_abs_error: Largest absolute end-to-end error (real units).
    """

    name: str
    type: str
    tensor: str
    kernel: str
    precision: str
    dtype: str
    scale: float
    sqnr_db: float
    cosine: float
    layer_sqnr_db: float
    max_abs_error: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (infinite SQNRs as None)."""
        d = dataclasses.asdict(self)
        d["sqnr_db"] = _db(self.sqnr_db)
        d["layer_sqnr_db"] = _db(self.layer_sqnr_db)
        d["cosine"] = None if math.isnan(self.cosine) else round(self.cosine, 6)
        d["max_abs_error"] = None if math.isnan(self.max_abs_error) else self.max_abs_error
        return d


@dataclasses.dataclass(frozen=True)
class OutputAgreement:
    """Agreement of one network output between float and quantized models.

    Attributes:
        tensor: The output tensor.
        samples: Samples compared.
        classifier: Whether the output is ``(N, C)``/``(N, C, 1, 1)`` (top-1 is defined).
        top1_agreement: Fraction of samples with the same argmax (None if not a classifier).
        float_top1: Float top-1 accuracy against the labels (None without labels).
        quant_top1: Quantized top-1 accuracy against the labels (None without labels).
        sqnr_db: End-to-end SQNR of the output in dB.
    """

    tensor: str
    samples: int
    classifier: bool
    top1_agreement: float | None
    float_top1: float | None
    quant_top1: float | None
    sqnr_db: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        d = dataclasses.asdict(self)
        d["sqnr_db"] = _db(self.sqnr_db)
        return d


@dataclasses.dataclass
class QuantReport:
    """Per-layer and output accuracy of a quantized graph.

    Attributes:
        network: Network name.
        precision: ``int8``, ``int16`` or ``mixed``.
        method: Calibration method.
        samples: Samples evaluated.
        rows: One :class:`LayerRow` per node output (Input nodes excluded).
        outputs: One :class:`OutputAgreement` per network output.
        warnings: The quantizer's warnings.
    """

    network: str
    precision: str
    method: str
    samples: int
    rows: list[LayerRow]
    outputs: list[OutputAgreement]
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "network": self.network,
            "precision": self.precision,
            "method": self.method,
            "samples": self.samples,
            "layers": [r.to_dict() for r in self.rows],
            "outputs": [o.to_dict() for o in self.outputs],
            "warnings": list(self.warnings),
        }

    def to_json(self, indent: int | None = 1) -> str:
        """The report as JSON text (strict JSON: infinite SQNRs are null)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def format_table(self) -> str:
        """Printable per-layer table followed by the output agreement lines."""
        head = ("layer", "type", "kernel", "prec", "dtype", "scale", "SQNR dB", "cos", "own dB")

        def f_db(v: float) -> str:
            if math.isnan(v):
                return "-"
            return "exact" if math.isinf(v) and v > 0 else f"{v:.1f}"

        table = [
            (
                r.name if r.tensor == r.name else f"{r.name} -> {r.tensor}",
                r.type,
                r.kernel,
                r.precision,
                r.dtype,
                f"{r.scale:.4g}",
                f_db(r.sqnr_db),
                "-" if math.isnan(r.cosine) else f"{r.cosine:.5f}",
                f_db(r.layer_sqnr_db),
            )
            for r in self.rows
        ]
        widths = [max(len(head[i]), *(len(t[i]) for t in table)) if table else len(head[i])
                  for i in range(len(head))]  # fmt: skip
        fmt = "  ".join(f"{{:{'<' if i < 5 else '>'}{w}}}" for i, w in enumerate(widths))
        lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
        lines += [fmt.format(*t) for t in table]
        lines.append(
            f"network '{self.network}': {self.precision}, calibration {self.method}, "
            f"{self.samples} samples"
        )
        for o in self.outputs:
            parts = [f"output '{o.tensor}': SQNR {f_db(o.sqnr_db)} dB"]
            if o.top1_agreement is not None:
                parts.append(f"top-1 agreement {100 * o.top1_agreement:.2f}%")
            if o.float_top1 is not None and o.quant_top1 is not None:
                parts.append(
                    f"top-1 accuracy float {100 * o.float_top1:.2f}% / quantized "
                    f"{100 * o.quant_top1:.2f}%"
                )
            lines.append(", ".join(parts))
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# ---------------------------------------------------------------------------- measurements
def _isolated(qg: QuantizedGraph, floats: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every node's own output from the float inputs quantized to its input parameters."""
    out: dict[str, np.ndarray] = {}
    for n in qg.graph.nodes:
        if isinstance(n.layer, Input):
            continue
        nq = qg.nodes[n.name]
        ins = [tq.quantize(floats[t], where=f"tensor '{t}'") for t, tq in zip(n.inputs, nq.inputs)]
        for t, y, tq in zip(n.outputs, n.layer.forward_int(ins, nq), nq.outputs):
            out[t] = tq.to_float(y, where=f"tensor '{t}'")
    return out


def layer_sqnr(qg: QuantizedGraph, batches: Iterable[Any]) -> dict[str, float]:
    """Each node's own SQNR in dB (the minimum over its outputs), Input nodes excluded.

    The node's integer reference runs on the float model's input values quantized to the
    node's input parameters, so upstream quantization errors are not included.

    Args:
        qg: The quantized graph.
        batches: Feed dicts (float32 NCHW).
    """
    stats: dict[str, TensorStats] = {}
    nodes = [n for n in qg.graph.nodes if not isinstance(n.layer, Input)]
    tensors = qg.graph.tensors
    for feed in batches:
        floats = qg.run_float(feed, outputs=tensors)
        own = _isolated(qg, floats)
        for t, y in own.items():
            stats.setdefault(t, TensorStats()).update(floats[t], y)
    if not stats:
        raise InputError("layer_sqnr: no batches")
    out: dict[str, float] = {}
    for n in nodes:
        vals = [stats[t].sqnr_db for t in n.outputs if not math.isnan(stats[t].sqnr_db)]
        out[n.name] = min(vals) if vals else math.nan
    return out


def make_report(
    qg: QuantizedGraph,
    batches: Iterable[Any],
    labels: npt.ArrayLike | None = None,
    progress: bool = True,
    own_sqnr: bool = True,
) -> QuantReport:
    """Compare the quantized graph with its float model over ``batches``.

    Args:
        qg: The quantized graph.
        batches: Feed dicts ``{input blob: float32 NCHW batch}`` (or bare arrays for
            single-input networks), e.g. the calibration set or an evaluation set.
        labels: Integer class labels of the samples, in batch order (for top-1 accuracies of
            classifier outputs).
        progress: Progress bar on stderr (only on a terminal).
        own_sqnr: Also measure each layer's own SQNR (one more integer pass per batch).

    Returns:
        The :class:`QuantReport`.

    Raises:
        InputError: no batches, or the number of labels differs from the number of samples.
    """
    tensors = qg.graph.tensors
    nodes = [n for n in qg.graph.nodes if not isinstance(n.layer, Input)]
    e2e: dict[str, TensorStats] = {t: TensorStats() for t in tensors}
    own: dict[str, TensorStats] = {t: TensorStats() for t in tensors}
    outs = list(qg.graph.outputs)
    top_f: dict[str, list[np.ndarray]] = {t: [] for t in outs}
    top_q: dict[str, list[np.ndarray]] = {t: [] for t in outs}
    classifier = dict.fromkeys(outs, True)
    samples = 0
    total = len(batches) if isinstance(batches, Sized) else None
    with Progress(
        total, desc=f"evaluating {qg.name}", unit="batch", enabled=None if progress else False
    ) as bar:
        for feed in batches:
            floats = qg.run_float(feed, outputs=tensors)
            quant = qg.run(feed, outputs=tensors)
            for t in tensors:
                e2e[t].update(floats[t], quant[t])
            if own_sqnr:
                for t, y in _isolated(qg, floats).items():
                    own[t].update(floats[t], y)
            for t in outs:
                shp = tuple(floats[t].shape)
                if not _is_classifier(shp):
                    classifier[t] = False
                    continue
                top_f[t].append(_top1(floats[t]))
                top_q[t].append(_top1(quant[t]))
            first = next(iter(qg.graph.inputs))
            samples += int(np.shape(feed if isinstance(feed, np.ndarray) else feed[first])[0])
            bar.update()
    if samples == 0:
        raise InputError("make_report: no batches to evaluate")
    rows = []
    for n in nodes:
        nq = qg.nodes[n.name]
        for t in n.outputs:
            tq = qg.tensors[t]
            rows.append(
                LayerRow(
                    name=n.name,
                    type=n.type,
                    tensor=t,
                    kernel=nq.kernel,
                    precision=nq.precision,
                    dtype=tq.dtype,
                    scale=tq.scale,
                    sqnr_db=e2e[t].sqnr_db,
                    cosine=e2e[t].cosine,
                    layer_sqnr_db=own[t].sqnr_db if own_sqnr else math.nan,
                    max_abs_error=e2e[t].max_abs_error if e2e[t].comparable else math.nan,
                )
            )
    lab = None if labels is None else np.asarray(labels).reshape(-1)
    if lab is not None and lab.size != samples:
        raise InputError(f"{lab.size} labels for {samples} evaluated samples")
    agreements = []
    for t in outs:
        if classifier[t] and top_f[t]:
            pf, pq = np.concatenate(top_f[t]), np.concatenate(top_q[t])
            agree: float | None = float(np.mean(pf == pq))
            acc_f = None if lab is None else float(np.mean(pf == lab))
            acc_q = None if lab is None else float(np.mean(pq == lab))
        else:
            agree = acc_f = acc_q = None
        agreements.append(
            OutputAgreement(
                tensor=t,
                samples=samples,
                classifier=bool(classifier[t] and top_f[t]),
                top1_agreement=agree,
                float_top1=acc_f,
                quant_top1=acc_q,
                sqnr_db=e2e[t].sqnr_db,
            )
        )
    return QuantReport(
        network=qg.name,
        precision=qg.precision,
        method=qg.method,
        samples=samples,
        rows=rows,
        outputs=agreements,
        warnings=list(qg.warnings),
    )
