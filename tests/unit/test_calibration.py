"""Calibration: range observers, collect_ranges, calibration data input and preprocessing."""

from __future__ import annotations

import io
import json
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import edge_dnn
from edge_dnn.caffe.caffemodel import array_to_blob
from edge_dnn.errors import CalibrationError, EdgeDnnError, ImageReadError, InputError
from edge_dnn.graph import Graph
from edge_dnn.quant import calib_data
from edge_dnn.quant.calib_data import Preprocess, load_calibration
from edge_dnn.quant.calibration import (
    KLObserver,
    MinMaxObserver,
    PercentileObserver,
    RangeObserver,
    TensorRange,
    collect_ranges,
    default_levels,
    make_observer,
)
from edge_dnn.util.progress import Progress, format_duration
from vision_pipeline.images import read_image

NET = """name: "calnet"
input: "data"
input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool1" top: "fc"
  inner_product_param { num_output: 5 } }
"""

TWO_INPUTS = """name: "two"
layer { name: "a" type: "Input" top: "a" input_param { shape { dim: 1 dim: 4 } } }
layer { name: "b" type: "Input" top: "b" input_param { shape { dim: 1 dim: 4 } } }
layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" top: "sum" }
"""


def make_graph(tmp_path: Path, text: str = NET, seed: int = 5) -> Graph:
    p = tmp_path / "net.prototxt"
    p.write_text(text)
    g = edge_dnn.load_caffe(p)
    g.init_random_weights(seed)
    return g


def gaussian_with_outliers(seed: int, n: int = 200_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, n)
    out = rng.uniform(30.0, 60.0, 20) * rng.choice([-1.0, 1.0], 20)
    return np.concatenate([x, out]).astype(np.float32)


def split(x: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    return np.split(x, cuts)


# ---------------------------------------------------------------------------- observers
def test_minmax_is_exact_and_independent_of_batching() -> None:
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(10_007) * 3 + 0.5).astype(np.float32)
    whole = MinMaxObserver("t")
    whole.observe(x)
    parts = MinMaxObserver("t")
    for b in split(x, [1, 500, 501, 9000]):
        parts.observe(b.reshape(-1, 1))
    for o in (whole, parts):
        assert o.min == float(x.min()) and o.max == float(x.max())
        assert o.threshold(127) == float(np.abs(x).max()) == o.threshold(255)
        assert o.count == x.size and not o.nonnegative
        assert o.nan_count == 0 and o.inf_count == 0
    relu = MinMaxObserver("r")
    relu.observe(np.maximum(x, 0))
    assert relu.nonnegative and relu.min == 0.0
    ints = MinMaxObserver("i")
    ints.observe(np.array([-128, 5], dtype=np.int8))  # no int8 wrap of |-128|
    assert ints.threshold(127) == 128.0


@pytest.mark.parametrize("pct", [50.0, 99.0, 99.99])
@pytest.mark.parametrize("dist", ["normal", "exponential", "outliers"])
def test_percentile_matches_numpy_within_one_bin(pct: float, dist: str) -> None:
    rng = np.random.default_rng(2)
    if dist == "normal":
        x = rng.normal(0.0, 2.0, 100_000).astype(np.float32)
    elif dist == "exponential":
        x = rng.exponential(1.5, 100_000).astype(np.float32)
    else:
        x = gaussian_with_outliers(3, 100_000)
    o = PercentileObserver("t", percentile=pct)
    for b in split(x, [10_000, 60_000]):
        o.observe(b)
    width = o.hist_range / (2 * o.bins)
    ref = float(np.percentile(np.abs(x).astype(np.float64), pct))
    assert abs(o.threshold(127) - ref) <= width
    assert o.threshold(127) == o.threshold(255)  # independent of the levels


def naive_kl(hist: np.ndarray, levels: int) -> tuple[list[int], list[float]]:
    """TensorRT-style loop over candidates, written independently of the vectorised code."""
    nq = levels + 1
    n = hist.size
    cands, kls = [], []
    for i in range(nq, n + 1):
        p = hist[:i].copy()
        p[i - 1] += hist[i:].sum()
        kept = hist[:i]
        q = np.zeros(i)
        for k in range(nq):
            a, b = k * i // nq, (k + 1) * i // nq
            run = kept[a:b]
            nonempty = np.count_nonzero(run)
            if nonempty:
                q[a:b] = np.where(run > 0, run.sum() / nonempty, 0.0)
        p /= p.sum()
        if q.sum() > 0:
            q /= q.sum()
        empty = q == 0
        n_empty = int(empty.sum())
        eps = min(1e-4, 0.5 / n_empty) if n_empty else 0.0
        q = np.where(empty, eps, q * (1.0 - eps * n_empty))
        m = p > 0
        cands.append(i)
        kls.append(float(np.sum(p[m] * np.log(p[m] / q[m]))))
    return cands, kls


@pytest.mark.parametrize("case", ["outliers", "gap", "relu"])
def test_kl_matches_a_direct_loop(case: str) -> None:
    rng = np.random.default_rng(4)
    x = gaussian_with_outliers(5, 20_000)
    if case == "gap":
        x = x[(np.abs(x) < 2.0) | (np.abs(x) > 3.0)]  # empty bins inside the data
    elif case == "relu":
        x = np.maximum(x + rng.normal(0, 0.1, x.size).astype(np.float32), 0)
    o = KLObserver("t", bins=128)
    o.observe(x)
    amax = float(np.abs(x).max())
    # The KL search runs on `bins` bins over [0, max|x|], as in TensorRT.
    hist = o.resampled()
    assert hist.size == 128 and hist.sum() == pytest.approx(x.size)
    direct = np.histogram(np.abs(x), bins=128, range=(0.0, amax))[0]
    assert np.abs(hist - direct).sum() <= 0.02 * x.size  # only in-bin spreading differs
    levels = 15
    cand, kl = o.divergences(levels)
    # Exact zeros are left out of the KL search (see KLObserver.divergences).
    hist_nz = o.resampled(exclude_zeros=True)
    assert hist_nz.sum() == pytest.approx(np.count_nonzero(x))
    ref_c, ref_kl = naive_kl(hist_nz, levels)
    assert list(cand) == ref_c
    np.testing.assert_allclose(kl, ref_kl, rtol=1e-9, atol=1e-12)
    best = ref_c[int(np.argmin(ref_kl))]
    assert o.threshold(levels) == pytest.approx(best * amax / 128)


def test_kl_picks_a_sensible_threshold_on_gaussian_with_outliers() -> None:
    x = gaussian_with_outliers(6)
    o = KLObserver("t")
    for b in split(x, [50_000, 120_000]):
        o.observe(b)
    amax = float(np.abs(x).max())
    p99 = float(np.percentile(np.abs(x), 99))
    for levels in (127, 255):
        t = o.threshold(levels)
        assert p99 < t < 0.25 * amax, (levels, t)
    assert o.threshold(255) >= o.threshold(127)  # finer grid: clip less
    # int16: the grid is finer than the histogram, so nothing is clipped.
    assert o.threshold(32767) == amax


def test_histogram_regrid_is_exact() -> None:
    rng = np.random.default_rng(7)
    a = rng.uniform(-1.0, 1.0, 5000)
    b = rng.uniform(-5.0, 5.0, 5000)  # grows the range 8x: bins merge 8 to 1
    o = KLObserver("t", bins=64)
    o.observe(a)
    r0 = o.hist_range
    o.observe(b)
    counts, edges = o.histogram()
    assert o.hist_range == r0 * 8
    assert o.hist_range / 2 < np.abs(np.concatenate([a, b])).max() <= o.hist_range
    ref = np.floor(np.abs(np.concatenate([a, b])) / o.hist_range * counts.size).astype(int)
    ref = np.bincount(np.minimum(ref, counts.size - 1), minlength=counts.size)
    assert np.array_equal(counts, ref)
    assert edges[-1] == o.hist_range and counts.sum() == o.count


@pytest.mark.parametrize("method", ["percentile", "kl"])
def test_histogram_methods_are_nearly_independent_of_batching(method: str) -> None:
    x = gaussian_with_outliers(8)
    order = np.argsort(np.abs(x), kind="stable")  # every batch raises the max: regrids
    grow = x[order]
    whole = make_observer(method, "t")
    whole.observe(x)
    parts = make_observer(method, "t")
    for b in split(grow, [1000, 150_000, 199_990]):
        parts.observe(b)
    assert parts.count == whole.count and parts.max == whole.max
    # The grids differ (R = 2**k * first max vs just above max): bins hold slightly different
    # values, which moves a percentile by < 1 bin and the flat KL optimum by a few percent.
    tol = 0.01 if method == "percentile" else 0.1
    for levels in (127, 255):
        assert parts.threshold(levels) == pytest.approx(whole.threshold(levels), rel=tol)


def test_all_zero_tensor_and_late_nonzero_values() -> None:
    for method in ("minmax", "percentile", "kl"):
        o = make_observer(method, "z")
        o.observe(np.zeros(100, np.float32))
        assert o.threshold(255) == 0.0 and o.nonnegative
    o2 = PercentileObserver("z", percentile=50.0)
    o2.observe(np.zeros(1000, np.float32))
    o2.observe(np.full(10, 4.0, np.float32))
    # The median is still 0 (the early zeros were kept): within one bin of it.
    assert 0.0 <= o2.threshold(255) <= o2.hist_range / (2 * o2.bins)
    assert o2.count == 1010 and o2.max == 4.0


def test_non_finite_values_raise_naming_the_tensor() -> None:
    for method in ("minmax", "percentile", "kl"):
        o = make_observer(method, "conv3")
        o.observe(np.ones(4, np.float32))
        x = np.array([1.0, np.nan, np.inf, -np.inf, np.nan], np.float32)
        with pytest.raises(CalibrationError, match=r"tensor 'conv3'.*2 NaN and 2 infinite") as e:
            o.observe(x)
        assert e.value.tensor == "conv3"
        assert o.nan_count == 2 and o.inf_count == 2 and o.count == 4


def test_make_observer_and_option_errors() -> None:
    assert isinstance(make_observer("KL", "t"), RangeObserver)
    assert make_observer("percentile", percentile=99.9).method == "percentile"
    with pytest.raises(CalibrationError, match="minmax, percentile, kl"):
        make_observer("entropy")
    with pytest.raises(CalibrationError, match="invalid option"):
        make_observer("minmax", percentile=99.0)
    with pytest.raises(CalibrationError, match="percentile must be"):
        PercentileObserver(percentile=0.0)
    with pytest.raises(CalibrationError, match="bins"):
        KLObserver(bins=4)
    with pytest.raises(CalibrationError, match="no values"):
        MinMaxObserver("e").threshold(127)
    o = MinMaxObserver("s")
    o.observe(np.ones(3))
    with pytest.raises(CalibrationError, match="levels"):
        o.threshold(0)
    with pytest.raises(CalibrationError, match="dtype"):
        o.observe(np.array(["a"]))
    assert default_levels(True) == 255 and default_levels(False) == 127
    assert default_levels(True, "int16") == 32767


# ---------------------------------------------------------------------------- collect_ranges
def test_collect_ranges_minmax_equals_whole_data_run(tmp_path: Path) -> None:
    g = make_graph(tmp_path)
    rng = np.random.default_rng(9)
    data = rng.normal(0.0, 1.0, (10, 3, 8, 8)).astype(np.float32)
    batches = [{"data": data[i : i + 3]} for i in range(0, 10, 3)]
    ranges = collect_ranges(g, batches, "minmax", progress=False)
    runs = [g.run(b, outputs=g.tensors) for b in batches]
    ref = {t: np.concatenate([r[t] for r in runs]) for t in g.tensors}
    assert list(ranges) == g.tensors
    assert set(ranges) == {"data", "conv1@conv1", "conv1", "pool1", "fc"}
    for t, r in ranges.items():
        assert r.min == float(ref[t].min()) and r.max == float(ref[t].max())
        assert r.threshold == float(np.abs(ref[t]).max()) == r.abs_max
        assert r.count == ref[t].size and r.method == "minmax"
        assert r.nonnegative == bool(ref[t].min() >= 0)
    assert ranges["conv1"].nonnegative and ranges["conv1"].levels == 255
    assert not ranges["conv1@conv1"].nonnegative and ranges["conv1@conv1"].levels == 127
    r = ranges["conv1"]
    assert TensorRange.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    assert r.threshold_for(127) == r.threshold  # minmax ignores the levels
    kl = collect_ranges(g, batches, "kl", tensors=["conv1", "fc"], progress=False, mode="int16")
    assert list(kl) == ["conv1", "fc"] and kl["fc"].levels == 32767
    assert kl["conv1"].threshold_for(255) <= kl["conv1"].abs_max


def test_collect_ranges_errors(tmp_path: Path) -> None:
    g = make_graph(tmp_path)
    ok = {"data": np.ones((2, 3, 8, 8), np.float32)}
    with pytest.raises(CalibrationError, match="unknown tensor"):
        collect_ranges(g, [ok], "minmax", tensors=["nope"], progress=False)
    with pytest.raises(CalibrationError, match="choose one of"):
        collect_ranges(g, [ok], "mse", progress=False)
    with pytest.raises(CalibrationError, match="empty"):
        collect_ranges(g, [], "minmax", progress=False)
    bad = np.ones((2, 3, 8, 8), np.float32)
    bad[1, 0, 2, 2] = np.nan
    with pytest.raises(CalibrationError, match=r"tensor 'data'.*batch 1.*layer 'data'") as e:
        collect_ranges(g, [ok, {"data": bad}], "kl", progress=False)
    assert e.value.tensor == "data"
    with pytest.raises(InputError):
        collect_ranges(g, [{"data": np.ones((2, 3, 9, 9), np.float32)}], progress=False)


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar() -> None:
    s = FakeTTY()
    with Progress(4, desc="calib", unit="batch", stream=s, min_interval=0.0) as bar:
        for _ in range(4):
            bar.update()
    text = s.getvalue()
    assert "calib: [" in text and "4/4 batch" in text and "ETA" in text and text.endswith("\n")
    quiet = io.StringIO()  # not a terminal: nothing is drawn
    with Progress(4, stream=quiet) as bar:
        bar.update(4)
    assert quiet.getvalue() == "" and bar.count == 4
    off = FakeTTY()
    with Progress(None, stream=off, enabled=False) as bar:
        bar.update()
    assert off.getvalue() == ""
    assert format_duration(75) == "1:15" and format_duration(3725) == "1:02:05"
    assert format_duration(float("nan")) == "?"


# ---------------------------------------------------------------------------- arrays
def test_npy_and_npz_inputs(tmp_path: Path) -> None:
    g = make_graph(tmp_path)
    rng = np.random.default_rng(10)
    data = rng.normal(size=(7, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "cal.npy", data)
    ds = load_calibration(tmp_path / "cal.npy", g, batch_size=3)
    assert len(ds) == 3 and ds.num_samples == 7 and ds.kind == "npy"
    got = [b["data"] for b in ds]
    assert [b.shape[0] for b in got] == [3, 3, 1]
    assert np.array_equal(np.concatenate(got), data) and got[0].dtype == np.float32
    assert len(list(ds)) == 3  # re-iterable
    lim = load_calibration(tmp_path / "cal.npy", g, limit=4, batch_size=8)
    assert len(lim) == 1 and next(iter(lim))["data"].shape == (4, 3, 8, 8)
    np.save(tmp_path / "one.npy", (data[0] * 100).astype(np.int16))
    one = list(load_calibration(tmp_path / "one.npy", g))
    assert one[0]["data"].shape == (1, 3, 8, 8)
    np.savez(tmp_path / "k.npz", data=data, labels=np.arange(7))
    assert np.array_equal(next(iter(load_calibration(tmp_path / "k.npz", g)))["data"], data[:7])
    np.savez(tmp_path / "any.npz", whatever=data)
    assert load_calibration(tmp_path / "any.npz", g).num_samples == 7
    g2 = make_graph(tmp_path, TWO_INPUTS)
    np.savez(tmp_path / "two.npz", a=np.ones((5, 4)), b=np.zeros((5, 4)))
    batch = next(iter(load_calibration(tmp_path / "two.npz", g2, batch_size=2)))
    assert set(batch) == {"a", "b"} and batch["a"].shape == (2, 4)
    mem = load_calibration({"a": np.ones((2, 4)), "b": np.ones((2, 4))}, g2)
    assert mem.kind == "arrays" and len(mem) == 1
    ranges = collect_ranges(g, ds, "percentile", progress=False)
    assert ranges["data"].threshold <= float(np.abs(data).max())


def test_array_input_errors(tmp_path: Path) -> None:
    g = make_graph(tmp_path)
    g2 = make_graph(tmp_path, TWO_INPUTS)
    np.save(tmp_path / "bad.npy", np.zeros((4, 1, 8, 8), np.float32))
    with pytest.raises(CalibrationError, match=r"bad\.npy.*\[4, 1, 8, 8\].*\['N', 3, 8, 8\]"):
        load_calibration(tmp_path / "bad.npy", g)
    nan = np.zeros((5, 3, 8, 8), np.float32)
    nan[3, 1, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(CalibrationError, match=r"nan\.npy.*sample 3 holds 1 NaN"):
        load_calibration(tmp_path / "nan.npy", g)
    assert load_calibration(tmp_path / "nan.npy", g, limit=3).num_samples == 3
    (tmp_path / "text.npy").write_text("not numpy")
    with pytest.raises(CalibrationError, match=r"text\.npy.*cannot read"):
        load_calibration(tmp_path / "text.npy", g)
    (tmp_path / "zip.npz").write_text("not a zip")
    with pytest.raises(CalibrationError, match=r"zip\.npz.*cannot read"):
        load_calibration(tmp_path / "zip.npz", g)
    np.savez(tmp_path / "keys.npz", x=np.ones((2, 4)), y=np.ones((2, 4)))
    with pytest.raises(CalibrationError, match=r"keys\.npz.*\['a', 'b'\].*holds \['x', 'y'\]"):
        load_calibration(tmp_path / "keys.npz", g2)
    np.savez(tmp_path / "count.npz", a=np.ones((2, 4)), b=np.ones((3, 4)))
    with pytest.raises(CalibrationError, match="different sample counts"):
        load_calibration(tmp_path / "count.npz", g2)
    np.save(tmp_path / "multi.npy", np.ones((2, 4)))
    with pytest.raises(CalibrationError, match="2 inputs"):
        load_calibration(tmp_path / "multi.npy", g2)
    np.save(tmp_path / "empty.npy", np.zeros((0, 3, 8, 8), np.float32))
    with pytest.raises(CalibrationError, match="no samples"):
        load_calibration(tmp_path / "empty.npy", g)
    np.save(tmp_path / "ok.npy", np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(CalibrationError, match="images only"):
        load_calibration(tmp_path / "ok.npy", g, preprocess=Preprocess(scale=0.5))
    with pytest.raises(CalibrationError, match="batch_size"):
        load_calibration(tmp_path / "ok.npy", g, batch_size=0)
    with pytest.raises(CalibrationError, match="not found"):
        load_calibration(tmp_path / "missing.npy", g)
    (tmp_path / "data.csv").write_text("1,2")
    with pytest.raises(CalibrationError, match="unsupported calibration input"):
        load_calibration(tmp_path / "data.csv", g)


# ---------------------------------------------------------------------------- preprocessing
def test_preprocess_order_matches_caffe_by_hand() -> None:
    rng = np.random.default_rng(11)
    img = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)  # BGR, H=7, W=9
    mean = rng.uniform(0, 255, (3, 7, 9)).astype(np.float32)
    pre = Preprocess(crop_size=4, mean_blob=mean, scale=0.017, channel_order="RGB")
    got = pre.apply(img)
    h0, w0 = (7 - 4) // 2, (9 - 4) // 2
    want = np.zeros((3, 4, 4), np.float32)
    for c in range(3):
        for h in range(4):
            for w in range(4):
                pix = np.float32(img[h0 + h, w0 + w, 2 - c])  # RGB from BGR
                want[c, h, w] = (pix - mean[c, h0 + h, w0 + w]) * np.float32(0.017)
    assert got.dtype == np.float32 and np.array_equal(got, want)
    mv = Preprocess(mean_value=(104.0, 117.0, 123.0), scale=2.0).apply(img)
    ref = (
        img.transpose(2, 0, 1).astype(np.float32)
        - np.array([104, 117, 123], np.float32).reshape(3, 1, 1)
    ) * 2
    assert np.array_equal(mv, ref)
    one = Preprocess(mean_value=(128,)).apply(img[:, :, 0])  # grey file decoded as colour
    assert one.shape == (3, 7, 9) and np.array_equal(one[0], one[2])
    gray = Preprocess(grayscale=True, mean_value=(10,)).apply(img[:, :, 1])
    assert np.array_equal(gray[0], img[:, :, 1].astype(np.float32) - 10)


def test_preprocess_mean_file_dict_roundtrip_and_validation(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    mean = rng.uniform(0, 255, (1, 3, 6, 6)).astype(np.float32)
    mf = tmp_path / "mean.binaryproto"
    mf.write_bytes(array_to_blob(mean).SerializeToString())
    pre = Preprocess(resize=(6, 6), crop_size=4, mean_file=str(mf), scale=0.5).resolve()
    assert pre.mean_blob is not None and np.array_equal(pre.mean_blob, mean[0])
    back = Preprocess.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert back == pre and back.mean_blob is not None and back.mean_blob.dtype == np.float32
    assert Preprocess.from_dict(Preprocess().to_dict()) == Preprocess()
    assert Preprocess().is_identity and not pre.is_identity
    assert Preprocess(crop_size=0).crop_size is None  # Caffe's "no crop"
    img = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
    with pytest.raises(CalibrationError, match=r"cam\.png.*mean blob has shape \[3, 6, 6\]"):
        pre.apply(img, source="cam.png")
    with pytest.raises(CalibrationError, match="smaller than crop_size"):
        Preprocess(crop_size=6).apply(img)
    with pytest.raises(CalibrationError, match="2 mean values"):
        Preprocess(mean_value=(1, 2)).apply(img)
    with pytest.raises(CalibrationError, match="not both"):
        Preprocess(mean_value=(1,), mean_file=str(mf))
    with pytest.raises(CalibrationError, match="channel_order"):
        Preprocess(channel_order="YUV")
    with pytest.raises(CalibrationError, match="resize"):
        Preprocess(resize=(0, 4))
    with pytest.raises(CalibrationError, match="3 channels"):
        Preprocess(grayscale=True).apply(img)
    with pytest.raises(CalibrationError, match="4 channels"):
        Preprocess().apply(np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(CalibrationError, match="unknown preprocessing key"):
        Preprocess.from_dict({"mirror": True})
    with pytest.raises(EdgeDnnError):
        Preprocess(mean_file=str(tmp_path / "none.binaryproto")).resolve()


def test_preprocess_from_transform_param() -> None:
    from edge_dnn.caffe import caffe_pb2

    tp = caffe_pb2.TransformationParameter(crop_size=227, scale=0.5, mean_value=[104, 117, 123])
    pre = Preprocess.from_transform_param(tp, resize=(256, 256))
    assert pre == Preprocess(
        resize=(256, 256), crop_size=227, mean_value=(104.0, 117.0, 123.0), scale=0.5
    )


# ---------------------------------------------------------------------------- images
def write_images(folder: Path) -> list[Path]:
    rng = np.random.default_rng(13)
    folder.mkdir()
    paths = [folder / "a.png", folder / "b.PNG", folder / "sub" / "c.png", folder / "d.bmp"]
    paths[2].parent.mkdir()
    cv2.imwrite(str(paths[0]), rng.integers(0, 256, (12, 10, 3), dtype=np.uint8))
    cv2.imwrite(str(paths[1]), rng.integers(0, 256, (8, 8), dtype=np.uint8))  # grey
    cv2.imwrite(str(paths[2]), rng.integers(0, 256, (9, 11, 4), dtype=np.uint8))  # BGRA
    cv2.imwrite(str(paths[3]), rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    (folder / "notes.txt").write_text("ignored")
    (folder / ".hidden.png").write_text("skipped")
    return paths


def test_image_folder_through_opencv_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = make_graph(tmp_path)
    paths = write_images(tmp_path / "imgs")
    ep = EntryPoint("opencv", "vision_pipeline.images:read_image", calib_data.READER_GROUP)
    monkeypatch.setattr(calib_data, "entry_points", lambda group: [ep])
    pre = Preprocess(resize=(8, 8), mean_value=(100.0, 110.0, 120.0), scale=0.25)
    ds = load_calibration(tmp_path / "imgs", g, preprocess=pre, batch_size=3)
    assert len(ds) == 2 and ds.num_samples == 4
    got = np.concatenate([b["data"] for b in ds])
    # Independent reference: OpenCV directly, then the Caffe arithmetic by hand.
    order = sorted(paths)
    for k, p in enumerate(order):
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        img = cv2.resize(img, (8, 8), interpolation=cv2.INTER_LINEAR)
        ref = (img.astype(np.float32) - np.array([100, 110, 120], np.float32)) * np.float32(0.25)
        assert np.array_equal(got[k], ref.transpose(2, 0, 1)), p
    r = collect_ranges(g, ds, "kl", progress=False)
    assert r["data"].min >= (0 - 120) * 0.25 and r["conv1"].nonnegative


def test_image_folder_through_injected_reader(tmp_path: Path) -> None:
    g = make_graph(tmp_path)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("x1.jpg", "x2.jpeg", "x3.png"):
        (folder / name).write_bytes(b"fake")
    calls: list[tuple[str, Any, bool]] = []

    def reader(path: str, size: tuple[int, int] | None = None, grayscale: bool = False) -> Any:
        calls.append((Path(path).name, size, grayscale))
        val = int(Path(path).stem[1:])
        return np.full((*(size or (10, 10)), 3), val, np.uint8)

    pre = Preprocess(resize=(10, 10), crop_size=8, mean_value=(1,))
    ds = load_calibration(folder, g, preprocess=pre, reader=reader, batch_size=2, limit=3)
    batches = list(ds)
    assert [b["data"].shape for b in batches] == [(2, 3, 8, 8), (1, 3, 8, 8)]
    assert [float(b["data"][i, 0, 0, 0]) for b in batches for i in range(len(b["data"]))] == [
        0.0,
        1.0,
        2.0,
    ]
    assert ("x1.jpg", (10, 10), False) in calls
    ds2 = load_calibration(folder, g, reader=reader)  # default: resize to the net input
    assert ds2.preprocess == Preprocess(resize=(8, 8)) and ds2.num_samples == 3


def test_image_input_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = make_graph(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CalibrationError, match=r"empty.*folder is empty"):
        load_calibration(empty, g, reader=read_image)
    txt = tmp_path / "txt"
    txt.mkdir()
    (txt / "a.txt").write_text("hello")
    with pytest.raises(CalibrationError, match=r"txt.*no supported image files.*\.txt"):
        load_calibration(txt, g, reader=read_image)
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "a.png").write_text("this is text, not a PNG")
    with pytest.raises(ImageReadError, match=r"a\.png.*not a readable image") as e:
        load_calibration(fake, g, reader=read_image)
    assert e.value.path.endswith("a.png") and isinstance(e.value, InputError)
    monkeypatch.setattr(calib_data, "entry_points", lambda group: [])
    with pytest.raises(CalibrationError, match=r"no image reader.*edge_dnn\.image_readers"):
        load_calibration(fake, g)

    def broken(path: str, size: Any = None, grayscale: bool = False) -> np.ndarray:
        raise ValueError("boom")

    with pytest.raises(ImageReadError, match=r"a\.png.*ValueError: boom"):
        load_calibration(fake, g, reader=broken)
    good = tmp_path / "good"
    good.mkdir()
    cv2.imwrite(str(good / "big.png"), np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(CalibrationError, match=r"big\.png.*\[3, 20, 30\].*needs \[3, 8, 8\]"):
        load_calibration(good, g, preprocess=Preprocess(), reader=read_image)
    with pytest.raises(CalibrationError, match="grayscale=False"):
        load_calibration(good, g, preprocess=Preprocess(grayscale=True), reader=read_image)
    g2 = make_graph(tmp_path, TWO_INPUTS)
    with pytest.raises(CalibrationError, match="2 inputs"):
        load_calibration(good, g2, reader=read_image)
    nan_reader: Any = lambda path, size=None, grayscale=False: np.full((8, 8, 3), np.nan)  # noqa: E731
    with pytest.raises(CalibrationError, match=r"big\.png.*NaN"):
        load_calibration(good, g, reader=nan_reader)
    one = load_calibration(good / "big.png", g, reader=read_image)  # a single image file
    assert one.num_samples == 1


def test_opencv_reader(tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    deep = rng.integers(0, 65536, (5, 6, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    img = read_image(tmp_path / "deep.png")
    assert img.dtype == np.uint8 and img.shape == (5, 6, 3)
    assert np.array_equal(img, cv2.imread(str(tmp_path / "deep.png"), cv2.IMREAD_COLOR))
    grey = read_image(tmp_path / "deep.png", size=(3, 4), grayscale=True)
    assert grey.shape == (3, 4) and grey.dtype == np.uint8
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"zero\.png: empty file"):
        read_image(tmp_path / "zero.png")
    with pytest.raises(ImageReadError, match=r"missing\.png: cannot read"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="invalid target size"):
        read_image(tmp_path / "deep.png", size=(0, 3))
