"""Tests of the integer arithmetic contract (edge_dnn.quant.arith, docs/arithmetic.md).

Every integer primitive is checked against an arbitrary-precision reference written here with
Python ints and fractions.Fraction, never against numpy int64 arithmetic.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_dnn.quant import arith as ar
from edge_dnn.quant.arith import (
    ACC_LIMIT,
    INT8,
    INT16,
    UINT8,
    WINT8,
    WINT16,
    AccumulatorOverflowError,
    QuantizationError,
)

FAST = settings(max_examples=100, deadline=None)
ACC = st.integers(-(ACC_LIMIT - 1), ACC_LIMIT - 1)
MULT = st.integers(0, (1 << 16) - 1)
SMULT = st.integers(-(1 << 16) + 1, (1 << 16) - 1)
SHIFT = st.integers(1, 63)
QTYPES = st.sampled_from([INT8, UINT8, INT16])


# ---------------------------------------------------------------------------- references
def ref_round_half_up(value: Fraction) -> int:
    """Nearest integer, ties toward +infinity (the requantization rounding)."""
    return math.floor(value + Fraction(1, 2))


def ref_round_half_away(value: Fraction) -> int:
    """Nearest integer, ties away from zero (quantize_tensor / quantize_bias rounding)."""
    mag = math.floor(abs(value) + Fraction(1, 2))
    return mag if value >= 0 else -mag


def ref_requantize(acc: int, m: int, s: int, qmin: int, qmax: int) -> int:
    return min(max(ref_round_half_up(Fraction(acc * m, 2**s)), qmin), qmax)


# ---------------------------------------------------------------------------- types and helpers
def test_qranges() -> None:
    assert ar.qrange("int8") == (-128, 127)
    assert ar.qrange("uint8") == (0, 255)
    assert ar.qrange("int16") == (-32768, 32767)
    assert ar.qrange("int8", narrow=True) == (-127, 127)
    assert ar.qrange(INT16, narrow=True) == (-32767, 32767)
    assert ar.qrange("int32") == (-(2**31), 2**31 - 1)
    assert ar.qrange("int48") == (-(2**47), 2**47 - 1)
    assert ar.weight_qtype("int8") is WINT8 and ar.weight_qtype("int16") is WINT16
    assert ar.bias_qtype("int8").name == "int32" and ar.bias_qtype("int16").name == "int48"
    assert UINT8.max_abs == 255 and INT8.max_abs == 128 and not UINT8.signed
    with pytest.raises(QuantizationError, match="unknown integer type"):
        ar.qtype("int4")
    with pytest.raises(QuantizationError, match="no narrow"):
        ar.qtype("uint8", narrow=True)


@FAST
@given(st.integers(-(2**63), 2**63 - 1), st.integers(1, 64))
def test_wrap_signed(x: int, bits: int) -> None:
    got = int(ar.wrap_signed(np.int64(x), bits))
    half = 1 << (bits - 1)
    assert got == ((x + half) % (1 << bits)) - half


# ---------------------------------------------------------------------------- rounding
@FAST
@given(st.integers(-(2**63), 2**63 - 1), SHIFT)
def test_round_shift_exact_for_all_int64(x: int, s: int) -> None:
    assert int(ar.round_shift(np.int64(x), s)) == ref_round_half_up(Fraction(x, 2**s))


def test_round_shift_ties_go_up() -> None:
    x = np.array([5, -5, 3, -3, 1, -1, 7, -7], dtype=np.int64)
    assert ar.round_shift(x, 1).tolist() == [3, -2, 2, -1, 1, 0, 4, -3]
    extremes = np.array([-(2**63), 2**63 - 1], dtype=np.int64)
    assert ar.round_shift(extremes, 63).tolist() == [-1, 1]
    assert ar.round_shift(extremes, 1).tolist() == [-(2**62), 2**62]
    with pytest.raises(QuantizationError):
        ar.round_shift(x, 0)
    with pytest.raises(QuantizationError):
        ar.round_shift(x, 64)


@FAST
@given(st.floats(-(2.0**62), 2.0**62, allow_nan=False))
def test_round_half_away_matches_fraction(x: float) -> None:
    assert int(ar.round_half_away_from_zero(x)) == ref_round_half_away(Fraction(x))


def test_round_half_away_edge_values() -> None:
    vals = [0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994, 0.0]
    assert ar.round_half_away_from_zero(vals).tolist() == [1, -1, 2, -2, 3, -3, 0, 0, 0]
    for bad in (float("nan"), float("inf"), 2.0**63):
        with pytest.raises(QuantizationError):
            ar.round_half_away_from_zero(bad)


def test_saturate() -> None:
    x = np.array([-300, -129, -128, 0, 127, 128, 300])
    assert ar.saturate(x, -128, 127).tolist() == [-128, -128, -128, 0, 127, 127, 127]
    assert ar.saturate(x, 0, 255).tolist() == [0, 0, 0, 0, 127, 128, 255]
    assert ar.saturate(x, 0, 255).dtype == np.int64
    with pytest.raises(QuantizationError):
        ar.saturate(x, 1, 0)


# ---------------------------------------------------------------------------- requantization
@FAST
@given(ACC, SMULT, SHIFT, QTYPES)
def test_requantize_matches_reference(acc: int, m: int, s: int, qt: ar.QType) -> None:
    got = ar.requantize(np.array([acc]), m, s, qt.qmin, qt.qmax)
    assert got.tolist() == [ref_requantize(acc, m, s, qt.qmin, qt.qmax)]


def test_requantize_extremes_do_not_overflow() -> None:
    big = ACC_LIMIT - 1
    acc = np.array([big, -big, 1, -1, 0], dtype=np.int64)
    m_max = (1 << 16) - 1
    for s in range(1, 64):
        got = ar.requantize(acc, m_max, s, -(2**62), 2**62)
        want = [ref_requantize(int(a), m_max, s, -(2**62), 2**62) for a in acc]
        assert got.tolist() == want
        got_n = ar.requantize(acc, -m_max, s, -(2**62), 2**62)
        assert got_n.tolist() == [ref_requantize(int(a), -m_max, s, -(2**62), 2**62) for a in acc]


@pytest.mark.parametrize("shape", [(2, 5, 3, 4), (3, 5)])
def test_requantize_per_channel_broadcast(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(7)
    acc = rng.integers(-(2**40), 2**40, size=shape, dtype=np.int64)
    c = shape[1]
    M = rng.integers(1 << 15, 1 << 16, size=c)
    S = rng.integers(20, 40, size=c)
    got = ar.requantize(acc, M, S, 0, 255)
    idx = np.indices(shape).reshape(len(shape), -1).T
    for ix in idx:
        ch = ix[1]
        want = ref_requantize(int(acc[tuple(ix)]), int(M[ch]), int(S[ch]), 0, 255)
        assert got[tuple(ix)] == want
    # axis=0 (weights-first layouts) broadcasts along the first axis instead
    got0 = ar.requantize(acc.swapaxes(0, 1), M, S, 0, 255, axis=0)
    assert np.array_equal(got0, got.swapaxes(0, 1))


def test_requantize_rejects_out_of_contract_operands() -> None:
    ok = np.array([1, 2, 3])
    with pytest.raises(QuantizationError, match="accumulator"):
        ar.requantize(np.array([ACC_LIMIT]), 1 << 15, 20, -128, 127, where="conv1")
    with pytest.raises(QuantizationError, match="accumulator"):
        ar.requantize(np.array([-ACC_LIMIT]), 1 << 15, 20, -128, 127)
    with pytest.raises(QuantizationError, match="multiplier"):
        ar.requantize(ok, 1 << 16, 20, -128, 127)
    with pytest.raises(QuantizationError, match="shift"):
        ar.requantize(ok, 1 << 15, 0, -128, 127)
    with pytest.raises(QuantizationError, match="shift"):
        ar.requantize(ok, 1 << 15, 64, -128, 127)
    with pytest.raises(QuantizationError, match="integer array"):
        ar.requantize(np.array([1.0]), 1 << 15, 20, -128, 127)
    with pytest.raises(QuantizationError, match="conv1"):
        ar.requantize(ok, np.ones((2, 2), dtype=np.int64), 20, -128, 127, where="conv1")


@FAST
@given(
    ACC,
    st.floats(2.0**-48, 32767.7, allow_nan=False, allow_infinity=False),
)
def test_requantize_error_bound(acc: int, real: float) -> None:
    # |y - real*acc| <= 1/2 (rounding) + |acc| * |M/2^S - real| (multiplier error)
    m, s = ar.quantize_multiplier(real)
    y = ref_requantize(acc, m, s, -(2**62), 2**62)
    got = int(ar.requantize(np.array([acc]), m, s, -(2**62), 2**62)[0])
    assert got == y
    exact = Fraction(real) * acc
    assert abs(y - exact) <= Fraction(1, 2) + abs(acc) * abs(Fraction(m, 2**s) - Fraction(real))


def test_requantize_piecewise_leaky_relu() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, size=(2, 3, 4, 4))
    slopes = [0.1, -0.25, 0.0]
    mp, sp, mn, sn = ar.prelu_multipliers(0.4, 0.5, np.array(slopes, dtype=np.float32))
    ratio = 0.4 / 0.5
    assert (mp, sp) == ar.quantize_multiplier(ratio)
    for c, a in enumerate(slopes):
        assert (int(mn[c]), int(sn[c])) == ar.quantize_multiplier(float(np.float32(a)) * ratio)
    got = ar.requantize_piecewise(x, mp, sp, mn, sn, -128, 127)
    for ix in np.ndindex(x.shape):
        v = int(x[ix])
        c = ix[1]
        want = (
            ref_requantize(v, mp, sp, -128, 127)
            if v >= 0
            else (ref_requantize(v, int(mn[c]), int(sn[c]), -128, 127))
        )
        assert got[ix] == want


# ---------------------------------------------------------------------------- multipliers
@FAST
@given(st.floats(2.0**-48, 32767.74, allow_nan=False, allow_infinity=False))
def test_quantize_multiplier_normalised_and_nearest(real: float) -> None:
    m, s = ar.quantize_multiplier(real)
    assert 1 <= s <= 63
    assert 2**15 <= m < 2**16
    r = Fraction(real)
    err = abs(Fraction(m, 2**s) - r)
    assert err <= Fraction(1, 2 ** (s + 1))  # nearest multiple of 2^-S
    assert err / r <= Fraction(1, 2**16)  # relative accuracy of a 16-bit multiplier
    mn, sn = ar.quantize_multiplier(-real)
    assert (mn, sn) == (-m, s)


@FAST
@given(st.floats(0.0, 2.0**-48, allow_nan=False, exclude_max=True))
def test_quantize_multiplier_tiny_ratios(real: float) -> None:
    m, s = ar.quantize_multiplier(real)
    if real == 0.0:
        assert (m, s) == (0, 1)
        return
    assert s == 63 and 0 <= m <= 2**15
    assert abs(Fraction(m, 2**63) - Fraction(real)) <= Fraction(1, 2**64)
    # such a multiplier sends every accumulator to 0: |acc * M| < 2^62
    acc = np.array([ACC_LIMIT - 1, -(ACC_LIMIT - 1), 1, 0])
    assert ar.requantize(acc, m, s, -(2**40), 2**40).tolist() == [0, 0, 0, 0]


def test_quantize_multiplier_edges() -> None:
    assert ar.quantize_multiplier(0.0) == (0, 1)
    assert ar.quantize_multiplier(1.0) == (32768, 15)
    assert ar.quantize_multiplier(0.75) == (49152, 16)
    assert ar.quantize_multiplier(2.0**-48) == (32768, 63)
    assert ar.quantize_multiplier(2.0**14) == (32768, 1)
    assert ar.quantize_multiplier(32767.74) == (65535, 1)
    # rounding up to 2^16 renormalises: 1.99999 * 2^15 = 65535.67 -> 2^16 -> (2^15, S - 1)
    assert ar.quantize_multiplier(1.99999) == (32768, 14)
    for bad in (32767.75, 2.0**15, 1e9, float("inf"), float("nan"), -40000.0):
        with pytest.raises(QuantizationError):
            ar.quantize_multiplier(bad, where="conv9")
    m, s = ar.quantize_multipliers(np.array([0.0, 1.0, 1e-30, -0.5]))
    assert m.tolist() == [0, 32768, 0, -32768] and s.tolist() == [1, 15, 63, 16]


def test_conv_multipliers_formula() -> None:
    s_in = np.float32(0.02)
    s_w = np.array([0.004, 0.0001, 0.5], dtype=np.float32)
    s_out = np.float32(0.1)
    M, S = ar.conv_multipliers(float(s_in), s_w, float(s_out))
    for c in range(3):
        real = (float(s_in) * float(s_w[c])) / float(s_out)  # exact product, one rounding
        assert (int(M[c]), int(S[c])) == ar.quantize_multiplier(real)
    with pytest.raises(QuantizationError, match="weight scale"):
        ar.conv_multipliers(0.1, [0.1, 0.0], 0.1, where="conv1")
    with pytest.raises(QuantizationError, match="output scale"):
        ar.conv_multipliers(0.1, [0.1], float("nan"))
    assert ar.rescale_multiplier(0.5, 0.25) == (32768, 14)


# ---------------------------------------------------------------------------- tensors
@FAST
@given(
    st.lists(st.floats(-1e4, 1e4, allow_nan=False, width=32), min_size=1, max_size=20),
    st.floats(2.0**-20, 16.0, width=32),
    QTYPES,
)
def test_quantize_tensor_matches_reference(xs: list[float], scale: float, qt: ar.QType) -> None:
    x = np.array(xs, dtype=np.float32)
    got = ar.quantize_tensor(x, scale, qt)
    assert got.dtype == qt.dtype
    for xi, gi in zip(x.tolist(), got.tolist()):
        want = ref_round_half_away(Fraction(xi / scale))  # one float64 division
        assert gi == min(max(want, qt.qmin), qt.qmax)


def test_quantize_tensor_weights_per_channel_narrow() -> None:
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    s_w = (np.abs(w).reshape(4, -1).max(axis=1) / 127).astype(np.float32)
    q = ar.quantize_tensor(w * 1.5, s_w, "int8", axis=0, narrow=True)
    assert q.dtype == np.int8 and q.min() >= -127 and q.max() <= 127
    for o in range(4):
        ref = ar.quantize_tensor(w[o] * 1.5, float(s_w[o]), WINT8)
        assert np.array_equal(q[o], ref)


def test_quantize_tensor_edges() -> None:
    x = np.array([np.inf, -np.inf, 0.5, -0.5, 127.5, -128.5, 1e30])
    assert ar.quantize_tensor(x, 1.0, "int8").tolist() == [127, -128, 1, -1, 127, -128, 127]
    assert ar.quantize_tensor(x, 1.0, "uint8").tolist() == [255, 0, 1, 0, 128, 0, 255]
    with pytest.raises(QuantizationError, match="data: cannot quantize NaN"):
        ar.quantize_tensor(np.array([np.nan]), 1.0, "int8", where="data")
    for bad_scale in (0.0, -1.0, float("inf")):
        with pytest.raises(QuantizationError, match="scale"):
            ar.quantize_tensor(x, bad_scale, "int8")
    with pytest.raises(QuantizationError):
        ar.quantize_tensor(np.zeros((1, 3, 2, 2)), [1.0, 2.0], "int8")


def test_dequantize_is_one_rounded_float32_product() -> None:
    rng = np.random.default_rng(2)
    q = rng.integers(-32768, 32768, size=(2, 3, 4, 5)).astype(np.int16)
    s = np.array([0.013, 1e-4, 7.7], dtype=np.float32)
    got = ar.dequantize(q, s)
    assert got.dtype == np.float32
    # float64(q) * float64(s32) is exact (16 + 24 bits), so one cast = the correctly rounded value
    want = (q.astype(np.float64) * s.astype(np.float64)[None, :, None, None]).astype(np.float32)
    assert np.array_equal(got, want)
    assert np.array_equal(ar.dequantize(q, np.float32(0.5)), q.astype(np.float32) * 0.5)


def test_quantize_bias_rounding_and_saturation() -> None:
    # s_in * s_w = 0.125 exactly: 0.3125 / 0.125 = 2.5 -> 3 (half away from zero)
    b = np.array([0.3125, -0.3125, 0.1875, 0.0, 1e12, -1e12])
    got8 = ar.quantize_bias(b, 0.5, 0.25, "int8")
    assert got8.tolist() == [3, -3, 2, 0, 2**31 - 1, -(2**31)]
    got16 = ar.quantize_bias(b, 0.5, 0.25, "int16")
    assert got16.tolist() == [3, -3, 2, 0, 8 * 10**12, -8 * 10**12]
    big = ar.quantize_bias(np.array([1e30, -1e30]), 1e-3, 1e-3, "int16")
    assert big.tolist() == [2**47 - 1, -(2**47)]
    per_ch = ar.quantize_bias(np.array([1.0, 1.0]), 0.5, np.array([0.5, 0.25]), "int8")
    assert per_ch.tolist() == [4, 8]
    with pytest.raises(QuantizationError, match="NaN"):
        ar.quantize_bias(np.array([np.nan]), 0.5, 0.25, "int8")
    with pytest.raises(QuantizationError, match="weight scale"):
        ar.quantize_bias(np.array([1.0]), 0.5, 0.0, "int8")


# ---------------------------------------------------------------------------- accumulator bound
def test_accumulator_bound_boundary() -> None:
    k = 1000
    w = np.full((2, k), 32767, dtype=np.int64)
    w[1, ::2] = -32767
    per_term = 32768 * 32767
    limit_bias = ACC_LIMIT - 1 - k * per_term
    ar.check_accumulator_bound(w, np.array([limit_bias, -limit_bias]), INT16, layer="fc")
    with pytest.raises(AccumulatorOverflowError) as ei:
        ar.check_accumulator_bound(w, np.array([limit_bias, -limit_bias - 1]), INT16, layer="fc")
    assert ei.value.layer == "fc" and ei.value.channel == 1 and ei.value.bound == ACC_LIMIT
    assert "layer 'fc'" in str(ei.value)
    assert ar.accumulator_bound(k, INT16, WINT16, limit_bias) == ACC_LIMIT - 1
    # int16 x int16 without bias: K = 131077 is the first reduction length that can overflow
    assert ar.accumulator_bound(131076, "int16", "wint16", 0) < ACC_LIMIT
    assert ar.accumulator_bound(131077, "int16", "wint16", 0) >= ACC_LIMIT


def test_accumulator_bound_is_the_true_worst_case() -> None:
    rng = np.random.default_rng(5)
    w = rng.integers(-127, 128, size=(3, 2, 3, 3))
    b = rng.integers(-1000, 1000, size=3)
    bound = ar.accumulator_bound_per_channel(w, b, INT8)
    xs = rng.integers(-128, 128, size=(200, 18))
    for c in range(3):
        wc = w[c].reshape(-1)
        assert bound[c] == abs(int(b[c])) + 128 * int(np.abs(wc).sum())
        assert bound[c] <= ar.accumulator_bound(wc.size, INT8, WINT8, abs(int(b[c])))
        accs = int(b[c]) + xs @ wc
        assert int(np.abs(accs).max()) <= bound[c]
        # without bias, x = -128 * sign(w) attains the bound
        assert abs(int((wc * -128 * np.sign(wc)).sum())) == bound[c] - abs(int(b[c]))


# ---------------------------------------------------------------------------- average pooling
def naive_caffe_areas(size: int, k: int, stride: int, pad: int, out: int) -> list[int]:
    res = []
    for o in range(out):
        start = o * stride - pad
        end = min(start + k, size + pad)
        res.append(end - start)
    return res


def caffe_out(size: int, k: int, stride: int, pad: int) -> int:
    out = -(-(size + 2 * pad - k) // stride) + 1
    if pad and (out - 1) * stride >= size + pad:
        out -= 1
    return out


@pytest.mark.parametrize(
    ("size", "k", "stride", "pad"), [(6, 3, 2, 0), (7, 3, 2, 1), (5, 3, 1, 1), (14, 7, 1, 0)]
)
def test_caffe_avgpool_areas(size: int, k: int, stride: int, pad: int) -> None:
    out = caffe_out(size, k, stride, pad)
    start, end, div = ar.caffe_pool_extents(size, k, stride, pad, out)
    assert div.tolist() == naive_caffe_areas(size, k, stride, pad, out)
    assert (start >= 0).all() and (end <= size).all()
    areas = ar.caffe_avgpool_areas(
        (size, size + 1),
        (k, k),
        (stride, stride),
        (pad, pad),
        (out, caffe_out(size + 1, k, stride, pad)),
    )
    col = naive_caffe_areas(size + 1, k, stride, pad, caffe_out(size + 1, k, stride, pad))
    assert areas.tolist() == [[a * b for b in col] for a in div.tolist()]


def test_avgpool_requantize_matches_reference() -> None:
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, size=(1, 2, 6, 6))
    size, k, stride, pad = 6, 3, 2, 0
    out = caffe_out(size, k, stride, pad)
    st_, en, _ = ar.caffe_pool_extents(size, k, stride, pad, out)
    sums = np.zeros((1, 2, out, out), dtype=np.int64)
    for i in range(out):
        for j in range(out):
            sums[:, :, i, j] = x[:, :, st_[i] : en[i], st_[j] : en[j]].sum(axis=(2, 3))
    areas = ar.caffe_avgpool_areas((6, 6), (3, 3), (2, 2), (0, 0), (out, out))
    assert sorted(set(areas.reshape(-1).tolist())) == [4, 6, 9]
    ratio = float(np.float64(np.float32(0.05)) / np.float64(np.float32(0.04)))
    got = ar.avgpool_requantize(sums, areas, ratio, -128, 127)
    for ix in np.ndindex(got.shape):
        m, s = ar.quantize_multiplier(ratio / int(areas[ix[2], ix[3]]))
        assert got[ix] == ref_requantize(int(sums[ix]), m, s, -128, 127)
    # power-of-two areas with ratio 1 divide exactly (rounding half up)
    m4, s4 = ar.avgpool_multiplier(4, 1.0)
    assert (int(m4), int(s4)) == (32768, 17)
    two = ar.avgpool_requantize(np.array([[[[6, -6, 7]]]]), np.array([[4, 4, 4]]), 1.0, -128, 127)
    assert two.tolist() == [[[[2, -1, 2]]]]
    with pytest.raises(QuantizationError, match="pooling area"):
        ar.avgpool_multiplier(0, 1.0)


# ---------------------------------------------------------------------------- eltwise
def test_eltwise_multipliers_and_sum() -> None:
    scales = [0.05, 0.2]
    Ms, S = ar.eltwise_multipliers(scales, 0.1)
    reals = [Fraction(float(np.float64(np.float32(1.0)) * s / 0.1)) for s in scales]
    assert 2**15 <= max(abs(m) for m in Ms) < 2**16
    for m, r in zip(Ms, reals):
        assert abs(Fraction(m, 2**S) - r) <= Fraction(1, 2 ** (S + 1))
    rng = np.random.default_rng(4)
    a = rng.integers(-128, 128, size=(2, 3, 4, 4))
    b = rng.integers(0, 256, size=(2, 3, 4, 4))
    got = ar.eltwise_add_int([a, b], Ms, S, 0, 255)
    for ix in np.ndindex(a.shape):
        acc = int(a[ix]) * Ms[0] + int(b[ix]) * Ms[1]
        want = min(max(ref_round_half_up(Fraction(acc, 2**S)), 0), 255)
        assert got[ix] == want


def test_eltwise_negative_and_zero_coefficients() -> None:
    Ms, S = ar.eltwise_multipliers([0.1, 0.1, 0.1], 0.1, coeffs=[1.0, -1.0, 0.0])
    assert Ms == [32768, -32768, 0] and S == 15
    x = np.array([5, -7, 100])
    y = np.array([3, 2, -100])
    z = np.array([99, 99, 99])
    assert ar.eltwise_add_int([x, y, z], Ms, S, -128, 127).tolist() == [2, -9, 127]
    assert ar.eltwise_multipliers([0.1, 0.1], 0.1, coeffs=[0.0, 0.0]) == ([0, 0], 1)
    with pytest.raises(QuantizationError, match="coefficients"):
        ar.eltwise_multipliers([0.1, 0.1], 0.1, coeffs=[1.0])
    with pytest.raises(QuantizationError, match="multipliers"):
        ar.eltwise_add_int([x, y], [1], 15, -128, 127)
    with pytest.raises(QuantizationError, match="shape"):
        ar.eltwise_add_int([x, y[:2]], [1, 1], 15, -128, 127)


@FAST
@given(
    st.lists(st.integers(-32768, 32767), min_size=2, max_size=2),
    st.lists(st.floats(1e-3, 10.0), min_size=2, max_size=2),
    st.floats(1e-3, 10.0),
)
def test_eltwise_error_bound(xs: list[int], scales: list[float], s_out: float) -> None:
    Ms, S = ar.eltwise_multipliers(scales, s_out)
    got = int(ar.eltwise_add_int([np.array([v]) for v in xs], Ms, S, -(2**40), 2**40)[0])
    reals = [Fraction(s) / Fraction(s_out) for s in scales]
    exact = sum((r * v for r, v in zip(reals, xs)), Fraction(0))
    # rounding + multiplier error (<= 2^-(S+1) each) + the float64 rounding of real_i
    slack = sum(
        (abs(v) * (Fraction(1, 2 ** (S + 1)) + r * Fraction(1, 2**52)) for r, v in zip(reals, xs)),
        Fraction(0),
    )
    assert abs(got - exact) <= Fraction(1, 2) + slack


# ---------------------------------------------------------------------------- lookup tables
def test_build_and_apply_lut() -> None:
    lut = ar.build_lut(np.tanh, "int8", 0.05, "int8", 1 / 127)
    assert lut.shape == (256,) and lut.dtype == np.int8
    xs = np.arange(-128, 128)
    want = ar.quantize_tensor(np.tanh(xs * 0.05), 1 / 127, "int8")
    assert np.array_equal(lut, want)
    q = np.array([[-128, 0], [5, 127]], dtype=np.int8)
    assert np.array_equal(ar.apply_lut(q, lut, "int8"), want[q.astype(np.int64) + 128])
    lut16 = ar.build_lut(lambda v: 1 / (1 + np.exp(-v)), INT16, 1e-3, UINT8, 1 / 255)
    assert lut16.shape == (65536,) and lut16.dtype == np.uint8
    with pytest.raises(QuantizationError, match="LUT input"):
        ar.apply_lut(np.array([200]), lut, "int8")
    with pytest.raises(QuantizationError, match="LUT has shape"):
        ar.apply_lut(q, lut16, "int8")


# ---------------------------------------------------------------------------- DSP48E2 packing
W_ALL = np.arange(-128, 128, dtype=np.int64)
W0 = np.repeat(W_ALL, 256)  # every (w0, w1) int8 pair
W1 = np.tile(W_ALL, 256)


@pytest.mark.parametrize("act", [UINT8, INT8], ids=["uint8", "int8"])
def test_dsp_packing_exhaustive(act: ar.QType) -> None:
    """All 2^16 int8 weight pairs x all 2^8 activations: the unpacked pair is exact."""
    ad = ar.pack_two_int8(W0, W1)
    assert int(ad.max()) < 2**26 and int(ad.min()) >= -(2**26)
    for x in range(act.qmin, act.qmax + 1):
        lo, hi = ar.unpack_two_products(ar.dsp_multiply(ad, x))
        assert np.array_equal(lo, W0 * x), x
        assert np.array_equal(hi, W1 * x), x


def test_dsp_packing_worked_example() -> None:
    ad = int(ar.pack_two_int8(-3, 5))
    assert ad == 5 * 2**18 - 3
    p = int(ar.dsp_multiply(ad, 200))
    assert p == 1000 * 2**18 - 600
    assert (p >> 18) == 999  # the naive high field is off by one: the low product borrowed
    lo, hi = ar.unpack_two_products(p)
    assert (int(lo), int(hi)) == (-600, 1000)


@pytest.mark.parametrize(("act", "limit"), [(UINT8, 4), (INT8, 8)])
def test_dsp_packed_accumulation_limit(act: ar.QType, limit: int) -> None:
    assert ar.packed_accumulation_limit(act) == limit
    rng = np.random.default_rng(9)
    n = 20000
    w0 = rng.integers(-127, 128, size=(n, limit))
    w1 = rng.integers(-127, 128, size=(n, limit))
    x = rng.integers(act.qmin, act.qmax + 1, size=(n, limit))
    # include the worst chains: all products at the extreme of the low field
    w0[0], x[0] = 127, act.qmax
    w0[1], x[1] = -127, act.qmax
    w0[2], x[2] = -127, act.qmin
    p = ar.dsp_multiply(ar.pack_two_int8(w0, w1), x).sum(axis=1)
    lo, hi = ar.unpack_two_products(p)
    assert np.array_equal(lo, (w0 * x).sum(axis=1))
    assert np.array_equal(hi, (w1 * x).sum(axis=1))
    # one more product at the extreme leaves the 18-bit low field: unpacking is then wrong
    over = limit + 1
    p_over = int(ar.dsp_multiply(ar.pack_two_int8(127, 0), act.qmax)) * over
    lo_over, _ = ar.unpack_two_products(p_over)
    assert int(lo_over) != 127 * act.qmax * over


def test_dsp_port_ranges() -> None:
    with pytest.raises(QuantizationError, match="w0"):
        ar.pack_two_int8(128, 0)
    with pytest.raises(QuantizationError, match="w1"):
        ar.pack_two_int8(0, -129)
    with pytest.raises(QuantizationError, match="B port"):
        ar.dsp_multiply(1, 1 << 17)
    with pytest.raises(QuantizationError, match="AD"):
        ar.dsp_multiply(1 << 26, 1)
