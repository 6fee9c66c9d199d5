"""Bit-exact integer primitives of the overlay (the integer arithmetic contract).

Every function here is the executable form of a rule in ``docs/arithmetic.md``; the emulator, the
ARM fallback kernels and the engine's HLS source must produce exactly the same integers. All
integer results are ``numpy.int64`` (wide enough for every intermediate value of the contract:
48-bit accumulators times 16-bit multipliers), except :func:`quantize_tensor`, which returns the
storage dtype. Float inputs are promoted to float64 and every float step is one IEEE-754
correctly rounded operation, so any conforming implementation reproduces the integers.

Layouts: activations NCHW (or NC); per-channel parameters (multipliers, shifts, scales) are 1-D
and broadcast along ``axis`` (1 for activations, 0 for OIHW weights).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from edge_dnn.errors import EdgeDnnError

IntArray = npt.NDArray[np.int64]
Mode = Literal["int8", "int16"]

# ---------------------------------------------------------------------------- contract constants
ACC_BITS = 48
"""Width of the accumulator (DSP48E2 P register), two's complement."""
ACC_LIMIT = 1 << (ACC_BITS - 1)
"""Every accumulator value satisfies ``|acc| < ACC_LIMIT`` (= 2**47), statically guaranteed."""
M_BITS = 16
"""Magnitude bits of a requantization multiplier."""
M_LIMIT = 1 << M_BITS
"""``|M| < M_LIMIT``; conv/pool multipliers are unsigned (0 <= M < 2**16)."""
M_NORMAL_MIN = 1 << (M_BITS - 1)
"""A normalised multiplier lies in [2**15, 2**16)."""
S_MIN = 1
S_MAX = 63
"""Shift range: S >= 1 so the rounding constant 2**(S-1) is an integer; S <= 63 for int64."""
MIN_NORMAL_REAL = 2.0**-48
"""Smallest real multiplier that still gets a normalised M (S would exceed 63 below it)."""
MAX_REAL = 32767.75
"""Real multipliers must be < MAX_REAL: beyond it M would need S = 0."""

DSP_A_SHIFT = 18
"""Distance between the two packed weights on the DSP48E2 27-bit pre-adder path."""
DSP_AD_BITS = 27
DSP_B_BITS = 18
DSP_P_BITS = 48


class QuantizationError(EdgeDnnError):
    """A value, scale or multiplier lies outside the integer arithmetic contract.

    Attributes:
        where: The layer or blob the value belongs to ("" when the caller did not say).
    """

    def __init__(self, message: str, where: str = "") -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class AccumulatorOverflowError(QuantizationError):
    """A layer whose 48-bit accumulator could overflow for some input.

    Attributes:
        layer: The Caffe layer name.
        channel: The first output channel whose worst case reaches 2**47.
        bound: That channel's worst-case ``|acc|`` (an int).
    """

    def __init__(self, layer: str, channel: int, bound: int) -> None:
        self.layer = layer
        self.channel = channel
        self.bound = bound
        super().__init__(
            f"output channel {channel}: worst-case |accumulator| {bound} >= 2**47; the layer "
            "cannot run on the 48-bit accumulator (run it on the ARM or reduce its precision)",
            where=f"layer '{layer}'",
        )


# ---------------------------------------------------------------------------- quantized types
@dataclasses.dataclass(frozen=True)
class QType:
    """An integer tensor type of the contract.

    Attributes:
        name: Short name (``int8``, ``uint8``, ``int16``, ``wint8``, ...).
        qmin: Smallest allowed value.
        qmax: Largest allowed value.
        dtype: numpy storage dtype.
    """

    name: str
    qmin: int
    qmax: int
    dtype: type[np.integer]

    @property
    def max_abs(self) -> int:
        """Largest magnitude a value of this type can have."""
        return max(-self.qmin, self.qmax)

    @property
    def signed(self) -> bool:
        """Whether negative values are allowed."""
        return self.qmin < 0


INT8 = QType("int8", -128, 127, np.int8)
"""Signed int8 activations."""
UINT8 = QType("uint8", 0, 255, np.uint8)
"""Unsigned int8 activations (producer known non-negative, e.g. fused ReLU)."""
INT16 = QType("int16", -32768, 32767, np.int16)
"""int16 activations (int16 mode)."""
WINT8 = QType("wint8", -127, 127, np.int8)
"""int8 weights: symmetric, so that negation never overflows."""
WINT16 = QType("wint16", -32767, 32767, np.int16)
"""int16 weights: symmetric."""
BIAS32 = QType("int32", -(1 << 31), (1 << 31) - 1, np.int32)
"""Bias of int8 mode."""
BIAS48 = QType("int48", -(1 << 47), (1 << 47) - 1, np.int64)
"""Bias of int16 mode (held in int64)."""

_QTYPES = {q.name: q for q in (INT8, UINT8, INT16, WINT8, WINT16, BIAS32, BIAS48)}


def qtype(name: str | QType, narrow: bool = False) -> QType:
    """Look up a :class:`QType` by name.

    Args:
        name: ``int8``, ``uint8``, ``int16``, ``wint8``, ``wint16``, ``int32``, ``int48``, or a
            QType (returned as is, or narrowed).
        narrow: Return the symmetric weight range (``int8`` -> [-127, 127], ``int16`` ->
            [-32767, 32767]).

    Raises:
        QuantizationError: unknown name, or ``narrow`` for a type without a narrow form.
    """
    q = name if isinstance(name, QType) else _QTYPES.get(name)
    if q is None:
        raise QuantizationError(f"unknown integer type '{name}'; known: {', '.join(_QTYPES)}")
    if narrow:
        if q in (INT8, WINT8):
            return WINT8
        if q in (INT16, WINT16):
            return WINT16
        raise QuantizationError(f"type '{q.name}' has no narrow (symmetric weight) form")
    return q


def qrange(name: str | QType, narrow: bool = False) -> tuple[int, int]:
    """``(qmin, qmax)`` of an integer type (see :func:`qtype`)."""
    q = qtype(name, narrow)
    return q.qmin, q.qmax


def weight_qtype(mode: Mode) -> QType:
    """Weight type of a precision mode: WINT8 or WINT16."""
    return WINT8 if mode == "int8" else WINT16


def bias_qtype(mode: Mode) -> QType:
    """Bias type of a precision mode: int32 (int8 mode) or int48 (int16 mode)."""
    return BIAS32 if mode == "int8" else BIAS48


# ---------------------------------------------------------------------------- helpers
def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def _channel_shape(n: int, shape: tuple[int, ...], axis: int, what: str, where: str) -> list[int]:
    """Broadcast shape of a 1-D per-channel array of length n along ``axis`` of ``shape``."""
    if not 0 <= axis < len(shape):
        raise QuantizationError(
            f"{what}: channel axis {axis} out of range for a {len(shape)}-D tensor", where
        )
    if n != shape[axis]:
        raise QuantizationError(
            f"{what} has {n} values but axis {axis} of the tensor {shape} has {shape[axis]}",
            where,
        )
    out = [1] * len(shape)
    out[axis] = n
    return out


def _per_channel(
    v: npt.ArrayLike, shape: tuple[int, ...], axis: int, what: str, where: str
) -> IntArray:
    """A scalar or 1-D per-channel int array reshaped to broadcast along ``axis``."""
    a = _as_int64(v, what, where)
    if a.ndim == 0:
        return a
    if a.ndim != 1:
        raise QuantizationError(f"{what} must be a scalar or 1-D per-channel array", where)
    return a.reshape(_channel_shape(a.shape[0], shape, axis, what, where))


def _as_int64(x: npt.ArrayLike, what: str, where: str) -> IntArray:
    a = np.asarray(x)
    if a.dtype.kind not in "iub":
        raise QuantizationError(f"{what} must be an integer array, got dtype {a.dtype}", where)
    if a.dtype == np.uint64 and a.size and int(a.max()) >= 1 << 63:
        raise QuantizationError(f"{what} exceeds the int64 range", where)
    return a.astype(np.int64)


def _check_range(a: IntArray, lo: int, hi: int, what: str, where: str) -> None:
    """Raise unless lo <= a <= hi everywhere (no abs(): abs(int64 min) wraps)."""
    if a.size and (int(a.min()) < lo or int(a.max()) > hi):
        raise QuantizationError(
            f"{what} outside [{lo}, {hi}] (found [{int(a.min())}, {int(a.max())}])", where
        )


def wrap_signed(x: npt.ArrayLike, bits: int) -> IntArray:
    """Two's-complement wrap of integers to ``bits`` bits (models a fixed-width register).

    Args:
        x: int64-representable integers.
        bits: Register width, 1..64.

    Returns:
        int64 array of the values the register would hold, in [-2**(bits-1), 2**(bits-1)).
    """
    a = np.asarray(x).astype(np.int64)
    if bits >= 64:
        return a
    mask = np.int64((1 << bits) - 1)
    sign = np.int64(1 << (bits - 1))
    return ((a & mask) ^ sign) - sign


# ---------------------------------------------------------------------------- rounding / saturation
def round_half_away_from_zero(x: npt.ArrayLike, where: str = "") -> IntArray:
    """Round float64 values to the nearest integer, ties away from zero, exactly.

    ``x - trunc(x)`` is exact in binary floating point, so the tie test is exact (unlike
    ``floor(x + 0.5)``, which misrounds 0.49999999999999994).

    Args:
        x: Finite floats with ``|x| < 2**63``.
        where: Layer/blob name for error messages.

    Raises:
        QuantizationError: NaN, infinity, or a value outside int64.
    """
    xf = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(xf)):
        raise QuantizationError("cannot round NaN or infinity to an integer", where)
    t = np.trunc(xf)
    r = t + np.where(np.abs(xf - t) >= 0.5, np.copysign(1.0, xf), 0.0)
    if r.size and float(np.max(np.abs(r))) >= 2.0**63:
        raise QuantizationError("rounded value outside the int64 range", where)
    return r.astype(np.int64)


def saturate(x: npt.ArrayLike, qmin: int, qmax: int) -> IntArray:
    """Clamp integers to [qmin, qmax] (int64 result)."""
    if qmin > qmax:
        raise QuantizationError(f"empty saturation range [{qmin}, {qmax}]")
    return np.clip(np.asarray(x).astype(np.int64), qmin, qmax)


def round_shift(x: npt.ArrayLike, S: npt.ArrayLike) -> IntArray:
    """``floor((x + 2**(S-1)) / 2**S)``: divide by 2**S rounding half toward +infinity.

    Computed as ``(x >> S) + ((x >> (S - 1)) & 1)`` (arithmetic shifts), which equals the
    formula exactly and never overflows, for every int64 ``x``.

    Args:
        x: int64-representable integers.
        S: Shift(s) in [1, 63], broadcastable against ``x``.

    Raises:
        QuantizationError: a shift outside [1, 63].
    """
    xi = _as_int64(x, "round_shift input", "")
    s = _as_int64(S, "shift", "")
    _check_range(s, S_MIN, S_MAX, "shift S", "")
    return (xi >> s) + ((xi >> (s - 1)) & 1)


def requantize(
    acc: npt.ArrayLike,
    M: npt.ArrayLike,
    S: npt.ArrayLike,
    qmin: int,
    qmax: int,
    *,
    axis: int = 1,
    where: str = "",
) -> IntArray:
    """``y = clamp((acc * M + 2**(S-1)) >> S, qmin, qmax)`` per output channel.

    Args:
        acc: Integer accumulators (NCHW or NC, any int dtype), ``|acc| < 2**47``.
        M: Multiplier(s): scalar or 1-D over channels, ``|M| < 2**16`` (conv: 0 <= M < 2**16).
        S: Shift(s): scalar or 1-D over channels, in [1, 63].
        qmin: Lower saturation bound (0 for a fused ReLU).
        qmax: Upper saturation bound.
        axis: Channel axis of ``acc`` along which 1-D ``M``/``S`` broadcast.
        where: Layer/blob name for error messages.

    Returns:
        int64 array shaped like ``acc``.

    Raises:
        QuantizationError: an operand outside its contract range.
    """
    a = _as_int64(acc, "accumulator", where)
    _check_range(a, -ACC_LIMIT + 1, ACC_LIMIT - 1, "accumulator", where)
    m = _per_channel(M, a.shape, axis, "multiplier M", where)
    s = _per_channel(S, a.shape, axis, "shift S", where)
    _check_range(m, -M_LIMIT + 1, M_LIMIT - 1, "multiplier M", where)
    _check_range(s, S_MIN, S_MAX, "shift S", where)
    # |acc| < 2**47 and |M| < 2**16, so the product is below 2**63: no int64 wrap.
    return saturate(round_shift(a * m, s), qmin, qmax)


def requantize_piecewise(
    x: npt.ArrayLike,
    Mp: npt.ArrayLike,
    Sp: npt.ArrayLike,
    Mn: npt.ArrayLike,
    Sn: npt.ArrayLike,
    qmin: int,
    qmax: int,
    *,
    axis: int = 1,
    where: str = "",
) -> IntArray:
    """Leaky ReLU / PReLU in integers: ``x >= 0`` uses (Mp, Sp), ``x < 0`` uses (Mn, Sn).

    ``Mp/Sp`` encode ``s_in/s_out``, ``Mn/Sn`` encode ``slope[c] * s_in/s_out`` (signed M: a
    negative slope gives a negative multiplier). Same rounding and ranges as :func:`requantize`.
    """
    a = _as_int64(x, "input", where)
    pos = requantize(a, Mp, Sp, qmin, qmax, axis=axis, where=where)
    neg = requantize(a, Mn, Sn, qmin, qmax, axis=axis, where=where)
    return np.where(a >= 0, pos, neg)


# ---------------------------------------------------------------------------- multipliers
def quantize_multipliers(reals: npt.ArrayLike, where: str = "") -> tuple[IntArray, IntArray]:
    """Vectorised :func:`quantize_multiplier`: (M, S) int64 arrays shaped like ``reals``."""
    r = np.asarray(reals, dtype=np.float64)
    if not np.all(np.isfinite(r)):
        raise QuantizationError("real multiplier is NaN or infinite", where)
    mag = np.abs(r)
    if mag.size and float(mag.max()) >= MAX_REAL:
        raise QuantizationError(
            f"real multiplier {float(mag.max())!r} >= {MAX_REAL}: not representable with a "
            "16-bit M and S >= 1 (degenerate output scale?)",
            where,
        )
    frac, exp = np.frexp(mag)  # mag = frac * 2**exp, frac in [0.5, 1) (0 -> 0, 0)
    S = 16 - exp.astype(np.int64)
    M = round_half_away_from_zero(np.ldexp(frac, 16), where)  # exact scaling by 2**16
    carry = M == M_LIMIT  # rounding reached 2**16: renormalise
    M = np.where(carry, M_NORMAL_MIN, M)
    S = np.where(carry, S - 1, S)
    tiny = S > S_MAX  # mag < 2**-48: largest shift, M denormal (< 2**15, possibly 0)
    if np.any(tiny):
        small = round_half_away_from_zero(np.ldexp(np.where(tiny, mag, 0.0), S_MAX), where)
        M = np.where(tiny, small, M)
        S = np.where(tiny, S_MAX, S)
    zero = mag == 0.0
    M = np.where(zero, 0, M)
    S = np.where(zero, S_MIN, S)
    M = np.where(r < 0, -M, M)
    return M.astype(np.int64), S.astype(np.int64)


def quantize_multiplier(real: float, where: str = "") -> tuple[int, int]:
    """Encode a real scale ratio as ``M / 2**S`` (the requantization multiplier).

    Algorithm (exact, float64): ``|real| = f * 2**e`` with f in [0.5, 1) (frexp);
    ``S = 16 - e``, ``M = round_half_away(f * 2**16)``; if M == 2**16 then M = 2**15, S -= 1.
    If S > 63 (``|real| < 2**-48``): S = 63, M = round_half_away(|real| * 2**63) (<= 2**15, may
    be 0); since |acc * M| < 2**62 it maps every |acc| < 2**47 to 0, as the real ratio would.
    ``real == 0`` gives (0, 1). Negative reals give ``-M`` (eltwise coefficients, PReLU slopes).

    Args:
        real: The ratio, e.g. ``s_in * s_w[c] / s_out``; ``|real| < 32767.75``.
        where: Layer/blob name for error messages.

    Returns:
        (M, S): ``2**15 <= |M| < 2**16`` whenever ``|real| >= 2**-48``; ``1 <= S <= 63``.

    Raises:
        QuantizationError: NaN, infinity or ``|real| >= 32767.75``.
    """
    M, S = quantize_multipliers(np.float64(real), where)
    return int(M), int(S)


def conv_multipliers(
    s_in: float, s_w: npt.ArrayLike, s_out: float, where: str = ""
) -> tuple[IntArray, IntArray]:
    """Per-output-channel (M, S) of a Convolution/InnerProduct/Deconvolution.

    ``real[c] = (f64(s_in) * f64(s_w[c])) / f64(s_out)``: the product of two float32 values is
    exact in float64, so ``real`` is rounded once (by the division).

    Args:
        s_in: Input activation scale (float32 value, > 0).
        s_w: Per-output-channel weight scales (float32 values, > 0), shape (C_out,).
        s_out: Output activation scale (float32 value, > 0).
        where: Layer name for error messages.
    """
    sw = _check_scales(s_w, "weight scale", where)
    si = float(_check_scales(s_in, "input scale", where))
    so = float(_check_scales(s_out, "output scale", where))
    return quantize_multipliers((np.float64(si) * sw) / np.float64(so), where)


def rescale_multiplier(s_from: float, s_to: float, where: str = "") -> tuple[int, int]:
    """(M, S) of a plain requantize step (Concat input, Eltwise MAX input): ``s_from / s_to``."""
    a = float(_check_scales(s_from, "input scale", where))
    b = float(_check_scales(s_to, "output scale", where))
    return quantize_multiplier(float(np.float64(a) / np.float64(b)), where)


def prelu_multipliers(
    s_in: float, s_out: float, slopes: npt.ArrayLike, where: str = ""
) -> tuple[int, int, IntArray, IntArray]:
    """(Mp, Sp, Mn, Sn) of a leaky ReLU / PReLU for :func:`requantize_piecewise`.

    ``ratio = f64(s_in) / f64(s_out)``; positive side ``ratio``; negative side
    ``f64(f32(slope[c])) * ratio`` (signed multipliers, one per channel or a single one).
    """
    a = float(_check_scales(s_in, "input scale", where))
    b = float(_check_scales(s_out, "output scale", where))
    ratio = np.float64(a) / np.float64(b)
    sl = np.asarray(slopes, dtype=np.float32).astype(np.float64)
    if not np.all(np.isfinite(sl)):
        raise QuantizationError("slope is NaN or infinite", where)
    Mp, Sp = quantize_multiplier(float(ratio), where)
    Mn, Sn = quantize_multipliers(sl * ratio, where)
    return Mp, Sp, Mn, Sn


# ---------------------------------------------------------------------------- tensors
def _check_scales(scale: npt.ArrayLike, what: str, where: str) -> npt.NDArray[np.float64]:
    s = np.asarray(scale, dtype=np.float64)
    if not np.all(np.isfinite(s)) or (s.size and float(s.min()) <= 0.0):
        raise QuantizationError(f"{what} must be finite and > 0, got {s.tolist()!r}", where)
    return s


def _scale_along(
    scale: npt.ArrayLike, shape: tuple[int, ...], axis: int, what: str, where: str
) -> npt.NDArray[np.float64]:
    s = _check_scales(scale, what, where)
    if s.ndim == 0:
        return s
    if s.ndim != 1:
        raise QuantizationError(f"{what} must be a scalar or 1-D per-channel array", where)
    return s.reshape(_channel_shape(s.shape[0], shape, axis, what, where))


def quantize_tensor(
    x: npt.ArrayLike,
    scale: npt.ArrayLike,
    dtype: str | QType,
    *,
    axis: int = 1,
    narrow: bool = False,
    where: str = "",
) -> npt.NDArray[np.integer]:
    """``q = clamp(round_half_away(f64(x) / f64(scale)), qmin, qmax)``.

    Args:
        x: Real values (float32 or float64), any shape (NCHW for activations, OIHW weights).
        scale: Per-tensor scalar, or 1-D per-channel scales along ``axis`` (weights: axis=0).
            Finite, > 0.
        dtype: Target type name or :class:`QType`.
        axis: Axis of per-channel scales.
        narrow: Symmetric weight range ([-127, 127] / [-32767, 32767]).
        where: Layer/blob name for error messages.

    Returns:
        Array in the type's storage dtype (int8/uint8/int16/...). +-inf saturate.

    Raises:
        QuantizationError: NaN input, or a bad scale.
    """
    q = qtype(dtype, narrow)
    xf = np.asarray(x, dtype=np.float64)
    if np.any(np.isnan(xf)):
        raise QuantizationError("cannot quantize NaN", where)
    s = _scale_along(scale, xf.shape, axis, "scale", where)
    # Clamping before rounding is equivalent (qmin/qmax are integers) and disposes of infinities.
    v = np.clip(xf / s, q.qmin, q.qmax)
    return round_half_away_from_zero(v, where).astype(q.dtype)


def dequantize(
    q: npt.ArrayLike, scale: npt.ArrayLike, *, axis: int = 1, where: str = ""
) -> npt.NDArray[np.float32]:
    """``x = f32(q) * f32(scale)``: one correctly rounded float32 product (reproducible).

    Args:
        q: int8/uint8/int16 values (exact in float32), any shape.
        scale: Scalar or 1-D per-channel scales along ``axis``.
        axis: Axis of per-channel scales.
        where: Layer/blob name for error messages.
    """
    qi = _as_int64(q, "quantized tensor", where)
    _check_range(qi, -(1 << 24), 1 << 24, "quantized value (must be exact in float32)", where)
    s = _scale_along(scale, qi.shape, axis, "scale", where).astype(np.float32)
    return (qi.astype(np.float32) * s).astype(np.float32)


def quantize_bias(
    bias: npt.ArrayLike,
    s_in: float,
    s_w: npt.ArrayLike,
    mode: Mode,
    where: str = "",
) -> IntArray:
    """Bias in the accumulator's scale: ``clamp(round_half_away(b / (s_in * s_w[c])))``.

    ``s_in * s_w[c]`` is exact in float64 (two float32 factors); the division rounds once.

    Args:
        bias: Float bias, shape (C_out,).
        s_in: Input activation scale (> 0).
        s_w: Per-output-channel weight scales, shape (C_out,) or scalar (> 0).
        mode: ``int8`` (int32 bias) or ``int16`` (int48 bias held in int64).
        where: Layer name for error messages.

    Returns:
        int64 array, saturated to the bias type's range.

    Raises:
        QuantizationError: NaN bias or a bad scale.
    """
    bt = bias_qtype(mode)
    b = np.asarray(bias, dtype=np.float64)
    if np.any(np.isnan(b)):
        raise QuantizationError("bias contains NaN", where)
    denom = float(_check_scales(s_in, "input scale", where)) * _check_scales(
        s_w, "weight scale", where
    )
    v = np.clip(b / denom, float(bt.qmin), float(bt.qmax))
    return round_half_away_from_zero(v, where)


# ---------------------------------------------------------------------------- accumulator bound
def accumulator_bound(k: int, act: str | QType, weight: str | QType, max_abs_bias: int) -> int:
    """Sufficient static bound ``|bias| + K * max|x| * max|w|`` (Python int, no overflow).

    Usable before weights are quantized (K = reduction length, e.g. C_in/group * kh * kw).
    """
    return int(max_abs_bias) + int(k) * qtype(act).max_abs * qtype(weight).max_abs


def accumulator_bound_per_channel(
    weights_q: npt.ArrayLike, bias_q: npt.ArrayLike | None, act: str | QType
) -> IntArray:
    """Exact worst case ``|b[c]| + max|x| * sum_k |w[c, k]|`` per output channel.

    This bounds every partial sum in every summation order, so the engine may tile the
    reduction freely. It never exceeds :func:`accumulator_bound`.

    Args:
        weights_q: Quantized weights, output channel first (OIHW or (O, K)).
        bias_q: Quantized bias, shape (O,), or None.
        act: Activation type (its max magnitude is used).

    Returns:
        int64 array of shape (O,).
    """
    w = _as_int64(weights_q, "weights", "")
    if w.ndim == 0:
        raise QuantizationError("weights must have an output-channel axis")
    w2 = w.reshape(w.shape[0], -1)
    if w2.shape[1] >= 1 << 31:
        raise QuantizationError(f"reduction length {w2.shape[1]} >= 2**31 is not supported")
    _check_range(w2, -(1 << 15), 1 << 15, "weight", "")
    # K < 2**31, |w| <= 2**15, max|x| <= 2**15: the products stay below 2**61.
    total = np.abs(w2).sum(axis=1) * np.int64(qtype(act).max_abs)
    if bias_q is not None:
        b = _as_int64(bias_q, "bias", "")
        _check_range(b, BIAS48.qmin, BIAS48.qmax, "bias", "")
        total = total + np.abs(b).reshape(-1)
    return total.astype(np.int64)


def check_accumulator_bound(
    weights_q: npt.ArrayLike,
    bias_q: npt.ArrayLike | None,
    act: str | QType,
    *,
    layer: str,
) -> None:
    """Reject a layer whose 48-bit accumulator could overflow for some input.

    Raises:
        AccumulatorOverflowError: the first channel with worst case ``>= 2**47``.
    """
    bound = accumulator_bound_per_channel(weights_q, bias_q, act)
    bad = np.flatnonzero(bound >= ACC_LIMIT)
    if bad.size:
        c = int(bad[0])
        raise AccumulatorOverflowError(layer, c, int(bound[c]))


# ---------------------------------------------------------------------------- average pooling
def caffe_pool_extents(
    in_size: int, kernel: int, stride: int, pad: int, out_size: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Caffe's window extents along one spatial axis.

    Returns:
        (start, end, divisor): ``start``/``end`` are the window clipped to the valid input
        [0, in_size) (the elements that are summed); ``divisor`` is the extent clipped to
        [-pad, in_size + pad) (Caffe's AVE divisor, padding counts). int64, shape (out_size,).
    """
    o = np.arange(out_size, dtype=np.int64)
    lo = o * stride - pad
    hi = np.minimum(lo + kernel, in_size + pad)
    divisor = hi - lo
    return np.maximum(lo, 0), np.minimum(hi, in_size), divisor


def caffe_avgpool_areas(
    in_hw: tuple[int, int],
    kernel_hw: tuple[int, int],
    stride_hw: tuple[int, int],
    pad_hw: tuple[int, int],
    out_hw: tuple[int, int],
) -> IntArray:
    """Caffe's AVE-pooling divisor for every output position, shape (OH, OW), int64."""
    _, _, dh = caffe_pool_extents(in_hw[0], kernel_hw[0], stride_hw[0], pad_hw[0], out_hw[0])
    _, _, dw = caffe_pool_extents(in_hw[1], kernel_hw[1], stride_hw[1], pad_hw[1], out_hw[1])
    return dh[:, None] * dw[None, :]


def avgpool_multiplier(
    area: npt.ArrayLike, ratio: float, where: str = ""
) -> tuple[IntArray, IntArray]:
    """(M, S) encoding ``ratio / area`` for each window area.

    ``ratio = f64(s_in) / f64(s_out)``; ``real = ratio / area`` (one float64 division), then
    :func:`quantize_multipliers`.

    Args:
        area: Window area(s) (int >= 1), scalar or array.
        ratio: ``s_in / s_out`` computed as above (> 0).
        where: Layer name for error messages.

    Returns:
        (M, S) int64 arrays shaped like ``area``.
    """
    a = _as_int64(area, "pooling area", where)
    _check_range(a, 1, (1 << 31) - 1, "pooling area", where)
    r = float(_check_scales(ratio, "scale ratio", where))
    return quantize_multipliers(np.float64(r) / a.astype(np.float64), where)


def avgpool_requantize(
    window_sum: npt.ArrayLike,
    areas: npt.ArrayLike,
    ratio: float,
    qmin: int,
    qmax: int,
    where: str = "",
) -> IntArray:
    """Average pooling output from integer window sums.

    ``y = clamp(round_shift(sum * M[area], S[area]), qmin, qmax)`` where (M, S) come from
    :func:`avgpool_multiplier` for each distinct area.

    Args:
        window_sum: Sum of the valid (unpadded) inputs of each window, (N, C, OH, OW).
        areas: Caffe divisor of each output position, (OH, OW) (see
            :func:`caffe_avgpool_areas`).
        ratio: ``f64(s_in) / f64(s_out)``.
        qmin: Lower bound.
        qmax: Upper bound.
        where: Layer name for error messages.
    """
    s = _as_int64(window_sum, "window sum", where)
    a = _as_int64(areas, "pooling area", where)
    _check_range(s, -ACC_LIMIT + 1, ACC_LIMIT - 1, "window sum", where)
    uniq, inv = np.unique(a, return_inverse=True)
    M, S = avgpool_multiplier(uniq, ratio, where)
    m = M[inv].reshape(a.shape)
    sh = S[inv].reshape(a.shape)
    return saturate(round_shift(s * m, sh), qmin, qmax)


# ---------------------------------------------------------------------------- eltwise
def eltwise_multipliers(
    in_scales: Sequence[float],
    out_scale: float,
    coeffs: Sequence[float] | None = None,
    where: str = "",
) -> tuple[list[int], int]:
    """Multipliers of an Eltwise SUM with one shared shift.

    ``real_i = (f64(coeff_i) * f64(s_i)) / f64(s_out)`` (exact product, one rounding). S is the
    shift :func:`quantize_multiplier` chooses for ``max_i |real_i|``; every
    ``M_i = round_half_away(real_i * 2**S)`` (so the largest is normalised, the others have the
    same absolute precision, and ``|M_i| < 2**16``).

    Args:
        in_scales: Scale of each input (> 0).
        out_scale: Output scale (> 0).
        coeffs: Caffe ``coeff`` per input (default all 1; may be negative or 0).
        where: Layer name for error messages.

    Returns:
        (list of signed M_i, shared S).
    """
    n = len(in_scales)
    if n < 1:
        raise QuantizationError("eltwise needs at least one input", where)
    c = np.ones(n) if coeffs is None or len(coeffs) == 0 else np.asarray(coeffs, np.float64)
    if c.shape != (n,) or not np.all(np.isfinite(c)):
        raise QuantizationError(f"need {n} finite eltwise coefficients, got {coeffs!r}", where)
    si = _check_scales(np.asarray(in_scales, dtype=np.float64), "input scale", where)
    so = float(_check_scales(out_scale, "output scale", where))
    reals = (c.astype(np.float32).astype(np.float64) * si) / np.float64(so)
    _, S = quantize_multiplier(float(np.max(np.abs(reals))), where)
    Ms = round_half_away_from_zero(np.ldexp(reals, S), where)
    return [int(m) for m in Ms], S


def eltwise_add_int(
    inputs: Sequence[npt.ArrayLike],
    multipliers: Sequence[int],
    S: int,
    qmin: int,
    qmax: int,
    where: str = "",
) -> IntArray:
    """``y = clamp((sum_i x_i * M_i + 2**(S-1)) >> S, qmin, qmax)`` (Eltwise SUM).

    Args:
        inputs: Integer tensors of equal shape (int8/uint8/int16 values, ``|x| < 2**16``).
        multipliers: Signed ``M_i`` (``|M_i| < 2**16``), one per input.
        S: Shared shift in [1, 63].
        qmin: Lower bound (0 with a fused ReLU).
        qmax: Upper bound.
        where: Layer name for error messages.
    """
    if len(inputs) != len(multipliers) or not inputs:
        raise QuantizationError(
            f"{len(inputs)} eltwise inputs but {len(multipliers)} multipliers", where
        )
    if len(inputs) >= 1 << 30:
        raise QuantizationError("too many eltwise inputs", where)
    total: IntArray | None = None
    shape = np.shape(inputs[0])
    for i, (x, m) in enumerate(zip(inputs, multipliers)):
        xi = _as_int64(x, f"input {i}", where)
        if xi.shape != shape:
            raise QuantizationError(f"input {i} has shape {xi.shape}, expected {shape}", where)
        _check_range(xi, -(1 << 16) + 1, (1 << 16) - 1, f"input {i}", where)
        if not -M_LIMIT < int(m) < M_LIMIT:
            raise QuantizationError(f"multiplier {int(m)} of input {i} outside (-2**16, 2**16)")
        term = xi * np.int64(m)  # |term| < 2**32: the sum of < 2**30 terms fits int64
        total = term if total is None else total + term
    assert total is not None
    return saturate(round_shift(total, S), qmin, qmax)


# ---------------------------------------------------------------------------- lookup tables
def build_lut(
    fn: Callable[[npt.NDArray[np.float64]], npt.ArrayLike],
    in_type: str | QType,
    s_in: float,
    out_type: str | QType,
    s_out: float,
    where: str = "",
) -> npt.NDArray[np.integer]:
    """Table of an element-wise function over every input integer (compile time, host).

    ``lut[q - qmin_in] = quantize(fn(f64(q) * f64(s_in)), s_out, out_type)``. The table is stored
    in the compiled model, so the board and the emulator apply the very same integers.

    Args:
        fn: Vectorised float64 -> float64 function (e.g. ``np.tanh``).
        in_type: Input type (256 or 65536 entries).
        s_in: Input scale.
        out_type: Output type.
        s_out: Output scale.
        where: Layer name for error messages.
    """
    qi = qtype(in_type)
    xs = np.arange(qi.qmin, qi.qmax + 1, dtype=np.int64).astype(np.float64)
    si = float(_check_scales(s_in, "input scale", where))
    with np.errstate(all="ignore"):
        y = np.asarray(fn(xs * np.float64(si)), dtype=np.float64)
    if y.shape != xs.shape:
        raise QuantizationError(f"LUT function returned shape {y.shape}, expected {xs.shape}")
    return quantize_tensor(y, s_out, out_type, where=where)


def apply_lut(
    q: npt.ArrayLike, lut: npt.ArrayLike, in_type: str | QType, where: str = ""
) -> npt.NDArray[np.integer]:
    """``lut[q - qmin]`` with a range check (the table's dtype is kept)."""
    qi = qtype(in_type)
    t = np.asarray(lut)
    if t.shape != (qi.qmax - qi.qmin + 1,):
        raise QuantizationError(f"LUT has shape {t.shape}, expected ({qi.qmax - qi.qmin + 1},)")
    x = _as_int64(q, "LUT input", where)
    _check_range(x, qi.qmin, qi.qmax, "LUT input", where)
    return t[x - qi.qmin]


# ---------------------------------------------------------------------------- LRN (section 5.1)
LRN_LUT_SIZE = 256
"""Entries of an LRN factor table (uint16 each: 512 bytes)."""
LRN_MANT_BITS = 4
"""Mantissa bits of the LRN table index: 16 buckets per octave of the sum of squares."""
LRN_INDEX_LIMIT = 1 << 19
"""``ss >> lut_shift`` below this indexes the table without saturating (index 255 is the last)."""
LRN_FACTOR_MAX = (1 << 16) - 1
"""Largest table entry (uint16)."""
LRN_FRAC_MIN = 1
LRN_FRAC_MAX = 31
"""Range of the table's fraction bits ``F``: ``|q * f| + 2**(F-1) < 2**31`` for 8-bit ``q``."""


def lrn_index(v: npt.ArrayLike) -> IntArray:
    """LRN table index of shifted sums of squares ``v >= 0`` (a 4-bit-mantissa float code).

    ``t = max(bit_length(v) - 5, 0)``; ``index = min(16 t + (v >> t), 255)``. ``v < 32`` maps to
    itself; above, every octave ``[2**e, 2**(e+1))`` is split into 16 buckets of equal width
    ``2**(e-4)``, so a bucket spans at most 1/16 of its values (relative). Monotone.
    """
    x = _as_int64(v, "LRN sum of squares", "")
    if x.size and int(x.min()) < 0:
        raise QuantizationError("LRN sum of squares is negative")
    # frexp is exact for integers below 2**53: v = m * 2**e with m in [0.5, 1), e = bit_length.
    _, e = np.frexp(x.astype(np.float64))
    t = np.maximum(e.astype(np.int64) - (LRN_MANT_BITS + 1), 0)
    return np.minimum((t << LRN_MANT_BITS) + (x >> t), LRN_LUT_SIZE - 1)


def lrn_buckets(shift: int, ss_max: int) -> tuple[IntArray, IntArray]:
    """``(lo, hi)``: the sums of squares ``ss`` in ``[0, ss_max]`` of every table index (the
    inverse of ``lrn_index(ss >> shift)``); ``lo > hi`` for indices no such ``ss`` reaches."""
    i = np.arange(LRN_LUT_SIZE, dtype=np.int64)
    t = np.maximum((i >> LRN_MANT_BITS) - 1, 0)
    mant = i - (t << LRN_MANT_BITS)
    lo = (mant << t) << shift
    hi = np.minimum((((mant + 1) << t) << shift) - 1, ss_max)
    return lo, hi


def lrn_shift(ss_max: int) -> int:
    """The smallest ``lut_shift`` with ``ss_max >> lut_shift < 2**19`` (no index saturates)."""
    return max(0, int(ss_max).bit_length() - (LRN_INDEX_LIMIT.bit_length() - 1))


def build_lrn_table(
    s_in: float,
    s_out: float,
    local_size: int,
    alpha: float,
    beta: float,
    k: float,
    in_range: tuple[int, int],
    where: str = "",
) -> tuple[npt.NDArray[np.uint16], int, int]:
    """Factor table of an ACROSS_CHANNELS LRN (compile time, host, float64).

    ``ss_max = local_size * max(|qmin|, |qmax|)**2`` (the static bound of the input range);
    ``lut_shift = lrn_shift(ss_max)``; bucket ``i`` holds the sums ``[lo, hi]`` of
    :func:`lrn_buckets` and its centre ``mid = (lo + hi) / 2``;
    ``g = (f64(k) + (f64(alpha) / n) * f64(s_in)**2 * mid) ** -f64(beta)`` and
    ``lut[i] = rha(2**F * (f64(s_in) / f64(s_out)) * g)``, ``F`` the largest in ``[1, 31]``
    with every entry ``<= 65535``. Indices beyond ``ss_max`` repeat the last reachable entry.

    Args:
        s_in: Input scale (float32 value).
        s_out: Output scale (float32 value).
        local_size: Caffe ``local_size`` (odd).
        alpha: Caffe ``alpha``.
        beta: Caffe ``beta``.
        k: Caffe ``k``.
        in_range: ``(qmin, qmax)`` of the input tensor.
        where: Layer name for error messages.

    Returns:
        ``(lut, lut_shift, F)``: ``uint16[256]`` and two ints.

    Raises:
        QuantizationError: an unusable scale, a non-finite or negative factor (e.g. ``k = 0``,
            a negative base), or a ratio too large for ``F >= 1`` (output scale degenerate).
    """
    si = np.float64(_check_scales(s_in, "input scale", where))
    so = np.float64(_check_scales(s_out, "output scale", where))
    n = int(local_size)
    if n < 1 or n % 2 != 1:
        raise QuantizationError(f"LRN local_size must be odd and positive, got {n}", where)
    qabs = max(abs(int(in_range[0])), abs(int(in_range[1])))
    ss_max = n * qabs * qabs
    shift = lrn_shift(ss_max)
    lo, hi = lrn_buckets(shift, ss_max)
    last = int(lrn_index(np.array([ss_max >> shift]))[0])
    mid = (lo[: last + 1] + hi[: last + 1]).astype(np.float64) / 2.0
    a = (np.float64(alpha) / np.float64(n)) * (si * si)
    with np.errstate(all="ignore"):
        base = np.float64(k) + a * mid
        g = np.power(base, -np.float64(beta))
        v = (si / so) * g
    if not (np.all(base > 0) and np.all(np.isfinite(v)) and np.all(v >= 0)):
        raise QuantizationError(
            f"LRN factor (k + alpha/n * sum x^2) ** -beta is not finite and positive over the "
            f"input range (k={k}, alpha={alpha}, beta={beta})",
            where,
        )
    vals = np.concatenate([v, np.full(LRN_LUT_SIZE - last - 1, v[-1])])
    for frac in range(LRN_FRAC_MAX, LRN_FRAC_MIN - 1, -1):
        lut = round_half_away_from_zero(np.ldexp(vals, frac), where)
        if int(lut.max()) <= LRN_FACTOR_MAX:
            return lut.astype(np.uint16), shift, frac
    raise QuantizationError(
        f"LRN output scale {float(so)!r} is too small for input scale {float(si)!r}: the largest "
        f"factor {float(vals.max()):.6g} does not fit 16 bits with 1 fraction bit",
        where,
    )


def lrn_int(
    q: npt.ArrayLike,
    lut: npt.ArrayLike,
    shift: int,
    frac: int,
    local_size: int,
    qmin: int,
    qmax: int,
    where: str = "",
) -> IntArray:
    """Integer ACROSS_CHANNELS LRN over axis 1 (NCHW): section 5.1.

    ``ss = sum of q[c']**2`` over the ``local_size`` channels centred on ``c`` (clipped at the
    channel ends), ``f = lut[lrn_index(ss >> shift)]``,
    ``y = clamp((q * f + 2**(F-1)) >> F, qmin, qmax)``.

    Args:
        q: Integer activations, channels on axis 1.
        lut: ``uint16[256]`` factor table (:func:`build_lrn_table`).
        shift: ``lut_shift``.
        frac: ``F`` in [1, 31].
        local_size: Window size (odd).
        qmin: Output lower bound.
        qmax: Output upper bound.
        where: Layer name for error messages.
    """
    x = _as_int64(q, "LRN input", where)
    t = _as_int64(lut, "LRN table", where)
    if t.shape != (LRN_LUT_SIZE,):
        raise QuantizationError(f"LRN table has shape {t.shape}, expected ({LRN_LUT_SIZE},)", where)
    _check_range(t, 0, LRN_FACTOR_MAX, "LRN table entry", where)
    if not LRN_FRAC_MIN <= int(frac) <= LRN_FRAC_MAX or not 0 <= int(shift) <= 63:
        raise QuantizationError(f"LRN fraction bits {frac} / shift {shift} out of range", where)
    if x.ndim < 2:
        raise QuantizationError(f"LRN input needs a channel axis, got shape {x.shape}", where)
    half = (int(local_size) - 1) // 2
    c = x.shape[1]
    # window sums from a cumulative sum over channels (exact in int64)
    cs = np.cumsum(x * x, axis=1)
    zero = np.zeros_like(cs[:, :1])
    cs = np.concatenate([zero, cs], axis=1)
    idx = np.arange(c)
    top = np.minimum(idx + half + 1, c)
    bot = np.maximum(idx - half, 0)
    ss = np.take(cs, top, axis=1) - np.take(cs, bot, axis=1)
    f = t[lrn_index(ss >> int(shift))]
    return saturate(round_shift(x * f, int(frac)), qmin, qmax)


# ---------------------------------------------------------------------------- DSP48E2 packing
def pack_two_int8(w0: npt.ArrayLike, w1: npt.ArrayLike) -> IntArray:
    """Pre-adder output packing two int8 weights 18 bits apart: ``AD = w1 * 2**18 + w0``.

    ``w1 << 18`` drives the A port, ``w0`` (sign-extended) the D port; the 27-bit pre-adder sum
    never wraps: ``|AD| <= 128 * 2**18 + 128 < 2**26``.

    Args:
        w0: Weight(s) of the first output channel (int8 values; the contract uses [-127, 127],
            but the packing is exact on all of [-128, 127]).
        w1: Weight(s) of the second output channel.

    Returns:
        int64 array of AD values in [-2**26, 2**26).

    Raises:
        QuantizationError: a weight outside [-128, 127].
    """
    a0 = _as_int64(w0, "w0", "")
    a1 = _as_int64(w1, "w1", "")
    _check_range(a0, INT8.qmin, INT8.qmax, "packed weight w0", "")
    _check_range(a1, INT8.qmin, INT8.qmax, "packed weight w1", "")
    ad = (a1 << DSP_A_SHIFT) + a0
    return wrap_signed(ad, DSP_AD_BITS)


def dsp_multiply(ad: npt.ArrayLike, b: npt.ArrayLike) -> IntArray:
    """DSP48E2 multiply ``P = AD * B`` (27 x 18 bits, 45-bit product, 48-bit P register).

    Args:
        ad: Pre-adder values (27-bit signed).
        b: B-port values (18-bit signed; uint8 activations are zero-extended, so non-negative).

    Returns:
        int64 P values (48-bit signed).

    Raises:
        QuantizationError: an operand wider than its port.
    """
    a = _as_int64(ad, "AD", "")
    x = _as_int64(b, "B", "")
    _check_range(a, -(1 << (DSP_AD_BITS - 1)), (1 << (DSP_AD_BITS - 1)) - 1, "AD", "")
    _check_range(x, -(1 << (DSP_B_BITS - 1)), (1 << (DSP_B_BITS - 1)) - 1, "B port", "")
    return wrap_signed(a * x, DSP_P_BITS)


def unpack_two_products(p: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """Split a packed P into ``(w0 * x, w1 * x)`` (or their sums over a short chain).

    ``lo`` = P's low 18 bits read as a signed 18-bit number; ``hi = (P - lo) >> 18``, which is
    ``(P >> 18) + P[17]``: the +1 corrects the borrow a negative low product took from the high
    field. Exact whenever the true low value lies in [-2**17, 2**17) (always for one int8 x int8
    or int8 x uint8 product, whose magnitude is at most 2**15).

    Args:
        p: 48-bit P values (int64).

    Returns:
        (lo, hi) int64 arrays.
    """
    pp = wrap_signed(_as_int64(p, "P", ""), DSP_P_BITS)
    lo = wrap_signed(pp, DSP_A_SHIFT)
    hi = (pp - lo) >> DSP_A_SHIFT
    return lo, hi


def packed_accumulation_limit(act: str | QType, weight: str | QType = WINT8) -> int:
    """How many packed products a DSP may sum in P before unpacking, staying exact.

    The low field's sum must stay in [-2**17, 2**17): n * max(w*x) <= 2**17 - 1 and
    n * min(w*x) >= -2**17. Symmetric int8 weights give 4 with uint8 activations and 8 with
    int8 activations.
    """
    a, w = qtype(act), qtype(weight)
    corners = [a.qmin * w.qmin, a.qmin * w.qmax, a.qmax * w.qmin, a.qmax * w.qmax]
    pmax, pmin = max(corners), min(corners)
    n_pos = ((1 << 17) - 1) // pmax if pmax > 0 else 1 << 30
    n_neg = (1 << 17) // -pmin if pmin < 0 else 1 << 30
    return min(n_pos, n_neg)
