"""Calibration: per-tensor real-valued ranges estimated from sample data.

The quantizer gives every activation tensor a symmetric scale (zero point 0, see
``docs/arithmetic.md`` section 2): ``scale = threshold / qmax``, where the *threshold* is the real
magnitude that maps to the largest integer ``qmax`` of the tensor's type (127 for int8, 255 for
uint8, 32767 for int16). This module estimates the thresholds.

Observers are streaming: :meth:`RangeObserver.observe` sees one batch after another and keeps
only a few numbers (min/max) or a fixed-size histogram of ``|x|``, never the data. Three methods:

* ``minmax``: ``max|x|`` over everything observed (never clips).
* ``percentile``: the given percentile of ``|x|`` (default 99.99), from the histogram.
* ``kl``: entropy calibration as TensorRT describes it: the clipping threshold whose quantized
  distribution of ``|x|`` has the smallest Kullback-Leibler divergence from the observed one.

:func:`collect_ranges` runs the float golden model over calibration batches and returns a
:class:`TensorRange` per tensor.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence, Sized
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from edge_dnn.errors import CalibrationError
from edge_dnn.graph import Graph
from edge_dnn.util.progress import Progress

__all__ = [
    "KL_MAX_CLIPPED",
    "KL_MIN_PER_BIN",
    "METHODS",
    "HistogramObserver",
    "KLObserver",
    "MinMaxObserver",
    "PercentileObserver",
    "RangeObserver",
    "TensorRange",
    "collect_ranges",
    "default_levels",
    "make_observer",
]

METHODS = ("minmax", "percentile", "kl")
"""Names accepted by :func:`make_observer` and :func:`collect_ranges`."""

_CHUNK = 1 << 22
"""Elements binned per step: bounds the temporaries (abs values, int64 indices) to ~50 MB."""

KL_MAX_CLIPPED = 0.5
"""Largest fraction of the non-zero values a KL threshold may clip (TensorRT has no such bound;
real activations clip 0.01-2% at their KL optimum, so it only removes degenerate candidates)."""

KL_MIN_PER_BIN = 8
"""Non-zero values per histogram bin (on average) the KL search needs; with fewer (2048 bins:
fewer than 16384 values) the threshold is ``max|x|``."""

_KL_EPS = 1e-4
"""Probability given to each empty bin of the candidate distribution Q (smoothing)."""
_KL_EPS_TOTAL = 0.5
"""Cap on the total smoothing mass, so that many empty bins never swamp Q."""


def default_levels(nonnegative: bool, mode: Literal["int8", "int16"] = "int8") -> int:
    """``qmax`` of the activation type the contract gives a tensor.

    Args:
        nonnegative: Every calibration value was >= 0 (the tensor can be unsigned).
        mode: Precision mode.

    Returns:
        255 (uint8) or 127 (int8) in int8 mode; 32767 in int16 mode (both int16 ranges).
    """
    if mode == "int16":
        return 32767
    if mode != "int8":
        raise CalibrationError(f"unknown precision mode '{mode}'; choose 'int8' or 'int16'")
    return 255 if nonnegative else 127


# ---------------------------------------------------------------------------- protocol
@runtime_checkable
class RangeObserver(Protocol):
    """What the quantizer needs from a range estimator.

    Attributes:
        name: The observed tensor (used in error messages).
        method: ``minmax``, ``percentile`` or ``kl``.
    """

    name: str
    method: str

    def observe(self, x: npt.ArrayLike) -> None:
        """Fold one batch of values (any shape, real dtype) into the estimate.

        Raises:
            CalibrationError: the batch holds NaN or infinite values (names the tensor).
        """
        ...

    def threshold(self, levels: int) -> float:
        """The real magnitude to map to ``levels`` (= qmax of the target type), >= 0."""
        ...

    @property
    def min(self) -> float:
        """Smallest value observed (NaN before any value)."""
        ...

    @property
    def max(self) -> float:
        """Largest value observed (NaN before any value)."""
        ...

    @property
    def nonnegative(self) -> bool:
        """Whether values were observed and all of them are >= 0."""
        ...

    @property
    def count(self) -> int:
        """Number of finite values observed."""
        ...

    @property
    def nan_count(self) -> int:
        """Number of NaN values seen (each makes :meth:`observe` raise)."""
        ...

    @property
    def inf_count(self) -> int:
        """Number of +-infinite values seen (each makes :meth:`observe` raise)."""
        ...


# ---------------------------------------------------------------------------- observers
class _ObserverBase:
    """Running min/max/count and the non-finite check shared by every observer."""

    method: ClassVar[str] = ""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._min = math.inf
        self._max = -math.inf
        self._count = 0
        self._nan = 0
        self._inf = 0

    @property
    def min(self) -> float:
        """Smallest value observed (NaN before any value)."""
        return self._min if self._count else math.nan

    @property
    def max(self) -> float:
        """Largest value observed (NaN before any value)."""
        return self._max if self._count else math.nan

    @property
    def abs_max(self) -> float:
        """``max|x|`` observed (NaN before any value)."""
        return max(-self._min, self._max) if self._count else math.nan

    @property
    def nonnegative(self) -> bool:
        """Whether values were observed and all of them are >= 0."""
        return self._count > 0 and self._min >= 0.0

    @property
    def count(self) -> int:
        """Number of finite values observed."""
        return self._count

    @property
    def nan_count(self) -> int:
        """Number of NaN values seen."""
        return self._nan

    @property
    def inf_count(self) -> int:
        """Number of +-infinite values seen."""
        return self._inf

    def observe(self, x: npt.ArrayLike) -> None:
        """Fold one batch of values into the estimate.

        Args:
            x: Values of the tensor (any shape; float, int or uint dtype).

        Raises:
            CalibrationError: non-numeric dtype, or NaN/infinite values (the counts are recorded
                in ``nan_count``/``inf_count`` and the batch is otherwise ignored).
        """
        a = np.asarray(x)
        if a.dtype.kind not in "fiu":
            raise CalibrationError(f"cannot calibrate values of dtype {a.dtype}", tensor=self.name)
        if a.size == 0:
            return
        if a.dtype.kind != "f":
            a = a.astype(np.float64)  # exact for int32; abs(int8 -128) would wrap otherwise
        elif a.dtype.itemsize < 4:
            a = a.astype(np.float32)
        with np.errstate(invalid="ignore"):
            lo = float(a.min())
            hi = float(a.max())
        # min/max propagate NaN and expose +-inf, so the finite data pays no extra pass.
        if not (math.isfinite(lo) and math.isfinite(hi)):
            nan = int(np.count_nonzero(np.isnan(a)))
            inf = int(np.count_nonzero(np.isinf(a)))
            self._nan += nan
            self._inf += inf
            raise CalibrationError(
                f"{nan} NaN and {inf} infinite value(s) among {a.size}: the float model "
                "produces non-finite values on this calibration data",
                tensor=self.name,
            )
        self._min = min(self._min, lo)
        self._max = max(self._max, hi)
        self._count += int(a.size)
        self._update(a, max(-lo, hi))

    def _update(self, a: np.ndarray, amax: float) -> None:
        """Method-specific accumulation of a finite batch with ``max|a| = amax``."""

    def _check_levels(self, levels: int) -> int:
        lv = int(levels)
        if lv < 1 or lv != levels:
            raise CalibrationError(f"levels must be a positive integer, got {levels!r}")
        if self._count == 0:
            raise CalibrationError("no values were observed", tensor=self.name)
        return lv

    def threshold(self, levels: int) -> float:
        """The real magnitude to map to ``levels`` (= qmax); see the subclasses."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, count={self._count}, min={self.min}, "
            f"max={self.max})"
        )


class MinMaxObserver(_ObserverBase):
    """``threshold = max|x|``: no value is ever clipped (exact, independent of batching).

    Args:
        name: The observed tensor (for error messages).
    """

    method: ClassVar[str] = "minmax"

    def threshold(self, levels: int) -> float:
        """``max|x|`` over all observed values (``levels`` is only validated).

        Raises:
            CalibrationError: nothing was observed, or ``levels`` < 1.
        """
        self._check_levels(levels)
        return float(self.abs_max)


class HistogramObserver(_ObserverBase):
    """Base of the histogram methods: a streaming histogram of ``|x|`` over a growing range.

    The stored histogram has ``2 * bins`` equal bins over ``[0, R]``. ``R`` starts just above
    the first non-zero batch's ``max|x|`` and, when a later batch exceeds it, grows by the
    smallest power of two that covers the new maximum; adjacent bins then merge ``2**k`` to one,
    which is exact (no interpolation). Hence ``max|x| > R / 2`` always holds: the observed range
    ``[0, max|x|]`` is covered by at least ``bins`` stored bins, however the data was batched.

    Args:
        name: The observed tensor (for error messages).
        bins: Minimum number of stored bins over the observed range, and the number of bins
            over ``[0, max|x|]`` the KL search works on (>= 16; TensorRT uses 2048).
    """

    def __init__(self, name: str = "", bins: int = 2048) -> None:
        super().__init__(name)
        if int(bins) != bins or bins < 16:
            raise CalibrationError(f"bins must be an integer >= 16, got {bins!r}")
        self.bins = int(bins)
        self._nstore = 2 * self.bins
        self._counts = np.zeros(self._nstore, dtype=np.int64)
        self._range = 0.0
        self._zeros = 0  # values seen while every value so far was exactly 0 (R undefined)
        self._exact_zeros = 0  # every exactly-0 value seen (they sit in stored bin 0)

    @property
    def hist_range(self) -> float:
        """Upper edge ``R`` of the stored histogram (0 while every value seen was 0)."""
        return self._range

    def histogram(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The stored ``(counts, edges)`` of ``|x|``: ``2 * bins`` int64 counts, float64 edges.

        Bin ``i`` holds the values in ``[edges[i], edges[i+1])``. Before any non-zero value the
        range is undefined: one bin ``[0, 0]`` holding every count.
        """
        if self._range == 0.0:
            return np.array([self._zeros], dtype=np.int64), np.zeros(2)
        return self._counts.copy(), np.linspace(0.0, self._range, self._nstore + 1)

    def resampled(
        self, bins: int | None = None, exclude_zeros: bool = False
    ) -> npt.NDArray[np.float64]:
        """The histogram of ``|x|`` on ``bins`` equal bins over exactly ``[0, max|x|]``.

        Counts of the stored bins are spread uniformly over each bin (the last non-empty one
        ending at ``max|x|``) and re-accumulated on the new grid, so the result no longer depends
        on where the stored grid ended up; counts become float64 (their sum is exact).

        Args:
            bins: Number of output bins (default ``self.bins``).
            exclude_zeros: Leave out the values that were exactly 0.
        """
        nb = self.bins if bins is None else int(bins)
        counts = self._counts
        if exclude_zeros and self._range != 0.0:
            counts = counts.copy()
            counts[0] -= self._exact_zeros
        if self._range == 0.0 or not counts.any():
            out = np.zeros(nb)
            out[0] = 0 if exclude_zeros else self._zeros + int(self._counts.sum())
            return out
        span = int(np.flatnonzero(counts)[-1]) + 1
        amax = float(self.abs_max)
        src = np.linspace(0.0, self._range, self._nstore + 1)[: span + 1]
        src[-1] = max(amax, src[-2])  # no value lies beyond max|x|
        cum = np.concatenate([[0.0], np.cumsum(counts[:span], dtype=np.float64)])
        dst = np.interp(np.linspace(0.0, amax, nb + 1), src, cum)
        dst[-1] = cum[-1]
        h = np.maximum(np.diff(dst), 0.0)
        h[h < 1e-9] = 0.0  # interpolation round-off inside empty stretches
        return h

    def _grow(self, amax: float) -> None:
        factor = 1
        while self._range * factor < amax:
            factor *= 2
        if factor == 1:
            return
        # Old bin i covers [i w, (i+1) w); new bin j covers [j f w, (j+1) f w): i -> i // f.
        pad = (-self._nstore) % factor
        c = np.concatenate([self._counts, np.zeros(pad, dtype=np.int64)])
        merged = c.reshape(-1, factor).sum(axis=1)
        self._counts = np.zeros(self._nstore, dtype=np.int64)
        self._counts[: merged.size] = merged
        self._range *= factor

    def _update(self, a: np.ndarray, amax: float) -> None:
        self._exact_zeros += int(a.size - np.count_nonzero(a))
        if amax == 0.0:
            if self._range == 0.0:
                self._zeros += int(a.size)
            else:
                self._counts[0] += int(a.size)
            return
        if self._range == 0.0:
            # Just above the maximum, so that it falls inside the last bin rather than on an
            # edge that a later power-of-two growth would turn into an interior bin boundary.
            self._range = float(np.nextafter(amax, math.inf))
            self._counts[0] += self._zeros
            self._zeros = 0
        elif amax >= self._range:
            self._grow(float(np.nextafter(amax, math.inf)))
        flat = a.reshape(-1)
        n = self._nstore
        inv = n / self._range
        # float32 keeps the hot loop at half the memory traffic unless the factor overflows it.
        work = np.float32 if a.dtype == np.float32 and 0.0 < inv < 1e37 else np.float64
        fac = work(inv)
        for start in range(0, flat.size, _CHUNK):
            v = np.abs(flat[start : start + _CHUNK]).astype(work, copy=False)
            v *= fac
            idx = v.astype(np.intp)
            np.minimum(idx, n - 1, out=idx)  # float32 rounding may reach the upper edge
            self._counts += np.bincount(idx, minlength=n)


class PercentileObserver(HistogramObserver):
    """``threshold`` = the given percentile of ``|x|``, from the stored histogram.

    Follows numpy's default (linear) rule: the value at 0-based rank ``q (n - 1)`` of the sorted
    ``|x|``, interpolated between the two neighbouring ranks, where the value of a rank is
    estimated by spreading each bin's values evenly over the bin. The result is within one
    stored bin width (``R / (2 bins)`` <= ``max|x| / bins``) of
    ``np.percentile(np.abs(all_values), percentile)``.

    Args:
        name: The observed tensor (for error messages).
        percentile: In (0, 100].
        bins: Minimum number of stored bins over the observed range.
    """

    method: ClassVar[str] = "percentile"

    def __init__(self, name: str = "", percentile: float = 99.99, bins: int = 2048) -> None:
        super().__init__(name, bins)
        p = float(percentile)
        if not 0.0 < p <= 100.0:
            raise CalibrationError(f"percentile must be in (0, 100], got {percentile!r}")
        self.percentile = p

    def threshold(self, levels: int) -> float:
        """The ``percentile`` of ``|x|`` (``levels`` is only validated); 0.0 if all were 0.

        Raises:
            CalibrationError: nothing was observed, or ``levels`` < 1.
        """
        self._check_levels(levels)
        if self._range == 0.0:
            return 0.0
        cum = np.cumsum(self._counts)
        width = self._range / self._nstore
        total = int(cum[-1])

        def value_at(k: int) -> float:
            # The rank-k value lies in the first bin with cum > k, at the middle of its share.
            j = int(np.searchsorted(cum, k, side="right"))
            before = int(cum[j - 1]) if j else 0
            return (j + (k - before + 0.5) / int(self._counts[j])) * width

        r = self.percentile / 100.0 * (total - 1)
        lo = math.floor(r)
        hi = min(lo + 1, total - 1)
        v = value_at(lo) + (r - lo) * (value_at(hi) - value_at(lo))
        return float(min(v, self.abs_max))


class KLObserver(HistogramObserver):
    """Entropy calibration: the threshold minimising KL(P || Q) over candidate clip points.

    Works, as TensorRT does, on ``bins`` (2048) equal bins over ``[0, max|x|]``
    (:meth:`resampled`). For every candidate ``i`` (a number of bins, from ``levels + 1`` to
    ``bins``):

    * the reference P is the first ``i`` bins with every count beyond them (the clipped
      outliers) added to bin ``i - 1``;
    * the candidate Q quantizes the first ``i`` bins (without the outliers) into
      ``L = levels + 1`` levels (the integer magnitudes 0..qmax: 128 for int8, 256 for uint8) by
      splitting them into L nearly equal runs of bins (run ``k`` spans bins
      ``[k i // L, (k+1) i // L)``), then spreads each run's total evenly over the run's
      non-empty bins;
    * empty bins of Q receive a probability of 1e-4 each (taken proportionally from the
      others; at most 0.5 in all) so that the divergence stays finite where P has the outliers
      and Q has nothing.

    The threshold is the upper edge of the best candidate's last bin, ``i * max|x| / bins``.
    When the quantization grid is at least as fine as the histogram (``levels + 1 >= bins``,
    e.g. int16), clipping cannot be judged and ``max|x|`` is returned. As in TensorRT, the
    smallest possible threshold is ``(levels + 1) / bins * max|x|``. Unlike TensorRT, a
    candidate that clips more than half of the non-zero values is never chosen (see
    :data:`KL_MAX_CLIPPED`), and a histogram with fewer than :data:`KL_MIN_PER_BIN` non-zero
    values per bin gives ``max|x|`` (too sparse to judge clipping).

    The divergences of all candidates are evaluated at once from prefix sums
    (O(bins x levels) work): a threshold costs milliseconds.

    Args:
        name: The observed tensor (for error messages).
        bins: Bins over ``[0, max|x|]`` (TensorRT: 2048).
    """

    method: ClassVar[str] = "kl"

    def divergences(self, levels: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """``(candidates, KL)``: every candidate bin count ``i`` and its divergence (nats).

        Empty arrays when there is no candidate (see the class docstring).
        """
        lv = self._check_levels(levels)
        nq = lv + 1
        if self._range == 0.0 or nq >= self.bins:
            return np.zeros(0, np.int64), np.zeros(0)
        # Exact zeros (ReLU outputs are often half zeros) are left out: they are represented
        # exactly at any threshold, and their spike in the first bin would otherwise dominate
        # the divergence and push the threshold far too low (measured on the digits net: int8
        # top-1 93.3% with them, 98.9% = float without).
        hist = self.resampled(exclude_zeros=True)
        if not hist.any():
            return np.zeros(0, np.int64), np.zeros(0)
        return _kl_divergences(hist, nq)

    def threshold(self, levels: int) -> float:
        """The KL-optimal clipping magnitude for ``levels`` (= qmax); 0.0 if all were 0.

        Raises:
            CalibrationError: nothing was observed, or ``levels`` < 1.
        """
        cand, kl = self.divergences(levels)
        if self._range == 0.0:
            return 0.0
        if cand.size == 0:
            return float(self.abs_max)
        # A distribution with no mass near 0 (e.g. detection logits, all |x| > 0.09 max|x|) has a
        # degenerate minimum: the candidate just above the smallest values keeps one bin, so P
        # (everything clipped into bin i-1) and Q (that bin alone) are the same spike and KL ~ 0,
        # at a threshold that clips ~100% of the tensor (measured on YuFaceDetectNet's
        # conv4_3_norm_mbox_conf: threshold 0.09 max|x|, layer SQNR 2 dB). KL only compares
        # shapes, not the clipping error, so such candidates are excluded outright.
        hist = self.resampled(exclude_zeros=True)
        if float(hist.sum()) < KL_MIN_PER_BIN * self.bins:
            # Too few values for the histogram: bin counts are mostly noise, and KL takes the
            # gaps between the few large values for a tail worth clipping (GoogLeNet's pool5
            # on 8 samples: 6800 non-zero values in 2048 bins, threshold 0.62 max|x|, layer
            # SQNR 22 dB against 32 dB unclipped). Without evidence, nothing is clipped.
            return float(self.abs_max)
        kept = np.cumsum(hist)[cand - 1]
        ok = kept >= (1.0 - KL_MAX_CLIPPED) * float(hist.sum())
        if np.any(ok):
            cand, kl = cand[ok], kl[ok]
        best = int(cand[int(np.argmin(kl))])
        return float(min(best * (self.abs_max / self.bins), self.abs_max))


def _xlogx(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``v log v`` with ``0 log 0 = 0``."""
    out = np.zeros_like(v)
    pos = v > 0
    out[pos] = v[pos] * np.log(v[pos])
    return out


def _kl_divergences(
    hist: npt.NDArray[np.float64], nq: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """KL(P_i || Q_i) for every candidate i in [nq, len(hist)] (see :class:`KLObserver`).

    With counts H, total T, kept mass U_i = sum H[:i], clipped outliers R_i = T - U_i, run sums
    S_k and run non-empty counts Z_k (over H[:i]), the unnormalised P and Q are
    ``P_j = H_j (+ R_i at j = i-1)`` and ``Q_j = S_k / Z_k`` on the non-empty bins of run k.
    Normalising (P / T, Q / U_i) and smoothing Q (empty bins -> eps, the rest scaled by
    ``c = 1 - eps * empties``) gives, summed over the bins where P > 0:

        T * KL = sum P log P - T log T
                 - [sum_k S_k log(S_k / Z_k) - U log U + (U + R [H_{i-1} > 0]) log c
                    + R log(q_{i-1})]

    where ``q_{i-1}`` is the normalised Q of bin i-1, or eps when H_{i-1} = 0. All candidates
    are evaluated at once from prefix sums.
    """
    n = hist.size
    T = float(hist.sum())
    C = np.concatenate([[0.0], np.cumsum(hist)])
    NZ = np.concatenate([[0], np.cumsum(hist > 0)])
    HL = np.concatenate([[0.0], np.cumsum(_xlogx(hist))])
    cand = np.arange(nq, n + 1, dtype=np.int64)
    bounds = (cand[:, None] * np.arange(nq + 1, dtype=np.int64)[None, :]) // nq
    S = C[bounds[:, 1:]] - C[bounds[:, :-1]]
    Z = (NZ[bounds[:, 1:]] - NZ[bounds[:, :-1]]).astype(np.float64)
    U = C[cand]
    R = T - U
    R[R < 1e-9 * T] = 0.0  # cumsum round-off, not clipped values
    last = hist[cand - 1]
    empties = (cand - NZ[cand]).astype(np.float64)
    eps = np.where(empties > 0, np.minimum(_KL_EPS, _KL_EPS_TOTAL / np.maximum(empties, 1)), 0)
    c = 1.0 - eps * empties
    with np.errstate(divide="ignore", invalid="ignore"):
        G = np.where(S > 0, S * np.log(np.where(S > 0, S, 1.0) / np.maximum(Z, 1.0)), 0.0).sum(1)
        S_last, Z_last = S[:, -1], np.maximum(Z[:, -1], 1.0)
        # Unsmoothed normalised Q of bin i-1 (its factor c is in the log c term), or eps.
        q_last = np.where(
            last > 0, S_last / Z_last / np.where(U > 0, U, 1.0), np.where(eps > 0, eps, 1.0)
        )
        term_p = HL[cand - 1] + _xlogx(last + R) - T * math.log(T)
        term_q = (
            G
            - _xlogx(U)
            + (U + np.where(last > 0, R, 0.0)) * np.log(c)
            + np.where(R > 0, R * np.log(q_last), 0.0)
        )
    kl = (term_p - term_q) / T
    return cand, np.maximum(kl, 0.0)


_OBSERVERS: dict[str, type[_ObserverBase]] = {
    "minmax": MinMaxObserver,
    "percentile": PercentileObserver,
    "kl": KLObserver,
}


def make_observer(method: str, name: str = "", **kw: Any) -> RangeObserver:
    """A new observer for ``method``.

    Args:
        method: ``minmax``, ``percentile`` or ``kl``.
        name: The tensor it will observe (for error messages).
        **kw: Options of the observer class (``percentile=``, ``bins=``).

    Raises:
        CalibrationError: unknown method (lists the choices) or option.
    """
    cls = _OBSERVERS.get(str(method).lower())
    if cls is None:
        raise CalibrationError(
            f"unknown calibration method '{method}'; choose one of: {', '.join(METHODS)}"
        )
    try:
        obs = cls(name, **kw)
    except TypeError as exc:
        raise CalibrationError(
            f"invalid option(s) {sorted(kw)} for calibration method '{method}': {exc}"
        ) from None
    assert isinstance(obs, RangeObserver)
    return obs


# ---------------------------------------------------------------------------- collection
@dataclasses.dataclass(frozen=True)
class TensorRange:
    """The calibrated range of one tensor.

    Attributes:
        name: The tensor (graph SSA name, e.g. ``conv1@conv1`` before an in-place ReLU).
        method: The estimator (``minmax``, ``percentile``, ``kl``).
        threshold: Real magnitude that maps to ``levels`` (scale = threshold / levels); 0.0 for a
            tensor that was 0 on every calibration sample (the quantizer picks a fallback scale).
        levels: The qmax ``threshold`` was computed for (:func:`default_levels`).
        min: Smallest observed value.
        max: Largest observed value.
        nonnegative: Every observed value was >= 0 (the tensor can be unsigned).
        count: Number of observed values.
        observer: The observer, for thresholds at other ``levels`` (not compared).
    """

    name: str
    method: str
    threshold: float
    levels: int
    min: float
    max: float
    nonnegative: bool
    count: int
    observer: RangeObserver | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def abs_max(self) -> float:
        """``max|x|`` observed."""
        return max(-self.min, self.max)

    def threshold_for(self, levels: int) -> float:
        """The threshold for another qmax (e.g. 127 for a ReLU output written as int8).

        Raises:
            CalibrationError: the observer is not kept and ``levels`` differs.
        """
        if levels == self.levels:
            return self.threshold
        if self.observer is None:
            raise CalibrationError(
                f"range computed for levels {self.levels} only; no observer kept for {levels}",
                tensor=self.name,
            )
        return self.observer.threshold(levels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (without the observer)."""
        return {
            "name": self.name,
            "method": self.method,
            "threshold": self.threshold,
            "levels": self.levels,
            "min": self.min,
            "max": self.max,
            "nonnegative": self.nonnegative,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TensorRange:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=str(d["name"]),
            method=str(d["method"]),
            threshold=float(d["threshold"]),
            levels=int(d["levels"]),
            min=float(d["min"]),
            max=float(d["max"]),
            nonnegative=bool(d["nonnegative"]),
            count=int(d["count"]),
        )


def collect_ranges(
    graph: Graph,
    batches: Iterable[Mapping[str, np.ndarray]],
    method: str = "kl",
    tensors: Sequence[str] | None = None,
    progress: bool = True,
    *,
    mode: Literal["int8", "int16"] = "int8",
    observer_options: Mapping[str, Any] | None = None,
) -> dict[str, TensorRange]:
    """Run the float model over calibration batches and estimate every tensor's range.

    Each batch is run once with every requested tensor as an output (``graph.run``), and each
    tensor's values are folded into its observer; memory is bounded by one batch's activations.

    Args:
        graph: The float network (with weights).
        batches: Feed dicts ``{input blob: float32 NCHW batch}``, e.g. from
            :func:`edge_dnn.quant.calib_data.load_calibration`. If it has ``len()``, the
            progress bar shows the ETA.
        method: ``minmax``, ``percentile`` or ``kl``.
        tensors: Tensors to calibrate; default every tensor of the graph, net inputs included.
        progress: Show a progress bar on stderr (only when stderr is a terminal).
        mode: Precision mode; selects the levels of each threshold (:func:`default_levels`).
        observer_options: Extra options of the observers (``percentile``, ``bins``).

    Returns:
        Tensor name -> :class:`TensorRange`, in the order of ``tensors``.

    Raises:
        CalibrationError: unknown method/tensor, no batches, or NaN/infinite values in a tensor
            (names the tensor, its producing layer and the batch).
        InputError: a batch does not fit the network's inputs.
    """
    known = graph.tensors
    names = list(known if tensors is None else tensors)
    bad = [t for t in names if t not in set(known)]
    if bad:
        raise CalibrationError(f"unknown tensor(s) {bad} in network '{graph.name}'")
    default_levels(False, mode)  # validates mode before the long run
    opts = dict(observer_options or {})
    observers = {t: make_observer(method, name=t, **opts) for t in names}
    total = len(batches) if isinstance(batches, Sized) else None
    n_batches = 0
    with Progress(
        total,
        desc=f"calibrating {graph.name} ({method})",
        unit="batch",
        enabled=None if progress else False,
    ) as bar:
        for feed in batches:
            outs = graph.run(feed, outputs=names)
            for t in names:
                try:
                    observers[t].observe(outs[t])
                except CalibrationError as exc:
                    node = graph.producer(t)
                    raise CalibrationError(
                        f"{exc.message} (calibration batch {n_batches}, output of layer "
                        f"'{node.name}' of type {node.type})",
                        tensor=t,
                    ) from None
            del outs
            n_batches += 1
            bar.update()
    if n_batches == 0:
        raise CalibrationError("no calibration batches: the calibration set is empty")
    out: dict[str, TensorRange] = {}
    for t in names:
        obs = observers[t]
        levels = default_levels(obs.nonnegative, mode)
        out[t] = TensorRange(
            name=t,
            method=obs.method,
            threshold=obs.threshold(levels),
            levels=levels,
            min=obs.min,
            max=obs.max,
            nonnegative=obs.nonnegative,
            count=obs.count,
            observer=obs,
        )
    return out
